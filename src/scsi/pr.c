/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reservations (SPC-4): PERSISTENT RESERVE IN/OUT with the six reservation types, SPEC_I_PT,
 * REGISTER AND MOVE and PREEMPT AND ABORT, their conflict rules applied to every command,
 * APTPL state saved atomically in the daemon's state directory and restored when the LU is
 * created; and the SPC-2 RESERVE/RELEASE(6/10) reservation. State is per LU (struct scsi_pr),
 * shared by every reactor under pr->lock; the fast path reads one atomic flag. An I_T nexus is
 * named by its iSCSI initiator port TransportID ("<name>,i,0x<isid>"); a registration made
 * through a format 00b TransportID ("<name>") covers every port of that initiator. The
 * target port is part of the I_T nexus: identities are "<TransportID>@<tpgt>", and a
 * registration made with ALL_TG_PT drops the "@<tpgt>" so it covers every target port.
 * Lock order: pr->lock, then tgt->lock, then nexus->lock.
 */
#include "scsi/scsi.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	free(pr->state_path);
	pr->state_path = NULL;
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

#define PR_TID_SEP ",i,0x"

/* Length of the part of identity s before "@<port>" (iSCSI names never contain '@'). */
static size_t pr_id_base(const char *s)
{
	const char *at = strrchr(s, '@');

	return at ? (size_t)(at - s) : strlen(s);
}

/* The port of identity s, or NULL when it names every target port. */
static const char *pr_id_port(const char *s)
{
	const char *at = strrchr(s, '@');

	return at ? at + 1 : NULL;
}

bool scsi_pr_tid_covers(const char *reg, const char *tid)
{
	size_t rn = pr_id_base(reg), tn = pr_id_base(tid);
	const char *rp = pr_id_port(reg), *tp = pr_id_port(tid);
	const char *sep;

	if (rp && tp && strcmp(rp, tp))
		return false; /* registered through another target port */
	if (rn == tn && !strncmp(reg, tid, rn))
		return true;
	sep = strstr(reg, PR_TID_SEP);
	if (sep && (size_t)(sep - reg) < rn)
		return false;
	sep = strstr(tid, PR_TID_SEP);
	if (sep && (size_t)(sep - tid) < tn)
		tn = (size_t)(sep - tid);
	return rn == tn && !strncmp(reg, tid, rn); /* a name registration: every port of it */
}

/* Writes the PR identity of an I_T nexus: its TransportID, "@<target port>" unless all. */
static void pr_id_of(char *out, size_t cap, const char *tid, uint16_t port)
{
	size_t off = 0;

	out[0] = '\0';
	if (port)
		(void)str_appendf(out, cap, &off, "%s@%u", tid, port);
	else
		(void)str_appendf(out, cap, &off, "%s", tid);
}

static int pr_find_exact(const struct scsi_pr *pr, const char *tid)
{
	unsigned int i;

	for (i = 0; i < pr->nr_regs; i++)
		if (!strcmp(pr->regs[i].tid, tid))
			return (int)i;
	return -1;
}

/* The registration of nexus tid: its own port's first, else its initiator name's. */
int scsi_pr_find(const struct scsi_pr *pr, const char *tid)
{
	int i = pr_find_exact(pr, tid);

	for (unsigned int j = 0; i < 0 && j < pr->nr_regs; j++)
		if (scsi_pr_tid_covers(pr->regs[j].tid, tid))
			i = (int)j;
	return i;
}

/* ---- TransportIDs ---- */

