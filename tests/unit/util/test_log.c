/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for src/util/log.c: the per-source token bucket and the key=value formatting
 * used by structured protocol-error lines, and the journald line format.
 */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void test_bucket_allows_burst_then_refills(void **state)
{
	struct log_bucket b = { 0 };
	uint32_t sup = 99;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_true(log_bucket_take(&b, 5, 2, 1000, &sup));
	assert_int_equal(sup, 0);
	assert_false(log_bucket_take(&b, 5, 2, 1000, &sup));
	assert_false(log_bucket_take(&b, 5, 2, 1400, &sup));
	/* 2 per second: one token after 500 ms, and it reports the 2 refused messages */
	assert_true(log_bucket_take(&b, 5, 2, 1500, &sup));
	assert_int_equal(sup, 2);
	assert_false(log_bucket_take(&b, 5, 2, 1500, &sup));
	/* a long pause refills only up to burst */
	for (i = 0; i < 5; i++)
		assert_true(log_bucket_take(&b, 5, 2, 100000, &sup));
	assert_false(log_bucket_take(&b, 5, 2, 100000, &sup));
}

static void test_bucket_clock_going_back_is_harmless(void **state)
{
	struct log_bucket b = { 0 };
	uint32_t sup;

	(void)state;
	assert_true(log_bucket_take(&b, 1, 1, 5000, &sup));
	assert_false(log_bucket_take(&b, 1, 1, 10, &sup));
	assert_true(log_bucket_take(&b, 1, 1, 6000, &sup));
	assert_int_equal(sup, 1);
}

static void test_peer_ok_limits_one_source(void **state)
{
	struct log_bucket b = { 0 };
	uint32_t sup;
	unsigned int ok = 0;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		ok += log_peer_ok(&b, &sup);
	/* burst, plus at most a refill or two while the loop runs */
	assert_true(ok >= LOG_PEER_BURST && ok <= LOG_PEER_BURST + 2);
	assert_true(b.suppressed >= 1000 - ok - 2);
}

/* Many sources, one message each: the process-wide cap still holds. */
static void test_peer_ok_global_cap(void **state)
{
	static struct log_bucket src[400];
	unsigned int ok = 0;
	uint32_t sup;
	unsigned int i;

	(void)state;
	for (i = 0; i < 400; i++)
		ok += log_peer_ok(&src[i], &sup);
	assert_true(ok <= LOG_GLOBAL_BURST + 2);
	/* a source refused by the global cap counts the message as its own suppressed one */
	assert_int_equal(src[399].suppressed, 1);
}

static void test_kv_plain_and_quoted(void **state)
{
	char buf[256];
	size_t off = 0;

	(void)state;
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "event", "reject"), 0);
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "target", "iqn.x:y"), 0);
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "why", "bad \"pdu\" a=b"), 0);
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "empty", ""), 0);
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "none", NULL), 0);
	assert_int_equal(log_kv_appendf(buf, sizeof(buf), &off, "cid", "%u", 7u), 0);
	assert_string_equal(buf, "event=reject target=iqn.x:y why=\"bad \\\"pdu\\\" a=b\" "
				 "empty=\"\" none=- cid=7");
	assert_int_equal(off, strlen(buf));
}

static void test_kv_escapes_control_bytes(void **state)
{
	char buf[64];
	size_t off = 0;

	(void)state;
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "i", "a\nb\xff\\"), 0);
	assert_string_equal(buf, "i=\"a\\x0ab\\xff\\\\\"");
}

static void test_kv_truncates_safely(void **state)
{
	char buf[12];
	size_t off = 0;

	(void)state;
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "k", "v"), 0);
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "key", "0123456789"), -ENOSPC);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_int_equal(log_kv_append(buf, sizeof(buf), &off, "more", "x"), -ENOSPC);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

static void test_line_format_journal_prefix(void **state)
{
	char out[64];

	(void)state;
	log_line_format(out, sizeof(out), LOG_LVL_ERR, true, "boom");
	assert_string_equal(out, "<3>boom");
	log_line_format(out, sizeof(out), LOG_LVL_WARN, true, "w");
	assert_string_equal(out, "<4>w");
	log_line_format(out, sizeof(out), LOG_LVL_INFO, true, "i");
	assert_string_equal(out, "<6>i");
	log_line_format(out, sizeof(out), LOG_LVL_WARN, false, "w");
	assert_string_equal(out, "utgtd: warning: w");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_allows_burst_then_refills),
		cmocka_unit_test(test_bucket_clock_going_back_is_harmless),
		cmocka_unit_test(test_peer_ok_limits_one_source),
		cmocka_unit_test(test_peer_ok_global_cap),
		cmocka_unit_test(test_kv_plain_and_quoted),
		cmocka_unit_test(test_kv_escapes_control_bytes),
		cmocka_unit_test(test_kv_truncates_safely),
		cmocka_unit_test(test_line_format_journal_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
