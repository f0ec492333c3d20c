/* card.c: the store partition of the SD card behind ota/'s block-device seam. */
#include "card.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"
#include "ota.h"

static struct card_store *store_of(struct ota_blockdev *dev)
{
	return dev->ctx;
}

static bool in_partition(const struct card_store *store, uint32_t block, uint32_t count)
{
	return block <= store->partition.sector_count &&
	       count <= store->partition.sector_count - block;
}

static int finish(struct card_store *store, const char *what, uint32_t block, uint32_t count,
		  int rc)
{
	if (rc == MMC_OK)
		return OTA_OK;
	store->last_error = rc;
	store->io_errors++;
	printf("card: %s of store blocks %" PRIu32 "+%" PRIu32 " failed: %s (mmc error %d)\n", what,
	       block, count, mmc_strerror(rc), rc);
	return OTA_E_IO;
}

static int card_read(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count)
{
	struct card_store *store = store_of(dev);
	if (!in_partition(store, block, count))
		return OTA_E_INVALID;
	int rc = mmc_read(&store->mmc, (uint64_t)store->partition.first_sector + block, buf, count);
	return finish(store, "read", block, count, rc);
}

static int card_write(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count)
{
	struct card_store *store = store_of(dev);
	if (!in_partition(store, block, count))
		return OTA_E_INVALID;
	int rc =
	    mmc_write(&store->mmc, (uint64_t)store->partition.first_sector + block, buf, count);
	return finish(store, "write", block, count, rc);
}

/* mmc_write() returns only once the card has programmed the blocks (it
 * polls SEND_STATUS until the card is back in the transfer state), and the
 * card's cache is off: every completed write is already durable. */
static int card_flush(struct ota_blockdev *dev)
{
	(void)dev;
	return OTA_OK;
}

static uint32_t card_block_size(struct ota_blockdev *dev)
{
	(void)dev;
	return MMC_BLOCK_SIZE;
}

static uint32_t card_block_count(struct ota_blockdev *dev)
{
	return store_of(dev)->partition.sector_count;
}

static const struct ota_blockdev_ops card_ops = {
    .read = card_read,
    .write = card_write,
    .flush = card_flush,
    .block_size = card_block_size,
    .block_count = card_block_count,
};

int card_open(const void *dtb, struct card_store *store, const char **error)
{
	static uint8_t sector[MBR_SECTOR_SIZE] __attribute__((aligned(64)));
	memset(store, 0, sizeof(*store));
	store->dev.ops = &card_ops;
	store->dev.ctx = store;
	int rc = mmc_open(dtb, &store->mmc);
	if (rc == MMC_OK)
		rc = mmc_read(&store->mmc, 0, sector, 1);
	if (rc != MMC_OK) {
		store->last_error = rc;
		*error = mmc_strerror(rc);
		return -1;
	}
	struct mbr_partition parts[MBR_ENTRIES];
	int count = mbr_parse(sector, store->mmc.block_count, parts, error);
	if (count < 0)
		return -1;
	const struct mbr_partition *found = mbr_find_type(parts, count, MBR_TYPE_FLOTILLA_STORE);
	if (!found) {
		*error = "no OTA store partition (MBR type 0xda) on the card";
		return -1;
	}
	store->partition = *found;
	return 0;
}

void card_print(const struct card_store *store)
{
	const struct mmc_card *mmc = &store->mmc;
	printf("card: SD card %" PRIu64 " MiB (%s), 4-bit bus at %" PRIu32 " kHz (controller clock "
	       "%" PRIu32 " kHz), initialised in %.3f ms (%" PRIu32 " ACMD41 polls)\n",
	       mmc->block_count >> 11, mmc->high_capacity ? "SDHC/SDXC" : "SDSC",
	       mmc->card_clock_hz / 1000, mmc->mod_clock_hz / 1000, (double)mmc->init_ns / 1e6,
	       mmc->power_up_polls);
	printf("card: OTA store: partition %u (type 0x%02x), %" PRIu32 " blocks (%" PRIu32
	       " MiB) at sector %" PRIu32 "\n",
	       store->partition.number, store->partition.type, store->partition.sector_count,
	       store->partition.sector_count >> 11, store->partition.first_sector);
}

