/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * null: a store without storage, for benchmarking the target itself. Writes are discarded,
 * reads return zeroes (never the buffer's previous contents), and the LU is 1 TiB unless
 * --bsopts "size=BYTES" says otherwise; the path, if any, is only a name (as in tgt).
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BS_NULL_SIZE_DEFAULT (1ULL << 40)
#define BS_NULL_SIZE_MAX     (1ULL << 62)

struct bs_null_lu {
	uint64_t size;           /* bytes reported by open */
};

static int bs_null_opt_size(void *opts, const char *value)
{
	struct bs_null_lu *nl = opts;

	return str_to_u64(value, 4096, BS_NULL_SIZE_MAX, &nl->size);
}

static const struct bs_opt bs_null_opts[] = {
	{ "size", bs_null_opt_size },
};

static int bs_null_init(struct core_lu *lu, const char *bsopts)
{
	struct bs_null_lu *nl = calloc(1, sizeof(*nl));
	int ret;

	if (!nl)
		return -ENOMEM;
	nl->size = BS_NULL_SIZE_DEFAULT;
	ret = bs_opts_parse(bsopts, bs_null_opts, ARRAY_SIZE(bs_null_opts), nl, "null");
	if (ret < 0) {
		free(nl);
		return ret;
	}
	bs_priv_set(lu, nl);
	return 0;
}

static int bs_null_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	const struct bs_null_lu *nl = bs_priv(lu);

	(void)path;
	*fd = -1;
	*size = nl ? nl->size : BS_NULL_SIZE_DEFAULT;
	return 0;
}

static void bs_null_submit(struct scsi_cmd *cmd)
{
	struct core_io *io = &cmd->io;
	int64_t res = (int64_t)io->length;

	if (io->op > CORE_IO_WRITE_ZEROES)
		res = -EOPNOTSUPP;
	else if (io->op == CORE_IO_READ && io->length)
		memset(io->buf, 0, io->length);
	bs_cmd_complete_later(cmd, res, false);
}

static void bs_null_close(struct core_lu *lu)
{
	(void)lu;
}

static void bs_null_exit(struct core_lu *lu)
{
	free(bs_priv(lu));
	bs_priv_set(lu, NULL);
}

const struct core_bs bs_null = {
	.name = "null",
	.needs_path = false,
	.init = bs_null_init,
	.open = bs_null_open,
	.submit = bs_null_submit,
	.close = bs_null_close,
	.exit = bs_null_exit,
};
