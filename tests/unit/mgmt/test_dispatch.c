/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * src/mgmt/dispatch.c and the handlers (sys.c, target.c, lu.c, nexus.c, show.c) through
 * mgmt_handle_json, against a real core_root with fake device types and backing stores, and
 * fake iSCSI target functions (this executable does not link the iSCSI driver).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "core/core.h"
#include "mgmt/mgmt_int.h"
#include "mgmt_fakes.h"

/* ---- fixture ---- */

/* Runs one request (printf-style JSON) and returns the parsed response. */
__printf(2, 3) static json_t *call(struct mgmt_fixture *f, const char *fmt, ...)
{
	char req[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	return mgmt_fake_call(&f->srv, req);
}

/* Runs a request and checks its error code; frees the response. */
#define expect_err(f, code, ...)                                                                  \
	do {                                                                                      \
		json_t *r_ = call(f, __VA_ARGS__);                                                \
		if (mgmt_fake_err(r_) != (code))                                                  \
			fail_msg("err %d (%s), expected %d", mgmt_fake_err(r_),                   \
				 json_string_value(json_object_get(r_, "detail")), (code));       \
		json_decref(r_);                                                                  \
	} while (0)

static void add_target(struct mgmt_fixture *f, unsigned int tid)
{
	expect_err(f, MGMT_OK,
		   "{\"mode\":\"target\",\"op\":\"new\",\"tid\":%u,"
		   "\"targetname\":\"iqn.2026-11.t:%u\"}",
		   tid, tid);
}

/* ---- tests ---- */

static void test_bad_documents(void **state)
{
	struct mgmt_fixture *f = *state;
	json_t *r;

	r = call(f, "{\"mode\":");
	assert_int_equal(mgmt_fake_err(r), MGMT_ERR_INVALID_REQUEST);
	assert_string_equal(json_string_value(json_object_get(r, "msg")), "invalid request");
	assert_non_null(strstr(json_string_value(json_object_get(r, "detail")), "JSON"));
	assert_null(json_object_get(r, "data"));
	json_decref(r);
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"target\",\"op\":\"show\"} x");
	expect_err(f, MGMT_ERR_INVALID_REQUEST,
		   "{\"mode\":\"target\",\"mode\":\"sys\",\"op\":\"show\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"nope\",\"op\":\"show\"}");
	expect_err(f, MGMT_ERR_NO_DRIVER, "{\"mode\":\"target\",\"op\":\"show\",\"lld\":\"iser\"}");
	expect_err(f, MGMT_OK, "{\"mode\":\"target\",\"op\":\"show\",\"lld\":\"iscsi\"}");
}

static void test_unsupported_combinations(void **state)
{
	struct mgmt_fixture *f = *state;

	expect_err(f, MGMT_ERR_UNSUPPORTED_OPERATION,
		   "{\"mode\":\"lu\",\"op\":\"bind\",\"tid\":1}");
	expect_err(f, MGMT_ERR_UNSUPPORTED_OPERATION,
		   "{\"mode\":\"account\",\"op\":\"update\",\"user\":\"u\"}");
	expect_err(f, MGMT_ERR_UNSUPPORTED_OPERATION,
		   "{\"mode\":\"portal\",\"op\":\"new\",\"params\":\"portal=1.2.3.4:5\"}");
	/* stat is implemented (stats.c): without a tid there is no target to report */
	expect_err(f, MGMT_ERR_NO_TARGET, "{\"mode\":\"target\",\"op\":\"stat\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"target\",\"op\":\"start\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"sys\",\"op\":\"new\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"session\",\"op\":\"update\"}");
	expect_err(f, MGMT_OK, "{\"mode\":\"lld\",\"op\":\"start\"}");
}

