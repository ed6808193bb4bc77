/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connection-level tests for lld/iscsi (login.c, conn.c, rx.c, cmd.c, text.c, nop.c,
 * tmf.c, logout.c): a real reactor, core and driver in this thread, a fake disk device type
 * over a memory buffer, and this test as the initiator on a loopback TCP socket. Covers the
 * login state machine and its status codes, digests on Data-Out/Data-In/R2T, the CmdSN
 * window, Reject, NOP, SendTargets, ABORT TASK waiting for the core, logout and shutdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lld/iscsi/iscsi_int.h"

#define TGT_NAME  "iqn.2026-11.org.utgt:test"
#define INI_NAME  "iqn.2026-11.org.utgt:initiator"
#define DISK_SIZE (1u << 20)

/* ---- fake device type and backing store ---- */

static uint8_t disk[DISK_SIZE];
static struct scsi_cmd *parked; /* SYNCHRONIZE CACHE waits here until the test finishes it */

static void fake_rw(struct scsi_cmd *cmd, bool write)
{
	uint32_t lba = get_be32(cmd->cdb + 2), len = get_be16(cmd->cdb + 7) * 512u;

	if ((uint64_t)lba * 512 + len > DISK_SIZE) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	cmd->in_len = len;
	if (write && cmd->out_len)
		memcpy(disk + lba * 512, cmd->buf, MIN(len, cmd->out_len));
	else if (!write && cmd->buf_len)
		memcpy(cmd->buf, disk + lba * 512, MIN(len, cmd->buf_len));
	core_cmd_good(cmd);
}

static void fake_exec(struct scsi_cmd *cmd)
{
	switch (cmd->cdb[0]) {
	case 0x00:
		core_cmd_good(cmd);
		break;
	case 0x28:
		fake_rw(cmd, false);
		break;
	case 0x2a:
		fake_rw(cmd, true);
		break;
	case 0x35:
		parked = cmd;
		return;
	default:
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		break;
	}
	core_cmd_done(cmd);
}

static void fake_nolu_exec(struct scsi_cmd *cmd)
{
	core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	core_cmd_done(cmd);
}

static const struct core_devtype fake_disk = {
	.name = "disk", .show_name = "disk", .default_bs = "mem", .cmd_exec = fake_exec,
};
static const struct core_devtype fake_nolu = { .name = "nolu", .cmd_exec = fake_nolu_exec };
static const struct core_bs fake_bs = { .name = "mem" };

/* ---- harness ---- */

struct h {
	struct core_root *root;
	struct reactor *r;
	struct iscsi_lld *lld;
	struct core_target *tgt;
	int lfd;
	uint16_t port;
	int fd;                  /* the initiator's socket */
	uint32_t cmd_sn;
	uint32_t exp_stat_sn;
	uint32_t itt;
	bool hd;
	bool dd;
	uint8_t rsp[ISCSI_BHS_LEN];
	uint8_t *data;           /* last received data segment */
	uint32_t dlen;
};

static void pump(struct h *h, int rounds)
{
	for (int i = 0; i < rounds; i++)
		reactor_run_once(h->r, 0);
}

static int h_setup(void **state)
{
	struct core_lu_params lp = { .device_type = "disk" };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct h *h = calloc(1, sizeof(*h));

	assert_int_equal(core_root_new(&h->root), 0);
	core_root_add_devtype(h->root, &fake_disk);
	core_root_add_bs(h->root, &fake_bs);
	core_root_set_nolu(h->root, &fake_nolu);
	assert_int_equal(reactor_new(&h->r, 1, 0), 0);
	assert_int_equal(iscsi_lld_new(h->root, &h->r, 1, &h->lld), 0);
	assert_int_equal(core_target_new(h->root, 1, TGT_NAME, &h->tgt), 0);
	assert_int_equal(iscsi_target_attach(h->lld, h->tgt), 0);
	assert_int_equal(core_lu_new(h->tgt, 1, &lp, NULL), 0);
	assert_int_equal(core_acl_add(h->tgt, CORE_ACL_ADDR, "ALL"), 0);
	h->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(h->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(h->lfd, 4), 0);
	getsockname(h->lfd, (struct sockaddr *)&a, &alen);
	h->port = ntohs(a.sin_port);
	h->fd = -1;
	h->itt = 0x100;
	parked = NULL;
	*state = h;
	return 0;
}

static int h_teardown(void **state)
{
	struct h *h = *state;

	if (h->fd >= 0)
		close(h->fd);
	for (int i = 0; i < 1000 && iscsi_lld_conn_count(h->lld); i++)
		reactor_run_once(h->r, 1);
	assert_int_equal(iscsi_lld_conn_count(h->lld), 0);
	iscsi_lld_free(h->lld);
	close(h->lfd);
	core_root_free(h->root);
	pump(h, 5);
	reactor_free(h->r);
	free(h->data);
	free(h);
	return 0;
}

static void h_connect(struct h *h)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(h->port) };
	int afd;

	if (h->fd >= 0)
		close(h->fd);
	h->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(h->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	afd = accept(h->lfd, NULL, NULL);
	assert_true(afd >= 0);
	iscsi_conn_accept(h->lld, afd);
	pump(h, 2);
	h->hd = h->dd = false;
	h->cmd_sn = 1;
}

static void write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

/* Sends a BHS (48 bytes) and data, with digests when negotiated. */
static void send_pdu(struct h *h, uint8_t *bhs, const void *data, uint32_t len)
{
	uint8_t dig[4], pad[4] = { 0 };
	uint32_t padlen = iscsi_pad_len(len);

	put_be24(bhs + 5, len);
	write_all(h->fd, bhs, ISCSI_BHS_LEN);
	if (h->hd) {
		iscsi_digest_put(dig, iscsi_digest(bhs, ISCSI_BHS_LEN));
		write_all(h->fd, dig, 4);
	}
	if (len) {
		write_all(h->fd, data, len);
		write_all(h->fd, pad, padlen);
		if (h->dd) {
			uint32_t crc = crc32c(0, data, len);

			iscsi_digest_put(dig, crc32c(crc, pad, padlen));
			write_all(h->fd, dig, 4);
		}
	}
	pump(h, 3);
}

/* Reads exactly len bytes, running the reactor while waiting. 0 or -ETIMEDOUT/-EPIPE. */
static int read_exact(struct h *h, uint8_t *p, size_t len, int timeout_ms)
{
	while (len) {
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 0) <= 0) {
			if (timeout_ms-- <= 0)
				return -ETIMEDOUT;
			reactor_run_once(h->r, 1);
			continue;
		}
		n = read(h->fd, p, len);
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Receives one PDU into h->rsp / h->data, checking digests. Returns 0 or -errno. */
static int recv_pdu_timeout(struct h *h, int timeout_ms)
{
	uint8_t dig[4], pad[4];
	uint32_t padlen;
	int ret = read_exact(h, h->rsp, ISCSI_BHS_LEN, timeout_ms);

	if (ret)
		return ret;
	if (h->hd) {
		assert_int_equal(read_exact(h, dig, 4, timeout_ms), 0);
		assert_int_equal(iscsi_digest_get(dig), iscsi_digest(h->rsp, ISCSI_BHS_LEN));
	}
	h->dlen = get_be24(h->rsp + 5);
	free(h->data);
	h->data = calloc(1, h->dlen + 1);
	padlen = iscsi_pad_len(h->dlen);
	if (h->dlen) {
		assert_int_equal(read_exact(h, h->data, h->dlen, timeout_ms), 0);
		assert_int_equal(read_exact(h, pad, padlen, timeout_ms), 0);
		if (h->dd) {
			uint32_t crc = crc32c(0, h->data, h->dlen);

			assert_int_equal(read_exact(h, dig, 4, timeout_ms), 0);
			assert_int_equal(iscsi_digest_get(dig), crc32c(crc, pad, padlen));
		}
	}
	return 0;
}

