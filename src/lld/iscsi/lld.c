/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The driver object: portals, per-target parameters (tgt->lld_priv), the hand-off of
 * accepted sockets to the least loaded data reactor, and shutdown (Async logout requests,
 * a grace period, then forced closes). Runs on the control thread except the message
 * handlers, which run on their reactor.
 */
#include "lld/iscsi/iscsi_int.h"
#include "lld/iscsi/isns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SHUTDOWN_POLL_MS  10
#define SHUTDOWN_FORCE_MS 30000

struct accept_msg {
	struct reactor_msg m;
	struct iscsi_rstate *rs;
	int fd;
};

int iscsi_lld_new(struct core_root *root, struct reactor **reactors, unsigned int nr,
		  struct iscsi_lld **out)
{
	struct iscsi_lld *lld;

	if (!nr)
		return -EINVAL;
	lld = calloc(1, sizeof(*lld));
	if (!lld)
		return -ENOMEM;
	lld->rs = calloc(nr, sizeof(*lld->rs));
	if (!lld->rs) {
		free(lld);
		return -ENOMEM;
	}
	lld->root = root;
	lld->nr_rs = nr;
	for (unsigned int i = 0; i < nr; i++) {
		lld->rs[i].lld = lld;
		lld->rs[i].r = reactors[i];
		list_init(&lld->rs[i].conns);
	}
	pthread_mutex_init(&lld->lock, NULL);
	list_init(&lld->targets);
	list_init(&lld->sessions);
	lld->next_tsih = 1;
	atomic_init(&lld->nr_conns, 0);
	atomic_init(&lld->shutting_down, false);
	if (iscsi_limits_init(lld) < 0) {
		iscsi_limits_fini(lld);
		pthread_mutex_destroy(&lld->lock);
		free(lld->rs);
		free(lld);
		return -ENOMEM;
	}
	iscsi_introspect_init(lld);
	*out = lld;
	return 0;
}

void iscsi_lld_free(struct iscsi_lld *lld)
{
	struct iscsi_tgt *it, *tmp;

	if (!lld)
		return;
	/* targets may outlive the driver: their lld_free must not reach back here */
	pthread_mutex_lock(&lld->lock);
	list_for_each_entry_safe(it, tmp, &lld->targets, entry) {
		list_del(&it->entry);
		it->lld = NULL;
	}
	pthread_mutex_unlock(&lld->lock);
	pthread_mutex_destroy(&lld->lock);
	iscsi_introspect_fini(lld);
	iscsi_limits_fini(lld);
	iscsi_isns_free(lld->isns);
	free(lld->rs);
	free(lld);
}

int iscsi_portal_add(struct iscsi_lld *lld, const struct sockaddr *addr, socklen_t len,
		     uint16_t tpgt)
{
	int ret = 0;

	if (len > sizeof(struct sockaddr_storage) || !tpgt ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return -EINVAL;
	pthread_mutex_lock(&lld->lock);
	if (lld->nr_portals == ISCSI_PORTALS_MAX) {
		ret = -ENOSPC;
	} else {
		memset(&lld->portals[lld->nr_portals], 0, sizeof(lld->portals[0]));
		memcpy(&lld->portals[lld->nr_portals].addr, addr, len);
		lld->portals[lld->nr_portals].len = len;
		lld->portals[lld->nr_portals].tpgt = tpgt;
		lld->nr_portals++;
	}
	pthread_mutex_unlock(&lld->lock);
	if (!ret)
		ret = core_root_port_add(lld->root, tpgt); /* one target port per portal group */
	return ret;
}

int iscsi_portal_del(struct iscsi_lld *lld, const struct sockaddr *addr, socklen_t len)
{
	unsigned int i, k;
	uint16_t tpgt = 0;
	bool last = true;

	pthread_mutex_lock(&lld->lock);
	for (i = 0; i < lld->nr_portals; i++) {
		if (lld->portals[i].len == len && !memcmp(&lld->portals[i].addr, addr, len))
			break;
	}
	if (i < lld->nr_portals) {
		tpgt = lld->portals[i].tpgt;
		memmove(&lld->portals[i], &lld->portals[i + 1],
			(lld->nr_portals - i - 1) * sizeof(lld->portals[0]));
		lld->nr_portals--;
		for (k = 0; k < lld->nr_portals; k++)
			last &= lld->portals[k].tpgt != tpgt;
	}
	pthread_mutex_unlock(&lld->lock);
	if (!tpgt)
		return -ENOENT;
	if (last)
		core_root_port_del(lld->root, tpgt);
	return 0;
}

unsigned int iscsi_portal_list(struct iscsi_lld *lld, struct iscsi_portal_info *out,
			       unsigned int max)
{
	unsigned int n;

	pthread_mutex_lock(&lld->lock);
	n = MIN(lld->nr_portals, max);
	for (unsigned int i = 0; i < n; i++) {
		out[i].addr = lld->portals[i].addr;
		out[i].tpgt = lld->portals[i].tpgt;
	}
	pthread_mutex_unlock(&lld->lock);
	return n;
}

static bool portal_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b,
			      bool any)
{
	const struct sockaddr_in *x4 = (const void *)a, *y4 = (const void *)b;
	const struct sockaddr_in6 *x6 = (const void *)a, *y6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return x4->sin_port == y4->sin_port &&
		       (any ? x4->sin_addr.s_addr == htonl(INADDR_ANY) :
			      x4->sin_addr.s_addr == y4->sin_addr.s_addr);
	return x6->sin6_port == y6->sin6_port &&
	       !memcmp(&x6->sin6_addr, any ? &in6addr_any : &y6->sin6_addr, sizeof(x6->sin6_addr));
}

