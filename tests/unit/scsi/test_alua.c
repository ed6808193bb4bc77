// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for scsi/alua.c (and the state it reads from core/alua.c): which commands each
 * asymmetric access state allows, REPORT TARGET PORT GROUPS encoding in both formats, SET
 * TARGET PORT GROUPS, INQUIRY TPGS, the VPD 0x83 port designators and the unit attentions.
 */
#include "scsi_test.h"

#include "scsi/scsi_int.h"

/* Two target ports: the fixture's nexus arrives through TPGT 1, the other through TPGT 2. */
static int alua_setup(void **state)
{
	struct fx *fx;

	fx_setup(state);
	fx = *state;
	assert_int_equal(core_root_port_add(fx->root, 2), 0);
	assert_int_equal(core_root_port_add(fx->root, 1), 0);
	assert_int_equal(core_root_port_add(fx->root, 1), 0);
	fx->nexus->tpgt = 1;
	fx->other->tpgt = 2;
	return 0;
}

static void cdb_rtpg(uint8_t *c, uint8_t fmt, uint32_t alloc)
{
	memset(c, 0, 12);
	c[0] = 0xa3;
	c[1] = (uint8_t)(fmt << 5 | 0x0a);
	put_be32(&c[6], alloc);
}

static void cdb_stpg(uint8_t *c, uint32_t len)
{
	memset(c, 0, 12);
	c[0] = 0xa4;
	c[1] = 0x0a;
	put_be32(&c[6], len);
}

static void cdb_read10(uint8_t *c)
{
	memset(c, 0, 10);
	c[0] = 0x28;
	c[8] = 1;
}

static struct scsi_cmd *run_as(struct fx *fx, struct core_nexus *n, uint64_t lun,
			       const uint8_t *cdb, size_t len, uint32_t buf_len, uint32_t out_len)
{
	struct core_nexus *keep = fx->nexus;
	struct scsi_cmd *cmd;

	fx->nexus = n;
	cmd = fx_run(fx, lun, cdb, len, buf_len, out_len);
	fx->nexus = keep;
	return cmd;
}

static void test_alua_state_by_opcode(void **state)
{
	static const uint8_t inq[6] = { 0x12 }, tur[6] = { 0x00 }, rl[12] = { 0xa0 };
	static const uint8_t rtpg[12] = { 0xa3, 0x0a }, rsoc[12] = { 0xa3, 0x0c };
	static const uint8_t stpg[12] = { 0xa4, 0x0a }, ms[6] = { 0x1a }, rd[10] = { 0x28 };
	static const uint8_t rs[6] = { 0x03 }, prin[10] = { 0x5e };

	(void)state;
	for (uint8_t s = CORE_ALUA_AO; s <= CORE_ALUA_AN; s++) {
		assert_true(scsi_alua_allowed(s, rd, 10));
		assert_true(scsi_alua_allowed(s, tur, 6));
	}
	/* standby: inquiry, report luns, RTPG/STPG, mode, reservations; no TUR or I/O */
	assert_true(scsi_alua_allowed(CORE_ALUA_STANDBY, inq, 6));
	assert_true(scsi_alua_allowed(CORE_ALUA_STANDBY, rl, 12));
	assert_true(scsi_alua_allowed(CORE_ALUA_STANDBY, rtpg, 12));
	assert_true(scsi_alua_allowed(CORE_ALUA_STANDBY, stpg, 12));
	assert_true(scsi_alua_allowed(CORE_ALUA_STANDBY, ms, 6));
	assert_true(scsi_alua_allowed(CORE_ALUA_STANDBY, rs, 6));
	assert_true(scsi_alua_allowed(CORE_ALUA_STANDBY, prin, 10));
	assert_false(scsi_alua_allowed(CORE_ALUA_STANDBY, tur, 6));
	assert_false(scsi_alua_allowed(CORE_ALUA_STANDBY, rd, 10));
	assert_false(scsi_alua_allowed(CORE_ALUA_STANDBY, rsoc, 12));
	/* unavailable: no mode or reservation commands, STPG still */
	assert_true(scsi_alua_allowed(CORE_ALUA_UNAVAILABLE, stpg, 12));
	assert_true(scsi_alua_allowed(CORE_ALUA_UNAVAILABLE, rtpg, 12));
	assert_false(scsi_alua_allowed(CORE_ALUA_UNAVAILABLE, ms, 6));
	assert_false(scsi_alua_allowed(CORE_ALUA_UNAVAILABLE, prin, 10));
	assert_false(scsi_alua_allowed(CORE_ALUA_UNAVAILABLE, rd, 10));
	/* transitioning: no STPG */
	assert_true(scsi_alua_allowed(CORE_ALUA_TRANSITIONING, rtpg, 12));
	assert_false(scsi_alua_allowed(CORE_ALUA_TRANSITIONING, stpg, 12));
	assert_false(scsi_alua_allowed(CORE_ALUA_TRANSITIONING, tur, 6));
	/* offline */
	assert_true(scsi_alua_allowed(CORE_ALUA_OFFLINE, inq, 6));
	assert_true(scsi_alua_allowed(CORE_ALUA_OFFLINE, rl, 12));
	assert_false(scsi_alua_allowed(CORE_ALUA_OFFLINE, stpg, 12));
	assert_false(scsi_alua_allowed(CORE_ALUA_OFFLINE, ms, 6));
	assert_false(scsi_alua_allowed(CORE_ALUA_STANDBY, rd, 0));

	assert_int_equal(scsi_alua_asc(CORE_ALUA_STANDBY), 0x040b);
	assert_int_equal(scsi_alua_asc(CORE_ALUA_UNAVAILABLE), 0x040c);
	assert_int_equal(scsi_alua_asc(CORE_ALUA_TRANSITIONING), 0x040a);
	assert_int_equal(scsi_alua_asc(CORE_ALUA_OFFLINE), 0x0412);
}

