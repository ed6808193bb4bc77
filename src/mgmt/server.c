/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/server: the Unix stream socket on the control reactor. Each accepted client goes
 * through READ_HDR -> READ_BODY -> WRITE -> closed, never blocking: a 4-byte big-endian length
 * (1..MGMT_FRAME_MAX), the JSON request, then one response frame. Peers are checked with
 * SO_PEERCRED (root, the daemon's own user, or the allowed group, also as a supplementary
 * group); a client that does not finish within timeout_ms is dropped, and at most
 * MGMT_CLIENTS_MAX clients exist at once.
 */
#include "mgmt/mgmt_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MGMT_BACKLOG        32
#define MGMT_ACCEPT_BUDGET  16     /* accepts per wakeup */
#define MGMT_READ_BUDGET    8      /* reads per wakeup and client */
#define MGMT_BUF_START      4096
#define MGMT_PEER_GROUPS    256

enum mgmt_client_state {
	MGMT_CLIENT_READ_HDR,
	MGMT_CLIENT_READ_BODY,
	MGMT_CLIENT_WRITE,
};

struct mgmt_client {
	struct list_head entry;        /* srv->clients */
	struct mgmt_server *srv;
	int fd;
	enum mgmt_client_state state;
	struct reactor_watch watch;
	struct reactor_timer timer;    /* whole-exchange deadline */
	uint8_t hdr[4];
	size_t hdr_got;
	char *buf;                     /* request body, grows up to len */
	size_t buf_cap;
	size_t len;                    /* announced body length */
	size_t got;
	char *out;                     /* response frame: 4-byte length + JSON */
	size_t out_len;
	size_t out_off;
	bool shutdown_after;           /* this client's request asked the daemon to stop */
};

/* Frees c. Calls on_shutdown last, when c asked for it: the callback may free srv. */
static void mgmt_client_close(struct mgmt_client *c)
{
	struct mgmt_server *srv = c->srv;
	bool shutdown = c->shutdown_after;

	reactor_watch_del(srv->ctl, &c->watch);
	reactor_timer_cancel(srv->ctl, &c->timer);
	close(c->fd);
	list_del(&c->entry);
	srv->nr_clients--;
	free(c->buf);
	free(c->out);
	free(c);
	if (shutdown && srv->on_shutdown)
		srv->on_shutdown(srv->arg);
}

static int mgmt_client_write(struct mgmt_client *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return reactor_watch_mod(c->srv->ctl, &c->watch, EPOLLOUT);
		if (n <= 0)
			return -EPIPE;
		c->out_off += (size_t)n;
	}
	return 1; /* all sent */
}

/* Frames the response text (takes ownership) and starts writing it. */
static int mgmt_client_respond(struct mgmt_client *c, char *text)
{
	size_t len = strlen(text);

	c->out = malloc(len + 4);
	if (!c->out) {
		free(text);
		return -ENOMEM;
	}
	put_be32((uint8_t *)c->out, (uint32_t)len);
	memcpy(c->out + 4, text, len);
	free(text);
	c->out_len = len + 4;
	c->state = MGMT_CLIENT_WRITE;
	return mgmt_client_write(c);
}

