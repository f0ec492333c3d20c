/* test_ota_bundle.c: bundle header, manifest and the streaming verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "endian.h"
#include "ota.h"
#include "ota_test_util.h"

#define IMAGE_LEN 5000

static struct test_key key, other_key;

struct fixture {
	struct ota_manifest m;
	uint8_t *image;
	uint8_t *bundle;
	size_t len;
	struct ota_verifier v;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->m = test_manifest("hello", 2, 7);
	f->image = test_image(IMAGE_LEN, 1);
	f->bundle = test_bundle(&key, &f->m, f->image, IMAGE_LEN, &f->len);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->image);
	free(f->bundle);
	free(f);
	return 0;
}

static int verify(struct fixture *f)
{
	struct ota_verify_policy p = test_policy(&key);

	return ota_bundle_verify(&f->v, &p, f->bundle, f->len);
}

static size_t manifest_offset(void)
{
	return OTA_BUNDLE_HEADER_SIZE;
}

/* Offset of a manifest field's value inside the bundle. */
static size_t field_offset(const struct fixture *f, unsigned tag)
{
	size_t pos = manifest_offset(), end = manifest_offset() + ota_get_le32(f->bundle + 8);

	while (pos < end) {
		if (f->bundle[pos] == tag)
			return pos + 2;
		pos += 2 + f->bundle[pos + 1];
	}
	fail_msg("tag %u not found", tag);
	return 0;
}

static void test_valid_bundle_verifies(void **state)
{
	struct fixture *f = *state;
	const struct ota_manifest *m;

	assert_int_equal(verify(f), OTA_OK);
	m = ota_verifier_manifest(&f->v);
	assert_non_null(m);
	assert_string_equal(m->name, "hello");
	assert_int_equal(m->version[1], 2);
	assert_int_equal(m->security_counter, 7);
	assert_int_equal(m->image_size, IMAGE_LEN);
	assert_string_equal(m->boards, TEST_BOARD ",cubieboard2");
	assert_memory_equal(m->key_id, key.trusted.key_id, OTA_KEY_ID_SIZE);
	assert_int_equal(f->len,
			 OTA_BUNDLE_HEADER_SIZE + ota_get_le32(f->bundle + 8) + 64 + IMAGE_LEN);
}

/* One byte at a time: every split of header, manifest, signature and image. */
static void test_streaming_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);
	size_t i = 0, used;
	int rc = OTA_AGAIN;

	ota_verifier_init(&f->v, &p);
	while (rc == OTA_AGAIN) {
		assert_null(ota_verifier_manifest(&f->v));
		rc = ota_verifier_feed_head(&f->v, f->bundle + i, 1, &used);
		assert_int_equal(used, 1);
		i++;
	}
	assert_int_equal(rc, OTA_OK);
	assert_int_equal(i, f->len - IMAGE_LEN);
	for (; i < f->len; i++)
		assert_int_equal(ota_verifier_feed_image(&f->v, f->bundle + i, 1), OTA_OK);
	assert_int_equal(ota_verifier_finish(&f->v), OTA_OK);
}

/* The head completes inside a chunk: the rest of that chunk is image. */
static void test_streaming_head_and_image_in_one_chunk(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);
	size_t used;

	ota_verifier_init(&f->v, &p);
	assert_int_equal(ota_verifier_feed_head(&f->v, f->bundle, 100, &used), OTA_AGAIN);
	assert_int_equal(used, 100);
	assert_int_equal(ota_verifier_feed_head(&f->v, f->bundle + 100, f->len - 100, &used),
			 OTA_OK);
	assert_int_equal(100 + used, f->len - IMAGE_LEN);
	assert_int_equal(
	    ota_verifier_feed_image(&f->v, f->bundle + 100 + used, f->len - 100 - used), OTA_OK);
	assert_int_equal(ota_verifier_finish(&f->v), OTA_OK);
}

