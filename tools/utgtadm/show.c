/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtadm/show: renders show data (docs/mgmt-protocol.md) in tgt's text layout, byte for
 * byte: usr/target.c tgt_target_show_all and system_show, usr/iscsi/target.c for the
 * connection and parameter lists. tgt-admin and other scripts parse this text with regexes,
 * so indentation (4 spaces per level), field names and the trailing space after
 * "Backing store flags:" are an API. Missing or mistyped fields print as empty, 0 or "None".
 */
#include "utgtadm.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "mgmt/wire.h"

#define TAB1 "    "
#define TAB2 TAB1 TAB1
#define TAB3 TAB2 TAB1
#define TAB4 TAB2 TAB2

static const char *show_str(const json_t *o, const char *key, const char *dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) && json_string_value(v)[0] ? json_string_value(v) : dflt;
}

static uint64_t show_u64(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) :
								   0;
}

static const char *show_yes(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key)) ? "Yes" : "No";
}

uint64_t utgtadm_show_disksize_mb(uint64_t size)
{
	/* tgt's print_disksize(), unsigned wrap-around included. */
	return ((size / 512) - (((size / 512) / 625) - 974)) / 1950;
}

static void show_nexus(FILE *out, const json_t *n)
{
	const json_t *conns = json_object_get(n, "connections");
	const json_t *c;
	size_t i;

	fprintf(out, TAB2 "I_T nexus: %" PRIu64 "\n", show_u64(n, "id"));
	fprintf(out, TAB3 "Initiator: %s alias: %s\n", show_str(n, "initiator", ""),
		show_str(n, "alias", "none"));
	json_array_foreach(conns, i, c) {
		fprintf(out, TAB3 "Connection: %" PRIu64 "\n", show_u64(c, "cid"));
		fprintf(out, TAB4 "IP Address: %s\n", show_str(c, "address", ""));
	}
}

static void show_lun(FILE *out, const json_t *lu)
{
	fprintf(out, TAB2 "LUN: %" PRIu64 "\n", show_u64(lu, "lun"));
	fprintf(out, TAB3 "Type: %s\n", show_str(lu, "type", ""));
	fprintf(out, TAB3 "SCSI ID: %s\n", show_str(lu, "scsi_id", ""));
	fprintf(out, TAB3 "SCSI SN: %s\n", show_str(lu, "scsi_sn", ""));
	fprintf(out, TAB3 "Size: %" PRIu64 " MB, Block size: %" PRIu64 "\n",
		utgtadm_show_disksize_mb(show_u64(lu, "size")), show_u64(lu, "block_size"));
	fprintf(out, TAB3 "Online: %s\n", show_yes(lu, "online"));
	fprintf(out, TAB3 "Removable media: %s\n", show_yes(lu, "removable"));
	fprintf(out, TAB3 "Prevent removal: %s\n", show_yes(lu, "prevent_removal"));
	fprintf(out, TAB3 "Readonly: %s\n", show_yes(lu, "readonly"));
	fprintf(out, TAB3 "SWP: %s\n", show_yes(lu, "swp"));
	fprintf(out, TAB3 "Thin-provisioning: %s\n", show_yes(lu, "thin_provisioning"));
	fprintf(out, TAB3 "Backing store type: %s\n", show_str(lu, "bstype", "None"));
	fprintf(out, TAB3 "Backing store path: %s\n", show_str(lu, "path", "None"));
	fprintf(out, TAB3 "Backing store flags: %s\n", show_str(lu, "bsoflags", ""));
}

static void show_luns(FILE *out, const json_t *t)
{
	const json_t *lu;
	size_t i;

	fprintf(out, TAB1 "LUN information:\n");
	json_array_foreach(json_object_get(t, "luns"), i, lu)
		show_lun(out, lu);
}

static void show_target(FILE *out, const json_t *t)
{
	const json_t *v;
	size_t i;

	fprintf(out, "Target %" PRIu64 ": %s\n", show_u64(t, "tid"), show_str(t, "name", ""));
	fprintf(out, TAB1 "System information:\n");
	fprintf(out, TAB2 "Driver: %s\n", show_str(t, "driver", "iscsi"));
	fprintf(out, TAB2 "State: %s\n", show_str(t, "state", ""));
	if (show_u64(t, "nop_interval")) {
		fprintf(out, TAB2 "Nop interval: %" PRIu64 "\n", show_u64(t, "nop_interval"));
		fprintf(out, TAB2 "Nop count: %" PRIu64 "\n", show_u64(t, "nop_count"));
	}
	fprintf(out, TAB1 "I_T nexus information:\n");
	json_array_foreach(json_object_get(t, "nexuses"), i, v)
		show_nexus(out, v);
	show_luns(out, t);
	fprintf(out, TAB1 "Account information:\n");
	json_array_foreach(json_object_get(t, "accounts"), i, v)
		fprintf(out, TAB2 "%s%s\n", show_str(v, "user", ""),
			json_is_true(json_object_get(v, "outgoing")) ? " (outgoing)" : "");
	fprintf(out, TAB1 "ACL information:\n");
	json_array_foreach(json_object_get(t, "acls"), i, v)
		fprintf(out, TAB2 "%s\n", json_is_string(v) ? json_string_value(v) : "");
}

