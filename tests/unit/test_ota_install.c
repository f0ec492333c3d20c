/*
 * test_ota_install.c: bundles streamed into a slot store, end to end.
 *
 * The round trip (sign -> verify -> install -> activate -> confirm), and
 * every rejection of issue 5 with its code, checking that the store is
 * byte-identical afterwards (refusals before the first image byte) or that
 * nothing but the abandoned target slot changed (refusals after it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "endian.h"
#include "install.h"
#include "ota.h"
#include "ota_test_util.h"

#define BS        512
#define SLOT_SIZE 16384
#define GUESTS    2
#define BLOCKS    (2 * 8192 / BS + GUESTS * 2 * (SLOT_SIZE + 1024) / BS) /* + head areas */
#define IMAGE_LEN 10000

static struct test_key key, stranger;

struct fixture {
	struct test_ram ram;
	struct slot_store store;
	struct ota_install install;
	uint8_t *image;
	uint8_t *bundle; /* "alpha" 1.5.0, counter 5: the update under test */
	size_t len;
	uint8_t *before; /* device contents before the update */
};

static int feed(struct fixture *f, const uint8_t *data, size_t len, size_t chunk, const char *board)
{
	struct ota_verify_policy p = test_policy(&key);
	int rc = OTA_OK;

	p.board = board;
	p.max_image_size = SLOT_SIZE;
	ota_install_begin(&f->install, &f->store, &p);
	for (size_t done = 0; rc == OTA_OK && done < len; done += chunk)
		rc = ota_install_feed(&f->install, data + done,
				      len - done < chunk ? len - done : chunk);
	return rc == OTA_OK ? ota_install_finish(&f->install) : rc;
}

static void install_bundle(struct fixture *f, const char *name, uint32_t minor, uint32_t counter,
			   unsigned seed)
{
	struct ota_manifest m = test_manifest(name, minor, counter);
	uint8_t *image = test_image(IMAGE_LEN, seed);
	size_t len;
	uint8_t *b = test_bundle(&key, &m, image, IMAGE_LEN, &len);

	assert_int_equal(feed(f, b, len, 1460, TEST_BOARD), OTA_OK);
	free(b);
	free(image);
}

/*
 * The store before every test: "alpha" confirmed 1.4 (counter 4) in slot A,
 * slot B empty; "beta" confirmed 1.1 in A and 1.2 on trial in B.
 */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ota_manifest m = test_manifest("alpha", 5, 5);

	test_ram_init(&f->ram, BS, BLOCKS);
	assert_int_equal(slot_store_format(&f->store, &f->ram.ram.dev, SLOT_SIZE, 0), OTA_OK);
	install_bundle(f, "alpha", 4, 4, 1);
	assert_int_equal(slot_store_activate(&f->store, "alpha"), OTA_OK);
	assert_int_equal(slot_store_confirm(&f->store, "alpha"), OTA_OK);
	install_bundle(f, "beta", 1, 1, 2);
	assert_int_equal(slot_store_activate(&f->store, "beta"), OTA_OK);
	assert_int_equal(slot_store_confirm(&f->store, "beta"), OTA_OK);
	install_bundle(f, "beta", 2, 2, 3);
	assert_int_equal(slot_store_activate(&f->store, "beta"), OTA_OK);
	f->image = test_image(IMAGE_LEN, 9);
	f->bundle = test_bundle(&key, &m, f->image, IMAGE_LEN, &f->len);
	f->before = malloc(f->ram.size);
	memcpy(f->before, f->ram.mem, f->ram.size);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->image);
	free(f->bundle);
	free(f->before);
	test_ram_free(&f->ram);
	free(f);
	return 0;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = malloc(IMAGE_LEN);
	const struct slot_guest *g;

	assert_int_equal(feed(f, f->bundle, f->len, 1460, TEST_BOARD), OTA_OK);
	assert_string_equal(ota_install_manifest(&f->install)->name, "alpha");
	assert_int_equal(slot_store_activate(&f->store, "alpha"), OTA_OK);
	assert_int_equal(slot_store_boot_slot(&f->store, "alpha"), 1);
	assert_int_equal(slot_store_confirm(&f->store, "alpha"), OTA_OK);
	assert_int_equal(slot_store_open(&f->store, &f->ram.ram.dev), OTA_OK);
	g = slot_store_guest(&f->store, "alpha");
	assert_int_equal(g->slot[1].state, SLOT_CONFIRMED);
	assert_int_equal(g->slot[1].version[1], 5);
	assert_int_equal(g->highest_counter, 5);
	assert_int_equal(slot_store_read_image(&f->store, "alpha", 1, 0, buf, IMAGE_LEN), OTA_OK);
	assert_memory_equal(buf, f->image, IMAGE_LEN);
	free(buf);
}

