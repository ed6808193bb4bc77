/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ALUA state (SPC-4 §5.15): the target ports of the daemon (one per iSCSI portal group tag)
 * and, per target, the target port groups, their asymmetric access states and the ports moved
 * to another group. The commands (INQUIRY TPGS, VPD 0x83, REPORT/SET TARGET PORT GROUPS, the
 * state checks) live in scsi/alua.c; this file only keeps and changes the shared state.
 *
 * Defaults take no memory: a port belongs to the group whose id equals its TPGT, and a group
 * nobody configured is active/optimized. tgt->alua.groups holds only configured groups, and
 * tgt->alua.inactive tells the command path whether any of them is neither AO nor AN.
 */
#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core_int.h"

struct alua_state_name {
	const char *name;
	const char *abbrev;
	uint8_t state;
};

static const struct alua_state_name alua_states[] = {
	{ "active-optimized", "ao", CORE_ALUA_AO },
	{ "active-nonoptimized", "an", CORE_ALUA_AN },
	{ "standby", "s", CORE_ALUA_STANDBY },
	{ "unavailable", "u", CORE_ALUA_UNAVAILABLE },
	{ "offline", "o", CORE_ALUA_OFFLINE },
	{ "transitioning", "t", CORE_ALUA_TRANSITIONING },
};

static const char *const alua_types[] = { "none", "implicit", "explicit", "both" };

void core_alua_init(struct core_alua *a)
{
	pthread_mutex_init(&a->lock, NULL);
	atomic_init(&a->inactive, false);
	a->type = CORE_ALUA_IMPLICIT | CORE_ALUA_EXPLICIT;
}

void core_alua_fini(struct core_alua *a)
{
	pthread_mutex_destroy(&a->lock);
}

/* ---- target ports of the daemon ---- */

int core_root_port_add(struct core_root *root, uint16_t tpgt)
{
	unsigned int i;
	int ret = 0;

	if (!tpgt)
		return -EINVAL;
	pthread_mutex_lock(&root->lock);
	for (i = 0; i < root->nr_ports && root->ports[i] < tpgt; i++)
		;
	if (i < root->nr_ports && root->ports[i] == tpgt) {
		ret = 0;
	} else if (root->nr_ports == CORE_PORTS_MAX) {
		ret = -ENOSPC;
	} else {
		memmove(&root->ports[i + 1], &root->ports[i],
			(root->nr_ports - i) * sizeof(root->ports[0]));
		root->ports[i] = tpgt;
		root->nr_ports++;
	}
	pthread_mutex_unlock(&root->lock);
	return ret;
}

void core_root_port_del(struct core_root *root, uint16_t tpgt)
{
	unsigned int i;

	pthread_mutex_lock(&root->lock);
	for (i = 0; i < root->nr_ports && root->ports[i] != tpgt; i++)
		;
	if (i < root->nr_ports) {
		memmove(&root->ports[i], &root->ports[i + 1],
			(root->nr_ports - i - 1) * sizeof(root->ports[0]));
		root->nr_ports--;
	}
	pthread_mutex_unlock(&root->lock);
}

unsigned int core_root_ports(struct core_root *root, uint16_t *out, unsigned int max)
{
	unsigned int n;

	pthread_mutex_lock(&root->lock);
	n = MIN(root->nr_ports, max);
	memcpy(out, root->ports, n * sizeof(out[0]));
	pthread_mutex_unlock(&root->lock);
	return n;
}

/* ---- lookups (a->lock held) ---- */

static struct core_alua_group *alua_group_find(struct core_alua *a, uint16_t id)
{
	for (unsigned int i = 0; i < a->nr_groups; i++)
		if (a->groups[i].id == id)
			return &a->groups[i];
	return NULL;
}

static uint16_t alua_port_group(const struct core_alua *a, uint16_t tpgt)
{
	for (unsigned int i = 0; i < a->nr_ports; i++)
		if (a->ports[i].tpgt == tpgt)
			return a->ports[i].group;
	return tpgt;
}

