/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Start-up and shutdown of the daemon's root object. Order matters: device types and
 * backing stores are registered before any target exists; reactors run before the iSCSI
 * driver accepts; portals and the management socket are opened last so a caller that sees
 * them accept can use the daemon at once. Shutdown runs the same steps backwards.
 */
#include "daemon/utgtd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bs/bs.h"
#include "core/core.h"
#include "lld/iscsi/iscsi.h"
#include "mgmt/config.h"
#include "mgmt/metrics.h"
#include "mgmt/mgmt.h"
#include "scsi/scsi.h"
#include "util/util.h"

#define UTGTD_URING_ENTRIES 256

static void utgtd_request_stop(void *arg)
{
	struct utgtd *d = arg;

	log_info("shutdown requested by the management interface");
	reactor_stop(d->ctl);
}

/* SIGHUP: applies --config again; sessions of unchanged targets stay up. */
static void utgtd_reload(struct utgtd *d)
{
	char err[256];

	if (!d->opt->config) {
		log_info("SIGHUP ignored: no --config file");
		return;
	}
	utgtd_notify("RELOADING=1\nSTATUS=reloading %s", d->opt->config);
	if (mgmt_config_load(d->mgmt, d->opt->config, err, sizeof(err)) < 0)
		log_err("reload of %s failed: %s", d->opt->config, err);
	else
		log_info("reloaded %s", d->opt->config);
	utgtd_notify("READY=1\nSTATUS=serving on %u portal(s)", d->nr_portals);
}

static void utgtd_signal_cb(struct reactor_watch *w, uint32_t events)
{
	struct utgtd *d = container_of(w, struct utgtd, sig_watch);
	struct signalfd_siginfo si;

	(void)events;
	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			utgtd_reload(d);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("%s received, shutting down", strsignal((int)si.ssi_signo));
			reactor_stop(d->ctl);
		}
	}
}

static int utgtd_signals_open(struct utgtd *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -errno;
	return reactor_watch_add(d->ctl, &d->sig_watch, d->sigfd, EPOLLIN, utgtd_signal_cb);
}

static int utgtd_reactors_start(struct utgtd *d)
{
	int ret;

	ret = reactor_new(&d->ctl, 0, 0);
	if (ret < 0) {
		snprintf(d->error, sizeof(d->error), "cannot create the control loop: %s",
			 strerror(-ret));
		return ret;
	}
	for (unsigned int i = 0; i < d->opt->threads; i++) {
		char name[16];

		ret = reactor_new(&d->data[i], i + 1, UTGTD_URING_ENTRIES);
		if (ret == 0) {
			snprintf(name, sizeof(name), "utgtd-r%u", i % 1000);
			ret = reactor_thread_start(d->data[i], name);
			if (ret < 0)
				reactor_free(d->data[i]);
		}
		if (ret < 0) {
			snprintf(d->error, sizeof(d->error), "cannot start reactor %u: %s", i,
				 strerror(-ret));
			return ret;
		}
		d->nr_data++;
	}
	return 0;
}

static int utgtd_portals_open(struct utgtd *d)
{
	for (unsigned int i = 0; i < d->opt->nr_portals; i++) {
		struct portal *p = &d->portals[i];
		int ret;

		p->watch.fd = -1;
		str_copy(p->text, d->opt->portals[i], sizeof(p->text));
		ret = portal_parse(p->text, &p->addr, &p->addr_len);
		if (ret < 0) {
			snprintf(d->error, sizeof(d->error), "invalid portal '%s'", p->text);
			return ret;
		}
		ret = portal_open(d, p);
		if (ret < 0) {
			snprintf(d->error, sizeof(d->error), "cannot listen on portal %s: %s%s",
				 p->text, strerror(-ret),
				 ret == -EADDRINUSE ? " (is another target running?)" : "");
			return ret;
		}
		d->nr_portals++;
		iscsi_portal_add(d->lld, (struct sockaddr *)&p->addr, p->addr_len);
	}
	return 0;
}