static void test_sys_show_and_update(void **state)
{
	struct mgmt_fixture *f = *state;
	json_t *r;
	json_t *d;

	r = call(f, "{\"mode\":\"sys\",\"op\":\"show\"}");
	assert_int_equal(mgmt_fake_err(r), 0);
	d = json_object_get(r, "data");
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "system"),
							      "state")), "ready");
	assert_int_equal(json_array_size(json_object_get(d, "backing_stores")), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(d, "backing_stores"), 0),
				    "bsoflags")), "sync:direct");
	assert_null(json_object_get(json_array_get(json_object_get(d, "backing_stores"), 1),
				    "bsoflags"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(d, "device_types"),
							     1)), "controller");
	json_decref(r);

	expect_err(f, MGMT_OK,
		   "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"State\",\"value\":\"offline\"}");
	assert_false(core_root_is_ready(f->srv.root));
	expect_err(f, MGMT_OK,
		   "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"State\",\"value\":\"ready\"}");
	assert_true(core_root_is_ready(f->srv.root));
	expect_err(f, MGMT_ERR_INVALID_REQUEST,
		   "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"State\",\"value\":\"Ready\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST,
		   "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"iSNS\",\"value\":\"On\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"sys\",\"op\":\"update\"}");
	expect_err(f, MGMT_OK,
		   "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"debug\",\"value\":\"on\"}");
	assert_int_equal(log_get_level(), LOG_LVL_DBG);
	expect_err(f, MGMT_OK,
		   "{\"mode\":\"sys\",\"op\":\"update\",\"name\":\"debug\",\"value\":\"off\"}");
	assert_int_equal(log_get_level(), LOG_LVL_INFO);
}

static void test_sys_delete(void **state)
{
	struct mgmt_fixture *f = *state;

	add_target(f, 1);
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"sys\",\"op\":\"delete\"}");
	assert_false(f->srv.shutdown_requested);
	expect_err(f, MGMT_OK, "{\"mode\":\"sys\",\"op\":\"delete\",\"force\":true}");
	assert_true(f->srv.shutdown_requested);
}

static void test_target_new_errors(void **state)
{
	struct mgmt_fixture *f = *state;

	add_target(f, 1);
	expect_err(f, MGMT_ERR_TARGET_EXIST,
		   "{\"mode\":\"target\",\"op\":\"new\",\"tid\":1,\"targetname\":\"iqn.x:other\"}");
	expect_err(f, MGMT_ERR_TARGET_EXIST,
		   "{\"mode\":\"target\",\"op\":\"new\",\"tid\":2,"
		   "\"targetname\":\"iqn.2026-11.t:1\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST,
		   "{\"mode\":\"target\",\"op\":\"new\",\"tid\":3,\"targetname\":\"iqn bad\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST,
		   "{\"mode\":\"target\",\"op\":\"new\",\"tid\":3,\"targetname\":\"\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"target\",\"op\":\"new\",\"tid\":3}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST,
		   "{\"mode\":\"target\",\"op\":\"new\",\"tid\":0,\"targetname\":\"iqn.x:y\"}");
	fake_attach_rc = -ENOMEM;
	expect_err(f, MGMT_ERR_NOMEM,
		   "{\"mode\":\"target\",\"op\":\"new\",\"tid\":4,\"targetname\":\"iqn.x:z\"}");
	assert_null(core_target_find(f->srv.root, 4));
}

static void test_target_show_all(void **state)
{
	struct mgmt_fixture *f = *state;
	json_t *r;
	json_t *t;
	json_t *lu0;

	add_target(f, 2);
	add_target(f, 1);
	r = call(f, "{\"mode\":\"target\",\"op\":\"show\"}");
	assert_int_equal(mgmt_fake_err(r), 0);
	assert_int_equal(json_array_size(mgmt_fake_data(r, "targets")), 2);
	t = mgmt_fake_data_at(r, "targets", 0);
	assert_int_equal(json_integer_value(json_object_get(t, "tid")), 1);
	assert_string_equal(json_string_value(json_object_get(t, "name")), "iqn.2026-11.t:1");
	assert_string_equal(json_string_value(json_object_get(t, "driver")), "iscsi");
	assert_string_equal(json_string_value(json_object_get(t, "state")), "ready");
	assert_int_equal(json_integer_value(json_object_get(t, "nop_interval")), 5);
	assert_int_equal(json_array_size(json_object_get(t, "nexuses")), 0);
	assert_int_equal(json_array_size(json_object_get(t, "accounts")), 0);
	assert_int_equal(json_array_size(json_object_get(t, "acls")), 0);
	lu0 = json_array_get(json_object_get(t, "luns"), 0);
	assert_int_equal(json_integer_value(json_object_get(lu0, "lun")), 0);
	assert_string_equal(json_string_value(json_object_get(lu0, "type")), "controller");
	assert_string_equal(json_string_value(json_object_get(lu0, "bstype")), "null");
	assert_true(json_is_null(json_object_get(lu0, "path")));
	assert_string_equal(json_string_value(json_object_get(lu0, "bsoflags")), "");
	json_decref(r);
}

