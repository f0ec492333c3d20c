/*
 * probe/install.c: the whole device-side update path (verifier + slot
 * store + crypto), as the control domain will link it. Never run.
 */
#include "install.h"
#include "ota_config.h"
#include "trusted_keys.h"

void ota_probe_main(void);

static struct ota_blockdev *volatile probe_dev;
static const uint8_t *volatile probe_data;
static volatile size_t probe_len;
static struct slot_store probe_store;
static struct ota_install probe_install;
volatile int ota_probe_result;

void ota_probe_main(void)
{
	struct ota_verify_policy policy = {ota_trusted_keys, ota_trusted_key_count, CONFIG_BOARD,
					   OTA_SLOT_SIZE};
	int rc = slot_store_open(&probe_store, probe_dev);

	if (rc == 0) {
		ota_install_begin(&probe_install, &probe_store, &policy);
		rc = ota_install_feed(&probe_install, probe_data, probe_len);
		rc = rc == 0 ? ota_install_finish(&probe_install) : rc;
	}
	if (rc == 0)
		rc = slot_store_activate(&probe_store, ota_install_manifest(&probe_install)->name);
	ota_probe_result = rc;
	for (;;)
		;
}