static int utgtd_mgmt_open(struct utgtd *d)
{
	struct mgmt_config cfg = {
		.socket_path = d->opt->control_socket,
		.allowed_gid = (gid_t)-1,
		.on_shutdown = utgtd_request_stop,
		.arg = d,
	};
	int ret = mgmt_server_new(d->ctl, d->root, d->lld, &cfg, &d->mgmt);

	if (ret < 0)
		snprintf(d->error, sizeof(d->error), "cannot open control socket %s: %s%s",
			 cfg.socket_path, strerror(-ret),
			 ret == -EADDRINUSE ? " (another utgtd is using it)" : "");
	return ret;
}

/* --config and --metrics: targets exist before the portals accept anyone. */
static int utgtd_config_open(struct utgtd *d)
{
	char err[200];
	int ret = 0;

	if (d->opt->config) {
		ret = mgmt_config_load(d->mgmt, d->opt->config, err, sizeof(err));
		if (ret < 0) {
			snprintf(d->error, sizeof(d->error), "config: %s", err);
			return ret;
		}
	}
	if (d->opt->metrics) {
		ret = mgmt_metrics_new(d->ctl, d->root, d->lld, d->opt->metrics, &d->metrics);
		if (ret < 0)
			snprintf(d->error, sizeof(d->error), "cannot serve metrics on %s: %s",
				 d->opt->metrics, strerror(-ret));
	}
	return ret;
}

int utgtd_start(struct utgtd *d, const struct utgtd_options *opt)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->opt = opt;
	d->sigfd = -1;
	ret = core_root_new(&d->root);
	if (ret < 0) {
		snprintf(d->error, sizeof(d->error), "out of memory");
		return ret;
	}
	scsi_register_all(d->root);
	bs_register_all(d->root);
	ret = utgtd_reactors_start(d);
	if (ret == 0)
		ret = utgtd_signals_open(d);
	if (ret == 0) {
		ret = iscsi_lld_new(d->root, d->data, d->nr_data, &d->lld);
		if (ret < 0)
			snprintf(d->error, sizeof(d->error), "cannot start the iSCSI driver: %s",
				 strerror(-ret));
	}
	if (ret == 0)
		ret = utgtd_mgmt_open(d);
	if (ret == 0)
		ret = utgtd_config_open(d);
	if (ret == 0)
		ret = utgtd_portals_open(d);
	if (ret < 0) {
		utgtd_stop(d);
		return ret;
	}
	utgtd_watchdog_start(d);
	log_info("utgtd %s ready: %u portal(s), %u reactor(s), control socket %s", UTGT_VERSION,
		 d->nr_portals, d->nr_data, opt->control_socket);
	return 0;
}

void utgtd_run(struct utgtd *d)
{
	int ret = reactor_run(d->ctl);

	if (ret < 0)
		log_err("control loop failed: %s", strerror(-ret));
}

void utgtd_stop(struct utgtd *d)
{
	if (d->ctl)
		utgtd_watchdog_stop(d);
	mgmt_metrics_free(d->metrics);
	d->metrics = NULL;
	for (unsigned int i = 0; i < d->nr_portals; i++)
		portal_close(d, &d->portals[i]);
	if (d->lld)
		iscsi_lld_shutdown(d->lld, d->opt->shutdown_timeout_ms);
	if (d->mgmt)
		mgmt_server_free(d->mgmt);
	d->mgmt = NULL;
	for (unsigned int i = 0; i < d->nr_data; i++)
		reactor_stop(d->data[i]);
	for (unsigned int i = 0; i < d->nr_data; i++)
		reactor_thread_join(d->data[i]);
	/* targets go before the driver: their iSCSI state is freed through lld_free */
	core_root_free(d->root);
	d->root = NULL;
	if (d->lld)
		iscsi_lld_free(d->lld);
	d->lld = NULL;
	for (unsigned int i = 0; i < d->nr_data; i++)
		reactor_free(d->data[i]);
	d->nr_data = 0;
	if (d->sigfd >= 0)
		close(d->sigfd);
	d->sigfd = -1;
	reactor_free(d->ctl);
	d->ctl = NULL;
}
