/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/sys: daemon-wide handlers. --mode sys (show, update State/debug/stuck_io_ms, delete =
 * shut down; saveconfig is in config.c),
 * --mode lld (show, start). (--mode account lives in account.c.)
 */
#include "mgmt/mgmt_int.h"

#include <errno.h>
#include <string.h>
#ifdef UTGT_TEST_HOOKS
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "core/core.h"
#include "lld/iscsi/iscsi.h"

static json_t *mgmt_sys_bs_list(struct mgmt_server *srv)
{
	const struct core_bs *bs;
	json_t *arr = json_array();
	json_t *o;
	unsigned int i;

	for (i = 0; arr && (bs = core_bs_at(srv->root, i)); i++) {
		o = json_pack("{s:s}", "name", bs->name);
		/*
		 * struct core_bs has no "supported open flags" field; the open() contract says a
		 * store that takes a path honours lu->bsoflags, so those advertise both.
		 */
		if (o && bs->needs_path)
			json_object_set_new(o, "bsoflags", json_string("sync:direct"));
		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *mgmt_sys_devtype_list(struct mgmt_server *srv)
{
	const struct core_devtype *dt;
	json_t *arr = json_array();
	unsigned int i;

	for (i = 0; arr && (dt = core_devtype_at(srv->root, i)); i++) {
		if (json_array_append_new(arr, json_string(dt->show_name))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static void mgmt_sys_isns_add(const char *key, const char *value, void *arg)
{
	json_object_set_new(arg, key, json_string(value));
}

void mgmt_sys_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	json_t *bs = mgmt_sys_bs_list(srv);
	json_t *dt = mgmt_sys_devtype_list(srv);

	(void)req;
	if (!bs || !dt) {
		json_decref(bs);
		json_decref(dt);
		rsp->err = MGMT_ERR_NOMEM;
		return;
	}
	/* json_pack's "o" steals the references, also when it fails. */
	rsp->data = json_pack("{s:{s:s,s:s,s:I},s:[{s:s,s:s}],s:o,s:o}",
			      "system",
			      "state", core_root_is_ready(srv->root) ? "ready" : "offline",
			      "debug", log_get_level() >= LOG_LVL_DBG ? "on" : "off",
			      "stuck_io_ms",
			      (json_int_t)(srv->lld ? iscsi_lld_stuck_get(srv->lld) : 0),
			      "llds", "name", "iscsi", "state", "ready",
			      "backing_stores", bs,
			      "device_types", dt);
	if (!rsp->data) {
		rsp->err = MGMT_ERR_NOMEM;
		return;
	}
	if (srv->lld) {
		json_t *isns = json_object();

		/* tgt's "iSNS:" block (lld/iscsi/isns.c) */
		if (isns)
			iscsi_lld_isns_foreach(srv->lld, mgmt_sys_isns_add, isns);
		if (!isns || json_object_set_new(rsp->data, "isns", isns))
			rsp->err = MGMT_ERR_NOMEM;
	}
}

/* A driver-wide iSCSI limit: -ENOENT when name is not one (rsp untouched). */
static int mgmt_sys_limit_set(struct mgmt_server *srv, const struct mgmt_req *req,
			      struct mgmt_rsp *rsp)
{
	int rc = iscsi_lld_limit_set(srv->lld, req->name, req->value);

	if (rc == -ENOENT)
		return rc;
	if (rc == -EOPNOTSUPP)
		mgmt_rsp_detail(rsp, "%s=%s is not supported", req->name, req->value);
	else if (rc < 0)
		mgmt_rsp_detail(rsp, "invalid value '%s' for %s", req->value, req->name);
	else
		rsp->err = MGMT_OK;
	return rc;
}

void mgmt_sys_update(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	uint64_t ms;

	rsp->err = MGMT_ERR_INVALID_REQUEST;
	if (!req->name || !req->value)
		return;
	/* Names and values are case-sensitive, as in tgt (usr/mgmt.c, usr/iscsi/isns.c). */
	if (!strcmp(req->name, "debug")) {
		if (!strcmp(req->value, "on"))
			log_set_level(LOG_LVL_DBG);
		else if (!strcmp(req->value, "off"))
			log_set_level(LOG_LVL_INFO);
		else
			return;
	} else if (!strcmp(req->name, "stuck_io_ms")) {
		if (str_to_u64(req->value, 0, 3600000, &ms) || !srv->lld)
			return;
		iscsi_lld_stuck_set(srv->lld, (unsigned int)ms);
	} else if (!strcmp(req->name, "State")) {
		if (!strcmp(req->value, "ready"))
			core_root_set_ready(srv->root, true);
		else if (!strcmp(req->value, "offline"))
			core_root_set_ready(srv->root, false);
		else
			return;
	} else if (srv->lld && mgmt_sys_limit_set(srv, req, rsp) != -ENOENT) {
		/* login_timeout, max_initiator_conns (lld/iscsi/limits.c) */
		return;
#ifdef UTGT_TEST_HOOKS
	} else if (!strcmp(req->name, "test-forbidden-syscall")) {
		/* -Dtest_hooks=true only: a harmless call (EIO) that the seccomp filter forbids */
		log_warn("test hook: calling ptrace");
		syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
#endif
	} else {
		mgmt_rsp_detail(rsp, "unknown system parameter '%s'", req->name);
		return;
	}
	rsp->err = MGMT_OK;
}

void mgmt_sys_delete(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	/* tgt shuts down only when no target is left; --force is our extension. */
	if (core_target_next(srv->root, 0) && !req->force) {
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, "targets exist: delete them first or use --force");
		return;
	}
	srv->shutdown_requested = true;
	rsp->err = MGMT_OK;
}

void mgmt_lld_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct core_target *tgt;
	json_t *targets = json_array();
	json_t *t;
	uint32_t tid = 0;

	(void)req;
	while (targets && (tgt = core_target_next(srv->root, tid))) {
		tid = tgt->tid;
		t = json_pack("{s:I,s:s}", "tid", (json_int_t)tgt->tid, "name", tgt->name);
		if (!t || json_array_append_new(targets, t)) {
			json_decref(targets);
			targets = NULL;
		}
	}
	rsp->data = json_pack("{s:[{s:s,s:s,s:o?}]}", "llds", "name", "iscsi", "state", "ready",
			      "targets", targets);
	if (!rsp->data || !targets)
		rsp->err = MGMT_ERR_NOMEM;
}

void mgmt_lld_start(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	/* The only driver is started with the daemon: starting it again succeeds, as in tgt. */
	(void)srv;
	(void)req;
	rsp->err = MGMT_OK;
}
