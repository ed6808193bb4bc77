/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/config_parse: a bounded parser for tgt's targets.conf (doc/targets.conf.5 of tgt):
 * global directives, <target NAME> blocks, <backing-store PATH>/<direct-store PATH> blocks and
 * plain backing-store lines, with target-level LU options acting as defaults. Every directive
 * is looked up in a table; unknown or invalid ones are errors naming the file and line (tgt's
 * tgt-admin silently ignores them). Output: the desired-state document of config_int.h.
 */
#include "core/core.h"
#include "mgmt/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct cfg_parser {
	struct mgmt_server *srv;
	json_t *doc;
	json_t *targets;  /* doc.targets */
	json_t *tgt;      /* open <target>, or NULL */
	json_t *defaults; /* LU defaults of the open target */
	json_t *lu;       /* open <backing-store> block, or NULL */
	const char *file;
	unsigned int line;
	unsigned int files;
	unsigned int depth;
	char *err;
	size_t errlen;
};

__printf(2, 3) static int cfg_error(struct cfg_parser *p, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!p->err[0])
		snprintf(p->err, p->errlen, "%s:%u: %s", p->file, p->line, msg);
	return -EINVAL;
}

static int cfg_set(struct cfg_parser *p, json_t *obj, const char *key, json_t *v)
{
	if (!v || json_object_set_new(obj, key, v))
		return cfg_error(p, "out of memory");
	return 0;
}

static int cfg_warn(struct cfg_parser *p, const char *msg)
{
	json_t *w = json_sprintf("%s:%u: %s", p->file, p->line, msg);

	if (!w || json_array_append_new(json_object_get(p->doc, "warnings"), w))
		return cfg_error(p, "out of memory");
	return 0;
}

/* ---- values ---- */

static int cfg_bool(struct cfg_parser *p, const char *key, const char *value, const char **out)
{
	bool b;

	if (str_to_bool(value, &b) < 0)
		return cfg_error(p, "%s: expected yes/no, on/off or 1/0, got '%.64s'", key, value);
	*out = b ? "1" : "0";
	return 0;
}

/* Identity strings: printable ASCII of at most max bytes (INQUIRY field widths). */
static int cfg_ident(struct cfg_parser *p, const char *key, const char *value, size_t max)
{
	const char *s;

	if (strlen(value) > max)
		return cfg_error(p, "%s: at most %zu characters", key, max);
	for (s = value; *s; s++)
		if (!isprint((unsigned char)*s))
			return cfg_error(p, "%s: only printable ASCII is allowed", key);
	return 0;
}

/* Checks one LU parameter and stores it (normalised) into the object's "params". */
static int cfg_param_set(struct cfg_parser *p, json_t *obj, const char *key, const char *value)
{
	const struct mgmt_lu_key *cp = mgmt_lu_key_find(key);
	json_t *params = json_object_get(obj, "params");
	uint64_t n;
	int rc;

	if (!cp)
		return cfg_error(p, "unknown logical unit parameter '%.64s'", key);
	if (strstr(value, "${"))
		return cfg_error(p, "%s: ${tid}/${lun} are substituted in params lines only", key);
	if (cp->kind == 'b') {
		rc = cfg_bool(p, key, value, &value);
	} else if (cp->kind == 'n') {
		rc = str_to_u64(value, 0, cp->max, &n);
		if (rc)
			return cfg_error(p, "%s: expected a number from 0 to %u", key, cp->max);
	} else {
		rc = cfg_ident(p, key, value, cp->max);
	}
	if (rc)
		return rc;
	if (!params) {
		params = json_object();
		if (cfg_set(p, obj, "params", params))
			return -ENOMEM;
	}
	return cfg_set(p, params, key, json_string(value));
}

/* Only ${tid} and ${lun} may be substituted (tgt-admin's variables). */
static bool cfg_vars_ok(const char *s)
{
	while ((s = strstr(s, "${"))) {
		if (strncmp(s, "${tid}", 6) && strncmp(s, "${lun}", 6))
			return false;
		s += 6;
	}
	return true;
}

/*
 * Whether key is a device-type --params key (the config_keys of a registered device type): a
 * line naming one is an update the device type checks when it runs. Any other key is still a
 * line-numbered parse error, and a bad file changes nothing.
 */
