/*
 * test_push_api.c: the device API's push (guests/control/push.c) on the host.
 *
 * The real HTTP machine (http.c), operator authentication (ota/auth.c),
 * verifier, install and slot store (ota/, on a RAM device) run; only the
 * board's supervisor and the store's bookkeeping around it are stood in for
 * (what a guest's plan gives, whether it is busy, the swap). Requests are
 * fed as bytes, as the board's TCP glue feeds them.
 *
 * What a user relies on: nothing is changed before the operator is
 * authenticated and the bundle's head has passed every check; a refused
 * bundle leaves the confirmed image and the operation as they must be; a
 * connection lost mid-body leaves the slot EMPTY and says "aborted"; the
 * store takes one install at a time; oversized bodies are refused before
 * any byte is taken.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "http.h"
#include "install.h"
#include "keys.h"
#include "ota.h"
#include "ota_test_util.h"
#include "push.h"
#include "store.h"
#include "supervisor.h"

#define BS        512
#define SLOT_SIZE 16384
#define BLOCKS    (2 * 8192 / BS + 4 * 2 * (SLOT_SIZE + 1024) / BS)
#define IMAGE_LEN 10000
#define BOARD     "board-17"

/* ---------------------------------------------------------------- the board, stood in for */

static struct test_key signer, operator_key;
static struct test_ram ram;
static struct slot_store store;
static struct ota_auth auth;
static struct guest guests[2];
static uint64_t clock_ns = 1000000000ull;
static unsigned swaps, refusals_logged, nonce_counter;

uint64_t flotilla_clock_monotonic(void)
{
	return clock_ns;
}

struct ota_auth *api_auth(void)
{
	return &auth;
}

/* The board runtime's RAM high-water: the host has none to report. */
size_t memory_high_water(void)
{
	return 0;
}

uint32_t supervisor_next_op_id(void)
{
	static uint32_t id;
	return ++id;
}

struct guest *supervisor_find(const char *name)
{
	for (size_t i = 0; i < 2; i++)
		if (strcmp(guests[i].name, name) == 0)
			return &guests[i];
	return NULL;
}

bool supervisor_busy(const struct guest *g)
{
	return !op_finished(g->op.stage);
}

bool supervisor_plan_gives_nics(const char *plan_nics, const struct ota_manifest *m, char *reason,
				size_t size)
{
	(void)plan_nics;
	if (ota_manifest_nic_count(m) == 0)
		return true;
	snprintf(reason, size, "the plan gives no vNIC the manifest asks for");
	return false;
}

void supervisor_swap_start(struct guest *g, enum op_kind kind)
{
	swaps++;
	g->op.kind = kind;
	g->op.stage = OP_STARTING; /* the swap goes on asynchronously */
}

int supervisor_rollback(struct guest *g)
{
	(void)g;
	return OTA_E_STATE;
}

int supervisor_restart(struct guest *g)
{
	g->op.stage = OP_CONFIRMED;
	return 0;
}

struct slot_store *store_for_push(struct ota_verify_policy *policy)
{
	*policy = test_policy(&signer);
	policy->max_image_size = SLOT_SIZE;
	return &store;
}

uint32_t store_slot_bytes(void)
{
	return SLOT_SIZE;
}

const char *store_installing(void)
{
	return store.install_guest >= 0 ? store.guests[store.install_guest].name : NULL;
}

int store_activate_pushed(const char *name, const struct ota_manifest *m)
{
	(void)m;
	return slot_store_activate(&store, name);
}

void store_log_push_refused(const char *name, int status, const struct ota_manifest *m)
{
	(void)name;
	(void)status;
	(void)m;
	refusals_logged++;
}

static void fake_random(void *ctx, uint8_t *out, size_t len)
{
	(void)ctx;
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(nonce_counter * 31 + i * 7);
	nonce_counter++;
}

/* ---------------------------------------------------------------- the client */

