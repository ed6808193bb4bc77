/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reservations (SPC-4): PERSISTENT RESERVE IN/OUT with the six reservation types, their
 * conflict rules applied to every command, APTPL state saved atomically next to the backing
 * file ("<path>.pr") and restored when the LU is created; and the SPC-2 RESERVE/RELEASE(6/10)
 * reservation. State is per LU (struct scsi_pr), shared by every reactor under pr->lock; the
 * fast path reads one atomic flag. An I_T nexus is named by its iSCSI initiator port
 * TransportID ("<name>,i,0x<isid>"); the target has one target port, so ALL_TG_PT changes
 * nothing.
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi/scsi_int.h"

#define ASC_INVALID_RELEASE_OF_PR 0x2604

enum {
	PR_OUT_REGISTER = 0,
	PR_OUT_RESERVE = 1,
	PR_OUT_RELEASE = 2,
	PR_OUT_CLEAR = 3,
	PR_OUT_PREEMPT = 4,
	PR_OUT_PREEMPT_ABORT = 5,
	PR_OUT_REGISTER_IGNORE = 6,
	PR_OUT_REGISTER_MOVE = 7,
};

void scsi_pr_init(struct scsi_pr *pr)
{
	memset(pr, 0, sizeof(*pr));
	pthread_mutex_init(&pr->lock, NULL);
}

void scsi_pr_fini(struct scsi_pr *pr)
{
	pthread_mutex_destroy(&pr->lock);
}

bool scsi_pr_type_valid(uint8_t type)
{
	return type == SCSI_PR_WE || type == SCSI_PR_EA || type == SCSI_PR_WE_RO ||
	       type == SCSI_PR_EA_RO || type == SCSI_PR_WE_AR || type == SCSI_PR_EA_AR;
}

static bool pr_all_registrants(uint8_t type)
{
	return type == SCSI_PR_WE_AR || type == SCSI_PR_EA_AR;
}

int scsi_pr_find(const struct scsi_pr *pr, const char *tid)
{
	unsigned int i;

	for (i = 0; i < pr->nr_regs; i++)
		if (!strcmp(pr->regs[i].tid, tid))
			return (int)i;
	return -1;
}

/* Whether registrant i holds the reservation (every registrant for the AR types). */
bool scsi_pr_is_holder(const struct scsi_pr *pr, int i)
{
	if (i < 0 || !pr->type)
		return false;
	return pr_all_registrants(pr->type) || pr->regs[i].holder;
}

static void pr_update_active(struct scsi_pr *pr)
{
	atomic_store(&pr->active, pr->type != 0 || pr->r2_nexus != NULL);
}

static void pr_remove(struct scsi_pr *pr, int i)
{
	pr->nr_regs--;
	if ((unsigned int)i != pr->nr_regs)
		pr->regs[i] = pr->regs[pr->nr_regs];
}

/* ---- the state machine (no locking, no I/O: unit-tested directly) ---- */

/*
 * Applies one PR OUT service action from registrant identity tid. Returns SAM_STAT_GOOD,
 * SAM_STAT_RESERVATION_CONFLICT, or -ASC for CHECK CONDITION ILLEGAL REQUEST. notify() is
 * called for unit attentions to establish (tid, asc) after the change.
 */
