/*
 * slot_store.h: A/B slots per guest on a block device, with a metadata
 * journal that survives a power cut at any write.
 *
 * Layout (M = 8 KiB of blocks per metadata copy, H = one head area):
 *
 *   [meta copy 0: M][meta copy 1: M][heads: guest 0 A, 0 B, 1 A ... : H each]
 *   [guest 0 slot A][guest 0 slot B][guest 1 slot A]...
 *
 * A slot's head area keeps the signed bundle head (header, manifest,
 * signature) the image was installed with, so whoever boots the image can
 * check the signature again from what the medium holds, not from what the
 * metadata says (a card can be altered while the board is off).
 *
 * The metadata record (guest table, slot states, highest accepted security
 * counter per guest) is written alternately to the two copies, each with a
 * sequence number and a CRC-32. A commit always overwrites the copy that is
 * NOT the current one, then flushes; so whatever a power cut tears, the
 * other copy is intact and open() finds the newest valid one. Image bytes
 * are written only into a slot whose committed state is INSTALLING, and are
 * flushed before the record that declares them READY.
 *
 * Slot states and the operations that move them:
 *
 *   EMPTY/BAD/READY --begin_install--> INSTALLING --finish--> READY
 *   INSTALLING --abort, hash mismatch, power cut--> EMPTY
 *   READY --activate--> TRIAL --confirm--> CONFIRMED (old CONFIRMED -> READY)
 *                       TRIAL --revert---> BAD
 *                       TRIAL --withdraw-> READY (an interrupted rollback)
 *
 * A CONFIRMED slot is never written. One update at a time per store. All
 * memory is inside struct slot_store (no allocation); its size does not
 * depend on image sizes.
 */
#ifndef OTA_SLOT_STORE_H
#define OTA_SLOT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "blockdev.h"
#include "manifest.h"
#include "ota_config.h"

#define SLOT_STORE_SLOTS   2 /* A and B */
#define SLOT_STORE_NO_SLOT 0xff
/* Largest slot (and image) the on-disk format describes. */
#define SLOT_STORE_SLOT_SIZE_MAX (1ul << 30)
/* Bytes of a slot's head area: the largest bundle head it keeps. The area
 * is this or one block, whichever is larger. */
#define SLOT_STORE_HEAD_MAX 1024u

enum slot_state {
	SLOT_EMPTY = 0,
	SLOT_INSTALLING = 1, /* being written; never booted; EMPTY after a reopen */
	SLOT_READY = 2,      /* complete, hash checked, not running */
	SLOT_TRIAL = 3,      /* activated, on probation until confirm or revert */
	SLOT_CONFIRMED = 4,  /* the known-good image */
	SLOT_BAD = 5,        /* reverted: failed its trial */
};

/* What the store remembers of the manifest an image came with. */
struct slot_info {
	uint8_t state; /* enum slot_state */
	uint8_t vcpus;
	uint32_t version[3];
	uint32_t security_counter;
	uint32_t image_size;
	uint32_t memory_mib;
	uint8_t image_sha256[OTA_SHA256_SIZE];
};

struct slot_guest {
	char name[OTA_NAME_MAX + 1]; /* "" = free entry */
	uint32_t highest_counter;    /* highest security counter confirmed */
	uint8_t newest;              /* slot of the last finished install, or SLOT_STORE_NO_SLOT */
	uint8_t trial_attempts; /* builds of the current TRIAL counted so far (0 without one) */
	struct slot_info slot[SLOT_STORE_SLOTS];
};

/* One metadata record, rounded up to whole blocks of the largest block size. */
#define SLOT_STORE_RECORD_HEADER 32
#define SLOT_STORE_GUEST_ENTRY   160
#define SLOT_STORE_RECORD_SIZE(guests)                                                             \
	(SLOT_STORE_RECORD_HEADER + SLOT_STORE_GUEST_ENTRY * (guests))
#define SLOT_STORE_META_BUFFER                                                                     \
	(((SLOT_STORE_RECORD_SIZE(OTA_MAX_GUESTS) + OTA_BLOCK_SIZE_MAX - 1) /                      \
	  OTA_BLOCK_SIZE_MAX) *                                                                    \
	 OTA_BLOCK_SIZE_MAX)

struct slot_store {
	struct ota_blockdev *dev;
	uint32_t block_size;
	uint32_t meta_blocks; /* M: blocks per metadata copy */
	uint32_t slot_blocks;
	uint32_t guest_capacity;
	uint64_t seq;         /* of the current record */
	uint8_t current_copy; /* 0 or 1: where the current record is */
	uint8_t is_open;
	uint8_t failed; /* an I/O error left memory and disk apart: reopen */
	struct slot_guest guests[OTA_MAX_GUESTS];

	/* The install in progress, if any. */
	int8_t install_guest; /* -1: none */
	uint8_t install_slot;
	uint32_t install_written;  /* image bytes accepted */
	uint32_t install_buffered; /* bytes in io[] not yet written */

	uint8_t meta[SLOT_STORE_META_BUFFER];
	uint8_t io[OTA_IO_BUFFER_SIZE];
	uint8_t bounce[OTA_BLOCK_SIZE_MAX]; /* reads outside an install */
};

