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

enum scsi_exec spc_test_unit_ready(struct scsi_cmd *cmd, const struct scsi_type *t);
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
	[SCSI_OP_TEST_UNIT_READY] = { .fn = spc_test_unit_ready, .cdb_len = 6,                    \
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
	[SCSI_OP_MAINTENANCE_IN] = { .sa_ops = spc_maint_in_ops, .nr_sa = 1, .cdb_len = 12,       \
				     .name = "MAINTENANCE IN" }

/* MAINTENANCE IN service actions: REPORT SUPPORTED OPERATION CODES. */
extern const struct scsi_op spc_maint_in_ops[1];

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
	char tid[SCSI_PR_TID_MAX];      /* initiator port TransportID: "name,i,0x<isid>" */
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
	const char *state_path;         /* APTPL state file, or NULL (not persisted) */
};

typedef void (*scsi_pr_notify_fn)(void *arg, const char *tid, uint16_t asc_ascq);

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

/* ---- mode.c ---- */

enum scsi_exec spc_mode_sense(struct scsi_cmd *cmd, const struct scsi_type *t);
enum scsi_exec spc_mode_select(struct scsi_cmd *cmd, const struct scsi_type *t);

#endif
