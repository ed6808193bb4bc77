/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/lu: --mode logicalunit handlers. new creates the LU through the core (which runs the
 * device type and backing store) and then applies --params; a failure there removes the LU
 * again, so new is all or nothing. update applies --params in order, as tgt's lu_config does.
 * show (refused by tgtadm) returns the LUN part of target show. Successful device-type
 * --params are remembered for the dump (mgmt_lu_history_*).
 */
#include "mgmt/mgmt_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

struct mgmt_lu_ctx {
	struct core_lu *lu;
	struct mgmt_rsp *rsp;
};

static enum mgmt_err mgmt_lu_param(const char *key, const char *value, void *arg)
{
	struct mgmt_lu_ctx *ctx = arg;
	int rc = core_lu_config(ctx->lu, key, value);

	switch (rc) {
	case 0:
		return MGMT_OK;
	case -ENOENT:
		mgmt_rsp_detail(ctx->rsp, "unknown parameter '%s'", key);
		return MGMT_ERR_UNKNOWN_PARAM;
	case -EBUSY:
		if (!strcmp(key, "path")) {
			mgmt_rsp_detail(ctx->rsp, "path: take the logical unit offline first");
			return MGMT_ERR_LUN_ACTIVE;
		}
		return MGMT_ERR_PREVENT_REMOVAL;
	case -EOPNOTSUPP:
		mgmt_rsp_detail(ctx->rsp, "%s: the backing store has no file", key);
		return MGMT_ERR_INVALID_REQUEST;
	case -ENOMEM:
		return MGMT_ERR_NOMEM;
	default:
		mgmt_rsp_detail(ctx->rsp, "bad value for %s", key);
		return MGMT_ERR_INVALID_REQUEST;
	}
}

static bool mgmt_lu_blocksize_ok(uint32_t bs)
{
	return bs == 512 || bs == 1024 || bs == 2048 || bs == 4096;
}

/* Fills p from req; MGMT_OK or INVALID_REQUEST with a detail. */
static enum mgmt_err mgmt_lu_params_from_req(const struct mgmt_req *req,
					     struct core_lu_params *p, struct mgmt_rsp *rsp)
{
	memset(p, 0, sizeof(*p));
	if (!req->has_lun) {
		mgmt_rsp_detail(rsp, "missing lun");
		return MGMT_ERR_INVALID_REQUEST;
	}
	if (req->bsoflags && mgmt_req_parse_bsoflags(req->bsoflags, &p->bsoflags)) {
		mgmt_rsp_detail(rsp, "bsoflags must be sync, direct or sync:direct");
		return MGMT_ERR_INVALID_REQUEST;
	}
	if (req->has_blocksize && !mgmt_lu_blocksize_ok(req->blocksize)) {
		mgmt_rsp_detail(rsp, "blocksize must be 512, 1024, 2048 or 4096");
		return MGMT_ERR_INVALID_REQUEST;
	}
	p->device_type = req->device_type;
	p->bstype = req->bstype;
	p->path = req->backing_store;
	p->bsopts = req->bsopts;
	p->block_size = req->has_blocksize ? req->blocksize : 0;
	return MGMT_OK;
}

static enum mgmt_err mgmt_lu_new_err(int rc, struct mgmt_rsp *rsp)
{
	switch (rc) {
	case -EEXIST:
		return MGMT_ERR_LUN_EXIST;
	case -ENOMEM:
		return MGMT_ERR_NOMEM;
	case -ENODEV:
		mgmt_rsp_detail(rsp, "unknown device type or backing store type");
		return MGMT_ERR_INVALID_REQUEST;
	case -EINVAL:
		/* The store logs which --bsopts key or value, flag or path it refused. */
		mgmt_rsp_detail(rsp, "bad --bsopts, --bsoflags or backing store (see the utgtd log)");
		return MGMT_ERR_INVALID_REQUEST;
	default:
		/* The store failed to open the path: tgt answers "invalid request" too. */
		mgmt_rsp_detail(rsp, "backing store: %s", strerror(-rc));
		return MGMT_ERR_INVALID_REQUEST;
	}
}

