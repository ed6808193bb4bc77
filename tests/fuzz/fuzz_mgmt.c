/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer target: the management request path, mgmt_handle_json (JSON parsing, the bounded
 * decoder of request.c, routing and every handler) against a real core with the real device
 * types, backing stores and iSCSI driver. After each input every target and account is removed
 * and the system state reset, so inputs do not depend on each other.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bs/bs.h"
#include "core/core.h"
#include "lld/iscsi/iscsi.h"
#include "mgmt/mgmt_int.h"
#include "scsi/scsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mgmt_server fz_srv; /* libFuzzer calls in one thread; built once */
static struct reactor *fz_r;

static void fuzz_init(void)
{
	log_setup("fuzz", true, LOG_LVL_ERR);
	if (reactor_new(&fz_r, 1, 0) || core_root_new(&fz_srv.root))
		abort();
	scsi_register_all(fz_srv.root);
	bs_register_all(fz_srv.root);
	if (iscsi_lld_new(fz_srv.root, &fz_r, 1, &fz_srv.lld))
		abort();
	fz_srv.ctl = fz_r;
	fz_srv.fd = -1;
	list_init(&fz_srv.clients);
}

struct fuzz_names {
	char names[CORE_ACCOUNTS_MAX][CORE_ACCOUNT_USER_MAX + 1];
	unsigned int n;
};

static void fuzz_account_name(const char *user, bool outgoing, void *arg)
{
	struct fuzz_names *fn = arg;

	(void)outgoing;
	if (fn->n < CORE_ACCOUNTS_MAX)
		str_copy(fn->names[fn->n++], user, sizeof(fn->names[0]));
}

static void fuzz_reset(void)
{
	static struct fuzz_names fn;
	struct core_target *tgt;

	while ((tgt = core_target_next(fz_srv.root, 0)))
		core_target_delete(fz_srv.root, tgt->tid, true);
	fn.n = 0;
	core_account_foreach(fz_srv.root, fuzz_account_name, &fn);
	for (unsigned int i = 0; i < fn.n; i++)
		core_account_delete(fz_srv.root, fn.names[i]);
	core_root_set_ready(fz_srv.root, true);
	log_set_level(LOG_LVL_ERR);
	fz_srv.shutdown_requested = false;
	/* deferred frees of deleted targets run on the reactor */
	for (int i = 0; i < 4; i++)
		reactor_run_once(fz_r, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out;

	if (!fz_srv.root)
		fuzz_init();
	if (size > MGMT_FRAME_MAX)
		return 0;
	out = mgmt_handle_json(&fz_srv, (const char *)data, size);
	free(out);
	fuzz_reset();
	return 0;
}