static bool cfg_devtype_key(const struct cfg_parser *p, const char *key)
{
	const struct core_devtype *dt;
	const char *const *k;
	unsigned int i;

	for (i = 0; (dt = core_devtype_at(p->srv->root, i)); i++)
		for (k = dt->config_keys; k && *k; k++)
			if (!strcmp(*k, key))
				return true;
	return false;
}

/*
 * Whether a params line is a device-type update: it names a device-type key (element_type=,
 * media_home=, ...) or uses ${tid}/${lun}. Such a line is kept whole and sent as `logicalunit
 * update` after the LU is created, as tgt-admin does; it is never compared with the live
 * state (the dump replays it).
 */
static bool cfg_params_is_update(const struct cfg_parser *p, const char *value)
{
	char buf[CFG_LINE_MAX];
	char *save = NULL;
	char *tok;
	char *eq;

	if (strstr(value, "${"))
		return true;
	str_copy(buf, value, sizeof(buf));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		if (eq && cfg_devtype_key(p, tok))
			return true;
	}
	return false;
}

/* Checks a device-type update line against the request bounds and keeps it in "updates". */
static int cfg_params_update(struct cfg_parser *p, json_t *obj, const char *value)
{
	json_t *ups = json_object_get(obj, "updates");
	char buf[CFG_LINE_MAX];
	char *save = NULL;
	const char *s;
	char *tok;
	char *eq;

	if (strlen(value) > MGMT_LEN_PARAMS - 64)
		return cfg_error(p, "params: longer than %u bytes", MGMT_LEN_PARAMS - 64);
	for (s = value; *s; s++)
		if (!isprint((unsigned char)*s) || *s == ' ')
			return cfg_error(p, "params: only printable ASCII without blanks");
	if (!cfg_vars_ok(value))
		return cfg_error(p, "params: only ${tid} and ${lun} can be substituted");
	str_copy(buf, value, sizeof(buf));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		if (!eq || eq == tok || eq - tok > MGMT_LEN_SHORT ||
		    strlen(eq + 1) > MGMT_LEN_VALUE)
			return cfg_error(p, "params: expected key=value, got '%.64s'", tok);
		*eq = '\0';
		if (!cfg_devtype_key(p, tok) && !mgmt_lu_key_find(tok))
			return cfg_error(p, "unknown logical unit parameter '%.64s'", tok);
	}
	if (!ups) {
		ups = json_array();
		if (cfg_set(p, obj, "updates", ups))
			return -ENOMEM;
	}
	if (json_array_size(ups) >= MGMT_LU_UPDATES_MAX)
		return cfg_error(p, "params: more than %u lines", MGMT_LU_UPDATES_MAX);
	if (json_array_append_new(ups, json_string(value)))
		return cfg_error(p, "out of memory");
	return 0;
}

