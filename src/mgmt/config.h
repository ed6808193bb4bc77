/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/config: tgt's targets.conf format inside the daemon. A file is parsed into a desired
 * state (config_parse.c), compared with the live targets into a plan of changes, and the plan
 * runs through the ordinary request handlers (config.c). The live state is also written back
 * in the same format (dump). Used by `utgtd --config FILE`, SIGHUP and the management requests
 * that utgt-admin sends (docs/mgmt-protocol.md, "Configuration files").
 *
 * Threads: the control reactor's thread only, like every management handler.
 */
#ifndef UTGT_MGMT_CONFIG_H
#define UTGT_MGMT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct mgmt_server;

/*
 * Applies the configuration file path (reconciling every target, without forcing the deletion
 * of targets that have sessions). On failure writes "file:line: reason" or the failing change
 * into err and returns -errno; a file that does not parse changes nothing.
 */
int mgmt_config_load(struct mgmt_server *srv, const char *path, char *err, size_t errlen);

#endif
