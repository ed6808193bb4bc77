/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/wire: the management protocol shared by utgtd and its tools (docs/mgmt-protocol.md).
 * A client connects to the Unix stream socket and sends one request frame; the daemon answers
 * with one response frame and closes. A frame is a 4-byte big-endian length followed by that
 * many bytes of a UTF-8 JSON object (at most MGMT_FRAME_MAX bytes).
 *
 * Error codes and messages are tgtadm's (tgtadm_error.h), so scripts written for tgt keep
 * working. This header is the only thing tools share with the daemon.
 */
#ifndef UTGT_MGMT_WIRE_H
#define UTGT_MGMT_WIRE_H

#define MGMT_FRAME_MAX      (1u << 20)
#define MGMT_SOCKET_DEFAULT "/run/utgt/utgtd.sock"

enum mgmt_err {
	MGMT_OK = 0,
	MGMT_ERR_UNKNOWN = 1,
	MGMT_ERR_NOMEM = 2,
	MGMT_ERR_NO_DRIVER = 3,
	MGMT_ERR_NO_TARGET = 4,
	MGMT_ERR_NO_LUN = 5,
	MGMT_ERR_NO_SESSION = 6,
	MGMT_ERR_NO_CONNECTION = 7,
	MGMT_ERR_NO_BINDING = 8,
	MGMT_ERR_TARGET_EXIST = 9,
	MGMT_ERR_LUN_EXIST = 10,
	MGMT_ERR_BINDING_EXIST = 11,
	MGMT_ERR_ACL_EXIST = 12,
	MGMT_ERR_ACL_NOEXIST = 13,
	MGMT_ERR_USER_EXIST = 14,
	MGMT_ERR_NO_USER = 15,
	MGMT_ERR_TOO_MANY_USER = 16,
	MGMT_ERR_INVALID_REQUEST = 17,
	MGMT_ERR_OUTACCOUNT_EXIST = 18,
	MGMT_ERR_TARGET_ACTIVE = 19,
	MGMT_ERR_LUN_ACTIVE = 20,
	MGMT_ERR_DRIVER_ACTIVE = 21,
	MGMT_ERR_UNSUPPORTED_OPERATION = 22,
	MGMT_ERR_UNKNOWN_PARAM = 23,
	MGMT_ERR_PREVENT_REMOVAL = 24,
	MGMT_ERR_MAX,
};

/*
 * Request "mode" and "op" values. Canonical names first; the aliases are tgtadm's. The
 * numbering is internal (the wire carries the names).
 */
enum mgmt_mode {
	MGMT_MODE_SYSTEM = 0,
	MGMT_MODE_TARGET,
	MGMT_MODE_LU,
	MGMT_MODE_PORTAL,
	MGMT_MODE_LLD,
	MGMT_MODE_SESSION,
	MGMT_MODE_CONN,
	MGMT_MODE_ACCOUNT,
	MGMT_MODE_MAX,
};

enum mgmt_op {
	MGMT_OP_NEW = 0,
	MGMT_OP_DELETE,
	MGMT_OP_SHOW,
	MGMT_OP_BIND,
	MGMT_OP_UNBIND,
	MGMT_OP_UPDATE,
	MGMT_OP_STAT,
	MGMT_OP_START,
	MGMT_OP_STOP,
	MGMT_OP_SAVECONFIG,            /* system: write the live configuration to a file */
	MGMT_OP_MAX,
};

#include <string.h>

/* Canonical wire name of a mode / an op, or NULL when out of range. */
static inline const char *mgmt_mode_str(int mode)
{
	static const char *const names[MGMT_MODE_MAX] = {
		"system", "target", "logicalunit", "portal", "lld", "session", "connection",
		"account",
	};
	return mode >= 0 && mode < MGMT_MODE_MAX ? names[mode] : NULL;
}

static inline const char *mgmt_op_str(int op)
{
	static const char *const names[MGMT_OP_MAX] = {
		"new", "delete", "show", "bind", "unbind", "update", "stat", "start", "stop",
		"saveconfig",
	};
	return op >= 0 && op < MGMT_OP_MAX ? names[op] : NULL;
}

/* Parses a mode name or tgtadm alias (sys, tgt, lu, pt, sess, conn); -1 when unknown. */
static inline int mgmt_mode_parse(const char *s)
{
	static const struct {
		const char *alias;
		int mode;
	} aliases[] = {
		{ "sys", MGMT_MODE_SYSTEM }, { "tgt", MGMT_MODE_TARGET }, { "lu", MGMT_MODE_LU },
		{ "pt", MGMT_MODE_PORTAL },  { "sess", MGMT_MODE_SESSION },
		{ "conn", MGMT_MODE_CONN },
	};
	unsigned int i;

	for (i = 0; i < MGMT_MODE_MAX; i++)
		if (!strcmp(s, mgmt_mode_str((int)i)))
			return (int)i;
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcmp(s, aliases[i].alias))
			return aliases[i].mode;
	return -1;
}

/* Parses an op name; -1 when unknown. */
static inline int mgmt_op_parse(const char *s)
{
	unsigned int i;

	for (i = 0; i < MGMT_OP_MAX; i++)
		if (!strcmp(s, mgmt_op_str((int)i)))
			return (int)i;
	return -1;
}

/*
 * Socket path for tgt's -C/--control-port N: the default path for N = 0, else
 * "<default>.N". Writes at most size bytes; returns snprintf's result.
 */
#include <stdio.h>
static inline int mgmt_socket_path_for_port(char *buf, unsigned long size, int port)
{
	if (port == 0)
		return snprintf(buf, size, "%s", MGMT_SOCKET_DEFAULT);
	return snprintf(buf, size, "%s.%d", MGMT_SOCKET_DEFAULT, port);
}

/* tgtadm's wording for each code. */
static inline const char *mgmt_err_str(int err)
{
	static const char *const msgs[MGMT_ERR_MAX] = {
		"success",
		"unknown error",
		"out of memory",
		"can't find the driver",
		"can't find the target",
		"can't find the logical unit",
		"can't find the session",
		"can't find the connection",
		"can't find the binding",
		"this target already exists",
		"this logical unit number already exists",
		"this binding already exists",
		"this access control rule already exists",
		"this access control rule does not exist",
		"this account already exists",
		"can't find the account",
		"too many accounts",
		"invalid request",
		"this target already has an outgoing account",
		"this target is still active",
		"this logical unit is still active",
		"this driver is busy",
		"this operation isn't supported",
		"unknown parameter",
		"this device has Prevent Removal set",
	};
	if (err < 0 || err >= MGMT_ERR_MAX)
		return "unknown error";
	return msgs[err];
}

#endif