/* ---------------------------------------------------------------- tests and bench */

/*
 * The test pattern: 16-byte units of "FMMC", the block number within the
 * partition, the unit's index in the block and a mix of the three with the
 * pass, all little-endian. A block in the wrong place, a shifted or torn
 * block, or a stale pass all show. tests/integration/test_mmc.py computes
 * the same bytes on the host.
 */
#define PATTERN_UNITS (MMC_BLOCK_SIZE / 16)

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void pattern(uint8_t *buf, uint32_t block, uint32_t count, uint32_t pass)
{
	for (uint32_t b = 0; b < count; b++)
		for (uint32_t i = 0; i < PATTERN_UNITS; i++) {
			uint8_t *u = buf + (size_t)b * MMC_BLOCK_SIZE + 16 * i;
			memcpy(u, "FMMC", 4);
			put_le32(u + 4, block + b);
			put_le32(u + 8, i);
			put_le32(u + 12, pass * 0x9e3779b9u ^ (block + b) * 0x85ebca6bu ^ i);
		}
}

#define TEST_CHUNK_BLOCKS 256u /* 128 KiB per call: two 64 KiB commands */

static double mb_per_s(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes * 1000.0 / (double)ns : 0.0;
}

/* Line-aligned buffers go straight to the DMA engine: what a caller that
 * cares about speed passes. */
