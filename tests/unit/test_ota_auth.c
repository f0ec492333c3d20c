/*
 * test_ota_auth.c: operator authentication of device API requests
 * (ota/auth.c). A correctly signed request is accepted once; every other
 * case is refused with its own status and reason, and a nonce never works
 * twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "keys.h"
#include "ota.h"
#include "ota_test_util.h"

#define BOARD "board-17"

static struct test_key operator_key, stranger, signer;
static uint64_t counter;

/* A deterministic "random" source: the nonces only need to differ. */
static void fake_random(void *ctx, uint8_t *out, size_t len)
{
	(void)ctx;
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(counter * 31 + i * 7 + (counter >> 3));
	counter++;
}

static void setup_auth(struct ota_auth *a)
{
	ota_auth_init(a, BOARD, &operator_key.trusted, 1, fake_random, NULL);
	a->signers = &signer.trusted;
	a->signer_count = 1;
}

static void hex(char *out, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", data[i]);
}

/* The Authorization header a client signing with key sends. */
static void sign_request(char *header, size_t cap, struct test_key *key, const char *board,
			 const char *method, const char *target, const char *nonce,
			 const void *body, size_t body_len)
{
	uint8_t digest[OTA_SHA256_SIZE], hash[OTA_SHA256_SIZE], sig[OTA_P256_SIGNATURE_SIZE];
	char canonical[OTA_AUTH_CANONICAL_MAX], key_hex[17], sig_hex[129];
	ota_sha256(body, body_len, digest);
	size_t len =
	    ota_auth_canonical(canonical, sizeof(canonical), board, method, target, nonce, digest);
	assert_true(len > 0);
	ota_sha256(canonical, len, hash);
	assert_int_equal(keys_sign(&key->pk, hash, sig), 0);
	hex(key_hex, key->trusted.key_id, OTA_KEY_ID_SIZE);
	hex(sig_hex, sig, sizeof(sig));
	snprintf(header, cap, "Flotilla board=%s, key=%s, nonce=%s, sig=%s", board, key_hex, nonce,
		 sig_hex);
}

static struct ota_auth_result check(struct ota_auth *a, const char *header, const char *method,
				    const char *target, const void *body, size_t body_len,
				    uint64_t now)
{
	uint8_t digest[OTA_SHA256_SIZE];
	ota_sha256(body, body_len, digest);
	return ota_auth_check(a, header, method, target, digest, now);
}

static void expect(struct ota_auth_result r, int status, const char *code)
{
	if (r.status != status || strcmp(r.code, code) != 0)
		fail_msg("got %d %s (%s), want %d %s", r.status, r.code, r.message, status, code);
}

static void signed_request_is_accepted_once(void **state)
{
	(void)state;
	static struct ota_auth a;
	char nonce[33], header[512];
	setup_auth(&a);
	ota_auth_issue_nonce(&a, 1000, nonce);
	sign_request(header, sizeof(header), &operator_key, BOARD, "POST",
		     "/v1/guests/www/rollback", nonce, "", 0);
	struct ota_auth_result r =
	    check(&a, header, "POST", "/v1/guests/www/rollback", "", 0, 2000);
	expect(r, 0, "ok");
	assert_ptr_equal(r.key, &operator_key.trusted);
	/* The same request again: a replay. */
	expect(check(&a, header, "POST", "/v1/guests/www/rollback", "", 0, 2100), 401, "nonce");
}

