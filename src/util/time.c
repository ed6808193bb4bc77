/* SPDX-License-Identifier: GPL-2.0-only */
/* Monotonic time for timers and rate limits. */
#include "util/util.h"

#include <time.h>

uint64_t time_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t time_now_ms(void)
{
	return time_now_ns() / 1000000ull;
}
