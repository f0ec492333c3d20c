/* test_ota_slot_store.c: slot store states, journal and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ota.h"
#include "ota_test_util.h"
#include "slot_store.h"

#define BS          512
#define SLOT_SIZE   8192
#define META_BLOCKS (2 * 8192 / BS)
#define GUESTS      3
/* + each slot's 1 KiB head area */
#define BLOCKS (META_BLOCKS + GUESTS * 2 * (SLOT_SIZE + 1024) / BS)

struct fixture {
	struct test_ram ram;
	struct slot_store store;
	uint8_t *image[4];
	size_t image_len[4];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	static const size_t lens[4] = {3000, SLOT_SIZE, 1, 4096};

	test_ram_init(&f->ram, BS, BLOCKS);
	for (int i = 0; i < 4; i++) {
		f->image_len[i] = lens[i];
		f->image[i] = test_image(lens[i], (unsigned)i + 10);
	}
	assert_int_equal(slot_store_format(&f->store, &f->ram.ram.dev, SLOT_SIZE, 0), OTA_OK);
	assert_int_equal(f->store.guest_capacity, GUESTS);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 4; i++)
		free(f->image[i]);
	test_ram_free(&f->ram);
	free(f);
	return 0;
}

static struct ota_manifest describe(struct fixture *f, const char *name, int img, uint32_t minor,
				    uint32_t counter)
{
	struct ota_manifest m = test_manifest(name, minor, counter);

	test_describe_image(&m, f->image[img], f->image_len[img]);
	return m;
}

static int install(struct fixture *f, const char *name, int img, uint32_t minor, uint32_t counter)
{
	struct ota_manifest m = describe(f, name, img, minor, counter);

	return test_install_raw(&f->store, &m, f->image[img]);
}

/* Installs, activates and confirms: the image becomes the guest's confirmed one. */
static void live(struct fixture *f, const char *name, int img, uint32_t minor, uint32_t counter)
{
	assert_int_equal(install(f, name, img, minor, counter), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, name), OTA_OK);
	assert_int_equal(slot_store_confirm(&f->store, name), OTA_OK);
}

static unsigned state_of(struct fixture *f, const char *name, unsigned slot)
{
	const struct slot_guest *g = slot_store_guest(&f->store, name);

	assert_non_null(g);
	return g->slot[slot].state;
}

/* Reopens the store from the device, as after a reboot. */
static void reopen(struct fixture *f)
{
	memset(&f->store, 0xa5, sizeof(f->store));
	assert_int_equal(slot_store_open(&f->store, &f->ram.ram.dev), OTA_OK);
}

static void assert_image(struct fixture *f, const char *name, unsigned slot, int img)
{
	uint8_t *buf = malloc(f->image_len[img]);

	assert_int_equal(slot_store_check_slot(&f->store, name, slot), OTA_OK);
	assert_int_equal(slot_store_read_image(&f->store, name, slot, 0, buf, f->image_len[img]),
			 OTA_OK);
	assert_memory_equal(buf, f->image[img], f->image_len[img]);
	free(buf);
}

static void test_unformatted_device(void **state)
{
	struct fixture *f = *state;

	memset(f->ram.mem, 0, f->ram.size);
	assert_int_equal(slot_store_open(&f->store, &f->ram.ram.dev), OTA_E_NO_STORE);
	memset(f->ram.mem, 0xff, f->ram.size);
	assert_int_equal(slot_store_open(&f->store, &f->ram.ram.dev), OTA_E_NO_STORE);
	/* Nothing works on a store that is not open. */
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_E_NO_STORE);
}