static void each_forgery_is_refused_with_its_reason(void **state)
{
	(void)state;
	static struct ota_auth a;
	char nonce[33], header[512];
	const char body[] = "{\"x\":1}";
	setup_auth(&a);

	expect(check(&a, NULL, "POST", "/v1/x", "", 0, 0), 401, "unsigned");
	expect(check(&a, "", "POST", "/v1/x", "", 0, 0), 401, "unsigned");
	expect(check(&a, "Bearer abc", "POST", "/v1/x", "", 0, 0), 401, "malformed_authorization");
	expect(check(&a, "Flotilla board=" BOARD ", key=zz, nonce=00, sig=00", "POST", "/v1/x", "",
		     0, 0),
	       401, "malformed_authorization");

	ota_auth_issue_nonce(&a, 0, nonce);
	sign_request(header, sizeof(header), &operator_key, "board-99", "PUT", "/v1/x", nonce, body,
		     strlen(body));
	expect(check(&a, header, "PUT", "/v1/x", body, strlen(body), 1), 403, "other_board");

	sign_request(header, sizeof(header), &stranger, BOARD, "PUT", "/v1/x", nonce, body,
		     strlen(body));
	expect(check(&a, header, "PUT", "/v1/x", body, strlen(body), 1), 403, "unknown_operator");

	sign_request(header, sizeof(header), &signer, BOARD, "PUT", "/v1/x", nonce, body,
		     strlen(body));
	expect(check(&a, header, "PUT", "/v1/x", body, strlen(body), 1), 403, "wrong_role");

	/* Tampering with what was signed: each attempt spends a fresh nonce. */
	const char *methods[] = {"POST", "PUT", "PUT"};
	const char *targets[] = {"/v1/x", "/v1/y", "/v1/x"};
	const char *bodies[] = {body, body, "{\"x\":2}"};
	for (int i = 0; i < 3; i++) {
		ota_auth_issue_nonce(&a, 10, nonce);
		sign_request(header, sizeof(header), &operator_key, BOARD, "PUT", "/v1/x", nonce,
			     body, strlen(body));
		expect(check(&a, header, methods[i], targets[i], bodies[i], strlen(bodies[i]), 11),
		       401, "bad_signature");
		/* A failed attempt spent the nonce: the genuine request cannot follow it. */
		expect(check(&a, header, "PUT", "/v1/x", body, strlen(body), 12), 401, "nonce");
	}

	/* A nonce the board never issued. */
	sign_request(header, sizeof(header), &operator_key, BOARD, "PUT", "/v1/x",
		     "0123456789abcdef0123456789abcdef", body, strlen(body));
	expect(check(&a, header, "PUT", "/v1/x", body, strlen(body), 12), 401, "nonce");
	assert_true(a.refused >= 10);
}

static void nonces_expire(void **state)
{
	(void)state;
	static struct ota_auth a;
	char nonce[33], header[512];
	setup_auth(&a);
	ota_auth_issue_nonce(&a, 5000, nonce);
	sign_request(header, sizeof(header), &operator_key, BOARD, "GET", "/v1/guests/www/logs",
		     nonce, "", 0);
	expect(check(&a, header, "GET", "/v1/guests/www/logs", "", 0,
		     5000 + OTA_AUTH_NONCE_TTL_MS + 1),
	       401, "nonce_expired");

	ota_auth_issue_nonce(&a, 5000, nonce);
	sign_request(header, sizeof(header), &operator_key, BOARD, "GET", "/v1/guests/www/logs",
		     nonce, "", 0);
	expect(check(&a, header, "GET", "/v1/guests/www/logs", "", 0, 5000 + OTA_AUTH_NONCE_TTL_MS),
	       0, "ok");
}

static void the_nonce_table_is_bounded(void **state)
{
	(void)state;
	static struct ota_auth a;
	char first[33], nonce[33], header[512];
	setup_auth(&a);
	ota_auth_issue_nonce(&a, 100, first);
	for (int i = 0; i < OTA_AUTH_NONCES; i++)
		ota_auth_issue_nonce(&a, 200 + (uint64_t)i, nonce);
	/* The oldest was replaced; the newest works. */
	sign_request(header, sizeof(header), &operator_key, BOARD, "POST", "/v1/r", first, "", 0);
	expect(check(&a, header, "POST", "/v1/r", "", 0, 300), 401, "nonce");
	sign_request(header, sizeof(header), &operator_key, BOARD, "POST", "/v1/r", nonce, "", 0);
	expect(check(&a, header, "POST", "/v1/r", "", 0, 300), 0, "ok");
	assert_int_equal(a.issued, OTA_AUTH_NONCES + 1);
}

static void canonical_form_is_exact(void **state)
{
	(void)state;
	uint8_t digest[OTA_SHA256_SIZE];
	char out[OTA_AUTH_CANONICAL_MAX];
	ota_sha256("", 0, digest);
	size_t len = ota_auth_canonical(out, sizeof(out), "b", "PUT", "/v1/guests/www?x=1",
					"00112233445566778899aabbccddeeff", digest);
	const char want[] = "flotilla-request-v1\nb\nPUT\n/v1/guests/www?x=1\n"
			    "00112233445566778899aabbccddeeff\n"
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n";
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	/* A newline inside a field could forge another field: refused. */
	assert_int_equal(ota_auth_canonical(out, sizeof(out), "b", "PUT", "/a\nb", "00", digest),
			 0);
	assert_int_equal(ota_auth_canonical(out, 20, "b", "PUT", "/a", "00", digest), 0);
}

static int setup(void **state)
{
	(void)state;
	test_key_init(&operator_key);
	test_key_init(&stranger);
	test_key_init(&signer);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_key_free(&operator_key);
	test_key_free(&stranger);
	test_key_free(&signer);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(signed_request_is_accepted_once),
	    cmocka_unit_test(each_forgery_is_refused_with_its_reason),
	    cmocka_unit_test(nonces_expire),
	    cmocka_unit_test(the_nonce_table_is_bounded),
	    cmocka_unit_test(canonical_form_is_exact),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