/* "params k=v,k=v" */
static int cfg_params_list(struct cfg_parser *p, json_t *obj, const char *value)
{
	char buf[CFG_LINE_MAX];
	char *save = NULL;
	char *tok;
	char *eq;
	int rc;

	if (cfg_params_is_update(p, value))
		return cfg_params_update(p, obj, value);
	str_copy(buf, value, sizeof(buf));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		if (!eq || eq == tok)
			return cfg_error(p, "params: expected key=value, got '%.64s'", tok);
		*eq = '\0';
		rc = cfg_param_set(p, obj, tok, eq + 1);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- logical unit directives (in a block, or target-level defaults) ---- */

enum cfg_lu_kind {
	CFG_LU_LUN,
	CFG_LU_DEVTYPE,
	CFG_LU_BSTYPE,
	CFG_LU_BSOPTS,
	CFG_LU_BSOFLAGS,
	CFG_LU_BLOCKSIZE,
	CFG_LU_PARAM,
	CFG_LU_PARAMS,
	CFG_LU_IGNORE,
	CFG_LU_UNSUPPORTED,
};

static const struct {
	const char *name;
	enum cfg_lu_kind kind;
	const char *param;
} cfg_lu_keys[] = {
        {"lun", CFG_LU_LUN, NULL},
        {"device-type", CFG_LU_DEVTYPE, NULL},
        {"bs-type", CFG_LU_BSTYPE, NULL},
        {"bsopts", CFG_LU_BSOPTS, NULL},
        {"bsoflags", CFG_LU_BSOFLAGS, NULL},
        {"block-size", CFG_LU_BLOCKSIZE, NULL},
        {"write-cache", CFG_LU_PARAM, "write_cache"},
        {"readonly", CFG_LU_PARAM, "readonly"},
        {"removable", CFG_LU_PARAM, "removable"},
        {"online", CFG_LU_PARAM, "online"},
        {"vendor_id", CFG_LU_PARAM, "vendor_id"},
        {"product_id", CFG_LU_PARAM, "product_id"},
        {"product_rev", CFG_LU_PARAM, "product_rev"},
        {"scsi_id", CFG_LU_PARAM, "scsi_id"},
        {"scsi_sn", CFG_LU_PARAM, "scsi_sn"},
        {"sense_format", CFG_LU_PARAM, "sense_format"},
        {"params", CFG_LU_PARAMS, NULL},
        {"allow-in-use", CFG_LU_IGNORE, NULL},
        {"mode_page", CFG_LU_UNSUPPORTED, NULL},
        {"lbppbe", CFG_LU_UNSUPPORTED, NULL},
        {"la_lba", CFG_LU_UNSUPPORTED, NULL},
        {"optimal_xfer_gran", CFG_LU_UNSUPPORTED, NULL},
        {"optimal_xfer_len", CFG_LU_UNSUPPORTED, NULL},
        {"path", CFG_LU_UNSUPPORTED, NULL},
};

static int cfg_lu_typed(struct cfg_parser *p, json_t *obj, enum cfg_lu_kind kind, const char *key,
                        const char *value)
{
	struct core_root *root = p->srv->root;
	uint32_t flags;
	uint64_t n;

	switch (kind) {
	case CFG_LU_LUN:
		if (str_to_u64(value, 1, CFG_LUNS_MAX, &n))
			return cfg_error(p, "lun: expected 1 to %u (LUN 0 is the controller)",
			                 CFG_LUNS_MAX);
		return cfg_set(p, obj, "lun", json_integer((json_int_t)n));
	case CFG_LU_DEVTYPE:
		if (!strcmp(value, "ssc"))
			value = "tape";
		if (!core_devtype_find(root, value))
			return cfg_error(p, "device-type: unknown type '%.64s'", value);
		return cfg_set(p, obj, "device_type", json_string(value));
	case CFG_LU_BSTYPE:
		if (!core_bs_find(root, value))
			return cfg_error(p, "bs-type: unknown backing store type '%.64s'", value);
		return cfg_set(p, obj, "bstype", json_string(value));
	case CFG_LU_BSOPTS:
		if (strlen(value) > MGMT_LEN_BSOPTS)
			return cfg_error(p, "bsopts: too long");
		return cfg_set(p, obj, "bsopts", json_string(value));
	case CFG_LU_BSOFLAGS:
		if (mgmt_req_parse_bsoflags(value, &flags))
			return cfg_error(p, "bsoflags: expected sync, direct or sync:direct");
		return cfg_set(p, obj, "bsoflags", json_string(value));
	case CFG_LU_BLOCKSIZE:
		if (str_to_u64(value, 512, 4096, &n) || (n & (n - 1)))
			return cfg_error(p, "block-size: expected 512, 1024, 2048 or 4096");
		return cfg_set(p, obj, "block_size", json_integer((json_int_t)n));
	default:
		(void)key;
		return 0;
	}
}

/* Returns 1 when key is not a logical unit directive, else 0 or -EINVAL. */
static int cfg_lu_directive(struct cfg_parser *p, json_t *obj, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfg_lu_keys); i++) {
		if (strcmp(cfg_lu_keys[i].name, key))
			continue;
		switch (cfg_lu_keys[i].kind) {
		case CFG_LU_PARAM:
			return cfg_param_set(p, obj, cfg_lu_keys[i].param, value);
		case CFG_LU_PARAMS:
			return cfg_params_list(p, obj, value);
		case CFG_LU_IGNORE:
			return 0;
		case CFG_LU_UNSUPPORTED:
			return cfg_error(p, "'%s' is not supported by utgtd", key);
		default:
			return cfg_lu_typed(p, obj, cfg_lu_keys[i].kind, key, value);
		}
	}
	return 1;
}

/* ---- targets ---- */

