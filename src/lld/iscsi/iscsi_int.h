/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lld/iscsi private header: wire layouts (RFC 7143 §11), the negotiation key table, and the
 * driver, connection, session and task objects shared by the files of this layer. Nothing
 * outside src/lld/iscsi includes it.
 *
 * Ownership: struct iscsi_lld belongs to the control thread (its lock guards portals,
 * targets and the session table). A connection, its session (all its connections run on one
 * reactor), its tasks, buffers and PDUs belong to the data reactor the connection was handed
 * to.
 */
#ifndef UTGT_LLD_ISCSI_ISCSI_INT_H
#define UTGT_LLD_ISCSI_ISCSI_INT_H

#include "lld/iscsi/iscsi.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include "core/core.h"
#include "reactor/reactor.h"
#include "util/util.h"

/* ======================================================================================
 * Wire format (RFC 7143 §11). Every view is 48 bytes of uint8_t arrays: alignment 1, read
 * and written only through the big-endian accessors of util.h.
 * ====================================================================================== */

#define ISCSI_BHS_LEN     48
#define ISCSI_DIGEST_LEN  4
#define ISCSI_AHS_MAX     1020 /* TotalAHSLength is one byte of 4-byte words */
#define ISCSI_RSVD_TAG    0xffffffffu
#define ISCSI_DSL_MAX     0xffffffu

/* initiator opcodes */
#define ISCSI_OP_NOP_OUT    0x00
#define ISCSI_OP_SCSI_CMD   0x01
#define ISCSI_OP_TMF_REQ    0x02
#define ISCSI_OP_LOGIN_REQ  0x03
#define ISCSI_OP_TEXT_REQ   0x04
#define ISCSI_OP_DATA_OUT   0x05
#define ISCSI_OP_LOGOUT_REQ 0x06
#define ISCSI_OP_SNACK      0x10
/* target opcodes */
#define ISCSI_OP_NOP_IN     0x20
#define ISCSI_OP_SCSI_RSP   0x21
#define ISCSI_OP_TMF_RSP    0x22
#define ISCSI_OP_LOGIN_RSP  0x23
#define ISCSI_OP_TEXT_RSP   0x24
#define ISCSI_OP_DATA_IN    0x25
#define ISCSI_OP_LOGOUT_RSP 0x26
#define ISCSI_OP_R2T        0x31
#define ISCSI_OP_ASYNC      0x32
#define ISCSI_OP_REJECT     0x3f

#define ISCSI_OP_MASK       0x3f
#define ISCSI_OP_IMMEDIATE  0x40

/* byte 1 flags */
#define ISCSI_FLAG_FINAL    0x80
#define ISCSI_FLAG_CONTINUE 0x40 /* login/text C */
#define ISCSI_CMD_READ      0x40
#define ISCSI_CMD_WRITE     0x20
#define ISCSI_CMD_ATTR_MASK 0x07
#define ISCSI_DIN_ACK       0x40
#define ISCSI_DIN_OVER      0x04
#define ISCSI_DIN_UNDER     0x02
#define ISCSI_DIN_STATUS    0x01
#define ISCSI_RSP_OVER      0x04
#define ISCSI_RSP_UNDER     0x02
#define ISCSI_LOGIN_TRANSIT 0x80
#define ISCSI_LOGIN_CSG(f)  (((f) >> 2) & 3)
#define ISCSI_LOGIN_NSG(f)  ((f) & 3)

/* login stages (CSG/NSG) */
#define ISCSI_STAGE_SECURITY    0
#define ISCSI_STAGE_OPERATIONAL 1
#define ISCSI_STAGE_FFP         3

/* Reject reasons (RFC 7143 §11.17.1) */
#define ISCSI_REJECT_DATA_DIGEST   0x02
#define ISCSI_REJECT_SNACK         0x03
#define ISCSI_REJECT_PROTOCOL      0x04
#define ISCSI_REJECT_CMD_NOT_SUPP  0x05
#define ISCSI_REJECT_IMM_CMD       0x06
#define ISCSI_REJECT_TASK_IN_PROG  0x07
#define ISCSI_REJECT_INVALID_FIELD 0x09
#define ISCSI_REJECT_OUT_OF_RES    0x0a
#define ISCSI_REJECT_WAIT_LOGOUT   0x0c

/* Login status class/detail packed 0xCCDD (RFC 7143 §11.13.5) */
#define ISCSI_LOGIN_OK               0x0000
#define ISCSI_LOGIN_MOVED_TEMP       0x0101
#define ISCSI_LOGIN_MOVED_PERM       0x0102
#define ISCSI_LOGIN_INIT_ERR         0x0200
#define ISCSI_LOGIN_AUTH_FAILED      0x0201
#define ISCSI_LOGIN_AUTHZ_FAILED     0x0202
#define ISCSI_LOGIN_TGT_NOT_FOUND    0x0203
#define ISCSI_LOGIN_TGT_REMOVED      0x0204
#define ISCSI_LOGIN_UNSUPP_VERSION   0x0205
#define ISCSI_LOGIN_TOO_MANY_CONNS   0x0206
#define ISCSI_LOGIN_MISSING_PARAM    0x0207
#define ISCSI_LOGIN_NO_SESS_SPAN     0x0208
#define ISCSI_LOGIN_SESS_TYPE_UNSUPP 0x0209
#define ISCSI_LOGIN_NO_SESSION       0x020a
#define ISCSI_LOGIN_INVALID_REQ      0x020b
#define ISCSI_LOGIN_TGT_ERROR        0x0300
#define ISCSI_LOGIN_SVC_UNAVAIL      0x0301
#define ISCSI_LOGIN_NO_RESOURCES     0x0302

/* TMF functions and responses (RFC 7143 §11.5.1, §11.6.1) */
#define ISCSI_TMF_ABORT_TASK     1
#define ISCSI_TMF_ABORT_TASK_SET 2
#define ISCSI_TMF_CLEAR_ACA      3
#define ISCSI_TMF_CLEAR_TASK_SET 4
#define ISCSI_TMF_LU_RESET       5
#define ISCSI_TMF_WARM_RESET     6
#define ISCSI_TMF_COLD_RESET     7
#define ISCSI_TMF_TASK_REASSIGN  8

#define ISCSI_TMF_RSP_COMPLETE      0
#define ISCSI_TMF_RSP_NO_TASK       1
#define ISCSI_TMF_RSP_NO_LUN        2
#define ISCSI_TMF_RSP_STILL_ALLEGIANT 3
#define ISCSI_TMF_RSP_NO_REASSIGN   4 /* task allegiance reassignment not supported */
#define ISCSI_TMF_RSP_NOT_SUPPORTED 5
#define ISCSI_TMF_RSP_REJECTED      255

/* Logout reasons and responses (RFC 7143 §11.14.1, §11.15.1) */
#define ISCSI_LOGOUT_SESSION    0
#define ISCSI_LOGOUT_CONNECTION 1
#define ISCSI_LOGOUT_RECOVERY   2
#define ISCSI_LOGOUT_RSP_OK          0
#define ISCSI_LOGOUT_RSP_NO_CID      1
#define ISCSI_LOGOUT_RSP_NO_RECOVERY 2

#define ISCSI_ASYNC_LOGOUT_REQUEST 1

/* Generic view: the fields every PDU shares. */
struct iscsi_bhs {
	uint8_t opcode;          /* 0: I bit 0x40, opcode 0x3f */
	uint8_t flags;           /* 1: F and opcode-specific bits */
	uint8_t spec2[2];        /* 2-3: opcode-specific */
	uint8_t ahs_len;         /* 4: TotalAHSLength in 4-byte words */
	uint8_t dsl[3];          /* 5-7: DataSegmentLength */
	uint8_t lun[8];          /* 8-15: LUN or opcode-specific */
	uint8_t itt[4];          /* 16-19: Initiator Task Tag */
	uint8_t ttt[4];          /* 20-23: TTT / EDTL / RTT / CID */
	uint8_t sn24[4];         /* 24-27: CmdSN or StatSN */
	uint8_t sn28[4];         /* 28-31: ExpStatSN or ExpCmdSN */
	uint8_t sn32[4];         /* 32-35: MaxCmdSN / RefCmdSN / CDB */
	uint8_t spec36[12];      /* 36-47: opcode-specific */
};

