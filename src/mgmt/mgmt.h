/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt: the management socket server. Accepts Unix stream connections on the control reactor,
 * checks the peer's credentials (root, or the configured group), reads one request frame
 * (mgmt/wire.h), decodes it with bounds on every field, runs the handler for its mode and op
 * (sys, target, logicalunit, conn, session, ...) against the core and the iSCSI driver, and
 * writes one response frame with an error code and, for show, the data as JSON.
 *
 * Threads: everything runs on the control reactor's thread.
 * Prefix owned: mgmt_.
 */
#ifndef UTGT_MGMT_MGMT_H
#define UTGT_MGMT_MGMT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct reactor;
struct core_root;
struct iscsi_lld;
struct mgmt_server;

struct mgmt_config {
	const char *socket_path;
	gid_t allowed_gid;          /* (gid_t)-1: root only */
	void (*on_shutdown)(void *arg); /* --mode sys --op delete asks the daemon to exit */
	/* --mode portal --op new/delete (NULL: unsupported): opens a listening portal "ADDR[:PORT]"
	 * in portal group tpgt, or closes one. 0 or -errno (-EINVAL, -EEXIST, -ENOENT, ...). */
	int (*portal_add)(void *arg, const char *portal, uint16_t tpgt);
	int (*portal_del)(void *arg, const char *portal);
	void *arg;
	const char *config_path;    /* --config FILE (absolute; borrowed for the server's
				     * life): saveconfig's default destination, or NULL */
};

/*
 * Binds and listens on cfg->socket_path (mode 0600, or 0660 with allowed_gid), creating its
 * directory. A stale socket file is replaced; one a live daemon answers on gives -EADDRINUSE.
 * 0 or -errno.
 */
int mgmt_server_new(struct reactor *ctl, struct core_root *root, struct iscsi_lld *lld,
		    const struct mgmt_config *cfg, struct mgmt_server **out);
/* Closes the socket and unlinks its path. */
void mgmt_server_free(struct mgmt_server *srv);

/*
 * Handles one decoded request (a JSON text) and returns the response JSON text (malloc'd,
 * caller frees). Exposed for unit tests and the fuzzer; never fails except on ENOMEM (NULL).
 */
char *mgmt_handle_json(struct mgmt_server *srv, const char *req, size_t len);

#endif
