/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/stats: a plain snapshot of the core's command counters (struct core_lu_stats) for the
 * stat handlers and the metrics endpoint, and the stat handlers dispatch.c routes to.
 */
#ifndef UTGT_MGMT_STATS_H
#define UTGT_MGMT_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "core/core.h"

struct mgmt_server;
struct mgmt_req;
struct mgmt_rsp;

struct mgmt_stats {
	uint64_t read_cmds, read_bytes, write_cmds, write_bytes, other_cmds;
	uint64_t errors, aborts, inflight, lat_sum_us;
	uint64_t lat_hist[CORE_LAT_BUCKETS];
};

/* Relaxed loads of every counter of st. */
void mgmt_stats_read(const struct core_lu_stats *st, struct mgmt_stats *out);
void mgmt_stats_add(struct mgmt_stats *sum, const struct mgmt_stats *s);

/* --op stat in sys (all targets), target (--tid), logicalunit (--tid --lun), session modes. */
void mgmt_stat_sys(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_stat_target(struct mgmt_server *srv, const struct mgmt_req *req,
		      struct mgmt_rsp *rsp);
void mgmt_stat_lu(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_stat_session(struct mgmt_server *srv, const struct mgmt_req *req,
		       struct mgmt_rsp *rsp);
/* --mode conn: --op stat (per-connection counters), --op show [--name inflight]. */
void mgmt_stat_conn(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_conn_show_any(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp);

struct iscsi_conn_counters;
/* A connection's counters as JSON (stat output). NULL on ENOMEM. */
json_t *mgmt_stats_conn_json(const struct iscsi_conn_counters *st);

#endif
