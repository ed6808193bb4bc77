/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/metrics: the Prometheus endpoint. Each client: read at most METRICS_REQ_MAX bytes
 * until the blank line that ends the header, answer, close. Nothing a client sends changes
 * any state; the request line is the only thing looked at. Counters come from the core's
 * per-LU atomics and the iSCSI driver's per-connection counters (relaxed loads: the hot path
 * never takes a lock for them), plus the stuck-I/O watchdog's count.
 */
#include "mgmt/metrics.h"

#include "core/core.h"
#include "lld/iscsi/iscsi.h"
#include "mgmt/stats.h"
#include "reactor/reactor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define METRICS_REQ_MAX     2048
#define METRICS_CLIENTS_MAX 16
#define METRICS_TIMEOUT_MS  2000

struct metrics_client {
	struct list_head entry;
	struct mgmt_metrics *m;
	int fd;
	struct reactor_watch watch;
	struct reactor_timer timer;
	char req[METRICS_REQ_MAX + 1];
	size_t got;
	char *out;
	size_t out_len;
	size_t out_off;
	bool draining; /* answered: discard input until EOF or the timeout */
};

struct mgmt_metrics {
	struct reactor *ctl;
	struct core_root *root;
	struct iscsi_lld *lld;
	int fd;
	struct reactor_watch watch;
	struct list_head clients;
	unsigned int nr_clients;
};

/* ---- exposition ---- */

/*
 * A label value: backslash, quote and newline escaped; bytes outside printable ASCII (an
 * initiator chooses its name) become '?', so the output is always valid UTF-8.
 */
static void metrics_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?', f);
	}
}

static const struct {
	const char *name;
	size_t off;
	const char *type;
	const char *help;
} metrics_ctrs[] = {
        {"read_commands_total", offsetof(struct mgmt_stats, read_cmds), "counter",
         "successful commands reading data"},
        {"read_bytes_total", offsetof(struct mgmt_stats, read_bytes), "counter",
         "bytes read by initiators"},
        {"write_commands_total", offsetof(struct mgmt_stats, write_cmds), "counter",
         "successful commands writing data"},
        {"write_bytes_total", offsetof(struct mgmt_stats, write_bytes), "counter",
         "bytes written by initiators"},
        {"other_commands_total", offsetof(struct mgmt_stats, other_cmds), "counter",
         "successful commands without data transfer to or from the medium"},
        {"errors_total", offsetof(struct mgmt_stats, errors), "counter",
         "commands that ended with a status other than GOOD"},
        {"aborts_total", offsetof(struct mgmt_stats, aborts), "counter",
         "commands aborted by a task management function or a lost connection"},
        {"inflight_commands", offsetof(struct mgmt_stats, inflight), "gauge",
         "commands submitted and not completed (queue depth)"},
};

/* One sample of every counter of s, for an LU or a session (prefix), with labels. */
static void metrics_sample(FILE *f, const char *prefix, const char *labels,
                           const struct mgmt_stats *s)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(metrics_ctrs); i++)
		fprintf(f, "utgt_%s_%s{%s} %llu\n", prefix, metrics_ctrs[i].name, labels,
		        (unsigned long long)*(const uint64_t *)((const char *)s +
		                                                metrics_ctrs[i].off));
	for (i = 0; i < CORE_LAT_BUCKETS; i++) {
		cum += s->lat_hist[i];
		if (i + 1 < CORE_LAT_BUCKETS)
			fprintf(f, "utgt_%s_command_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
			        prefix, labels, (double)(16ull << i) / 1e6,
			        (unsigned long long)cum);
	}
	fprintf(f, "utgt_%s_command_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", prefix, labels,
	        (unsigned long long)cum);
	fprintf(f, "utgt_%s_command_duration_seconds_sum{%s} %.6f\n", prefix, labels,
	        (double)s->lat_sum_us / 1e6);
	fprintf(f, "utgt_%s_command_duration_seconds_count{%s} %llu\n", prefix, labels,
	        (unsigned long long)cum);
}

