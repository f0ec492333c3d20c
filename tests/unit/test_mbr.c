/*
 * test_mbr.c: the partition-table parser the control domain trusts to find
 * the OTA store on the card: good tables parse, and every malformed one is
 * refused with its reason rather than pointing the driver at the wrong
 * blocks.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mbr.h"

static int count, failed;

static void check(int ok, const char *what)
{
	count++;
	failed += !ok;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", count, what);
}

static void put_entry(uint8_t *sector, int index, uint8_t boot, uint8_t type, uint32_t first,
		      uint32_t sectors)
{
	uint8_t *e = sector + 446 + 16 * index;
	memset(e, 0, 16);
	e[0] = boot;
	e[4] = type;
	for (int i = 0; i < 4; i++) {
		e[8 + i] = (uint8_t)(first >> (8 * i));
		e[12 + i] = (uint8_t)(sectors >> (8 * i));
	}
}

/* The layout tools/mkimage.sh makes: FAT at 1 MiB, store after it. */
static void flotilla_table(uint8_t *sector)
{
	memset(sector, 0, 512);
	put_entry(sector, 0, 0x80, 0x0c, 2048, 65536);
	put_entry(sector, 1, 0x00, 0xda, 67584, 131072);
	sector[510] = 0x55;
	sector[511] = 0xaa;
}

#define DISK 262144u /* 128 MiB */

static int refused(const uint8_t *sector, uint64_t disk, const char *reason)
{
	struct mbr_partition parts[MBR_ENTRIES];
	const char *error = NULL;
	return mbr_parse(sector, disk, parts, &error) == -1 && error && strstr(error, reason);
}

int main(void)
{
	uint8_t s[512];
	struct mbr_partition parts[MBR_ENTRIES];
	const char *error = NULL;

	flotilla_table(s);
	int n = mbr_parse(s, DISK, parts, &error);
	const struct mbr_partition *store = mbr_find_type(parts, n, MBR_TYPE_FLOTILLA_STORE);
	check(n == 2 && parts[0].number == 1 && parts[0].bootable && parts[0].type == 0x0c,
	      "the image's table parses: a bootable FAT partition 1");
	check(store && store->number == 2 && store->first_sector == 67584 &&
		  store->sector_count == 131072 && !store->bootable,
	      "the store is found by its type 0xda: partition 2, its start and size");

	/* Found by type, not position: the store moved to entry 4. */
	flotilla_table(s);
	put_entry(s, 1, 0, 0, 0, 0);
	put_entry(s, 3, 0, 0xda, 100000, 2048);
	n = mbr_parse(s, DISK, parts, NULL);
	store = mbr_find_type(parts, n, MBR_TYPE_FLOTILLA_STORE);
	check(n == 2 && store && store->number == 4 && store->first_sector == 100000,
	      "a store in another entry is still found by its type (and numbered 4)");

	flotilla_table(s);
	put_entry(s, 1, 0, 0x83, 67584, 131072);
	n = mbr_parse(s, DISK, parts, NULL);
	check(n == 2 && !mbr_find_type(parts, n, MBR_TYPE_FLOTILLA_STORE),
	      "no partition of type 0xda: none found (a Linux partition is not taken for it)");

	memset(s, 0, sizeof(s));
	s[510] = 0x55;
	s[511] = 0xaa;
	check(mbr_parse(s, DISK, parts, NULL) == 0, "an empty table parses with no partitions");

	flotilla_table(s);
	s[511] = 0x00;
	check(refused(s, DISK, "signature"), "a sector without 0x55AA is refused");
	memset(s, 0xff, sizeof(s));
	check(refused(s, DISK, "signature"), "an erased (all 0xff) sector is refused");

	flotilla_table(s);
	s[446 + 16] = 0x12;
	check(refused(s, DISK, "boot flag"),
	      "an entry with a boot flag other than 0x00/0x80 is refused");

	flotilla_table(s);
	put_entry(s, 1, 0, 0xda, 67584, 0);
	check(refused(s, DISK, "zero sectors"), "an entry with zero sectors is refused");

	flotilla_table(s);
	put_entry(s, 1, 0, 0xda, 0, 2048);
	check(refused(s, DISK, "sector 0"),
	      "an entry starting at sector 0 (over the MBR) is refused");

	flotilla_table(s);
	check(refused(s, 67584 + 131071, "past the end"),
	      "a partition one sector longer than the disk is refused");
	check(mbr_parse(s, 67584 + 131072, parts, NULL) == 2,
	      "a partition ending exactly at the end of the disk is accepted");

	flotilla_table(s);
	put_entry(s, 1, 0, 0xda, 0xfffff000u, 0x2000);
	check(refused(s, DISK, "past the end"),
	      "start + size wrapping past 2^32 is refused, not wrapped into range");

	flotilla_table(s);
	put_entry(s, 1, 0, 0xda, 2048 + 65535, 100);
	check(refused(s, DISK, "overlap"), "a store overlapping the FAT by one sector is refused");
	put_entry(s, 1, 0, 0xda, 2048 + 65536, 100);
	check(mbr_parse(s, DISK, parts, NULL) == 2,
	      "a store starting right after the FAT is accepted");
	put_entry(s, 2, 0, 0x83, 1000, 200000);
	check(refused(s, DISK, "overlap"), "a partition covering two others is refused");

	printf("1..%d\n", count);
	return failed ? 1 : 0;
}