int scsi_pr_out(struct scsi_pr *pr, const char *tid, uint8_t sa, uint8_t type, uint64_t key,
		uint64_t sa_key, bool aptpl, scsi_pr_notify_fn notify, void *arg)
{
	int me = scsi_pr_find(pr, tid);
	unsigned int i;
	bool removed;

	if (sa == PR_OUT_REGISTER || sa == PR_OUT_REGISTER_IGNORE) {
		if (sa == PR_OUT_REGISTER &&
		    ((me < 0 && key) || (me >= 0 && pr->regs[me].key != key)))
			return SAM_STAT_RESERVATION_CONFLICT;
		if (me < 0) {
			if (!sa_key)
				return SAM_STAT_GOOD;
			if (pr->nr_regs >= SCSI_PR_MAX_REGS)
				return -ASC_INSUFFICIENT_RESOURCES;
			me = (int)pr->nr_regs++;
			memset(&pr->regs[me], 0, sizeof(pr->regs[me]));
			str_copy(pr->regs[me].tid, tid, sizeof(pr->regs[me].tid));
			pr->regs[me].key = sa_key;
		} else if (sa_key) {
			pr->regs[me].key = sa_key;
		} else {
			bool held = scsi_pr_is_holder(pr, me);
			uint8_t t = pr->type;

			pr_remove(pr, me);
			if (held && (!pr_all_registrants(t) || !pr->nr_regs)) {
				pr->type = 0;
				for (i = 0; i < pr->nr_regs; i++)
					if (t == SCSI_PR_WE_RO || t == SCSI_PR_EA_RO)
						notify(arg, pr->regs[i].tid,
						       ASC_RESERVATIONS_RELEASED);
			}
		}
		pr->aptpl = aptpl;
		pr->generation++;
		return SAM_STAT_GOOD;
	}
	if (me < 0 || pr->regs[me].key != key)
		return SAM_STAT_RESERVATION_CONFLICT;
	switch (sa) {
	case PR_OUT_RESERVE:
		if (!scsi_pr_type_valid(type))
			return -ASC_INVALID_FIELD_IN_CDB;
		if (pr->type) {
			if (!scsi_pr_is_holder(pr, me) || pr->type != type)
				return SAM_STAT_RESERVATION_CONFLICT;
			return SAM_STAT_GOOD;
		}
		pr->type = type;
		pr->regs[me].holder = true;
		return SAM_STAT_GOOD;
	case PR_OUT_RELEASE:
		if (!pr->type || !scsi_pr_is_holder(pr, me))
			return SAM_STAT_GOOD;
		if (pr->type != type)
			return -ASC_INVALID_RELEASE_OF_PR;
		for (i = 0; i < pr->nr_regs; i++)
			pr->regs[i].holder = false;
		if (type != SCSI_PR_WE && type != SCSI_PR_EA)
			for (i = 0; i < pr->nr_regs; i++)
				if ((int)i != me)
					notify(arg, pr->regs[i].tid, ASC_RESERVATIONS_RELEASED);
		pr->type = 0;
		return SAM_STAT_GOOD;
	case PR_OUT_CLEAR:
		for (i = 0; i < pr->nr_regs; i++)
			if ((int)i != me)
				notify(arg, pr->regs[i].tid, ASC_RESERVATIONS_PREEMPTED);
		pr->nr_regs = 0;
		pr->type = 0;
		pr->generation++;
		return SAM_STAT_GOOD;
	case PR_OUT_PREEMPT:
	case PR_OUT_PREEMPT_ABORT:
		break;
	default:
		return -ASC_INVALID_FIELD_IN_CDB;
	}
	/* PREEMPT (SPC-4 5.14.11): preempting the holder takes the reservation over. */
	if (pr->type && pr_all_registrants(pr->type) && !sa_key) {
		if (!scsi_pr_type_valid(type))
			return -ASC_INVALID_FIELD_IN_CDB;
		for (i = pr->nr_regs; i-- > 0;)
			if ((int)i != me) {
				notify(arg, pr->regs[i].tid, ASC_REGISTRATIONS_PREEMPTED);
				pr_remove(pr, (int)i);
			}
		me = scsi_pr_find(pr, tid);
		pr->type = type;
		pr->regs[me].holder = true;
		pr->generation++;
		return SAM_STAT_GOOD;
	}
	if (!sa_key)
		return -ASC_INVALID_FIELD_IN_PARAM;
	{
		bool takes = false;

		if (pr->type && !pr_all_registrants(pr->type))
			for (i = 0; i < pr->nr_regs; i++)
				if (pr->regs[i].holder && pr->regs[i].key == sa_key)
					takes = true;
		if (takes && !scsi_pr_type_valid(type))
			return -ASC_INVALID_FIELD_IN_CDB;
		removed = false;
		for (i = pr->nr_regs; i-- > 0;) {
			if (pr->regs[i].key != sa_key || (int)i == me)
				continue;
			notify(arg, pr->regs[i].tid, ASC_REGISTRATIONS_PREEMPTED);
			pr_remove(pr, (int)i);
			removed = true;
		}
		me = scsi_pr_find(pr, tid);
		if (!removed && !takes)
			return SAM_STAT_RESERVATION_CONFLICT;
		if (takes) {
			uint8_t old = pr->type;

			for (i = 0; i < pr->nr_regs; i++)
				pr->regs[i].holder = false;
			pr->regs[me].holder = true;
			pr->type = type;
			if (old != type)
				for (i = 0; i < pr->nr_regs; i++)
					if ((int)i != me)
						notify(arg, pr->regs[i].tid,
						       ASC_RESERVATIONS_RELEASED);
		}
	}
	pr->generation++;
	return SAM_STAT_GOOD;
}