void mgmt_lu_new(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct core_target *tgt = mgmt_req_target(srv, req, rsp);
	struct core_lu_params p;
	struct mgmt_lu_ctx ctx = { .rsp = rsp };
	int rc;

	if (!tgt)
		return;
	rsp->err = mgmt_lu_params_from_req(req, &p, rsp);
	if (rsp->err != MGMT_OK)
		return;
	/* tgt checks the LUN before the types (usr/target.c tgt_device_create). */
	if (core_lu_find(tgt, req->lun)) {
		rsp->err = MGMT_ERR_LUN_EXIST;
		return;
	}
	rc = core_lu_new(tgt, req->lun, &p, &ctx.lu);
	if (rc) {
		rsp->err = mgmt_lu_new_err(rc, rsp);
		return;
	}
	rsp->err = mgmt_req_params_foreach(req->params, mgmt_lu_param, &ctx, rsp);
	if (rsp->err != MGMT_OK) {
		core_lu_delete(tgt, req->lun, true);
		return;
	}
	mgmt_lu_history_drop(srv, tgt->tid, req->lun, false);
	mgmt_lu_history_record(srv, tgt->tid, req->lun, req->params);
}

void mgmt_lu_delete(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct core_target *tgt = mgmt_req_target(srv, req, rsp);
	int rc;

	if (!tgt)
		return;
	if (!req->has_lun || req->lun == 0) {
		/* LUN 0 is the target's controller and goes with the target (tgt). */
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, req->has_lun ? "LUN 0 cannot be deleted" : "missing lun");
		return;
	}
	rc = core_lu_delete(tgt, req->lun, false);
	if (rc == -ENOENT)
		rsp->err = MGMT_ERR_NO_LUN;
	else if (rc == -EBUSY)
		rsp->err = MGMT_ERR_LUN_ACTIVE;
	else if (rc)
		rsp->err = rc == -ENOMEM ? MGMT_ERR_NOMEM : MGMT_ERR_UNKNOWN;
	else
		mgmt_lu_history_drop(srv, tgt->tid, req->lun, false);
}

void mgmt_lu_update(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct core_target *tgt = mgmt_req_target(srv, req, rsp);
	struct mgmt_lu_ctx ctx = { .rsp = rsp };

	if (!tgt)
		return;
	if (!req->has_lun) {
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, "missing lun");
		return;
	}
	ctx.lu = core_lu_find(tgt, req->lun);
	if (!ctx.lu) {
		rsp->err = MGMT_ERR_NO_LUN;
		return;
	}
	/* tgt's lu_config refuses these tokens after creation. */
	if (req->bsoflags || req->has_blocksize || req->backing_store || req->bstype) {
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, "only --params can change an existing logical unit");
		return;
	}
	rsp->err = mgmt_req_params_foreach(req->params, mgmt_lu_param, &ctx, rsp);
	/* a failure may leave earlier pairs applied (tgt's order): the history keeps only
	 * updates that fully succeeded */
	if (rsp->err == MGMT_OK)
		mgmt_lu_history_record(srv, tgt->tid, req->lun, req->params);
}

/* ---- device-type --params history (mgmt_int.h) ---- */

static const struct mgmt_lu_key mgmt_lu_keys[] = {
	{ "vendor_id", 's', 8 },   { "product_id", 's', 16 },  { "product_rev", 's', 4 },
	{ "scsi_id", 's', 24 },    { "scsi_sn", 's', 36 },     { "readonly", 'b', 0 },
	{ "removable", 'b', 0 },   { "online", 'b', 0 },       { "thin_provisioning", 'b', 0 },
	{ "write_cache", 'b', 0 }, { "sense_format", 'n', 1 }, { "rotation_rate", 'n', 65535 },
};

