/* test_ota_event_log.c: the event ring beside the slot store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_log.h"
#include "ota.h"
#include "ota_test_util.h"

#define BS      512
#define RECORDS 16

struct seen {
	unsigned count;
	uint32_t seq[64];
	uint32_t detail[64];
	char guest[64][OTA_NAME_MAX + 1];
};

static void collect(const struct ota_event *e, void *arg)
{
	struct seen *s = arg;

	assert_int_equal(e->reason, OTA_REASON_UNCONFIRMED);
	assert_int_equal(e->version[2], 3);
	assert_int_equal(e->status, OTA_E_HASH_MISMATCH);
	s->seq[s->count] = e->seq;
	s->detail[s->count] = e->detail;
	memcpy(s->guest[s->count], e->guest, sizeof(e->guest));
	s->count++;
}

static void append(struct ota_event_log *log, uint32_t boot, uint32_t detail)
{
	struct ota_event e;

	memset(&e, 0, sizeof(e));
	e.boot = boot;
	e.type = OTA_EVENT_REVERT;
	e.slot = 1;
	e.status = OTA_E_HASH_MISMATCH;
	e.detail = detail;
	e.reason = OTA_REASON_UNCONFIRMED;
	e.version[0] = 1;
	e.version[1] = 2;
	e.version[2] = 3;
	snprintf(e.guest, sizeof(e.guest), "guest%u", (unsigned)detail);
	assert_int_equal(ota_event_log_append(log, &e), OTA_OK);
}

static void test_blank_area_is_an_empty_log(void **state)
{
	struct test_ram ram;
	static struct ota_event_log log;
	struct seen seen = {0};

	(void)state;
	test_ram_init(&ram, BS, RECORDS);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	assert_int_equal(log.valid, 0);
	assert_int_equal(log.next_seq, 1);
	assert_int_equal(log.last_boot, 0);
	assert_int_equal(ota_event_log_for_each(&log, collect, &seen), OTA_OK);
	assert_int_equal(seen.count, 0);
	test_ram_free(&ram);
}

static void test_records_survive_reopen_with_every_field(void **state)
{
	struct test_ram ram;
	static struct ota_event_log log;
	struct ota_event e;
	uint8_t block[BS];

	(void)state;
	test_ram_init(&ram, BS, RECORDS);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	append(&log, 7, 3);
	append(&log, 8, 4);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	assert_int_equal(log.valid, 2);
	assert_int_equal(log.next_seq, 3);
	assert_int_equal(log.last_boot, 8);
	/* Record 2 sits in block 2: decode it through the public reader. */
	memcpy(block, ram.mem + 2 * BS, BS);
	assert_memory_equal(block, "FLEV", 4);
	{
		struct seen seen = {0};

		assert_int_equal(ota_event_log_for_each(&log, collect, &seen), OTA_OK);
		assert_int_equal(seen.count, 2);
		assert_string_equal(seen.guest[1], "guest4");
	}
	(void)e;
	test_ram_free(&ram);
}

/* Past its capacity the ring keeps the newest RECORDS records, oldest first. */
static void test_ring_wraps(void **state)
{
	struct test_ram ram;
	static struct ota_event_log log;
	struct seen seen = {0};

	(void)state;
	test_ram_init(&ram, BS, RECORDS);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	for (uint32_t i = 1; i <= 40; i++)
		append(&log, 1, i);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	assert_int_equal(log.next_seq, 41);
	assert_int_equal(ota_event_log_for_each(&log, collect, &seen), OTA_OK);
	assert_int_equal(seen.count, RECORDS);
	for (unsigned i = 0; i < RECORDS; i++) {
		assert_int_equal(seen.seq[i], 41 - RECORDS + i);
		assert_int_equal(seen.detail[i], 41 - RECORDS + i);
	}
	test_ram_free(&ram);
}

/* A power cut tears the record being written: it is skipped, the others stay,
 * and the next append goes where the torn one was. */
