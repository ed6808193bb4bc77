/* SPDX-License-Identifier: GPL-2.0-only */
/* scsi/spc.c: INQUIRY and its VPD pages, REPORT LUNS, REQUEST SENSE, REPORT SUPPORTED
 * OPERATION CODES, and the controller at LUN 0. */
#include "scsi_test.h"

static void cdb_inquiry(uint8_t *c, bool evpd, uint8_t page, uint16_t alloc)
{
	memset(c, 0, 16);
	c[0] = 0x12;
	c[1] = evpd;
	c[2] = page;
	put_be16(&c[3], alloc);
}

static void test_inquiry_standard_data(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[16];
	bool sbc3 = false;
	unsigned int i;

	cdb_inquiry(c, false, 0, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(fx->cmd.in_len, 96);
	assert_int_equal(d[0], 0x00);
	assert_int_equal(d[1], 0x00);       /* RMB */
	assert_int_equal(d[2], 0x06);
	assert_int_equal(d[3], 0x12);       /* HISUP, RDF 2 */
	assert_int_equal(d[4], 96 - 5);
	assert_int_equal(d[7], 0x02);       /* CMDQUE */
	assert_memory_equal(&d[8], "UTGT    VIRTUAL-DISK    0001", 28);
	for (i = 0; i < 8; i++)
		sbc3 |= get_be16(&d[58 + 2 * i]) == 0x04c0;
	assert_true(sbc3);
	/* allocation length cuts the data and is what the initiator gets */
	cdb_inquiry(c, false, 0, 36);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(fx->cmd.in_len, 36);
	fx->disk->removable = true;
	fx_run(fx, 1, c, 6, 255, 0);
	assert_int_equal(d[1], 0x80);
	fx->disk->removable = false;
}

static void test_inquiry_invalid_fields(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	cdb_inquiry(c, false, 0x80, 255);   /* page code without EVPD */
	fx_run(fx, 1, c, 6, 255, 0);
	fx_assert_field(fx, 2, -1);
	cdb_inquiry(c, true, 0x99, 255);    /* unsupported VPD page */
	fx_run(fx, 1, c, 6, 255, 0);
	fx_assert_field(fx, 2, -1);
	cdb_inquiry(c, false, 0, 255);
	c[1] = 0x02;                        /* CMDDT */
	fx_run(fx, 1, c, 6, 255, 0);
	fx_assert_field(fx, 1, 1);
}

static void test_vpd_supported_pages_sorted(void **state)
{
	struct fx *fx = *state;
	static const uint8_t want[] = { 0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2 };
	uint8_t c[16];

	cdb_inquiry(c, true, 0x00, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(get_be16(&fx->buf[2]), sizeof(want));
	assert_memory_equal(&fx->buf[4], want, sizeof(want));
	assert_int_equal(fx->cmd.in_len, 4 + sizeof(want));
}

static void test_vpd_serial_and_device_id(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[16];

	cdb_inquiry(c, true, 0x80, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(d[1], 0x80);
	assert_int_equal(get_be16(&d[2]), 6);
	assert_memory_equal(&d[4], "beaf11", 6);

	cdb_inquiry(c, true, 0x83, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(d[1], 0x83);
	assert_int_equal(get_be16(&d[2]), 20 + 4 + 16);
	assert_int_equal(fx->cmd.in_len, 4 + 20 + 4 + 16);
	/* NAA 6 designator: binary, LU association, type NAA, 16 bytes */
	assert_int_equal(d[4], 0x01);
	assert_int_equal(d[5], 0x03);
	assert_int_equal(d[7], 16);
	assert_int_equal(d[8] >> 4, 6);
	assert_int_equal(((d[8] & 0x0f) << 20) | (d[9] << 12) | (d[10] << 4) | (d[11] >> 4),
			 0x027574);
	assert_int_equal(((uint64_t)(d[11] & 0x0f) << 32) | get_be32(&d[12]),
			 fx->disk->naa_id);
	assert_int_equal(fx->disk->naa_id, (1u << 16) | 1);
	/* T10 vendor ID designator: ASCII, the LU's SCSI ID */
	assert_int_equal(d[24], 0x02);
	assert_int_equal(d[25], 0x01);
	assert_int_equal(d[27], 16);
	assert_memory_equal(&d[28], "IET     00010001", 16);
}

static void test_vpd_block_pages(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[16];
	unsigned int i;

	cdb_inquiry(c, true, 0xb0, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(fx->cmd.in_len, 64);
	assert_int_equal(get_be16(&d[2]), 0x3c);
	assert_int_equal(d[5], (64u << 10) / 512);          /* MAX COMPARE AND WRITE */
	assert_int_equal(get_be16(&d[6]), 8);               /* 4 KiB granularity */
	assert_int_equal(get_be32(&d[8]), (8u << 20) / 512);
	assert_int_equal(get_be32(&d[20]), 0);              /* MAX UNMAP LBA COUNT */
	assert_int_equal(get_be32(&d[24]), 0);
	fx->disk->rotation_rate = 1;
	cdb_inquiry(c, true, 0xb1, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(get_be16(&d[4]), 1);
	cdb_inquiry(c, true, 0xb2, 255);
	fx_run_good(fx, 1, c, 6, 255, 0);
	assert_int_equal(fx->cmd.in_len, 8);
	for (i = 4; i < 8; i++)
		assert_int_equal(d[i], 0);
	/* thin provisioning: UNMAP limits and LBPU, provisioning type thin */
	fx->disk->thin = true;
	fx_run(fx, 1, c, 6, 255, 0);
	assert_int_equal(d[5], 0xe4);                       /* LBPU, LBPWS, LBPWS10, LBPRZ */
	assert_int_equal(d[6], 0x02);
	cdb_inquiry(c, true, 0xb0, 255);
	fx_run(fx, 1, c, 6, 255, 0);
	assert_int_equal(get_be32(&d[20]), 0xffffffff);
	assert_int_equal(get_be32(&d[24]), 256);
	assert_int_equal(get_be32(&d[28]), 8);
}

static void test_report_luns(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[16] = { 0xa0 };

	put_be32(&c[6], 4096);
	fx_run_good(fx, 1, c, 12, 4096, 0);
	assert_int_equal(fx->cmd.in_len, 8 + 16);
	assert_int_equal(get_be32(d), 16);
	assert_int_equal(get_be64(&d[8]), 0);
	assert_int_equal(get_be64(&d[16]), 0x0001000000000000ull);
	c[2] = 1;                             /* well-known LUs only: none */
	fx_run_good(fx, 1, c, 12, 4096, 0);
	assert_int_equal(get_be32(d), 0);
	c[2] = 3;
	fx_run(fx, 1, c, 12, 4096, 0);
	fx_assert_field(fx, 2, -1);
	c[2] = 0;
	put_be32(&c[6], 15);
	fx_run(fx, 1, c, 12, 4096, 0);
	fx_assert_field(fx, 6, -1);
}

static void test_report_luns_flat_addressing(void **state)
{
	struct fx *fx = *state;
	struct core_lu_params p = { .device_type = "disk", .bstype = "fake", .path = "/f" };
	uint8_t c[16] = { 0xa0 };

	assert_int_equal(core_lu_new(fx->tgt, 300, &p, NULL), 0);
	put_be32(&c[6], 4096);
	fx_run_good(fx, 1, c, 12, 4096, 0);
	assert_int_equal(get_be32(fx->buf), 24);
	assert_int_equal(fx->buf[24], 0x41);
	assert_int_equal(fx->buf[25], 300 & 0xff);
}

static void test_request_sense_formats(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16] = { 0x03, 0, 0, 0, 252 };

	fx_run_good(fx, 1, c, 6, 252, 0);
	assert_int_equal(fx->cmd.in_len, 18);
	assert_int_equal(fx->buf[0], 0x70);
	assert_int_equal(fx->buf[2], 0);
	c[1] = 1;
	fx_run_good(fx, 1, c, 6, 252, 0);
	assert_int_equal(fx->cmd.in_len, 8);
	assert_int_equal(fx->buf[0], 0x72);
	fx->disk->online = false;
	c[1] = 0;
	fx_run_good(fx, 1, c, 6, 252, 0);
	assert_int_equal(fx->buf[2], SENSE_NOT_READY);
	assert_int_equal(fx->buf[12], 0x04);
	assert_int_equal(fx->buf[13], 0x12);
	fx->disk->online = true;
}

static void cdb_rsoc(uint8_t *c, uint8_t opts, uint8_t op, uint16_t sa, uint32_t alloc)
{
	memset(c, 0, 16);
	c[0] = 0xa3;
	c[1] = 0x0c;
	c[2] = opts;
	c[3] = op;
	put_be16(&c[4], sa);
	put_be32(&c[6], alloc);
}

/* Finds opcode/sa in an "all commands" list; returns the descriptor or NULL. */
static const uint8_t *rsoc_find(const uint8_t *d, uint32_t len, uint8_t op, uint16_t sa)
{
	uint32_t off = 4;

	while (off + 8 <= len) {
		const uint8_t *e = &d[off];

		if (e[0] == op && get_be16(&e[2]) == sa)
			return e;
		off += (e[5] & 0x02) ? 20 : 8;
	}
	return NULL;
}

static void test_report_opcodes_all(void **state)
{
	struct fx *fx = *state;
	const uint8_t *e;
	uint8_t c[16];
	uint32_t len;

	cdb_rsoc(c, 0, 0, 0, 8192);
	fx_run_good(fx, 1, c, 12, 8192, 0);
	len = 4 + get_be32(fx->buf);
	assert_int_equal(fx->cmd.in_len, len);
	assert_int_equal((len - 4) % 8, 0);
	e = rsoc_find(fx->buf, len, 0x28, 0);
	assert_non_null(e);
	assert_int_equal(e[5], 0);
	assert_int_equal(get_be16(&e[6]), 10);
	e = rsoc_find(fx->buf, len, 0x9e, 0x10);
	assert_non_null(e);
	assert_int_equal(e[5], 0x01);                     /* SERVACTV */
	assert_int_equal(get_be16(&e[6]), 16);
	assert_non_null(rsoc_find(fx->buf, len, 0xa3, 0x0c));
	assert_non_null(rsoc_find(fx->buf, len, 0x89, 0)); /* COMPARE AND WRITE */
	assert_non_null(rsoc_find(fx->buf, len, 0x83, 0)); /* EXTENDED COPY(LID1) */
	assert_non_null(rsoc_find(fx->buf, len, 0x84, 0x03)); /* RECEIVE COPY OP PARAMS */
	assert_null(rsoc_find(fx->buf, len, 0x83, 0x01));  /* no EXTENDED COPY(LID4) */
	/* RCTD: every descriptor carries a 12-byte timeouts descriptor */
	cdb_rsoc(c, 0x80, 0, 0, 8192);
	fx_run_good(fx, 1, c, 12, 8192, 0);
	len = 4 + get_be32(fx->buf);
	assert_int_equal((len - 4) % 20, 0);
	e = rsoc_find(fx->buf, len, 0x2a, 0);
	assert_non_null(e);
	assert_int_equal(e[5], 0x02);                     /* CTDP */
	assert_int_equal(get_be16(&e[8]), 0x0a);
}

static void test_report_opcodes_one(void **state)
{
	struct fx *fx = *state;
	const uint8_t *d = fx->buf;
	uint8_t c[16];

	cdb_rsoc(c, 1, 0x28, 0, 512);
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(d[1], 0x03);
	assert_int_equal(get_be16(&d[2]), 10);
	assert_int_equal(d[4], 0x28);
	assert_int_equal(d[5], 0x1a);                     /* DPO, FUA, FUA_NV */
	assert_int_equal(fx->cmd.in_len, 14);
	cdb_rsoc(c, 2, 0x9e, 0x10, 512);
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(d[1], 0x03);
	assert_int_equal(d[4], 0x9e);
	assert_int_equal(d[5], 0x10);
	cdb_rsoc(c, 0x82, 0x9e, 0x10, 512);               /* with timeouts */
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(d[1], 0x83);
	assert_int_equal(fx->cmd.in_len, 4 + 16 + 12);
	cdb_rsoc(c, 1, 0x9e, 0, 512);                     /* opcode has service actions */
	fx_run(fx, 1, c, 12, 512, 0);
	fx_assert_field(fx, 2, 2);
	cdb_rsoc(c, 2, 0x28, 0, 512);                     /* opcode has none */
	fx_run(fx, 1, c, 12, 512, 0);
	fx_assert_field(fx, 2, 2);
	cdb_rsoc(c, 1, 0x3b, 0, 512);                     /* unsupported (WRITE BUFFER) */
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(d[1], 0x01);
	assert_int_equal(get_be16(&d[2]), 0);
	cdb_rsoc(c, 2, 0x83, 0x00, 512);                  /* EXTENDED COPY(LID1) */
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(d[1], 0x03);
	assert_int_equal(get_be16(&d[2]), 16);
	assert_int_equal(d[4], 0x83);
	assert_int_equal(get_be32(&d[4 + 10]), 0xffffffff); /* PARAMETER LIST LENGTH */
	cdb_rsoc(c, 2, 0x83, 0x01, 512);                  /* LID4: not supported */
	fx_run_good(fx, 1, c, 12, 512, 0);
	assert_int_equal(d[1], 0x01);
	cdb_rsoc(c, 5, 0, 0, 512);
	fx_run(fx, 1, c, 12, 512, 0);
	fx_assert_field(fx, 2, 2);
}

static void test_controller_lun0(void **state)
{
	struct fx *fx = *state;
	uint8_t c[16];

	assert_int_equal(fx->ctl->block_size, 1);
	assert_int_equal(fx->ctl->size, 0);
	assert_string_equal(fx->ctl->scsi_id, "IET     00010000");
	assert_string_equal(fx->ctl->scsi_sn, "beaf10");
	cdb_inquiry(c, false, 0, 255);
	fx_run_good(fx, 0, c, 6, 255, 0);
	assert_int_equal(fx->buf[0], 0x0c);
	cdb_inquiry(c, true, 0x00, 255);
	fx_run_good(fx, 0, c, 6, 255, 0);
	assert_int_equal(get_be16(&fx->buf[2]), 3);
	cdb_inquiry(c, true, 0xb0, 255);
	fx_run(fx, 0, c, 6, 255, 0);
	fx_assert_field(fx, 2, -1);
	memset(c, 0, 16);
	c[0] = 0x28;
	fx_run(fx, 0, c, 10, 512, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	c[0] = 0x00;
	fx_run_good(fx, 0, c, 6, 0, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_inquiry_standard_data),
		T(test_inquiry_invalid_fields),
		T(test_vpd_supported_pages_sorted),
		T(test_vpd_serial_and_device_id),
		T(test_vpd_block_pages),
		T(test_report_luns),
		T(test_report_luns_flat_addressing),
		T(test_request_sense_formats),
		T(test_report_opcodes_all),
		T(test_report_opcodes_one),
		T(test_controller_lun0),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