static uint8_t *align64(uint8_t *p)
{
	return (uint8_t *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

struct selftest {
	int number, failures;
};

static void check(struct selftest *t, bool ok, const char *what)
{
	t->number++;
	t->failures += !ok;
	printf("mmc-selftest: %s %d - %s\n", ok ? "ok" : "not ok", t->number, what);
}

/* Write pattern pass over [first, first+count) in chunks; then read back
 * and compare. Timings in *write_ns, *read_ns. */
static bool write_and_verify(struct card_store *store, uint8_t *out, uint8_t *in, uint32_t first,
			     uint32_t count, uint32_t pass, uint64_t *write_ns, uint64_t *read_ns)
{
	struct ota_blockdev *dev = &store->dev;
	uint64_t start = flotilla_clock_monotonic(), spent = 0;
	for (uint32_t b = first; b < first + count; b += TEST_CHUNK_BLOCKS) {
		uint32_t n =
		    first + count - b < TEST_CHUNK_BLOCKS ? first + count - b : TEST_CHUNK_BLOCKS;
		pattern(out, b, n, pass);
		uint64_t t0 = flotilla_clock_monotonic();
		if (dev->ops->write(dev, b, out, n) != OTA_OK)
			return false;
		spent += flotilla_clock_monotonic() - t0;
	}
	(void)start;
	if (write_ns)
		*write_ns = spent;
	spent = 0;
	for (uint32_t b = first; b < first + count; b += TEST_CHUNK_BLOCKS) {
		uint32_t n =
		    first + count - b < TEST_CHUNK_BLOCKS ? first + count - b : TEST_CHUNK_BLOCKS;
		memset(in, 0xa5, (size_t)n * MMC_BLOCK_SIZE);
		uint64_t t0 = flotilla_clock_monotonic();
		if (dev->ops->read(dev, b, in, n) != OTA_OK)
			return false;
		spent += flotilla_clock_monotonic() - t0;
		pattern(out, b, n, pass);
		if (memcmp(in, out, (size_t)n * MMC_BLOCK_SIZE) != 0) {
			printf("mmc-selftest: mismatch in blocks %" PRIu32 "+%" PRIu32 "\n", b, n);
			return false;
		}
	}
	if (read_ns)
		*read_ns = spent;
	return true;
}

/* Ranges that start and end off the 64 KiB command and the 128 KiB test
 * chunk boundaries, single blocks among them. */
static const struct {
	uint32_t first, count;
} unaligned_ranges[] = {
    {1, 1}, {7, 3}, {126, 2}, {129, 130}, {1000, 257}, {4095, 1}, {5003, 389},
};

static bool bootarg_set(const char *bootargs, const char *key)
{
	const char *p = strstr(bootargs, key);
	return p && p[strlen(key)] == '=' && p[strlen(key) + 1] != '0';
}

struct card_store *card_boot(const void *dtb, const char *bootargs)
{
	static struct card_store store;
	const char *error = "unknown";
	if (card_open(dtb, &store, &error) != 0) {
		printf("card: no OTA store on the SD card: %s\n", error);
		return NULL;
	}
	card_print(&store);
	if (bootarg_set(bootargs, "mmc_throughput"))
		card_bench(&store);
	if (bootarg_set(bootargs, "mmc_selftest"))
		card_selftest(&store);
	return &store;
}

int card_selftest(struct card_store *store)
{
	struct selftest t = {0};
	uint32_t total = store->partition.sector_count;
	uint8_t *out_memory = malloc((size_t)TEST_CHUNK_BLOCKS * MMC_BLOCK_SIZE + 128);
	uint8_t *in_memory = malloc((size_t)TEST_CHUNK_BLOCKS * MMC_BLOCK_SIZE + 128);
	uint8_t *out = align64(out_memory), *in = align64(in_memory);
	if (!out_memory || !in_memory) {
		printf("mmc-selftest: not ok 1 - no memory for test buffers\n");
		free(out_memory);
		free(in_memory);
		return 1;
	}
	printf("mmc-selftest: start: store partition %u, %" PRIu32 " blocks\n",
	       store->partition.number, total);

	uint64_t write_ns = 0, read_ns = 0;
	bool ok = write_and_verify(store, out, in, 0, total, 1, &write_ns, &read_ns);
	char what[160];
	snprintf(what, sizeof(what),
		 "wrote and read back the whole store partition (%" PRIu32 " blocks, %" PRIu32
		 " MiB): write %.2f MB/s, read %.2f MB/s",
		 total, total >> 11, mb_per_s((uint64_t)total * MMC_BLOCK_SIZE, write_ns),
		 mb_per_s((uint64_t)total * MMC_BLOCK_SIZE, read_ns));
	check(&t, ok, what);

	/* Unaligned ranges with a second pass, from buffers 4 bytes off a cache
	 * line (the driver bounces them); their neighbours keep pass 1. */
	ok = true;
	for (size_t i = 0; i < sizeof(unaligned_ranges) / sizeof(unaligned_ranges[0]); i++) {
		uint32_t first = unaligned_ranges[i].first, count = unaligned_ranges[i].count;
		if (first + count + 1 > total)
			continue;
		bool range_ok =
		    write_and_verify(store, out + 4, in + 4, first, count, 2, NULL, NULL);
		/* The blocks just before and after (pass 1, no other range) are untouched. */
		uint8_t *probe = in + 4;
		for (int side = 0; side < 2 && range_ok; side++) {
			uint32_t b = side ? first + count : first - 1;
			range_ok = store->dev.ops->read(&store->dev, b, probe, 1) == OTA_OK;
			pattern(out, b, 1, 1);
			range_ok = range_ok && memcmp(probe, out, MMC_BLOCK_SIZE) == 0;
		}
		printf("mmc-selftest: range %" PRIu32 "+%" PRIu32 " pass 2%s\n", first, count,
		       range_ok ? "" : ": MISMATCH");
		ok = ok && range_ok;
	}
	check(&t, ok,
	      "unaligned multi-block and single-block ranges (unaligned buffers) land "
	      "exactly, neighbours untouched");

	/* The last block is ours; one past it is not. */
	ok = store->dev.ops->read(&store->dev, total - 1, in, 1) == OTA_OK;
	pattern(out, total - 1, 1, 1);
	check(&t, ok && memcmp(in, out, MMC_BLOCK_SIZE) == 0,
	      "the partition's last block reads back");
	int rc1 = ota_blockdev_read(&store->dev, total - 1, in, 2);
	int rc2 = store->dev.ops->read(&store->dev, total, in, 1);
	int rc3 = store->dev.ops->write(&store->dev, total, out, 1);
	int rc4 = mmc_read(&store->mmc, store->mmc.block_count, in, 1);
	snprintf(what, sizeof(what),
		 "reads and writes past the partition's end are refused (%d, %d, %d), past the "
		 "card's end too (%d: %s)",
		 rc1, rc2, rc3, rc4, mmc_strerror(rc4));
	check(&t,
	      rc1 == OTA_E_INVALID && rc2 == OTA_E_INVALID && rc3 == OTA_E_INVALID &&
		  rc4 == MMC_E_RANGE,
	      what);
	/* The card's own refusal: the driver's range check is bypassed by
	 * pretending the card is larger, so the card itself answers a read past
	 * its end with an error in its status. Reported with a code, no hang,
	 * no retry storm, and the card keeps working afterwards. */
	uint64_t card_blocks = store->mmc.block_count;
	store->mmc.block_count = card_blocks + 4096;
	uint64_t t0 = flotilla_clock_monotonic();
	int rc5 = mmc_read(&store->mmc, card_blocks + 8, in, 1);
	int rc6 = mmc_read(&store->mmc, card_blocks + 8, in, 4);
	uint64_t took = flotilla_clock_monotonic() - t0;
	store->mmc.block_count = card_blocks;
	ok = store->dev.ops->read(&store->dev, total - 1, in, 1) == OTA_OK;
	snprintf(what, sizeof(what),
		 "reads the card itself refuses fail with an error code (%d, %d: %s) in %.1f ms, "
		 "and the next read works",
		 rc5, rc6, mmc_strerror(rc6), (double)took / 1e6);
	check(&t,
	      rc5 == MMC_E_CARD_STATUS && rc6 == MMC_E_CARD_STATUS && ok &&
		  memcmp(in, out, MMC_BLOCK_SIZE) == 0,
	      what);
	/* The refused write did not land on the sector after the partition. */
	uint64_t after = (uint64_t)store->partition.first_sector + total;
	if (after < store->mmc.block_count) {
		ok = mmc_read(&store->mmc, after, in, 1) == MMC_OK;
		check(&t, ok && memcmp(in, out, MMC_BLOCK_SIZE) != 0,
		      "the refused write left the sector after the partition alone");
	}
	/* Recovery: the card is deselected behind the driver's back (CMD7 to
	 * another address puts it in standby), so the next write and the next
	 * read fail on the bus; the driver finds the card in standby, selects
	 * it again and retries. Both succeed and land. */
	uint32_t retries = store->mmc.stats.retries;
	uint32_t other = (store->mmc.rca ^ 1u) << 16;
	pattern(out, 300, 5, 1);
	mmc_send_command(&store->mmc, 7, other, NULL);
	rc1 = store->dev.ops->write(&store->dev, 300, out, 5);
	mmc_send_command(&store->mmc, 7, other, NULL);
	memset(in, 0, 5 * MMC_BLOCK_SIZE);
	rc2 = store->dev.ops->read(&store->dev, 300, in, 5);
	snprintf(what, sizeof(what),
		 "a card deselected behind the driver's back is selected again and the write and "
		 "read retried (%d, %d; %" PRIu32 " retries)",
		 rc1, rc2, store->mmc.stats.retries - retries);
	check(&t,
	      rc1 == OTA_OK && rc2 == OTA_OK && memcmp(in, out, 5 * MMC_BLOCK_SIZE) == 0 &&
		  store->mmc.stats.retries - retries == 2,
	      what);

	/* Last, as it kills the card until power-off: a card that stops
	 * answering (CMD15, inactive state) fails reads with an error code
	 * within bounded time - never a hang. */
	mmc_send_command(&store->mmc, 15, store->mmc.rca << 16, NULL);
	t0 = flotilla_clock_monotonic();
	rc1 = store->dev.ops->read(&store->dev, 0, in, 8);
	took = flotilla_clock_monotonic() - t0;
	snprintf(what, sizeof(what),
		 "a card that stops answering: the read fails (%d, mmc error %d: %s) after %.2f s, "
		 "no hang",
		 rc1, store->last_error, mmc_strerror(store->last_error), (double)took / 1e9);
	check(&t, rc1 == OTA_E_IO && store->last_error < 0 && took < 20000000000ull, what);
	printf("mmc-selftest: the card is inactive until power-off\n");

	printf(
	    "mmc-selftest: done: %d passed, %d failed (retries %" PRIu32 ", errors %" PRIu32 ")\n",
	    t.number - t.failures, t.failures, store->mmc.stats.retries, store->mmc.stats.errors);
	free(out_memory);
	free(in_memory);
	return t.failures;
}

#define BENCH_BLOCKS 32768u /* 16 MiB */
#define BENCH_SINGLE 1024u
#define BENCH_RUNS   3 /* the emulator shares a noisy machine: report the median */

enum bench_kind { BENCH_WRITE_LARGE, BENCH_READ_LARGE, BENCH_WRITE_SINGLE, BENCH_READ_SINGLE };

/* One timed run of kind over blocks; OTA_OK or the first error. */
static int bench_run(struct ota_blockdev *dev, enum bench_kind kind, uint8_t *buf, uint32_t blocks,
		     uint64_t *ns)
{
	int rc = OTA_OK;
	uint64_t t0 = flotilla_clock_monotonic();
	switch (kind) {
	case BENCH_WRITE_LARGE:
	case BENCH_READ_LARGE:
		for (uint32_t b = 0; b < blocks && rc == OTA_OK; b += TEST_CHUNK_BLOCKS)
			rc = kind == BENCH_WRITE_LARGE
				 ? dev->ops->write(dev, b, buf, TEST_CHUNK_BLOCKS)
				 : dev->ops->read(dev, b, buf, TEST_CHUNK_BLOCKS);
		break;
	case BENCH_WRITE_SINGLE:
	case BENCH_READ_SINGLE:
		/* Scattered, so no run of neighbours looks like one stream. */
		for (uint32_t i = 0; i < BENCH_SINGLE && rc == OTA_OK; i++) {
			uint32_t b = i * 7 % blocks;
			rc = kind == BENCH_WRITE_SINGLE ? dev->ops->write(dev, b, buf, 1)
							: dev->ops->read(dev, b, buf, 1);
		}
		break;
	}
	*ns = flotilla_clock_monotonic() - t0;
	return rc;
}

void card_bench(struct card_store *store)
{
	static const char *const names[] = {
	    "write large (128 KiB calls, 64 KiB commands)",
	    "read large (128 KiB calls, 64 KiB commands)",
	    "write single blocks",
	    "read single blocks",
	};
	uint32_t blocks = store->partition.sector_count < BENCH_BLOCKS
			      ? store->partition.sector_count
			      : BENCH_BLOCKS;
	uint8_t *memory = malloc((size_t)TEST_CHUNK_BLOCKS * MMC_BLOCK_SIZE + 64);
	uint8_t *buf = align64(memory);
	if (!memory || blocks < BENCH_SINGLE) {
		printf("mmc-bench: cannot run (memory or partition too small)\n");
		free(memory);
		return;
	}
	pattern(buf, 0, TEST_CHUNK_BLOCKS, 3);
	printf("mmc-bench: card init %.3f ms\n", (double)store->mmc.init_ns / 1e6);
	for (int kind = BENCH_WRITE_LARGE; kind <= BENCH_READ_SINGLE; kind++) {
		uint64_t bytes =
		    (uint64_t)(kind <= BENCH_READ_LARGE ? blocks : BENCH_SINGLE) * MMC_BLOCK_SIZE;
		uint64_t ns[BENCH_RUNS];
		int rc = OTA_OK;
		for (int run = 0; run < BENCH_RUNS && rc == OTA_OK; run++) {
			rc = bench_run(&store->dev, (enum bench_kind)kind, buf, blocks, &ns[run]);
			/* Insertion: ns[0..run] stays sorted. */
			for (int i = run; i > 0 && ns[i] < ns[i - 1]; i--) {
				uint64_t t = ns[i];
				ns[i] = ns[i - 1];
				ns[i - 1] = t;
			}
		}
		if (rc != OTA_OK)
			printf("mmc-bench: %s: failed\n", names[kind]);
		else
			printf("mmc-bench: %s: %.2f MB/s (median of %d: %" PRIu64
			       " bytes in %.1f ms; best %.2f MB/s)\n",
			       names[kind], mb_per_s(bytes, ns[BENCH_RUNS / 2]), BENCH_RUNS, bytes,
			       (double)ns[BENCH_RUNS / 2] / 1e6, mb_per_s(bytes, ns[0]));
	}
	free(memory);
}
