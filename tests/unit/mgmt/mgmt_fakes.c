/* SPDX-License-Identifier: GPL-2.0-only */
/* Fakes for the mgmt unit tests (mgmt_fakes.h). */
#include "mgmt_fakes.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "lld/iscsi/iscsi.h"

static int fake_null_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	(void)path;
	*fd = -1;
	*size = 0;
	return 0;
}

static int fake_file_open(struct core_lu *lu, const char *path, int *fd, uint64_t *size)
{
	(void)lu;
	if (!path || !strcmp(path, "/nonexistent"))
		return -ENOENT;
	*fd = -1;
	*size = 64ull << 20;
	return 0;
}

static void fake_exec(struct scsi_cmd *cmd)
{
	core_cmd_good(cmd);
	core_cmd_done(cmd);
}

static int fake_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	(void)lu;
	(void)value;
	return strcmp(key, "lbppbe") ? -ENOENT : 0;
}

static const struct core_bs fake_null = { .name = "null", .open = fake_null_open };
static const struct core_bs fake_rdwr = { .name = "rdwr", .needs_path = true,
					  .open = fake_file_open };
static const char *const fake_config_keys[] = { "lbppbe", NULL };

static const struct core_devtype fake_disk = {
	.name = "disk", .show_name = "disk", .default_bs = "rdwr", .needs_path = true,
	.lu_config = fake_lu_config, .config_keys = fake_config_keys, .cmd_exec = fake_exec,
};
static const struct core_devtype fake_ctl = {
	.name = "controller", .show_name = "controller", .pdt = 0x0c, .default_bs = "null",
	.cmd_exec = fake_exec,
};

int fake_attach_rc;

int iscsi_target_attach(struct iscsi_lld *lld, struct core_target *tgt)
{
	(void)lld;
	(void)tgt;
	return fake_attach_rc;
}

int iscsi_target_param_set(struct core_target *tgt, const char *key, const char *value)
{
	(void)tgt;
	if (!strcasecmp(key, "MaxRecvDataSegmentLength"))
		return atoi(value) >= 512 ? 0 : -EINVAL;
	return -ENOENT;
}

void iscsi_target_param_foreach(struct core_target *tgt, iscsi_param_fn fn, void *arg)
{
	(void)tgt;
	fn("MaxRecvDataSegmentLength", "8192", arg);
	fn("HeaderDigest", "None", arg);
}

void iscsi_target_nop(struct core_target *tgt, unsigned int *interval, unsigned int *count)
{
	*interval = tgt->tid == 1 ? 5 : 0;
	*count = tgt->tid == 1 ? 3 : 0;
}

unsigned int iscsi_portal_list(struct iscsi_lld *lld, struct iscsi_portal_info *out,
			       unsigned int max)
{
	(void)lld;
	(void)out;
	(void)max;
	return 0;
}

/* One logged-in connection (tid 1, TSIH 7, CID 0) and one stuck READ(10) on it. */
static unsigned int fake_stuck_ms = 30000;

void iscsi_lld_conn_foreach(struct iscsi_lld *lld, iscsi_conn_info_fn fn, void *arg)
{
	struct iscsi_conn_info ci = {
		.ffp = true, .tid = 1, .tsih = 7, .cid = 0, .isid = "400001370000",
		.target = "iqn.x:s", .initiator = "iqn.ini:a", .addr = "127.0.0.1:40000",
		.st = { .pdus_in = 10, .pdus_out = 12, .bytes_in = 480, .bytes_out = 4672,
			.cmds = 4, .digest_errors = 1, .r2ts = 2, .lat_sum_us = 400,
			.lat_hist = { [3] = 4 } },
	};

	(void)lld;
	fn(&ci, arg);
}

int iscsi_lld_inflight(struct iscsi_lld *lld, iscsi_inflight_fn fn, void *arg, bool *truncated)
{
	struct iscsi_inflight f = {
		.tid = 1, .tsih = 7, .cid = 0, .initiator = "iqn.ini:a", .addr = "127.0.0.1:40000",
		.itt = 0x10, .lun = 1, .cdb = { 0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0 }, .cdb_len = 10,
		.age_ms = 3000, .state = "in backing store", .bs_op = "read", .bs_offset = 4096,
		.bs_length = 512, .edtl = 512, .stuck = true,
	};

	(void)lld;
	*truncated = false;
	fn(&f, arg);
	return 0;
}

