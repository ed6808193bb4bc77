/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgtd's entry point: options, logging, signals and daemonizing. In background mode the
 * parent waits on a pipe until the child has opened every portal and the control socket, so
 * `utgtd && utgtadm ...` never races (tgt daemonizes first and every distribution sleeps).
 */
#include "daemon/utgtd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt/wire.h"
#include "util/util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: utgtd [OPTION]...\n"
		"Userspace SCSI target daemon: serves logical units over iSCSI.\n\n"
		"  -p, --portal ADDR[:PORT][,TPGT]\n"
		"                               listen on this portal in portal group TPGT (default 1;\n"
		"                               repeatable; IPv6 as [ADDR]:PORT)\n"
		"                               default: 0.0.0.0:3260 and [::]:3260\n"
		"  -s, --control-socket PATH    management socket (default " MGMT_SOCKET_DEFAULT ")\n"
		"  -C, --control-port N         tgt-style instance number: socket PATH.N\n"
		"  -t, --threads N              data reactors (default: number of online CPUs)\n"
		"  -f, --foreground             stay in the foreground and log to stderr\n"
		"  -d, --debug LEVEL            0 normal, 1 debug messages\n"
		"  -T, --shutdown-timeout SEC   wait this long for initiators to log out (default 5)\n"
		"  -c, --config FILE            apply this targets.conf at start-up and on SIGHUP\n"
		"      --metrics ADDR:PORT      serve Prometheus metrics over HTTP (default: off)\n"
		"      --state-dir DIR          persistent state: APTPL reservations (\"\": none)\n"
		"                               default " UTGTD_STATE_DIR_DEFAULT "\n"
		"      --stuck-io-ms MS         log and count commands in flight longer than MS\n"
		"                               (default 30000; 0: off)\n"
		"  -u, --user USER              after start-up run as USER with only CAP_DAC_OVERRIDE\n"
		"                               and CAP_SYS_RAWIO (start as root)\n"
		"  -g, --group GROUP            with --user: run with this group (default: USER's)\n"
		"      --seccomp MODE           system call filter: off, log, trap or kill\n"
		"                               (default: kill with --user, off without)\n"
		"      --login-timeout SEC      a login must finish within SEC seconds (default 15)\n"
		"      --max-initiator-conns N  connections one initiator address may hold (default\n"
		"                               512; more are closed before login)\n"
		"      --coalesce-us US         behind a deep queue (4+ commands), wait US microseconds\n"
		"                               before reading the sockets again (default 20; 0: off)\n"
		"  -h, --help                   show this help\n"
		"  -V, --version                show the version\n");
}