static void test_manifest_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[OTA_MANIFEST_SIZE_MAX];
	struct ota_manifest back;
	size_t len;

	assert_int_equal(ota_manifest_encode(&f->m, buf, sizeof(buf), &len), OTA_OK);
	assert_int_equal(ota_manifest_decode(buf, len, &back), OTA_OK);
	assert_memory_equal(&back, &f->m, sizeof(back));
	/* A buffer too small is reported, not overrun. */
	assert_int_equal(ota_manifest_encode(&f->m, buf, len - 1, &len), OTA_E_OVERSIZE);
}

static void test_manifest_field_limits(void **state)
{
	struct ota_manifest m = test_manifest("hello", 0, 0);
	uint8_t buf[OTA_MANIFEST_SIZE_MAX];
	size_t len;

	(void)state;
	m.image_size = 1;
	assert_int_equal(ota_manifest_validate(&m), OTA_OK);
	strcpy(m.name, "Hello");
	assert_int_equal(ota_manifest_encode(&m, buf, sizeof(buf), &len), OTA_E_INVALID);
	strcpy(m.name, "9lives");
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
	strcpy(m.name, "a-guest_2");
	assert_int_equal(ota_manifest_validate(&m), OTA_OK);
	strcpy(m.boards, "a,b,c,d,e");
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
	strcpy(m.boards, "a,,b");
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
	strcpy(m.boards, "a,b,c,d");
	assert_int_equal(ota_manifest_validate(&m), OTA_OK);
	assert_true(ota_manifest_has_board(&m, "c"));
	assert_false(ota_manifest_has_board(&m, "e"));
	assert_false(ota_manifest_has_board(&m, "a,b"));
	m.vcpus = 0;
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
	m.vcpus = OTA_VCPUS_MAX + 1;
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
	m.vcpus = 1;
	m.memory_mib = 0;
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
}

/* ---------------------------------------------------------------- rejections */

static void expect(struct fixture *f, int code)
{
	int rc = verify(f);

	if (rc != code)
		fail_msg("expected %s, got %s", ota_status_name(code), ota_status_name(rc));
}

static void test_bad_magic(void **state)
{
	struct fixture *f = *state;

	f->bundle[0] = 'X';
	expect(f, OTA_E_BAD_MAGIC);
}

static void test_unsupported_version(void **state)
{
	struct fixture *f = *state;

	ota_put_le16(f->bundle + 4, 2);
	expect(f, OTA_E_UNSUPPORTED_VERSION);
	ota_put_le16(f->bundle + 4, 0);
	expect(f, OTA_E_UNSUPPORTED_VERSION);
}

static void test_malformed_header(void **state)
{
	static const struct {
		size_t offset;
		unsigned width;
		uint32_t value;
	} cases[] = {
	    {6, 16, 25}, /* header size */
	    {8, 32, 0},  /* manifest size below the minimum */
	    {8, 32, OTA_MANIFEST_SIZE_MAX + 1},
	    {12, 32, 0},  /* empty image */
	    {16, 16, 2},  /* signature algorithm */
	    {18, 16, 72}, /* signature size */
	    {20, 32, 1},  /* reserved flags */
	};
	struct fixture *f = *state;
	uint8_t saved[OTA_BUNDLE_HEADER_SIZE];

	memcpy(saved, f->bundle, sizeof(saved));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(f->bundle, saved, sizeof(saved));
		if (cases[i].width == 16)
			ota_put_le16(f->bundle + cases[i].offset, (uint16_t)cases[i].value);
		else
			ota_put_le32(f->bundle + cases[i].offset, cases[i].value);
		expect(f, OTA_E_MALFORMED_HEADER);
	}
}

static void test_oversize(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);

	/* Refused from the header alone, before the manifest is even read. */
	p.max_image_size = IMAGE_LEN - 1;
	assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, OTA_BUNDLE_HEADER_SIZE),
			 OTA_E_OVERSIZE);
	ota_put_le32(f->bundle + 12, (uint32_t)OTA_BUNDLE_IMAGE_MAX + 1);
	expect(f, OTA_E_OVERSIZE);
}

