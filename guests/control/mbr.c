/* mbr.c: the DOS partition table, checked before anything trusts it. */
#include "mbr.h"

#include <stddef.h>

#define MBR_TABLE_OFFSET 446u
#define MBR_ENTRY_SIZE   16u

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int mbr_parse(const uint8_t *sector, uint64_t disk_sectors, struct mbr_partition parts[MBR_ENTRIES],
	      const char **error)
{
	const char *unused;
	if (!error)
		error = &unused;
	if (sector[510] != 0x55 || sector[511] != 0xaa) {
		*error = "no partition table (sector 0 lacks the 0x55AA signature)";
		return -1;
	}
	int count = 0;
	for (int i = 0; i < MBR_ENTRIES; i++) {
		const uint8_t *e = sector + MBR_TABLE_OFFSET + MBR_ENTRY_SIZE * (unsigned)i;
		/* Anything but 0x00 / 0x80 means this is not a partition table
		 * (a boot sector or garbage that happens to end in 0x55AA). */
		if (e[0] != 0x00 && e[0] != 0x80) {
			*error = "partition table entry has an invalid boot flag";
			return -1;
		}
		if (e[4] == 0x00)
			continue; /* unused entry */
		struct mbr_partition p = {
		    .number = (uint8_t)(i + 1),
		    .type = e[4],
		    .bootable = e[0] == 0x80,
		    .first_sector = le32(e + 8),
		    .sector_count = le32(e + 12),
		};
		if (p.sector_count == 0) {
			*error = "partition table entry has zero sectors";
			return -1;
		}
		if (p.first_sector == 0) {
			*error = "partition table entry starts at sector 0 (over the table itself)";
			return -1;
		}
		if ((uint64_t)p.first_sector + p.sector_count > disk_sectors) {
			*error = "partition extends past the end of the disk";
			return -1;
		}
		for (int j = 0; j < count; j++) {
			uint64_t a0 = p.first_sector, a1 = a0 + p.sector_count;
			uint64_t b0 = parts[j].first_sector, b1 = b0 + parts[j].sector_count;
			if (a0 < b1 && b0 < a1) {
				*error = "two partitions overlap";
				return -1;
			}
		}
		parts[count++] = p;
	}
	return count;
}

const struct mbr_partition *mbr_find_type(const struct mbr_partition *parts, int count,
					  uint8_t type)
{
	for (int i = 0; i < count; i++)
		if (parts[i].type == type)
			return &parts[i];
	return NULL;
}