/* SCSI Command (§11.3) */
struct iscsi_scsi_cmd_hdr {
	uint8_t opcode;
	uint8_t flags;           /* F R W ATTR */
	uint8_t rsvd2[2];
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t lun[8];
	uint8_t itt[4];
	uint8_t edtl[4];
	uint8_t cmd_sn[4];
	uint8_t exp_stat_sn[4];
	uint8_t cdb[16];
};

/* SCSI Response (§11.4) */
struct iscsi_scsi_rsp_hdr {
	uint8_t opcode;
	uint8_t flags;           /* 1 o u O U */
	uint8_t response;
	uint8_t status;
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t rsvd8[8];
	uint8_t itt[4];
	uint8_t snack_tag[4];
	uint8_t stat_sn[4];
	uint8_t exp_cmd_sn[4];
	uint8_t max_cmd_sn[4];
	uint8_t exp_data_sn[4];
	uint8_t bidi_residual[4];
	uint8_t residual[4];
};

/* SCSI Data-Out and Data-In (§11.7) */
struct iscsi_data_hdr {
	uint8_t opcode;
	uint8_t flags;           /* F A 0 0 0 O U S */
	uint8_t rsvd2;
	uint8_t status;          /* Data-In with S */
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t lun[8];
	uint8_t itt[4];
	uint8_t ttt[4];
	uint8_t stat_sn[4];      /* Data-In: StatSN; Data-Out: reserved */
	uint8_t exp_sn[4];       /* Data-In: ExpCmdSN; Data-Out: ExpStatSN */
	uint8_t max_cmd_sn[4];   /* Data-In only */
	uint8_t data_sn[4];
	uint8_t offset[4];
	uint8_t residual[4];     /* Data-In with S */
};

/* Ready To Transfer (§11.8) */
struct iscsi_r2t_hdr {
	uint8_t opcode;
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t lun[8];
	uint8_t itt[4];
	uint8_t ttt[4];
	uint8_t stat_sn[4];
	uint8_t exp_cmd_sn[4];
	uint8_t max_cmd_sn[4];
	uint8_t r2t_sn[4];
	uint8_t offset[4];
	uint8_t desired_len[4];
};

/* NOP-Out (§11.18) and NOP-In (§11.19) */
struct iscsi_nop_hdr {
	uint8_t opcode;
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t lun[8];
	uint8_t itt[4];
	uint8_t ttt[4];
	uint8_t sn24[4];         /* Out: CmdSN; In: StatSN */
	uint8_t sn28[4];         /* Out: ExpStatSN; In: ExpCmdSN */
	uint8_t max_cmd_sn[4];   /* In only */
	uint8_t rsvd36[12];
};

/* Task Management Function Request (§11.5) and Response (§11.6) */
struct iscsi_tmf_hdr {
	uint8_t opcode;
	uint8_t flags;           /* req: 1 + function; rsp: 0x80 */
	uint8_t response;        /* rsp only */
	uint8_t rsvd3;
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t lun[8];
	uint8_t itt[4];
	uint8_t rtt[4];          /* req: Referenced Task Tag */
	uint8_t sn24[4];         /* req: CmdSN; rsp: StatSN */
	uint8_t sn28[4];         /* req: ExpStatSN; rsp: ExpCmdSN */
	uint8_t sn32[4];         /* req: RefCmdSN; rsp: MaxCmdSN */
	uint8_t exp_data_sn[4];  /* req only */
	uint8_t rsvd40[8];
};

/* Login Request (§11.12) and Response (§11.13) */
struct iscsi_login_hdr {
	uint8_t opcode;
	uint8_t flags;           /* T C 0 0 CSG NSG */
	uint8_t version_max;
	uint8_t version_min;     /* rsp: Version-active */
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t isid[6];
	uint8_t tsih[2];
	uint8_t itt[4];
	uint8_t cid[2];          /* req only */
	uint8_t rsvd22[2];
	uint8_t sn24[4];         /* req: CmdSN; rsp: StatSN */
	uint8_t sn28[4];         /* req: ExpStatSN; rsp: ExpCmdSN */
	uint8_t max_cmd_sn[4];   /* rsp only */
	uint8_t status_class;    /* rsp only */
	uint8_t status_detail;
	uint8_t rsvd38[10];
};

/* Text Request (§11.10) and Response (§11.11) */
struct iscsi_text_hdr {
	uint8_t opcode;
	uint8_t flags;           /* F C */
	uint8_t rsvd2[2];
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t lun[8];
	uint8_t itt[4];
	uint8_t ttt[4];
	uint8_t sn24[4];         /* req: CmdSN; rsp: StatSN */
	uint8_t sn28[4];         /* req: ExpStatSN; rsp: ExpCmdSN */
	uint8_t max_cmd_sn[4];   /* rsp only */
	uint8_t rsvd36[12];
};

/* Logout Request (§11.14) and Response (§11.15) */
struct iscsi_logout_hdr {
	uint8_t opcode;
	uint8_t flags;           /* req: 1 + reason; rsp: 0x80 */
	uint8_t response;        /* rsp only */
	uint8_t rsvd3;
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t rsvd8[8];
	uint8_t itt[4];
	uint8_t cid[2];          /* req only */
	uint8_t rsvd22[2];
	uint8_t sn24[4];         /* req: CmdSN; rsp: StatSN */
	uint8_t sn28[4];         /* req: ExpStatSN; rsp: ExpCmdSN */
	uint8_t max_cmd_sn[4];   /* rsp only */
	uint8_t rsvd36[4];
	uint8_t time2wait[2];    /* rsp only */
	uint8_t time2retain[2];
	uint8_t rsvd44[4];
};

/* Asynchronous Message (§11.9) */
struct iscsi_async_hdr {
	uint8_t opcode;
	uint8_t flags;
	uint8_t rsvd2[2];
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t lun[8];
	uint8_t itt[4];
	uint8_t rsvd20[4];
	uint8_t stat_sn[4];
	uint8_t exp_cmd_sn[4];
	uint8_t max_cmd_sn[4];
	uint8_t event;
	uint8_t vcode;
	uint8_t param1[2];
	uint8_t param2[2];
	uint8_t param3[2];
	uint8_t rsvd44[4];
};

/* Reject (§11.17) */
struct iscsi_reject_hdr {
	uint8_t opcode;
	uint8_t flags;
	uint8_t reason;
	uint8_t rsvd3;
	uint8_t ahs_len;
	uint8_t dsl[3];
	uint8_t rsvd8[8];
	uint8_t itt[4];          /* 0xffffffff */
	uint8_t rsvd20[4];
	uint8_t stat_sn[4];
	uint8_t exp_cmd_sn[4];
	uint8_t max_cmd_sn[4];
	uint8_t data_sn[4];
	uint8_t rsvd40[8];
};

/* AHS types (§11.2.2) */
#define ISCSI_AHS_EXT_CDB    1
#define ISCSI_AHS_BIDI_RLEN  2

/* ---- pdu.c: codec helpers ---- */

static inline uint32_t iscsi_bhs_dsl(const struct iscsi_bhs *h)
{
	return get_be24(h->dsl);
}

static inline uint32_t iscsi_bhs_ahs_bytes(const struct iscsi_bhs *h)
{
	return (uint32_t)h->ahs_len * 4;
}

static inline uint8_t iscsi_bhs_opcode(const struct iscsi_bhs *h)
{
	return h->opcode & ISCSI_OP_MASK;
}

static inline bool iscsi_bhs_is_immediate(const struct iscsi_bhs *h)
{
	return (h->opcode & ISCSI_OP_IMMEDIATE) != 0;
}

/* Bytes of padding after a data segment of len bytes (§11.1). */
static inline uint32_t iscsi_pad_len(uint32_t len)
{
	return (4 - (len & 3)) & 3;
}

/* Zeroes a BHS and sets opcode, flags, DataSegmentLength and ITT. */
void iscsi_bhs_init(struct iscsi_bhs *h, uint8_t opcode, uint8_t flags, uint32_t dsl,
		    uint32_t itt);

