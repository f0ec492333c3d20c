/*
 * probe/verifier.c: links exactly what a device needs to authenticate a
 * bundle (ota/bundle.c, manifest.c, crypto, the trusted-key table, mbedTLS),
 * so `arm-none-eabi-size` of the result is the verifier's cost. Never run.
 */
#include "bundle.h"
#include "ota_config.h"
#include "trusted_keys.h"

void ota_probe_main(void);

/* Inputs the compiler cannot see through, so nothing is optimised away. */
static const uint8_t *volatile probe_input;
static volatile size_t probe_len;
static struct ota_verifier probe_verifier;
volatile int ota_probe_result;

void ota_probe_main(void)
{
	struct ota_verify_policy policy = {ota_trusted_keys, ota_trusted_key_count, CONFIG_BOARD,
					   OTA_SLOT_SIZE};
	size_t used;
	int rc;

	ota_verifier_init(&probe_verifier, &policy);
	rc = ota_verifier_feed_head(&probe_verifier, probe_input, probe_len, &used);
	if (rc == 0)
		rc = ota_verifier_feed_image(&probe_verifier, probe_input + used, probe_len - used);
	if (rc == 0)
		rc = ota_verifier_finish(&probe_verifier);
	ota_probe_result = rc;
	for (;;)
		;
}
