/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtadm/stat: renders `--op stat` data (docs/mgmt-protocol.md, "Statistics") as a table:
 * one row per target, LU and session with commands, bytes, errors, aborts, in-flight commands
 * and mean latency, then one row per connection (PDUs, bytes, R2Ts, digest errors, rejects,
 * mean latency). tgt's stat layout had no latency or queue depth; --json gives everything,
 * including the latency histograms.
 */
#include "utgtadm.h"

#include <inttypes.h>

static uint64_t stat_u64(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
	                                                       : 0;
}

static void stat_row(FILE *out, const char *what, const json_t *st)
{
	uint64_t cmds = stat_u64(st, "read_cmds") + stat_u64(st, "write_cmds") +
	                stat_u64(st, "other_cmds") + stat_u64(st, "errors");

	fprintf(out,
	        "%-24s %10" PRIu64 " %14" PRIu64 " %10" PRIu64 " %14" PRIu64 " %8" PRIu64
	        " %7" PRIu64 " %7" PRIu64 " %9" PRIu64 " %10" PRIu64 "\n",
	        what, stat_u64(st, "read_cmds"), stat_u64(st, "read_bytes"),
	        stat_u64(st, "write_cmds"), stat_u64(st, "write_bytes"), stat_u64(st, "other_cmds"),
	        stat_u64(st, "errors"), stat_u64(st, "aborts"), stat_u64(st, "inflight"),
	        cmds ? stat_u64(st, "latency_sum_us") / cmds : 0);
}

static void conn_header(FILE *out)
{
	fprintf(out, "%-24s %10s %10s %10s %14s %14s %8s %8s %8s %10s\n", "connection", "cmds",
		"pdus_in", "pdus_out", "bytes_in", "bytes_out", "r2ts", "dig_err", "rejects",
		"avg_lat_us");
}

static void conn_row(FILE *out, const char *what, const json_t *st)
{
	uint64_t cmds = stat_u64(st, "cmds");

	fprintf(out,
		"%-24s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %14" PRIu64 " %14" PRIu64
		" %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %10" PRIu64 "\n",
		what, cmds, stat_u64(st, "pdus_in"), stat_u64(st, "pdus_out"),
		stat_u64(st, "bytes_in"), stat_u64(st, "bytes_out"), stat_u64(st, "r2ts"),
		stat_u64(st, "digest_errors"), stat_u64(st, "rejects"),
		cmds ? stat_u64(st, "latency_sum_us") / cmds : 0);
}

/* The connections of every session, below the command table. */
static void conn_rows(FILE *out, const json_t *targets)
{
	const json_t *t, *s, *c;
	bool header = false;
	char what[64];
	size_t i, j, k;

	json_array_foreach(targets, i, t) {
		json_array_foreach(json_object_get(t, "sessions"), j, s) {
			json_array_foreach(json_object_get(s, "connections"), k, c) {
				if (!json_object_get(c, "stats"))
					continue;
				if (!header)
					conn_header(out);
				header = true;
				snprintf(what, sizeof(what), "tid %" PRIu64 " sid %" PRIu64
					 " cid %" PRIu64, stat_u64(t, "tid"), stat_u64(s, "sid"),
					 stat_u64(c, "cid"));
				conn_row(out, what, json_object_get(c, "stats"));
			}
		}
	}
}

/* `--mode conn --op stat`: {"connections": [...]}. */
static int conn_table(FILE *out, const json_t *conns)
{
	const json_t *c;
	char what[64];
	size_t i;

	conn_header(out);
	json_array_foreach(conns, i, c) {
		snprintf(what, sizeof(what), "tid %" PRIu64 " sid %" PRIu64 " cid %" PRIu64,
			 stat_u64(c, "tid"), stat_u64(c, "sid"), stat_u64(c, "cid"));
		conn_row(out, what, json_object_get(c, "stats"));
	}
	return 0;
}

int utgtadm_show_stat(FILE *out, const json_t *data)
{
	const json_t *targets = json_object_get(data, "targets");
	const json_t *t;
	const json_t *v;
	char what[64];
	size_t i;
	size_t j;

	if (json_is_array(json_object_get(data, "connections")))
		return conn_table(out, json_object_get(data, "connections"));
	if (!json_is_array(targets))
		return -1;
	fprintf(out, "%-24s %10s %14s %10s %14s %8s %7s %7s %9s %10s\n", "object", "rd_cmds",
	        "rd_bytes", "wr_cmds", "wr_bytes", "other", "errors", "aborts", "inflight",
	        "avg_lat_us");
	json_array_foreach(targets, i, t)
	{
		snprintf(what, sizeof(what), "target %" PRIu64, stat_u64(t, "tid"));
		stat_row(out, what, json_object_get(t, "stats"));
		json_array_foreach(json_object_get(t, "luns"), j, v)
		{
			snprintf(what, sizeof(what), "  lun %" PRIu64, stat_u64(v, "lun"));
			stat_row(out, what, json_object_get(v, "stats"));
		}
		json_array_foreach(json_object_get(t, "sessions"), j, v)
		{
			snprintf(what, sizeof(what), "  session %" PRIu64, stat_u64(v, "sid"));
			stat_row(out, what, json_object_get(v, "stats"));
		}
	}
	conn_rows(out, targets);
	return 0;
}
