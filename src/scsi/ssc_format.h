/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The on-disk format of a virtual tape cartridge (docs/tape-format.md), shared by the tape
 * device type (ssc.c) and the cartridge tool (tools/utgtimg). Pure encode/decode helpers over
 * byte buffers: no I/O, no allocation. All integers are big-endian.
 */
#ifndef UTGT_SCSI_SSC_FORMAT_H
#define UTGT_SCSI_SSC_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/util.h"

#define SSC_FMT_MAGIC      "UTGTTAPE"
#define SSC_FMT_VERSION    1u
#define SSC_FMT_HDR_SIZE   512u          /* cartridge header; the first record follows */
#define SSC_FMT_REC_SIZE   32u           /* record header */
#define SSC_FMT_REC_MAGIC  0x55545242u   /* "UTRB" */
#define SSC_FMT_BARCODE    32u
#define SSC_FMT_WP         (1u << 0)     /* header flag: write protected (the tab) */
#define SSC_FMT_MAX_BLOCK  (8u << 20)    /* largest data record */

enum ssc_rec_type {
	SSC_REC_DATA = 1,
	SSC_REC_FILEMARK = 2,
	SSC_REC_EOD = 3,
};

/* Cartridge header (first SSC_FMT_HDR_SIZE bytes of the file). */
struct ssc_fmt_hdr {
	uint32_t version;
	uint64_t capacity;                   /* bytes of records the cartridge holds */
	uint32_t flags;                      /* SSC_FMT_* */
	char barcode[SSC_FMT_BARCODE + 1];   /* NUL-terminated volume label */
	uint64_t created;                    /* seconds since the epoch */
};

/* Record header: every data block, filemark and the end-of-data mark. */
struct ssc_fmt_rec {
	uint16_t type;                       /* enum ssc_rec_type */
	uint32_t len;                        /* data bytes after the header (DATA only) */
	uint64_t object;                     /* logical object number counted from BOT */
	uint64_t prev;                       /* file offset of the previous record, 0 at BOT */
};

static inline void ssc_fmt_hdr_encode(const struct ssc_fmt_hdr *h, uint8_t *p)
{
	memset(p, 0, SSC_FMT_HDR_SIZE);
	memcpy(p, SSC_FMT_MAGIC, 8);
	put_be32(&p[8], h->version);
	put_be32(&p[12], SSC_FMT_HDR_SIZE);
	put_be64(&p[16], h->capacity);
	put_be32(&p[24], h->flags);
	memcpy(&p[32], h->barcode, strnlen(h->barcode, SSC_FMT_BARCODE));
	put_be64(&p[64], h->created);
}

/* 0, or -1 when p is not a cartridge header this code understands. */
static inline int ssc_fmt_hdr_decode(const uint8_t *p, struct ssc_fmt_hdr *h)
{
	if (memcmp(p, SSC_FMT_MAGIC, 8) || get_be32(&p[8]) != SSC_FMT_VERSION ||
	    get_be32(&p[12]) != SSC_FMT_HDR_SIZE)
		return -1;
	h->version = get_be32(&p[8]);
	h->capacity = get_be64(&p[16]);
	h->flags = get_be32(&p[24]);
	memcpy(h->barcode, &p[32], SSC_FMT_BARCODE);
	h->barcode[SSC_FMT_BARCODE] = '\0';
	h->created = get_be64(&p[64]);
	return 0;
}

static inline void ssc_fmt_rec_encode(const struct ssc_fmt_rec *r, uint8_t *p)
{
	memset(p, 0, SSC_FMT_REC_SIZE);
	put_be32(p, SSC_FMT_REC_MAGIC);
	put_be16(&p[4], r->type);
	put_be32(&p[8], r->len);
	put_be64(&p[16], r->object);
	put_be64(&p[24], r->prev);
}

/* 0, or -1 for a damaged record header (bad magic, type or length). */
static inline int ssc_fmt_rec_decode(const uint8_t *p, struct ssc_fmt_rec *r)
{
	if (get_be32(p) != SSC_FMT_REC_MAGIC)
		return -1;
	r->type = get_be16(&p[4]);
	r->len = get_be32(&p[8]);
	r->object = get_be64(&p[16]);
	r->prev = get_be64(&p[24]);
	if (r->type < SSC_REC_DATA || r->type > SSC_REC_EOD)
		return -1;
	if (r->len > SSC_FMT_MAX_BLOCK || (r->type != SSC_REC_DATA && r->len))
		return -1;
	return 0;
}

/* Size of the early-warning zone before the end of the cartridge: 1/32 of the capacity, but
 * at least 1 MiB (or a quarter of a smaller cartridge) so a host gets warned before it runs
 * out of room even with large blocks. */
static inline uint64_t ssc_fmt_early_warning(uint64_t capacity)
{
	uint64_t min = capacity / 4 < (1u << 20) ? capacity / 4 : (1u << 20);

	return capacity / 32 > min ? capacity / 32 : min;
}

#endif
