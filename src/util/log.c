/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The log sink: stderr in the foreground, syslog otherwise, and a simple rate limiter for
 * messages a peer can trigger. The sink is the one process-wide mutable state (STYLE §1.4).
 */
#include "util/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static struct {
	bool to_stderr;
	atomic_int max_level;
	pthread_mutex_t lock;
} log_sink = { true, LOG_LVL_INFO, PTHREAD_MUTEX_INITIALIZER };

void log_setup(const char *ident, bool to_stderr, enum log_level max_level)
{
	log_sink.to_stderr = to_stderr;
	atomic_store(&log_sink.max_level, (int)max_level);
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level max_level)
{
	atomic_store(&log_sink.max_level, (int)max_level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_sink.max_level, memory_order_relaxed);
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int level_syslog[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if ((int)lvl > atomic_load_explicit(&log_sink.max_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!log_sink.to_stderr) {
		syslog(level_syslog[lvl], "%s", line);
		return;
	}
	pthread_mutex_lock(&log_sink.lock);
	fprintf(stderr, "utgtd: %s: %s\n", level_names[lvl], line);
	pthread_mutex_unlock(&log_sink.lock);
}

bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned int burst, unsigned int interval_ms)
{
	uint64_t now = time_now_ms();

	if (now - rl->window_start_ms >= interval_ms) {
		if (rl->suppressed)
			log_warn("%u similar messages suppressed", rl->suppressed);
		rl->window_start_ms = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < burst) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
