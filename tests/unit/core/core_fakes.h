/* SPDX-License-Identifier: GPL-2.0-only */
/* Fake device type and backing store for core unit tests. */
#ifndef UTGT_TESTS_CORE_FAKES_H
#define UTGT_TESTS_CORE_FAKES_H

#include "core/core.h"

static inline int fake_bs_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	(void)path;
	*fd = -1;
	*size = 1 << 20;
	return 0;
}

static inline void fake_exec(struct scsi_cmd *cmd)
{
	core_cmd_good(cmd);
	core_cmd_done(cmd);
}

static const struct core_bs fake_bs = { .name = "fake", .open = fake_bs_open };
static const struct core_devtype fake_disk = {
	.name = "disk", .show_name = "disk", .default_bs = "fake", .cmd_exec = fake_exec,
};
static const struct core_devtype fake_ctl = {
	.name = "controller", .show_name = "controller", .pdt = 0x0c, .default_bs = "fake",
	.cmd_exec = fake_exec,
};

static inline struct core_root *fake_root(void)
{
	struct core_root *root;

	if (core_root_new(&root))
		return NULL;
	core_root_add_bs(root, &fake_bs);
	core_root_add_devtype(root, &fake_disk);
	core_root_add_devtype(root, &fake_ctl);
	core_root_set_nolu(root, &fake_disk);
	return root;
}

#endif
