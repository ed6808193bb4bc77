/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/dispatch: one request document in, one response document out. Parses the JSON, decodes
 * it (request.c), routes mode x op through a table to the handler, and serialises
 * {"err", "msg", "detail", "data"}. Unknown or unsupported combinations answer with the code
 * tgtd gives for them (tgt usr/mgmt.c: invalid request in most modes, "this operation isn't
 * supported" in logicalunit and account modes).
 */
#include "mgmt/mgmt_int.h"
#include "mgmt/config_int.h"
#include "mgmt/stats.h"

#include <stdlib.h>
#include <string.h>

typedef void (*mgmt_handler_fn)(struct mgmt_server *srv, const struct mgmt_req *req,
				struct mgmt_rsp *rsp);

static void mgmt_unsupported(struct mgmt_server *srv, const struct mgmt_req *req,
			     struct mgmt_rsp *rsp)
{
	(void)srv;
	(void)req;
	rsp->err = MGMT_ERR_UNSUPPORTED_OPERATION;
}

struct mgmt_route {
	mgmt_handler_fn fn[MGMT_OP_MAX];
	enum mgmt_err otherwise;       /* answer for ops without a handler */
};

/* clang-format off */
static const struct mgmt_route mgmt_routes[MGMT_MODE_MAX] = {
	[MGMT_MODE_SYSTEM] = { {
		[MGMT_OP_SHOW] = mgmt_config_sys_show,     /* name=config: dump */
		[MGMT_OP_UPDATE] = mgmt_config_sys_update, /* name=config: apply a file */
		[MGMT_OP_DELETE] = mgmt_sys_delete,
		[MGMT_OP_STAT] = mgmt_stat_sys,
		[MGMT_OP_SAVECONFIG] = mgmt_config_sys_save,
	}, MGMT_ERR_INVALID_REQUEST },
	[MGMT_MODE_TARGET] = { {
		[MGMT_OP_NEW] = mgmt_target_new,
		[MGMT_OP_DELETE] = mgmt_target_delete,
		[MGMT_OP_SHOW] = mgmt_target_show,
		[MGMT_OP_BIND] = mgmt_target_bind,
		[MGMT_OP_UNBIND] = mgmt_target_unbind,
		[MGMT_OP_UPDATE] = mgmt_target_update,
		[MGMT_OP_STAT] = mgmt_stat_target,
	}, MGMT_ERR_INVALID_REQUEST },
	[MGMT_MODE_LU] = { {
		[MGMT_OP_NEW] = mgmt_lu_new,
		[MGMT_OP_DELETE] = mgmt_lu_delete,
		[MGMT_OP_UPDATE] = mgmt_lu_update,
		[MGMT_OP_SHOW] = mgmt_lu_show,
		[MGMT_OP_STAT] = mgmt_stat_lu,
	}, MGMT_ERR_UNSUPPORTED_OPERATION },
	[MGMT_MODE_PORTAL] = { {
		[MGMT_OP_NEW] = mgmt_portal_new,
		[MGMT_OP_DELETE] = mgmt_portal_delete,
		[MGMT_OP_SHOW] = mgmt_portal_show,
	}, MGMT_ERR_INVALID_REQUEST },
	[MGMT_MODE_LLD] = { {
		[MGMT_OP_SHOW] = mgmt_lld_show,
		[MGMT_OP_START] = mgmt_lld_start,
		[MGMT_OP_STOP] = mgmt_unsupported,
	}, MGMT_ERR_INVALID_REQUEST },
	[MGMT_MODE_SESSION] = { {
		[MGMT_OP_SHOW] = mgmt_session_show,
		[MGMT_OP_DELETE] = mgmt_session_delete,
		[MGMT_OP_STAT] = mgmt_stat_session,
	}, MGMT_ERR_INVALID_REQUEST },
	[MGMT_MODE_CONN] = { {
		[MGMT_OP_SHOW] = mgmt_conn_show_any, /* name=inflight: commands in flight */
		[MGMT_OP_DELETE] = mgmt_conn_delete,
		[MGMT_OP_STAT] = mgmt_stat_conn,
	}, MGMT_ERR_INVALID_REQUEST },
	[MGMT_MODE_ACCOUNT] = { {
		[MGMT_OP_NEW] = mgmt_account_new,
		[MGMT_OP_DELETE] = mgmt_account_delete,
		[MGMT_OP_SHOW] = mgmt_account_show,
		[MGMT_OP_BIND] = mgmt_account_bind,
		[MGMT_OP_UNBIND] = mgmt_account_unbind,
	}, MGMT_ERR_UNSUPPORTED_OPERATION },
};
/* clang-format on */

static void mgmt_route(struct mgmt_server *srv, const struct mgmt_req *req,
		       struct mgmt_rsp *rsp)
{
	const struct mgmt_route *r = &mgmt_routes[req->mode];

	/* tgt knows "iscsi" and "iser"; only the former exists here. */
	if (req->lld && strcmp(req->lld, "iscsi")) {
		rsp->err = MGMT_ERR_NO_DRIVER;
		mgmt_rsp_detail(rsp, "unknown driver '%s'", req->lld);
		return;
	}
	rsp->err = MGMT_OK;
	if (r->fn[req->op])
		r->fn[req->op](srv, req, rsp);
	else
		rsp->err = r->otherwise;
}

static void mgmt_log(const struct mgmt_req *req, const struct mgmt_rsp *rsp)
{
	const char *mode = mgmt_mode_str((int)req->mode);
	const char *op = mgmt_op_str((int)req->op);
	char ids[96] = "";
	size_t off = 0;

	if (!mode || !op) {
		log_dbg("mgmt: bad request: %s", rsp->detail);
		return;
	}
	if (req->op == MGMT_OP_SHOW && rsp->err == MGMT_OK) {
		log_dbg("mgmt: %s %s", mode, op);
		return;
	}
	if (req->has_tid)
		(void)str_appendf(ids, sizeof(ids), &off, " tid %u", req->tid);
	if (req->has_lun)
		(void)str_appendf(ids, sizeof(ids), &off, " lun %llu",
				  (unsigned long long)req->lun);
	if (req->has_sid)
		(void)str_appendf(ids, sizeof(ids), &off, " sid %llu",
				  (unsigned long long)req->sid);
	if (req->has_cid)
		(void)str_appendf(ids, sizeof(ids), &off, " cid %u", req->cid);
	log_msg(rsp->err == MGMT_OK ? LOG_LVL_INFO : LOG_LVL_DBG, "mgmt: %s %s%s: %s%s%s", mode,
		op, ids, mgmt_err_str((int)rsp->err), rsp->detail[0] ? ": " : "", rsp->detail);
}

/* Serialises rsp (consuming rsp->data); NULL on ENOMEM. */
static char *mgmt_rsp_dump(struct mgmt_rsp *rsp)
{
	json_t *obj = json_object();
	char *text = NULL;
	int rc;

	if (!obj)
		goto out;
	rc = json_object_set_new(obj, "err", json_integer(rsp->err));
	rc |= json_object_set_new(obj, "msg", json_string(mgmt_err_str((int)rsp->err)));
	if (rsp->detail[0])
		rc |= json_object_set_new(obj, "detail", json_string(rsp->detail));
	if (rsp->err == MGMT_OK && rsp->data) {
		rc |= json_object_set_new(obj, "data", rsp->data);
		rsp->data = NULL;
	}
	if (!rc)
		text = json_dumps(obj, JSON_COMPACT);
out:
	json_decref(rsp->data);
	rsp->data = NULL;
	json_decref(obj);
	return text;
}

enum mgmt_err mgmt_handle_req(struct mgmt_server *srv, const json_t *root, struct mgmt_rsp *rsp)
{
	struct mgmt_req req;

	rsp->err = mgmt_req_decode(root, &req, rsp);
	if (rsp->err == MGMT_OK)
		mgmt_route(srv, &req, rsp);
	mgmt_log(&req, rsp);
	return rsp->err;
}

char *mgmt_handle_json(struct mgmt_server *srv, const char *text, size_t len)
{
	struct mgmt_rsp rsp = { .err = MGMT_OK };
	struct mgmt_req req;
	json_error_t jerr;
	json_t *root;
	char *out;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rsp.err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(&rsp, "JSON: %s at byte %d", jerr.text, jerr.position);
	} else {
		rsp.err = mgmt_req_decode(root, &req, &rsp);
		if (rsp.err == MGMT_OK)
			mgmt_route(srv, &req, &rsp);
		mgmt_log(&req, &rsp);
	}
	out = mgmt_rsp_dump(&rsp);
	json_decref(root);
	if (out && strlen(out) > MGMT_FRAME_MAX) {
		free(out);
		rsp = (struct mgmt_rsp){ .err = MGMT_ERR_NOMEM };
		mgmt_rsp_detail(&rsp, "response larger than %u bytes", MGMT_FRAME_MAX);
		out = mgmt_rsp_dump(&rsp);
	}
	return out;
}
