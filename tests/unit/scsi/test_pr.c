/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scsi/pr.c: the persistent reservation state machine (REGISTER, RESERVE, RELEASE, CLEAR,
 * PREEMPT for the six types, unit attentions), the access table, APTPL save/restore, and the
 * PR/RESERVE commands through the dispatcher with two I_T nexuses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "scsi_test.h"

#include "scsi/scsi_int.h"

#define A "iqn.a,i,0x000000000001"
#define B "iqn.b,i,0x000000000002"
#define C "iqn.c,i,0x000000000003"

struct ua_log {
	unsigned int n;
	char tid[8][SCSI_PR_TID_MAX];
	uint16_t asc[8];
};

static void log_ua(void *arg, const char *tid, uint16_t asc)
{
	struct ua_log *l = arg;

	if (l->n < 8) {
		snprintf(l->tid[l->n], sizeof(l->tid[0]), "%s", tid);
		l->asc[l->n] = asc;
	}
	l->n++;
}

static int out(struct scsi_pr *pr, struct ua_log *l, const char *tid, uint8_t sa, uint8_t type,
	       uint64_t key, uint64_t sa_key)
{
	return scsi_pr_out(pr, tid, sa, type, key, sa_key, false, log_ua, l);
}

/* Registers the first n of A, B, C under the keys 0xa, 0xb, 0xc. */
static void reg_n(struct scsi_pr *pr, struct ua_log *l, unsigned int n)
{
	static const char *const tid[] = { A, B, C };
	unsigned int i;

	for (i = 0; i < n; i++)
		assert_int_equal(out(pr, l, tid[i], 0, 0, 0, 0xa + i), SAM_STAT_GOOD);
}

