/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scsi/pr.c: the persistent reservation state machine (REGISTER, RESERVE, RELEASE, CLEAR,
 * PREEMPT for the six types, unit attentions), the access table, APTPL save/restore, and the
 * PR/RESERVE commands through the dispatcher with two I_T nexuses.
 */
#include <stdio.h>
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
	out(&pr, &l, A, 0, 0, 0, 0xa);
	out(&pr, &l, B, 0, 0, 0, 0xb);
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
		out(&pr, &l, A, 0, 0, 0, 0xa);
		out(&pr, &l, B, 0, 0, 0, 0xb);
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
	out(&pr, &l, A, 0, 0, 0, 0xa);
	out(&pr, &l, B, 0, 0, 0, 0xb);
	out(&pr, &l, C, 0, 0, 0, 0xc);
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
	out(&pr, &l, A, 0, 0, 0, 0xa);
	out(&pr, &l, B, 0, 0, 0, 0xb);
	assert_int_equal(out(&pr, &l, A, 1, SCSI_PR_EA_AR, 0xa, 0), SAM_STAT_GOOD);
	assert_true(scsi_pr_is_holder(&pr, scsi_pr_find(&pr, B)));
	/* the reservation stays while a registrant is left */
	assert_int_equal(out(&pr, &l, A, 0, 0, 0xa, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.type, SCSI_PR_EA_AR);
	assert_int_equal(out(&pr, &l, B, 0, 0, 0xb, 0), SAM_STAT_GOOD);
	assert_int_equal(pr.type, 0);
	/* PREEMPT with key 0 under AR removes everybody else and reserves anew */
	out(&pr, &l, A, 0, 0, 0, 0xa);
	out(&pr, &l, B, 0, 0, 0, 0xb);
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

static void cdb_pr_out(uint8_t *c, uint8_t sa, uint8_t type)
{
	memset(c, 0, 10);
	c[0] = 0x5f;
	c[1] = sa;
	c[2] = type;
	c[8] = 24;
}

static void param(uint8_t *p, uint64_t key, uint64_t sa_key)
{
	memset(p, 0, 24);
	put_be64(p, key);
	put_be64(&p[8], sa_key);
}

static void test_commands_conflict_for_the_other_nexus(void **state)
{
	struct fx *fx = *state;
	struct core_nexus *me = fx->nexus;
	uint8_t c[16], rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

	snprintf(fx->nexus->transport_id, sizeof(fx->nexus->transport_id), "%s", A);
	snprintf(fx->other->transport_id, sizeof(fx->other->transport_id), "%s", B);
	/* consume the power-on unit attentions of both nexuses */
	fx_run(fx, 1, rd, 10, 512, 0);
	fx->nexus = fx->other;
	fx_run(fx, 1, rd, 10, 512, 0);
	fx->nexus = me;
	cdb_pr_out(c, 0, 0);
	param(fx->buf, 0, 0x1234);
	fx_run(fx, 1, c, 10, 24, 24);
	fx_assert_good(fx);
	cdb_pr_out(c, 1, SCSI_PR_EA);
	param(fx->buf, 0x1234, 0);
	fx_run(fx, 1, c, 10, 24, 24);
	fx_assert_good(fx);
	fx_run(fx, 1, rd, 10, 512, 0);
	fx_assert_good(fx);
	fx->nexus = fx->other;
	fx_run(fx, 1, rd, 10, 512, 0);
	assert_int_equal(fx->cmd.status, SAM_STAT_RESERVATION_CONFLICT);
	/* INQUIRY always runs */
	memset(c, 0, 6);
	c[0] = 0x12;
	c[4] = 36;
	fx_run(fx, 1, c, 6, 36, 0);
	fx_assert_good(fx);
	/* PR OUT with a bad parameter list length */
	cdb_pr_out(c, 0, 0);
	c[8] = 20;
	fx_run(fx, 1, c, 10, 20, 20);
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
	cdb_pr_out(c, 0, 0);
	param(fx->buf, 0, 0x77);
	fx_run(fx, 1, c, 10, 24, 24);
	fx_assert_good(fx);
	memset(c, 0, 10);
	c[0] = 0x5e;
	c[8] = 64;
	fx_run(fx, 1, c, 10, 64, 0);
	fx_assert_good(fx);
	assert_int_equal(get_be32(&fx->buf[4]), 8);
	assert_int_equal(get_be64(&fx->buf[8]), 0x77);
	c[1] = 2;
	fx_run(fx, 1, c, 10, 64, 0);
	fx_assert_good(fx);
	assert_int_equal(get_be16(fx->buf), 8);
	c[1] = 9; /* unknown service action */
	fx_run(fx, 1, c, 10, 64, 0);
	fx_assert_field(fx, 1, 4);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