/* Per-target iSCSI keys tgt-admin passes to `--op update` (case-insensitive), and ours. */
static const char *const cfg_iscsi_keys[] = {
        "MaxRecvDataSegmentLength",
        "MaxXmitDataSegmentLength",
        "HeaderDigest",
        "DataDigest",
        "InitialR2T",
        "MaxOutstandingR2T",
        "ImmediateData",
        "FirstBurstLength",
        "MaxBurstLength",
        "DataPDUInOrder",
        "DataSequenceInOrder",
        "ErrorRecoveryLevel",
        "IFMarker",
        "OFMarker",
        "DefaultTime2Wait",
        "DefaultTime2Retain",
        "OFMarkInt",
        "IFMarkInt",
        "MaxConnections",
        "nop_interval",
        "nop_count",
        "MaxQueueCmd",
        "max_sessions",
        "TargetAlias",
        "RedirectAddress",
        "RedirectPort",
        "RedirectReason",
};

const char *mgmt_config_iscsi_key(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfg_iscsi_keys); i++)
		if (!strcasecmp(cfg_iscsi_keys[i], key))
			return cfg_iscsi_keys[i];
	/* ALUA settings (alua.type, alua.tpg.G.state, ...) go through `--op update` too; the
	 * daemon checks them when the file is applied. */
	if (!strncasecmp(key, "alua.", 5) && strlen(key) < 40)
		return key;
	return NULL;
}

static int cfg_acl_add(struct cfg_parser *p, const char *list, const char *value)
{
	struct core_acl acl;
	json_t *arr = json_object_get(p->tgt, list);
	size_t i;
	json_t *v;

	if (!strcmp(list, "addrs") && !strcmp(value, "NONE"))
		return cfg_set(p, p->tgt, "closed", json_true()); /* utgt: no address rule at all */
	if (!strcmp(list, "addrs") && strcmp(value, "ALL") && core_acl_parse_addr(value, &acl))
		return cfg_error(p, "initiator-address: not an address or prefix: '%.64s'", value);
	if (!strcmp(list, "names") && (!*value || strlen(value) > MGMT_LEN_IQN))
		return cfg_error(p, "initiator-name: empty or longer than %u bytes", MGMT_LEN_IQN);
	json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v),
	                                          value)) return 0; /* tgt merges duplicates */
	if (json_array_append_new(arr, json_string(value)))
		return cfg_error(p, "out of memory");
	return 0;
}

/* "incominguser USER SECRET" (repeatable), "outgoinguser USER SECRET" (once). */
static int cfg_account(struct cfg_parser *p, const char *key, const char *value)
{
	bool out = !strcmp(key, "outgoinguser");
	size_t ulen = strcspn(value, " \t");
	const char *secret = value + ulen + strspn(value + ulen, " \t");
	json_t *pair;

	if (!ulen || !*secret)
		return cfg_error(p, "%s: expected a user name and a secret", key);
	if (ulen > CORE_ACCOUNT_USER_MAX || strlen(secret) > CORE_ACCOUNT_SECRET_MAX)
		return cfg_error(p, "%s: user or secret longer than %u bytes", key,
		                 CORE_ACCOUNT_USER_MAX);
	if (out && json_object_get(p->tgt, "out_user"))
		return cfg_error(p, "outgoinguser: a target has at most one outgoing account");
	pair = json_pack("[s%,s]", value, ulen, secret);
	if (!pair)
		return cfg_error(p, "out of memory");
	if (out)
		return cfg_set(p, p->tgt, "out_user", pair);
	if (json_array_append_new(json_object_get(p->tgt, "in_users"), pair))
		return cfg_error(p, "out of memory");
	return 0;
}

