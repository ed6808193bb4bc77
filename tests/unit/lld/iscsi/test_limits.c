/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for lld/iscsi/limits.c: the driver-wide limits by name (validation, show) and the
 * per-address connection count behind max_initiator_conns (IPv4, IPv6, v4-mapped, others).
 */
#include <arpa/inet.h>

#include "iscsi_test.h"

static void addr4(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
}

static void addr6(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
}

static void test_limits_set_show(void **state)
{
	struct iscsi_lld lld;
	char show[256] = "";

	(void)state;
	memset(&lld, 0, sizeof(lld));
	assert_int_equal(iscsi_limits_init(&lld), 0);
	assert_int_equal(iscsi_lld_login_timeout_ms(&lld), ISCSI_LOGIN_TIMEOUT_MS);
	iscsi_lld_limit_foreach(&lld, show_cat, show);
	assert_string_equal(show, "login_timeout=15;max_initiator_conns=512;");
	assert_int_equal(iscsi_lld_limit_set(&lld, "login_timeout", "2"), 0);
	assert_int_equal(iscsi_lld_login_timeout_ms(&lld), 2000);
	assert_int_equal(iscsi_lld_limit_set(&lld, "LOGIN_TIMEOUT", "3600"), 0);
	assert_int_equal(iscsi_lld_limit_set(&lld, "login_timeout", "0"), -EINVAL);
	assert_int_equal(iscsi_lld_limit_set(&lld, "login_timeout", "3601"), -EINVAL);
	assert_int_equal(iscsi_lld_limit_set(&lld, "login_timeout", "1x"), -EINVAL);
	assert_int_equal(iscsi_lld_limit_set(&lld, "login_timeout", ""), -EINVAL);
	assert_int_equal(iscsi_lld_limit_set(&lld, "max_initiator_conns", "1025"), -EINVAL);
	assert_int_equal(iscsi_lld_limit_set(&lld, "max_initiator_conns", "1"), 0);
	assert_int_equal(iscsi_lld_limit_set(&lld, "max_sessions", "1"), -ENOENT);
	show[0] = '\0';
	iscsi_lld_limit_foreach(&lld, show_cat, show);
	assert_string_equal(show, "login_timeout=3600;max_initiator_conns=1;");
	iscsi_limits_fini(&lld);
}

static void test_limits_addr_count(void **state)
{
	struct sockaddr_storage a, a_port, b, mapped, v6, unix_peer;
	struct iscsi_lld lld;

	(void)state;
	memset(&lld, 0, sizeof(lld));
	assert_int_equal(iscsi_limits_init(&lld), 0);
	assert_int_equal(iscsi_lld_limit_set(&lld, "max_initiator_conns", "2"), 0);
	addr4(&a, "10.0.0.1");
	addr4(&a_port, "10.0.0.1");
	((struct sockaddr_in *)&a_port)->sin_port = htons(40001);
	addr4(&b, "10.0.0.2");
	addr6(&mapped, "::ffff:10.0.0.1");
	addr6(&v6, "fd00::1");
	memset(&unix_peer, 0, sizeof(unix_peer));
	unix_peer.ss_family = AF_UNIX;

	assert_int_equal(iscsi_lld_addr_get(&lld, &a), 0);
	assert_int_equal(iscsi_lld_addr_get(&lld, &a_port), 0); /* the port does not matter */
	assert_int_equal(iscsi_lld_addr_get(&lld, &a), -EUSERS);
	assert_int_equal(iscsi_lld_addr_get(&lld, &mapped), -EUSERS); /* same host */
	assert_int_equal(iscsi_lld_addr_conns(&lld, &a), 2);
	assert_int_equal(iscsi_lld_addr_get(&lld, &b), 0);
	assert_int_equal(iscsi_lld_addr_get(&lld, &v6), 0);
	for (int i = 0; i < 5; i++) /* not IP: never counted */
		assert_int_equal(iscsi_lld_addr_get(&lld, &unix_peer), 0);
	assert_int_equal(lld.limits.nr_addrs, 3);

	iscsi_lld_addr_put(&lld, &mapped);
	assert_int_equal(iscsi_lld_addr_conns(&lld, &a), 1);
	assert_int_equal(iscsi_lld_addr_get(&lld, &a), 0);
	iscsi_lld_addr_put(&lld, &a);
	iscsi_lld_addr_put(&lld, &a);
	iscsi_lld_addr_put(&lld, &a); /* one too many: harmless */
	assert_int_equal(iscsi_lld_addr_conns(&lld, &a), 0);
	assert_int_equal(lld.limits.nr_addrs, 2); /* the slot was freed */
	assert_int_equal(iscsi_lld_addr_conns(&lld, &b), 1);
	assert_int_equal(iscsi_lld_addr_conns(&lld, &v6), 1);
	iscsi_lld_addr_put(&lld, &b);
	iscsi_lld_addr_put(&lld, &v6);
	iscsi_lld_addr_put(&lld, &unix_peer);
	assert_int_equal(lld.limits.nr_addrs, 0);
	iscsi_limits_fini(&lld);
}

/* The table never holds more addresses than the driver has connections. */
static void test_limits_addr_table_full(void **state)
{
	struct sockaddr_storage ss;
	struct iscsi_lld lld;
	char text[32];

	(void)state;
	memset(&lld, 0, sizeof(lld));
	assert_int_equal(iscsi_limits_init(&lld), 0);
	for (unsigned int i = 0; i < ISCSI_CONNS_MAX; i++) {
		snprintf(text, sizeof(text), "10.%u.%u.1", i / 256, i % 256);
		addr4(&ss, text);
		assert_int_equal(iscsi_lld_addr_get(&lld, &ss), 0);
	}
	addr4(&ss, "192.168.0.1");
	assert_int_equal(iscsi_lld_addr_get(&lld, &ss), -EUSERS);
	addr4(&ss, "10.0.0.1");
	iscsi_lld_addr_put(&lld, &ss);
	addr4(&ss, "192.168.0.1");
	assert_int_equal(iscsi_lld_addr_get(&lld, &ss), 0);
	iscsi_limits_fini(&lld);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_set_show),
		cmocka_unit_test(test_limits_addr_count),
		cmocka_unit_test(test_limits_addr_table_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
