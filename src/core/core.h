/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * core: the target core. Owns targets, logical units (LUs), I_T nexuses, the SCSI command
 * (struct scsi_cmd), unit attentions, access control lists and sense-data building. It also
 * defines the two ops tables that lower layers implement and the daemon registers at start-up:
 * struct core_devtype (device types, in scsi/) and struct core_bs (backing stores, in bs/).
 * core never includes scsi/, bs/ or an LLD header.
 *
 * Threads and ownership:
 *  - The management thread creates, changes and deletes targets and LUs. It is the only writer
 *    of LU and target attributes; reactors read them.
 *  - root->lock protects the target list; tgt->lock (rwlock) protects a target's LU list,
 *    ACLs and nexus list; nexus->lock protects its unit attentions and connection info.
 *  - Objects are reference counted (atomic). core_target_get/put and core_lu_get/put may be
 *    called from any thread; the last put frees, closing the backing store.
 *  - A struct scsi_cmd belongs to the reactor that received it (cmd->reactor). Everything in
 *    its life, including the backing-store completion, runs on that thread.
 *
 * Prefixes owned: core_, scsi_cmd (struct), SCSI_/SAM_ constants, ASC_ codes.
 */
#ifndef UTGT_CORE_CORE_H
#define UTGT_CORE_CORE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "reactor/reactor.h"
#include "util/util.h"

struct reactor;
struct core_root;
struct core_target;
struct core_lu;
struct core_nexus;
struct core_taskset;
struct scsi_cmd;

/* ---- SCSI constants shared by every layer ---- */

#define SAM_STAT_GOOD                 0x00
#define SAM_STAT_CHECK_CONDITION      0x02
#define SAM_STAT_CONDITION_MET        0x04
#define SAM_STAT_BUSY                 0x08
#define SAM_STAT_RESERVATION_CONFLICT 0x18
#define SAM_STAT_TASK_SET_FULL        0x28
#define SAM_STAT_ACA_ACTIVE           0x30
#define SAM_STAT_TASK_ABORTED         0x40

#define SENSE_NO_SENSE        0x0
#define SENSE_RECOVERED_ERROR 0x1
#define SENSE_NOT_READY       0x2
#define SENSE_MEDIUM_ERROR    0x3
#define SENSE_HARDWARE_ERROR  0x4
#define SENSE_ILLEGAL_REQUEST 0x5
#define SENSE_UNIT_ATTENTION  0x6
#define SENSE_DATA_PROTECT    0x7
#define SENSE_BLANK_CHECK     0x8
#define SENSE_ABORTED_COMMAND 0xb
#define SENSE_MISCOMPARE      0xe

/* Additional sense code and qualifier packed as 0xAAQQ. */
#define ASC_NO_ADDITIONAL_SENSE        0x0000
#define ASC_LUN_NOT_READY_MANUAL       0x0403 /* LOGICAL UNIT NOT READY, MANUAL INTERVENTION */
#define ASC_LUN_NOT_READY_OFFLINE      0x0412 /* LOGICAL UNIT NOT READY, OFFLINE */
#define ASC_WRITE_ERROR                0x0c00
#define ASC_READ_ERROR                 0x1100 /* UNRECOVERED READ ERROR */
#define ASC_MISCOMPARE_VERIFY          0x1d00
#define ASC_PARAMETER_LIST_LENGTH_ERR  0x1a00
#define ASC_INVALID_OPCODE             0x2000
#define ASC_LBA_OUT_OF_RANGE           0x2100
#define ASC_INVALID_FIELD_IN_CDB       0x2400
#define ASC_LUN_NOT_SUPPORTED          0x2500
#define ASC_INVALID_FIELD_IN_PARAM     0x2600
#define ASC_WRITE_PROTECTED            0x2700
#define ASC_SPACE_ALLOC_FAILED_WP      0x2707
#define ASC_NOT_READY_TO_READY         0x2800 /* NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED */
#define ASC_POWER_ON_RESET             0x2900
#define ASC_POWER_ON_OCCURRED          0x2901
#define ASC_BUS_RESET                  0x2902
#define ASC_BUS_DEVICE_RESET           0x2903 /* BUS DEVICE RESET FUNCTION OCCURRED */
#define ASC_MODE_PARAMETERS_CHANGED    0x2a01
#define ASC_RESERVATIONS_PREEMPTED     0x2a03
#define ASC_RESERVATIONS_RELEASED      0x2a04
#define ASC_REGISTRATIONS_PREEMPTED    0x2a05
#define ASC_ALUA_STATE_CHANGED         0x2a06
#define ASC_CAPACITY_DATA_CHANGED      0x2a09
#define ASC_COMMANDS_CLEARED_BY_OTHER  0x2f00
#define ASC_SAVING_PARAMS_UNSUP        0x3900
#define ASC_MEDIUM_NOT_PRESENT         0x3a00
#define ASC_INQUIRY_DATA_CHANGED       0x3f03
#define ASC_REPORTED_LUNS_CHANGED      0x3f0e
#define ASC_INTERNAL_TARGET_FAILURE    0x4400
#define ASC_INVALID_FIELD_IN_IU        0x0e03 /* INVALID FIELD IN COMMAND INFORMATION UNIT */
#define ASC_INSUFFICIENT_RESOURCES     0x5503