static int show_targets(FILE *out, const json_t *data, bool luns_only)
{
	const json_t *targets = json_object_get(data, "targets");
	const json_t *t;
	size_t i;

	if (!json_is_array(targets))
		return -EINVAL;
	json_array_foreach(targets, i, t) {
		if (!luns_only) {
			show_target(out, t);
			continue;
		}
		fprintf(out, "Target %" PRIu64 ": %s\n", show_u64(t, "tid"),
			show_str(t, "name", ""));
		show_luns(out, t);
	}
	return 0;
}

/* `--mode target --op show --tid N`: "key=value" lines, as tgt's show_iscsi_param. */
static int show_params(FILE *out, const json_t *data)
{
	const json_t *params = json_object_get(data, "params");
	const char *key;
	json_t *v;

	if (!json_is_object(params))
		return -EINVAL;
	json_object_foreach((json_t *)params, key, v)
		fprintf(out, "%s=%s\n", key, json_is_string(v) ? json_string_value(v) : "");
	return 0;
}

/* tgt's iSNS block: "iSNS=Off", "iSNSServerIP=", ... (tgt-admin greps for "iSNS=On"). */
static void show_isns(FILE *out, const json_t *isns)
{
	static const char *const keys[] = { "iSNS", "iSNSServerIP", "iSNSServerPort",
					    "iSNSAccessControl" };

	if (!json_is_object(isns))
		return;
	fprintf(out, "iSNS:\n");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		fprintf(out, TAB1 "%s=%s\n", keys[i], show_str(isns, keys[i], ""));
}

static int show_system(FILE *out, const json_t *data)
{
	const json_t *sys = json_object_get(data, "system");
	const json_t *v;
	size_t i;

	if (!json_is_object(sys))
		return -EINVAL;
	fprintf(out, "System:\n");
	fprintf(out, TAB1 "State: %s\n", show_str(sys, "state", ""));
	fprintf(out, TAB1 "debug: %s\n", show_str(sys, "debug", "off"));
	fprintf(out, "LLDs:\n");
	json_array_foreach(json_object_get(data, "llds"), i, v)
		fprintf(out, TAB1 "%s: %s\n", show_str(v, "name", ""), show_str(v, "state", ""));
	fprintf(out, "Backing stores:\n");
	json_array_foreach(json_object_get(data, "backing_stores"), i, v) {
		if (show_str(v, "bsoflags", NULL))
			fprintf(out, TAB1 "%s (bsoflags %s)\n", show_str(v, "name", ""),
				show_str(v, "bsoflags", ""));
		else
			fprintf(out, TAB1 "%s\n", show_str(v, "name", ""));
	}
	fprintf(out, "Device types:\n");
	json_array_foreach(json_object_get(data, "device_types"), i, v)
		fprintf(out, TAB1 "%s\n", json_is_string(v) ? json_string_value(v) : "");
	show_isns(out, json_object_get(data, "isns"));
	return 0;
}

static int show_llds(FILE *out, const json_t *data)
{
	const json_t *llds = json_object_get(data, "llds");
	const json_t *l;
	const json_t *t;
	size_t i;
	size_t j;

	if (!json_is_array(llds))
		return -EINVAL;
	fprintf(out, "LLDs:\n");
	json_array_foreach(llds, i, l) {
		fprintf(out, TAB1 "%s: %s\n", show_str(l, "name", ""), show_str(l, "state", ""));
		json_array_foreach(json_object_get(l, "targets"), j, t)
			fprintf(out, TAB2 "Target %" PRIu64 ": %s\n", show_u64(t, "tid"),
				show_str(t, "name", ""));
	}
	return 0;
}

/* `--mode conn --op show`: tgt's iscsi_target_show_connections. */
/* `--mode conn --op show --name inflight`: one block per command, oldest first per reactor. */
static int show_inflight(FILE *out, const json_t *data)
{
	const json_t *cmds = json_object_get(data, "inflight");
	const json_t *c;
	size_t i;

	if (!json_is_array(cmds))
		return -EINVAL;
	fprintf(out, "In-flight commands: %zu (stuck limit %" PRIu64 " ms)%s%s\n",
		json_array_size(cmds), show_u64(data, "stuck_io_ms"),
		json_is_true(json_object_get(data, "truncated")) ? " (truncated)" : "",
		json_is_false(json_object_get(data, "complete")) ? " (some reactors did not answer)"
								 : "");
	json_array_foreach(cmds, i, c) {
		fprintf(out, TAB1 "Command: ITT %s%s\n", show_str(c, "itt", ""),
			json_is_true(json_object_get(c, "stuck")) ? " (stuck)" : "");
		fprintf(out, TAB2 "Target: %" PRIu64 " Session: %" PRIu64 " Connection: %" PRIu64
			     "\n", show_u64(c, "tid"), show_u64(c, "sid"), show_u64(c, "cid"));
		fprintf(out, TAB2 "Initiator: %s IP Address: %s\n", show_str(c, "initiator", ""),
			show_str(c, "address", ""));
		fprintf(out, TAB2 "LUN: %" PRIu64 "\n", show_u64(c, "lun"));
		fprintf(out, TAB2 "CDB: %s\n", show_str(c, "cdb", ""));
		fprintf(out, TAB2 "Age: %" PRIu64 " ms\n", show_u64(c, "age_ms"));
		fprintf(out, TAB2 "State: %s\n", show_str(c, "state", ""));
		if (show_str(c, "bs_op", NULL))
			fprintf(out,
				TAB2 "Backing store: %s offset %" PRIu64 " length %" PRIu64 "\n",
				show_str(c, "bs_op", ""), show_u64(c, "bs_offset"),
				show_u64(c, "bs_length"));
		if (show_u64(c, "data_got") || strstr(show_str(c, "state", ""), "Data-Out"))
			fprintf(out, TAB2 "Data-Out: %" PRIu64 " of %" PRIu64 " bytes received\n",
				show_u64(c, "data_got"), show_u64(c, "edtl"));
	}
	return 0;
}