static int cfg_target_directive(struct cfg_parser *p, const char *key, const char *value)
{
	const char *ikey;
	uint64_t n;
	int rc;

	if (!strcmp(key, "initiator-address"))
		return cfg_acl_add(p, "addrs", value);
	if (!strcmp(key, "initiator-name"))
		return cfg_acl_add(p, "names", value);
	if (!strcmp(key, "incominguser") || !strcmp(key, "outgoinguser"))
		return cfg_account(p, key, value);
	if (!strcmp(key, "driver")) {
		if (strcmp(value, "iscsi"))
			return cfg_error(p, "driver: only iscsi is available, not '%.64s'", value);
		return 0;
	}
	if (!strcmp(key, "controller_tid")) {
		if (str_to_u64(value, 1, INT32_MAX, &n))
			return cfg_error(p, "controller_tid: expected a number from 1");
		return cfg_set(p, p->tgt, "tid", json_integer((json_int_t)n));
	}
	if (!strcmp(key, "state")) {
		if (strcmp(value, "ready") && strcmp(value, "offline"))
			return cfg_error(p, "state: expected ready or offline");
		return cfg_set(p, p->tgt, "state", json_string(value));
	}
	if (!strcmp(key, "lun")) {
		/* Target level: the LUN of the single plain backing-store line. */
		rc = cfg_lu_directive(p, p->defaults, key, value);
		if (!rc)
			rc = cfg_set(p, p->tgt, "tlun_line", json_integer(p->line));
		return rc;
	}
	rc = cfg_lu_directive(p, p->defaults, key, value);
	if (rc <= 0)
		return rc;
	ikey = mgmt_config_iscsi_key(key);
	if (!ikey)
		return cfg_error(p, "unknown directive '%.64s' in a target", key);
	if (strlen(value) > MGMT_LEN_VALUE)
		return cfg_error(p, "%s: value too long", key);
	return cfg_set(p, json_object_get(p->tgt, "iscsi"), ikey, json_string(value));
}

/* Opens a logical unit (a block or a plain line) with its path. */
static json_t *cfg_lu_open(struct cfg_parser *p, const char *tag, const char *path, bool plain)
{
	json_t *lu;

	if (!*path) {
		cfg_error(p, "%s needs a path", tag);
		return NULL;
	}
	if (strlen(path) > MGMT_LEN_PATH) {
		cfg_error(p, "%s: path too long", tag);
		return NULL;
	}
	if (!strcmp(tag, "direct-store") &&
	    cfg_warn(p, "direct-store is handled as "
	                "backing-store (no SCSI pass-through of the identity)"))
		return NULL;
	lu = json_pack("{s:i,s:b,s:{}}", "line", (int)p->line, "plain", plain, "params");
	/* tgt's "NONE:<x>" means no backing store (removable media without a disc) */
	if (lu && strncmp(path, "NONE:", 5))
		json_object_set_new(lu, "path", json_string(path));
	if (!lu || json_array_append_new(json_object_get(p->tgt, "luns"), lu)) {
		cfg_error(p, "out of memory");
		return NULL;
	}
	return lu;
}

static int cfg_target_open(struct cfg_parser *p, const char *name)
{
	size_t i;
	json_t *t;

	if (!*name || strlen(name) > MGMT_LEN_IQN)
		return cfg_error(p, "<target> needs a name of at most %u bytes", MGMT_LEN_IQN);
	for (const char *s = name; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(":.-", *s))
			return cfg_error(p, "target name '%.64s': only [A-Za-z0-9:.-]", name);
	json_array_foreach(
	        p->targets, i,
	        t) if (!strcmp(json_string_value(json_object_get(t, "name")),
	                       name)) return cfg_error(p, "target %.64s is defined twice", name);
	if (json_array_size(p->targets) >= CFG_TARGETS_MAX)
		return cfg_error(p, "more than %u targets", CFG_TARGETS_MAX);
	p->tgt = json_pack("{s:s,s:s,s:i,s:[],s:[],s:[],s:{},s:[]}", "name", name, "file", p->file,
	                   "line", (int)p->line, "luns", "addrs", "names", "iscsi", "in_users");
	p->defaults = json_object();
	if (!p->tgt || !p->defaults || json_array_append(p->targets, p->tgt))
		return cfg_error(p, "out of memory");
	return 0;
}

