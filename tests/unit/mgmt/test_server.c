/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * src/mgmt/server.c: the control socket on a real reactor. Socket creation (parents, mode,
 * stale and live sockets), framing (split, oversized and empty frames, big bodies), timeouts,
 * the client limit, and the shutdown request answered before the daemon is told to stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "mgmt/mgmt_int.h"
#include "mgmt_fakes.h"

struct fixture {
	struct reactor *r;
	struct core_root *root;
	struct mgmt_server *srv;
	char dir[64];
	char path[128];
	unsigned int shutdowns;
	int lld_token;
};

static void on_shutdown(void *arg)
{
	struct fixture *f = arg;

	f->shutdowns++;
}

static int server_new(struct fixture *f, const char *path, gid_t gid, struct mgmt_server **out)
{
	struct mgmt_config cfg = {
		.socket_path = path,
		.allowed_gid = gid,
		.on_shutdown = on_shutdown,
		.arg = f,
	};

	return mgmt_server_new(f->r, f->root, (struct iscsi_lld *)&f->lld_token, &cfg, out);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || reactor_new(&f->r, 0, 0))
		return -1;
	f->root = mgmt_fake_root();
	snprintf(f->dir, sizeof(f->dir), "/tmp/utgt-mgmt-XXXXXX");
	if (!f->root || !mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/run/utgt/utgtd.sock", f->dir);
	if (server_new(f, f->path, (gid_t)-1, &f->srv))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	mgmt_server_free(f->srv);
	core_root_free(f->root);
	reactor_free(f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int client_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Sends len bytes while running the reactor, so bodies larger than the socket buffer work. */
static void client_send(struct fixture *f, int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;
	int spins = 0;

	while (len && spins++ < 100000) {
		n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
		reactor_run_once(f->r, 0);
	}
	assert_int_equal(len, 0);
}

static void frame_hdr(uint8_t *hdr, uint32_t len)
{
	put_be32(hdr, len);
}

/*
 * Runs the reactor until the server answers and closes. Returns the response JSON (caller
 * frees) or NULL when the server closed without answering.
 */
static char *client_response(struct fixture *f, int fd)
{
	static char buf[1 << 16];
	size_t got = 0;
	ssize_t n;
	int spins;

	for (spins = 0; spins < 400; spins++) {
		reactor_run_once(f->r, 5);
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
	}
	close(fd);
	if (got < 4)
		return NULL;
	assert_int_equal(get_be32((uint8_t *)buf), got - 4);
	buf[got] = '\0';
	return strdup(buf + 4);
}

static char *exchange(struct fixture *f, const char *json)
{
	int fd = client_connect(f->path);
	uint8_t hdr[4];

	frame_hdr(hdr, (uint32_t)strlen(json));
	client_send(f, fd, hdr, sizeof(hdr));
	client_send(f, fd, json, strlen(json));
	return client_response(f, fd);
}

static void expect_err_in(const char *rsp, int err)
{
	char want[32];

	assert_non_null(rsp);
	snprintf(want, sizeof(want), "{\"err\":%d,", err);
	if (strncmp(rsp, want, strlen(want)))
		fail_msg("response %s, expected err %d", rsp, err);
}

static void test_socket_mode_and_parents(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char parent[160];

	(void)state;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(parent, sizeof(parent), "%s/run/utgt", f->dir);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	char *rsp = exchange(f, "{\"mode\":\"sys\",\"op\":\"show\"}");

	expect_err_in(rsp, 0);
	assert_non_null(strstr(rsp, "\"data\":{\"system\""));
	free(rsp);
	rsp = exchange(f, "{\"mode\":\"target\",\"op\":\"new\",\"tid\":1,"
			  "\"targetname\":\"iqn.2026-11.t:1\"}");
	expect_err_in(rsp, 0);
	free(rsp);
	rsp = exchange(f, "{\"mode\":\"target\",\"op\":\"new\",\"tid\":1,"
			  "\"targetname\":\"iqn.2026-11.t:1\"}");
	expect_err_in(rsp, MGMT_ERR_TARGET_EXIST);
	assert_non_null(strstr(rsp, "this target already exists"));
	free(rsp);
	assert_int_equal(f->srv->nr_clients, 0);
}

static void test_split_frame(void **state)
{
	struct fixture *f = *state;
	const char *json = "{\"mode\":\"lld\",\"op\":\"show\"}";
	int fd = client_connect(f->path);
	uint8_t hdr[4];
	char *rsp;
	size_t i;

	frame_hdr(hdr, (uint32_t)strlen(json));
	for (i = 0; i < sizeof(hdr); i++)
		client_send(f, fd, &hdr[i], 1);
	for (i = 0; json[i]; i++)
		client_send(f, fd, &json[i], 1);
	rsp = client_response(f, fd);
	expect_err_in(rsp, 0);
	free(rsp);
}

static void test_bad_frame_lengths(void **state)
{
	struct fixture *f = *state;
	uint32_t lens[] = { 0, MGMT_FRAME_MAX + 1, 0xffffffffu };
	uint8_t hdr[4];
	char *rsp;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		fd = client_connect(f->path);
		frame_hdr(hdr, lens[i]);
		client_send(f, fd, hdr, sizeof(hdr));
		rsp = client_response(f, fd);
		expect_err_in(rsp, MGMT_ERR_INVALID_REQUEST);
		assert_non_null(strstr(rsp, "bad frame length"));
		free(rsp);
	}
}

static void test_large_body(void **state)
{
	struct fixture *f = *state;
	size_t pad = 600 * 1024;
	const char *json = "{\"mode\":\"sys\",\"op\":\"show\"}";
	char *body = malloc(pad + strlen(json));
	int fd = client_connect(f->path);
	uint8_t hdr[4];
	char *rsp;

	assert_non_null(body);
	memset(body, ' ', pad);
	memcpy(body + pad, json, strlen(json));
	frame_hdr(hdr, (uint32_t)(pad + strlen(json)));
	client_send(f, fd, hdr, sizeof(hdr));
	client_send(f, fd, body, pad + strlen(json));
	rsp = client_response(f, fd);
	expect_err_in(rsp, 0);
	free(rsp);
	free(body);
}

static void test_eof_and_timeout(void **state)
{
	struct fixture *f = *state;
	uint8_t hdr[4];
	char *rsp;
	int fd;
	int i;

	/* Half a header, then the client goes away. */
	fd = client_connect(f->path);
	frame_hdr(hdr, 100);
	client_send(f, fd, hdr, 2);
	assert_int_equal(f->srv->nr_clients, 1);
	close(fd);
	for (i = 0; i < 20 && f->srv->nr_clients; i++)
		reactor_run_once(f->r, 5);
	assert_int_equal(f->srv->nr_clients, 0);

	/* A client that stalls is dropped after timeout_ms, without an answer. */
	f->srv->timeout_ms = 50;
	fd = client_connect(f->path);
	frame_hdr(hdr, 100);
	client_send(f, fd, hdr, sizeof(hdr));
	client_send(f, fd, "{\"mode\"", 7);
	rsp = client_response(f, fd);
	assert_null(rsp);
	assert_int_equal(f->srv->nr_clients, 0);
}

static void test_client_limit(void **state)
{
	struct fixture *f = *state;
	int fds[MGMT_CLIENTS_MAX + 1];
	char c;
	int i;

	for (i = 0; i <= MGMT_CLIENTS_MAX; i++) {
		fds[i] = client_connect(f->path);
		reactor_run_once(f->r, 0);
	}
	for (i = 0; i < 10; i++)
		reactor_run_once(f->r, 1);
	assert_int_equal(f->srv->nr_clients, MGMT_CLIENTS_MAX);
	assert_int_equal(recv(fds[MGMT_CLIENTS_MAX], &c, 1, 0), 0);
	for (i = 0; i <= MGMT_CLIENTS_MAX; i++)
		close(fds[i]);
	for (i = 0; i < 20 && f->srv->nr_clients; i++)
		reactor_run_once(f->r, 5);
	assert_int_equal(f->srv->nr_clients, 0);
}

static void test_shutdown_after_answer(void **state)
{
	struct fixture *f = *state;
	char *rsp;

	rsp = exchange(f, "{\"mode\":\"sys\",\"op\":\"delete\"}");
	expect_err_in(rsp, 0);
	free(rsp);
	assert_int_equal(f->shutdowns, 1);
	/* Only the request that asked gets to stop the daemon. */
	rsp = exchange(f, "{\"mode\":\"sys\",\"op\":\"show\"}");
	free(rsp);
	assert_int_equal(f->shutdowns, 1);
}

static void test_stale_live_and_foreign_paths(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct mgmt_server *other;
	char path[160];
	struct stat st;
	char *rsp;
	int fd;

	/* A live server: refused, and the first one keeps answering. */
	assert_int_equal(server_new(f, f->path, (gid_t)-1, &other), -EADDRINUSE);
	rsp = exchange(f, "{\"mode\":\"sys\",\"op\":\"show\"}");
	expect_err_in(rsp, 0);
	free(rsp);

	/* A stale socket (bound, nobody listening) is replaced. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.60s/stale.sock", f->dir);
	snprintf(path, sizeof(path), "%s", sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(server_new(f, path, (gid_t)-1, &other), 0);
	mgmt_server_free(other);
	assert_int_not_equal(lstat(path, &st), 0);

	/* Something that is not a socket is left alone. */
	snprintf(path, sizeof(path), "%s/file.sock", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	assert_int_equal(server_new(f, path, (gid_t)-1, &other), -EADDRINUSE);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	/* Too long for sun_path. */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(server_new(f, path, (gid_t)-1, &other), -ENAMETOOLONG);
}

static void test_group_mode_and_unlink(void **state)
{
	struct fixture *f = *state;
	struct mgmt_server *other;
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/group.sock", f->dir);
	assert_int_equal(server_new(f, path, getgid(), &other), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	/* Someone replaced the file: free must not remove theirs. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	mgmt_server_free(other);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_socket_mode_and_parents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frame_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_after_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_live_and_foreign_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_mode_and_unlink, setup, teardown),
	};

	log_setup("test_mgmt_server", true, LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