static void test_malformed_manifest(void **state)
{
	struct fixture *f = *state;
	size_t name = field_offset(f, OTA_TAG_NAME), vcpus = field_offset(f, OTA_TAG_VCPUS);
	uint8_t *copy = malloc(f->len);

	memcpy(copy, f->bundle, f->len);
	f->bundle[name] = 'H'; /* not a valid name character */
	expect(f, OTA_E_MALFORMED_MANIFEST);
	memcpy(f->bundle, copy, f->len);
	f->bundle[name + 1] = 0; /* a NUL inside a string */
	expect(f, OTA_E_MALFORMED_MANIFEST);
	memcpy(f->bundle, copy, f->len);
	f->bundle[vcpus] = 0;
	expect(f, OTA_E_MALFORMED_MANIFEST);
	memcpy(f->bundle, copy, f->len);
	f->bundle[vcpus - 2] = 0x7f; /* an unknown critical tag */
	expect(f, OTA_E_MALFORMED_MANIFEST);
	memcpy(f->bundle, copy, f->len);
	f->bundle[vcpus - 2] = OTA_TAG_IMAGE_SIZE; /* tags out of order */
	expect(f, OTA_E_MALFORMED_MANIFEST);
	memcpy(f->bundle, copy, f->len);
	f->bundle[vcpus - 1] = 200; /* a length past the end */
	expect(f, OTA_E_MALFORMED_MANIFEST);
	memcpy(f->bundle, copy, f->len);
	/* The manifest's image size must equal the header's. */
	ota_put_le32(f->bundle + field_offset(f, OTA_TAG_IMAGE_SIZE), IMAGE_LEN + 1);
	expect(f, OTA_E_MALFORMED_MANIFEST);
	free(copy);
}

/* A manifest missing a required field, correctly signed, is still refused. */
static void test_missing_field(void **state)
{
	struct fixture *f = *state;
	size_t vcpus = field_offset(f, OTA_TAG_VCPUS), msize = ota_get_le32(f->bundle + 8);

	/* Drop the 3-byte vcpus record and shift everything after it. */
	memmove(f->bundle + vcpus - 2, f->bundle + vcpus + 1, f->len - (vcpus + 1));
	f->len -= 3;
	ota_put_le32(f->bundle + 8, (uint32_t)(msize - 3));
	test_resign(&key, f->bundle);
	expect(f, OTA_E_MALFORMED_MANIFEST);
}

/* Optional extension tags (>= 0x80) are signed but skipped. */
static void test_optional_tag_skipped(void **state)
{
	struct fixture *f = *state;
	size_t msize = ota_get_le32(f->bundle + 8), end = OTA_BUNDLE_HEADER_SIZE + msize;
	uint8_t *bigger = malloc(f->len + 5);

	memcpy(bigger, f->bundle, end);
	memcpy(bigger + end, "\x90\x03xyz", 5);
	memcpy(bigger + end + 5, f->bundle + end, f->len - end);
	free(f->bundle);
	f->bundle = bigger;
	f->len += 5;
	ota_put_le32(f->bundle + 8, (uint32_t)(msize + 5));
	test_resign(&key, f->bundle);
	expect(f, OTA_OK);
}

static void test_unknown_key(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&other_key);

	assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, f->len), OTA_E_UNKNOWN_KEY);
	p.key_count = 0;
	assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, f->len), OTA_E_UNKNOWN_KEY);
}

/* Key rotation: a device trusting old and new key accepts both. */
static void test_key_rotation(void **state)
{
	struct fixture *f = *state;
	struct ota_trusted_key both[2] = {other_key.trusted, key.trusted};
	struct ota_verify_policy p = {both, 2, TEST_BOARD, 0};

	assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, f->len), OTA_OK);
}

