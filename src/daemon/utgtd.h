/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon: the root object of utgtd. main() parses options into struct utgtd_options, then
 * utgtd_start() builds everything (core, device types, backing stores, reactors, the iSCSI
 * driver, portals, management socket) and utgtd_run() drives the control reactor on the main
 * thread until SIGTERM/SIGINT or `utgtadm --mode sys --op delete`; utgtd_stop() then shuts
 * down in order: listeners, sessions (logout requested, in-flight commands finished or
 * aborted), reactors, management socket (unlinked), core.
 *
 * Prefix owned: utgtd_, portal_.
 */
#ifndef UTGT_DAEMON_UTGTD_H
#define UTGT_DAEMON_UTGTD_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "reactor/reactor.h"
#include "util/util.h"

struct mgmt_metrics;

#define UTGTD_MAX_PORTALS 16
#define UTGTD_MAX_THREADS 256
#define UTGTD_COALESCE_US_DEFAULT 20

/* --seccomp: DEFAULT is KILL with --user, OFF without (privs.c) */
enum utgtd_seccomp {
	UTGTD_SECCOMP_DEFAULT,
	UTGTD_SECCOMP_OFF,
	UTGTD_SECCOMP_LOG,             /* allowed, logged by the kernel (audit) */
	UTGTD_SECCOMP_TRAP,            /* refused with ENOSYS, logged on stderr (debugging) */
	UTGTD_SECCOMP_KILL,            /* the process dies with SIGSYS */
};

#define UTGTD_STATE_DIR_DEFAULT "/var/lib/utgt"

struct utgtd_options {
	const char *portals[UTGTD_MAX_PORTALS];
	unsigned int nr_portals;
	char control_socket[108];
	unsigned int threads;          /* data reactors */
	bool foreground;
	int debug;                     /* 0 info, 1+ debug */
	unsigned int shutdown_timeout_ms;
	const char *config;            /* --config FILE: applied at start-up and on SIGHUP */
	const char *metrics;           /* --metrics ADDR:PORT: Prometheus endpoint, or NULL */
	const char *state_dir;         /* --state-dir DIR: APTPL state; "" for none */
	unsigned int stuck_io_ms;      /* --stuck-io-ms: watchdog limit, 0 off */
	unsigned int coalesce_us;      /* --coalesce-us: receive coalescing wait, 0 off */
	const char *user;              /* --user: drop to this user after start-up, or NULL */
	const char *group;             /* --group: its group instead of the user's */
	uid_t uid;                     /* resolved by utgtd_privs_resolve */
	gid_t gid;
	enum utgtd_seccomp seccomp;
	const char *login_timeout;     /* --login-timeout SEC, or NULL */
	const char *initiator_conns;   /* --max-initiator-conns N, or NULL */
};

struct portal {
	struct reactor_watch watch;
	struct utgtd *d;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint16_t tpgt;                 /* portal group tag (",TPGT" suffix; default 1) */
	char text[80];                 /* as given, for messages */
};

struct utgtd {
	const struct utgtd_options *opt;
	struct core_root *root;
	struct reactor *ctl;           /* control reactor: listeners, mgmt, signals (main thread) */
	struct reactor *data[UTGTD_MAX_THREADS];
	unsigned int nr_data;
	struct iscsi_lld *lld;
	struct mgmt_server *mgmt;
	struct portal portals[UTGTD_MAX_PORTALS];
	unsigned int nr_portals;
	int sigfd;
	struct reactor_watch sig_watch;
	char error[256];               /* why start-up failed, for the parent process */
	struct reactor_timer watchdog; /* systemd WATCHDOG=1 keep-alive */
	uint64_t watchdog_ms;          /* 0: no watchdog */
	struct mgmt_metrics *metrics;  /* --metrics endpoint, or NULL */
};

/* sd_notify(3) without libsystemd (notify.c); no-ops outside systemd. */
__printf(1, 2) void utgtd_notify(const char *fmt, ...);
void utgtd_watchdog_start(struct utgtd *d);
void utgtd_watchdog_stop(struct utgtd *d);

/* Builds everything; on failure fills d->error and returns -errno (all undone). */
int utgtd_start(struct utgtd *d, const struct utgtd_options *opt);
/* Runs the control loop until a stop is requested. */
void utgtd_run(struct utgtd *d);
/* Tears everything down. */
void utgtd_stop(struct utgtd *d);

/*
 * Least privilege (privs.c). utgtd_privs_resolve looks up --user/--group before start-up (and
 * resolves the --seccomp default); utgtd_privs_drop switches user, keeps only the needed
 * capabilities, sets no_new_privs and installs the seccomp filter. 0 or -errno (d->error).
 */
int utgtd_seccomp_parse(const char *text, enum utgtd_seccomp *mode);
const char *utgtd_seccomp_name(enum utgtd_seccomp mode);
int utgtd_privs_resolve(struct utgtd_options *opt, char *err, size_t errlen);
int utgtd_privs_drop(struct utgtd *d);
int utgtd_seccomp_install(struct utgtd *d);

/*
 * Parses "ADDR[:PORT]", "[V6ADDR][:PORT]" or a bare IPv6 address; port defaults to 3260.
 * 0 or -EINVAL.
 */
int portal_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
		 uint16_t *tpgt);
/* Binds and listens (SO_REUSEADDR, IPV6_V6ONLY for IPv6). 0 or -errno. */
int portal_open(struct utgtd *d, struct portal *p);
void portal_close(struct utgtd *d, struct portal *p);

#endif
