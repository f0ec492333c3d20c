/* blockdev.c: checked calls through the block-device seam, and the RAM device. */
#include "blockdev.h"

#include "ota.h"

#include <string.h>

static int in_range(struct ota_blockdev *dev, uint32_t block, uint32_t count)
{
	uint32_t total = dev->ops->block_count(dev);

	return block <= total && count <= total - block;
}

int ota_blockdev_read(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count)
{
	if (!in_range(dev, block, count))
		return OTA_E_INVALID;
	return dev->ops->read(dev, block, buf, count) == OTA_OK ? OTA_OK : OTA_E_IO;
}

int ota_blockdev_write(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count)
{
	if (!in_range(dev, block, count))
		return OTA_E_INVALID;
	return dev->ops->write(dev, block, buf, count) == OTA_OK ? OTA_OK : OTA_E_IO;
}

int ota_blockdev_flush(struct ota_blockdev *dev)
{
	return dev->ops->flush(dev) == OTA_OK ? OTA_OK : OTA_E_IO;
}

/* ---------------------------------------------------------------- RAM device */

static struct ota_ram_blockdev *ram_of(struct ota_blockdev *dev)
{
	return dev->ctx;
}

static int ram_read(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count)
{
	struct ota_ram_blockdev *ram = ram_of(dev);

	memcpy(buf, ram->mem + (size_t)block * ram->block_size, (size_t)count * ram->block_size);
	return OTA_OK;
}

static int ram_write(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count)
{
	struct ota_ram_blockdev *ram = ram_of(dev);

	memcpy(ram->mem + (size_t)block * ram->block_size, buf, (size_t)count * ram->block_size);
	return OTA_OK;
}

static int ram_flush(struct ota_blockdev *dev)
{
	(void)dev;
	return OTA_OK;
}

static uint32_t ram_block_size(struct ota_blockdev *dev)
{
	return ram_of(dev)->block_size;
}

static uint32_t ram_block_count(struct ota_blockdev *dev)
{
	return ram_of(dev)->block_count;
}

static const struct ota_blockdev_ops ram_ops = {
    .read = ram_read,
    .write = ram_write,
    .flush = ram_flush,
    .block_size = ram_block_size,
    .block_count = ram_block_count,
};

void ota_ram_blockdev_init(struct ota_ram_blockdev *ram, uint8_t *mem, uint32_t block_size,
			   uint32_t block_count)
{
	ram->dev.ops = &ram_ops;
	ram->dev.ctx = ram;
	ram->mem = mem;
	ram->block_size = block_size;
	ram->block_count = block_count;
}

/* ---------------------------------------------------------------- slice */

static struct ota_blockdev_slice *slice_of(struct ota_blockdev *dev)
{
	return dev->ctx;
}

static int slice_read(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count)
{
	struct ota_blockdev_slice *s = slice_of(dev);

	return ota_blockdev_read(s->parent, s->first + block, buf, count);
}

static int slice_write(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count)
{
	struct ota_blockdev_slice *s = slice_of(dev);

	return ota_blockdev_write(s->parent, s->first + block, buf, count);
}

static int slice_flush(struct ota_blockdev *dev)
{
	return ota_blockdev_flush(slice_of(dev)->parent);
}

static uint32_t slice_block_size(struct ota_blockdev *dev)
{
	struct ota_blockdev *parent = slice_of(dev)->parent;

	return parent->ops->block_size(parent);
}

static uint32_t slice_block_count(struct ota_blockdev *dev)
{
	return slice_of(dev)->count;
}

static const struct ota_blockdev_ops slice_ops = {
    .read = slice_read,
    .write = slice_write,
    .flush = slice_flush,
    .block_size = slice_block_size,
    .block_count = slice_block_count,
};

int ota_blockdev_slice_init(struct ota_blockdev_slice *slice, struct ota_blockdev *parent,
			    uint32_t first, uint32_t count)
{
	uint32_t total = parent->ops->block_count(parent);

	if (first > total || count > total - first)
		return OTA_E_INVALID;
	slice->dev.ops = &slice_ops;
	slice->dev.ctx = slice;
	slice->parent = parent;
	slice->first = first;
	slice->count = count;
	return OTA_OK;
}
