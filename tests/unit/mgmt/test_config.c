/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * src/mgmt/config_parse.c, config.c and stats.c through mgmt_handle_json: targets.conf parse
 * errors (file:line, nothing applied), apply, dry run, in-place reconcile, dump, and the stat
 * handlers, against a real core with the fake device types and backing stores.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "mgmt/mgmt_int.h"
#include "mgmt_fakes.h"

struct fixture {
	struct mgmt_server srv;
	char dir[64];
	char img[128];
	char conf[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	FILE *img;

	if (!f || mgmt_fake_server_init(&f->srv))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/utgt-cfg-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->img, sizeof(f->img), "%s/a.img", f->dir);
	snprintf(f->conf, sizeof(f->conf), "%s/t.conf", f->dir);
	img = fopen(f->img, "w");
	if (!img)
		return -1;
	fclose(img);
	log_set_level(LOG_LVL_ERR);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->img);
	unlink(f->conf);
	rmdir(f->dir);
	mgmt_fake_server_fini(&f->srv);
	free(f);
	return 0;
}

/* Writes f->conf from a printf-style text. */
__printf(2, 3) static void write_conf(struct fixture *f, const char *fmt, ...)
{
	FILE *c = fopen(f->conf, "w");
	va_list ap;

	assert_non_null(c);
	va_start(ap, fmt);
	vfprintf(c, fmt, ap);
	va_end(ap);
	fclose(c);
}

static json_t *call(struct fixture *f, const char *req)
{
	return mgmt_fake_call(&f->srv, req);
}

/* Applies f->conf (dry_run: plan only); returns the response. */
static json_t *apply(struct fixture *f, bool dry_run)
{
	char req[512];

	snprintf(req, sizeof(req),
		 "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"config\",\"config\":\"%s\","
		 "\"dry_run\":%s}", f->conf, dry_run ? "true" : "false");
	return call(f, req);
}

static const char *detail_of(json_t *r)
{
	const char *d = json_string_value(json_object_get(r, "detail"));

	return d ? d : "";
}

static void test_parse_errors_change_nothing(void **state)
{
	static const struct {
		const char *text;
		const char *where;
		const char *what;
	} cases[] = {
		{ "<target iqn.x:a>\n\tbogus 1\n</target>\n", ":2:", "unknown directive" },
		{ "<target iqn.x:a>\n", ":1:", "not closed" },
		{ "<target iqn.x:a>\n\tlun 99999\n</target>\n", ":2:", "lun" },
		{ "<target iqn.x:a>\n\tinitiator-address nope\n</target>\n", ":2:", "address" },
		{ "<target iqn.x:a>\n\tbs-type nosuch\n</target>\n", ":2:", "bs-type" },
		{ "<target iqn.x:a>\n\tbacking-store /no/such/f\n</target>\n", ":2:", "No such" },
		{ "incomingdiscoveryuser u p\n", ":1:", "not supported" },
		{ "<target iqn.x:a>\n\tincominguser u\n</target>\n", ":2:", "secret" },
		{ "<target>\n</target>\n", ":1:", "name" },
		{ "<lun 1>\n", ":1:", "unknown block" },
		/* a key no device type lists in its config_keys */
		{ "<target iqn.x:a>\n\tparams lbppbe=1,nosuch=2\n</target>\n", ":2:",
		  "unknown logical unit parameter 'nosuch'" },
	};
	struct fixture *f = *state;
	size_t i;
	json_t *r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_conf(f, "%s", cases[i].text);
		r = apply(f, false);
		assert_int_equal(mgmt_fake_err(r), MGMT_ERR_INVALID_REQUEST);
		assert_non_null(strstr(detail_of(r), cases[i].where));
		assert_non_null(strstr(detail_of(r), cases[i].what));
		json_decref(r);
		assert_null(core_target_next(f->srv.root, 0));
	}
}