static char *mgmt_error_text(enum mgmt_err err, const char *detail)
{
	json_t *o = json_pack("{s:i,s:s,s:s}", "err", (int)err, "msg", mgmt_err_str((int)err),
			      "detail", detail);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

static int mgmt_client_execute(struct mgmt_client *c)
{
	struct mgmt_server *srv = c->srv;
	bool was_requested = srv->shutdown_requested;
	char *text;

	text = mgmt_handle_json(srv, c->buf, c->len);
	if (!text)
		text = mgmt_error_text(MGMT_ERR_NOMEM, "");
	if (!text)
		return -ENOMEM;
	if (srv->shutdown_requested && !was_requested)
		c->shutdown_after = true;
	free(c->buf);
	c->buf = NULL;
	return mgmt_client_respond(c, text);
}

/* Accepts the header; 0 to go on reading, or the result of answering a bad length. */
static int mgmt_client_got_hdr(struct mgmt_client *c)
{
	char *text;

	c->len = get_be32(c->hdr);
	if (c->len == 0 || c->len > MGMT_FRAME_MAX) {
		text = mgmt_error_text(MGMT_ERR_INVALID_REQUEST, "bad frame length");
		return text ? mgmt_client_respond(c, text) : -ENOMEM;
	}
	c->state = MGMT_CLIENT_READ_BODY;
	return 0;
}

/* Makes room for the next read without allocating the whole announced length up front. */
static int mgmt_client_grow(struct mgmt_client *c)
{
	size_t cap;
	char *p;

	if (c->got < c->buf_cap)
		return 0;
	cap = c->buf_cap ? c->buf_cap * 2 : MGMT_BUF_START;
	cap = MIN(cap, c->len);
	p = realloc(c->buf, cap);
	if (!p)
		return -ENOMEM;
	c->buf = p;
	c->buf_cap = cap;
	return 0;
}

/* One read step: > 0 progress, 0 would block, < 0 close. */
static int mgmt_client_read_once(struct mgmt_client *c)
{
	ssize_t n;
	int rc;

	if (c->state == MGMT_CLIENT_READ_HDR) {
		n = recv(c->fd, c->hdr + c->hdr_got, sizeof(c->hdr) - c->hdr_got, 0);
	} else {
		rc = mgmt_client_grow(c);
		if (rc)
			return rc;
		n = recv(c->fd, c->buf + c->got, c->buf_cap - c->got, 0);
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	if (c->state == MGMT_CLIENT_READ_HDR) {
		c->hdr_got += (size_t)n;
		if (c->hdr_got == sizeof(c->hdr))
			return mgmt_client_got_hdr(c) < 0 ? -EPIPE : 1;
		return 1;
	}
	c->got += (size_t)n;
	if (c->got == c->len)
		return mgmt_client_execute(c) < 0 ? -EPIPE : 1;
	return 1;
}

static void mgmt_client_event(struct reactor_watch *w, uint32_t events)
{
	struct mgmt_client *c = container_of(w, struct mgmt_client, watch);
	unsigned int i;
	int rc = 0;

	if (c->state == MGMT_CLIENT_WRITE) {
		rc = mgmt_client_write(c);
	} else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (i = 0; i < MGMT_READ_BUDGET && c->state != MGMT_CLIENT_WRITE; i++) {
			rc = mgmt_client_read_once(c);
			if (rc <= 0)
				break;
		}
		if (rc > 0 && c->state == MGMT_CLIENT_WRITE)
			rc = c->out_off == c->out_len ? 1 : 0;
	}
	/* Done writing (1 in WRITE state) or failed: the exchange is over. */
	if (rc < 0 || (c->state == MGMT_CLIENT_WRITE && c->out_off == c->out_len))
		mgmt_client_close(c);
}

static void mgmt_client_timeout(struct reactor_timer *t)
{
	struct mgmt_client *c = container_of(t, struct mgmt_client, timer);

	log_dbg("mgmt: client timed out");
	mgmt_client_close(c);
}

/* SO_PEERCRED (and SO_PEERGROUPS for supplementary groups) against the allowed users. */
static bool mgmt_peer_allowed(const struct mgmt_server *srv, int fd)
{
	gid_t groups[MGMT_PEER_GROUPS];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	unsigned int i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == 0 || cred.uid == srv->owner_uid)
		return true;
	if (srv->allowed_gid == (gid_t)-1) {
		log_warn("mgmt: refused peer pid %d uid %u", (int)cred.pid, (unsigned int)cred.uid);
		return false;
	}
	if (cred.gid == srv->allowed_gid)
		return true;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (i = 0; i < len / sizeof(gid_t); i++)
			if (groups[i] == srv->allowed_gid)
				return true;
	}
	log_warn("mgmt: refused peer pid %d uid %u: not in group %u", (int)cred.pid,
		 (unsigned int)cred.uid, (unsigned int)srv->allowed_gid);
	return false;
}

static void mgmt_client_new(struct mgmt_server *srv, int fd)
{
	struct mgmt_client *c;

	if (srv->nr_clients >= MGMT_CLIENTS_MAX || !mgmt_peer_allowed(srv, fd))
		goto err_close;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto err_close;
	c->srv = srv;
	c->fd = fd;
	reactor_timer_init(&c->timer, mgmt_client_timeout);
	if (reactor_watch_add(srv->ctl, &c->watch, fd, EPOLLIN, mgmt_client_event) < 0) {
		free(c);
		goto err_close;
	}
	if (reactor_timer_arm(srv->ctl, &c->timer, srv->timeout_ms) < 0) {
		reactor_watch_del(srv->ctl, &c->watch);
		free(c);
		goto err_close;
	}
	list_add_tail(&c->entry, &srv->clients);
	srv->nr_clients++;
	return;

err_close:
	close(fd);
}

static void mgmt_server_accept_resume(struct reactor_timer *t)
{
	struct mgmt_server *srv = container_of(t, struct mgmt_server, accept_timer);

	reactor_watch_mod(srv->ctl, &srv->watch, EPOLLIN);
}

static void mgmt_server_accept(struct reactor_watch *w, uint32_t events)
{
	struct mgmt_server *srv = container_of(w, struct mgmt_server, watch);
	unsigned int i;
	int fd;

	(void)events;
	for (i = 0; i < MGMT_ACCEPT_BUDGET; i++) {
		fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			mgmt_client_new(srv, fd);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		if (log_ratelimit_ok(&srv->accept_rl, 5, 60000))
			log_warn("mgmt: accept: %s", strerror(errno));
		/* Out of fds or memory: the socket stays readable (level-triggered), so pause. */
		if (reactor_watch_mod(srv->ctl, &srv->watch, 0) == 0)
			reactor_timer_arm(srv->ctl, &srv->accept_timer, 100);
		return;
	}
}

