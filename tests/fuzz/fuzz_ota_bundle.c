/*
 * fuzz_ota_bundle.c: libFuzzer target for everything a device parses from
 * the network before it trusts a byte: the bundle header, the manifest and
 * the streaming verifier.
 *
 * Input: byte 0 picks the chunk size the bundle is streamed in (network
 * segments of any size), the rest is the bundle. The trusted key is the one
 * the seed corpus was signed with (generated at build time), so mutations
 * of a seed's image reach the payload phase. Properties checked beyond "no
 * crash, no UB": a manifest that decodes re-encodes to the same bytes
 * (one encoding per manifest) unless it carries optional tags, and the
 * verifier never reports success for a bundle of the wrong length.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "ota.h"
#include "trusted_keys.h"

static struct ota_verifier verifier;

static void check_manifest_canonical(const uint8_t *data, size_t len)
{
	struct ota_manifest m;
	uint8_t again[OTA_MANIFEST_SIZE_MAX];
	size_t again_len;
	int has_optional = 0;

	if (ota_manifest_decode(data, len, &m) != OTA_OK)
		return;
	for (size_t pos = 0; pos + 1 < len; pos += 2 + data[pos + 1])
		has_optional |= data[pos] >= OTA_TAG_FIRST_OPTIONAL;
	if (ota_manifest_encode(&m, again, sizeof(again), &again_len) != OTA_OK)
		abort();
	if (!has_optional && (again_len != len || memcmp(again, data, len) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ota_verify_policy policy = {ota_trusted_keys, ota_trusted_key_count, "orangepi-pc",
					   1u << 20};
	struct ota_bundle_header h;
	size_t chunk, pos = 0, used;
	int rc = OTA_AGAIN;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] * 7 + 1;
	data++;
	size--;

	if (size >= OTA_BUNDLE_HEADER_SIZE && ota_bundle_header_decode(data, &h) == OTA_OK &&
	    size >= OTA_BUNDLE_HEADER_SIZE + h.manifest_size)
		check_manifest_canonical(data + OTA_BUNDLE_HEADER_SIZE, h.manifest_size);
	check_manifest_canonical(data, size);

	ota_verifier_init(&verifier, &policy);
	while (pos < size && rc == OTA_AGAIN) {
		size_t n = size - pos < chunk ? size - pos : chunk;

		rc = ota_verifier_feed_head(&verifier, data + pos, n, &used);
		if (used > n)
			abort();
		pos += used;
	}
	while (rc == OTA_OK && pos < size) {
		size_t n = size - pos < chunk ? size - pos : chunk;

		rc = ota_verifier_feed_image(&verifier, data + pos, n);
		pos += n;
	}
	if (rc == OTA_OK || rc == OTA_AGAIN)
		rc = ota_verifier_finish(&verifier);
	if (rc == OTA_OK) {
		const struct ota_manifest *m = ota_verifier_manifest(&verifier);

		if (!m || size != OTA_BUNDLE_HEADER_SIZE + verifier.header.manifest_size +
				      OTA_P256_SIGNATURE_SIZE + m->image_size)
			abort();
	}
	return 0;
}
