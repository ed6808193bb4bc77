/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fakes for the mgmt unit tests: a core_root with fake device types ("disk", "controller")
 * and backing stores ("rdwr" needing a path, "null"), the iSCSI target functions mgmt calls
 * (the tests do not link the driver), and nexus ops that record close requests.
 */
#ifndef UTGT_TESTS_MGMT_FAKES_H
#define UTGT_TESTS_MGMT_FAKES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

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

#endif
