/* blockdev_file.c: struct ota_blockdev over a file descriptor. */
#define _POSIX_C_SOURCE 200809L
#include "blockdev_file.h"

#include "../ota.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ota_file_blockdev *file_of(struct ota_blockdev *dev)
{
	return dev->ctx;
}

/* Moves count blocks at block between the file and buf, retrying short transfers. */
static int file_transfer(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count,
			 int write)
{
	struct ota_file_blockdev *f = file_of(dev);
	size_t len = (size_t)count * f->block_size;
	off_t off = (off_t)block * f->block_size;
	char *p = buf;

	for (size_t done = 0; done < len;) {
		ssize_t n = write ? pwrite(f->fd, p + done, len - done, off + (off_t)done)
				  : pread(f->fd, p + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return OTA_E_IO;
		done += (size_t)n;
	}
	return OTA_OK;
}

static int file_read(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count)
{
	return file_transfer(dev, block, buf, count, 0);
}

static int file_write(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count)
{
	/* pwrite() only reads the buffer: dropping const here is safe. */
	return file_transfer(dev, block, (void *)(uintptr_t)buf, count, 1);
}

static int file_flush(struct ota_blockdev *dev)
{
	return fsync(file_of(dev)->fd) == 0 ? OTA_OK : OTA_E_IO;
}

static uint32_t file_block_size(struct ota_blockdev *dev)
{
	return file_of(dev)->block_size;
}

static uint32_t file_block_count(struct ota_blockdev *dev)
{
	return file_of(dev)->block_count;
}

static const struct ota_blockdev_ops file_ops = {
    .read = file_read,
    .write = file_write,
    .flush = file_flush,
    .block_size = file_block_size,
    .block_count = file_block_count,
};

int ota_file_blockdev_open(struct ota_file_blockdev *f, const char *path, uint32_t block_size,
			   uint64_t create_size)
{
	struct stat st;
	uint64_t blocks;

	if (block_size == 0) {
		f->fd = -1;
		errno = EINVAL;
		return -1;
	}
	f->fd = open(path, O_RDWR | O_CLOEXEC | (create_size > 0 ? O_CREAT : 0), 0644);
	if (f->fd < 0)
		return -1;
	if (create_size > 0 &&
	    (fstat(f->fd, &st) != 0 ||
	     ((uint64_t)st.st_size < create_size && ftruncate(f->fd, (off_t)create_size) != 0)))
		goto fail;
	if (fstat(f->fd, &st) != 0)
		goto fail;
	blocks = (uint64_t)st.st_size / block_size;
	if ((uint64_t)st.st_size % block_size != 0 || blocks == 0 || blocks > UINT32_MAX) {
		errno = EINVAL;
		goto fail;
	}
	f->dev.ops = &file_ops;
	f->dev.ctx = f;
	f->block_size = block_size;
	f->block_count = (uint32_t)blocks;
	return 0;
fail : {
	int saved = errno;

	close(f->fd);
	f->fd = -1;
	errno = saved;
}
	return -1;
}

void ota_file_blockdev_close(struct ota_file_blockdev *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}
