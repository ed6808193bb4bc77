/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-reactor data buffer pool. Buffers come in power-of-two size classes from 4 KiB to
 * BUFPOOL_MAX_LEN, 4 KiB aligned (O_DIRECT-safe). A freed buffer goes on its class's free list
 * (the link lives in the buffer itself) while the pool holds less than max_cached bytes, so
 * after warm-up the I/O path never calls malloc. Owned by one thread: no locks.
 */
#include "util/util.h"

#include <stdlib.h>

#define BUFPOOL_MIN_SHIFT 12
#define BUFPOOL_MAX_SHIFT 26
#define BUFPOOL_CLASSES   (BUFPOOL_MAX_SHIFT - BUFPOOL_MIN_SHIFT + 1)

_Static_assert(BUFPOOL_MAX_LEN == (1u << BUFPOOL_MAX_SHIFT), "pool classes cover max len");

struct bufpool_free {
	struct bufpool_free *next;
};

struct bufpool {
	struct bufpool_free *free[BUFPOOL_CLASSES];
	size_t cached;             /* bytes on the free lists */
	size_t max_cached;
};

struct bufpool *bufpool_new(size_t max_cached_bytes)
{
	struct bufpool *bp = calloc(1, sizeof(*bp));

	if (bp)
		bp->max_cached = max_cached_bytes;
	return bp;
}

void bufpool_free(struct bufpool *bp)
{
	if (!bp)
		return;
	for (unsigned int i = 0; i < BUFPOOL_CLASSES; i++) {
		while (bp->free[i]) {
			struct bufpool_free *f = bp->free[i];

			bp->free[i] = f->next;
			free(f);
		}
	}
	free(bp);
}

static unsigned int bufpool_class(size_t len)
{
	unsigned int shift = BUFPOOL_MIN_SHIFT;

	while (((size_t)1 << shift) < len)
		shift++;
	return shift - BUFPOOL_MIN_SHIFT;
}

void *bufpool_get(struct bufpool *bp, size_t len, size_t *cap)
{
	unsigned int cls;
	size_t size;
	void *buf;

	*cap = 0;
	if (len == 0 || len > BUFPOOL_MAX_LEN)
		return NULL;
	cls = bufpool_class(len);
	size = (size_t)1 << (cls + BUFPOOL_MIN_SHIFT);
	if (bp->free[cls]) {
		struct bufpool_free *f = bp->free[cls];

		bp->free[cls] = f->next;
		bp->cached -= size;
		*cap = size;
		return f;
	}
	if (posix_memalign(&buf, 4096, size))
		return NULL;
	*cap = size;
	return buf;
}

void bufpool_put(struct bufpool *bp, void *buf, size_t cap)
{
	unsigned int cls;
	struct bufpool_free *f = buf;

	if (!buf)
		return;
	cls = bufpool_class(cap);
	if (((size_t)1 << (cls + BUFPOOL_MIN_SHIFT)) != cap || bp->cached + cap > bp->max_cached) {
		free(buf);
		return;
	}
	f->next = bp->free[cls];
	bp->free[cls] = f;
	bp->cached += cap;
}
