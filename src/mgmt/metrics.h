/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgmt/metrics: an optional, read-only Prometheus endpoint (`utgtd --metrics ADDR:PORT`). A
 * minimal HTTP/1.0 responder on the control reactor: bounded request (2 KiB, 2 s), GET only,
 * /metrics answers the text exposition format (version 0.0.4) built from the core's counters;
 * everything else is 404/405. Connection: close after every answer.
 *
 * Threads: the control reactor's thread.
 */
#ifndef UTGT_MGMT_METRICS_H
#define UTGT_MGMT_METRICS_H

struct reactor;
struct core_root;
struct iscsi_lld;
struct mgmt_metrics;

/* Listens on "ADDR:PORT" or "[V6ADDR]:PORT". 0 or -errno (-EINVAL for a bad address). */
int mgmt_metrics_new(struct reactor *ctl, struct core_root *root, struct iscsi_lld *lld,
		     const char *addr, struct mgmt_metrics **out);
void mgmt_metrics_free(struct mgmt_metrics *m);

/* The exposition text (malloc'd), or NULL on ENOMEM. Exposed for unit tests. */
char *mgmt_metrics_text(struct core_root *root, struct iscsi_lld *lld);

#endif
