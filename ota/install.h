/*
 * install.h: a streaming update, from the first bundle byte to a READY slot.
 *
 * Ties the verifier to the slot store: bytes arrive in chunks of any size
 * (network segments); nothing touches the store until the manifest is
 * authentic and the store has accepted it (board, key, signature, counter,
 * size); image bytes are hashed and written as they arrive; finish checks
 * the length and the hash. Any failure abandons the slot (EMPTY) and leaves
 * every other slot, the confirmed image and any trial as they were.
 */
#ifndef OTA_INSTALL_H
#define OTA_INSTALL_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "slot_store.h"

struct ota_install {
	struct ota_verifier verifier;
	struct slot_store *store;
	int started; /* the store has an install open for us */
	int error;   /* sticky */
	/* Optional (ota_install_set_check): the caller's own conditions on the
	 * authenticated manifest, decided before the store is touched. */
	int (*check)(void *ctx, const struct ota_manifest *m);
	void *check_ctx;
};

void ota_install_begin(struct ota_install *in, struct slot_store *store,
		       const struct ota_verify_policy *policy);
/*
 * After begin: check(ctx, manifest) runs once the head is authentic and
 * before the store begins the install; an error it returns (an OTA_E_*
 * code) refuses the bundle with every slot as it was. The device API uses
 * it for what only the board knows: the guest's name and its plan.
 */
void ota_install_set_check(struct ota_install *in,
			   int (*check)(void *ctx, const struct ota_manifest *m), void *ctx);
/* OTA_OK or the first error (then sticky). */
int ota_install_feed(struct ota_install *in, const void *data, size_t len);
/* After the last byte: OTA_OK when the image is installed (READY). */
int ota_install_finish(struct ota_install *in);
/* Gives up (connection lost): the slot becomes EMPTY. */
void ota_install_abort(struct ota_install *in);
/* The authenticated manifest once the head was accepted, else NULL. */
const struct ota_manifest *ota_install_manifest(const struct ota_install *in);

/*
 * Before an image is booted from the store: reads the signed head kept with
 * the slot and checks it again under policy (key, signature, board, size),
 * then that it describes what the metadata says the slot holds (guest name,
 * version, security counter, image size and SHA-256) and that its counter is
 * not below the guest's highest confirmed one. On OTA_OK, v holds the
 * authenticated manifest and is ready for ota_verifier_feed_image() of the
 * image bytes (then ota_verifier_finish() checks their hash). Errors: those
 * of the verifier (a slot with no head: OTA_E_BAD_MAGIC), OTA_E_HASH_MISMATCH
 * when the signed manifest and the metadata disagree, OTA_E_ROLLBACK.
 */
int ota_install_check_slot(struct slot_store *store, const char *name, unsigned slot,
			   const struct ota_verify_policy *policy, struct ota_verifier *v);

#endif
