/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt_int: private to src/mgmt/. The decoded request (struct mgmt_req), the server object,
 * and the handler functions dispatch.c routes each mode/op to. Unit tests include it to drive
 * the handlers without a socket.
 */
#ifndef UTGT_MGMT_MGMT_INT_H
#define UTGT_MGMT_MGMT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mgmt/mgmt.h"
#include "mgmt/wire.h"
#include "reactor/reactor.h"
#include "util/util.h"

struct core_target;

/* Bounds on request strings (bytes, without the NUL); docs/mgmt-protocol.md lists them. */
#define MGMT_LEN_SHORT   63    /* lld, name, bstype, bsoflags, device_type, params keys */
#define MGMT_LEN_VALUE   255   /* value, initiator_address, user, password, params values */
#define MGMT_LEN_IQN     223   /* targetname, initiator_name (RFC 7143 §4.2.7.1) */
#define MGMT_LEN_BSOPTS  1023
#define MGMT_LEN_PATH    4095
#define MGMT_LEN_PARAMS  4095  /* params as one "k=v,k=v" string */
#define MGMT_PARAMS_MAX  64    /* key=value pairs in params */

#define MGMT_CLIENTS_MAX 64    /* concurrent connections; more are closed at once */
#define MGMT_TIMEOUT_MS  5000  /* a client must send its whole request within this */

/*
 * One decoded request. Strings point into the JSON document (json_t) they came from and stay
 * valid while it lives; NULL means the field was absent. Integers have a has_ flag.
 */
struct mgmt_req {
	enum mgmt_mode mode;
	enum mgmt_op op;
	const char *lld;
	bool has_tid;
	uint32_t tid;
	bool has_lun;
	uint64_t lun;
	bool has_sid;
	uint64_t sid;                  /* session: the TSIH shown as "I_T nexus" */
	bool has_cid;
	uint32_t cid;
	bool has_host_no;
	uint32_t host_no;              /* tgtadm --host/--bus; accepted, not supported */
	bool has_blocksize;
	uint32_t blocksize;
	bool force;
	bool outgoing;
	const char *name;
	const char *value;
	const char *targetname;
	const char *backing_store;
	const char *bstype;
	const char *bsopts;
	const char *bsoflags;
	const char *device_type;
	const char *initiator_address;
	const char *initiator_name;
	const char *user;
	const char *password;
	const json_t *params;          /* string "k=v,k=v" or object {"k": "v"}; NULL if absent */
	const char *config;            /* system update name=config: the file (absolute path) */
	bool dry_run;                  /* system update name=config: plan only */
};

/* The outcome of a request: an error code, an optional detail text and show data. */
struct mgmt_rsp {
	enum mgmt_err err;
	char detail[160];              /* extra context for the log and --debug; may be empty */
	json_t *data;                  /* owned; only on success of show-like operations */
};

struct mgmt_client;

struct mgmt_server {
	struct reactor *ctl;
	struct core_root *root;
	struct iscsi_lld *lld;         /* may be NULL in unit tests */
	char path[108];                /* sizeof(sockaddr_un.sun_path) */
	gid_t allowed_gid;
	uid_t owner_uid;               /* euid at start-up (before utgtd --user drops it) */
	void (*on_shutdown)(void *arg);
	int (*portal_add)(void *arg, const char *portal, uint16_t tpgt);
	int (*portal_del)(void *arg, const char *portal);
	void *arg;
	int fd;                        /* listening socket, -1 when none */
	dev_t sock_dev;                /* the socket file we bound: unlinked only if unchanged */
	ino_t sock_ino;
	struct reactor_watch watch;
	struct reactor_timer accept_timer; /* re-enables accept after EMFILE and the like */
	struct log_ratelimit accept_rl;
	struct list_head clients;      /* struct mgmt_client */
	unsigned int nr_clients;
	unsigned int timeout_ms;       /* MGMT_TIMEOUT_MS; tests shorten it */
	bool shutdown_requested;       /* sys delete succeeded: stop once the answer is out */
	const char *config_path;       /* mgmt_config.config_path: saveconfig's default */
	json_t *lu_updates;            /* {"tid/lun": ["k=v,...", ...]} (lu.c); NULL: none yet */
};

/*
 * Decodes the request document root into req. Returns MGMT_OK or the error to answer with
 * (MGMT_ERR_INVALID_REQUEST for a bad field, with a detail in rsp). Never allocates.
 */
enum mgmt_err mgmt_req_decode(const json_t *root, struct mgmt_req *req, struct mgmt_rsp *rsp);

/*
 * Splits req->params into key/value pairs and calls fn for each, stopping at the first
 * non-zero return, which it returns. MGMT_ERR_INVALID_REQUEST for a malformed list.
 */