/* Format 01b: "<name>,i,0x<isid>" with 1 to 12 hex digits; out gets 12 lower-case ones. */
static int pr_tid_port(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, name_len = 0, hex;
	size_t off = 0;

	for (i = 0; i + 5 <= n; i++)
		if (!strncasecmp(&s[i], PR_TID_SEP, 5))
			name_len = i;
	if (!name_len || name_len > 223)
		return -EINVAL;
	hex = n - name_len - 5;
	if (!hex || hex > 12)
		return -EINVAL;
	for (i = name_len + 5; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
	if (str_appendf(out, cap, &off, "%.*s" PR_TID_SEP "%.*s", (int)name_len, s,
			(int)(12 - hex), "000000000000") < 0)
		return -EINVAL;
	for (i = name_len + 5; i < n; i++)
		if (str_appendf(out, cap, &off, "%c", tolower((unsigned char)s[i])) < 0)
			return -EINVAL;
	return 0;
}

int scsi_pr_tid_parse(const uint8_t *p, size_t len, char *out, size_t cap, size_t *used)
{
	const char *name = (const char *)&p[4];
	size_t alen, n, i;
	uint8_t fmt;

	if (len < 4 || (p[0] & 0x0f) != 0x5 || cap == 0)
		return -EINVAL; /* PROTOCOL IDENTIFIER 5h: iSCSI */
	fmt = p[0] >> 6;
	alen = get_be16(&p[2]);
	if (fmt > 1 || alen < 4 || alen % 4 || alen > len - 4)
		return -EINVAL;
	n = strnlen(name, alen);
	if (n == 0 || n == alen)
		return -EINVAL; /* empty, or not NUL-terminated inside the TransportID */
	for (i = 0; i < n; i++)
		if (p[4 + i] <= 0x20 || p[4 + i] >= 0x7f)
			return -EINVAL;
	out[0] = '\0';
	if (fmt == 1) {
		if (pr_tid_port(name, n, out, cap) < 0)
			return -EINVAL;
	} else {
		if (n > 223 || memchr(name, ',', n) || n >= cap)
			return -EINVAL;
		memcpy(out, name, n);
		out[n] = '\0';
	}
	*used = 4 + alen;
	return 0;
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

/* Appends a registration (the caller checked the room). */
static int pr_add(struct scsi_pr *pr, const char *tid, uint64_t key)
{
	struct scsi_pr_reg *r = &pr->regs[pr->nr_regs];

	memset(r, 0, sizeof(*r));
	str_copy(r->tid, tid, sizeof(r->tid));
	r->key = key;
	return (int)pr->nr_regs++;
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
			pr_add(pr, tid, sa_key);
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

int scsi_pr_register_spec(struct scsi_pr *pr, const char *tid, uint64_t key, uint64_t sa_key,
			  bool aptpl, const char (*tids)[SCSI_PR_TID_MAX], unsigned int n)
{
	int me = scsi_pr_find(pr, tid);
	unsigned int i, j, add = 0;

	if (me >= 0) /* SPC-4 table 50: SPEC_I_PT from a registered I_T nexus */
		return pr->regs[me].key != key ? SAM_STAT_RESERVATION_CONFLICT
					       : -ASC_INVALID_FIELD_IN_CDB;
	if (key)
		return SAM_STAT_RESERVATION_CONFLICT;
	if (!sa_key)
		return SAM_STAT_GOOD;
	for (i = 0; i < n; i++) {
		if (scsi_pr_find(pr, tids[i]) >= 0)
			return -ASC_INVALID_FIELD_IN_PARAM; /* already registered */
		for (j = 0; j < i && strcmp(tids[j], tids[i]); j++)
			;
		if (j == i && strcmp(tids[i], tid))
			add++;
	}
	if (pr->nr_regs + 1 + add > SCSI_PR_MAX_REGS)
		return -ASC_INSUFFICIENT_RESOURCES;
	pr_add(pr, tid, sa_key);
	for (i = 0; i < n; i++)
		if (pr_find_exact(pr, tids[i]) < 0)
			pr_add(pr, tids[i], sa_key);
	pr->aptpl = aptpl;
	pr->generation++;
	return SAM_STAT_GOOD;
}

int scsi_pr_move(struct scsi_pr *pr, const char *tid, uint64_t key, uint64_t sa_key,
		 const char *dest, bool unreg, bool aptpl)
{
	int me = scsi_pr_find(pr, tid);
	int d;

	if (me < 0 || pr->regs[me].key != key)
		return SAM_STAT_RESERVATION_CONFLICT;
	if (!sa_key)
		return -ASC_INVALID_FIELD_IN_PARAM;
	if (!pr->type)
		return -ASC_INVALID_FIELD_IN_CDB; /* nothing to move */
	if (!scsi_pr_is_holder(pr, me) || pr_all_registrants(pr->type))
		return SAM_STAT_RESERVATION_CONFLICT;
	if (scsi_pr_tid_covers(pr->regs[me].tid, dest))
		return -ASC_INVALID_FIELD_IN_PARAM; /* the destination is the source */
	d = scsi_pr_find(pr, dest);
	if (d < 0) {
		if (pr->nr_regs >= SCSI_PR_MAX_REGS)
			return -ASC_INSUFFICIENT_RESOURCES;
		d = pr_add(pr, dest, sa_key);
	}
	pr->regs[d].key = sa_key;
	pr->regs[me].holder = false;
	pr->regs[d].holder = true;
	if (unreg)
		pr_remove(pr, me);
	pr->aptpl = aptpl;
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
	str_copy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	f = fopen(tmp, "w");
	if (!f && errno == ENOENT && slash && mkdir(dir, 0700) == 0)
		f = fopen(tmp, "w"); /* the state directory went away: create it again */
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

/* Appends name with every byte outside [A-Za-z0-9.:_-] as '_'. */
static int pr_path_name(char *buf, size_t size, size_t *off, const char *name)
{
	int ret = 0;

	for (; *name && !ret; name++)
		ret = str_appendf(buf, size, off, "%c",
				  (isalnum((unsigned char)*name) || strchr(".:_-", *name)) ? *name
											   : '_');
	return ret;
}

/* An old "<backing>.pr" and no state yet: read it once and move it to the state directory. */
static void pr_attach_legacy(struct scsi_pr *pr, const struct core_lu *lu)
{
	char old[4096];

	if (pr->nr_regs || !lu->path || !*lu->path ||
	    snprintf(old, sizeof(old), "%s.pr", lu->path) >= (int)sizeof(old) ||
	    access(old, F_OK) < 0)
		return;
	if (scsi_pr_load(pr, old) < 0 || pr_save(pr, pr->state_path) < 0) {
		log_warn("scsi: cannot move reservations from %s to %s", old, pr->state_path);
		return;
	}
	unlink(old);
	log_info("scsi: reservations moved from %s to %s", old, pr->state_path);
}

int scsi_pr_attach(struct scsi_pr *pr, struct core_lu *lu)
{
	const char *dir = lu->tgt ? core_root_state_dir(lu->tgt->root) : NULL;
	char path[4096];
	size_t off = 0;

	if (!dir)
		return 0;
	if (str_appendf(path, sizeof(path), &off, "%s/pr-", dir) < 0 ||
	    pr_path_name(path, sizeof(path), &off, lu->tgt->name) < 0 ||
	    str_appendf(path, sizeof(path), &off, "-%llu", (unsigned long long)lu->lun) < 0) {
		log_warn("scsi: state path for %s lun %llu too long: reservations do not persist",
			 lu->tgt->name, (unsigned long long)lu->lun);
		return 0;
	}
	pr->state_path = strdup(path);
	if (!pr->state_path)
		return -ENOMEM;
	if (scsi_pr_load(pr, path) < 0)
		log_warn("scsi: cannot read reservations from %s", path);
	pr_attach_legacy(pr, lu);
	return 0;
}

/* ---- commands ---- */

/* The PR identity of cmd's I_T nexus (TransportID and target port) in buf. */
static const char *pr_nexus_id(const struct scsi_cmd *cmd, char *buf, size_t cap)
{
	pr_id_of(buf, cap, cmd->nexus->transport_id, cmd->nexus->tpgt);
	return buf;
}

/* Restricts a registration identity to target port (none: every port). */
static void pr_id_port_set(char *tid, size_t cap, uint16_t port)
{
	size_t off = strlen(tid);

	if (port && str_appendf(tid, cap, &off, "@%u", port) < 0)
		tid[pr_id_base(tid)] = '\0'; /* cannot happen: names are at most 241 bytes */
}

struct pr_ua_ctx {
	struct scsi_cmd *cmd;
	bool abort;                     /* PREEMPT AND ABORT: abort the preempted nexuses' tasks */
};

/*
 * Unit attention for the nexuses registration tid covers; with PREEMPT AND ABORT their tasks
 * on the LU are aborted too (the LLD drops them without a response: TAS is 0).
 */
static void pr_notify(void *arg, const char *tid, uint16_t asc)
{
	struct pr_ua_ctx *ctx = arg;
	struct scsi_cmd *cmd = ctx->cmd;
	struct core_target *tgt = cmd->lu->tgt;
	struct core_nexus *n;

	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry) {
		char id[SCSI_PR_TID_MAX + 8];

		pr_id_of(id, sizeof(id), n->transport_id, n->tpgt);
		if (!scsi_pr_tid_covers(tid, id))
			continue;
		core_ua_add(n, cmd->lun, asc);
		if (ctx->abort && asc == ASC_REGISTRATIONS_PREEMPTED && n != cmd->nexus &&
		    n->ops && n->ops->abort_lu)
			n->ops->abort_lu(n, cmd->lun);
	}
	pthread_rwlock_unlock(&tgt->lock);
}

static struct scsi_pr *pr_of(struct scsi_cmd *cmd)
{
	return scsi_lu_pr(cmd->lu);
}

/* The PR OUT parameter list, validated (SPC-4 §6.16.3, §6.16.4). */
struct pr_params {
	uint64_t key;
	uint64_t sa_key;
	bool aptpl;
	bool spec_i_pt;
	bool all_tg_pt;                 /* the registration covers every target port */
	bool unreg;
	unsigned int nr_tids;
	char tids[SCSI_PR_MAX_REGS][SCSI_PR_TID_MAX];
};

#define ASC_INSUFFICIENT_REG_RESOURCES 0x5504

/* Parses the TransportIDs in p[base, base + len) of the parameter list, at most max. */
static bool pr_out_tids(struct scsi_cmd *cmd, uint32_t base, uint32_t len, unsigned int max,
			struct pr_params *prm)
{
	const uint8_t *p = cmd->buf + base;
	size_t off = 0, used;

	while (off < len) {
		if (prm->nr_tids == max) {
			core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REG_RESOURCES);
			return false;
		}
		if (scsi_pr_tid_parse(p + off, len - off, prm->tids[prm->nr_tids],
				      SCSI_PR_TID_MAX, &used) < 0) {
			core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false,
					    (uint16_t)MIN(base + off, 0xffffu), -1);
			return false;
		}
		off += used;
		prm->nr_tids++;
	}
	return true;
}

static bool pr_out_plen_error(struct scsi_cmd *cmd)
{
	core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERR);
	return false;
}

