/* bundle_build.c: header + manifest + signature + image. */
#include "bundle_build.h"

#include "bundle.h"
#include "keys.h"
#include "ota.h"

#include <stdlib.h>
#include <string.h>

int bundle_build(struct ota_manifest *m, const uint8_t *image, size_t image_len,
		 mbedtls_pk_context *key, uint8_t **out, size_t *out_len)
{
	uint8_t manifest[OTA_MANIFEST_SIZE_MAX];
	uint8_t point[OTA_P256_PUBKEY_SIZE];
	uint8_t digest[OTA_SHA256_SIZE];
	struct ota_bundle_header h;
	size_t manifest_len, total;
	uint8_t *buf;
	int rc;

	if (image_len == 0 || image_len > OTA_BUNDLE_IMAGE_MAX)
		return image_len == 0 ? OTA_E_INVALID : OTA_E_OVERSIZE;
	rc = keys_public_point(key, point);
	if (rc != OTA_OK)
		return rc;
	m->image_size = (uint32_t)image_len;
	ota_sha256(image, image_len, m->image_sha256);
	ota_key_id(point, m->key_id);
	rc = ota_manifest_encode(m, manifest, sizeof(manifest), &manifest_len);
	if (rc != OTA_OK)
		return rc;

	total = OTA_BUNDLE_HEADER_SIZE + manifest_len + OTA_P256_SIGNATURE_SIZE + image_len;
	buf = malloc(total);
	if (!buf)
		return OTA_E_CRYPTO;
	ota_bundle_header_make(&h, (uint32_t)manifest_len, (uint32_t)image_len);
	ota_bundle_header_encode(&h, buf);
	memcpy(buf + OTA_BUNDLE_HEADER_SIZE, manifest, manifest_len);
	ota_sha256(buf, OTA_BUNDLE_HEADER_SIZE + manifest_len, digest);
	rc = keys_sign(key, digest, buf + OTA_BUNDLE_HEADER_SIZE + manifest_len);
	if (rc != OTA_OK) {
		free(buf);
		return rc;
	}
	memcpy(buf + OTA_BUNDLE_HEADER_SIZE + manifest_len + OTA_P256_SIGNATURE_SIZE, image,
	       image_len);
	*out = buf;
	*out_len = total;
	return OTA_OK;
}