const struct mgmt_lu_key *mgmt_lu_key_find(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mgmt_lu_keys); i++)
		if (!strcmp(mgmt_lu_keys[i].key, key))
			return &mgmt_lu_keys[i];
	return NULL;
}

/* The core's keys, and a cd's path (the LU block's backing store already says it). */
bool mgmt_lu_key_is_core(const char *key)
{
	return mgmt_lu_key_find(key) || !strcmp(key, "path");
}

struct mgmt_hist_line {
	char text[MGMT_LEN_PARAMS + 1];
	size_t off;
	bool overflow;
};

static enum mgmt_err mgmt_hist_pair(const char *key, const char *value, void *arg)
{
	struct mgmt_hist_line *l = arg;

	if (mgmt_lu_key_is_core(key))
		return MGMT_OK;
	if (str_appendf(l->text, sizeof(l->text), &l->off, "%s%s=%s", l->off ? "," : "", key,
			value) < 0)
		l->overflow = true;
	return MGMT_OK;
}

static void mgmt_hist_key(char *key, size_t cap, uint32_t tid, uint64_t lun)
{
	snprintf(key, cap, "%u/%" PRIu64, tid, lun);
}

void mgmt_lu_history_record(struct mgmt_server *srv, uint32_t tid, uint64_t lun,
			    const json_t *params)
{
	struct mgmt_hist_line l = { .off = 0 };
	struct mgmt_rsp rsp = { .err = MGMT_OK };
	char key[48];
	json_t *arr;

	if (!params)
		return;
	if (mgmt_req_params_foreach(params, mgmt_hist_pair, &l, &rsp) != MGMT_OK || !l.off)
		return;
	if (!srv->lu_updates)
		srv->lu_updates = json_object();
	mgmt_hist_key(key, sizeof(key), tid, lun);
	arr = json_object_get(srv->lu_updates, key);
	if (!arr && srv->lu_updates) {
		arr = json_array();
		if (json_object_set_new(srv->lu_updates, key, arr))
			arr = NULL;
	}
	if (!arr || l.overflow || json_array_size(arr) >= MGMT_LU_UPDATES_MAX) {
		log_warn("mgmt: tid %u lun %" PRIu64 ": --params not kept for saveconfig", tid,
			 lun);
		return;
	}
	json_array_append_new(arr, json_string(l.text));
}

void mgmt_lu_history_drop(struct mgmt_server *srv, uint32_t tid, uint64_t lun, bool all_luns)
{
	char prefix[24];
	char key[48];
	const char *k;
	json_t *v;
	void *tmp;

	if (!srv->lu_updates)
		return;
	if (!all_luns) {
		mgmt_hist_key(key, sizeof(key), tid, lun);
		json_object_del(srv->lu_updates, key);
		return;
	}
	snprintf(prefix, sizeof(prefix), "%u/", tid);
	json_object_foreach_safe(srv->lu_updates, tmp, k, v)
		if (!strncmp(k, prefix, strlen(prefix)))
			json_object_del(srv->lu_updates, k);
}

const json_t *mgmt_lu_history(struct mgmt_server *srv, uint32_t tid, uint64_t lun)
{
	char key[48];

	if (!srv->lu_updates)
		return NULL;
	mgmt_hist_key(key, sizeof(key), tid, lun);
	return json_object_get(srv->lu_updates, key);
}

void mgmt_lu_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct core_target *tgt = mgmt_req_target(srv, req, rsp);
	json_t *t;

	if (!tgt)
		return;
	if (req->has_lun && !core_lu_find(tgt, req->lun)) {
		rsp->err = MGMT_ERR_NO_LUN;
		return;
	}
	t = mgmt_show_target(srv, tgt, true, req->has_lun ? &req->lun : NULL);
	rsp->data = t ? json_pack("{s:[o]}", "targets", t) : NULL;
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
}
