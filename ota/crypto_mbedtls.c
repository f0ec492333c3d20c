/*
 * crypto_mbedtls.c: ota/crypto.h on mbedTLS 2.28.
 *
 * The same file builds against Debian's libmbedcrypto on the host and
 * against the minimal target library (ota/mbedtls_config_target.h). On the
 * target mbedTLS allocates its bignums from a static arena given to it here
 * (MBEDTLS_MEMORY_BUFFER_ALLOC_C), so verification never needs a heap and
 * its RAM use is a fixed, configured number.
 */
#include "crypto.h"

#include "ota.h"
#include "ota_config.h"

#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>

#if defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C)
#include <mbedtls/memory_buffer_alloc.h>

#ifndef CONFIG_OTA_CRYPTO_HEAP_SIZE
#define CONFIG_OTA_CRYPTO_HEAP_SIZE 8192
#endif
static unsigned char ota_crypto_heap[CONFIG_OTA_CRYPTO_HEAP_SIZE];
static int ota_crypto_heap_ready;

static void crypto_heap_init(void)
{
	if (!ota_crypto_heap_ready) {
		mbedtls_memory_buffer_alloc_init(ota_crypto_heap, sizeof(ota_crypto_heap));
		ota_crypto_heap_ready = 1;
	}
}
#else
static void crypto_heap_init(void)
{
}
#endif

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(((struct ota_sha256 *)0)->opaque),
	       "struct ota_sha256 too small for mbedtls_sha256_context");

static mbedtls_sha256_context *sha_ctx(struct ota_sha256 *ctx)
{
	return (mbedtls_sha256_context *)(void *)ctx->opaque.bytes;
}

void ota_sha256_init(struct ota_sha256 *ctx)
{
	mbedtls_sha256_init(sha_ctx(ctx));
	/* Cannot fail for SHA-256 without hardware acceleration. */
	(void)mbedtls_sha256_starts_ret(sha_ctx(ctx), 0);
}

void ota_sha256_update(struct ota_sha256 *ctx, const void *data, size_t len)
{
	(void)mbedtls_sha256_update_ret(sha_ctx(ctx), data, len);
}

void ota_sha256_final(struct ota_sha256 *ctx, uint8_t digest[OTA_SHA256_SIZE])
{
	(void)mbedtls_sha256_finish_ret(sha_ctx(ctx), digest);
	mbedtls_sha256_free(sha_ctx(ctx));
}

void ota_sha256(const void *data, size_t len, uint8_t digest[OTA_SHA256_SIZE])
{
	struct ota_sha256 ctx;

	ota_sha256_init(&ctx);
	ota_sha256_update(&ctx, data, len);
	ota_sha256_final(&ctx, digest);
}

int ota_ecdsa_p256_verify(const uint8_t pubkey[OTA_P256_PUBKEY_SIZE],
			  const uint8_t hash[OTA_SHA256_SIZE],
			  const uint8_t sig[OTA_P256_SIGNATURE_SIZE])
{
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	mbedtls_mpi r, s;
	int rc = OTA_E_CRYPTO;

	crypto_heap_init();
	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);

	if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0)
		goto out;
	if (mbedtls_ecp_point_read_binary(&grp, &q, pubkey, OTA_P256_PUBKEY_SIZE) != 0 ||
	    mbedtls_ecp_check_pubkey(&grp, &q) != 0)
		goto out;
	if (mbedtls_mpi_read_binary(&r, sig, 32) != 0 ||
	    mbedtls_mpi_read_binary(&s, sig + 32, 32) != 0)
		goto out;

	switch (mbedtls_ecdsa_verify(&grp, hash, OTA_SHA256_SIZE, &q, &r, &s)) {
	case 0: rc = OTA_OK; break;
	case MBEDTLS_ERR_ECP_ALLOC_FAILED:
	case MBEDTLS_ERR_MPI_ALLOC_FAILED:
		/* Out of arena: a configuration problem, not a forged bundle. */
		rc = OTA_E_CRYPTO;
		break;
	default:
		/* Out-of-range r or s and a failed check both mean "not signed by this key". */
		rc = OTA_E_BAD_SIGNATURE;
		break;
	}
out:
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&r);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int ota_digest_compare(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= (uint8_t)(a[i] ^ b[i]);
	return diff != 0;
}

#if defined(MBEDTLS_PLATFORM_MEMORY)
/* Named by ota/mbedtls_config_target.h as mbedTLS's default allocator. */
void *ota_crypto_no_calloc(size_t count, size_t size)
{
	(void)count;
	(void)size;
	return NULL;
}

void ota_crypto_no_free(void *ptr)
{
	(void)ptr;
}

void ota_crypto_fatal(int status)
{
	(void)status;
	for (;;) {
	}
}
#endif
