/* bundle.c: bundle header codec and the streaming verifier. */
#include "bundle.h"

#include "endian.h"
#include "ota.h"

#include <string.h>

int ota_bundle_header_decode(const uint8_t *buf, struct ota_bundle_header *h)
{
	if (memcmp(buf, OTA_BUNDLE_MAGIC, 4) != 0)
		return OTA_E_BAD_MAGIC;
	h->format_version = ota_get_le16(buf + 4);
	if (h->format_version != OTA_BUNDLE_FORMAT_VERSION)
		return OTA_E_UNSUPPORTED_VERSION;
	h->header_size = ota_get_le16(buf + 6);
	h->manifest_size = ota_get_le32(buf + 8);
	h->image_size = ota_get_le32(buf + 12);
	h->signature_alg = ota_get_le16(buf + 16);
	h->signature_size = ota_get_le16(buf + 18);
	h->flags = ota_get_le32(buf + 20);
	if (h->header_size != OTA_BUNDLE_HEADER_SIZE || h->manifest_size < OTA_MANIFEST_SIZE_MIN ||
	    h->manifest_size > OTA_MANIFEST_SIZE_MAX ||
	    h->signature_alg != OTA_SIGNATURE_ALG_ECDSA_P256_SHA256 ||
	    h->signature_size != OTA_P256_SIGNATURE_SIZE || h->flags != 0 || h->image_size == 0)
		return OTA_E_MALFORMED_HEADER;
	if (h->image_size > OTA_BUNDLE_IMAGE_MAX)
		return OTA_E_OVERSIZE;
	return OTA_OK;
}

void ota_bundle_header_encode(const struct ota_bundle_header *h, uint8_t *buf)
{
	memcpy(buf, OTA_BUNDLE_MAGIC, 4);
	ota_put_le16(buf + 4, h->format_version);
	ota_put_le16(buf + 6, h->header_size);
	ota_put_le32(buf + 8, h->manifest_size);
	ota_put_le32(buf + 12, h->image_size);
	ota_put_le16(buf + 16, h->signature_alg);
	ota_put_le16(buf + 18, h->signature_size);
	ota_put_le32(buf + 20, h->flags);
}

void ota_bundle_header_make(struct ota_bundle_header *h, uint32_t manifest_size,
			    uint32_t image_size)
{
	h->format_version = OTA_BUNDLE_FORMAT_VERSION;
	h->header_size = OTA_BUNDLE_HEADER_SIZE;
	h->manifest_size = manifest_size;
	h->image_size = image_size;
	h->signature_alg = OTA_SIGNATURE_ALG_ECDSA_P256_SHA256;
	h->signature_size = OTA_P256_SIGNATURE_SIZE;
	h->flags = 0;
}

/* ---------------------------------------------------------------- verifier */

void ota_verifier_init(struct ota_verifier *v, const struct ota_verify_policy *policy)
{
	memset(v, 0, sizeof(*v));
	v->policy = *policy;
	if (v->policy.max_image_size == 0 || v->policy.max_image_size > OTA_BUNDLE_IMAGE_MAX)
		v->policy.max_image_size = OTA_BUNDLE_IMAGE_MAX;
	v->phase = OTA_VERIFIER_HEAD;
	v->head_need = OTA_BUNDLE_HEADER_SIZE;
}

static int fail(struct ota_verifier *v, int error)
{
	v->phase = OTA_VERIFIER_FAILED;
	v->error = error;
	return error;
}

static const struct ota_trusted_key *find_key(const struct ota_verify_policy *p,
					      const uint8_t *key_id)
{
	for (size_t i = 0; i < p->key_count; i++) {
		if (memcmp(p->keys[i].key_id, key_id, OTA_KEY_ID_SIZE) == 0)
			return &p->keys[i];
	}
	return 0;
}

/* The header is complete: learn how much head follows. */
static int check_header(struct ota_verifier *v)
{
	int rc = ota_bundle_header_decode(v->head, &v->header);

	if (rc != OTA_OK)
		return rc;
	if (v->header.image_size > v->policy.max_image_size)
		return OTA_E_OVERSIZE;
	v->head_need = OTA_BUNDLE_HEADER_SIZE + v->header.manifest_size + v->header.signature_size;
	return OTA_OK;
}

/*
 * The whole head is here. Structure is checked before the signature (so a
 * damaged file says "malformed"), the signature before anything the manifest
 * claims (so an attacker learns nothing from which claim was refused).
 */
