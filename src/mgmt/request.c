/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/request: decodes a request document into struct mgmt_req. Every field is looked up in
 * one table giving its JSON type and bound; unknown fields, wrong types, out-of-range numbers
 * and over-long strings are refused with "invalid request" and a detail naming the field.
 * The request comes from a local, authenticated peer, but it is still treated as hostile.
 */
#include "mgmt/mgmt_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

enum mgmt_field_type {
	MGMT_F_MODE,
	MGMT_F_OP,
	MGMT_F_STR,
	MGMT_F_INT,
	MGMT_F_BOOL,
	MGMT_F_PARAMS,
};

struct mgmt_field {
	const char *name;
	enum mgmt_field_type type;
	size_t off;                    /* member of struct mgmt_req */
	size_t has_off;                /* MGMT_F_INT: its has_ flag */
	uint64_t max;                  /* MGMT_F_STR: bytes; MGMT_F_INT: largest value */
	uint8_t int_bytes;             /* MGMT_F_INT: 4 or 8 */
};

#define REQ_OFF(m) offsetof(struct mgmt_req, m)
#define F_STR(n, m, len)    { n, MGMT_F_STR, REQ_OFF(m), 0, len, 0 }
#define F_U32(n, m, mx)     { n, MGMT_F_INT, REQ_OFF(m), REQ_OFF(has_##m), mx, 4 }
#define F_U64(n, m, mx)     { n, MGMT_F_INT, REQ_OFF(m), REQ_OFF(has_##m), mx, 8 }
#define F_BOOL(n, m)        { n, MGMT_F_BOOL, REQ_OFF(m), 0, 0, 0 }

/* clang-format off */
static const struct mgmt_field mgmt_fields[] = {
	{ "mode", MGMT_F_MODE, 0, 0, MGMT_LEN_SHORT, 0 },
	{ "op", MGMT_F_OP, 0, 0, MGMT_LEN_SHORT, 0 },
	F_STR("lld", lld, MGMT_LEN_SHORT),
	F_U32("tid", tid, INT32_MAX),
	F_U64("lun", lun, INT64_MAX),
	F_U64("sid", sid, INT64_MAX),
	F_U32("cid", cid, UINT32_MAX),
	F_U32("host_no", host_no, UINT32_MAX),
	F_U32("blocksize", blocksize, UINT32_MAX),
	F_BOOL("force", force),
	F_BOOL("outgoing", outgoing),
	F_STR("name", name, MGMT_LEN_SHORT),
	F_STR("value", value, MGMT_LEN_VALUE),
	F_STR("targetname", targetname, MGMT_LEN_IQN),
	F_STR("backing_store", backing_store, MGMT_LEN_PATH),
	F_STR("bstype", bstype, MGMT_LEN_SHORT),
	F_STR("bsopts", bsopts, MGMT_LEN_BSOPTS),
	F_STR("bsoflags", bsoflags, MGMT_LEN_SHORT),
	F_STR("device_type", device_type, MGMT_LEN_SHORT),
	F_STR("initiator_address", initiator_address, MGMT_LEN_VALUE),
	F_STR("initiator_name", initiator_name, MGMT_LEN_IQN),
	F_STR("user", user, MGMT_LEN_VALUE),
	F_STR("password", password, MGMT_LEN_VALUE),
	{ "params", MGMT_F_PARAMS, REQ_OFF(params), 0, MGMT_LEN_PARAMS, 0 },
	F_STR("config", config, MGMT_LEN_PATH),
	F_BOOL("dry_run", dry_run),
};
/* clang-format on */

void mgmt_rsp_detail(struct mgmt_rsp *rsp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rsp->detail, sizeof(rsp->detail), fmt, ap);
	va_end(ap);
}

static enum mgmt_err mgmt_req_invalid(struct mgmt_rsp *rsp, const char *what, const char *key)
{
	mgmt_rsp_detail(rsp, "%s '%.64s'", what, key);
	return MGMT_ERR_INVALID_REQUEST;
}

