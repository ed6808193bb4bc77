/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event loop (one per thread): epoll for sockets, an eventfd for messages from other
 * threads, an eventfd-signalled io_uring for backing-store I/O, a timer heap and a queue of
 * deferred calls. One iteration: submit queued SQEs, sleep in epoll_wait until the next timer,
 * dispatch ready watches, reap CQEs, run expired timers, then run deferred calls.
 */
#include "reactor/reactor_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#define REACTOR_CQ_ENTRIES   8192
#define REACTOR_DEFER_BUDGET 4096
#define REACTOR_BUFPOOL_MAX  (256u << 20)

/* The reactor running on this thread (NULL elsewhere): per-thread, not shared state. */
static _Thread_local struct reactor *reactor_current;

int reactor_watch_add(struct reactor *r, struct reactor_watch *w, int fd, uint32_t events,
		      reactor_watch_fn fn)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	w->fd = fd;
	w->events = events;
	w->fn = fn;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int reactor_watch_mod(struct reactor *r, struct reactor_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (w->events == events)
		return 0;
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void reactor_watch_del(struct reactor *r, struct reactor_watch *w)
{
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = r->cur_event + 1; i < r->nr_events; i++) {
		if (r->events[i].data.ptr == w)
			r->events[i].data.ptr = NULL;
	}
}

static void msg_queue_push(struct reactor_msg **head, struct reactor_msg **tail,
			   struct reactor_msg *m)
{
	m->next = NULL;
	if (*tail)
		(*tail)->next = m;
	else
		*head = m;
	*tail = m;
}

void reactor_msg_send(struct reactor *r, struct reactor_msg *m, reactor_msg_fn fn)
{
	bool wake = false;

	m->fn = fn;
	pthread_mutex_lock(&r->msg_lock);
	msg_queue_push(&r->msg_head, &r->msg_tail, m);
	if (!r->msg_signalled) {
		r->msg_signalled = true;
		wake = true;
	}
	pthread_mutex_unlock(&r->msg_lock);
	if (wake) {
		uint64_t one = 1;
		ssize_t n = write(r->msg_fd, &one, sizeof(one));

		(void)n; /* EAGAIN means the counter is already non-zero: still woken */
	}
}

void reactor_defer(struct reactor *r, struct reactor_msg *m, reactor_msg_fn fn)
{
	m->fn = fn;
	msg_queue_push(&r->defer_head, &r->defer_tail, m);
}

static unsigned int msgs_run(struct reactor *r)
{
	struct reactor_msg *m;
	unsigned int n = 0;
	uint64_t cnt;

	if (read(r->msg_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("reactor %u: eventfd read: %s", r->id, strerror(errno));
	pthread_mutex_lock(&r->msg_lock);
	m = r->msg_head;
	r->msg_head = NULL;
	r->msg_tail = NULL;
	r->msg_signalled = false;
	pthread_mutex_unlock(&r->msg_lock);
	while (m) {
		struct reactor_msg *next = m->next;

		m->fn(m);
		m = next;
		n++;
	}
	return n;
}

static void msg_watch_cb(struct reactor_watch *w, uint32_t events)
{
	struct reactor *r = container_of(w, struct reactor, msg_watch);

	(void)events;
	msgs_run(r);
}

static unsigned int defers_run(struct reactor *r)
{
	unsigned int n = 0;

	while (r->defer_head && n < REACTOR_DEFER_BUDGET) {
		struct reactor_msg *m = r->defer_head;

		r->defer_head = m->next;
		if (!r->defer_head)
			r->defer_tail = NULL;
		m->fn(m);
		n++;
	}
	return n;
}

/* ---- io_uring ---- */

bool reactor_has_uring(const struct reactor *r)
{
	return r->has_ring;
}

static void ring_submit(struct reactor *r)
{
	int ret;

	if (!r->sqes_pending)
		return;
	ret = io_uring_submit(&r->ring);
	if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
		log_err("reactor %u: io_uring_submit: %s", r->id, strerror(-ret));
	if (ret >= 0)
		r->sqes_pending = 0;
}

struct io_uring_sqe *reactor_sqe_get(struct reactor *r, struct reactor_io *io, reactor_io_fn fn)
{
	struct io_uring_sqe *sqe;

	if (!r->has_ring)
		return NULL;
	sqe = io_uring_get_sqe(&r->ring);
	if (!sqe) {
		ring_submit(r);
		sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			return NULL;
	}
	io->fn = fn;
	io_uring_sqe_set_data(sqe, io);
	r->sqes_pending++;
	return sqe;
}

static unsigned int ring_reap(struct reactor *r)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
		struct reactor_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&r->ring, cqe);
		if (io)
			io->fn(io, res);
		n++;
	}
	return n;
}

