/*
 * bundle.h: the signed bundle a guest update travels in, and the streaming
 * verifier the device runs on it.
 *
 *   [header 24 B][manifest ≤ 512 B][signature 64 B][image]
 *
 * The signature is ECDSA P-256 over SHA-256(header || manifest); the manifest
 * carries the image's size and SHA-256. A device therefore authenticates
 * everything about an update before it accepts the first image byte, then
 * hashes the image as it arrives and accepts it only if the hash matches.
 * Byte layout, limits and versioning: docs/bundle-format.md.
 *
 * The verifier holds fixed buffers only (no allocation, nothing that grows
 * with the image): one struct ota_verifier per update in progress.
 */
#ifndef OTA_BUNDLE_H
#define OTA_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "manifest.h"

#define OTA_BUNDLE_MAGIC                    "FLTB"
#define OTA_BUNDLE_FORMAT_VERSION           1
#define OTA_BUNDLE_HEADER_SIZE              24
#define OTA_SIGNATURE_ALG_ECDSA_P256_SHA256 1
/* Format limit; a device's own limit (its slot size) is usually lower. */
#define OTA_BUNDLE_IMAGE_MAX (256ul * 1024 * 1024)
/* Everything before the image. */
#define OTA_BUNDLE_HEAD_MAX                                                                        \
	(OTA_BUNDLE_HEADER_SIZE + OTA_MANIFEST_SIZE_MAX + OTA_P256_SIGNATURE_SIZE)

struct ota_bundle_header {
	uint16_t format_version;
	uint16_t header_size;
	uint32_t manifest_size;
	uint32_t image_size;
	uint16_t signature_alg;
	uint16_t signature_size;
	uint32_t flags;
};

/*
 * Decodes buf[0..OTA_BUNDLE_HEADER_SIZE). Checks, in this order: magic
 * (OTA_E_BAD_MAGIC), format version (OTA_E_UNSUPPORTED_VERSION), then every
 * other field (OTA_E_MALFORMED_HEADER, or OTA_E_OVERSIZE for an image over
 * OTA_BUNDLE_IMAGE_MAX). Magic and version sit at offsets 0 and 4 in every
 * format version, so a device can always say which one it was sent.
 */
int ota_bundle_header_decode(const uint8_t *buf, struct ota_bundle_header *h);
void ota_bundle_header_encode(const struct ota_bundle_header *h, uint8_t *buf);
/* A version-1 header for a manifest and an image of these sizes. */
void ota_bundle_header_make(struct ota_bundle_header *h, uint32_t manifest_size,
			    uint32_t image_size);

/* A public key the device trusts (ota/trusted_keys.h lists the built-in ones). */
struct ota_trusted_key {
	uint8_t key_id[OTA_KEY_ID_SIZE];
	uint8_t pubkey[OTA_P256_PUBKEY_SIZE];
};

struct ota_verify_policy {
	const struct ota_trusted_key *keys;
	size_t key_count;
	const char *board;       /* NULL: accept any board (host tools) */
	uint32_t max_image_size; /* 0: OTA_BUNDLE_IMAGE_MAX */
};

enum ota_verifier_phase {
	OTA_VERIFIER_HEAD,    /* collecting header, manifest, signature */
	OTA_VERIFIER_PAYLOAD, /* manifest verified; hashing the image */
	OTA_VERIFIER_DONE,    /* image complete and its hash matched */
	OTA_VERIFIER_FAILED,  /* error is sticky */
};

struct ota_verifier {
	struct ota_verify_policy policy;
	enum ota_verifier_phase phase;
	int error;
	uint32_t head_len;  /* bytes of head[] filled */
	uint32_t head_need; /* head bytes expected (header first, then all) */
	uint8_t head[OTA_BUNDLE_HEAD_MAX];
	struct ota_bundle_header header;
	struct ota_manifest manifest;
	const struct ota_trusted_key *key;
	struct ota_sha256 image_hash;
	uint32_t image_received;
};

void ota_verifier_init(struct ota_verifier *v, const struct ota_verify_policy *policy);

/*
 * Feeds head bytes. Consumes at most up to the end of the signature and
 * stores how many bytes it took in *consumed; the rest of data is image.
 * Returns OTA_AGAIN (give me more), OTA_OK (the manifest is authentic and
 * ota_verifier_manifest() returns it) or an error: bad magic/version,
 * malformed header/manifest, oversize, unknown key, bad signature, wrong board.
 */
int ota_verifier_feed_head(struct ota_verifier *v, const uint8_t *data, size_t len,
			   size_t *consumed);

/* Feeds image bytes (only after feed_head returned OTA_OK).
 * OTA_E_TRAILING_DATA when they go past the signed image size. */
int ota_verifier_feed_image(struct ota_verifier *v, const uint8_t *data, size_t len);

/* After the last byte: OTA_OK, OTA_E_TRUNCATED or OTA_E_HASH_MISMATCH. */
int ota_verifier_finish(struct ota_verifier *v);

/* The authenticated manifest, or NULL before feed_head returned OTA_OK. */
const struct ota_manifest *ota_verifier_manifest(const struct ota_verifier *v);

/* Whole bundle in memory, for tools and tests: feed_head + feed_image + finish. */
int ota_bundle_verify(struct ota_verifier *v, const struct ota_verify_policy *policy,
		      const uint8_t *bundle, size_t len);

#endif
