/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/portal: --mode portal. show lists the listening portals with their portal group tag
 * (tgt prints "Portal: ADDR:PORT,TPGT"); new and delete (--param portal=ADDR[:PORT][,tpgt=N])
 * ask the daemon, through its callbacks, to open or close one at run time.
 */
#include "mgmt/mgmt_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lld/iscsi/iscsi.h"

#define MGMT_PORTALS_MAX 64

/* "ADDR:PORT", IPv6 as "[ADDR]:PORT". */
static void mgmt_portal_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	}
}

void mgmt_portal_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct iscsi_portal_info p[MGMT_PORTALS_MAX];
	unsigned int n = srv->lld ? iscsi_portal_list(srv->lld, p, MGMT_PORTALS_MAX) : 0;
	json_t *arr = json_array();
	char addr[80];
	int rc = arr ? 0 : -1;

	(void)req;
	for (unsigned int i = 0; i < n && !rc; i++) {
		mgmt_portal_str(&p[i].addr, addr, sizeof(addr));
		rc = json_array_append_new(arr, json_pack("{s:s,s:i}", "portal", addr, "tpgt",
							  (int)p[i].tpgt));
	}
	rsp->data = rc ? NULL : json_pack("{s:o}", "portals", arr);
	if (rc)
		json_decref(arr);
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
}

struct mgmt_portal_args {
	char portal[MGMT_LEN_VALUE + 1];   /* the pair's value lives only during the callback */
	uint64_t tpgt;
};

static enum mgmt_err mgmt_portal_param(const char *key, const char *value, void *arg)
{
	struct mgmt_portal_args *a = arg;

	if (!strcmp(key, "portal"))
		str_copy(a->portal, value, sizeof(a->portal));
	else if (strcmp(key, "tpgt") || str_to_u64(value, 1, UINT16_MAX, &a->tpgt))
		return MGMT_ERR_INVALID_REQUEST;
	return MGMT_OK;
}

/* new (add) or delete: --param portal=ADDR[:PORT][,tpgt=N] (tpgt: new only, default 1). */
static void mgmt_portal_change(struct mgmt_server *srv, const struct mgmt_req *req,
			       struct mgmt_rsp *rsp, bool add)
{
	struct mgmt_portal_args a = { .tpgt = 1 };
	int rc;

	if (!srv->portal_add || !srv->portal_del) {
		rsp->err = MGMT_ERR_UNSUPPORTED_OPERATION;
		return;
	}
	rsp->err = mgmt_req_params_foreach(req->params, mgmt_portal_param, &a, rsp);
	if (rsp->err != MGMT_OK)
		return;
	if (!a.portal[0]) {
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, "you must specify --param portal=<portal>");
		return;
	}
	rc = add ? srv->portal_add(srv->arg, a.portal, (uint16_t)a.tpgt) :
		   srv->portal_del(srv->arg, a.portal);
	if (!rc)
		return;
	rsp->err = rc == -EINVAL || rc == -ENOENT || rc == -EEXIST ? MGMT_ERR_INVALID_REQUEST :
		   rc == -ENOMEM ? MGMT_ERR_NOMEM : MGMT_ERR_UNKNOWN;
	mgmt_rsp_detail(rsp, "portal %s: %s", a.portal, strerror(-rc));
}

void mgmt_portal_new(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	mgmt_portal_change(srv, req, rsp, true);
}

void mgmt_portal_delete(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp)
{
	mgmt_portal_change(srv, req, rsp, false);
}
