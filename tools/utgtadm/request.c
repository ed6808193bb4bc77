/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtadm/request: builds the JSON request of docs/mgmt-protocol.md from parsed options.
 * Only options that were given are sent; the daemon applies tgt's defaults.
 */
#include "utgtadm.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mgmt/wire.h"

static int utgtadm_req_str(json_t *req, const char *key, const char *s)
{
	return s ? json_object_set_new(req, key, json_string(s)) : 0;
}

static int utgtadm_req_int(json_t *req, const char *key, bool has, uint64_t v)
{
	/* Values past JSON's signed 64-bit integers cannot name anything; the daemon says so. */
	if (!has)
		return 0;
	if (v > INT64_MAX)
		return json_object_set_new(req, key, json_integer(-1));
	return json_object_set_new(req, key, json_integer((json_int_t)v));
}

/* saveconfig --name FILE: the daemon needs an absolute path ("config" field). */
static int utgtadm_req_savefile(json_t *req, const char *file)
{
	char cwd[PATH_MAX];
	char path[PATH_MAX * 2];

	if (file[0] == '/')
		return utgtadm_req_str(req, "config", file);
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", cwd, file);
	return utgtadm_req_str(req, "config", path);
}

static int utgtadm_req_strings(json_t *req, const struct utgtadm_args *a)
{
	const char *bstype = a->bstype;
	int rc = 0;

	/* tgtadm forces the ssc store for tapes. */
	if (a->device_type && !strcmp(a->device_type, "tape"))
		bstype = "ssc";
	rc |= utgtadm_req_str(req, "lld", a->lld);
	if (a->mode == MGMT_MODE_SYSTEM && a->op == MGMT_OP_SAVECONFIG && a->name)
		rc |= utgtadm_req_savefile(req, a->name);
	else
		rc |= utgtadm_req_str(req, "name", a->name);
	rc |= utgtadm_req_str(req, "value", a->value);
	rc |= utgtadm_req_str(req, "backing_store", a->path);
	rc |= utgtadm_req_str(req, "bstype", bstype);
	rc |= utgtadm_req_str(req, "bsopts", a->bsopts);
	rc |= utgtadm_req_str(req, "bsoflags", a->bsoflags);
	rc |= utgtadm_req_str(req, "device_type", a->device_type);
	rc |= utgtadm_req_str(req, "targetname", a->targetname);
	rc |= utgtadm_req_str(req, "initiator_address", a->address);
	rc |= utgtadm_req_str(req, "initiator_name", a->iqnname);
	rc |= utgtadm_req_str(req, "user", a->user);
	rc |= utgtadm_req_str(req, "password", a->password);
	rc |= utgtadm_req_str(req, "params", a->params ? a->params : a->portal_params);
	return rc;
}

json_t *utgtadm_request_build(const struct utgtadm_args *a)
{
	json_t *req = json_pack("{s:s,s:s}", "mode", mgmt_mode_str(a->mode), "op",
				mgmt_op_str(a->op));
	int rc;

	if (!req)
		return NULL;
	rc = utgtadm_req_int(req, "tid", a->tid >= 0, (uint64_t)a->tid);
	rc |= utgtadm_req_int(req, "lun", a->lun != UINT64_MAX, a->lun);
	rc |= utgtadm_req_int(req, "sid", a->has_sid, a->sid);
	rc |= utgtadm_req_int(req, "cid", a->has_cid, a->cid);
	rc |= utgtadm_req_int(req, "host_no", a->has_host, a->host_no);
	rc |= utgtadm_req_int(req, "blocksize", a->has_blocksize, a->blocksize);
	if (a->force)
		rc |= json_object_set_new(req, "force", json_true());
	if (a->outgoing)
		rc |= json_object_set_new(req, "outgoing", json_true());
	rc |= utgtadm_req_strings(req, a);
	if (rc) {
		json_decref(req);
		return NULL;
	}
	return req;
}