#define SCSI_SENSE_MAX 96 /* bytes of sense data a command can carry */
#define SCSI_CDB_MAX   260 /* 16-byte CDB plus the largest extended-CDB AHS */

enum scsi_data_dir {
	SCSI_DIR_NONE = 0,
	SCSI_DIR_READ = 1,  /* Data-In: target to initiator */
	SCSI_DIR_WRITE = 2, /* Data-Out: initiator to target */
	SCSI_DIR_BIDI = 3,
};

enum scsi_task_attr {
	SCSI_ATTR_SIMPLE = 0,
	SCSI_ATTR_ORDERED = 1,
	SCSI_ATTR_HEAD_OF_QUEUE = 2,
	SCSI_ATTR_ACA = 3,
};

/* ---- backing-store I/O request (filled by scsi/, executed by bs/) ---- */

enum core_io_op {
	CORE_IO_READ = 0,   /* read length bytes at offset into buf */
	CORE_IO_WRITE,      /* write length bytes from buf at offset */
	CORE_IO_FLUSH,      /* make everything written so far durable (fdatasync) */
	CORE_IO_UNMAP,      /* deallocate [offset, offset+length): punch hole / BLKDISCARD */
	CORE_IO_WRITE_ZEROES, /* write zeroes to [offset, offset+length) */
};

#define CORE_IO_FUA (1u << 0) /* the write must be durable before completion (RWF_DSYNC) */

struct core_io {
	enum core_io_op op;
	uint32_t flags;     /* CORE_IO_* */
	uint64_t offset;    /* bytes */
	uint64_t length;    /* bytes */
	void *buf;
	/* Called on cmd->reactor's thread with bytes done (>= 0) or -errno. */
	void (*done)(struct scsi_cmd *cmd, int64_t res);
};

/* ---- the SCSI command ---- */

/*
 * One SCSI command. The LLD embeds it in its own task structure (container_of), fills the
 * "LLD" fields, and calls core_cmd_submit(). core and the device type fill the "result"
 * fields and call cmd->done exactly once, on cmd->reactor's thread, never before
 * core_cmd_submit() has returned.
 *
 * Data: buf holds buf_len bytes owned by the LLD. For writes, out_len bytes of Data-Out are in
 * buf when the command is submitted. For reads, the device type writes at most buf_len bytes
 * and sets in_len to the number of bytes the command itself would transfer; the LLD sends
 * MIN(in_len, edtl) bytes and reports the difference as a residual. When status is not GOOD the
 * LLD sends no data at all (sense only), so no stale buffer bytes ever leave the target.
 */
struct scsi_cmd {
	/* LLD: set before core_cmd_submit */
	struct reactor *reactor;      /* owning reactor; all callbacks run there */
	struct core_nexus *nexus;     /* I_T nexus (borrowed; outlives the command) */
	struct core_lu *lu;           /* from core_lu_get(), or NULL: core puts it after done */
	uint64_t lun;                 /* LUN as addressed (decoded, flat) */
	uint64_t tag;                 /* transport task tag (ITT), for logs and TMFs */
	const uint8_t *cdb;           /* CDB bytes (cdb_len); points into the LLD's task */
	uint16_t cdb_len;
	uint8_t attr;                 /* enum scsi_task_attr */
	uint8_t dir;                  /* enum scsi_data_dir, from the transport's R/W bits */
	uint8_t *buf;                 /* data buffer (may be NULL when buf_len is 0) */
	uint32_t buf_len;             /* capacity of buf in bytes */
	uint32_t edtl;                /* expected data transfer length from the initiator */
	uint32_t out_len;             /* bytes of Data-Out present in buf */
	void (*done)(struct scsi_cmd *cmd);

	/* result: set by core and the device type */
	uint32_t in_len;              /* bytes the CDB asks to transfer (either direction; for
				       * writes it only feeds the residual) */
	uint8_t status;               /* SAM_STAT_* */
	uint8_t sense_len;
	bool data_with_sense;         /* CHECK CONDITION that still returns in_len bytes of
				       * Data-In before the status (tape FILEMARK, ILI, EOM);
				       * without it a failed command sends no data */
	uint8_t sense[SCSI_SENSE_MAX];

	/* private to core, the device type and the backing store */
	struct core_io io;
	uint64_t scratch[4];          /* device-type state across an asynchronous step */
	uint64_t start_ns;
	bool in_submit;               /* core: completion must be deferred */
	bool aborted;                 /* set by the LLD when a TMF aborted it */
	struct reactor_msg defer;     /* core: deferred completion, backing-store hand-off */
	struct reactor_io bs_io;      /* the backing store's in-flight io_uring request */
	int64_t bs_res;               /* the backing store's progress, then its result */
	struct list_head entry;       /* owned by whoever holds the command (bs queue, ...) */
	/* core: task set ordering and the LBA interlock (order.c); cmd->reactor only */
	struct list_head order_entry; /* in its task set's waiting list while it waits */
	struct core_taskset *ts;      /* the task set it counts in, or NULL */
	uint8_t order_flags;          /* CORE_ORDER_* (order.c) */
	uint8_t ilk_state;            /* CORE_ILK_* (order.c) */
	bool ilk_excl;                /* interlock: COMPARE AND WRITE-like (exclusive range) */
	struct list_head ilk_entry;   /* lu->ilk held or waiting list (lu->ilk.lock) */
	uint64_t ilk_lba;             /* interlocked blocks [ilk_lba, ilk_end) */
	uint64_t ilk_end;
	void (*ilk_resume)(struct scsi_cmd *cmd);
};