/* Any chunking of the stream gives the same result. */
static void test_chunk_sizes(void **state)
{
	static const size_t chunks[] = {1, 7, 24, 100, 600, 4096, 100000};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		assert_int_equal(feed(f, f->bundle, f->len, chunks[i], TEST_BOARD), OTA_OK);
		assert_int_equal(slot_store_guest(&f->store, "alpha")->slot[1].state, SLOT_READY);
	}
}

/* Refused before the first image byte: the device is byte-identical. */
static void expect_untouched(struct fixture *f, int rc, int code)
{
	if (rc != code)
		fail_msg("expected %s, got %s", ota_status_name(code), ota_status_name(rc));
	assert_memory_equal(f->before, f->ram.mem, f->ram.size);
	assert_int_equal(f->store.install_guest, -1);
}

/*
 * Refused after image bytes were written: only alpha's slot B (the target,
 * empty before) was touched; it is EMPTY again, and every other slot, all
 * states and counters are as before.
 */
static void expect_harmless(struct fixture *f, int rc, int code)
{
	struct slot_store *reopened = malloc(sizeof(*reopened));
	size_t meta = 2 * 8192 + GUESTS * 2 * 1024, slot = SLOT_SIZE; /* slots after the heads */
	size_t alpha_b = meta + slot;

	if (rc != code)
		fail_msg("expected %s, got %s", ota_status_name(code), ota_status_name(rc));
	assert_memory_equal(f->before + meta, f->ram.mem + meta, slot); /* alpha A */
	assert_memory_equal(f->before + alpha_b + slot, f->ram.mem + alpha_b + slot,
			    2 * slot); /* beta */
	assert_int_equal(slot_store_open(reopened, &f->ram.ram.dev), OTA_OK);
	{
		struct slot_store *was = malloc(sizeof(*was));
		struct ota_ram_blockdev dev;

		ota_ram_blockdev_init(&dev, f->before, BS, BLOCKS);
		assert_int_equal(slot_store_open(was, &dev.dev), OTA_OK);
		assert_memory_equal(reopened->guests, was->guests, sizeof(was->guests));
		free(was);
	}
	free(reopened);
}

static void test_rejects_bad_signature(void **state)
{
	struct fixture *f = *state;

	f->bundle[f->len - IMAGE_LEN - 1] ^= 1;
	expect_untouched(f, feed(f, f->bundle, f->len, 1460, TEST_BOARD), OTA_E_BAD_SIGNATURE);
}

/* A bundle for alpha signed by signer with this counter and image size: refused untouched. */
static void expect_signed_refusal(struct fixture *f, struct test_key *signer, uint32_t counter,
				  size_t image_len, int code)
{
	struct ota_manifest m = test_manifest("alpha", 9, counter);
	uint8_t *image = test_image(image_len, 4);
	size_t len;
	uint8_t *b = test_bundle(signer, &m, image, image_len, &len);

	expect_untouched(f, feed(f, b, len, 1460, TEST_BOARD), code);
	free(b);
	free(image);
}

static void test_rejects_unknown_key(void **state)
{
	expect_signed_refusal(*state, &stranger, 5, IMAGE_LEN, OTA_E_UNKNOWN_KEY);
}

static void test_rejects_wrong_board(void **state)
{
	struct fixture *f = *state;

	expect_untouched(f, feed(f, f->bundle, f->len, 1460, "bananapi"), OTA_E_WRONG_BOARD);
}

static void test_rejects_lower_counter(void **state)
{
	expect_signed_refusal(*state, &key, 3, IMAGE_LEN, OTA_E_ROLLBACK);
}

static void test_rejects_oversize(void **state)
{
	expect_signed_refusal(*state, &key, 5, SLOT_SIZE + 1, OTA_E_OVERSIZE);
}