static void test_apply_dry_run_reconcile_dump(void **state)
{
	struct fixture *f = *state;
	struct core_target *t;
	json_t *r;
	json_t *ch;

	write_conf(f, "<target iqn.x:a>\n\t<backing-store %s>\n\t\tlun 2\n\t\tvendor_id V1\n"
		   "\t</backing-store>\n\tinitiator-name iqn.x:ini\n"
		   "\tMaxRecvDataSegmentLength 65536\n</target>\n", f->img);
	r = apply(f, true);
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	ch = mgmt_fake_data(r, "changes");
	assert_int_equal(json_array_size(ch), 4);
	assert_string_equal(json_string_value(json_array_get(ch, 0)), "+ target iqn.x:a (tid 1)");
	json_decref(r);
	assert_null(core_target_next(f->srv.root, 0));

	r = apply(f, false);
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	json_decref(r);
	t = core_target_find(f->srv.root, 1);
	assert_non_null(t);
	assert_non_null(core_lu_find(t, 2));
	assert_string_equal(core_lu_find(t, 2)->vendor_id, "V1");
	/* name rule only: no "ALL" address rule was added */
	assert_int_equal(list_first_entry(&t->acls, struct core_acl, entry)->kind, CORE_ACL_NAME);

	/* change the vendor in place: the LU object stays the same */
	struct core_lu *lu = core_lu_find(t, 2);

	write_conf(f, "<target iqn.x:a>\n\t<backing-store %s>\n\t\tlun 2\n\t\tvendor_id V2\n"
		   "\t</backing-store>\n\tinitiator-name iqn.x:ini\n</target>\n", f->img);
	r = apply(f, false);
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	ch = mgmt_fake_data(r, "changes");
	assert_int_equal(json_array_size(ch), 1);
	json_decref(r);
	assert_ptr_equal(core_lu_find(t, 2), lu);
	assert_string_equal(lu->vendor_id, "V2");

	r = call(f, "{\"mode\":\"sys\",\"op\":\"show\",\"name\":\"config\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	const char *dump = json_string_value(mgmt_fake_data(r, "config"));

	assert_non_null(strstr(dump, "<target iqn.x:a>\n\tcontroller_tid 1\n"));
	assert_non_null(strstr(dump, "\t\tvendor_id V2\n"));
	assert_non_null(strstr(dump, "\tinitiator-name iqn.x:ini\n"));
	json_decref(r);

	/* an empty file deletes the target */
	write_conf(f, "# nothing\n");
	r = apply(f, false);
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	json_decref(r);
	assert_null(core_target_next(f->srv.root, 0));
}

/* A params line naming a key of a device type's config_keys is an update, run once the LU is. */
static void test_devtype_params_line_is_an_update(void **state)
{
	struct fixture *f = *state;
	json_t *r;

	write_conf(f, "<target iqn.x:a>\n\t<backing-store %s>\n\t\tlun 1\n"
		   "\t\tparams lbppbe=1\n\t</backing-store>\n</target>\n", f->img);
	r = apply(f, false);
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	json_decref(r);
	assert_non_null(core_lu_find(core_target_find(f->srv.root, 1), 1));
}

static void test_stat_handlers(void **state)
{
	struct fixture *f = *state;
	json_t *r;
	json_t *t;

	r = call(f, "{\"mode\":\"target\",\"op\":\"new\",\"tid\":1,\"targetname\":\"iqn.x:s\"}");
	json_decref(r);
	r = call(f, "{\"mode\":\"target\",\"op\":\"stat\",\"tid\":1}");
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	t = mgmt_fake_data_at(r, "targets", 0);
	assert_int_equal(json_integer_value(json_object_get(t, "tid")), 1);
	assert_int_equal(json_array_size(json_object_get(t, "luns")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "stats"),
							    "read_cmds")), 0);
	json_decref(r);
	r = call(f, "{\"mode\":\"lu\",\"op\":\"stat\",\"tid\":1,\"lun\":5}");
	assert_int_equal(mgmt_fake_err(r), MGMT_ERR_NO_LUN);
	json_decref(r);
	r = call(f, "{\"mode\":\"sys\",\"op\":\"stat\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	json_decref(r);
}

