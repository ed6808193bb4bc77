/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scsi: device types. Each implements struct core_devtype (core/core.h): an opcode table
 * (handler, CDB length, data direction, service actions, flags) that decodes and validates
 * every CDB field and either answers from metadata or hands a struct core_io to the LU's
 * backing store. spc.c holds the commands every type shares (INQUIRY and VPD pages, REPORT
 * LUNS, REQUEST SENSE, MODE SENSE, REPORT SUPPORTED OPERATION CODES, TEST UNIT READY);
 * sbc.c is the disk, scc.c the controller at LUN 0, nolu.c answers for absent LUNs.
 *
 * Threads: cmd_exec runs on the command's reactor; lu_init/lu_config on the management thread.
 *
 * Prefix owned: scsi_.
 */
#ifndef UTGT_SCSI_SCSI_H
#define UTGT_SCSI_SCSI_H

#include "core/core.h"

extern const struct core_devtype scsi_disk;
extern const struct core_devtype scsi_controller;
extern const struct core_devtype scsi_nolu;
extern const struct core_devtype scsi_cd;      /* mmc.c: "cd" */
extern const struct core_devtype scsi_tape;    /* ssc.c: "tape" */
extern const struct core_devtype scsi_changer; /* smc.c: "changer" */
extern const struct core_devtype scsi_osd;     /* osd.c: "osd" */

/* Registers every device type, and the absent-LUN handler, with the core (start-up). */
void scsi_register_all(struct core_root *root);

#endif
