/*
 * mbr.h: the DOS partition table in a disk's first sector, parsed and
 * checked. Portable (no hardware, no allocation): host-tested in
 * tests/unit/test_mbr.c.
 *
 * Only the four primary entries are read; extended partitions are listed
 * like any other entry but never followed (Flotilla's cards have none).
 */
#ifndef FLOTILLA_CONTROL_MBR_H
#define FLOTILLA_CONTROL_MBR_H

#include <stdint.h>

#define MBR_SECTOR_SIZE 512u
#define MBR_ENTRIES     4

/* The partition type of Flotilla's OTA slot store ("non-FS data"). */
#define MBR_TYPE_FLOTILLA_STORE 0xdau

struct mbr_partition {
	uint8_t number; /* 1-4, as Linux names them (mmcblk0p<number>) */
	uint8_t type;
	uint8_t bootable;
	uint32_t first_sector;
	uint32_t sector_count;
};

/*
 * Parse sector (MBR_SECTOR_SIZE bytes) of a disk of disk_sectors sectors
 * into parts[] (used entries only, in table order). Returns how many
 * (0-4), or -1 with *error set to a one-line reason when the table is
 * malformed: no 0x55AA signature, a bad boot flag, an empty or
 * zero-start entry, an entry past the end of the disk, or two entries
 * that overlap.
 */
int mbr_parse(const uint8_t *sector, uint64_t disk_sectors, struct mbr_partition parts[MBR_ENTRIES],
	      const char **error);

/* The first partition of type in parts[0..count), or NULL. */
const struct mbr_partition *mbr_find_type(const struct mbr_partition *parts, int count,
					  uint8_t type);

#endif
