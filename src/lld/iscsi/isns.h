/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lld/iscsi iSNS client (RFC 4171): registers the entity, its portals (with their portal
 * groups) and every target with an iSNS server, keeps the registration alive, registers for
 * and logs state change notifications, answers ESI, and deregisters on shutdown. Private to
 * lld/iscsi: the codec half (isns_msg_*, isns_hdr_parse, isns_tlv_next) is exposed for unit
 * tests; the client half (iscsi_isns_*) runs on the control reactor only.
 *
 * Prefixes owned: isns_ (codec), iscsi_isns_ (client).
 */
#ifndef UTGT_LLD_ISCSI_ISNS_H
#define UTGT_LLD_ISCSI_ISNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iscsi_lld;
struct iscsi_isns;

/* ---- codec (RFC 4171 §5.1 header, §5.5/§6 TLV attributes) ---- */

#define ISNS_HDR_LEN      12
#define ISNS_VERSION      1
#define ISNS_PAYLOAD_MAX  65532          /* PDU Length is 16 bits and 4-byte aligned */
#define ISNS_DEFAULT_PORT 3205

/* clang-format off */
#define ISNS_FUNC_DEV_ATTR_REG    0x0001
#define ISNS_FUNC_DEV_ATTR_QRY    0x0002
#define ISNS_FUNC_DEV_DEREG       0x0004
#define ISNS_FUNC_SCN_REG         0x0005
#define ISNS_FUNC_SCN             0x0008
#define ISNS_FUNC_ESI             0x000d
#define ISNS_FUNC_HEARTBEAT       0x000e
#define ISNS_FUNC_RSP             0x8000 /* bit set in every response function ID */

#define ISNS_FLAG_CLIENT          (1u << 15)
#define ISNS_FLAG_SERVER          (1u << 14)
#define ISNS_FLAG_REPLACE         (1u << 12)
#define ISNS_FLAG_LAST_PDU        (1u << 11)
#define ISNS_FLAG_FIRST_PDU       (1u << 10)

#define ISNS_ATTR_DELIMITER       0
#define ISNS_ATTR_EID             1
#define ISNS_ATTR_ENTITY_PROTOCOL 2
#define ISNS_ATTR_TIMESTAMP       4
#define ISNS_ATTR_REG_PERIOD      6
#define ISNS_ATTR_PORTAL_IP       16
#define ISNS_ATTR_PORTAL_PORT     17
#define ISNS_ATTR_SCN_PORT        23
#define ISNS_ATTR_ISCSI_NAME      32
#define ISNS_ATTR_ISCSI_NODE_TYPE 33
#define ISNS_ATTR_ISCSI_SCN_BITMAP 35
#define ISNS_ATTR_PG_ISCSI_NAME   48
#define ISNS_ATTR_PG_PORTAL_IP    49
#define ISNS_ATTR_PG_PORTAL_PORT  50
#define ISNS_ATTR_PG_TAG          51
/* clang-format on */

#define ISNS_ENTITY_PROTOCOL_ISCSI 2
#define ISNS_NODE_TARGET           1u
#define ISNS_NAME_MAX              224   /* iSCSI name, with its NUL, as RFC 7143 §4.2.7.1 */

/* A parsed header. */
struct isns_hdr {
	uint16_t version;
	uint16_t func;
	uint16_t len;                    /* payload bytes after the header */
	uint16_t flags;
	uint16_t xid;                    /* transaction ID */
	uint16_t seq;
};

/* A message being built into caller memory. Overflow is sticky and reported by finish. */
struct isns_msg {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
};

/* One attribute inside a received payload; val points into it. */
struct isns_tlv {
	uint32_t tag;
	uint32_t len;
	const uint8_t *val;
};

/* Starts a message (header with length 0) in mem[0..cap-1]. */
void isns_msg_init(struct isns_msg *m, uint8_t *mem, size_t cap, uint16_t func, uint16_t flags,
		   uint16_t xid);
/* Appends a TLV; val (len bytes, may be NULL when len is 0) is zero-padded to 4 bytes. */
void isns_msg_put(struct isns_msg *m, uint32_t tag, const void *val, uint32_t len);
void isns_msg_put_u32(struct isns_msg *m, uint32_t tag, uint32_t v);
/* A NUL-terminated string attribute (RFC 4171 §5.5: the length includes the NUL). */
void isns_msg_put_str(struct isns_msg *m, uint32_t tag, const char *s);
/* An IPv6 (or v4-mapped) 16-byte address attribute from a sockaddr. -EAFNOSUPPORT. */
int isns_msg_put_addr(struct isns_msg *m, uint32_t tag, const void *sa);
/* Writes the payload length. Returns the total PDU size, or -EMSGSIZE. */
int isns_msg_finish(struct isns_msg *m);

/*
 * Parses the 12-byte header at p (len bytes available). 0, -EAGAIN (fewer than 12 bytes) or
 * -EPROTO (wrong version, unaligned length).
 */
int isns_hdr_parse(const uint8_t *p, size_t len, struct isns_hdr *h);
/*
 * Walks the TLVs of payload p[0..len-1] from *off. 1 with *t filled and *off advanced, 0 at the
 * end, -EPROTO when an attribute runs past len or its length is not a multiple of 4.
 */
int isns_tlv_next(const uint8_t *p, size_t len, size_t *off, struct isns_tlv *t);

/* ---- client (control reactor only) ---- */

/*
 * Sets an iSNS parameter, tgt's names (case-insensitive): iSNSServerIP (numeric IPv4/IPv6),
 * iSNSServerPort (1-65535, default 3205), iSNSAccessControl (Off; On is refused: not
 * implemented), iSNS (On/Off: starts or stops the client). Changing the server while on
 * reconnects. Creates lld's client state on first use; must run on the control reactor's
 * thread. 0, -ENOENT (not an iSNS name), -EINVAL (bad value), -EOPNOTSUPP, -ENOMEM.
 */
int iscsi_isns_param_set(struct iscsi_lld *lld, const char *name, const char *value);
/* Deregisters the entity (blocking, at most 1 s) and closes the connection. NULL is fine. */
void iscsi_isns_stop(struct iscsi_isns *is);
void iscsi_isns_free(struct iscsi_isns *is);

#endif