static void test_alua_rtpg_encoding(void **state)
{
	struct core_alua_report r[2] = {
		{ .g = { .id = 1, .state = CORE_ALUA_AO, .pref = true }, .nr_ports = 1,
		  .ports = { 1 } },
		{ .g = { .id = 7, .state = CORE_ALUA_STANDBY,
			 .status = CORE_ALUA_STATUS_EXPLICIT },
		  .nr_ports = 2, .ports = { 2, 3 } },
	};
	uint8_t p[128];
	uint32_t len;

	(void)state;
	len = scsi_alua_rtpg_build(r, 2, false, p, sizeof(p));
	assert_int_equal(len, 4 + 12 + 16);
	assert_int_equal(get_be32(p), len - 4);
	assert_int_equal(p[4], 0x80);                 /* PREF, AO */
	assert_int_equal(p[5], 0xcf);                 /* supported states */
	assert_int_equal(get_be16(&p[6]), 1);
	assert_int_equal(p[11], 1);                   /* target port count */
	assert_int_equal(get_be16(&p[14]), 1);        /* relative target port id */
	assert_int_equal(p[16], CORE_ALUA_STANDBY);
	assert_int_equal(get_be16(&p[18]), 7);
	assert_int_equal(p[21], CORE_ALUA_STATUS_EXPLICIT);
	assert_int_equal(p[23], 2);
	assert_int_equal(get_be16(&p[26]), 2);
	assert_int_equal(get_be16(&p[30]), 3);

	len = scsi_alua_rtpg_build(r, 2, true, p, sizeof(p));
	assert_int_equal(len, 8 + 12 + 16);
	assert_int_equal(get_be32(p), len - 4);
	assert_int_equal(p[4], 0x10);                 /* FORMAT TYPE 001b */
	assert_int_equal(get_be16(&p[10]), 1);
	assert_int_equal(get_be16(&p[22]), 7);

	assert_int_equal(scsi_alua_rtpg_build(r, 2, true, p, 20), 0);
}

