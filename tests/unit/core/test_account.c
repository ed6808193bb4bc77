/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * src/core/account.c: account life, bindings (incoming, one outgoing per target, global),
 * secret look-ups, listing, and bindings dropped with their target.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void collect(const char *user, bool outgoing, void *arg)
{
	char *s = arg;

	strcat(s, user);
	strcat(s, outgoing ? "(o) " : " ");
}

static void test_life(void **state)
{
	struct core_root *root;
	char longname[300];

	(void)state;
	assert_int_equal(core_root_new(&root), 0);
	assert_int_equal(core_account_new(root, "u1", "p1"), 0);
	assert_int_equal(core_account_new(root, "u1", "p2"), -EEXIST);
	assert_int_equal(core_account_new(root, "", "p2"), -EINVAL);
	assert_int_equal(core_account_new(root, "u2", ""), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(core_account_new(root, longname, "p"), -EINVAL);
	assert_int_equal(core_account_delete(root, "nobody"), -ENOENT);
	assert_int_equal(core_account_delete(root, "u1"), 0);
	assert_int_equal(core_account_delete(root, "u1"), -ENOENT);
	assert_int_equal(core_account_new(root, "u1", "p1"), 0);
	core_root_free(root); /* frees the remaining account (ASan checks) */
}

static void test_bindings(void **state)
{
	struct core_root *root;
	uint8_t secret[64];
	char user[64], list[256] = "";
	size_t len;

	(void)state;
	assert_int_equal(core_root_new(&root), 0);
	assert_int_equal(core_account_new(root, "in1", "secret-in1"), 0);
	assert_int_equal(core_account_new(root, "in2", "secret-in2"), 0);
	assert_int_equal(core_account_new(root, "out", "secret-out"), 0);
	assert_false(core_account_required(root, 1));
	assert_int_equal(core_account_bind(root, 1, "ghost", false), -ENOENT);
	assert_int_equal(core_account_bind(root, 1, "in1", false), 0);
	assert_int_equal(core_account_bind(root, 1, "in1", false), -EEXIST);
	assert_int_equal(core_account_bind(root, 1, "in2", false), 0);
	assert_int_equal(core_account_bind(root, 1, "out", true), 0);
	assert_int_equal(core_account_bind(root, 1, "in1", true), -EBUSY);
	assert_int_equal(core_account_bind(root, CORE_ACCOUNT_GLOBAL, "in2", false), 0);
	assert_true(core_account_required(root, 1));
	assert_true(core_account_required(root, CORE_ACCOUNT_GLOBAL));
	assert_false(core_account_required(root, 2));

	assert_int_equal(core_account_in_secret(root, 1, "in1", secret, sizeof(secret), &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(secret, "secret-in1", 10);
	assert_int_equal(core_account_in_secret(root, 1, "out", secret, sizeof(secret), &len),
			 -ENOENT);
	assert_int_equal(core_account_in_secret(root, 2, "in1", secret, sizeof(secret), &len),
			 -ENOENT);
	assert_int_equal(core_account_in_secret(root, 1, "in1", secret, 4, &len), -ENOSPC);
	assert_int_equal(core_account_out_secret(root, 1, user, sizeof(user), secret,
						 sizeof(secret), &len), 0);
	assert_string_equal(user, "out");
	assert_int_equal(core_account_out_secret(root, 2, user, sizeof(user), secret,
						 sizeof(secret), &len), -ENOENT);

	core_account_foreach_bound(root, 1, collect, list);
	assert_string_equal(list, "in1 in2 out(o) ");
	list[0] = '\0';
	core_account_foreach(root, collect, list);
	assert_string_equal(list, "in1 in2 out ");

	assert_int_equal(core_account_unbind(root, 1, "in1", true), -ENODATA);
	assert_int_equal(core_account_unbind(root, 1, "ghost", false), -ENOENT);
	assert_int_equal(core_account_unbind(root, 1, "in1", false), 0);
	core_account_target_gone(root, 1);
	assert_false(core_account_required(root, 1));
	assert_true(core_account_required(root, CORE_ACCOUNT_GLOBAL));
	assert_int_equal(core_account_bind(root, 1, "out", true), 0); /* outgoing slot freed */
	assert_int_equal(core_account_delete(root, "in2"), 0);
	assert_false(core_account_required(root, CORE_ACCOUNT_GLOBAL));
	core_root_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_life),
		cmocka_unit_test(test_bindings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