static int parse_options(int argc, char **argv, struct utgtd_options *opt)
{
	static const struct option longopts[] = {
		{ "portal", required_argument, NULL, 'p' },
		{ "control-socket", required_argument, NULL, 's' },
		{ "control-port", required_argument, NULL, 'C' },
		{ "threads", required_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", required_argument, NULL, 'd' },
		{ "shutdown-timeout", required_argument, NULL, 'T' },
		{ "config", required_argument, NULL, 'c' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "state-dir", required_argument, NULL, 'D' },
		{ "stuck-io-ms", required_argument, NULL, 'W' },
		{ "user", required_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'g' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "login-timeout", required_argument, NULL, 'L' },
		{ "max-initiator-conns", required_argument, NULL, 'I' },
		{ "coalesce-us", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char err[160];
	uint64_t v;
	int c;

	opt->threads = ncpu > 0 ? (unsigned int)MIN(ncpu, UTGTD_MAX_THREADS) : 1;
	opt->shutdown_timeout_ms = 5000;
	opt->stuck_io_ms = 30000;
	opt->coalesce_us = UTGTD_COALESCE_US_DEFAULT;
	str_copy(opt->control_socket, MGMT_SOCKET_DEFAULT, sizeof(opt->control_socket));
	opt->state_dir = UTGTD_STATE_DIR_DEFAULT;
	while ((c = getopt_long(argc, argv, "p:s:C:t:fd:T:c:u:g:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (opt->nr_portals == UTGTD_MAX_PORTALS) {
				fprintf(stderr, "utgtd: at most %d portals\n", UTGTD_MAX_PORTALS);
				return -1;
			}
			opt->portals[opt->nr_portals++] = optarg;
			break;
		case 's':
			if (str_copy(opt->control_socket, optarg, sizeof(opt->control_socket)) >=
			    sizeof(opt->control_socket)) {
				fprintf(stderr, "utgtd: control socket path too long\n");
				return -1;
			}
			break;
		case 'C':
			if (str_to_u64(optarg, 0, 65535, &v) < 0) {
				fprintf(stderr, "utgtd: invalid control port '%s'\n", optarg);
				return -1;
			}
			mgmt_socket_path_for_port(opt->control_socket, sizeof(opt->control_socket),
						  (int)v);
			break;
		case 't':
			if (str_to_u64(optarg, 1, UTGTD_MAX_THREADS, &v) < 0) {
				fprintf(stderr, "utgtd: --threads takes 1 to %d\n", UTGTD_MAX_THREADS);
				return -1;
			}
			opt->threads = (unsigned int)v;
			break;
		case 'f':
			opt->foreground = true;
			break;
		case 'd':
			if (str_to_u64(optarg, 0, 9, &v) < 0) {
				fprintf(stderr, "utgtd: invalid debug level '%s'\n", optarg);
				return -1;
			}
			opt->debug = (int)v;
			break;
		case 'T':
			if (str_to_u64(optarg, 0, 3600, &v) < 0) {
				fprintf(stderr, "utgtd: invalid shutdown timeout '%s'\n", optarg);
				return -1;
			}
			opt->shutdown_timeout_ms = (unsigned int)v * 1000;
			break;
		case 'c':
			/* absolute, so SIGHUP finds it whatever the working directory */
			opt->config = realpath(optarg, NULL);
			if (!opt->config) {
				fprintf(stderr, "utgtd: config file %s: %s\n", optarg,
					strerror(errno));
				return -1;
			}
			break;
		case 'M':
			opt->metrics = optarg;
			break;
		case 'D':
			opt->state_dir = optarg;
			break;
		case 'W':
			if (str_to_u64(optarg, 0, 3600000, &v) < 0) {
				fprintf(stderr, "utgtd: --stuck-io-ms takes 0 to 3600000\n");
				return -1;
			}
			opt->stuck_io_ms = (unsigned int)v;
			break;
		case 'K':
			if (str_to_u64(optarg, 0, 1000, &v) < 0) {
				fprintf(stderr, "utgtd: --coalesce-us takes 0 to 1000\n");
				return -1;
			}
			opt->coalesce_us = (unsigned int)v;
			break;
		case 'u':
			opt->user = optarg;
			break;
		case 'g':
			opt->group = optarg;
			break;
		case 'L':
			opt->login_timeout = optarg;
			break;
		case 'I':
			opt->initiator_conns = optarg;
			break;
		case 'S':
			if (utgtd_seccomp_parse(optarg, &opt->seccomp) < 0) {
				fprintf(stderr, "utgtd: --seccomp takes off, log, trap or kill\n");
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("utgtd %s\n", UTGT_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "utgtd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (opt->nr_portals == 0) {
		opt->portals[opt->nr_portals++] = "0.0.0.0:3260";
		opt->portals[opt->nr_portals++] = "[::]:3260";
	}
	if (utgtd_privs_resolve(opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "utgtd: %s\n", err);
		return -1;
	}
	return 0;
}

/* Signals are handled through a signalfd; block them before any thread starts. */
static void signals_block(void)
{
	sigset_t set;

	/* a shell starts background jobs with SIGINT ignored; an ignored signal never reaches
	 * the signalfd, so restore the defaults before blocking */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Forks; the parent waits for the child's verdict on the pipe: one byte 0 for ready, or an
 * error message. Returns in the child with the pipe's write end in *notify_fd.
 */
static void daemonize(int *notify_fd)
{
	char msg[300];
	int pfd[2];
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("utgtd: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("utgtd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(pfd[1]);
		n = read(pfd[0], msg, sizeof(msg) - 1);
		if (n == 1 && msg[0] == 0)
			exit(0);
		if (n > 0) {
			msg[n] = '\0';
			fprintf(stderr, "utgtd: %s\n", msg);
		} else {
			fprintf(stderr, "utgtd: failed to start\n");
		}
		exit(1);
	}
	close(pfd[0]);
	setsid();
	*notify_fd = pfd[1];
}

static void daemon_detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

int main(int argc, char **argv)
{
	static struct utgtd_options opt;
	static struct utgtd d;
	int notify_fd = -1;
	ssize_t n;

	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	if (!opt.foreground)
		daemonize(&notify_fd);
	log_setup("utgtd", opt.foreground, opt.debug ? LOG_LVL_DBG : LOG_LVL_INFO);
	signals_block();
	umask(022);
	if (utgtd_start(&d, &opt) < 0) {
		if (notify_fd >= 0) {
			n = write(notify_fd, d.error, strlen(d.error));
			(void)n;
		} else {
			fprintf(stderr, "utgtd: %s\n", d.error);
		}
		return 1;
	}
	if (notify_fd >= 0) {
		char ok = 0;

		daemon_detach_stdio();
		n = write(notify_fd, &ok, 1);
		(void)n;
		close(notify_fd);
	}
	utgtd_notify("READY=1\nSTATUS=serving on %u portal(s), %u reactor(s)\nMAINPID=%ld",
		     d.nr_portals, d.nr_data, (long)getpid());
	utgtd_run(&d);
	utgtd_notify("STOPPING=1\nSTATUS=stopping: closing sessions");
	utgtd_stop(&d);
	log_info("stopped");
	return 0;
}