/* The listening socket is not known here: the portal whose address is the connection's local
 * address wins, else a wildcard portal of the same family and port. */
uint16_t iscsi_lld_portal_tpgt(struct iscsi_lld *lld, const struct sockaddr_storage *local)
{
	uint16_t tpgt = 0;

	pthread_mutex_lock(&lld->lock);
	for (unsigned int i = 0; i < lld->nr_portals && !tpgt; i++)
		if (portal_addr_equal(&lld->portals[i].addr, local, false))
			tpgt = lld->portals[i].tpgt;
	for (unsigned int i = 0; i < lld->nr_portals && !tpgt; i++)
		if (portal_addr_equal(&lld->portals[i].addr, local, true))
			tpgt = lld->portals[i].tpgt;
	pthread_mutex_unlock(&lld->lock);
	return tpgt ? tpgt : 1;
}

unsigned int iscsi_lld_portals(struct iscsi_lld *lld, struct iscsi_portal *out, unsigned int max)
{
	unsigned int n;

	pthread_mutex_lock(&lld->lock);
	n = MIN(lld->nr_portals, max);
	memcpy(out, lld->portals, n * sizeof(*out));
	pthread_mutex_unlock(&lld->lock);
	return n;
}

unsigned int iscsi_lld_target_names(struct iscsi_lld *lld, char (*names)[224], unsigned int max)
{
	struct iscsi_tgt *it;
	unsigned int n = 0;

	pthread_mutex_lock(&lld->lock);
	list_for_each_entry(it, &lld->targets, entry) {
		if (n == max)
			break;
		str_copy(names[n++], it->name, sizeof(names[0]));
	}
	pthread_mutex_unlock(&lld->lock);
	return n;
}

/* ---- connections ---- */

void iscsi_lld_conn_gone(struct iscsi_lld *lld)
{
	atomic_fetch_sub(&lld->nr_conns, 1);
}

unsigned int iscsi_lld_conn_count(struct iscsi_lld *lld)
{
	return atomic_load(&lld->nr_conns);
}

static void accept_msg_fn(struct reactor_msg *m)
{
	struct accept_msg *am = container_of(m, struct accept_msg, m);
	struct iscsi_rstate *rs = am->rs;
	int ret = -ESHUTDOWN;

	if (!atomic_load(&rs->lld->shutting_down))
		ret = iscsi_conn_new(rs, am->fd);
	if (ret < 0) {
		if (ret == -EUSERS) /* max_initiator_conns: closed before login */
			log_dbg("iscsi: too many connections from one address: one refused");
		else if (ret != -ESHUTDOWN)
			log_warn("iscsi: cannot take a new connection: %s", strerror(-ret));
		close(am->fd);
		reactor_load_add(rs->r, -1);
		iscsi_lld_conn_gone(rs->lld);
	}
	free(am);
}

