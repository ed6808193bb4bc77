/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for lld/iscsi/tgtparam.c: TargetAlias and the Redirect* per-target strings
 * (validation, show, the login status and TargetAddress of a redirection).
 */
#include "iscsi_test.h"

static void tgt_init(struct iscsi_tgt *it, struct core_target *tgt)
{
	memset(it, 0, sizeof(*it));
	memset(tgt, 0, sizeof(*tgt));
	pthread_mutex_init(&it->lock, NULL);
	tgt->lld_priv = it;
}

static void test_tgtparam_alias(void **state)
{
	struct iscsi_tgt it;
	struct core_target tgt;
	char show[2048] = "", alias[256];
	char long_alias[300];

	(void)state;
	tgt_init(&it, &tgt);
	iscsi_tgt_alias(&tgt, alias, sizeof(alias));
	assert_string_equal(alias, "");
	iscsi_tgt_str_foreach(&it, show_cat, show);
	assert_string_equal(show, ""); /* nothing shown while unset */
	assert_int_equal(iscsi_tgt_str_set(&it, "targetalias", "fast disks"), 0);
	iscsi_tgt_alias(&tgt, alias, sizeof(alias));
	assert_string_equal(alias, "fast disks");
	assert_int_equal(iscsi_tgt_str_set(&it, "TargetAlias", "bad\nalias"), -EINVAL);
	memset(long_alias, 'a', sizeof(long_alias) - 1);
	long_alias[sizeof(long_alias) - 1] = '\0';
	assert_int_equal(iscsi_tgt_str_set(&it, "TargetAlias", long_alias), -EINVAL);
	assert_int_equal(iscsi_tgt_str_set(&it, "MaxBurstLength", "512"), -ENOENT);
	iscsi_tgt_str_foreach(&it, show_cat, show);
	assert_string_equal(show, "TargetAlias=fast disks;");
}

static void test_tgtparam_redirect(void **state)
{
	struct iscsi_tgt it;
	struct core_target tgt;
	char addr[300], show[2048] = "";

	(void)state;
	tgt_init(&it, &tgt);
	assert_int_equal(iscsi_tgt_redirect(&tgt, addr, sizeof(addr)), ISCSI_LOGIN_OK);
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectAddress", "192.0.2.7"), 0);
	assert_int_equal(iscsi_tgt_redirect(&tgt, addr, sizeof(addr)), ISCSI_LOGIN_MOVED_TEMP);
	assert_string_equal(addr, "192.0.2.7:3260,1");
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectPort", "3261"), 0);
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectReason", "permanent"), 0);
	assert_int_equal(iscsi_tgt_redirect(&tgt, addr, sizeof(addr)), ISCSI_LOGIN_MOVED_PERM);
	assert_string_equal(addr, "192.0.2.7:3261,1");
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectAddress", "2001:db8::1"), 0);
	iscsi_tgt_redirect(&tgt, addr, sizeof(addr));
	assert_string_equal(addr, "[2001:db8::1]:3261,1");
	iscsi_tgt_str_foreach(&it, show_cat, show);
	assert_string_equal(show, "RedirectAddress=2001:db8::1;RedirectPort=3261;"
				  "RedirectReason=Permanent;");
	/* hostile or bad values */
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectAddress", "a,b"), -EINVAL);
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectAddress", "[::1]"), -EINVAL);
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectPort", "0"), -EINVAL);
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectPort", "65536"), -EINVAL);
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectPort", "12x"), -EINVAL);
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectReason", "Maybe"), -EINVAL);
	/* cleared: no redirection */
	assert_int_equal(iscsi_tgt_str_set(&it, "RedirectAddress", ""), 0);
	assert_int_equal(iscsi_tgt_redirect(&tgt, addr, sizeof(addr)), ISCSI_LOGIN_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tgtparam_alias),
		cmocka_unit_test(test_tgtparam_redirect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
