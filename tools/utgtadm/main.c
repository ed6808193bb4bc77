/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtadm: main. Parses tgtadm's command line, sends one request to utgtd, prints errors as
 * "utgtadm: <message>" (exit 22) and show data in tgt's layout, or as JSON with --json.
 */
#include "utgtadm.h"

#include <stdlib.h>

#include "mgmt/wire.h"

/* Prints the outcome of rsp; returns the exit code. */
static int utgtadm_report(const struct utgtadm_args *a, const json_t *rsp)
{
	const json_t *err = json_object_get(rsp, "err");
	const json_t *data = json_object_get(rsp, "data");
	const char *msg = json_string_value(json_object_get(rsp, "msg"));
	const char *detail = json_string_value(json_object_get(rsp, "detail"));
	int code = json_is_integer(err) ? (int)json_integer_value(err) : MGMT_ERR_UNKNOWN;

	if (code != MGMT_OK) {
		fprintf(stderr, "utgtadm: %s\n", msg ? msg : mgmt_err_str(code));
		if (a->debug && detail)
			fprintf(stderr, "utgtadm: detail: %s\n", detail);
		return UTGTADM_EXIT_ERR;
	}
	/* saveconfig answers {"path", "bytes"}: silent like tgtadm's updates, unless --json */
	if (!data || (a->op == MGMT_OP_SAVECONFIG && !a->json))
		return UTGTADM_EXIT_OK;
	if (a->json) {
		if (json_dumpf(data, stdout, JSON_INDENT(2)) == 0)
			fputc('\n', stdout);
	} else if (utgtadm_show(stdout, a->mode, a->op, a->tid >= 0, data)) {
		fprintf(stderr, "utgtadm: unexpected show data from utgtd\n");
		return UTGTADM_EXIT_ERR;
	}
	return UTGTADM_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct utgtadm_args a;
	char path[256];
	json_t *req;
	json_t *rsp;
	int rc;

	rc = utgtadm_args_parse(argc, argv, &a, stdout, stderr);
	if (rc >= 0)
		return rc;
	req = utgtadm_request_build(&a);
	if (!req) {
		fprintf(stderr,
			"utgtadm: failed to create request (arguments must be UTF-8 text)\n");
		return UTGTADM_EXIT_ERR;
	}
	utgtadm_args_socket(&a, path, sizeof(path));
	rc = utgtadm_client_exchange(path, req, &rsp, stderr, a.debug);
	json_decref(req);
	if (rc)
		return rc;
	rc = utgtadm_report(&a, rsp);
	json_decref(rsp);
	if (rc == UTGTADM_EXIT_OK && a.mode == MGMT_MODE_SYSTEM && a.op == MGMT_OP_DELETE)
		utgtadm_client_wait_gone(path);
	if (fflush(stdout) != 0)
		return UTGTADM_EXIT_ERR;
	return rc;
}
