/*
 * blockdev_file.h: a block device in a file (or a raw partition), for the
 * host CLI: `flotilla store` prepares and inspects slot stores with it.
 * POSIX (pread/pwrite/fsync): host only, not part of the portable core.
 */
#ifndef OTA_HOST_BLOCKDEV_FILE_H
#define OTA_HOST_BLOCKDEV_FILE_H

#include <stdint.h>

#include "../blockdev.h"

struct ota_file_blockdev {
	struct ota_blockdev dev;
	int fd;
	uint32_t block_size, block_count;
};

/*
 * Opens path. create_size > 0 creates (or extends) the file to that many
 * bytes first. Returns 0, or -1 with errno set (EINVAL: the file is not a
 * whole number of blocks).
 */
int ota_file_blockdev_open(struct ota_file_blockdev *f, const char *path, uint32_t block_size,
			   uint64_t create_size);
void ota_file_blockdev_close(struct ota_file_blockdev *f);

#endif