static void test_alua_rtpg_command_and_ua(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint16_t asc;
	uint8_t c[16];

	cdb_rtpg(c, 1, 512);
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(fx->cmd.in_len, 8 + 2 * 12);
	assert_int_equal(get_be16(&d[10]), 1);
	assert_int_equal(d[8], CORE_ALUA_AO);
	assert_int_equal(get_be16(&d[22]), 2);
	assert_int_equal(get_be16(&d[30]), 2);        /* port 2 in group 2 */

	/* truncated to the allocation length, length field whole */
	cdb_rtpg(c, 0, 8);
	fx_run_good(fx, 1, c, 12, 8, 0);
	assert_int_equal(get_be32(d), 2 * 12);
	cdb_rtpg(c, 2, 512);
	fx_run(fx, 1, c, 12, 512, 0);
	fx_assert_field(fx, 1, 7);

	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.2.state", "standby"), 0);
	assert_true(core_ua_take(fx->nexus, 1, &asc));
	assert_int_equal(asc, ASC_ALUA_STATE_CHANGED);
	assert_true(core_ua_take(fx->other, 0, &asc));
	assert_int_equal(asc, ASC_ALUA_STATE_CHANGED);
	assert_true(core_ua_take(fx->other, 1, &asc));
	cdb_rtpg(c, 0, 512);
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(d[16], CORE_ALUA_STANDBY);
	assert_int_equal(d[21], CORE_ALUA_STATUS_IMPLICIT);
	/* the same state again: no new unit attention */
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.2.state", "s"), 0);
	assert_false(core_ua_take(fx->other, 1, &asc));
}

static void test_alua_standby_refuses_io_on_its_port_only(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.1.state", "standby"), 0);
	cdb_read10(c);
	fx_run(fx, 1, c, 10, 512, 0);
	fx_assert_sense(fx, SENSE_NOT_READY, 0x040b);
	memset(c, 0, 6);
	fx_run(fx, 1, c, 6, 0, 0);                    /* TEST UNIT READY */
	fx_assert_sense(fx, SENSE_NOT_READY, 0x040b);
	c[0] = 0x12;
	c[4] = 96;
	fx_run_good(fx, 1, c, 6, 96, 0);
	cdb_read10(c);
	run_as(fx, fx->other, 1, c, 10, 512, 0);
	fx_assert_good(fx);

	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.1.state", "unavailable"), 0);
	fx_run(fx, 1, c, 10, 512, 0);
	fx_assert_sense(fx, SENSE_NOT_READY, 0x040c);
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.1.state", "transitioning"), 0);
	fx_run(fx, 1, c, 10, 512, 0);
	fx_assert_sense(fx, SENSE_NOT_READY, 0x040a);
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.1.state", "active-nonoptimized"), 0);
	fx_run_good(fx, 1, c, 10, 512, 0);
	/* ALUA off: states are not enforced */
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.1.state", "offline"), 0);
	assert_int_equal(core_alua_config(fx->tgt, "alua.type", "none"), 0);
	fx_run_good(fx, 1, c, 10, 512, 0);
}

static void test_alua_stpg(void **state)
{
	struct fx *fx = *state;
	uint8_t *p = fx->buf;
	uint16_t asc;
	uint8_t c[16];

	core_ua_clear(fx->nexus);
	memset(p, 0, 8);
	p[4] = CORE_ALUA_STANDBY;
	put_be16(&p[6], 1);
	cdb_stpg(c, 8);
	run_as(fx, fx->other, 0, c, 12, 8, 8);
	fx_assert_good(fx);
	assert_true(core_ua_take(fx->nexus, 1, &asc));
	assert_int_equal(asc, ASC_ALUA_STATE_CHANGED);
	assert_false(core_ua_take(fx->other, 1, &asc));
	cdb_read10(c);
	fx_run(fx, 1, c, 10, 512, 0);
	fx_assert_sense(fx, SENSE_NOT_READY, 0x040b);

	/* back to active/optimized from the standby port itself */
	memset(p, 0, 8);
	p[4] = CORE_ALUA_AO;
	put_be16(&p[6], 1);
	cdb_stpg(c, 8);
	fx_run_good(fx, 0, c, 12, 8, 8);
	cdb_read10(c);
	fx_run_good(fx, 1, c, 10, 512, 0);

	/* offline cannot be asked for; unknown group; bad length */
	p[4] = CORE_ALUA_OFFLINE;
	cdb_stpg(c, 8);
	fx_run(fx, 0, c, 12, 8, 8);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	p[4] = CORE_ALUA_AN;
	put_be16(&p[6], 9);
	fx_run(fx, 0, c, 12, 8, 8);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	cdb_stpg(c, 6);
	fx_run(fx, 0, c, 12, 8, 8);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
	/* implicit-only ALUA has no SET TARGET PORT GROUPS */
	assert_int_equal(core_alua_config(fx->tgt, "alua.type", "implicit"), 0);
	put_be16(&p[6], 1);
	cdb_stpg(c, 8);
	fx_run(fx, 0, c, 12, 8, 8);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
}