static void test_register_and_keys(void **state)
{
	struct scsi_pr pr;
	struct ua_log l = { 0 };

	(void)state;
	scsi_pr_init(&pr);
	/* registering with a non-zero reservation key while unregistered: conflict */
	assert_int_equal(out(&pr, &l, A, 0, 0, 5, 0xa), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(out(&pr, &l, A, 0, 0, 0, 0xa), SAM_STAT_GOOD);
	assert_int_equal(pr.nr_regs, 1);
	assert_int_equal(pr.generation, 1);
	/* wrong key for a registered nexus: conflict; REGISTER AND IGNORE ignores it */
	assert_int_equal(out(&pr, &l, A, 0, 0, 0xb, 0xc), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(out(&pr, &l, A, 6, 0, 0xb, 0xc), SAM_STAT_GOOD);
	assert_int_equal(pr.regs[0].key, 0xc);
	/* unregister with service action key 0 */
	assert_int_equal(out(&pr, &l, A, 0, 0, 0xc, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.nr_regs, 0);
	assert_int_equal(l.n, 0);
	scsi_pr_fini(&pr);
}

static void test_reserve_release_and_access(void **state)
{
	struct scsi_pr pr;
	struct ua_log l = { 0 };

	(void)state;
	scsi_pr_init(&pr);
	reg_n(&pr, &l, 2);
	/* unregistered C cannot reserve; a bad type is refused */
	assert_int_equal(out(&pr, &l, C, 1, SCSI_PR_WE, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(out(&pr, &l, A, 1, 2, 0xa, 0), -ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(out(&pr, &l, A, 1, SCSI_PR_WE, 0xa, 0), SAM_STAT_GOOD);
	assert_int_equal(out(&pr, &l, A, 1, SCSI_PR_WE, 0xa, 0), SAM_STAT_GOOD);
	assert_int_equal(out(&pr, &l, B, 1, SCSI_PR_WE, 0xb, 0), SAM_STAT_RESERVATION_CONFLICT);
	/* write exclusive: others read, do not write */
	assert_true(scsi_pr_allows(&pr, A, true));
	assert_true(scsi_pr_allows(&pr, B, false));
	assert_false(scsi_pr_allows(&pr, B, true));
	assert_false(scsi_pr_allows(&pr, C, true));
	/* release with another type: INVALID RELEASE; by a non-holder: nothing */
	assert_int_equal(out(&pr, &l, A, 2, SCSI_PR_EA, 0xa, 0), -0x2604);
	assert_int_equal(out(&pr, &l, B, 2, SCSI_PR_WE, 0xb, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.type, SCSI_PR_WE);
	assert_int_equal(out(&pr, &l, A, 2, SCSI_PR_WE, 0xa, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.type, 0);
	assert_int_equal(l.n, 0); /* WE release raises no unit attention */
	scsi_pr_fini(&pr);
}

static void test_access_table(void **state)
{
	static const struct {
		uint8_t type;
		bool reg_read, reg_write, other_read, other_write;
	} t[] = {
		{ SCSI_PR_WE, true, false, true, false },
		{ SCSI_PR_EA, false, false, false, false },
		{ SCSI_PR_WE_RO, true, true, true, false },
		{ SCSI_PR_EA_RO, true, true, false, false },
		{ SCSI_PR_WE_AR, true, true, true, false },
		{ SCSI_PR_EA_AR, true, true, false, false },
	};
	struct ua_log l = { 0 };
	struct scsi_pr pr;
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		scsi_pr_init(&pr);
		reg_n(&pr, &l, 2);
		assert_int_equal(out(&pr, &l, A, 1, t[i].type, 0xa, 0), SAM_STAT_GOOD);
		assert_true(scsi_pr_allows(&pr, A, true));
		assert_int_equal(scsi_pr_allows(&pr, B, false), t[i].reg_read);
		assert_int_equal(scsi_pr_allows(&pr, B, true), t[i].reg_write);
		assert_int_equal(scsi_pr_allows(&pr, C, false), t[i].other_read);
		assert_int_equal(scsi_pr_allows(&pr, C, true), t[i].other_write);
		scsi_pr_fini(&pr);
	}
}

static void test_preempt_and_clear_raise_unit_attentions(void **state)
{
	struct scsi_pr pr;
	struct ua_log l = { 0 };

	(void)state;
	scsi_pr_init(&pr);
	reg_n(&pr, &l, 3);
	out(&pr, &l, A, 1, SCSI_PR_WE_RO, 0xa, 0);
	/* B preempts the holder A: A's registration goes, B holds with a new type */
	assert_int_equal(out(&pr, &l, B, 4, SCSI_PR_EA, 0xb, 0xa), SAM_STAT_GOOD);
	assert_int_equal(pr.nr_regs, 2);
	assert_int_equal(scsi_pr_find(&pr, A), -1);
	assert_true(scsi_pr_is_holder(&pr, scsi_pr_find(&pr, B)));
	assert_int_equal(pr.type, SCSI_PR_EA);
	assert_string_equal(l.tid[0], A);
	assert_int_equal(l.asc[0], ASC_REGISTRATIONS_PREEMPTED);
	assert_string_equal(l.tid[1], C);
	assert_int_equal(l.asc[1], ASC_RESERVATIONS_RELEASED);
	/* preempting a key nobody has: conflict; key 0 outside AR: invalid field */
	assert_int_equal(out(&pr, &l, B, 4, SCSI_PR_EA, 0xb, 0x99), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(out(&pr, &l, B, 4, SCSI_PR_EA, 0xb, 0), -ASC_INVALID_FIELD_IN_PARAM);
	/* CLEAR: every other registrant gets RESERVATIONS PREEMPTED */
	l.n = 0;
	assert_int_equal(out(&pr, &l, C, 3, 0, 0xc, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.nr_regs, 0);
	assert_int_equal(pr.type, 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.tid[0], B);
	assert_int_equal(l.asc[0], ASC_RESERVATIONS_PREEMPTED);
	scsi_pr_fini(&pr);
}

static void test_all_registrants(void **state)
{
	struct scsi_pr pr;
	struct ua_log l = { 0 };

	(void)state;
	scsi_pr_init(&pr);
	reg_n(&pr, &l, 2);
	assert_int_equal(out(&pr, &l, A, 1, SCSI_PR_EA_AR, 0xa, 0), SAM_STAT_GOOD);
	assert_true(scsi_pr_is_holder(&pr, scsi_pr_find(&pr, B)));
	/* the reservation stays while a registrant is left */
	assert_int_equal(out(&pr, &l, A, 0, 0, 0xa, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.type, SCSI_PR_EA_AR);
	assert_int_equal(out(&pr, &l, B, 0, 0, 0xb, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.type, 0);
	/* PREEMPT with key 0 under AR removes everybody else and reserves anew */
	reg_n(&pr, &l, 2);
	out(&pr, &l, A, 1, SCSI_PR_WE_AR, 0xa, 0);
	assert_int_equal(out(&pr, &l, B, 4, SCSI_PR_WE, 0xb, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.nr_regs, 1);
	assert_int_equal(pr.type, SCSI_PR_WE);
	scsi_pr_fini(&pr);
}

static void test_aptpl_state_file_is_restored(void **state)
{
	char path[] = "/tmp/utgt-pr-XXXXXX";
	struct scsi_pr pr;
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "utgt-pr 1\ngeneration 7\ntype 3\nreg 000000000000000a 1 %s\n"
		   "reg 000000000000000b 0 %s\nbogus line\n", A, B);
	fclose(f);
	scsi_pr_init(&pr);
	assert_int_equal(scsi_pr_load(&pr, path), 0);
	assert_int_equal(pr.generation, 7);
	assert_int_equal(pr.type, SCSI_PR_EA);
	assert_int_equal(pr.nr_regs, 2);
	assert_true(pr.aptpl);
	assert_true(scsi_pr_is_holder(&pr, scsi_pr_find(&pr, A)));
	assert_false(scsi_pr_allows(&pr, B, false));
	assert_true(atomic_load(&pr.active));
	scsi_pr_fini(&pr);
	unlink(path);
	scsi_pr_init(&pr);
	assert_int_equal(scsi_pr_load(&pr, path), 0); /* absent file: nothing */
	assert_int_equal(pr.nr_regs, 0);
	scsi_pr_fini(&pr);
}

/* ---- through the dispatcher ---- */

static void param(uint8_t *p, uint64_t key, uint64_t sa_key)
{
	memset(p, 0, 24);
	put_be64(p, key);
	put_be64(&p[8], sa_key);
}

/* PR OUT through the dispatcher with plen bytes of parameter list already in fx->buf. */
static void pr_out_run(struct fx *fx, uint8_t sa, uint8_t type, uint32_t plen)
{
	uint8_t c[10] = { 0x5f, sa, type };

	put_be32(&c[5], plen);
	fx_run(fx, 1, c, 10, plen, plen);
}

/* PR OUT with the basic 24-byte parameter list: reservation key, service action key. */
static void pr_out_keys(struct fx *fx, uint8_t sa, uint8_t type, uint64_t key, uint64_t sa_key)
{
	param(fx->buf, key, sa_key);
	pr_out_run(fx, sa, type, 24);
}

/* The TransportIDs of fx's two nexuses. */
static void set_tids(struct fx *fx, const char *me, const char *other)
{
	snprintf(fx->nexus->transport_id, sizeof(fx->nexus->transport_id), "%s", me);
	snprintf(fx->other->transport_id, sizeof(fx->other->transport_id), "%s", other);
}

static void test_commands_conflict_for_the_other_nexus(void **state)
{
	struct fx *fx = *state;
	struct core_nexus *me = fx->nexus;
	uint8_t c[16], rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

	set_tids(fx, A, B);
	/* consume the power-on unit attentions of both nexuses */
	fx_run(fx, 1, rd, 10, 512, 0);
	fx->nexus = fx->other;
	fx_run(fx, 1, rd, 10, 512, 0);
	fx->nexus = me;
	pr_out_keys(fx, 0, 0, 0, 0x1234);
	fx_assert_good(fx);
	pr_out_keys(fx, 1, SCSI_PR_EA, 0x1234, 0);
	fx_assert_good(fx);
	fx_run_good(fx, 1, rd, 10, 512, 0);
	fx->nexus = fx->other;
	fx_run(fx, 1, rd, 10, 512, 0);
	assert_int_equal(fx->cmd.status, SAM_STAT_RESERVATION_CONFLICT);
	/* INQUIRY always runs */
	memset(c, 0, 6);
	c[0] = 0x12;
	c[4] = 36;
	fx_run_good(fx, 1, c, 6, 36, 0);
	/* PR OUT with a bad parameter list length */
	pr_out_run(fx, 0, 0, 20);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
	/* RESERVE(6) under a persistent reservation: conflict */
	memset(c, 0, 6);
	c[0] = 0x16;
	fx_run(fx, 1, c, 6, 0, 0);
	assert_int_equal(fx->cmd.status, SAM_STAT_RESERVATION_CONFLICT);
	fx->nexus = me;
}

static void test_pr_in_read_keys_and_capabilities(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	snprintf(fx->nexus->transport_id, sizeof(fx->nexus->transport_id), "%s", A);
	memset(c, 0, 10);
	c[0] = 0x12;
	c[4] = 36;
	fx_run(fx, 1, c, 6, 36, 0); /* power-on unit attention */
	pr_out_keys(fx, 0, 0, 0, 0x77);
	fx_assert_good(fx);
	memset(c, 0, 10);
	c[0] = 0x5e;
	c[8] = 64;
	fx_run_good(fx, 1, c, 10, 64, 0);
	assert_int_equal(get_be32(&fx->buf[4]), 8);
	assert_int_equal(get_be64(&fx->buf[8]), 0x77);
	c[1] = 2;
	fx_run_good(fx, 1, c, 10, 64, 0);
	assert_int_equal(get_be16(fx->buf), 8);
	c[1] = 9; /* unknown service action */
	fx_run(fx, 1, c, 10, 64, 0);
	fx_assert_field(fx, 1, 4);
}

/* ---- TransportIDs, SPEC_I_PT, REGISTER AND MOVE ---- */

/* Builds an iSCSI TransportID of format fmt for name into d; returns its length. */
static size_t tid_build(uint8_t *d, uint8_t fmt, const char *name)
{
	size_t n = strlen(name) + 1;

	n = (n + 3) & ~(size_t)3;
	memset(d, 0, 4 + n);
	d[0] = (uint8_t)(fmt << 6 | 0x5);
	put_be16(&d[2], (uint16_t)n);
	memcpy(&d[4], name, strlen(name));
	return 4 + n;
}

static void test_transport_id_parse(void **state)
{
	char out[SCSI_PR_TID_MAX];
	uint8_t d[512];
	size_t len, used;

	(void)state;
	len = tid_build(d, 1, "iqn.x,I,0X0023A");
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), 0);
	assert_int_equal(used, len);
	assert_string_equal(out, "iqn.x,i,0x00000000023a");
	len = tid_build(d, 0, "iqn.x");
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), 0);
	assert_string_equal(out, "iqn.x");
	/* truncated, other protocol, other format, no ISID, bad hex, not terminated */
	assert_int_equal(scsi_pr_tid_parse(d, len - 1, out, sizeof(out), &used), -EINVAL);
	assert_int_equal(scsi_pr_tid_parse(d, 3, out, sizeof(out), &used), -EINVAL);
	d[0] = 0x04;
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), -EINVAL);
	d[0] = 0x85;
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), -EINVAL);
	len = tid_build(d, 1, "iqn.x");
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), -EINVAL);
	len = tid_build(d, 1, "iqn.x,i,0x12g4");
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), -EINVAL);
	len = tid_build(d, 1, "iqn.x,i,0x0123456789abc");
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), -EINVAL);
	len = tid_build(d, 0, "iqn.abc");
	d[4 + 7] = 'd'; /* fills the 8-byte field: no terminating NUL */
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), -EINVAL);
	put_be16(&d[2], 6); /* not a multiple of 4 */
	assert_int_equal(scsi_pr_tid_parse(d, len, out, sizeof(out), &used), -EINVAL);
	/* a name registration covers every port of the initiator */
	assert_true(scsi_pr_tid_covers("iqn.a", A));
	assert_false(scsi_pr_tid_covers("iqn.b", A));
	assert_false(scsi_pr_tid_covers(B, A));
	assert_true(scsi_pr_tid_covers(A, A));
}

