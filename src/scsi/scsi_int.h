/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scsi private header: the opcode-table model shared by the device types. A struct scsi_type
 * describes one device type (opcode table, VPD pages, mode pages, version descriptors);
 * scsi_dispatch() runs the generic checks from the table and calls the handler. Handlers
 * return SCSI_EXEC_DONE (status set; dispatch completes the command) or SCSI_EXEC_ASYNC (a
 * completion callback calls core_cmd_done() later), so every command completes exactly once.
 */
#ifndef UTGT_SCSI_SCSI_INT_H
#define UTGT_SCSI_SCSI_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scsi/scsi.h"

/* Operation codes we decode (SPC-4 / SBC-3 names). */
#define SCSI_OP_TEST_UNIT_READY   0x00
#define SCSI_OP_REQUEST_SENSE     0x03
#define SCSI_OP_READ_6            0x08
#define SCSI_OP_WRITE_6           0x0a
#define SCSI_OP_INQUIRY           0x12
#define SCSI_OP_MODE_SELECT_6     0x15
#define SCSI_OP_MODE_SENSE_6      0x1a
#define SCSI_OP_START_STOP_UNIT   0x1b
#define SCSI_OP_PREVENT_ALLOW     0x1e
#define SCSI_OP_READ_CAPACITY_10  0x25
#define SCSI_OP_READ_10           0x28
#define SCSI_OP_WRITE_10          0x2a
#define SCSI_OP_UNMAP             0x42
#define SCSI_OP_VERIFY_10         0x2f
#define SCSI_OP_SYNC_CACHE_10     0x35
#define SCSI_OP_MODE_SELECT_10    0x55
#define SCSI_OP_MODE_SENSE_10     0x5a
#define SCSI_OP_READ_16           0x88
#define SCSI_OP_WRITE_16          0x8a
#define SCSI_OP_VERIFY_16         0x8f
#define SCSI_OP_SYNC_CACHE_16     0x91
#define SCSI_OP_SERVICE_ACTION_IN 0x9e
#define SCSI_OP_REPORT_LUNS       0xa0
#define SCSI_OP_MAINTENANCE_IN    0xa3
#define SCSI_OP_MAINTENANCE_OUT   0xa4
#define SCSI_OP_RECEIVE_DIAGNOSTIC 0x1c
#define SCSI_OP_SEND_DIAGNOSTIC   0x1d
#define SCSI_OP_LOG_SELECT        0x4c
#define SCSI_OP_LOG_SENSE         0x4d
#define SCSI_OP_READ_12           0xa8
#define SCSI_OP_WRITE_12          0xaa
#define SCSI_OP_VERIFY_12         0xaf
#define SCSI_OP_RESERVE_6         0x16
#define SCSI_OP_RELEASE_6         0x17
#define SCSI_OP_WRITE_VERIFY_10   0x2e
#define SCSI_OP_PRE_FETCH_10      0x34
#define SCSI_OP_READ_DEFECT_10    0x37
#define SCSI_OP_WRITE_SAME_10     0x41
#define SCSI_OP_SANITIZE          0x48
#define SCSI_OP_RESERVE_10        0x56
#define SCSI_OP_RELEASE_10        0x57
#define SCSI_OP_PR_IN             0x5e
#define SCSI_OP_PR_OUT            0x5f
#define SCSI_OP_EXTENDED_COPY     0x83
#define SCSI_OP_RECEIVE_COPY      0x84
#define SCSI_OP_COMPARE_AND_WRITE 0x89
#define SCSI_OP_ORWRITE_16        0x8b
#define SCSI_OP_WRITE_VERIFY_16   0x8e
#define SCSI_OP_PRE_FETCH_16      0x90
#define SCSI_OP_WRITE_SAME_16     0x93
#define SCSI_OP_WRITE_ATOMIC_16   0x9c
#define SCSI_OP_WRITE_VERIFY_12   0xae
#define SCSI_OP_READ_DEFECT_12    0xb7

#define SCSI_SA_READ_CAPACITY_16  0x10 /* SERVICE ACTION IN(16) */
#define SCSI_SA_GET_LBA_STATUS    0x12 /* SERVICE ACTION IN(16) */
#define SCSI_SA_REPORT_OPCODES    0x0c /* MAINTENANCE IN */
#define SCSI_SA_REPORT_TPG        0x0a /* MAINTENANCE IN: REPORT TARGET PORT GROUPS */
#define SCSI_SA_SET_TPG           0x0a /* MAINTENANCE OUT: SET TARGET PORT GROUPS */