void iscsi_lld_stuck_set(struct iscsi_lld *lld, unsigned int ms)
{
	(void)lld;
	fake_stuck_ms = ms;
}

unsigned int iscsi_lld_stuck_get(struct iscsi_lld *lld)
{
	(void)lld;
	return fake_stuck_ms;
}

uint64_t iscsi_lld_stuck_total(struct iscsi_lld *lld)
{
	(void)lld;
	return 1;
}

/* srv.lld is a token here: driver-wide names (limits.c, isns.c) are unknown to the fake */
int iscsi_lld_limit_set(struct iscsi_lld *lld, const char *name, const char *value)
{
	(void)lld;
	(void)name;
	(void)value;
	return -ENOENT;
}

void iscsi_lld_isns_foreach(struct iscsi_lld *lld, iscsi_param_fn fn, void *arg)
{
	(void)lld;
	fn("iSNS", "Off", arg);
	fn("iSNSServerIP", "", arg);
	fn("iSNSServerPort", "3205", arg);
	fn("iSNSAccessControl", "Off", arg);
}

struct close_call fake_closed;

static void fake_close(struct core_nexus *n, uint32_t cid, bool all)
{
	(void)n;
	fake_closed.calls++;
	fake_closed.cid = cid;
	fake_closed.all = all;
}

const struct core_nexus_ops fake_nexus_ops = { .close = fake_close };

struct core_root *mgmt_fake_root(void)
{
	struct core_root *root;

	if (core_root_new(&root))
		return NULL;
	core_root_add_bs(root, &fake_rdwr);
	core_root_add_bs(root, &fake_null);
	core_root_add_devtype(root, &fake_disk);
	core_root_add_devtype(root, &fake_ctl);
	core_root_set_nolu(root, &fake_disk);
	return root;
}

static int fake_lld_token;

int mgmt_fake_server_init(struct mgmt_server *srv)
{
	srv->root = mgmt_fake_root();
	if (!srv->root)
		return -1;
	srv->lld = (struct iscsi_lld *)&fake_lld_token;
	srv->fd = -1;
	list_init(&srv->clients);
	fake_attach_rc = 0;
	memset(&fake_closed, 0, sizeof(fake_closed));
	log_set_level(LOG_LVL_WARN);
	return 0;
}

void mgmt_fake_server_fini(struct mgmt_server *srv)
{
	core_root_free(srv->root);
	json_decref(srv->lu_updates);
}

char *mgmt_fake_call_raw(struct mgmt_server *srv, const char *req)
{
	char *out = mgmt_handle_json(srv, req, strlen(req));

	assert_non_null(out);
	return out;
}

json_t *mgmt_fake_call(struct mgmt_server *srv, const char *req)
{
	char *out = mgmt_fake_call_raw(srv, req);
	json_t *rsp = json_loads(out, 0, NULL);

	if (!rsp)
		fail_msg("not JSON: %s", out);
	free(out);
	return rsp;
}

int mgmt_fake_err(const json_t *rsp)
{
	return (int)json_integer_value(json_object_get(rsp, "err"));
}

json_t *mgmt_fake_data(const json_t *rsp, const char *key)
{
	return json_object_get(json_object_get(rsp, "data"), key);
}

json_t *mgmt_fake_data_at(const json_t *rsp, const char *key, size_t i)
{
	return json_array_get(mgmt_fake_data(rsp, key), i);
}

int mgmt_fake_setup(void **state)
{
	struct mgmt_fixture *f = calloc(1, sizeof(*f));

	if (!f || mgmt_fake_server_init(&f->srv))
		return -1;
	*state = f;
	return 0;
}

int mgmt_fake_teardown(void **state)
{
	struct mgmt_fixture *f = *state;

	mgmt_fake_server_fini(&f->srv);
	free(f);
	return 0;
}
