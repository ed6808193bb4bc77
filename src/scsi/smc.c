/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The media changer device type (SMC-3, peripheral type 08h): a virtual tape library whose
 * elements (medium transport, storage slots, import/export slots, data transfer elements)
 * are configured with tgt's --params keys. Cartridges are files named after their barcode in
 * media_home; MOVE MEDIUM into a data transfer element loads the file into the tape LU of
 * the same target that the element is mapped to, and moving it out unloads it.
 *
 * Locking: struct smc_lu.lock guards the element table, taken by the management thread
 * (--params) and by commands on reactors. Tape LUs are reached with core_lu_get().
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_int.h"

#define SMC_MAX_ELEMENTS 512
#define SMC_VOLTAG_LEN   32
#define SMC_BARCODE_MAX  32

#define SMC_ASC_INVALID_ELEMENT 0x2101  /* INVALID ELEMENT ADDRESS */
#define SMC_ASC_DEST_FULL       0x3b0d  /* MEDIUM DESTINATION ELEMENT FULL */
#define SMC_ASC_SOURCE_EMPTY    0x3b0e  /* MEDIUM SOURCE ELEMENT EMPTY */
#define SMC_ASC_LOAD_FAILED     0x5300  /* MEDIA LOAD OR EJECT FAILED */

enum smc_elem_type {
	SMC_MT = 1,                     /* medium transport (the robot) */
	SMC_ST = 2,                     /* storage slot */
	SMC_IE = 3,                     /* import/export slot (mail slot) */
	SMC_DT = 4,                     /* data transfer element (a tape drive) */
};

struct smc_elem {
	uint16_t addr;
	uint8_t type;                   /* enum smc_elem_type */
	bool full;
	bool svalid;                    /* source holds the element the medium came from */
	uint16_t source;
	char barcode[SMC_BARCODE_MAX + 1];
	bool lun_valid;                 /* DT: mapped to a tape LU of this target */
	uint64_t lun;
};

struct smc_lu {
	pthread_mutex_t lock;           /* everything below */
	struct smc_elem elems[SMC_MAX_ELEMENTS];
	unsigned int nr;
	char media_home[256];
	/* --params being applied: tgt sends element_type, start_address, quantity, address,
	 * barcode... as one list, which arrives here one key at a time */
	uint8_t p_type;
	int32_t p_start;                /* -1: not given */
	int32_t p_qty;
	struct smc_elem *p_sel;         /* element chosen by address= */
};

static struct smc_lu *smc_lu(const struct core_lu *lu)
{
	return lu->dt_priv;
}

static struct smc_elem *smc_elem_find(struct smc_lu *s, uint16_t addr)
{
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		if (s->elems[i].addr == addr)
			return &s->elems[i];
	return NULL;
}

static void smc_first_count(const struct smc_lu *s, uint8_t type, uint16_t *first,
			    uint16_t *count)
{
	unsigned int i;

	*first = 0xffff;
	*count = 0;
	for (i = 0; i < s->nr; i++) {
		if (s->elems[i].type != type)
			continue;
		(*count)++;
		if (s->elems[i].addr < *first)
			*first = s->elems[i].addr;
	}
	if (!*count)
		*first = 0;
}

/* ---- cartridges in drives ---- */

/* Loads (barcode) or unloads (NULL) the tape LU mapped to drive e. 0 or -errno. */
static int smc_drive_media(struct core_lu *lu, const struct smc_lu *s, const struct smc_elem *e,
			   const char *barcode)
{
	struct core_lu *tape;
	char path[512];
	size_t off = 0;
	int ret;

	if (!e->lun_valid)
		return 0;
	if (barcode && (!s->media_home[0] ||
			str_appendf(path, sizeof(path), &off, "%s/%s", s->media_home, barcode) < 0))
		return -ENOENT;
	tape = core_lu_get(lu->tgt, e->lun);
	if (!tape)
		return -ENODEV;
	ret = tape->dt == &scsi_tape ? ssc_cartridge_load(tape, barcode ? path : NULL) : -ENODEV;
	core_lu_put(tape);
	return ret;
}

/* ---- MOVE MEDIUM, POSITION TO ELEMENT, INITIALIZE ELEMENT STATUS ---- */

