// SPDX-License-Identifier: GPL-2.0-only
/*
 * iSNS client (RFC 4171) on the control reactor: one non-blocking TCP connection to the
 * server carries DevAttrReg/DevAttrQry/DevDereg/SCNReg; a listening SCN port takes the
 * server's state change notifications (and ESI, answered on whichever link it came).
 *
 * States:  OFF --iSNS=On--> WAIT --timer--> CONNECTING --connected--> UP
 *          any --error/EOF/reply timeout/bad PDU--> WAIT (backoff 1 s, doubling to 60 s)
 *          any --iSNS=Off or shutdown--> OFF (DevDereg first when registered)
 * Invariants: fd >= 0 exactly in CONNECTING and UP; registration messages are only queued in
 * UP; every byte from the server is parsed with isns_hdr_parse/isns_tlv_next within the bounds
 * of rx.buf (ISNS_HDR_LEN + ISNS_PAYLOAD_MAX), so a hostile server can only cause a reconnect.
 * A 1 s tick compares a signature of the targets and portals with what was last registered
 * (so target add/delete re-registers within a second), refreshes the registration at half
 * the server's registration period and drops a connection whose replies stop for 10 s.
 */
#include "lld/iscsi/isns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lld/iscsi/iscsi_int.h"
#include "reactor/reactor.h"

/* ---- codec ---- */

void isns_msg_init(struct isns_msg *m, uint8_t *mem, size_t cap, uint16_t func, uint16_t flags,
		   uint16_t xid)
{
	m->p = mem;
	m->cap = cap;
	m->len = ISNS_HDR_LEN;
	m->overflow = cap < ISNS_HDR_LEN;
	if (m->overflow)
		return;
	put_be16(mem, ISNS_VERSION);
	put_be16(mem + 2, func);
	put_be16(mem + 4, 0);
	put_be16(mem + 6, flags);
	put_be16(mem + 8, xid);
	put_be16(mem + 10, 0);
}

void isns_msg_put(struct isns_msg *m, uint32_t tag, const void *val, uint32_t len)
{
	size_t padded = ((size_t)len + 3) & ~(size_t)3;

	if (m->overflow || m->cap - m->len < 8 || m->cap - m->len - 8 < padded) {
		m->overflow = true;
		return;
	}
	put_be32(m->p + m->len, tag);
	put_be32(m->p + m->len + 4, (uint32_t)padded);
	if (len)
		memcpy(m->p + m->len + 8, val, len);
	memset(m->p + m->len + 8 + len, 0, padded - len);
	m->len += 8 + padded;
}

void isns_msg_put_u32(struct isns_msg *m, uint32_t tag, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	isns_msg_put(m, tag, b, 4);
}

void isns_msg_put_str(struct isns_msg *m, uint32_t tag, const char *s)
{
	isns_msg_put(m, tag, s, (uint32_t)strlen(s) + 1);
}

