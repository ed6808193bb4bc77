/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/config: reconciles the live targets with a parsed targets.conf. The comparison builds
 * a plan, a list of {"desc", "req"} where req is an ordinary management request; a dry run
 * returns the descriptions, an apply runs the requests through the normal handlers in order
 * (new targets get their LUNs before their ACLs, so nobody logs in to a half-built target).
 * Targets whose description did not change are not touched, so their sessions stay up.
 * Also writes the live state back as a file in the same format (dump).
 */
#include "mgmt/config.h"

#include "core/core.h"
#include "lld/iscsi/iscsi.h"
#include "mgmt/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct cfg_plan {
	struct mgmt_server *srv;
	json_t *changes;  /* [{"desc", "req"}] */
	json_t *tids;     /* tids taken by new targets: {"N": true} */
	json_t *freed;    /* tids of live targets the plan deletes */
	json_t *accounts; /* accounts the plan creates */
	uint32_t next_tid;
	char *err;
	size_t errlen;
};

__printf(3, 4) static int plan_add(struct cfg_plan *pl, json_t *req, const char *fmt, ...)
{
	char desc[512];
	va_list ap;
	json_t *c;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	c = req ? json_pack("{s:s,s:o}", "desc", desc, "req", req) : NULL;
	if (!c || json_array_append_new(pl->changes, c)) {
		snprintf(pl->err, pl->errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static json_t *plan_req(const char *mode, const char *op, uint32_t tid)
{
	return json_pack("{s:s,s:s,s:I}", "mode", mode, "op", op, "tid", (json_int_t)tid);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- logical units ---- */

static void lu_param_get(const struct core_lu *lu, const char *key, char *buf, size_t len)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
	        {"vendor_id", offsetof(struct core_lu, vendor_id)},
	        {"product_id", offsetof(struct core_lu, product_id)},
	        {"product_rev", offsetof(struct core_lu, product_rev)},
	        {"scsi_id", offsetof(struct core_lu, scsi_id)},
	        {"scsi_sn", offsetof(struct core_lu, scsi_sn)},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(strs); i++)
		if (!strcmp(key, strs[i].key)) {
			str_copy(buf, (const char *)lu + strs[i].off, len);
			return;
		}
	if (!strcmp(key, "rotation_rate")) {
		snprintf(buf, len, "%u", lu->rotation_rate);
		return;
	}
	snprintf(buf, len, "%d",
	         !strcmp(key, "readonly")            ? lu->readonly
	         : !strcmp(key, "removable")         ? lu->removable
	         : !strcmp(key, "online")            ? lu->online
	         : !strcmp(key, "thin_provisioning") ? lu->thin
	         : !strcmp(key, "write_cache")       ? lu->write_cache
	         : !strcmp(key, "sense_format")      ? lu->d_sense
	                                             : -1);
}

static bool str_same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* What makes the LU need re-creating: its path, types, flags, options or block size. */
static const char *lu_struct_diff(const struct core_lu *lu, const json_t *d)
{
	const char *dt = jstr(d, "device_type") ? jstr(d, "device_type") : "disk";
	const char *bs = jstr(d, "bstype");
	uint32_t flags = 0;
	json_int_t bsz = json_integer_value(json_object_get(d, "block_size"));

	if (jstr(d, "bsoflags"))
		mgmt_req_parse_bsoflags(jstr(d, "bsoflags"), &flags);
	if (!str_same(lu->path, jstr(d, "path")))
		return "backing store path";
	if (!lu->dt || strcmp(lu->dt->name, dt))
		return "device-type";
	if (!bs && lu->dt)
		bs = lu->dt->default_bs;
	if (!lu->bs || !bs || strcmp(lu->bs->name, bs))
		return "bs-type";
	if (lu->bsoflags != flags)
		return "bsoflags";
	if (!str_same(lu->bsopts, jstr(d, "bsopts")))
		return "bsopts";
	if (bsz && (uint32_t)bsz != lu->block_size)
		return "block-size";
	return NULL;
}

/* s with ${tid} and ${lun} replaced (tgt-admin's params variables). */
static json_t *subst_vars(const char *s, uint32_t tid, uint64_t lun)
{
	char out[MGMT_LEN_PARAMS + 1];
	size_t off = 0;
	int rc = 0;

	out[0] = '\0';
	while (*s && !rc) {
		if (!strncmp(s, "${tid}", 6)) {
			rc = str_appendf(out, sizeof(out), &off, "%u", tid);
			s += 6;
		} else if (!strncmp(s, "${lun}", 6)) {
			rc = str_appendf(out, sizeof(out), &off, "%llu", (unsigned long long)lun);
			s += 6;
		} else {
			rc = str_appendf(out, sizeof(out), &off, "%c", *s++);
		}
	}
	return rc ? NULL : json_string(out);
}

/* The file's device-type params lines, sent after the LU is created, in order. */
static int plan_lu_updates(struct cfg_plan *pl, uint32_t tid, const char *tname, uint64_t lun,
                           const json_t *d)
{
	size_t i;
	json_t *v;
	json_t *req;
	json_t *line;
	int rc = 0;

	json_array_foreach(json_object_get(d, "updates"), i, v)
	{
		line = subst_vars(json_string_value(v), tid, lun);
		req = line ? plan_req("logicalunit", "update", tid) : NULL;
		if (req && (json_object_set_new(req, "lun", json_integer((json_int_t)lun)) ||
		            json_object_set(req, "params", line))) {
			json_decref(req);
			req = NULL;
		}
		rc = plan_add(pl, req, "~ lun %llu of %s: params %s", (unsigned long long)lun,
		              tname, line ? json_string_value(line) : "?");
		json_decref(line);
		if (rc)
			break;
	}
	return rc;
}

static int plan_lu_new(struct cfg_plan *pl, uint32_t tid, const char *tname, const json_t *d,
                       const char *why)
{
	json_int_t lun = json_integer_value(json_object_get(d, "lun"));
	json_t *req = plan_req("logicalunit", "new", tid);
	static const char *const strs[][2] = {
	        {"path", "backing_store"}, {"bstype", "bstype"},           {"bsopts", "bsopts"},
	        {"bsoflags", "bsoflags"},  {"device_type", "device_type"},
	};
	size_t i;
	int rc = req ? 0 : -1;

	for (i = 0; req && i < ARRAY_SIZE(strs); i++)
		if (jstr(d, strs[i][0]))
			rc |= json_object_set_new(req, strs[i][1],
			                          json_string(jstr(d, strs[i][0])));
	if (req) {
		rc |= json_object_set_new(req, "lun", json_integer(lun));
		if (json_object_get(d, "block_size"))
			rc |= json_object_set(req, "blocksize", json_object_get(d, "block_size"));
		if (json_object_size(json_object_get(d, "params")))
			rc |= json_object_set(req, "params", json_object_get(d, "params"));
	}
	if (rc) {
		json_decref(req);
		req = NULL;
	}
	rc = plan_add(pl, req, "%s lun %lld of %s: %s%s%s", why ? "~" : "+", (long long)lun,
	              tname, jstr(d, "path") ? jstr(d, "path") : "(no backing store)",
	              why ? ", re-created for a new " : "", why ? why : "");
	return rc ? rc : plan_lu_updates(pl, tid, tname, (uint64_t)lun, d);
}

/* LU parameters the file sets that differ from the live values. */
static int plan_lu_params(struct cfg_plan *pl, struct core_target *tgt, const struct core_lu *lu,
                          const json_t *d)
{
	char live[64];
	const char *key;
	json_t *v;
	json_t *req;
	int rc = 0;

	json_object_foreach(json_object_get(d, "params"), key, v)
	{
		lu_param_get(lu, key, live, sizeof(live));
		if (!strcmp(live, json_string_value(v)))
			continue;
		req = plan_req("logicalunit", "update", tgt->tid);
		if (req && (json_object_set_new(req, "lun", json_integer((json_int_t)lu->lun)) ||
		            json_object_set_new(req, "params", json_pack("{s:O}", key, v)))) {
			json_decref(req);
			req = NULL;
		}
		rc = plan_add(pl, req, "~ lun %llu of %s: %s '%s' -> '%s'",
		              (unsigned long long)lu->lun, tgt->name, key, live,
		              json_string_value(v));
		if (rc)
			break;
	}
	return rc;
}

static const json_t *desired_lu(const json_t *t, uint64_t lun)
{
	size_t i;
	json_t *d;

	json_array_foreach(json_object_get(t, "luns"), i,
	                   d) if ((uint64_t)json_integer_value(json_object_get(d, "lun")) ==
	                          lun) return d;
	return NULL;
}

static int plan_lu_delete(struct cfg_plan *pl, struct core_target *tgt, uint64_t lun,
                          const char *why)
{
	json_t *req = plan_req("logicalunit", "delete", tgt->tid);

	if (req && json_object_set_new(req, "lun", json_integer((json_int_t)lun))) {
		json_decref(req);
		req = NULL;
	}
	return plan_add(pl, req, "- lun %llu of %s%s", (unsigned long long)lun, tgt->name,
	                why ? " (to re-create it)" : "");
}

/* Deletes and re-creates changed LUs, deletes absent ones, adds new ones. tgt->lock held. */
static int plan_luns(struct cfg_plan *pl, struct core_target *tgt, const json_t *t)
{
	const json_t *d;
	struct core_lu *lu;
	const char *why;
	size_t i;
	int rc = 0;

	list_for_each_entry(lu, &tgt->luns, entry)
	{
		if (lu->lun == 0)
			continue;
		d = desired_lu(t, lu->lun);
		why = d ? lu_struct_diff(lu, d) : NULL;
		if (!d || why)
			rc = plan_lu_delete(pl, tgt, lu->lun, why);
		if (!rc && why)
			rc = plan_lu_new(pl, tgt->tid, tgt->name, d, why);
		else if (!rc && d)
			rc = plan_lu_params(pl, tgt, lu, d);
		if (rc)
			return rc;
	}
	json_array_foreach(json_object_get(t, "luns"), i, d)
	{
		uint64_t lun = (uint64_t)json_integer_value(json_object_get(d, "lun"));
		bool found = false;

		list_for_each_entry(lu, &tgt->luns, entry) found |= lu->lun == lun;
		if (!found && (rc = plan_lu_new(pl, tgt->tid, tgt->name, d, NULL)))
			return rc;
	}
	return 0;
}

/* ---- ACLs and target parameters ---- */

static bool json_list_has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), s)) return true;
	return false;
}