static const struct mgmt_field *mgmt_field_find(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mgmt_fields); i++)
		if (!strcmp(mgmt_fields[i].name, key))
			return &mgmt_fields[i];
	return NULL;
}

/* A JSON string of at most max bytes without embedded NULs, or NULL. */
static const char *mgmt_json_str(const json_t *v, uint64_t max)
{
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	if (json_string_length(v) > max || strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

/* Checks a params value: a "k=v,..." string or an object of strings, both bounded. */
static enum mgmt_err mgmt_params_check_one(const char *key, const char *value, void *arg)
{
	(void)key;
	(void)value;
	(void)arg;
	return MGMT_OK;
}

static enum mgmt_err mgmt_field_int(const struct mgmt_field *f, const json_t *v,
				    struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	char *base = (char *)req;
	json_int_t n;

	if (!json_is_integer(v))
		return mgmt_req_invalid(rsp, "expected an integer for", f->name);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > f->max)
		return mgmt_req_invalid(rsp, "value out of range for", f->name);
	if (f->int_bytes == 4) {
		uint32_t u = (uint32_t)n;

		memcpy(base + f->off, &u, sizeof(u));
	} else {
		uint64_t u = (uint64_t)n;

		memcpy(base + f->off, &u, sizeof(u));
	}
	*(bool *)(base + f->has_off) = true;
	return MGMT_OK;
}

static enum mgmt_err mgmt_field_decode(const struct mgmt_field *f, const json_t *v,
				       struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	char *base = (char *)req;
	const char *s = NULL;
	int n;

	if (f->type == MGMT_F_INT)
		return mgmt_field_int(f, v, req, rsp);
	if (f->type == MGMT_F_BOOL) {
		if (!json_is_boolean(v))
			return mgmt_req_invalid(rsp, "expected true or false for", f->name);
		*(bool *)(base + f->off) = json_is_true(v);
		return MGMT_OK;
	}
	if (f->type == MGMT_F_PARAMS) {
		req->params = v;
		return mgmt_req_params_foreach(v, mgmt_params_check_one, NULL, rsp);
	}
	s = mgmt_json_str(v, f->max);
	if (!s)
		return mgmt_req_invalid(rsp, "expected a bounded string for", f->name);
	switch (f->type) {
	case MGMT_F_MODE:
		n = mgmt_mode_parse(s);
		if (n < 0)
			return mgmt_req_invalid(rsp, "unknown mode", s);
		req->mode = (enum mgmt_mode)n;
		break;
	case MGMT_F_OP:
		n = mgmt_op_parse(s);
		if (n < 0)
			return mgmt_req_invalid(rsp, "unknown op", s);
		req->op = (enum mgmt_op)n;
		break;
	default:
		memcpy(base + f->off, &s, sizeof(s));
		break;
	}
	return MGMT_OK;
}

enum mgmt_err mgmt_req_decode(const json_t *root, struct mgmt_req *req, struct mgmt_rsp *rsp)
{
	const struct mgmt_field *f;
	const char *key;
	json_t *v;
	enum mgmt_err err;

	memset(req, 0, sizeof(*req));
	req->mode = MGMT_MODE_MAX;
	req->op = MGMT_OP_MAX;
	if (!json_is_object(root)) {
		mgmt_rsp_detail(rsp, "the request is not a JSON object");
		return MGMT_ERR_INVALID_REQUEST;
	}
	/* json_object_foreach wants a non-const object; it does not modify it. */
	json_object_foreach((json_t *)root, key, v) {
		f = mgmt_field_find(key);
		if (!f)
			return mgmt_req_invalid(rsp, "unknown field", key);
		err = mgmt_field_decode(f, v, req, rsp);
		if (err != MGMT_OK)
			return err;
	}
	if (req->mode == MGMT_MODE_MAX)
		return mgmt_req_invalid(rsp, "missing field", "mode");
	if (req->op == MGMT_OP_MAX)
		return mgmt_req_invalid(rsp, "missing field", "op");
	return MGMT_OK;
}

/* Splits one "key=value" token (len bytes at tok) and calls fn. */
static enum mgmt_err mgmt_param_token(const char *tok, size_t len, mgmt_param_fn fn, void *arg,
				      struct mgmt_rsp *rsp)
{
	char key[MGMT_LEN_SHORT + 1];
	char value[MGMT_LEN_VALUE + 1];
	const char *eq = memchr(tok, '=', len);
	size_t klen;
	size_t vlen;

	if (!eq || eq == tok) {
		mgmt_rsp_detail(rsp, "params: expected key=value, got '%.*s'", (int)MIN(len, 64),
				tok);
		return MGMT_ERR_INVALID_REQUEST;
	}
	klen = (size_t)(eq - tok);
	vlen = len - klen - 1;
	if (klen > MGMT_LEN_SHORT || vlen > MGMT_LEN_VALUE) {
		mgmt_rsp_detail(rsp, "params: '%.*s' is too long", (int)MIN(klen, 64), tok);
		return MGMT_ERR_INVALID_REQUEST;
	}
	memcpy(key, tok, klen);
	key[klen] = '\0';
	memcpy(value, eq + 1, vlen);
	value[vlen] = '\0';
	return fn(key, value, arg);
}

static enum mgmt_err mgmt_params_string(const char *s, mgmt_param_fn fn, void *arg,
					struct mgmt_rsp *rsp)
{
	unsigned int count = 0;
	enum mgmt_err err;
	const char *end;

	for (; *s; s = *end ? end + 1 : end) {
		end = strchrnul(s, ',');
		if (end == s)
			continue; /* empty token, as tgt's strsep loop skips */
		if (++count > MGMT_PARAMS_MAX) {
			mgmt_rsp_detail(rsp, "params: more than %u pairs", MGMT_PARAMS_MAX);
			return MGMT_ERR_INVALID_REQUEST;
		}
		err = mgmt_param_token(s, (size_t)(end - s), fn, arg, rsp);
		if (err != MGMT_OK)
			return err;
	}
	return MGMT_OK;
}

static enum mgmt_err mgmt_params_object(const json_t *obj, mgmt_param_fn fn, void *arg,
					struct mgmt_rsp *rsp)
{
	const char *key;
	const char *s;
	json_t *v;
	enum mgmt_err err;

	if (json_object_size(obj) > MGMT_PARAMS_MAX) {
		mgmt_rsp_detail(rsp, "params: more than %u pairs", MGMT_PARAMS_MAX);
		return MGMT_ERR_INVALID_REQUEST;
	}
	json_object_foreach((json_t *)obj, key, v) {
		s = mgmt_json_str(v, MGMT_LEN_VALUE);
		if (!*key || strlen(key) > MGMT_LEN_SHORT || !s)
			return mgmt_req_invalid(rsp, "params: bad key or value for", key);
		err = fn(key, s, arg);
		if (err != MGMT_OK)
			return err;
	}
	return MGMT_OK;
}

enum mgmt_err mgmt_req_params_foreach(const json_t *params, mgmt_param_fn fn, void *arg,
				      struct mgmt_rsp *rsp)
{
	const char *s;

	if (!params)
		return MGMT_OK;
	if (json_is_object(params))
		return mgmt_params_object(params, fn, arg, rsp);
	s = mgmt_json_str(params, MGMT_LEN_PARAMS);
	if (!s)
		return mgmt_req_invalid(rsp, "expected a bounded string or an object for",
					"params");
	return mgmt_params_string(s, fn, arg, rsp);
}

int mgmt_req_parse_bsoflags(const char *s, uint32_t *out)
{
	uint32_t flags = 0;
	size_t len;

	while (*s) {
		while (*s == ' ')
			s++;
		len = strcspn(s, ":,");
		if (len == 4 && !strncmp(s, "sync", 4))
			flags |= CORE_BSOFLAG_SYNC;
		else if (len == 6 && !strncmp(s, "direct", 6))
			flags |= CORE_BSOFLAG_DIRECT;
		else if (len)
			return -EINVAL;
		s += len;
		if (*s)
			s++;
	}
	*out = flags;
	return 0;
}
