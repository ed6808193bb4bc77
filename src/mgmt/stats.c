/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/stats: `--op stat` in sys, target, logicalunit and session modes. Reads the core's
 * per-LU and per-session counters (relaxed atomic loads; the I/O path takes no lock for them)
 * and returns {"targets": [{"tid", "name", "stats", "luns": [{"lun", "stats"}], "sessions":
 * [{"sid", "initiator", "stats", "connections": [{"cid", "address"}]}]}]}; a target's stats
 * are the sum of its LUs'. utgtadm prints them as a table, or as JSON with --json.
 */
#include "mgmt/stats.h"

#include "core/core.h"
#include "mgmt/mgmt_int.h"

#include <pthread.h>

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

/* Caller holds tgt->lock. */
static json_t *mgmt_stats_sessions(struct core_target *tgt, const struct mgmt_req *req)
{
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
		for (i = 0; conns && i < n->nr_conns && i < CORE_NEXUS_MAX_CONN; i++)
			json_array_append_new(
			        conns, json_pack("{s:I,s:o}", "cid", (json_int_t)n->conns[i].cid,
			                         "address", mgmt_json_peer_str(n->conns[i].addr)));
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
                                 bool sessions)
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
	                "sessions", sessions ? mgmt_stats_sessions(tgt, req) : NULL);
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
	uint32_t tid = 0;

	if (req->has_tid || req->mode != MGMT_MODE_SYSTEM) {
		tgt = mgmt_req_target(srv, req, rsp);
		if (!tgt) {
			json_decref(arr);
			return;
		}
		if (req->mode == MGMT_MODE_LU && (!req->has_lun || !core_lu_find(tgt, req->lun))) {
			rsp->err = req->has_lun ? MGMT_ERR_NO_LUN : MGMT_ERR_INVALID_REQUEST;
			json_decref(arr);
			return;
		}
		if (arr && json_array_append_new(arr, mgmt_stats_target(tgt, req, luns, sessions)))
			goto nomem;
	} else {
		while (arr && (tgt = core_target_next(srv->root, tid))) {
			tid = tgt->tid;
			if (json_array_append_new(arr, mgmt_stats_target(tgt, req, luns, sessions)))
				goto nomem;
		}
	}
	rsp->data = arr ? json_pack("{s:o}", "targets", arr) : NULL;
	if (!rsp->data)
		rsp->err = MGMT_ERR_NOMEM;
	return;
nomem:
	json_decref(arr);
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
