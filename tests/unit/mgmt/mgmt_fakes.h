/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fakes for the mgmt unit tests: a core_root with fake device types ("disk", "controller")
 * and backing stores ("rdwr" needing a path, "null"), the iSCSI target functions mgmt calls
 * (the tests do not link the driver), nexus ops that record close requests, and a
 * mgmt_server without a socket to run requests through mgmt_handle_json.
 */
#ifndef UTGT_TESTS_MGMT_FAKES_H
#define UTGT_TESTS_MGMT_FAKES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"
#include "mgmt/mgmt_int.h"

/* Returned by the fake iscsi_target_attach. */
extern int fake_attach_rc;

struct close_call {
	unsigned int calls;
	uint32_t cid;
	bool all;
};

/* The last nexus close asked for through fake_nexus_ops. */
extern struct close_call fake_closed;
extern const struct core_nexus_ops fake_nexus_ops;

/* A root with the fake types registered, or NULL. */
struct core_root *mgmt_fake_root(void);

/*
 * Fills srv (zeroed) for mgmt_handle_json: a fake root, a token for the driver (never
 * dereferenced by the fakes), no socket; resets the fakes' state. 0, or -1.
 */
int mgmt_fake_server_init(struct mgmt_server *srv);

/* Frees the root and the --params kept for saveconfig. */
void mgmt_fake_server_fini(struct mgmt_server *srv);

/* Runs one request; the raw response text (caller frees). Fails the test without one. */
char *mgmt_fake_call_raw(struct mgmt_server *srv, const char *req);

/* Runs one request; the parsed response (caller decrefs). Fails the test without one. */
json_t *mgmt_fake_call(struct mgmt_server *srv, const char *req);

/* The "err" code of a response. */
int mgmt_fake_err(const json_t *rsp);

/* A response's data.<key>, and item i of the list data.<key>; NULL when absent. */
json_t *mgmt_fake_data(const json_t *rsp, const char *key);
json_t *mgmt_fake_data_at(const json_t *rsp, const char *key, size_t i);

/* The handler tests' fixture: mgmt_fake_setup/mgmt_fake_teardown as cmocka setup/teardown. */
struct mgmt_fixture {
	struct mgmt_server srv;
};

int mgmt_fake_setup(void **state);
int mgmt_fake_teardown(void **state);

#endif
