/*
 * fuzz_ota_store.c: libFuzzer target for the slot store's metadata, which
 * the control domain reads from an SD card that may be corrupt or written
 * by anyone who held the card.
 *
 * Input: the first 16 KiB of a store (both metadata copies), laid over an
 * empty store of 4 guests with 2 KiB slots. Odd first byte: the harness
 * recomputes each copy's CRC-32 (the record's own checksum, not a security
 * measure), so mutations reach the record decoder instead of stopping at the
 * checksum. Whatever the input holds, opening must
 * not crash; a store that opens must answer every query, and must take a
 * full install, activate and confirm or refuse it with an error code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ota.h"
#include "slot_store.h"

#define BS   512
#define SLOT 2048
#define META (2 * 8192)
#define HEAD 1024 /* each slot's head area */
#define SIZE (META + 4 * 2 * (HEAD + SLOT))

static uint8_t mem[SIZE];
static struct slot_store store;

/* CRC-32 (IEEE), as the store computes it: over the record without bytes 28..31. */
static uint32_t crc32_bytes(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void fix_crc(uint8_t *rec)
{
	uint32_t size = rec[24] | rec[25] << 8 | (uint32_t)rec[26] << 16 | (uint32_t)rec[27] << 24;
	uint32_t crc;

	if (size < 32 || size > 8192)
		return;
	crc = crc32_bytes(crc32_bytes(0, rec, 28), rec + 32, size - 32);
	for (int i = 0; i < 4; i++)
		rec[28 + i] = (uint8_t)(crc >> (8 * i));
}

static void exercise(struct slot_store *s)
{
	static const uint8_t image[100] = {1, 2, 3};
	struct ota_manifest m;
	uint8_t buf[64];

	for (unsigned g = 0; g < s->guest_capacity; g++) {
		const char *name = s->guests[g].name;

		if (name[0] == '\0')
			continue;
		(void)slot_store_boot_slot(s, name);
		for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
			(void)slot_store_check_slot(s, name, k);
			(void)slot_store_read_image(s, name, k, 1, buf, sizeof(buf));
			(void)slot_store_read_head(s, name, k, buf, sizeof(buf));
		}
		(void)slot_store_count_attempt(s, name);
	}
	memset(&m, 0, sizeof(m));
	strcpy(m.name, s->guests[0].name[0] ? s->guests[0].name : "fuzz");
	strcpy(m.boards, "orangepi-pc");
	m.security_counter = 0xffffffffu;
	m.memory_mib = 1;
	m.vcpus = 1;
	m.image_size = sizeof(image);
	ota_sha256(image, sizeof(image), m.image_sha256);
	if (slot_store_begin_install(s, &m) == OTA_OK) {
		if (slot_store_write(s, image, sizeof(image)) != OTA_OK ||
		    slot_store_finish(s) != OTA_OK)
			abort(); /* the install was accepted: on a healthy device it must complete
				  */
		if (slot_store_activate(s, m.name) == OTA_OK &&
		    slot_store_confirm(s, m.name) != OTA_OK)
			abort();
		(void)slot_store_confirm_ready(s, m.name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ota_ram_blockdev ram;

	memset(mem, 0, sizeof(mem));
	ota_ram_blockdev_init(&ram, mem, BS, SIZE / BS);
	if (slot_store_format(&store, &ram.dev, SLOT, 4) != OTA_OK)
		abort();
	if (size > 0) {
		memcpy(mem, data + 1, size - 1 < META ? size - 1 : META);
		if (data[0] & 1) {
			fix_crc(mem);
			fix_crc(mem + 8192);
		}
	}
	if (slot_store_open(&store, &ram.dev) != OTA_OK)
		return 0;
	exercise(&store);
	/* What was committed opens again. */
	if (slot_store_open(&store, &ram.dev) != OTA_OK)
		abort();
	return 0;
}
