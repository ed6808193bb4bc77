/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * utgt-admin: tgt-admin's command line for utgtd. The file is parsed and compared with the
 * live targets by the daemon itself (src/mgmt/config*.c, the same code as `utgtd --config`),
 * so this tool only sends requests (docs/mgmt-protocol.md), prints the planned changes and
 * writes dumps atomically (temporary file, fsync, rename, fsync of the directory).
 */
#include "mgmt/wire.h"
#include "utgtadm.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UTGT_ADMIN_CONF "/etc/utgt/targets.conf"

enum admin_action { ACT_NONE, ACT_UPDATE, ACT_DELETE, ACT_OFFLINE, ACT_READY, ACT_SHOW, ACT_DUMP };

struct admin {
	enum admin_action action;
	const char *select; /* ALL, tid=N or a target name */
	const char *conf;
	const char *output; /* --dump destination, NULL: stdout */
	char sock[256];
	const char *control_socket;
	int control_port;
	bool pretend;
	bool force;
	bool verbose;
};

static void admin_usage(FILE *out)
{
	fprintf(out,
		"Usage: utgt-admin [OPTION]...\n"
		"Applies targets.conf files to utgtd, like tgt-admin.\n\n"
		"  -e, --execute             apply the file: create, change and delete targets so\n"
		"                            the live state matches it (same as --update ALL)\n"
		"      --update SEL          reconcile only the selected targets with the file\n"
		"      --delete SEL          delete live targets (with sessions: needs --force)\n"
		"      --offline SEL         set targets offline (no new logins)\n"
		"      --ready SEL           set targets ready\n"
		"                            SEL: ALL, tid=N or a target name\n"
		"  -s, --show                show all targets (utgtadm --mode target --op show)\n"
		"      --dump                print the live configuration (targets.conf format)\n"
		"  -o, --output FILE         with --dump: write FILE atomically instead\n"
		"  -c, --conf FILE           configuration file (default " UTGT_ADMIN_CONF ")\n"
		"  -p, --pretend, --dry-run  print what the file would change, change nothing\n"
		"  -f, --force               delete targets even when initiators are logged in\n"
		"  -v, --verbose             print every change applied\n"
		"      --ignore-errors       accepted for tgt-admin compatibility\n"
		"  -C, --control-port N      daemon started with -C N\n"
		"      --control-socket PATH daemon on PATH (default " MGMT_SOCKET_DEFAULT ")\n"
		"  -h, --help                this help\n"
		"  -V, --version             the version\n\n"
		"Exit status: 0 success, 22 a bad file or a refused change, 107 utgtd not "
		"running.\n");
}

/* One request; 0 with *rsp holding "data" (may be NULL), or an exit code after a message. */
static int admin_call(struct admin *a, json_t *req, json_t **data)
{
	json_t *rsp = NULL;
	const json_t *err;
	const char *detail;
	int code;
	int rc;

	*data = NULL;
	if (!req) {
		fprintf(stderr, "utgt-admin: out of memory\n");
		return UTGTADM_EXIT_ERR;
	}
	rc = utgtadm_client_exchange(a->sock, req, &rsp, stderr, false);
	json_decref(req);
	if (rc)
		return rc;
	err = json_object_get(rsp, "err");
	code = json_is_integer(err) ? (int)json_integer_value(err) : MGMT_ERR_UNKNOWN;
	detail = json_string_value(json_object_get(rsp, "detail"));
	if (code != MGMT_OK) {
		if (detail && *detail)
			fprintf(stderr, "utgt-admin: %s\n", detail);
		else
			fprintf(stderr, "utgt-admin: %s\n", mgmt_err_str(code));
		json_decref(rsp);
		return UTGTADM_EXIT_ERR;
	}
	*data = json_incref(json_object_get(rsp, "data"));
	json_decref(rsp);
	return 0;
}

static int admin_update(struct admin *a)
{
	char abs[PATH_MAX];
	json_t *data;
	json_t *req;
	const json_t *v;
	size_t i;
	int rc;

	if (!realpath(a->conf, abs)) {
		fprintf(stderr, "utgt-admin: %s: %s\n", a->conf, strerror(errno));
		return UTGTADM_EXIT_ERR;
	}
	req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "mode", "system", "op", "update", "name",
	                "config", "config", abs, "value", a->select, "dry_run", a->pretend, "force",
	                a->force);
	rc = admin_call(a, req, &data);
	if (rc)
		return rc;
	json_array_foreach(json_object_get(data, "warnings"), i, v)
	        fprintf(stderr, "utgt-admin: warning: %s\n", json_string_value(v));
	if (a->pretend || a->verbose)
		json_array_foreach(json_object_get(data, "changes"), i, v)
		        printf("%s\n", json_string_value(v));
	if (a->pretend && !json_array_size(json_object_get(data, "changes")))
		printf("no changes: the live state matches %s\n", abs);
	json_decref(data);
	return 0;
}

