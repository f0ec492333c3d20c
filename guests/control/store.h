/*
 * store.h: the guests boot from the A/B slot store on the SD card.
 *
 * At boot the control domain opens the store partition (formatting a blank
 * one), its event log after it, and decides for each plan guest where its
 * image comes from: the slot the store's rules pick (slot_store_boot_slot),
 * re-verified on every build from what the card holds (signed head kept with
 * the slot, SHA-256 of the bytes read straight into the new domain's pages);
 * the boot bundle seeds a guest the card has no image of. A TRIAL image gets
 * CONFIG_OTA_TRIAL_ATTEMPTS builds, each counted on the card before the build;
 * then, or at the next boot if it was never confirmed, it is reverted. When
 * the card cannot be read at all the boot bundle's images run, and the
 * console and status say so. Layout on the card: docs/storage.md.
 */
#ifndef FLOTILLA_CONTROL_STORE_H
#define FLOTILLA_CONTROL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockdev.h"
#include "boot_bundle.h"
#include "builder.h"
#include "supervisor.h"

/* Opens (formats when blank) the store on dev, the card's store partition
 * (card.h), and the event log at its end, and counts the boot. dev NULL: no
 * card; the boot bundle runs. Boot argument store_check=1: check every
 * slot's signature and hash and print the result. 0 when the store is usable. */
int store_open(struct ota_blockdev *dev, const char *bootargs);

/* Keeps the boot bundle's test updates (BOOT_ENTRY_TEST_UPDATE) for
 * store_install_test_updates() and moves them out of entries[]; returns the
 * number of plan guests left. */
int store_take_test_updates(struct boot_entry *entries, int count);

/* Flags the entries whose guest the card can boot (BOOT_ENTRY_ON_CARD): the
 * supervisor need not verify their boot bundle copy (the card's is verified
 * at each build; the boot bundle's only when it seeds). */
void store_mark_entries_on_card(struct boot_entry *entries, int count);

/* After supervisor_load(): every plan guest the store can serve is marked
 * from_store; guests without an image on the card are seeded from entries[]
 * (boot argument test_install=NAME then installs NAME's test update as a
 * TRIAL before anything is built). */
void store_attach_guests(const struct boot_entry *entries, int count, const char *bootargs);

/* The supervisor's build of a from_store guest: picks the slot (counting a
 * trial attempt or reverting), verifies and builds; falls back to the other
 * slot or the factory image when the card's image is refused. */
int store_build(struct guest *g, struct dom_spec *spec, struct dom_handle *dom, const char **why);

/* The guest runs a TRIAL image: its crashes are bounded by trial attempts. */
bool store_on_trial(const struct guest *g);

/* Confirms the TRIAL image g runs (the health gate's call). 0 or an OTA_E_* code. */
int store_confirm(const char *name);

/* The guest's TRIAL failed its health gate (or was given up): TRIAL -> BAD,
 * logged with reason (OTA_REASON_*); the confirmed image is the one running.
 * 0 or an OTA_E_* code. */
int store_revert_trial(const char *name, unsigned reason);

/* Rollback: the previous confirmed image (the READY slot) becomes the TRIAL.
 * Its version into version. OTA_E_STATE when there is none. */
int store_activate_previous(const char *name, char *version, size_t size);

/* Console keys: 'c' confirms every running trial, 'u' installs the test
 * updates as TRIALs and rebuilds their guests, 'e' prints the event log. */
void store_confirm_all(void);
void store_install_test_updates(const char *only);
void store_print_events(void);

/* Pushes over the device API (push.c). */
struct slot_store;
struct ota_verify_policy;
struct ota_manifest;
/* The store and the board's verification policy (keys, board, slot size);
 * NULL when the card's store is not usable. */
struct slot_store *store_for_push(struct ota_verify_policy *policy);
/* Bytes per slot (the largest image), 0 without a usable store. */
uint32_t store_slot_bytes(void);
/* The guest whose image is being written to the card now, or NULL. */
const char *store_installing(void);
/* A pushed image, now READY, becomes the guest's TRIAL; console and event
 * log say so. 0 or an OTA_E_* code. */
int store_activate_pushed(const char *name, const struct ota_manifest *m);
/* Records a refused push in the event log (m NULL before a manifest was read). */
void store_log_push_refused(const char *name, int status, const struct ota_manifest *m);

/* Part of the status ('s'): the store's state and each guest's slots. */
void store_print_status(void);

/* For the health model and the device API (health_board.c, api_health.c). */
struct store_health_info {
	bool usable;
	const char *problem; /* why not usable */
	uint32_t boot;       /* the board's boot counter (event log) */
	unsigned guests_used, guests_capacity, slot_kib;
	unsigned refused; /* images on the card refused this boot */
	char last_refused[64];
	uint32_t events_written, events_capacity;
};
void store_health_info(struct store_health_info *out);
/* Re-verifies every image on the card (heads, signatures, hashes), quietly:
 * the number of bad ones (the first described in first_bad), -1 when the
 * store is unusable. Reads every image: seconds on a large card. */
/* One image of the full check (index over guest entries x slots, for the
 * health monitor's pass a slot at a time): 0 fine or empty, 1 bad (a one-line
 * reason in bad), -1 past the last. */
int store_check_image_at(unsigned index, char *bad, size_t size);
int store_check_images(char *first_bad, size_t size);
/* Where name runs from ('A', 'B', '-') and its trial attempts counted;
 * true when that is an unconfirmed TRIAL. */
bool store_guest_slot(const char *name, char *slot, unsigned *trial_attempts);
struct ota_event;
/* The newest events of the card's log, oldest first, at most max; -1 when
 * there is no log. */
int store_recent_events(struct ota_event *out, unsigned max);
/* The card's two slots of name (A, B): state, version, counter. 0 or -1. */
struct store_slot_view {
	char letter;
	bool empty;
	char state[16];
	char version[16];
	uint32_t counter;
};
int store_guest_slots(const char *name, struct store_slot_view out[2]);

#endif