static void ring_watch_cb(struct reactor_watch *w, uint32_t events)
{
	struct reactor *r = container_of(w, struct reactor, ring_watch);
	uint64_t cnt;

	(void)events;
	if (read(r->ring_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("reactor %u: ring eventfd read: %s", r->id, strerror(errno));
	ring_reap(r);
}

static int ring_setup(struct reactor *r, unsigned int entries)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE, .cq_entries = REACTOR_CQ_ENTRIES };
	int ret;

	ret = io_uring_queue_init_params(entries, &r->ring, &p);
	if (ret < 0)
		return ret;
	r->ring_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->ring_fd < 0) {
		ret = -errno;
		goto err_exit_ring;
	}
	/* only completions from io-wq workers signal it: the ones posted while submitting are
	 * reaped right after io_uring_submit (reactor_run_once), the ones run as task work
	 * interrupt epoll_wait and are reaped after it */
	ret = io_uring_register_eventfd_async(&r->ring, r->ring_fd);
	if (ret < 0)
		goto err_close_fd;
	ret = reactor_watch_add(r, &r->ring_watch, r->ring_fd, EPOLLIN, ring_watch_cb);
	if (ret < 0)
		goto err_close_fd;
	r->has_ring = true;
	return 0;

err_close_fd:
	close(r->ring_fd);
err_exit_ring:
	io_uring_queue_exit(&r->ring);
	return ret;
}

/* ---- life cycle ---- */

int reactor_new(struct reactor **out, unsigned int id, unsigned int uring_entries)
{
	struct reactor *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	r->id = id;
	r->ring_fd = -1;
	pthread_mutex_init(&r->msg_lock, NULL);
	r->bufpool = bufpool_new(REACTOR_BUFPOOL_MAX);
	if (!r->bufpool) {
		ret = -ENOMEM;
		goto err_free;
	}
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		ret = -errno;
		goto err_free_pool;
	}
	r->msg_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->msg_fd < 0) {
		ret = -errno;
		goto err_close_ep;
	}
	ret = reactor_watch_add(r, &r->msg_watch, r->msg_fd, EPOLLIN, msg_watch_cb);
	if (ret < 0)
		goto err_close_msg;
	if (uring_entries) {
		ret = ring_setup(r, uring_entries);
		if (ret < 0)
			goto err_close_msg;
	}
	*out = r;
	return 0;

err_close_msg:
	close(r->msg_fd);
err_close_ep:
	close(r->epfd);
err_free_pool:
	bufpool_free(r->bufpool);
err_free:
	pthread_mutex_destroy(&r->msg_lock);
	free(r);
	return ret;
}

void reactor_free(struct reactor *r)
{
	if (!r)
		return;
	if (r->has_ring) {
		io_uring_unregister_eventfd(&r->ring);
		io_uring_queue_exit(&r->ring);
		close(r->ring_fd);
	}
	close(r->msg_fd);
	close(r->epfd);
	bufpool_free(r->bufpool);
	free(r->heap);
	pthread_mutex_destroy(&r->msg_lock);
	free(r);
}

void reactor_set_coalesce_us(struct reactor *r, unsigned int us)
{
	r->coalesce_us = us;
}

void reactor_coalesce_hint(struct reactor *r)
{
	r->coalesce_hint = true;
}

bool reactor_coalesce_pending(const struct reactor *r)
{
	return r->coalesce_hint;
}