static const struct http_route routes[] = {
    {HTTP_PUT, "/v1/guests/{}", PUSH_BODY_MAX, push_put_begin, push_put_body, push_put_end},
    {HTTP_GET, "/v1/guests/{}/operation", 0, NULL, NULL, push_get_operation},
    {HTTP_POST, "/v1/guests/{}/rollback", 0, NULL, NULL, push_post_rollback},
    {HTTP_POST, "/v1/guests/{}/restart", 0, NULL, NULL, push_post_restart},
};
static const struct http_server server = {routes, sizeof(routes) / sizeof(routes[0]), NULL};

struct answer {
	int status;
	char text[2048];
};

static void hex(char *out, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", data[i]);
}

/* Authorization for METHOD target with a commitment of commitment[0..len). */
static void sign(char *header, size_t cap, struct test_key *key, const char *method,
		 const char *target, const void *commitment, size_t len)
{
	char nonce[2 * OTA_AUTH_NONCE_SIZE + 1], canonical[OTA_AUTH_CANONICAL_MAX];
	char key_hex[17], sig_hex[129];
	uint8_t digest[OTA_SHA256_SIZE], hash[OTA_SHA256_SIZE], sig[OTA_P256_SIGNATURE_SIZE];
	ota_auth_issue_nonce(&auth, clock_ns / 1000000u, nonce);
	ota_sha256(commitment, len, digest);
	size_t n =
	    ota_auth_canonical(canonical, sizeof(canonical), BOARD, method, target, nonce, digest);
	assert_true(n > 0);
	ota_sha256(canonical, n, hash);
	assert_int_equal(keys_sign(&key->pk, hash, sig), 0);
	hex(key_hex, key->trusted.key_id, OTA_KEY_ID_SIZE);
	hex(sig_hex, sig, sizeof(sig));
	snprintf(header, cap, "Authorization: Flotilla board=%s, key=%s, nonce=%s, sig=%s\r\n",
		 BOARD, key_hex, nonce, sig_hex);
}

static size_t head_size(const uint8_t *bundle)
{
	return (size_t)(bundle[6] | bundle[7] << 8) +
	       (size_t)(bundle[8] | bundle[9] << 8 | bundle[10] << 16) +
	       (size_t)(bundle[18] | bundle[19] << 8);
}

static void collect(struct http_conn *c, struct answer *a)
{
	size_t len = strlen(a->text), n;
	while ((n = http_conn_output(c, a->text + len, sizeof(a->text) - 1 - len)) > 0)
		len += n;
	a->text[len] = '\0';
	if (!a->status && strncmp(a->text, "HTTP/1.1 ", 9) == 0)
		a->status = atoi(a->text + 9);
}

enum signer_kind { UNSIGNED, OPERATOR, SIGNER };

/*
 * PUT body[0..len) to /v1/guests/name with Content-Length length, fed in
 * pieces of chunk bytes; the connection is lost after stop bytes
 * (stop < len: push_connection_closed, as api.c calls it).
 */
static struct answer put(const char *name, const uint8_t *body, size_t len, uint64_t length,
			 enum signer_kind who, size_t chunk, size_t stop)
{
	static struct http_conn c;
	struct answer a = {0};
	char head[1024], auth_line[400] = "", target[64];
	snprintf(target, sizeof(target), "/v1/guests/%s", name);
	if (who != UNSIGNED)
		sign(auth_line, sizeof(auth_line), who == OPERATOR ? &operator_key : &signer, "PUT",
		     target, body, len >= OTA_BUNDLE_HEADER_SIZE ? head_size(body) : len);
	snprintf(head, sizeof(head), "PUT %s HTTP/1.1\r\nHost: b\r\nContent-Length: %llu\r\n%s\r\n",
		 target, (unsigned long long)length, auth_line);
	http_conn_init(&c, &server, clock_ns / 1000000u);
	assert_int_equal(http_conn_input(&c, head, strlen(head), clock_ns / 1000000u),
			 strlen(head));
	for (size_t done = 0; done < len && done < stop && !c.answered;) {
		size_t n = len - done < chunk ? len - done : chunk;
		if (n > stop - done)
			n = stop - done;
		http_conn_input(&c, body + done, n, clock_ns / 1000000u);
		done += n;
	}
	if (stop < len && !c.answered)
		push_connection_closed(&c);
	collect(&c, &a);
	push_connection_closed(&c); /* the connection ends: nothing must be left behind */
	return a;
}

