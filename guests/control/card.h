/*
 * card.h: the SD card's OTA store partition as ota/'s block device.
 *
 * Opens the card (mmc.c), reads its MBR (mbr.c) and finds the store by its
 * partition type, MBR_TYPE_FLOTILLA_STORE (0xda), never by a fixed offset.
 * The block device it exposes covers that partition only: block 0 is the
 * partition's first sector, and blocks past its end are refused.
 */
#ifndef FLOTILLA_CONTROL_CARD_H
#define FLOTILLA_CONTROL_CARD_H

#include <stdint.h>

#include "blockdev.h"
#include "mbr.h"
#include "mmc.h"

struct card_store {
	struct ota_blockdev dev; /* dev.ctx points back here */
	struct mmc_card mmc;
	struct mbr_partition partition;
	int last_error;     /* enum mmc_status of the last failed transfer, or MMC_OK */
	uint64_t io_errors; /* failed transfers since boot (the health model's card check) */
};

/*
 * Open the card and its store partition. 0 on success; -1 with *error set
 * to a one-line reason (no controller, no card, no or bad partition table,
 * no partition of the store's type).
 */
int card_open(const void *dtb, struct card_store *store, const char **error);

/*
 * At boot: open the card's store (card_open), say on the console what was
 * found or why not, and run the self-test or bench the boot arguments ask
 * for ("mmc_selftest=1", "mmc_throughput=1"). The opened store, or NULL.
 */
struct card_store *card_boot(const void *dtb, const char *bootargs);

/* Print one line describing the card and the store partition. */
void card_print(const struct card_store *store);

/*
 * Destructive checks over the whole store partition ("mmc_selftest=1"):
 * patterns written and read back, multi-block and unaligned ranges,
 * refusal past the end. Prints "mmc-selftest: ok|not ok N - ..." lines and
 * a summary; returns the number of failures. Leaves the partition holding
 * the pattern the host side of the test checks (tests/integration/test_mmc.py).
 */
int card_selftest(struct card_store *store);

/* Throughput of large and single-block transfers ("mmc_throughput=1"), printed
 * as "mmc-bench: ..." lines. Destroys the first 16 MiB of the store. */
void card_bench(struct card_store *store);

#endif