static void test_torn_record_is_skipped(void **state)
{
	struct test_ram ram;
	static struct ota_event_log log;
	struct seen seen = {0};

	(void)state;
	test_ram_init(&ram, BS, RECORDS);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	for (uint32_t i = 1; i <= 5; i++)
		append(&log, 2, i);
	/* Record 5 (block 5) torn: half new, half old (zero). */
	memset(ram.mem + 5 * BS + 40, 0, BS - 40);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	assert_int_equal(log.valid, 4);
	assert_int_equal(log.next_seq, 5);
	assert_int_equal(ota_event_log_for_each(&log, collect, &seen), OTA_OK);
	assert_int_equal(seen.count, 4);
	/* A torn record in the middle (one byte of the CRC'd part). */
	ram.mem[2 * BS + 20] ^= 0x10;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	assert_int_equal(ota_event_log_for_each(&log, collect, &seen), OTA_OK);
	assert_int_equal(seen.count, 3);
	assert_int_equal(seen.seq[0], 1);
	assert_int_equal(seen.seq[1], 3);
	append(&log, 3, 99);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	assert_int_equal(ota_event_log_for_each(&log, collect, &seen), OTA_OK);
	assert_int_equal(seen.count, 4);
	assert_int_equal(seen.seq[3], 5);
	assert_int_equal(seen.detail[3], 99);
	assert_int_equal(log.last_boot, 3);
	test_ram_free(&ram);
}

/* A valid-looking record in the wrong block (copied there) is not believed. */
static void test_misplaced_record_is_ignored(void **state)
{
	struct test_ram ram;
	static struct ota_event_log log;

	(void)state;
	test_ram_init(&ram, BS, RECORDS);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	append(&log, 1, 1);
	memcpy(ram.mem + 9 * BS, ram.mem + 1 * BS, BS);
	assert_int_equal(ota_event_log_open(&log, &ram.ram.dev), OTA_OK);
	assert_int_equal(log.valid, 1);
	assert_int_equal(log.next_seq, 2);
	test_ram_free(&ram);
}

static void test_geometry_and_slice(void **state)
{
	struct test_ram ram, small;
	static struct ota_event_log log;
	struct ota_blockdev_slice slice;
	struct seen seen = {0};

	(void)state;
	test_ram_init(&small, 64, 4);
	assert_int_equal(ota_event_log_open(&log, &small.ram.dev), OTA_E_GEOMETRY);
	assert_int_equal(ota_event_log_append(&log, &(struct ota_event){.boot = 1}),
			 OTA_E_NO_STORE);
	test_ram_free(&small);
	/* A log in the last 8 blocks of a 32-block device writes only there. */
	test_ram_init(&ram, BS, 32);
	assert_int_equal(ota_blockdev_slice_init(&slice, &ram.ram.dev, 24, 9), OTA_E_INVALID);
	assert_int_equal(ota_blockdev_slice_init(&slice, &ram.ram.dev, 24, 8), OTA_OK);
	assert_int_equal(ota_event_log_open(&log, &slice.dev), OTA_OK);
	for (uint32_t i = 1; i <= 10; i++)
		append(&log, 1, i);
	for (size_t i = 0; i < 24 * BS; i++)
		assert_int_equal(ram.mem[i], 0);
	assert_int_equal(ota_event_log_for_each(&log, collect, &seen), OTA_OK);
	assert_int_equal(seen.count, 8);
	assert_int_equal(ota_blockdev_read(&slice.dev, 8, ram.mem, 1), OTA_E_INVALID);
	test_ram_free(&ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blank_area_is_an_empty_log),
	    cmocka_unit_test(test_records_survive_reopen_with_every_field),
	    cmocka_unit_test(test_ring_wraps),
	    cmocka_unit_test(test_torn_record_is_skipped),
	    cmocka_unit_test(test_misplaced_record_is_ignored),
	    cmocka_unit_test(test_geometry_and_slice),
	};

	return cmocka_run_group_tests_name("ota_event_log", tests, NULL, NULL);
}
