/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The TCP transport: the only place that touches the socket's bytes. Connection, session
 * and PDU logic reach it through struct iscsi_xport (iscsi_int.h), so that another
 * transport (iSER) can carry the same PDUs by supplying its own table.
 */
#include "lld/iscsi/iscsi_int.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static void tcp_setup(struct iscsi_conn *c)
{
	socklen_t len = sizeof(c->peer);
	int one = 1;

	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (getpeername(c->fd, (struct sockaddr *)&c->peer, &len) < 0)
		c->peer.ss_family = AF_UNSPEC;
	len = sizeof(c->local);
	if (getsockname(c->fd, (struct sockaddr *)&c->local, &len) < 0)
		c->local.ss_family = AF_UNSPEC;
}

static ssize_t tcp_recv(struct iscsi_conn *c, const struct iovec *iov, int n)
{
	ssize_t got;

	do {
		got = readv(c->fd, iov, n);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return got;
}

static ssize_t tcp_send(struct iscsi_conn *c, const struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
	ssize_t sent;

	do {
		sent = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return sent;
}

static void tcp_close(struct iscsi_conn *c)
{
	close(c->fd);
}

const struct iscsi_xport iscsi_xport_tcp = {
	.name = "tcp",
	.setup = tcp_setup,
	.recv = tcp_recv,
	.send = tcp_send,
	.close = tcp_close,
};