typedef enum mgmt_err (*mgmt_param_fn)(const char *key, const char *value, void *arg);
enum mgmt_err mgmt_req_params_foreach(const json_t *params, mgmt_param_fn fn, void *arg,
				      struct mgmt_rsp *rsp);

/* Parses a bsoflags string ("sync", "direct", "sync:direct", "direct,sync") to CORE_BSOFLAG_*. */
int mgmt_req_parse_bsoflags(const char *s, uint32_t *out);

/* Decodes and routes one request document (config.c runs its plan through it). */
enum mgmt_err mgmt_handle_req(struct mgmt_server *srv, const json_t *root, struct mgmt_rsp *rsp);

/* Formats rsp->detail. */
__printf(2, 3) void mgmt_rsp_detail(struct mgmt_rsp *rsp, const char *fmt, ...);

/* Handlers: fill rsp (err, detail, data). req has passed decoding. */
void mgmt_sys_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_sys_update(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_sys_delete(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_lld_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_portal_show(struct mgmt_server *srv, const struct mgmt_req *req,
		      struct mgmt_rsp *rsp);
void mgmt_portal_new(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_portal_delete(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp);
void mgmt_lld_start(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_target_new(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_target_delete(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp);
void mgmt_target_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_target_bind(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_target_unbind(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp);
void mgmt_target_update(struct mgmt_server *srv, const struct mgmt_req *req,
			struct mgmt_rsp *rsp);
void mgmt_lu_new(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_lu_delete(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_lu_update(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_lu_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_conn_show(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_conn_delete(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_session_show(struct mgmt_server *srv, const struct mgmt_req *req,
		       struct mgmt_rsp *rsp);
void mgmt_session_delete(struct mgmt_server *srv, const struct mgmt_req *req,
			 struct mgmt_rsp *rsp);
void mgmt_account_show(struct mgmt_server *srv, const struct mgmt_req *req,
		       struct mgmt_rsp *rsp);
void mgmt_account_new(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_account_delete(struct mgmt_server *srv, const struct mgmt_req *req,
			 struct mgmt_rsp *rsp);
void mgmt_account_bind(struct mgmt_server *srv, const struct mgmt_req *req, struct mgmt_rsp *rsp);
void mgmt_account_unbind(struct mgmt_server *srv, const struct mgmt_req *req,
			 struct mgmt_rsp *rsp);
/*
 * Device-type --params history (lu.c). The core reports the LU parameters it owns (identity,
 * flags), and the dump writes those from the live state; device-type keys (a changer's
 * element_type=..., media_home=...; a disk's physical_block_size=...) have no such report,
 * so every successful `logicalunit new/update` keeps its device-type pairs, in order, and
 * the dump replays them as `params` lines. At most MGMT_LU_UPDATES_MAX lines per LU.
 */
#define MGMT_LU_UPDATES_MAX 4096
/* An LU parameter the core owns (core_lu_config), with how a targets.conf value is checked. */
struct mgmt_lu_key {
	const char *key;
	char kind;                     /* 's' identity string, 'b' boolean, 'n' number */
	unsigned int max;              /* 's': at most max characters; 'n': at most max */
};

/* The core's LU parameter named key, or NULL. */
const struct mgmt_lu_key *mgmt_lu_key_find(const char *key);
/* Whether key is an LU parameter the core owns (dumped from the live LU, not the history). */
bool mgmt_lu_key_is_core(const char *key);
void mgmt_lu_history_record(struct mgmt_server *srv, uint32_t tid, uint64_t lun,
			    const json_t *params);
/* Forgets one LU's history, or all of tid's when all_luns. */
void mgmt_lu_history_drop(struct mgmt_server *srv, uint32_t tid, uint64_t lun, bool all_luns);
/* The LU's recorded lines (a JSON array, borrowed) or NULL. */
const json_t *mgmt_lu_history(struct mgmt_server *srv, uint32_t tid, uint64_t lun);

/* The accounts bound to tid as a JSON array of {"user", "outgoing"} (account.c). */
json_t *mgmt_show_accounts(struct mgmt_server *srv, uint32_t tid);

/*
 * Show builders (show.c): the JSON object of one target as in docs/mgmt-protocol.md; with
 * luns_only, only tid, name and the LUN list (filtered to one LUN when lun_filter is set).
 * Take tgt->lock themselves. NULL on ENOMEM.
 */
json_t *mgmt_show_target(struct mgmt_server *srv, struct core_target *tgt, bool luns_only,
			 const uint64_t *lun_filter);

/* A JSON string for text an initiator chose (non-UTF-8 bytes become '?'); NULL gives null. */
json_t *mgmt_json_peer_str(const char *s);

/* Looks up req's target, answering NO_TARGET (missing tid or unknown target) into rsp. */
struct core_target *mgmt_req_target(struct mgmt_server *srv, const struct mgmt_req *req,
				    struct mgmt_rsp *rsp);

#endif
