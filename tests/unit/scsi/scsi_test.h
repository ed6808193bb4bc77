/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fixture for the scsi unit tests: a real core (root, target, nexus, LUs) with the real device
 * types, a fake backing store that records cmd->io and executes it on an in-memory medium
 * (or holds it for the test to complete), an optional "held" store for a LUN 2 whose jobs the
 * test steps through, and helpers to run one CDB (on fx->cmd or the test's own) and check it.
 */
#ifndef UTGT_TESTS_SCSI_TEST_H
#define UTGT_TESTS_SCSI_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "scsi/scsi.h"

#define FX_BLOCKS  2048u              /* 1 MiB medium of 512-byte blocks */
#define FX_BUF_MAX (2u << 20)

struct fx {
	struct reactor *r;
	struct core_root *root;
	struct core_target *tgt;
	struct core_nexus *nexus;
	struct core_nexus *other;       /* a second I_T nexus, for unit attentions */
	struct core_lu *disk;           /* LUN 1 */
	struct core_lu *ctl;            /* LUN 0 */
	struct scsi_cmd cmd;
	uint8_t *buf;                   /* FX_BUF_MAX bytes */
	uint8_t *medium;                /* FX_BLOCKS * 512 bytes */
	unsigned int done;              /* cmd->done calls */
	unsigned int submits;           /* backing-store submissions */
	struct core_io io;              /* the last submission */
	bool hold;                      /* leave submissions for fx_complete() */
	bool force;                     /* complete with force_res instead of executing */
	int64_t force_res;
	struct scsi_cmd *held;          /* the held store's submission in flight (fx_held_setup) */
	uint8_t *held_medium;           /* FX_HELD_BLOCKS * 512 bytes */
	unsigned int held_submits;
};

static struct fx *fx_cur;

static inline void fx_io_run(struct scsi_cmd *cmd)
{
	struct core_io *io = &cmd->io;
	int64_t res = (int64_t)io->length;

	if (fx_cur->force)
		res = fx_cur->force_res;
	else if (io->op == CORE_IO_READ)
		memcpy(io->buf, fx_cur->medium + io->offset, io->length);
	else if (io->op == CORE_IO_WRITE)
		memcpy(fx_cur->medium + io->offset, io->buf, io->length);
	else if (io->op == CORE_IO_UNMAP)
		memset(fx_cur->medium + io->offset, 0, io->length);
	io->done(cmd, res);
}

static inline void fx_bs_submit(struct scsi_cmd *cmd)
{
	assert_ptr_equal(cmd->reactor, fx_cur->r);
	fx_cur->submits++;
	fx_cur->io = cmd->io;
	if (!fx_cur->hold)
		fx_io_run(cmd);
}

static inline int fx_bs_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	*fd = -1;
	*size = path ? (uint64_t)FX_BLOCKS * 512 : 0;
	return 0;
}

static const struct core_bs fx_bs = {
	.name = "fake", .needs_path = true, .open = fx_bs_open, .submit = fx_bs_submit,
};
static const struct core_bs fx_null = {
	.name = "null", .open = fx_bs_open, .submit = fx_bs_submit,
};

static inline void fx_nexus_close(struct core_nexus *n, uint32_t cid, bool all)
{
	(void)n;
	(void)cid;
	(void)all;
}

static const struct core_nexus_ops fx_nexus_ops = { .close = fx_nexus_close };

static inline void fx_done(struct scsi_cmd *cmd)
{
	(void)cmd;
	fx_cur->done++;
}