static void test_target_show_params(void **state)
{
	struct mgmt_fixture *f = *state;
	json_t *r;
	char *s;

	add_target(f, 1);
	r = call(f, "{\"mode\":\"target\",\"op\":\"show\",\"tid\":1}");
	assert_int_equal(mgmt_fake_err(r), 0);
	s = json_dumps(json_object_get(r, "data"), JSON_COMPACT);
	assert_string_equal(s, "{\"params\":{\"nop_interval\":\"5\",\"nop_count\":\"3\","
			       "\"MaxRecvDataSegmentLength\":\"8192\",\"HeaderDigest\":\"None\","
			       "\"alua.type\":\"both\"}}");
	free(s);
	json_decref(r);
	expect_err(f, MGMT_ERR_NO_TARGET, "{\"mode\":\"target\",\"op\":\"show\",\"tid\":9}");
}

static void test_target_update(void **state)
{
	struct mgmt_fixture *f = *state;
	struct core_target *t;

	add_target(f, 1);
	t = core_target_find(f->srv.root, 1);
	expect_err(f, MGMT_OK, "{\"mode\":\"target\",\"op\":\"update\",\"tid\":1,"
			       "\"name\":\"state\",\"value\":\"offline\"}");
	assert_false(t->ready);
	expect_err(f, MGMT_OK, "{\"mode\":\"target\",\"op\":\"update\",\"tid\":1,"
			       "\"name\":\"state\",\"value\":\"ready\"}");
	assert_true(t->ready);
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"target\",\"op\":\"update\",\"tid\":1,"
						"\"name\":\"state\",\"value\":\"gone\"}");
	expect_err(f, MGMT_OK, "{\"mode\":\"target\",\"op\":\"update\",\"tid\":1,"
			       "\"name\":\"maxrecvdatasegmentlength\",\"value\":\"65536\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"target\",\"op\":\"update\",\"tid\":1,"
						"\"name\":\"MaxRecvDataSegmentLength\","
						"\"value\":\"1\"}");
	expect_err(f, MGMT_ERR_UNKNOWN_PARAM, "{\"mode\":\"target\",\"op\":\"update\",\"tid\":1,"
					      "\"name\":\"Bogus\",\"value\":\"1\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST,
		   "{\"mode\":\"target\",\"op\":\"update\",\"tid\":1,\"name\":\"state\"}");
	expect_err(f, MGMT_ERR_NO_TARGET, "{\"mode\":\"target\",\"op\":\"update\",\"tid\":2,"
					  "\"name\":\"state\",\"value\":\"ready\"}");
}