static void test_spec_i_pt_registers_all_or_nothing(void **state)
{
	char tids[3][SCSI_PR_TID_MAX] = { B, "iqn.c", B };
	struct scsi_pr pr;
	struct ua_log l = { 0 };

	(void)state;
	scsi_pr_init(&pr);
	/* a registered nexus may not use SPEC_I_PT; the wrong key is a conflict first */
	out(&pr, &l, C, 0, 0, 0, 0xc);
	assert_int_equal(scsi_pr_register_spec(&pr, C, 0xd, 0xe, false,
					       (const char (*)[SCSI_PR_TID_MAX])tids, 1),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(scsi_pr_register_spec(&pr, C, 0xc, 0xe, false,
					       (const char (*)[SCSI_PR_TID_MAX])tids, 1),
			 -ASC_INVALID_FIELD_IN_CDB);
	/* a TransportID that is already registered: nothing happens */
	snprintf(tids[1], sizeof(tids[1]), "%s", C);
	assert_int_equal(scsi_pr_register_spec(&pr, A, 0, 0xa, false,
					       (const char (*)[SCSI_PR_TID_MAX])tids, 2),
			 -ASC_INVALID_FIELD_IN_PARAM);
	assert_int_equal(pr.nr_regs, 1);
	/* A registers itself, B (listed twice) and every port of iqn.c2 */
	snprintf(tids[1], sizeof(tids[1]), "iqn.c2");
	assert_int_equal(scsi_pr_register_spec(&pr, A, 0, 0xa, false,
					       (const char (*)[SCSI_PR_TID_MAX])tids, 3),
			 SAM_STAT_GOOD);
	assert_int_equal(pr.nr_regs, 4);
	assert_int_equal(pr.regs[scsi_pr_find(&pr, B)].key, 0xa);
	assert_true(scsi_pr_find(&pr, "iqn.c2,i,0x000000000009") >= 0);
	assert_true(scsi_pr_find(&pr, "iqn.c3,i,0x000000000009") < 0);
	scsi_pr_fini(&pr);
}

static void test_register_and_move(void **state)
{
	struct scsi_pr pr;
	struct ua_log l = { 0 };

	(void)state;
	scsi_pr_init(&pr);
	reg_n(&pr, &l, 1);
	/* no reservation to move */
	assert_int_equal(scsi_pr_move(&pr, A, 0xa, 0xb, B, false, false),
			 -ASC_INVALID_FIELD_IN_CDB);
	out(&pr, &l, A, 1, SCSI_PR_WE_RO, 0xa, 0);
	assert_int_equal(scsi_pr_move(&pr, A, 0xbad, 0xb, B, false, false),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(scsi_pr_move(&pr, A, 0xa, 0, B, false, false),
			 -ASC_INVALID_FIELD_IN_PARAM);
	assert_int_equal(scsi_pr_move(&pr, A, 0xa, 0xb, A, false, false),
			 -ASC_INVALID_FIELD_IN_PARAM);
	/* B was not registered: it is, with the new key, and holds the reservation */
	assert_int_equal(scsi_pr_move(&pr, A, 0xa, 0xb, B, false, false), SAM_STAT_GOOD);
	assert_true(scsi_pr_is_holder(&pr, scsi_pr_find(&pr, B)));
	assert_false(scsi_pr_is_holder(&pr, scsi_pr_find(&pr, A)));
	assert_int_equal(pr.type, SCSI_PR_WE_RO);
	/* A is no holder any more: conflict; B moves it on to C and unregisters */
	assert_int_equal(scsi_pr_move(&pr, A, 0xa, 0xc, C, false, false),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(scsi_pr_move(&pr, B, 0xb, 0xc, C, true, false), SAM_STAT_GOOD);
	assert_true(scsi_pr_find(&pr, B) < 0);
	assert_true(scsi_pr_is_holder(&pr, scsi_pr_find(&pr, C)));
	assert_int_equal(pr.nr_regs, 2);
	/* all-registrants reservations cannot move */
	out(&pr, &l, C, 2, SCSI_PR_WE_RO, 0xc, 0);
	out(&pr, &l, C, 1, SCSI_PR_EA_AR, 0xc, 0);
	assert_int_equal(scsi_pr_move(&pr, C, 0xc, 0xb, B, false, false),
			 SAM_STAT_RESERVATION_CONFLICT);
	scsi_pr_fini(&pr);
}

static unsigned int aborted_other;

static void abort_lu_cb(struct core_nexus *n, uint64_t lun)
{
	(void)n;
	assert_int_equal(lun, 1);
	aborted_other++;
}

static const struct core_nexus_ops abort_ops = { .close = fx_nexus_close,
						 .abort_lu = abort_lu_cb };

static void test_pr_out_spec_i_pt_move_and_preempt_abort(void **state)
{
	struct fx *fx = *state;
	struct core_nexus *me = fx->nexus;
	uint16_t asc;
	size_t n;

	set_tids(fx, A, B);
	fx->other->ops = &abort_ops;
	/* SPEC_I_PT: A registers itself and B */
	param(fx->buf, 0, 0xa);
	fx->buf[20] = 0x08;
	n = tid_build(&fx->buf[28], 1, B);
	put_be32(&fx->buf[24], (uint32_t)n);
	pr_out_run(fx, 0, 0, 28 + (uint32_t)n);
	fx_assert_good(fx);
	assert_int_equal(scsi_lu_pr(fx->disk)->nr_regs, 2);
	/* a length that disagrees with the TransportID data length */
	pr_out_run(fx, 0, 0, 28 + (uint32_t)n + 4);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
	/* SPEC_I_PT with another service action */
	param(fx->buf, 0xa, 0);
	fx->buf[20] = 0x08;
	put_be32(&fx->buf[24], 0);
	pr_out_run(fx, 1, SCSI_PR_EA, 28);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	/* SPEC_I_PT without room for the TransportID data length */
	param(fx->buf, 0, 0xc);
	fx->buf[20] = 0x08;
	pr_out_run(fx, 0, 0, 24);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
	/* APTPL without a state directory: PTPL_C is 0 */
	param(fx->buf, 0xa, 0xa);
	fx->buf[20] = 0x01;
	pr_out_run(fx, 0, 0, 24);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	/* A reserves and moves the reservation to B (UNREG) */
	pr_out_keys(fx, 1, SCSI_PR_EA, 0xa, 0);
	fx_assert_good(fx);
	param(fx->buf, 0xa, 0xb);
	fx->buf[17] = 0x02;
	n = tid_build(&fx->buf[24], 1, B);
	put_be32(&fx->buf[20], (uint32_t)n);
	pr_out_run(fx, 7, 0, 24 + (uint32_t)n);
	fx_assert_good(fx);
	assert_true(scsi_pr_find(scsi_lu_pr(fx->disk), A) < 0);
	/* a format 00b TransportID is no initiator port: refused */
	n = tid_build(&fx->buf[24], 0, "iqn.b");
	put_be32(&fx->buf[20], (uint32_t)n);
	pr_out_run(fx, 7, 0, 24 + (uint32_t)n);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	/* A registers again and preempts B's reservation with PREEMPT AND ABORT */
	pr_out_keys(fx, 0, 0, 0, 0xa);
	fx_assert_good(fx);
	core_ua_clear(fx->other);
	aborted_other = 0;
	pr_out_keys(fx, 5, SCSI_PR_WE, 0xa, 0xb);
	fx_assert_good(fx);
	assert_int_equal(aborted_other, 1);
	assert_true(core_ua_take(fx->other, 1, &asc));
	assert_int_equal(asc, ASC_REGISTRATIONS_PREEMPTED);
	assert_int_equal(scsi_lu_pr(fx->disk)->type, SCSI_PR_WE);
	/* plain PREEMPT aborts nothing */
	fx->nexus = fx->other;
	pr_out_keys(fx, 0, 0, 0, 0xb);
	fx_assert_good(fx);
	fx->nexus = me;
	pr_out_keys(fx, 4, SCSI_PR_WE, 0xa, 0xb);
	fx_assert_good(fx);
	assert_int_equal(aborted_other, 1);
	fx->other->ops = &fx_nexus_ops;
}

/* The same initiator port through two target ports is two I_T nexuses (ALL_TG_PT). */
static void test_all_tg_pt_and_target_ports(void **state)
{
	struct fx *fx = *state;
	struct scsi_pr *pr = scsi_lu_pr(fx->disk);
	struct core_nexus *me = fx->nexus;
	uint8_t *d = fx->buf;

	assert_true(scsi_pr_tid_covers(A "@1", A "@1"));
	assert_false(scsi_pr_tid_covers(A "@1", A "@2"));
	assert_true(scsi_pr_tid_covers(A, A "@2"));
	assert_true(scsi_pr_tid_covers("iqn.a@1", A "@1"));
	assert_false(scsi_pr_tid_covers("iqn.a@1", A "@2"));
	set_tids(fx, A, A);
	me->tpgt = 1;
	fx->other->tpgt = 2;
	/* ALL_TG_PT 0: registered through port 1 only */
	pr_out_keys(fx, 0, 0, 0, 0xa);
	fx_assert_good(fx);
	fx->nexus = fx->other;
	pr_out_keys(fx, 1, SCSI_PR_WE, 0xa, 0);
	assert_int_equal(fx->cmd.status, SAM_STAT_RESERVATION_CONFLICT);
	/* ALL_TG_PT 1 from port 2: a second registration, for every port */
	param(fx->buf, 0, 0xb);
	fx->buf[20] = 0x04;
	pr_out_run(fx, 0, 0, 24);
	fx_assert_good(fx);
	assert_int_equal(pr->nr_regs, 2);
	fx->nexus = me;
	memset(fx->buf, 0, 256);
	{
		uint8_t c[10] = { 0x5e, 3, 0, 0, 0, 0, 0, 1, 0, 0 };

		fx_run(fx, 1, c, 10, 256, 0);
	}
	fx_assert_good(fx);
	/* first descriptor: port 1 only; the second: ALL_TG_PT */
	assert_int_equal(get_be64(&d[8]), 0xa);
	assert_int_equal(d[8 + 12] & 0x02, 0);
	assert_int_equal(get_be16(&d[8 + 18]), 1);
	assert_memory_equal(&d[8 + 28], A, strlen(A));
	d += 24 + get_be32(&d[8 + 20]);
	assert_int_equal(get_be64(&d[8]), 0xb);
	assert_int_equal(d[8 + 12] & 0x02, 0x02);
	me->tpgt = 0;
	fx->other->tpgt = 0;
}

static void test_capabilities_and_state_directory(void **state)
{
	struct fx *fx = *state;
	char dir[] = "/tmp/utgt-prdir-XXXXXX";
	char path[256], legacy[256];
	struct scsi_pr pr;
	uint8_t c[10] = { 0x5e, 2, 0, 0, 0, 0, 0, 0, 8, 0 };
	char *saved_path = fx->disk->path;
	FILE *f;

	fx_run_good(fx, 1, c, 10, 8, 0);
	assert_int_equal(fx->buf[2], 0x10 | 0x08 | 0x04); /* CRH SIP_C ATP_C, no PTPL_C */
	assert_int_equal(fx->buf[4], 0x80 | 0x40 | 0x20 | 0x08 | 0x02);
	assert_int_equal(fx->buf[5], 0x01);
	/* a state directory: the file is named after the target and LUN */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(core_root_set_state_dir(fx->root, dir), 0);
	snprintf(path, sizeof(path), "%s/pr-iqn.2026-11.org.utgt:t1-1", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "utgt-pr 1\ngeneration 3\ntype 1\nreg 000000000000000a 1 %s\n", A);
	fclose(f);
	scsi_pr_init(&pr);
	assert_int_equal(scsi_pr_attach(&pr, fx->disk), 0);
	assert_string_equal(pr.state_path, path);
	assert_int_equal(pr.nr_regs, 1);
	assert_int_equal(pr.type, SCSI_PR_WE);
	scsi_pr_fini(&pr);
	unlink(path);
	/* an old "<backing>.pr" is read once and moved into the state directory */
	snprintf(legacy, sizeof(legacy), "%s/disk.img.pr", dir);
	f = fopen(legacy, "w");
	assert_non_null(f);
	fprintf(f, "utgt-pr 1\ngeneration 5\ntype 0\nreg 000000000000000b 0 %s\n", B);
	fclose(f);
	snprintf(legacy, sizeof(legacy), "%s/disk.img", dir);
	fx->disk->path = legacy;
	scsi_pr_init(&pr);
	assert_int_equal(scsi_pr_attach(&pr, fx->disk), 0);
	fx->disk->path = saved_path;
	assert_int_equal(pr.nr_regs, 1);
	assert_int_equal(access(path, F_OK), 0);
	strcat(legacy, ".pr");
	assert_int_equal(access(legacy, F_OK), -1);
	scsi_pr_fini(&pr);
	unlink(path);
	rmdir(dir);
	core_root_set_state_dir(fx->root, NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_keys),
		cmocka_unit_test(test_reserve_release_and_access),
		cmocka_unit_test(test_access_table),
		cmocka_unit_test(test_preempt_and_clear_raise_unit_attentions),
		cmocka_unit_test(test_all_registrants),
		cmocka_unit_test(test_aptpl_state_file_is_restored),
		T(test_commands_conflict_for_the_other_nexus),
		T(test_pr_in_read_keys_and_capabilities),
		cmocka_unit_test(test_transport_id_parse),
		cmocka_unit_test(test_spec_i_pt_registers_all_or_nothing),
		cmocka_unit_test(test_register_and_move),
		T(test_pr_out_spec_i_pt_move_and_preempt_abort),
		T(test_capabilities_and_state_directory),
		T(test_all_tg_pt_and_target_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
