/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tools/utgtadm/show.c: show data renders in tgt's layout byte for byte. The golden texts
 * follow tgt's usr/target.c tgt_target_show_all / system_show and usr/iscsi/target.c as
 * captured in the tgt inventory (§1.4, §1.5), including the trailing space after
 * "Backing store flags:".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mgmt/wire.h"
#include "utgtadm.h"

/* Renders doc (JSON text) for mode/op and returns the text (caller frees). */
static char *render(int mode, int op, bool has_tid, const char *doc, int *rc)
{
	json_error_t jerr;
	json_t *data = json_loads(doc, 0, &jerr);
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	assert_non_null(data);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	*rc = utgtadm_show(out, mode, op, has_tid, data);
	fclose(out);
	json_decref(data);
	return buf;
}

static void expect_render(int mode, bool has_tid, const char *doc, const char *golden)
{
	int rc;
	char *text = render(mode, MGMT_OP_SHOW, has_tid, doc, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(text, golden);
	free(text);
}

static const char targets_doc[] =
	"{\"targets\":[{\"tid\":1,\"name\":\"iqn.2024-01.test:t1\",\"driver\":\"iscsi\","
	"\"state\":\"ready\",\"nop_interval\":5,\"nop_count\":3,"
	"\"nexuses\":[{\"id\":3,\"initiator\":\"iqn.2024-01.test:initiator1\",\"alias\":null,"
	"\"connections\":[{\"cid\":0,\"address\":\"127.0.0.1\"}]}],"
	"\"luns\":[{\"lun\":0,\"type\":\"controller\",\"scsi_id\":\"IET     00010000\","
	"\"scsi_sn\":\"beaf10\",\"size\":0,\"block_size\":1,\"online\":true,\"removable\":false,"
	"\"prevent_removal\":false,\"readonly\":false,\"swp\":false,\"thin_provisioning\":false,"
	"\"bstype\":\"null\",\"path\":null,\"bsoflags\":\"\"},"
	"{\"lun\":1,\"type\":\"disk\",\"scsi_id\":\"IET     00010001\",\"scsi_sn\":\"beaf11\","
	"\"size\":67108864,\"block_size\":512,\"online\":true,\"removable\":false,"
	"\"prevent_removal\":false,\"readonly\":true,\"swp\":false,\"thin_provisioning\":true,"
	"\"bstype\":\"rdwr\",\"path\":\"/var/lib/utgt/lun1.img\",\"bsoflags\":\"sync:direct\"}],"
	"\"accounts\":[{\"user\":\"u1\",\"outgoing\":false},{\"user\":\"u2\",\"outgoing\":true}],"
	"\"acls\":[\"ALL\",\"iqn.1994-05.com.redhat:abc\"]},"
	"{\"tid\":2,\"name\":\"iqn.2024-01.test:t2\",\"driver\":\"iscsi\",\"state\":\"offline\","
	"\"nop_interval\":0,\"nop_count\":0,\"nexuses\":[],"
	"\"luns\":[{\"lun\":0,\"type\":\"controller\",\"scsi_id\":\"IET     00020000\","
	"\"scsi_sn\":\"beaf20\",\"size\":0,\"block_size\":1,\"online\":true,\"removable\":false,"
	"\"prevent_removal\":false,\"readonly\":false,\"swp\":false,\"thin_provisioning\":false,"
	"\"bstype\":\"null\",\"path\":null,\"bsoflags\":\"\"}],\"accounts\":[],\"acls\":[]}]}";

/* tgt's block for the controller at LUN 0 of a target, SCSI ID "IET     <id>". */
#define CTL_LUN0(id, sn)                                                                           \
	"        LUN: 0\n"                                                                         \
	"            Type: controller\n"                                                           \
	"            SCSI ID: IET     " id "\n"                                                    \
	"            SCSI SN: " sn "\n"                                                            \
	"            Size: 0 MB, Block size: 1\n"                                                  \
	"            Online: Yes\n"                                                                \
	"            Removable media: No\n"                                                        \
	"            Prevent removal: No\n"                                                        \
	"            Readonly: No\n"                                                               \
	"            SWP: No\n"                                                                    \
	"            Thin-provisioning: No\n"                                                      \
	"            Backing store type: null\n"                                                   \
	"            Backing store path: None\n"                                                   \
	"            Backing store flags: \n"

static const char lun0_t1[] = CTL_LUN0("00010000", "beaf10");

static const char lun1_t1[] =
	"        LUN: 1\n"
	"            Type: disk\n"
	"            SCSI ID: IET     00010001\n"
	"            SCSI SN: beaf11\n"
	"            Size: 67 MB, Block size: 512\n"
	"            Online: Yes\n"
	"            Removable media: No\n"
	"            Prevent removal: No\n"
	"            Readonly: Yes\n"
	"            SWP: No\n"
	"            Thin-provisioning: Yes\n"
	"            Backing store type: rdwr\n"
	"            Backing store path: /var/lib/utgt/lun1.img\n"
	"            Backing store flags: sync:direct\n";

static void test_target_show_matches_tgt_layout(void **state)
{
	char golden[4096];

	(void)state;
	snprintf(golden, sizeof(golden),
		 "Target 1: iqn.2024-01.test:t1\n"
		 "    System information:\n"
		 "        Driver: iscsi\n"
		 "        State: ready\n"
		 "        Nop interval: 5\n"
		 "        Nop count: 3\n"
		 "    I_T nexus information:\n"
		 "        I_T nexus: 3\n"
		 "            Initiator: iqn.2024-01.test:initiator1 alias: none\n"
		 "            Connection: 0\n"
		 "                IP Address: 127.0.0.1\n"
		 "    LUN information:\n"
		 "%s%s"
		 "    Account information:\n"
		 "        u1\n"
		 "        u2 (outgoing)\n"
		 "    ACL information:\n"
		 "        ALL\n"
		 "        iqn.1994-05.com.redhat:abc\n"
		 "Target 2: iqn.2024-01.test:t2\n"
		 "    System information:\n"
		 "        Driver: iscsi\n"
		 "        State: offline\n"
		 "    I_T nexus information:\n"
		 "    LUN information:\n"
		 CTL_LUN0("00020000", "beaf20")
		 "    Account information:\n"
		 "    ACL information:\n",
		 lun0_t1, lun1_t1);
	expect_render(MGMT_MODE_TARGET, false, targets_doc, golden);
}

static void test_target_show_empty_prints_nothing(void **state)
{
	(void)state;
	expect_render(MGMT_MODE_TARGET, false, "{\"targets\":[]}", "");
}

static void test_lu_show_prints_target_line_and_luns(void **state)
{
	char golden[2048];

	(void)state;
	snprintf(golden, sizeof(golden), "Target 1: iqn.2024-01.test:t1\n    LUN information:\n%s",
		 lun1_t1);
	expect_render(MGMT_MODE_LU, false,
		      "{\"targets\":[{\"tid\":1,\"name\":\"iqn.2024-01.test:t1\","
		      "\"luns\":[{\"lun\":1,"
		      "\"type\":\"disk\",\"scsi_id\":\"IET     00010001\",\"scsi_sn\":\"beaf11\","
		      "\"size\":67108864,\"block_size\":512,\"online\":true,\"readonly\":true,"
		      "\"thin_provisioning\":true,\"bstype\":\"rdwr\","
		      "\"path\":\"/var/lib/utgt/lun1.img\",\"bsoflags\":\"sync:direct\"}]}]}",
		      golden);
}

static void test_target_params_are_key_value_lines(void **state)
{
	(void)state;
	expect_render(MGMT_MODE_TARGET, true,
		      "{\"params\":{\"nop_interval\":\"0\",\"nop_count\":\"0\","
		      "\"MaxRecvDataSegmentLength\":\"8192\",\"HeaderDigest\":\"None\"}}",
		      "nop_interval=0\nnop_count=0\nMaxRecvDataSegmentLength=8192\n"
		      "HeaderDigest=None\n");
}

static void test_sys_show_layout(void **state)
{
	(void)state;
	expect_render(MGMT_MODE_SYSTEM, false,
		      "{\"system\":{\"state\":\"ready\",\"debug\":\"off\"},"
		      "\"llds\":[{\"name\":\"iscsi\",\"state\":\"ready\"}],"
		      "\"backing_stores\":[{\"name\":\"rdwr\",\"bsoflags\":\"sync:direct\"},"
		      "{\"name\":\"null\"}],\"device_types\":[\"disk\",\"controller\"]}",
		      "System:\n"
		      "    State: ready\n"
		      "    debug: off\n"
		      "LLDs:\n"
		      "    iscsi: ready\n"
		      "Backing stores:\n"
		      "    rdwr (bsoflags sync:direct)\n"
		      "    null\n"
		      "Device types:\n"
		      "    disk\n"
		      "    controller\n");
}

/* the iSNS settings print as tgt's block, which tgt-admin greps for "iSNS=On" */
static void test_sys_show_isns_block(void **state)
{
	(void)state;
	expect_render(MGMT_MODE_SYSTEM, false,
		      "{\"system\":{\"state\":\"ready\",\"debug\":\"off\"},\"llds\":[],"
		      "\"backing_stores\":[],\"device_types\":[],\"isns\":{\"iSNS\":\"On\","
		      "\"iSNSServerIP\":\"::1\",\"iSNSServerPort\":\"3205\","
		      "\"iSNSAccessControl\":\"Off\"}}",
		      "System:\n"
		      "    State: ready\n"
		      "    debug: off\n"
		      "LLDs:\n"
		      "Backing stores:\n"
		      "Device types:\n"
		      "iSNS:\n"
		      "    iSNS=On\n"
		      "    iSNSServerIP=::1\n"
		      "    iSNSServerPort=3205\n"
		      "    iSNSAccessControl=Off\n");
}

static void test_conn_show_layout(void **state)
{
	(void)state;
	expect_render(MGMT_MODE_CONN, false,
		      "{\"connections\":[{\"sid\":1,\"cid\":0,\"initiator\":\"iqn.i:a\","
		      "\"address\":\"127.0.0.1\"},{\"sid\":2,\"cid\":1,\"initiator\":\"iqn.i:b\","
		      "\"address\":\"::1\"}]}",
		      "Session: 1\n"
		      "    Connection: 0\n"
		      "        Initiator: iqn.i:a\n"
		      "        IP Address: 127.0.0.1\n"
		      "Session: 2\n"
		      "    Connection: 1\n"
		      "        Initiator: iqn.i:b\n"
		      "        IP Address: ::1\n");
}

static void test_session_show_layout(void **state)
{
	(void)state;
	expect_render(MGMT_MODE_SESSION, false,
		      "{\"sessions\":[{\"sid\":7,\"initiator\":\"iqn.i:a\",\"alias\":\"host-a\","
		      "\"connections\":[{\"cid\":0,\"address\":\"10.0.0.1\"}]}]}",
		      "Session: 7\n"
		      "    Initiator: iqn.i:a alias: host-a\n"
		      "    Connection: 0\n"
		      "        IP Address: 10.0.0.1\n");
}

static void test_lld_and_account_show(void **state)
{
	(void)state;
	expect_render(MGMT_MODE_LLD, false,
		      "{\"llds\":[{\"name\":\"iscsi\",\"state\":\"ready\",\"targets\":[{\"tid\":1,"
		      "\"name\":\"iqn.t\"}]}]}",
		      "LLDs:\n    iscsi: ready\n        Target 1: iqn.t\n");
	expect_render(MGMT_MODE_ACCOUNT, false, "{\"accounts\":[]}", "");
	expect_render(MGMT_MODE_ACCOUNT, false,
		      "{\"accounts\":[{\"user\":\"a\"},{\"user\":\"b\",\"outgoing\":true}]}",
		      "Account list:\n    a\n    b (outgoing)\n");
}

static void test_missing_fields_print_defaults(void **state)
{
	(void)state;
	expect_render(MGMT_MODE_TARGET, false,
		      "{\"targets\":[{\"tid\":\"x\",\"luns\":[{\"size\":-5}],\"nexuses\":[{}],"
		      "\"acls\":7}]}",
		      "Target 0: \n"
		      "    System information:\n"
		      "        Driver: iscsi\n"
		      "        State: \n"
		      "    I_T nexus information:\n"
		      "        I_T nexus: 0\n"
		      "            Initiator:  alias: none\n"
		      "    LUN information:\n"
		      "        LUN: 0\n"
		      "            Type: \n"
		      "            SCSI ID: \n"
		      "            SCSI SN: \n"
		      "            Size: 0 MB, Block size: 0\n"
		      "            Online: No\n"
		      "            Removable media: No\n"
		      "            Prevent removal: No\n"
		      "            Readonly: No\n"
		      "            SWP: No\n"
		      "            Thin-provisioning: No\n"
		      "            Backing store type: None\n"
		      "            Backing store path: None\n"
		      "            Backing store flags: \n"
		      "    Account information:\n"
		      "    ACL information:\n");
}

static void test_wrong_shape_is_rejected(void **state)
{
	int rc;
	char *text;

	(void)state;
	text = render(MGMT_MODE_TARGET, MGMT_OP_SHOW, false, "{\"params\":{}}", &rc);
	assert_int_equal(rc, -EINVAL);
	free(text);
	text = render(MGMT_MODE_SYSTEM, MGMT_OP_SHOW, false, "{}", &rc);
	assert_int_equal(rc, -EINVAL);
	free(text);
	text = render(MGMT_MODE_PORTAL, MGMT_OP_SHOW, false, "{}", &rc);
	assert_int_equal(rc, -EINVAL);
	free(text);
	text = render(MGMT_MODE_TARGET, MGMT_OP_NEW, false, "{\"targets\":[]}", &rc);
	assert_int_equal(rc, -EINVAL);
	free(text);
}

static void test_disksize_uses_tgt_formula(void **state)
{
	(void)state;
	assert_int_equal(utgtadm_show_disksize_mb(0), 0);
	assert_int_equal(utgtadm_show_disksize_mb(64ull << 20), 67);
	assert_int_equal(utgtadm_show_disksize_mb(1ull << 30), 1074);
	assert_int_equal(utgtadm_show_disksize_mb(512), 0);
	assert_int_equal(utgtadm_show_disksize_mb(1ull << 40), 1099512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_show_matches_tgt_layout),
		cmocka_unit_test(test_target_show_empty_prints_nothing),
		cmocka_unit_test(test_lu_show_prints_target_line_and_luns),
		cmocka_unit_test(test_target_params_are_key_value_lines),
		cmocka_unit_test(test_sys_show_layout),
		cmocka_unit_test(test_sys_show_isns_block),
		cmocka_unit_test(test_conn_show_layout),
		cmocka_unit_test(test_session_show_layout),
		cmocka_unit_test(test_lld_and_account_show),
		cmocka_unit_test(test_missing_fields_print_defaults),
		cmocka_unit_test(test_wrong_shape_is_rejected),
		cmocka_unit_test(test_disksize_uses_tgt_formula),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