/*
 * Access check (SPC-4 tables 5.14.x): the holder may do anything; registrants of the RO and
 * AR types too; otherwise WE types refuse writes only, EA types reads and writes.
 */
bool scsi_pr_allows(const struct scsi_pr *pr, const char *tid, bool writes)
{
	int me;

	if (!pr->type)
		return true;
	me = scsi_pr_find(pr, tid);
	if (scsi_pr_is_holder(pr, me))
		return true;
	if (me >= 0 && pr->type != SCSI_PR_WE && pr->type != SCSI_PR_EA)
		return true;
	if (pr->type == SCSI_PR_WE || pr->type == SCSI_PR_WE_RO || pr->type == SCSI_PR_WE_AR)
		return !writes;
	return false;
}

/* ---- APTPL persistence ---- */

/* Saves (or removes when nothing persists) the state: temp file, fsync, rename, fsync dir. */
static int pr_save(const struct scsi_pr *pr, const char *path)
{
	char tmp[4096], dir[4096];
	unsigned int i;
	char *slash;
	FILE *f;
	int fd;

	if (!path)
		return 0;
	if (!pr->aptpl || !pr->nr_regs) {
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "utgt-pr 1\ngeneration %" PRIu32 "\ntype %u\n", pr->generation, pr->type);
	for (i = 0; i < pr->nr_regs; i++)
		fprintf(f, "reg %016" PRIx64 " %d %s\n", pr->regs[i].key, pr->regs[i].holder,
			pr->regs[i].tid);
	if (fflush(f) || fsync(fileno(f)) || fclose(f)) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0)
		return -errno;
	str_copy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int scsi_pr_load(struct scsi_pr *pr, const char *path)
{
	char line[512], tid[SCSI_PR_TID_MAX];
	unsigned int type, holder;
	uint64_t key;
	FILE *f = fopen(path, "r");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "generation %" SCNu32, &pr->generation) == 1)
			continue;
		if (sscanf(line, "type %u", &type) == 1 &&
		    (!type || scsi_pr_type_valid((uint8_t)type))) {
			pr->type = (uint8_t)type;
			continue;
		}
		if (sscanf(line, "reg %" SCNx64 " %u %255s", &key, &holder, tid) == 3 && key &&
		    pr->nr_regs < SCSI_PR_MAX_REGS) {
			struct scsi_pr_reg *r = &pr->regs[pr->nr_regs++];

			r->key = key;
			r->holder = holder != 0;
			str_copy(r->tid, tid, sizeof(r->tid));
		}
	}
	fclose(f);
	pr->aptpl = pr->nr_regs > 0;
	if (!pr->nr_regs)
		pr->type = 0;
	pr_update_active(pr);
	return 0;
}

/* ---- commands ---- */

struct pr_ua_ctx {
	struct scsi_cmd *cmd;
};

/* Unit attention for the nexus named tid (every connection of that I_T nexus). */
static void pr_notify(void *arg, const char *tid, uint16_t asc)
{
	struct scsi_cmd *cmd = ((struct pr_ua_ctx *)arg)->cmd;
	struct core_target *tgt = cmd->lu->tgt;
	struct core_nexus *n;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry)
		if (!strcmp(n->transport_id, tid))
			core_ua_add(n, cmd->lun, asc);
	pthread_rwlock_unlock(&tgt->lock);
}

static struct scsi_pr *pr_of(struct scsi_cmd *cmd)
{
	return scsi_lu_pr(cmd->lu);
}

