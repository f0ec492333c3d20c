/*
 * test_client.c: the CLI's device API client (tools/flotilla/client.c):
 * the Authorization header it signs is the one the board's own check
 * (ota/auth.c) accepts, and no other request's; board addresses; the tiny
 * JSON reader that takes the board's answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "client.h"
#include "keys.h"
#include "ota.h"

#define BOARD "board-17"

static struct client_signer operator_signer;
static struct ota_trusted_key operator_trusted;
static uint64_t counter;

static void fake_random(void *ctx, uint8_t *out, size_t len)
{
	(void)ctx;
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(counter * 29 + i * 13);
	counter++;
}

static int make_operator(void **state)
{
	uint8_t id[OTA_KEY_ID_SIZE];

	(void)state;
	mbedtls_pk_init(&operator_signer.pk);
	if (keys_generate(&operator_signer.pk) != OTA_OK ||
	    keys_public_point(&operator_signer.pk, operator_trusted.pubkey) != OTA_OK)
		return -1;
	ota_key_id(operator_trusted.pubkey, operator_trusted.key_id);
	ota_key_id(operator_trusted.pubkey, id);
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(operator_signer.key_id + 2 * i, 3, "%02x", id[i]);
	return 0;
}

static int free_operator(void **state)
{
	(void)state;
	client_signer_free(&operator_signer);
	return 0;
}

static void digest_of(const char *body, uint8_t out[OTA_SHA256_SIZE])
{
	ota_sha256(body, strlen(body), out);
}

/* The header signed by the client is accepted by the board's check, once. */
static void test_signed_request_accepted_by_board_check(void **state)
{
	struct ota_auth a;
	char nonce[2 * OTA_AUTH_NONCE_SIZE + 1], header[CLIENT_AUTH_MAX];
	uint8_t commitment[OTA_SHA256_SIZE];
	struct ota_auth_result r;

	(void)state;
	ota_auth_init(&a, BOARD, &operator_trusted, 1, fake_random, NULL);
	ota_auth_issue_nonce(&a, 1000, nonce);
	digest_of("signed head", commitment);
	assert_int_equal(client_sign_request(&operator_signer, BOARD, nonce, "PUT",
					     "/v1/guests/www", commitment, header),
			 0);
	assert_true(strlen(header) < 320); /* the board's header limit */
	r = ota_auth_check(&a, header, "PUT", "/v1/guests/www", commitment, 2000);
	assert_int_equal(r.status, 0);
	assert_ptr_equal(r.key, &operator_trusted);
	r = ota_auth_check(&a, header, "PUT", "/v1/guests/www", commitment, 2000);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.code, "nonce");
}

/* ... and refused for any other method, path, body or board. */
static void test_signature_binds_every_field(void **state)
{
	static const struct {
		const char *method, *target, *body;
	} other[] = {
	    {"POST", "/v1/guests/www", "signed head"},
	    {"PUT", "/v1/guests/hello", "signed head"},
	    {"PUT", "/v1/guests/www?x=1", "signed head"},
	    {"PUT", "/v1/guests/www", "another head"},
	};
	uint8_t commitment[OTA_SHA256_SIZE], changed[OTA_SHA256_SIZE];
	char nonce[2 * OTA_AUTH_NONCE_SIZE + 1], header[CLIENT_AUTH_MAX];
	struct ota_auth a, elsewhere;

	(void)state;
	digest_of("signed head", commitment);
	ota_auth_init(&a, BOARD, &operator_trusted, 1, fake_random, NULL);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		struct ota_auth_result r;

		ota_auth_issue_nonce(&a, 1000, nonce);
		assert_int_equal(client_sign_request(&operator_signer, BOARD, nonce, "PUT",
						     "/v1/guests/www", commitment, header),
				 0);
		digest_of(other[i].body, changed);
		r = ota_auth_check(&a, header, other[i].method, other[i].target, changed, 2000);
		assert_int_equal(r.status, 401);
		assert_string_equal(r.code, "bad_signature");
	}
	ota_auth_init(&elsewhere, "board-18", &operator_trusted, 1, fake_random, NULL);
	ota_auth_issue_nonce(&elsewhere, 1000, nonce);
	assert_int_equal(client_sign_request(&operator_signer, BOARD, nonce, "PUT",
					     "/v1/guests/www", commitment, header),
			 0);
	assert_int_equal(
	    ota_auth_check(&elsewhere, header, "PUT", "/v1/guests/www", commitment, 2000).status,
	    403);
}

