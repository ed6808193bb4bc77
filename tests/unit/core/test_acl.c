/* SPDX-License-Identifier: GPL-2.0-only */
/* core/acl.c: address and name rules; both kinds must match when both exist. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core_fakes.h"

static struct sockaddr_storage addr_of(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, text, &s4->sin_addr);
	}
	return ss;
}

static bool allows(struct core_target *t, const char *ip, const char *name)
{
	struct sockaddr_storage ss = addr_of(ip);

	return core_acl_allows(t, (struct sockaddr *)&ss, name);
}

static void test_acl_parse_rejects_bad_addresses(void **state)
{
	struct core_acl acl;

	(void)state;
	assert_int_equal(core_acl_parse_addr("10.0.0.0/8", &acl), 0);
	assert_int_equal(acl.prefix, 8);
	assert_int_equal(core_acl_parse_addr("[fd00::]/8", &acl), 0);
	assert_int_equal(acl.family, AF_INET6);
	assert_int_equal(core_acl_parse_addr("10.0.0.1/8", &acl), -EINVAL); /* host bits */
	assert_int_equal(core_acl_parse_addr("10.0.0.0/33", &acl), -EINVAL);
	assert_int_equal(core_acl_parse_addr("300.1.1.1", &acl), -EINVAL);
	assert_int_equal(core_acl_parse_addr("[::1", &acl), -EINVAL);
	assert_int_equal(core_acl_parse_addr("", &acl), -EINVAL);
}

static void test_acl_empty_target_admits_nobody(void **state)
{
	struct core_root *root = fake_root();
	struct core_target *t;

	(void)state;
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_false(allows(t, "127.0.0.1", "iqn.x"));
	assert_int_equal(core_acl_add(t, CORE_ACL_ADDR, "ALL"), 0);
	assert_true(allows(t, "127.0.0.1", "iqn.x"));
	assert_int_equal(core_acl_add(t, CORE_ACL_ADDR, "ALL"), -EEXIST);
	core_root_free(root);
}

static void test_acl_cidr_and_name_must_both_match(void **state)
{
	struct core_root *root = fake_root();
	struct core_target *t;

	(void)state;
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_int_equal(core_acl_add(t, CORE_ACL_ADDR, "192.168.1.0/24"), 0);
	assert_int_equal(core_acl_add(t, CORE_ACL_NAME, "iqn.good"), 0);
	assert_true(allows(t, "192.168.1.7", "iqn.good"));
	assert_false(allows(t, "192.168.2.7", "iqn.good"));
	assert_false(allows(t, "192.168.1.7", "iqn.bad"));
	assert_int_equal(core_acl_del(t, CORE_ACL_ADDR, "192.168.1.0/24"), 0);
	assert_true(allows(t, "10.1.1.1", "iqn.good"));
	assert_false(allows(t, "10.1.1.1", "iqn.bad"));
	assert_int_equal(core_acl_del(t, CORE_ACL_ADDR, "192.168.1.0/24"), -ENOENT);
	core_root_free(root);
}

static void test_acl_ipv6_and_mapped_ipv4(void **state)
{
	struct core_root *root = fake_root();
	struct core_target *t;

	(void)state;
	assert_int_equal(core_target_new(root, 1, "iqn.2026-11.test:t", &t), 0);
	assert_int_equal(core_acl_add(t, CORE_ACL_ADDR, "::1"), 0);
	assert_int_equal(core_acl_add(t, CORE_ACL_ADDR, "127.0.0.0/8"), 0);
	assert_true(allows(t, "::1", NULL));
	assert_true(allows(t, "::ffff:127.0.0.5", NULL));
	assert_false(allows(t, "::2", NULL));
	core_root_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acl_parse_rejects_bad_addresses),
		cmocka_unit_test(test_acl_empty_target_admits_nobody),
		cmocka_unit_test(test_acl_cidr_and_name_must_both_match),
		cmocka_unit_test(test_acl_ipv6_and_mapped_ipv4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
