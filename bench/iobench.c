/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * iobench: a small libiscsi initiator for the benchmark. It keeps QD commands in flight on each
 * of S sessions for a fixed time, random or sequential, reads or writes (iscsi-perf only reads
 * and qemu-img bench is sequential only), and prints one line of key=value results with the
 * latency distribution. Buffers are the initiator's own (iov tasks): no copy, no malloc per I/O.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define IOB_MAX_SESSIONS 256
#define IOB_MAX_QD       1024
#define IOB_HIST_US      100000 /* 1 µs buckets up to 100 ms, then one overflow bucket */

struct iob_opts {
	const char *url;
	unsigned int sessions;
	unsigned int qd;
	uint32_t bytes;
	bool write;
	bool random;
	double seconds;
	uint64_t span;           /* bytes of the LU to cover, 0 = all */
};

struct iob_sess;

struct iob_slot {
	struct iob_sess *sess;
	struct scsi_iovec iov;
	uint64_t start_ns;
};

struct iob_run;

struct iob_sess {
	struct iob_run *run;
	struct iscsi_context *iscsi;
	int lun;
	unsigned int inflight;
	struct iob_slot *slots;
};

struct iob_run {
	struct iob_opts o;
	uint32_t block_size;
	uint64_t blocks;         /* I/O units (bytes each) in the span */
	uint64_t next_seq;
	uint64_t rng;
	uint64_t t0_ns;
	uint64_t deadline_ns;
	uint64_t last_ns;
	uint64_t ios;
	uint64_t errors;
	uint64_t lat_sum_ns;
	uint64_t lat_max_ns;
	uint32_t *hist;
	bool stopping;
	struct iob_sess sess[IOB_MAX_SESSIONS];
};

static uint64_t iob_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t iob_rand(struct iob_run *r)
{
	/* xorshift64*: cheap and good enough to spread offsets */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 2685821657736338717ull;
}

static uint64_t iob_next_unit(struct iob_run *r)
{
	if (r->o.random)
		return iob_rand(r) % r->blocks;
	if (r->next_seq >= r->blocks)
		r->next_seq = 0;
	return r->next_seq++;
}

static void iob_done(struct iscsi_context *iscsi, int status, void *data, void *priv);

static int iob_submit(struct iob_run *r, struct iob_slot *slot)
{
	struct iob_sess *s = slot->sess;
	uint64_t lba = iob_next_unit(r) * (r->o.bytes / r->block_size);
	struct scsi_task *task;

	slot->start_ns = iob_now_ns();
	if (r->o.write)
		task = iscsi_write16_iov_task(s->iscsi, s->lun, lba, NULL, r->o.bytes,
					      (int)r->block_size, 0, 0, 0, 0, 0, iob_done, slot,
					      &slot->iov, 1);
	else
		task = iscsi_read16_iov_task(s->iscsi, s->lun, lba, r->o.bytes,
					     (int)r->block_size, 0, 0, 0, 0, 0, iob_done, slot,
					     &slot->iov, 1);
	if (!task) {
		fprintf(stderr, "iobench: cannot queue a command: %s\n", iscsi_get_error(s->iscsi));
		return -EIO;
	}
	s->inflight++;
	return 0;
}

static void iob_account(struct iob_run *r, uint64_t start_ns, uint64_t end_ns)
{
	uint64_t lat = end_ns - start_ns;
	uint64_t us = lat / 1000;

	r->ios++;
	r->lat_sum_ns += lat;
	if (lat > r->lat_max_ns)
		r->lat_max_ns = lat;
	r->hist[us < IOB_HIST_US ? us : IOB_HIST_US]++;
	r->last_ns = end_ns;
}