int isns_msg_put_addr(struct isns_msg *m, uint32_t tag, const void *sa)
{
	const struct sockaddr *a = sa;
	uint8_t ip[16] = { 0 };

	if (a->sa_family == AF_INET) {
		/* RFC 4171 §6.3.1: IPv4 as an IPv4-mapped IPv6 address */
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (a->sa_family == AF_INET6) {
		memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	isns_msg_put(m, tag, ip, 16);
	return 0;
}

int isns_msg_finish(struct isns_msg *m)
{
	if (m->overflow || m->len - ISNS_HDR_LEN > ISNS_PAYLOAD_MAX)
		return -EMSGSIZE;
	put_be16(m->p + 4, (uint16_t)(m->len - ISNS_HDR_LEN));
	return (int)m->len;
}

int isns_hdr_parse(const uint8_t *p, size_t len, struct isns_hdr *h)
{
	if (len < ISNS_HDR_LEN)
		return -EAGAIN;
	h->version = get_be16(p);
	h->func = get_be16(p + 2);
	h->len = get_be16(p + 4);
	h->flags = get_be16(p + 6);
	h->xid = get_be16(p + 8);
	h->seq = get_be16(p + 10);
	if (h->version != ISNS_VERSION || (h->len & 3))
		return -EPROTO;
	return 0;
}

int isns_tlv_next(const uint8_t *p, size_t len, size_t *off, struct isns_tlv *t)
{
	size_t o = *off;

	if (o >= len)
		return 0;
	if (len - o < 8)
		return -EPROTO;
	t->tag = get_be32(p + o);
	t->len = get_be32(p + o + 4);
	if ((t->len & 3) || t->len > len - o - 8)
		return -EPROTO;
	t->val = p + o + 8;
	*off = o + 8 + t->len;
	return 1;
}

/* ---- client ---- */

#define ISNS_TICK_MS        1000
#define ISNS_BACKOFF_MIN_MS 1000
#define ISNS_BACKOFF_MAX_MS 60000
#define ISNS_REPLY_MS       10000
#define ISNS_PERIOD_DEF_S   30          /* until the server tells us (tgt's default too) */
#define ISNS_TX_MAX         (256 * 1024)
#define ISNS_PDUS_PER_WAKE  64
/* RFC 4171 §6.4.4: initiator-and-self only, object removed/added/updated, DD member -/+ */
#define ISNS_SCN_BITMAP     0x9fu

enum iscsi_isns_state {
	ISNS_ST_OFF,
	ISNS_ST_WAIT,
	ISNS_ST_CONNECTING,
	ISNS_ST_UP,
};

/* A receiving link: the server connection or the accepted SCN connection. */
struct isns_link {
	int fd;
	struct reactor_watch w;
	size_t rx_len;
	uint8_t rx[ISNS_HDR_LEN + ISNS_PAYLOAD_MAX];
};

/* Owned by lld (lld->isns); touched only on the control reactor's thread. */
struct iscsi_isns {
	struct iscsi_lld *lld;
	struct reactor *r;               /* control reactor (iscsi_lld_ctl_set) */
	bool on;                         /* iSNS=On */
	bool have_srv;
	struct sockaddr_storage srv;     /* iSNSServerIP, port in host order below */
	uint16_t port;
	enum iscsi_isns_state st;
	struct isns_link srv_link;
	struct reactor_timer retry;      /* WAIT -> CONNECTING; connect timeout */
	struct reactor_timer tick;       /* change check, refresh, reply timeout */
	uint32_t backoff_ms;
	uint16_t xid;
	struct sockaddr_storage local;   /* our end of the server connection */
	bool registered;                 /* the server holds our entity */
	uint64_t reg_sig;                /* signature of what was registered */
	char src[ISNS_NAME_MAX];         /* Source attribute: a registered target's name */
	char eid[256];                   /* Entity Identifier, fixed at first registration */
	uint32_t period_s;
	uint64_t refresh_at;             /* ms */
	uint64_t wait_since;             /* ms: oldest request sent since the server last spoke */
	int scn_lfd;                     /* SCN listening socket or -1 */
	struct reactor_watch scn_lw;
	uint16_t scn_port;
	struct isns_link scn_link;
	size_t tx_len, tx_off;
	uint8_t tx[ISNS_TX_MAX];
	uint8_t msg[ISNS_HDR_LEN + ISNS_PAYLOAD_MAX];
};

static void isns_reconnect(struct iscsi_isns *is, const char *why);

static void isns_link_close(struct iscsi_isns *is, struct isns_link *l)
{
	if (l->fd < 0)
		return;
	reactor_watch_del(is->r, &l->w);
	close(l->fd);
	l->fd = -1;
	l->rx_len = 0;
}

static void isns_scn_close(struct iscsi_isns *is)
{
	isns_link_close(is, &is->scn_link);
	if (is->scn_lfd >= 0) {
		reactor_watch_del(is->r, &is->scn_lw);
		close(is->scn_lfd);
	}
	is->scn_lfd = -1;
	is->scn_port = 0;
}

static void isns_close(struct iscsi_isns *is)
{
	isns_link_close(is, &is->srv_link);
	isns_scn_close(is);
	is->tx_len = is->tx_off = 0;
	is->registered = false;
	is->reg_sig = 0;
	reactor_timer_cancel(is->r, &is->retry);
}

/* Sends what is queued; keeps EPOLLOUT while some is left. */
static void isns_flush(struct iscsi_isns *is)
{
	struct isns_link *l = &is->srv_link;
	ssize_t n;

	while (is->tx_off < is->tx_len) {
		n = send(l->fd, is->tx + is->tx_off, is->tx_len - is->tx_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			isns_reconnect(is, "send failed");
			return;
		}
		is->tx_off += (size_t)n;
	}
	if (is->tx_off == is->tx_len)
		is->tx_off = is->tx_len = 0;
	reactor_watch_mod(is->r, &l->w, EPOLLIN | (is->tx_len ? EPOLLOUT : 0));
}

/* Finishes the message in is->msg and queues it. 0 or -EMSGSIZE/-ENOBUFS (logged). */
static int isns_queue(struct iscsi_isns *is, struct isns_msg *m)
{
	int n = isns_msg_finish(m);

	if (n < 0) {
		log_err("isns: message 0x%04x too large for one PDU", get_be16(m->p + 2));
		return n;
	}
	if (ISNS_TX_MAX - is->tx_len < (size_t)n) {
		log_warn("isns: send queue full, dropping message 0x%04x", get_be16(m->p + 2));
		return -ENOBUFS;
	}
	memcpy(is->tx + is->tx_len, m->p, (size_t)n);
	is->tx_len += (size_t)n;
	if (!(get_be16(m->p + 2) & ISNS_FUNC_RSP) && !is->wait_since)
		is->wait_since = time_now_ms();
	return 0;
}

static void isns_msg_start(struct iscsi_isns *is, struct isns_msg *m, uint16_t func,
			   uint16_t flags)
{
	isns_msg_init(m, is->msg, sizeof(is->msg), func,
		      flags | ISNS_FLAG_CLIENT | ISNS_FLAG_FIRST_PDU | ISNS_FLAG_LAST_PDU, ++is->xid);
}

/* ---- what we register ---- */

static bool isns_addr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return true;
}

static uint16_t isns_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/*
 * The portals to register: a wildcard portal is reported with the address we reach the
 * server from (as tgt does); duplicates are dropped. Returns the count.
 */
static unsigned int isns_portals(struct iscsi_isns *is, struct iscsi_portal_info *out)
{
	struct iscsi_portal_info all[ISCSI_PORTALS_MAX];
	unsigned int n = iscsi_portal_list(is->lld, all, ISCSI_PORTALS_MAX);
	unsigned int nr = 0;

	for (unsigned int i = 0; i < n; i++) {
		struct iscsi_portal_info p = all[i];
		uint16_t port = isns_addr_port(&p.addr);
		bool dup = false;

		if (p.addr.ss_family != AF_INET && p.addr.ss_family != AF_INET6)
			continue;
		if (isns_addr_is_any(&p.addr)) {
			p.addr = is->local;
			if (p.addr.ss_family == AF_INET)
				((struct sockaddr_in *)&p.addr)->sin_port = htons(port);
			else
				((struct sockaddr_in6 *)&p.addr)->sin6_port = htons(port);
		}
		for (unsigned int j = 0; j < nr && !dup; j++)
			dup = !memcmp(&out[j].addr, &p.addr, sizeof(p.addr));
		if (!dup)
			out[nr++] = p;
	}
	return nr;
}

static uint64_t isns_fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* Signature of the targets and portals; 0 means "no target" (nothing to register). */
static uint64_t isns_signature(struct iscsi_isns *is)
{
	struct iscsi_portal_info p[ISCSI_PORTALS_MAX];
	unsigned int n = isns_portals(is, p);
	struct core_target *tgt;
	uint64_t h = 14695981039346656037ull;
	uint32_t tid = 0;
	bool any = false;

	while ((tgt = core_target_next(is->lld->root, tid))) {
		tid = tgt->tid;
		h = isns_fnv(h, tgt->name, strlen(tgt->name) + 1);
		any = true;
	}
	for (unsigned int i = 0; i < n; i++) {
		h = isns_fnv(h, &p[i].addr, sizeof(p[i].addr));
		h = isns_fnv(h, &p[i].tpgt, sizeof(p[i].tpgt));
	}
	return any ? (h ? h : 1) : 0;
}

static void isns_put_portal(struct iscsi_isns *is, struct isns_msg *m,
			    const struct iscsi_portal_info *p)
{
	isns_msg_put_addr(m, ISNS_ATTR_PORTAL_IP, &p->addr);
	isns_msg_put_u32(m, ISNS_ATTR_PORTAL_PORT, isns_addr_port(&p->addr)); /* TCP: bit 15 0 */
	if (is->scn_port)
		isns_msg_put_u32(m, ISNS_ATTR_SCN_PORT, is->scn_port);
}

static void isns_put_node(struct isns_msg *m, const char *name,
			  const struct iscsi_portal_info *p, unsigned int n)
{
	isns_msg_put_str(m, ISNS_ATTR_ISCSI_NAME, name);
	isns_msg_put_u32(m, ISNS_ATTR_ISCSI_NODE_TYPE, ISNS_NODE_TARGET);
	/* RFC 4171 §6.9: one portal group object per (node, portal) with the portal's TPGT */
	for (unsigned int i = 0; i < n; i++) {
		isns_msg_put_str(m, ISNS_ATTR_PG_ISCSI_NAME, name);
		isns_msg_put_addr(m, ISNS_ATTR_PG_PORTAL_IP, &p[i].addr);
		isns_msg_put_u32(m, ISNS_ATTR_PG_PORTAL_PORT, isns_addr_port(&p[i].addr));
		isns_msg_put_u32(m, ISNS_ATTR_PG_TAG, p[i].tpgt);
	}
}

static void isns_eid_init(struct iscsi_isns *is, const struct iscsi_portal_info *p,
			  unsigned int n)
{
	char host[128] = "localhost";

	if (is->eid[0])
		return;
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	/* the first portal's port tells several daemons on one host apart */
	snprintf(is->eid, sizeof(is->eid), "utgtd:%s:%u", host,
		 n ? isns_addr_port(&p[0].addr) : 0);
}

/*
 * DevAttrReg with Replace (RFC 4171 §5.6.5.1): the entity, its portals, every target and the
 * portal groups, then one SCNReg per target. Targets that do not fit one PDU are left out.
 */
static void isns_register(struct iscsi_isns *is, uint64_t sig)
{
	struct iscsi_portal_info p[ISCSI_PORTALS_MAX];
	unsigned int n = isns_portals(is, p);
	struct core_target *tgt = core_target_next(is->lld->root, 0);
	struct isns_msg m;
	size_t keep;
	uint32_t tid = 0;

	str_copy(is->src, tgt->name, sizeof(is->src));
	isns_eid_init(is, p, n);
	isns_msg_start(is, &m, ISNS_FUNC_DEV_ATTR_REG, ISNS_FLAG_REPLACE);
	isns_msg_put_str(&m, ISNS_ATTR_ISCSI_NAME, is->src);
	isns_msg_put_str(&m, ISNS_ATTR_EID, is->eid);
	isns_msg_put(&m, ISNS_ATTR_DELIMITER, NULL, 0);
	isns_msg_put_str(&m, ISNS_ATTR_EID, is->eid);
	isns_msg_put_u32(&m, ISNS_ATTR_ENTITY_PROTOCOL, ISNS_ENTITY_PROTOCOL_ISCSI);
	for (unsigned int i = 0; i < n; i++)
		isns_put_portal(is, &m, &p[i]);
	while ((tgt = core_target_next(is->lld->root, tid))) {
		tid = tgt->tid;
		keep = m.len;
		isns_put_node(&m, tgt->name, p, n);
		if (m.overflow || m.len - ISNS_HDR_LEN > ISNS_PAYLOAD_MAX) {
			log_err("isns: target %s and later ones do not fit one DevAttrReg PDU",
				tgt->name);
			m.len = keep;
			m.overflow = false;
			break;
		}
	}
	if (isns_queue(is, &m))
		return;
	is->registered = true;
	is->reg_sig = sig;
	log_info("isns: registering entity %s (%u portal(s)) with the server", is->eid, n);
	tid = 0;
	while ((tgt = core_target_next(is->lld->root, tid))) {
		tid = tgt->tid;
		isns_msg_start(is, &m, ISNS_FUNC_SCN_REG, 0);
		isns_msg_put_str(&m, ISNS_ATTR_ISCSI_NAME, tgt->name);
		isns_msg_put_str(&m, ISNS_ATTR_ISCSI_NAME, tgt->name);
		isns_msg_put(&m, ISNS_ATTR_DELIMITER, NULL, 0);
		isns_msg_put_u32(&m, ISNS_ATTR_ISCSI_SCN_BITMAP, ISNS_SCN_BITMAP);
		isns_queue(is, &m);
	}
	isns_flush(is);
}

/* DevDereg of the whole entity (RFC 4171 §5.6.5.4), queued. */
static int isns_deregister(struct iscsi_isns *is)
{
	struct isns_msg m;

	isns_msg_start(is, &m, ISNS_FUNC_DEV_DEREG, 0);
	isns_msg_put_str(&m, ISNS_ATTR_ISCSI_NAME, is->src);
	isns_msg_put(&m, ISNS_ATTR_DELIMITER, NULL, 0);
	isns_msg_put_str(&m, ISNS_ATTR_EID, is->eid);
	is->registered = false;
	is->reg_sig = 0;
	log_info("isns: deregistering entity %s", is->eid);
	return isns_queue(is, &m);
}

/* Keeps the registration alive: a DevAttrQry of our entity's registration period. */
static void isns_refresh(struct iscsi_isns *is)
{
	struct isns_msg m;

	isns_msg_start(is, &m, ISNS_FUNC_DEV_ATTR_QRY, 0);
	isns_msg_put_str(&m, ISNS_ATTR_ISCSI_NAME, is->src);
	isns_msg_put_str(&m, ISNS_ATTR_EID, is->eid);
	isns_msg_put(&m, ISNS_ATTR_DELIMITER, NULL, 0);
	isns_msg_put(&m, ISNS_ATTR_REG_PERIOD, NULL, 0);
	if (!isns_queue(is, &m))
		isns_flush(is);
}

static void isns_refresh_plan(struct iscsi_isns *is)
{
	/* half the period: the 1 s tick and a loaded server still leave a margin */
	is->refresh_at = time_now_ms() + (uint64_t)is->period_s * 500;
}

/* ---- receiving ---- */

/*
 * Logs an SCN (RFC 4171 §5.6.5.12: destination iSCSI Name, then the changed objects' names
 * and the SCN bitmap); copies the destination (the first iSCSI Name) to dst[ISNS_NAME_MAX].
 */
static int isns_scn_log(const uint8_t *p, size_t len, char *dst)
{
	struct isns_tlv t;
	size_t off = 0;
	uint32_t bitmap = 0;
	char name[ISNS_NAME_MAX] = "";
	int rc;

	dst[0] = '\0';
	while ((rc = isns_tlv_next(p, len, &off, &t)) > 0) {
		if (t.tag == ISNS_ATTR_ISCSI_SCN_BITMAP && t.len == 4) {
			bitmap = get_be32(t.val);
		} else if (t.tag == ISNS_ATTR_ISCSI_NAME && t.len && t.len < ISNS_NAME_MAX) {
			char *dstn = dst[0] ? name : dst;

			memcpy(dstn, t.val, t.len);
			dstn[t.len] = '\0';
			dstn[strnlen(dstn, t.len)] = '\0';
		}
	}
	if (rc < 0 || !dst[0])
		return -EPROTO;
	log_info("isns: state change notification for %s: %s bitmap 0x%x", dst,
		 name[0] ? name : "(entity)", bitmap);
	return 0;
}

/* Answers a server-initiated message (SCN or ESI) on link l. -EPROTO drops the link. */
static int isns_server_msg(struct iscsi_isns *is, struct isns_link *l, const struct isns_hdr *h,
			   const uint8_t *p)
{
	char dst[ISNS_NAME_MAX];
	struct isns_msg m;
	struct isns_tlv t;
	size_t off = 0;
	int rc;

	isns_msg_init(&m, is->msg, sizeof(is->msg), h->func | ISNS_FUNC_RSP,
		      ISNS_FLAG_CLIENT | ISNS_FLAG_FIRST_PDU | ISNS_FLAG_LAST_PDU, h->xid);
	/* a response payload starts with a bare 4-byte status word (RFC 4171 §5.4): success */
	put_be32(m.p + ISNS_HDR_LEN, 0);
	m.len += 4;
	if (h->func == ISNS_FUNC_SCN) {
		if (isns_scn_log(p, h->len, dst))
			return -EPROTO;
		isns_msg_put_str(&m, ISNS_ATTR_ISCSI_NAME, dst);
	} else if (h->func == ISNS_FUNC_ESI) {
		/* RFC 4171 §5.6.5.13: the ESIRsp echoes the ESI's attributes */
		while ((rc = isns_tlv_next(p, h->len, &off, &t)) > 0)
			isns_msg_put(&m, t.tag, t.val, t.len);
		if (rc < 0)
			return -EPROTO;
		log_dbg("isns: answering ESI");
	} else {
		log_dbg("isns: ignoring server message 0x%04x", h->func);
		return 0;
	}
	rc = isns_msg_finish(&m);
	if (rc < 0)
		return -EPROTO;
	/* small and rare: a blocking-free best effort send, lost if the socket is full */
	if (send(l->fd, m.p, (size_t)rc, MSG_NOSIGNAL | MSG_DONTWAIT) != rc)
		log_dbg("isns: could not send the reply to 0x%04x", h->func);
	return 0;
}

/* A response to one of our requests: check the status, pick the registration period. */
static int isns_response(struct iscsi_isns *is, const struct isns_hdr *h, const uint8_t *p)
{
	struct isns_tlv t;
	size_t off = 4;
	uint32_t status;
	int rc;

	if (!(h->flags & ISNS_FLAG_FIRST_PDU))
		return 0;               /* continuation of a multi-PDU answer: nothing we need */
	if (h->len < 4)
		return -EPROTO;
	status = get_be32(p);
	if (status && h->func == (ISNS_FUNC_DEV_ATTR_REG | ISNS_FUNC_RSP)) {
		log_warn("isns: server refused the registration: status %u", status);
		return -ECONNREFUSED;   /* try again later, with backoff */
	}
	if (status) {
		log_warn("isns: server answered 0x%04x with status %u", h->func, status);
		return 0;
	}
	while ((rc = isns_tlv_next(p, h->len, &off, &t)) > 0) {
		if (t.tag == ISNS_ATTR_REG_PERIOD && t.len == 4 && get_be32(t.val)) {
			is->period_s = MIN(get_be32(t.val), 86400u);
			isns_refresh_plan(is);
		}
	}
	if (rc < 0)
		return rc;
	if (h->func == (ISNS_FUNC_DEV_ATTR_REG | ISNS_FUNC_RSP)) {
		is->backoff_ms = ISNS_BACKOFF_MIN_MS;
		log_info("isns: registered with the server (period %u s)", is->period_s);
	}
	return 0;
}

static int isns_pdu(struct iscsi_isns *is, struct isns_link *l, const struct isns_hdr *h,
		    const uint8_t *p)
{
	if (l == &is->srv_link)
		is->wait_since = 0;
	if (h->func & ISNS_FUNC_RSP)
		return l == &is->srv_link ? isns_response(is, h, p) : 0;
	return isns_server_msg(is, l, h, p);
}

/* Reads and handles whole PDUs on l. -EPROTO or -EPIPE when the link must go. */
static int isns_link_read(struct iscsi_isns *is, struct isns_link *l)
{
	struct isns_hdr h;
	ssize_t n;
	size_t need;
	int rc;

	n = recv(l->fd, l->rx + l->rx_len, sizeof(l->rx) - l->rx_len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -EPIPE;
	if (n == 0)
		return -EPIPE;
	l->rx_len += (size_t)n;
	for (unsigned int i = 0; i < ISNS_PDUS_PER_WAKE; i++) {
		rc = isns_hdr_parse(l->rx, l->rx_len, &h);
		if (rc == -EAGAIN)
			return 0;
		if (rc)
			return rc;
		need = ISNS_HDR_LEN + (size_t)h.len;
		if (l->rx_len < need)
			return 0;
		rc = isns_pdu(is, l, &h, l->rx + ISNS_HDR_LEN);
		if (rc)
			return rc;
		memmove(l->rx, l->rx + need, l->rx_len - need);
		l->rx_len -= need;
	}
	return 0;
}

static void isns_connected(struct iscsi_isns *is);

static void isns_srv_watch_fn(struct reactor_watch *w, uint32_t events)
{
	struct iscsi_isns *is = container_of(w, struct iscsi_isns, srv_link.w);
	int rc;

	if (is->st == ISNS_ST_CONNECTING) {
		isns_connected(is);
		return;
	}
	if (events & EPOLLOUT)
		isns_flush(is);
	if (is->srv_link.fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	rc = isns_link_read(is, &is->srv_link);
	if (rc == -EPIPE)
		isns_reconnect(is, "server closed the connection");
	else if (rc == -ECONNREFUSED)
		isns_reconnect(is, "registration refused");
	else if (rc)
		isns_reconnect(is, "malformed PDU from the server");
}

static void isns_scn_watch_fn(struct reactor_watch *w, uint32_t events)
{
	struct iscsi_isns *is = container_of(w, struct iscsi_isns, scn_link.w);

	(void)events;
	if (isns_link_read(is, &is->scn_link)) {
		log_dbg("isns: SCN connection closed");
		isns_link_close(is, &is->scn_link);
	}
}

/* ---- SCN port ---- */

static void isns_scn_accept_fn(struct reactor_watch *w, uint32_t events)
{
	struct iscsi_isns *is = container_of(w, struct iscsi_isns, scn_lw);
	int fd = accept4(is->scn_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)events;
	if (fd < 0)
		return;
	/* one SCN connection at a time: the server opens a new one when it needs to */
	isns_link_close(is, &is->scn_link);
	is->scn_link.fd = fd;
	if (reactor_watch_add(is->r, &is->scn_link.w, fd, EPOLLIN, isns_scn_watch_fn)) {
		close(fd);
		is->scn_link.fd = -1;
	}
}

/* Listens for SCNs on our local address of the server connection, any port. */
static void isns_scn_listen(struct iscsi_isns *is)
{
	struct sockaddr_storage ss = is->local;
	socklen_t len = sizeof(ss);
	int fd;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto err;
	if (bind(fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET ?
		 sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) ||
	    listen(fd, 4) || getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    reactor_watch_add(is->r, &is->scn_lw, fd, EPOLLIN, isns_scn_accept_fn))
		goto err_close;
	is->scn_lfd = fd;
	is->scn_port = isns_addr_port(&ss);
	return;
err_close:
	close(fd);
err:
	log_warn("isns: no SCN port: %s", strerror(errno));
}

/* ---- connection ---- */

static void isns_reconnect(struct iscsi_isns *is, const char *why)
{
	if (is->st != ISNS_ST_OFF)
		log_warn("isns: %s; reconnecting in %u ms", why, is->backoff_ms);
	isns_close(is);
	if (!is->on) {
		is->st = ISNS_ST_OFF;
		return;
	}
	is->st = ISNS_ST_WAIT;
	reactor_timer_arm(is->r, &is->retry, is->backoff_ms);
	is->backoff_ms = MIN(is->backoff_ms * 2, (uint32_t)ISNS_BACKOFF_MAX_MS);
}

static void isns_connected(struct iscsi_isns *is)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(is->srv_link.fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		isns_reconnect(is, err == ECONNREFUSED ? "connection refused" : "connect failed");
		return;
	}
	len = sizeof(is->local);
	if (getsockname(is->srv_link.fd, (struct sockaddr *)&is->local, &len)) {
		isns_reconnect(is, "getsockname failed");
		return;
	}
	reactor_timer_cancel(is->r, &is->retry);
	is->st = ISNS_ST_UP;
	is->wait_since = 0;
	is->period_s = ISNS_PERIOD_DEF_S;
	isns_refresh_plan(is);
	isns_scn_listen(is);
	log_info("isns: connected to the server");
	reactor_watch_mod(is->r, &is->srv_link.w, EPOLLIN);
	/* the tick registers what exists now */
	reactor_timer_arm(is->r, &is->tick, 0);
}

static void isns_connect(struct iscsi_isns *is)
{
	struct sockaddr_storage ss = is->srv;
	socklen_t len;
	int fd;

	if (ss.ss_family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(is->port);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(is->port);
		len = sizeof(struct sockaddr_in6);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		isns_reconnect(is, "socket failed");
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		close(fd);
		isns_reconnect(is, "connect failed");
		return;
	}
	is->srv_link.fd = fd;
	is->srv_link.rx_len = 0;
	if (reactor_watch_add(is->r, &is->srv_link.w, fd, EPOLLOUT, isns_srv_watch_fn)) {
		close(fd);
		is->srv_link.fd = -1;
		isns_reconnect(is, "cannot watch the socket");
		return;
	}
	is->st = ISNS_ST_CONNECTING;
	/* connect timeout: the retry timer doubles as one */
	reactor_timer_arm(is->r, &is->retry, ISNS_REPLY_MS);
}

static void isns_retry_fn(struct reactor_timer *t)
{
	struct iscsi_isns *is = container_of(t, struct iscsi_isns, retry);

	if (is->st == ISNS_ST_CONNECTING)
		isns_reconnect(is, "connect timed out");
	else if (is->st == ISNS_ST_WAIT)
		isns_connect(is);
}

/* Once a second: re-register on change, refresh, and give up on a silent server. */
static void isns_tick_fn(struct reactor_timer *t)
{
	struct iscsi_isns *is = container_of(t, struct iscsi_isns, tick);
	uint64_t now = time_now_ms();
	uint64_t sig;

	if (is->st == ISNS_ST_OFF)
		return;
	reactor_timer_arm(is->r, &is->tick, ISNS_TICK_MS);
	if (is->st != ISNS_ST_UP)
		return;
	if (is->wait_since && now - is->wait_since > ISNS_REPLY_MS) {
		isns_reconnect(is, "server stopped answering");
		return;
	}
	sig = isns_signature(is);
	if (sig != is->reg_sig) {
		if (sig)
			isns_register(is, sig);
		else if (is->registered && !isns_deregister(is))
			isns_flush(is);
	} else if (is->registered && now >= is->refresh_at) {
		isns_refresh_plan(is);
		isns_refresh(is);
	}
}

/* ---- parameters and life cycle ---- */

static int isns_new(struct iscsi_lld *lld, struct reactor *r, struct iscsi_isns **out)
{
	struct iscsi_isns *is;

	if (!r)
		return -EOPNOTSUPP;     /* not on a reactor thread (unit tests) */
	is = calloc(1, sizeof(*is));
	if (!is)
		return -ENOMEM;
	is->lld = lld;
	is->r = r;
	is->port = ISNS_DEFAULT_PORT;
	is->srv_link.fd = is->scn_link.fd = is->scn_lfd = -1;
	is->backoff_ms = ISNS_BACKOFF_MIN_MS;
	reactor_timer_init(&is->retry, isns_retry_fn);
	reactor_timer_init(&is->tick, isns_tick_fn);
	*out = is;
	return 0;
}

static void isns_start(struct iscsi_isns *is)
{
	is->backoff_ms = ISNS_BACKOFF_MIN_MS;
	is->st = ISNS_ST_WAIT;
	reactor_timer_arm(is->r, &is->retry, 0);
	reactor_timer_arm(is->r, &is->tick, ISNS_TICK_MS);
}

static int isns_server_set(struct iscsi_isns *is, const char *value)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;

	/* numeric only: a DNS lookup would block the control thread */
	if (getaddrinfo(value, NULL, &hints, &res))
		return -EINVAL;
	memset(&is->srv, 0, sizeof(is->srv));
	memcpy(&is->srv, res->ai_addr, MIN((size_t)res->ai_addrlen, sizeof(is->srv)));
	freeaddrinfo(res);
	is->have_srv = true;
	return 0;
}

static int isns_onoff(const char *value, bool *b)
{
	if (!strcasecmp(value, "On"))
		*b = true;
	else if (!strcasecmp(value, "Off"))
		*b = false;
	else
		return -EINVAL;
	return 0;
}

static int isns_param_apply(struct iscsi_isns *is, const char *name, const char *value)
{
	uint64_t v;
	bool b;

	if (!strcasecmp(name, "iSNSServerIP"))
		return isns_server_set(is, value);
	if (!strcasecmp(name, "iSNSServerPort")) {
		if (str_to_u64(value, 1, 65535, &v))
			return -EINVAL;
		is->port = (uint16_t)v;
		return 0;
	}
	if (!strcasecmp(name, "iSNSAccessControl")) {
		if (isns_onoff(value, &b))
			return -EINVAL;
		/* discovery-domain based access control is not implemented (docs/iscsi.md) */
		return b ? -EOPNOTSUPP : 0;
	}
	if (isns_onoff(value, &b))
		return -EINVAL;
	if (b && !is->have_srv)
		return -EINVAL;         /* tgt also wants iSNSServerIP first */
	is->on = b;
	return 0;
}

int iscsi_isns_param_set(struct iscsi_lld *lld, const char *name, const char *value)
{
	static const char *const names[] = { "iSNSServerIP", "iSNSServerPort",
					     "iSNSAccessControl", "iSNS" };
	struct sockaddr_storage srv;
	struct iscsi_isns *is;
	uint16_t port;
	bool was_on;
	bool known = false;
	int rc;

	for (unsigned int i = 0; i < ARRAY_SIZE(names); i++)
		known |= !strcasecmp(name, names[i]);
	if (!known)
		return -ENOENT;
	/* without iscsi_lld_ctl_set, the reactor we are called on (tests) */
	if (!lld->isns && (rc = isns_new(lld, reactor_self(), &lld->isns)))
		return rc;
	is = lld->isns;
	was_on = is->on;
	srv = is->srv;
	port = is->port;
	rc = isns_param_apply(is, name, value);
	if (rc)
		return rc;
	if (was_on && !is->on) {
		iscsi_isns_stop(is);
	} else if (was_on && (port != is->port || memcmp(&srv, &is->srv, sizeof(srv)))) {
		/* the server changed: leave the old one cleanly, then start over */
		iscsi_isns_stop(is);
		is->on = true;
	}
	if (is->on && is->st == ISNS_ST_OFF)
		isns_start(is);
	return 0;
}

/* Sends DevDereg and waits (blocking, at most 1 s) for the answer: used when stopping. */
static void isns_dereg_sync(struct iscsi_isns *is)
{
	struct pollfd pfd = { .fd = is->srv_link.fd };
	uint64_t end = time_now_ms() + 1000;
	uint64_t now;
	ssize_t n;

	if (isns_deregister(is))
		return;
	while (is->tx_off < is->tx_len && (now = time_now_ms()) < end) {
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			return;
		n = send(pfd.fd, is->tx + is->tx_off, is->tx_len - is->tx_off, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		is->tx_off += (size_t)n;
	}
	/* the DevDereg went out; give the server a moment to answer before we close */
	pfd.events = POLLIN;
	if ((now = time_now_ms()) < end)
		poll(&pfd, 1, (int)(end - now));
}

void iscsi_lld_isns_foreach(struct iscsi_lld *lld, iscsi_param_fn fn, void *arg)
{
	const struct iscsi_isns *is = lld->isns;
	char ip[INET6_ADDRSTRLEN] = "";
	char port[8];

	if (is && is->have_srv && is->srv.ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&is->srv)->sin_addr, ip, sizeof(ip));
	else if (is && is->have_srv)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&is->srv)->sin6_addr, ip,
			  sizeof(ip));
	snprintf(port, sizeof(port), "%u", is ? is->port : ISNS_DEFAULT_PORT);
	fn("iSNS", is && is->on ? "On" : "Off", arg);
	fn("iSNSServerIP", ip, arg);
	fn("iSNSServerPort", port, arg);
	fn("iSNSAccessControl", "Off", arg);
}

int iscsi_lld_ctl_set(struct iscsi_lld *lld, struct reactor *ctl)
{
	if (lld->isns)
		return 0;
	return isns_new(lld, ctl, &lld->isns);
}

void iscsi_isns_stop(struct iscsi_isns *is)
{
	if (!is || is->st == ISNS_ST_OFF)
		return;
	if (is->st == ISNS_ST_UP && is->registered)
		isns_dereg_sync(is);
	isns_close(is);
	reactor_timer_cancel(is->r, &is->tick);
	is->st = ISNS_ST_OFF;
	is->on = false;
}

void iscsi_isns_free(struct iscsi_isns *is)
{
	if (!is)
		return;
	iscsi_isns_stop(is);
	free(is);
}
