/*
 * blockdev.h: the storage seam under the slot store.
 *
 * Five operations, after MCUboot's flash-area API, shaped for SD/MMC: the
 * medium is an array of equal blocks that can be rewritten in place (no
 * erase). A port implements struct ota_blockdev_ops; the slot store calls
 * nothing else.
 *
 * What the slot store relies on, and a port MUST provide:
 *  - write() may be interrupted by a power cut at any block, and the block
 *    being written may be left torn (part new, part old or garbage); blocks
 *    not being written are never changed;
 *  - flush() returns only when every earlier write is durable: writes issued
 *    before it are never lost or reordered after a later write lands.
 * What a port MUST NOT rely on: any particular order of writes between two
 * flushes, or that the slot store writes whole slots.
 */
#ifndef OTA_BLOCKDEV_H
#define OTA_BLOCKDEV_H

#include <stdint.h>

struct ota_blockdev;

struct ota_blockdev_ops {
	/* count blocks from block into buf; OTA_OK or OTA_E_IO. */
	int (*read)(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count);
	int (*write)(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count);
	int (*flush)(struct ota_blockdev *dev);
	uint32_t (*block_size)(struct ota_blockdev *dev); /* bytes, a power of two ≥ 256 */
	uint32_t (*block_count)(struct ota_blockdev *dev);
};

struct ota_blockdev {
	const struct ota_blockdev_ops *ops;
	void *ctx; /* the port's own state */
};

/* Bounds-checked calls through the ops table, used by the slot store. */
int ota_blockdev_read(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count);
int ota_blockdev_write(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count);
int ota_blockdev_flush(struct ota_blockdev *dev);

/*
 * RAM block device: count blocks of size bytes in caller-provided memory
 * (no allocation), for host tests and as the model the power-cut simulator
 * wraps. Portable: it can back a RAM store on the target too.
 */
struct ota_ram_blockdev {
	struct ota_blockdev dev;
	uint8_t *mem;
	uint32_t block_size, block_count;
};

void ota_ram_blockdev_init(struct ota_ram_blockdev *ram, uint8_t *mem, uint32_t block_size,
			   uint32_t block_count);

/*
 * A window of count blocks from block first of another device, so that one
 * partition can hold the slot store and, after it, the event log, each
 * unable to reach the other's blocks. Writes and flushes go to the parent.
 */
struct ota_blockdev_slice {
	struct ota_blockdev dev;
	struct ota_blockdev *parent;
	uint32_t first, count;
};

/* OTA_E_INVALID when the window is not inside the parent. */
int ota_blockdev_slice_init(struct ota_blockdev_slice *slice, struct ota_blockdev *parent,
			    uint32_t first, uint32_t count);

#endif