static void recv_pdu(struct h *h)
{
	assert_int_equal(recv_pdu_timeout(h, 2000), 0);
}

/* Value of key in the last data segment, or NULL. */
static const char *rsp_key(struct h *h, const char *key)
{
	size_t klen = strlen(key);

	for (uint32_t off = 0; off < h->dlen;) {
		const char *kv = (const char *)h->data + off;

		if (!strncmp(kv, key, klen) && kv[klen] == '=')
			return kv + klen + 1;
		off += (uint32_t)strlen(kv) + 1;
	}
	return NULL;
}

static uint32_t text_len(const char *text)
{
	uint32_t len = 0;

	while (text[len])
		len += (uint32_t)strlen(text + len) + 1;
	return len;
}

/* One Login Request with len bytes of text; returns Status-Class/Detail of the answer. */
static uint16_t login_pdu_raw(struct h *h, uint8_t flags, const char *text, uint32_t len,
			      uint16_t tsih)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	struct iscsi_login_hdr *l = (struct iscsi_login_hdr *)bhs;

	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE, flags, 0,
		       h->itt++);
	memcpy(l->isid, "\x80\x12\x34\x56\x00\x01", 6);
	put_be16(l->tsih, tsih);
	put_be32(l->sn24, h->cmd_sn);
	put_be32(l->sn28, h->exp_stat_sn);
	send_pdu(h, bhs, text, len);
	recv_pdu(h);
	assert_int_equal(h->rsp[0] & ISCSI_OP_MASK, ISCSI_OP_LOGIN_RSP);
	h->exp_stat_sn = get_be32(h->rsp + 24) + 1;
	return get_be16(h->rsp + 36);
}

/* text is a list of NUL-terminated pairs ending with an empty string */
static uint16_t login_pdu(struct h *h, uint8_t flags, const char *text, uint16_t tsih)
{
	return login_pdu_raw(h, flags, text, text_len(text), tsih);
}

#define OPNEG_FFP (ISCSI_LOGIN_TRANSIT | (1 << 2) | 3)

static void login_normal(struct h *h, const char *extra)
{
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text), "InitiatorName=" INI_NAME "%cTargetName=" TGT_NAME
		     "%cSessionType=Normal%c", 0, 0, 0);
	memcpy(text + n, extra, text_len(extra) + 1);
	text[n + text_len(extra)] = '\0';
	text[n + text_len(extra) + 1] = '\0';
	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP, text, 0), 0);
	assert_true(h->rsp[1] & ISCSI_LOGIN_TRANSIT);
	assert_int_not_equal(get_be16(h->rsp + 14), 0);
	h->hd = rsp_key(h, "HeaderDigest") && !strcmp(rsp_key(h, "HeaderDigest"), "CRC32C");
	h->dd = rsp_key(h, "DataDigest") && !strcmp(rsp_key(h, "DataDigest"), "CRC32C");
}

static void scsi_cmd(struct h *h, uint8_t flags, const uint8_t *cdb, uint32_t edtl,
		     const void *imm, uint32_t imm_len, uint32_t itt, uint32_t cmd_sn);

/* Logs in and takes the POWER ON unit attention of LUN 1 out of the way. */
static void login_ready(struct h *h, const char *extra)
{
	static const uint8_t tur[16];

	login_normal(h, extra);
	scsi_cmd(h, ISCSI_FLAG_FINAL, tur, 0, NULL, 0, 0xffff0000, h->cmd_sn++);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h->rsp[3], SAM_STAT_CHECK_CONDITION);
	assert_int_equal(h->data[2 + 2] & 0xf, SENSE_UNIT_ATTENTION);
}

/* ---- login ---- */

static void test_conn_login_normal(void **state)
{
	struct h *h = *state;

	login_normal(h, "MaxRecvDataSegmentLength=65536\0MaxBurstLength=131072\0"
			"InitialR2T=No\0X-org.example.Thing=1\0\0");
	assert_int_equal(h->rsp[1] & 0x0f, (1 << 2) | 3);
	assert_string_equal(rsp_key(h, "TargetPortalGroupTag"), "1");
	assert_string_equal(rsp_key(h, "MaxRecvDataSegmentLength"), "262144");
	assert_string_equal(rsp_key(h, "MaxBurstLength"), "131072");
	assert_string_equal(rsp_key(h, "InitialR2T"), "No");
	assert_string_equal(rsp_key(h, "X-org.example.Thing"), "NotUnderstood");
	assert_int_equal(core_target_nexus_count(h->tgt), 1);
}

static void test_conn_login_statuses(void **state)
{
	struct h *h = *state;
	struct core_target *t2;
	char text[256];

	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP, "InitiatorName=" INI_NAME "\0TargetName=iqn.x:none\0\0",
				   0), ISCSI_LOGIN_TGT_NOT_FOUND);
	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP, "TargetName=" TGT_NAME "\0\0", 0),
			 ISCSI_LOGIN_MISSING_PARAM);
	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP, "InitiatorName=" INI_NAME "\0\0", 0),
			 ISCSI_LOGIN_MISSING_PARAM);
	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP,
				   "InitiatorName=" INI_NAME "\0SessionType=Weird\0\0", 0),
			 ISCSI_LOGIN_SESS_TYPE_UNSUPP);
	/* a target nobody is bound to */
	assert_int_equal(core_target_new(h->root, 2, "iqn.2026-11.org.utgt:closed", &t2), 0);
	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP,
				   "InitiatorName=" INI_NAME "\0TargetName=iqn.2026-11.org.utgt:closed\0\0",
				   0), ISCSI_LOGIN_AUTHZ_FAILED);
	/* only CHAP offered: authentication failure */
	h_connect(h);
	assert_int_equal(login_pdu(h, ISCSI_LOGIN_TRANSIT | 1,
				   "InitiatorName=" INI_NAME "\0TargetName=" TGT_NAME
				   "\0AuthMethod=CHAP\0\0", 0), ISCSI_LOGIN_AUTH_FAILED);
	/* a key twice */
	h_connect(h);
	snprintf(text, sizeof(text), "InitiatorName=%s%cTargetName=%s%cMaxBurstLength=512%c"
		 "MaxBurstLength=1024%c", INI_NAME, 0, TGT_NAME, 0, 0, 0);
	text[text_len(text) + 1] = 0;
	assert_int_equal(login_pdu(h, OPNEG_FFP, text, 0), ISCSI_LOGIN_INIT_ERR);
	/* TSIH of a session that does not exist */
	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP, "InitiatorName=" INI_NAME "\0TargetName=" TGT_NAME
				   "\0\0", 77), ISCSI_LOGIN_NO_SESSION);
	/* the connection is closed after a failure */
	assert_int_equal(recv_pdu_timeout(h, 200), -EPIPE);
}

static void test_conn_login_stages_and_continue(void **state)
{
	struct h *h = *state;

	h_connect(h);
	/* security stage, text split over two PDUs with C */
	static const char part1[] = "InitiatorName=" INI_NAME "\0Target";

	assert_int_equal(login_pdu_raw(h, ISCSI_FLAG_CONTINUE, part1, sizeof(part1) - 1, 0), 0);
	assert_false(h->rsp[1] & ISCSI_LOGIN_TRANSIT);
	assert_int_equal(h->dlen, 0);
	assert_int_equal(login_pdu(h, ISCSI_LOGIN_TRANSIT | 1,
				   "Name=" TGT_NAME "\0AuthMethod=CHAP,None\0\0", 0), 0);
	assert_string_equal(rsp_key(h, "AuthMethod"), "None");
	assert_int_equal(h->rsp[1], ISCSI_LOGIN_TRANSIT | 1);
	assert_null(rsp_key(h, "MaxRecvDataSegmentLength"));
	/* operational stage without transit, then the transit */
	assert_int_equal(login_pdu(h, 1 << 2, "HeaderDigest=CRC32C,None\0\0", 0), 0);
	assert_string_equal(rsp_key(h, "HeaderDigest"), "CRC32C");
	assert_string_equal(rsp_key(h, "MaxRecvDataSegmentLength"), "262144");
	assert_int_equal(login_pdu(h, OPNEG_FFP, "DataDigest=CRC32C\0\0", 0), 0);
	assert_string_equal(rsp_key(h, "DataDigest"), "CRC32C");
	assert_int_not_equal(get_be16(h->rsp + 14), 0);
	/* HeaderDigest again: a renegotiation is an initiator error */
	h_connect(h);
	assert_int_equal(login_pdu(h, 1 << 2, "InitiatorName=" INI_NAME "\0TargetName=" TGT_NAME
				   "\0HeaderDigest=None\0\0", 0), 0);
	assert_int_equal(login_pdu(h, OPNEG_FFP, "HeaderDigest=None\0\0", 0),
			 ISCSI_LOGIN_INIT_ERR);
}

