/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bs: registration of the backing-store drivers with the core. Kept apart from the drivers so
 * that linking a driver never drags in the core's registry.
 */
#include "bs/bs.h"

void bs_register_all(struct core_root *root)
{
	core_root_add_bs(root, &bs_uring);
	core_root_add_bs(root, &bs_rdwr);
	core_root_add_bs(root, &bs_aio);
	core_root_add_bs(root, &bs_null);
	core_root_add_bs(root, &bs_tape);
	core_root_add_bs(root, &bs_fault);
	core_root_add_bs(root, &bs_sg);
	core_root_add_devtype(root, &bs_sg_pt);
}