static void test_target_bind_unbind(void **state)
{
	struct mgmt_fixture *f = *state;
	json_t *r;
	json_t *acls;

	add_target(f, 1);
	expect_err(f, MGMT_OK, "{\"mode\":\"target\",\"op\":\"bind\",\"tid\":1,"
			       "\"initiator_address\":\"ALL\",\"initiator_name\":\"iqn.i:a\"}");
	expect_err(f, MGMT_ERR_ACL_EXIST, "{\"mode\":\"target\",\"op\":\"bind\",\"tid\":1,"
					  "\"initiator_address\":\"ALL\"}");
	/* The name fails: the address bound in the same request is taken back. */
	expect_err(f, MGMT_ERR_ACL_EXIST, "{\"mode\":\"target\",\"op\":\"bind\",\"tid\":1,"
					  "\"initiator_address\":\"10.0.0.0/8\","
					  "\"initiator_name\":\"iqn.i:a\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"target\",\"op\":\"bind\",\"tid\":1,"
						"\"initiator_address\":\"300.1.1.1\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"target\",\"op\":\"bind\",\"tid\":1}");
	expect_err(f, MGMT_ERR_UNSUPPORTED_OPERATION,
		   "{\"mode\":\"target\",\"op\":\"bind\",\"tid\":1,\"host_no\":3}");
	expect_err(f, MGMT_ERR_NO_TARGET, "{\"mode\":\"target\",\"op\":\"bind\",\"tid\":5,"
					  "\"initiator_address\":\"ALL\"}");

	r = call(f, "{\"mode\":\"target\",\"op\":\"show\"}");
	acls = json_object_get(mgmt_fake_data_at(r, "targets", 0), "acls");
	assert_int_equal(json_array_size(acls), 2);
	assert_string_equal(json_string_value(json_array_get(acls, 0)), "ALL");
	assert_string_equal(json_string_value(json_array_get(acls, 1)), "iqn.i:a");
	json_decref(r);

	expect_err(f, MGMT_OK, "{\"mode\":\"target\",\"op\":\"unbind\",\"tid\":1,"
			       "\"initiator_name\":\"iqn.i:a\"}");
	expect_err(f, MGMT_ERR_ACL_NOEXIST, "{\"mode\":\"target\",\"op\":\"unbind\",\"tid\":1,"
					    "\"initiator_name\":\"iqn.i:a\"}");
	expect_err(f, MGMT_ERR_ACL_NOEXIST, "{\"mode\":\"target\",\"op\":\"unbind\",\"tid\":1,"
					    "\"initiator_address\":\"10.0.0.0/8\"}");
}

static void test_lu_new_and_show(void **state)
{
	struct mgmt_fixture *f = *state;
	json_t *r;
	json_t *lu;

	add_target(f, 1);
	expect_err(f, MGMT_OK, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,\"lun\":1,"
			       "\"backing_store\":\"/img\",\"bsoflags\":\"direct,sync\","
			       "\"blocksize\":4096,\"params\":\"vendor_id=UTGT,readonly=1\"}");
	r = call(f, "{\"mode\":\"lu\",\"op\":\"show\",\"tid\":1,\"lun\":1}");
	assert_int_equal(mgmt_fake_err(r), 0);
	lu = json_array_get(json_object_get(mgmt_fake_data_at(r, "targets", 0), "luns"), 0);
	assert_int_equal(json_integer_value(json_object_get(lu, "lun")), 1);
	assert_string_equal(json_string_value(json_object_get(lu, "type")), "disk");
	assert_string_equal(json_string_value(json_object_get(lu, "bstype")), "rdwr");
	assert_string_equal(json_string_value(json_object_get(lu, "path")), "/img");
	assert_string_equal(json_string_value(json_object_get(lu, "bsoflags")), "sync:direct");
	assert_string_equal(json_string_value(json_object_get(lu, "vendor_id")), "UTGT");
	assert_int_equal(json_integer_value(json_object_get(lu, "size")), 64 << 20);
	assert_int_equal(json_integer_value(json_object_get(lu, "block_size")), 4096);
	assert_true(json_is_true(json_object_get(lu, "readonly")));
	assert_null(json_object_get(mgmt_fake_data_at(r, "targets", 0), "nexuses"));
	json_decref(r);
	r = call(f, "{\"mode\":\"lu\",\"op\":\"show\",\"tid\":1}");
	assert_int_equal(json_array_size(json_object_get(mgmt_fake_data_at(r, "targets", 0),
							 "luns")), 2);
	json_decref(r);
	expect_err(f, MGMT_ERR_NO_LUN, "{\"mode\":\"lu\",\"op\":\"show\",\"tid\":1,\"lun\":7}");
}