/* ---- full feature phase ---- */

static void scsi_cmd(struct h *h, uint8_t flags, const uint8_t *cdb, uint32_t edtl,
		     const void *imm, uint32_t imm_len, uint32_t itt, uint32_t cmd_sn)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	struct iscsi_scsi_cmd_hdr *c = (struct iscsi_scsi_cmd_hdr *)bhs;

	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_SCSI_CMD, flags | 1, 0, itt);
	iscsi_lun_encode(c->lun, 1);
	put_be32(c->edtl, edtl);
	put_be32(c->cmd_sn, cmd_sn);
	put_be32(c->exp_stat_sn, h->exp_stat_sn);
	memcpy(c->cdb, cdb, 10);
	send_pdu(h, bhs, imm, imm_len);
}

static void cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, blocks);
}

static void data_out(struct h *h, uint32_t itt, uint32_t ttt, uint32_t data_sn, uint32_t off,
		     const uint8_t *buf, uint32_t len, bool final)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	struct iscsi_data_hdr *d = (struct iscsi_data_hdr *)bhs;

	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_DATA_OUT, final ? ISCSI_FLAG_FINAL : 0, 0,
		       itt);
	iscsi_lun_encode(d->lun, 1);
	put_be32(d->ttt, ttt);
	put_be32(d->exp_sn, h->exp_stat_sn);
	put_be32(d->data_sn, data_sn);
	put_be32(d->offset, off);
	send_pdu(h, bhs, buf + off, len);
}

/* 64 KiB WRITE with immediate data, unsolicited Data-Out and R2Ts, then READ it back in
 * 4 KiB Data-In PDUs; everything under header and data digests. */
static void test_conn_write_read_digests(void **state)
{
	struct h *h = *state;
	uint32_t len = 65536, got = 0, off, data_sn = 0;
	uint8_t *buf = malloc(len), cdb[16];

	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	login_ready(h, "HeaderDigest=CRC32C\0DataDigest=CRC32C\0InitialR2T=No\0"
			"ImmediateData=Yes\0FirstBurstLength=16384\0MaxBurstLength=16384\0"
			"MaxRecvDataSegmentLength=4096\0\0");
	assert_true(h->hd && h->dd);
	cdb10(cdb, 0x2a, 8, (uint16_t)(len / 512));
	scsi_cmd(h, ISCSI_CMD_WRITE, cdb, len, buf, 8192, 0x10, h->cmd_sn++);
	/* unsolicited up to FirstBurstLength */
	data_out(h, 0x10, ISCSI_RSVD_TAG, 0, 8192, buf, 8192, true);
	for (off = 16384; off < len;) {
		uint32_t r2t_off, r2t_len, ttt;

		recv_pdu(h);
		assert_int_equal(h->rsp[0], ISCSI_OP_R2T);
		ttt = get_be32(h->rsp + 20);
		r2t_off = get_be32(h->rsp + 40);
		r2t_len = get_be32(h->rsp + 44);
		assert_int_equal(r2t_off, off);
		assert_int_equal(r2t_len, 16384);
		for (uint32_t sn = 0; off < r2t_off + r2t_len; sn++, off += 8192)
			data_out(h, 0x10, ttt, sn, off, buf, 8192, off + 8192 == r2t_off + r2t_len);
	}
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	assert_int_equal(get_be32(h->rsp + 36), 3); /* ExpDataSN: R2Ts sent */
	assert_memory_equal(disk + 8 * 512, buf, len);

	cdb10(cdb, 0x28, 8, (uint16_t)(len / 512));
	scsi_cmd(h, ISCSI_CMD_READ | ISCSI_FLAG_FINAL, cdb, len, NULL, 0, 0x11, h->cmd_sn++);
	while (got < len) {
		recv_pdu(h);
		assert_int_equal(h->rsp[0], ISCSI_OP_DATA_IN);
		assert_int_equal(get_be32(h->rsp + 36), data_sn++);
		assert_int_equal(get_be32(h->rsp + 40), got);
		assert_true(h->dlen <= 4096);
		assert_memory_equal(h->data, buf + got, h->dlen);
		got += h->dlen;
		/* F at the end of every MaxBurstLength sequence, S only on the last */
		assert_int_equal(!!(h->rsp[1] & ISCSI_FLAG_FINAL), got % 16384 == 0);
		assert_int_equal(!!(h->rsp[1] & ISCSI_DIN_STATUS), got == len);
	}
	assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	free(buf);
}

static void test_conn_read_residuals(void **state)
{
	struct h *h = *state;
	uint8_t cdb[16];

	login_ready(h, "\0");
	cdb10(cdb, 0x28, 0, 1);
	/* EDTL 200 < 512: 200 bytes, overflow 312 */
	scsi_cmd(h, ISCSI_CMD_READ | ISCSI_FLAG_FINAL, cdb, 200, NULL, 0, 1, h->cmd_sn++);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_DATA_IN);
	assert_int_equal(h->dlen, 200);
	assert_int_equal(h->rsp[1] & 0x87, ISCSI_FLAG_FINAL | ISCSI_DIN_OVER | ISCSI_DIN_STATUS);
	assert_int_equal(get_be32(h->rsp + 44), 312);
	/* EDTL 0: no data, SCSI Response with overflow 512 */
	scsi_cmd(h, ISCSI_CMD_READ | ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 2, h->cmd_sn++);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_true(h->rsp[1] & ISCSI_RSP_OVER);
	assert_int_equal(get_be32(h->rsp + 44), 512);
	/* beyond the end: CHECK CONDITION with sense, no data */
	cdb10(cdb, 0x28, DISK_SIZE / 512, 1);
	scsi_cmd(h, ISCSI_CMD_READ | ISCSI_FLAG_FINAL, cdb, 512, NULL, 0, 3, h->cmd_sn++);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h->rsp[3], SAM_STAT_CHECK_CONDITION);
	assert_true(h->dlen > 2);
	assert_int_equal(get_be16(h->data), h->dlen - 2);
}

static void test_conn_cmdsn_window(void **state)
{
	struct h *h = *state;
	uint8_t cdb[16] = { 0 };
	uint32_t exp, max;

	login_ready(h, "\0");
	exp = get_be32(h->rsp + 28);
	max = get_be32(h->rsp + 32);
	assert_int_equal(max - exp + 1, ISCSI_DEF_MAX_QUEUE_CMD);
	/* beyond MaxCmdSN and below ExpCmdSN: silently ignored */
	scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 1, max + 1);
	scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 2, exp - 1);
	assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT);
	/* out of order inside the window: delivered in CmdSN order */
	scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 4, exp + 1);
	assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT);
	scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 3, exp);
	recv_pdu(h);
	assert_int_equal(get_be32(h->rsp + 16), 3);
	recv_pdu(h);
	assert_int_equal(get_be32(h->rsp + 16), 4);
	assert_int_equal(get_be32(h->rsp + 28), exp + 2);
	assert_int_equal(get_be32(h->rsp + 32), max + 2);
}