static bool admin_selected(const char *sel, const json_t *t)
{
	json_int_t tid = json_integer_value(json_object_get(t, "tid"));
	const char *name = json_string_value(json_object_get(t, "name"));
	char buf[32];

	if (!strcmp(sel, "ALL"))
		return true;
	snprintf(buf, sizeof(buf), "tid=%lld", (long long)tid);
	return !strcmp(sel, buf) || (name && !strcmp(sel, name));
}

/* --delete, --offline, --ready: one request per selected live target. */
static int admin_each(struct admin *a)
{
	json_t *data;
	json_t *req;
	json_t *out;
	const json_t *t;
	size_t i;
	int found = 0;
	int rc;

	rc = admin_call(a, json_pack("{s:s,s:s}", "mode", "target", "op", "show"), &data);
	if (rc)
		return rc;
	json_array_foreach(json_object_get(data, "targets"), i, t)
	{
		json_int_t tid = json_integer_value(json_object_get(t, "tid"));
		const char *name = json_string_value(json_object_get(t, "name"));

		if (!admin_selected(a->select, t))
			continue;
		found++;
		if (a->action == ACT_DELETE)
			req = json_pack("{s:s,s:s,s:I,s:b}", "mode", "target", "op", "delete",
			                "tid", tid, "force", a->force);
		else
			req = json_pack("{s:s,s:s,s:I,s:s,s:s}", "mode", "target", "op", "update",
			                "tid", tid, "name", "state", "value",
			                a->action == ACT_READY ? "ready" : "offline");
		if (a->pretend || a->verbose)
			printf("%s target %s (tid %lld)\n", a->action == ACT_DELETE ? "-" : "~",
			       name ? name : "?", (long long)tid);
		if (a->pretend) {
			json_decref(req);
			continue;
		}
		rc = admin_call(a, req, &out);
		json_decref(out);
		if (rc)
			break;
	}
	json_decref(data);
	if (!rc && !found && strcmp(a->select, "ALL")) {
		fprintf(stderr, "utgt-admin: no target matches '%s'\n", a->select);
		rc = UTGTADM_EXIT_ERR;
	}
	return rc;
}

/* Writes text to path: temporary file in the same directory, fsync, rename, fsync dir. */
static int admin_write_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	char dirbuf[PATH_MAX];
	size_t len = strlen(text);
	size_t off = 0;
	ssize_t n;
	int fd;
	int dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto err;
		off += (size_t)n;
	}
	if (fchmod(fd, 0600) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto err;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto err;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
err:
	n = -errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return n ? (int)n : -EIO;
}

static int admin_dump(struct admin *a)
{
	json_t *data;
	const char *text;
	int rc;

	rc = admin_call(
	        a, json_pack("{s:s,s:s,s:s}", "mode", "system", "op", "show", "name", "config"),
	        &data);
	if (rc)
		return rc;
	text = json_string_value(json_object_get(data, "config"));
	if (!text) {
		rc = UTGTADM_EXIT_ERR;
		fprintf(stderr, "utgt-admin: unexpected answer from utgtd\n");
	} else if (!a->output) {
		fputs(text, stdout);
	} else if ((rc = admin_write_atomic(a->output, text)) < 0) {
		fprintf(stderr, "utgt-admin: %s: %s\n", a->output, strerror(-rc));
		rc = UTGTADM_EXIT_ERR;
	}
	json_decref(data);
	return rc;
}

static int admin_show(struct admin *a)
{
	json_t *data;
	int rc;

	rc = admin_call(a, json_pack("{s:s,s:s}", "mode", "target", "op", "show"), &data);
	if (rc)
		return rc;
	if (utgtadm_show(stdout, MGMT_MODE_TARGET, MGMT_OP_SHOW, false, data))
		rc = UTGTADM_EXIT_ERR;
	json_decref(data);
	return rc;
}

