/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reactor timers: a binary min-heap of embedded struct reactor_timer ordered by expiry on the
 * monotonic millisecond clock. heap_idx is the 1-based slot (0 = not armed), so cancel and
 * re-arm are O(log n) without searching.
 */
#include "reactor/reactor_int.h"

#include <errno.h>
#include <stdlib.h>

void reactor_timer_init(struct reactor_timer *t, reactor_timer_fn fn)
{
	t->expire_ms = 0;
	t->heap_idx = 0;
	t->fn = fn;
}

static void heap_set(struct reactor *r, unsigned int slot, struct reactor_timer *t)
{
	r->heap[slot - 1] = t;
	t->heap_idx = slot;
}

static void heap_up(struct reactor *r, unsigned int slot)
{
	struct reactor_timer *t = r->heap[slot - 1];

	while (slot > 1) {
		struct reactor_timer *parent = r->heap[slot / 2 - 1];

		if (parent->expire_ms <= t->expire_ms)
			break;
		heap_set(r, slot, parent);
		slot /= 2;
	}
	heap_set(r, slot, t);
}

static void heap_down(struct reactor *r, unsigned int slot)
{
	struct reactor_timer *t = r->heap[slot - 1];

	for (;;) {
		unsigned int child = slot * 2;

		if (child > r->heap_len)
			break;
		if (child < r->heap_len &&
		    r->heap[child]->expire_ms < r->heap[child - 1]->expire_ms)
			child++;
		if (r->heap[child - 1]->expire_ms >= t->expire_ms)
			break;
		heap_set(r, slot, r->heap[child - 1]);
		slot = child;
	}
	heap_set(r, slot, t);
}

void reactor_timer_cancel(struct reactor *r, struct reactor_timer *t)
{
	unsigned int slot = t->heap_idx;
	struct reactor_timer *last;

	if (!slot)
		return;
	t->heap_idx = 0;
	last = r->heap[--r->heap_len];
	if (slot - 1 == r->heap_len)
		return;
	heap_set(r, slot, last);
	heap_up(r, slot);
	heap_down(r, last->heap_idx);
}

int reactor_timer_arm(struct reactor *r, struct reactor_timer *t, uint64_t delay_ms)
{
	reactor_timer_cancel(r, t);
	if (r->heap_len == r->heap_cap) {
		unsigned int cap = r->heap_cap ? r->heap_cap * 2 : 64;
		struct reactor_timer **heap = realloc(r->heap, cap * sizeof(*heap));

		if (!heap)
			return -ENOMEM;
		r->heap = heap;
		r->heap_cap = cap;
	}
	t->expire_ms = time_now_ms() + delay_ms;
	r->heap[r->heap_len++] = t;
	heap_up(r, r->heap_len);
	return 0;
}

int reactor_timer_next_ms(struct reactor *r, uint64_t now)
{
	uint64_t first;

	if (!r->heap_len)
		return -1;
	first = r->heap[0]->expire_ms;
	if (first <= now)
		return 0;
	return first - now > 60000 ? 60000 : (int)(first - now);
}

unsigned int reactor_timers_run(struct reactor *r, uint64_t now)
{
	unsigned int n = 0;

	while (r->heap_len && r->heap[0]->expire_ms <= now) {
		struct reactor_timer *t = r->heap[0];

		reactor_timer_cancel(r, t);
		t->fn(t);
		n++;
	}
	return n;
}
