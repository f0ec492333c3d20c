/*
 * crypto.h: the two primitives ota/ needs, behind a seam.
 *
 * ota/crypto_mbedtls.c implements them with mbedTLS for the host (Debian's
 * libmbedcrypto) and for the target (mbedtls 2.28 source built with
 * ota/mbedtls_config_target.h). Nothing outside that file sees mbedTLS.
 */
#ifndef OTA_CRYPTO_H
#define OTA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define OTA_SHA256_SIZE 32
/* Uncompressed SEC1 point: 0x04 || X || Y. */
#define OTA_P256_PUBKEY_SIZE 65
/* Raw r || s, each 32 bytes big-endian. */
#define OTA_P256_SIGNATURE_SIZE 64

/* Opaque, large enough for the implementation's context (checked there). */
struct ota_sha256 {
	union {
		uint64_t align;
		unsigned char bytes[128];
	} opaque;
};

void ota_sha256_init(struct ota_sha256 *ctx);
void ota_sha256_update(struct ota_sha256 *ctx, const void *data, size_t len);
void ota_sha256_final(struct ota_sha256 *ctx, uint8_t digest[OTA_SHA256_SIZE]);
/* One call: digest = SHA-256(data). */
void ota_sha256(const void *data, size_t len, uint8_t digest[OTA_SHA256_SIZE]);

/*
 * Returns OTA_OK when sig is a valid ECDSA P-256 signature of hash under
 * pubkey, OTA_E_BAD_SIGNATURE when it is not, OTA_E_CRYPTO when the key is
 * not a valid point or the implementation ran out of memory.
 */
int ota_ecdsa_p256_verify(const uint8_t pubkey[OTA_P256_PUBKEY_SIZE],
			  const uint8_t hash[OTA_SHA256_SIZE],
			  const uint8_t sig[OTA_P256_SIGNATURE_SIZE]);

/* Constant-time comparison for digests: 0 when equal. */
int ota_digest_compare(const uint8_t *a, const uint8_t *b, size_t len);

#endif