static int plan_acl(struct cfg_plan *pl, uint32_t tid, const char *tname, bool bind, bool addr,
                    const char *text)
{
	json_t *req = plan_req("target", bind ? "bind" : "unbind", tid);

	if (req && json_object_set_new(req, addr ? "initiator_address" : "initiator_name",
	                               json_string(text))) {
		json_decref(req);
		req = NULL;
	}
	return plan_add(pl, req, "%s acl of %s: %s %s", bind ? "+" : "-", tname,
	                addr ? "initiator-address" : "initiator-name", text);
}

/*
 * The address rules a target should have. tgt-admin binds ALL when no initiator-address is
 * given, even next to initiator-name lines, which opens such a target to every initiator;
 * here a target with names only admits exactly those names.
 */
static json_t *desired_addrs(const json_t *t)
{
	json_t *addrs = json_object_get(t, "addrs");

	if (json_array_size(addrs) || json_array_size(json_object_get(t, "names")) ||
	    json_is_true(json_object_get(t, "closed")))
		return json_incref(addrs);
	return json_pack("[s]", "ALL");
}

/* Unbinds first (never wider access in between), then binds. tgt may be NULL (new). */
static int plan_acls(struct cfg_plan *pl, struct core_target *tgt, uint32_t tid, const json_t *t,
                     bool unbind_pass)
{
	json_t *want_addrs = desired_addrs(t);
	const json_t *want_names = json_object_get(t, "names");
	const char *tname = jstr(t, "name");
	struct core_acl *acl;
	json_t *have_addrs = json_array();
	json_t *have_names = json_array();
	size_t i;
	json_t *v;
	int rc = want_addrs && have_addrs && have_names ? 0 : -ENOMEM;

	if (tgt && !rc) {
		list_for_each_entry(acl, &tgt->acls, entry)
		{
			bool addr = acl->kind == CORE_ACL_ADDR;

			json_array_append_new(addr ? have_addrs : have_names,
			                      json_string(acl->text));
			if (unbind_pass &&
			    !json_list_has(addr ? want_addrs : want_names, acl->text))
				rc = rc ? rc : plan_acl(pl, tid, tname, false, addr, acl->text);
		}
	}
	json_array_foreach(want_addrs, i, v) if (!rc && !unbind_pass &&
	                                         !json_list_has(have_addrs, json_string_value(v)))
	        rc = plan_acl(pl, tid, tname, true, true, json_string_value(v));
	json_array_foreach(want_names, i, v) if (!rc && !unbind_pass &&
	                                         !json_list_has(have_names, json_string_value(v)))
	        rc = plan_acl(pl, tid, tname, true, false, json_string_value(v));
	json_decref(want_addrs);
	json_decref(have_addrs);
	json_decref(have_names);
	return rc;
}