/* A group as reported: the configured entry, or the default (AO, no status). */
static struct core_alua_group alua_group_get(struct core_alua *a, uint16_t id)
{
	struct core_alua_group *g = alua_group_find(a, id);
	struct core_alua_group def = { .id = id, .state = CORE_ALUA_AO };

	return g ? *g : def;
}

static struct core_alua_group *alua_group_slot(struct core_alua *a, uint16_t id)
{
	struct core_alua_group *g = alua_group_find(a, id);

	if (g || a->nr_groups == CORE_ALUA_GROUPS_MAX)
		return g;
	g = &a->groups[a->nr_groups++];
	*g = (struct core_alua_group){ .id = id, .state = CORE_ALUA_AO };
	return g;
}

static void alua_inactive_update(struct core_alua *a)
{
	bool inactive = false;

	for (unsigned int i = 0; i < a->nr_groups; i++) {
		uint8_t st = a->groups[i].state;

		inactive |= st != CORE_ALUA_AO && st != CORE_ALUA_AN;
	}
	atomic_store_explicit(&a->inactive, inactive, memory_order_release);
}

/* ---- configuration ---- */

static int alua_state_parse(const char *v, uint8_t *state)
{
	for (size_t i = 0; i < ARRAY_SIZE(alua_states); i++) {
		if (!strcasecmp(v, alua_states[i].name) || !strcasecmp(v, alua_states[i].abbrev)) {
			*state = alua_states[i].state;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *alua_state_name(uint8_t state)
{
	for (size_t i = 0; i < ARRAY_SIZE(alua_states); i++)
		if (alua_states[i].state == state)
			return alua_states[i].name;
	return "?";
}

/* Parses "<number>." at *s (1..65535) and moves past the dot. 0 or -ENOENT. */
static int alua_key_id(const char **s, uint16_t *id)
{
	char num[8];
	size_t len = strcspn(*s, ".");
	uint64_t v;

	if (!len || len >= sizeof(num) || (*s)[len] != '.')
		return -ENOENT;
	memcpy(num, *s, len);
	num[len] = '\0';
	if (str_to_u64(num, 1, UINT16_MAX, &v))
		return -ENOENT;
	*id = (uint16_t)v;
	*s += len + 1;
	return 0;
}

/* alua.tpg.G.state / .preferred; *changed when a state changed. */
static int alua_config_group(struct core_alua *a, uint16_t id, const char *field,
			     const char *value, bool *changed)
{
	struct core_alua_group *g;
	uint8_t state;
	uint64_t pref;

	if (!strcmp(field, "state")) {
		if (alua_state_parse(value, &state))
			return -EINVAL;
		g = alua_group_slot(a, id);
		if (!g)
			return -ENOSPC;
		*changed = g->state != state;
		g->state = state;
		g->status = CORE_ALUA_STATUS_IMPLICIT;
		return 0;
	}
	if (!strcmp(field, "preferred")) {
		if (str_to_u64(value, 0, 1, &pref))
			return -EINVAL;
		g = alua_group_slot(a, id);
		if (!g)
			return -ENOSPC;
		g->pref = pref;
		return 0;
	}
	return -ENOENT;
}

/* alua.port.T.tpg = G. */
static int alua_config_port(struct core_alua *a, uint16_t tpgt, const char *value,
			    bool *changed)
{
	unsigned int i;
	uint64_t g;

	if (str_to_u64(value, 1, UINT16_MAX, &g))
		return -EINVAL;
	for (i = 0; i < a->nr_ports && a->ports[i].tpgt != tpgt; i++)
		;
	if (i == a->nr_ports) {
		if (a->nr_ports == CORE_PORTS_MAX)
			return -ENOSPC;
		a->ports[a->nr_ports++] = (struct core_alua_port){ .tpgt = tpgt, .group = tpgt };
	}
	*changed = a->ports[i].group != g;
	a->ports[i].group = (uint16_t)g;
	return 0;
}

static int alua_config_locked(struct core_alua *a, const char *key, const char *value,
			      bool *changed)
{
	const char *s = key + 5;
	uint16_t id;

	if (!strcmp(s, "type")) {
		for (size_t i = 0; i < ARRAY_SIZE(alua_types); i++) {
			if (!strcasecmp(value, alua_types[i])) {
				*changed = a->type != i;
				a->type = (uint8_t)i;
				return 0;
			}
		}
		return -EINVAL;
	}
	if (!strncmp(s, "tpg.", 4)) {
		s += 4;
		if (alua_key_id(&s, &id))
			return -ENOENT;
		return alua_config_group(a, id, s, value, changed);
	}
	if (!strncmp(s, "port.", 5)) {
		s += 5;
		if (alua_key_id(&s, &id) || strcmp(s, "tpg"))
			return -ENOENT;
		return alua_config_port(a, id, value, changed);
	}
	return -ENOENT;
}

int core_alua_config(struct core_target *tgt, const char *key, const char *value)
{
	struct core_alua *a = &tgt->alua;
	bool changed = false;
	uint8_t old_type;
	int ret;

	if (strncasecmp(key, "alua.", 5))
		return -ENOENT;
	pthread_mutex_lock(&a->lock);
	old_type = a->type;
	ret = alua_config_locked(a, key, value, &changed);
	alua_inactive_update(a);
	old_type ^= a->type;
	pthread_mutex_unlock(&a->lock);
	if (ret || !changed)
		return ret;
	/* SPC-4 §5.15.2.2: every I_T nexus learns of an implicit transition */
	core_ua_add_all(tgt, NULL, UINT64_MAX,
			old_type ? ASC_INQUIRY_DATA_CHANGED : ASC_ALUA_STATE_CHANGED);
	return 0;
}

/* ---- reports ---- */

/* Ports of the daemon plus extra (the asking nexus's port, 0: none), ascending, unique. */
static unsigned int alua_ports(struct core_target *tgt, uint16_t extra, uint16_t *out)
{
	unsigned int n = core_root_ports(tgt->root, out, CORE_PORTS_MAX), i;

	if (!extra)
		return n;
	for (i = 0; i < n && out[i] < extra; i++)
		;
	if ((i < n && out[i] == extra) || n == CORE_PORTS_MAX)
		return n;
	memmove(&out[i + 1], &out[i], (n - i) * sizeof(out[0]));
	out[i] = extra;
	return n + 1;
}

static unsigned int alua_report_locked(struct core_target *tgt, const uint16_t *ports,
				       unsigned int nr_ports, struct core_alua_report *out,
				       unsigned int max)
{
	struct core_alua *a = &tgt->alua;
	unsigned int n = 0, i, k;

	for (i = 0; i < nr_ports; i++) {
		uint16_t gid = alua_port_group(a, ports[i]);
		struct core_alua_report *r;

		for (k = 0; k < n && out[k].g.id < gid; k++)
			;
		if (k == n || out[k].g.id != gid) {
			if (n == max)
				continue;
			memmove(&out[k + 1], &out[k], (n - k) * sizeof(out[0]));
			n++;
			out[k].g = alua_group_get(a, gid);
			out[k].nr_ports = 0;
		}
		r = &out[k];
		if (r->nr_ports < CORE_PORTS_MAX)
			r->ports[r->nr_ports++] = ports[i];
	}
	return n;
}

unsigned int core_alua_report(struct core_target *tgt, struct core_nexus *n,
			      struct core_alua_report *out, unsigned int max)
{
	uint16_t ports[CORE_PORTS_MAX];
	unsigned int nr = alua_ports(tgt, n ? n->tpgt : 0, ports), ret;

	pthread_mutex_lock(&tgt->alua.lock);
	ret = alua_report_locked(tgt, ports, nr, out, max);
	pthread_mutex_unlock(&tgt->alua.lock);
	return ret;
}

void core_alua_port_get(struct core_target *tgt, uint16_t tpgt, uint16_t *group,
			uint8_t *state, bool *pref)
{
	struct core_alua *a = &tgt->alua;
	struct core_alua_group g;

	pthread_mutex_lock(&a->lock);
	g = alua_group_get(a, alua_port_group(a, tpgt));
	pthread_mutex_unlock(&a->lock);
	*group = g.id;
	*state = g.state;
	*pref = g.pref;
}

uint8_t core_alua_type(struct core_target *tgt)
{
	uint8_t type;

	pthread_mutex_lock(&tgt->alua.lock);
	type = tgt->alua.type;
	pthread_mutex_unlock(&tgt->alua.lock);
	return type;
}

int core_alua_group_set(struct core_target *tgt, struct core_nexus *by, uint16_t group,
			uint8_t state)
{
	struct core_alua_report r[CORE_PORTS_MAX + 1];
	struct core_alua *a = &tgt->alua;
	struct core_alua_group *g;
	unsigned int nr, i;
	bool changed;

	if (state > CORE_ALUA_UNAVAILABLE)
		return -EINVAL;
	nr = core_alua_report(tgt, by, r, ARRAY_SIZE(r));
	for (i = 0; i < nr && r[i].g.id != group; i++)
		;
	if (i == nr)
		return -ENOENT;
	pthread_mutex_lock(&a->lock);
	g = alua_group_slot(a, group);
	if (!g) {
		pthread_mutex_unlock(&a->lock);
		return -ENOSPC;
	}
	changed = g->state != state;
	g->state = state;
	g->status = CORE_ALUA_STATUS_EXPLICIT;
	alua_inactive_update(a);
	pthread_mutex_unlock(&a->lock);
	if (changed) /* SPC-4 §5.15.2.3: the other I_T nexuses */
		core_ua_add_all(tgt, by, UINT64_MAX, ASC_ALUA_STATE_CHANGED);
	return 0;
}

/* ---- parameters for show and save ---- */

static void alua_emit_group(const struct core_alua_group *g, bool all, core_alua_param_fn fn,
			    void *arg)
{
	char key[40];

	if (all || g->state != CORE_ALUA_AO) {
		snprintf(key, sizeof(key), "alua.tpg.%u.state", g->id);
		fn(key, alua_state_name(g->state), arg);
	}
	if (all || g->pref) {
		snprintf(key, sizeof(key), "alua.tpg.%u.preferred", g->id);
		fn(key, g->pref ? "1" : "0", arg);
	}
}

void core_alua_foreach(struct core_target *tgt, bool all, core_alua_param_fn fn, void *arg)
{
	struct core_alua_report r[CORE_PORTS_MAX];
	struct core_alua *a = &tgt->alua;
	uint16_t ports[CORE_PORTS_MAX];
	unsigned int nr = all ? alua_ports(tgt, 0, ports) : 0, i;
	char key[40], val[8];

	pthread_mutex_lock(&a->lock);
	if (all || a->type != (CORE_ALUA_IMPLICIT | CORE_ALUA_EXPLICIT))
		fn("alua.type", alua_types[a->type & 3], arg);
	for (i = 0; i < a->nr_ports; i++) {
		snprintf(key, sizeof(key), "alua.port.%u.tpg", a->ports[i].tpgt);
		snprintf(val, sizeof(val), "%u", a->ports[i].group);
		fn(key, val, arg);
	}
	if (all) {
		nr = alua_report_locked(tgt, ports, nr, r, ARRAY_SIZE(r));
		for (i = 0; i < nr; i++)
			alua_emit_group(&r[i].g, true, fn, arg);
	} else {
		for (i = 0; i < a->nr_groups; i++)
			alua_emit_group(&a->groups[i], false, fn, arg);
	}
	pthread_mutex_unlock(&a->lock);
}