/* Starts executing cmd: unit attentions, LU state, then the device type. */
void core_cmd_submit(struct scsi_cmd *cmd);

/* Completes cmd (status/sense/in_len already set): stats, then cmd->done. Device types and
 * backing stores call it once per command; on the owning reactor's thread. */
void core_cmd_done(struct scsi_cmd *cmd);

/* Sets GOOD status. */
void core_cmd_good(struct scsi_cmd *cmd);

/*
 * Sets CHECK CONDITION with sense key and 0xAAQQ code, in fixed or descriptor format as the
 * LU's D_SENSE asks. Never allocates. Returns nothing: protocol outcomes are data.
 */
void core_cmd_fail(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq);

/*
 * As core_cmd_fail, with a sense-key-specific field pointer (SKSV) for INVALID FIELD IN CDB /
 * PARAMETER LIST: in_cdb says CDB (C/D=1) or parameter data, byte and bit (bit < 0: no BPV).
 */
void core_cmd_fail_field(struct scsi_cmd *cmd, uint16_t asc_ascq, bool in_cdb, uint16_t byte,
			 int bit);

/* As core_cmd_fail with the INFORMATION field set (VALID=1), e.g. the failing LBA. */
void core_cmd_fail_info(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq, uint64_t info);

/* Copies response data for a non-I/O command: MIN(len, buf_len) bytes into buf, in_len = len. */
void core_cmd_set_data_in(struct scsi_cmd *cmd, const void *data, uint32_t len);

/*
 * Task sets (SAM-5, TST=001b: one task set per I_T nexus and LU; order.c). core_cmd_submit
 * queues a command by its attribute: SIMPLE runs unless an ORDERED task is enabled or waiting
 * before it; ORDERED waits until every older task completed and holds back later ones; HEAD
 * OF QUEUE runs at once; ACA (no ACA condition ever exists: NACA=1 is refused) is CHECK
 * CONDITION, INVALID MESSAGE ERROR. The task set lives in the nexus and is touched only by the
 * nexus' reactor. No allocation per command (list heads are in struct scsi_cmd).
 *
 * core_cmd_abort: the LLD aborted cmd (TMF, reset, PREEMPT AND ABORT) while the core holds
 * it. A command still waiting in its task set completes soon (deferred) with TASK ABORTED
 * without running; a running one (also one waiting for the LBA interlock) finishes normally.
 * Owning reactor.
 */
void core_cmd_abort(struct scsi_cmd *cmd);

/*
 * LBA-range interlock per LU, any reactor (order.c): COMPARE AND WRITE and other
 * read-modify-write commands take their range exclusive; WRITE, WRITE SAME, UNMAP take it
 * shared. An exclusive range waits for every overlapping write in flight and holds back later
 * overlapping ones; shared ranges never wait for each other. With no exclusive range in flight
 * a write costs one atomic add and one load. Returns true when cmd may go on now; false when
 * it waits: resume(cmd) then runs later on cmd->reactor. Acquiring again while held returns
 * true. The range is released when the command completes (core_cmd_done) or by
 * core_ilk_release. cmd->lu, cmd->reactor and cmd->ilk_state (0 before the first acquire)
 * must be set.
 */
bool core_ilk_acquire(struct scsi_cmd *cmd, uint64_t lba, uint64_t nblk, bool exclusive,
		      void (*resume)(struct scsi_cmd *cmd));
/* Releases cmd's range now (commands that never pass core_cmd_done, e.g. a copy engine's
 * internal I/O); nothing when it holds none. Any thread that owns cmd. */
void core_ilk_release(struct scsi_cmd *cmd);

/*
 * Builds sense data into out (SCSI_SENSE_MAX bytes): fixed format 0x70 or descriptor 0x72.
 * Returns the length. Exposed for REQUEST SENSE and unit tests.
 */
uint8_t core_sense_build(uint8_t *out, bool descriptor, uint8_t key, uint16_t asc_ascq);

/* ---- device types (implemented in scsi/, registered by the daemon) ---- */