static void live_param(const char *key, const char *value, void *arg)
{
	json_object_set_new(arg, key, json_string(value));
}

static int plan_update(struct cfg_plan *pl, uint32_t tid, const char *tname, const char *key,
                       const char *old, const char *value)
{
	json_t *req = plan_req("target", "update", tid);

	if (req && (json_object_set_new(req, "name", json_string(key)) ||
	            json_object_set_new(req, "value", json_string(value)))) {
		json_decref(req);
		req = NULL;
	}
	if (old)
		return plan_add(pl, req, "~ %s: %s %s -> %s", tname, key, old, value);
	return plan_add(pl, req, "~ %s: %s %s", tname, key, value);
}

/* iSCSI keys and state the file sets that differ from the live ones (tgt may be NULL). */
static int plan_params(struct cfg_plan *pl, struct core_target *tgt, uint32_t tid, const json_t *t)
{
	json_t *live = json_object();
	const char *tname = jstr(t, "name");
	const char *key;
	const char *lk;
	json_t *lv;
	json_t *v;
	int rc = live ? 0 : -ENOMEM;

	if (tgt && live && pl->srv->lld) {
		unsigned int interval = 0;
		unsigned int count = 0;

		iscsi_target_param_foreach(tgt, live_param, live);
		core_alua_foreach(tgt, true, live_param, live);
		iscsi_target_nop(tgt, &interval, &count);
		json_object_set_new(live, "nop_interval", json_sprintf("%u", interval));
		json_object_set_new(live, "nop_count", json_sprintf("%u", count));
	}
	json_object_foreach(json_object_get(t, "iscsi"), key, v)
	{
		const char *old = NULL;

		json_object_foreach(live, lk, lv) if (!strcasecmp(lk, key)) old =
		        json_string_value(lv);
		if (!rc && (!old || strcasecmp(old, json_string_value(v))))
			rc = plan_update(pl, tid, tname, key, tgt ? old : NULL,
			                 json_string_value(v));
	}
	json_decref(live);
	if (!rc && jstr(t, "state") && (!tgt || tgt->ready != !strcmp(jstr(t, "state"), "ready")))
		rc = plan_update(pl, tid, tname, "state", NULL, jstr(t, "state"));
	return rc;
}

