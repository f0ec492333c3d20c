/* ota_test_util.c: see ota_test_util.h. */
#include "ota_test_util.h"

#include "bundle_build.h"
#include "keys.h"
#include "ota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "test fixture failed: %s\n", what);
		abort();
	}
}

void test_key_init(struct test_key *key)
{
	mbedtls_pk_init(&key->pk);
	check(keys_generate(&key->pk) == OTA_OK, "keys_generate");
	check(keys_public_point(&key->pk, key->trusted.pubkey) == OTA_OK, "keys_public_point");
	ota_key_id(key->trusted.pubkey, key->trusted.key_id);
}

void test_key_free(struct test_key *key)
{
	mbedtls_pk_free(&key->pk);
}

struct ota_manifest test_manifest(const char *name, uint32_t minor, uint32_t counter)
{
	struct ota_manifest m;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.version[0] = 1;
	m.version[1] = minor;
	m.version[2] = 0;
	m.security_counter = counter;
	snprintf(m.boards, sizeof(m.boards), "%s", TEST_BOARD ",cubieboard2");
	m.memory_mib = 16;
	m.vcpus = 1;
	m.build_time = 1700000000u + minor;
	return m;
}

uint8_t *test_image(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len);
	uint32_t x = seed * 2654435761u + 1;

	check(p != NULL, "malloc");
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

uint8_t *test_bundle(struct test_key *key, struct ota_manifest *m, const uint8_t *image,
		     size_t image_len, size_t *bundle_len)
{
	uint8_t *out = NULL;

	check(bundle_build(m, image, image_len, &key->pk, &out, bundle_len) == OTA_OK,
	      "bundle_build");
	return out;
}

void test_resign(struct test_key *key, uint8_t *bundle)
{
	struct ota_bundle_header h;
	uint8_t digest[OTA_SHA256_SIZE];
	size_t signed_len;

	/* Read the sizes raw: the test may have made the header invalid on purpose. */
	h.manifest_size = (uint32_t)bundle[8] | (uint32_t)bundle[9] << 8 |
			  (uint32_t)bundle[10] << 16 | (uint32_t)bundle[11] << 24;
	signed_len = OTA_BUNDLE_HEADER_SIZE + h.manifest_size;
	ota_sha256(bundle, signed_len, digest);
	check(keys_sign(&key->pk, digest, bundle + signed_len) == OTA_OK, "keys_sign");
}

struct ota_verify_policy test_policy(const struct test_key *key)
{
	struct ota_verify_policy p = {&key->trusted, 1, TEST_BOARD, 0};

	return p;
}

void test_ram_init(struct test_ram *t, uint32_t block_size, uint32_t block_count)
{
	t->size = (size_t)block_size * block_count;
	t->mem = calloc(1, t->size);
	check(t->mem != NULL, "calloc");
	ota_ram_blockdev_init(&t->ram, t->mem, block_size, block_count);
}

void test_ram_free(struct test_ram *t)
{
	free(t->mem);
	t->mem = NULL;
}

void test_describe_image(struct ota_manifest *m, const uint8_t *image, size_t len)
{
	m->image_size = (uint32_t)len;
	ota_sha256(image, len, m->image_sha256);
}

int test_install_raw(struct slot_store *s, const struct ota_manifest *m, const uint8_t *image)
{
	int rc = slot_store_begin_install(s, m);

	/* Odd-sized pieces, so buffering across block boundaries is exercised. */
	for (uint32_t done = 0; rc == OTA_OK && done < m->image_size;) {
		uint32_t n = m->image_size - done < 777 ? m->image_size - done : 777;

		rc = slot_store_write(s, image + done, n);
		done += n;
	}
	if (rc != OTA_OK) {
		slot_store_abort(s);
		return rc;
	}
	return slot_store_finish(s);
}
