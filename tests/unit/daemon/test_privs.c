/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit tests for daemon/privs.c: --seccomp parsing, --user/--group resolution and defaults,
 * and the seccomp filter itself, installed in forked children: allowed calls work, a
 * forbidden one kills (kill), fails with ENOSYS (trap), fork is refused, clone3 says ENOSYS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/utgtd.h"

static void test_privs_seccomp_parse(void **state)
{
	enum utgtd_seccomp m = UTGTD_SECCOMP_DEFAULT;

	(void)state;
	assert_int_equal(utgtd_seccomp_parse("off", &m), 0);
	assert_int_equal(m, UTGTD_SECCOMP_OFF);
	assert_int_equal(utgtd_seccomp_parse("log", &m), 0);
	assert_int_equal(utgtd_seccomp_parse("trap", &m), 0);
	assert_int_equal(utgtd_seccomp_parse("kill", &m), 0);
	assert_int_equal(m, UTGTD_SECCOMP_KILL);
	assert_string_equal(utgtd_seccomp_name(m), "kill");
	assert_int_equal(utgtd_seccomp_parse("default", &m), -EINVAL);
	assert_int_equal(utgtd_seccomp_parse("KILL", &m), -EINVAL);
	assert_int_equal(utgtd_seccomp_parse("", &m), -EINVAL);
}

static void test_privs_resolve(void **state)
{
	struct utgtd_options opt;
	char err[160];

	(void)state;
	memset(&opt, 0, sizeof(opt));
	assert_int_equal(utgtd_privs_resolve(&opt, err, sizeof(err)), 0);
	assert_int_equal(opt.seccomp, UTGTD_SECCOMP_OFF); /* no --user: no filter by default */

	memset(&opt, 0, sizeof(opt));
	opt.group = "root";
	assert_int_equal(utgtd_privs_resolve(&opt, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--group needs --user"));

	memset(&opt, 0, sizeof(opt));
	opt.user = "no-such-user-for-utgt";
	assert_int_equal(utgtd_privs_resolve(&opt, err, sizeof(err)), -ENOENT);
	assert_int_equal(opt.seccomp, UTGTD_SECCOMP_KILL); /* --user: kill by default */

	memset(&opt, 0, sizeof(opt));
	opt.user = "root";
	assert_int_equal(utgtd_privs_resolve(&opt, err, sizeof(err)), -EINVAL);

	memset(&opt, 0, sizeof(opt));
	opt.user = "nobody";
	opt.group = "no-such-group-for-utgt";
	opt.seccomp = UTGTD_SECCOMP_LOG;
	if (utgtd_privs_resolve(&opt, err, sizeof(err)) != -ENOENT)
		skip(); /* no "nobody" here */
	assert_int_equal(opt.seccomp, UTGTD_SECCOMP_LOG); /* an explicit mode stays */
}

/* Runs fn in a child under the filter; returns its wait status. */
static int in_filtered_child(enum utgtd_seccomp mode, int (*fn)(void))
{
	static struct utgtd_options opt;
	static struct utgtd d;
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		opt.seccomp = mode;
		d.opt = &opt;
		if (utgtd_seccomp_install(&d) < 0)
			_exit(100);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void *thread_fn(void *arg)
{
	return arg;
}

static int allowed_calls(void)
{
	char buf[16];
	pthread_t t;
	int fd;

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || write(fd, "x", 1) != 1 || read(fd, buf, sizeof(buf)) != 0)
		return 1;
	close(fd);
	if (getpid() <= 0)
		return 2;
	if (pthread_create(&t, NULL, thread_fn, NULL) || pthread_join(t, NULL))
		return 3;
	return 0;
}

static int forbidden_ptrace(void)
{
	syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
	return errno == ENOSYS ? 42 : 43;
}

static int forbidden_fork(void)
{
	pid_t pid = (pid_t)syscall(SYS_fork);

	if (pid == 0)
		_exit(0);
	return errno == ENOSYS ? 42 : 43;
}

static int clone3_enosys(void)
{
	long r = syscall(SYS_clone3, NULL, 0);

	return r < 0 && errno == ENOSYS ? 0 : 1;
}

static void test_privs_filter_kill(void **state)
{
	int st;

	(void)state;
	st = in_filtered_child(UTGTD_SECCOMP_KILL, allowed_calls);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_filtered_child(UTGTD_SECCOMP_KILL, forbidden_ptrace);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_filtered_child(UTGTD_SECCOMP_KILL, forbidden_fork);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_filtered_child(UTGTD_SECCOMP_KILL, clone3_enosys);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_privs_filter_trap(void **state)
{
	int st;

	(void)state;
	st = in_filtered_child(UTGTD_SECCOMP_TRAP, forbidden_ptrace);
	assert_true(WIFEXITED(st));
#if defined(__x86_64__) || defined(__aarch64__)
	assert_int_equal(WEXITSTATUS(st), 42); /* refused with ENOSYS, process alive */
#endif
	st = in_filtered_child(UTGTD_SECCOMP_OFF, allowed_calls);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_privs_seccomp_parse),
		cmocka_unit_test(test_privs_resolve),
		cmocka_unit_test(test_privs_filter_kill),
		cmocka_unit_test(test_privs_filter_trap),
	};

	log_setup("test_privs", true, LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