static struct answer request(const char *method, const char *path, enum signer_kind who)
{
	static struct http_conn c;
	struct answer a = {0};
	char head[1024], auth_line[400] = "";
	if (who != UNSIGNED)
		sign(auth_line, sizeof(auth_line), who == OPERATOR ? &operator_key : &signer,
		     method, path, "", 0);
	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: b\r\n%s\r\n", method, path,
		 auth_line);
	http_conn_init(&c, &server, clock_ns / 1000000u);
	http_conn_input(&c, head, strlen(head), clock_ns / 1000000u);
	collect(&c, &a);
	return a;
}

static void expect_answer(const struct answer *a, int status, const char *code)
{
	char needle[64];
	snprintf(needle, sizeof(needle), "\"error\":\"%s\"", code);
	if (a->status != status || (code && !strstr(a->text, needle)))
		fail_msg("want %d %s, got:\n%s", status, code ? code : "", a->text);
}

/* ---------------------------------------------------------------- fixtures */

static uint8_t *bundle_for(const char *name, uint32_t minor, uint32_t counter, size_t *len)
{
	struct ota_manifest m = test_manifest(name, minor, counter);
	uint8_t *image = test_image(IMAGE_LEN, minor);
	uint8_t *b = test_bundle(&signer, &m, image, IMAGE_LEN, len);
	free(image);
	return b;
}

/* Each guest: 1.1.0 confirmed in slot A (counter 1), B empty. */
static int setup(void **state)
{
	(void)state;
	test_ram_init(&ram, BS, BLOCKS);
	assert_int_equal(slot_store_format(&store, &ram.ram.dev, SLOT_SIZE, 0), OTA_OK);
	memset(guests, 0, sizeof(guests));
	const char *names[] = {"hello", "www"};
	for (int i = 0; i < 2; i++) {
		struct ota_manifest m = test_manifest(names[i], 1, 1);
		uint8_t *image = test_image(IMAGE_LEN, 1);
		test_describe_image(&m, image, IMAGE_LEN);
		assert_int_equal(test_install_raw(&store, &m, image), OTA_OK);
		assert_int_equal(slot_store_confirm_ready(&store, names[i]), OTA_OK);
		free(image);
		snprintf(guests[i].name, sizeof(guests[i].name), "%s", names[i]);
		snprintf(guests[i].version, sizeof(guests[i].version), "1.1.0");
		guests[i].memory_mb = 64;
		guests[i].vcpus = 4;
	}
	ota_auth_init(&auth, BOARD, &operator_key.trusted, 1, fake_random, NULL);
	auth.signers = &signer.trusted;
	auth.signer_count = 1;
	swaps = refusals_logged = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_ram_free(&ram);
	return 0;
}

/* The card byte for byte, to prove a refusal changed nothing. */
static uint8_t *snapshot(void)
{
	uint8_t *copy = malloc(ram.size);
	memcpy(copy, ram.mem, ram.size);
	return copy;
}

static void assert_card_unchanged(uint8_t *before)
{
	assert_memory_equal(before, ram.mem, ram.size);
	free(before);
}

/* ---------------------------------------------------------------- tests */