/* REGISTER AND MOVE: keys, UNREG/APTPL, one initiator port TransportID (format 01b). */
static bool pr_out_parse_move(struct scsi_cmd *cmd, uint32_t plen, struct pr_params *prm)
{
	const uint8_t *p = cmd->buf;
	uint32_t tdl = get_be32(&p[20]);

	uint16_t rtpi = get_be16(&p[18]);

	prm->unreg = p[17] & 0x02;
	prm->aptpl = p[17] & 0x01;
	if (tdl > plen - 24)
		return pr_out_plen_error(cmd);
	if (!tdl || !pr_out_tids(cmd, 24, tdl, 1, prm) || !strstr(prm->tids[0], PR_TID_SEP)) {
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, 24, -1);
		return false;
	}
	/* the destination I_T nexus is at RELATIVE TARGET PORT IDENTIFIER (0: this port) */
	pr_id_port_set(prm->tids[0], SCSI_PR_TID_MAX, rtpi ? rtpi : cmd->nexus->tpgt);
	return true;
}

static bool pr_out_parse(struct scsi_cmd *cmd, uint8_t sa, uint32_t plen, struct pr_params *prm)
{
	const uint8_t *p = cmd->buf;
	bool spec = p && cmd->out_len >= 24 && plen >= 24 && (p[20] & 0x08);

	/* SPEC_I_PT needs the TRANSPORTID PARAMETER DATA LENGTH field at bytes 24-27 */
	if (plen < 24 || (sa != PR_OUT_REGISTER_MOVE && (spec ? plen < 28 : plen != 24)))
		return pr_out_plen_error(cmd);
	if (cmd->out_len < plen || cmd->buf_len < plen || !p) {
		core_cmd_fail(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
		return false;
	}
	prm->key = get_be64(p);
	prm->sa_key = get_be64(&p[8]);
	prm->nr_tids = 0;
	if (sa == PR_OUT_REGISTER_MOVE)
		return pr_out_parse_move(cmd, plen, prm);
	prm->aptpl = p[20] & 0x01;
	prm->all_tg_pt = p[20] & 0x04;
	prm->spec_i_pt = spec;
	if (spec && sa != PR_OUT_REGISTER) {
		core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false, 20, 3);
		return false;
	}
	if (spec && get_be32(&p[24]) != plen - 28)
		return pr_out_plen_error(cmd);
	if (spec && !pr_out_tids(cmd, 28, plen - 28, SCSI_PR_MAX_REGS - 1, prm))
		return false;
	for (unsigned int i = 0; i < prm->nr_tids && !prm->all_tg_pt; i++)
		pr_id_port_set(prm->tids[i], SCSI_PR_TID_MAX, cmd->nexus->tpgt);
	return true;
}

