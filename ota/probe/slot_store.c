/*
 * probe/slot_store.c: links the slot store alone (every operation a control
 * domain calls), so `arm-none-eabi-size` of the result is its cost. Never run.
 */
#include "slot_store.h"

void ota_probe_main(void);

static struct ota_blockdev *volatile probe_dev;
static const struct ota_manifest *volatile probe_manifest;
static const uint8_t *volatile probe_data;
static volatile size_t probe_len;
static struct slot_store probe_store;
volatile int ota_probe_result;

void ota_probe_main(void)
{
	const char *name = probe_manifest->name;
	int rc = slot_store_open(&probe_store, probe_dev);

	if (rc != 0)
		rc = slot_store_format(&probe_store, probe_dev, OTA_SLOT_SIZE, 0);
	if (rc == 0)
		rc = slot_store_begin_install(&probe_store, probe_manifest);
	if (rc == 0)
		rc = slot_store_write(&probe_store, probe_data, probe_len);
	rc = rc == 0 ? slot_store_finish(&probe_store) : slot_store_abort(&probe_store);
	if (rc == 0)
		rc = slot_store_activate(&probe_store, name);
	if (rc == 0)
		rc = probe_len ? slot_store_confirm(&probe_store, name)
			       : slot_store_revert(&probe_store, name);
	if (rc == 0)
		rc = slot_store_activate_slot(&probe_store, name, 1);
	if (rc == 0)
		rc = slot_store_boot_slot(&probe_store, name);
	if (rc >= 0)
		rc = slot_store_check_slot(&probe_store, name, (unsigned)rc);
	if (rc == 0)
		rc = slot_store_read_image(&probe_store, name, 0, 0, (void *)probe_data, probe_len);
	ota_probe_result = rc + (slot_store_guest(&probe_store, name) != 0);
	for (;;)
		;
}