/* Labels into a buffer via a memstream. */
static char *metrics_labels(const char *tname, const char *key2, uint64_t v2, const char *ini)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fputs("target=\"", f);
	metrics_label(f, tname);
	fprintf(f, "\",%s=\"%llu\"", key2, (unsigned long long)v2);
	if (ini) {
		fputs(",initiator=\"", f);
		metrics_label(f, ini);
		fputc('"', f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void metrics_target(FILE *f, struct core_target *tgt)
{
	struct mgmt_stats s;
	struct core_lu *lu;
	struct core_nexus *n;
	char *labels;

	fprintf(f, "utgt_target_sessions{target=\"");
	metrics_label(f, tgt->name);
	fprintf(f, "\"} %u\n", core_target_nexus_count(tgt));
	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(lu, &tgt->luns, entry)
	{
		labels = metrics_labels(tgt->name, "lun", lu->lun, NULL);
		if (!labels)
			continue;
		mgmt_stats_read(&lu->stats, &s);
		metrics_sample(f, "lu", labels, &s);
		fprintf(f, "utgt_lu_size_bytes{%s} %llu\n", labels, (unsigned long long)lu->size);
		free(labels);
	}
	list_for_each_entry(n, &tgt->nexuses, entry)
	{
		labels = metrics_labels(tgt->name, "session", n->id, n->initiator);
		if (!labels)
			continue;
		mgmt_stats_read(&n->stats, &s);
		metrics_sample(f, "session", labels, &s);
		free(labels);
	}
	pthread_rwlock_unlock(&tgt->lock);
}

static const struct {
	const char *name;
	size_t off;
	const char *help;
} metrics_conn_ctrs[] = {
	{ "commands_total", offsetof(struct iscsi_conn_counters, cmds), "SCSI commands answered" },
	{ "received_pdus_total", offsetof(struct iscsi_conn_counters, pdus_in), "PDUs received" },
	{ "sent_pdus_total", offsetof(struct iscsi_conn_counters, pdus_out), "PDUs sent" },
	{ "received_bytes_total", offsetof(struct iscsi_conn_counters, bytes_in),
	  "bytes received (headers, data, digests)" },
	{ "sent_bytes_total", offsetof(struct iscsi_conn_counters, bytes_out), "bytes sent" },
	{ "digest_errors_total", offsetof(struct iscsi_conn_counters, digest_errors),
	  "header and data digest errors" },
	{ "r2ts_total", offsetof(struct iscsi_conn_counters, r2ts), "R2T PDUs sent" },
	{ "rejects_total", offsetof(struct iscsi_conn_counters, rejects), "Reject PDUs sent" },
};

/* One logged-in connection: every counter and the latency histogram. */
static void metrics_conn(const struct iscsi_conn_info *ci, void *arg)
{
	FILE *f = arg;
	char *labels;
	uint64_t cum = 0;
	size_t i;

	if (!ci->ffp || ci->discovery)
		return;
	labels = metrics_labels(ci->target, "session", ci->tsih, ci->initiator);
	if (!labels)
		return;
	for (i = 0; i < ARRAY_SIZE(metrics_conn_ctrs); i++)
		fprintf(f, "utgt_connection_%s{%s,cid=\"%u\"} %llu\n", metrics_conn_ctrs[i].name,
			labels, ci->cid,
			(unsigned long long)*(const uint64_t *)((const char *)&ci->st +
								metrics_conn_ctrs[i].off));
	for (i = 0; i < CORE_LAT_BUCKETS; i++) {
		cum += ci->st.lat_hist[i];
		if (i + 1 < CORE_LAT_BUCKETS)
			fprintf(f,
				"utgt_connection_command_duration_seconds_bucket{%s,cid=\"%u\","
				"le=\"%g\"} %llu\n",
				labels, ci->cid, (double)(16ull << i) / 1e6,
				(unsigned long long)cum);
	}
	fprintf(f, "utgt_connection_command_duration_seconds_bucket{%s,cid=\"%u\",le=\"+Inf\"} "
		   "%llu\n", labels, ci->cid, (unsigned long long)cum);
	fprintf(f, "utgt_connection_command_duration_seconds_sum{%s,cid=\"%u\"} %.6f\n", labels,
		ci->cid, (double)ci->st.lat_sum_us / 1e6);
	fprintf(f, "utgt_connection_command_duration_seconds_count{%s,cid=\"%u\"} %llu\n", labels,
		ci->cid, (unsigned long long)cum);
	free(labels);
}

static void metrics_conn_help(FILE *f)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(metrics_conn_ctrs); i++)
		fprintf(f, "# HELP utgt_connection_%s %s, per connection\n"
			   "# TYPE utgt_connection_%s counter\n",
			metrics_conn_ctrs[i].name, metrics_conn_ctrs[i].help,
			metrics_conn_ctrs[i].name);
	fputs("# HELP utgt_connection_command_duration_seconds time from the SCSI Command PDU to "
	      "the response, per connection\n"
	      "# TYPE utgt_connection_command_duration_seconds histogram\n"
	      "# HELP utgt_stuck_commands_total commands in flight longer than the stuck-I/O "
	      "limit\n# TYPE utgt_stuck_commands_total counter\n"
	      "# HELP utgt_stuck_io_limit_seconds the stuck-I/O limit (0: off)\n"
	      "# TYPE utgt_stuck_io_limit_seconds gauge\n",
	      f);
}