/* Header digest over the 48-byte BHS plus AHS (§13.1), little-endian on the wire. */
uint32_t iscsi_digest(const void *buf, size_t len);
void iscsi_digest_put(uint8_t *p, uint32_t crc);
uint32_t iscsi_digest_get(const uint8_t *p);

/* LUN field <-> flat LUN (SAM-5 §4.7: peripheral and flat addressing, single level). */
uint64_t iscsi_lun_decode(const uint8_t *p);
void iscsi_lun_encode(uint8_t *p, uint64_t lun);

/* Result of the first look at a received BHS. */
struct iscsi_bhs_info {
	uint8_t opcode;          /* without the I bit */
	bool immediate;
	uint32_t ahs_len;        /* bytes */
	uint32_t dsl;            /* bytes, without padding */
};

/*
 * Checks a received BHS (48 bytes): a known initiator opcode, and DataSegmentLength within
 * max_dsl (the caller passes the limit of the current phase). Returns 0, -EBADMSG for an
 * opcode an initiator never sends, -EMSGSIZE for a data segment over the limit.
 */
int iscsi_bhs_check(const uint8_t *bhs, uint32_t max_dsl, struct iscsi_bhs_info *info);

/* Parsed AHS of a SCSI Command. */
struct iscsi_cmd_ahs {
	const uint8_t *ext_cdb;  /* bytes 16.. of the CDB, or NULL */
	uint16_t ext_cdb_len;
	bool has_bidi_rlen;
	uint32_t bidi_rlen;
};

/* Walks the AHS segments of a SCSI Command (bounded by len). 0 or -EINVAL. */
int iscsi_ahs_parse(const uint8_t *p, uint32_t len, struct iscsi_cmd_ahs *out);

/* ======================================================================================
 * Negotiation (param.c)
 * ====================================================================================== */

enum iscsi_param {
	ISCSI_PARAM_MAX_RECV_DSL = 0,    /* ours, declared */
	ISCSI_PARAM_HEADER_DIGEST,       /* mask of ISCSI_DIGEST_* */
	ISCSI_PARAM_DATA_DIGEST,
	ISCSI_PARAM_INITIAL_R2T,
	ISCSI_PARAM_MAX_OUTSTANDING_R2T,
	ISCSI_PARAM_IMMEDIATE_DATA,
	ISCSI_PARAM_FIRST_BURST,
	ISCSI_PARAM_MAX_BURST,
	ISCSI_PARAM_DATA_PDU_IN_ORDER,
	ISCSI_PARAM_DATA_SEQ_IN_ORDER,
	ISCSI_PARAM_ERL,
	ISCSI_PARAM_IFMARKER,
	ISCSI_PARAM_OFMARKER,
	ISCSI_PARAM_TIME2WAIT,
	ISCSI_PARAM_TIME2RETAIN,
	ISCSI_PARAM_OFMARKINT,
	ISCSI_PARAM_IFMARKINT,
	ISCSI_PARAM_MAX_CONNECTIONS,
	ISCSI_PARAM_RDMA_EXTENSIONS,
	ISCSI_PARAM_TARGET_RDSL,
	ISCSI_PARAM_INITIATOR_RDSL,
	ISCSI_PARAM_MAX_OUTST_PDU,
	ISCSI_PARAM_MAX_XMIT_DSL,        /* local: the initiator's MaxRecvDataSegmentLength */
	ISCSI_PARAM_MAX_QUEUE_CMD,       /* local: CmdSN window */
	ISCSI_PARAM_TASK_REPORTING,      /* 0 = RFC3720 (the only one we do) */
	ISCSI_PARAM_PROTOCOL_LEVEL,
	ISCSI_PARAM_NOP_INTERVAL,        /* local: seconds, 0 = off */
	ISCSI_PARAM_NOP_COUNT,           /* local: unanswered pings before the drop */
	ISCSI_PARAM_MAX_SESSIONS,        /* local: sessions of the target (0 = no cap) */
	ISCSI_PARAM_NR,
};

#define ISCSI_DIGEST_NONE   1u
#define ISCSI_DIGEST_CRC32C 2u

struct iscsi_params {
	uint32_t v[ISCSI_PARAM_NR];
};

/* Defaults we offer (docs/iscsi.md). */
#define ISCSI_DEF_MAX_RECV_DSL   262144u
#define ISCSI_DEF_MAX_BURST      1048576u
#define ISCSI_DEF_FIRST_BURST    262144u
#define ISCSI_DEF_MAX_QUEUE_CMD  128u
#define ISCSI_MAX_QUEUE_CMD      512u
#define ISCSI_LOGIN_DSL_MAX      8192u   /* MaxRecvDataSegmentLength in force during login */
#define ISCSI_TEXT_MAX           65536u  /* whole login or text request/response */
#define ISCSI_KEY_MAX            63u     /* §6.1 */
#define ISCSI_VALUE_MAX          255u
#define ISCSI_VALUE_BIG_MAX      8192u   /* large values (CHAP challenges, addresses) */
#define ISCSI_EDTL_MAX           (16u << 20)

/* Fills p with the defaults a new target offers. */
void iscsi_params_default(struct iscsi_params *p);

/* One key=value pair inside a text segment: both NUL-terminated, pointing into it. */
struct iscsi_kv {
	const char *key;
	const char *val;
};

/*
 * Walks a text data segment (key=value\0...) in place, replacing each '=' with a NUL.
 * *off is the cursor. Returns 1 with a pair in kv, 0 at the end, -EINVAL when the text is
 * malformed: no '=', a pair without its terminating NUL, a bad or over-long key (> 63
 * bytes), or a value longer than 8192 bytes. Empty strings (padding NULs) are skipped.
 */
int iscsi_text_next(char *buf, size_t len, size_t *off, struct iscsi_kv *kv);

/* Output text: "key=value\0" pairs into a bounded buffer. */
struct iscsi_text {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;           /* something did not fit; len stays at the last pair */
};

void iscsi_text_init(struct iscsi_text *t, char *buf, size_t cap);
/* Appends key=val\0. 0 or -ENOSPC (sets overflow). */
int iscsi_text_add(struct iscsi_text *t, const char *key, const char *val);
int iscsi_text_add_u32(struct iscsi_text *t, const char *key, uint32_t val);

enum iscsi_neg_phase {
	ISCSI_NEG_SECURITY = 0,
	ISCSI_NEG_OPERATIONAL = 1,
	ISCSI_NEG_FFP = 2,
};

/* What iscsi_negot_key did with a key. */
enum iscsi_key_outcome {
	ISCSI_KEY_ANSWERED = 0,  /* negotiated; the answer (if any) is in the output */
	ISCSI_KEY_SPECIAL,       /* a declarative or security key for the caller (login/text) */
};

/* Negotiation state of one login (or text exchange): offers, then results. */
struct iscsi_negot {
	struct iscsi_params p;   /* starts as the target's offer, ends as the result */
	uint64_t seen;           /* key table bits already received: duplicates are errors */
	bool discovery;          /* SessionType=Discovery: session keys are Irrelevant */
	bool leading;            /* leading connection: LO keys allowed */
	bool fbl_pending;        /* FirstBurstLength answer waits for InitialR2T/ImmediateData */
	bool mrdsl_declared;     /* we declared our MaxRecvDataSegmentLength */
	uint32_t fbl_offer;      /* the initiator's FirstBurstLength */
	uint32_t xmit_cap;       /* target setting capping MaxXmitDataSegmentLength */
};

/* What we may send per PDU after negotiation: the initiator's MRDSL within our cap. */
static inline uint32_t iscsi_negot_xmit_dsl(const struct iscsi_negot *ng)
{
	return MIN(ng->p.v[ISCSI_PARAM_MAX_XMIT_DSL], ng->xmit_cap);
}

void iscsi_negot_init(struct iscsi_negot *ng, const struct iscsi_params *target, bool discovery);

/*
 * Negotiates one key offered by the initiator in phase and appends the answer to out:
 * numeric min/max, Boolean AND/OR, list selection (first value of the initiator's list we
 * support), Reject for bad values, Irrelevant, NotUnderstood for unknown keys (§6.2).
 * Returns ISCSI_KEY_ANSWERED, ISCSI_KEY_SPECIAL (InitiatorName, TargetName, SessionType,
 * AuthMethod, SendTargets, ...: the caller answers), -EEXIST for a key offered twice,
 * -ENOSPC when the answer does not fit.
 */
