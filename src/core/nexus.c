/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * I_T nexuses and their unit attentions. A nexus keeps, per LUN, a bit set of pending UAs;
 * bit order is the priority in which they are reported (SPC-4 §5.14: power on/reset first).
 * ua_luns counts LUNs with something pending so the command path reads one atomic and takes
 * nexus->lock only when a UA may apply. Lock order: tgt->lock, then nexus->lock.
 */
#include "core/core_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define UA_LUN_LIMIT 16384u

/* Priority order: index = bit. */
static const uint16_t ua_codes[] = {
	ASC_POWER_ON_RESET,
	ASC_POWER_ON_OCCURRED,
	ASC_BUS_RESET,
	ASC_BUS_DEVICE_RESET,
	ASC_COMMANDS_CLEARED_BY_OTHER,
	ASC_NOT_READY_TO_READY,
	ASC_RESERVATIONS_PREEMPTED,
	ASC_RESERVATIONS_RELEASED,
	ASC_REGISTRATIONS_PREEMPTED,
	ASC_MODE_PARAMETERS_CHANGED,
	ASC_CAPACITY_DATA_CHANGED,
	ASC_ALUA_STATE_CHANGED,
	ASC_INQUIRY_DATA_CHANGED,
	ASC_REPORTED_LUNS_CHANGED,
};

_Static_assert(ARRAY_SIZE(ua_codes) <= 16, "UA bits fit in uint16_t");

static int ua_bit(uint16_t asc_ascq)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(ua_codes); i++) {
		if (ua_codes[i] == asc_ascq)
			return (int)i;
	}
	return -1;
}

/* nexus->lock held. */
static void ua_set_locked(struct core_nexus *n, uint64_t lun, int bit)
{
	if (lun >= UA_LUN_LIMIT)
		return;
	if (lun >= n->ua_size) {
		uint32_t size = n->ua_size ? n->ua_size : 16;
		uint16_t *bits;

		while (size <= lun)
			size *= 2;
		bits = realloc(n->ua_bits, size * sizeof(*bits));
		if (!bits) {
			log_err("nexus %llu: no memory for unit attention", (unsigned long long)n->id);
			return;
		}
		memset(bits + n->ua_size, 0, (size - n->ua_size) * sizeof(*bits));
		n->ua_bits = bits;
		n->ua_size = size;
	}
	if (!n->ua_bits[lun])
		atomic_fetch_add(&n->ua_luns, 1);
	n->ua_bits[lun] |= (uint16_t)(1u << bit);
}

/* tgt->lock held (read). */
static void ua_add_tgt_locked(struct core_nexus *n, uint64_t lun, int bit)
{
	struct core_lu *lu;

	pthread_mutex_lock(&n->lock);
	if (lun != UINT64_MAX) {
		ua_set_locked(n, lun, bit);
	} else {
		list_for_each_entry(lu, &n->tgt->luns, entry)
			ua_set_locked(n, lu->lun, bit);
	}
	pthread_mutex_unlock(&n->lock);
}

void core_ua_add(struct core_nexus *n, uint64_t lun, uint16_t asc_ascq)
{
	int bit = ua_bit(asc_ascq);

	if (bit < 0) {
		log_warn("unit attention %04x is not supported", asc_ascq);
		return;
	}
	pthread_rwlock_rdlock(&n->tgt->lock);
	ua_add_tgt_locked(n, lun, bit);
	pthread_rwlock_unlock(&n->tgt->lock);
}

void core_ua_add_all(struct core_target *tgt, struct core_nexus *skip, uint64_t lun,
		     uint16_t asc_ascq)
{
	int bit = ua_bit(asc_ascq);
	struct core_nexus *n;

	if (bit < 0) {
		log_warn("unit attention %04x is not supported", asc_ascq);
		return;
	}
	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry) {
		if (n != skip)
			ua_add_tgt_locked(n, lun, bit);
	}
	pthread_rwlock_unlock(&tgt->lock);
}

bool core_ua_take(struct core_nexus *n, uint64_t lun, uint16_t *asc_ascq)
{
	bool found = false;

	if (atomic_load_explicit(&n->ua_luns, memory_order_acquire) == 0)
		return false;
	pthread_mutex_lock(&n->lock);
	if (lun < n->ua_size && n->ua_bits[lun]) {
		int bit = __builtin_ctz(n->ua_bits[lun]);

		*asc_ascq = ua_codes[bit];
		n->ua_bits[lun] &= (uint16_t)~(1u << bit);
		if (!n->ua_bits[lun])
			atomic_fetch_sub(&n->ua_luns, 1);
		found = true;
	}
	pthread_mutex_unlock(&n->lock);
	return found;
}

void core_ua_clear_code(struct core_nexus *n, uint16_t asc_ascq)
{
	int bit = ua_bit(asc_ascq);

	if (bit < 0 || atomic_load_explicit(&n->ua_luns, memory_order_acquire) == 0)
		return;
	pthread_mutex_lock(&n->lock);
	for (uint32_t lun = 0; lun < n->ua_size; lun++) {
		if (!(n->ua_bits[lun] & (1u << bit)))
			continue;
		n->ua_bits[lun] &= (uint16_t)~(1u << bit);
		if (!n->ua_bits[lun])
			atomic_fetch_sub(&n->ua_luns, 1);
	}
	pthread_mutex_unlock(&n->lock);
}