/* mkdir -p of path's directory, new components with mode 0755. */
static int mgmt_mkdir_parents(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	str_copy(dir, path, sizeof(dir));
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Decides about an existing path: -EADDRINUSE when it is not a socket or a daemon answers on
 * it, 0 after removing a stale socket (connect refused) or when it has vanished.
 */
static int mgmt_socket_reclaim(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd;
	int rc;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EADDRINUSE;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	rc = rc < 0 ? -errno : 0;
	close(fd);
	if (rc != -ECONNREFUSED && rc != -ENOENT)
		return -EADDRINUSE; /* accepted, or backlog full (EAGAIN): alive */
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	log_info("mgmt: removed stale control socket %s", sun->sun_path);
	return 0;
}

static int mgmt_socket_bind(struct mgmt_server *srv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int rc;

	str_copy(sun.sun_path, srv->path, sizeof(sun.sun_path));
	rc = bind(srv->fd, (struct sockaddr *)&sun, sizeof(sun));
	if (rc < 0 && errno == EADDRINUSE) {
		rc = mgmt_socket_reclaim(&sun);
		if (rc < 0)
			return rc;
		rc = bind(srv->fd, (struct sockaddr *)&sun, sizeof(sun));
	}
	if (rc < 0)
		return -errno;
	if (lstat(srv->path, &st) < 0)
		return -errno;
	srv->sock_dev = st.st_dev;
	srv->sock_ino = st.st_ino;
	return 0;
}

/* Removes the socket file if it is still the one we bound. */
static void mgmt_socket_unlink(struct mgmt_server *srv)
{
	struct stat st;

	if (srv->sock_ino && lstat(srv->path, &st) == 0 && st.st_dev == srv->sock_dev &&
	    st.st_ino == srv->sock_ino)
		unlink(srv->path);
	srv->sock_ino = 0;
}

static int mgmt_socket_open(struct mgmt_server *srv)
{
	bool group = srv->allowed_gid != (gid_t)-1;
	int rc;

	rc = mgmt_mkdir_parents(srv->path);
	if (rc)
		return rc;
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0)
		return -errno;
	rc = mgmt_socket_bind(srv);
	if (rc)
		return rc;
	/* Peer credentials are checked on every connection; the mode is a second fence. */
	if (chmod(srv->path, group ? 0660 : 0600) < 0)
		return -errno;
	if (group && chown(srv->path, (uid_t)-1, srv->allowed_gid) < 0)
		return -errno;
	if (listen(srv->fd, MGMT_BACKLOG) < 0)
		return -errno;
	return reactor_watch_add(srv->ctl, &srv->watch, srv->fd, EPOLLIN, mgmt_server_accept);
}

int mgmt_server_new(struct reactor *ctl, struct core_root *root, struct iscsi_lld *lld,
		    const struct mgmt_config *cfg, struct mgmt_server **out)
{
	struct mgmt_server *srv;
	int rc;

	if (!cfg->socket_path || !*cfg->socket_path)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	if (str_copy(srv->path, cfg->socket_path, sizeof(srv->path)) >= sizeof(srv->path)) {
		free(srv);
		return -ENAMETOOLONG;
	}
	srv->ctl = ctl;
	srv->root = root;
	srv->lld = lld;
	srv->allowed_gid = cfg->allowed_gid;
	srv->owner_uid = geteuid();
	srv->on_shutdown = cfg->on_shutdown;
	srv->portal_add = cfg->portal_add;
	srv->portal_del = cfg->portal_del;
	srv->arg = cfg->arg;
	srv->config_path = cfg->config_path;
	srv->fd = -1;
	srv->timeout_ms = MGMT_TIMEOUT_MS;
	list_init(&srv->clients);
	reactor_timer_init(&srv->accept_timer, mgmt_server_accept_resume);
	rc = mgmt_socket_open(srv);
	if (rc) {
		if (srv->fd >= 0)
			close(srv->fd);
		mgmt_socket_unlink(srv);
		free(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

void mgmt_server_free(struct mgmt_server *srv)
{
	struct mgmt_client *c;
	struct mgmt_client *tmp;

	if (!srv)
		return;
	list_for_each_entry_safe(c, tmp, &srv->clients, entry) {
		c->shutdown_after = false;
		mgmt_client_close(c);
	}
	reactor_timer_cancel(srv->ctl, &srv->accept_timer);
	if (srv->fd >= 0) {
		reactor_watch_del(srv->ctl, &srv->watch);
		close(srv->fd);
	}
	mgmt_socket_unlink(srv);
	json_decref(srv->lu_updates);
	free(srv);
}