/* Per-connection counters (the driver's snapshot API, faked) in conn stat. */
static void test_stat_conn_counters(void **state)
{
	struct fixture *f = *state;
	json_t *r;
	json_t *c;
	json_t *st;

	r = call(f, "{\"mode\":\"conn\",\"op\":\"stat\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	c = mgmt_fake_data_at(r, "connections", 0);
	assert_non_null(c);
	assert_int_equal(json_integer_value(json_object_get(c, "sid")), 7);
	assert_string_equal(json_string_value(json_object_get(c, "isid")), "400001370000");
	st = json_object_get(c, "stats");
	assert_int_equal(json_integer_value(json_object_get(st, "pdus_in")), 10);
	assert_int_equal(json_integer_value(json_object_get(st, "bytes_out")), 4672);
	assert_int_equal(json_integer_value(json_object_get(st, "digest_errors")), 1);
	assert_int_equal(json_integer_value(json_object_get(st, "r2ts")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "latency_sum_us")), 400);
	assert_int_equal(json_integer_value(json_array_get(
				 json_object_get(st, "latency_hist_us_log2_from_16"), 3)), 4);
	json_decref(r);
	/* a filter that matches nothing gives an empty list */
	r = call(f, "{\"mode\":\"conn\",\"op\":\"stat\",\"sid\":8}");
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	assert_int_equal(json_array_size(mgmt_fake_data(r, "connections")), 0);
	json_decref(r);
}

/* --mode conn --op show --name inflight, and the stuck_io_ms system parameter. */
static void test_inflight_and_stuck_limit(void **state)
{
	struct fixture *f = *state;
	json_t *r;
	json_t *c;

	r = call(f, "{\"mode\":\"conn\",\"op\":\"show\",\"name\":\"inflight\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	c = mgmt_fake_data_at(r, "inflight", 0);
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "cdb")), "28000000000800000100");
	assert_string_equal(json_string_value(json_object_get(c, "itt")), "0x00000010");
	assert_string_equal(json_string_value(json_object_get(c, "bs_op")), "read");
	assert_int_equal(json_integer_value(json_object_get(c, "age_ms")), 3000);
	assert_true(json_is_true(json_object_get(c, "stuck")));
	json_decref(r);
	r = call(f, "{\"mode\":\"conn\",\"op\":\"show\",\"name\":\"bogus\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
	r = call(f, "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"stuck_io_ms\","
		    "\"value\":\"500\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	json_decref(r);
	r = call(f, "{\"mode\":\"conn\",\"op\":\"show\",\"name\":\"inflight\"}");
	assert_int_equal(json_integer_value(mgmt_fake_data(r, "stuck_io_ms")), 500);
	json_decref(r);
	r = call(f, "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"stuck_io_ms\","
		    "\"value\":\"-1\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
}

/* saveconfig: needs a file (none given and no --config), writes it atomically, mode 0600. */
static void test_saveconfig(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/utgt-save-XXXXXX";
	char req[256];
	char path[128];
	struct stat st;
	json_t *r;

	r = call(f, "{\"mode\":\"sys\",\"op\":\"saveconfig\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	snprintf(req, sizeof(req), "{\"mode\":\"sys\",\"op\":\"saveconfig\",\"config\":\"%s\"}",
		 path);
	r = call(f, "{\"mode\":\"target\",\"op\":\"new\",\"tid\":3,\"targetname\":\"iqn.x:save\"}");
	json_decref(r);
	r = call(f, req);
	assert_int_equal(mgmt_fake_err(r), MGMT_OK);
	json_decref(r);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unlink(path);
	rmdir(dir);
	/* relative paths are refused */
	r = call(f, "{\"mode\":\"sys\",\"op\":\"saveconfig\",\"config\":\"rel.conf\"}");
	assert_int_equal(mgmt_fake_err(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_errors_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_dry_run_reconcile_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devtype_params_line_is_an_update, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stat_handlers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stat_conn_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflight_and_stuck_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saveconfig, setup, teardown),
	};

	log_setup("test_mgmt_config", true, LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
