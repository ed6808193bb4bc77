/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Removable media shared by the cd and tape device types: loading, changing and unloading
 * the file behind an LU through its backing store's close/open, from the management thread
 * (`--params path=`) or from the media changer (MOVE MEDIUM).
 */
#include "scsi/scsi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_int.h"

/* Offline first, so new commands see NOT READY before the descriptor goes away. */
static void scsi_medium_close(struct core_lu *lu)
{
	lu->online = false;
	if (lu->fd >= 0 && lu->bs && lu->bs->close)
		lu->bs->close(lu);
	lu->fd = -1;
	lu->size = 0;
}

/*
 * Swaps the medium: closes the current file, then opens path (NULL or "": the drive stays
 * empty). Refused while a nexus prevents removal. A command already inside the store keeps
 * its own file reference (io_uring) or fails with a medium error; later ones see NOT READY.
 * On an open failure the drive is left empty.
 */
int scsi_medium_change(struct core_lu *lu, const char *path)
{
	char *copy = NULL;
	uint64_t size = 0;
	int fd = -1;
	int ret;

	if (lu->prevent_removal)
		return -EBUSY;
	if (path && *path && !(copy = strdup(path)))
		return -ENOMEM;
	scsi_medium_close(lu);
	free(lu->path);
	lu->path = NULL;
	if (!copy)
		return 0;
	ret = lu->bs && lu->bs->open ? lu->bs->open(lu, copy, &fd, &size) : -ENODEV;
	if (ret < 0) {
		free(copy);
		return ret;
	}
	lu->path = copy;
	lu->fd = fd;
	lu->size = size;
	lu->online = true;
	return 0;
}
