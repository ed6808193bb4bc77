/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtadm/args: tgtadm's command line (usr/tgtadm.c), kept option for option: the same
 * getopt string (including -F and -O, which take an argument in their short form), the same
 * number parsing (strtoull, base 0), the same per-mode lists of allowed options, messages
 * and exit codes (22 for bad usage, 1 for an unknown mode or op). Additions: --control-socket,
 * --json, --params for logicalunit new, and logicalunit show.
 */
#include "utgtadm.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/wire.h"

#define OPT_CONTROL_SOCKET 0x100
#define OPT_JSON           0x101

static const struct option utgtadm_long_options[] = {
	{ "debug", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "lld", required_argument, NULL, 'L' },
	{ "op", required_argument, NULL, 'o' },
	{ "mode", required_argument, NULL, 'm' },
	{ "tid", required_argument, NULL, 't' },
	{ "sid", required_argument, NULL, 's' },
	{ "cid", required_argument, NULL, 'c' },
	{ "lun", required_argument, NULL, 'l' },
	{ "name", required_argument, NULL, 'n' },
	{ "value", required_argument, NULL, 'v' },
	{ "backing-store", required_argument, NULL, 'b' },
	{ "bstype", required_argument, NULL, 'E' },
	{ "bsopts", required_argument, NULL, 'S' },
	{ "bsoflags", required_argument, NULL, 'f' },
	{ "blocksize", required_argument, NULL, 'y' },
	{ "targetname", required_argument, NULL, 'T' },
	{ "initiator-address", required_argument, NULL, 'I' },
	{ "initiator-name", required_argument, NULL, 'Q' },
	{ "user", required_argument, NULL, 'u' },
	{ "password", required_argument, NULL, 'p' },
	{ "host", required_argument, NULL, 'H' },
	{ "force", no_argument, NULL, 'F' },
	{ "params", required_argument, NULL, 'P' },
	{ "bus", required_argument, NULL, 'B' },
	{ "device-type", required_argument, NULL, 'Y' },
	{ "outgoing", no_argument, NULL, 'O' },
	{ "control-port", required_argument, NULL, 'C' },
	{ "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static const char utgtadm_short_options[] =
	"dhVL:o:m:t:s:c:l:n:v:b:E:f:y:T:I:Q:u:p:H:F:P:B:Y:O:C:S:";

static void utgtadm_usage(FILE *out)
{
	fprintf(out,
		"utgtadm: SCSI target administration utility for utgtd, version %s\n\n"
		"Usage: utgtadm [OPTION]\n"
		"--lld <driver> --mode target --op new --tid <id> --targetname <name>\n"
		"\tadd a new target with <id> and <name>. <id> must not be zero.\n"
		"--lld <driver> --mode target --op delete [--force] --tid <id>\n"
		"\tdelete the specific target with <id>.\n"
		"\tWith force option, the specific target is deleted\n"
		"\teven if there is an activity.\n"
		"--lld <driver> --mode target --op show\n"
		"\tshow all the targets.\n"
		"--lld <driver> --mode target --op show --tid <id>\n"
		"\tshow the specific target's parameters.\n"
		"--lld <driver> --mode target --op update --tid <id> --name <param>\n"
		"  --value <value>\n"
		"\tchange the target parameters of the target with <id>.\n"
		"--lld <driver> --mode target --op bind --tid <id> --initiator-address <address>\n"
		"--lld <driver> --mode target --op bind --tid <id> --initiator-name <name>\n"
		"\tenable the target to accept the specific initiators.\n"
		"--lld <driver> --mode target --op unbind --tid <id> --initiator-address <addr>\n"
		"--lld <driver> --mode target --op unbind --tid <id> --initiator-name <name>\n"
		"\tdisable the specific permitted initiators.\n"
		"--lld <driver> --mode logicalunit --op new --tid <id> --lun <lun>\n"
		"  --backing-store <path> --bstype <type> --bsopts <bs options>\n"
		"  --bsoflags <options>\n"
		"  [--blocksize <size>] [--device-type <type>] [--params <key=value,...>]\n"
		"\tadd a new logical unit with <lun> to the specific\n"
		"\ttarget with <id>. bsoflags supported options are sync and direct\n"
		"\t(sync:direct for both).\n"
		"--lld <driver> --mode logicalunit --op delete --tid <id> --lun <lun>\n"
		"\tdelete the specific logical unit with <lun> that\n"
		"\tthe target with <id> has.\n"
		"--lld <driver> --mode logicalunit --op update --tid <id> --lun <lun>\n"
		"  --params <k=v,...>\n"
		"\tchange vendor_id, product_id, product_rev, scsi_id, scsi_sn,\n"
		"\treadonly, removable, online, thin_provisioning, sense_format,\n"
		"\trotation_rate, write_cache.\n"
		"--lld <driver> --mode logicalunit --op show --tid <id> [--lun <lun>]\n"
		"\tshow the logical units of the target with <id>.\n"
		"--mode system --op show | delete\n"
		"--mode system --op update --name State|debug|stuck_io_ms --value <value>\n"
		"--mode system --op saveconfig [--name <file>]\n"
		"\twrite the live configuration (targets.conf format) atomically to <file>,\n"
		"\tdefault: the --config file utgtd was started with.\n"
		"--mode conn --op show --name inflight [--tid <id>] [--sid <sid>] [--cid <cid>]\n"
		"\tlist the commands in flight with their age, CDB, LU and state.\n"
		"--mode system|target|logicalunit|session|conn --op stat [--tid <id>] ...\n"
		"\tcommand, byte and latency counters (connections: PDUs, digest errors, R2Ts).\n"
		"--mode conn|session --op show|delete --tid <id> [--sid <sid>] [--cid <cid>]\n"
		"--control-port <port>\tuse the daemon started with -C <port>\n"
		"--control-socket <path>\tuse the daemon listening on <path> (default %s)\n"
		"--json\tprint show output as JSON\n"
		"--help\n"
		"\tdisplay this help and exit\n",
		UTGT_VERSION, MGMT_SOCKET_DEFAULT);
}

/* Returns 22 after tgtadm's "try --help" line. */
static int utgtadm_usage_error(FILE *err)
{
	fprintf(err, "Try `utgtadm --help' for more information.\n");
	return UTGTADM_EXIT_ERR;
}

/* tgt's str_to_int(): strtoull base 0, EINVAL for no digits or ULLONG_MAX, ERANGE past max. */
static int utgtadm_str_to_num(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (v == ULLONG_MAX || end == s)
		return EINVAL;
	if (v > max)
		return ERANGE;
	*out = v;
	return 0;
}

static int utgtadm_bad_optarg(FILE *err, int ret, int ch, const char *arg)
{
	fprintf(err, "-%c argument value '%s' %s\n", ch, arg,
		ret == ERANGE ? "out of range" : "invalid");
	return utgtadm_usage_error(err);
}

/* tgt's str_to_device_type(): the names tgtadm knows; ssc is tape. */
static const char *utgtadm_device_type(const char *s)
{
	static const char *const names[] = { "disk", "tape", "cd", "changer", "osd", "pt" };
	size_t i;

	if (!strcmp(s, "ssc"))
		return "tape";
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return names[i];
	return NULL;
}

/* Options with a number: -1 if ch is not one, else 0 or an exit code. */
static int utgtadm_opt_number(struct utgtadm_args *a, int ch, const char *arg, FILE *err)
{
	uint64_t v = 0;
	int rc;

	switch (ch) {
	case 't':
		rc = utgtadm_str_to_num(arg, INT_MAX, &v);
		a->tid = (int)v;
		break;
	case 's':
		rc = utgtadm_str_to_num(arg, UINT64_MAX, &a->sid);
		a->has_sid = true;
		break;
	case 'c':
		rc = utgtadm_str_to_num(arg, UINT32_MAX, &v);
		a->cid = (uint32_t)v;
		a->has_cid = true;
		break;
	case 'l':
		rc = utgtadm_str_to_num(arg, UINT64_MAX, &a->lun);
		break;
	case 'H':
		rc = utgtadm_str_to_num(arg, UINT32_MAX, &v);
		a->host_no = (uint32_t)v;
		a->has_host = true;
		break;
	case 'C':
		rc = utgtadm_str_to_num(arg, SHRT_MAX, &v);
		a->control_port = (int)v;
		break;
	case 'y':
		rc = utgtadm_str_to_num(arg, UINT32_MAX, &v);
		a->blocksize = (uint32_t)v;
		a->has_blocksize = true;
		break;
	default:
		return -1;
	}
	return rc ? utgtadm_bad_optarg(err, rc, ch, arg) : 0;
}

/* Options that take a string, and where it goes. */
static const struct {
	int ch;
	size_t off;
} utgtadm_string_opts[] = {
	{ 'L', offsetof(struct utgtadm_args, lld) },
	{ 'n', offsetof(struct utgtadm_args, name) },
	{ 'v', offsetof(struct utgtadm_args, value) },
	{ 'b', offsetof(struct utgtadm_args, path) },
	{ 'E', offsetof(struct utgtadm_args, bstype) },
	{ 'S', offsetof(struct utgtadm_args, bsopts) },
	{ 'f', offsetof(struct utgtadm_args, bsoflags) },
	{ 'T', offsetof(struct utgtadm_args, targetname) },
	{ 'I', offsetof(struct utgtadm_args, address) },
	{ 'Q', offsetof(struct utgtadm_args, iqnname) },
	{ 'u', offsetof(struct utgtadm_args, user) },
	{ 'p', offsetof(struct utgtadm_args, password) },
	{ OPT_CONTROL_SOCKET, offsetof(struct utgtadm_args, control_socket) },
};

/* Options with a string; -1 if ch is not one. */
static int utgtadm_opt_string(struct utgtadm_args *a, int ch, const char *arg)
{
	size_t i;

	if (ch == 'P') {
		/* tgt: --params means portalOps only if --mode portal came first. */
		if (a->mode == MGMT_MODE_PORTAL)
			a->portal_params = arg;
		else
			a->params = arg;
		return 0;
	}
	for (i = 0; i < sizeof(utgtadm_string_opts) / sizeof(utgtadm_string_opts[0]); i++) {
		if (utgtadm_string_opts[i].ch == ch) {
			memcpy((char *)a + utgtadm_string_opts[i].off, &arg, sizeof(arg));
			return 0;
		}
	}
	return -1;
}

/* One option of the first pass: -1 to go on, else an exit code. */
static int utgtadm_opt(struct utgtadm_args *a, int ch, const char *arg, FILE *out, FILE *err)
{
	int rc;

	if (utgtadm_opt_string(a, ch, arg) == 0)
		return -1;
	rc = utgtadm_opt_number(a, ch, arg, err);
	if (rc >= 0)
		return rc ? rc : -1;
	switch (ch) {
	case 'o':
		a->op = mgmt_op_parse(arg);
		a->op_name = arg;
		if (a->op < 0) {
			fprintf(err, "utgtadm: unknown operation: %s\n", arg);
			return 1;
		}
		return -1;
	case 'm':
		a->mode = mgmt_mode_parse(arg);
		if (a->mode < 0) {
			fprintf(err, "utgtadm: unknown mode: %s\n", arg);
			return 1;
		}
		return -1;
	case 'Y':
		a->device_type = utgtadm_device_type(arg);
		if (!a->device_type) {
			fprintf(err, "utgtadm: unknown target type: %s\n", arg);
			return UTGTADM_EXIT_ERR;
		}
		return -1;
	case 'B':
		/* tgt looks the bus up in sysfs for kernel LLDs; utgtd has none. */
		fprintf(err, "utgtadm: can't find bus: %s\n", arg);
		return UTGTADM_EXIT_ERR;
	case 'F':
		a->force = true;
		return -1;
	case 'O':
		a->outgoing = true;
		return -1;
	case OPT_JSON:
		a->json = true;
		return -1;
	case 'd':
		a->debug = true;
		return -1;
	case 'V':
		fprintf(out, "%s\n", UTGT_VERSION);
		return 0;
	case 'h':
		utgtadm_usage(out);
		return 0;
	default:
		return utgtadm_usage_error(err);
	}
}

/*
 * tgt's verify_mode_params(): rescans argv and returns the first option letter not in
 * allowed (-d and the utgtadm-only long options are always allowed), or 0.
 */
static int utgtadm_verify(int argc, char **argv, const char *allowed)
{
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, utgtadm_short_options, utgtadm_long_options,
				 NULL)) >= 0) {
		if (ch == 'd' || ch == OPT_CONTROL_SOCKET || ch == OPT_JSON)
			continue;
		if (ch > 0 && ch < 0x100 && !strchr(allowed, ch))
			return ch;
	}
	return 0;
}