static int show_connections(FILE *out, const json_t *data)
{
	const json_t *conns = json_object_get(data, "connections");
	const json_t *c;
	size_t i;

	if (json_object_get(data, "inflight"))
		return show_inflight(out, data);
	if (!json_is_array(conns))
		return -EINVAL;
	json_array_foreach(conns, i, c) {
		fprintf(out, "Session: %" PRIu64 "\n", show_u64(c, "sid"));
		fprintf(out, TAB1 "Connection: %" PRIu64 "\n", show_u64(c, "cid"));
		fprintf(out, TAB2 "Initiator: %s\n", show_str(c, "initiator", ""));
		fprintf(out, TAB2 "IP Address: %s\n", show_str(c, "address", ""));
	}
	return 0;
}

/* `--mode session --op show` (unreachable in tgt): our own layout, in tgt's style. */
static int show_sessions(FILE *out, const json_t *data)
{
	const json_t *sessions = json_object_get(data, "sessions");
	const json_t *s;
	const json_t *c;
	size_t i;
	size_t j;

	if (!json_is_array(sessions))
		return -EINVAL;
	json_array_foreach(sessions, i, s) {
		fprintf(out, "Session: %" PRIu64 "\n", show_u64(s, "sid"));
		fprintf(out, TAB1 "Initiator: %s alias: %s\n", show_str(s, "initiator", ""),
			show_str(s, "alias", "none"));
		json_array_foreach(json_object_get(s, "connections"), j, c) {
			fprintf(out, TAB1 "Connection: %" PRIu64 "\n", show_u64(c, "cid"));
			fprintf(out, TAB2 "IP Address: %s\n", show_str(c, "address", ""));
		}
	}
	return 0;
}

/* `--mode account --op show`: the header only when there are accounts, as tgt. */
static int show_accounts(FILE *out, const json_t *data)
{
	const json_t *accounts = json_object_get(data, "accounts");
	const json_t *a;
	size_t i;

	if (!json_is_array(accounts))
		return -EINVAL;
	if (json_array_size(accounts))
		fprintf(out, "Account list:\n");
	json_array_foreach(accounts, i, a)
		fprintf(out, TAB1 "%s%s\n", show_str(a, "user", ""),
			json_is_true(json_object_get(a, "outgoing")) ? " (outgoing)" : "");
	return 0;
}

/* `--mode portal --op show`: tgt's "Portal: ADDR:PORT,TPGT" lines. */
static int show_portals(FILE *out, const json_t *data)
{
	const json_t *portals = json_object_get(data, "portals");
	const json_t *p;
	size_t i;

	if (!json_is_array(portals))
		return -EINVAL;
	json_array_foreach(portals, i, p)
		fprintf(out, "Portal: %s,%d\n", show_str(p, "portal", "?"),
			(int)json_integer_value(json_object_get(p, "tpgt")));
	return 0;
}

int utgtadm_show(FILE *out, int mode, int op, bool has_tid, const json_t *data)
{
	if (op == MGMT_OP_STAT && json_is_object(data))
		return utgtadm_show_stat(out, data) ? -EINVAL : 0;
	if (op != MGMT_OP_SHOW || !json_is_object(data))
		return -EINVAL;
	switch (mode) {
	case MGMT_MODE_SYSTEM:
		return show_system(out, data);
	case MGMT_MODE_TARGET:
		return has_tid ? show_params(out, data) : show_targets(out, data, false);
	case MGMT_MODE_LU:
		return show_targets(out, data, true);
	case MGMT_MODE_LLD:
		return show_llds(out, data);
	case MGMT_MODE_CONN:
		return show_connections(out, data);
	case MGMT_MODE_SESSION:
		return show_sessions(out, data);
	case MGMT_MODE_ACCOUNT:
		return show_accounts(out, data);
	case MGMT_MODE_PORTAL:
		return show_portals(out, data);
	default:
		return -EINVAL;
	}
}
