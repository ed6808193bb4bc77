/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/target: --mode target handlers (new, delete, show, bind, unbind, update). Targets are
 * created in the core and then given their iSCSI state; errors map to tgt's codes in the
 * order tgt checks them (usr/target.c tgt_target_create, tgt_target_destroy, acl_add).
 */
#include "mgmt/mgmt_int.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "lld/iscsi/iscsi.h"

struct core_target *mgmt_req_target(struct mgmt_server *srv, const struct mgmt_req *req,
				    struct mgmt_rsp *rsp)
{
	struct core_target *tgt = NULL;

	if (req->has_tid)
		tgt = core_target_find(srv->root, req->tid);
	if (!tgt) {
		rsp->err = MGMT_ERR_NO_TARGET;
		if (!req->has_tid)
			mgmt_rsp_detail(rsp, "missing tid");
	}
	return tgt;
}

/* tgt accepts [A-Za-z0-9:.-] only (usr/target.c tgt_target_create). */
static bool mgmt_target_name_ok(const char *name)
{
	const char *p;

	if (!*name)
		return false;
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != ':' && *p != '.' && *p != '-')
			return false;
	return true;
}

static enum mgmt_err mgmt_err_from_errno(int rc)
{
	switch (rc) {
	case 0:
		return MGMT_OK;
	case -ENOMEM:
		return MGMT_ERR_NOMEM;
	case -EINVAL:
		return MGMT_ERR_INVALID_REQUEST;
	default:
		return MGMT_ERR_UNKNOWN;
	}
}

void mgmt_target_new(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct core_target *tgt;
	int rc;

	rsp->err = MGMT_ERR_INVALID_REQUEST;
	if (!req->has_tid || req->tid == 0) {
		mgmt_rsp_detail(rsp, "tid must be given and not 0");
		return;
	}
	if (!req->targetname || !mgmt_target_name_ok(req->targetname)) {
		mgmt_rsp_detail(rsp, "target name missing or not made of [A-Za-z0-9:.-]");
		return;
	}
	rc = core_target_new(srv->root, req->tid, req->targetname, &tgt);
	if (rc == -EEXIST) {
		rsp->err = MGMT_ERR_TARGET_EXIST;
		return;
	}
	rsp->err = mgmt_err_from_errno(rc);
	if (rc)
		return;
	if (srv->lld) {
		rc = iscsi_target_attach(srv->lld, tgt);
		if (rc) {
			core_target_delete(srv->root, req->tid, true);
			rsp->err = mgmt_err_from_errno(rc);
		}
	}
}

void mgmt_target_delete(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp)
{
	int rc;

	if (!req->has_tid) {
		rsp->err = MGMT_ERR_NO_TARGET;
		return;
	}
	rc = core_target_delete(srv->root, req->tid, req->force);
	if (rc == -ENOENT)
		rsp->err = MGMT_ERR_NO_TARGET;
	else if (rc == -EBUSY)
		rsp->err = MGMT_ERR_TARGET_ACTIVE;
	else
		rsp->err = mgmt_err_from_errno(rc);
	if (!rc)
		mgmt_lu_history_drop(srv, req->tid, 0, true);
}

struct mgmt_param_ctx {
	json_t *obj;
	int rc;
};

static void mgmt_target_param_add(const char *key, const char *value, void *arg)
{
	struct mgmt_param_ctx *ctx = arg;

	ctx->rc |= json_object_set_new(ctx->obj, key, json_string(value));
}

/* `--op show --tid N`: nop_interval, nop_count, every iSCSI key as tgt lists them, then the
 * ALUA settings (alua.type, alua.tpg.G.state, ...). */
static void mgmt_target_show_params(struct mgmt_server *srv, struct core_target *tgt,
				    struct mgmt_rsp *rsp)
{
	struct mgmt_param_ctx ctx = { .obj = json_object() };
	unsigned int interval = 0;
	unsigned int count = 0;

