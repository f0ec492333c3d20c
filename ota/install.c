/* install.c: verifier + slot store, for a bundle that arrives in pieces. */
#include "install.h"

#include "ota.h"

#include <string.h>

void ota_install_begin(struct ota_install *in, struct slot_store *store,
		       const struct ota_verify_policy *policy)
{
	ota_verifier_init(&in->verifier, policy);
	in->store = store;
	in->started = 0;
	in->error = OTA_OK;
}

static int install_fail(struct ota_install *in, int error)
{
	if (in->started) {
		/* The error to report is the first one, not the abort's. */
		(void)slot_store_abort(in->store);
		in->started = 0;
	}
	in->error = error;
	return error;
}

int ota_install_feed(struct ota_install *in, const void *data, size_t len)
{
	const uint8_t *p = data;
	int rc;

	if (in->error != OTA_OK)
		return in->error;
	if (in->verifier.phase == OTA_VERIFIER_HEAD) {
		size_t used;

		rc = ota_verifier_feed_head(&in->verifier, p, len, &used);
		if (rc == OTA_AGAIN)
			return OTA_OK;
		if (rc != OTA_OK)
			return install_fail(in, rc);
		rc = slot_store_begin_install(in->store, ota_verifier_manifest(&in->verifier));
		if (rc != OTA_OK)
			return install_fail(in, rc);
		in->started = 1;
		p += used;
		len -= used;
	}
	if (len == 0)
		return OTA_OK;
	rc = ota_verifier_feed_image(&in->verifier, p, len);
	if (rc == OTA_OK)
		rc = slot_store_write(in->store, p, len);
	return rc == OTA_OK ? OTA_OK : install_fail(in, rc);
}

int ota_install_finish(struct ota_install *in)
{
	int rc;

	if (in->error != OTA_OK)
		return in->error;
	rc = ota_verifier_finish(&in->verifier);
	if (rc != OTA_OK)
		return install_fail(in, rc);
	/* The store re-reads the slot and checks the hash against the medium. */
	rc = slot_store_finish(in->store);
	in->started = 0;
	if (rc != OTA_OK)
		in->error = rc;
	return rc;
}

void ota_install_abort(struct ota_install *in)
{
	if (in->error == OTA_OK)
		(void)install_fail(in, OTA_E_TRUNCATED);
}

const struct ota_manifest *ota_install_manifest(const struct ota_install *in)
{
	return ota_verifier_manifest(&in->verifier);
}
