/* SPDX-License-Identifier: GPL-2.0-only */
/* scsi/xcopy.c: EXTENDED COPY parameter list parsing (lengths, limits, descriptor types),
 * CSCD resolution by designator, the chunked copy, RECEIVE COPY RESULTS and VPD 0x8F. */
#include "scsi_test.h"

#include "scsi/scsi_int.h"

#define SENSE_COPY_ABORTED_KEY 0x0a

/* The held store's LU (LUN 2, 4 MiB) starts zeroed. */
static int xc_setup(void **state)
{
	return fx_held_setup(state, 0);
}

/* The LU designation descriptor (NAA, 20 bytes) of lun from VPD 0x83. */
static void xc_desig(struct fx *fx, uint64_t lun, uint8_t *desig)
{
	uint8_t c[6] = { 0x12, 0x01, 0x83, 0x00, 0xff, 0 };

	fx_run_good(fx, lun, c, 6, 255, 0);
	assert_int_equal(fx->buf[5] & 0x0f, 3); /* first designator: NAA */
	memcpy(desig, &fx->buf[4], 20);
}

static uint32_t xc_cscd(uint8_t *d, const uint8_t *desig, uint32_t block_len)
{
	memset(d, 0, 32);
	d[0] = 0xe4;
	memcpy(&d[4], desig, 20);
	put_be24(&d[29], block_len);
	return 32;
}

static uint32_t xc_seg(uint8_t *d, uint16_t src, uint16_t dst, uint16_t nblk, uint64_t slba,
		       uint64_t dlba)
{
	memset(d, 0, 28);
	d[0] = 0x02;
	put_be16(&d[2], 0x18);
	put_be16(&d[4], src);
	put_be16(&d[6], dst);
	put_be16(&d[10], nblk);
	put_be64(&d[12], slba);
	put_be64(&d[20], dlba);
	return 28;
}

static void xc_hdr(uint8_t *p, uint8_t list_id, uint8_t usage, uint32_t cscd_len,
		   uint32_t seg_len)
{
	memset(p, 0, 16);
	p[0] = list_id;
	p[1] = (uint8_t)(usage << 3);
	put_be16(&p[2], (uint16_t)cscd_len);
	put_be32(&p[8], seg_len);
}

/* One CSCD (desig) and one segment: the list length. */
static uint32_t xc_simple(uint8_t *p, const uint8_t *desig, uint8_t list_id, uint16_t nblk,
			  uint64_t slba, uint64_t dlba)
{
	xc_hdr(p, list_id, 0, 32, 28);
	xc_cscd(&p[16], desig, 512);
	xc_seg(&p[48], 0, 0, nblk, slba, dlba);
	return 76;
}

static void xc_cdb(uint8_t *c, uint32_t plen)
{
	memset(c, 0, 16);
	c[0] = 0x83;
	put_be32(&c[10], plen);
}

static void rcr_cdb(uint8_t *c, uint8_t sa, uint8_t list_id)
{
	memset(c, 0, 16);
	c[0] = 0x84;
	c[1] = sa;
	c[2] = list_id;
	put_be32(&c[10], 1024);
}

static const uint8_t some_naa[20] = { 0x01, 0x03, 0, 16, 0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

/* ---- parsing ---- */

static void test_parse_accepts_one_cscd_and_one_segment(void **state)
{
	struct scsi_xcopy_list l;
	struct scsi_xcopy_err e;
	uint8_t p[128];

	(void)state;
	xc_simple(p, some_naa, 7, 16, 5, 900);
	p[1] |= 0x05; /* PRIORITY: ignored */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), 0);
	assert_int_equal(l.list_id, 7);
	assert_int_equal(l.usage, 0);
	assert_int_equal(l.nr_cscd, 1);
	assert_int_equal(l.nr_seg, 1);
	assert_memory_equal(l.cscd[0].desig, some_naa, 20);
	assert_int_equal(l.cscd[0].block_len, 512);
	assert_int_equal(l.seg[0].nblk, 16);
	assert_int_equal(l.seg[0].src_lba, 5);
	assert_int_equal(l.seg[0].dst_lba, 900);
	assert_int_equal(l.seg[0].off, 48);
	/* a parameter list longer than the descriptors is fine */
	assert_int_equal(scsi_xcopy_parse(p, sizeof(p), &l, &e), 0);
}

