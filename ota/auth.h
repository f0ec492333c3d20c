/*
 * auth.h: operator authentication for the device API.
 *
 * Two roles, two key tables: *signing* keys (bundle.h's trusted keys) say
 * what may run; *operator* keys say who may act on a board. A request that
 * changes anything, or reads logs, carries
 *
 *   Authorization: Flotilla board=<board id>, key=<key id, 16 hex>,
 *                  nonce=<32 hex>, sig=<128 hex: ECDSA P-256 r||s>
 *
 * where sig signs SHA-256 of the canonical request (ota_auth_canonical()):
 *
 *   "flotilla-request-v1\n" board "\n" METHOD "\n" target "\n" nonce "\n"
 *   hex(SHA-256 of the body commitment) "\n"
 *
 * target is the path with its query exactly as sent; the body commitment is
 * the body itself, except for a bundle upload, where it is the bundle's
 * signed head (header + manifest + signature: the manifest commits to the
 * payload's hash), so the board can check the operator before it writes a
 * byte of payload. A request without a body commits to the empty string.
 *
 * The nonce is one the board issued (GET /v1/nonce), unused and younger
 * than OTA_AUTH_NONCE_TTL_MS: each is consumed by the first request that
 * presents it, whatever the outcome, so a request can never be replayed.
 */
#ifndef OTA_AUTH_H
#define OTA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "crypto.h"

#define OTA_AUTH_NONCE_SIZE    16
#define OTA_AUTH_NONCES        16
#define OTA_AUTH_NONCE_TTL_MS  120000
#define OTA_AUTH_BOARD_MAX     63
#define OTA_AUTH_CANONICAL_MAX 400

struct ota_auth_nonce {
	uint8_t value[OTA_AUTH_NONCE_SIZE];
	uint64_t issued_ms;
	bool live;
};

struct ota_auth {
	char board[OTA_AUTH_BOARD_MAX + 1];
	const struct ota_trusted_key *operators; /* who may act */
	size_t operator_count;
	const struct ota_trusted_key *signers; /* bundle keys: named in refusals only */
	size_t signer_count;
	void (*random)(void *ctx, uint8_t *out, size_t len);
	void *random_ctx;
	struct ota_auth_nonce nonces[OTA_AUTH_NONCES];
	uint64_t issued, refused;
};

/* What a check decided: status 0 = authenticated, else 401/403 + a reason. */
struct ota_auth_result {
	int status;
	const char *code;    /* machine-readable: "unsigned", "nonce", ... */
	const char *message; /* one line for humans */
	const struct ota_trusted_key *key;
};

/* auth.c */
void ota_auth_init(struct ota_auth *a, const char *board, const struct ota_trusted_key *operators,
		   size_t operator_count, void (*random)(void *ctx, uint8_t *out, size_t len),
		   void *random_ctx);
/*
 * A fresh nonce as 32 hex characters + NUL in out. When all slots are live
 * the oldest is replaced (it may then fail as 'nonce'): the table never grows.
 */
void ota_auth_issue_nonce(struct ota_auth *a, uint64_t now_ms,
			  char out[2 * OTA_AUTH_NONCE_SIZE + 1]);
/*
 * Checks an Authorization header value for METHOD target with this body
 * commitment digest (SHA-256). Consumes the nonce it names.
 */
struct ota_auth_result ota_auth_check(struct ota_auth *a, const char *authorization,
				      const char *method, const char *target,
				      const uint8_t body_digest[OTA_SHA256_SIZE], uint64_t now_ms);
/*
 * The canonical request into out (cap bytes); returns its length, or 0 when
 * it does not fit or a field holds a newline. Shared with the CLI.
 */
size_t ota_auth_canonical(char *out, size_t cap, const char *board, const char *method,
			  const char *target, const char *nonce_hex,
			  const uint8_t body_digest[OTA_SHA256_SIZE]);

#endif