static void test_lu_new_errors(void **state)
{
	struct mgmt_fixture *f = *state;

	add_target(f, 1);
	expect_err(f, MGMT_ERR_NO_TARGET,
		   "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":2,\"lun\":1,\"backing_store\":\"/x\"}");
	expect_err(f, MGMT_ERR_LUN_EXIST,
		   "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,\"lun\":0,\"bstype\":\"bogus\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,"
						"\"lun\":1,\"backing_store\":\"/x\","
						"\"bstype\":\"aio\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,"
						"\"lun\":1,\"backing_store\":\"/x\","
						"\"device_type\":\"tape\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,"
						"\"lun\":1,\"backing_store\":\"/x\","
						"\"blocksize\":1000}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,"
						"\"lun\":1,\"backing_store\":\"/x\","
						"\"bsoflags\":\"fua\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,"
						"\"lun\":1,\"backing_store\":\"/nonexistent\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,"
						"\"lun\":16384,\"backing_store\":\"/x\"}");
	/* A bad --params undoes the creation. */
	expect_err(f, MGMT_ERR_UNKNOWN_PARAM, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,"
					      "\"lun\":1,\"backing_store\":\"/x\","
					      "\"params\":\"nope=1\"}");
	assert_null(core_lu_find(core_target_find(f->srv.root, 1), 1));
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,"
						"\"lun\":1,\"backing_store\":\"/x\","
						"\"params\":\"readonly=maybe\"}");
	assert_null(core_lu_find(core_target_find(f->srv.root, 1), 1));
	expect_err(f, MGMT_OK, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,\"lun\":1,"
			       "\"backing_store\":\"/x\",\"params\":{\"lbppbe\":\"3\"}}");
}

static void test_lu_update_and_delete(void **state)
{
	struct mgmt_fixture *f = *state;
	struct core_lu *lu;

	add_target(f, 1);
	expect_err(f, MGMT_OK, "{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,\"lun\":2,"
			       "\"backing_store\":\"/x\"}");
	lu = core_lu_find(core_target_find(f->srv.root, 1), 2);
	assert_non_null(lu);
	expect_err(f, MGMT_OK, "{\"mode\":\"lu\",\"op\":\"update\",\"tid\":1,\"lun\":2,"
			       "\"params\":\"readonly=1,thin_provisioning=1,scsi_sn=SN2\"}");
	assert_true(lu->readonly);
	assert_true(lu->thin);
	assert_string_equal(lu->scsi_sn, "SN2");
	expect_err(f, MGMT_ERR_UNKNOWN_PARAM, "{\"mode\":\"lu\",\"op\":\"update\",\"tid\":1,"
					      "\"lun\":2,\"params\":\"colour=blue\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"update\",\"tid\":1,"
						"\"lun\":2,\"params\":\"online=perhaps\"}");
	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"update\",\"tid\":1,"
						"\"lun\":2,\"bsoflags\":\"sync\"}");
	lu->prevent_removal = true;
	expect_err(f, MGMT_ERR_PREVENT_REMOVAL, "{\"mode\":\"lu\",\"op\":\"update\",\"tid\":1,"
						"\"lun\":2,\"params\":\"online=0\"}");
	lu->prevent_removal = false;
	expect_err(f, MGMT_ERR_NO_LUN, "{\"mode\":\"lu\",\"op\":\"update\",\"tid\":1,\"lun\":3,"
				       "\"params\":\"readonly=1\"}");
	expect_err(f, MGMT_OK, "{\"mode\":\"lu\",\"op\":\"update\",\"tid\":1,\"lun\":2}");

	expect_err(f, MGMT_ERR_INVALID_REQUEST, "{\"mode\":\"lu\",\"op\":\"delete\",\"tid\":1,"
						"\"lun\":0}");
	expect_err(f, MGMT_ERR_NO_LUN, "{\"mode\":\"lu\",\"op\":\"delete\",\"tid\":1,\"lun\":3}");
	core_lu_get(core_target_find(f->srv.root, 1), 2); /* a command in flight */
	expect_err(f, MGMT_ERR_LUN_ACTIVE, "{\"mode\":\"lu\",\"op\":\"delete\",\"tid\":1,"
					   "\"lun\":2}");
	core_lu_put(lu);
	expect_err(f, MGMT_OK, "{\"mode\":\"lu\",\"op\":\"delete\",\"tid\":1,\"lun\":2}");
	assert_null(core_lu_find(core_target_find(f->srv.root, 1), 2));
}