int iscsi_negot_key(struct iscsi_negot *ng, enum iscsi_neg_phase phase, const char *key,
		    const char *val, struct iscsi_text *out);

/* Appends answers held back until every key of the request was seen (FirstBurstLength). */
int iscsi_negot_finish(struct iscsi_negot *ng, struct iscsi_text *out);

/*
 * The operational values at the end of the login: negotiated keys keep their results, keys
 * never offered take their RFC 7143 defaults (§13), local values stay.
 */
void iscsi_negot_result(const struct iscsi_negot *ng, struct iscsi_params *out);

/* Marks a special key as seen; -EEXIST if it was already. */
int iscsi_negot_seen(struct iscsi_negot *ng, const char *key);

/* Value parsers shared by login and mgmt (0 or -EINVAL). */
int iscsi_parse_number(const char *s, uint64_t max, uint64_t *out);
int iscsi_parse_bool(const char *s, bool *out);

/* Does the comma-separated list val contain want exactly? */
bool iscsi_list_contains(const char *val, const char *want);

/* Is name a syntactically valid iSCSI name (iqn./eui./naa.)? */
bool iscsi_name_is_valid(const char *name);

/* Per-target parameter table used by iscsi_target_param_set/foreach. */
int iscsi_params_set(struct iscsi_params *p, const char *key, const char *value);
void iscsi_params_foreach(const struct iscsi_params *p, iscsi_param_fn fn, void *arg);

/* ======================================================================================
 * Objects
 * ====================================================================================== */

struct iscsi_conn;
struct iscsi_sess;
struct iscsi_task;

#define ISCSI_PORTALS_MAX 16

struct iscsi_portal {
	struct sockaddr_storage addr;
	socklen_t len;
	uint16_t tpgt;                   /* portal group tag */
};

/*
 * Watchdog and introspection state of one data reactor (introspect.c). The timer and the
 * message are the reactor's; snap, nr_snap, snap_gen and snap_pending are under lld->pub_lock.
 */
struct iscsi_rstate_pub {
	struct reactor_timer wd_timer;   /* periodic stuck-command scan, armed while conns exist */
	struct reactor_msg snap_msg;     /* "publish your in-flight commands" (snap_pending) */
	bool snap_pending;
	unsigned int snap_gen;           /* bumped by each published snapshot */
	struct iscsi_inflight *snap;     /* [ISCSI_SNAP_MAX], allocated by the first request */
	unsigned int nr_snap;
	bool snap_truncated;
};

#define ISCSI_SNAP_MAX 256               /* in-flight commands reported per reactor */

/* Per data reactor state; touched only on that reactor's thread (messages aside). */
struct iscsi_rstate {
	struct iscsi_lld *lld;
	struct reactor *r;
	struct list_head conns;          /* struct iscsi_conn */
	struct reactor_msg shutdown_msg; /* ask every FFP connection to log out */
	struct reactor_msg force_msg;    /* drop what is left */
	unsigned int grace_s;            /* Parameter3 of the Async logout request */
	struct iscsi_rstate_pub pub;     /* watchdog and introspection (introspect.c) */
};

/* Per-target strings (tgtparam.c). */
struct iscsi_tgt_str {
	char alias[256];                 /* TargetAlias, "" = none */
	char raddr[256];                 /* RedirectAddress, "" = no redirection */
	uint16_t rport;                  /* RedirectPort, 0 = 3260 */
	bool rpermanent;                 /* RedirectReason Permanent (else Temporary) */
};

/* Per-target iSCSI state: tgt->lld_priv. */
struct iscsi_tgt {
	struct iscsi_lld *lld;           /* NULL once the driver is gone */
	struct list_head entry;          /* lld->targets, ascending tid (lld->lock) */
	uint32_t tid;
	char name[224];                  /* copy: names never change */
	pthread_mutex_t lock;            /* params */
	struct iscsi_params params;
	struct iscsi_tgt_str str;        /* lock */
};

/* Driver-wide limits (limits.c). */
struct iscsi_addr_count;
struct iscsi_limits {
	atomic_uint login_timeout_ms;    /* a login must finish within this */
	atomic_uint initiator_conns;     /* connections per initiator address */
	pthread_mutex_t lock;            /* addrs, nr_addrs */
	struct iscsi_addr_count *addrs;  /* [ISCSI_CONNS_MAX] addresses with connections */
	unsigned int nr_addrs;
};

struct iscsi_lld {
	struct core_root *root;
	struct iscsi_rstate *rs;         /* [nr_rs] */
	unsigned int nr_rs;
	pthread_mutex_t lock;            /* portals, targets, sessions, next_tsih */
	struct iscsi_portal portals[ISCSI_PORTALS_MAX];
	unsigned int nr_portals;
	struct list_head targets;        /* struct iscsi_tgt */
	struct list_head sessions;       /* struct iscsi_sess (linked ones) */
	uint16_t next_tsih;
	atomic_uint nr_conns;            /* accepted and not yet freed */
	atomic_bool shutting_down;
	atomic_uint reset_gen;           /* bumped by each reset another nexus asks for */
	/* introspection (introspect.c): pub_lock covers every rs->conns list's membership,
	 * each conn's pub identity and the rs->pub snapshots; never taken per PDU */
	pthread_mutex_t pub_lock;
	pthread_cond_t pub_cond;         /* a snapshot was published */
	atomic_uint stuck_ms;            /* watchdog limit, 0: off */
	atomic_uint_fast64_t stuck_total; /* commands that passed the limit */
	struct iscsi_limits limits;
	struct iscsi_isns *isns;         /* iSNS client (isns.c), from iscsi_lld_ctl_set */
};

/* ---- output PDUs ---- */

struct iscsi_out;
typedef void (*iscsi_out_fn)(struct iscsi_conn *c, struct iscsi_out *o);

/* One PDU on a connection's send queue: header, optional data, padding and digests. */
struct iscsi_out {
	struct list_head entry;          /* conn->txq */
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_DIGEST_LEN];
	uint8_t tail[8];                 /* padding + data digest */
	const uint8_t *data;             /* borrowed: task buffer, ctl buffer, ... */
	uint32_t data_len;
	uint8_t hdr_len;                 /* 48 or 52 */
	uint8_t tail_len;
	uint8_t slot;                    /* index in its task's outs[] */
	bool queued;
	iscsi_out_fn sent;               /* after the last byte left (or the queue was dropped) */
};

/* A control PDU (NOP-In, Reject, TMF/Logout/Text/Login response, Async) from the pool. */
#define ISCSI_CTL_INLINE 64
struct iscsi_ctl {
	struct iscsi_out out;
	struct list_head entry;          /* conn->free_ctl */
	struct iscsi_conn *conn;
	uint8_t inline_data[ISCSI_CTL_INLINE];
	uint8_t *buf;                    /* bufpool buffer for larger data, or NULL */
	size_t buf_cap;
	unsigned int waiting;            /* TMF: aborted tasks still in the core */
	bool tmf_pending;                /* TMF response queued once waiting hits 0 */
	bool close_after;                /* logout/login failure: drain then close */
};

/* ---- tasks ---- */

enum iscsi_task_state {
	ISCSI_TASK_FREE = 0,
	ISCSI_TASK_PENDING,      /* waiting for CmdSN order */
	ISCSI_TASK_DATA,         /* delivered, collecting Data-Out */
	ISCSI_TASK_CORE,         /* lent to the core: only its completion may release it */
	ISCSI_TASK_TX,           /* response on the send queue */
};

enum iscsi_task_kind {
	ISCSI_TASK_SCSI = 0,
	ISCSI_TASK_DEFERRED,     /* an out-of-order NOP-Out/TMF/Text/Logout kept for its turn */
};

#define ISCSI_TASK_OUTS 4        /* Data-In headers in flight per task */