/* Additional sense codes core.h does not name. */
#define SCSI_ASC_MEDIUM_REMOVAL_PREVENTED 0x5302

/* Peripheral device types. */
#define SCSI_PDT_DISK       0x00
#define SCSI_PDT_TAPE       0x01
#define SCSI_PDT_CD         0x05
#define SCSI_PDT_CHANGER    0x08
#define SCSI_PDT_CONTROLLER 0x0c
#define SCSI_PDT_NOLU       0x7f /* qualifier 011b, type 1Fh (SPC-4) */

/*
 * Largest transfer one command may ask for, in bytes (Block Limits MAXIMUM TRANSFER LENGTH).
 * It bounds the scratch buffer of VERIFY and keeps in_len within 32 bits.
 */
#define SCSI_MAX_XFER_BYTES (8u << 20)

/* IEEE company id in our NAA 6 designators: first octet 0x02 is the locally administered
 * (U/L) bit, which IEEE never assigns, so the value collides with no vendor. */
#define SCSI_NAA_COMPANY_ID 0x027574u

/* Flags of an opcode-table entry. */
#define SCSI_OPF_NO_MEDIUM (1u << 0) /* runs while the LU is offline or has no medium */
#define SCSI_OPF_WRITES    (1u << 1) /* modifies the medium: DATA PROTECT when RO or SWP */
#define SCSI_OPF_THIN      (1u << 2) /* exists only on thin-provisioned LUs (UNMAP, ...) */
#define SCSI_OPF_PR_OK     (1u << 3) /* never conflicts with a reservation (INQUIRY, ...) */

enum scsi_exec {
	SCSI_EXEC_DONE = 0,  /* status and data are set; the dispatcher completes */
	SCSI_EXEC_ASYNC = 1, /* a completion will call core_cmd_done() */
};

struct scsi_type;
typedef enum scsi_exec (*scsi_op_fn)(struct scsi_cmd *cmd, const struct scsi_type *t);

/*
 * One opcode (or one service action of an opcode). usage is the CDB USAGE DATA of REPORT
 * SUPPORTED OPERATION CODES (SPC-4): byte 0 the opcode, the service action value in
 * its field, then a mask of the bits we support. The same mask validates incoming CDBs: a bit
 * set outside it is INVALID FIELD IN CDB, so the report and the checks can never disagree.
 */
struct scsi_op {
	scsi_op_fn fn;                  /* NULL: not supported (or see sa_ops) */
	const struct scsi_op *sa_ops;   /* service actions (CDB byte 1 bits 4:0), or NULL */
	uint8_t nr_sa;
	uint8_t sa;                     /* this entry's service action (entries in sa_ops) */
	uint8_t cdb_len;
	uint8_t dir;                    /* enum scsi_data_dir the command moves data in */
	uint8_t flags;                  /* SCSI_OPF_* */
	uint8_t usage[16];              /* CDB usage data, cdb_len bytes */
	const char *name;
};

#define SCSI_NR_OPCODES 256

/* Builds one VPD page for lu into p (size bytes); returns its length, or 0 if it did not fit. */
typedef uint32_t (*scsi_vpd_fn)(const struct scsi_cmd *cmd, const struct scsi_type *t,
				uint8_t *p, uint32_t size);

struct scsi_vpd {
	uint8_t page;
	scsi_vpd_fn build;
};

/* Page control values of MODE SENSE (SPC-4). */
enum scsi_mode_pc {
	SCSI_PC_CURRENT = 0,
	SCSI_PC_CHANGEABLE = 1,
	SCSI_PC_DEFAULT = 2,
	SCSI_PC_SAVED = 3,
};

/* A mode page: fixed length; build fills len bytes (header included) for one page control,
 * apply (NULL: nothing changeable) takes a validated page from MODE SELECT and returns true
 * if something changed. */
struct scsi_mode_page {
	uint8_t page;
	uint8_t subpage;                /* 0: page_0 format */
	uint8_t len;                    /* bytes including the 2- or 4-byte header */
	void (*build)(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p);
	bool (*apply)(struct core_lu *lu, const uint8_t *p);
};

struct scsi_type {
	const struct core_devtype *dt;
	uint8_t pdt;
	uint16_t unknown_asc;           /* for opcodes outside the table */
	const struct scsi_op *ops;      /* SCSI_NR_OPCODES entries, indexed by opcode */
	const struct scsi_vpd *vpd;     /* ascending page codes, starting with 0x00 */
	uint8_t nr_vpd;
	const uint16_t *versions;       /* version descriptors of standard INQUIRY */
	uint8_t nr_versions;
	const struct scsi_mode_page *modes; /* ascending page/subpage; NULL: no MODE pages */
	uint8_t nr_modes;
};