static void test_sign_refuses_newlines(void **state)
{
	uint8_t commitment[OTA_SHA256_SIZE] = {0};
	char header[CLIENT_AUTH_MAX];

	(void)state;
	assert_int_equal(client_sign_request(&operator_signer, BOARD,
					     "00112233445566778899aabbccddeeff", "POST",
					     "/v1/guests/www\n/rollback", commitment, header),
			 -1);
}

static void test_addresses(void **state)
{
	char host[CLIENT_HOST_MAX + 1];
	uint16_t port;
	static const char *const bad[] = {"",      ":80",    "h:0",   "h:70000", "::1",
					  "a b",   "h:x",    "[::1",  "[::1]x",  "h/x:80",
					  "u@h:1", "h:80:1", "[]:80", "h:"};

	(void)state;
	assert_int_equal(client_parse_address("10.0.0.1", host, &port), 0);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 80);
	assert_int_equal(client_parse_address("board.lan:5555", host, &port), 0);
	assert_string_equal(host, "board.lan");
	assert_int_equal(port, 5555);
	assert_int_equal(client_parse_address("[::1]:8080", host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8080);
	assert_int_equal(client_parse_address("[fe80::1]", host, &port), 0);
	assert_int_equal(port, 80);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# bad address '%s'\n", bad[i]);
		assert_int_equal(client_parse_address(bad[i], host, &port), -1);
	}
}

static void test_json_members(void **state)
{
	char out[32];
	uint64_t n;

	(void)state;
	/* A name inside a string value is not a member. */
	assert_int_equal(client_json_string("{\"a\":\"stage\",\"stage\":\"confirmed\"}", "stage",
					    out, sizeof(out)),
			 0);
	assert_string_equal(out, "confirmed");
	assert_int_equal(client_json_string("{\"reason\":\"a \\\"stage\\\": x\", \"stage\" : "
					    "\"healthy\"}",
					    "stage", out, sizeof(out)),
			 0);
	assert_string_equal(out, "healthy");
	/* Nested documents: the first member of that name. */
	assert_int_equal(client_json_string("{\"operation\":{\"ms\":{},\"stage\":\"starting\"}}",
					    "stage", out, sizeof(out)),
			 0);
	assert_string_equal(out, "starting");
	/* Escapes; control characters never reach the terminal. */
	assert_int_equal(
	    client_json_string("{\"m\":\"a\\tb\\u001b[2Jc\\u00e9\\/\"}", "m", out, sizeof(out)), 0);
	assert_string_equal(out, "a?b?[2Jc?/");
	/* Truncated to the buffer, still terminated. */
	assert_int_equal(client_json_string("{\"m\":\"0123456789\"}", "m", out, 5), 0);
	assert_string_equal(out, "0123");
	assert_int_equal(client_json_string("{\"m\":5}", "m", out, sizeof(out)), -1);
	assert_int_equal(client_json_string("{\"m\":\"unterminated}", "m", out, sizeof(out)), -1);
	assert_int_equal(client_json_string("{}", "m", out, sizeof(out)), -1);
	assert_int_equal(client_json_u64("{\"id\": 42, \"x\":1}", "id", &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(client_json_u64("{\"id\":\"42\"}", "id", &n), -1);
	assert_int_equal(client_json_u64("{\"id\":-1}", "id", &n), -1);
	assert_int_equal(client_json_u64("{\"idx\":1}", "id", &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signed_request_accepted_by_board_check),
	    cmocka_unit_test(test_signature_binds_every_field),
	    cmocka_unit_test(test_sign_refuses_newlines),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_json_members),
	};
	return cmocka_run_group_tests(tests, make_operator, free_operator);
}