static void test_bad_signature(void **state)
{
	struct fixture *f = *state;
	size_t sig = OTA_BUNDLE_HEADER_SIZE + ota_get_le32(f->bundle + 8);
	size_t build_time = field_offset(f, OTA_TAG_BUILD_TIME);

	f->bundle[sig + 10] ^= 1;
	expect(f, OTA_E_BAD_SIGNATURE);
	f->bundle[sig + 10] ^= 1;
	f->bundle[build_time] ^= 1; /* a signed byte changed */
	expect(f, OTA_E_BAD_SIGNATURE);
	f->bundle[build_time] ^= 1;
	/* The same key id on a different key: the signature does not check out. */
	{
		struct ota_trusted_key forged = other_key.trusted;
		struct ota_verify_policy p = {&forged, 1, TEST_BOARD, 0};

		memcpy(forged.key_id, key.trusted.key_id, OTA_KEY_ID_SIZE);
		assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, f->len),
				 OTA_E_BAD_SIGNATURE);
	}
	/* r = 0 and s = 0 are out of range, not a crash. */
	memset(f->bundle + sig, 0, OTA_P256_SIGNATURE_SIZE);
	expect(f, OTA_E_BAD_SIGNATURE);
}

static void test_wrong_board(void **state)
{
	struct fixture *f = *state;
	struct ota_verify_policy p = test_policy(&key);

	p.board = "bananapi";
	assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, f->len), OTA_E_WRONG_BOARD);
	p.board = "cubieboard2";
	assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, f->len), OTA_OK);
	p.board = NULL;
	assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, f->len), OTA_OK);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	size_t cuts[] = {0,
			 3,
			 OTA_BUNDLE_HEADER_SIZE,
			 OTA_BUNDLE_HEADER_SIZE + 40,
			 f->len - IMAGE_LEN - 1,
			 f->len - IMAGE_LEN,
			 f->len - 1};
	struct ota_verify_policy p = test_policy(&key);

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		assert_int_equal(ota_bundle_verify(&f->v, &p, f->bundle, cuts[i]), OTA_E_TRUNCATED);
}

static void test_trailing_data(void **state)
{
	struct fixture *f = *state;
	uint8_t *longer = malloc(f->len + 1);

	memcpy(longer, f->bundle, f->len);
	longer[f->len] = 0;
	free(f->bundle);
	f->bundle = longer;
	f->len++;
	expect(f, OTA_E_TRAILING_DATA);
}

static void test_hash_mismatch(void **state)
{
	struct fixture *f = *state;

	f->bundle[f->len - 1] ^= 0x80;
	expect(f, OTA_E_HASH_MISMATCH);
}

/* Errors are sticky: a verifier that failed never says OK later. */
static void test_errors_are_sticky(void **state)
{
	struct fixture *f = *state;
	size_t used;

	f->bundle[0] = 'X';
	expect(f, OTA_E_BAD_MAGIC);
	assert_int_equal(ota_verifier_feed_head(&f->v, f->bundle, f->len, &used), OTA_E_BAD_MAGIC);
	assert_int_equal(ota_verifier_feed_image(&f->v, f->bundle, 1), OTA_E_BAD_MAGIC);
	assert_int_equal(ota_verifier_finish(&f->v), OTA_E_BAD_MAGIC);
	assert_null(ota_verifier_manifest(&f->v));
}

/* Every rejection has its own code, name and message. */
static void test_status_texts_distinct(void **state)
{
	(void)state;
	for (int a = OTA_E_CRYPTO; a <= OTA_AGAIN; a++) {
		assert_string_not_equal(ota_status_name(a), "unknown");
		assert_true(strlen(ota_strerror(a)) > 5);
		for (int b = a + 1; b <= OTA_AGAIN; b++) {
			assert_string_not_equal(ota_status_name(a), ota_status_name(b));
			assert_string_not_equal(ota_strerror(a), ota_strerror(b));
		}
	}
	assert_string_equal(ota_status_name(-999), "unknown");
}

