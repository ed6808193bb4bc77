/* SPDX-License-Identifier: GPL-2.0-only */
/* Private to reactor/: the reactor structure shared by the loop and the timer heap. */
#ifndef UTGT_REACTOR_REACTOR_INT_H
#define UTGT_REACTOR_REACTOR_INT_H

#include "reactor/reactor.h"

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>

#include "util/util.h"

#define REACTOR_MAX_EVENTS 256

struct reactor {
	unsigned int id;
	int epfd;
	atomic_bool stop;
	pthread_t thread;
	bool has_thread;

	/* epoll batch being dispatched: watch_del clears later entries that point at a
	 * deleted watch, so a callback may free the owner of another pending event */
	struct epoll_event events[REACTOR_MAX_EVENTS];
	int nr_events;
	int cur_event;

	/* timers */
	struct reactor_timer **heap;
	unsigned int heap_len;
	unsigned int heap_cap;

	/* cross-thread messages (msg_lock) */
	pthread_mutex_t msg_lock;
	struct reactor_msg *msg_head;
	struct reactor_msg *msg_tail;
	bool msg_signalled;        /* an eventfd write is pending (msg_lock) */
	int msg_fd;                /* eventfd */
	struct reactor_watch msg_watch;

	/* deferred calls (own thread) */
	struct reactor_msg *defer_head;
	struct reactor_msg *defer_tail;

	/* io_uring for backing stores */
	bool has_ring;
	struct io_uring ring;
	unsigned int sqes_pending;
	int ring_fd;               /* eventfd registered with the ring */
	struct reactor_watch ring_watch;

	struct bufpool *bufpool;
	atomic_int load;

	/* receive coalescing (reactor_coalesce_hint) */
	unsigned int coalesce_us;
	bool coalesce_hint;
	uint64_t woke_ns;          /* when the last epoll_wait returned */
};

int reactor_timer_next_ms(struct reactor *r, uint64_t now);
unsigned int reactor_timers_run(struct reactor *r, uint64_t now);

#endif