static void test_conn_reject_and_nop(void **state)
{
	struct h *h = *state;
	uint8_t bhs[ISCSI_BHS_LEN], cdb[16], blk[512] = { 0 };
	static const char ping[] = "nopping";

	login_normal(h, "DataDigest=CRC32C\0\0");
	/* an opcode initiators never send */
	iscsi_bhs_init((struct iscsi_bhs *)bhs, 0x1c | ISCSI_OP_IMMEDIATE, 0x80, 0, 9);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_REJECT);
	assert_int_equal(h->rsp[2], ISCSI_REJECT_CMD_NOT_SUPP);
	assert_int_equal(h->dlen, ISCSI_BHS_LEN);
	/* a data digest error on immediate data: Reject, the command is dropped */
	cdb10(cdb, 0x2a, 0, 1);
	h->dd = false; /* send a zero digest */
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_SCSI_CMD, 0x80 | ISCSI_CMD_WRITE, 0, 10);
	iscsi_lun_encode(bhs + 8, 1);
	put_be32(bhs + 20, 512);
	put_be32(bhs + 24, h->cmd_sn);
	memcpy(bhs + 32, cdb, 10);
	send_pdu(h, bhs, blk, 512);
	write_all(h->fd, "\0\0\0\0", 4);
	h->dd = true;
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_REJECT);
	assert_int_equal(h->rsp[2], ISCSI_REJECT_DATA_DIGEST);
	/* ping with data (padded on the wire), echoed back */
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE, 0x80, 0, 11);
	put_be32(bhs + 20, ISCSI_RSVD_TAG);
	put_be32(bhs + 24, h->cmd_sn);
	send_pdu(h, bhs, ping, sizeof(ping));
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_NOP_IN);
	assert_int_equal(get_be32(h->rsp + 16), 11);
	assert_int_equal(h->dlen, sizeof(ping));
	assert_memory_equal(h->data, ping, sizeof(ping));
}

/* The login answers the portal group of the portal the connection reached; portals of a
 * group make one target port; the last one deleted takes the port away. */
static void test_conn_login_tpgt_of_portal(void **state)
{
	struct h *h = *state;
	struct sockaddr_in here = { .sin_family = AF_INET, .sin_port = htons(h->port) };
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(h->port) };
	struct sockaddr_storage ss = { 0 };
	uint16_t ports[4];

	here.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(iscsi_portal_add(h->lld, (struct sockaddr *)&here, sizeof(here), 0),
			 -EINVAL);
	assert_int_equal(iscsi_portal_add(h->lld, (struct sockaddr *)&here, sizeof(here), 7), 0);
	assert_int_equal(iscsi_portal_add(h->lld, (struct sockaddr *)&any, sizeof(any), 9), 0);
	login_normal(h, "\0");
	assert_string_equal(rsp_key(h, "TargetPortalGroupTag"), "7");
	assert_int_equal(core_root_ports(h->root, ports, 4), 2);
	assert_int_equal(ports[0], 7);
	assert_int_equal(ports[1], 9);
	/* exact address first, then a wildcard portal on that port, else group 1 */
	memcpy(&ss, &here, sizeof(here));
	assert_int_equal(iscsi_lld_portal_tpgt(h->lld, &ss), 7);
	((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(0x7f000002);
	assert_int_equal(iscsi_lld_portal_tpgt(h->lld, &ss), 9);
	((struct sockaddr_in *)&ss)->sin_port = htons(1);
	assert_int_equal(iscsi_lld_portal_tpgt(h->lld, &ss), 1);
	assert_int_equal(iscsi_portal_del(h->lld, (struct sockaddr *)&here, sizeof(here)), 0);
	assert_int_equal(iscsi_portal_del(h->lld, (struct sockaddr *)&here, sizeof(here)),
			 -ENOENT);
	assert_int_equal(core_root_ports(h->root, ports, 4), 1);
	assert_int_equal(ports[0], 9);
}

static void test_conn_sendtargets(void **state)
{
	struct h *h = *state;
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(3260) };
	uint8_t bhs[ISCSI_BHS_LEN];
	char want[64];

	assert_int_equal(iscsi_portal_add(h->lld, (struct sockaddr *)&any, sizeof(any), 1),
			 0);
	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP, "InitiatorName=" INI_NAME
				   "\0SessionType=Discovery\0MaxBurstLength=512\0\0", 0), 0);
	assert_string_equal(rsp_key(h, "MaxBurstLength"), "Irrelevant");
	assert_null(rsp_key(h, "TargetPortalGroupTag"));
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE, 0x80, 0, 5);
	put_be32(bhs + 20, ISCSI_RSVD_TAG);
	put_be32(bhs + 24, h->cmd_sn);
	send_pdu(h, bhs, "SendTargets=All", 16);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_TEXT_RSP);
	assert_true(h->rsp[1] & ISCSI_FLAG_FINAL);
	assert_string_equal(rsp_key(h, "TargetName"), TGT_NAME);
	snprintf(want, sizeof(want), "127.0.0.1:3260,1");
	assert_string_equal(rsp_key(h, "TargetAddress"), want);
	/* not a target name: Reject; unknown key: NotUnderstood */
	send_pdu(h, bhs, "SendTargets=Alle", 17);
	recv_pdu(h);
	assert_string_equal(rsp_key(h, "SendTargets"), "Reject");
	send_pdu(h, bhs, "sENDtARGETS=aLL", 16);
	recv_pdu(h);
	assert_string_equal(rsp_key(h, "sENDtARGETS"), "NotUnderstood");
	/* SCSI commands have no place in a discovery session */
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_SCSI_CMD | ISCSI_OP_IMMEDIATE, 0x80, 0, 6);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_REJECT);
}

static void test_conn_sendtargets_normal_session(void **state)
{
	struct h *h = *state;
	uint8_t bhs[ISCSI_BHS_LEN];
	struct core_target *t2;

	assert_int_equal(core_target_new(h->root, 2, "iqn.2026-11.org.utgt:other", &t2), 0);
	assert_int_equal(iscsi_target_attach(h->lld, t2), 0);
	assert_int_equal(core_acl_add(t2, CORE_ACL_ADDR, "ALL"), 0);
	login_normal(h, "\0");
	/* non-immediate: takes its CmdSN turn */
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_TEXT_REQ, 0x80, 0, 5);
	put_be32(bhs + 20, ISCSI_RSVD_TAG);
	put_be32(bhs + 24, h->cmd_sn++);
	send_pdu(h, bhs, "SendTargets=All", 16);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_TEXT_RSP);
	assert_string_equal(rsp_key(h, "TargetName"), TGT_NAME); /* only its own target */
	assert_int_equal(get_be32(h->rsp + 28), h->cmd_sn);
	assert_null(memmem(h->data, h->dlen, "other", 5));
}

static void test_conn_target_nop_ping(void **state)
{
	struct h *h = *state;
	uint8_t bhs[ISCSI_BHS_LEN];

	assert_int_equal(iscsi_target_param_set(h->tgt, "nop_interval", "1"), 0);
	assert_int_equal(iscsi_target_param_set(h->tgt, "nop_count", "1"), 0);
	login_normal(h, "\0");
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_NOP_IN);
	assert_int_equal(get_be32(h->rsp + 16), ISCSI_RSVD_TAG);
	assert_int_not_equal(get_be32(h->rsp + 20), ISCSI_RSVD_TAG);
	/* answer it: the connection stays */
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE, 0x80, 0,
		       ISCSI_RSVD_TAG);
	memcpy(bhs + 20, h->rsp + 20, 4);
	put_be32(bhs + 24, h->cmd_sn);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_NOP_IN);
	/* not answered: dropped at the next tick */
	assert_int_equal(recv_pdu_timeout(h, 2000), -EPIPE);
}