struct core_devtype {
	const char *name;         /* --device-type value: "disk", "controller", ... */
	const char *show_name;    /* "Type:" in show output: "disk", "controller", "cd/dvd" */
	uint8_t pdt;              /* peripheral device type */
	const char *default_bs;   /* backing store used when none is given */
	bool needs_path;          /* a backing-store path is required */
	/* Sets device-type defaults on a new LU (identity strings, pages). 0 or -errno. */
	int (*lu_init)(struct core_lu *lu);
	void (*lu_fini)(struct core_lu *lu);
	/* Applies one --params key the core does not know. 0, -ENOENT (unknown key), -EINVAL. */
	int (*lu_config)(struct core_lu *lu, const char *key, const char *value);
	/* The lu_config keys a targets.conf "params" line may carry, NULL-terminated (the line
	 * becomes an update sent once the LU exists); NULL: none. */
	const char *const *config_keys;
	/* Executes cmd; ends with core_cmd_done(cmd), now or later. */
	void (*cmd_exec)(struct scsi_cmd *cmd);
	/* LOGICAL UNIT RESET: drop device-type state the reset clears (SPC-2 reservations).
	 * Any thread; may be NULL. */
	void (*lu_reset)(struct core_lu *lu);
};

/* ---- backing stores (implemented in bs/, registered by the daemon) ---- */

struct core_bs {
	const char *name;         /* --bstype value */
	bool needs_path;
	/* Per-LU set-up with --bsopts (may be NULL). Allocates lu->bs_priv. 0 or -errno. */
	int (*init)(struct core_lu *lu, const char *bsopts);
	/* Opens path (honouring lu->bsoflags and lu->readonly); returns fd and size in bytes. A
	 * store may fall back to read-only and set lu->readonly. 0 or -errno. */
	int (*open)(struct core_lu *lu, const char *path, int *fd, uint64_t *size);
	/* Executes cmd->io; calls cmd->io.done(cmd, res) later on cmd->reactor's thread. */
	void (*submit)(struct scsi_cmd *cmd);
	void (*close)(struct core_lu *lu);
	void (*exit)(struct core_lu *lu);
	/* --params key=value for the store (management thread; may be NULL). 0, -ENOENT
	 * (not a key of this store), -EINVAL or -errno. */
	int (*lu_config)(struct core_lu *lu, const char *key, const char *value);
};

#define CORE_BSOFLAG_SYNC   (1u << 0) /* O_SYNC */
#define CORE_BSOFLAG_DIRECT (1u << 1) /* O_DIRECT */

/* ---- root ---- */

int core_root_new(struct core_root **out);
/* Frees every target; call after all reactors stopped. */
void core_root_free(struct core_root *root);
/* Registration (start-up only, before any target exists). */
void core_root_add_devtype(struct core_root *root, const struct core_devtype *dt);
void core_root_add_bs(struct core_root *root, const struct core_bs *bs);
/* The device type that answers commands for LUNs that do not exist. */
void core_root_set_nolu(struct core_root *root, const struct core_devtype *dt);
const struct core_devtype *core_devtype_find(const struct core_root *root, const char *name);
const struct core_bs *core_bs_find(const struct core_root *root, const char *name);
/* Iteration over registered tables, for show. Returns NULL past the end. */
const struct core_devtype *core_devtype_at(const struct core_root *root, unsigned int i);
const struct core_bs *core_bs_at(const struct core_root *root, unsigned int i);

/*
 * Directory for the daemon's persistent state (APTPL reservations, utgtd --state-dir); NULL
 * or "" for none. Start-up only, before any LU exists. 0 or -ENOMEM.
 */
int core_root_set_state_dir(struct core_root *root, const char *dir);
/* The state directory, or NULL when there is none. Any thread. */
const char *core_root_state_dir(const struct core_root *root);

/* System state (tgtadm --mode sys): ready or offline. Offline refuses new logins. */
bool core_root_is_ready(const struct core_root *root);
void core_root_set_ready(struct core_root *root, bool ready);

/* ---- targets ---- */

enum core_acl_kind {
	CORE_ACL_ADDR = 0,  /* "ALL", an IPv4/IPv6 address, or a CIDR prefix */
	CORE_ACL_NAME = 1,  /* an initiator name (exact) */
};

struct core_acl {
	struct list_head entry;
	enum core_acl_kind kind;
	char text[256];                /* as the administrator wrote it (shown back) */
	bool all;                      /* "ALL" */
	int family;                    /* AF_INET / AF_INET6 for addresses */
	uint8_t addr[16];
	unsigned int prefix;           /* bits */
};

/* ---- ALUA: asymmetric logical unit access (SPC-4 §5.15; alua.c) ---- */

/*
 * A target port is the target seen through one iSCSI portal group: its relative target port
 * identifier is the portal group tag (TPGT, 1..65535). Each target port belongs to one ALUA
 * target port group (by default the group whose identifier equals the TPGT); a group has an
 * asymmetric access state that every LU of the target shares.
 */
enum core_alua_state {
	CORE_ALUA_AO = 0x0,            /* active/optimized */
	CORE_ALUA_AN = 0x1,            /* active/non-optimized */
	CORE_ALUA_STANDBY = 0x2,
	CORE_ALUA_UNAVAILABLE = 0x3,
	CORE_ALUA_OFFLINE = 0xe,
	CORE_ALUA_TRANSITIONING = 0xf,
};

#define CORE_ALUA_IMPLICIT   0x1u  /* TPGS bits of standard INQUIRY (SPC-4) */
#define CORE_ALUA_EXPLICIT   0x2u  /* SET TARGET PORT GROUPS allowed */
#define CORE_ALUA_GROUPS_MAX 16u   /* target port groups with non-default settings */
#define CORE_PORTS_MAX       16u   /* target ports (TPGTs) of the daemon */