static inline int fx_setup(void **state)
{
	struct core_lu_params p = { .device_type = "disk", .bstype = "fake", .path = "/fake" };
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx_cur = fx;
	assert_int_equal(reactor_new(&fx->r, 0, 0), 0);
	assert_int_equal(core_root_new(&fx->root), 0);
	core_root_add_bs(fx->root, &fx_bs);
	core_root_add_bs(fx->root, &fx_null);
	scsi_register_all(fx->root);
	assert_int_equal(core_target_new(fx->root, 1, "iqn.2026-11.org.utgt:t1", &fx->tgt), 0);
	assert_int_equal(core_lu_new(fx->tgt, 1, &p, &fx->disk), 0);
	fx->ctl = core_lu_find(fx->tgt, 0);
	assert_non_null(fx->ctl);
	assert_int_equal(core_nexus_new(fx->tgt, 1, "iqn.test:a", &fx_nexus_ops, &fx->nexus), 0);
	assert_int_equal(core_nexus_new(fx->tgt, 2, "iqn.test:b", &fx_nexus_ops, &fx->other), 0);
	core_ua_clear(fx->nexus);
	core_ua_clear(fx->other);
	fx->buf = aligned_alloc(4096, FX_BUF_MAX);
	fx->medium = calloc(FX_BLOCKS, 512);
	assert_non_null(fx->buf);
	assert_non_null(fx->medium);
	*state = fx;
	return 0;
}

/*
 * A second store for LUN 2 (FX_HELD_BLOCKS blocks) that keeps each submission until
 * fx_held_complete(): one request in flight, so a test can look at a job between its steps.
 */
#define FX_HELD_BLOCKS 8192u            /* 4 MiB */

static inline void fx_held_submit(struct scsi_cmd *cmd)
{
	assert_null(fx_cur->held);
	fx_cur->held = cmd;
	fx_cur->held_submits++;
}

static inline int fx_held_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	(void)path;
	*fd = -1;
	*size = (uint64_t)FX_HELD_BLOCKS * 512;
	return 0;
}

static const struct core_bs fx_held_bs = {
	.name = "held", .needs_path = true, .open = fx_held_open, .submit = fx_held_submit,
};

/* Executes the held submission on the held medium and completes it. */
static inline void fx_held_complete(struct fx *fx)
{
	struct scsi_cmd *cmd = fx->held;
	struct core_io *io;

	assert_non_null(cmd);
	io = &cmd->io;
	fx->held = NULL;
	if (io->op == CORE_IO_READ)
		memcpy(io->buf, fx->held_medium + io->offset, io->length);
	else if (io->op == CORE_IO_WRITE)
		memcpy(fx->held_medium + io->offset, io->buf, io->length);
	else if (io->op == CORE_IO_UNMAP)
		memset(fx->held_medium + io->offset, 0, io->length);
	io->done(cmd, (int64_t)io->length);
}

/* fx_setup plus a disk at LUN 2 on the held store, its medium filled with fill. */
static inline int fx_held_setup(void **state, uint8_t fill)
{
	struct core_lu_params p = { .device_type = "disk", .bstype = "held", .path = "/held" };
	struct fx *fx;

	fx_setup(state);
	fx = *state;
	core_root_add_bs(fx->root, &fx_held_bs);
	assert_int_equal(core_lu_new(fx->tgt, 2, &p, NULL), 0);
	fx->held_medium = malloc((size_t)FX_HELD_BLOCKS * 512);
	assert_non_null(fx->held_medium);
	memset(fx->held_medium, fill, (size_t)FX_HELD_BLOCKS * 512);
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *fx = *state;

	core_nexus_free(fx->nexus);
	core_nexus_free(fx->other);
	core_root_free(fx->root);
	reactor_free(fx->r);
	free(fx->buf);
	free(fx->medium);
	free(fx->held_medium);
	free(fx);
	fx_cur = NULL;
	return 0;
}

static inline void fx_noop_done(struct scsi_cmd *cmd)
{
	(void)cmd;
}

/*
 * Fills c for one CDB on LUN lun over buf: buf_len bytes (also the EDTL), out_len of them
 * Data-Out; its done does nothing.
 */