/* A long SendTargets answer comes in MaxRecvDataSegmentLength pieces (C bit, TTT). */
static void test_conn_sendtargets_continuation(void **state)
{
	struct h *h = *state;
	uint8_t bhs[ISCSI_BHS_LEN];
	char name[64], *all = calloc(1, 65536);
	uint32_t total = 0, pieces = 0;

	for (uint32_t tid = 2; tid < 40; tid++) {
		struct core_target *t;

		snprintf(name, sizeof(name), "iqn.2026-11.org.utgt:target-number-%u", tid);
		assert_int_equal(core_target_new(h->root, tid, name, &t), 0);
		assert_int_equal(iscsi_target_attach(h->lld, t), 0);
		assert_int_equal(core_acl_add(t, CORE_ACL_ADDR, "ALL"), 0);
	}
	h_connect(h);
	assert_int_equal(login_pdu(h, OPNEG_FFP, "InitiatorName=" INI_NAME
				   "\0SessionType=Discovery\0MaxRecvDataSegmentLength=512\0\0", 0), 0);
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE, 0x80, 0, 7);
	put_be32(bhs + 20, ISCSI_RSVD_TAG);
	send_pdu(h, bhs, "SendTargets=All", 16);
	for (;;) {
		recv_pdu(h);
		assert_int_equal(h->rsp[0], ISCSI_OP_TEXT_RSP);
		assert_true(h->dlen <= 512);
		memcpy(all + total, h->data, h->dlen);
		total += h->dlen;
		pieces++;
		if (h->rsp[1] & ISCSI_FLAG_FINAL)
			break;
		assert_true(h->rsp[1] & ISCSI_FLAG_CONTINUE);
		/* empty request with the TTT asks for the next piece */
		memcpy(bhs + 20, h->rsp + 20, 4);
		send_pdu(h, bhs, NULL, 0);
	}
	assert_int_equal(get_be32(h->rsp + 20), ISCSI_RSVD_TAG);
	assert_true(pieces > 4);
	assert_non_null(memmem(all, total, "TargetName=iqn.2026-11.org.utgt:target-number-39", 48));
	assert_non_null(memmem(all, total, "TargetName=" TGT_NAME, strlen(TGT_NAME) + 11));
	free(all);
}

/* Random PDUs after login never crash the target (run under ASan/UBSan). */
static void test_conn_hostile_pdus(void **state)
{
	static const uint8_t ops[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x3f };
	struct h *h = *state;
	unsigned int seed = 4242;
	uint8_t bhs[ISCSI_BHS_LEN], *junk = malloc(8192 + 1024);

	for (int round = 0; round < 300; round++) {
		uint32_t dsl = (uint32_t)rand_r(&seed) % 2048, ahs = (uint32_t)rand_r(&seed) % 3;
		struct pollfd pfd;

		if (h->fd < 0 || round % 50 == 0)
			login_ready(h, "\0");
		for (size_t i = 0; i < sizeof(bhs); i++)
			bhs[i] = (uint8_t)rand_r(&seed);
		bhs[0] = ops[rand_r(&seed) % sizeof(ops)] | (rand_r(&seed) & 1 ? 0x40 : 0);
		bhs[4] = (uint8_t)ahs;
		for (size_t i = 0; i < 8192 + 1024; i++)
			junk[i] = (uint8_t)rand_r(&seed);
		if (rand_r(&seed) & 1)
			put_be32(bhs + 24, h->cmd_sn); /* sometimes a valid CmdSN */
		put_be24(bhs + 5, dsl);
		if (send(h->fd, bhs, sizeof(bhs), MSG_NOSIGNAL) < 0 ||
		    send(h->fd, junk, ahs * 4 + dsl + iscsi_pad_len(dsl), MSG_NOSIGNAL) < 0) {
			close(h->fd);
			h->fd = -1;
			continue;
		}
		pump(h, 4);
		pfd.fd = h->fd;
		pfd.events = POLLIN;
		while (poll(&pfd, 1, 0) > 0) {
			if (read(h->fd, junk, 8192) <= 0) {
				close(h->fd);
				h->fd = -1;
				break;
			}
			pump(h, 1);
		}
	}
	free(junk);
}

static void test_conn_abort_task_waits_for_core(void **state)
{
	struct h *h = *state;
	uint8_t bhs[ISCSI_BHS_LEN], cdb[16] = { 0x35 };
	struct iscsi_tmf_hdr *t = (struct iscsi_tmf_hdr *)bhs;

	login_ready(h, "\0");
	scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 0x20, h->cmd_sn++);
	assert_non_null(parked);
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE,
		       0x80 | ISCSI_TMF_ABORT_TASK, 0, 0x21);
	iscsi_lun_encode(t->lun, 1);
	put_be32(t->rtt, 0x20);
	put_be32(t->sn24, h->cmd_sn);
	put_be32(t->sn32, h->cmd_sn - 1);
	send_pdu(h, bhs, NULL, 0);
	assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT);
	core_cmd_good(parked);
	core_cmd_done(parked);
	parked = NULL;
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_TMF_RSP);
	assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_COMPLETE);
	assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT); /* no SCSI Response */
	/* unknown task, unsupported function */
	put_be32(t->rtt, 0x99);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_NO_TASK);
	/* RefCmdSN in the window before the TMF's CmdSN: considered received (§11.5.1 b) */
	put_be32(t->sn32, h->cmd_sn - 1);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_NO_TASK); /* CmdSN already passed */
	bhs[1] = 0x80 | ISCSI_TMF_TASK_REASSIGN;
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_NO_REASSIGN); /* ERL 0 */
	bhs[1] = 0x7f | 0x80; /* no such function */
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_REJECTED);
}

/* ABORT TASK for a command that never arrived plugs its CmdSN gap (§11.5.1 b). */
static void test_conn_abort_task_plugs_cmdsn_gap(void **state)
{
	struct h *h = *state;
	uint8_t bhs[ISCSI_BHS_LEN], cdb[16] = { 0 };
	struct iscsi_tmf_hdr *t = (struct iscsi_tmf_hdr *)bhs;
	uint32_t lost = h->cmd_sn;

	login_ready(h, "\0");
	lost = h->cmd_sn;
	scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 0x30, lost + 1); /* waits for the gap */
	assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT);
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE,
		       0x80 | ISCSI_TMF_ABORT_TASK, 0, 0x31);
	iscsi_lun_encode(t->lun, 1);
	put_be32(t->rtt, 0x77);
	put_be32(t->sn24, lost + 2);
	put_be32(t->sn32, lost);
	send_pdu(h, bhs, NULL, 0);
	for (int i = 0; i < 2; i++) { /* the TMF answer and the released TEST UNIT READY */
		recv_pdu(h);
		if (h->rsp[0] == ISCSI_OP_TMF_RSP)
			assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_COMPLETE);
		else
			assert_int_equal(get_be32(h->rsp + 16), 0x30);
	}
	h->cmd_sn = lost + 2;
}

static void tmf_send(struct h *h, uint8_t func, uint64_t lun, uint32_t itt)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	struct iscsi_tmf_hdr *t = (struct iscsi_tmf_hdr *)bhs;

	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE,
		       0x80 | func, 0, itt);
	iscsi_lun_encode(t->lun, lun);
	put_be32(t->rtt, ISCSI_RSVD_TAG);
	put_be32(t->sn24, h->cmd_sn);
	send_pdu(h, bhs, NULL, 0);
}

