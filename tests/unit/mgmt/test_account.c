/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * src/mgmt/account.c through mgmt_handle_json: --mode account new/delete/bind/unbind/show with
 * tgt's error codes, the per-target "accounts" list of target show, and no password in any
 * response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "mgmt/mgmt_int.h"
#include "mgmt_fakes.h"

/* Runs one request; returns the raw response text (caller frees). */
static char *call_raw(struct mgmt_fixture *f, const char *req)
{
	char *out = mgmt_fake_call_raw(&f->srv, req);

	assert_null(strstr(out, "s3cretpassw0rd")); /* never echoed */
	return out;
}

static void expect_err(struct mgmt_fixture *f, int code, const char *req)
{
	char *out = call_raw(f, req);
	json_t *rsp = json_loads(out, 0, NULL);

	assert_non_null(rsp);
	if (json_integer_value(json_object_get(rsp, "err")) != code)
		fail_msg("%s -> %s, expected %d", req, out, code);
	json_decref(rsp);
	free(out);
}

static json_t *call_data(struct mgmt_fixture *f, const char *req)
{
	char *out = call_raw(f, req);
	json_t *rsp = json_loads(out, 0, NULL);
	json_t *data = json_incref(json_object_get(rsp, "data"));

	free(out);
	json_decref(rsp);
	assert_non_null(data);
	return data;
}

static void test_account_ops(void **state)
{
	struct mgmt_fixture *f = *state;
	json_t *d, *t;

	expect_err(f, MGMT_OK, "{\"mode\":\"target\",\"op\":\"new\",\"tid\":1,"
			       "\"targetname\":\"iqn.2026-11.t:1\"}");
	expect_err(f, MGMT_OK,
		   "{\"mode\":\"account\",\"op\":\"new\",\"user\":\"u1\",\"password\":\"s3cretpassw0rd\"}");
	expect_err(f, MGMT_ERR_USER_EXIST,
		   "{\"mode\":\"account\",\"op\":\"new\",\"user\":\"u1\",\"password\":\"s3cretpassw0rd\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"account\",\"op\":\"new\",\"user\":\"u2\"}");
	expect_err(f, MGMT_OK,
		   "{\"mode\":\"account\",\"op\":\"new\",\"user\":\"u2\",\"password\":\"s3cretpassw0rd\"}");
	expect_err(f, MGMT_OK, "{\"mode\":\"account\",\"op\":\"bind\",\"tid\":1,\"user\":\"u1\"}");
	expect_err(f, MGMT_ERR_BINDING_EXIST,
		   "{\"mode\":\"account\",\"op\":\"bind\",\"tid\":1,\"user\":\"u1\"}");
	expect_err(f, MGMT_OK, "{\"mode\":\"account\",\"op\":\"bind\",\"tid\":1,\"user\":\"u2\","
			       "\"outgoing\":true}");
	expect_err(f, MGMT_ERR_OUTACCOUNT_EXIST, "{\"mode\":\"account\",\"op\":\"bind\",\"tid\":1,"
						 "\"user\":\"u1\",\"outgoing\":true}");
	expect_err(f, MGMT_ERR_NO_TARGET,
		   "{\"mode\":\"account\",\"op\":\"bind\",\"tid\":9,\"user\":\"u1\"}");
	expect_err(f, MGMT_ERR_NO_USER,
		   "{\"mode\":\"account\",\"op\":\"bind\",\"tid\":1,\"user\":\"nobody\"}");
	expect_err(f, MGMT_OK, "{\"mode\":\"account\",\"op\":\"bind\",\"user\":\"u1\"}"); /* global */
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"account\",\"op\":\"bind\",\"tid\":1}");

	d = call_data(f, "{\"mode\":\"account\",\"op\":\"show\"}");
	assert_int_equal(json_array_size(json_object_get(d, "accounts")), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(d, "accounts"), 1), "user")), "u2");
	json_decref(d);

	d = call_data(f, "{\"mode\":\"target\",\"op\":\"show\"}");
	t = json_object_get(json_array_get(json_object_get(d, "targets"), 0), "accounts");
	assert_int_equal(json_array_size(t), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "user")), "u1");
	assert_true(json_is_false(json_object_get(json_array_get(t, 0), "outgoing")));
	assert_true(json_is_true(json_object_get(json_array_get(t, 1), "outgoing")));
	json_decref(d);

	expect_err(f, MGMT_ERR_NO_BINDING, "{\"mode\":\"account\",\"op\":\"unbind\",\"tid\":1,"
					   "\"user\":\"u1\",\"outgoing\":true}");
	expect_err(f, MGMT_OK, "{\"mode\":\"account\",\"op\":\"unbind\",\"tid\":1,\"user\":\"u2\","
			       "\"outgoing\":true}");
	expect_err(f, MGMT_OK, "{\"mode\":\"account\",\"op\":\"delete\",\"user\":\"u1\"}");
	expect_err(f, MGMT_ERR_NO_USER, "{\"mode\":\"account\",\"op\":\"delete\",\"user\":\"u1\"}");
	d = call_data(f, "{\"mode\":\"target\",\"op\":\"show\"}");
	t = json_object_get(json_array_get(json_object_get(d, "targets"), 0), "accounts");
	assert_int_equal(json_array_size(t), 0);
	json_decref(d);
	assert_false(core_account_required(f->srv.root, CORE_ACCOUNT_GLOBAL));
}

#define T(f) cmocka_unit_test_setup_teardown(f, mgmt_fake_setup, mgmt_fake_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_account_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