static inline void fx_cmd_prep(struct fx *fx, struct scsi_cmd *c, uint64_t lun,
			       const uint8_t *cdb, size_t cdb_len, uint8_t *buf, uint32_t buf_len,
			       uint32_t out_len)
{
	memset(c, 0, sizeof(*c));
	c->reactor = fx->r;
	c->nexus = fx->nexus;
	c->lu = core_lu_get(fx->tgt, lun);
	c->lun = lun;
	c->cdb = cdb;
	c->cdb_len = (uint16_t)cdb_len;
	c->dir = out_len ? SCSI_DIR_WRITE : SCSI_DIR_READ;
	c->buf = buf;
	c->buf_len = buf_len;
	c->edtl = buf_len;
	c->out_len = out_len;
	c->done = fx_noop_done;
}

/* Runs c through its LU's device type (an absent LUN goes to the nolu handler). */
static inline void fx_cmd_exec(struct scsi_cmd *c)
{
	if (c->lu)
		c->lu->dt->cmd_exec(c);
	else
		scsi_nolu.cmd_exec(c);
}

/*
 * Runs one CDB on LUN lun through the device type's cmd_exec, outside core_cmd_submit, so
 * completion is immediate unless held.
 * buf_len bytes of buffer (also the EDTL); out_len bytes of it are Data-Out.
 */
static inline struct scsi_cmd *fx_run(struct fx *fx, uint64_t lun, const uint8_t *cdb,
				      size_t cdb_len, uint32_t buf_len, uint32_t out_len)
{
	struct scsi_cmd *cmd = &fx->cmd;

	assert_true(buf_len <= FX_BUF_MAX);
	fx_cmd_prep(fx, cmd, lun, cdb, cdb_len, fx->buf, buf_len, out_len);
	cmd->done = fx_done;
	fx->done = 0;
	fx->submits = 0;
	fx_cmd_exec(cmd);
	return cmd;
}

/* Runs one CDB on a command of the test's own (fx->cmd may be busy with a job). */
static inline void fx_run_on(struct fx *fx, struct scsi_cmd *c, uint64_t lun, const uint8_t *cdb,
			     size_t cdb_len, uint8_t *buf, uint32_t buf_len, uint32_t out_len)
{
	fx_cmd_prep(fx, c, lun, cdb, cdb_len, buf, buf_len, out_len);
	fx_cmd_exec(c);
}

/* Completes a held backing-store submission. */
static inline void fx_complete(struct fx *fx)
{
	fx_io_run(&fx->cmd);
}

static inline void fx_assert_good(const struct fx *fx)
{
	if (fx->cmd.status)
		print_error("sense %02x/%02x/%02x\n", fx->cmd.sense[2] & 0x0f, fx->cmd.sense[12],
			    fx->cmd.sense[13]);
	assert_int_equal(fx->done, 1);
	assert_int_equal(fx->cmd.status, SAM_STAT_GOOD);
}

/* fx_run, then fx_assert_good. */
static inline void fx_run_good(struct fx *fx, uint64_t lun, const uint8_t *cdb, size_t cdb_len,
			       uint32_t buf_len, uint32_t out_len)
{
	fx_run(fx, lun, cdb, cdb_len, buf_len, out_len);
	fx_assert_good(fx);
}

/* Checks CHECK CONDITION with key and 0xAAQQ in fixed-format sense. */
static inline void fx_assert_sense(const struct fx *fx, uint8_t key, uint16_t asc_ascq)
{
	const struct scsi_cmd *cmd = &fx->cmd;

	assert_int_equal(fx->done, 1);
	assert_int_equal(cmd->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(cmd->sense[0] & 0x7f, 0x70);
	assert_int_equal(cmd->sense[2] & 0x0f, key);
	assert_int_equal((cmd->sense[12] << 8) | cmd->sense[13], asc_ascq);
}

/* Checks INVALID FIELD IN CDB pointing at byte (and bit, or -1). */
static inline void fx_assert_field(const struct fx *fx, uint16_t byte, int bit)
{
	const uint8_t *s = fx->cmd.sense;

	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(s[15] & 0xc0, 0xc0);              /* SKSV, C/D */
	assert_int_equal(!!(s[15] & 0x08), bit >= 0);      /* BPV */
	if (bit >= 0)
		assert_int_equal(s[15] & 0x07, bit);
	assert_int_equal((s[16] << 8) | s[17], byte);
}

#endif