static void test_good_push_becomes_trial_and_swaps(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = bundle_for("hello", 2, 2, &len);
	struct answer a = put("hello", b, len, len, OPERATOR, 1460, SIZE_MAX);
	assert_int_equal(a.status, 202);
	assert_non_null(strstr(a.text, "Location: /v1/guests/hello/operation\r\n"));
	assert_non_null(strstr(a.text, "\"version\":\"1.2.0\""));
	assert_int_equal(swaps, 1);
	const struct slot_guest *g = slot_store_guest(&store, "hello");
	assert_int_equal(g->slot[1].state, SLOT_TRIAL);
	assert_int_equal(g->slot[0].state, SLOT_CONFIRMED);
	assert_int_equal(guests[0].op.bytes, len);
	assert_int_equal(guests[0].op.total, len);
	assert_int_equal(guests[0].op.kind, OP_UPDATE);
	/* Polled by the client, unauthenticated. */
	a = request("GET", "/v1/guests/hello/operation", UNSIGNED);
	assert_int_equal(a.status, 200);
	assert_non_null(strstr(a.text, "\"stage\":\"starting\""));
	free(b);
}

static void test_head_trickled_byte_by_byte(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = bundle_for("hello", 2, 2, &len);
	struct answer a = put("hello", b, len, len, OPERATOR, 1, SIZE_MAX);
	assert_int_equal(a.status, 202);
	free(b);
}

static void test_refused_before_authentication_change_nothing(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = bundle_for("hello", 2, 2, &len);
	uint8_t *before = snapshot();
	expect_answer((struct answer[]){put("hello", b, len, len, UNSIGNED, 1460, SIZE_MAX)}, 401,
		      "unsigned");
	expect_answer((struct answer[]){put("hello", b, len, len, SIGNER, 1460, SIZE_MAX)}, 403,
		      "wrong_role");
	assert_card_unchanged(before);
	assert_int_equal(guests[0].op.stage, OP_IDLE);
	assert_int_equal(swaps, 0);
	free(b);
}

static void test_unauthenticated_refusals_leave_operation_alone(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = bundle_for("hello", 2, 2, &len);
	uint8_t *before = snapshot();
	put("hello", b, len, len, UNSIGNED, 1460, SIZE_MAX);
	assert_int_equal(guests[0].op.stage, OP_IDLE);
	/* not a bundle: refused from its header, whoever sends it */
	uint8_t junk[600];
	memset(junk, 'x', sizeof(junk));
	expect_answer((struct answer[]){put("hello", junk, sizeof(junk), sizeof(junk), UNSIGNED,
					    1460, SIZE_MAX)},
		      422, "bad-magic");
	assert_int_equal(guests[0].op.stage, OP_IDLE);
	assert_card_unchanged(before);
	free(b);
}

static void test_wrong_guest_refused_before_the_card(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = bundle_for("hello", 2, 2, &len);
	uint8_t *before = snapshot();
	struct answer a = put("www", b, len, len, OPERATOR, 1460, SIZE_MAX);
	expect_answer(&a, 422, "wrong-guest");
	assert_card_unchanged(before);
	assert_int_equal(guests[1].op.stage, OP_REFUSED);
	assert_string_equal(guests[1].op.code, "wrong-guest");
	assert_int_equal(swaps, 0);
	expect_answer((struct answer[]){put("nosuch", b, len, len, OPERATOR, 1460, SIZE_MAX)}, 404,
		      "no_such_guest");
	free(b);
}