void iscsi_conn_accept(struct iscsi_lld *lld, int fd)
{
	struct iscsi_rstate *rs = &lld->rs[0];
	struct accept_msg *am;
	int flags;

	if (atomic_load(&lld->shutting_down))
		goto err_close;
	if (atomic_load(&lld->nr_conns) >= ISCSI_CONNS_MAX) {
		log_dbg("iscsi: %u connections: new one refused", ISCSI_CONNS_MAX);
		goto err_close;
	}
	for (unsigned int i = 1; i < lld->nr_rs; i++) {
		if (reactor_load(lld->rs[i].r) < reactor_load(rs->r))
			rs = &lld->rs[i];
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		goto err_close;
	am = calloc(1, sizeof(*am));
	if (!am)
		goto err_close;
	am->rs = rs;
	am->fd = fd;
	reactor_load_add(rs->r, 1);
	atomic_fetch_add(&lld->nr_conns, 1);
	reactor_msg_send(rs->r, &am->m, accept_msg_fn);
	return;

err_close:
	close(fd);
}

/* ---- shutdown ---- */

static void shutdown_msg_fn(struct reactor_msg *m)
{
	struct iscsi_rstate *rs = container_of(m, struct iscsi_rstate, shutdown_msg);
	struct iscsi_conn *c;

	list_for_each_entry(c, &rs->conns, entry) {
		if (c->state == ISCSI_CONN_FFP && c->sess && !c->sess->discovery)
			iscsi_async_logout_send(c, rs->grace_s);
		else if (c->state == ISCSI_CONN_FFP || c->state == ISCSI_CONN_LOGIN || c->retained)
			iscsi_conn_close(c, "shutdown"); /* retained (ERL 2): its tasks go now */
	}
}

static void force_msg_fn(struct reactor_msg *m)
{
	struct iscsi_rstate *rs = container_of(m, struct iscsi_rstate, force_msg);
	struct iscsi_conn *c;

	list_for_each_entry(c, &rs->conns, entry)
		iscsi_conn_close(c, "shutdown");
}

static bool shutdown_wait(struct iscsi_lld *lld, unsigned int timeout_ms)
{
	struct timespec ts = { .tv_nsec = SHUTDOWN_POLL_MS * 1000000L };
	uint64_t end = time_now_ms() + timeout_ms;

	while (iscsi_lld_conn_count(lld)) {
		if (time_now_ms() >= end)
			return false;
		nanosleep(&ts, NULL);
	}
	return true;
}

void iscsi_lld_shutdown(struct iscsi_lld *lld, unsigned int timeout_ms)
{
	if (atomic_exchange(&lld->shutting_down, true))
		return;
	/* DevDereg while the targets still exist (RFC 4171 §5.6.5.4) */
	iscsi_isns_stop(lld->isns);
	for (unsigned int i = 0; i < lld->nr_rs; i++) {
		lld->rs[i].grace_s = MAX(1u, timeout_ms / 1000);
		reactor_msg_send(lld->rs[i].r, &lld->rs[i].shutdown_msg, shutdown_msg_fn);
	}
	if (shutdown_wait(lld, timeout_ms))
		return;
	log_info("iscsi: %u connection(s) did not log out in time: closing them",
		 iscsi_lld_conn_count(lld));
	for (unsigned int i = 0; i < lld->nr_rs; i++)
		reactor_msg_send(lld->rs[i].r, &lld->rs[i].force_msg, force_msg_fn);
	/* in-flight commands still finish (or fail) in their backing store first */
	if (!shutdown_wait(lld, SHUTDOWN_FORCE_MS))
		log_err("iscsi: %u connection(s) still busy after shutdown",
			iscsi_lld_conn_count(lld));
}

/* ---- per-target parameters ---- */

static void tgt_lld_free(void *priv)
{
	struct iscsi_tgt *it = priv;
	struct iscsi_lld *lld;

	if (!it)
		return;
	lld = it->lld;
	if (lld) {
		pthread_mutex_lock(&lld->lock);
		if (it->lld) /* iscsi_lld_free may have unlinked it meanwhile */
			list_del(&it->entry);
		pthread_mutex_unlock(&lld->lock);
	}
	pthread_mutex_destroy(&it->lock);
	free(it);
}

int iscsi_target_attach(struct iscsi_lld *lld, struct core_target *tgt)
{
	struct iscsi_tgt *it = calloc(1, sizeof(*it)), *pos;

	if (!it)
		return -ENOMEM;
	it->lld = lld;
	it->tid = tgt->tid;
	str_copy(it->name, tgt->name, sizeof(it->name));
	pthread_mutex_init(&it->lock, NULL);
	iscsi_params_default(&it->params);
	pthread_mutex_lock(&lld->lock);
	list_for_each_entry(pos, &lld->targets, entry) {
		if (pos->tid > it->tid)
			break;
	}
	list_add_tail(&it->entry, &pos->entry);
	pthread_mutex_unlock(&lld->lock);
	tgt->lld_priv = it;
	tgt->lld_free = tgt_lld_free;
	return 0;
}

void iscsi_tgt_params_get(struct core_target *tgt, struct iscsi_params *out)
{
	struct iscsi_tgt *it = tgt->lld_priv;

	if (!it) {
		iscsi_params_default(out);
		return;
	}
	pthread_mutex_lock(&it->lock);
	*out = it->params;
	pthread_mutex_unlock(&it->lock);
}

int iscsi_target_param_set(struct core_target *tgt, const char *key, const char *value)
{
	struct iscsi_tgt *it = tgt->lld_priv;
	int ret;

	if (!it)
		return -ENOENT;
	ret = iscsi_tgt_str_set(it, key, value);
	if (ret != -ENOENT)
		return ret;
	pthread_mutex_lock(&it->lock);
	ret = iscsi_params_set(&it->params, key, value);
	pthread_mutex_unlock(&it->lock);
	/* as in tgt, target pings follow the setting on live connections too */
	if (!ret && it->lld && !strncasecmp(key, "nop_", 4))
		iscsi_sess_nop_update(it->lld, tgt);
	return ret;
}

void iscsi_target_param_foreach(struct core_target *tgt, iscsi_param_fn fn, void *arg)
{
	struct iscsi_params p;

	iscsi_tgt_params_get(tgt, &p);
	iscsi_params_foreach(&p, fn, arg);
	if (tgt->lld_priv)
		iscsi_tgt_str_foreach(tgt->lld_priv, fn, arg);
}

void iscsi_target_nop(struct core_target *tgt, unsigned int *interval, unsigned int *count)
{
	struct iscsi_params p;

	iscsi_tgt_params_get(tgt, &p);
	*interval = p.v[ISCSI_PARAM_NOP_INTERVAL];
	*count = p.v[ISCSI_PARAM_NOP_COUNT];
}
