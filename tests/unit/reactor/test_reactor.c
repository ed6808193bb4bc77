/* SPDX-License-Identifier: GPL-2.0-only */
/* Unit tests for reactor/: timer order and cancel, cross-thread messages, deferred calls,
 * watches and io_uring completions. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "reactor/reactor.h"
#include "util/util.h"

struct probe {
	struct reactor_timer timer;
	struct reactor_msg msg;
	struct reactor_io io;
	int *log;
	int *nlog;
	int id;
	int res;
};

static void probe_timer_cb(struct reactor_timer *t)
{
	struct probe *p = container_of(t, struct probe, timer);

	p->log[(*p->nlog)++] = p->id;
}

static void test_timers_fire_in_expiry_order(void **state)
{
	struct reactor *r;
	struct probe p[4];
	int log[4], nlog = 0;
	static const int delays[4] = { 30, 10, 20, 5 };

	(void)state;
	assert_int_equal(reactor_new(&r, 0, 0), 0);
	for (int i = 0; i < 4; i++) {
		p[i].log = log;
		p[i].nlog = &nlog;
		p[i].id = i;
		reactor_timer_init(&p[i].timer, probe_timer_cb);
		assert_int_equal(reactor_timer_arm(r, &p[i].timer, (uint64_t)delays[i]), 0);
	}
	reactor_timer_cancel(r, &p[2].timer);
	assert_false(reactor_timer_is_armed(&p[2].timer));
	while (nlog < 3)
		assert_true(reactor_run_once(r, 100) >= 0);
	assert_int_equal(log[0], 3);
	assert_int_equal(log[1], 1);
	assert_int_equal(log[2], 0);
	reactor_free(r);
}

static void probe_msg_cb(struct reactor_msg *m)
{
	struct probe *p = container_of(m, struct probe, msg);

	p->log[(*p->nlog)++] = p->id;
	assert_ptr_not_equal(reactor_self(), NULL);
}

struct sender {
	struct reactor *r;
	struct probe *p;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;

	reactor_msg_send(s->r, &s->p->msg, probe_msg_cb);
	return NULL;
}

static void test_messages_from_another_thread_run_on_reactor(void **state)
{
	struct reactor *r;
	struct probe p = { .id = 7 };
	int log[1], nlog = 0;
	struct sender s;
	pthread_t t;

	(void)state;
	p.log = log;
	p.nlog = &nlog;
	assert_int_equal(reactor_new(&r, 0, 0), 0);
	s.r = r;
	s.p = &p;
	pthread_create(&t, NULL, sender_main, &s);
	pthread_join(t, NULL);
	while (nlog == 0)
		assert_true(reactor_run_once(r, 1000) >= 0);
	assert_int_equal(log[0], 7);
	reactor_free(r);
}

static void test_deferred_calls_run_after_batch_in_order(void **state)
{
	struct reactor *r;
	struct probe p[3];
	int log[3], nlog = 0;

	(void)state;
	assert_int_equal(reactor_new(&r, 0, 0), 0);
	for (int i = 0; i < 3; i++) {
		p[i].log = log;
		p[i].nlog = &nlog;
		p[i].id = i;
		reactor_defer(r, &p[i].msg, probe_msg_cb);
	}
	assert_int_equal(nlog, 0);
	assert_true(reactor_run_once(r, 1000) >= 3);
	assert_int_equal(nlog, 3);
	assert_int_equal(log[0], 0);
	assert_int_equal(log[2], 2);
	reactor_free(r);
}

static int watch_hits;

static void watch_cb(struct reactor_watch *w, uint32_t events)
{
	char c;

	assert_true(events & EPOLLIN);
	assert_int_equal(read(w->fd, &c, 1), 1);
	watch_hits++;
}

static void test_watch_reports_readable_fd(void **state)
{
	struct reactor_watch w;
	struct reactor *r;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(reactor_new(&r, 0, 0), 0);
	assert_int_equal(reactor_watch_add(r, &w, fds[0], EPOLLIN, watch_cb), 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	watch_hits = 0;
	while (watch_hits == 0)
		assert_true(reactor_run_once(r, 1000) >= 0);
	reactor_watch_del(r, &w);
	reactor_free(r);
	close(fds[0]);
	close(fds[1]);
}

static void probe_io_cb(struct reactor_io *io, int res)
{
	struct probe *p = container_of(io, struct probe, io);

	p->res = res;
	p->log[(*p->nlog)++] = p->id;
}

static void test_uring_completion_reaches_callback(void **state)
{
	struct io_uring_sqe *sqe;
	struct reactor *r;
	struct probe p = { .id = 1, .res = -1 };
	int log[1], nlog = 0;

	(void)state;
	p.log = log;
	p.nlog = &nlog;
	assert_int_equal(reactor_new(&r, 0, 8), 0);
	assert_true(reactor_has_uring(r));
	sqe = reactor_sqe_get(r, &p.io, probe_io_cb);
	assert_non_null(sqe);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, &p.io);
	while (nlog == 0)
		assert_true(reactor_run_once(r, 1000) >= 0);
	assert_int_equal(p.res, 0);
	reactor_free(r);
}

static void test_coalesce_hint_waits_once(void **state)
{
	struct reactor *r;
	uint64_t t0;

	(void)state;
	assert_int_equal(reactor_new(&r, 0, 0), 0);
	reactor_set_coalesce_us(r, 30000);
	assert_true(reactor_run_once(r, 0) >= 0); /* a short iteration: wakes now */
	reactor_coalesce_hint(r);
	assert_true(reactor_coalesce_pending(r));
	t0 = time_now_ns();
	assert_true(reactor_run_once(r, 0) >= 0);
	assert_true(time_now_ns() - t0 >= 30000ull * 1000); /* slept before looking */
	assert_false(reactor_coalesce_pending(r));       /* one hint, one wait */
	reactor_set_coalesce_us(r, 0);
	reactor_coalesce_hint(r);
	assert_true(reactor_run_once(r, 0) >= 0);
	assert_false(reactor_coalesce_pending(r));
	reactor_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_expiry_order),
		cmocka_unit_test(test_messages_from_another_thread_run_on_reactor),
		cmocka_unit_test(test_deferred_calls_run_after_batch_in_order),
		cmocka_unit_test(test_watch_reports_readable_fd),
		cmocka_unit_test(test_uring_completion_reaches_callback),
		cmocka_unit_test(test_coalesce_hint_waits_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