/* ---- CHAP accounts ---- */

static void acct_push(const char *user, bool outgoing, void *arg)
{
	json_array_append_new(arg, json_pack("{s:s,s:b}", "user", user, "outgoing", outgoing));
}

static bool acct_has(const json_t *list, const char *user, int outgoing)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i,
	                   v) if (!strcmp(jstr(v, "user"), user) &&
	                          (outgoing < 0 || json_is_true(json_object_get(v, "outgoing")) ==
	                                                   outgoing)) return true;
	return false;
}

static json_t *acct_req(const char *op, uint32_t tid, const char *user, bool outgoing)
{
	json_t *req = json_pack("{s:s,s:s,s:s}", "mode", "account", "op", op, "user", user);

	if (req && tid && json_object_set_new(req, "tid", json_integer(tid))) {
		json_decref(req);
		return NULL;
	}
	if (req && outgoing)
		json_object_set_new(req, "outgoing", json_true());
	return req;
}

/* One desired account (pair [user, secret]) of tid: create it if needed, then bind it. */
static int plan_account(struct cfg_plan *pl, uint32_t tid, const char *tname, const json_t *pair,
                        bool out, const json_t *bound, const json_t *all)
{
	const char *user = json_string_value(json_array_get(pair, 0));
	const char *secret = json_string_value(json_array_get(pair, 1));
	json_t *req;
	int rc = 0;

	if (!acct_has(all, user, -1) && !json_object_get(pl->accounts, user)) {
		req = acct_req("new", 0, user, false);
		if (req)
			json_object_set_new(req, "password", json_string(secret));
		rc = plan_add(pl, req, "+ account %s", user);
		json_object_set_new(pl->accounts, user, json_true());
	}
	if (!rc && !acct_has(bound, user, out))
		rc = plan_add(pl, acct_req("bind", tid, user, out), "+ %s account of %s: %s",
		              out ? "outgoing" : "incoming", tname, user);
	return rc;
}

/*
 * Creates and binds the accounts the file gives the target, unbinds the others. An existing
 * account keeps its secret (change it with utgtadm --mode account).
 */
static int plan_accounts(struct cfg_plan *pl, struct core_target *tgt, uint32_t tid,
                         const json_t *t)
{
	const json_t *out = json_object_get(t, "out_user");
	json_t *bound = json_array();
	json_t *all = json_array();
	const char *tname = jstr(t, "name");
	size_t i;
	json_t *v;
	int rc = bound && all ? 0 : -ENOMEM;

	if (!rc) {
		core_account_foreach(pl->srv->root, acct_push, all);
		if (tgt)
			core_account_foreach_bound(pl->srv->root, tid, acct_push, bound);
	}
	json_array_foreach(bound, i, v)
	{
		bool o = json_is_true(json_object_get(v, "outgoing"));
		bool want = false;
		size_t j;
		json_t *pair;

		json_array_foreach(json_object_get(t, "in_users"), j, pair) want |=
		        !o && !strcmp(json_string_value(json_array_get(pair, 0)), jstr(v, "user"));
		want |= o && out &&
		        !strcmp(json_string_value(json_array_get(out, 0)), jstr(v, "user"));
		if (!rc && !want)
			rc = plan_add(pl, acct_req("unbind", tid, jstr(v, "user"), o),
			              "- %s account of %s: %s", o ? "outgoing" : "incoming", tname,
			              jstr(v, "user"));
	}
	json_array_foreach(json_object_get(t, "in_users"), i, v) if (!rc) rc =
	        plan_account(pl, tid, tname, v, false, bound, all);
	if (!rc && out)
		rc = plan_account(pl, tid, tname, out, true, bound, all);
	json_decref(bound);
	json_decref(all);
	return rc;
}

/* ---- targets ---- */