	if (!ctx.obj) {
		rsp->err = MGMT_ERR_NOMEM;
		return;
	}
	if (srv->lld) {
		iscsi_target_nop(tgt, &interval, &count);
		ctx.rc |= json_object_set_new(ctx.obj, "nop_interval",
					      json_sprintf("%u", interval));
		ctx.rc |= json_object_set_new(ctx.obj, "nop_count", json_sprintf("%u", count));
		iscsi_target_param_foreach(tgt, mgmt_target_param_add, &ctx);
	}
	core_alua_foreach(tgt, true, mgmt_target_param_add, &ctx);
	rsp->data = json_pack("{s:o}", "params", ctx.obj);
	if (ctx.rc || !rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
}

void mgmt_target_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct core_target *tgt;
	json_t *arr;
	uint32_t tid = 0;

	if (req->has_tid) {
		tgt = mgmt_req_target(srv, req, rsp);
		if (tgt)
			mgmt_target_show_params(srv, tgt, rsp);
		return;
	}
	arr = json_array();
	while (arr && (tgt = core_target_next(srv->root, tid))) {
		tid = tgt->tid;
		if (json_array_append_new(arr, mgmt_show_target(srv, tgt, false, NULL))) {
			json_decref(arr);
			arr = NULL;
		}
	}
	rsp->data = arr ? json_pack("{s:o}", "targets", arr) : NULL;
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
}

static enum mgmt_err mgmt_acl_err(int rc, bool bind)
{
	if (rc == -EEXIST)
		return MGMT_ERR_ACL_EXIST;
	if (rc == -ENOENT)
		return bind ? MGMT_ERR_INVALID_REQUEST : MGMT_ERR_ACL_NOEXIST;
	return mgmt_err_from_errno(rc);
}

static void mgmt_target_acl(struct mgmt_server *srv, const struct mgmt_req *req,
			    struct mgmt_rsp *rsp, bool bind)
{
	int (*fn)(struct core_target *, enum core_acl_kind, const char *) =
		bind ? core_acl_add : core_acl_del;
	struct core_target *tgt = mgmt_req_target(srv, req, rsp);
	int rc = 0;

	if (!tgt)
		return;
	if (!req->initiator_address && !req->initiator_name) {
		/* --host/--bus bound kernel LLDs in tgt; there are none here. */
		rsp->err = req->has_host_no ? MGMT_ERR_UNSUPPORTED_OPERATION :
					      MGMT_ERR_INVALID_REQUEST;
		return;
	}
	if (req->initiator_address)
		rc = fn(tgt, CORE_ACL_ADDR, req->initiator_address);
	if (!rc && req->initiator_name) {
		rc = fn(tgt, CORE_ACL_NAME, req->initiator_name);
		/* Bind both or neither. */
		if (rc && bind && req->initiator_address)
			core_acl_del(tgt, CORE_ACL_ADDR, req->initiator_address);
	}
	rsp->err = mgmt_acl_err(rc, bind);
}

void mgmt_target_bind(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	mgmt_target_acl(srv, req, rsp, true);
}

void mgmt_target_unbind(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp)
{
	mgmt_target_acl(srv, req, rsp, false);
}

void mgmt_target_update(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp)
{
	struct core_target *tgt = mgmt_req_target(srv, req, rsp);
	int rc;

	if (!tgt)
		return;
	rsp->err = MGMT_ERR_INVALID_REQUEST;
	if (!req->name || !req->value || req->params)
		return;
	if (!strcmp(req->name, "state")) {
		/* The management thread is the only writer; reactors read it at login. */
		if (!strcmp(req->value, "ready"))
			__atomic_store_n(&tgt->ready, true, __ATOMIC_RELEASE);
		else if (!strcmp(req->value, "offline"))
			__atomic_store_n(&tgt->ready, false, __ATOMIC_RELEASE);
		else
			return;
		rsp->err = MGMT_OK;
		return;
	}
	if (!strncasecmp(req->name, "alua.", 5)) /* ALUA target port groups (core) */
		rc = core_alua_config(tgt, req->name, req->value);
	else
		rc = srv->lld ? iscsi_target_param_set(tgt, req->name, req->value) : -ENOENT;
	if (rc == -ENOENT) {
		/* tgt says "invalid request" here; the specific code names the problem. */
		rsp->err = MGMT_ERR_UNKNOWN_PARAM;
		mgmt_rsp_detail(rsp, "unknown target parameter '%s'", req->name);
	} else {
		rsp->err = mgmt_err_from_errno(rc);
		if (rc == -EINVAL)
			mgmt_rsp_detail(rsp, "bad value for %s", req->name);
	}
}