static void test_bundle_refusals_with_their_codes(void **state)
{
	(void)state;
	size_t len;
	uint8_t *before = snapshot();
	/* below the card's counter */
	uint8_t *old = bundle_for("hello", 2, 0, &len);
	expect_answer((struct answer[]){put("hello", old, len, len, OPERATOR, 1460, SIZE_MAX)}, 409,
		      "rollback");
	/* Content-Length shorter than the bundle: refused at the head */
	expect_answer(
	    (struct answer[]){put("hello", old, len - 100, len - 100, OPERATOR, 1460, SIZE_MAX)},
	    422, "truncated");
	free(old);
	/* wrong board */
	struct ota_manifest m = test_manifest("hello", 2, 2);
	snprintf(m.boards, sizeof(m.boards), "cubieboard2");
	uint8_t *image = test_image(IMAGE_LEN, 2);
	uint8_t *wrong = test_bundle(&signer, &m, image, IMAGE_LEN, &len);
	expect_answer((struct answer[]){put("hello", wrong, len, len, OPERATOR, 1460, SIZE_MAX)},
		      422, "wrong-board");
	free(wrong);
	/* a plan that gives less memory than the manifest asks for */
	m = test_manifest("hello", 2, 2);
	m.memory_mib = 128;
	wrong = test_bundle(&signer, &m, image, IMAGE_LEN, &len);
	expect_answer((struct answer[]){put("hello", wrong, len, len, OPERATOR, 1460, SIZE_MAX)},
		      422, "plan-mismatch");
	free(wrong);
	free(image);
	assert_card_unchanged(before);
	assert_int_equal(guests[0].op.stage, OP_REFUSED);
	assert_string_equal(guests[0].op.code, "plan-mismatch");
}

static void test_tampered_payload_leaves_confirmed_image(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = bundle_for("hello", 2, 2, &len);
	b[len - 10] ^= 1;
	struct answer a = put("hello", b, len, len, OPERATOR, 1460, SIZE_MAX);
	expect_answer(&a, 422, "hash-mismatch");
	const struct slot_guest *g = slot_store_guest(&store, "hello");
	assert_int_equal(g->slot[0].state, SLOT_CONFIRMED);
	assert_int_equal(g->slot[1].state, SLOT_EMPTY);
	assert_int_equal(store.install_guest, -1);
	assert_int_equal(swaps, 0);
	assert_int_equal(slot_store_check_slot(&store, "hello", 0), OTA_OK);
	free(b);
}

static void test_connection_lost_aborts(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = bundle_for("hello", 2, 2, &len);
	struct answer a = put("hello", b, len, len, OPERATOR, 1460, len / 2);
	assert_int_equal(a.status, 0); /* nothing was answered: the client is gone */
	const struct slot_guest *g = slot_store_guest(&store, "hello");
	assert_int_equal(g->slot[0].state, SLOT_CONFIRMED);
	assert_int_equal(g->slot[1].state, SLOT_EMPTY);
	assert_int_equal(store.install_guest, -1);
	assert_int_equal(guests[0].op.stage, OP_REFUSED);
	assert_string_equal(guests[0].op.code, "aborted");
	/* the store is free again: the next push works */
	a = put("hello", b, len, len, OPERATOR, 1460, SIZE_MAX);
	assert_int_equal(a.status, 202);
	free(b);
}

static void test_oversize_refused_before_any_byte(void **state)
{
	(void)state;
	uint8_t byte = 0;
	uint8_t *before = snapshot();
	struct answer a = put("hello", &byte, 0, (uint64_t)SLOT_SIZE + OTA_BUNDLE_HEAD_MAX + 1,
			      UNSIGNED, 1, SIZE_MAX);
	expect_answer(&a, 413, "oversize");
	assert_card_unchanged(before);
}