static void test_format_geometry(void **state)
{
	struct fixture *f = *state;
	struct test_ram small, odd;

	assert_int_equal(slot_store_format(&f->store, &f->ram.ram.dev, SLOT_SIZE + 1, 0),
			 OTA_E_GEOMETRY);
	assert_int_equal(slot_store_format(&f->store, &f->ram.ram.dev, SLOT_SIZE, GUESTS + 1),
			 OTA_E_GEOMETRY);
	assert_int_equal(slot_store_format(&f->store, &f->ram.ram.dev, SLOT_SIZE, 2), OTA_OK);
	reopen(f);
	assert_int_equal(f->store.guest_capacity, 2);
	test_ram_init(&small, BS, META_BLOCKS + 1);
	assert_int_equal(slot_store_format(&f->store, &small.ram.dev, SLOT_SIZE, 0),
			 OTA_E_GEOMETRY);
	test_ram_free(&small);
	test_ram_init(&odd, 96, 1000); /* not a power of two */
	assert_int_equal(slot_store_format(&f->store, &odd.ram.dev, 96 * 4, 0), OTA_E_GEOMETRY);
	test_ram_free(&odd);
	/* A store made for 512-byte blocks does not open as 1024-byte blocks. */
	{
		struct ota_ram_blockdev as1k;

		ota_ram_blockdev_init(&as1k, f->ram.mem, 1024, BLOCKS / 2);
		assert_int_equal(slot_store_open(&f->store, &as1k.dev), OTA_E_GEOMETRY);
	}
}

static void test_install_activate_confirm(void **state)
{
	struct fixture *f = *state;
	const struct slot_guest *g;

	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), OTA_E_NO_GUEST);
	assert_int_equal(install(f, "hello", 0, 1, 3), OTA_OK);
	assert_int_equal(state_of(f, "hello", 0), SLOT_READY);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), OTA_E_STATE);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(state_of(f, "hello", 0), SLOT_TRIAL);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 0);
	assert_int_equal(slot_store_confirm(&f->store, "hello"), OTA_OK);
	reopen(f);
	g = slot_store_guest(&f->store, "hello");
	assert_int_equal(g->slot[0].state, SLOT_CONFIRMED);
	assert_int_equal(g->slot[1].state, SLOT_EMPTY);
	assert_int_equal(g->highest_counter, 3);
	assert_int_equal(g->slot[0].version[1], 1);
	assert_image(f, "hello", 0, 0);
}

/* Update: the new image goes to the other slot; the old stays until confirm. */
static void test_update_and_rollback_target(void **state)
{
	struct fixture *f = *state;

	live(f, "hello", 0, 1, 3);
	assert_int_equal(install(f, "hello", 1, 2, 4), OTA_OK);
	assert_int_equal(state_of(f, "hello", 1), SLOT_READY);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 1);
	/* A second trial while one runs is refused. */
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_E_STATE);
	assert_int_equal(slot_store_confirm(&f->store, "hello"), OTA_OK);
	assert_int_equal(state_of(f, "hello", 0), SLOT_READY);
	assert_int_equal(state_of(f, "hello", 1), SLOT_CONFIRMED);
	assert_int_equal(slot_store_guest(&f->store, "hello")->highest_counter, 4);
	/* The previous image (counter 3) may not come back: counter 4 was confirmed. */
	assert_int_equal(slot_store_activate_slot(&f->store, "hello", 0), OTA_E_ROLLBACK);
	assert_image(f, "hello", 0, 0);
	assert_image(f, "hello", 1, 1);
}

/* A previous image with the same counter can be activated again (rollback verb). */
static void test_activate_previous_same_counter(void **state)
{
	struct fixture *f = *state;

	live(f, "hello", 0, 1, 3);
	live(f, "hello", 1, 2, 3);
	assert_int_equal(slot_store_activate_slot(&f->store, "hello", 0), OTA_OK);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 0);
}

/* A rollback (the previous image made the trial again) given up without a
 * verdict: the previous image is READY again, the confirmed one boots. */
static void test_withdraw_rollback_trial(void **state)
{
	struct fixture *f = *state;

	live(f, "hello", 0, 1, 3);
	live(f, "hello", 1, 2, 3);
	assert_int_equal(slot_store_activate_slot(&f->store, "hello", 0), OTA_OK);
	assert_int_equal(slot_store_count_attempt(&f->store, "hello"), 1);
	assert_int_equal(slot_store_withdraw_trial(&f->store, "hello"), OTA_OK);
	assert_int_equal(state_of(f, "hello", 0), SLOT_READY);
	assert_int_equal(state_of(f, "hello", 1), SLOT_CONFIRMED);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 1);
	assert_int_equal(slot_store_guest(&f->store, "hello")->trial_attempts, 0);
	/* Still a rollback target; nothing to withdraw any more. */
	assert_int_equal(slot_store_withdraw_trial(&f->store, "hello"), OTA_E_STATE);
	assert_int_equal(slot_store_activate_slot(&f->store, "hello", 0), OTA_OK);
}