/* Every LU/target-level function aborts tasks in the core and answers after them. */
static void test_conn_tmf_functions(void **state)
{
	static const uint8_t funcs[] = { ISCSI_TMF_ABORT_TASK_SET, ISCSI_TMF_CLEAR_TASK_SET,
					 ISCSI_TMF_LU_RESET, ISCSI_TMF_WARM_RESET };
	struct h *h = *state;
	uint8_t cdb[16] = { 0x35 }, byte;
	static const uint8_t tur[16];

	login_ready(h, "\0");
	for (size_t i = 0; i < sizeof(funcs); i++) {
		scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 0x40 + (uint32_t)i, h->cmd_sn++);
		assert_non_null(parked);
		tmf_send(h, funcs[i], 1, 0x80 + (uint32_t)i);
		assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT);
		core_cmd_good(parked);
		core_cmd_done(parked);
		parked = NULL;
		recv_pdu(h);
		assert_int_equal(h->rsp[0], ISCSI_OP_TMF_RSP);
		assert_int_equal(get_be32(h->rsp + 16), 0x80 + (uint32_t)i);
		assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_COMPLETE);
		assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT); /* no SCSI Response */
		if (funcs[i] != ISCSI_TMF_LU_RESET && funcs[i] != ISCSI_TMF_WARM_RESET)
			continue;
		/* resets raise BUS DEVICE RESET FUNCTION OCCURRED on this nexus too */
		scsi_cmd(h, ISCSI_FLAG_FINAL, tur, 0, NULL, 0, 0x60 + (uint32_t)i, h->cmd_sn++);
		recv_pdu(h);
		assert_int_equal(h->rsp[3], SAM_STAT_CHECK_CONDITION);
		assert_int_equal(h->data[2 + 12], 0x29);
		assert_int_equal(h->data[2 + 13], 0x03);
	}
	/* no such LU; CLEAR ACA on an LU with no ACA */
	tmf_send(h, ISCSI_TMF_LU_RESET, 77, 0x90);
	recv_pdu(h);
	assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_NO_LUN);
	tmf_send(h, ISCSI_TMF_CLEAR_ACA, 1, 0x91);
	recv_pdu(h);
	assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_COMPLETE);
	/* cold reset: the answer, then the connection closes */
	tmf_send(h, ISCSI_TMF_COLD_RESET, 0, 0x92);
	recv_pdu(h);
	assert_int_equal(h->rsp[2], ISCSI_TMF_RSP_COMPLETE);
	for (int i = 0; i < 50; i++)
		pump(h, 1);
	assert_int_equal(read(h->fd, &byte, 1), 0);
}

/* A second login with the same InitiatorName and ISID replaces the first session. */
static void test_conn_session_reinstatement(void **state)
{
	struct h *h = *state;
	int old_fd;
	uint8_t byte;

	login_normal(h, "\0");
	old_fd = h->fd;
	h->fd = -1; /* keep the first connection open */
	login_normal(h, "\0");
	for (int i = 0; i < 200 && core_target_nexus_count(h->tgt) > 1; i++)
		reactor_run_once(h->r, 1);
	assert_int_equal(core_target_nexus_count(h->tgt), 1);
	assert_int_equal(read(old_fd, &byte, 1), 0); /* closed by the target */
	close(old_fd);
}

static void test_conn_logout(void **state)
{
	struct h *h = *state;
	uint8_t bhs[ISCSI_BHS_LEN];

	login_normal(h, "\0");
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE,
		       0x80 | ISCSI_LOGOUT_SESSION, 0, 0x30);
	put_be32(bhs + 24, h->cmd_sn);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_LOGOUT_RSP);
	assert_int_equal(h->rsp[2], ISCSI_LOGOUT_RSP_OK);
	assert_int_equal(recv_pdu_timeout(h, 200), -EPIPE);
	for (int i = 0; i < 100 && core_target_nexus_count(h->tgt); i++)
		reactor_run_once(h->r, 1);
	assert_int_equal(core_target_nexus_count(h->tgt), 0);
}

/* A second connection (CID cid) joining the session with tsih: the Login status. */
static uint16_t join_pdu(struct h *h, uint16_t tsih, uint16_t cid)
{
	static const char text[] = "InitiatorName=" INI_NAME "\0TargetName=" TGT_NAME "\0\0";
	uint8_t bhs[ISCSI_BHS_LEN];
	struct iscsi_login_hdr *l = (struct iscsi_login_hdr *)bhs;
	uint32_t cmd_sn = h->cmd_sn;

	h_connect(h);
	h->cmd_sn = cmd_sn;
	h->exp_stat_sn = 0;
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE, OPNEG_FFP,
		       0, h->itt++);
	memcpy(l->isid, "\x80\x12\x34\x56\x00\x01", 6);
	put_be16(l->tsih, tsih);
	put_be16(l->cid, cid);
	put_be32(l->sn24, h->cmd_sn);
	send_pdu(h, bhs, text, text_len(text));
	recv_pdu(h);
	assert_int_equal(h->rsp[0] & ISCSI_OP_MASK, ISCSI_OP_LOGIN_RSP);
	h->exp_stat_sn = get_be32(h->rsp + 24) + 1;
	return get_be16(h->rsp + 36);
}

static void test_conn_mcs_join(void **state)
{
	static const uint8_t tur[16];
	struct h *h = *state;
	int fd_a, fd_b;
	uint16_t tsih;

	login_normal(h, "MaxConnections=2\0\0");
	assert_non_null(rsp_key(h, "MaxConnections"));
	assert_string_equal(rsp_key(h, "MaxConnections"), "2");
	tsih = get_be16(h->rsp + 14);
	scsi_cmd(h, ISCSI_FLAG_FINAL, tur, 0, NULL, 0, 0x4ff, h->cmd_sn++); /* POWER ON UA */
	recv_pdu(h);
	fd_a = h->fd;
	h->fd = -1;
	assert_int_equal(join_pdu(h, tsih, 1), ISCSI_LOGIN_OK);
	assert_int_equal(get_be16(h->rsp + 14), tsih);
	assert_null(rsp_key(h, "MaxConnections")); /* not offered: leading-only key */
	/* the next CmdSN of the session, on the second connection */
	scsi_cmd(h, ISCSI_FLAG_FINAL, tur, 0, NULL, 0, 0x500, h->cmd_sn++);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	assert_int_equal(get_be32(h->rsp + 28), h->cmd_sn); /* ExpCmdSN of the session */
	fd_b = h->fd;
	h->fd = -1;
	assert_int_equal(join_pdu(h, tsih, 2), ISCSI_LOGIN_TOO_MANY_CONNS); /* MaxConnections=2 */
	h->fd = -1;
	assert_int_equal(join_pdu(h, (uint16_t)(tsih + 1), 2), ISCSI_LOGIN_NO_SESSION);
	close(fd_b);
	for (int i = 0; i < 50; i++) /* B gone: A still serves the session */
		reactor_run_once(h->r, 1);
	assert_int_equal(core_target_nexus_count(h->tgt), 1);
	close(h->fd);
	h->fd = fd_a;
	scsi_cmd(h, ISCSI_FLAG_FINAL, tur, 0, NULL, 0, 0x501, h->cmd_sn++);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
}

/* Logs in a session of two connections (MaxConnections=2): A's socket in *fd_a, h on B. */
static uint16_t mcs_pair(struct h *h, int *fd_a)
{
	static const uint8_t tur[16];
	uint16_t tsih;

	login_normal(h, "MaxConnections=2\0\0");
	tsih = get_be16(h->rsp + 14);
	scsi_cmd(h, ISCSI_FLAG_FINAL, tur, 0, NULL, 0, 0x4ff, h->cmd_sn++); /* POWER ON UA */
	recv_pdu(h);
	*fd_a = h->fd;
	h->fd = -1;
	assert_int_equal(join_pdu(h, tsih, 1), ISCSI_LOGIN_OK);
	return tsih;
}

static void abort_task_send(struct h *h, uint32_t itt, uint32_t rtt)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	struct iscsi_tmf_hdr *t = (struct iscsi_tmf_hdr *)bhs;

	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE,
		       0x80 | ISCSI_TMF_ABORT_TASK, 0, itt);
	iscsi_lun_encode(t->lun, 1);
	put_be32(t->rtt, rtt);
	put_be32(t->sn24, h->cmd_sn);
	put_be32(t->sn32, h->cmd_sn - 1);
	send_pdu(h, bhs, NULL, 0);
}

