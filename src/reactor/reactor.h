/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * reactor: one event loop per thread. Each reactor owns an epoll set, a timer heap on the
 * monotonic clock, a queue of deferred calls, a cross-thread message queue (eventfd) and,
 * for data reactors, an io_uring used by the backing stores. Everything a reactor owns is
 * touched only by its own thread, except reactor_msg_send() and reactor_stop(), which any
 * thread may call.
 *
 * Watches, timers, messages and I/O requests are embedded in their owners; callbacks get the
 * embedded struct back and use container_of. Callbacks never block.
 *
 * Prefix owned: reactor_.
 */
#ifndef UTGT_REACTOR_REACTOR_H
#define UTGT_REACTOR_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

struct reactor;
struct bufpool;
struct io_uring;
struct io_uring_sqe;

/* ---- file descriptor watches ---- */

struct reactor_watch;
typedef void (*reactor_watch_fn)(struct reactor_watch *w, uint32_t events);

struct reactor_watch {
	int fd;
	uint32_t events;         /* EPOLLIN / EPOLLOUT / ... currently requested */
	reactor_watch_fn fn;
};

/* Starts watching fd for events (EPOLLIN/EPOLLOUT; level-triggered). 0 or -errno. */
int reactor_watch_add(struct reactor *r, struct reactor_watch *w, int fd, uint32_t events,
		      reactor_watch_fn fn);
/* Changes the event mask; a no-op when it is unchanged. 0 or -errno. */
int reactor_watch_mod(struct reactor *r, struct reactor_watch *w, uint32_t events);
/* Stops watching; safe to call from inside the watch's own callback. */
void reactor_watch_del(struct reactor *r, struct reactor_watch *w);

/* ---- timers (monotonic, binary heap) ---- */

struct reactor_timer;
typedef void (*reactor_timer_fn)(struct reactor_timer *t);

struct reactor_timer {
	uint64_t expire_ms;      /* absolute, time_now_ms() clock */
	unsigned int heap_idx;   /* 0 = not armed, else 1-based heap slot */
	reactor_timer_fn fn;
};

/* Initialises a timer (not armed). */
void reactor_timer_init(struct reactor_timer *t, reactor_timer_fn fn);
/* Arms (or re-arms) t to fire once after delay_ms. 0 or -ENOMEM. */
int reactor_timer_arm(struct reactor *r, struct reactor_timer *t, uint64_t delay_ms);
/* Disarms t; harmless if not armed. */
void reactor_timer_cancel(struct reactor *r, struct reactor_timer *t);

static inline bool reactor_timer_is_armed(const struct reactor_timer *t)
{
	return t->heap_idx != 0;
}

/* ---- messages and deferred calls ---- */

struct reactor_msg;
typedef void (*reactor_msg_fn)(struct reactor_msg *m);

struct reactor_msg {
	struct reactor_msg *next;
	reactor_msg_fn fn;
};

/*
 * Queues m to run fn(m) on r's thread. Any thread may call it; the caller keeps m alive until
 * fn runs (usually fn frees or recycles it). Wakeups are coalesced: one eventfd write per
 * empty-to-non-empty transition.
 */
void reactor_msg_send(struct reactor *r, struct reactor_msg *m, reactor_msg_fn fn);

/* Runs fn(m) on the calling reactor's own thread after the current batch of events. */
void reactor_defer(struct reactor *r, struct reactor_msg *m, reactor_msg_fn fn);

/* ---- io_uring for backing-store I/O (data reactors only) ---- */

struct reactor_io;
typedef void (*reactor_io_fn)(struct reactor_io *io, int res);

struct reactor_io {
	reactor_io_fn fn;        /* called with the CQE's res (bytes or -errno) */
};

/*
 * Returns a free SQE whose user_data already points at io, or NULL if this reactor has no
 * ring. Flushes the ring to the kernel when it is full. SQEs are submitted in one batch
 * before the reactor sleeps.
 */
struct io_uring_sqe *reactor_sqe_get(struct reactor *r, struct reactor_io *io, reactor_io_fn fn);
bool reactor_has_uring(const struct reactor *r);

/* ---- life cycle ---- */

/*
 * Creates a reactor. uring_entries 0 means no io_uring (control reactor). The reactor owns a
 * buffer pool for command data. 0 and *out, or -errno.
 */
int reactor_new(struct reactor **out, unsigned int id, unsigned int uring_entries);
void reactor_free(struct reactor *r);

/* Runs the loop on the calling thread until reactor_stop(). Returns 0 or -errno. */
int reactor_run(struct reactor *r);
/*
 * Runs one iteration: waits up to timeout_ms (0: poll, -1: forever) for events, then runs
 * ready watches, expired timers, messages and deferred calls, and submits queued SQEs. For
 * tests and for loops driven from outside. Returns the number of callbacks run or -errno.
 */
int reactor_run_once(struct reactor *r, int timeout_ms);
/* Starts a thread that runs the loop. 0 or -errno. */
int reactor_thread_start(struct reactor *r, const char *name);
/* Waits for the thread started by reactor_thread_start. */
void reactor_thread_join(struct reactor *r);
/* Asks the loop to return; any thread. */
void reactor_stop(struct reactor *r);

unsigned int reactor_id(const struct reactor *r);
struct bufpool *reactor_bufpool(struct reactor *r);
/* Reactor running on the calling thread, or NULL. */
struct reactor *reactor_self(void);

/*
 * Receive coalescing. A watch callback that sees work arriving from a deep queue (an
 * initiator with many commands outstanding) calls reactor_coalesce_hint(); before its next
 * epoll_wait the reactor then sleeps coalesce_us microseconds, so that one wakeup handles
 * several commands instead of one: fewer system calls and wakeups per command, on both ends
 * of the connection. Queues of one or two commands never trigger it (no added latency).
 * reactor_set_coalesce_us before the loop runs; 0 turns it off. Own thread only.
 */
void reactor_set_coalesce_us(struct reactor *r, unsigned int us);
void reactor_coalesce_hint(struct reactor *r);
/* Was a hint given since the last iteration (for tests)? */
bool reactor_coalesce_pending(const struct reactor *r);

/* Load accounting used to spread connections: any thread may read or change it. */
void reactor_load_add(struct reactor *r, int delta);
int reactor_load(const struct reactor *r);

#endif
