/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by the lld/iscsi unit tests that list name=value settings: the cmocka includes and a
 * foreach callback that appends "key=value;" to a caller's (large enough) string.
 */
#ifndef UTGT_TESTS_ISCSI_TEST_H
#define UTGT_TESTS_ISCSI_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lld/iscsi/iscsi_int.h"

static inline void show_cat(const char *key, const char *value, void *arg)
{
	char *out = arg;

	strcat(out, key);
	strcat(out, "=");
	strcat(out, value);
	strcat(out, ";");
}

#endif