struct utgtadm_rule {
	int mode;
	int op;
	const char *allowed;
	const char *fmt;               /* takes the option letter */
};

#define TGT_MSG(m) m " mode: option '-%c' is not allowed/supported\n"

/* clang-format off */
static const struct utgtadm_rule utgtadm_rules[] = {
	{ MGMT_MODE_SYSTEM, MGMT_OP_UPDATE, "LmonvC", TGT_MSG("system") },
	{ MGMT_MODE_SYSTEM, MGMT_OP_SHOW, NULL, NULL },
	{ MGMT_MODE_SYSTEM, MGMT_OP_DELETE, NULL, NULL },
	{ MGMT_MODE_SYSTEM, MGMT_OP_STAT, NULL, NULL },
	{ MGMT_MODE_SYSTEM, MGMT_OP_SAVECONFIG, "LmonC", TGT_MSG("system") },
	{ MGMT_MODE_TARGET, MGMT_OP_NEW, "LmotTC", TGT_MSG("target") },
	{ MGMT_MODE_TARGET, MGMT_OP_DELETE, "LmotCF", TGT_MSG("target") },
	{ MGMT_MODE_TARGET, MGMT_OP_SHOW, "LmotC", TGT_MSG("target") },
	{ MGMT_MODE_TARGET, MGMT_OP_STAT, "LmotC", TGT_MSG("target") },
	{ MGMT_MODE_TARGET, MGMT_OP_BIND, "LmotIQBHC", TGT_MSG("target") },
	{ MGMT_MODE_TARGET, MGMT_OP_UNBIND, "LmotIQBHC", TGT_MSG("target") },
	{ MGMT_MODE_TARGET, MGMT_OP_UPDATE, "LmotnvC", TGT_MSG("target") },
	{ MGMT_MODE_ACCOUNT, MGMT_OP_NEW, "LmoupfC", TGT_MSG("account") },
	{ MGMT_MODE_ACCOUNT, MGMT_OP_SHOW, "LmoC", TGT_MSG("account") },
	{ MGMT_MODE_ACCOUNT, MGMT_OP_DELETE, "LmouC", TGT_MSG("account") },
	{ MGMT_MODE_ACCOUNT, MGMT_OP_BIND, "LmotuOC", TGT_MSG("account") },
	{ MGMT_MODE_ACCOUNT, MGMT_OP_UNBIND, "LmotuOC", TGT_MSG("account") },
	/* tgtadm has no --params for lu new and no lu show; utgtadm adds both. */
	{ MGMT_MODE_LU, MGMT_OP_NEW, "LmofytlbEYCSP", TGT_MSG("logicalunit") },
	{ MGMT_MODE_LU, MGMT_OP_DELETE, "LmotlC", TGT_MSG("logicalunit") },
	{ MGMT_MODE_LU, MGMT_OP_STAT, "LmotlC", TGT_MSG("logicalunit") },
	{ MGMT_MODE_LU, MGMT_OP_SHOW, "LmotlC", TGT_MSG("logicalunit") },
	{ MGMT_MODE_LU, MGMT_OP_UPDATE, "LmofytlPC",
	  "option '-%c' not supported in logicalunit mode\n" },
	{ MGMT_MODE_PORTAL, MGMT_OP_NEW, "LmoCP", TGT_MSG("portal") },
	{ MGMT_MODE_PORTAL, MGMT_OP_DELETE, "LmoCP", TGT_MSG("portal") },
	{ MGMT_MODE_PORTAL, MGMT_OP_SHOW, "LmoC", "option '-%c' not supported in portal mode\n" },
	{ MGMT_MODE_LLD, MGMT_OP_START, "LmoC", TGT_MSG("lld") },
	{ MGMT_MODE_LLD, MGMT_OP_STOP, "LmoC", TGT_MSG("lld") },
	{ MGMT_MODE_LLD, MGMT_OP_SHOW, "LmoC", TGT_MSG("lld") },
};
/* clang-format on */