static void test_parse_truncated_list_is_parameter_list_length_error(void **state)
{
	struct scsi_xcopy_list l;
	struct scsi_xcopy_err e;
	uint32_t lens[] = { 0, 15, 16 + 32 - 1, 16 + 32 + 28 - 1 };
	uint8_t p[128];
	unsigned int i;

	(void)state;
	xc_simple(p, some_naa, 1, 16, 0, 100);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(scsi_xcopy_parse(p, lens[i], &l, &e), -EINVAL);
		assert_int_equal(e.key, SENSE_ILLEGAL_REQUEST);
		assert_int_equal(e.asc, ASC_PARAMETER_LIST_LENGTH_ERR);
	}
	/* a CSCD list length that cuts a descriptor */
	xc_hdr(p, 1, 0, 31, 0);
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.asc, ASC_PARAMETER_LIST_LENGTH_ERR);
	/* lengths near 2^32 cannot wrap the check */
	xc_hdr(p, 1, 0, 32, 0xfffffff0u);
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.asc, ASC_PARAMETER_LIST_LENGTH_ERR);
}

static void test_parse_descriptor_limits(void **state)
{
	uint8_t p[16 + 32 * (SCSI_XCOPY_MAX_CSCD + 1) + 28 * (SCSI_XCOPY_MAX_SEG + 40)];
	struct scsi_xcopy_list l;
	struct scsi_xcopy_err e;
	uint32_t off = 16, n;
	unsigned int i;

	(void)state;
	for (i = 0; i < SCSI_XCOPY_MAX_CSCD + 1; i++)
		off += xc_cscd(&p[off], some_naa, 512);
	off += xc_seg(&p[off], 0, 0, 1, 0, 1);
	xc_hdr(p, 1, 0, 32 * (SCSI_XCOPY_MAX_CSCD + 1), 28);
	assert_int_equal(scsi_xcopy_parse(p, off, &l, &e), -EINVAL);
	assert_int_equal(e.asc, 0x2606); /* TOO MANY TARGET DESCRIPTORS */

	off = 16 + xc_cscd(&p[16], some_naa, 512);
	for (i = 0; i < SCSI_XCOPY_MAX_SEG + 1; i++)
		off += xc_seg(&p[off], 0, 0, 1, 0, 1);
	xc_hdr(p, 1, 0, 32, 28 * (SCSI_XCOPY_MAX_SEG + 1));
	assert_int_equal(scsi_xcopy_parse(p, off, &l, &e), -EINVAL);
	assert_int_equal(e.asc, 0x2608); /* TOO MANY SEGMENT DESCRIPTORS */

	/* exactly the maxima are accepted */
	off = 16;
	for (i = 0; i < SCSI_XCOPY_MAX_CSCD; i++)
		off += xc_cscd(&p[off], some_naa, 512);
	for (i = 0; i < SCSI_XCOPY_MAX_SEG; i++)
		off += xc_seg(&p[off], 0, 0, 1, 0, 1);
	xc_hdr(p, 1, 0, 32 * SCSI_XCOPY_MAX_CSCD, 28 * SCSI_XCOPY_MAX_SEG);
	assert_int_equal(scsi_xcopy_parse(p, off, &l, &e), 0);
	assert_int_equal(l.nr_cscd, SCSI_XCOPY_MAX_CSCD);
	assert_int_equal(l.nr_seg, SCSI_XCOPY_MAX_SEG);

	/* over MAXIMUM DESCRIPTOR LIST LENGTH: a length error before the counts */
	n = (SCSI_XCOPY_MAX_DESC_LIST - 32 * (SCSI_XCOPY_MAX_CSCD + 1)) / 28 + 1;
	assert_true(16 + 32 * (SCSI_XCOPY_MAX_CSCD + 1) + 28 * n <= sizeof(p));
	xc_hdr(p, 1, 0, 32 * (SCSI_XCOPY_MAX_CSCD + 1), 28 * n);
	assert_int_equal(scsi_xcopy_parse(p, sizeof(p), &l, &e), -EINVAL);
	assert_int_equal(e.asc, ASC_PARAMETER_LIST_LENGTH_ERR);
}

