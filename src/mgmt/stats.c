/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/stats: `--op stat` in sys, target, logicalunit, session and connection modes, and
 * `--mode conn --op show --name inflight`. Reads the core's per-LU and per-session counters
 * (relaxed atomic loads; the I/O path takes no lock for them) and the iSCSI driver's
 * per-connection counters (iscsi_lld_conn_foreach), and returns {"targets": [{"tid", "name",
 * "stats", "luns": [{"lun", "stats"}], "sessions": [{"sid", "initiator", "stats",
 * "connections": [{"cid", "address", "stats"}]}]}]}; a target's stats are the sum of its LUs'.
 * utgtadm prints them as a table, or as JSON with --json.
 */
#include "mgmt/stats.h"

#include "core/core.h"
#include "lld/iscsi/iscsi.h"
#include "mgmt/mgmt_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define LOAD(st, f) atomic_load_explicit(&(st)->f, memory_order_relaxed)

void mgmt_stats_read(const struct core_lu_stats *st, struct mgmt_stats *out)
{
	unsigned int i;

	out->read_cmds = LOAD(st, read_cmds);
	out->read_bytes = LOAD(st, read_bytes);
	out->write_cmds = LOAD(st, write_cmds);
	out->write_bytes = LOAD(st, write_bytes);
	out->other_cmds = LOAD(st, other_cmds);
	out->errors = LOAD(st, errors);
	out->aborts = LOAD(st, aborts);
	out->inflight = LOAD(st, inflight);
	out->lat_sum_us = LOAD(st, lat_sum_us);
	for (i = 0; i < CORE_LAT_BUCKETS; i++)
		out->lat_hist[i] = LOAD(st, lat_hist[i]);
}

void mgmt_stats_add(struct mgmt_stats *sum, const struct mgmt_stats *s)
{
	unsigned int i;

	sum->read_cmds += s->read_cmds;
	sum->read_bytes += s->read_bytes;
	sum->write_cmds += s->write_cmds;
	sum->write_bytes += s->write_bytes;
	sum->other_cmds += s->other_cmds;
	sum->errors += s->errors;
	sum->aborts += s->aborts;
	sum->inflight += s->inflight;
	sum->lat_sum_us += s->lat_sum_us;
	for (i = 0; i < CORE_LAT_BUCKETS; i++)
		sum->lat_hist[i] += s->lat_hist[i];
}

static json_t *mgmt_stats_json(const struct mgmt_stats *s)
{
	json_t *hist = json_array();
	unsigned int i;

	for (i = 0; hist && i < CORE_LAT_BUCKETS; i++)
		json_array_append_new(hist, json_integer((json_int_t)s->lat_hist[i]));
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o?}", "read_cmds",
	                 (json_int_t)s->read_cmds, "read_bytes", (json_int_t)s->read_bytes,
	                 "write_cmds", (json_int_t)s->write_cmds, "write_bytes",
	                 (json_int_t)s->write_bytes, "other_cmds", (json_int_t)s->other_cmds,
	                 "errors", (json_int_t)s->errors, "aborts", (json_int_t)s->aborts,
	                 "inflight", (json_int_t)s->inflight, "latency_sum_us",
	                 (json_int_t)s->lat_sum_us, "latency_hist_us_log2_from_16", hist);
}

/* ---- per-connection counters (iSCSI driver) ---- */

json_t *mgmt_stats_conn_json(const struct iscsi_conn_counters *st)
{
	json_t *hist = json_array();
	unsigned int i;

	for (i = 0; hist && i < CORE_LAT_BUCKETS; i++)
		json_array_append_new(hist, json_integer((json_int_t)st->lat_hist[i]));
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o?}", "cmds",
			 (json_int_t)st->cmds, "pdus_in", (json_int_t)st->pdus_in, "pdus_out",
			 (json_int_t)st->pdus_out, "bytes_in", (json_int_t)st->bytes_in,
			 "bytes_out", (json_int_t)st->bytes_out, "digest_errors",
			 (json_int_t)st->digest_errors, "r2ts", (json_int_t)st->r2ts, "rejects",
			 (json_int_t)st->rejects, "latency_sum_us", (json_int_t)st->lat_sum_us,
			 "latency_hist_us_log2_from_16", hist);
}

static void mgmt_stats_conn_key(char *key, size_t cap, uint32_t tid, uint64_t tsih, uint32_t cid)
{
	snprintf(key, cap, "%u/%" PRIu64 "/%u", tid, tsih, cid);
}

static void mgmt_stats_conn_put(const struct iscsi_conn_info *ci, void *arg)
{
	char key[48];

	if (!ci->ffp || ci->discovery)
		return;
	mgmt_stats_conn_key(key, sizeof(key), ci->tid, ci->tsih, ci->cid);
	json_object_set_new(arg, key, mgmt_stats_conn_json(&ci->st));
}

/* {"tid/tsih/cid": counters} of every logged-in connection; an empty object without a driver. */
static json_t *mgmt_stats_conns(struct mgmt_server *srv)
{
	json_t *all = json_object();

	if (all && srv->lld)
		iscsi_lld_conn_foreach(srv->lld, mgmt_stats_conn_put, all);
	return all;
}