/* Status codes of REPORT TARGET PORT GROUPS: what changed the state last. */
#define CORE_ALUA_STATUS_NONE     0x0
#define CORE_ALUA_STATUS_EXPLICIT 0x1
#define CORE_ALUA_STATUS_IMPLICIT 0x2

struct core_alua_group {
	uint16_t id;                   /* TARGET PORT GROUP; 0: free slot */
	uint8_t state;                 /* enum core_alua_state */
	uint8_t status;                /* CORE_ALUA_STATUS_* */
	bool pref;                     /* PREF bit */
};

struct core_alua_port {
	uint16_t tpgt;                 /* relative target port identifier */
	uint16_t group;                /* the port's target port group */
};

struct core_alua {
	pthread_mutex_t lock;          /* leaf lock: everything below but inactive */
	atomic_bool inactive;          /* some group is neither AO nor AN: commands must look */
	uint8_t type;                  /* CORE_ALUA_IMPLICIT | CORE_ALUA_EXPLICIT; 0: no ALUA */
	unsigned int nr_groups;
	struct core_alua_group groups[CORE_ALUA_GROUPS_MAX]; /* groups set by the administrator */
	unsigned int nr_ports;
	struct core_alua_port ports[CORE_PORTS_MAX];         /* ports moved to another group */
};

struct core_target {
	struct core_root *root;
	struct list_head entry;        /* root->targets, ascending tid (root->lock) */
	atomic_int refs;
	uint32_t tid;
	char name[224];                /* iSCSI name, at most 223 bytes (RFC 7143 §4.2.7.1) */
	bool ready;                    /* state ready (true) or offline */
	bool deleted;                  /* unlinked from the root; sessions are closing */
	pthread_rwlock_t lock;         /* luns, acls, nexuses */
	struct list_head luns;         /* struct core_lu, ascending LUN */
	struct list_head acls;         /* struct core_acl, address rules then name rules */
	struct list_head nexuses;      /* struct core_nexus */
	void *lld_priv;                /* the LLD's per-target state (iSCSI parameters) */
	void (*lld_free)(void *lld_priv);
	struct core_alua alua;         /* ALUA target port groups (alua.c) */
};

/*
 * Creates target tid with name and a controller LU 0 (device type "controller"). Names must
 * be [A-Za-z0-9.:-] (lowercase-only is not enforced, as in tgt). 0, -EEXIST (tid or name in
 * use), -EINVAL (bad name or tid 0), -ENOMEM.
 */
int core_target_new(struct core_root *root, uint32_t tid, const char *name,
		    struct core_target **out);
/*
 * Deletes target tid. With sessions present it returns -EBUSY unless force, which asks every
 * nexus to close (asynchronously) first. 0, -ENOENT, -EBUSY.
 */
int core_target_delete(struct core_root *root, uint32_t tid, bool force);
/* Borrowed pointer for the management thread (the only deleter), or NULL. */
struct core_target *core_target_find(struct core_root *root, uint32_t tid);
/* Next target after tid in ascending order (tid 0 gives the first), borrowed, or NULL. */
struct core_target *core_target_next(struct core_root *root, uint32_t tid);
/* Looks a live target up by name and takes a reference, or NULL. Any thread. */
struct core_target *core_target_get_by_name(struct core_root *root, const char *name);
void core_target_get(struct core_target *tgt);
void core_target_put(struct core_target *tgt);
/* Number of I_T nexuses. */
unsigned int core_target_nexus_count(struct core_target *tgt);

/* ACLs (tgtadm bind/unbind). 0, -EEXIST, -ENOENT, -EINVAL (unparsable address). */
int core_acl_add(struct core_target *tgt, enum core_acl_kind kind, const char *text);
int core_acl_del(struct core_target *tgt, enum core_acl_kind kind, const char *text);
/*
 * Decides a login: when the target has address rules, the initiator's address must match one;
 * when it has name rules, its name must match one; both kinds must match when both exist. A
 * target with no rules admits nobody (as tgt: bind ALL to open it).
 */
bool core_acl_allows(struct core_target *tgt, const struct sockaddr *addr,
		     const char *initiator_name);
/* Parses an address rule into acl (exposed for unit tests). 0 or -EINVAL. */
int core_acl_parse_addr(const char *text, struct core_acl *acl);

/* ---- logical units ---- */

#define CORE_LAT_BUCKETS 16       /* latency histogram: bucket i counts < 2^(i+4) us */

/*
 * Command counters, kept per LU and per I_T nexus (session) with relaxed atomic adds: no
 * lock on the I/O path. Only commands addressed to an existing LU are counted.
 */
struct core_lu_stats {
	atomic_uint_fast64_t read_cmds;
	atomic_uint_fast64_t read_bytes;
	atomic_uint_fast64_t write_cmds;
	atomic_uint_fast64_t write_bytes;
	atomic_uint_fast64_t errors;
	atomic_uint_fast64_t other_cmds;   /* successful, neither read nor write */
	atomic_uint_fast64_t aborts;       /* completed after a TMF or connection loss aborted it */
	atomic_uint_fast64_t inflight;     /* submitted, not yet completed (queue depth) */
	atomic_uint_fast64_t lat_sum_us;   /* submit to completion, all commands */
	atomic_uint_fast64_t lat_hist[CORE_LAT_BUCKETS]; /* the last bucket is open-ended */
};