/*
 * ABORT TASK on B for a task of A held in the core; A drops (not retained), then B drops and
 * is freed before the task completes: the task must not keep B's TMF (freed with B).
 */
static void test_conn_mcs_tmf_of_freed_conn(void **state)
{
	struct h *h = *state;
	uint8_t cdb[16] = { 0x35 };
	struct iscsi_task *task;
	int fd_a, fd_b;

	mcs_pair(h, &fd_a);
	fd_b = h->fd;
	h->fd = fd_a; /* SYNCHRONIZE CACHE on A: held by the fake disk */
	scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 0x20, h->cmd_sn++);
	assert_non_null(parked);
	task = container_of(parked, struct iscsi_task, cmd);
	h->fd = fd_b; /* ABORT TASK on B waits for the task's completion */
	abort_task_send(h, 0x21, 0x20);
	assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT);
	assert_non_null(task->tmf);
	close(fd_a); /* A drops (ERL 0: not retained); the core still holds its task */
	for (int i = 0; i < 20; i++)
		reactor_run_once(h->r, 1);
	close(fd_b); /* then B, holding nothing in the core, drops and is freed */
	h->fd = -1;
	for (int i = 0; i < 200 && iscsi_lld_conn_count(h->lld) > 1; i++)
		reactor_run_once(h->r, 1);
	assert_int_equal(iscsi_lld_conn_count(h->lld), 1);
	assert_null(task->tmf); /* A (alive until its task returns) no longer points into B */
	core_cmd_good(parked);
	core_cmd_done(parked);
	parked = NULL;
	for (int i = 0; i < 200 && iscsi_lld_conn_count(h->lld); i++)
		reactor_run_once(h->r, 1);
	assert_int_equal(iscsi_lld_conn_count(h->lld), 0);
}

/*
 * The ITT of a task of A used again on B (§11.2.1.7: unique session-wide): Reject (Task in
 * progress), A's task goes on, and the rejected command's CmdSN holds no later command.
 */
static void test_conn_mcs_itt_in_use(void **state)
{
	static const uint8_t tur[16];
	struct h *h = *state;
	uint8_t cdb[16] = { 0x35 };
	int fd_a, fd_b;

	mcs_pair(h, &fd_a);
	fd_b = h->fd;
	h->fd = fd_a;
	scsi_cmd(h, ISCSI_FLAG_FINAL, cdb, 0, NULL, 0, 0x20, h->cmd_sn++);
	assert_non_null(parked);
	h->fd = fd_b;
	/* a TEST UNIT READY waiting for the CmdSN the duplicate is about to use */
	scsi_cmd(h, ISCSI_FLAG_FINAL, tur, 0, NULL, 0, 0x22, h->cmd_sn + 1);
	assert_int_equal(recv_pdu_timeout(h, 50), -ETIMEDOUT);
	scsi_cmd(h, ISCSI_FLAG_FINAL, tur, 0, NULL, 0, 0x20, h->cmd_sn);
	h->cmd_sn += 2;
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_REJECT);
	assert_int_equal(h->rsp[2], ISCSI_REJECT_TASK_IN_PROG);
	assert_int_equal(h->dlen, ISCSI_BHS_LEN);
	assert_int_equal(get_be32(h->data + 16), 0x20); /* the rejected header comes back */
	recv_pdu(h); /* its CmdSN counted as received: the waiting command ran */
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(get_be32(h->rsp + 16), 0x22);
	assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	assert_int_equal(get_be32(h->rsp + 28), h->cmd_sn); /* ExpCmdSN passed both */
	core_cmd_good(parked);
	core_cmd_done(parked);
	parked = NULL;
	h->fd = fd_a;
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(get_be32(h->rsp + 16), 0x20);
	assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	close(fd_b);
}

struct shutdown_arg {
	struct iscsi_lld *lld;
	atomic_bool done;
};

static void *shutdown_thread(void *p)
{
	struct shutdown_arg *a = p;

	iscsi_lld_shutdown(a->lld, 3000);
	atomic_store(&a->done, true);
	return NULL;
}

static void test_conn_shutdown_async_logout(void **state)
{
	struct h *h = *state;
	struct shutdown_arg a = { .lld = h->lld };
	uint8_t bhs[ISCSI_BHS_LEN];
	pthread_t th;

	login_normal(h, "\0");
	pthread_create(&th, NULL, shutdown_thread, &a);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_ASYNC);
	assert_int_equal(h->rsp[36], ISCSI_ASYNC_LOGOUT_REQUEST);
	assert_int_equal(get_be16(h->rsp + 42), 3);
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE,
		       0x80 | ISCSI_LOGOUT_SESSION, 0, 0x31);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_LOGOUT_RSP);
	for (int i = 0; i < 3000 && !atomic_load(&a.done); i++)
		reactor_run_once(h->r, 1);
	pthread_join(th, NULL);
	assert_true(atomic_load(&a.done));
	assert_int_equal(iscsi_lld_conn_count(h->lld), 0);
}

/* ERL 1 (recovery.c): a Data-Out with a bad data digest is rejected, the rest of its sequence
 * dropped, and a recovery R2T asks again from the first missing byte; a Status SNACK sends
 * the last response again with its StatSN. */
static void test_conn_erl1_recovery_r2t_and_status_snack(void **state)
{
	struct h *h = *state;
	uint32_t len = 16384, ttt, stat_sn;
	uint8_t *buf = malloc(len), cdb[16], bhs[ISCSI_BHS_LEN], first[ISCSI_BHS_LEN];

	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(iscsi_target_param_set(h->tgt, "ErrorRecoveryLevel", "1"), 0);
	login_ready(h, "DataDigest=CRC32C\0ErrorRecoveryLevel=1\0InitialR2T=Yes\0"
			"ImmediateData=No\0MaxRecvDataSegmentLength=4096\0\0");
	/* ERL 1 shows in what follows: a recovery R2T instead of CHECK CONDITION */
	cdb10(cdb, 0x2a, 16, (uint16_t)(len / 512));
	scsi_cmd(h, ISCSI_CMD_WRITE | ISCSI_FLAG_FINAL, cdb, len, NULL, 0, 0x20, h->cmd_sn++);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_R2T);
	ttt = get_be32(h->rsp + 20);
	assert_int_equal(get_be32(h->rsp + 36), 0);
	data_out(h, 0x20, ttt, 0, 0, buf, 4096, false);
	h->dd = false; /* PDU 1: a zero digest */
	data_out(h, 0x20, ttt, 1, 4096, buf, 4096, false);
	write_all(h->fd, "\0\0\0\0", 4);
	h->dd = true;
	data_out(h, 0x20, ttt, 2, 8192, buf, 4096, false);  /* dropped */
	data_out(h, 0x20, ttt, 3, 12288, buf, 4096, true);  /* dropped, ends the sequence */
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_REJECT);
	assert_int_equal(h->rsp[2], ISCSI_REJECT_DATA_DIGEST);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_R2T);
	assert_int_equal(get_be32(h->rsp + 36), 1);     /* R2TSN */
	assert_int_equal(get_be32(h->rsp + 40), 4096);  /* from the lost PDU on */
	assert_int_equal(get_be32(h->rsp + 44), 12288);
	ttt = get_be32(h->rsp + 20);
	for (uint32_t sn = 0, off = 4096; off < len; sn++, off += 4096)
		data_out(h, 0x20, ttt, sn, off, buf, 4096, off + 4096 == len);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	assert_memory_equal(disk + 16 * 512, buf, len);
	memcpy(first, h->rsp, ISCSI_BHS_LEN);
	stat_sn = get_be32(h->rsp + 24);
	/* Status SNACK for that response */
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_SNACK, ISCSI_FLAG_FINAL | 1, 0,
		       ISCSI_RSVD_TAG);
	put_be32(bhs + 28, stat_sn);
	put_be32(bhs + 40, stat_sn);
	put_be32(bhs + 44, 1);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_memory_equal(h->rsp, first, 28);
	/* one past what was sent: Reject */
	put_be32(bhs + 40, stat_sn + 1);
	send_pdu(h, bhs, NULL, 0);
	recv_pdu(h);
	assert_int_equal(h->rsp[0], ISCSI_OP_REJECT);
	assert_int_equal(h->rsp[2], ISCSI_REJECT_PROTOCOL);
	free(buf);
}

