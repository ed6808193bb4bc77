/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lld/iscsi: the iSCSI low-level driver (RFC 7143) over TCP. Owns connections, sessions,
 * login and operational negotiation, discovery (SendTargets), the full-feature phase (SCSI
 * Command, Data-In/Data-Out/R2T, CmdSN ordering, NOP, Logout, TMF, Reject), digests, and the
 * per-target iSCSI parameters. It turns SCSI Command PDUs into struct scsi_cmd for the core
 * and never includes scsi/ or bs/.
 *
 * Threads: iscsi_lld_new/free, iscsi_portal_add, iscsi_target_* and iscsi_lld_shutdown run on
 * the control (management) thread. iscsi_conn_accept is called there too and hands the
 * socket to the least-loaded data reactor; from then on the connection, its session's
 * commands and buffers live on that reactor only.
 *
 * Prefix owned: iscsi_.
 */
#ifndef UTGT_LLD_ISCSI_ISCSI_H
#define UTGT_LLD_ISCSI_ISCSI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/core.h"

struct iscsi_lld;
struct reactor;

/*
 * Creates the driver. reactors[0..nr-1] are the data reactors connections are spread over
 * (borrowed; they outlive the driver). 0 or -errno.
 */
int iscsi_lld_new(struct core_root *root, struct reactor **reactors, unsigned int nr,
		  struct iscsi_lld **out);
void iscsi_lld_free(struct iscsi_lld *lld);

/* Records a listening portal, reported by SendTargets as TargetAddress. 0 or -errno. */
int iscsi_portal_add(struct iscsi_lld *lld, const struct sockaddr *addr, socklen_t len);

/* Takes ownership of an accepted TCP socket and starts its login on a data reactor. */
void iscsi_conn_accept(struct iscsi_lld *lld, int fd);

/* Gives a new core target its iSCSI state (parameter defaults). 0 or -ENOMEM. */
int iscsi_target_attach(struct iscsi_lld *lld, struct core_target *tgt);

/*
 * Sets a per-target parameter (tgtadm --mode target --op update --name K --value V): any
 * negotiable RFC 7143 key (MaxRecvDataSegmentLength, HeaderDigest, ...; names matched
 * case-insensitively), plus nop_interval, nop_count and MaxQueueCmd. New values apply to new
 * sessions. 0, -ENOENT (unknown key), -EINVAL (bad value).
 */
int iscsi_target_param_set(struct core_target *tgt, const char *key, const char *value);

typedef void (*iscsi_param_fn)(const char *key, const char *value, void *arg);
/* Calls fn for every per-target parameter, in tgt's show order. */
void iscsi_target_param_foreach(struct core_target *tgt, iscsi_param_fn fn, void *arg);
/* nop_interval and nop_count of a target (for the System information block). */
void iscsi_target_nop(struct core_target *tgt, unsigned int *interval, unsigned int *count);

/* Number of live connections (all reactors). */
unsigned int iscsi_lld_conn_count(struct iscsi_lld *lld);

/*
 * Closes every connection: sends an Async Message requesting logout, waits up to timeout_ms
 * for initiators to log out, then drops what is left after in-flight commands finish or are
 * aborted. Returns when no connection is left.
 */
void iscsi_lld_shutdown(struct iscsi_lld *lld, unsigned int timeout_ms);

#endif
