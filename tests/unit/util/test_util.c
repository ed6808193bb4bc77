/* SPDX-License-Identifier: GPL-2.0-only */
/* Unit tests for util/: CRC32C vectors, bounded strings, serial numbers, the buffer pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void test_crc32c_known_vectors(void **state)
{
	uint8_t zeros[32] = { 0 }, ones[32];

	(void)state;
	memset(ones, 0xff, sizeof(ones));
	/* RFC 3720 appendix B.4 / RFC 7143 examples */
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(crc32c(0, zeros, sizeof(zeros)), 0x8a9136aa);
	assert_int_equal(crc32c(0, ones, sizeof(ones)), 0x62a8ab43);
}

static void test_crc32c_chains_pieces(void **state)
{
	const char *s = "iSCSI digests are chained";
	uint32_t whole = crc32c(0, s, strlen(s));
	uint32_t part = crc32c(crc32c(0, s, 5), s + 5, strlen(s) - 5);

	(void)state;
	assert_int_equal(whole, part);
}

static void test_str_copy_truncates_and_terminates(void **state)
{
	char buf[4];

	(void)state;
	assert_int_equal(str_copy(buf, "abcdef", sizeof(buf)), 6);
	assert_string_equal(buf, "abc");
}

static void test_str_appendf_bounded(void **state)
{
	char buf[8];
	size_t off = 0;

	(void)state;
	assert_int_equal(str_appendf(buf, sizeof(buf), &off, "%s", "abc"), 0);
	assert_int_equal(str_appendf(buf, sizeof(buf), &off, "%s", "defghij"), -ENOSPC);
	assert_int_equal(strlen(buf), 7);
}

static void test_str_to_u64_rejects_junk_and_range(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(str_to_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(str_to_u64("0x10", 0, 100, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(str_to_u64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(str_to_u64("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(str_to_u64("12x", 0, 100, &v), -EINVAL);
	assert_int_equal(str_to_u64("", 0, 100, &v), -EINVAL);
}

static void test_serial_compare_wraps(void **state)
{
	(void)state;
	assert_true(sn_lt(0xfffffff0u, 5));
	assert_true(sn_gt(5, 0xfffffff0u));
	assert_false(sn_lt(7, 7));
}

static void test_bufpool_reuses_and_aligns(void **state)
{
	struct bufpool *bp = bufpool_new(1 << 20);
	size_t cap, cap2;
	void *a, *b;

	(void)state;
	a = bufpool_get(bp, 5000, &cap);
	assert_non_null(a);
	assert_int_equal(cap, 8192);
	assert_int_equal((uintptr_t)a % 4096, 0);
	bufpool_put(bp, a, cap);
	b = bufpool_get(bp, 8000, &cap2);
	assert_ptr_equal(a, b);
	bufpool_put(bp, b, cap2);
	assert_null(bufpool_get(bp, 0, &cap));
	assert_null(bufpool_get(bp, BUFPOOL_MAX_LEN + 1, &cap));
	bufpool_free(bp);
}

static void test_be_accessors(void **state)
{
	uint8_t b[8];

	(void)state;
	put_be64(b, 0x0102030405060708ull);
	assert_int_equal(b[0], 1);
	assert_int_equal(get_be32(b + 4), 0x05060708);
	assert_int_equal(get_be24(b + 1), 0x020304);
	assert_true(get_be64(b) == 0x0102030405060708ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_vectors),
		cmocka_unit_test(test_crc32c_chains_pieces),
		cmocka_unit_test(test_str_copy_truncates_and_terminates),
		cmocka_unit_test(test_str_appendf_bounded),
		cmocka_unit_test(test_str_to_u64_rejects_junk_and_range),
		cmocka_unit_test(test_serial_compare_wraps),
		cmocka_unit_test(test_bufpool_reuses_and_aligns),
		cmocka_unit_test(test_be_accessors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