/*
 * Lets more of a deep queue arrive before looking at the sockets again, but only when the
 * last wakeup was short: a reactor that is busy (large transfers, a slow store) is the
 * bottleneck and must not wait.
 */
static void coalesce_wait(struct reactor *r, uint64_t now_ns)
{
	uint64_t wait_ns = (uint64_t)r->coalesce_us * 1000;
	struct timespec ts = { .tv_nsec = (long)wait_ns };

	r->coalesce_hint = false;
	if (!wait_ns || r->defer_head || r->sqes_pending || now_ns - r->woke_ns >= wait_ns)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int reactor_run_once(struct reactor *r, int timeout_ms)
{
	unsigned int n = 0;
	uint64_t now_ns;
	int timeout, nev;

	reactor_current = r;
	if (r->has_ring) {
		ring_submit(r);
		if (ring_reap(r)) { /* page-cache hits complete inside io_uring_submit */
			n++;
			n += defers_run(r);
			ring_submit(r);
		}
	}
	now_ns = time_now_ns();
	if (r->coalesce_hint)
		coalesce_wait(r, now_ns);
	timeout = reactor_timer_next_ms(r, now_ns / 1000000);
	if (r->defer_head || r->sqes_pending)
		timeout = 0;
	else if (timeout_ms >= 0 && (timeout < 0 || timeout > timeout_ms))
		timeout = timeout_ms;
	nev = epoll_wait(r->epfd, r->events, REACTOR_MAX_EVENTS, timeout);
	if (r->coalesce_us)
		r->woke_ns = time_now_ns(); /* coalesce_wait: how long this wakeup takes */
	if (nev < 0) {
		if (errno != EINTR)
			return -errno;
		nev = 0;
	}
	r->nr_events = nev;
	for (r->cur_event = 0; r->cur_event < nev; r->cur_event++) {
		struct reactor_watch *w = r->events[r->cur_event].data.ptr;

		if (w) {
			w->fn(w, r->events[r->cur_event].events);
			n++;
		}
	}
	r->nr_events = 0;
	if (r->has_ring)
		n += ring_reap(r);
	n += reactor_timers_run(r, time_now_ms());
	n += defers_run(r);
	return (int)n;
}

int reactor_run(struct reactor *r)
{
	while (!atomic_load(&r->stop)) {
		int ret = reactor_run_once(r, -1);

		if (ret < 0)
			return ret;
	}
	/* run what other threads queued before the stop, and flush the ring */
	msgs_run(r);
	defers_run(r);
	if (r->has_ring)
		ring_submit(r);
	return 0;
}

void reactor_stop(struct reactor *r)
{
	uint64_t one = 1;
	ssize_t n;

	atomic_store(&r->stop, true);
	n = write(r->msg_fd, &one, sizeof(one)); /* wakes the loop; EAGAIN: already awake */
	(void)n;
}

static void *reactor_thread_main(void *arg)
{
	struct reactor *r = arg;
	int ret;

	/* the default 50 µs timer slack would stretch a coalescing wait several times over */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
	ret = reactor_run(r);
	if (ret < 0)
		log_err("reactor %u stopped: %s", r->id, strerror(-ret));
	return NULL;
}

int reactor_thread_start(struct reactor *r, const char *name)
{
	int ret = pthread_create(&r->thread, NULL, reactor_thread_main, r);

	if (ret)
		return -ret;
	r->has_thread = true;
	if (name)
		pthread_setname_np(r->thread, name);
	return 0;
}

void reactor_thread_join(struct reactor *r)
{
	if (r->has_thread) {
		pthread_join(r->thread, NULL);
		r->has_thread = false;
	}
}

unsigned int reactor_id(const struct reactor *r)
{
	return r->id;
}

struct bufpool *reactor_bufpool(struct reactor *r)
{
	return r->bufpool;
}

struct reactor *reactor_self(void)
{
	return reactor_current;
}

void reactor_load_add(struct reactor *r, int delta)
{
	atomic_fetch_add(&r->load, delta);
}

int reactor_load(const struct reactor *r)
{
	return atomic_load(&((struct reactor *)r)->load);
}
