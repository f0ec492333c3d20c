/*
 * keys.h: P-256 signing keys on the host (mbedTLS, Debian's libmbedtls).
 *
 * Files: NAME.key is the private key, PEM (SEC1 "EC PRIVATE KEY"), mode 0600;
 * NAME.pub the public key, PEM SubjectPublicKeyInfo, readable by openssl.
 * Functions return 0 or an OTA status / -1 and print nothing, except the
 * *_file ones, which print one error line through cli_error().
 */
#ifndef FLOTILLA_KEYS_H
#define FLOTILLA_KEYS_H

#include <stdint.h>

#include <mbedtls/pk.h>

#include "crypto.h"
#include "manifest.h"

/* A fresh key pair in pk (initialised by the caller with mbedtls_pk_init). */
int keys_generate(mbedtls_pk_context *pk);
/* The public point (uncompressed, 65 bytes) of a private or public key. */
int keys_public_point(mbedtls_pk_context *pk, uint8_t point[OTA_P256_PUBKEY_SIZE]);
/* Deterministic ECDSA (RFC 6979) of a SHA-256 digest, raw r || s. */
int keys_sign(mbedtls_pk_context *pk, const uint8_t hash[OTA_SHA256_SIZE],
	      uint8_t sig[OTA_P256_SIGNATURE_SIZE]);

/* NAME.key (0600, refuses to overwrite) and NAME.pub. */
int keys_write_files(mbedtls_pk_context *pk, const char *base);
int keys_load_private_file(const char *path, mbedtls_pk_context *pk);
int keys_load_public_file(const char *path, uint8_t point[OTA_P256_PUBKEY_SIZE]);

#endif
