/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtadm/client: one request/response exchange with utgtd over its Unix socket (framing in
 * src/mgmt/wire.h). Blocking I/O with a receive timeout; the response is bounded by
 * MGMT_FRAME_MAX. When nobody listens, the message and exit code are tgtadm's (107), which
 * service managers test for.
 */
#include "utgtadm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mgmt/wire.h"

#define UTGTADM_RECV_TIMEOUT_S 120

static int utgtadm_connect(const char *path, int *fdp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

static int utgtadm_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes; -ECONNRESET on a short read (the daemon closed). */
static int utgtadm_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int utgtadm_send(int fd, const json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	uint8_t hdr[4];
	size_t len;
	int rc;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	rc = len > MGMT_FRAME_MAX ? -EMSGSIZE : utgtadm_write_all(fd, hdr, sizeof(hdr));
	if (!rc)
		rc = utgtadm_write_all(fd, text, len);
	free(text);
	return rc;
}

/* Reads one response frame into *rsp. 0, -errno, or -EPROTO for a malformed answer. */
static int utgtadm_recv(int fd, json_t **rsp)
{
	uint8_t hdr[4];
	json_error_t jerr;
	uint32_t len;
	char *buf;
	int rc;

	rc = utgtadm_read_all(fd, hdr, sizeof(hdr));
	if (rc)
		return rc;
	len = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) |
	      hdr[3];
	if (len == 0 || len > MGMT_FRAME_MAX)
		return -EPROTO;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	rc = utgtadm_read_all(fd, buf, len);
	if (!rc) {
		*rsp = json_loadb(buf, len, 0, &jerr);
		if (!*rsp || !json_is_object(*rsp))
			rc = -EPROTO;
	}
	free(buf);
	return rc;
}

static int utgtadm_connect_error(const char *path, int rc, FILE *err, bool debug)
{
	if (debug)
		fprintf(err, "utgtadm: connect %s: %s\n", path, strerror(-rc));
	if (rc == -EACCES || rc == -EPERM) {
		fprintf(err, "utgtadm: can't connect to utgtd at %s, %s\n", path, strerror(-rc));
		return -rc;
	}
	/* tgtadm's wording: it writes to the unconnected socket and reports that. */
	fprintf(err, "utgtadm: failed to send request hdr to utgtd, %s\n", strerror(ENOTCONN));
	return UTGTADM_EXIT_NOTCONN;
}

int utgtadm_client_exchange(const char *path, const json_t *req, json_t **rsp, FILE *err,
			    bool debug)
{
	struct timeval tv = { .tv_sec = UTGTADM_RECV_TIMEOUT_S };
	int fd = -1;
	int rc;

	*rsp = NULL;
	rc = utgtadm_connect(path, &fd);
	if (rc)
		return utgtadm_connect_error(path, rc, err, debug);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rc = utgtadm_send(fd, req);
	if (rc) {
		fprintf(err, "utgtadm: failed to send request to utgtd, %s\n", strerror(-rc));
		close(fd);
		return -rc;
	}
	rc = utgtadm_recv(fd, rsp);
	close(fd);
	if (rc == -ECONNRESET) {
		fprintf(err, "utgtadm: utgtd closed the socket without answering "
			     "(is this user allowed to manage it?)\n");
		return EACCES;
	}
	if (rc) {
		fprintf(err, "utgtadm: can't get the response, %s\n",
			rc == -EAGAIN ? "timed out" : strerror(-rc));
		return rc == -EAGAIN ? ETIMEDOUT : -rc;
	}
	return 0;
}

void utgtadm_client_wait_gone(const char *path)
{
	struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;
	int rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/*
	 * As tgtadm: poll every 100 ms until connecting is refused. Non-blocking, so a daemon
	 * that stopped accepting (full backlog: EAGAIN) counts as still there.
	 */
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return;
		rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? errno : 0;
		close(fd);
		if (rc == ECONNREFUSED || rc == ENOENT)
			return;
		nanosleep(&ts, NULL);
	}
}