static void test_revert(void **state)
{
	struct fixture *f = *state;

	live(f, "hello", 0, 1, 3);
	assert_int_equal(install(f, "hello", 1, 2, 4), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(slot_store_revert(&f->store, "hello"), OTA_OK);
	assert_int_equal(state_of(f, "hello", 1), SLOT_BAD);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 0);
	/* A revert does not raise the counter: the confirmed image keeps its place. */
	assert_int_equal(slot_store_guest(&f->store, "hello")->highest_counter, 3);
	assert_int_equal(slot_store_revert(&f->store, "hello"), OTA_E_STATE);
	assert_int_equal(slot_store_confirm(&f->store, "hello"), OTA_E_STATE);
	/* The next install reuses the bad slot. */
	assert_int_equal(install(f, "hello", 2, 3, 4), OTA_OK);
	assert_int_equal(state_of(f, "hello", 1), SLOT_READY);
	assert_image(f, "hello", 0, 0);
}

/* Refusals before any write leave the device byte-identical. */
static void test_refusals_change_nothing(void **state)
{
	struct fixture *f = *state;
	uint8_t *before = malloc(f->ram.size);
	struct ota_manifest m;

	live(f, "hello", 0, 1, 5);
	assert_int_equal(install(f, "hello", 1, 2, 6), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(install(f, "two", 2, 1, 1), OTA_OK);
	assert_int_equal(install(f, "three", 2, 1, 1), OTA_OK);
	memcpy(before, f->ram.mem, f->ram.size);

	m = describe(f, "hello", 2, 9, 4); /* counter 4 < 5 */
	assert_int_equal(slot_store_begin_install(&f->store, &m), OTA_E_ROLLBACK);
	m = describe(f, "hello", 2, 9, 6);
	m.image_size = SLOT_SIZE + 1;
	assert_int_equal(slot_store_begin_install(&f->store, &m), OTA_E_OVERSIZE);
	m = describe(f, "four", 2, 1, 1);
	assert_int_equal(slot_store_begin_install(&f->store, &m), OTA_E_STORE_FULL);
	m = describe(f, "hello", 2, 1, 9);
	m.vcpus = 0;
	assert_int_equal(slot_store_begin_install(&f->store, &m), OTA_E_INVALID);
	assert_int_equal(slot_store_write(&f->store, "x", 1), OTA_E_STATE);
	assert_int_equal(slot_store_finish(&f->store), OTA_E_STATE);
	assert_int_equal(slot_store_confirm(&f->store, "nobody"), OTA_E_NO_GUEST);
	assert_int_equal(slot_store_confirm(&f->store, "two"), OTA_E_STATE);
	assert_int_equal(slot_store_revert(&f->store, "two"), OTA_E_STATE);
	assert_int_equal(slot_store_activate_slot(&f->store, "two", 1), OTA_E_STATE);
	assert_memory_equal(before, f->ram.mem, f->ram.size);
	free(before);
}

static void test_counter_equal_is_accepted(void **state)
{
	struct fixture *f = *state;

	live(f, "hello", 0, 1, 5);
	assert_int_equal(install(f, "hello", 1, 1, 5), OTA_OK);
}

static void test_hash_mismatch_at_finish(void **state)
{
	struct fixture *f = *state;
	struct ota_manifest m;

	live(f, "hello", 0, 1, 1);
	m = describe(f, "hello", 3, 2, 2);
	m.image_sha256[0] ^= 1;
	assert_int_equal(test_install_raw(&f->store, &m, f->image[3]), OTA_E_HASH_MISMATCH);
	assert_int_equal(state_of(f, "hello", 1), SLOT_EMPTY);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 0);
	assert_image(f, "hello", 0, 0);
	/* A first install that fails leaves no guest entry behind. */
	m = describe(f, "fresh", 3, 1, 1);
	m.image_sha256[0] ^= 1;
	assert_int_equal(test_install_raw(&f->store, &m, f->image[3]), OTA_E_HASH_MISMATCH);
	assert_null(slot_store_guest(&f->store, "fresh"));
}