static int check_head(struct ota_verifier *v)
{
	uint32_t signed_len = OTA_BUNDLE_HEADER_SIZE + v->header.manifest_size;
	uint8_t digest[OTA_SHA256_SIZE];
	int rc;

	rc = ota_manifest_decode(v->head + OTA_BUNDLE_HEADER_SIZE, v->header.manifest_size,
				 &v->manifest);
	if (rc != OTA_OK)
		return rc;
	if (v->manifest.image_size != v->header.image_size)
		return OTA_E_MALFORMED_MANIFEST;
	v->key = find_key(&v->policy, v->manifest.key_id);
	if (!v->key)
		return OTA_E_UNKNOWN_KEY;
	ota_sha256(v->head, signed_len, digest);
	rc = ota_ecdsa_p256_verify(v->key->pubkey, digest, v->head + signed_len);
	if (rc != OTA_OK)
		return rc;
	if (v->policy.board && !ota_manifest_has_board(&v->manifest, v->policy.board))
		return OTA_E_WRONG_BOARD;
	return OTA_OK;
}

int ota_verifier_feed_head(struct ota_verifier *v, const uint8_t *data, size_t len,
			   size_t *consumed)
{
	size_t used = 0;
	int rc;

	*consumed = 0;
	if (v->phase == OTA_VERIFIER_FAILED)
		return v->error;
	if (v->phase != OTA_VERIFIER_HEAD)
		return OTA_E_INVALID;
	while (used < len) {
		size_t take = v->head_need - v->head_len;

		if (take > len - used)
			take = len - used;
		memcpy(v->head + v->head_len, data + used, take);
		v->head_len += (uint32_t)take;
		used += take;
		*consumed = used;
		if (v->head_len < v->head_need)
			break;
		if (v->head_len == OTA_BUNDLE_HEADER_SIZE) {
			rc = check_header(v);
			if (rc != OTA_OK)
				return fail(v, rc);
			continue;
		}
		rc = check_head(v);
		if (rc != OTA_OK)
			return fail(v, rc);
		v->phase = OTA_VERIFIER_PAYLOAD;
		ota_sha256_init(&v->image_hash);
		return OTA_OK;
	}
	return OTA_AGAIN;
}

int ota_verifier_feed_image(struct ota_verifier *v, const uint8_t *data, size_t len)
{
	if (v->phase == OTA_VERIFIER_FAILED)
		return v->error;
	if (v->phase != OTA_VERIFIER_PAYLOAD)
		return OTA_E_INVALID;
	if (len > v->header.image_size - v->image_received)
		return fail(v, OTA_E_TRAILING_DATA);
	ota_sha256_update(&v->image_hash, data, len);
	v->image_received += (uint32_t)len;
	return OTA_OK;
}

int ota_verifier_finish(struct ota_verifier *v)
{
	uint8_t digest[OTA_SHA256_SIZE];

	if (v->phase == OTA_VERIFIER_FAILED)
		return v->error;
	if (v->phase == OTA_VERIFIER_HEAD)
		return fail(v, OTA_E_TRUNCATED);
	if (v->phase != OTA_VERIFIER_PAYLOAD)
		return OTA_E_INVALID;
	if (v->image_received != v->header.image_size)
		return fail(v, OTA_E_TRUNCATED);
	ota_sha256_final(&v->image_hash, digest);
	if (ota_digest_compare(digest, v->manifest.image_sha256, OTA_SHA256_SIZE) != 0)
		return fail(v, OTA_E_HASH_MISMATCH);
	v->phase = OTA_VERIFIER_DONE;
	return OTA_OK;
}

const struct ota_manifest *ota_verifier_manifest(const struct ota_verifier *v)
{
	if (v->phase == OTA_VERIFIER_PAYLOAD || v->phase == OTA_VERIFIER_DONE)
		return &v->manifest;
	return 0;
}

int ota_bundle_verify(struct ota_verifier *v, const struct ota_verify_policy *policy,
		      const uint8_t *bundle, size_t len)
{
	size_t used;
	int rc;

	ota_verifier_init(v, policy);
	rc = ota_verifier_feed_head(v, bundle, len, &used);
	if (rc == OTA_AGAIN)
		return fail(v, OTA_E_TRUNCATED);
	if (rc != OTA_OK)
		return rc;
	rc = ota_verifier_feed_image(v, bundle + used, len - used);
	if (rc != OTA_OK)
		return rc;
	return ota_verifier_finish(v);
}