/* The LBA-range interlock of an LU (order.c). */
struct core_ilk {
	pthread_mutex_t lock;          /* held, waiting */
	atomic_uint gate;              /* exclusive ranges held or waiting: writes must register */
	atomic_uint fast;              /* writes in flight that did not register (gate was 0) */
	struct list_head held;         /* struct scsi_cmd (ilk_entry) holding a range */
	struct list_head waiting;      /* struct scsi_cmd waiting, arrival order */
};

struct core_lu {
	struct core_target *tgt;
	struct list_head entry;        /* tgt->luns (tgt->lock) */
	atomic_int refs;               /* 1 for the target's list + 1 per command */
	uint64_t lun;
	const struct core_devtype *dt;
	void *dt_priv;
	const struct core_bs *bs;
	void *bs_priv;
	char *path;                    /* backing-store path or NULL */
	int fd;                        /* -1 when none */
	uint64_t size;                 /* bytes */
	uint32_t block_size;           /* bytes, power of two */
	uint8_t block_shift;
	uint32_t bsoflags;             /* CORE_BSOFLAG_* */
	char *bsopts;
	/* identity (INQUIRY) */
	char vendor_id[9];
	char product_id[17];
	char product_rev[5];
	char scsi_id[25];
	char scsi_sn[37];
	uint64_t naa_id;               /* low 36 bits of the NAA 6 designator (stable per LU) */
	/* state: written by the management thread, and by device types on reactors for
	 * write_cache, d_sense, swp (MODE SELECT) and online (load/eject) */
	bool online;
	bool readonly;
	bool removable;
	bool prevent_removal;          /* some nexus holds PREVENT (derived: prevent_holders) */
	atomic_uint prevent_holders;   /* nexuses with PREVENT MEDIUM REMOVAL in effect */
	bool swp;                      /* software write protect (control mode page) */
	bool thin;                     /* thin provisioning advertised (UNMAP allowed) */
	bool write_cache;              /* WCE */
	bool d_sense;                  /* descriptor-format sense */
	uint16_t rotation_rate;
	struct core_lu_stats stats;
	struct core_ilk ilk;           /* COMPARE AND WRITE against other writes */
};

struct core_lu_params {
	const char *device_type;       /* NULL: "disk" */
	const char *bstype;            /* NULL: device type's default */
	const char *path;              /* backing store path, may be NULL */
	const char *bsopts;
	uint32_t bsoflags;
	uint32_t block_size;           /* 0: 512 */
};

/*
 * Creates LU lun on tgt: initialises the backing store, opens path, applies device-type
 * defaults, links it in, and raises REPORTED LUNS DATA HAS CHANGED for existing nexuses.
 * 0, -EEXIST, -ENODEV (unknown device or bs type), -EINVAL, or the store's -errno.
 */
int core_lu_new(struct core_target *tgt, uint64_t lun, const struct core_lu_params *p,
		struct core_lu **out);
/* Deletes LU lun. 0, -ENOENT, -EBUSY (commands in flight, or LUN 0 without force). */
int core_lu_delete(struct core_target *tgt, uint64_t lun, bool force);
/* Borrowed pointer (management thread), or NULL. */
struct core_lu *core_lu_find(struct core_target *tgt, uint64_t lun);
/* Reference for a command (any thread), or NULL when the LUN does not exist. */
struct core_lu *core_lu_get(struct core_target *tgt, uint64_t lun);
void core_lu_put(struct core_lu *lu);
/*
 * Applies one --params key=value: vendor_id, product_id, product_rev, scsi_id, scsi_sn,
 * readonly, removable, online, thin_provisioning, sense_format, rotation_rate,
 * write_cache; others go to the device type. 0, -ENOENT (unknown), -EINVAL (bad value),
 * -EBUSY (online=0 while prevent removal is set).
 */
int core_lu_config(struct core_lu *lu, const char *key, const char *value);
/* Block count (size >> block_shift). */
static inline uint64_t core_lu_blocks(const struct core_lu *lu)
{
	return lu->size >> lu->block_shift;
}
/*
 * Re-reads the size of the open backing store (fstat or BLKGETSIZE64 on lu->fd); when it
 * changed, updates lu->size and raises CAPACITY DATA HAS CHANGED on every nexus. Management
 * thread (--params size_refresh=1). 0, -EOPNOTSUPP (no file: null store), or -errno.
 */
int core_lu_resize(struct core_lu *lu);
/*
 * Replaces the backing-store path of an offline, idle LU (--params path=FILE): closes the store
 * and reopens it on path (back on the old path if that fails). Raises CAPACITY DATA HAS
 * CHANGED when the size differs. 0, -EBUSY (online, or commands in flight), or the store's
 * -errno. Management thread.
 */
int core_lu_path_set(struct core_lu *lu, const char *path);
/* Writes the LUNs of tgt in ascending order into luns (up to max), returns the count. */
unsigned int core_target_luns(struct core_target *tgt, uint64_t *luns, unsigned int max);