static void iob_done(struct iscsi_context *iscsi, int status, void *data, void *priv)
{
	struct iob_slot *slot = priv;
	struct iob_run *r = slot->sess->run;
	struct scsi_task *task = data;
	uint64_t now = iob_now_ns();

	slot->sess->inflight--;
	if (status != SCSI_STATUS_GOOD) {
		if (r->errors++ < 5)
			fprintf(stderr, "iobench: command failed: status %#x %s\n", status,
				iscsi_get_error(iscsi));
	} else {
		iob_account(r, slot->start_ns, now);
	}
	scsi_free_scsi_task(task);
	if (now >= r->deadline_ns)
		r->stopping = true;
	if (!r->stopping && iob_submit(r, slot) < 0)
		r->stopping = true;
}

static int iob_connect(struct iob_run *r, struct iob_sess *s, unsigned int idx)
{
	struct iscsi_url *url;
	struct scsi_task *task;
	struct scsi_readcapacity16 *rc16;
	char name[128];

	/* distinct names: sessions with one name and a random ISID could reinstate each other */
	snprintf(name, sizeof(name), "iqn.2026-11.org.utgt:iobench-%d-%u", (int)getpid(), idx);
	s->iscsi = iscsi_create_context(name);
	if (!s->iscsi)
		return -ENOMEM;
	url = iscsi_parse_full_url(s->iscsi, r->o.url);
	if (!url) {
		fprintf(stderr, "iobench: bad URL %s: %s\n", r->o.url, iscsi_get_error(s->iscsi));
		return -EINVAL;
	}
	iscsi_set_session_type(s->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(s->iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_targetname(s->iscsi, url->target);
	s->lun = url->lun;
	if (iscsi_full_connect_sync(s->iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "iobench: login to %s failed: %s\n", url->portal,
			iscsi_get_error(s->iscsi));
		iscsi_destroy_url(url);
		return -ECONNREFUSED;
	}
	iscsi_destroy_url(url);
	task = iscsi_readcapacity16_sync(s->iscsi, s->lun);
	if (!task || task->status != SCSI_STATUS_GOOD)
		return -EIO;
	rc16 = scsi_datain_unmarshall(task);
	if (!rc16 || !rc16->block_length) {
		scsi_free_scsi_task(task);
		return -EIO;
	}
	if (idx == 0) {
		uint64_t size = (rc16->returned_lba + 1) * rc16->block_length;

		r->block_size = rc16->block_length;
		if (!r->o.span || r->o.span > size)
			r->o.span = size;
	}
	scsi_free_scsi_task(task);
	return 0;
}

static int iob_alloc_slots(struct iob_run *r, struct iob_sess *s)
{
	s->slots = calloc(r->o.qd, sizeof(*s->slots));
	if (!s->slots)
		return -ENOMEM;
	for (unsigned int i = 0; i < r->o.qd; i++) {
		struct iob_slot *slot = &s->slots[i];

		slot->sess = s;
		slot->iov.iov_len = r->o.bytes;
		if (posix_memalign(&slot->iov.iov_base, 4096, r->o.bytes))
			return -ENOMEM;
		memset(slot->iov.iov_base, 0xa5, r->o.bytes);
	}
	return 0;
}

static unsigned int iob_inflight(const struct iob_run *r)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < r->o.sessions; i++)
		n += r->sess[i].inflight;
	return n;
}

static int iob_loop(struct iob_run *r)
{
	struct pollfd pfd[IOB_MAX_SESSIONS];
	unsigned int n = r->o.sessions;

	while (!r->stopping || iob_inflight(r)) {
		for (unsigned int i = 0; i < n; i++) {
			pfd[i].fd = iscsi_get_fd(r->sess[i].iscsi);
			pfd[i].events = (short)iscsi_which_events(r->sess[i].iscsi);
			pfd[i].revents = 0;
		}
		if (poll(pfd, n, 1000) < 0 && errno != EINTR)
			return -errno;
		if (iob_now_ns() >= r->deadline_ns)
			r->stopping = true;
		for (unsigned int i = 0; i < n; i++) {
			if (iscsi_service(r->sess[i].iscsi, pfd[i].revents) < 0) {
				fprintf(stderr, "iobench: session %u: %s\n", i,
					iscsi_get_error(r->sess[i].iscsi));
				return -EIO;
			}
		}
	}
	return 0;
}