enum scsi_exec spc_pr_out(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct scsi_pr *pr = pr_of(cmd);
	const uint8_t *p = cmd->buf;
	uint32_t plen = get_be32(&cmd->cdb[5]);
	struct pr_ua_ctx ctx = { cmd };
	uint8_t sa = cmd->cdb[1] & 0x1f;
	int ret;

	(void)t;
	cmd->in_len = plen;
	if (sa == PR_OUT_REGISTER_MOVE) {
		scsi_fail_cdb(cmd, 1, 4);
		return SCSI_EXEC_DONE;
	}
	if (plen != 24) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
		return SCSI_EXEC_DONE;
	}
	if (cmd->out_len < 24 || !p) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
		return SCSI_EXEC_DONE;
	}
	if (p[20] & 0x08) { /* SPEC_I_PT: not supported (SIP_C 0) */
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, 20, 3);
		return SCSI_EXEC_DONE;
	}
	if ((cmd->cdb[2] & 0xf0) && sa != PR_OUT_REGISTER && sa != PR_OUT_REGISTER_IGNORE &&
	    sa != PR_OUT_CLEAR) {
		scsi_fail_cdb(cmd, 2, 7); /* scope: LU_SCOPE only */
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&pr->lock);
	ret = scsi_pr_out(pr, cmd->nexus->transport_id, sa, cmd->cdb[2] & 0x0f, get_be64(p),
			  get_be64(&p[8]), p[20] & 0x01, pr_notify, &ctx);
	pr_update_active(pr);
	if (ret == SAM_STAT_GOOD && pr_save(pr, pr->state_path) < 0)
		log_warn("scsi: lun %llu: cannot save reservations to %s",
			 (unsigned long long)cmd->lun, pr->state_path);
	pthread_mutex_unlock(&pr->lock);
	if (ret == SAM_STAT_GOOD) {
		core_cmd_good(cmd);
	} else if (ret == SAM_STAT_RESERVATION_CONFLICT) {
		cmd->status = SAM_STAT_RESERVATION_CONFLICT;
		cmd->sense_len = 0;
	} else if (-ret == ASC_INVALID_FIELD_IN_CDB) {
		scsi_fail_cdb(cmd, 2, 3);
	} else {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, (uint16_t)-ret);
	}
	return SCSI_EXEC_DONE;
}

/* iSCSI TransportID (SPC-4 7.6.4.6), format 01b: name,i,0x<isid>, NUL-padded to 4 bytes. */
static uint32_t pr_put_tid(uint8_t *d, const char *tid)
{
	uint32_t n = (uint32_t)strlen(tid) + 1;

	n = (n + 3) & ~3u;
	memset(d, 0, 4 + n);
	d[0] = 0x45;
	put_be16(&d[2], (uint16_t)n);
	memcpy(&d[4], tid, strlen(tid));
	return 4 + n;
}

static uint32_t pr_in_build(struct scsi_pr *pr, uint8_t sa, uint8_t *d, uint32_t cap)
{
	uint32_t len = 8, i;

	memset(d, 0, 8);
	put_be32(d, pr->generation);
	switch (sa) {
	case 0: /* READ KEYS */
		for (i = 0; i < pr->nr_regs; i++, len += 8)
			put_be64(&d[len], pr->regs[i].key);
		break;
	case 1: /* READ RESERVATION */
		if (!pr->type)
			break;
		memset(&d[8], 0, 16);
		for (i = 0; i < pr->nr_regs && !pr_all_registrants(pr->type); i++)
			if (pr->regs[i].holder)
				put_be64(&d[8], pr->regs[i].key);
		d[21] = pr->type;
		len += 16;
		break;
	case 2: /* REPORT CAPABILITIES */
		memset(d, 0, 8);
		put_be16(d, 8);
		d[2] = 0x10 | 0x04 | 0x01;         /* CRH, ATP_C, PTPL_C */
		d[3] = 0x80 | (pr->aptpl ? 1 : 0); /* TMV, PTPL_A */
		d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
		d[5] = 0x01;
		return 8;
	default: /* READ FULL STATUS */
		for (i = 0; i < pr->nr_regs && len + 24 + SCSI_PR_TID_MAX + 4 <= cap; i++) {
			uint8_t *r = &d[len];
			uint32_t tl;

			memset(r, 0, 24);
			put_be64(r, pr->regs[i].key);
			r[12] = 0x02 | (scsi_pr_is_holder(pr, (int)i) ? 0x01 : 0); /* ALL_TG_PT */
			r[13] = scsi_pr_is_holder(pr, (int)i) ? pr->type : 0;
			put_be16(&r[18], 1);
			tl = pr_put_tid(&r[24], pr->regs[i].tid);
			put_be32(&r[20], tl);
			len += 24 + tl;
		}
		break;
	}
	put_be32(&d[4], len - 8);
	return len;
}

enum scsi_exec spc_pr_in(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct scsi_pr *pr = pr_of(cmd);
	uint8_t sa = cmd->cdb[1] & 0x1f;
	uint8_t d[8 + SCSI_PR_MAX_REGS * (24 + SCSI_PR_TID_MAX + 4)];
	uint32_t len;

	(void)t;
	if (sa > 3) {
		scsi_fail_cdb(cmd, 1, 4);
		return SCSI_EXEC_DONE;
	}
	pthread_mutex_lock(&pr->lock);
	len = pr_in_build(pr, sa, d, sizeof(d));
	pthread_mutex_unlock(&pr->lock);
	scsi_data_in(cmd, d, len, get_be16(&cmd->cdb[7]));
	return SCSI_EXEC_DONE;
}