static const struct utgtadm_rule *utgtadm_rule_find(int mode, int op)
{
	size_t i;

	for (i = 0; i < sizeof(utgtadm_rules) / sizeof(utgtadm_rules[0]); i++)
		if (utgtadm_rules[i].mode == mode && utgtadm_rules[i].op == op)
			return &utgtadm_rules[i];
	return NULL;
}

/* Checks that come before the option list in tgtadm (tid and lun). 0 or 22. */
static int utgtadm_check_ids(const struct utgtadm_args *a, FILE *err)
{
	bool lu = a->mode == MGMT_MODE_LU;

	if ((a->mode == MGMT_MODE_TARGET && a->op != MGMT_OP_SHOW) || lu) {
		if (a->tid == 0) {
			fprintf(err, lu ? "utgtadm: 'tid' must not be 0\n" :
					  "utgtadm: 'tid' cannot be 0\n");
			return UTGTADM_EXIT_ERR;
		}
		if (a->tid < 0) {
			fprintf(err, "utgtadm: 'tid' option is necessary\n");
			return UTGTADM_EXIT_ERR;
		}
	}
	if (lu && a->op != MGMT_OP_SHOW && a->lun == UINT64_MAX) {
		fprintf(err, "utgtadm: 'lun' option is necessary\n");
		return UTGTADM_EXIT_ERR;
	}
	return 0;
}