struct iscsi_task {
	struct scsi_cmd cmd;             /* first: container_of from the core's callback */
	struct iscsi_conn *conn;
	struct list_head entry;          /* conn->free_tasks, sess->pending or conn->tasks */
	struct list_head hash;           /* conn->itt_hash bucket */
	enum iscsi_task_state state;
	uint8_t kind;
	uint16_t gen;                    /* TTT generation */
	uint16_t idx;                    /* slot in conn->tasks_mem */
	unsigned int reset_gen;          /* lld->reset_gen when it arrived */
	bool immediate;
	bool counted;                    /* holds a slot of the CmdSN window */
	bool delivered;                  /* its CmdSN turn came */
	bool aborted;
	bool unsol_done;                 /* unsolicited Data-Out sequence ended (F) */
	bool r2t_active;
	bool dout_recover;               /* ERL 1: dropping a Data-Out sequence after a digest error */
	struct iscsi_ctl *tmf;           /* TMF waiting for this task's completion */
	bool reassign;                   /* tmf is a TASK REASSIGN: move the task when done */
	uint32_t reassign_sn;            /* its ExpDataSN */
	uint32_t itt;
	uint32_t cmd_sn;
	uint32_t ttt;
	uint8_t hdr[ISCSI_BHS_LEN];      /* deferred PDUs: the header */
	uint8_t cdb[SCSI_CDB_MAX];
	size_t buf_cap;                  /* bufpool capacity of cmd.buf */
	uint32_t edtl;
	/* Data-Out bookkeeping (DataPDUInOrder/DataSequenceInOrder = Yes) */
	uint32_t data_got;               /* bytes received, contiguous from offset 0 */
	uint32_t unsol_len;              /* bytes the unsolicited sequence may carry */
	uint32_t exp_data_sn;            /* next DataSN in the current sequence */
	uint32_t r2t_sn;                 /* next R2TSN */
	uint32_t r2t_offset;             /* current R2T sequence */
	uint32_t r2t_len;
	uint16_t fail_asc;               /* != 0: answer CHECK CONDITION with this */
	uint8_t fail_key;
	/* Data-In */
	uint32_t din_total;              /* bytes to send */
	uint32_t din_next;               /* offset of the next PDU to build */
	uint32_t din_sn;                 /* next DataSN */
	uint32_t din_burst;              /* bytes in the current Data-In sequence */
	unsigned int outs_busy;
	uint8_t outs_used;               /* bit per outs[] slot on the send queue */
	bool zombie;                     /* released while PDUs were queued */
	bool rsp_queued;                 /* the status-carrying PDU is built */
	bool stuck;                      /* the watchdog logged it */
	bool parked;                     /* ERL >= 1: answered, Data-In kept (conn->parked) */
	uint32_t status_sn;              /* StatSN of its status (read at ERL >= 1) */
	uint32_t din_seg;                /* MaxRecvDSL its Data-In were cut with */
	uint32_t din_acked;              /* DataSN below which a DataACK acknowledged */
	uint32_t rs_next, rs_end, rs_sn; /* Data-In being resent (SNACK): offsets, DataSN */
	uint32_t rs_burst;
	uint32_t rs_tag;                 /* R-Data SNACK Tag: a SCSI Response ends the resend */
	bool rs_rdata;
	uint64_t rx_ns;                  /* when it arrived (age, per-connection latency) */
	struct iscsi_out outs[ISCSI_TASK_OUTS];
	uint8_t sense_seg[2 + SCSI_SENSE_MAX + 2];
};

/* ---- session ---- */

struct iscsi_sess {
	struct iscsi_lld *lld;
	struct list_head entry;          /* lld->sessions (lld->lock) */
	bool linked;                     /* on lld->sessions (lld->lock) */
	atomic_int refs;                 /* the connection + pending messages */
	struct reactor *reactor;         /* immutable: where the session lives */
	struct core_target *tgt;         /* referenced; NULL for discovery */
	struct core_nexus *nexus;        /* NULL for discovery */
	char initiator[224];
	char alias[256];
	uint8_t isid[6];
	uint16_t tsih;
	uint16_t tpgt;                   /* target portal group: part of the I_T nexus */
	bool discovery;
	bool closing;
	struct iscsi_params p;           /* negotiated */
	uint32_t exp_cmd_sn;
	uint32_t max_cmd_sn;             /* last advertised */
	uint32_t queue_cmd;              /* window size (MaxQueueCmd) */
	uint32_t busy;                   /* delivered non-immediate tasks not yet answered */
	struct list_head pending;        /* out-of-order tasks, ascending CmdSN */
	struct list_head conns;          /* struct iscsi_conn (sess_entry) not yet torn down */
	unsigned int nr_conns;           /* on conns */
	struct list_head retained;       /* failed connections keeping tasks (ERL 2, sess_entry) */
	unsigned int nr_retained;
	struct list_head dying;          /* gone, not retained, tasks in the core (sess_entry) */
	unsigned int nr_attached;        /* connections not yet freed: the last releases */
	unsigned int nr_skip;
	uint32_t skip[ISCSI_MAX_QUEUE_CMD]; /* CmdSNs of a failed connection, taken as received */
	struct reactor_msg deliver_msg;  /* deferred iscsi_sess_deliver_pending (deliver_armed) */
	bool deliver_armed;              /* holds a reference until it runs */
};

/* ---- connection ---- */

/*
 * Connection states (conn.c has the diagram). One transition function,
 * iscsi_conn_state_set(), logs and checks every change.
 */
enum iscsi_conn_state {
	ISCSI_CONN_LOGIN = 0,    /* login phase: only Login Requests */
	ISCSI_CONN_FFP,          /* full feature phase */
	ISCSI_CONN_DRAIN,        /* stop reading, flush the send queue, then close */
	ISCSI_CONN_CLOSED,       /* socket closed; waiting for tasks lent to the core */
};

enum iscsi_rx_state {
	ISCSI_RX_BHS = 0,
	ISCSI_RX_HDR_REST,       /* AHS and header digest */
	ISCSI_RX_DATA,
	ISCSI_RX_TAIL,           /* padding and data digest */
};

#define ISCSI_RXBUF_LEN      65536u
#define ISCSI_RX_PDU_BUDGET  64u
#define ISCSI_ITT_BUCKETS    256u
#define ISCSI_CTL_POOL       32u
#define ISCSI_IMM_SLACK      16u
#define ISCSI_TX_IOV         64u
#define ISCSI_LOGIN_TIMEOUT_MS 15000u
#define ISCSI_CONNS_MAX        1024u   /* accepted connections, all states (lld.c) */
#define ISCSI_DEF_INITIATOR_CONNS 512u /* connections from one address (limits.c) */
#define ISCSI_DEF_MAX_SESSIONS 512u    /* sessions of one target (session.c) */
#define ISCSI_DRAIN_TIMEOUT_MS 5000u
#define ISCSI_TGT_GONE_GRACE_S 2u   /* Async logout request on target removal: Parameter3 */

struct iscsi_rx {
	enum iscsi_rx_state state;
	uint8_t *buf;                    /* read-ahead buffer (bufpool) */
	size_t buf_cap;
	uint32_t start;                  /* first unparsed byte */
	uint32_t end;                    /* one past the last byte read */
	uint8_t hdr[ISCSI_BHS_LEN + ISCSI_AHS_MAX + ISCSI_DIGEST_LEN];
	uint32_t hdr_have;
	uint32_t hdr_need;
	struct iscsi_bhs_info info;
	uint8_t *dst;                    /* where the data segment goes, NULL: discard */
	uint32_t dhave;
	uint8_t tail[8];
	uint8_t tail_have;
	uint8_t tail_need;
	bool ddigest;                    /* a data digest follows this PDU's data */
	bool bad_opcode;                 /* an opcode initiators never send */
	uint8_t reject;                  /* != 0: answer with this Reject reason at the end */
	bool defer_armed;                /* rx_msg queued */
	struct iscsi_task *task;         /* task the data belongs to (command / Data-Out) */
	uint8_t *scratch;                /* bufpool buffer for non-SCSI data */
	size_t scratch_cap;
	bool paused;                     /* out of tasks/ctl PDUs: EPOLLIN off */
	bool large;                      /* the last data segment was large: read ahead little */
};

struct iscsi_login;

/*
 * A transport moves PDU bytes (xport_tcp.c). Readiness comes from the reactor watch on
 * conn->fd (a socket, or an RDMA completion channel for a future iSER transport).
 * recv/send return bytes moved, -EAGAIN, or -errno; 0 from recv is the peer's close.
 */
