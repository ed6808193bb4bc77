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
#include <sys/stat.h>
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
			reactor_set_coalesce_us(d->data[i], d->opt->coalesce_us);
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
		ret = portal_parse(p->text, &p->addr, &p->addr_len, &p->tpgt);
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
		iscsi_portal_add(d->lld, (struct sockaddr *)&p->addr, p->addr_len, p->tpgt);
	}
	return 0;
}

/* The open portal listening on addr, or NULL. */
static struct portal *utgtd_portal_find(struct utgtd *d, const struct sockaddr_storage *ss,
					socklen_t len)
{
	for (unsigned int i = 0; i < d->nr_portals; i++) {
		struct portal *q = &d->portals[i];

		if (q->watch.fd >= 0 && q->addr_len == len && !memcmp(&q->addr, ss, len))
			return q;
	}
	return NULL;
}

/* --mode portal --op new: one more listening portal; a closed slot is reused (its watch is
 * no longer registered), so registered watches never move. */
static int utgtd_portal_add(void *arg, const char *text, uint16_t tpgt)
{
	struct utgtd *d = arg;
	struct sockaddr_storage ss;
	struct portal *p = NULL;
	socklen_t len;
	uint16_t dflt;
	int ret;

	if (strchr(text, ',') || portal_parse(text, &ss, &len, &dflt))
		return -EINVAL;
	if (utgtd_portal_find(d, &ss, len))
		return -EEXIST;
	for (unsigned int i = 0; i < d->nr_portals && !p; i++)
		if (d->portals[i].watch.fd < 0)
			p = &d->portals[i];
	if (!p && d->nr_portals == UTGTD_MAX_PORTALS)
		return -ENOSPC;
	if (!p)
		p = &d->portals[d->nr_portals];
	snprintf(p->text, sizeof(p->text), "%s,%u", text, tpgt);
	p->addr = ss;
	p->addr_len = len;
	p->tpgt = tpgt;
	ret = portal_open(d, p);
	if (ret < 0) {
		p->watch.fd = -1;
		return ret;
	}
	if (p == &d->portals[d->nr_portals])
		d->nr_portals++;
	ret = iscsi_portal_add(d->lld, (struct sockaddr *)&p->addr, p->addr_len, tpgt);
	if (ret < 0)
		portal_close(d, p);
	else
		log_info("portal %s opened", p->text);
	return ret;
}

/* --mode portal --op delete: stops listening; sessions that came through it stay. */
static int utgtd_portal_del(void *arg, const char *text)
{
	struct utgtd *d = arg;
	struct sockaddr_storage ss;
	struct portal *p;
	socklen_t len;
	uint16_t tpgt;

	if (strchr(text, ',') || portal_parse(text, &ss, &len, &tpgt))
		return -EINVAL;
	p = utgtd_portal_find(d, &ss, len);
	if (!p)
		return -ENOENT;
	iscsi_portal_del(d->lld, (struct sockaddr *)&p->addr, p->addr_len);
	portal_close(d, p);
	log_info("portal %s closed", p->text);
	return 0;
}

static int utgtd_mgmt_open(struct utgtd *d)
{
	struct mgmt_config cfg = {
		.socket_path = d->opt->control_socket,
		.allowed_gid = (gid_t)-1,
		.on_shutdown = utgtd_request_stop,
		.portal_add = utgtd_portal_add,
		.portal_del = utgtd_portal_del,
		.arg = d,
		.config_path = d->opt->config,
	};
	int ret = mgmt_server_new(d->ctl, d->root, d->lld, &cfg, &d->mgmt);

	if (ret < 0)
		snprintf(d->error, sizeof(d->error), "cannot open control socket %s: %s%s",
			 cfg.socket_path, strerror(-ret),
			 ret == -EADDRINUSE ? " (another utgtd is using it)" : "");
	return ret;
}

/* --login-timeout, --max-initiator-conns */
static int utgtd_limits_set(struct utgtd *d)
{
	const struct {
		const char *name, *value, *option;
	} lim[] = {
		{ "login_timeout", d->opt->login_timeout, "--login-timeout" },
		{ "max_initiator_conns", d->opt->initiator_conns, "--max-initiator-conns" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(lim); i++) {
		if (lim[i].value && iscsi_lld_limit_set(d->lld, lim[i].name, lim[i].value) < 0) {
			snprintf(d->error, sizeof(d->error), "invalid %s '%s'", lim[i].option,
				 lim[i].value);
			return -EINVAL;
		}
	}
	return 0;
}

/* --config: applied before utgtd_run accepts anyone, so its targets exist for the first login. */
static int utgtd_config_open(struct utgtd *d)
{
	char err[200];
	int ret = 0;

	if (d->opt->config) {
		ret = mgmt_config_load(d->mgmt, d->opt->config, err, sizeof(err));
		if (ret < 0)
			snprintf(d->error, sizeof(d->error), "config: %s", err);
	}
	return ret;
}

static int utgtd_metrics_open(struct utgtd *d)
{
	int ret = 0;

	if (d->opt->metrics) {
		ret = mgmt_metrics_new(d->ctl, d->root, d->lld, d->opt->metrics, &d->metrics);
		if (ret < 0)
			snprintf(d->error, sizeof(d->error), "cannot serve metrics on %s: %s",
				 d->opt->metrics, strerror(-ret));
	}
	return ret;
}

/*
 * The state directory (--state-dir): created when missing (one level, mode 0700). When it
 * cannot be used, reservations do not persist (REPORT CAPABILITIES says PTPL_C 0).
 */
static int utgtd_state_dir_open(struct utgtd *d)
{
	const char *dir = d->opt->state_dir;
	struct stat st;

	if (!dir || !*dir)
		return 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_warn("state directory %s: %s: reservations will not persist", dir,
			 strerror(errno));
		return 0;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_warn("state directory %s is not a directory: reservations will not persist",
			 dir);
		return 0;
	}
	if (core_root_set_state_dir(d->root, dir) < 0) {
		snprintf(d->error, sizeof(d->error), "out of memory");
		return -ENOMEM;
	}
	return 0;
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
	ret = utgtd_state_dir_open(d);
	if (ret == 0)
		ret = utgtd_reactors_start(d);
	if (ret == 0)
		ret = utgtd_signals_open(d);
	if (ret == 0) {
		ret = iscsi_lld_new(d->root, d->data, d->nr_data, &d->lld);
		if (ret < 0)
			snprintf(d->error, sizeof(d->error), "cannot start the iSCSI driver: %s",
				 strerror(-ret));
		else
			iscsi_lld_stuck_set(d->lld, d->opt->stuck_io_ms);
	}
	if (ret == 0)
		ret = iscsi_lld_ctl_set(d->lld, d->ctl); /* where the iSNS client runs */
	if (ret == 0)
		ret = utgtd_limits_set(d);
	if (ret == 0)
		ret = utgtd_mgmt_open(d);
	if (ret == 0)
		ret = utgtd_metrics_open(d);
	if (ret == 0)
		ret = utgtd_portals_open(d);
	/* everything that needs root is open: --user, capabilities, seccomp */
	if (ret == 0)
		ret = utgtd_privs_drop(d);
	/* after the drop, so LU threads it starts inherit the kept capabilities; nobody is
	 * accepted before utgtd_run */
	if (ret == 0)
		ret = utgtd_config_open(d);
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