extern const struct scsi_type scsi_sbc_type;
extern const struct scsi_type scsi_scc_type;
extern const struct scsi_type scsi_nolu_type;
extern const struct scsi_type scsi_mmc_type;
extern const struct scsi_type scsi_ssc_type;
extern const struct scsi_type scsi_smc_type;

/* ---- medium.c: removable media of the cd and tape types ---- */

/* Replaces lu's medium with the file at path (NULL or "": none) through lu->bs close/open;
 * management thread or changer. 0, -EBUSY (removal prevented, commands in flight), -errno. */
int scsi_medium_change(struct core_lu *lu, const char *path);

/* ---- ssc.c ---- */

/* Loads the tape cartridge file at path into tape LU lu (NULL or "": unloads it). 0, -EBUSY,
 * -EINVAL (not a cartridge), -errno. Management thread or changer. */
int ssc_cartridge_load(struct core_lu *lu, const char *path);

/* ---- dispatch.c ---- */

/* Decodes cmd's CDB with t's table, runs the generic checks, then the handler. */
void scsi_dispatch(struct scsi_cmd *cmd, const struct scsi_type *t);
/* Looks an opcode (and service action) up for lu (may be NULL); NULL when unsupported there.
 * *has_sa tells whether the opcode uses service actions. */
const struct scsi_op *scsi_op_find(const struct scsi_type *t, const struct core_lu *lu,
				   uint8_t opcode, uint8_t sa, bool *has_sa);
/* Whether an entry exists on lu: SCSI_OPF_THIN entries only on thin-provisioned LUs. */
bool scsi_op_usable(const struct scsi_op *op, const struct core_lu *lu);

/* ---- spc.c: commands and helpers every type shares ---- */

/* Sets GOOD with len bytes of response, cut to the allocation length. */
void scsi_data_in(struct scsi_cmd *cmd, const void *data, uint32_t len, uint32_t alloc);
/* INVALID FIELD IN CDB pointing at byte/bit of the CDB (bit < 0: whole byte). */
void scsi_fail_cdb(struct scsi_cmd *cmd, uint16_t byte, int bit);
/* BUSY without sense: a transient shortage (buffer pool empty). */
void scsi_busy(struct scsi_cmd *cmd);
/* Highest set bit of a non-zero byte, for SKSV field pointers. */
int scsi_top_bit(uint8_t v);
/* Copies s into dst (n bytes), space-padded, non-printable characters as spaces. */
void scsi_put_ascii(uint8_t *dst, const char *s, size_t n);
/* Identity defaults shared by disk and controller: scsi_id, scsi_sn, naa_id. */
void scsi_lu_identity_init(struct core_lu *lu, const char *vendor, const char *product);