static void test_truncated_and_oversize_writes(void **state)
{
	struct fixture *f = *state;
	struct ota_manifest m = describe(f, "hello", 0, 1, 1);

	assert_int_equal(slot_store_begin_install(&f->store, &m), OTA_OK);
	assert_int_equal(slot_store_begin_install(&f->store, &m), OTA_E_STATE);
	assert_int_equal(slot_store_write(&f->store, f->image[0], 100), OTA_OK);
	assert_int_equal(slot_store_write(&f->store, f->image[0], f->image_len[0]), OTA_E_OVERSIZE);
	assert_int_equal(slot_store_finish(&f->store), OTA_E_TRUNCATED);
	assert_null(slot_store_guest(&f->store, "hello"));
	assert_int_equal(slot_store_abort(&f->store), OTA_OK);
}

/* A reset during an install: the slot comes back EMPTY, not half-written READY. */
static void test_reopen_abandons_install(void **state)
{
	struct fixture *f = *state;
	struct ota_manifest m;

	live(f, "hello", 0, 1, 1);
	m = describe(f, "hello", 1, 2, 2);
	assert_int_equal(slot_store_begin_install(&f->store, &m), OTA_OK);
	assert_int_equal(slot_store_write(&f->store, f->image[1], 4096), OTA_OK);
	reopen(f);
	assert_int_equal(state_of(f, "hello", 1), SLOT_EMPTY);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 0);
	assert_int_equal(install(f, "hello", 1, 2, 2), OTA_OK);
	assert_image(f, "hello", 1, 1);
}