struct iscsi_xport {
	const char *name;
	void (*setup)(struct iscsi_conn *c);  /* options; fills c->peer and c->local */
	ssize_t (*recv)(struct iscsi_conn *c, const struct iovec *iov, int n);
	ssize_t (*send)(struct iscsi_conn *c, const struct iovec *iov, int n);
	void (*close)(struct iscsi_conn *c);
};

extern const struct iscsi_xport iscsi_xport_tcp;

/*
 * Per-connection counters. The connection's reactor is the only writer (iscsi_stat_add: a
 * relaxed load and store, no locked instruction); mgmt reads them relaxed through
 * iscsi_lld_conn_foreach while lld->pub_lock keeps the connection alive.
 */
struct iscsi_conn_stats {
	atomic_uint_fast64_t pdus_in;
	atomic_uint_fast64_t pdus_out;
	atomic_uint_fast64_t bytes_in;
	atomic_uint_fast64_t bytes_out;
	atomic_uint_fast64_t cmds;             /* SCSI commands answered */
	atomic_uint_fast64_t digest_errors;    /* header and data */
	atomic_uint_fast64_t r2ts;
	atomic_uint_fast64_t rejects;
	atomic_uint_fast64_t lat_sum_us;       /* arrival to response queued */
	atomic_uint_fast64_t lat_hist[CORE_LAT_BUCKETS];
};

static inline void iscsi_stat_add(atomic_uint_fast64_t *v, uint64_t n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Who a connection is, for mgmt (lld->pub_lock); set when it enters the FFP. */
struct iscsi_conn_pub {
	bool ffp;
	bool discovery;
	uint32_t tid;
	uint16_t tsih;
	char isid[13];                   /* hex */
	char target[224];
	char initiator[224];
};

struct iscsi_conn {
	struct iscsi_lld *lld;
	struct iscsi_rstate *rs;
	struct reactor *reactor;
	struct list_head entry;          /* rs->conns */
	enum iscsi_conn_state state;
	const struct iscsi_xport *xport;
	int fd;
	struct reactor_watch watch;
	struct reactor_timer timer;      /* login timeout / drain timeout */
	struct reactor_timer nop_timer;
	struct reactor_msg rx_msg;       /* receive continuation (rx.defer_armed) */
	struct reactor_msg tx_msg;       /* send at the end of the batch (tx_scheduled) */
	bool tx_scheduled;
	struct reactor_msg free_msg;     /* deferred free (free_scheduled) */
	bool free_scheduled;
	struct sockaddr_storage peer;
	struct sockaddr_storage local;
	uint16_t tpgt;                   /* portal group the connection arrived on (login) */
	char peer_str[64];
	struct iscsi_sess *sess;
	struct list_head sess_entry;     /* sess->conns */
	bool handed_over;                /* its first Login Request came from another reactor */
	bool retained;                   /* CLOSED, tasks kept for TASK REASSIGN (ERL 2) */
	bool no_retain;                  /* an orderly end (logout, session close): no retention */
	struct iscsi_login *login;       /* login phase only */
	uint16_t cid;
	uint32_t stat_sn;                /* next StatSN */
	uint32_t exp_stat_sn;
	struct iscsi_rtx *rtx;           /* ERL >= 1: responses kept for Status SNACK */
	struct list_head parked;         /* ERL >= 1: answered reads kept for Data SNACK */
	unsigned int nr_parked;
	size_t parked_bytes;
	bool hdigest;
	bool ddigest;
	uint32_t max_recv_dsl;           /* ours */
	uint32_t max_xmit_dsl;           /* the initiator's */
	bool logout_pending;             /* logout response waits for tasks in the core */
	struct iscsi_ctl *logout_rsp;
	bool async_sent;
	/* receive */
	struct iscsi_rx rx;
	/* send */
	struct list_head txq;            /* struct iscsi_out */
	size_t tx_off;                   /* bytes of the head already sent */
	bool want_out;
	/* pools */
	struct iscsi_task *tasks_mem;
	unsigned int nr_tasks;
	struct list_head free_tasks;
	unsigned int free_task_count;
	struct list_head tasks;          /* tasks not free and not pending */
	struct list_head itt_hash[ISCSI_ITT_BUCKETS];
	struct iscsi_ctl ctl_mem[ISCSI_CTL_POOL];
	struct list_head free_ctl;
	unsigned int free_ctl_count;
	unsigned int core_busy;          /* tasks lent to the core */
	/* text (SendTargets) continuation */
	char *text_buf;
	size_t text_len;
	size_t text_sent;
	uint32_t text_itt;
	uint32_t text_ttt;
	char *text_req;                  /* multi-PDU text request being gathered */
	size_t text_req_len;
	/* NOP-In pings */
	uint32_t nop_interval_s;
	uint32_t nop_count;
	uint32_t nop_missed;
	uint32_t nop_ttt;
	struct log_ratelimit rl;
	struct log_bucket log_tb;        /* iscsi_conn_log's per-connection token bucket */
	struct iscsi_conn_stats stats;   /* written by this reactor only, read relaxed */
	struct iscsi_conn_pub pub;       /* identity for mgmt (lld->pub_lock) */
};

/* ---- lld.c ---- */
void iscsi_lld_conn_gone(struct iscsi_lld *lld);
/* Copies the target's parameters (or the defaults). */
void iscsi_tgt_params_get(struct core_target *tgt, struct iscsi_params *out);
/* Snapshot of portals for SendTargets. Returns the count. */
unsigned int iscsi_lld_portals(struct iscsi_lld *lld, struct iscsi_portal *out, unsigned int max);
/* The portal group tag of the portal a connection reached at local (1 when none matches). */
uint16_t iscsi_lld_portal_tpgt(struct iscsi_lld *lld, const struct sockaddr_storage *local);
/* Names (ascending tid) of the targets; returns the count. */
unsigned int iscsi_lld_target_names(struct iscsi_lld *lld, char (*names)[224], unsigned int max);

/* ---- limits.c ---- */
int iscsi_limits_init(struct iscsi_lld *lld);
void iscsi_limits_fini(struct iscsi_lld *lld);
uint64_t iscsi_lld_login_timeout_ms(struct iscsi_lld *lld);
/* Counts a connection from peer: -EUSERS when its address is at max_initiator_conns. */
int iscsi_lld_addr_get(struct iscsi_lld *lld, const struct sockaddr_storage *peer);
void iscsi_lld_addr_put(struct iscsi_lld *lld, const struct sockaddr_storage *peer);
unsigned int iscsi_lld_addr_conns(struct iscsi_lld *lld, const struct sockaddr_storage *peer);

/* ---- tgtparam.c ---- */
/* TargetAlias / Redirect*: 0, -ENOENT (not one of them), -EINVAL. */
int iscsi_tgt_str_set(struct iscsi_tgt *it, const char *key, const char *value);
void iscsi_tgt_str_foreach(struct iscsi_tgt *it, iscsi_param_fn fn, void *arg);
/* The alias of tgt ("" when none). */
void iscsi_tgt_alias(struct core_target *tgt, char *out, size_t cap);
/* Redirection of tgt: 0, or the login status with the TargetAddress value in addr. */
uint16_t iscsi_tgt_redirect(struct core_target *tgt, char *addr, size_t cap);

/* ---- introspect.c ---- */
void iscsi_introspect_init(struct iscsi_lld *lld);
void iscsi_introspect_fini(struct iscsi_lld *lld);
/* A new connection on its reactor: links it in rs->conns, starts the watchdog. */
void iscsi_conn_pub_attach(struct iscsi_conn *c);
/* Unlinks the connection from rs->conns (before it is freed). */
void iscsi_conn_pub_detach(struct iscsi_conn *c);
/* Publishes the identity of a connection entering the FFP. */
void iscsi_conn_pub_ffp(struct iscsi_conn *c);
/* A SCSI command answered: count it with its latency. */
void iscsi_conn_stat_cmd(struct iscsi_conn *c, const struct iscsi_task *t);

/* ---- conn.c ---- */
int iscsi_conn_new(struct iscsi_rstate *rs, int fd);
/*
 * A first Login Request with the TSIH of a session on another reactor: hands the socket, the
 * PDU (header, text: rx.info.dsl bytes) and the read-ahead bytes over to that reactor and
 * closes c without closing the socket.
 * 0 when handed over (c is closed), -errno when the login goes on here.
 */
int iscsi_conn_handover(struct iscsi_conn *c, uint16_t tsih, const uint8_t *text);
void iscsi_conn_state_set(struct iscsi_conn *c, enum iscsi_conn_state st);
/* Drops the connection now (error or peer gone). */
void iscsi_conn_close(struct iscsi_conn *c, const char *why);
/* Stops reading, sends what is queued, then closes. */
void iscsi_conn_drain(struct iscsi_conn *c);
void iscsi_conn_queue(struct iscsi_conn *c, struct iscsi_out *o);
/* Fills hdr digest and data tail (padding, data digest) of o before queueing. */
void iscsi_out_seal(struct iscsi_conn *c, struct iscsi_out *o);
struct iscsi_ctl *iscsi_ctl_get(struct iscsi_conn *c);
void iscsi_ctl_put(struct iscsi_conn *c, struct iscsi_ctl *ctl);
/* Gives ctl a data buffer of len bytes (inline or from the pool). NULL on ENOMEM. */
uint8_t *iscsi_ctl_data(struct iscsi_conn *c, struct iscsi_ctl *ctl, size_t len);
void iscsi_ctl_send(struct iscsi_conn *c, struct iscsi_ctl *ctl, uint32_t data_len);
/* Queues a Reject for the header in rx.hdr (§11.17). */
void iscsi_conn_reject(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason);
/* Fills StatSN/ExpCmdSN/MaxCmdSN at offsets 24/28/32; advances StatSN when advance. */
void iscsi_conn_fill_sn(struct iscsi_conn *c, uint8_t *bhs, bool advance);
void iscsi_conn_rx_resume(struct iscsi_conn *c);
void iscsi_conn_log(struct iscsi_conn *c, enum log_level lvl, const char *fmt, ...)
	__printf(3, 4);
#define conn_dbg(c, ...)                                                                          \
	do {                                                                                      \
		if (unlikely(log_get_level() >= LOG_LVL_DBG))                                     \
			iscsi_conn_log(c, LOG_LVL_DBG, __VA_ARGS__);                              \
	} while (0)
void iscsi_conn_maybe_free(struct iscsi_conn *c);
void iscsi_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len, bool with_port);