enum scsi_exec spc_good(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_prevent_allow(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_request_sense(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_inquiry(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_report_luns(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_report_opcodes(struct scsi_cmd *cmd, const struct scsi_type *t);

uint32_t spc_vpd_supported(const struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t *p,
			   uint32_t size);
uint32_t spc_vpd_serial(const struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t *p,
			uint32_t size);
uint32_t spc_vpd_devid(const struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t *p,
		       uint32_t size);

/*
 * Table entries every device type shares, for designated initializers of a type's opcode
 * table (usage data per SPC-4: INQUIRY EVPD, REQUEST SENSE DESC, REPORT LUNS SELECT REPORT).
 */
#define SCSI_OPS_SPC                                                                              \
	[SCSI_OP_TEST_UNIT_READY] = { .fn = spc_good, .cdb_len = 6,                               \
				      .dir = SCSI_DIR_NONE, .name = "TEST UNIT READY",            \
				      .flags = SCSI_OPF_PR_OK,                                    \
				      .usage = { 0x00, 0, 0, 0, 0, 0 } },                         \
	[SCSI_OP_REQUEST_SENSE] = { .fn = spc_request_sense, .cdb_len = 6,                        \
				    .dir = SCSI_DIR_READ,                                         \
				    .flags = SCSI_OPF_NO_MEDIUM | SCSI_OPF_PR_OK,                 \
				    .name = "REQUEST SENSE",                                      \
				    .usage = { 0x03, 0x01, 0, 0, 0xff, 0 } },                     \
	[SCSI_OP_INQUIRY] = { .fn = spc_inquiry, .cdb_len = 6, .dir = SCSI_DIR_READ,              \
			      .flags = SCSI_OPF_NO_MEDIUM | SCSI_OPF_PR_OK, .name = "INQUIRY",    \
			      .usage = { 0x12, 0x01, 0xff, 0xff, 0xff, 0 } },                     \
	[SCSI_OP_REPORT_LUNS] = { .fn = spc_report_luns, .cdb_len = 12, .dir = SCSI_DIR_READ,     \
				  .flags = SCSI_OPF_NO_MEDIUM | SCSI_OPF_PR_OK,                   \
				  .name = "REPORT LUNS",                                          \
				  .usage = { 0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0,   \
					     0 } },                                               \
	[SCSI_OP_MAINTENANCE_IN] = { .sa_ops = spc_maint_in_ops, .nr_sa = 2, .cdb_len = 12,       \
				     .name = "MAINTENANCE IN" },                                  \
	[SCSI_OP_MAINTENANCE_OUT] = { .sa_ops = spc_maint_out_ops, .nr_sa = 1, .cdb_len = 12,     \
				      .name = "MAINTENANCE OUT" }

/* MAINTENANCE IN service actions: REPORT SUPPORTED OPERATION CODES, REPORT TARGET PORT
 * GROUPS (alua.c). */
extern const struct scsi_op spc_maint_in_ops[2];
/* MAINTENANCE OUT service actions: SET TARGET PORT GROUPS (alua.c). */
extern const struct scsi_op spc_maint_out_ops[1];

/* ---- alua.c: ALUA commands; the state is core's (core_alua_*) ---- */

/* Whether a command (cdb, len bytes) may run through a port in access state (SPC-4 5.15.2.4). */
bool scsi_alua_allowed(uint8_t state, const uint8_t *cdb, uint16_t len);
/* The NOT READY additional sense code of a state that refuses a command. */
uint16_t scsi_alua_asc(uint8_t state);
/* Dispatcher check: false when the port's state refuses cmd (NOT READY is set). */
bool scsi_alua_check(struct scsi_cmd *cmd);
/* TPGS field of standard INQUIRY byte 5 (bits 5:4) for cmd's target. */
uint8_t scsi_alua_tpgs(const struct scsi_cmd *cmd);
/* Relative target port and target port group designators of cmd's port for VPD 0x83 into p
 * (size bytes): 16, or 0 when there is no port or no room. */
uint32_t scsi_alua_vpd_port(const struct scsi_cmd *cmd, uint8_t *p, uint32_t size);
/* REPORT TARGET PORT GROUPS data for nr groups, length-only (ext false) or extended header.
 * Returns the length, 0 when size is too small. */
uint32_t scsi_alua_rtpg_build(const struct core_alua_report *r, unsigned int nr, bool ext,
			      uint8_t *p, uint32_t size);
enum scsi_exec spc_report_tpg(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_set_tpg(struct scsi_cmd *cmd, const struct scsi_type *t);

/* ---- pr.c: reservations ---- */

#define SCSI_PR_MAX_REGS 32
#define SCSI_PR_TID_MAX  256

/* PERSISTENT RESERVE TYPE values (SPC-4). */
#define SCSI_PR_WE    0x1 /* write exclusive */
#define SCSI_PR_EA    0x3 /* exclusive access */
#define SCSI_PR_WE_RO 0x5 /* ... registrants only */
#define SCSI_PR_EA_RO 0x6
#define SCSI_PR_WE_AR 0x7 /* ... all registrants */
#define SCSI_PR_EA_AR 0x8

struct scsi_pr_reg {
	uint64_t key;
	bool holder;                    /* holds the reservation (types other than AR) */
	char tid[SCSI_PR_TID_MAX];      /* "name,i,0x<isid>" or "name", then "@<target port>"
					 * unless it covers every port (ALL_TG_PT) */
};

struct scsi_pr {
	pthread_mutex_t lock;
	atomic_bool active;             /* a reservation exists: commands must be checked */
	uint32_t generation;
	uint8_t type;                   /* SCSI_PR_*, 0: no persistent reservation */
	bool aptpl;
	unsigned int nr_regs;
	struct scsi_pr_reg regs[SCSI_PR_MAX_REGS];
	struct core_nexus *r2_nexus;    /* SPC-2 RESERVE holder, or NULL */
	uint64_t r2_id;
	char *state_path;               /* APTPL state file (owned), or NULL: PTPL_C 0 */
};

typedef void (*scsi_pr_notify_fn)(void *arg, const char *tid, uint16_t asc_ascq);

/*
 * Parses one iSCSI TransportID (SPC-4 §7.6.4.6) of at most len bytes: format 00b (iSCSI name:
 * every initiator port of that initiator) gives "name", format 01b (initiator port) gives
 * "name,i,0x<isid>" with the ISID in lower case. *used is the TransportID's length. 0, or
 * -EINVAL (other protocol or format, bad length, name not terminated or not printable).
 */
int scsi_pr_tid_parse(const uint8_t *p, size_t len, char *out, size_t cap, size_t *used);
/* Whether registration identity reg covers the I_T nexus named tid ("name" covers every
 * "name,i,0x..."; a port-less side matches every target port, "@N" only port N). */
bool scsi_pr_tid_covers(const char *reg, const char *tid);
/*
 * REGISTER with SPEC_I_PT (unregistered nexus tid): registers tid and the n TransportIDs in
 * tids with sa_key, all or nothing. SAM_STAT_GOOD, RESERVATION CONFLICT, or -ASC.
 */
int scsi_pr_register_spec(struct scsi_pr *pr, const char *tid, uint64_t key, uint64_t sa_key,
			  bool aptpl, const char (*tids)[SCSI_PR_TID_MAX], unsigned int n);
/*
 * REGISTER AND MOVE from holder tid to initiator port dest: dest is registered with sa_key
 * (its key replaced when registered) and takes the reservation; tid stays registered unless
 * unreg. SAM_STAT_GOOD, RESERVATION CONFLICT, or -ASC.
 */
int scsi_pr_move(struct scsi_pr *pr, const char *tid, uint64_t key, uint64_t sa_key,
		 const char *dest, bool unreg, bool aptpl);
/*
 * The APTPL state file of a disk LU: <state dir>/pr-<target name>-<lun>, restored here; an old
 * "<backing>.pr" file is read once when the state directory has none, then moved there.
 * Without a state directory nothing persists (PTPL_C 0). 0 or -ENOMEM.
 */
int scsi_pr_attach(struct scsi_pr *pr, struct core_lu *lu);

void scsi_pr_init(struct scsi_pr *pr);
void scsi_pr_fini(struct scsi_pr *pr);
/* Restores APTPL state from path (absent file: nothing). 0 or -errno. */
int scsi_pr_load(struct scsi_pr *pr, const char *path);
bool scsi_pr_type_valid(uint8_t type);
int scsi_pr_find(const struct scsi_pr *pr, const char *tid);
bool scsi_pr_is_holder(const struct scsi_pr *pr, int i);
/* The PR OUT state machine: SAM_STAT_GOOD, SAM_STAT_RESERVATION_CONFLICT or -ASC. */
int scsi_pr_out(struct scsi_pr *pr, const char *tid, uint8_t sa, uint8_t type, uint64_t key,
		uint64_t sa_key, bool aptpl, scsi_pr_notify_fn notify, void *arg);
/* Whether nexus tid may run a command (writes: it modifies the medium). */
bool scsi_pr_allows(const struct scsi_pr *pr, const char *tid, bool writes);
/* Reservation check of the dispatcher; false: RESERVATION CONFLICT is set. */
bool scsi_pr_check(struct scsi_cmd *cmd, const struct scsi_op *op);
/* LU reset: releases the SPC-2 reservation. */
void scsi_pr_lu_reset(struct scsi_pr *pr);
/* Whether a SANITIZE runs on lu (sbc.c). */
bool scsi_lu_sanitizing(const struct core_lu *lu);
/* The PR state of a disk LU, NULL for other device types (sbc.c). */
struct scsi_pr *scsi_lu_pr(struct core_lu *lu);

enum scsi_exec spc_pr_in(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_pr_out(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_reserve(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_release(struct scsi_cmd *cmd, const struct scsi_type *t);

/* ---- xcopy.c: third-party copy (EXTENDED COPY LID1, RECEIVE COPY RESULTS, VPD 0x8F) ---- */

/* Limits the copy manager enforces and advertises (RECEIVE COPY OPERATING PARAMETERS and the
 * Third-party Copy VPD page read the same values). */
#define SCSI_XCOPY_MAX_CSCD      4u          /* MAXIMUM CSCD DESCRIPTOR COUNT */
#define SCSI_XCOPY_MAX_SEG       8u          /* MAXIMUM SEGMENT DESCRIPTOR COUNT */
#define SCSI_XCOPY_MAX_DESC_LIST 1024u       /* MAXIMUM DESCRIPTOR LIST LENGTH, bytes */
#define SCSI_XCOPY_MAX_SEG_BYTES (64u << 20) /* MAXIMUM SEGMENT LENGTH */
#define SCSI_XCOPY_HELD_MAX      16u         /* copy records per LU: concurrent copies */

/* One identification CSCD descriptor (0xE4): its designation descriptor and block length. */
struct scsi_xcopy_cscd {
	uint8_t desig[20];              /* designation descriptor, 4-byte header included */
	uint32_t block_len;             /* DISK BLOCK LENGTH */
	uint16_t off;                   /* byte offset in the parameter list */
};

/* One block device to block device segment descriptor (0x02). */
struct scsi_xcopy_seg {
	uint16_t src;                   /* SOURCE CSCD DESCRIPTOR ID */
	uint16_t dst;                   /* DESTINATION CSCD DESCRIPTOR ID */
	uint32_t nblk;                  /* NUMBER OF BLOCKS */
	uint64_t src_lba;
	uint64_t dst_lba;
	uint16_t off;                   /* byte offset in the parameter list */
};

struct scsi_xcopy_list {
	uint8_t list_id;
	uint8_t usage;                  /* LIST ID USAGE: 0 hold, 2 no hold, 3 no list id */
	uint8_t nr_cscd;
	uint8_t nr_seg;
	struct scsi_xcopy_cscd cscd[SCSI_XCOPY_MAX_CSCD];
	struct scsi_xcopy_seg seg[SCSI_XCOPY_MAX_SEG];
};

/* Why a parameter list was refused: sense key, 0xAAQQ, and the parameter byte (or -1). */
struct scsi_xcopy_err {
	uint8_t key;
	uint16_t asc;
	int32_t field;
};

/* A LID1 copy status record: what RECEIVE COPY RESULTS / COPY STATUS reports. */
struct scsi_xcopy_status {
	const struct core_nexus *nexus; /* the I_T nexus the copy came from (compared only) */
	uint64_t nexus_id;              /* with nexus: a nexus freed and reallocated differs */
	uint8_t list_id;
	bool listed;                    /* has a list identifier (LIST ID USAGE 00b or 10b) */
	uint8_t state;                  /* 0: free, else COPY MANAGER STATUS + 1 */
	uint16_t segs;                  /* SEGMENTS PROCESSED */
	uint64_t bytes;                 /* bytes written to the destinations */
};

struct scsi_xcopy_held {
	pthread_mutex_t lock;
	unsigned int next;              /* ring position for the next record */
	struct scsi_xcopy_status st[SCSI_XCOPY_HELD_MAX];
};

/*
 * Parses an EXTENDED COPY (LID1) parameter list of len bytes (SPC-4 6.4): header, CSCD
 * descriptors (0xE4 only), block-to-block segments (0x02 only), no inline data. 0, or -EINVAL
 * with *err saying which sense to return. Never reads past len.
 */
int scsi_xcopy_parse(const uint8_t *p, uint32_t len, struct scsi_xcopy_list *l,
		     struct scsi_xcopy_err *err);
/* Per-LU copy status records of a disk (sbc.c), NULL for other device types. */
struct scsi_xcopy_held *scsi_lu_xcopy(struct core_lu *lu);
enum scsi_exec spc_extended_copy(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_receive_copy_results(struct scsi_cmd *cmd, const struct scsi_type *t);
uint32_t spc_vpd_tpc(const struct scsi_cmd *cmd, const struct scsi_type *t, uint8_t *p,
		     uint32_t size);

/* ---- sbc.c: SANITIZE progress ---- */

/* Sets NOT READY, SANITIZE IN PROGRESS with the progress indication of the LU's sanitize. */
void scsi_sanitize_fail(struct scsi_cmd *cmd);
/* Writes NOT READY, SANITIZE IN PROGRESS sense with progress into out (REQUEST SENSE);
 * returns its length, 0 when no sanitize runs on lu. */
uint8_t scsi_sanitize_sense(const struct core_lu *lu, bool desc, uint8_t *out);

/* ---- mode.c ---- */

enum scsi_exec spc_mode_sense(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_mode_select(struct scsi_cmd *cmd, const struct scsi_type *t);
/* Read-Write Error Recovery page (0x01): no retries or reallocation to control. */
void spc_mode_rw_recovery(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p);

#endif
