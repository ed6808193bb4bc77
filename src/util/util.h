/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * util: the leaf layer every other layer may use. Intrusive lists, big-endian accessors,
 * bounded string helpers, logging, monotonic time, CRC32C (ISA-L) and the per-reactor
 * buffer pool. Nothing here knows about SCSI or iSCSI.
 *
 * Threads: everything is thread-safe except a struct bufpool, which belongs to one reactor.
 * Prefixes owned: list_, get_be/put_be, str_, log_, time_, crc32c_, bufpool_.
 */
#ifndef UTGT_UTIL_UTIL_H
#define UTGT_UTIL_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#if defined(__GNUC__)
#define fallthrough   __attribute__((__fallthrough__))
#define __must_check  __attribute__((warn_unused_result))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define likely(x)     __builtin_expect(!!(x), 1)
#define unlikely(x)   __builtin_expect(!!(x), 0)
#else
#define fallthrough   do {} while (0)
#define __must_check
#define __printf(a, b)
#define likely(x)     (x)
#define unlikely(x)   (x)
#endif

/* ---- intrusive doubly linked list (kernel style) ---- */

struct list_head {
	struct list_head *next;
	struct list_head *prev;
};

#define LIST_HEAD_INIT(name) { &(name), &(name) }

static inline void list_init(struct list_head *h)
{
	h->next = h;
	h->prev = h;
}

static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}

static inline void list_insert_between(struct list_head *n, struct list_head *prev,
				       struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

/* Adds n after h (stack order). */
static inline void list_add(struct list_head *n, struct list_head *h)
{
	list_insert_between(n, h, h->next);
}

/* Adds n before h (queue order). */
static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	list_insert_between(n, h->prev, h);
}

/* Unlinks n and leaves it pointing at itself, so a second list_del is harmless. */
static inline void list_del(struct list_head *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n;
	n->prev = n;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)

#define list_for_each_entry(pos, head, member)                                                    \
	for (pos = list_entry((head)->next, __typeof__(*pos), member); &pos->member != (head);    \
	     pos = list_entry(pos->member.next, __typeof__(*pos), member))

#define list_for_each_entry_safe(pos, n, head, member)                                            \
	for (pos = list_entry((head)->next, __typeof__(*pos), member),                            \
	    n = list_entry(pos->member.next, __typeof__(*pos), member);                           \
	     &pos->member != (head); pos = n, n = list_entry(n->member.next, __typeof__(*n), member))

/* ---- big-endian accessors (never cast a buffer to an integer pointer) ---- */

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t get_be24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* ---- serial number arithmetic, RFC 1982 with SERIAL_BITS 32 (RFC 7143 §4.2.2.1) ---- */

static inline bool sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}

static inline bool sn_gt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) > 0;
}

/* ---- bounded strings ---- */

/*
 * Copies src into dst (size bytes, always NUL-terminated when size > 0).
 * Returns strlen(src); a value >= size means the copy was truncated.
 */
size_t str_copy(char *dst, const char *src, size_t size);

/*
 * Appends formatted text at *off inside buf (size bytes), advancing *off. Never writes past
 * buf + size; returns -ENOSPC once the text no longer fits (the buffer stays terminated).
 */
__printf(4, 5) int str_appendf(char *buf, size_t size, size_t *off, const char *fmt, ...);

/* Parses a whole decimal/0x-hex unsigned number in [min, max]; returns 0 or -EINVAL/-ERANGE. */
int str_to_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses yes/no, on/off, true/false, 1/0 (case-insensitive). Returns 0 or -EINVAL. */
int str_to_bool(const char *s, bool *out);

/* ---- logging ---- */

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DBG = 3,
};

/*
 * Configures the sink: stderr when to_stderr, syslog(LOG_DAEMON) otherwise. Call once from
 * main before any thread starts. max_level drops messages above it.
 */
void log_setup(const char *ident, bool to_stderr, enum log_level max_level);
void log_set_level(enum log_level max_level);
enum log_level log_get_level(void);
__printf(2, 3) void log_msg(enum log_level lvl, const char *fmt, ...);

#define log_err(...)  log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_dbg(...)                                                                              \
	do {                                                                                      \
		if (unlikely(log_get_level() >= LOG_LVL_DBG))                                     \
			log_msg(LOG_LVL_DBG, __VA_ARGS__);                                        \
	} while (0)

