/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tools/utgtadm/args.c and request.c: tgtadm's grammar (options, aliases, per-mode checks,
 * messages, exit codes) and the JSON request built from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mgmt/wire.h"
#include "utgtadm.h"

#define MAX_ARGS 32
#define TRY_HELP "Try `utgtadm --help' for more information.\n"

struct parsed {
	struct utgtadm_args a;
	int rc;
	char *out;
	char *err;
	char *argv_store[MAX_ARGS];
};

/* Parses a NULL-terminated list of arguments (after "utgtadm"). */
static struct parsed *parse(const char *first, ...)
{
	struct parsed *p = calloc(1, sizeof(*p));
	size_t out_len = 0;
	size_t err_len = 0;
	FILE *out;
	FILE *err;
	va_list ap;
	int argc = 0;
	const char *s;

	assert_non_null(p);
	p->argv_store[argc++] = strdup("utgtadm");
	va_start(ap, first);
	for (s = first; s && argc < MAX_ARGS - 1; s = va_arg(ap, const char *))
		p->argv_store[argc++] = strdup(s);
	va_end(ap);
	out = open_memstream(&p->out, &out_len);
	err = open_memstream(&p->err, &err_len);
	p->rc = utgtadm_args_parse(argc, p->argv_store, &p->a, out, err);
	fclose(out);
	fclose(err);
	return p;
}

static void parsed_free(struct parsed *p)
{
	size_t i;

	for (i = 0; i < MAX_ARGS; i++)
		free(p->argv_store[i]);
	free(p->out);
	free(p->err);
	free(p);
}

static void expect_error(struct parsed *p, int rc, const char *msg)
{
	assert_int_equal(p->rc, rc);
	assert_string_equal(p->err, msg);
	parsed_free(p);
}

static void expect_request(struct parsed *p, const char *json)
{
	json_error_t jerr;
	json_t *want = json_loads(json, 0, &jerr);
	json_t *got;

	assert_int_equal(p->rc, -1);
	assert_non_null(want);
	got = utgtadm_request_build(&p->a);
	assert_non_null(got);
	if (!json_equal(want, got)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);

		fail_msg("request %s, expected %s", g, json);
	}
	json_decref(want);
	json_decref(got);
	parsed_free(p);
}

static void test_target_new_request(void **state)
{
	(void)state;
	expect_request(parse("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1",
			     "--targetname", "iqn.2026-11.org.utgt:demo", NULL),
		       "{\"mode\":\"target\",\"op\":\"new\",\"lld\":\"iscsi\",\"tid\":1,"
		       "\"targetname\":\"iqn.2026-11.org.utgt:demo\"}");
	expect_request(parse("-L", "iscsi", "-m", "tgt", "-o", "new", "-t", "0x10", "-T", "iqn.x",
			     NULL),
		       "{\"mode\":\"target\",\"op\":\"new\",\"lld\":\"iscsi\",\"tid\":16,"
		       "\"targetname\":\"iqn.x\"}");
}

static void test_lu_new_request(void **state)
{
	(void)state;
	expect_request(parse("--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1",
			     "-b", "/tmp/x.img", "--bstype", "rdwr", "--bsoflags", "direct,sync",
			     "--blocksize", "4096", "--device-type", "disk", "--params",
			     "vendor_id=UTGT,readonly=1", NULL),
		       "{\"mode\":\"logicalunit\",\"op\":\"new\",\"tid\":1,\"lun\":1,"
		       "\"backing_store\":\"/tmp/x.img\",\"bstype\":\"rdwr\","
		       "\"bsoflags\":\"direct,sync\",\"blocksize\":4096,\"device_type\":\"disk\","
		       "\"params\":\"vendor_id=UTGT,readonly=1\"}");
	expect_request(parse("-m", "lu", "-o", "new", "-t", "1", "-l", "2", "-Y", "ssc", NULL),
		       "{\"mode\":\"logicalunit\",\"op\":\"new\",\"tid\":1,\"lun\":2,"
		       "\"device_type\":\"tape\",\"bstype\":\"ssc\"}");
}

static void test_mode_aliases(void **state)
{
	static const struct {
		const char *alias;
		int mode;
	} cases[] = {
		{ "system", MGMT_MODE_SYSTEM }, { "sys", MGMT_MODE_SYSTEM },
		{ "target", MGMT_MODE_TARGET }, { "tgt", MGMT_MODE_TARGET },
		{ "portal", MGMT_MODE_PORTAL }, { "pt", MGMT_MODE_PORTAL },
		{ "session", MGMT_MODE_SESSION }, { "sess", MGMT_MODE_SESSION },
		{ "connection", MGMT_MODE_CONN }, { "conn", MGMT_MODE_CONN },
		{ "account", MGMT_MODE_ACCOUNT }, { "lld", MGMT_MODE_LLD },
	};
	struct parsed *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = parse("-m", cases[i].alias, "-o", "show", NULL);
		assert_int_equal(p->rc, -1);
		assert_int_equal(p->a.mode, cases[i].mode);
		parsed_free(p);
	}
	p = parse("-m", "lu", "-o", "show", "-t", "1", NULL);
	assert_int_equal(p->rc, -1);
	assert_int_equal(p->a.mode, MGMT_MODE_LU);
	parsed_free(p);
}

