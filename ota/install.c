/* install.c: verifier + slot store, for a bundle that arrives in pieces. */
#include "install.h"

#include "ota.h"

#include <string.h>

_Static_assert(OTA_BUNDLE_HEAD_MAX <= SLOT_STORE_HEAD_MAX, "a bundle head must fit a head area");

void ota_install_begin(struct ota_install *in, struct slot_store *store,
		       const struct ota_verify_policy *policy)
{
	ota_verifier_init(&in->verifier, policy);
	in->store = store;
	in->started = 0;
	in->error = OTA_OK;
	in->check = NULL;
	in->check_ctx = NULL;
}

void ota_install_set_check(struct ota_install *in,
			   int (*check)(void *ctx, const struct ota_manifest *m), void *ctx)
{
	in->check = check;
	in->check_ctx = ctx;
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
		if (in->check) {
			rc = in->check(in->check_ctx, ota_verifier_manifest(&in->verifier));
			if (rc != OTA_OK)
				return install_fail(in, rc);
		}
		/* The signed head goes with the image: a boot re-checks it from the medium. */
		rc =
		    slot_store_begin_install_signed(in->store, ota_verifier_manifest(&in->verifier),
						    in->verifier.head, in->verifier.head_len);
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

int ota_install_check_slot(struct slot_store *store, const char *name, unsigned slot,
			   const struct ota_verify_policy *policy, struct ota_verifier *v)
{
	static uint8_t head[OTA_BUNDLE_HEAD_MAX];
	const struct slot_guest *guest = slot_store_guest(store, name);
	const struct slot_info *info;
	const struct ota_manifest *m;
	size_t used = 0;
	int rc;

	if (!guest)
		return OTA_E_NO_GUEST;
	if (slot >= SLOT_STORE_SLOTS)
		return OTA_E_INVALID;
	info = &guest->slot[slot];
	rc = slot_store_read_head(store, name, slot, head, sizeof(head));
	if (rc != OTA_OK)
		return rc;
	ota_verifier_init(v, policy);
	rc = ota_verifier_feed_head(v, head, sizeof(head), &used);
	if (rc == OTA_AGAIN)
		return OTA_E_TRUNCATED;
	if (rc != OTA_OK)
		return rc;
	m = ota_verifier_manifest(v);
	/* The metadata is not signed: the signed manifest must say the same. */
	if (strcmp(m->name, name) != 0 || m->image_size != info->image_size ||
	    m->security_counter != info->security_counter ||
	    memcmp(m->version, info->version, sizeof(m->version)) != 0 ||
	    ota_digest_compare(m->image_sha256, info->image_sha256, OTA_SHA256_SIZE) != 0)
		return OTA_E_HASH_MISMATCH;
	if (m->security_counter < guest->highest_counter)
		return OTA_E_ROLLBACK;
	return OTA_OK;
}