static void test_rejects_malformed_header(void **state)
{
	struct fixture *f = *state;

	ota_put_le32(f->bundle + 20, 1);
	expect_untouched(f, feed(f, f->bundle, f->len, 1460, TEST_BOARD), OTA_E_MALFORMED_HEADER);
}

static void test_rejects_malformed_manifest(void **state)
{
	struct fixture *f = *state;

	f->bundle[OTA_BUNDLE_HEADER_SIZE] = 0x7e;
	expect_untouched(f, feed(f, f->bundle, f->len, 1460, TEST_BOARD), OTA_E_MALFORMED_MANIFEST);
}

static void test_rejects_bad_magic(void **state)
{
	struct fixture *f = *state;

	memcpy(f->bundle,
	       "\x7f"
	       "ELF",
	       4);
	expect_untouched(f, feed(f, f->bundle, f->len, 1460, TEST_BOARD), OTA_E_BAD_MAGIC);
}

static void test_rejects_unknown_version(void **state)
{
	struct fixture *f = *state;

	ota_put_le16(f->bundle + 4, 2);
	expect_untouched(f, feed(f, f->bundle, f->len, 1460, TEST_BOARD),
			 OTA_E_UNSUPPORTED_VERSION);
}

static void test_rejects_truncated_head(void **state)
{
	struct fixture *f = *state;

	expect_untouched(f, feed(f, f->bundle, 100, 1460, TEST_BOARD), OTA_E_TRUNCATED);
}

static void test_rejects_hash_mismatch(void **state)
{
	struct fixture *f = *state;

	f->bundle[f->len - 5000] ^= 0x10;
	expect_harmless(f, feed(f, f->bundle, f->len, 1460, TEST_BOARD), OTA_E_HASH_MISMATCH);
}

static void test_rejects_truncated_image(void **state)
{
	struct fixture *f = *state;

	expect_harmless(f, feed(f, f->bundle, f->len - 1, 1460, TEST_BOARD), OTA_E_TRUNCATED);
}

static void test_rejects_trailing_data(void **state)
{
	struct fixture *f = *state;
	uint8_t *longer = calloc(1, f->len + 10);

	memcpy(longer, f->bundle, f->len);
	expect_harmless(f, feed(f, longer, f->len + 10, 1460, TEST_BOARD), OTA_E_TRAILING_DATA);
	free(longer);
}

/* A connection that drops mid-image. */
static void test_abort_mid_image(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);

	ota_install_begin(&f->install, &f->store, &p);
	assert_int_equal(ota_install_feed(&f->install, f->bundle, f->len / 2), OTA_OK);
	ota_install_abort(&f->install);
	expect_harmless(f, ota_install_finish(&f->install), OTA_E_TRUNCATED);
}

/* Beta's running trial survives a failed update of beta too (the trial slot is the target). */
static void test_trial_given_up_only_by_a_valid_head(void **state)
{
	struct fixture *f = *state;
	struct ota_manifest m = test_manifest("beta", 3, 3);
	size_t len;
	uint8_t *b = test_bundle(&key, &m, f->image, IMAGE_LEN, &len);

	b[len - IMAGE_LEN - 1] ^= 1; /* bad signature: refused before the store sees it */
	expect_untouched(f, feed(f, b, len, 1460, TEST_BOARD), OTA_E_BAD_SIGNATURE);
	assert_int_equal(slot_store_boot_slot(&f->store, "beta"), 1);
	free(b);
}

/* Slot A of alpha holds 1.4 with its signed head: a boot re-checks it from the medium. */
static void test_check_slot_from_medium(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);
	static struct ota_verifier v;
	uint8_t *buf = malloc(IMAGE_LEN);
	uint8_t *image = test_image(IMAGE_LEN, 1);

	p.board = TEST_BOARD;
	assert_int_equal(ota_install_check_slot(&f->store, "alpha", 0, &p, &v), OTA_OK);
	assert_int_equal(ota_verifier_manifest(&v)->version[1], 4);
	/* The image bytes then stream through the same verifier. */
	assert_int_equal(slot_store_read_image(&f->store, "alpha", 0, 0, buf, IMAGE_LEN), OTA_OK);
	assert_int_equal(ota_verifier_feed_image(&v, buf, IMAGE_LEN), OTA_OK);
	assert_int_equal(ota_verifier_finish(&v), OTA_OK);
	assert_memory_equal(buf, image, IMAGE_LEN);
	/* A key the board does not trust (the store was written elsewhere). */
	{
		struct ota_verify_policy other = test_policy(&stranger);

		assert_int_equal(ota_install_check_slot(&f->store, "alpha", 0, &other, &v),
				 OTA_E_UNKNOWN_KEY);
	}
	/* An empty slot or an unknown guest. */
	assert_int_equal(ota_install_check_slot(&f->store, "alpha", 1, &p, &v), OTA_E_STATE);
	assert_int_equal(ota_install_check_slot(&f->store, "gamma", 0, &p, &v), OTA_E_NO_GUEST);
	free(image);
	free(buf);
}