static void test_unknown_mode_or_op_exit_1(void **state)
{
	(void)state;
	expect_error(parse("-m", "disk", "-o", "show", NULL), 1, "utgtadm: unknown mode: disk\n");
	expect_error(parse("-m", "target", "-o", "list", NULL), 1,
		     "utgtadm: unknown operation: list\n");
}

static void test_missing_mode_or_op(void **state)
{
	(void)state;
	expect_error(parse("-m", "target", NULL), 22, "utgtadm: specify the operation type\n");
	expect_error(parse("-o", "show", NULL), 22, "utgtadm: specify the mode\n");
}

static void test_target_checks(void **state)
{
	(void)state;
	expect_error(parse("-m", "target", "-o", "new", "-T", "iqn.x", NULL), 22,
		     "utgtadm: 'tid' option is necessary\n");
	expect_error(parse("-m", "target", "-o", "delete", "-t", "0", NULL), 22,
		     "utgtadm: 'tid' cannot be 0\n");
	expect_error(parse("-m", "target", "-o", "new", "-t", "1", NULL), 22,
		     "utgtadm: creating new target requires a name, use --targetname\n");
	expect_error(parse("-m", "target", "-o", "new", "-t", "1", "-T", "x", "-l", "1", NULL),
		     22, "utgtadm: target mode: option '-l' is not allowed/supported\n");
	expect_error(parse("-m", "target", "-o", "update", "-t", "1", "-n", "x", NULL), 22,
		     "utgtadm: update operation requires 'name' and 'value' options\n");
	expect_error(parse("-m", "target", "-o", "update", "-t", "1", "-n", "a", "-v", "b", "-P",
			   "x=y", NULL),
		     22, "utgtadm: target mode: option '-P' is not allowed/supported\n");
	expect_error(parse("-m", "target", "-o", "bind", "-t", "1", NULL), 22,
		     "utgtadm: bind operation requires initiator-address, initiator-name or bus\n");
	expect_error(parse("-m", "target", "-o", "start", "-t", "1", NULL), 22,
		     "utgtadm: operation start not supported in target mode\n");
}

static void test_target_bind_and_force(void **state)
{
	(void)state;
	expect_request(parse("-m", "target", "-o", "bind", "-t", "1", "-I", "ALL", "-Q", "iqn.i",
			     NULL),
		       "{\"mode\":\"target\",\"op\":\"bind\",\"tid\":1,"
		       "\"initiator_address\":\"ALL\",\"initiator_name\":\"iqn.i\"}");
	expect_request(parse("-m", "target", "-o", "delete", "-t", "1", "--force", NULL),
		       "{\"mode\":\"target\",\"op\":\"delete\",\"tid\":1,\"force\":true}");
	/* tgt declares -F with an argument in its short form: the next word is eaten. */
	expect_request(parse("-m", "target", "-o", "delete", "-F", "yes", "-t", "2", NULL),
		       "{\"mode\":\"target\",\"op\":\"delete\",\"tid\":2,\"force\":true}");
}

static void test_lu_checks(void **state)
{
	(void)state;
	expect_error(parse("-m", "lu", "-o", "new", "-l", "1", NULL), 22,
		     "utgtadm: 'tid' option is necessary\n");
	expect_error(parse("-m", "lu", "-o", "new", "-t", "0", "-l", "1", NULL), 22,
		     "utgtadm: 'tid' must not be 0\n");
	expect_error(parse("-m", "lu", "-o", "delete", "-t", "1", NULL), 22,
		     "utgtadm: 'lun' option is necessary\n");
	expect_error(parse("-m", "lu", "-o", "update", "-t", "1", "-l", "1", "-b", "x", NULL), 22,
		     "utgtadm: option '-b' not supported in logicalunit mode\n");
	expect_error(parse("-m", "lu", "-o", "new", "-t", "1", "-l", "1", "-Y", "osd", NULL), 22,
		     "utgtadm: 'backing-store' option is necessary\n");
	expect_error(parse("-m", "lu", "-o", "new", "-t", "1", "-l", "1", "-Y", "floppy", NULL),
		     22, "utgtadm: unknown target type: floppy\n");
	expect_error(parse("-m", "lu", "-o", "bind", "-t", "1", "-l", "1", NULL), 22,
		     "utgtadm: operation bind not supported in logicalunit mode\n");
	expect_request(parse("-m", "lu", "-o", "show", "-t", "3", NULL),
		       "{\"mode\":\"logicalunit\",\"op\":\"show\",\"tid\":3}");
}

