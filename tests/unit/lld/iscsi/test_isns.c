/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for lld/iscsi/isns.c: the iSNS TLV codec (RFC 4171 §5.1 header, §5.5 attributes)
 * used by the client: padding, string NULs, v4-mapped addresses, PDU size limits, and the
 * bounded header/TLV parsers that face the server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>

#include "lld/iscsi/iscsi_int.h"
#include "lld/iscsi/isns.h"

static uint8_t buf[ISNS_HDR_LEN + ISNS_PAYLOAD_MAX + 64];

static void test_isns_msg_header_and_padding(void **state)
{
	struct isns_msg m;
	struct isns_hdr h;
	struct isns_tlv t;
	size_t off = 0;
	int n;

	(void)state;
	isns_msg_init(&m, buf, sizeof(buf), ISNS_FUNC_DEV_ATTR_REG,
		      ISNS_FLAG_CLIENT | ISNS_FLAG_FIRST_PDU | ISNS_FLAG_LAST_PDU, 7);
	isns_msg_put_str(&m, ISNS_ATTR_ISCSI_NAME, "iqn.x");   /* 6 bytes -> 8 */
	isns_msg_put(&m, ISNS_ATTR_DELIMITER, NULL, 0);
	isns_msg_put_u32(&m, ISNS_ATTR_ISCSI_NODE_TYPE, ISNS_NODE_TARGET);
	n = isns_msg_finish(&m);
	assert_int_equal(n, ISNS_HDR_LEN + 16 + 8 + 12);
	assert_int_equal(isns_hdr_parse(buf, (size_t)n, &h), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.func, ISNS_FUNC_DEV_ATTR_REG);
	assert_int_equal(h.len, 36);
	assert_int_equal(h.xid, 7);
	assert_int_equal(h.flags, ISNS_FLAG_CLIENT | ISNS_FLAG_FIRST_PDU | ISNS_FLAG_LAST_PDU);

	assert_int_equal(isns_tlv_next(buf + 12, h.len, &off, &t), 1);
	assert_int_equal(t.tag, ISNS_ATTR_ISCSI_NAME);
	assert_int_equal(t.len, 8);
	assert_memory_equal(t.val, "iqn.x\0\0\0", 8);
	assert_int_equal(isns_tlv_next(buf + 12, h.len, &off, &t), 1);
	assert_int_equal(t.tag, ISNS_ATTR_DELIMITER);
	assert_int_equal(t.len, 0);
	assert_int_equal(isns_tlv_next(buf + 12, h.len, &off, &t), 1);
	assert_int_equal(t.len, 4);
	assert_int_equal(t.val[3], 1);
	assert_int_equal(isns_tlv_next(buf + 12, h.len, &off, &t), 0);
}

static void test_isns_msg_addr_v4_mapped(void **state)
{
	static const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct isns_msg m;

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin6.sin6_addr = in6addr_loopback;
	isns_msg_init(&m, buf, sizeof(buf), ISNS_FUNC_DEV_ATTR_REG, 0, 1);
	assert_int_equal(isns_msg_put_addr(&m, ISNS_ATTR_PORTAL_IP, &sin), 0);
	assert_int_equal(isns_msg_put_addr(&m, ISNS_ATTR_PORTAL_IP, &sin6), 0);
	assert_int_equal(isns_msg_put_addr(&m, ISNS_ATTR_PORTAL_IP, &sa), -EAFNOSUPPORT);
	assert_int_equal(isns_msg_finish(&m), ISNS_HDR_LEN + 2 * 24);
	assert_int_equal(buf[12 + 7], 16);
	assert_memory_equal(buf + 12 + 8, want, 16);
	assert_int_equal(buf[12 + 24 + 8 + 15], 1);
}