static void test_parse_unsupported_descriptor_types(void **state)
{
	struct scsi_xcopy_list l;
	struct scsi_xcopy_err e;
	uint8_t p[128];

	(void)state;
	xc_simple(p, some_naa, 1, 16, 0, 100);
	p[16] = 0xe0; /* Fibre Channel N_Port_Name CSCD */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.asc, 0x2607);
	xc_simple(p, some_naa, 1, 16, 0, 100);
	p[48] = 0x03; /* stream to stream segment */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.asc, 0x2609);
	xc_simple(p, some_naa, 1, 16, 0, 100);
	p[17] = 0x01; /* peripheral device type: tape */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.asc, ASC_INVALID_FIELD_IN_PARAM);
	assert_int_equal(e.field, 17);
	xc_simple(p, some_naa, 1, 16, 0, 100);
	p[17] = 0xe0; /* LU ID TYPE and NUL: ignored in SPC-4 */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), 0);
	xc_simple(p, some_naa, 1, 16, 0, 100);
	p[51] = 0x14; /* segment DESCRIPTOR LENGTH */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.field, 50);
	xc_simple(p, some_naa, 1, 16, 0, 100);
	p[16 + 7] = 17; /* designator longer than the CSCD holds */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.field, 23);
}

static void test_parse_header_fields(void **state)
{
	struct scsi_xcopy_list l;
	struct scsi_xcopy_err e;
	uint8_t p[128];

	(void)state;
	xc_simple(p, some_naa, 1, 16, 0, 100);
	p[1] = 1 << 3; /* LIST ID USAGE 01b: reserved */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.field, 1);
	p[1] = 3 << 3; /* 11b: LIST IDENTIFIER must be 0 */
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), -EINVAL);
	assert_int_equal(e.field, 0);
	p[0] = 0;
	assert_int_equal(scsi_xcopy_parse(p, 76, &l, &e), 0);
	assert_int_equal(l.usage, 3);
	put_be32(&p[12], 4); /* inline data: MAXIMUM INLINE DATA LENGTH is 0 */
	assert_int_equal(scsi_xcopy_parse(p, 80, &l, &e), -EINVAL);
	assert_int_equal(e.field, 12);
	/* no descriptors at all is a valid (empty) list */
	xc_hdr(p, 1, 0, 0, 0);
	assert_int_equal(scsi_xcopy_parse(p, 16, &l, &e), 0);
	assert_int_equal(l.nr_cscd + l.nr_seg, 0);
}

/* ---- execution ---- */