/* Caller holds tgt->lock. */
static json_t *mgmt_stats_sessions(struct core_target *tgt, const struct mgmt_req *req,
				   const json_t *cst)
{
	char key[48];
	json_t *arr = json_array();
	struct core_nexus *n;
	struct mgmt_stats s;
	json_t *conns;
	unsigned int i;

	list_for_each_entry(n, &tgt->nexuses, entry)
	{
		if (!arr || (req->has_sid && n->id != req->sid))
			continue;
		conns = json_array();
		pthread_mutex_lock(&n->lock);
		for (i = 0; conns && i < n->nr_conns && i < CORE_NEXUS_MAX_CONN; i++) {
			mgmt_stats_conn_key(key, sizeof(key), tgt->tid, n->id, n->conns[i].cid);
			json_array_append_new(
			        conns, json_pack("{s:I,s:o,s:O?}", "cid",
			                         (json_int_t)n->conns[i].cid, "address",
			                         mgmt_json_peer_str(n->conns[i].addr), "stats",
			                         json_object_get(cst, key)));
		}
		pthread_mutex_unlock(&n->lock);
		mgmt_stats_read(&n->stats, &s);
		json_array_append_new(arr, json_pack("{s:I,s:o,s:o,s:o?}", "sid", (json_int_t)n->id,
		                                     "initiator", mgmt_json_peer_str(n->initiator),
		                                     "stats", mgmt_stats_json(&s), "connections",
		                                     conns));
	}
	return arr;
}

/* One target; sessions and/or LUs (one LU with lun_filter). NULL on ENOMEM. */
static json_t *mgmt_stats_target(struct core_target *tgt, const struct mgmt_req *req, bool luns,
                                 bool sessions, const json_t *cst)
{
	struct mgmt_stats sum = {0};
	struct mgmt_stats s;
	struct core_lu *lu;
	json_t *arr = json_array();
	json_t *obj;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(lu, &tgt->luns, entry)
	{
		mgmt_stats_read(&lu->stats, &s);
		mgmt_stats_add(&sum, &s);
		if (arr && luns && (!req->has_lun || req->lun == lu->lun))
			json_array_append_new(arr,
			                      json_pack("{s:I,s:o}", "lun", (json_int_t)lu->lun,
			                                "stats", mgmt_stats_json(&s)));
	}
	obj = json_pack("{s:I,s:s,s:o,s:o?,s:o?}", "tid", (json_int_t)tgt->tid, "name", tgt->name,
	                "stats", mgmt_stats_json(&sum), "luns", luns ? json_incref(arr) : NULL,
	                "sessions", sessions ? mgmt_stats_sessions(tgt, req, cst) : NULL);
	pthread_rwlock_unlock(&tgt->lock);
	json_decref(arr);
	if (!luns)
		json_object_del(obj, "luns");
	if (!sessions)
		json_object_del(obj, "sessions");
	return obj;
}

static void mgmt_stats_reply(struct mgmt_server *srv, const struct mgmt_req *req,
                             struct mgmt_rsp *rsp, bool luns, bool sessions)
{
	struct core_target *tgt;
	json_t *arr = json_array();
	json_t *cst = sessions ? mgmt_stats_conns(srv) : NULL;
	uint32_t tid = 0;

	if (req->has_tid || req->mode != MGMT_MODE_SYSTEM) {
		tgt = mgmt_req_target(srv, req, rsp);
		if (!tgt) {
			json_decref(arr);
			json_decref(cst);
			return;
		}
		if (req->mode == MGMT_MODE_LU && (!req->has_lun || !core_lu_find(tgt, req->lun))) {
			rsp->err = req->has_lun ? MGMT_ERR_NO_LUN : MGMT_ERR_INVALID_REQUEST;
			json_decref(arr);
			return;
		}
		if (arr && json_array_append_new(arr,
						 mgmt_stats_target(tgt, req, luns, sessions, cst)))
			goto nomem;
	} else {
		while (arr && (tgt = core_target_next(srv->root, tid))) {
			tid = tgt->tid;
			if (json_array_append_new(arr,
						  mgmt_stats_target(tgt, req, luns, sessions, cst)))
				goto nomem;
		}
	}
	json_decref(cst);
	rsp->data = arr ? json_pack("{s:o}", "targets", arr) : NULL;
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
	return;
nomem:
	json_decref(arr);
	json_decref(cst);
	rsp->err = MGMT_ERR_NOMEM;
}

void mgmt_stat_sys(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	mgmt_stats_reply(srv, req, rsp, true, true);
}

void mgmt_stat_target(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	mgmt_stats_reply(srv, req, rsp, true, true);
}

void mgmt_stat_lu(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	mgmt_stats_reply(srv, req, rsp, true, false);
}

void mgmt_stat_session(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	mgmt_stats_reply(srv, req, rsp, false, true);
}

/* ---- connection mode ---- */

struct conn_filter {
	const struct mgmt_req *req;
	json_t *arr;
};