/* ---- I_T nexus and unit attentions ---- */

struct core_nexus_ops {
	/* Closes connection cid of the session (or all connections when all). Any thread;
	 * asynchronous. */
	void (*close)(struct core_nexus *n, uint32_t cid, bool all);
	/* Aborts the session's tasks on lun because another nexus reset the LU. Any thread;
	 * asynchronous. May be NULL. */
	void (*abort_lu)(struct core_nexus *n, uint64_t lun);
};

#define CORE_NEXUS_MAX_CONN 8

struct core_nexus_conn {
	uint32_t cid;
	char addr[64];                 /* printable initiator address */
};

struct core_nexus {
	struct core_target *tgt;       /* referenced */
	struct list_head entry;        /* tgt->nexuses (tgt->lock) */
	uint16_t tpgt;                 /* target port (relative port id), set by the LLD at login */
	uint64_t id;                   /* transport identifier shown as "I_T nexus: N" (TSIH) */
	char initiator[224];
	char alias[256];
	char transport_id[300];        /* e.g. "iqn...,i,0x<isid>" for PR */
	const struct core_nexus_ops *ops;
	void *lld_priv;                /* the LLD's session */
	pthread_mutex_t lock;          /* ua_bits, conns[] */
	atomic_uint ua_luns;           /* LUNs with a pending UA: the fast path skips the lock */
	uint16_t *ua_bits;             /* per LUN: pending UAs, bit order = SPC-4 priority */
	uint32_t ua_size;              /* entries in ua_bits */
	uint64_t *prevent_bits;        /* per LUN: this nexus prevents medium removal (lock) */
	uint32_t prevent_words;
	unsigned int nr_conns;
	struct core_nexus_conn conns[CORE_NEXUS_MAX_CONN];
	struct core_lu_stats stats;    /* this session's commands, over all its LUs */
	struct core_taskset **ts;      /* per LUN task set (order.c); the nexus' reactor only */
	uint32_t nr_ts;
};

/*
 * Creates a nexus on tgt (takes a target reference) with a POWER ON/RESET unit attention
 * pending for every LUN. 0 or -ENOMEM.
 */
int core_nexus_new(struct core_target *tgt, uint64_t id, const char *initiator,
		   const struct core_nexus_ops *ops, struct core_nexus **out);
/* Unlinks and frees n, dropping its target reference. */
void core_nexus_free(struct core_nexus *n);
void core_nexus_conn_add(struct core_nexus *n, uint32_t cid, const char *addr);
void core_nexus_conn_del(struct core_nexus *n, uint32_t cid);

/*
 * Establishes a unit attention (0xAAQQ) for lun (UINT64_MAX: every existing LUN) on one nexus
 * / every nexus of tgt except skip (may be NULL). Pending UAs are a set per LUN, reported in
 * SPC-4 priority order; codes the core does not know are ignored with a warning.
 */
void core_ua_add(struct core_nexus *n, uint64_t lun, uint16_t asc_ascq);
void core_ua_add_all(struct core_target *tgt, struct core_nexus *skip, uint64_t lun,
		     uint16_t asc_ascq);
/* Removes and returns (true) the highest-priority unit attention pending for lun. */
bool core_ua_take(struct core_nexus *n, uint64_t lun, uint16_t *asc_ascq);
/* Clears one kind of unit attention on every LUN of n (REPORT LUNS clears 3F/0E). */
void core_ua_clear_code(struct core_nexus *n, uint16_t asc_ascq);
/* Drops every unit attention of n (e.g. after a session reinstatement). */
void core_ua_clear(struct core_nexus *n);

/*
 * PREVENT ALLOW MEDIUM REMOVAL from nexus n (SPC-4: prevention is per I_T nexus; the medium
 * stays locked while any nexus prevents). Prevention ends when the nexus goes away or the LU
 * is reset. Any thread.
 */
void core_lu_prevent_set(struct core_lu *lu, struct core_nexus *n, bool prevent);

/*
 * LOGICAL UNIT RESET from nexus by: raises BUS DEVICE RESET FUNCTION OCCURRED for every other
 * nexus and asks their LLDs to abort tasks on the LU. Aborting the caller's own tasks is the
 * caller's job.
 */
void core_lu_reset(struct core_lu *lu, struct core_nexus *by);

/* ---- ALUA (alua.c) ---- */

/* Records a target port (TPGT) of the daemon: each portal group is one port of every target.
 * 0, -EINVAL (0), -ENOSPC. Management thread (LLD portal registration). */
int core_root_port_add(struct core_root *root, uint16_t tpgt);
/* Forgets a target port (its last portal closed). Management thread. */
void core_root_port_del(struct core_root *root, uint16_t tpgt);
/* The recorded TPGTs in ascending order into out (up to max); returns the count. Any thread. */
unsigned int core_root_ports(struct core_root *root, uint16_t *out, unsigned int max);