/* Signing is deterministic: the same inputs give the same bundle. */
static void test_signing_reproducible(void **state)
{
	struct fixture *f = *state;
	struct ota_manifest m = test_manifest("hello", 2, 7);
	size_t len;
	uint8_t *again = test_bundle(&key, &m, f->image, IMAGE_LEN, &len);

	assert_int_equal(len, f->len);
	assert_memory_equal(again, f->bundle, len);
	free(again);
}

/* Network interfaces (tag 0x0b): optional, unique names, round trip, and a
 * manifest without them encodes exactly as before the tag existed. */
static void test_manifest_nics(void **state)
{
	struct ota_manifest m = test_manifest("www", 0, 0), back;
	uint8_t with[OTA_MANIFEST_SIZE_MAX], without[OTA_MANIFEST_SIZE_MAX];
	size_t with_len, without_len;
	char name[OTA_NAME_MAX + 1];

	(void)state;
	m.image_size = 1;
	assert_int_equal(ota_manifest_encode(&m, without, sizeof(without), &without_len), OTA_OK);
	assert_int_equal(ota_manifest_nic_count(&m), 0);
	assert_int_equal(without[without_len - 10], OTA_TAG_BUILD_TIME); /* still the last tag */
	strcpy(m.nics, "lan,mgmt");
	assert_int_equal(ota_manifest_encode(&m, with, sizeof(with), &with_len), OTA_OK);
	assert_int_equal(with_len, without_len + 2 + 8);
	assert_memory_equal(with, without, without_len);
	assert_int_equal(ota_manifest_decode(with, with_len, &back), OTA_OK);
	assert_string_equal(back.nics, "lan,mgmt");
	assert_int_equal(ota_manifest_nic_count(&back), 2);
	assert_true(ota_manifest_has_nic(&back, "mgmt"));
	assert_false(ota_manifest_has_nic(&back, "wan"));
	assert_int_equal(ota_manifest_nic(&back, 1, name), 0);
	assert_string_equal(name, "mgmt");
	assert_int_equal(ota_manifest_nic(&back, 2, name), -1);
	assert_int_equal(ota_manifest_decode(without, without_len, &back), OTA_OK);
	assert_string_equal(back.nics, "");
	strcpy(m.nics, "lan,lan");
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
	strcpy(m.nics, "a,b,c,d,e,f,g,h,i");
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
	strcpy(m.nics, "LAN");
	assert_int_equal(ota_manifest_validate(&m), OTA_E_INVALID);
	/* The same checks on the wire: a duplicate name is malformed. */
	memcpy(with + without_len + 2, "lan,lan\0", 8);
	with[without_len + 1] = 7;
	assert_int_equal(ota_manifest_decode(with, without_len + 9, &back),
			 OTA_E_MALFORMED_MANIFEST);
	/* An empty list is not an encoding of "none". */
	with[without_len + 1] = 0;
	assert_int_equal(ota_manifest_decode(with, without_len + 2, &back),
			 OTA_E_MALFORMED_MANIFEST);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_valid_bundle_verifies),
	    T(test_streaming_byte_by_byte),
	    T(test_streaming_head_and_image_in_one_chunk),
	    T(test_manifest_round_trip),
	    T(test_manifest_field_limits),
	    T(test_manifest_nics),
	    T(test_bad_magic),
	    T(test_unsupported_version),
	    T(test_malformed_header),
	    T(test_oversize),
	    T(test_malformed_manifest),
	    T(test_missing_field),
	    T(test_optional_tag_skipped),
	    T(test_unknown_key),
	    T(test_key_rotation),
	    T(test_bad_signature),
	    T(test_wrong_board),
	    T(test_truncated),
	    T(test_trailing_data),
	    T(test_hash_mismatch),
	    T(test_errors_are_sticky),
	    T(test_status_texts_distinct),
	    T(test_signing_reproducible),
	};
	int failed;

	test_key_init(&key);
	test_key_init(&other_key);
	failed = cmocka_run_group_tests_name("ota_bundle", tests, NULL, NULL);
	test_key_free(&key);
	test_key_free(&other_key);
	return failed;
}
