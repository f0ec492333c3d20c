/*
 * bench_ota.c: figures for issue 5's closing note, printed by `make bench-ota`.
 *
 *   bench_ota LABEL BUNDLE
 *
 * BUNDLE is a 1 MiB bundle signed with the key in the generated trusted-key
 * table. Prints: the median time to verify it (whole bundle; head only),
 * the median time to stream-install it into a RAM slot store, the static
 * RAM an install uses, and, when linked with the board's mbedTLS
 * configuration, the peak of the crypto arena. Host figures: the board is
 * a Cortex-A7 and will be slower.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "install.h"
#include "ota.h"
#include "trusted_keys.h"

#if defined(OTA_MBEDTLS_MEMORY_DEBUG)
#include <mbedtls/memory_buffer_alloc.h>
#endif

#define RUNS 21

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Stack high-water mark: paint, run, look for the deepest byte touched. */
#define STACK_PROBE (256 * 1024)
static __attribute__((noinline)) void stack_paint(void)
{
	volatile unsigned char area[STACK_PROBE];

	for (size_t i = 0; i < sizeof(area); i++)
		area[i] = 0xcd;
}

/* Reads what the install left in the stack below us: uninitialised on purpose. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static __attribute__((noinline)) size_t stack_measure(void)
{
	volatile unsigned char area[STACK_PROBE];
	size_t i = 0;

	while (i < sizeof(area) && area[i] == 0xcd)
		i++;
	return sizeof(area) - i;
}
#pragma GCC diagnostic pop

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		return NULL;
	buf = malloc((size_t)size);
	if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static struct ota_verifier verifier;
static struct slot_store store;
static struct ota_install install;

static int install_once(struct ota_blockdev *dev, const struct ota_verify_policy *p,
			const uint8_t *b, size_t len)
{
	int rc = slot_store_format(&store, dev, 4u << 20, 1);

	ota_install_begin(&install, &store, p);
	for (size_t done = 0; rc == OTA_OK && done < len; done += 1460)
		rc = ota_install_feed(&install, b + done, len - done < 1460 ? len - done : 1460);
	return rc == OTA_OK ? ota_install_finish(&install) : rc;
}

int main(int argc, char **argv)
{
	struct ota_verify_policy policy = {ota_trusted_keys, ota_trusted_key_count, NULL, 0};
	double verify[RUNS], head[RUNS], inst[RUNS / 3];
	struct ota_ram_blockdev ram;
	uint8_t *bundle, *mem;
	size_t len, used, stack;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_ota LABEL BUNDLE\n");
		return 2;
	}
	bundle = read_file(argv[2], &len);
	if (!bundle)
		return fprintf(stderr, "bench_ota: cannot read %s\n", argv[2]), 1;

	for (int i = 0; i < RUNS; i++) {
		double t0 = now_ms();

		rc = ota_bundle_verify(&verifier, &policy, bundle, len);
		verify[i] = now_ms() - t0;
		if (rc != OTA_OK)
			return fprintf(stderr, "bench_ota: verify: %s\n", ota_strerror(rc)), 1;
		ota_verifier_init(&verifier, &policy);
		t0 = now_ms();
		rc = ota_verifier_feed_head(&verifier, bundle, len, &used);
		head[i] = now_ms() - t0;
		if (rc != OTA_OK)
			return fprintf(stderr, "bench_ota: head: %s\n", ota_strerror(rc)), 1;
	}

	/* Metadata and the slots' head areas (64 KiB is ample) plus two 4 MiB slots for one guest.
	 */
	mem = calloc(1, (64u << 10) + (8u << 20));
	ota_ram_blockdev_init(&ram, mem, 512, ((64u << 10) + (8u << 20)) / 512);
	for (int i = 0; i < RUNS / 3; i++) {
		double t0 = now_ms();

		rc = install_once(&ram.dev, &policy, bundle, len);
		inst[i] = now_ms() - t0;
		if (rc != OTA_OK)
			return fprintf(stderr, "bench_ota: install: %s\n", ota_strerror(rc)), 1;
	}
	stack_paint();
	rc = install_once(&ram.dev, &policy, bundle, len);
	stack = stack_measure();

	printf("ota bench (%s), bundle of %zu bytes (image %u bytes), host:\n", argv[1], len,
	       ota_verifier_manifest(&verifier)->image_size);
	printf("  verify whole bundle:       %.2f ms median of %d\n", median(verify, RUNS), RUNS);
	printf("  verify head (signature):   %.2f ms median of %d\n", median(head, RUNS), RUNS);
	printf("  stream install to RAM store (1460-byte chunks, incl. read-back hash): %.2f ms "
	       "median of %d\n",
	       median(inst, RUNS / 3), RUNS / 3);
	printf("  static RAM of an install (host sizes): struct ota_install %zu + struct "
	       "slot_store %zu = %zu bytes;"
	       " fixed, whatever the image size\n",
	       sizeof(install), sizeof(store), sizeof(install) + sizeof(store));
	printf("  stack high-water of install (host x86-64): %zu bytes\n", stack);
	/* This crypto build must still tell a forged bundle from a good one. */
	bundle[OTA_BUNDLE_HEADER_SIZE + verifier.header.manifest_size] ^= 1;
	if (ota_bundle_verify(&verifier, &policy, bundle, len) != OTA_E_BAD_SIGNATURE) {
		fprintf(stderr, "bench_ota: an altered signature was not refused\n");
		rc = OTA_E_CRYPTO;
	}
	bundle[OTA_BUNDLE_HEADER_SIZE + verifier.header.manifest_size] ^= 1;
#if defined(OTA_MBEDTLS_MEMORY_DEBUG)
	{
		static unsigned char arena[64 * 1024];
		size_t max_used, max_blocks, need = 0;

		mbedtls_memory_buffer_alloc_max_get(&max_used, &max_blocks);
		/* The smallest arena that verifies, allocator headers and fragmentation
		 * included (host headers are larger than the board's: errs on the safe side). */
		for (size_t size = 1024; size <= sizeof(arena) && !need; size += 64) {
			mbedtls_memory_buffer_alloc_init(arena, size);
			ota_verifier_init(&verifier, &policy);
			if (ota_verifier_feed_head(&verifier, bundle, len, &used) == OTA_OK)
				need = size;
			mbedtls_memory_buffer_alloc_free();
		}
		printf(
		    "  crypto arena: peak %zu bytes requested in %zu blocks; smallest arena that "
		    "verifies: %zu bytes (CONFIG_OTA_CRYPTO_HEAP_SIZE = %d)\n",
		    max_used, max_blocks, need, CONFIG_OTA_CRYPTO_HEAP_SIZE);
		if (need == 0 || need > CONFIG_OTA_CRYPTO_HEAP_SIZE) {
			fprintf(stderr, "bench_ota: CONFIG_OTA_CRYPTO_HEAP_SIZE is too small\n");
			rc = OTA_E_CRYPTO;
		}
	}
#endif
	free(mem);
	free(bundle);
	return rc == OTA_OK ? 0 : 1;
}
