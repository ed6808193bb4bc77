/* SPDX-License-Identifier: GPL-2.0-only */
/* Private to core/: the root object and helpers shared by the core's files. */
#ifndef UTGT_CORE_CORE_INT_H
#define UTGT_CORE_CORE_INT_H

#include "core/core.h"

#define CORE_MAX_DEVTYPES 16
#define CORE_MAX_BS       16

struct core_root {
	pthread_mutex_t lock;          /* targets */
	struct list_head targets;      /* struct core_target, ascending tid */
	atomic_bool ready;
	const struct core_devtype *devtypes[CORE_MAX_DEVTYPES];
	unsigned int nr_devtypes;
	const struct core_bs *bss[CORE_MAX_BS];
	unsigned int nr_bs;
	const struct core_devtype *nolu;
	char *state_dir;               /* persistent state (APTPL), or NULL */
	pthread_mutex_t acct_lock;     /* accounts (account.c) */
	struct list_head accounts;     /* struct core_account */
	unsigned int nr_accounts;
	uint16_t ports[CORE_PORTS_MAX]; /* TPGTs, ascending (lock) */
	unsigned int nr_ports;
};

/* Wipes and frees every account (root teardown). */
void core_account_free_all(struct core_root *root);

void core_target_free(struct core_target *tgt);
/* A target's ALUA state: defaults (type both, every group active/optimized), teardown. */
void core_alua_init(struct core_alua *a);
void core_alua_fini(struct core_alua *a);
void core_lu_free(struct core_lu *lu);
/* order.c: the command path's task set and interlock hooks, and nexus teardown. */
bool core_order_admit(struct scsi_cmd *cmd);
/* Runs an enabled command: unit attentions, then the device type (cmd.c). */
void core_cmd_start(struct scsi_cmd *cmd);
void core_order_done(struct scsi_cmd *cmd);
void core_order_nexus_fini(struct core_nexus *n);

#endif