/* Target-level options are defaults for every logical unit that does not set them. */
static int cfg_lu_merge(struct cfg_parser *p, json_t *lu)
{
	json_t *params = json_object_get(lu, "params");
	const char *key;
	json_t *v;

	json_object_foreach(p->defaults, key, v)
	{
		if (!strcmp(key, "lun"))
			continue;
		if (!strcmp(key, "updates")) {
			/* the target's lines come first, then the LU's own */
			json_t *mine = json_object_get(lu, "updates");
			json_t *all = json_copy(v);

			if (!all)
				return -ENOMEM;
			if (mine && json_array_extend(all, mine)) {
				json_decref(all);
				return -ENOMEM;
			}
			if (cfg_set(p, lu, "updates", all))
				return -ENOMEM;
		} else if (!strcmp(key, "params")) {
			const char *k;
			json_t *pv;

			json_object_foreach(v, k, pv) if (!json_object_get(params, k) &&
			                                  cfg_set(p, params, k,
			                                          json_incref(pv))) return -ENOMEM;
		} else if (!json_object_get(lu, key) && cfg_set(p, lu, key, json_incref(v))) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* The backing file must exist now, so a bad file changes nothing. */
static int cfg_lu_check(struct cfg_parser *p, json_t *lu)
{
	const char *dtname = json_string_value(json_object_get(lu, "device_type"));
	const char *bsname = json_string_value(json_object_get(lu, "bstype"));
	const char *path = json_string_value(json_object_get(lu, "path"));
	const struct core_devtype *dt;
	const struct core_bs *bs;
	struct stat st;

	p->line = (unsigned int)json_integer_value(json_object_get(lu, "line"));
	dt = core_devtype_find(p->srv->root, dtname ? dtname : "disk");
	bs = dt ? core_bs_find(p->srv->root, bsname ? bsname : dt->default_bs) : NULL;
	if (!dt || !bs)
		return cfg_error(p, "no such device type or backing store type");
	if (!bs->needs_path)
		return 0;
	if (!path && dt->needs_path)
		return cfg_error(p, "a %s needs a backing store path", dt->name);
	if (path && stat(path, &st) < 0)
		return cfg_error(p, "backing store %.200s: %s", path, strerror(errno));
	return 0;
}

/* Numbers the LUs without a lun (from 1, skipping taken numbers) and checks duplicates. */
static int cfg_luns_number(struct cfg_parser *p, json_t *luns)
{
	bool used[CFG_LUNS_MAX + 1] = {false};
	json_int_t next = 1;
	json_int_t n;
	size_t i;
	json_t *lu;

	json_array_foreach(luns, i, lu)
	{
		n = json_integer_value(json_object_get(lu, "lun"));
		if (!n)
			continue;
		if (used[n]) {
			p->line = (unsigned int)json_integer_value(json_object_get(lu, "line"));
			return cfg_error(p, "lun %lld is used twice", (long long)n);
		}
		used[n] = true;
	}
	json_array_foreach(luns, i, lu)
	{
		if (json_object_get(lu, "lun"))
			continue;
		while (next <= CFG_LUNS_MAX && used[next])
			next++;
		if (next > CFG_LUNS_MAX)
			return cfg_error(p, "too many logical units");
		used[next] = true;
		if (cfg_set(p, lu, "lun", json_integer(next)))
			return -ENOMEM;
	}
	return 0;
}

/* A target-level `lun` belongs to the one plain backing-store line. */
static int cfg_target_lun(struct cfg_parser *p)
{
	json_t *tlun = json_object_get(p->defaults, "lun");
	json_t *plain = NULL;
	size_t i;
	json_t *lu;

	if (!tlun)
		return 0;
	json_array_foreach(json_object_get(p->tgt, "luns"), i, lu)
	{
		if (!json_is_true(json_object_get(lu, "plain")) || json_object_get(lu, "lun"))
			continue;
		if (plain) {
			p->line = (unsigned int)json_integer_value(
			        json_object_get(p->tgt, "tlun_line"));
			return cfg_error(p, "target-level lun with several backing-store lines: "
			                    "use <backing-store> blocks");
		}
		plain = lu;
	}
	return plain ? cfg_set(p, plain, "lun", json_incref(tlun)) : 0;
}

static int cfg_target_close(struct cfg_parser *p)
{
	json_t *luns = json_object_get(p->tgt, "luns");
	unsigned int line = p->line;
	size_t i;
	json_t *lu;
	int rc;

	rc = cfg_target_lun(p);
	json_array_foreach(luns, i, lu)
	{
		if (!rc)
			rc = cfg_lu_merge(p, lu);
		if (!rc)
			rc = cfg_lu_check(p, lu);
		json_object_del(lu, "plain");
	}
	if (!rc)
		rc = cfg_luns_number(p, luns);
	json_object_del(p->tgt, "tlun_line");
	json_decref(p->tgt);
	json_decref(p->defaults);
	p->tgt = NULL;
	p->defaults = NULL;
	p->line = line;
	return rc;
}

/* ---- lines ---- */

static char *cfg_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Removes one pair of surrounding double quotes. */
static char *cfg_unquote(char *s)
{
	size_t len = strlen(s);

	if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		s[len - 1] = '\0';
		return s + 1;
	}
	return s;
}

/* "<name arg>" or "</name>": tag gets the name, arg the rest (unquoted). */
static int cfg_tag(struct cfg_parser *p, char *s)
{
	bool close = s[1] == '/';
	char *name = s + (close ? 2 : 1);
	char *end = strrchr(name, '>');
	char *arg;

	if (!end || end[1])
		return cfg_error(p, "a block tag must end with '>'");
	*end = '\0';
	arg = name + strcspn(name, " \t");
	if (*arg)
		*arg++ = '\0';
	arg = cfg_unquote(cfg_trim(arg));
	if (close) {
		if (*arg)
			return cfg_error(p, "</%s> takes no argument", name);
		if (!strcmp(name, "target") && p->tgt && !p->lu)
			return cfg_target_close(p);
		if ((!strcmp(name, "backing-store") || !strcmp(name, "direct-store")) && p->lu) {
			p->lu = NULL;
			return 0;
		}
		return cfg_error(p, "unexpected </%s>", name);
	}
	if (!strcmp(name, "target")) {
		if (p->tgt)
			return cfg_error(p, "<target> inside a target");
		return cfg_target_open(p, arg);
	}
	if (!strcmp(name, "backing-store") || !strcmp(name, "direct-store")) {
		if (!p->tgt || p->lu)
			return cfg_error(p, "<%s> outside a target or nested", name);
		p->lu = cfg_lu_open(p, name, arg, false);
		return p->lu ? 0 : -EINVAL;
	}
	return cfg_error(p, "unknown block <%s>", name);
}

static int cfg_file(struct cfg_parser *p, const char *path);

static int cfg_include(struct cfg_parser *p, const char *pattern)
{
	char full[MGMT_LEN_PATH + 1];
	const char *slash = strrchr(p->file, '/');
	glob_t g;
	size_t i;
	int rc;

	if (p->tgt)
		return cfg_error(p, "include inside a target is not supported");
	if (pattern[0] != '/' && slash)
		snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - p->file), p->file, pattern);
	else
		str_copy(full, pattern, sizeof(full));
	rc = glob(full, 0, NULL, &g);
	if (rc == GLOB_NOMATCH)
		return 0; /* tgt ships "include /etc/tgt/conf.d/ *.conf", which may match nothing */
	if (rc)
		return cfg_error(p, "include %.200s: cannot read", full);
	for (i = 0, rc = 0; i < g.gl_pathc && !rc; i++)
		rc = cfg_file(p, g.gl_pathv[i]);
	globfree(&g);
	return rc;
}

