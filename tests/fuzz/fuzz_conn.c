/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer target: a whole iSCSI connection. The input is the byte stream an initiator sends
 * on one TCP connection (login, text, commands, Data-Out, ...) to a real driver, core, device
 * types and null backing store running in this thread. Target 1 (iqn.2026-11.org.utgt:fuzz)
 * is open; target 2 (...:chap) requires CHAP (user "fuzz", secret "fuzz-secret-1"). After the
 * input the initiator half-closes; the connection must then close and release everything
 * within a bounded number of reactor rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bs/bs.h"
#include "core/core.h"
#include "lld/iscsi/iscsi.h"
#include "scsi/scsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ROUNDS 20000

static struct {
	struct core_root *root;
	struct reactor *r;
	struct iscsi_lld *lld;
	int lfd;
	struct sockaddr_in addr;
} fz; /* libFuzzer calls in one thread; built once */

static void fuzz_target(uint32_t tid, const char *name)
{
	struct core_lu_params disk = { .device_type = "disk", .bstype = "null",
				       .bsopts = "size=16777216" };
	struct core_target *tgt;

	if (core_target_new(fz.root, tid, name, &tgt) || iscsi_target_attach(fz.lld, tgt) ||
	    core_lu_new(tgt, 1, &disk, NULL) || core_acl_add(tgt, CORE_ACL_ADDR, "ALL"))
		abort();
}

static void fuzz_init(void)
{
	socklen_t alen = sizeof(fz.addr);

	/* FUZZ_DEBUG=1 shows the driver's log, to check what a seed reaches */
	log_setup("fuzz", true, getenv("FUZZ_DEBUG") ? LOG_LVL_DBG : LOG_LVL_ERR);
	if (core_root_new(&fz.root) || reactor_new(&fz.r, 1, 0))
		abort();
	scsi_register_all(fz.root);
	bs_register_all(fz.root);
	if (iscsi_lld_new(fz.root, &fz.r, 1, &fz.lld))
		abort();
	fuzz_target(1, "iqn.2026-11.org.utgt:fuzz");
	fuzz_target(2, "iqn.2026-11.org.utgt:chap");
	if (core_account_new(fz.root, "fuzz", "fuzz-secret-1") ||
	    core_account_bind(fz.root, 2, "fuzz", false))
		abort();
	fz.addr.sin_family = AF_INET;
	fz.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fz.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fz.lfd < 0 || bind(fz.lfd, (struct sockaddr *)&fz.addr, sizeof(fz.addr)) ||
	    listen(fz.lfd, 16) || getsockname(fz.lfd, (struct sockaddr *)&fz.addr, &alen))
		abort();
}

/* Reads and drops what the target sent; false once it closed. */
static bool fuzz_drain(int cfd)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = recv(cfd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return !(n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK));
}

/* A client socket that closes with RST: no TIME_WAIT, so long runs keep their ports. */
static int fuzz_connect(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	for (int tries = 0; tries < 100; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			abort();
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (!connect(fd, (struct sockaddr *)&fz.addr, sizeof(fz.addr)))
			return fd;
		close(fd);
		usleep(10000); /* ephemeral ports exhausted by other users of loopback */
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	bool open = true;
	int cfd, sfd, i;

	if (!fz.root)
		fuzz_init();
	cfd = fuzz_connect();
	sfd = accept4(fz.lfd, NULL, NULL, SOCK_CLOEXEC);
	if (sfd < 0)
		abort();
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	iscsi_conn_accept(fz.lld, sfd);
	for (i = 0; i < FUZZ_ROUNDS && open; i++) {
		if (off < size) {
			ssize_t n = send(cfd, data + off, size - off, MSG_NOSIGNAL);

			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				off = size; /* the target closed on us */
			if (off == size)
				shutdown(cfd, SHUT_WR);
		} else if (!size && i == 0) {
			shutdown(cfd, SHUT_WR);
		}
		reactor_run_once(fz.r, 0);
		open = fuzz_drain(cfd);
	}
	close(cfd);
	for (i = 0; i < FUZZ_ROUNDS && iscsi_lld_conn_count(fz.lld); i++)
		reactor_run_once(fz.r, 0);
	if (iscsi_lld_conn_count(fz.lld))
		abort(); /* a connection that never goes away after its peer left */
	return 0;
}
