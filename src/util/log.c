/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The log sink: stderr in the foreground (with sd-daemon "<N>" priority prefixes and no
 * timestamps when stderr is the journal, JOURNAL_STREAM), syslog otherwise; rate limiters for
 * messages a peer can trigger (a window counter, and token buckets per source under a global
 * cap); key=value formatting for structured lines. The sink, with its global bucket, is the
 * one process-wide mutable state (STYLE §1.4).
 */
#include "util/util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static struct {
	bool to_stderr;
	bool journal;                  /* stderr is journald's stream: "<N>" prefixes */
	atomic_int max_level;
	pthread_mutex_t lock;          /* stderr writes and global */
	struct log_bucket global;      /* lock: cap on peer-triggered messages */
} log_sink = { .to_stderr = true, .max_level = LOG_LVL_INFO,
	       .lock = PTHREAD_MUTEX_INITIALIZER };

/* systemd sets JOURNAL_STREAM=dev:ino of the stream it gave us (systemd.exec(5)). */
static bool log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev;
	unsigned long long ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(const char *ident, bool to_stderr, enum log_level max_level)
{
	log_sink.to_stderr = to_stderr;
	log_sink.journal = to_stderr && log_stderr_is_journal();
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
	char line[1536];
	char out[1600];
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
	log_line_format(out, sizeof(out), lvl, log_sink.journal, line);
	pthread_mutex_lock(&log_sink.lock);
	fprintf(stderr, "%s\n", out);
	pthread_mutex_unlock(&log_sink.lock);
}

int log_line_format(char *out, size_t cap, enum log_level lvl, bool journal, const char *msg)
{
	if (journal)
		return snprintf(out, cap, "<%d>%s", level_syslog[lvl], msg);
	return snprintf(out, cap, "utgtd: %s: %s", level_names[lvl], msg);
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

bool log_bucket_take(struct log_bucket *b, unsigned int burst, unsigned int rate,
		     uint64_t now_ms, uint32_t *suppressed)
{
	uint64_t cap = (uint64_t)burst * 1000;
	uint64_t t;

	if (!b->primed) {
		b->primed = true;
		b->milli_tokens = (uint32_t)cap;
		b->last_ms = now_ms;
	}
	if (now_ms > b->last_ms) {
		/* rate tokens a second = rate milli-tokens a millisecond */
		t = b->milli_tokens + MIN(now_ms - b->last_ms, cap) * rate;
		b->milli_tokens = (uint32_t)MIN(t, cap);
		b->last_ms = now_ms;
	}
	if (b->milli_tokens < 1000) {
		b->suppressed++;
		return false;
	}
	b->milli_tokens -= 1000;
	*suppressed = b->suppressed;
	b->suppressed = 0;
	return true;
}

bool log_peer_ok(struct log_bucket *src, uint32_t *suppressed)
{
	uint64_t now = time_now_ms();
	uint32_t global_dropped = 0;
	bool ok;

	if (!log_bucket_take(src, LOG_PEER_BURST, LOG_PEER_RATE, now, suppressed))
		return false;
	pthread_mutex_lock(&log_sink.lock);
	ok = log_bucket_take(&log_sink.global, LOG_GLOBAL_BURST, LOG_GLOBAL_RATE, now,
			     &global_dropped);
	pthread_mutex_unlock(&log_sink.lock);
	if (!ok) {
		/* the source's message is lost to the global cap: count it there */
		src->suppressed += 1 + *suppressed;
		return false;
	}
	if (global_dropped)
		log_warn("log: suppressed=%" PRIu32 " peer messages over the global cap of %u/s",
			 global_dropped, LOG_GLOBAL_RATE);
	return true;
}

/* Whether a value byte needs quoting or escaping to stay one token. */
static bool log_kv_special(unsigned char ch)
{
	return ch <= ' ' || ch >= 0x7f || ch == '=' || ch == '"' || ch == '\\';
}

static int log_kv_put(char *buf, size_t cap, size_t *off, const char *s, size_t len)
{
	size_t room = *off < cap ? cap - *off - 1 : 0;
	size_t n = MIN(len, room);

	memcpy(buf + *off, s, n);
	*off += n;
	buf[*off] = '\0';
	return n == len ? 0 : -ENOSPC;
}

int log_kv_append(char *buf, size_t cap, size_t *off, const char *key, const char *value)
{
	const unsigned char *v = (const unsigned char *)(value ? value : "-");
	bool quote = !*v;
	char esc[5];
	int rc = 0;
	size_t i;

	if (!cap || *off >= cap)
		return -ENOSPC;
	for (i = 0; v[i] && !quote; i++)
		quote = log_kv_special(v[i]);
	if (*off)
		rc |= log_kv_put(buf, cap, off, " ", 1);
	rc |= log_kv_put(buf, cap, off, key, strlen(key));
	rc |= log_kv_put(buf, cap, off, quote ? "=\"" : "=", quote ? 2 : 1);
	for (i = 0; v[i] && !rc; i++) {
		if (v[i] == '"' || v[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)v[i];
			rc |= log_kv_put(buf, cap, off, esc, 2);
		} else if (v[i] < ' ' || v[i] >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", v[i]);
			rc |= log_kv_put(buf, cap, off, esc, 4);
		} else {
			rc |= log_kv_put(buf, cap, off, (const char *)&v[i], 1);
		}
	}
	if (quote && !rc)
		rc |= log_kv_put(buf, cap, off, "\"", 1);
	return rc ? -ENOSPC : 0;
}

int log_kv_appendf(char *buf, size_t cap, size_t *off, const char *key, const char *fmt, ...)
{
	char value[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	return log_kv_append(buf, cap, off, key, value);
}