static void test_one_push_per_guest_one_install_per_store(void **state)
{
	(void)state;
	size_t len, len2;
	uint8_t *b = bundle_for("hello", 2, 2, &len);
	uint8_t *w = bundle_for("www", 2, 2, &len2);
	/* hello's push is half-way: its body is streaming */
	static struct http_conn first;
	char head[1024], auth_line[400];
	sign(auth_line, sizeof(auth_line), &operator_key, "PUT", "/v1/guests/hello", b,
	     head_size(b));
	snprintf(head, sizeof(head),
		 "PUT /v1/guests/hello HTTP/1.1\r\nHost: b\r\nContent-Length: %zu\r\n%s\r\n", len,
		 auth_line);
	http_conn_init(&first, &server, 1000);
	http_conn_input(&first, head, strlen(head), 1000);
	http_conn_input(&first, b, len / 2, 1000);
	assert_int_equal(guests[0].op.stage, OP_RECEIVING);
	assert_int_equal(guests[0].op.bytes, len / 2);
	/* a second push to hello: 409, hello's operation untouched */
	struct answer a = put("hello", b, len, len, OPERATOR, 1460, SIZE_MAX);
	expect_answer(&a, 409, "busy");
	assert_int_equal(guests[0].op.stage, OP_RECEIVING);
	/* a push to www while the card receives hello's: 409 with the reason */
	a = put("www", w, len2, len2, OPERATOR, 1460, SIZE_MAX);
	expect_answer(&a, 409, "store_busy");
	assert_non_null(strstr(a.text, "hello"));
	/* rollback/restart while busy */
	expect_answer((struct answer[]){request("POST", "/v1/guests/hello/restart", OPERATOR)}, 409,
		      "busy");
	/* the first push completes */
	http_conn_input(&first, b + len / 2, len - len / 2, 1000);
	struct answer done = {0};
	collect(&first, &done);
	assert_int_equal(done.status, 202);
	push_connection_closed(&first);
	free(b);
	free(w);
}

static void test_rollback_and_restart(void **state)
{
	(void)state;
	expect_answer((struct answer[]){request("POST", "/v1/guests/hello/rollback", UNSIGNED)},
		      401, "unsigned");
	assert_int_equal(guests[0].op.stage, OP_IDLE);
	struct answer a = request("POST", "/v1/guests/hello/rollback", OPERATOR);
	expect_answer(&a, 409, "no_previous_version");
	assert_int_equal(guests[0].op.stage, OP_REFUSED);
	assert_int_equal(guests[0].op.kind, OP_ROLLBACK);
	a = request("POST", "/v1/guests/hello/restart", OPERATOR);
	assert_int_equal(a.status, 202);
	assert_non_null(strstr(a.text, "\"kind\":\"restart\""));
	/* signed for another path: refused */
	char head[1024], auth_line[400];
	static struct http_conn c;
	struct answer b = {0};
	sign(auth_line, sizeof(auth_line), &operator_key, "POST", "/v1/guests/www/restart", "", 0);
	snprintf(head, sizeof(head), "POST /v1/guests/hello/restart HTTP/1.1\r\nHost: b\r\n%s\r\n",
		 auth_line);
	http_conn_init(&c, &server, 1000);
	http_conn_input(&c, head, strlen(head), 1000);
	collect(&c, &b);
	expect_answer(&b, 401, "bad_signature");
}

static void test_status_mapping(void **state)
{
	(void)state;
	assert_int_equal(push_status_for(OTA_E_OVERSIZE), 413);
	assert_int_equal(push_status_for(OTA_E_ROLLBACK), 409);
	assert_int_equal(push_status_for(OTA_E_BAD_SIGNATURE), 422);
	assert_int_equal(push_status_for(OTA_E_IO), 503);
	/* Every OTA code a refusal can carry has its own stable name. */
	for (int a = OTA_E_CRYPTO; a <= OTA_E_BAD_MAGIC; a++)
		for (int b = OTA_E_CRYPTO; b < a; b++)
			assert_string_not_equal(ota_status_name(a), ota_status_name(b));
}

int main(void)
{
	test_key_init(&signer);
	test_key_init(&operator_key);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_push_becomes_trial_and_swaps, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_head_trickled_byte_by_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_before_authentication_change_nothing,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unauthenticated_refusals_leave_operation_alone,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_guest_refused_before_the_card, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bundle_refusals_with_their_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered_payload_leaves_confirmed_image, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_connection_lost_aborts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversize_refused_before_any_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_push_per_guest_one_install_per_store, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_and_restart, setup, teardown),
	    cmocka_unit_test(test_status_mapping),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	test_key_free(&signer);
	test_key_free(&operator_key);
	return failed;
}