/* Installing over a trial gives the trial up; the confirmed image stays. */
static void test_install_over_trial(void **state)
{
	struct fixture *f = *state;

	live(f, "hello", 0, 1, 1);
	assert_int_equal(install(f, "hello", 1, 2, 2), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(install(f, "hello", 3, 3, 3), OTA_OK);
	assert_int_equal(state_of(f, "hello", 0), SLOT_CONFIRMED);
	assert_int_equal(state_of(f, "hello", 1), SLOT_READY);
	assert_int_equal(slot_store_guest(&f->store, "hello")->slot[1].version[1], 3);
	assert_image(f, "hello", 1, 3);
}

/* With no confirmed image, a running trial is not overwritten. */
static void test_first_trial_is_kept(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(install(f, "hello", 0, 1, 1), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(install(f, "hello", 1, 2, 2), OTA_OK);
	assert_int_equal(state_of(f, "hello", 0), SLOT_TRIAL);
	assert_int_equal(state_of(f, "hello", 1), SLOT_READY);
	/* The first trial fails; the newer image is the one activated next. */
	assert_int_equal(slot_store_revert(&f->store, "hello"), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 1);
}

/* A torn newest copy: open falls back to the other, older one. */
static void test_torn_copy_falls_back(void **state)
{
	struct fixture *f = *state;
	unsigned current;

	assert_int_equal(install(f, "hello", 0, 1, 1), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	current = f->store.current_copy;
	/* Damage the newest copy (TRIAL): the previous record (READY) wins. */
	f->ram.mem[current * 8192 + 40] ^= 0xff;
	reopen(f);
	assert_int_equal(state_of(f, "hello", 0), SLOT_READY);
	/* And the next commit goes to the damaged copy, never over the good one. */
	assert_int_equal(f->store.current_copy, current ^ 1u);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(f->store.current_copy, current);
	reopen(f);
	assert_int_equal(state_of(f, "hello", 0), SLOT_TRIAL);
	/* Both copies gone: no store. */
	f->ram.mem[40] ^= 0xff;
	f->ram.mem[8192 + 40] ^= 0xff;
	assert_int_equal(slot_store_open(&f->store, &f->ram.ram.dev), OTA_E_NO_STORE);
}

/* A damaged image is found by check_slot. */
static void test_check_slot_detects_corruption(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(install(f, "hello", 0, 1, 1), OTA_OK);
	/* Guest 0, slot A: after the metadata and every slot's head area. */
	f->ram.mem[META_BLOCKS * BS + GUESTS * 2 * 1024 + 100] ^= 1;
	assert_int_equal(slot_store_check_slot(&f->store, "hello", 0), OTA_E_HASH_MISMATCH);
	assert_int_equal(slot_store_check_slot(&f->store, "hello", 1), OTA_E_STATE);
}

static void test_read_image_unaligned(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[2000];

	assert_int_equal(install(f, "hello", 1, 1, 1), OTA_OK);
	assert_int_equal(slot_store_read_image(&f->store, "hello", 0, 511, buf, sizeof(buf)),
			 OTA_OK);
	assert_memory_equal(buf, f->image[1] + 511, sizeof(buf));
	assert_int_equal(slot_store_read_image(&f->store, "hello", 0, SLOT_SIZE - 1, buf, 2),
			 OTA_E_INVALID);
	assert_int_equal(slot_store_read_image(&f->store, "hello", 0, SLOT_SIZE - 1, buf, 1),
			 OTA_OK);
	assert_int_equal(buf[0], f->image[1][SLOT_SIZE - 1]);
}

/* Many guests, many updates: sequence numbers climb, the copies alternate. */
static void test_many_updates(void **state)
{
	struct fixture *f = *state;
	static const char *const names[GUESTS] = {"a", "b", "c"};

	for (uint32_t round = 1; round <= 20; round++) {
		for (int g = 0; g < GUESTS; g++) {
			assert_int_equal(
			    install(f, names[g], (int)(round + (unsigned)g) % 4, round, round),
			    OTA_OK);
			assert_int_equal(slot_store_activate(&f->store, names[g]), OTA_OK);
			if ((round + (unsigned)g) % 3 == 0)
				assert_int_equal(slot_store_revert(&f->store, names[g]), OTA_OK);
			else
				assert_int_equal(slot_store_confirm(&f->store, names[g]), OTA_OK);
		}
	}
	reopen(f);
	for (int g = 0; g < GUESTS; g++) {
		int boot = slot_store_boot_slot(&f->store, names[g]);

		assert_true(boot >= 0);
		assert_int_equal(slot_store_check_slot(&f->store, names[g], (unsigned)boot),
				 OTA_OK);
	}
	assert_true(f->store.seq > 200);
}

/* Trial attempts are counted durably and reset by confirm, revert and activate. */
static void test_trial_attempts(void **state)
{
	struct fixture *f = *state;

	live(f, "hello", 0, 1, 1);
	assert_int_equal(slot_store_count_attempt(&f->store, "hello"), OTA_E_STATE);
	assert_int_equal(install(f, "hello", 3, 2, 2), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(slot_store_count_attempt(&f->store, "hello"), 1);
	assert_int_equal(slot_store_count_attempt(&f->store, "hello"), 2);
	reopen(f);
	assert_int_equal(slot_store_guest(&f->store, "hello")->trial_attempts, 2);
	assert_int_equal(slot_store_count_attempt(&f->store, "hello"), 3);
	assert_int_equal(slot_store_revert(&f->store, "hello"), OTA_OK);
	reopen(f);
	assert_int_equal(slot_store_guest(&f->store, "hello")->trial_attempts, 0);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 0);
	/* A new trial starts from zero; a confirm clears the count. */
	assert_int_equal(install(f, "hello", 2, 3, 3), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(slot_store_count_attempt(&f->store, "hello"), 1);
	assert_int_equal(slot_store_confirm(&f->store, "hello"), OTA_OK);
	reopen(f);
	assert_int_equal(slot_store_guest(&f->store, "hello")->trial_attempts, 0);
	assert_int_equal(slot_store_count_attempt(&f->store, "hello"), OTA_E_STATE);
}

/* The signed head kept with a slot reads back; begin_install without one leaves zeros. */
static void test_head_kept_with_slot(void **state)
{
	struct fixture *f = *state;
	struct ota_manifest m = describe(f, "hello", 0, 1, 1);
	uint8_t head[SLOT_STORE_HEAD_MAX], back[SLOT_STORE_HEAD_MAX],
	    zero[SLOT_STORE_HEAD_MAX] = {0};

	for (size_t i = 0; i < sizeof(head); i++)
		head[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(slot_store_begin_install_signed(&f->store, &m, head, 600), OTA_OK);
	assert_int_equal(slot_store_write(&f->store, f->image[0], f->image_len[0]), OTA_OK);
	assert_int_equal(slot_store_finish(&f->store), OTA_OK);
	reopen(f);
	assert_int_equal(slot_store_read_head(&f->store, "hello", 0, back, sizeof(back)), OTA_OK);
	assert_memory_equal(back, head, 600);
	assert_memory_equal(back + 600, zero, sizeof(back) - 600);
	assert_int_equal(slot_store_read_head(&f->store, "hello", 1, back, 16), OTA_E_STATE);
	assert_int_equal(
	    slot_store_begin_install_signed(&f->store, &m, head, SLOT_STORE_HEAD_MAX + 1),
	    OTA_E_INVALID);
	assert_int_equal(install(f, "hello", 1, 2, 2), OTA_OK);
	assert_int_equal(slot_store_read_head(&f->store, "hello", 1, back, sizeof(back)), OTA_OK);
	assert_memory_equal(back, zero, sizeof(back));
	/* The image is intact next to its head. */
	assert_int_equal(slot_store_check_slot(&f->store, "hello", 0), OTA_OK);
}

/* A factory image goes from READY to CONFIRMED in one commit. */
static void test_confirm_ready(void **state)
{
	struct fixture *f = *state;
	const struct slot_guest *g;

	assert_int_equal(install(f, "hello", 0, 1, 2), OTA_OK);
	assert_int_equal(slot_store_confirm_ready(&f->store, "hello"), OTA_OK);
	reopen(f);
	g = slot_store_guest(&f->store, "hello");
	assert_int_equal(g->slot[0].state, SLOT_CONFIRMED);
	assert_int_equal(g->highest_counter, 2);
	assert_int_equal(slot_store_boot_slot(&f->store, "hello"), 0);
	/* Nothing READY: refused. A trial running: refused. */
	assert_int_equal(slot_store_confirm_ready(&f->store, "hello"), OTA_E_STATE);
	assert_int_equal(install(f, "hello", 1, 2, 3), OTA_OK);
	assert_int_equal(slot_store_activate(&f->store, "hello"), OTA_OK);
	assert_int_equal(slot_store_confirm_ready(&f->store, "hello"), OTA_E_STATE);
	assert_int_equal(slot_store_confirm(&f->store, "hello"), OTA_OK);
	/* Below the counter: refused (slot A is READY 1.0.1, counter 2 < 3). */
	assert_int_equal(slot_store_confirm_ready(&f->store, "hello"), OTA_E_STATE);
	assert_int_equal(install(f, "hello", 2, 0, 1), OTA_E_ROLLBACK);
	assert_int_equal(install(f, "hello", 2, 4, 3), OTA_OK);
	assert_int_equal(slot_store_confirm_ready(&f->store, "hello"), OTA_OK);
	g = slot_store_guest(&f->store, "hello");
	assert_int_equal(g->slot[0].state, SLOT_CONFIRMED);
	assert_int_equal(g->slot[1].state, SLOT_READY);
	f->store.guests[0].highest_counter = 9;
	f->store.guests[0].newest = 1;
	assert_int_equal(slot_store_confirm_ready(&f->store, "hello"), OTA_E_ROLLBACK);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_unformatted_device),
	    T(test_format_geometry),
	    T(test_install_activate_confirm),
	    T(test_update_and_rollback_target),
	    T(test_activate_previous_same_counter),
	    T(test_withdraw_rollback_trial),
	    T(test_revert),
	    T(test_refusals_change_nothing),
	    T(test_counter_equal_is_accepted),
	    T(test_hash_mismatch_at_finish),
	    T(test_truncated_and_oversize_writes),
	    T(test_reopen_abandons_install),
	    T(test_install_over_trial),
	    T(test_first_trial_is_kept),
	    T(test_torn_copy_falls_back),
	    T(test_check_slot_detects_corruption),
	    T(test_read_image_unaligned),
	    T(test_many_updates),
	    T(test_trial_attempts),
	    T(test_head_kept_with_slot),
	    T(test_confirm_ready),
	};

	return cmocka_run_group_tests_name("ota_slot_store", tests, NULL, NULL);
}