/*
 * iSNSServerIP, iSNSServerPort, iSNSAccessControl, iSNS (tgt-admin's global keys): kept in
 * doc "isns" as [name, value] pairs, applied as system updates (values checked there).
 */
static int cfg_isns(struct cfg_parser *p, const char *key, const char *value)
{
	static const char *const keys[] = { "iSNSServerIP", "iSNSServerPort", "iSNSAccessControl",
					    "iSNS" };
	json_t *arr = json_object_get(p->doc, "isns");
	json_t *pair;

	for (unsigned int i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcasecmp(key, keys[i]))
			continue;
		if (!arr && cfg_set(p, p->doc, "isns", json_array()))
			return -ENOMEM;
		arr = json_object_get(p->doc, "isns");
		pair = json_pack("[s,s]", keys[i], value);
		if (!pair || json_array_append_new(arr, pair))
			return cfg_error(p, "out of memory");
		return 0;
	}
	return cfg_error(p, "unknown directive '%.64s'", key);
}

static int cfg_global(struct cfg_parser *p, const char *key, const char *value)
{
	if (!strcmp(key, "include"))
		return cfg_include(p, value);
	if (!strcmp(key, "default-driver")) {
		if (strcmp(value, "iscsi"))
			return cfg_error(p, "default-driver: only iscsi is available");
		return 0;
	}
	if (!strcmp(key, "ignore-errors")) {
		bool b;

		if (str_to_bool(value, &b))
			return cfg_error(p, "ignore-errors: expected yes or no");
		return cfg_set(p, p->doc, "ignore_errors", json_boolean(b));
	}
	if (!strcmp(key, "control-port"))
		return cfg_warn(p, "control-port is ignored: utgt-admin -C/--control-socket "
		                   "choose the daemon");
	if (!strcmp(key, "incomingdiscoveryuser") || !strcmp(key, "outgoingdiscoveryuser"))
		return cfg_error(p, "%s: CHAP accounts are not supported yet", key);
	if (!strncasecmp(key, "iSNS", 4))
		return cfg_isns(p, key, value);
	return cfg_error(p, "unknown directive '%.64s'", key);
}