/* Options each operation cannot do without. 0 or 22. */
static int utgtadm_check_required(const struct utgtadm_args *a, FILE *err)
{
	const char *msg = NULL;

	if ((a->mode == MGMT_MODE_SYSTEM || a->mode == MGMT_MODE_TARGET) &&
	    a->op == MGMT_OP_UPDATE && (!a->name || !a->value))
		msg = "update operation requires 'name' and 'value' options";
	else if (a->mode == MGMT_MODE_TARGET && a->op == MGMT_OP_NEW && !a->targetname)
		msg = "creating new target requires a name, use --targetname";
	else if (a->mode == MGMT_MODE_ACCOUNT && a->op == MGMT_OP_NEW && (!a->user || !a->password))
		msg = "'user' and 'password' options are required";
	else if (a->mode == MGMT_MODE_ACCOUNT &&
		 (a->op == MGMT_OP_BIND || a->op == MGMT_OP_UNBIND) && !a->user)
		msg = "'user' option is necessary";
	else if (a->mode == MGMT_MODE_LU && a->op == MGMT_OP_NEW && !a->path && a->device_type &&
		 strcmp(a->device_type, "disk") && strcmp(a->device_type, "cd") &&
		 strcmp(a->device_type, "tape"))
		msg = "'backing-store' option is necessary";
	else if (a->mode == MGMT_MODE_PORTAL &&
		 (a->op == MGMT_OP_NEW || a->op == MGMT_OP_DELETE) && !a->portal_params)
		msg = "you must specify --param portal=<portal>";
	if (a->mode == MGMT_MODE_TARGET && (a->op == MGMT_OP_BIND || a->op == MGMT_OP_UNBIND) &&
	    !a->address && !a->iqnname && !a->has_host) {
		fprintf(err,
			"utgtadm: %s operation requires initiator-address, initiator-name or bus\n",
			a->op_name);
		return UTGTADM_EXIT_ERR;
	}
	if (msg) {
		fprintf(err, "utgtadm: %s\n", msg);
		return UTGTADM_EXIT_ERR;
	}
	return 0;
}