/*
 * Rate limit for peer-triggered messages: returns true at most burst times per interval_ms
 * for one struct log_ratelimit (zero-initialised is valid). Not thread-safe: one per owner.
 */
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned int count;
	unsigned int suppressed;
};
bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned int burst, unsigned int interval_ms);

/*
 * Token bucket for one source of peer-triggered messages (a connection): up to burst messages
 * at once, refilled at rate per second. Zero-initialised is valid (starts full). One owner
 * thread per bucket. docs/operations.md, "Logging".
 */
struct log_bucket {
	uint64_t last_ms;              /* last refill */
	uint32_t milli_tokens;         /* tokens x 1000 */
	uint32_t suppressed;           /* messages refused since the last one let through */
	bool primed;                   /* filled once */
};

#define LOG_PEER_BURST   10u     /* per connection */
#define LOG_PEER_RATE    1u      /* per connection, messages per second */
#define LOG_GLOBAL_BURST 100u    /* all peer messages of the process */
#define LOG_GLOBAL_RATE  20u

/*
 * Takes a token at now_ms. true: log the message, and *suppressed gets (and the bucket
 * forgets) how many were refused since the previous one; false: count it as suppressed.
 */
bool log_bucket_take(struct log_bucket *b, unsigned int burst, unsigned int rate,
		     uint64_t now_ms, uint32_t *suppressed);

/*
 * Rate limit for a peer-triggered message: the source's bucket (LOG_PEER_*), then the
 * process-wide cap (LOG_GLOBAL_*, thread-safe). true: log it, with *suppressed messages of
 * this source dropped before it (say so in the line: "suppressed=N"). When the global cap
 * refused messages, the next message that passes it is preceded by a summary line.
 */
bool log_peer_ok(struct log_bucket *src, uint32_t *suppressed);

/*
 * Appends " key=value" (no leading space at *off == 0) to buf. The value is quoted when it is
 * empty or holds blanks, '=', '"' or '\'; '"' and '\' are escaped, control and non-ASCII
 * bytes become \xNN, so a peer's string cannot forge keys or lines. NULL value: "-". Always
 * NUL-terminates; returns 0 or -ENOSPC when truncated (*off then stays at the end of buf).
 */
int log_kv_append(char *buf, size_t cap, size_t *off, const char *key, const char *value);
/* As log_kv_append with a formatted value. */
__printf(5, 6) int log_kv_appendf(char *buf, size_t cap, size_t *off, const char *key,
				  const char *fmt, ...);

/*
 * One output line for stderr: "<N>msg" (sd-daemon priority prefix, no timestamp: journald
 * adds its own) when journal, else "utgtd: level: msg". Returns snprintf's result.
 */
int log_line_format(char *out, size_t cap, enum log_level lvl, bool journal, const char *msg);

/* ---- time ---- */

/* CLOCK_MONOTONIC in milliseconds / nanoseconds. */
uint64_t time_now_ms(void);
uint64_t time_now_ns(void);

/* ---- CRC32C (Castagnoli), as used by iSCSI digests; ISA-L underneath ---- */

/*
 * Continues a CRC32C over buf. Start with crc = 0 (the function handles the inversions), feed
 * pieces in order, and the result is the digest value to compare with a little-endian
 * on-the-wire digest (RFC 7143 §13.1 / appendix B.4).
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- buffer pool: power-of-two size classes, 4 KiB aligned, owned by one thread ---- */

struct bufpool;

/* Creates a pool that keeps at most max_cached_bytes of free buffers. NULL on ENOMEM. */
struct bufpool *bufpool_new(size_t max_cached_bytes);
void bufpool_free(struct bufpool *bp);

/*
 * Returns a 4096-byte aligned buffer of at least len bytes (len 0 gives NULL and *cap 0), and
 * its real capacity in *cap. Reuses a cached buffer of the size class when there is one, so the
 * steady state never calls malloc. Returns NULL on ENOMEM or len > BUFPOOL_MAX_LEN.
 */
#define BUFPOOL_MAX_LEN (64u << 20)
void *bufpool_get(struct bufpool *bp, size_t len, size_t *cap);

/* Gives back a buffer from bufpool_get with its capacity. NULL is ignored. */
void bufpool_put(struct bufpool *bp, void *buf, size_t cap);

#endif
