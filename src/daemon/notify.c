/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * systemd's notification protocol (sd_notify(3)) without linking libsystemd: one datagram
 * of "KEY=VALUE\n" lines to the Unix socket named by $NOTIFY_SOCKET ('@' = abstract
 * namespace). READY=1 once portals and the control socket accept, STOPPING=1 on shutdown,
 * STATUS= lines, and WATCHDOG=1 from a control-reactor timer at half of $WATCHDOG_USEC, so a
 * wedged control loop gets the service restarted. Without $NOTIFY_SOCKET all of it is a no-op.
 */
#include "daemon/utgtd.h"
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void utgtd_notify(const char *fmt, ...)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const char *path = getenv("NOTIFY_SOCKET");
	char msg[256];
	socklen_t len;
	va_list ap;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sun.sun_path))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(sun.sun_path, path, strlen(path));
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0)
		log_dbg("sd_notify: %s", strerror(errno));
	close(fd);
}

static void utgtd_watchdog_cb(struct reactor_timer *t)
{
	struct utgtd *d = container_of(t, struct utgtd, watchdog);

	utgtd_notify("WATCHDOG=1");
	reactor_timer_arm(d->ctl, &d->watchdog, d->watchdog_ms);
}

void utgtd_watchdog_start(struct utgtd *d)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t v;

	reactor_timer_init(&d->watchdog, utgtd_watchdog_cb);
	if (!usec || str_to_u64(usec, 1000, UINT64_MAX, &v))
		return;
	if (pid && atol(pid) != (long)getpid())
		return;
	d->watchdog_ms = MAX(v / 2000, 1);
	utgtd_watchdog_cb(&d->watchdog);
	log_info("systemd watchdog: keep-alive every %llu ms", (unsigned long long)d->watchdog_ms);
}

void utgtd_watchdog_stop(struct utgtd *d)
{
	if (d->watchdog_ms)
		reactor_timer_cancel(d->ctl, &d->watchdog);
	d->watchdog_ms = 0;
}