static struct core_nexus *add_nexus(struct mgmt_fixture *f, uint32_t tid, uint64_t id)
{
	struct core_target *t = core_target_find(f->srv.root, tid);
	struct core_nexus *n;

	assert_int_equal(core_nexus_new(t, id, "iqn.1994-05.com.example:host", &fake_nexus_ops,
					&n), 0);
	core_nexus_conn_add(n, 0, "127.0.0.1");
	core_nexus_conn_add(n, 1, "::1");
	return n;
}

static void test_sessions_and_connections(void **state)
{
	struct mgmt_fixture *f = *state;
	struct core_nexus *n;
	json_t *r;
	char *s;

	add_target(f, 1);
	n = add_nexus(f, 1, 3);
	r = call(f, "{\"mode\":\"conn\",\"op\":\"show\",\"tid\":1}");
	s = json_dumps(json_object_get(r, "data"), JSON_COMPACT);
	assert_string_equal(s, "{\"connections\":[{\"sid\":3,\"cid\":0,\"initiator\":"
			       "\"iqn.1994-05.com.example:host\",\"address\":\"127.0.0.1\"},"
			       "{\"sid\":3,\"cid\":1,\"initiator\":"
			       "\"iqn.1994-05.com.example:host\",\"address\":\"::1\"}]}");
	free(s);
	json_decref(r);
	r = call(f, "{\"mode\":\"session\",\"op\":\"show\",\"tid\":1,\"sid\":3}");
	s = json_dumps(json_object_get(r, "data"), JSON_COMPACT);
	assert_string_equal(s, "{\"sessions\":[{\"sid\":3,\"initiator\":"
			       "\"iqn.1994-05.com.example:host\",\"alias\":\"none\",\"tpgt\":0,"
			       "\"connections\":[{\"cid\":0,\"address\":\"127.0.0.1\"},"
			       "{\"cid\":1,\"address\":\"::1\"}]}]}");
	free(s);
	json_decref(r);
	expect_err(f, MGMT_ERR_NO_SESSION, "{\"mode\":\"session\",\"op\":\"show\",\"tid\":1,"
					   "\"sid\":4}");
	expect_err(f, MGMT_ERR_NO_TARGET, "{\"mode\":\"conn\",\"op\":\"show\"}");

	r = call(f, "{\"mode\":\"target\",\"op\":\"show\"}");
	s = json_dumps(json_object_get(mgmt_fake_data_at(r, "targets", 0), "nexuses"),
		       JSON_COMPACT);
	assert_string_equal(s, "[{\"id\":3,\"initiator\":\"iqn.1994-05.com.example:host\","
			       "\"alias\":\"none\",\"connections\":[{\"cid\":0,"
			       "\"address\":\"127.0.0.1\"},{\"cid\":1,\"address\":\"::1\"}]}]");
	free(s);
	json_decref(r);

	expect_err(f, MGMT_ERR_NO_SESSION, "{\"mode\":\"conn\",\"op\":\"delete\",\"tid\":1,"
					   "\"cid\":0}");
	expect_err(f, MGMT_ERR_NO_CONNECTION, "{\"mode\":\"conn\",\"op\":\"delete\",\"tid\":1,"
					      "\"sid\":3,\"cid\":9}");
	assert_int_equal(fake_closed.calls, 0);
	expect_err(f, MGMT_OK, "{\"mode\":\"conn\",\"op\":\"delete\",\"tid\":1,\"sid\":3,"
			       "\"cid\":1}");
	assert_int_equal(fake_closed.calls, 1);
	assert_int_equal(fake_closed.cid, 1);
	assert_false(fake_closed.all);
	expect_err(f, MGMT_OK, "{\"mode\":\"session\",\"op\":\"delete\",\"tid\":1,\"sid\":3}");
	assert_int_equal(fake_closed.calls, 2);
	assert_true(fake_closed.all);
	core_nexus_free(n);
}