static int cfg_line(struct cfg_parser *p, char *s)
{
	char *key;
	char *value;
	int rc;

	s = cfg_trim(s);
	if (!*s || *s == '#')
		return 0;
	if (*s == '<')
		return cfg_tag(p, s);
	key = s;
	value = s + strcspn(s, " \t=");
	if (*value)
		*value++ = '\0';
	value = cfg_trim(value);
	if (*value == '=')
		value = cfg_trim(value + 1);
	value = cfg_unquote(value);
	if (p->lu) {
		rc = cfg_lu_directive(p, p->lu, key, value);
		return rc > 0 ? cfg_error(p, "unknown directive '%.64s' in a backing-store block",
		                          key)
		              : rc;
	}
	if (p->tgt) {
		if (!strcmp(key, "backing-store") || !strcmp(key, "direct-store"))
			return cfg_lu_open(p, key, value, true) ? 0 : -EINVAL;
		return cfg_target_directive(p, key, value);
	}
	return cfg_global(p, key, value);
}

static int cfg_stream(struct cfg_parser *p, FILE *f)
{
	char buf[CFG_LINE_MAX];
	size_t len;
	int rc = 0;

	while (!rc && fgets(buf, sizeof(buf), f)) {
		p->line++;
		len = strlen(buf);
		if (len == sizeof(buf) - 1 && buf[len - 1] != '\n' && !feof(f))
			return cfg_error(p, "line longer than %d bytes", CFG_LINE_MAX - 2);
		if (memchr(buf, '\0', len) != NULL && strlen(buf) != len)
			return cfg_error(p, "NUL byte in the file");
		rc = cfg_line(p, buf);
	}
	if (!rc && ferror(f))
		rc = cfg_error(p, "read error");
	return rc;
}

static int cfg_file(struct cfg_parser *p, const char *path)
{
	const char *saved_file = p->file;
	unsigned int saved_line = p->line;
	char *name;
	FILE *f;
	int rc;

	if (++p->files > CFG_FILES_MAX || p->depth >= CFG_DEPTH_MAX)
		return cfg_error(p, "too many or too deeply nested include files");
	name = strdup(path);
	f = name ? fopen(path, "re") : NULL;
	if (!f) {
		rc = name ? -errno : -ENOMEM;
		cfg_error(p, "cannot open %.200s: %s", path, strerror(-rc));
		free(name);
		return rc;
	}
	/* The document keeps the names it refers to (targets point at their file). */
	json_array_append_new(json_object_get(p->doc, "files"), json_string(name));
	p->depth++;
	p->file = json_string_value(
	        json_array_get(json_object_get(p->doc, "files"),
	                       json_array_size(json_object_get(p->doc, "files")) - 1));
	if (!p->file)
		p->file = "?";
	p->line = 0;
	rc = cfg_stream(p, f);
	if (!rc && p->tgt)
		rc = cfg_error(p, "<target> opened at line %lld is not closed",
		               (long long)json_integer_value(json_object_get(p->tgt, "line")));
	fclose(f);
	free(name);
	p->depth--;
	p->file = saved_file;
	p->line = saved_line;
	return rc;
}

json_t *mgmt_config_parse(struct mgmt_server *srv, const char *path, char *err, size_t errlen)
{
	struct cfg_parser p = {.srv = srv, .err = err, .errlen = errlen, .file = path};
	int rc;

	err[0] = '\0';
	p.doc = json_pack("{s:[],s:[],s:[],s:b}", "targets", "warnings", "files", "ignore_errors",
	                  0);
	if (!p.doc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p.targets = json_object_get(p.doc, "targets");
	rc = cfg_file(&p, path);
	json_decref(p.tgt);
	json_decref(p.defaults);
	if (rc) {
		json_decref(p.doc);
		return NULL;
	}
	return p.doc;
}