static void test_number_errors(void **state)
{
	static const struct {
		const char *mode, *opt, *arg, *why;
	} cases[] = {
		{ "target", "-t", "abc", "invalid" },
		{ "target", "-t", "4294967296", "out of range" },
		{ "target", "-t", "-1", "invalid" },
		{ "sys", "-C", "40000", "out of range" },
	};
	char msg[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(msg, sizeof(msg), "%s argument value '%s' %s\n" TRY_HELP, cases[i].opt,
			 cases[i].arg, cases[i].why);
		expect_error(parse("-m", cases[i].mode, "-o", "show", cases[i].opt, cases[i].arg,
				   NULL), 22, msg);
	}
}

static void test_conn_and_session_are_not_checked(void **state)
{
	(void)state;
	expect_request(parse("-m", "conn", "-o", "delete", "-t", "1", "-s", "3", "-c", "0", NULL),
		       "{\"mode\":\"connection\",\"op\":\"delete\",\"tid\":1,\"sid\":3,\"cid\":0}");
	expect_request(parse("-m", "session", "-o", "show", "-t", "1", NULL),
		       "{\"mode\":\"session\",\"op\":\"show\",\"tid\":1}");
}

static void test_params_follow_portal_mode(void **state)
{
	struct parsed *p;

	(void)state;
	p = parse("-m", "portal", "-o", "new", "-P", "portal=1.2.3.4:3260", NULL);
	assert_int_equal(p->rc, -1);
	assert_non_null(p->a.portal_params);
	assert_null(p->a.params);
	parsed_free(p);
	/* -P before -m portal is targetOps in tgt: the portal check then fails. */
	expect_error(parse("-P", "portal=1.2.3.4", "-m", "portal", "-o", "new", NULL), 22,
		     "utgtadm: you must specify --param portal=<portal>\n");
}

static void test_sys_checks(void **state)
{
	(void)state;
	expect_error(parse("-m", "sys", "-o", "update", "-n", "State", "-t", "1", NULL), 22,
		     "utgtadm: system mode: option '-t' is not allowed/supported\n");
	expect_error(parse("-m", "sys", "-o", "bind", NULL), 22,
		     "utgtadm: operation bind not supported in system mode\n");
	expect_request(parse("--mode", "sys", "--op", "update", "--name", "State", "--value",
			     "offline", NULL),
		       "{\"mode\":\"system\",\"op\":\"update\",\"name\":\"State\","
		       "\"value\":\"offline\"}");
}

static void test_socket_selection(void **state)
{
	char path[256];
	struct parsed *p;

	(void)state;
	p = parse("-m", "sys", "-o", "show", NULL);
	utgtadm_args_socket(&p->a, path, sizeof(path));
	assert_string_equal(path, MGMT_SOCKET_DEFAULT);
	parsed_free(p);
	p = parse("-m", "sys", "-o", "show", "-C", "3", NULL);
	utgtadm_args_socket(&p->a, path, sizeof(path));
	assert_string_equal(path, MGMT_SOCKET_DEFAULT ".3");
	parsed_free(p);
	/* --control-socket and --json are allowed whatever the mode's option list says. */
	p = parse("-m", "target", "-o", "new", "-t", "1", "-T", "iqn.x", "--control-socket",
		  "/tmp/u.sock", "--json", "-d", NULL);
	assert_int_equal(p->rc, -1);
	assert_true(p->a.json);
	assert_true(p->a.debug);
	utgtadm_args_socket(&p->a, path, sizeof(path));
	assert_string_equal(path, "/tmp/u.sock");
	parsed_free(p);
}

static void test_help_version_and_strays(void **state)
{
	struct parsed *p;

	(void)state;
	p = parse("--help", NULL);
	assert_int_equal(p->rc, 0);
	assert_non_null(strstr(p->out, "--mode target --op new"));
	parsed_free(p);
	p = parse("-V", NULL);
	assert_int_equal(p->rc, 0);
	assert_string_equal(p->out, UTGT_VERSION "\n");
	parsed_free(p);
	expect_error(parse("-m", "sys", "-o", "show", "stray", NULL), 22,
		     "utgtadm: unrecognized option 'stray'\n" TRY_HELP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_new_request),
		cmocka_unit_test(test_lu_new_request),
		cmocka_unit_test(test_mode_aliases),
		cmocka_unit_test(test_unknown_mode_or_op_exit_1),
		cmocka_unit_test(test_missing_mode_or_op),
		cmocka_unit_test(test_target_checks),
		cmocka_unit_test(test_target_bind_and_force),
		cmocka_unit_test(test_lu_checks),
		cmocka_unit_test(test_number_errors),
		cmocka_unit_test(test_conn_and_session_are_not_checked),
		cmocka_unit_test(test_params_follow_portal_mode),
		cmocka_unit_test(test_sys_checks),
		cmocka_unit_test(test_socket_selection),
		cmocka_unit_test(test_help_version_and_strays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