static void test_isns_msg_rejects_oversized_pdu(void **state)
{
	static uint8_t big[ISNS_PAYLOAD_MAX];
	uint8_t small[40];
	struct isns_msg m;

	(void)state;
	isns_msg_init(&m, buf, sizeof(buf), ISNS_FUNC_DEV_ATTR_REG, 0, 1);
	isns_msg_put(&m, ISNS_ATTR_ISCSI_NAME, big, ISNS_PAYLOAD_MAX - 8);
	assert_int_equal(isns_msg_finish(&m), ISNS_HDR_LEN + ISNS_PAYLOAD_MAX);
	isns_msg_put_u32(&m, ISNS_ATTR_ISCSI_NODE_TYPE, 1);     /* one TLV too many */
	assert_int_equal(isns_msg_finish(&m), -EMSGSIZE);
	/* a small buffer overflows without writing past it; overflow is sticky */
	memset(small, 0xaa, sizeof(small));
	isns_msg_init(&m, small, 32, ISNS_FUNC_DEV_ATTR_REG, 0, 1);
	isns_msg_put(&m, ISNS_ATTR_ISCSI_NAME, big, 16);
	assert_int_equal(small[32], 0xaa);
	isns_msg_put(&m, ISNS_ATTR_DELIMITER, NULL, 0);
	assert_int_equal(isns_msg_finish(&m), -EMSGSIZE);
}

static void test_isns_hdr_parse_rejects_bad_headers(void **state)
{
	uint8_t h12[12] = { 0, 1, 0x80, 0x08, 0, 8, 0x44, 0, 0, 3, 0, 0 };
	struct isns_hdr h;

	(void)state;
	assert_int_equal(isns_hdr_parse(h12, 11, &h), -EAGAIN);
	assert_int_equal(isns_hdr_parse(h12, 12, &h), 0);
	assert_int_equal(h.func, 0x8008);
	h12[1] = 2;                                             /* version 2 */
	assert_int_equal(isns_hdr_parse(h12, 12, &h), -EPROTO);
	h12[1] = 1;
	h12[5] = 6;                                             /* unaligned length */
	assert_int_equal(isns_hdr_parse(h12, 12, &h), -EPROTO);
}

static void test_isns_tlv_next_rejects_overruns(void **state)
{
	uint8_t p[16] = { 0, 0, 0, 32, 0, 0, 0, 8, 'a', 0, 0, 0, 0, 0, 0, 0 };
	struct isns_tlv t;
	size_t off = 0;

	(void)state;
	assert_int_equal(isns_tlv_next(p, 16, &off, &t), 1);
	off = 0;
	assert_int_equal(isns_tlv_next(p, 15, &off, &t), -EPROTO);  /* value past the end */
	off = 0;
	assert_int_equal(isns_tlv_next(p, 7, &off, &t), -EPROTO);   /* truncated tag/length */
	p[7] = 6;                                                    /* unaligned length */
	off = 0;
	assert_int_equal(isns_tlv_next(p, 16, &off, &t), -EPROTO);
	p[4] = 0xff;                                                 /* huge length */
	p[7] = 0xfc;
	off = 0;
	assert_int_equal(isns_tlv_next(p, 16, &off, &t), -EPROTO);
	off = 16;
	assert_int_equal(isns_tlv_next(p, 16, &off, &t), 0);
}

static void test_isns_param_set_unknown_and_no_reactor(void **state)
{
	struct iscsi_lld lld;

	(void)state;
	memset(&lld, 0, sizeof(lld));
	/* not an iSNS name: left for the other parameter tables */
	assert_int_equal(iscsi_isns_param_set(&lld, "login_timeout", "5"), -ENOENT);
	/* outside a reactor thread the client cannot run, and says so */
	assert_int_equal(iscsi_isns_param_set(&lld, "iSNSServerIP", "127.0.0.1"), -EOPNOTSUPP);
	assert_null(lld.isns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isns_msg_header_and_padding),
		cmocka_unit_test(test_isns_msg_addr_v4_mapped),
		cmocka_unit_test(test_isns_msg_rejects_oversized_pdu),
		cmocka_unit_test(test_isns_hdr_parse_rejects_bad_headers),
		cmocka_unit_test(test_isns_tlv_next_rejects_overruns),
		cmocka_unit_test(test_isns_param_set_unknown_and_no_reactor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