static void metrics_help(FILE *f)
{
	static const char *const kinds[] = {"lu", "session"};
	size_t i;
	size_t k;

	fputs("# HELP utgt_up 1 while utgtd answers\n# TYPE utgt_up gauge\n"
	      "# HELP utgt_ready 1 when the system state is ready, 0 when offline\n"
	      "# TYPE utgt_ready gauge\n"
	      "# HELP utgt_connections iSCSI connections\n# TYPE utgt_connections gauge\n"
	      "# HELP utgt_targets targets\n# TYPE utgt_targets gauge\n"
	      "# HELP utgt_target_sessions I_T nexuses (sessions) of a target\n"
	      "# TYPE utgt_target_sessions gauge\n"
	      "# HELP utgt_lu_size_bytes capacity of the logical unit\n"
	      "# TYPE utgt_lu_size_bytes gauge\n",
	      f);
	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (i = 0; i < ARRAY_SIZE(metrics_ctrs); i++)
			fprintf(f, "# HELP utgt_%s_%s %s, per %s\n# TYPE utgt_%s_%s %s\n", kinds[k],
			        metrics_ctrs[i].name, metrics_ctrs[i].help, kinds[k], kinds[k],
			        metrics_ctrs[i].name, metrics_ctrs[i].type);
		fprintf(f,
		        "# HELP utgt_%s_command_duration_seconds time from submission to "
		        "completion\n# TYPE utgt_%s_command_duration_seconds histogram\n",
		        kinds[k], kinds[k]);
	}
}

char *mgmt_metrics_text(struct core_root *root, struct iscsi_lld *lld)
{
	struct core_target *tgt;
	unsigned int ntgt = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	metrics_help(f);
	fprintf(f, "utgt_up 1\nutgt_ready %d\nutgt_connections %u\n", core_root_is_ready(root),
	        lld ? iscsi_lld_conn_count(lld) : 0);
	for (tgt = core_target_next(root, 0); tgt; tgt = core_target_next(root, tgt->tid))
		ntgt++;
	fprintf(f, "utgt_targets %u\n", ntgt);
	for (tgt = core_target_next(root, 0); tgt; tgt = core_target_next(root, tgt->tid))
		metrics_target(f, tgt);
	metrics_conn_help(f);
	if (lld) {
		fprintf(f, "utgt_stuck_commands_total %llu\nutgt_stuck_io_limit_seconds %g\n",
			(unsigned long long)iscsi_lld_stuck_total(lld),
			iscsi_lld_stuck_get(lld) / 1000.0);
		iscsi_lld_conn_foreach(lld, metrics_conn, f);
	}
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- HTTP/1.0 ---- */

static void metrics_client_close(struct metrics_client *c)
{
	reactor_watch_del(c->m->ctl, &c->watch);
	reactor_timer_cancel(c->m->ctl, &c->timer);
	close(c->fd);
	list_del(&c->entry);
	c->m->nr_clients--;
	free(c->out);
	free(c);
}

static int metrics_respond(struct metrics_client *c, const char *status, const char *body)
{
	size_t blen = strlen(body);
	int n;

	c->out = malloc(blen + 256);
	if (!c->out)
		return -ENOMEM;
	n = snprintf(c->out, 256,
	             "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	             status, blen);
	memcpy(c->out + n, body, blen);
	c->out_len = (size_t)n + blen;
	return 0;
}

/* Answers from the request line alone. */
static int metrics_answer(struct metrics_client *c)
{
	char *text;
	int rc;

	if (strncmp(c->req, "GET ", 4))
		return metrics_respond(c, "405 Method Not Allowed", "only GET\n");
	if (strncmp(c->req + 4, "/metrics ", 9) && strncmp(c->req + 4, "/metrics\r", 9))
		return metrics_respond(c, "404 Not Found", "try /metrics\n");
	text = mgmt_metrics_text(c->m->root, c->m->lld);
	if (!text)
		return metrics_respond(c, "500 Internal Server Error", "out of memory\n");
	rc = metrics_respond(c, "200 OK", text);
	free(text);
	return rc;
}

/* > 0 done, 0 wait, < 0 close. */
static int metrics_client_io(struct metrics_client *c)
{
	char scratch[512];
	ssize_t n;

	/* Closing with unread input would reset the connection before the answer is read. */
	while (c->draining) {
		n = recv(c->fd, scratch, sizeof(scratch), 0);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return 1;
	}
	while (!c->out) {
		n = recv(c->fd, c->req + c->got, METRICS_REQ_MAX - c->got, 0);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;
		c->got += (size_t)n;
		c->req[c->got] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
			if (metrics_answer(c) < 0)
				return -1;
		} else if (c->got == METRICS_REQ_MAX) {
			if (metrics_respond(c, "431 Request Header Fields Too Large", "\n") < 0)
				return -1;
		}
	}
	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return reactor_watch_mod(c->m->ctl, &c->watch, EPOLLOUT) ? -1 : 0;
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
	}
	c->draining = true;
	shutdown(c->fd, SHUT_WR);
	if (reactor_watch_mod(c->m->ctl, &c->watch, EPOLLIN))
		return -1;
	return metrics_client_io(c);
}