static int plan_target_new(struct cfg_plan *pl, const json_t *t)
{
	const char *name = jstr(t, "name");
	json_t *req;
	uint32_t tid;
	char key[16];
	size_t i;
	json_t *d;
	int rc;

	if (json_object_get(t, "tid")) {
		tid = (uint32_t)json_integer_value(json_object_get(t, "tid"));
	} else {
		do
			snprintf(key, sizeof(key), "%u", tid = pl->next_tid++);
		while (json_object_get(pl->tids, key) || core_target_find(pl->srv->root, tid));
	}
	snprintf(key, sizeof(key), "%u", tid);
	if ((core_target_find(pl->srv->root, tid) && !json_object_get(pl->freed, key)) ||
	    json_object_get(pl->tids, key)) {
		snprintf(pl->err, pl->errlen, "%s:%lld: controller_tid %u is already in use",
		         jstr(t, "file"), json_integer_value(json_object_get(t, "line")), tid);
		return -EEXIST;
	}
	json_object_set_new(pl->tids, key, json_true());
	req = plan_req("target", "new", tid);
	if (req && json_object_set_new(req, "targetname", json_string(name))) {
		json_decref(req);
		req = NULL;
	}
	rc = plan_add(pl, req, "+ target %s (tid %u)", name, tid);
	if (!rc)
		rc = plan_params(pl, NULL, tid, t);
	json_array_foreach(json_object_get(t, "luns"), i, d) if (!rc) rc =
	        plan_lu_new(pl, tid, name, d, NULL);
	if (!rc)
		rc = plan_accounts(pl, NULL, tid, t);
	if (!rc)
		rc = plan_acls(pl, NULL, tid, t, false);
	return rc;
}

static int plan_target_update(struct cfg_plan *pl, struct core_target *tgt, const json_t *t)
{
	int rc;

	rc = plan_params(pl, tgt, tgt->tid, t);
	pthread_rwlock_rdlock(&tgt->lock);
	if (!rc)
		rc = plan_acls(pl, tgt, tgt->tid, t, true);
	if (!rc)
		rc = plan_luns(pl, tgt, t);
	pthread_rwlock_unlock(&tgt->lock);
	if (!rc)
		rc = plan_accounts(pl, tgt, tgt->tid, t);
	pthread_rwlock_rdlock(&tgt->lock);
	if (!rc)
		rc = plan_acls(pl, tgt, tgt->tid, t, false);
	pthread_rwlock_unlock(&tgt->lock);
	return rc;
}

static int plan_target_delete(struct cfg_plan *pl, struct core_target *tgt, bool force)
{
	json_t *req = plan_req("target", "delete", tgt->tid);
	char key[16];

	snprintf(key, sizeof(key), "%u", tgt->tid);
	json_object_set_new(pl->freed, key, json_true());
	if (req && force && json_object_set_new(req, "force", json_true())) {
		json_decref(req);
		req = NULL;
	}
	return plan_add(pl, req, "- target %s (tid %u)%s", tgt->name, tgt->tid,
	                core_target_nexus_count(tgt) ? ", which has sessions" : "");
}

/* Whether a target is selected: ALL (or nothing), "tid=N" or its name. */
static bool plan_selected(const char *sel, uint32_t tid, const char *name)
{
	uint64_t n;

	if (!sel || !strcmp(sel, "ALL"))
		return true;
	if (!strncmp(sel, "tid=", 4))
		return str_to_u64(sel + 4, 0, UINT32_MAX, &n) == 0 && n == tid;
	return !strcmp(sel, name);
}

static const json_t *desired_target(const json_t *doc, const char *name)
{
	size_t i;
	json_t *t;

	json_array_foreach(json_object_get(doc, "targets"), i,
	                   t) if (!strcmp(jstr(t, "name"), name)) return t;
	return NULL;
}

static struct core_target *live_by_name(struct core_root *root, const char *name)
{
	struct core_target *tgt;

	for (tgt = core_target_next(root, 0); tgt; tgt = core_target_next(root, tgt->tid))
		if (!strcmp(tgt->name, name))
			return tgt;
	return NULL;
}

/*
 * The file's iSNS keys (tgt-admin's globals), as system updates after the targets; "iSNS" goes
 * last so the server address is set before the client starts.
 */
static int plan_isns(struct cfg_plan *pl, const json_t *doc)
{
	const json_t *arr = json_object_get(doc, "isns");
	const char *name;
	json_t *pair;
	json_t *req;
	size_t i;
	int rc = 0;

	for (int last = 0; last < 2 && !rc; last++) {
		json_array_foreach(arr, i, pair) {
			name = json_string_value(json_array_get(pair, 0));
			if (rc || !name || (strcmp(name, "iSNS") == 0) != (last == 1))
				continue;
			req = plan_req("system", "update", 0);
			if (req && json_object_set_new(req, "name", json_string(name))) {
				json_decref(req);
				req = NULL;
			}
			if (req && json_object_set(req, "value", json_array_get(pair, 1))) {
				json_decref(req);
				req = NULL;
			}
			rc = plan_add(pl, req, "= system %s=%s", name,
				      json_string_value(json_array_get(pair, 1)));
		}
	}
	return rc;
}