static void test_target_delete_with_sessions(void **state)
{
	struct mgmt_fixture *f = *state;
	struct core_nexus *n;

	add_target(f, 1);
	n = add_nexus(f, 1, 9);
	expect_err(f, MGMT_ERR_TARGET_ACTIVE, "{\"mode\":\"target\",\"op\":\"delete\",\"tid\":1}");
	assert_non_null(core_target_find(f->srv.root, 1));
	expect_err(f, MGMT_OK, "{\"mode\":\"target\",\"op\":\"delete\",\"tid\":1,\"force\":true}");
	assert_null(core_target_find(f->srv.root, 1));
	assert_true(fake_closed.calls >= 1);
	core_nexus_free(n); /* the LLD frees the nexus once closed; the target goes with it */
	expect_err(f, MGMT_ERR_NO_TARGET, "{\"mode\":\"target\",\"op\":\"delete\",\"tid\":1}");
	expect_err(f, MGMT_ERR_NO_TARGET, "{\"mode\":\"target\",\"op\":\"delete\"}");
}

static void test_peer_text_that_is_not_utf8(void **state)
{
	struct mgmt_fixture *f = *state;
	struct core_target *t;
	struct core_nexus *n;
	json_t *r;
	char *s;

	add_target(f, 1);
	t = core_target_find(f->srv.root, 1);
	assert_int_equal(core_nexus_new(t, 1, "iqn.\xff\xfe", &fake_nexus_ops, &n), 0);
	r = call(f, "{\"mode\":\"conn\",\"op\":\"show\",\"tid\":1}");
	assert_int_equal(mgmt_fake_err(r), 0);
	json_decref(r);
	core_nexus_conn_add(n, 0, "1.2.3.4");
	r = call(f, "{\"mode\":\"session\",\"op\":\"show\",\"tid\":1}");
	assert_int_equal(mgmt_fake_err(r), 0);
	s = json_dumps(json_object_get(r, "data"), JSON_COMPACT);
	assert_non_null(strstr(s, "\"iqn.??\""));
	free(s);
	json_decref(r);
	core_nexus_free(n);
}

/* Garbage in never crashes and always gets a well-formed answer. */
static void test_mutated_requests(void **state)
{
	static const char seed[] =
		"{\"mode\":\"lu\",\"op\":\"new\",\"tid\":1,\"lun\":1,\"backing_store\":\"/x\","
		"\"params\":\"readonly=1,vendor_id=V\",\"bsoflags\":\"sync\"}";
	struct mgmt_fixture *f = *state;
	char buf[sizeof(seed)];
	unsigned int seedv = 12345;
	json_error_t jerr;
	json_t *r;
	char *out;
	int i;
	int j;

	add_target(f, 1);
	for (i = 0; i < 3000; i++) {
		memcpy(buf, seed, sizeof(seed));
		for (j = 0; j < 1 + i % 4; j++) {
			seedv = seedv * 1103515245u + 12345u;
			buf[(seedv >> 8) % (sizeof(seed) - 1)] = (char)(seedv >> 20);
		}
		out = mgmt_handle_json(&f->srv, buf, sizeof(seed) - 1 - (i % 7));
		assert_non_null(out);
		r = json_loads(out, 0, &jerr);
		assert_non_null(r);
		assert_true(json_is_integer(json_object_get(r, "err")));
		json_decref(r);
		free(out);
		core_lu_delete(core_target_find(f->srv.root, 1), 1, true);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, mgmt_fake_setup, mgmt_fake_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bad_documents),
		T(test_unsupported_combinations),
		T(test_sys_show_and_update),
		T(test_sys_delete),
		T(test_target_new_errors),
		T(test_target_show_all),
		T(test_target_show_params),
		T(test_target_update),
		T(test_target_bind_unbind),
		T(test_lu_new_and_show),
		T(test_lu_new_errors),
		T(test_lu_update_and_delete),
		T(test_sessions_and_connections),
		T(test_target_delete_with_sessions),
		T(test_peer_text_that_is_not_utf8),
		T(test_mutated_requests),
	};

	log_setup("test_mgmt_dispatch", true, LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