static int smc_move(struct scsi_cmd *cmd, struct smc_lu *s, uint16_t from, uint16_t to)
{
	struct smc_elem *src = smc_elem_find(s, from);
	struct smc_elem *dst = smc_elem_find(s, to);
	int ret;

	if (!src || !dst || src->type == SMC_MT || dst->type == SMC_MT) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SMC_ASC_INVALID_ELEMENT);
		return -EINVAL;
	}
	if (!src->full) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SMC_ASC_SOURCE_EMPTY);
		return -EINVAL;
	}
	if (dst->full && dst != src) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SMC_ASC_DEST_FULL);
		return -EINVAL;
	}
	if (dst == src)
		return 0;
	ret = src->type == SMC_DT ? smc_drive_media(cmd->lu, s, src, NULL) : 0;
	if (ret == 0 && dst->type == SMC_DT)
		ret = smc_drive_media(cmd->lu, s, dst, src->barcode);
	if (ret == -EBUSY) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
		return ret;
	}
	if (ret < 0) {
		core_cmd_fail(cmd, SENSE_HARDWARE_ERROR, SMC_ASC_LOAD_FAILED);
		return ret;
	}
	dst->full = true;
	memcpy(dst->barcode, src->barcode, sizeof(dst->barcode));
	dst->svalid = true;
	dst->source = src->svalid && src->type == SMC_DT ? src->source : src->addr;
	src->full = false;
	src->svalid = false;
	memset(src->barcode, 0, sizeof(src->barcode));
	return 0;
}

/* MOVE MEDIUM (SMC-3 §6.9): INVERT is not supported (single-sided media). */
static enum scsi_exec smc_move_medium(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct smc_lu *s = smc_lu(cmd->lu);
	uint16_t mt = get_be16(&cmd->cdb[2]);
	struct smc_elem *e;

	(void)t;
	pthread_mutex_lock(&s->lock);
	e = smc_elem_find(s, mt);
	if (mt && (!e || e->type != SMC_MT))
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SMC_ASC_INVALID_ELEMENT);
	else if (smc_move(cmd, s, get_be16(&cmd->cdb[4]), get_be16(&cmd->cdb[6])) == 0)
		core_cmd_good(cmd);
	pthread_mutex_unlock(&s->lock);
	return SCSI_EXEC_DONE;
}

/* POSITION TO ELEMENT (SMC-3 §6.11): nothing moves, the addresses must exist. */
static enum scsi_exec smc_position(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct smc_lu *s = smc_lu(cmd->lu);
	uint16_t mt = get_be16(&cmd->cdb[2]);
	bool ok;

	(void)t;
	pthread_mutex_lock(&s->lock);
	ok = (!mt || smc_elem_find(s, mt)) && smc_elem_find(s, get_be16(&cmd->cdb[4]));
	pthread_mutex_unlock(&s->lock);
	if (ok)
		core_cmd_good(cmd);
	else
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, SMC_ASC_INVALID_ELEMENT);
	return SCSI_EXEC_DONE;
}

/* ---- READ ELEMENT STATUS (SMC-3 §6.12) ---- */

struct smc_res {
	bool voltag;
	bool dvcid;
	uint16_t start;
	uint16_t max;                   /* NUMBER OF ELEMENTS */
	uint16_t reported;
	uint16_t first;
};

static uint32_t smc_desc_len(const struct smc_res *q)
{
	return 12u + (q->voltag ? 36u : 0) + (q->dvcid ? 4u : 0);
}

static void smc_desc_put(const struct smc_elem *e, const struct smc_res *q, uint8_t *p)
{
	memset(p, 0, smc_desc_len(q));
	put_be16(p, e->addr);
	p[2] = (uint8_t)((e->full ? 0x01 : 0) | (e->type != SMC_MT ? 0x08 : 0) |
			 (e->type == SMC_IE ? 0x30 : 0));
	if (e->type == SMC_DT && e->lun_valid && e->lun < 8)
		p[6] = (uint8_t)(0x10 | e->lun);     /* LU VALID, LUN */
	if (e->svalid) {
		p[9] = 0x80;
		put_be16(&p[10], e->source);
	}
	if (q->voltag && e->full)
		scsi_put_ascii(&p[12], e->barcode, SMC_VOLTAG_LEN);
}

/* One element status page for type at d (room bytes); returns its length (0: none). */
static uint32_t smc_page_put(const struct smc_lu *s, uint8_t type, struct smc_res *q, uint8_t *d,
			     uint32_t room)
{
	uint32_t dlen = smc_desc_len(q), off = 8;
	unsigned int i;

	for (i = 0; i < s->nr && q->reported < q->max; i++) {
		const struct smc_elem *e = &s->elems[i];

		if (e->type != type || e->addr < q->start || off + dlen > room)
			continue;
		if (!q->reported || e->addr < q->first)
			q->first = e->addr;
		smc_desc_put(e, q, &d[off]);
		off += dlen;
		q->reported++;
	}
	if (off == 8)
		return 0;
	d[0] = type;
	d[1] = q->voltag ? 0x80 : 0;
	put_be16(&d[2], (uint16_t)dlen);
	put_be24(&d[5], off - 8);
	return off;
}

