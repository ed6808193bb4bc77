// SPDX-License-Identifier: GPL-2.0-only
/*
 * utgtimg: the media tool of utgt, like tgt's tgtimg. Creates tape cartridges in the format
 * of src/scsi/ssc_format.h (docs/tape-format.md), shows their header and records, changes
 * their label and write-protect tab, and creates blank cd/dvd images. Offline: it never
 * talks to utgtd.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scsi/ssc_format.h"

struct img_opts {
	const char *op;
	const char *type;                  /* "tape" or "cd" */
	const char *file;
	const char *barcode;
	const char *wp;                    /* "on" / "off" / NULL */
	uint64_t size_mb;
	bool records;                      /* show: list every record */
};

static void img_usage(FILE *f)
{
	fprintf(f,
		"usage: utgtimg --op new --device-type tape --barcode LABEL --size MB --file PATH\n"
		"       utgtimg --op new --device-type cd --size MB --file PATH\n"
		"       utgtimg --op show --file PATH [--records]\n"
		"       utgtimg --op label --file PATH [--barcode LABEL] [--write-protect on|off]\n");
}

static int img_tape_new(const struct img_opts *o)
{
	struct ssc_fmt_hdr h = { .version = SSC_FMT_VERSION };
	struct ssc_fmt_rec eod = { .type = SSC_REC_EOD };
	uint8_t hb[SSC_FMT_HDR_SIZE], rb[SSC_FMT_REC_SIZE];
	int fd;

	if (!o->barcode || strlen(o->barcode) > SSC_FMT_BARCODE || !o->size_mb) {
		fprintf(stderr, "utgtimg: tape needs --barcode (<= %u chars) and --size\n",
			SSC_FMT_BARCODE);
		return 2;
	}
	h.capacity = o->size_mb << 20;
	h.created = (uint64_t)time(NULL);
	memcpy(h.barcode, o->barcode, strlen(o->barcode) + 1);
	ssc_fmt_hdr_encode(&h, hb);
	ssc_fmt_rec_encode(&eod, rb);
	fd = open(o->file, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		fprintf(stderr, "utgtimg: %s: %s\n", o->file, strerror(errno));
		return 1;
	}
	if (write(fd, hb, sizeof(hb)) != (ssize_t)sizeof(hb) ||
	    write(fd, rb, sizeof(rb)) != (ssize_t)sizeof(rb) || fsync(fd) < 0) {
		fprintf(stderr, "utgtimg: %s: %s\n", o->file, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("created tape %s: barcode %s, capacity %" PRIu64 " MiB\n", o->file, o->barcode,
	       o->size_mb);
	return 0;
}

static int img_cd_new(const struct img_opts *o)
{
	int fd = open(o->file, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0 || ftruncate(fd, (off_t)(o->size_mb << 20)) < 0) {
		fprintf(stderr, "utgtimg: %s: %s\n", o->file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	printf("created blank cd/dvd image %s: %" PRIu64 " MiB\n", o->file, o->size_mb);
	return 0;
}

static int img_hdr_read(int fd, const char *file, struct ssc_fmt_hdr *h)
{
	uint8_t hb[SSC_FMT_HDR_SIZE];

	if (pread(fd, hb, sizeof(hb), 0) != (ssize_t)sizeof(hb) || ssc_fmt_hdr_decode(hb, h)) {
		fprintf(stderr, "utgtimg: %s is not a utgt tape cartridge\n", file);
		return -1;
	}
	return 0;
}

static const char *img_rec_name(uint16_t type)
{
	static const char *const names[] = { "?", "data", "filemark", "eod" };

	return type <= SSC_REC_EOD ? names[type] : "?";
}

/* Walks the record chain, printing a summary (and every record with --records). */
static int img_tape_walk(int fd, const struct img_opts *o)
{
	uint64_t off = SSC_FMT_HDR_SIZE, blocks = 0, marks = 0, bytes = 0;
	uint8_t rb[SSC_FMT_REC_SIZE];
	struct ssc_fmt_rec r;

	for (;;) {
		if (pread(fd, rb, sizeof(rb), (off_t)off) != (ssize_t)sizeof(rb) ||
		    ssc_fmt_rec_decode(rb, &r)) {
			printf("damaged record at offset %" PRIu64 "\n", off);
			return 1;
		}
		if (o->records)
			printf("  %10" PRIu64 "  offset %12" PRIu64 "  %-8s %u\n", r.object, off,
			       img_rec_name(r.type), r.len);
		if (r.type == SSC_REC_EOD)
			break;
		if (r.type == SSC_REC_DATA) {
			blocks++;
			bytes += r.len;
		} else {
			marks++;
		}
		off += SSC_FMT_REC_SIZE + r.len;
	}
	printf("Data blocks: %" PRIu64 " (%" PRIu64 " bytes)\nFilemarks: %" PRIu64
	       "\nEnd of data: offset %" PRIu64 "\n", blocks, bytes, marks, off);
	return 0;
}

static int img_show(const struct img_opts *o)
{
	struct ssc_fmt_hdr h;
	int fd = open(o->file, O_RDONLY);
	int ret;

	if (fd < 0) {
		fprintf(stderr, "utgtimg: %s: %s\n", o->file, strerror(errno));
		return 1;
	}
	if (img_hdr_read(fd, o->file, &h)) {
		close(fd);
		return 1;
	}
	printf("Media type: tape\nFormat version: %u\nBarcode: %s\nCapacity: %" PRIu64
	       " MiB\nWrite protected: %s\n", h.version, h.barcode, h.capacity >> 20,
	       (h.flags & SSC_FMT_WP) ? "yes" : "no");
	ret = img_tape_walk(fd, o);
	close(fd);
	return ret;
}

static int img_label(const struct img_opts *o)
{
	uint8_t hb[SSC_FMT_HDR_SIZE];
	struct ssc_fmt_hdr h;
	int fd = open(o->file, O_RDWR);
	int ret = 1;

	if (fd < 0) {
		fprintf(stderr, "utgtimg: %s: %s\n", o->file, strerror(errno));
		return 1;
	}
	if (img_hdr_read(fd, o->file, &h))
		goto out;
	if (o->barcode) {
		if (strlen(o->barcode) > SSC_FMT_BARCODE) {
			fprintf(stderr, "utgtimg: barcode longer than %u\n", SSC_FMT_BARCODE);
			goto out;
		}
		memset(h.barcode, 0, sizeof(h.barcode));
		memcpy(h.barcode, o->barcode, strlen(o->barcode));
	}
	if (o->wp && !strcmp(o->wp, "on"))
		h.flags |= SSC_FMT_WP;
	else if (o->wp && !strcmp(o->wp, "off"))
		h.flags &= ~SSC_FMT_WP;
	else if (o->wp) {
		fprintf(stderr, "utgtimg: --write-protect on|off\n");
		goto out;
	}
	ssc_fmt_hdr_encode(&h, hb);
	if (pwrite(fd, hb, sizeof(hb), 0) != (ssize_t)sizeof(hb) || fsync(fd) < 0) {
		fprintf(stderr, "utgtimg: %s: %s\n", o->file, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static int img_parse(int argc, char **argv, struct img_opts *o)
{
	static const struct option longs[] = {
		{ "op", required_argument, NULL, 'o' },
		{ "device-type", required_argument, NULL, 'y' },
		{ "file", required_argument, NULL, 'f' },
		{ "barcode", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 's' },
		{ "write-protect", required_argument, NULL, 'w' },
		{ "records", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "o:y:f:b:s:w:rh", longs, NULL)) != -1) {
		switch (c) {
		case 'o': o->op = optarg; break;
		case 'y': o->type = optarg; break;
		case 'f': o->file = optarg; break;
		case 'b': o->barcode = optarg; break;
		case 'w': o->wp = optarg; break;
		case 'r': o->records = true; break;
		case 's':
			errno = 0;
			o->size_mb = strtoull(optarg, &end, 10);
			if (errno || *end || o->size_mb > (1ull << 30))
				return -1;
			break;
		case 'h':
			img_usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return o->op && o->file ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct img_opts o = { .type = "tape" };

	if (img_parse(argc, argv, &o) < 0) {
		img_usage(stderr);
		return 2;
	}
	if (!strcmp(o.op, "new") && !strcmp(o.type, "tape"))
		return img_tape_new(&o);
	if (!strcmp(o.op, "new") && !strcmp(o.type, "cd"))
		return img_cd_new(&o);
	if (!strcmp(o.op, "show"))
		return img_show(&o);
	if (!strcmp(o.op, "label"))
		return img_label(&o);
	img_usage(stderr);
	return 2;
}
