/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/config_int: private to config_parse.c and config.c. The parsed file is a JSON document
 * (the "desired state"): {"targets": [target...], "warnings": [...], "ignore_errors": bool}
 * with target = {"name", "file", "line", "tid"?, "state"?, "luns": [lu...], "addrs": [...],
 * "names": [...], "iscsi": {key: value}} and lu = {"lun", "path"?, "bstype"?, "bsopts"?,
 * "bsoflags"?, "device_type"?, "block_size"?, "params": {key: value}, "updates"?: ["k=v,..."]
 * (device-type params lines, ${tid}/${lun} substituted when planned), "line"}.
 */
#ifndef UTGT_MGMT_CONFIG_INT_H
#define UTGT_MGMT_CONFIG_INT_H

#include <jansson.h>
#include <stddef.h>

#include "mgmt/mgmt_int.h"

#define CFG_LINE_MAX     8192   /* bytes per line */
#define CFG_FILES_MAX    256    /* files read through include */
#define CFG_DEPTH_MAX    8      /* include nesting */
#define CFG_TARGETS_MAX  4096
#define CFG_LUNS_MAX     16383  /* LUN numbers are below this (flat addressing) */

/*
 * Parses path (and its includes) into a new desired-state document. NULL on error with
 * "file:line: reason" in err.
 */
json_t *mgmt_config_parse(struct mgmt_server *srv, const char *path, char *err, size_t errlen);

/* The canonical spelling of a per-target iSCSI key a file may set, key itself for an ALUA
 * key (alua.*), or NULL. */
const char *mgmt_config_iscsi_key(const char *key);

/* Handlers (dispatch.c routes system show and update here). */
void mgmt_config_sys_show(struct mgmt_server *srv, const struct mgmt_req *req,
			  struct mgmt_rsp *rsp);
void mgmt_config_sys_update(struct mgmt_server *srv, const struct mgmt_req *req,
			    struct mgmt_rsp *rsp);
/* `system saveconfig`: the dump, written atomically to req->config or the --config file. */
void mgmt_config_sys_save(struct mgmt_server *srv, const struct mgmt_req *req,
			  struct mgmt_rsp *rsp);

#endif