static enum scsi_exec smc_read_element_status(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct smc_lu *s = smc_lu(cmd->lu);
	uint8_t want = cmd->cdb[1] & 0x0f;
	struct smc_res q = { .voltag = cmd->cdb[1] & 0x10, .dvcid = cmd->cdb[6] & 0x01,
			     .start = get_be16(&cmd->cdb[2]), .max = get_be16(&cmd->cdb[4]) };
	uint32_t room = 8 + 4 * 8 + SMC_MAX_ELEMENTS * 52, off = 8;
	uint8_t type, *d;

	(void)t;
	if (want > SMC_DT) {
		scsi_fail_cdb(cmd, 1, 3);
		return SCSI_EXEC_DONE;
	}
	d = calloc(1, room);            /* a management-class command, not the I/O path */
	if (!d) {
		scsi_busy(cmd);
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&s->lock);
	for (type = SMC_MT; type <= SMC_DT; type++)
		if (!want || want == type)
			off += smc_page_put(s, type, &q, &d[off], room - off);
	pthread_mutex_unlock(&s->lock);
	put_be16(d, q.first);
	put_be16(&d[2], q.reported);
	put_be24(&d[5], off - 8);
	scsi_data_in(cmd, d, off, get_be24(&cmd->cdb[7]));
	free(d);
	return SCSI_EXEC_DONE;
}

/* ---- mode pages 1Dh, 1Eh, 1Fh ---- */