/* APTPL=1 needs a state directory (PTPL_C); only the register actions look at it. */
static bool pr_out_aptpl_ok(struct scsi_cmd *cmd, const struct scsi_pr *pr, uint8_t sa,
			    const struct pr_params *prm)
{
	if (!prm->aptpl || pr->state_path ||
	    (sa != PR_OUT_REGISTER && sa != PR_OUT_REGISTER_IGNORE && sa != PR_OUT_REGISTER_MOVE))
		return true;
	core_cmd_fail_field(cmd, ASC_INVALID_FIELD_IN_PARAM, false,
			    sa == PR_OUT_REGISTER_MOVE ? 17 : 20, 0);
	return false;
}

/*
 * The nexus is named with its target port; a registration it makes covers only that port
 * unless ALL_TG_PT (then it is named by its TransportID alone, which matches every port).
 */
static int pr_out_apply(struct scsi_cmd *cmd, struct scsi_pr *pr, uint8_t sa,
			const struct pr_params *prm, struct pr_ua_ctx *ctx)
{
	char id[SCSI_PR_TID_MAX + 8];
	const char *tid = pr_nexus_id(cmd, id, sizeof(id));
	unsigned int before = pr->nr_regs;
	int ret;

	if (sa == PR_OUT_REGISTER_MOVE)
		return scsi_pr_move(pr, tid, prm->key, prm->sa_key, prm->tids[0], prm->unreg,
				    prm->aptpl);
	if (prm->spec_i_pt)
		ret = scsi_pr_register_spec(pr, tid, prm->key, prm->sa_key, prm->aptpl,
					    (const char (*)[SCSI_PR_TID_MAX])prm->tids,
					    prm->nr_tids);
	else
		ret = scsi_pr_out(pr, tid, sa, cmd->cdb[2] & 0x0f, prm->key, prm->sa_key,
				  prm->aptpl, pr_notify, ctx);
	/* a new registration made with ALL_TG_PT covers every port: drop its "@port" (both
	 * register paths append the nexus' own registration first) */
	if (ret == SAM_STAT_GOOD && prm->all_tg_pt && pr->nr_regs > before &&
	    (sa == PR_OUT_REGISTER || sa == PR_OUT_REGISTER_IGNORE))
		pr->regs[before].tid[pr_id_base(pr->regs[before].tid)] = '\0';
	return ret;
}