static double iob_percentile(const struct iob_run *r, double p)
{
	uint64_t want = (uint64_t)((double)r->ios * p);
	uint64_t seen = 0;

	for (unsigned int us = 0; us <= IOB_HIST_US; us++) {
		seen += r->hist[us];
		if (seen > want)
			return us + 0.5;
	}
	return IOB_HIST_US;
}

static void iob_report(const struct iob_run *r)
{
	double secs = (double)(r->last_ns - r->t0_ns) / 1e9;

	if (secs <= 0)
		secs = 1e-9;
	printf("ios=%" PRIu64 " bytes=%" PRIu64 " secs=%.3f iops=%.0f mbps=%.1f "
	       "lat_avg_us=%.1f lat_p50_us=%.1f lat_p99_us=%.1f lat_max_us=%.1f errors=%" PRIu64
	       "\n", r->ios, r->ios * r->o.bytes, secs, (double)r->ios / secs,
	       (double)r->ios * r->o.bytes / secs / 1e6,
	       r->ios ? (double)r->lat_sum_ns / (double)r->ios / 1000 : 0,
	       iob_percentile(r, 0.50), iob_percentile(r, 0.99), (double)r->lat_max_ns / 1000,
	       r->errors);
}

static void iob_usage(void)
{
	fprintf(stderr, "usage: iobench -u iscsi://HOST:PORT/IQN/LUN [-c SESSIONS] [-q QD] "
		"[-b BYTES] [-w] [-r] [-t SECONDS] [-s SPAN_BYTES]\n");
	exit(2);
}

static void iob_parse(struct iob_opts *o, int argc, char **argv)
{
	int c;

	*o = (struct iob_opts){ .sessions = 1, .qd = 1, .bytes = 4096, .seconds = 5 };
	while ((c = getopt(argc, argv, "u:c:q:b:wrt:s:")) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 'c': o->sessions = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'q': o->qd = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'b': o->bytes = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'w': o->write = true; break;
		case 'r': o->random = true; break;
		case 't': o->seconds = strtod(optarg, NULL); break;
		case 's': o->span = strtoull(optarg, NULL, 0); break;
		default: iob_usage();
		}
	}
	if (!o->url || !o->sessions || o->sessions > IOB_MAX_SESSIONS || !o->qd ||
	    o->qd > IOB_MAX_QD || !o->bytes || o->bytes % 512 || o->seconds <= 0)
		iob_usage();
}

int main(int argc, char **argv)
{
	struct iob_run *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return 1;
	iob_parse(&r->o, argc, argv);
	r->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	r->hist = calloc(IOB_HIST_US + 1, sizeof(*r->hist));
	if (!r->hist)
		return 1;
	for (unsigned int i = 0; i < r->o.sessions; i++) {
		r->sess[i].run = r;
		ret = iob_connect(r, &r->sess[i], i);
		if (!ret)
			ret = iob_alloc_slots(r, &r->sess[i]);
		if (ret) {
			fprintf(stderr, "iobench: session %u: %s\n", i, strerror(-ret));
			return 1;
		}
	}
	if (r->o.bytes % r->block_size || r->o.span < r->o.bytes) {
		fprintf(stderr, "iobench: %u bytes is not a multiple of the %u-byte block\n",
			r->o.bytes, r->block_size);
		return 1;
	}
	r->blocks = r->o.span / r->o.bytes;
	r->t0_ns = r->last_ns = iob_now_ns();
	r->deadline_ns = r->t0_ns + (uint64_t)(r->o.seconds * 1e9);
	for (unsigned int i = 0; i < r->o.sessions; i++)
		for (unsigned int q = 0; q < r->o.qd; q++)
			if (iob_submit(r, &r->sess[i].slots[q]) < 0)
				return 1;
	ret = iob_loop(r);
	iob_report(r);
	for (unsigned int i = 0; i < r->o.sessions; i++) {
		iscsi_logout_sync(r->sess[i].iscsi);
		iscsi_destroy_context(r->sess[i].iscsi);
	}
	return ret < 0 || r->errors ? 1 : 0;
}