static void test_xcopy_copies_blocks_and_reports_status(void **state)
{
	struct fx *fx = *state;
	uint8_t desig[20], c[16], rc[16], out[64];
	struct scsi_cmd r;
	uint32_t len, i;

	xc_desig(fx, 1, desig);
	for (i = 0; i < 16 * 512; i++)
		fx->medium[i] = (uint8_t)(i * 7 + 1);
	len = xc_simple(fx->buf, desig, 9, 16, 0, 1000);
	xc_cdb(c, len);
	fx_run_good(fx, 1, c, 16, len, len);
	assert_memory_equal(fx->medium + 1000 * 512, fx->medium, 16 * 512);
	assert_int_equal(fx->submits, 2); /* one read, one write */

	rcr_cdb(rc, 0x00, 9);
	fx_run_on(fx, &r, 1, rc, 16, out, sizeof(out), 0);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(get_be32(out), 8);
	assert_int_equal(out[4], 0x01);          /* completed without errors */
	assert_int_equal(get_be16(&out[5]), 1);  /* segments processed */
	assert_int_equal(out[7], 0);             /* bytes */
	assert_int_equal(get_be32(&out[8]), 16 * 512);
	/* reported once: then no copy with that list identifier is known */
	fx_run_on(fx, &r, 1, rc, 16, out, sizeof(out), 0);
	assert_int_equal(r.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal((r.sense[12] << 8) | r.sense[13], ASC_INVALID_FIELD_IN_CDB);
	assert_int_equal(get_be16(&r.sense[16]), 2);
	/* LIST ID USAGE 10b: nothing held */
	len = xc_simple(fx->buf, desig, 10, 1, 0, 2000);
	fx->buf[1] = 2 << 3;
	fx_run_good(fx, 1, c, 16, len, len);
	rcr_cdb(rc, 0x00, 10);
	fx_run_on(fx, &r, 1, rc, 16, out, sizeof(out), 0);
	assert_int_equal(r.status, SAM_STAT_CHECK_CONDITION);
	/* PARAMETER LIST LENGTH 0: nothing to do */
	xc_cdb(c, 0);
	fx_run_good(fx, 1, c, 16, 0, 0);
	assert_int_equal(fx->submits, 0);
}

static void test_xcopy_overlapping_copy_runs_backwards(void **state)
{
	struct fx *fx = *state;
	uint8_t desig[20], c[16], want[4096 * 2];
	uint32_t len, i;

	xc_desig(fx, 2, desig);
	for (i = 0; i < 4096 * 512; i++)
		fx->held_medium[i] = (uint8_t)(i / 512);
	memcpy(want, fx->held_medium, sizeof(want)); /* blocks 0..15 */
	len = xc_simple(fx->buf, desig, 1, 4096, 0, 8);
	xc_cdb(c, len);
	fx_run(fx, 2, c, 16, len, len);
	while (fx->held)
		fx_held_complete(fx);
	fx_assert_good(fx);
	assert_int_equal(fx->held_submits, 4); /* two chunks of 1 MiB, read then write */
	assert_memory_equal(fx->held_medium + 8 * 512, want, sizeof(want));
	for (i = 0; i < 4096; i++)
		assert_int_equal(fx->held_medium[(8 + i) * 512], (uint8_t)i);
}

static void test_xcopy_errors(void **state)
{
	struct fx *fx = *state;
	uint8_t desig[20], c[16];
	uint32_t len;

	xc_desig(fx, 1, desig);
	/* destination CSCD index 1 does not exist */
	len = xc_simple(fx->buf, desig, 1, 16, 0, 100);
	put_be16(&fx->buf[48 + 6], 1);
	xc_cdb(c, len);
	fx_run(fx, 1, c, 16, len, len);
	fx_assert_sense(fx, SENSE_COPY_ABORTED_KEY, 0x0804);
	/* beyond the end: COPY ABORTED with the copy target's sense, segment 0 */
	len = xc_simple(fx->buf, desig, 1, 16, 0, FX_BLOCKS - 15);
	fx_run(fx, 1, c, 16, len, len);
	fx_assert_sense(fx, SENSE_COPY_ABORTED_KEY, 0x0000);
	assert_int_equal(fx->cmd.sense[8], 0);  /* not the source's */
	assert_int_equal(fx->cmd.sense[9], 18); /* the destination's sense data */
	assert_int_equal(get_be16(&fx->cmd.sense[10]), 0);
	assert_int_equal(fx->cmd.sense[18 + 2], SENSE_ILLEGAL_REQUEST);
	assert_int_equal(get_be16(&fx->cmd.sense[18 + 12]), ASC_LBA_OUT_OF_RANGE);
	/* a designator no LU has */
	len = xc_simple(fx->buf, some_naa, 1, 16, 0, 100);
	fx_run(fx, 1, c, 16, len, len);
	fx_assert_sense(fx, SENSE_COPY_ABORTED_KEY, 0x0804);
	/* DISK BLOCK LENGTH that is not the LU's */
	len = xc_simple(fx->buf, desig, 1, 16, 0, 100);
	put_be24(&fx->buf[16 + 29], 4096);
	fx_run(fx, 1, c, 16, len, len);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM);
	assert_int_equal(get_be16(&fx->cmd.sense[16]), 16 + 29);
	/* a write-protected destination */
	fx->disk->readonly = true;
	len = xc_simple(fx->buf, desig, 1, 16, 0, 100);
	fx_run(fx, 1, c, 16, len, len);
	fx_assert_sense(fx, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	fx->disk->readonly = false;
	/* a Data-Out shorter than the parameter list length */
	fx_run(fx, 1, c, 16, len, len - 1);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
	assert_int_equal(fx->submits, 0);
}

static void test_xcopy_status_in_progress_and_abort(void **state)
{
	struct fx *fx = *state;
	uint8_t desig[20], c[16], rc[16], out[64];
	struct scsi_cmd r;
	uint32_t len;

	xc_desig(fx, 2, desig);
	len = xc_simple(fx->buf, desig, 5, 6000, 0, 8000 - 6000);
	xc_cdb(c, len);
	fx_run(fx, 2, c, 16, len, len);
	assert_int_equal(fx->done, 0);
	fx_held_complete(fx); /* first read */
	rcr_cdb(rc, 0x00, 5);
	fx_run_on(fx, &r, 2, rc, 16, out, sizeof(out), 0);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_int_equal(out[4], 0x00); /* in progress */
	/* the same list identifier again while it runs */
	fx_run_on(fx, &r, 2, c, 16, fx->buf, len, len);
	assert_int_equal(r.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal((r.sense[12] << 8) | r.sense[13], 0x0016);
	/* an abort ends it at the next step, as completed with errors */
	fx->cmd.aborted = true;
	fx_held_complete(fx); /* first write */
	assert_int_equal(fx->done, 1);
	assert_null(fx->held);
	assert_int_equal(fx->held_submits, 2);
	fx_run_on(fx, &r, 2, rc, 16, out, sizeof(out), 0);
	assert_int_equal(out[4], 0x02);
	assert_int_equal(get_be32(&out[8]), 1u << 20);
}

static void test_op_params_and_vpd_match_the_limits(void **state)
{
	struct fx *fx = *state;
	uint8_t rc[16], out[256], inq[6] = { 0x12, 0x01, 0x00, 0x00, 0xff, 0 };
	struct scsi_cmd r;
	uint32_t i, off, n;
	bool found = false;

	rcr_cdb(rc, 0x03, 0);
	fx_run_on(fx, &r, 1, rc, 16, out, sizeof(out), 0);
	assert_int_equal(r.status, SAM_STAT_GOOD);
	assert_true(get_be32(out) >= 40);
	assert_int_equal(get_be16(&out[8]), SCSI_XCOPY_MAX_CSCD);
	assert_int_equal(get_be16(&out[10]), SCSI_XCOPY_MAX_SEG);
	assert_int_equal(get_be32(&out[12]), SCSI_XCOPY_MAX_DESC_LIST);
	assert_int_equal(get_be32(&out[16]), SCSI_XCOPY_MAX_SEG_BYTES);
	assert_int_equal(get_be32(&out[20]), 0);
	assert_int_equal(out[43], 2);
	assert_int_equal(out[44], 0x02);
	assert_int_equal(out[45], 0xe4);

	fx_run_good(fx, 1, inq, 6, 255, 0);
	for (i = 0; i < get_be16(&fx->buf[2]); i++)
		found |= fx->buf[4 + i] == 0x8f;
	assert_true(found);
	inq[2] = 0x8f;
	fx_run_good(fx, 1, inq, 6, 255, 0);
	assert_int_equal(fx->buf[1], 0x8f);
	n = 4 + get_be16(&fx->buf[2]);
	found = false;
	for (off = 4; off + 4 <= n; off += 4 + get_be16(&fx->buf[off + 2])) {
		assert_int_equal(get_be16(&fx->buf[off + 2]) % 4, 0);
		if (get_be16(&fx->buf[off]) == 0x0008) {
			found = true;
			assert_int_equal(get_be16(&fx->buf[off + 8]), SCSI_XCOPY_MAX_CSCD);
			assert_int_equal(get_be16(&fx->buf[off + 10]), SCSI_XCOPY_MAX_SEG);
			assert_int_equal(get_be32(&fx->buf[off + 12]), SCSI_XCOPY_MAX_DESC_LIST);
		}
	}
	assert_int_equal(off, n);
	assert_true(found);
	/* standard INQUIRY: 3PC on disks, not on the controller */
	inq[1] = 0;
	inq[2] = 0;
	fx_run_good(fx, 1, inq, 6, 255, 0);
	assert_int_equal(fx->buf[5] & 0x08, 0x08);
	fx_run_good(fx, 0, inq, 6, 255, 0);
	assert_int_equal(fx->buf[5] & 0x08, 0);
	/* the controller at LUN 0 has no copy manager */
	xc_cdb(rc, 0);
	fx_run(fx, 0, rc, 16, 0, 0);
	fx_assert_sense(fx, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
}

#define T(f) cmocka_unit_test_setup_teardown(f, xc_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_accepts_one_cscd_and_one_segment),
		T(test_parse_truncated_list_is_parameter_list_length_error),
		T(test_parse_descriptor_limits),
		T(test_parse_unsupported_descriptor_types),
		T(test_parse_header_fields),
		T(test_xcopy_copies_blocks_and_reports_status),
		T(test_xcopy_overlapping_copy_runs_backwards),
		T(test_xcopy_errors),
		T(test_xcopy_status_in_progress_and_abort),
		T(test_op_params_and_vpd_match_the_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
