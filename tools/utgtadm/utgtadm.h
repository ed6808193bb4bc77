/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtadm: tgtadm's command line for utgtd. args.c parses and validates the options exactly
 * as tgtadm does (same getopt string, same messages and exit codes), request.c turns them into
 * the JSON request of docs/mgmt-protocol.md, client.c does the socket exchange, and show.c
 * renders show data in tgt's text layout. Only src/mgmt/wire.h is shared with the daemon.
 */
#ifndef UTGT_TOOLS_UTGTADM_H
#define UTGT_TOOLS_UTGTADM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes tgtadm uses and scripts rely on. */
#define UTGTADM_EXIT_OK       0
#define UTGTADM_EXIT_ERR      22  /* EINVAL: bad options or any daemon-side error */
#define UTGTADM_EXIT_NOTCONN  107 /* ENOTCONN: the daemon is not running */

struct utgtadm_args {
	int mode;                      /* enum mgmt_mode, -1 unset */
	int op;                        /* enum mgmt_op, -1 unset */
	const char *op_name;
	const char *lld;
	int tid;                       /* -1 unset */
	bool has_sid;
	uint64_t sid;
	bool has_cid;
	uint32_t cid;
	uint64_t lun;                  /* UINT64_MAX unset */
	const char *name;
	const char *value;
	const char *path;
	const char *bstype;
	const char *bsopts;
	const char *bsoflags;
	bool has_blocksize;
	uint32_t blocksize;
	const char *device_type;       /* canonical name or NULL (daemon default: disk) */
	const char *targetname;
	const char *address;
	const char *iqnname;
	const char *user;
	const char *password;
	const char *params;            /* --params after any mode but portal */
	const char *portal_params;     /* --params after --mode portal (tgt's portalOps) */
	bool has_host;
	uint32_t host_no;
	bool force;
	bool outgoing;
	int control_port;              /* -1 unset */
	const char *control_socket;
	bool json;
	bool debug;
};

/*
 * Parses argv into a (getopt_long with tgtadm's options plus --control-socket and --json) and
 * validates it as tgtadm does. Messages go to err, --help and --version to out. Returns -1 to
 * go on with the request, else the exit code to leave with.
 */
int utgtadm_args_parse(int argc, char **argv, struct utgtadm_args *a, FILE *out, FILE *err);

/* Socket path: --control-socket, else the -C port's path, else MGMT_SOCKET_DEFAULT. */
void utgtadm_args_socket(const struct utgtadm_args *a, char *buf, size_t size);

/* The JSON request for a (new reference), or NULL on ENOMEM. */
json_t *utgtadm_request_build(const struct utgtadm_args *a);

/*
 * Sends req to the daemon at path and reads the response document into *rsp. Returns 0, or
 * an exit code after printing "utgtadm: ..." to err (107 when no daemon listens).
 */
int utgtadm_client_exchange(const char *path, const json_t *req, json_t **rsp, FILE *err,
			    bool debug);

/* After a successful sys delete: waits until the daemon no longer accepts connections. */
void utgtadm_client_wait_gone(const char *path);

/*
 * Renders the data of a successful show for mode/op (has_tid: target show of one target's
 * parameters) in tgt's layout. Tolerates missing or mistyped fields. 0, or -EINVAL when data
 * has no part this mode/op renders.
 */
int utgtadm_show(FILE *out, int mode, int op, bool has_tid, const json_t *data);

/* Renders `--op stat` data as a table (stat.c). 0, or -1 when data has no targets list. */
int utgtadm_show_stat(FILE *out, const json_t *data);

/* tgt's print_disksize(): megabytes as tgtadm prints them ("%llu MB"). */
uint64_t utgtadm_show_disksize_mb(uint64_t size);

#endif