/* ---- rx.c ---- */
void iscsi_conn_rx_run(struct iscsi_conn *c);
void iscsi_rx_reset(struct iscsi_conn *c);
/* Scratch buffer for a non-SCSI data segment of len bytes (NULL for 0 or ENOMEM). */
uint8_t *iscsi_rx_scratch(struct iscsi_conn *c, uint32_t len);

/* ---- login.c ---- */
void iscsi_login_free(struct iscsi_conn *c);
/* PDU handlers: start decides where the data segment goes; end processes the PDU. */
uint8_t *iscsi_login_rx_start(struct iscsi_conn *c);
int iscsi_login_rx_end(struct iscsi_conn *c);

/* ---- chap.c: CHAP authentication (RFC 7143 §12.1.3, RFC 1994) ---- */

#define ISCSI_CHAP_DIGEST_MAX    32u    /* SHA-256 / SHA3-256 */
#define ISCSI_CHAP_CHALLENGE_MAX 1024u  /* an initiator's (mutual) challenge, decoded */

enum iscsi_chap_state {
	ISCSI_CHAP_OFF = 0,      /* AuthMethod=CHAP not selected */
	ISCSI_CHAP_WAIT_A,       /* CHAP selected: waiting for CHAP_A */
	ISCSI_CHAP_WAIT_R,       /* challenge sent: waiting for CHAP_N/CHAP_R */
	ISCSI_CHAP_DONE,         /* the initiator (and, mutual, we) proved the secret */
	ISCSI_CHAP_FAILED,
};

/* One login's CHAP exchange; embedded in the login state. */
struct iscsi_chap {
	struct core_root *root;
	struct iscsi_conn *conn;         /* for logs */
	uint32_t tid;                    /* CORE_ACCOUNT_GLOBAL for discovery */
	bool required;                   /* an incoming account is bound: CHAP is mandatory */
	enum iscsi_chap_state state;
	uint8_t alg;                     /* index in chap.c's algorithm table */
	uint8_t id;                      /* CHAP_I we sent */
	uint8_t challenge[ISCSI_CHAP_DIGEST_MAX];
	uint8_t challenge_len;
	/* CHAP_* values of the request being processed (point into the login text) */
	const char *val_a, *val_i, *val_c, *val_n, *val_r;
};

/* Starts the exchange of a login admitted to tid (CORE_ACCOUNT_GLOBAL: discovery). */
void iscsi_chap_init(struct iscsi_chap *ch, struct iscsi_conn *c, struct core_root *root,
		     uint32_t tid);
/* AuthMethod offer in the security stage: answers CHAP or None. Returns a login status. */
uint16_t iscsi_chap_method(struct iscsi_chap *ch, const char *offer, struct iscsi_text *out);
/* Records one CHAP_* key of the current request. Returns a login status. */
uint16_t iscsi_chap_key(struct iscsi_chap *ch, const char *key, const char *val);
/* After every key of a request: challenge, verification, mutual answer. A login status. */
uint16_t iscsi_chap_step(struct iscsi_chap *ch, struct iscsi_text *out);
/* May the login leave the security stage? (CHAP done, or no authentication required) */
bool iscsi_chap_ok(const struct iscsi_chap *ch);
/* Wipes the exchange state. */
void iscsi_chap_fini(struct iscsi_chap *ch);

/* CHAP binary values (RFC 7143 §6.1): "0x" hex or "0b" base64 to bytes. Length or -EINVAL. */
int iscsi_chap_decode(const char *s, uint8_t *out, size_t cap);
/* Bytes to "0x" + lowercase hex; -ENOSPC when out is too small. */
int iscsi_chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t cap);
/* CHAP_A list to the strongest algorithm we support (8, 7, 6, 5), or 0 for none. */
unsigned int iscsi_chap_alg_select(const char *list);
/* RFC 1994 response: digest(id || secret || challenge) of CHAP_A alg. Length or -errno. */
int iscsi_chap_response(unsigned int alg, uint8_t id, const uint8_t *secret, size_t slen,
			const uint8_t *chal, size_t clen, uint8_t *out);

/* ---- session.c ---- */
/* nop_interval/nop_count of tgt changed: live sessions of tgt pick the new values up. */
void iscsi_sess_nop_update(struct iscsi_lld *lld, struct core_target *tgt);
int iscsi_sess_create(struct iscsi_conn *c, struct core_target *tgt, const char *initiator,
		      const char *alias, const uint8_t *isid, bool discovery,
		      const struct iscsi_params *p, uint32_t exp_cmd_sn);
/*
 * Looks up the live session of a TSIH≠0 login (same target, initiator, ISID and TSIH).
 * Returns it referenced, or NULL; *other_tpgt tells a session found in another portal group.
 */
struct iscsi_sess *iscsi_sess_find(struct iscsi_lld *lld, struct core_target *tgt,
				   uint16_t tpgt, const char *initiator, const uint8_t *isid,
				   uint16_t tsih, bool *other_tpgt);
/* The reactor of the live session with this TSIH (NULL if none): where its logins go. */
struct reactor *iscsi_sess_tsih_reactor(struct iscsi_lld *lld, uint16_t tsih);
/* May a connection with cid join s? A login status (0, 02/06, 02/0a). */
uint16_t iscsi_sess_conn_check(struct iscsi_sess *s, uint16_t cid);
/* Adds c (on the session's reactor) to s; a live connection with the same CID is closed. */
int iscsi_sess_conn_add(struct iscsi_sess *s, struct iscsi_conn *c);
/* The connection of s with cid in the full feature phase, or NULL. */
struct iscsi_conn *iscsi_sess_conn_find(struct iscsi_sess *s, uint16_t cid);
/* The SCSI task with itt on any connection of s, or NULL (ITTs are per session). */
struct iscsi_task *iscsi_sess_find_itt(struct iscsi_sess *s, uint32_t itt);
/*
 * Is itt in use by a task of another connection of s than c, live or retained (§11.2.1.7:
 * an ITT names one task session-wide)? Cheap when s has one connection.
 */