/*
 * Writes an empty store. slot_size: bytes per slot, a multiple of the block
 * size (the largest image it takes). guest_capacity: 0 = as many as fit, at
 * most OTA_MAX_GUESTS. Leaves the store open. OTA_E_GEOMETRY if it does not fit.
 */
int slot_store_format(struct slot_store *s, struct ota_blockdev *dev, uint32_t slot_size,
		      uint32_t guest_capacity);

/* Opens the newest valid record. OTA_E_NO_STORE when there is none (format),
 * OTA_E_GEOMETRY when it was made for another device or build. */
int slot_store_open(struct slot_store *s, struct ota_blockdev *dev);

/*
 * Starts installing an image described by an authenticated manifest. Refuses
 * (changing nothing) a security counter below the guest's highest confirmed
 * one (OTA_E_ROLLBACK), an image larger than a slot (OTA_E_OVERSIZE), a new
 * guest when the table is full (OTA_E_STORE_FULL). The target is the slot
 * that is not CONFIRMED; with a trial in the other slot that trial is given up.
 */
int slot_store_begin_install(struct slot_store *s, const struct ota_manifest *m);
/* The same, keeping head[0..head_len) (the bundle's header, manifest and
 * signature, at most SLOT_STORE_HEAD_MAX bytes) in the slot's head area for
 * slot_store_read_head(). begin_install() leaves that area zeroed. */
int slot_store_begin_install_signed(struct slot_store *s, const struct ota_manifest *m,
				    const uint8_t *head, size_t head_len);
/* Appends image bytes. OTA_E_OVERSIZE past the manifest's image size. */
int slot_store_write(struct slot_store *s, const void *data, size_t len);
/* Writes the rest, flushes, re-reads the slot and checks its SHA-256
 * (OTA_E_TRUNCATED, OTA_E_HASH_MISMATCH: the slot becomes EMPTY). READY on success. */
int slot_store_finish(struct slot_store *s);
/* Gives up the install in progress: the slot becomes EMPTY. */
int slot_store_abort(struct slot_store *s);

/* Newest READY image -> TRIAL. OTA_E_STATE if there is none or another trial runs. */
int slot_store_activate(struct slot_store *s, const char *name);
/* A given READY slot -> TRIAL (rollback to a previous image). */
int slot_store_activate_slot(struct slot_store *s, const char *name, unsigned slot);
/*
 * Newest READY image -> CONFIRMED in one commit, with no trial: for an image
 * trusted by its signature alone (the factory image a blank store is seeded
 * with), so that a power cut leaves it either READY or CONFIRMED, never an
 * unconfirmed trial that the next boot would revert. The previous CONFIRMED
 * becomes READY; raises the counter. OTA_E_STATE with no READY image or
 * while a trial runs, OTA_E_ROLLBACK below the guest's counter.
 */
int slot_store_confirm_ready(struct slot_store *s, const char *name);
/* TRIAL -> CONFIRMED; the previous CONFIRMED becomes READY; raises the counter. */
int slot_store_confirm(struct slot_store *s, const char *name);
/* TRIAL -> BAD; the CONFIRMED image (if any) is what boots again. */
int slot_store_revert(struct slot_store *s, const char *name);
/* TRIAL -> READY: a trial given up without judging it (a rollback to a
 * previously confirmed image that a power cut interrupted: that image was
 * good once and stays a rollback target). The CONFIRMED image boots again. */
int slot_store_withdraw_trial(struct slot_store *s, const char *name);
/*
 * Counts one more attempt to run the guest's TRIAL image, durably (a
 * commit), so a trial that hangs or resets the board is still counted.
 * Returns the attempt number (1, 2, ...) or OTA_E_STATE without a trial.
 * The caller decides when attempts have run out (and reverts); activate,
 * confirm and revert reset the count.
 */
int slot_store_count_attempt(struct slot_store *s, const char *name);

/* NULL when the guest is unknown. */
const struct slot_guest *slot_store_guest(const struct slot_store *s, const char *name);
/* Slot to boot: the TRIAL one, else the CONFIRMED one; OTA_E_NO_GUEST / OTA_E_STATE. */
int slot_store_boot_slot(const struct slot_store *s, const char *name);
/* Re-hashes a READY/TRIAL/CONFIRMED slot: OTA_OK or OTA_E_HASH_MISMATCH. */
int slot_store_check_slot(struct slot_store *s, const char *name, unsigned slot);
/* Reads the first len bytes (≤ SLOT_STORE_HEAD_MAX) of a READY/TRIAL/CONFIRMED
 * slot's head area: the signed bundle head it was installed with, or zeros. */
int slot_store_read_head(struct slot_store *s, const char *name, unsigned slot, void *buf,
			 size_t len);
/* Reads image bytes [offset, offset + len) of a slot. */
int slot_store_read_image(struct slot_store *s, const char *name, unsigned slot, uint32_t offset,
			  void *buf, size_t len);

const char *slot_state_name(unsigned state);

#endif