/* ---- SPC-2 RESERVE / RELEASE ---- */

/* The SPC-2 holder is gone when its nexus is no longer on the target (logout, loss). */
static bool pr_r2_alive(struct scsi_pr *pr, struct core_target *tgt)
{
	struct core_nexus *n;
	bool alive = false;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry)
		if (n == pr->r2_nexus && n->id == pr->r2_id)
			alive = true;
	pthread_rwlock_unlock(&tgt->lock);
	return alive;
}

static bool pr_r2_held_by_other(struct scsi_pr *pr, struct scsi_cmd *cmd)
{
	if (!pr->r2_nexus || (pr->r2_nexus == cmd->nexus && pr->r2_id == cmd->nexus->id))
		return false;
	if (pr_r2_alive(pr, cmd->lu->tgt))
		return true;
	pr->r2_nexus = NULL;
	pr_update_active(pr);
	return false;
}

static void pr_conflict(struct scsi_cmd *cmd)
{
	cmd->status = SAM_STAT_RESERVATION_CONFLICT;
	cmd->sense_len = 0;
}

/* RESERVE(6/10) (SPC-2): whole-LU reservation for this nexus; refused under a PR. */
enum scsi_exec spc_reserve(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct scsi_pr *pr = pr_of(cmd);
	bool ok;

	(void)t;
	pthread_mutex_lock(&pr->lock);
	ok = !pr->type && !pr_r2_held_by_other(pr, cmd);
	if (ok) {
		pr->r2_nexus = cmd->nexus;
		pr->r2_id = cmd->nexus->id;
		pr_update_active(pr);
	}
	pthread_mutex_unlock(&pr->lock);
	if (ok)
		core_cmd_good(cmd);
	else
		pr_conflict(cmd);
	return SCSI_EXEC_DONE;
}

/* RELEASE(6/10): releases this nexus' reservation; GOOD when it holds none. */
enum scsi_exec spc_release(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct scsi_pr *pr = pr_of(cmd);

	(void)t;
	pthread_mutex_lock(&pr->lock);
	if (pr->r2_nexus == cmd->nexus && pr->r2_id == cmd->nexus->id) {
		pr->r2_nexus = NULL;
		pr_update_active(pr);
	}
	pthread_mutex_unlock(&pr->lock);
	core_cmd_good(cmd);
	return SCSI_EXEC_DONE;
}

void scsi_pr_lu_reset(struct scsi_pr *pr)
{
	pthread_mutex_lock(&pr->lock);
	pr->r2_nexus = NULL;
	pr_update_active(pr);
	pthread_mutex_unlock(&pr->lock);
}

/*
 * Reservation conflict check before a command runs. Commands flagged SCSI_OPF_PR_OK
 * (INQUIRY, REPORT LUNS, REQUEST SENSE, PR IN/OUT, ...) always run; an SPC-2 reservation also
 * lets RELEASE through. Returns false with RESERVATION CONFLICT set.
 */
static bool pr_op_writes(const struct scsi_cmd *cmd, const struct scsi_op *op)
{
	switch (cmd->cdb[0]) {
	case SCSI_OP_SYNC_CACHE_10:
	case SCSI_OP_SYNC_CACHE_16:
	case SCSI_OP_MODE_SELECT_6:
	case SCSI_OP_MODE_SELECT_10:
		return true;
	default:
		return op->flags & SCSI_OPF_WRITES;
	}
}

bool scsi_pr_check(struct scsi_cmd *cmd, const struct scsi_op *op)
{
	struct scsi_pr *pr;
	bool ok = true;

	if (!cmd->lu || !cmd->nexus || !(pr = scsi_lu_pr(cmd->lu)) || !atomic_load(&pr->active))
		return true;
	pthread_mutex_lock(&pr->lock);
	if (pr_r2_held_by_other(pr, cmd))
		ok = (op->flags & SCSI_OPF_PR_OK) && cmd->cdb[0] != SCSI_OP_PR_OUT &&
		     cmd->cdb[0] != SCSI_OP_PR_IN;
	else if (pr->r2_nexus == NULL && !(op->flags & SCSI_OPF_PR_OK))
		ok = scsi_pr_allows(pr, cmd->nexus->transport_id, pr_op_writes(cmd, op));
	pthread_mutex_unlock(&pr->lock);
	if (!ok)
		pr_conflict(cmd);
	return ok;
}