bool iscsi_sess_itt_busy(struct iscsi_sess *s, const struct iscsi_conn *c, uint32_t itt);
/* Closes every connection of s but keep (NULL: all of them). */
void iscsi_sess_close_conns(struct iscsi_sess *s, struct iscsi_conn *keep, const char *why);
/* The connection went away: its pending CmdSNs, unlink, detach from the nexus. */
void iscsi_sess_conn_gone(struct iscsi_sess *s, struct iscsi_conn *c);
/*
 * ERL 2: the failed connection c keeps its tasks for TASK REASSIGN until Time2Wait +
 * Time2Retain (true), or not (false: ERL < 2, shutdown, session closing).
 */
bool iscsi_sess_conn_retain(struct iscsi_sess *s, struct iscsi_conn *c);
/* End of the retention of c (timer, shutdown, last task moved): its tasks are dropped. */
void iscsi_sess_retain_end(struct iscsi_conn *c);
/* A retained task finished in the core (cmd.c): a TASK REASSIGN waiting for it moves it. */
void iscsi_sess_task_retained(struct iscsi_task *t);
/*
 * A task reassigned before its CmdSN turn (kept by iscsi_sess_conn_gone at ERL 2): waits for
 * it again, or is delivered now when its CmdSN was passed meanwhile.
 */
void iscsi_sess_task_readmit(struct iscsi_sess *s, struct iscsi_task *t);
/* cmd.c: a CLOSED connection's last task came back from the core; it leaves s->dying. */
void iscsi_sess_conn_idle(struct iscsi_conn *c);
/* A connection of s is freed; the last one frees nexus and TSIH. */
void iscsi_sess_conn_free(struct iscsi_sess *s);
/* After the session's last connection: free nexus and TSIH. */
void iscsi_sess_release(struct iscsi_sess *s);
void iscsi_sess_get(struct iscsi_sess *s);
void iscsi_sess_put(struct iscsi_sess *s);
/* Current MaxCmdSN (never decreases). */
uint32_t iscsi_sess_max_cmd_sn(struct iscsi_sess *s);
/*
 * CmdSN check for a non-immediate PDU: 0 in window, -ERANGE outside (silently ignored,
 * §4.2.2.1).
 */
int iscsi_sess_cmd_sn_check(struct iscsi_sess *s, uint32_t cmd_sn);
/* Adds t to the CmdSN order; delivers it and any queued successors when its turn came. */
void iscsi_sess_order(struct iscsi_sess *s, struct iscsi_task *t);
/* Advances ExpCmdSN for an in-order control PDU (before its answer is built). */
void iscsi_sess_cmd_sn_advance(struct iscsi_sess *s);
/*
 * A non-immediate command in the window (cmd_sn checked) rejected before it became a task:
 * its CmdSN counts as received, so it is no gap holding later commands. Those waiting behind
 * it are delivered from a deferred call (the caller is in the middle of a receive).
 */
void iscsi_sess_cmd_sn_take(struct iscsi_sess *s, uint32_t cmd_sn);
/* Delivers queued tasks whose turn came. */
void iscsi_sess_deliver_pending(struct iscsi_sess *s);

/* ---- cmd.c ---- */
int iscsi_conn_tasks_alloc(struct iscsi_conn *c, unsigned int nr);
void iscsi_task_progress(struct iscsi_task *t);
struct iscsi_task *iscsi_task_get(struct iscsi_conn *c);
void iscsi_task_release(struct iscsi_task *t);
/* The residual flags (ISCSI_RSP_OVER/UNDER, equal to the Data-In ones) and count of t. */
void iscsi_task_residual(const struct iscsi_task *t, uint8_t *flags, uint32_t *count);
/* A free PDU slot of t (outs[]), counted in outs_busy; NULL when all are on the send queue. */
struct iscsi_out *iscsi_task_out_get(struct iscsi_task *t);
/*
 * Ends the Data-In whose header the caller built in o: DataSN sn, len bytes of t's buffer
 * from off, digests; then queues it. First sends (cmd.c) and resends (recovery.c).
 */
void iscsi_datain_send(struct iscsi_task *t, struct iscsi_out *o, uint32_t sn, uint32_t off,
		       uint32_t len);
struct iscsi_task *iscsi_task_find_itt(struct iscsi_conn *c, uint32_t itt);
void iscsi_task_hash_add(struct iscsi_task *t);
uint8_t *iscsi_cmd_rx_start(struct iscsi_conn *c);
int iscsi_cmd_rx_end(struct iscsi_conn *c, bool digest_ok);
uint8_t *iscsi_dataout_rx_start(struct iscsi_conn *c);
int iscsi_dataout_rx_end(struct iscsi_conn *c, bool digest_ok);
/* recovery.c: ErrorRecoveryLevel 1 */
bool iscsi_recovery_dataout_digest(struct iscsi_conn *c, struct iscsi_task *t);
void iscsi_recovery_dataout_skipped(struct iscsi_conn *c, struct iscsi_task *t);
void iscsi_recovery_conn_start(struct iscsi_conn *c);
void iscsi_recovery_conn_free(struct iscsi_conn *c);
void iscsi_recovery_keep(struct iscsi_conn *c, const struct iscsi_out *o);
int iscsi_recovery_snack(struct iscsi_conn *c, const uint8_t *bhs);
/* Data-In kept after the status (ERL >= 1): park, acknowledge, resend, drop. */
bool iscsi_recovery_park(struct iscsi_task *t);
void iscsi_recovery_unpark(struct iscsi_task *t);
void iscsi_recovery_exp_stat_sn(struct iscsi_conn *c, uint32_t exp_stat_sn);
bool iscsi_recovery_reclaim(struct iscsi_conn *c);
void iscsi_recovery_drop_all(struct iscsi_conn *c);
void iscsi_recovery_sent(struct iscsi_task *t);
/* Its CmdSN turn came (or immediate): start data transfer or execute. */
void iscsi_task_deliver(struct iscsi_task *t);
/* Aborts t (TMF, LU reset, logout): now if not in the core, else at its completion. */
void iscsi_task_abort(struct iscsi_task *t, struct iscsi_ctl *tmf);
/* Window slot accounting. */
void iscsi_task_uncount(struct iscsi_task *t);
/* Sends the answer of a finished task (Data-In from din_next/din_sn, status): reassignment. */
void iscsi_task_respond(struct iscsi_task *t);

/* ---- nop.c ---- */
void iscsi_nop_init(struct iscsi_conn *c);
int iscsi_nop_rx_end(struct iscsi_conn *c, const uint8_t *bhs, const uint8_t *data);
void iscsi_nop_start(struct iscsi_conn *c);
void iscsi_async_logout_send(struct iscsi_conn *c, unsigned int grace_s);

/* ---- tmf.c ---- */
int iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs);
/* A task waited on by a TMF came back (or was dropped). */
void iscsi_tmf_task_done(struct iscsi_conn *c, struct iscsi_ctl *tmf);
/* Aborts the session's tasks on lun (another nexus reset it). */
void iscsi_tmf_abort_lun(struct iscsi_conn *c, uint64_t lun, struct iscsi_ctl *tmf);
/* Another nexus reset lun at generation gen: aborts the tasks that arrived before it. */
void iscsi_tmf_abort_lun_before(struct iscsi_conn *c, uint64_t lun, unsigned int gen);
/* TASK REASSIGN waiting on t (done in the core): moves it to the TMF's connection now. */
void iscsi_tmf_reassign_done(struct iscsi_task *t);

/* ---- text.c ---- */
int iscsi_text_rx(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data);

/* ---- logout.c ---- */
int iscsi_logout_rx(struct iscsi_conn *c, const uint8_t *bhs);
/* The connection's last task in the core came back: a pending logout can answer now. */
void iscsi_logout_check(struct iscsi_conn *c);

/* ---- dispatch of a delivered deferred PDU (conn.c) ---- */
int iscsi_conn_ctl_dispatch(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data);

#endif