static int plan_build(struct cfg_plan *pl, const json_t *doc, const char *sel, bool force)
{
	struct core_target *tgt;
	const json_t *t;
	uint32_t tid = 0;
	size_t i;
	int rc = 0;

	pl->next_tid = 1;
	for (tgt = core_target_next(pl->srv->root, 0); tgt;
	     tgt = core_target_next(pl->srv->root, tgt->tid))
		pl->next_tid = tgt->tid + 1;
	/* Live targets first: deletions free names and tids the file may reuse. */
	while (!rc && (tgt = core_target_next(pl->srv->root, tid))) {
		tid = tgt->tid;
		if (!plan_selected(sel, tgt->tid, tgt->name))
			continue;
		t = desired_target(doc, tgt->name);
		rc = t ? plan_target_update(pl, tgt, t) : plan_target_delete(pl, tgt, force);
	}
	json_array_foreach(json_object_get(doc, "targets"), i, t)
	{
		json_int_t want = json_integer_value(json_object_get(t, "tid"));

		if (rc || live_by_name(pl->srv->root, jstr(t, "name")))
			continue;
		if (!plan_selected(sel, want ? (uint32_t)want : UINT32_MAX, jstr(t, "name")))
			continue;
		rc = plan_target_new(pl, t);
	}
	return rc ? rc : plan_isns(pl, doc);
}

/* ---- running a plan ---- */

/*
 * Runs the plan's requests in order. Stops at the first failure unless the file says
 * ignore-errors; err then names the change and tgt's message. Returns the first failure's
 * code (MGMT_OK when all succeeded).
 */
static enum mgmt_err plan_run(struct cfg_plan *pl, bool ignore_errors, unsigned int *applied)
{
	enum mgmt_err first = MGMT_OK;
	struct mgmt_rsp rsp;
	size_t i;
	json_t *c;

	*applied = 0;
	json_array_foreach(pl->changes, i, c)
	{
		memset(&rsp, 0, sizeof(rsp));
		if (mgmt_handle_req(pl->srv, json_object_get(c, "req"), &rsp) == MGMT_OK) {
			(*applied)++;
			continue;
		}
		json_decref(rsp.data);
		if (first == MGMT_OK) {
			first = rsp.err;
			snprintf(pl->err, pl->errlen, "%s: %s%s%s", jstr(c, "desc"),
			         mgmt_err_str((int)rsp.err), rsp.detail[0] ? ": " : "", rsp.detail);
		}
		log_warn("config: %s: %s%s%s", jstr(c, "desc"), mgmt_err_str((int)rsp.err),
		         rsp.detail[0] ? ": " : "", rsp.detail);
		if (!ignore_errors)
			break;
	}
	return first;
}

struct cfg_apply {
	const char *path;
	const char *select; /* NULL or "ALL", "tid=N", a target name */
	bool dry_run;
	bool force;
};

/* Parses, plans and (unless dry_run) applies. *changes gets the descriptions. */
static enum mgmt_err cfg_apply(struct mgmt_server *srv, const struct cfg_apply *a, json_t **out,
                               char *err, size_t errlen)
{
	struct cfg_plan pl = {.srv = srv, .err = err, .errlen = errlen};
	enum mgmt_err rc = MGMT_OK;
	unsigned int applied = 0;
	json_t *doc;
	size_t i;
	json_t *c;

	*out = NULL;
	doc = mgmt_config_parse(srv, a->path, err, errlen);
	if (!doc)
		return MGMT_ERR_INVALID_REQUEST;
	pl.changes = json_array();
	pl.tids = json_object();
	pl.freed = json_object();
	pl.accounts = json_object();
	if (!pl.changes || !pl.tids || !pl.freed || !pl.accounts ||
	    plan_build(&pl, doc, a->select, a->force))
		rc = MGMT_ERR_INVALID_REQUEST;
	if (rc == MGMT_OK && !a->dry_run)
		rc = plan_run(&pl, json_is_true(json_object_get(doc, "ignore_errors")), &applied);
	*out = json_pack("{s:[],s:O,s:i,s:b}", "changes", "warnings",
	                 json_object_get(doc, "warnings"), "applied", (int)applied, "dry_run",
	                 a->dry_run);
	json_array_foreach(pl.changes, i, c) if (*out)
	        json_array_append(json_object_get(*out, "changes"), json_object_get(c, "desc"));
	json_decref(pl.changes);
	json_decref(pl.tids);
	json_decref(pl.freed);
	json_decref(pl.accounts);
	json_decref(doc);
	if (!*out && rc == MGMT_OK)
		rc = MGMT_ERR_NOMEM;
	return rc;
}

int mgmt_config_load(struct mgmt_server *srv, const char *path, char *err, size_t errlen)
{
	struct cfg_apply a = {.path = path};
	enum mgmt_err rc;
	json_t *out;
	size_t i;
	json_t *v;

	rc = cfg_apply(srv, &a, &out, err, errlen);
	json_array_foreach(json_object_get(out, "warnings"), i, v)
	        log_warn("config: %s", json_string_value(v));
	if (rc == MGMT_OK)
		log_info("config: %s: %zu change(s) applied", path,
		         json_array_size(json_object_get(out, "changes")));
	json_decref(out);
	return rc == MGMT_OK ? 0 : -EINVAL;
}