void core_ua_clear(struct core_nexus *n)
{
	pthread_mutex_lock(&n->lock);
	if (n->ua_bits)
		memset(n->ua_bits, 0, n->ua_size * sizeof(*n->ua_bits));
	atomic_store(&n->ua_luns, 0);
	pthread_mutex_unlock(&n->lock);
}

int core_nexus_new(struct core_target *tgt, uint64_t id, const char *initiator,
		   const struct core_nexus_ops *ops, struct core_nexus **out)
{
	struct core_nexus *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	core_target_get(tgt);
	n->tgt = tgt;
	n->id = id;
	n->ops = ops;
	str_copy(n->initiator, initiator, sizeof(n->initiator));
	str_copy(n->alias, "none", sizeof(n->alias));
	pthread_mutex_init(&n->lock, NULL);
	list_init(&n->entry);

	pthread_rwlock_wrlock(&tgt->lock);
	list_add_tail(&n->entry, &tgt->nexuses);
	pthread_rwlock_unlock(&tgt->lock);
	core_ua_add(n, UINT64_MAX, ASC_POWER_ON_RESET);
	*out = n;
	return 0;
}

/* Sets or clears n's PREVENT bit for lun; returns whether it changed. nexus->lock held. */
static bool prevent_bit_update(struct core_nexus *n, uint64_t lun, bool prevent)
{
	uint32_t word = (uint32_t)(lun / 64);
	uint64_t mask = 1ull << (lun % 64);

	if (lun >= UA_LUN_LIMIT)
		return false;
	if (word >= n->prevent_words) {
		uint64_t *bits;

		if (!prevent)
			return false;
		bits = realloc(n->prevent_bits, (word + 1) * sizeof(*bits));
		if (!bits)
			return false;
		memset(bits + n->prevent_words, 0, (word + 1 - n->prevent_words) * sizeof(*bits));
		n->prevent_bits = bits;
		n->prevent_words = word + 1;
	}
	if (!!(n->prevent_bits[word] & mask) == prevent)
		return false;
	n->prevent_bits[word] ^= mask;
	return true;
}

static void lu_prevent_account(struct core_lu *lu, bool prevent)
{
	unsigned int holders;

	if (prevent)
		holders = atomic_fetch_add(&lu->prevent_holders, 1) + 1;
	else
		holders = atomic_fetch_sub(&lu->prevent_holders, 1) - 1;
	lu->prevent_removal = holders > 0;
}

void core_lu_prevent_set(struct core_lu *lu, struct core_nexus *n, bool prevent)
{
	bool changed;

	pthread_mutex_lock(&n->lock);
	changed = prevent_bit_update(n, lu->lun, prevent);
	pthread_mutex_unlock(&n->lock);
	if (changed)
		lu_prevent_account(lu, prevent);
}

/* A nexus that goes away releases its medium-removal preventions (SPC-4 §6.13). */
static void nexus_prevent_release(struct core_nexus *n)
{
	struct core_lu *lu;

	if (!n->prevent_words)
		return;
	pthread_rwlock_rdlock(&n->tgt->lock);
	list_for_each_entry(lu, &n->tgt->luns, entry)
		core_lu_prevent_set(lu, n, false);
	pthread_rwlock_unlock(&n->tgt->lock);
}

void core_nexus_free(struct core_nexus *n)
{
	struct core_target *tgt;

	if (!n)
		return;
	tgt = n->tgt;
	nexus_prevent_release(n);
	pthread_rwlock_wrlock(&tgt->lock);
	list_del(&n->entry);
	pthread_rwlock_unlock(&tgt->lock);
	pthread_mutex_destroy(&n->lock);
	free(n->ua_bits);
	free(n->prevent_bits);
	core_order_nexus_fini(n);
	free(n);
	core_target_put(tgt);
}

void core_nexus_conn_add(struct core_nexus *n, uint32_t cid, const char *addr)
{
	pthread_mutex_lock(&n->lock);
	if (n->nr_conns < CORE_NEXUS_MAX_CONN) {
		n->conns[n->nr_conns].cid = cid;
		str_copy(n->conns[n->nr_conns].addr, addr, sizeof(n->conns[0].addr));
		n->nr_conns++;
	}
	pthread_mutex_unlock(&n->lock);
}

void core_nexus_conn_del(struct core_nexus *n, uint32_t cid)
{
	pthread_mutex_lock(&n->lock);
	for (unsigned int i = 0; i < n->nr_conns; i++) {
		if (n->conns[i].cid == cid) {
			n->conns[i] = n->conns[--n->nr_conns];
			break;
		}
	}
	pthread_mutex_unlock(&n->lock);
}

void core_lu_reset(struct core_lu *lu, struct core_nexus *by)
{
	struct core_target *tgt = lu->tgt;
	struct core_nexus *n;

	core_ua_add_all(tgt, by, lu->lun, ASC_BUS_DEVICE_RESET);
	pthread_rwlock_rdlock(&tgt->lock);
	list_for_each_entry(n, &tgt->nexuses, entry) {
		bool changed;

		pthread_mutex_lock(&n->lock);
		changed = prevent_bit_update(n, lu->lun, false);
		pthread_mutex_unlock(&n->lock);
		if (changed)
			lu_prevent_account(lu, false);
		if (n != by && n->ops && n->ops->abort_lu)
			n->ops->abort_lu(n, lu->lun);
	}
	pthread_rwlock_unlock(&tgt->lock);
	if (lu->dt && lu->dt->lu_reset)
		lu->dt->lu_reset(lu);
}