/* Element Address Assignment (SMC-3 §7.3.3). */
static void smc_mode_eaa(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	struct smc_lu *s = smc_lu(lu);
	uint16_t first, count;
	uint8_t type;

	memset(p, 0, 20);
	p[0] = 0x1d;
	p[1] = 0x12;
	if (pc == SCSI_PC_CHANGEABLE)
		return;
	pthread_mutex_lock(&s->lock);
	for (type = SMC_MT; type <= SMC_DT; type++) {
		smc_first_count(s, type, &first, &count);
		put_be16(&p[2 + (type - 1) * 4], first);
		put_be16(&p[4 + (type - 1) * 4], count);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Transport Geometry Parameters (SMC-3 §7.3.5): one transport, no rotation. */
static void smc_mode_geometry(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	(void)lu;
	(void)pc;
	memset(p, 0, 4);
	p[0] = 0x1e;
	p[1] = 0x02;
}

/* Device Capabilities (SMC-3 §7.3.2): media may rest in and move between ST, IE and DT. */
static void smc_mode_capabilities(const struct core_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	(void)lu;
	memset(p, 0, 20);
	p[0] = 0x1f;
	p[1] = 0x12;
	if (pc == SCSI_PC_CHANGEABLE)
		return;
	p[2] = 0x0e;                        /* StorDT, StorI/E, StorST */
	p[4] = 0x0e;                        /* from MT */
	p[5] = 0x0e;                        /* from ST: to DT, I/E, ST */
	p[6] = 0x0e;                        /* from I/E */
	p[7] = 0x0e;                        /* from DT */
}

/* ---- the device type ---- */

#define SMC_OP(opc, f, d, len, fl, nm, ...)                                                       \
	[opc] = { .fn = f, .dir = SCSI_DIR_##d, .cdb_len = len, .flags = fl, .name = nm,           \
		  .usage = { opc, __VA_ARGS__ } }

#define SMC_NM SCSI_OPF_NO_MEDIUM
/* Linux ch (drivers/scsi/ch.c) puts the LUN in CDB byte 1 bits 7:5 (SCSI-2): ignored. */
#define SMC_LUN 0xe0

/* clang-format off */
static const struct scsi_op smc_ops[SCSI_NR_OPCODES] = {
	SCSI_OPS_SPC,
	/* INITIALIZE ELEMENT STATUS (WITH RANGE): the inventory is always exact */
	SMC_OP(0x07, spc_good, NONE, 6, SMC_NM, "INITIALIZE ELEMENT STATUS", SMC_LUN, 0, 0,
	       0, 0),
	SMC_OP(0x1e, spc_prevent_allow, NONE, 6, SMC_NM, "PREVENT ALLOW MEDIUM REMOVAL", SMC_LUN,
	       0, 0, 0x03, 0),
	SMC_OP(0x2b, smc_position, NONE, 10, SMC_NM, "POSITION TO ELEMENT", SMC_LUN, 0xff, 0xff, 0xff,
	       0xff, 0, 0, 0x01, 0),
	SMC_OP(0x37, spc_good, NONE, 10, SMC_NM, "INITIALIZE ELEMENT STATUS WITH RANGE",
	       SMC_LUN | 0x03, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0),
	SMC_OP(0xa5, smc_move_medium, NONE, 12, SMC_NM, "MOVE MEDIUM", SMC_LUN, 0xff, 0xff, 0xff, 0xff,
	       0xff, 0xff, 0, 0, 0, 0),
	SMC_OP(0xb8, smc_read_element_status, READ, 12, SMC_NM, "READ ELEMENT STATUS", 0xff,
	       0xff, 0xff, 0xff, 0xff, 0x03, 0xff, 0xff, 0xff, 0, 0),
	[SCSI_OP_MODE_SENSE_6] = { .fn = spc_mode_sense, .cdb_len = 6, .dir = SCSI_DIR_READ,
		.flags = SMC_NM, .name = "MODE SENSE(6)",
		.usage = { 0x1a, SMC_LUN | 0x08, 0xff, 0xff, 0xff, 0 } },
	[SCSI_OP_MODE_SENSE_10] = { .fn = spc_mode_sense, .cdb_len = 10, .dir = SCSI_DIR_READ,
		.flags = SMC_NM, .name = "MODE SENSE(10)",
		.usage = { 0x5a, SMC_LUN | 0x08, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
};
/* clang-format on */

static const struct scsi_vpd smc_vpd[] = {
	{ 0x00, spc_vpd_supported },
	{ 0x80, spc_vpd_serial },
	{ 0x83, spc_vpd_devid },
};

/* SAM-5, iSCSI, SPC-4, SMC-3 (no version claimed). */
static const uint16_t smc_versions[] = { 0x00a0, 0x0960, 0x0460, 0x04a0 };

static const struct scsi_mode_page smc_modes[] = {
	{ 0x1d, 0, 20, smc_mode_eaa, NULL },
	{ 0x1e, 0, 4, smc_mode_geometry, NULL },
	{ 0x1f, 0, 20, smc_mode_capabilities, NULL },
};

const struct scsi_type scsi_smc_type = {
	.dt = &scsi_changer,
	.pdt = SCSI_PDT_CHANGER,
	.unknown_asc = ASC_INVALID_OPCODE,
	.ops = smc_ops,
	.vpd = smc_vpd,
	.nr_vpd = ARRAY_SIZE(smc_vpd),
	.versions = smc_versions,
	.nr_versions = ARRAY_SIZE(smc_versions),
	.modes = smc_modes,
	.nr_modes = ARRAY_SIZE(smc_modes),
};

/* ---- configuration (--params, management thread) ---- */

static int smc_elems_add(struct smc_lu *s)
{
	uint32_t i;

	if (!s->p_type || s->p_start < 0 || s->p_qty <= 0)
		return -EINVAL;
	if ((uint32_t)s->p_qty > SMC_MAX_ELEMENTS - s->nr || s->p_start + s->p_qty > 0x10000)
		return -EINVAL;
	for (i = 0; i < (uint32_t)s->p_qty; i++)
		if (smc_elem_find(s, (uint16_t)(s->p_start + i)))
			return -EINVAL;
	for (i = 0; i < (uint32_t)s->p_qty; i++) {
		struct smc_elem *e = &s->elems[s->nr++];

		memset(e, 0, sizeof(*e));
		e->addr = (uint16_t)(s->p_start + i);
		e->type = s->p_type;
	}
	s->p_start = -1;
	s->p_qty = -1;
	return 0;
}

static int smc_set_barcode(struct core_lu *lu, struct smc_lu *s, const char *v, size_t max)
{
	struct smc_elem *e = s->p_sel;
	int ret;

	if (!e || e->type == SMC_MT || strlen(v) > max || !*v)
		return -EINVAL;
	if (e->type == SMC_DT) {
		ret = smc_drive_media(lu, s, e, v);
		if (ret < 0)
			return ret;
	}
	memset(e->barcode, 0, sizeof(e->barcode));
	memcpy(e->barcode, v, strlen(v));
	e->full = true;
	return 0;
}

static int smc_clear(struct core_lu *lu, struct smc_lu *s)
{
	struct smc_elem *e = s->p_sel;
	int ret;

	if (!e)
		return -EINVAL;
	if (e->type == SMC_DT && e->full) {
		ret = smc_drive_media(lu, s, e, NULL);
		if (ret < 0)
			return ret;
	}
	e->full = false;
	e->svalid = false;
	memset(e->barcode, 0, sizeof(e->barcode));
	return 0;
}

static int smc_map_lun(struct core_lu *lu, struct smc_lu *s, uint64_t lun)
{
	struct core_lu *tape = core_lu_find(lu->tgt, lun);

	if (!s->p_sel || s->p_sel->type != SMC_DT || !tape || tape->dt != &scsi_tape)
		return -EINVAL;
	s->p_sel->lun = lun;
	s->p_sel->lun_valid = true;
	return 0;
}

/* Numeric keys of tgt's changer --params. */
static int smc_config_num(struct core_lu *lu, struct smc_lu *s, const char *key, uint64_t v)
{
	if (!strcmp(key, "element_type")) {
		if (v < SMC_MT || v > SMC_DT)
			return -EINVAL;
		s->p_type = (uint8_t)v;
		s->p_start = s->p_qty = -1;
		s->p_sel = NULL;
		return 0;
	}
	if (!strcmp(key, "start_address") || !strcmp(key, "quantity")) {
		if (v > 0xffff)
			return -EINVAL;
		*(key[0] == 's' ? &s->p_start : &s->p_qty) = (int32_t)v;
		return s->p_start >= 0 && s->p_qty >= 0 ? smc_elems_add(s) : 0;
	}
	if (!strcmp(key, "address")) {
		s->p_sel = v <= 0xffff ? smc_elem_find(s, (uint16_t)v) : NULL;
		return s->p_sel && (!s->p_type || s->p_sel->type == s->p_type) ? 0 : -EINVAL;
	}
	if (!strcmp(key, "tid"))
		return v == lu->tgt->tid ? 0 : -EINVAL;   /* drives of this target only */
	if (!strcmp(key, "lun"))
		return smc_map_lun(lu, s, v);
	if (!strcmp(key, "sides"))
		return v == 1 || v == 2 ? 0 : -EINVAL;
	if (!strcmp(key, "clear_slot"))
		return v ? smc_clear(lu, s) : 0;
	if (!strcmp(key, "dump"))
		return 0;
	return -ENOENT;
}

/* tgt's changer --params keys: the strings, then the numbers smc_config_num takes. */
static const char *const smc_config_keys[] = {
	"barcode", "volume_tag", "media_home", "element_type", "start_address", "quantity",
	"address", "tid", "lun", "sides", "clear_slot", NULL,
};

/* A changer key, or tgt's "dump" (accepted and ignored, not a config-file key). */
static bool smc_key_known(const char *key)
{
	const char *const *k;

	for (k = smc_config_keys; *k; k++)
		if (!strcmp(key, *k))
			return true;
	return !strcmp(key, "dump");
}

static int smc_lu_config(struct core_lu *lu, const char *key, const char *value)
{
	struct smc_lu *s = smc_lu(lu);
	uint64_t v;
	int ret;

	pthread_mutex_lock(&s->lock);
	if (!strcmp(key, "barcode"))
		ret = smc_set_barcode(lu, s, value, 10);
	else if (!strcmp(key, "volume_tag"))
		ret = smc_set_barcode(lu, s, value, SMC_BARCODE_MAX);
	else if (!strcmp(key, "media_home"))
		ret = str_copy(s->media_home, value, sizeof(s->media_home)) < sizeof(s->media_home)
			      ? 0 : -EINVAL;
	else if (str_to_u64(value, 0, UINT64_MAX, &v) < 0)
		ret = smc_key_known(key) ? -EINVAL : -ENOENT;
	else
		ret = smc_config_num(lu, s, key, v);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int smc_lu_init(struct core_lu *lu)
{
	struct smc_lu *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->p_start = s->p_qty = -1;
	lu->dt_priv = s;
	lu->block_size = 1;
	lu->block_shift = 0;
	lu->size = 0;
	lu->online = true;
	scsi_lu_identity_init(lu, "UTGT", "VIRTUAL-CHANGER");
	return 0;
}

static void smc_lu_fini(struct core_lu *lu)
{
	struct smc_lu *s = smc_lu(lu);

	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
	lu->dt_priv = NULL;
}

static void smc_cmd_exec(struct scsi_cmd *cmd)
{
	scsi_dispatch(cmd, &scsi_smc_type);
}

const struct core_devtype scsi_changer = {
	.name = "changer",
	.show_name = "changer",
	.pdt = SCSI_PDT_CHANGER,
	.default_bs = "null",
	.needs_path = false,
	.lu_init = smc_lu_init,
	.lu_fini = smc_lu_fini,
	.lu_config = smc_lu_config,
	.config_keys = smc_config_keys,
	.cmd_exec = smc_cmd_exec,
};