static void test_alua_inquiry_tpgs_and_vpd83(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint32_t len;
	uint8_t c[16];

	memset(c, 0, 6);
	c[0] = 0x12;
	c[4] = 96;
	fx_run_good(fx, 1, c, 6, 96, 0);
	assert_int_equal(d[5] & 0x30, 0x30);          /* implicit and explicit */

	c[1] = 1;
	c[2] = 0x83;
	c[4] = 255;
	assert_int_equal(core_alua_config(fx->tgt, "alua.port.2.tpg", "5"), 0);
	run_as(fx, fx->other, 1, c, 6, 255, 0);
	fx_assert_good(fx);
	len = 4 + get_be16(&d[2]);
	assert_int_equal(len, 4 + 20 + 4 + 16 + 16);
	assert_int_equal(d[44], 0x51);                /* iSCSI, binary */
	assert_int_equal(d[45], 0x94);                /* PIV, target port, relative port */
	assert_int_equal(get_be16(&d[50]), 2);
	assert_int_equal(d[53], 0x95);                /* target port group */
	assert_int_equal(get_be16(&d[58]), 5);

	assert_int_equal(core_alua_config(fx->tgt, "alua.type", "implicit"), 0);
	c[1] = 0;
	c[2] = 0;
	c[4] = 96;
	fx_run(fx, 1, c, 6, 96, 0);
	assert_int_equal(d[5] & 0x30, 0x10);
}

struct params {
	char text[512];
	size_t off;
};

static void params_add(const char *key, const char *value, void *arg)
{
	struct params *p = arg;

	str_appendf(p->text, sizeof(p->text), &p->off, "%s=%s;", key, value);
}

static void test_alua_config_keys(void **state)
{
	struct fx *fx = *state;
	struct params all = { 0 }, changed = { 0 };

	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.0.state", "standby"), -ENOENT);
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.1.colour", "red"), -ENOENT);
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.70000.state", "s"), -ENOENT);
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.1.state", "sleepy"), -EINVAL);
	assert_int_equal(core_alua_config(fx->tgt, "alua.type", "sometimes"), -EINVAL);
	assert_int_equal(core_alua_config(fx->tgt, "alua.port.1.tpg", "0"), -EINVAL);
	assert_int_equal(core_alua_config(fx->tgt, "MaxBurstLength", "1"), -ENOENT);

	core_alua_foreach(fx->tgt, false, params_add, &changed);
	assert_string_equal(changed.text, "");
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.2.state", "AN"), 0);
	assert_int_equal(core_alua_config(fx->tgt, "alua.tpg.1.preferred", "1"), 0);
	core_alua_foreach(fx->tgt, false, params_add, &changed);
	assert_string_equal(changed.text, "alua.tpg.2.state=active-nonoptimized;"
					  "alua.tpg.1.preferred=1;");
	core_alua_foreach(fx->tgt, true, params_add, &all);
	assert_string_equal(all.text, "alua.type=both;"
				      "alua.tpg.1.state=active-optimized;alua.tpg.1.preferred=1;"
				      "alua.tpg.2.state=active-nonoptimized;"
				      "alua.tpg.2.preferred=0;");
}

#define T(f) cmocka_unit_test_setup_teardown(f, alua_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alua_state_by_opcode),
		cmocka_unit_test(test_alua_rtpg_encoding),
		T(test_alua_rtpg_command_and_ua),
		T(test_alua_standby_refuses_io_on_its_port_only),
		T(test_alua_stpg),
		T(test_alua_inquiry_tpgs_and_vpd83),
		T(test_alua_config_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
