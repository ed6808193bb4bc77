/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Least privilege: once portals, the management socket and the metrics listener are open,
 * utgtd can switch to an unprivileged user (--user/--group) keeping only CAP_DAC_OVERRIDE and
 * CAP_SYS_RAWIO (libcap-ng), sets no_new_privs, and installs a seccomp filter (libseccomp)
 * that allows only the system calls the daemon makes (--seccomp=off|log|trap|kill).
 */
#include "daemon/utgtd.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <scsi/sg.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include "util/util.h"

static const char *const privs_seccomp_names[] = {
	[UTGTD_SECCOMP_DEFAULT] = "default", [UTGTD_SECCOMP_OFF] = "off",
	[UTGTD_SECCOMP_LOG] = "log", [UTGTD_SECCOMP_TRAP] = "trap", [UTGTD_SECCOMP_KILL] = "kill",
};

/*
 * Capabilities every thread keeps: CAP_DAC_OVERRIDE opens backing, media and configuration
 * files that root names through the management socket whatever their owner, and unlinks the
 * socket at exit; CAP_SYS_RAWIO lets the sg store pass any CDB through SG_IO. Nothing else:
 * portals are only opened at start-up (no CAP_NET_BIND_SERVICE), CAP_DAC_READ_SEARCH would
 * add open_by_handle_at().
 */
static const int privs_caps_kept[] = { CAP_DAC_OVERRIDE, CAP_SYS_RAWIO };

/* Every system call utgtd makes after start-up (names missing on an architecture are skipped). */
static const char *const privs_syscalls[] = {
	/* files and backing stores */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
	"pwritev2", "open", "openat", "close", "close_range", "lseek", "fstat", "stat", "lstat",
	"newfstatat", "statx", "fstatfs", "statfs", "fsync", "fdatasync", "syncfs",
	"sync_file_range", "fallocate", "ftruncate", "fadvise64", "unlink", "unlinkat", "rename",
	"renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "getdents64", "readlink",
	"readlinkat", "access", "faccessat", "faccessat2", "fcntl", "dup", "dup2", "dup3", "pipe2",
	"fchmod", "flock", "getcwd", "umask",
	/* memory, threads, process */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "set_robust_list",
	"get_robust_list", "rseq", "set_tid_address", "exit", "exit_group", "gettid", "getpid",
	"getppid", "tgkill", "sched_yield", "sched_getaffinity", "getrlimit", "prlimit64",
	"getuid", "geteuid", "getgid", "getegid", "getgroups", "uname", "sysinfo", "getrandom",
	"restart_syscall", "membarrier",
	/* signals and time */
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "signalfd4",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	/* event loops, io_uring, Linux AIO */
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
	"poll", "ppoll", "io_uring_setup", "io_uring_enter", "io_uring_register", "io_setup",
	"io_destroy", "io_submit", "io_getevents", "io_pgetevents", "io_cancel",
	/* connections (listeners are opened before the filter), syslog, sd_notify */
	"accept", "accept4", "connect", "getsockopt", "setsockopt", "getsockname", "getpeername",
	"shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	/* the iSNS client's SCN port (lld/iscsi/isns.c), opened when iSNS is turned on */
	"bind", "listen",
};

/* ioctl requests: the sg and block stores, plus what libc asks of a terminal or socket. */
static const unsigned long privs_ioctls[] = {
	SG_IO, SG_GET_VERSION_NUM, BLKGETSIZE64, BLKDISCARD, BLKROGET, BLKSSZGET, BLKPBSZGET,
	TCGETS, FIONREAD, FIONBIO,
};

static const int privs_socket_domains[] = { AF_UNIX, AF_INET, AF_INET6 };

static const int privs_prctls[] = { PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE };

int utgtd_seccomp_parse(const char *text, enum utgtd_seccomp *mode)
{
	for (unsigned int i = UTGTD_SECCOMP_OFF; i < ARRAY_SIZE(privs_seccomp_names); i++) {
		if (!strcmp(text, privs_seccomp_names[i])) {
			*mode = (enum utgtd_seccomp)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *utgtd_seccomp_name(enum utgtd_seccomp mode)
{
	return (unsigned int)mode < ARRAY_SIZE(privs_seccomp_names) ?
	       privs_seccomp_names[mode] : "?";
}

int utgtd_privs_resolve(struct utgtd_options *opt, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	if (opt->seccomp == UTGTD_SECCOMP_DEFAULT)
		opt->seccomp = opt->user ? UTGTD_SECCOMP_KILL : UTGTD_SECCOMP_OFF;
	if (!opt->user) {
		if (opt->group) {
			snprintf(err, errlen, "--group needs --user");
			return -EINVAL;
		}
		return 0;
	}
	pw = getpwnam(opt->user);
	if (!pw) {
		snprintf(err, errlen, "unknown user '%s'", opt->user);
		return -ENOENT;
	}
	opt->uid = pw->pw_uid;
	opt->gid = pw->pw_gid;
	if (opt->group) {
		gr = getgrnam(opt->group);
		if (!gr) {
			snprintf(err, errlen, "unknown group '%s'", opt->group);
			return -ENOENT;
		}
		opt->gid = gr->gr_gid;
	}
	if (opt->uid == 0) {
		snprintf(err, errlen, "--user %s is root: nothing to drop", opt->user);
		return -EINVAL;
	}
	if (geteuid() != 0) {
		snprintf(err, errlen, "--user needs utgtd to be started as root");
		return -EPERM;
	}
	return 0;
}

/*
 * The data reactors run before the drop. Capabilities are per thread and capset() only works
 * on the caller, so each reactor thread does its part: keep its capabilities across the uid
 * change (step 0), then reduce them to the kept set and empty its bounding set (step 1).
 */
struct privs_sync {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int done;
	int err;
	int step;
	uint64_t kept;
};

struct privs_thread_msg {
	struct reactor_msg m;
	struct privs_sync *sync;
};

static int privs_capset(uint64_t eff, uint64_t prm)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {
		{ .effective = (uint32_t)eff, .permitted = (uint32_t)prm },
		{ .effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(prm >> 32) },
	};

	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static int privs_thread_reduce(uint64_t kept)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t prm;
	int rc;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	rc = privs_capset(prm, prm); /* CAP_SETPCAP effective, for the bounding set */
	for (unsigned long c = 0; !rc && c < 64; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			rc = -errno;
	}
	if (!rc)
		rc = privs_capset(prm & kept, prm & kept);
	if (!rc && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		rc = -errno;
	if (!rc && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		rc = -errno;
	return rc;
}

static void privs_thread_fn(struct reactor_msg *m)
{
	struct privs_thread_msg *tm = container_of(m, struct privs_thread_msg, m);
	struct privs_sync *sync = tm->sync;
	int rc;

	if (sync->step == 0)
		rc = prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ? -errno : 0;
	else
		rc = privs_thread_reduce(sync->kept);
	pthread_mutex_lock(&sync->lock);
	if (rc && !sync->err)
		sync->err = rc;
	sync->done++;
	pthread_cond_signal(&sync->cond);
	pthread_mutex_unlock(&sync->lock);
}

/* Runs step on every data reactor and waits for all of them. 0 or the first -errno. */
static int privs_threads_run(struct utgtd *d, struct privs_sync *sync, int step)
{
	struct privs_thread_msg msgs[UTGTD_MAX_THREADS];

	sync->step = step;
	sync->done = 0;
	for (unsigned int i = 0; i < d->nr_data; i++) {
		msgs[i].sync = sync;
		reactor_msg_send(d->data[i], &msgs[i].m, privs_thread_fn);
	}
	pthread_mutex_lock(&sync->lock);
	while (sync->done < d->nr_data)
		pthread_cond_wait(&sync->cond, &sync->lock);
	pthread_mutex_unlock(&sync->lock);
	return sync->err;
}

/* Switches every thread to uid/gid; they keep privs_caps_kept (what of it they have). */
/* libcap-ng's (thread-local) state := what we have of privs_caps_kept. */
static int privs_caps_select(struct utgtd *d)
{
	bool have[ARRAY_SIZE(privs_caps_kept)];
	unsigned int i;

	/* a service manager may have bounded the list already */
	if (capng_get_caps_process()) {
		snprintf(d->error, sizeof(d->error), "cannot read the process capabilities");
		return -EPERM;
	}
	for (i = 0; i < ARRAY_SIZE(privs_caps_kept); i++)
		have[i] = capng_have_capability(CAPNG_PERMITTED, (unsigned int)privs_caps_kept[i]);
	capng_clear(CAPNG_SELECT_BOTH);
	for (i = 0; i < ARRAY_SIZE(privs_caps_kept); i++) {
		if (have[i] && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
					    (unsigned int)privs_caps_kept[i])) {
			snprintf(d->error, sizeof(d->error), "capng_update failed");
			return -EINVAL;
		}
	}
	return 0;
}

static int utgtd_privs_switch(struct utgtd *d, struct privs_sync *sync)
{
	const struct utgtd_options *opt = d->opt;
	unsigned int i;
	int rc;

	rc = privs_caps_select(d);
	if (rc)
		return rc;
	/* glibc applies the id changes to every thread: the data reactors keep their capabilities
	 * through it (keepcaps) and reduce them afterwards */
	rc = privs_threads_run(d, sync, 0);
	if (rc) {
		snprintf(d->error, sizeof(d->error), "keepcaps: %s", strerror(-rc));
		return rc;
	}
	rc = capng_change_id((int)opt->uid, (int)opt->gid,
			     CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT);
	if (rc) {
		snprintf(d->error, sizeof(d->error),
			 "cannot switch to user %s (libcap-ng error %d): needs CAP_SETUID, "
			 "CAP_SETGID and CAP_SETPCAP", opt->user, rc);
		return -EPERM;
	}
	/* check what the kernel says, not what we asked for */
	if (capng_get_caps_process() || getuid() != opt->uid || geteuid() != opt->uid ||
	    getegid() != opt->gid || capng_have_capability(CAPNG_PERMITTED, CAP_SETUID) ||
	    capng_have_capability(CAPNG_PERMITTED, CAP_SETPCAP)) {
		snprintf(d->error, sizeof(d->error), "privileges were not dropped");
		return -EPERM;
	}
	for (i = 0; i < ARRAY_SIZE(privs_caps_kept); i++) {
		if (capng_have_capability(CAPNG_PERMITTED, (unsigned int)privs_caps_kept[i]))
			sync->kept |= 1ull << privs_caps_kept[i];
	}
	rc = privs_threads_run(d, sync, 1);
	if (rc) {
		snprintf(d->error, sizeof(d->error), "cannot drop the reactors' capabilities: %s",
			 strerror(-rc));
		return rc;
	}
	log_info("running as uid %u gid %u%s%s", (unsigned int)opt->uid,
		 (unsigned int)opt->gid,
		 capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_OVERRIDE) ?
		 " with CAP_DAC_OVERRIDE" : " without CAP_DAC_OVERRIDE",
		 capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_RAWIO) ?
		 ", CAP_SYS_RAWIO" : ", without CAP_SYS_RAWIO");
	return 0;
}

int utgtd_privs_drop(struct utgtd *d)
{
	int rc;

	if (d->opt->user) {
		struct privs_sync sync = {
			.lock = PTHREAD_MUTEX_INITIALIZER,
			.cond = PTHREAD_COND_INITIALIZER,
		};

		rc = utgtd_privs_switch(d, &sync);
		pthread_mutex_destroy(&sync.lock);
		pthread_cond_destroy(&sync.cond);
		if (rc)
			return rc;
	}
	if ((d->opt->user || d->opt->seccomp > UTGTD_SECCOMP_OFF) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(d->error, sizeof(d->error), "no_new_privs: %s", strerror(errno));
		return rc;
	}
	return utgtd_seccomp_install(d);
}

/* --seccomp=trap: says which call was refused (async-signal-safe), which then fails ENOSYS. */
static void utgtd_seccomp_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char msg[64] = "utgtd: seccomp: refused system call ";
	char num[12];
	size_t len = strlen(msg);
	int nr = si->si_syscall;
	int n = 0;
	ssize_t w;

	(void)sig;
	do {
		num[n++] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr && n < (int)sizeof(num));
	while (n && len < sizeof(msg) - 2)
		msg[len++] = num[--n];
	msg[len++] = '\n';
	w = write(STDERR_FILENO, msg, len);
	(void)w;
#if defined(__x86_64__)
	((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	((ucontext_t *)uctx)->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
	(void)uctx;
#endif
}

static int utgtd_seccomp_rules(scmp_filter_ctx ctx)
{
	unsigned int i;
	int nr, rc = 0;

	for (i = 0; i < ARRAY_SIZE(privs_syscalls) && !rc; i++) {
		nr = seccomp_syscall_resolve_name(privs_syscalls[i]);
		if (nr != __NR_SCMP_ERROR)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	for (i = 0; i < ARRAY_SIZE(privs_ioctls) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, privs_ioctls[i]));
	for (i = 0; i < ARRAY_SIZE(privs_socket_domains) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)privs_socket_domains[i]));
	for (i = 0; i < ARRAY_SIZE(privs_prctls) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)privs_prctls[i]));
	/* threads only, never a new process; clone3 cannot be inspected: glibc falls back */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return rc;
}

int utgtd_seccomp_install(struct utgtd *d)
{
	static const uint32_t actions[] = {
		[UTGTD_SECCOMP_LOG] = SCMP_ACT_LOG,
		[UTGTD_SECCOMP_TRAP] = SCMP_ACT_TRAP,
		[UTGTD_SECCOMP_KILL] = SCMP_ACT_KILL_PROCESS,
	};
	enum utgtd_seccomp mode = d->opt->seccomp;
	struct sigaction sa = { .sa_sigaction = utgtd_seccomp_sigsys, .sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int rc;

	if (mode <= UTGTD_SECCOMP_OFF)
		return 0;
	if (mode == UTGTD_SECCOMP_TRAP && sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	ctx = seccomp_init(actions[mode]);
	if (!ctx) {
		snprintf(d->error, sizeof(d->error), "seccomp_init failed");
		return -ENOMEM;
	}
	rc = utgtd_seccomp_rules(ctx);
	/* every thread, including the data reactors already running */
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc) {
		snprintf(d->error, sizeof(d->error), "cannot install the seccomp filter: %s",
			 strerror(-rc));
		return rc;
	}
	log_info("seccomp filter installed (%s)", utgtd_seccomp_name(mode));
	return 0;
}
