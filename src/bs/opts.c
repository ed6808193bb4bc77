/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * opts: --bsopts parsing for the drivers. The string comes from the administrator through
 * mgmt; it is bounded and parsed against a per-driver table of keys.
 */
#include "bs/bs_int.h"

#include <errno.h>
#include <string.h>

#define BS_OPTS_MAX 256

static int bs_opts_one(char *tok, const struct bs_opt *table, size_t n, void *opts,
		       const char *driver)
{
	char *eq = strchr(tok, '=');
	int ret;

	if (!eq) {
		log_err("bs %s: option \"%s\" is not key=value", driver, tok);
		return -EINVAL;
	}
	*eq = '\0';
	for (size_t i = 0; i < n; i++) {
		if (strcmp(tok, table[i].key))
			continue;
		ret = table[i].parse(opts, eq + 1);
		if (ret < 0)
			log_err("bs %s: bad value \"%s\" for option %s", driver, eq + 1, tok);
		return ret < 0 ? -EINVAL : 0;
	}
	log_err("bs %s: unknown option \"%s\"", driver, tok);
	return -EINVAL;
}

int bs_opts_parse(const char *bsopts, const struct bs_opt *table, size_t n, void *opts,
		  const char *driver)
{
	char buf[BS_OPTS_MAX];
	char *save = NULL;
	char *tok;
	int ret;

	if (!bsopts || !*bsopts)
		return 0;
	if (str_copy(buf, bsopts, sizeof(buf)) >= sizeof(buf)) {
		log_err("bs %s: options longer than %d bytes", driver, BS_OPTS_MAX - 1);
		return -EINVAL;
	}
	for (tok = strtok_r(buf, ",;", &save); tok; tok = strtok_r(NULL, ",;", &save)) {
		ret = bs_opts_one(tok, table, n, opts, driver);
		if (ret < 0)
			return ret;
	}
	return 0;
}
