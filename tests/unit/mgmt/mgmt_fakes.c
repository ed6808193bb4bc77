/* SPDX-License-Identifier: GPL-2.0-only */
/* Fakes for the mgmt unit tests (mgmt_fakes.h). */
#include "mgmt_fakes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lld/iscsi/iscsi.h"

static int fake_null_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	(void)path;
	*fd = -1;
	*size = 0;
	return 0;
}

static int fake_file_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	if (!path || !strcmp(path, "/nonexistent"))
		return -ENOENT;
	*fd = -1;
	*size = 64ull << 20;
	return 0;
}

static void fake_exec(struct scsi_cmd *cmd)
{
	core_cmd_good(cmd);
	core_cmd_done(cmd);
}

static int fake_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	(void)lu;
	(void)value;
	return strcmp(key, "lbppbe") ? -ENOENT : 0;
}

static const struct core_bs fake_null = { .name = "null", .open = fake_null_open };
static const struct core_bs fake_rdwr = { .name = "rdwr", .needs_path = true,
					  .open = fake_file_open };
static const struct core_devtype fake_disk = {
	.name = "disk", .show_name = "disk", .default_bs = "rdwr", .needs_path = true,
	.lu_config = fake_lu_config, .cmd_exec = fake_exec,
};
static const struct core_devtype fake_ctl = {
	.name = "controller", .show_name = "controller", .pdt = 0x0c, .default_bs = "null",
	.cmd_exec = fake_exec,
};

int fake_attach_rc;

int iscsi_target_attach(struct iscsi_lld *lld, struct core_target *tgt)
{
	(void)lld;
	(void)tgt;
	return fake_attach_rc;
}

int iscsi_target_param_set(struct core_target *tgt, const char *key, const char *value)
{
	(void)tgt;
	if (!strcasecmp(key, "MaxRecvDataSegmentLength"))
		return atoi(value) >= 512 ? 0 : -EINVAL;
	return -ENOENT;
}

void iscsi_target_param_foreach(struct core_target *tgt, iscsi_param_fn fn, void *arg)
{
	(void)tgt;
	fn("MaxRecvDataSegmentLength", "8192", arg);
	fn("HeaderDigest", "None", arg);
}

void iscsi_target_nop(struct core_target *tgt, unsigned int *interval, unsigned int *count)
{
	*interval = tgt->tid == 1 ? 5 : 0;
	*count = tgt->tid == 1 ? 3 : 0;
}

struct close_call fake_closed;

static void fake_close(struct core_nexus *n, uint32_t cid, bool all)
{
	(void)n;
	fake_closed.calls++;
	fake_closed.cid = cid;
	fake_closed.all = all;
}

const struct core_nexus_ops fake_nexus_ops = { .close = fake_close };

struct core_root *mgmt_fake_root(void)
{
	struct core_root *root;

	if (core_root_new(&root))
		return NULL;
	core_root_add_bs(root, &fake_rdwr);
	core_root_add_bs(root, &fake_null);
	core_root_add_devtype(root, &fake_disk);
	core_root_add_devtype(root, &fake_ctl);
	core_root_set_nolu(root, &fake_disk);
	return root;
}