/* ---- receive path: big data segments land in their buffer, not in the read-ahead ---- */

static struct {
	uint64_t calls;
	uint64_t ahead_bytes;    /* bytes that landed in the read-ahead buffer */
} rxc;

/* The TCP transport, counting what each readv put in the read-ahead buffer (its last iov). */
static ssize_t counting_recv(struct iscsi_conn *c, const struct iovec *iov, int n)
{
	ssize_t got = iscsi_xport_tcp.recv(c, iov, n);

	rxc.calls++;
	if (got > 0)
		rxc.ahead_bytes += (uint64_t)got - MIN((size_t)got, n == 2 ? iov[0].iov_len : 0);
	return got;
}

static struct iscsi_conn *h_first_conn(struct h *h)
{
	struct iscsi_sess *s = list_first_entry(&h->lld->sessions, struct iscsi_sess, entry);

	return list_first_entry(&s->conns, struct iscsi_conn, sess_entry);
}

/* Appends a WRITE(10) of len bytes with all of its data immediate to a byte stream. */
static size_t stream_write(struct h *h, uint8_t *out, uint32_t lba, const uint8_t *data,
			   uint32_t len, uint32_t itt)
{
	uint8_t *bhs = out, cdb[16];
	struct iscsi_scsi_cmd_hdr *c = (struct iscsi_scsi_cmd_hdr *)bhs;
	uint32_t crc, padlen = iscsi_pad_len(len);
	size_t n = ISCSI_BHS_LEN;

	cdb10(cdb, 0x2a, lba, (uint16_t)(len / 512));
	iscsi_bhs_init((struct iscsi_bhs *)bhs, ISCSI_OP_SCSI_CMD,
		       ISCSI_CMD_WRITE | ISCSI_FLAG_FINAL | 1, 0, itt);
	iscsi_lun_encode(c->lun, 1);
	put_be32(c->edtl, len);
	put_be32(c->cmd_sn, h->cmd_sn++);
	put_be32(c->exp_stat_sn, h->exp_stat_sn);
	memcpy(c->cdb, cdb, 10);
	put_be24(bhs + 5, len);
	iscsi_digest_put(out + n, iscsi_digest(bhs, ISCSI_BHS_LEN));
	n += 4;
	memcpy(out + n, data, len);
	memset(out + n + len, 0, padlen);
	crc = crc32c(crc32c(0, data, len), out + n + len, padlen);
	n += len + padlen;
	iscsi_digest_put(out + n, crc);
	return n + 4;
}

static void send_stream(struct h *h, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(h->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			pump(h, 1);
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	pump(h, 3);
}

static void test_conn_rx_large_segments_skip_read_ahead(void **state)
{
	enum { NR = 4, LEN = 40960, SMALL = 4096 };
	struct h *h = *state;
	uint8_t *data = malloc(NR * LEN + SMALL), *stream = malloc(NR * (LEN + 64) + SMALL + 64);
	struct iscsi_conn *c;
	size_t n = 0;

	for (uint32_t i = 0; i < NR * LEN + SMALL; i++)
		data[i] = (uint8_t)(i * 13 + 5);
	login_ready(h, "HeaderDigest=CRC32C\0DataDigest=CRC32C\0InitialR2T=No\0"
			"ImmediateData=Yes\0FirstBurstLength=65536\0MaxBurstLength=65536\0\0");
	c = h_first_conn(h);
	c->xport = &(struct iscsi_xport){ .name = "counting", .setup = iscsi_xport_tcp.setup,
					  .recv = counting_recv, .send = iscsi_xport_tcp.send,
					  .close = iscsi_xport_tcp.close };
	memset(&rxc, 0, sizeof(rxc));
	for (uint32_t i = 0; i < NR; i++)
		n += stream_write(h, stream + n, 16 + i * (LEN / 512), data + i * LEN, LEN,
				  0x40 + i);
	n += stream_write(h, stream + n, 16 + NR * (LEN / 512), data + NR * LEN, SMALL, 0x40 + NR);
	send_stream(h, stream, n);
	for (uint32_t i = 0; i <= NR; i++) {
		recv_pdu(h);
		assert_int_equal(h->rsp[0], ISCSI_OP_SCSI_RSP);
		assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	}
	assert_memory_equal(disk + 16 * 512, data, NR * LEN + SMALL);
	/* the first segment may come through the read-ahead; after it, only headers,
	 * digests and the small write's data do */
	assert_true(rxc.ahead_bytes <= 65536 + NR * 128 + SMALL);
	c->xport = &iscsi_xport_tcp;
	free(stream);
	free(data);
}

/* Runs the reactor until an answer is waiting on the initiator's socket. */
static void run_until_answer(struct h *h)
{
	for (int i = 0; i < 2000; i++) {
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) > 0)
			return;
		reactor_run_once(h->r, 1);
	}
	fail_msg("no answer");
}

/* Four or more commands outstanding ask the reactor to coalesce; one does not. */
static void test_conn_rx_deep_queue_hints_coalescing(void **state)
{
	enum { DEEP = 6, LEN = 4096 };
	struct h *h = *state;
	uint8_t *data = calloc(1, LEN), *stream = malloc(DEEP * (LEN + 64));
	size_t n = 0;

	login_ready(h, "HeaderDigest=CRC32C\0DataDigest=CRC32C\0InitialR2T=No\0"
			"ImmediateData=Yes\0\0");
	n = stream_write(h, stream, 64, data, LEN, 0x60);
	write_all(h->fd, stream, n);
	run_until_answer(h);
	assert_false(reactor_coalesce_pending(h->r));
	recv_pdu(h);
	assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	/* a pipeline: none of these acknowledges the others' answers */
	n = 0;
	for (uint32_t i = 0; i < DEEP; i++)
		n += stream_write(h, stream + n, 64 + i * 8, data, LEN, 0x61 + i);
	write_all(h->fd, stream, n);
	run_until_answer(h);
	assert_true(reactor_coalesce_pending(h->r));
	for (uint32_t i = 0; i < DEEP; i++) {
		recv_pdu(h);
		assert_int_equal(h->rsp[3], SAM_STAT_GOOD);
	}
	free(stream);
	free(data);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)
	const struct CMUnitTest tests[] = {
		T(test_conn_login_normal),
		T(test_conn_login_statuses),
		T(test_conn_login_stages_and_continue),
		T(test_conn_write_read_digests),
		T(test_conn_read_residuals),
		T(test_conn_cmdsn_window),
		T(test_conn_reject_and_nop),
		T(test_conn_login_tpgt_of_portal),
		T(test_conn_sendtargets),
		T(test_conn_sendtargets_normal_session),
		T(test_conn_target_nop_ping),
		T(test_conn_sendtargets_continuation),
		T(test_conn_hostile_pdus),
		T(test_conn_abort_task_waits_for_core),
		T(test_conn_tmf_functions),
		T(test_conn_abort_task_plugs_cmdsn_gap),
		T(test_conn_session_reinstatement),
		T(test_conn_mcs_join),
		T(test_conn_mcs_tmf_of_freed_conn),
		T(test_conn_mcs_itt_in_use),
		T(test_conn_logout),
		T(test_conn_shutdown_async_logout),
		T(test_conn_erl1_recovery_r2t_and_status_snack),
		T(test_conn_rx_large_segments_skip_read_ahead),
		T(test_conn_rx_deep_queue_hints_coalescing),
	};

	log_setup("test_conn", true, LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
