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

/*
 * Records a listening portal of portal group tpgt (1..65535), reported by SendTargets as
 * TargetAddress=addr,tpgt. A connection accepted on it logs in through that portal group: the
 * login answers TargetPortalGroupTag=tpgt and its I_T nexus gets the target port tpgt (also
 * recorded with core_root_port_add for ALUA). 0, -EINVAL, -ENOSPC.
 */
int iscsi_portal_add(struct iscsi_lld *lld, const struct sockaddr *addr, socklen_t len,
		     uint16_t tpgt);

/*
 * Forgets the portal at addr (its listening socket is the caller's): SendTargets stops
 * listing it; sessions that came through it stay. The last portal of a group also removes the
 * target port (core_root_port_del). 0 or -ENOENT.
 */
int iscsi_portal_del(struct iscsi_lld *lld, const struct sockaddr *addr, socklen_t len);

/* One recorded portal, for show. */
struct iscsi_portal_info {
	struct sockaddr_storage addr;
	uint16_t tpgt;
};
/* Copies up to max recorded portals into out; returns the count. Any thread. */
unsigned int iscsi_portal_list(struct iscsi_lld *lld, struct iscsi_portal_info *out,
			       unsigned int max);

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

/*
 * Names the control reactor (borrowed, outlives the driver): the iSNS client (isns.c) runs its
 * connection and timers there. iSNS parameters (iSNSServerIP, iSNSServerPort,
 * iSNSAccessControl, iSNS) are set through iscsi_lld_limit_set. Control thread. 0 or -ENOMEM.
 */
int iscsi_lld_ctl_set(struct iscsi_lld *lld, struct reactor *ctl);
/*
 * Calls fn for iSNS, iSNSServerIP, iSNSServerPort and iSNSAccessControl with their current
 * values, in that order (tgt's "iSNS:" block of the system show). Control thread.
 */
void iscsi_lld_isns_foreach(struct iscsi_lld *lld, iscsi_param_fn fn, void *arg);

/* Number of live connections (all reactors). */
unsigned int iscsi_lld_conn_count(struct iscsi_lld *lld);

/*
 * Driver-wide limits by name (utgtd options, utgtadm --mode sys --op update): login_timeout
 * (seconds a login may take, 1-3600, default 15) and max_initiator_conns (connections one
 * initiator address may hold, 1-1024, default 512; more are closed before login). New values
 * apply to new connections. 0, -ENOENT (unknown name), -EINVAL (bad value). Any thread.
 */
int iscsi_lld_limit_set(struct iscsi_lld *lld, const char *name, const char *value);
/* Calls fn for each driver-wide limit with its current value. */
void iscsi_lld_limit_foreach(struct iscsi_lld *lld, iscsi_param_fn fn, void *arg);

/* ---- introspection: counters, in-flight commands, stuck-I/O watchdog (introspect.c) ---- */

/* A connection's counters (relaxed reads of values its reactor alone writes). */
struct iscsi_conn_counters {
	uint64_t pdus_in, pdus_out, bytes_in, bytes_out;
	uint64_t cmds;                   /* SCSI commands answered */
	uint64_t digest_errors, r2ts, rejects;
	uint64_t lat_sum_us;             /* arrival to response, summed over cmds */
	uint64_t lat_hist[CORE_LAT_BUCKETS]; /* bucket i counts < 2^(i+4) us, as core's */
};

/* One connection as mgmt sees it. Identity fields are empty until the login completes. */
struct iscsi_conn_info {
	bool ffp;                        /* logged in (full feature phase) */
	bool discovery;
	uint32_t tid;
	uint16_t tsih;
	uint16_t cid;
	char isid[13];                   /* 12 hex digits */
	char target[224];
	char initiator[224];
	char addr[64];                   /* initiator's address:port */
	struct iscsi_conn_counters st;
};

typedef void (*iscsi_conn_info_fn)(const struct iscsi_conn_info *ci, void *arg);
/*
 * Calls fn for every connection (all reactors). Runs on any thread; fn runs under the
 * driver's introspection lock and must not call back into the driver.
 */
void iscsi_lld_conn_foreach(struct iscsi_lld *lld, iscsi_conn_info_fn fn, void *arg);

/* One command in flight, as its reactor saw it when asked. */
struct iscsi_inflight {
	uint32_t tid;
	uint16_t tsih;
	uint16_t cid;
	char initiator[224];
	char addr[64];
	uint32_t itt;
	uint64_t lun;
	uint8_t cdb[16];                 /* first 16 bytes */
	uint8_t cdb_len;                 /* full length (may exceed 16) */
	uint64_t age_ms;                 /* since its SCSI Command PDU arrived */
	const char *state;               /* static text: "waiting for CmdSN", "in core"... */
	const char *bs_op;               /* backing-store operation ("read", ...) or NULL */
	uint64_t bs_offset;              /* bytes, with bs_op */
	uint64_t bs_length;
	uint32_t edtl;
	uint32_t data_got;               /* Data-Out bytes received so far */
	bool stuck;                      /* older than the watchdog limit (logged once) */
};

typedef void (*iscsi_inflight_fn)(const struct iscsi_inflight *f, void *arg);
/*
 * Asks every data reactor for its in-flight SCSI commands and calls fn for each (in arrival
 * order per connection, those waiting for CmdSN order last; at most 256 per reactor).
 * Blocks the caller up to 1 s for the answers.
 * Control thread only. 0, -ETIMEDOUT (some reactor did not answer: partial list) or -ENOMEM;
 * *truncated is set when a reactor had more than it could report.
 */
int iscsi_lld_inflight(struct iscsi_lld *lld, iscsi_inflight_fn fn, void *arg, bool *truncated);

/*
 * Stuck-I/O watchdog: a SCSI command in flight longer than ms is logged once (with its CDB,
 * LU, state and connection) and counted. 0 turns it off. Any thread.
 */
void iscsi_lld_stuck_set(struct iscsi_lld *lld, unsigned int ms);
unsigned int iscsi_lld_stuck_get(struct iscsi_lld *lld);
/* Commands the watchdog caught since start-up (utgt_stuck_commands_total). */
uint64_t iscsi_lld_stuck_total(struct iscsi_lld *lld);

/*
 * Closes every connection: sends an Async Message requesting logout, waits up to timeout_ms
 * for initiators to log out, then drops what is left after in-flight commands finish or are
 * aborted. Returns when no connection is left.
 */
void iscsi_lld_shutdown(struct iscsi_lld *lld, unsigned int timeout_ms);

#endif
