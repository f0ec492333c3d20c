/* Operator authentication for the device API (auth.h). */
#include "auth.h"

#include <string.h>

#include "manifest.h"
#include "ota.h"

void ota_auth_init(struct ota_auth *a, const char *board, const struct ota_trusted_key *operators,
		   size_t operator_count, void (*random)(void *ctx, uint8_t *out, size_t len),
		   void *random_ctx)
{
	memset(a, 0, sizeof(*a));
	strncpy(a->board, board, OTA_AUTH_BOARD_MAX);
	a->operators = operators;
	a->operator_count = operator_count;
	a->random = random;
	a->random_ctx = random_ctx;
}

static void to_hex(char *out, const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
	out[2 * len] = '\0';
}

static int from_hex(const char *s, size_t len, uint8_t *out)
{
	for (size_t i = 0; i < len; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + (size_t)k];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
						       : -1;
			if (d < 0)
				return -1;
			v = v << 4 | d;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

static bool expired(const struct ota_auth_nonce *n, uint64_t now_ms)
{
	return now_ms - n->issued_ms > OTA_AUTH_NONCE_TTL_MS;
}

void ota_auth_issue_nonce(struct ota_auth *a, uint64_t now_ms,
			  char out[2 * OTA_AUTH_NONCE_SIZE + 1])
{
	/* A free or expired slot, else the oldest live one. */
	struct ota_auth_nonce *slot = &a->nonces[0];
	for (size_t i = 0; i < OTA_AUTH_NONCES; i++) {
		struct ota_auth_nonce *n = &a->nonces[i];
		if (!n->live || expired(n, now_ms)) {
			slot = n;
			break;
		}
		if (n->issued_ms < slot->issued_ms)
			slot = n;
	}
	a->random(a->random_ctx, slot->value, sizeof(slot->value));
	slot->issued_ms = now_ms;
	slot->live = true;
	a->issued++;
	to_hex(out, slot->value, sizeof(slot->value));
}

size_t ota_auth_canonical(char *out, size_t cap, const char *board, const char *method,
			  const char *target, const char *nonce_hex,
			  const uint8_t body_digest[OTA_SHA256_SIZE])
{
	const char *fields[] = {"flotilla-request-v1", board, method, target, nonce_hex};
	char digest_hex[2 * OTA_SHA256_SIZE + 1];
	size_t len = 0;
	to_hex(digest_hex, body_digest, OTA_SHA256_SIZE);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) + 1; i++) {
		const char *f = i < 5 ? fields[i] : digest_hex;
		size_t n = strlen(f);
		if (memchr(f, '\n', n) || n + 1 > cap - len)
			return 0;
		memcpy(out + len, f, n);
		len += n;
		out[len++] = '\n';
	}
	return len;
}

/* One "name=value" of the header into value (NUL-terminated); -1 when absent or too long. */
static int field(const char *header, const char *name, char *value, size_t cap)
{
	size_t name_len = strlen(name);
	const char *p = header;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		if ((size_t)(p - start) > name_len && strncmp(start, name, name_len) == 0 &&
		    start[name_len] == '=') {
			size_t n = (size_t)(p - start) - name_len - 1;
			while (n && start[name_len + n] == ' ')
				n--;
			if (n >= cap)
				return -1;
			memcpy(value, start + name_len + 1, n);
			value[n] = '\0';
			return 0;
		}
	}
	return -1;
}

static struct ota_auth_result refuse(struct ota_auth *a, int status, const char *code,
				     const char *message)
{
	a->refused++;
	return (struct ota_auth_result){status, code, message, NULL};
}

static const struct ota_trusted_key *find_key(const struct ota_trusted_key *keys, size_t count,
					      const uint8_t id[OTA_KEY_ID_SIZE])
{
	for (size_t i = 0; i < count; i++)
		if (memcmp(keys[i].key_id, id, OTA_KEY_ID_SIZE) == 0)
			return &keys[i];
	return NULL;
}

struct ota_auth_result ota_auth_check(struct ota_auth *a, const char *authorization,
				      const char *method, const char *target,
				      const uint8_t body_digest[OTA_SHA256_SIZE], uint64_t now_ms)
{
	char board[OTA_AUTH_BOARD_MAX + 1], key_hex[2 * OTA_KEY_ID_SIZE + 1];
	char nonce_hex[2 * OTA_AUTH_NONCE_SIZE + 1], sig_hex[2 * OTA_P256_SIGNATURE_SIZE + 1];
	uint8_t key_id[OTA_KEY_ID_SIZE], nonce[OTA_AUTH_NONCE_SIZE], sig[OTA_P256_SIGNATURE_SIZE];

	if (!authorization || !authorization[0])
		return refuse(
		    a, 401, "unsigned",
		    "this request must be signed by an operator key (Authorization: Flotilla ...)");
	if (strncmp(authorization, "Flotilla ", 9) != 0 ||
	    field(authorization + 9, "board", board, sizeof(board)) != 0 ||
	    field(authorization + 9, "key", key_hex, sizeof(key_hex)) != 0 ||
	    field(authorization + 9, "nonce", nonce_hex, sizeof(nonce_hex)) != 0 ||
	    field(authorization + 9, "sig", sig_hex, sizeof(sig_hex)) != 0 ||
	    strlen(key_hex) != sizeof(key_hex) - 1 || strlen(nonce_hex) != sizeof(nonce_hex) - 1 ||
	    strlen(sig_hex) != sizeof(sig_hex) - 1 ||
	    from_hex(key_hex, sizeof(key_id), key_id) != 0 ||
	    from_hex(nonce_hex, sizeof(nonce), nonce) != 0 ||
	    from_hex(sig_hex, sizeof(sig), sig) != 0)
		return refuse(a, 401, "malformed_authorization",
			      "Authorization must be: Flotilla board=B, key=K, nonce=N, sig=S");
	if (strcmp(board, a->board) != 0)
		return refuse(a, 403, "other_board", "this request was signed for another board");
	const struct ota_trusted_key *key = find_key(a->operators, a->operator_count, key_id);
	if (!key) {
		if (find_key(a->signers, a->signer_count, key_id))
			return refuse(a, 403, "wrong_role",
				      "that is a bundle signing key, not an operator key");
		return refuse(a, 403, "unknown_operator",
			      "this board does not trust that operator key");
	}
	/* The nonce is spent by this attempt, whatever happens next. */
	struct ota_auth_nonce *slot = NULL;
	for (size_t i = 0; i < OTA_AUTH_NONCES; i++)
		if (a->nonces[i].live &&
		    ota_digest_compare(a->nonces[i].value, nonce, sizeof(nonce)) == 0)
			slot = &a->nonces[i];
	if (!slot)
		return refuse(a, 401, "nonce",
			      "unknown or already used nonce: get a fresh one from GET /v1/nonce");
	slot->live = false;
	if (expired(slot, now_ms))
		return refuse(a, 401, "nonce_expired", "the nonce expired: get a fresh one");

	char canonical[OTA_AUTH_CANONICAL_MAX];
	size_t len = ota_auth_canonical(canonical, sizeof(canonical), a->board, method, target,
					nonce_hex, body_digest);
	if (len == 0)
		return refuse(a, 400, "malformed_request",
			      "the request cannot be put in canonical form");
	uint8_t hash[OTA_SHA256_SIZE];
	ota_sha256(canonical, len, hash);
	if (ota_ecdsa_p256_verify(key->pubkey, hash, sig) != OTA_OK)
		return refuse(
		    a, 401, "bad_signature",
		    "the signature does not match this request (method, path, body, nonce)");
	return (struct ota_auth_result){0, "ok", "authenticated", key};
}
