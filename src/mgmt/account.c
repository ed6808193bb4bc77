/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/account: --mode account handlers (new, delete, bind, unbind, show) over the core's CHAP
 * account store. bind/unbind without a tid act on the global list used by discovery sessions,
 * as tgt. Passwords go in and never come out: show lists user names only.
 */
#include "mgmt/mgmt_int.h"

#include <errno.h>
#include <string.h>

#include "core/core.h"

static enum mgmt_err mgmt_account_err(int rc)
{
	switch (rc) {
	case 0:
		return MGMT_OK;
	case -EEXIST:
		return MGMT_ERR_USER_EXIST;
	case -ENOENT:
		return MGMT_ERR_NO_USER;
	case -ENOSPC:
		return MGMT_ERR_TOO_MANY_USER;
	case -EBUSY:
		return MGMT_ERR_OUTACCOUNT_EXIST;
	case -ENODATA:
		return MGMT_ERR_NO_BINDING;
	case -ENOMEM:
		return MGMT_ERR_NOMEM;
	default:
		return MGMT_ERR_INVALID_REQUEST;
	}
}

static bool mgmt_account_user(const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	if (req->user && *req->user)
		return true;
	rsp->err = MGMT_ERR_INVALID_REQUEST;
	mgmt_rsp_detail(rsp, "missing user");
	return false;
}

void mgmt_account_new(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	if (!mgmt_account_user(req, rsp))
		return;
	if (!req->password || !*req->password) {
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, "missing password");
		return;
	}
	rsp->err = mgmt_account_err(core_account_new(srv->root, req->user, req->password));
}

void mgmt_account_delete(struct mgmt_server *srv, const struct mgmt_req *req,
			 struct mgmt_rsp *rsp)
{
	if (!mgmt_account_user(req, rsp))
		return;
	rsp->err = mgmt_account_err(core_account_delete(srv->root, req->user));
}

/* The tid a bind/unbind acts on: the target's, or the global (discovery) list. */
static bool mgmt_account_tid(struct mgmt_server *srv, const struct mgmt_req *req,
			     struct mgmt_rsp *rsp, uint32_t *tid)
{
	*tid = CORE_ACCOUNT_GLOBAL;
	if (!req->has_tid)
		return true;
	if (!mgmt_req_target(srv, req, rsp))
		return false;
	*tid = req->tid;
	return true;
}

void mgmt_account_bind(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	uint32_t tid;
	int rc;

	if (!mgmt_account_user(req, rsp) || !mgmt_account_tid(srv, req, rsp, &tid))
		return;
	rc = core_account_bind(srv->root, tid, req->user, req->outgoing);
	rsp->err = rc == -EEXIST ? MGMT_ERR_BINDING_EXIST : mgmt_account_err(rc);
}

void mgmt_account_unbind(struct mgmt_server *srv, const struct mgmt_req *req,
			 struct mgmt_rsp *rsp)
{
	uint32_t tid;

	if (!mgmt_account_user(req, rsp) || !mgmt_account_tid(srv, req, rsp, &tid))
		return;
	rsp->err = mgmt_account_err(core_account_unbind(srv->root, tid, req->user,
							 req->outgoing));
}

static void mgmt_account_push(const char *user, bool outgoing, void *arg)
{
	json_t *list = arg;
	json_t *item = json_pack("{s:s,s:b}", "user", user, "outgoing", outgoing);

	if (item)
		json_array_append_new(list, item);
}

json_t *mgmt_show_accounts(struct mgmt_server *srv, uint32_t tid)
{
	json_t *list = json_array();

	if (list)
		core_account_foreach_bound(srv->root, tid, mgmt_account_push, list);
	return list;
}

void mgmt_account_show(struct mgmt_server *srv, const struct mgmt_req *req,
		       struct mgmt_rsp *rsp)
{
	json_t *list = json_array();

	(void)req;
	if (list)
		core_account_foreach(srv->root, mgmt_account_push, list);
	rsp->data = list ? json_pack("{s:o}", "accounts", list) : NULL;
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
}
