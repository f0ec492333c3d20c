/*
 * mbedtls_config_target.h: the smallest mbedTLS 2.28 that checks a bundle
 * signature on the board: SHA-256 and ECDSA P-256 verification, nothing else.
 *
 * Used with -DMBEDTLS_CONFIG_FILE='"mbedtls_config_target.h"' for
 * $(O)/target/mbedtls/libmbedcrypto-min.a (and a host copy for measuring
 * its heap). Choices that matter:
 *  - MBEDTLS_ECP_NO_INTERNAL_RNG: verification handles only public data, so
 *    no blinding RNG is needed and none is linked;
 *  - window size 2, no fixed-point table: a few KiB of heap instead of tens;
 *  - bignums come from a static arena (MBEDTLS_MEMORY_BUFFER_ALLOC_C, set up
 *    by ota/crypto_mbedtls.c); the libc allocator is never used.
 */
#ifndef OTA_MBEDTLS_CONFIG_TARGET_H
#define OTA_MBEDTLS_CONFIG_TARGET_H

#include <stddef.h>

#define MBEDTLS_HAVE_ASM
#define MBEDTLS_NO_PLATFORM_ENTROPY

#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_NO_INTERNAL_RNG
#define MBEDTLS_ECP_WINDOW_SIZE       2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C /* required by ECDSA_C; DER is not used */
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER

#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_MPI_MAX_SIZE          64 /* bytes: P-256 needs 32 (products 64) */
#define MBEDTLS_MPI_WINDOW_SIZE       1  /* only exponentiation uses it (not here) */
#define MBEDTLS_MEMORY_ALIGN_MULTIPLE 8

/* Until ota/crypto_mbedtls.c installs the arena, allocation fails cleanly
 * instead of pulling in the libc allocator. */
void *ota_crypto_no_calloc(size_t count, size_t size);
void ota_crypto_no_free(void *ptr);
#define MBEDTLS_PLATFORM_STD_CALLOC ota_crypto_no_calloc
#define MBEDTLS_PLATFORM_STD_FREE   ota_crypto_no_free
/* The arena allocator "exits" only on corrupted heap metadata: a memory
 * bug. The control domain has no process to exit, so it stops there. */
void ota_crypto_fatal(int status);
#define MBEDTLS_PLATFORM_EXIT_MACRO ota_crypto_fatal

/* Host measurement build only: peak-heap statistics. */
#if defined(OTA_MBEDTLS_MEMORY_DEBUG)
#define MBEDTLS_MEMORY_DEBUG
#endif

#include <mbedtls/check_config.h>

#endif