enum scsi_exec spc_pr_out(struct scsi_cmd *cmd, const struct scsi_type *t)
{
	struct scsi_pr *pr = pr_of(cmd);
	uint32_t plen = get_be32(&cmd->cdb[5]);
	uint8_t sa = cmd->cdb[1] & 0x1f;
	struct pr_ua_ctx ctx = { cmd, sa == PR_OUT_PREEMPT_ABORT };
	struct pr_params prm;
	int ret;

	(void)t;
	cmd->in_len = plen;
	if (sa > PR_OUT_REGISTER_MOVE) {
		scsi_fail_cdb(cmd, 1, 4);
		return SCSI_EXEC_DONE;
	}
	if ((cmd->cdb[2] & 0xf0) && sa != PR_OUT_REGISTER && sa != PR_OUT_REGISTER_IGNORE &&
	    sa != PR_OUT_CLEAR) {
		scsi_fail_cdb(cmd, 2, 7); /* scope: LU_SCOPE only */
		return SCSI_EXEC_DONE;
	}
	if (!pr_out_parse(cmd, sa, plen, &prm) || !pr_out_aptpl_ok(cmd, pr, sa, &prm))
		return SCSI_EXEC_DONE;
	pthread_mutex_lock(&pr->lock);
	ret = pr_out_apply(cmd, pr, sa, &prm, &ctx);
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

/* iSCSI TransportID (SPC-4 7.6.4.6), format 01b "name,i,0x<isid>" or 00b "name", NUL-padded
 * to a multiple of 4 bytes. */
static uint32_t pr_put_tid(uint8_t *d, const char *tid)
{
	size_t base = pr_id_base(tid);
	uint32_t n = (uint32_t)base + 1;

	n = (n + 3) & ~3u;
	memset(d, 0, 4 + n);
	d[0] = strstr(tid, PR_TID_SEP) ? 0x45 : 0x05; /* format 01b port, 00b name */
	put_be16(&d[2], (uint16_t)n);
	memcpy(&d[4], tid, base);
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
		/* CRH, SIP_C, ATP_C, PTPL_C when a state directory keeps APTPL state */
		d[2] = 0x10 | 0x08 | 0x04 | (pr->state_path ? 0x01 : 0);
		d[3] = 0x80 | (pr->aptpl ? 1 : 0); /* TMV, PTPL_A */
		d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
		d[5] = 0x01;
		return 8;
	default: /* READ FULL STATUS */
		for (i = 0; i < pr->nr_regs && len + 24 + SCSI_PR_TID_MAX + 4 <= cap; i++) {
			uint8_t *r = &d[len];
			const char *port;
			uint32_t tl;

			memset(r, 0, 24);
			put_be64(r, pr->regs[i].key);
			port = pr_id_port(pr->regs[i].tid);
			r[12] = (port ? 0 : 0x02) | (scsi_pr_is_holder(pr, (int)i) ? 0x01 : 0);
			r[13] = scsi_pr_is_holder(pr, (int)i) ? pr->type : 0;
			put_be16(&r[18], port ? (uint16_t)strtoul(port, NULL, 10) : 0);
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
	char id[SCSI_PR_TID_MAX + 8];
	struct scsi_pr *pr;
	bool ok = true;

	if (!cmd->lu || !cmd->nexus || !(pr = scsi_lu_pr(cmd->lu)) || !atomic_load(&pr->active))
		return true;
	pthread_mutex_lock(&pr->lock);
	if (pr_r2_held_by_other(pr, cmd))
		ok = (op->flags & SCSI_OPF_PR_OK) && cmd->cdb[0] != SCSI_OP_PR_OUT &&
		     cmd->cdb[0] != SCSI_OP_PR_IN;
	else if (pr->r2_nexus == NULL && !(op->flags & SCSI_OPF_PR_OK))
		ok = scsi_pr_allows(pr, pr_nexus_id(cmd, id, sizeof(id)), pr_op_writes(cmd, op));
	pthread_mutex_unlock(&pr->lock);
	if (!ok)
		pr_conflict(cmd);
	return ok;
}