static bool conn_selected(const struct mgmt_req *req, uint32_t tid, uint64_t tsih, uint32_t cid)
{
	return (!req->has_tid || req->tid == tid) && (!req->has_sid || req->sid == tsih) &&
	       (!req->has_cid || req->cid == cid);
}

static void mgmt_stat_conn_one(const struct iscsi_conn_info *ci, void *arg)
{
	struct conn_filter *cf = arg;
	json_t *o;

	if (!cf->arr || !ci->ffp || ci->discovery ||
	    !conn_selected(cf->req, ci->tid, ci->tsih, ci->cid))
		return;
	o = json_pack("{s:I,s:s,s:o,s:s,s:I,s:I,s:s,s:o}", "tid", (json_int_t)ci->tid, "target",
		      ci->target, "initiator", mgmt_json_peer_str(ci->initiator), "isid", ci->isid,
		      "sid", (json_int_t)ci->tsih, "cid", (json_int_t)ci->cid, "address",
		      ci->addr, "stats", mgmt_stats_conn_json(&ci->st));
	if (!o || json_array_append_new(cf->arr, o)) {
		json_decref(cf->arr);
		cf->arr = NULL;
	}
}

/* `--mode conn --op stat [--tid N [--sid S [--cid C]]]`: {"connections": [...]}. */
void mgmt_stat_conn(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	struct conn_filter cf = { .req = req, .arr = json_array() };

	if (req->has_tid && !mgmt_req_target(srv, req, rsp)) {
		json_decref(cf.arr);
		return;
	}
	if (srv->lld && cf.arr)
		iscsi_lld_conn_foreach(srv->lld, mgmt_stat_conn_one, &cf);
	rsp->data = cf.arr ? json_pack("{s:o}", "connections", cf.arr) : NULL;
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
}

static void mgmt_inflight_one(const struct iscsi_inflight *f, void *arg)
{
	struct conn_filter *cf = arg;
	char cdb[2 * sizeof(f->cdb) + 1];
	size_t off = 0;
	json_t *o;

	if (!cf->arr || !conn_selected(cf->req, f->tid, f->tsih, f->cid))
		return;
	cdb[0] = '\0';
	for (unsigned int i = 0; i < MIN(f->cdb_len, sizeof(f->cdb)); i++)
		(void)str_appendf(cdb, sizeof(cdb), &off, "%02x", f->cdb[i]);
	o = json_pack("{s:I,s:I,s:I,s:o,s:s,s:I,s:s,s:I,s:I,s:s,s:I,s:I,s:b}", "tid",
		      (json_int_t)f->tid, "sid", (json_int_t)f->tsih, "cid", (json_int_t)f->cid,
		      "initiator", mgmt_json_peer_str(f->initiator), "address", f->addr, "lun",
		      (json_int_t)f->lun, "cdb", cdb, "cdb_len", (json_int_t)f->cdb_len,
		      "age_ms", (json_int_t)f->age_ms, "state", f->state, "edtl",
		      (json_int_t)f->edtl, "data_got", (json_int_t)f->data_got, "stuck", f->stuck);
	if (o)
		json_object_set_new(o, "itt", json_sprintf("0x%08x", f->itt));
	if (o && f->bs_op) {
		json_object_set_new(o, "bs_op", json_string(f->bs_op));
		json_object_set_new(o, "bs_offset", json_integer((json_int_t)f->bs_offset));
		json_object_set_new(o, "bs_length", json_integer((json_int_t)f->bs_length));
	}
	if (!o || json_array_append_new(cf->arr, o)) {
		json_decref(cf->arr);
		cf->arr = NULL;
	}
}

/*
 * `--mode conn --op show --name inflight [--tid N [--sid S [--cid C]]]`: {"inflight":
 * [...], "stuck_io_ms", "truncated", "complete"} (docs/mgmt-protocol.md).
 */
static void mgmt_conn_inflight(struct mgmt_server *srv, const struct mgmt_req *req,
			       struct mgmt_rsp *rsp)
{
	struct conn_filter cf = { .req = req, .arr = json_array() };
	bool truncated = false;
	int rc = 0;

	if (req->has_tid && !mgmt_req_target(srv, req, rsp)) {
		json_decref(cf.arr);
		return;
	}
	if (srv->lld && cf.arr)
		rc = iscsi_lld_inflight(srv->lld, mgmt_inflight_one, &cf, &truncated);
	if (rc == -ENOMEM) {
		json_decref(cf.arr);
		cf.arr = NULL;
	}
	rsp->data = cf.arr ? json_pack("{s:o,s:I,s:b,s:b}", "inflight", cf.arr, "stuck_io_ms",
				       (json_int_t)(srv->lld ? iscsi_lld_stuck_get(srv->lld) : 0),
				       "truncated", truncated, "complete", rc == 0)
			   : NULL;
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
}

void mgmt_conn_show_any(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp)
{
	if (!req->name) {
		mgmt_conn_show(srv, req, rsp);
		return;
	}
	if (strcmp(req->name, "inflight")) {
		rsp->err = MGMT_ERR_INVALID_REQUEST;
		mgmt_rsp_detail(rsp, "connection show knows only the name 'inflight'");
		return;
	}
	mgmt_conn_inflight(srv, req, rsp);
}