static void metrics_client_event(struct reactor_watch *w, uint32_t events)
{
	struct metrics_client *c = container_of(w, struct metrics_client, watch);

	(void)events;
	if (metrics_client_io(c) != 0)
		metrics_client_close(c);
}

static void metrics_client_timeout(struct reactor_timer *t)
{
	metrics_client_close(container_of(t, struct metrics_client, timer));
}

static void metrics_accept(struct reactor_watch *w, uint32_t events)
{
	struct mgmt_metrics *m = container_of(w, struct mgmt_metrics, watch);
	struct metrics_client *c;
	int fd;

	(void)events;
	while ((fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		c = m->nr_clients < METRICS_CLIENTS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->m = m;
		c->fd = fd;
		reactor_timer_init(&c->timer, metrics_client_timeout);
		if (reactor_watch_add(m->ctl, &c->watch, fd, EPOLLIN, metrics_client_event) < 0) {
			close(fd);
			free(c);
			continue;
		}
		list_add_tail(&c->entry, &m->clients);
		m->nr_clients++;
		reactor_timer_arm(m->ctl, &c->timer, METRICS_TIMEOUT_MS);
	}
}

/* "ADDR:PORT" or "[V6]:PORT" into ss. */
static int metrics_parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon;
	uint64_t port;
	size_t hlen;

	colon = text[0] == '[' ? strstr(text, "]:") : strrchr(text, ':');
	if (!colon || str_to_u64(colon + (text[0] == '[' ? 2 : 1), 1, 65535, &port))
		return -EINVAL;
	hlen = (size_t)(colon - text) - (text[0] == '[');
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, text + (text[0] == '['), hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	return 0;
}

int mgmt_metrics_new(struct reactor *ctl, struct core_root *root, struct iscsi_lld *lld,
                     const char *addr, struct mgmt_metrics **out)
{
	struct sockaddr_storage ss;
	struct mgmt_metrics *m;
	socklen_t len;
	int one = 1;
	int rc;

	rc = metrics_parse_addr(addr, &ss, &len);
	if (rc)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ctl = ctl;
	m->root = root;
	m->lld = lld;
	list_init(&m->clients);
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->fd, (struct sockaddr *)&ss, len) < 0 || listen(m->fd, 16) < 0) {
		rc = -errno;
		goto err;
	}
	rc = reactor_watch_add(ctl, &m->watch, m->fd, EPOLLIN, metrics_accept);
	if (rc)
		goto err;
	*out = m;
	return 0;
err:
	if (m->fd >= 0)
		close(m->fd);
	free(m);
	return rc;
}

void mgmt_metrics_free(struct mgmt_metrics *m)
{
	struct metrics_client *c;
	struct metrics_client *tmp;

	if (!m)
		return;
	list_for_each_entry_safe(c, tmp, &m->clients, entry) metrics_client_close(c);
	reactor_watch_del(m->ctl, &m->watch);
	close(m->fd);
	free(m);
}