#define OPT_UPDATE  0x100
#define OPT_DELETE  0x101
#define OPT_OFFLINE 0x102
#define OPT_READY   0x103
#define OPT_DUMP    0x104
#define OPT_SOCKET  0x105
#define OPT_IGNORE  0x106

static const struct option admin_options[] = {
        {"execute", no_argument, NULL, 'e'},
        {"update", required_argument, NULL, OPT_UPDATE},
        {"delete", required_argument, NULL, OPT_DELETE},
        {"offline", required_argument, NULL, OPT_OFFLINE},
        {"ready", required_argument, NULL, OPT_READY},
        {"show", no_argument, NULL, 's'},
        {"dump", no_argument, NULL, OPT_DUMP},
        {"output", required_argument, NULL, 'o'},
        {"conf", required_argument, NULL, 'c'},
        {"pretend", no_argument, NULL, 'p'},
        {"dry-run", no_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"ignore-errors", no_argument, NULL, OPT_IGNORE},
        {"control-port", required_argument, NULL, 'C'},
        {"control-socket", required_argument, NULL, OPT_SOCKET},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
};

static int admin_set_action(struct admin *a, enum admin_action act, const char *sel)
{
	if (a->action != ACT_NONE) {
		fprintf(stderr, "utgt-admin: give one of -e, --update, --delete, --offline, "
		                "--ready, -s, --dump\n");
		return UTGTADM_EXIT_ERR;
	}
	a->action = act;
	a->select = sel ? sel : "ALL";
	return 0;
}

static int admin_parse(int argc, char **argv, struct admin *a)
{
	static const enum admin_action acts[] = {ACT_UPDATE, ACT_DELETE, ACT_OFFLINE, ACT_READY};
	int ch;
	int rc = 0;
	long port;

	while (!rc && (ch = getopt_long(argc, argv, "esc:o:pfvC:hV", admin_options, NULL)) != -1) {
		if (ch >= OPT_UPDATE && ch <= OPT_READY)
			rc = admin_set_action(a, acts[ch - OPT_UPDATE], optarg);
		else if (ch == 'e')
			rc = admin_set_action(a, ACT_UPDATE, NULL);
		else if (ch == 's')
			rc = admin_set_action(a, ACT_SHOW, NULL);
		else if (ch == OPT_DUMP)
			rc = admin_set_action(a, ACT_DUMP, NULL);
		else if (ch == 'c')
			a->conf = optarg;
		else if (ch == 'o')
			a->output = optarg;
		else if (ch == 'p')
			a->pretend = true;
		else if (ch == 'f')
			a->force = true;
		else if (ch == 'v')
			a->verbose = true;
		else if (ch == OPT_SOCKET)
			a->control_socket = optarg;
		else if (ch == 'C') {
			port = strtol(optarg, NULL, 10);
			if (port < 0 || port > 65535)
				rc = UTGTADM_EXIT_ERR;
			a->control_port = (int)port;
		} else if (ch == 'h') {
			admin_usage(stdout);
			return 0;
		} else if (ch == 'V') {
			printf("utgt-admin %s\n", UTGT_VERSION);
			return 0;
		} else if (ch != OPT_IGNORE) {
			rc = UTGTADM_EXIT_ERR;
		}
	}
	if (!rc && optind < argc) {
		fprintf(stderr, "utgt-admin: unexpected argument '%s'\n", argv[optind]);
		rc = UTGTADM_EXIT_ERR;
	}
	if (!rc && a->action == ACT_NONE) {
		admin_usage(stderr);
		rc = UTGTADM_EXIT_ERR;
	}
	return rc ? rc : -1;
}

int main(int argc, char **argv)
{
	struct admin a = {.conf = UTGT_ADMIN_CONF};
	int rc;

	rc = admin_parse(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (a.control_socket)
		snprintf(a.sock, sizeof(a.sock), "%s", a.control_socket);
	else
		mgmt_socket_path_for_port(a.sock, sizeof(a.sock), a.control_port);
	switch (a.action) {
	case ACT_UPDATE:
		rc = admin_update(&a);
		break;
	case ACT_SHOW:
		rc = admin_show(&a);
		break;
	case ACT_DUMP:
		rc = admin_dump(&a);
		break;
	default:
		rc = admin_each(&a);
		break;
	}
	if (fflush(stdout) != 0 && !rc)
		rc = UTGTADM_EXIT_ERR;
	return rc;
}