/* Head areas follow the metadata: alpha A, alpha B, beta A, beta B. */
static uint8_t *head_area(struct fixture *f, unsigned guest, unsigned slot)
{
	return f->ram.mem + 2 * 8192 + (guest * 2 + slot) * 1024;
}

static void test_check_slot_refuses_altered_head(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);
	static struct ota_verifier v;
	uint8_t *head = head_area(f, 0, 0);
	uint32_t manifest_size = ota_get_le32(head + 8);

	p.board = TEST_BOARD;
	/* A flipped signature byte. */
	head[24 + manifest_size + 5] ^= 1;
	assert_int_equal(ota_install_check_slot(&f->store, "alpha", 0, &p, &v),
			 OTA_E_BAD_SIGNATURE);
	head[24 + manifest_size + 5] ^= 1;
	/* A wiped head (a slot written without one). */
	memset(head, 0, 1024);
	assert_int_equal(ota_install_check_slot(&f->store, "alpha", 0, &p, &v), OTA_E_BAD_MAGIC);
}

/* The metadata is not signed: a head that disagrees with it is refused. */
static void test_check_slot_refuses_other_head(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);
	static struct ota_verifier v;

	p.board = TEST_BOARD;
	/* beta's slot A head (a genuine signed head, for another image) into alpha A. */
	memcpy(head_area(f, 0, 0), head_area(f, 1, 0), 1024);
	assert_int_equal(ota_install_check_slot(&f->store, "alpha", 0, &p, &v),
			 OTA_E_HASH_MISMATCH);
}

/* A confirm raised the counter above a READY image: that image is refused at boot. */
static void test_check_slot_refuses_rollback(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);
	static struct ota_verifier v;

	p.board = TEST_BOARD;
	assert_int_equal(slot_store_confirm(&f->store, "beta"), OTA_OK); /* counter 2 */
	f->store.guests[1].highest_counter = 3; /* as after a later confirm */
	assert_int_equal(ota_install_check_slot(&f->store, "beta", 0, &p, &v), OTA_E_ROLLBACK);
	assert_int_equal(ota_install_check_slot(&f->store, "beta", 1, &p, &v), OTA_E_ROLLBACK);
	f->store.guests[1].highest_counter = 2;
	assert_int_equal(ota_install_check_slot(&f->store, "beta", 1, &p, &v), OTA_OK);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_round_trip),
	    T(test_chunk_sizes),
	    T(test_rejects_bad_signature),
	    T(test_rejects_unknown_key),
	    T(test_rejects_wrong_board),
	    T(test_rejects_lower_counter),
	    T(test_rejects_oversize),
	    T(test_rejects_malformed_header),
	    T(test_rejects_malformed_manifest),
	    T(test_rejects_bad_magic),
	    T(test_rejects_unknown_version),
	    T(test_rejects_truncated_head),
	    T(test_rejects_hash_mismatch),
	    T(test_rejects_truncated_image),
	    T(test_rejects_trailing_data),
	    T(test_abort_mid_image),
	    T(test_trial_given_up_only_by_a_valid_head),
	    T(test_check_slot_from_medium),
	    T(test_check_slot_refuses_altered_head),
	    T(test_check_slot_refuses_other_head),
	    T(test_check_slot_refuses_rollback),
	};
	int failed;

	test_key_init(&key);
	test_key_init(&stranger);
	failed = cmocka_run_group_tests_name("ota_install", tests, NULL, NULL);
	test_key_free(&key);
	test_key_free(&stranger);
	return failed;
}
