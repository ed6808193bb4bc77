/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer target: the targets.conf parser (mgmt_config_parse in src/mgmt/config_parse.c)
 * with the real device types and backing stores registered. Each input is written to one file
 * in a private directory and parsed; the resulting document is serialized to touch every node.
 * Includes are bounded: glob() is replaced here so that every include names the input file
 * itself, which exercises the nesting and file-count limits without reading the host's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bs/bs.h"
#include "core/core.h"
#include "mgmt/config_int.h"
#include "scsi/scsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g);
void globfree(glob_t *g);

static struct mgmt_server fz_srv;
static char fz_dir[64];
static char fz_path[96];

/* Every pattern resolves to the input file; patterns with "none" match nothing. */
int glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
	(void)flags;
	(void)errfunc;
	memset(g, 0, sizeof(*g));
	if (strstr(pattern, "none"))
		return GLOB_NOMATCH;
	g->gl_pathv = calloc(2, sizeof(char *));
	if (!g->gl_pathv)
		return GLOB_NOSPACE;
	g->gl_pathv[0] = strdup(fz_path);
	if (!g->gl_pathv[0]) {
		free(g->gl_pathv);
		g->gl_pathv = NULL;
		return GLOB_NOSPACE;
	}
	g->gl_pathc = 1;
	return 0;
}

void globfree(glob_t *g)
{
	for (size_t i = 0; g->gl_pathv && i < g->gl_pathc; i++)
		free(g->gl_pathv[i]);
	free(g->gl_pathv);
	g->gl_pathv = NULL;
	g->gl_pathc = 0;
}

static void fuzz_cleanup(void)
{
	unlink(fz_path);
	rmdir(fz_dir);
}

static void fuzz_init(void)
{
	const char *tmp = getenv("TMPDIR");

	log_setup("fuzz", true, LOG_LVL_ERR);
	if (core_root_new(&fz_srv.root))
		abort();
	scsi_register_all(fz_srv.root);
	bs_register_all(fz_srv.root);
	fz_srv.fd = -1;
	list_init(&fz_srv.clients);
	snprintf(fz_dir, sizeof(fz_dir), "%s/fuzz_config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fz_dir))
		abort();
	snprintf(fz_path, sizeof(fz_path), "%s/targets.conf", fz_dir);
	atexit(fuzz_cleanup);
}

static int fuzz_write(const uint8_t *data, size_t size)
{
	int fd = open(fz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		off += (size_t)n;
	}
	close(fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *doc;
	char *dump;

	if (!fz_srv.root)
		fuzz_init();
	if (size > 65536 || fuzz_write(data, size) < 0)
		return 0;
	doc = mgmt_config_parse(&fz_srv, fz_path, err, sizeof(err));
	if (!doc) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort(); /* a failure always says why */
		return 0;
	}
	dump = json_dumps(doc, JSON_COMPACT);
	free(dump);
	json_decref(doc);
	return 0;
}
