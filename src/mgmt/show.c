/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/show: builds the JSON description of a target (system information, I_T nexuses, LUNs,
 * accounts, ACLs) that `--mode target --op show` returns and utgtadm renders in tgt's layout.
 * Runs on the management thread, the only writer of target and LU attributes; the LU, ACL and
 * nexus lists are read under tgt->lock, connection lists under nexus->lock.
 */
#include "mgmt/mgmt_int.h"

#include <pthread.h>
#include <string.h>

#include "core/core.h"
#include "lld/iscsi/iscsi.h"

/* tgt's open_flags_to_str(): "", "sync", "direct" or "sync:direct". */
static const char *mgmt_show_bsoflags(uint32_t flags)
{
	static const char *const names[4] = { "", "sync", "direct", "sync:direct" };

	return names[flags & (CORE_BSOFLAG_SYNC | CORE_BSOFLAG_DIRECT)];
}

json_t *mgmt_json_peer_str(const char *s)
{
	char buf[256];
	json_t *v = s ? json_string(s) : json_null();
	size_t i;

	if (v)
		return v;
	/* Not UTF-8 (an initiator chose the bytes): show it as ASCII with '?' for the rest. */
	for (i = 0; s[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

/*
 * Identity strings are truncated copies of administrator text and may end inside a UTF-8
 * sequence, so they go through mgmt_json_peer_str() like initiator-chosen text.
 */
static json_t *mgmt_show_lu(const struct core_lu *lu)
{
	return json_pack("{s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:b,s:b,s:b,s:b,s:b,s:b,s:s?,"
			 "s:o,s:s}",
			 "lun", (json_int_t)lu->lun,
			 "type", lu->dt && lu->dt->show_name ? lu->dt->show_name : "unknown",
			 "scsi_id", mgmt_json_peer_str(lu->scsi_id),
			 "scsi_sn", mgmt_json_peer_str(lu->scsi_sn),
			 "vendor_id", mgmt_json_peer_str(lu->vendor_id),
			 "product_id", mgmt_json_peer_str(lu->product_id),
			 "product_rev", mgmt_json_peer_str(lu->product_rev),
			 "size", (json_int_t)lu->size,
			 "block_size", (json_int_t)lu->block_size,
			 "online", lu->online,
			 "removable", lu->removable,
			 "prevent_removal", lu->prevent_removal,
			 "readonly", lu->readonly,
			 "swp", lu->swp,
			 "thin_provisioning", lu->thin,
			 "bstype", lu->bs ? lu->bs->name : NULL,
			 "path", mgmt_json_peer_str(lu->path),
			 "bsoflags", mgmt_show_bsoflags(lu->bsoflags));
}

/* Caller holds tgt->lock. */
static json_t *mgmt_show_luns(struct core_target *tgt, const uint64_t *lun_filter)
{
	struct core_lu *lu;
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	list_for_each_entry(lu, &tgt->luns, entry) {
		if (lun_filter && lu->lun != *lun_filter)
			continue;
		if (json_array_append_new(arr, mgmt_show_lu(lu))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *mgmt_show_nexus(struct core_nexus *n)
{
	json_t *conns = json_array();
	json_t *c;
	unsigned int i;

	if (!conns)
		return NULL;
	pthread_mutex_lock(&n->lock);
	for (i = 0; i < n->nr_conns && i < CORE_NEXUS_MAX_CONN; i++) {
		c = json_pack("{s:I,s:o}", "cid", (json_int_t)n->conns[i].cid, "address",
			      mgmt_json_peer_str(n->conns[i].addr));
		if (!c || json_array_append_new(conns, c)) {
			json_decref(conns);
			conns = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&n->lock);
	if (!conns)
		return NULL;
	return json_pack("{s:I,s:o,s:o,s:o}", "id", (json_int_t)n->id,
			 "initiator", mgmt_json_peer_str(n->initiator),
			 "alias", mgmt_json_peer_str(n->alias[0] ? n->alias : NULL),
			 "connections", conns);
}

/* Caller holds tgt->lock. */
static json_t *mgmt_show_nexuses(struct core_target *tgt)
{
	struct core_nexus *n;
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	list_for_each_entry(n, &tgt->nexuses, entry) {
		if (json_array_append_new(arr, mgmt_show_nexus(n))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/*
 * The rules as written, address rules first as tgt prints them (core keeps that order).
 * Caller holds tgt->lock.
 */
static json_t *mgmt_show_acls(struct core_target *tgt)
{
	struct core_acl *acl;
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	list_for_each_entry(acl, &tgt->acls, entry) {
		if (json_array_append_new(arr, mgmt_json_peer_str(acl->text))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int mgmt_show_system(struct mgmt_server *srv, struct core_target *tgt, json_t *obj)
{
	unsigned int interval = 0;
	unsigned int count = 0;
	int rc;

	if (srv->lld)
		iscsi_target_nop(tgt, &interval, &count);
	rc = json_object_set_new(obj, "driver", json_string("iscsi"));
	rc |= json_object_set_new(obj, "state", json_string(tgt->ready ? "ready" : "offline"));
	rc |= json_object_set_new(obj, "nop_interval", json_integer(interval));
	rc |= json_object_set_new(obj, "nop_count", json_integer(count));
	return rc;
}

json_t *mgmt_show_target(struct mgmt_server *srv, struct core_target *tgt, bool luns_only,
			 const uint64_t *lun_filter)
{
	json_t *obj = json_pack("{s:I,s:s}", "tid", (json_int_t)tgt->tid, "name", tgt->name);
	int rc = 0;

	if (!obj)
		return NULL;
	if (!luns_only)
		rc |= mgmt_show_system(srv, tgt, obj);
	pthread_rwlock_rdlock(&tgt->lock);
	if (!luns_only)
		rc |= json_object_set_new(obj, "nexuses", mgmt_show_nexuses(tgt));
	rc |= json_object_set_new(obj, "luns", mgmt_show_luns(tgt, lun_filter));
	if (!luns_only) {
		rc |= json_object_set_new(obj, "accounts", mgmt_show_accounts(srv, tgt->tid));
		rc |= json_object_set_new(obj, "acls", mgmt_show_acls(tgt));
	}
	pthread_rwlock_unlock(&tgt->lock);
	if (rc) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}
