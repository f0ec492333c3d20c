/*
 * ota_test_util.h: fixtures shared by the ota/ tests, the power-cut
 * simulator and the bench: keys, bundles, RAM-backed slot stores.
 */
#ifndef OTA_TEST_UTIL_H
#define OTA_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#include "bundle.h"
#include "slot_store.h"

#define TEST_BOARD "orangepi-pc"

struct test_key {
	mbedtls_pk_context pk;
	struct ota_trusted_key trusted;
};

/* A fresh P-256 key and its trusted-key entry; aborts on failure. */
void test_key_init(struct test_key *key);
void test_key_free(struct test_key *key);

/* A manifest with sane defaults for guest name at version 1.0.minor. */
struct ota_manifest test_manifest(const char *name, uint32_t minor, uint32_t counter);

/* Deterministic image bytes: seed picks the pattern. malloc'd. */
uint8_t *test_image(size_t len, unsigned seed);

/* Signed bundle of image (malloc'd); fills m's image fields and key id. */
uint8_t *test_bundle(struct test_key *key, struct ota_manifest *m, const uint8_t *image,
		     size_t image_len, size_t *bundle_len);

/* Re-signs a bundle whose header or manifest bytes a test changed. */
void test_resign(struct test_key *key, uint8_t *bundle);

/* A policy trusting one key, for TEST_BOARD. */
struct ota_verify_policy test_policy(const struct test_key *key);

/* RAM device of block_count blocks (malloc'd memory, zeroed). */
struct test_ram {
	struct ota_ram_blockdev ram;
	uint8_t *mem;
	size_t size;
};
void test_ram_init(struct test_ram *t, uint32_t block_size, uint32_t block_count);
void test_ram_free(struct test_ram *t);

/* Sets m's image size and SHA-256 from image (for the store API without a bundle). */
void test_describe_image(struct ota_manifest *m, const uint8_t *image, size_t len);

/* Installs image as guest/minor/counter through the store API directly. */
int test_install_raw(struct slot_store *s, const struct ota_manifest *m, const uint8_t *image);

#endif