/* tgtadm's per-mode checks; session and connection modes have none. 0 or 22. */
static int utgtadm_validate(int argc, char **argv, const struct utgtadm_args *a, FILE *err)
{
	const struct utgtadm_rule *rule;
	int rc;

	if (a->mode == MGMT_MODE_SESSION || a->mode == MGMT_MODE_CONN)
		return 0;
	rc = utgtadm_check_ids(a, err);
	if (rc)
		return rc;
	rule = utgtadm_rule_find(a->mode, a->op);
	if (!rule) {
		if (a->mode == MGMT_MODE_LLD)
			fprintf(err, "utgtadm: option %d not supported in lld mode\n", a->op);
		else
			fprintf(err, "utgtadm: operation %s not supported in %s mode\n",
				a->op_name, mgmt_mode_str(a->mode));
		return UTGTADM_EXIT_ERR;
	}
	if (rule->allowed) {
		rc = utgtadm_verify(argc, argv, rule->allowed);
		if (rc) {
			fprintf(err, "utgtadm: ");
			fprintf(err, rule->fmt, rc);
			return UTGTADM_EXIT_ERR;
		}
	}
	return utgtadm_check_required(a, err);
}

int utgtadm_args_parse(int argc, char **argv, struct utgtadm_args *a, FILE *out, FILE *err)
{
	int ch;
	int rc;

	memset(a, 0, sizeof(*a));
	a->mode = -1;
	a->op = -1;
	a->tid = -1;
	a->lun = UINT64_MAX;
	a->control_port = -1;
	optind = 0;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, utgtadm_short_options, utgtadm_long_options,
				 NULL)) >= 0) {
		rc = utgtadm_opt(a, ch, optarg, out, err);
		if (rc >= 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(err, "utgtadm: unrecognized option '%s'\n", argv[optind]);
		return utgtadm_usage_error(err);
	}
	if (a->op < 0) {
		fprintf(err, "utgtadm: specify the operation type\n");
		return UTGTADM_EXIT_ERR;
	}
	if (a->mode < 0) {
		fprintf(err, "utgtadm: specify the mode\n");
		return UTGTADM_EXIT_ERR;
	}
	return utgtadm_validate(argc, argv, a, err) ? UTGTADM_EXIT_ERR : -1;
}

void utgtadm_args_socket(const struct utgtadm_args *a, char *buf, size_t size)
{
	if (a->control_socket)
		snprintf(buf, size, "%s", a->control_socket);
	else
		mgmt_socket_path_for_port(buf, size, a->control_port > 0 ? a->control_port : 0);
}