/* ---- dump: the live state as a targets.conf ---- */

/* Writes "key value", quoting a value that is empty or has blanks or quotes at its ends. */
static void dump_kv(FILE *f, const char *indent, const char *key, const char *value)
{
	bool quote = !*value || strpbrk(value, " \t") || value[0] == '"' || value[0] == '<';

	fprintf(f, "%s%s %s%s%s\n", indent, key, quote ? "\"" : "", value, quote ? "\"" : "");
}

static void dump_lu(struct mgmt_server *srv, FILE *f, uint32_t tid, const struct core_lu *lu)
{
	const json_t *hist = mgmt_lu_history(srv, tid, lu->lun);
	json_t *line;
	size_t k;
	static const char *const idents[] = {
	        "vendor_id", "product_id", "product_rev", "scsi_id", "scsi_sn",
	};
	static const char *const flags[4] = {NULL, "sync", "direct", "sync:direct"};
	char v[64];
	size_t i;

	if (lu->path)
		fprintf(f, "\t<backing-store %s>\n", lu->path);
	else
		fprintf(f, "\t<backing-store NONE:lun%llu>\n", (unsigned long long)lu->lun);
	fprintf(f, "\t\tlun %llu\n", (unsigned long long)lu->lun);
	if (lu->dt)
		fprintf(f, "\t\tdevice-type %s\n", lu->dt->name);
	if (lu->bs)
		fprintf(f, "\t\tbs-type %s\n", lu->bs->name);
	if (flags[lu->bsoflags & 3])
		fprintf(f, "\t\tbsoflags %s\n", flags[lu->bsoflags & 3]);
	if (lu->bsopts && *lu->bsopts)
		dump_kv(f, "\t\t", "bsopts", lu->bsopts);
	/* tapes and changers have no settable block size (0 or their own) */
	if (lu->block_size >= 512 && lu->block_size <= 4096 &&
	    !(lu->block_size & (lu->block_size - 1)))
		fprintf(f, "\t\tblock-size %u\n", lu->block_size);
	for (i = 0; i < ARRAY_SIZE(idents); i++) {
		lu_param_get(lu, idents[i], v, sizeof(v));
		if (*v)
			dump_kv(f, "\t\t", idents[i], v);
	}
	fprintf(f, "\t\treadonly %s\n", lu->readonly ? "yes" : "no");
	fprintf(f, "\t\tremovable %s\n", lu->removable ? "yes" : "no");
	fprintf(f, "\t\twrite-cache %s\n", lu->write_cache ? "on" : "off");
	if (!lu->online)
		fprintf(f, "\t\tonline no\n");
	if (lu->d_sense)
		fprintf(f, "\t\tsense_format 1\n");
	if (lu->thin || lu->rotation_rate)
		fprintf(f, "\t\tparams thin_provisioning=%d,rotation_rate=%u\n", lu->thin,
		        lu->rotation_rate);
	/* device-type updates (changer elements, ...), replayed in order after creation */
	json_array_foreach(hist, k, line)
		fprintf(f, "\t\tparams %s\n", json_string_value(line));
	fprintf(f, "\t</backing-store>\n");
}

static void dump_param(const char *key, const char *value, void *arg)
{
	const char *canon = mgmt_config_iscsi_key(key);

	/* Markers are not supported: their values are fixed and cannot be set. */
	if (canon && strstr(canon, "Mark"))
		return;
	if (canon)
		dump_kv(arg, "\t", canon, value);
}

/* The target's CHAP accounts with their secrets (the dump is written mode 0600). */
static void dump_accounts(struct mgmt_server *srv, FILE *f, uint32_t tid)
{
	char user[CORE_ACCOUNT_USER_MAX + 1];
	uint8_t secret[CORE_ACCOUNT_SECRET_MAX];
	json_t *bound = json_array();
	size_t len;
	size_t i;
	json_t *v;
	int rc;

	if (!bound)
		return;
	core_account_foreach_bound(srv->root, tid, acct_push, bound);
	json_array_foreach(bound, i, v)
	{
		bool out = json_is_true(json_object_get(v, "outgoing"));

		if (out)
			rc = core_account_out_secret(srv->root, tid, user, sizeof(user), secret,
			                             sizeof(secret), &len);
		else
			rc = core_account_in_secret(srv->root, tid, jstr(v, "user"), secret,
			                            sizeof(secret), &len);
		if (!rc)
			fprintf(f, "\t%s %s %.*s\n", out ? "outgoinguser" : "incominguser",
			        jstr(v, "user"), (int)len, (const char *)secret);
		explicit_bzero(secret, sizeof(secret));
	}
	json_decref(bound);
}

