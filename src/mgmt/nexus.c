/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/nexus: --mode conn and --mode session handlers. A session is an I_T nexus (its id is
 * the TSIH that tgtadm calls sid); its connections are the nexus's connection list. Lists are
 * read under tgt->lock (read) and nexus->lock. Deleting asks the LLD to close through the
 * nexus ops, which is asynchronous and safe under tgt->lock: the nexus cannot be unlinked and
 * freed while the lock is held.
 */
#include "mgmt/mgmt_int.h"

#include <pthread.h>

#include "core/core.h"

/* Appends one {"sid","cid","initiator","address"} per connection of n. Caller holds tgt->lock. */
static int mgmt_conn_list(struct core_nexus *n, json_t *arr)
{
	json_t *c;
	unsigned int i;
	int rc = 0;

	pthread_mutex_lock(&n->lock);
	for (i = 0; !rc && i < n->nr_conns && i < CORE_NEXUS_MAX_CONN; i++) {
		c = json_pack("{s:I,s:I,s:o,s:o}", "sid", (json_int_t)n->id,
			      "cid", (json_int_t)n->conns[i].cid,
			      "initiator", mgmt_json_peer_str(n->initiator),
			      "address", mgmt_json_peer_str(n->conns[i].addr));
		rc = json_array_append_new(arr, c);
	}
	pthread_mutex_unlock(&n->lock);
	return rc;
}

static json_t *mgmt_session_json(struct core_nexus *n)
{
	json_t *conns = json_array();
	json_t *c;
	unsigned int i;
	int rc = !conns;

	pthread_mutex_lock(&n->lock);
	for (i = 0; !rc && i < n->nr_conns && i < CORE_NEXUS_MAX_CONN; i++) {
		c = json_pack("{s:I,s:o}", "cid", (json_int_t)n->conns[i].cid,
			      "address", mgmt_json_peer_str(n->conns[i].addr));
		rc = json_array_append_new(conns, c);
	}
	pthread_mutex_unlock(&n->lock);
	if (rc) {
		json_decref(conns);
		return NULL;
	}
	return json_pack("{s:I,s:o,s:o,s:i,s:o}", "sid", (json_int_t)n->id,
			 "initiator", mgmt_json_peer_str(n->initiator),
			 "alias", mgmt_json_peer_str(n->alias[0] ? n->alias : NULL),
			 "tpgt", (int)n->tpgt, /* the target port the session came through */
			 "connections", conns);
}

/* Runs the list for conn or session show, filtered by req's sid when it has one. */
static void mgmt_nexus_show(struct mgmt_server *srv, const struct mgmt_req *req,
			    struct mgmt_rsp *rsp, bool sessions)
{
	struct core_target *tgt = mgmt_req_target(srv, req, rsp);
	struct core_nexus *n;
	json_t *arr;
	bool found = false;
	int rc;

	if (!tgt)
		return;
	arr = json_array();
	rc = !arr;
	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry) {
		if (rc || (req->has_sid && n->id != req->sid))
			continue;
		found = true;
		if (sessions)
			rc = json_array_append_new(arr, mgmt_session_json(n));
		else
			rc = mgmt_conn_list(n, arr);
	}
	pthread_rwlock_unlock(&tgt->lock);
	rsp->data = rc ? NULL : json_pack("{s:o}", sessions ? "sessions" : "connections", arr);
	if (rc)
		json_decref(arr);
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
	else if (req->has_sid && !found)
		rsp->err = MGMT_ERR_NO_SESSION;
}

void mgmt_conn_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	mgmt_nexus_show(srv, req, rsp, false);
}

void mgmt_session_show(struct mgmt_server *srv, const struct mgmt_req *req,
		       struct mgmt_rsp *rsp)
{
	mgmt_nexus_show(srv, req, rsp, true);
}

static bool mgmt_nexus_has_conn(struct core_nexus *n, uint32_t cid)
{
	bool found = false;
	unsigned int i;

	pthread_mutex_lock(&n->lock);
	for (i = 0; i < n->nr_conns && i < CORE_NEXUS_MAX_CONN; i++)
		found |= n->conns[i].cid == cid;
	pthread_mutex_unlock(&n->lock);
	return found;
}

/*
 * Closes connection cid of session sid, or the whole session when all. Absent sid and cid
 * mean 0, as tgtadm sends them (so tgt scripts behave the same).
 */
static void mgmt_nexus_close(struct mgmt_server *srv, const struct mgmt_req *req,
			     struct mgmt_rsp *rsp, bool all)
{
	struct core_target *tgt = mgmt_req_target(srv, req, rsp);
	uint64_t sid = req->has_sid ? req->sid : 0;
	uint32_t cid = req->has_cid ? req->cid : 0;
	struct core_nexus *n;

	if (!tgt)
		return;
	rsp->err = MGMT_ERR_NO_SESSION;
	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry) {
		if (n->id != sid)
			continue;
		if (!all && !mgmt_nexus_has_conn(n, cid)) {
			rsp->err = MGMT_ERR_NO_CONNECTION;
			break;
		}
		if (n->ops && n->ops->close)
			n->ops->close(n, cid, all);
		rsp->err = n->ops && n->ops->close ? MGMT_OK : MGMT_ERR_UNSUPPORTED_OPERATION;
		break;
	}
	pthread_rwlock_unlock(&tgt->lock);
}

void mgmt_conn_delete(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	mgmt_nexus_close(srv, req, rsp, false);
}

void mgmt_session_delete(struct mgmt_server *srv, const struct mgmt_req *req,
			 struct mgmt_rsp *rsp)
{
	mgmt_nexus_close(srv, req, rsp, true);
}