/*
 * Applies one ALUA parameter of tgt (tgtadm --mode target --op update --name K --value V):
 *   alua.type           none | implicit | explicit | both (default both)
 *   alua.tpg.G.state    active-optimized | active-nonoptimized | standby | unavailable |
 *                       offline | transitioning (also ao, an, s, u, o, t)
 *   alua.tpg.G.preferred 0 | 1
 *   alua.port.T.tpg     G: target port with TPGT T belongs to group G (default G = T)
 * A state change raises ASYMMETRIC ACCESS STATE CHANGED on every nexus of tgt.
 * 0, -ENOENT (not an ALUA key), -EINVAL (bad value), -ENOSPC. Management thread.
 */
int core_alua_config(struct core_target *tgt, const char *key, const char *value);
typedef void (*core_alua_param_fn)(const char *key, const char *value, void *arg);
/* Calls fn for ALUA parameters of tgt: every group of every port with all, else only values
 * that differ from the defaults (for saving). fn must not call back into ALUA. */
void core_alua_foreach(struct core_target *tgt, bool all, core_alua_param_fn fn, void *arg);
/* Group id, state and PREF bit of the target port tpgt of tgt. Any thread. */
void core_alua_port_get(struct core_target *tgt, uint16_t tpgt, uint16_t *group,
			uint8_t *state, bool *pref);
/* Whether every group of tgt is active (AO or AN): the command fast path. */
static inline bool core_alua_all_active(struct core_target *tgt)
{
	return !atomic_load_explicit(&tgt->alua.inactive, memory_order_acquire);
}
/* The ALUA type of tgt (CORE_ALUA_* bits). Any thread. */
uint8_t core_alua_type(struct core_target *tgt);

/* One target port group as REPORT TARGET PORT GROUPS lists it. */
struct core_alua_report {
	struct core_alua_group g;
	unsigned int nr_ports;
	uint16_t ports[CORE_PORTS_MAX];   /* relative target port identifiers */
};
/* Snapshot of the groups of tgt (those with at least one port, plus the port of nexus n),
 * ascending id, into out (up to max); returns the count. Any thread. */
unsigned int core_alua_report(struct core_target *tgt, struct core_nexus *n,
			      struct core_alua_report *out, unsigned int max);
/*
 * SET TARGET PORT GROUPS from nexus by: group id to state (AO, AN, standby or unavailable).
 * Raises ASYMMETRIC ACCESS STATE CHANGED on every other nexus. 0, -ENOENT (no such group
 * in the report of by), -EINVAL (state), -ENOSPC. Any thread.
 */
int core_alua_group_set(struct core_target *tgt, struct core_nexus *by, uint16_t group,
			uint8_t state);

/* ---- CHAP accounts (tgtadm --mode account; account.c) ---- */

#define CORE_ACCOUNT_GLOBAL     0u   /* tid of bindings for discovery sessions */
#define CORE_ACCOUNT_USER_MAX   255u
#define CORE_ACCOUNT_SECRET_MAX 255u
#define CORE_ACCOUNTS_MAX       1024u
#define CORE_ACCOUNT_BINDS_MAX  64u  /* targets one account may be bound to */

/* Creates an account. 0, -EEXIST, -EINVAL (empty or too long), -ENOSPC, -ENOMEM. */
int core_account_new(struct core_root *root, const char *user, const char *secret);
/* Deletes an account and its bindings, wiping the secret. 0 or -ENOENT. */
int core_account_delete(struct core_root *root, const char *user);
/*
 * Binds user to target tid (CORE_ACCOUNT_GLOBAL: discovery) as incoming or outgoing.
 * 0, -ENOENT (no such user), -EEXIST (bound already), -EBUSY (tid has an outgoing account),
 * -ENOSPC.
 */
int core_account_bind(struct core_root *root, uint32_t tid, const char *user, bool outgoing);
/* 0, -ENOENT (no such user), -ENODATA (not bound that way). */
int core_account_unbind(struct core_root *root, uint32_t tid, const char *user, bool outgoing);
/* Drops the bindings of a deleted target (core_target_delete calls it). */
void core_account_target_gone(struct core_root *root, uint32_t tid);
typedef void (*core_account_fn)(const char *user, bool outgoing, void *arg);
/* Every account name (outgoing false); fn runs under the account lock: no account calls. */
void core_account_foreach(struct core_root *root, core_account_fn fn, void *arg);
/* Accounts bound to tid: incoming ones, then the outgoing one. Same locking as above. */
void core_account_foreach_bound(struct core_root *root, uint32_t tid, core_account_fn fn,
				void *arg);
/* true when tid has an incoming account: logins to it must pass CHAP. Any thread. */
bool core_account_required(struct core_root *root, uint32_t tid);
/*
 * Copies the secret of user if it is bound incoming to tid into secret[cap] (not
 * NUL-terminated). 0, -ENOENT, -ENOSPC. Any thread; the caller wipes its copy.
 */
int core_account_in_secret(struct core_root *root, uint32_t tid, const char *user,
			   uint8_t *secret, size_t cap, size_t *len);
/* The outgoing account of tid: user name and secret. 0, -ENOENT, -ENOSPC. Any thread. */
int core_account_out_secret(struct core_root *root, uint32_t tid, char *user, size_t ucap,
			    uint8_t *secret, size_t cap, size_t *len);

#endif
