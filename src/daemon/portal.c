/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Listening portals: parse ADDR[:PORT][,TPGT], bind and listen, and accept on the control
 * reactor, handing each new socket to the iSCSI driver (which moves it to a data reactor).
 */
#include "daemon/utgtd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lld/iscsi/iscsi.h"
#include "util/util.h"

#define PORTAL_DEFAULT_PORT "3260"
#define PORTAL_ACCEPT_BUDGET 64

/* Splits "ADDR[:PORT][,TPGT]" (tgt's portal syntax): copies the address part into buf and
 * returns the tag (1 when absent), or 0 when it is not 1..65535. */
static uint16_t portal_tpgt_split(const char *text, char *buf, size_t size)
{
	const char *comma = strrchr(text, ',');
	uint64_t tpgt = 1;

	if (str_copy(buf, text, size) >= size)
		return 0;
	if (!comma)
		return 1;
	buf[comma - text] = '\0';
	if (str_to_u64(comma + 1, 1, UINT16_MAX, &tpgt))
		return 0;
	return (uint16_t)tpgt;
}

int portal_parse(const char *arg, struct sockaddr_storage *ss, socklen_t *len, uint16_t *tpgt)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = PORTAL_DEFAULT_PORT;
	const char *colon;
	char buf[96];
	const char *text = buf;
	size_t hlen;

	*tpgt = portal_tpgt_split(arg, buf, sizeof(buf));
	if (!*tpgt)
		return -EINVAL;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		hlen = (size_t)(end - text - 1);
		text++;
		if (end[1] == ':')
			port = end + 2;
	} else if ((colon = strchr(text, ':')) && !strchr(colon + 1, ':')) {
		hlen = (size_t)(colon - text);
		port = colon + 1;
	} else {
		hlen = strlen(text);   /* bare IPv4 or IPv6 address */
	}
	if (hlen == 0 || hlen >= sizeof(host) || !*port)
		return -EINVAL;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void portal_accept_cb(struct reactor_watch *w, uint32_t events)
{
	struct portal *p = container_of(w, struct portal, watch);
	static struct log_ratelimit rl; /* control thread only */

	(void)events;
	for (int i = 0; i < PORTAL_ACCEPT_BUDGET; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && log_ratelimit_ok(&rl, 5, 10000))
				log_warn("portal %s: accept: %s", p->text, strerror(errno));
			return;
		}
		iscsi_conn_accept(p->d->lld, fd);
	}
}

int portal_open(struct utgtd *d, struct portal *p)
{
	int fd, one = 1, ret;

	fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (p->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&p->addr, p->addr_len) < 0 || listen(fd, 128) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	p->d = d;
	ret = reactor_watch_add(d->ctl, &p->watch, fd, EPOLLIN, portal_accept_cb);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return 0;
}

void portal_close(struct utgtd *d, struct portal *p)
{
	if (p->watch.fd < 0)
		return;
	reactor_watch_del(d->ctl, &p->watch);
	close(p->watch.fd);
	p->watch.fd = -1;
}
