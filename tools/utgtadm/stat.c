/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtadm/stat: renders `--op stat` data (docs/mgmt-protocol.md, "Statistics") as a table:
 * one row per target, LU and session with commands, bytes, errors, aborts, in-flight commands
 * and mean latency. tgt's stat layout had no latency or queue depth; --json gives everything,
 * including the latency histogram.
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

int utgtadm_show_stat(FILE *out, const json_t *data)
{
	const json_t *targets = json_object_get(data, "targets");
	const json_t *t;
	const json_t *v;
	char what[64];
	size_t i;
	size_t j;

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
	return 0;
}