static void dump_target(struct mgmt_server *srv, FILE *f, struct core_target *tgt)
{
	struct core_acl *acl;
	struct core_lu *lu;
	bool any = false;

	fprintf(f, "<target %s>\n\tcontroller_tid %u\n", tgt->name, tgt->tid);
	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(lu, &tgt->luns, entry) if (lu->lun != 0) dump_lu(srv, f, tgt->tid, lu);
	list_for_each_entry(acl, &tgt->acls, entry)
	{
		any = true;
		dump_kv(f, "\t",
		        acl->kind == CORE_ACL_ADDR ? "initiator-address" : "initiator-name",
		        acl->text);
	}
	pthread_rwlock_unlock(&tgt->lock);
	if (!any) /* closed: a file without ACL lines would bind ALL */
		fprintf(f, "\tinitiator-address NONE\n");
	dump_accounts(srv, f, tgt->tid);
	if (srv->lld)
		iscsi_target_param_foreach(tgt, dump_param, f); /* includes nop_interval/count */
	core_alua_foreach(tgt, false, dump_param, f);        /* ALUA settings that differ */
	if (!tgt->ready)
		fprintf(f, "\tstate offline\n");
	fprintf(f, "</target>\n\n");
}

/* The whole live configuration as text (malloc'd), or NULL on ENOMEM. */
static char *cfg_dump(struct mgmt_server *srv)
{
	struct core_target *tgt;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f,
	        "# utgtd %s live configuration (targets.conf format, see targets.conf(5))\n"
	        "default-driver iscsi\n\n",
	        UTGT_VERSION);
	for (tgt = core_target_next(srv->root, 0); tgt; tgt = core_target_next(srv->root, tgt->tid))
		dump_target(srv, f, tgt);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- saveconfig: the dump written atomically ---- */

static int save_write_all(int fd, const char *text, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync of path's directory, so the rename survives a crash. */
static int save_sync_dir(const char *path)
{
	char dir[MGMT_LEN_PATH + 1];
	int fd;
	int rc = 0;

	str_copy(dir, path, sizeof(dir));
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * Writes text to path: a temporary file in the same directory (mode 0600: the dump holds CHAP
 * secrets), fsync, rename over path, fsync of the directory. 0 or -errno; on failure path is
 * untouched and the temporary file is gone.
 */
static int save_atomic(const char *path, const char *text)
{
	char tmp[MGMT_LEN_PATH + 16];
	int fd;
	int rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = save_write_all(fd, text, strlen(text));
	if (!rc && (fchmod(fd, 0600) < 0 || fsync(fd) < 0))
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return save_sync_dir(path);
}

/*
 * `system saveconfig`: writes the dump to "config" (absolute path) or, when absent, to the
 * --config file the daemon was started with. Answers {"path", "bytes"}.
 */
void mgmt_config_sys_save(struct mgmt_server *srv, const struct mgmt_req *req,
			  struct mgmt_rsp *rsp)
{
	const char *path = req->config ? req->config : srv->config_path;
	char *text;
	int rc;

	rsp->err = MGMT_ERR_INVALID_REQUEST;
	if (!path) {
		mgmt_rsp_detail(rsp, "no file given and utgtd was started without --config");
		return;
	}
	if (path[0] != '/') {
		mgmt_rsp_detail(rsp, "the file must be an absolute path");
		return;
	}
	text = cfg_dump(srv);
	if (!text) {
		rsp->err = MGMT_ERR_NOMEM;
		return;
	}
	rc = save_atomic(path, text);
	if (rc) {
		mgmt_rsp_detail(rsp, "%s: %s", path, strerror(-rc));
		log_err("saveconfig: %s: %s", path, strerror(-rc));
	} else {
		rsp->data = json_pack("{s:s,s:I}", "path", path, "bytes", (json_int_t)strlen(text));
		rsp->err = rsp->data ? MGMT_OK : MGMT_ERR_NOMEM;
		log_info("saveconfig: wrote %s", path);
	}
	free(text);
}

/* ---- handlers ---- */

/* `system show` with name "config": {"config": text}; other names: the system show. */
void mgmt_config_sys_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	char *text;

	if (!req->name) {
		mgmt_sys_show(srv, req, rsp);
		return;
	}
	if (strcmp(req->name, "config")) {
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, "system show knows only the name 'config'");
		return;
	}
	text = cfg_dump(srv);
	rsp->data = text ? json_pack("{s:s}", "config", text) : NULL;
	free(text);
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
}

/*
 * `system update` with name "config": applies the file in "config" to the targets value
 * selects (ALL when absent); "dry_run" only plans; "force" deletes targets with sessions.
 * Other names: the system update.
 */
void mgmt_config_sys_update(struct mgmt_server *srv, const struct mgmt_req *req,
                            struct mgmt_rsp *rsp)
{
	struct cfg_apply a = {
	        .path = req->config,
	        .select = req->value,
	        .dry_run = req->dry_run,
	        .force = req->force,
	};

	if (!req->name || strcmp(req->name, "config")) {
		mgmt_sys_update(srv, req, rsp);
		return;
	}
	if (!req->config || req->config[0] != '/') {
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, "config must be an absolute path");
		return;
	}
	rsp->err = cfg_apply(srv, &a, &rsp->data, rsp->detail, sizeof(rsp->detail));
}
