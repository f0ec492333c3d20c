/*
 * Boot from the slot store on the SD card (store.h). The rules of the store
 * itself (states, journal, counters) are ota/'s; this file decides, per
 * build, which slot runs, checks it again and says why on the console and
 * in the event log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"
#include "store.h"

#include "bundle.h"
#include "event_log.h"
#include "install.h"
#include "ota.h"
#include "slot_store.h"
#include "trust.h"

#include <generated/autoconf.h>

#ifndef CONFIG_OTA_TRIAL_ATTEMPTS
#define CONFIG_OTA_TRIAL_ATTEMPTS 3
#endif
#ifndef CONFIG_OTA_EVENT_LOG_KB
#define CONFIG_OTA_EVENT_LOG_KB 128
#endif

#define NO_SLOT 0xff

/* What store.c remembers of a plan guest during this boot. */
struct store_guest {
	char name[OTA_NAME_MAX + 1];
	const struct boot_entry *factory; /* its boot bundle entry, or NULL */
	bool factory_refused;             /* by the card's counter: never seeded again */
	bool seeded;                      /* seeded from the boot bundle this boot */
	bool seed_confirmed;              /* ... and that seed is still the confirmed image */
	unsigned builds;                  /* builds this boot */
	uint8_t running_slot;             /* slot of the last build, NO_SLOT: none / RAM */
	bool on_trial;
};

static struct slot_store store;
static struct ota_event_log event_log;
static struct ota_blockdev_slice store_area, log_area;
static bool store_ok, log_ok;
static const char *store_problem; /* why the store is unusable (store_ok false) */
static int store_problem_code = OTA_E_IO;
static uint32_t boot_number;
static struct store_guest sguests[BOOT_BUNDLE_ENTRIES_MAX];
static int sguest_count;
static struct boot_entry test_updates[BOOT_BUNDLE_ENTRIES_MAX];
static int test_update_count;

static struct ota_verify_policy board_policy(void)
{
	/* The same keys as every other path (built in + provisioned). */
	struct ota_verify_policy policy = {
	    .board = CONFIG_BOARD,
	    .max_image_size = store.slot_blocks * store.block_size,
	};
	policy.keys = trust_keys(&policy.key_count);
	return policy;
}

static char slot_letter(unsigned slot)
{
	return slot < SLOT_STORE_SLOTS ? (char)('A' + slot) : '-';
}

/* ---------------------------------------------------------------- event log */

static unsigned next_reason; /* for the next OTA_EVENT_REVERT */

static void log_event(unsigned type, const char *guest, unsigned slot, int status, uint32_t detail,
		      const uint32_t version[3])
{
	struct ota_event e;
	if (!log_ok)
		return;
	memset(&e, 0, sizeof(e));
	e.boot = boot_number;
	e.uptime_ms = (uint32_t)(flotilla_clock_monotonic() / 1000000u);
	e.type = (uint8_t)type;
	e.slot = (uint8_t)slot;
	e.status = (int16_t)status;
	e.detail = detail;
	e.reason = (uint8_t)(type == OTA_EVENT_REVERT ? next_reason : OTA_REASON_NONE);
	if (version)
		memcpy(e.version, version, sizeof(e.version));
	if (guest)
		snprintf(e.guest, sizeof(e.guest), "%s", guest);
	if (ota_event_log_append(&event_log, &e) != OTA_OK)
		printf("control: store: event log write failed (%s)\n", ota_event_type_name(type));
}

static void print_event(const struct ota_event *e, void *arg)
{
	(void)arg;
	char what[48] = "";
	if (e->slot < SLOT_STORE_SLOTS)
		snprintf(what, sizeof(what), " slot %c v%" PRIu32 ".%" PRIu32 ".%" PRIu32,
			 slot_letter(e->slot), e->version[0], e->version[1], e->version[2]);
	printf("control: event #%" PRIu32 " boot %" PRIu32 " +%" PRIu32 ".%03" PRIu32 " s %s%s%s%s",
	       e->seq, e->boot, e->uptime_ms / 1000, e->uptime_ms % 1000,
	       ota_event_type_name(e->type), e->guest[0] ? " " : "", e->guest, what);
	if (e->type == OTA_EVENT_ATTEMPT)
		printf(" attempt %" PRIu32 " of %u", e->detail, CONFIG_OTA_TRIAL_ATTEMPTS);
	if (e->type == OTA_EVENT_REFUSE)
		printf(" from %s", e->detail == OTA_EVENT_FROM_BOOT_BUNDLE ? "boot bundle"
				   : e->detail == OTA_EVENT_FROM_NETWORK   ? "the network"
									   : "card");
	if (e->type == OTA_EVENT_REVERT)
		printf(": %s (after %" PRIu32 " attempt(s))", ota_event_reason_text(e->reason),
		       e->detail);
	if (e->status != OTA_OK)
		printf(": %s (%s)", ota_status_name(e->status), ota_strerror(e->status));
	printf("\n");
}

void store_print_events(void)
{
	if (!log_ok) {
		printf("control: event log: not available (%s)\n",
		       store_problem ? store_problem : "no card");
		return;
	}
	printf("control: event log: %" PRIu32 " record(s) kept of %" PRIu32 " written, %" PRIu32
	       " slots\n",
	       event_log.next_seq - 1 < event_log.capacity ? event_log.next_seq - 1
							   : event_log.capacity,
	       event_log.next_seq - 1, event_log.capacity);
	if (ota_event_log_for_each(&event_log, print_event, NULL) != OTA_OK)
		printf("control: event log: read error\n");
	printf("control: event log: end\n");
}

/* ---------------------------------------------------------------- opening */

/*
 * Test hook (boot argument store_trace=1, tests/integration/
 * test_store_powercut.py): every write to the card is announced on the
 * console and followed by a 20 ms pause, so that a test can cut the power
 * between any two writes, or in the middle of one.
 */
static struct ota_blockdev *traced;
static unsigned trace_writes;

static int trace_read(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count)
{
	(void)dev;
	return traced->ops->read(traced, block, buf, count);
}

static int trace_write(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count)
{
	(void)dev;
	printf("control: store-trace: write %u: %u block(s) at %u\n", ++trace_writes,
	       (unsigned)count, (unsigned)block);
	fflush(stdout);
	int rc = traced->ops->write(traced, block, buf, count);
	uint64_t until = flotilla_clock_monotonic() + 20000000u;
	while (flotilla_clock_monotonic() < until)
		flotilla_yield(until);
	return rc;
}

static int trace_flush(struct ota_blockdev *dev)
{
	(void)dev;
	return traced->ops->flush(traced);
}

static uint32_t trace_block_size(struct ota_blockdev *dev)
{
	(void)dev;
	return traced->ops->block_size(traced);
}

static uint32_t trace_block_count(struct ota_blockdev *dev)
{
	(void)dev;
	return traced->ops->block_count(traced);
}

static const struct ota_blockdev_ops trace_ops = {
    .read = trace_read,
    .write = trace_write,
    .flush = trace_flush,
    .block_size = trace_block_size,
    .block_count = trace_block_count,
};

static struct ota_blockdev *trace_device(struct ota_blockdev *dev)
{
	static struct ota_blockdev tracer = {.ops = &trace_ops};
	traced = dev;
	printf("control: store: TEST HOOK store_trace: writes are announced and slowed down\n");
	return &tracer;
}

/* Re-reads every image on the card: heads, signatures, hashes. */
static int check_consistency(void)
{
	struct ota_verify_policy policy = board_policy();
	static struct ota_verifier verifier;
	int problems = 0, images = 0, guests = 0;
	for (unsigned g = 0; g < store.guest_capacity; g++) {
		const struct slot_guest *guest = &store.guests[g];
		if (!guest->name[0])
			continue;
		guests++;
		for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
			unsigned state = guest->slot[k].state;
			if (state != SLOT_READY && state != SLOT_TRIAL && state != SLOT_CONFIRMED)
				continue;
			images++;
			int rc = ota_install_check_slot(&store, guest->name, k, &policy, &verifier);
			/* An older READY image below the counter is kept, never booted. */
			if (rc == OTA_E_ROLLBACK && state == SLOT_READY)
				rc = OTA_OK;
			if (rc == OTA_OK)
				rc = slot_store_check_slot(&store, guest->name, k);
			if (rc != OTA_OK) {
				problems++;
				printf("control: store: check: %s slot %c (%s): %s\n", guest->name,
				       slot_letter(k), slot_state_name(state), ota_strerror(rc));
			}
		}
	}
	if (problems)
		printf("control: store: consistency check FAILED: %d of %d image(s) bad\n",
		       problems, images);
	else
		printf("control: store: consistency check passed: record %" PRIu64
		       ", %d guest(s), %d image(s) verified\n",
		       store.seq, guests, images);
	return problems;
}

/* "key=" given with a value other than 0. */
static bool bootarg_on(const char *bootargs, const char *key)
{
	const char *p = strstr(bootargs, key);
	return p && p[strlen(key)] != '0' && p[strlen(key)] != '\0';
}

int store_open(struct ota_blockdev *dev, const char *bootargs)
{
	uint64_t started = flotilla_clock_monotonic();
	if (dev &&
	    (bootarg_on(bootargs, "mmc_selftest=") || bootarg_on(bootargs, "mmc_throughput="))) {
		/* The card's tests own the partition (its patterns are checked afterwards). */
		dev = NULL;
		store_problem = "the MMC self-test or bench used the store partition";
		goto unusable;
	}
	if (!dev) {
		store_problem = "the card or its store partition cannot be opened (see above)";
		goto unusable;
	}
	if (bootarg_on(bootargs, "store_trace="))
		dev = trace_device(dev);
	uint32_t bs = dev->ops->block_size(dev), total = dev->ops->block_count(dev);
	uint32_t log_blocks = (uint32_t)((CONFIG_OTA_EVENT_LOG_KB * 1024u) / bs);
	if (bs == 0 || total <= log_blocks * 2) {
		store_problem = "the store partition is too small";
		goto unusable;
	}
	/* [slot store ...][event log: the last CONFIG_OTA_EVENT_LOG_KB] */
	ota_blockdev_slice_init(&store_area, dev, 0, total - log_blocks);
	ota_blockdev_slice_init(&log_area, dev, total - log_blocks, log_blocks);
	log_ok = ota_event_log_open(&event_log, &log_area.dev) == OTA_OK;
	boot_number = log_ok ? event_log.last_boot + 1 : 0;
	if (!log_ok)
		printf("control: store: event log unreadable: events are not recorded\n");
	log_event(OTA_EVENT_BOOT, NULL, NO_SLOT, OTA_OK, 0, NULL);

	int rc = slot_store_open(&store, &store_area.dev);
	if (rc == OTA_E_NO_STORE) {
		/* No valid metadata copy: a blank partition (first boot of a
		 * card), or one so damaged that nothing on it can be trusted. */
		/* Room for OTA_MAX_GUESTS guests: smaller slots on a smaller partition. */
		uint32_t slot_size = CONFIG_OTA_SLOT_SIZE_KB * 1024u;
		do {
			rc = slot_store_format(&store, &store_area.dev, slot_size, OTA_MAX_GUESTS);
			slot_size /= 2;
		} while (rc == OTA_E_GEOMETRY && slot_size >= 64 * 1024u);
		if (rc == OTA_OK) {
			printf(
			    "control: store: no slot store on the card: formatted (%u guests x 2 "
			    "slots of %u KiB)\n",
			    (unsigned)store.guest_capacity,
			    (unsigned)(store.slot_blocks * store.block_size / 1024));
			log_event(OTA_EVENT_FORMAT, NULL, NO_SLOT, OTA_E_NO_STORE, 0, NULL);
		}
	}
	if (rc != OTA_OK) {
		store_problem = ota_strerror(rc);
		store_problem_code = rc;
		goto unusable;
	}
	store_ok = true;
	uint64_t opened = flotilla_clock_monotonic();
	printf("control: store: open, boot %" PRIu32 ", record %" PRIu64
	       ", %u guest entries, slots of %u KiB; event log %" PRIu32 " records (%.3f ms)\n",
	       boot_number, store.seq, (unsigned)store.guest_capacity,
	       (unsigned)(store.slot_blocks * store.block_size / 1024), event_log.capacity,
	       (double)(opened - started) / 1e6);
	if (bootarg_on(bootargs, "store_check="))
		check_consistency();
	return 0;

unusable:
	store_ok = false;
	printf("control: store: ERROR: the slot store on the card cannot be used: %s\n",
	       store_problem);
	printf("control: store: ERROR: guests run from the BOOT BUNDLE; updates are not kept\n");
	log_event(OTA_EVENT_FALLBACK, NULL, NO_SLOT, store_problem_code, 0, NULL);
	return -1;
}

/* ---------------------------------------------------------------- guests */

static struct store_guest *find_sguest(const char *name)
{
	for (int i = 0; i < sguest_count; i++)
		if (strcmp(sguests[i].name, name) == 0)
			return &sguests[i];
	return NULL;
}

void store_mark_entries_on_card(struct boot_entry *entries, int count)
{
	for (int i = 0; store_ok && i < count; i++) {
		if (slot_store_boot_slot(&store, entries[i].name) >= 0)
			entries[i].flags |= BOOT_ENTRY_ON_CARD;
	}
}

int store_take_test_updates(struct boot_entry *entries, int count)
{
	int kept = 0;
	for (int i = 0; i < count; i++) {
		if (entries[i].flags & BOOT_ENTRY_TEST_UPDATE) {
			if (test_update_count < BOOT_BUNDLE_ENTRIES_MAX)
				test_updates[test_update_count++] = entries[i];
			continue;
		}
		entries[kept++] = entries[i];
	}
	if (test_update_count)
		printf("control: store: %d test update(s) in the boot bundle (tests only)\n",
		       test_update_count);
	return kept;
}

/* Streams a signed bundle from RAM into the store; READY on OTA_OK. */
static int install_bundle(const struct boot_entry *e, const struct ota_manifest **manifest)
{
	static struct ota_install install;
	struct ota_verify_policy policy = board_policy();
	ota_install_begin(&install, &store, &policy);
	/* In pieces, as a network transfer would arrive: the store writes as it goes. */
	int rc = OTA_OK;
	for (size_t done = 0; rc == OTA_OK && done < e->bundle_size; done += 16384) {
		size_t len = e->bundle_size - done < 16384 ? e->bundle_size - done : 16384;
		rc = ota_install_feed(&install, e->bundle + done, len);
	}
	if (rc == OTA_OK)
		rc = ota_install_finish(&install);
	*manifest = ota_install_manifest(&install);
	return rc;
}

/* Refusals of the card's images this boot, for the health model (store_health_info). */
static unsigned refused_count;
static char last_refused[64];

static void refuse_event(const char *name, int rc, unsigned source, unsigned slot,
			 const uint32_t version[3])
{
	if (source == OTA_EVENT_FROM_STORE) {
		refused_count++;
		snprintf(last_refused, sizeof(last_refused), "%s slot %c: %s", name,
			 slot_letter(slot), ota_status_name(rc));
	}
	log_event(OTA_EVENT_REFUSE, name, slot, rc, source, version);
}

/* The factory image (boot bundle) becomes the guest's confirmed image. */
static int seed(struct store_guest *sg)
{
	const struct ota_manifest *m = NULL;
	if (!sg->factory || sg->factory_refused)
		return OTA_E_NO_GUEST;
	printf("control: %s: seeding the card from the boot bundle (%u bytes)\n", sg->name,
	       (unsigned)sg->factory->bundle_size);
	int rc = install_bundle(sg->factory, &m);
	/* Trusted by its signature: the factory image needs no trial, and one
	 * commit makes it confirmed (a cut leaves it READY, and it is seeded again). */
	if (rc == OTA_OK)
		rc = slot_store_confirm_ready(&store, sg->name);
	int slot = slot_store_boot_slot(&store, sg->name);
	if (rc != OTA_OK) {
		if (rc == OTA_E_ROLLBACK)
			sg->factory_refused = true;
		printf("control: %s: boot bundle image refused: %s\n", sg->name, ota_strerror(rc));
		refuse_event(sg->name, rc, OTA_EVENT_FROM_BOOT_BUNDLE, NO_SLOT,
			     m ? m->version : NULL);
		return rc;
	}
	printf("control: %s: seeded slot %c v%u.%u.%u from the boot bundle (confirmed)\n", sg->name,
	       slot_letter((unsigned)slot), (unsigned)m->version[0], (unsigned)m->version[1],
	       (unsigned)m->version[2]);
	log_event(OTA_EVENT_SEED, sg->name, (unsigned)slot, OTA_OK, 0, m->version);
	sg->seeded = true;
	sg->seed_confirmed = true;
	return OTA_OK;
}

/* The manifest of a bundle in RAM, decoded without checking anything (the
 * install checks everything): only to tell whether the card has it already. */
static bool peek_manifest(const struct boot_entry *e, struct ota_manifest *m)
{
	struct ota_bundle_header h;
	return e->bundle_size >= OTA_BUNDLE_HEADER_SIZE &&
	       ota_bundle_header_decode(e->bundle, &h) == OTA_OK &&
	       (size_t)h.header_size + h.manifest_size <= e->bundle_size &&
	       ota_manifest_decode(e->bundle + h.header_size, h.manifest_size, m) == OTA_OK;
}

/* Installs a test update as TRIAL unless the card already has that image. */
static int install_test_update(const struct boot_entry *e)
{
	static struct ota_manifest peek;
	const struct slot_guest *guest = slot_store_guest(&store, e->name);
	for (unsigned k = 0; guest && peek_manifest(e, &peek) && k < SLOT_STORE_SLOTS; k++) {
		const struct slot_info *info = &guest->slot[k];
		if (info->state == SLOT_EMPTY ||
		    memcmp(info->version, peek.version, sizeof(peek.version)) != 0 ||
		    memcmp(info->image_sha256, peek.image_sha256, OTA_SHA256_SIZE) != 0)
			continue;
		printf("control: %s: test update v%u.%u.%u already on the card (slot %c, %s): "
		       "not installed again\n",
		       e->name, (unsigned)peek.version[0], (unsigned)peek.version[1],
		       (unsigned)peek.version[2], slot_letter(k), slot_state_name(info->state));
		return OTA_E_STATE;
	}
	const struct ota_manifest *m = NULL;
	printf("control: %s: installing test update from the boot bundle (%u bytes)\n", e->name,
	       (unsigned)e->bundle_size);
	int rc = install_bundle(e, &m);
	if (rc == OTA_OK)
		rc = slot_store_activate(&store, e->name);
	if (rc != OTA_OK) {
		printf("control: %s: test update refused: %s\n", e->name, ota_strerror(rc));
		refuse_event(e->name, rc, OTA_EVENT_FROM_BOOT_BUNDLE, NO_SLOT,
			     m ? m->version : NULL);
		return rc;
	}
	int slot = slot_store_boot_slot(&store, e->name);
	printf("control: %s: installed v%u.%u.%u in slot %c as TRIAL\n", e->name,
	       (unsigned)m->version[0], (unsigned)m->version[1], (unsigned)m->version[2],
	       slot_letter((unsigned)slot));
	log_event(OTA_EVENT_INSTALL, e->name, (unsigned)slot, OTA_OK, 0, m->version);
	return OTA_OK;
}

static void install_updates_named(const char *only, size_t only_len)
{
	for (int i = 0; i < test_update_count; i++) {
		if (only && (strlen(test_updates[i].name) != only_len ||
			     strncmp(test_updates[i].name, only, only_len) != 0))
			continue;
		if (!find_sguest(test_updates[i].name)) {
			printf("control: %s: test update for a guest not in the plan: ignored\n",
			       test_updates[i].name);
			continue;
		}
		install_test_update(&test_updates[i]);
	}
}

void store_attach_guests(const struct boot_entry *entries, int count, const char *bootargs)
{
	uint64_t started = flotilla_clock_monotonic();
	int on_card = 0;
	for (int i = 0; i < count && sguest_count < BOOT_BUNDLE_ENTRIES_MAX; i++) {
		struct store_guest *sg = &sguests[sguest_count++];
		memset(sg, 0, sizeof(*sg));
		snprintf(sg->name, sizeof(sg->name), "%s", entries[i].name);
		sg->factory = &entries[i];
		sg->running_slot = NO_SLOT;
	}
	for (int i = 0; store_ok; i++) {
		struct guest *g = supervisor_guest(i);
		if (!g)
			break;
		struct store_guest *sg = find_sguest(g->name);
		if (!sg)
			continue;
		if (slot_store_boot_slot(&store, g->name) < 0 && seed(sg) != OTA_OK &&
		    slot_store_boot_slot(&store, g->name) < 0) {
			if (sg->factory_refused) {
				/* Below the card's counter: it must not run from RAM either. */
				g->image = NULL;
				g->state = GUEST_REFUSED;
				g->refused_reason = ota_strerror(OTA_E_ROLLBACK);
			}
			if (g->image)
				printf("control: %s: runs the boot bundle's image (none on the "
				       "card)\n",
				       g->name);
			continue; /* nothing on the card: the boot bundle's image, if any */
		}
		g->from_store = true;
		on_card++;
	}
	if (store_ok)
		printf(
		    "control: store: %d of %d guest(s) boot from the card (checked in %.3f ms)\n",
		    on_card, count, (double)(flotilla_clock_monotonic() - started) / 1e6);
	for (int i = 0; !store_ok; i++) {
		struct guest *g = supervisor_guest(i);
		if (!g)
			break;
		if (g->image)
			printf("control: %s: runs the BOOT BUNDLE's image v%s (the card's store is "
			       "unusable)\n",
			       g->name, g->version);
	}
	const char *hook = strstr(bootargs, "test_install=");
	if (store_ok && hook) {
		hook += strlen("test_install=");
		install_updates_named(hook, strcspn(hook, " "));
	}
}

/* ---------------------------------------------------------------- building */

/* Reads a slot's image for the builder and hashes what it read. */
struct slot_reader {
	const char *name;
	unsigned slot;
	uint32_t size;
	uint32_t hashed; /* bytes fed to the verifier */
	int error;
	struct ota_verifier *verifier;
};

/*
 * The card's DMA engine writes to the addresses it is given as bus
 * addresses; that is right for the control domain's own RAM (mapped 1:1)
 * but not for the window where the new domain's pages are mapped (an IPA
 * with no RAM of ours behind it). So the image is read in pieces into this
 * buffer and copied to the guest's pages from there: one copy, bounded
 * memory, and the hash is taken from bytes the guest cannot change.
 */
static uint8_t stage[32768] __attribute__((aligned(64)));

static int read_slot(void *ctx, size_t offset, void *buf, size_t len)
{
	struct slot_reader *r = ctx;
	int rc = offset > r->hashed ? OTA_E_INVALID : OTA_OK; /* a gap would go unhashed */
	for (size_t done = 0; rc == OTA_OK && done < len;) {
		size_t at = offset + done,
		       take = len - done < sizeof(stage) ? len - done : sizeof(stage);
		rc = slot_store_read_image(&store, r->name, r->slot, (uint32_t)at, stage, take);
		if (rc != OTA_OK)
			break;
		memcpy((uint8_t *)buf + done, stage, take);
		if (at + take > r->hashed) {
			/* The builder may read the first bytes twice: hash each byte once. */
			size_t skip = r->hashed - at;
			rc = ota_verifier_feed_image(r->verifier, stage + skip, take - skip);
			r->hashed = (uint32_t)(at + take);
			if (rc == OTA_OK && r->hashed == r->size)
				rc = ota_verifier_finish(r->verifier);
		}
		done += take;
	}
	if (rc != OTA_OK) {
		r->error = rc;
		printf("control: %s: slot %c on the card: %s\n", r->name, slot_letter(r->slot),
		       ota_strerror(rc));
		return -1;
	}
	return 0;
}

bool store_on_trial(const struct guest *g)
{
	const struct store_guest *sg = find_sguest(g->name);
	return sg && sg->on_trial;
}

/* The trial in slot could not run (attempts, a refusal): back to the confirmed image. */
static void revert(struct store_guest *sg, unsigned slot, int status, unsigned reason)
{
	const char *why = ota_event_reason_text(reason);
	const struct slot_guest *guest = slot_store_guest(&store, sg->name);
	uint32_t version[3];
	unsigned attempts = guest->trial_attempts;
	memcpy(version, guest->slot[slot].version, sizeof(version));
	int rc = slot_store_revert(&store, sg->name);
	printf("control: %s: trial v%u.%u.%u in slot %c reverted: %s%s\n", sg->name,
	       (unsigned)version[0], (unsigned)version[1], (unsigned)version[2], slot_letter(slot),
	       why, rc == OTA_OK ? "" : " (but the card could not record it)");
	next_reason = reason;
	log_event(OTA_EVENT_REVERT, sg->name, slot, status, attempts, version);
}

/*
 * An unconfirmed trial in a slot that is not the newest install is a
 * rollback to an image confirmed before (supervisor_rollback(), a crash
 * loop's automatic rollback) that a power cut interrupted: that image was
 * good once, so it goes back to READY (still a rollback target) rather than
 * BAD, and the confirmed image boots.
 */
static int withdraw(struct store_guest *sg, unsigned slot)
{
	const struct slot_guest *guest = slot_store_guest(&store, sg->name);
	uint32_t version[3];
	unsigned attempts = guest->trial_attempts;
	memcpy(version, guest->slot[slot].version, sizeof(version));
	int rc = slot_store_withdraw_trial(&store, sg->name);
	if (rc != OTA_OK)
		return rc;
	printf("control: %s: rollback to v%u.%u.%u in slot %c was not confirmed before the board "
	       "restarted: the slot is READY again\n",
	       sg->name, (unsigned)version[0], (unsigned)version[1], (unsigned)version[2],
	       slot_letter(slot));
	log_event(OTA_EVENT_REVERT, sg->name, slot, OTA_OK, attempts, version);
	return OTA_OK;
}

/* The confirmed image on the card is unusable: the boot bundle's, if it may run. */
static int fall_back_to_factory(struct store_guest *sg)
{
	if (sg->seeded || !sg->factory || sg->factory_refused)
		return -1;
	return seed(sg) == OTA_OK ? 0 : -1;
}

int store_build(struct guest *g, struct dom_spec *spec, struct dom_handle *dom, const char **why)
{
	static struct ota_verifier verifier;
	struct ota_verify_policy policy = board_policy();
	struct store_guest *sg = find_sguest(g->name);
	if (!sg || !store_ok) {
		*why = "the card's store is not usable";
		return -1;
	}
	bool first_build = sg->builds++ == 0;
	sg->on_trial = false;
	for (int tries = 0; tries < 4; tries++) {
		int slot = slot_store_boot_slot(&store, g->name);
		if (slot < 0) {
			if (fall_back_to_factory(sg) == 0)
				continue;
			*why = "no image on the card, and the boot bundle's may not run";
			return -1;
		}
		const struct slot_guest *guest = slot_store_guest(&store, g->name);
		const struct slot_info *info = &guest->slot[slot];
		bool trial = info->state == SLOT_TRIAL;
		char reason[48];
		if (trial && first_build && guest->trial_attempts > 0) {
			if ((unsigned)slot != guest->newest &&
			    withdraw(sg, (unsigned)slot) == OTA_OK)
				continue;
			revert(sg, (unsigned)slot, OTA_OK, OTA_REASON_UNCONFIRMED);
			continue;
		}
		if (trial && guest->trial_attempts >= CONFIG_OTA_TRIAL_ATTEMPTS) {
			revert(sg, (unsigned)slot, OTA_OK, OTA_REASON_ATTEMPTS);
			continue;
		}
		uint64_t check_started = flotilla_clock_monotonic();
		int rc =
		    ota_install_check_slot(&store, g->name, (unsigned)slot, &policy, &verifier);
		double check_ms = (double)(flotilla_clock_monotonic() - check_started) / 1e6;
		const struct ota_manifest *signed_m = ota_verifier_manifest(&verifier);
		/* As for the boot bundle: the plan must give what the image asks for. */
		if (rc == OTA_OK &&
		    (g->memory_mb < signed_m->memory_mib || g->vcpus < signed_m->vcpus)) {
			printf(
			    "control: %s: the plan gives less memory or fewer vCPUs than slot %c's "
			    "manifest asks for\n",
			    g->name, slot_letter((unsigned)slot));
			rc = OTA_E_INVALID;
		}
		char nic_reason[128];
		if (rc == OTA_OK && !supervisor_plan_gives_nics(g->nics, signed_m, nic_reason,
								sizeof(nic_reason))) {
			printf("control: %s: slot %c: %s\n", g->name, slot_letter((unsigned)slot),
			       nic_reason);
			rc = OTA_E_INVALID;
		}
		if (rc != OTA_OK) {
			printf("control: %s: slot %c on the card refused: %s\n", g->name,
			       slot_letter((unsigned)slot), ota_strerror(rc));
			refuse_event(g->name, rc, OTA_EVENT_FROM_STORE, (unsigned)slot,
				     info->version);
			if (trial) {
				revert(sg, (unsigned)slot, rc, OTA_REASON_REFUSED);
				continue;
			}
			if (fall_back_to_factory(sg) == 0)
				continue;
			*why = "the card's image was refused, and the boot bundle's may not run";
			return -1;
		}
		if (trial) {
			/* Durable before the build: a trial that hangs the board still counts. */
			int attempt = slot_store_count_attempt(&store, g->name);
			if (attempt < 0) {
				*why = "the card did not record the trial attempt";
				return -1;
			}
			snprintf(reason, sizeof(reason), "trial, attempt %d of %d", attempt,
				 CONFIG_OTA_TRIAL_ATTEMPTS);
			log_event(OTA_EVENT_ATTEMPT, g->name, (unsigned)slot, OTA_OK,
				  (uint32_t)attempt, info->version);
		} else {
			snprintf(reason, sizeof(reason), "%s",
				 sg->seed_confirmed ? "seeded from boot bundle" : "confirmed");
		}
		uint32_t version[3];
		memcpy(version, info->version, sizeof(version));
		snprintf(g->version, sizeof(g->version), "%u.%u.%u", (unsigned)version[0],
			 (unsigned)version[1], (unsigned)version[2]);
		printf("control: %s: slot %c v%s (%s); signed head checked in %.1f ms\n", g->name,
		       slot_letter((unsigned)slot), g->version, reason, check_ms);
		struct slot_reader reader = {
		    .name = g->name,
		    .slot = (unsigned)slot,
		    .size = info->image_size,
		    .verifier = &verifier,
		};
		spec->kernel = NULL;
		spec->kernel_size = info->image_size;
		spec->read = read_slot;
		spec->read_ctx = &reader;
		rc = dom_build(spec, dom, why);
		spec->read = NULL;
		if (rc == 0 && reader.hashed != reader.size) {
			/* Never unpause bytes whose hash was not checked. */
			dom_destroy(dom);
			reader.error = OTA_E_TRUNCATED;
			rc = -1;
		}
		if (rc == 0) {
			/* A switch: another slot than this guest's last run, or than its
			 * confirmed image (a trial). */
			if (sg->running_slot != (uint8_t)slot &&
			    (sg->running_slot != NO_SLOT || trial))
				log_event(OTA_EVENT_SWITCH, g->name, (unsigned)slot, OTA_OK, 0,
					  version);
			sg->running_slot = (uint8_t)slot;
			sg->on_trial = trial;
			return 0;
		}
		if (reader.error == OTA_OK)
			return rc; /* Xen refused: not the image's fault */
		refuse_event(g->name, reader.error, OTA_EVENT_FROM_STORE, (unsigned)slot, version);
		if (trial) {
			revert(sg, (unsigned)slot, reader.error, OTA_REASON_REFUSED);
			continue;
		}
		if (fall_back_to_factory(sg) != 0) {
			*why = "the card's image was refused, and the boot bundle's may not run";
			return rc;
		}
	}
	*why = "no image on the card could be built";
	return -1;
}

/* ---------------------------------------------------------------- commands */

int store_confirm(const char *name)
{
	if (!store_ok)
		return OTA_E_NO_STORE;
	struct store_guest *sg = find_sguest(name);
	int slot = slot_store_boot_slot(&store, name);
	const struct slot_guest *guest = slot_store_guest(&store, name);
	if (!sg || !sg->on_trial || slot < 0 || guest->slot[slot].state != SLOT_TRIAL)
		return OTA_E_STATE;
	uint32_t version[3];
	memcpy(version, guest->slot[slot].version, sizeof(version));
	int rc = slot_store_confirm(&store, name);
	if (rc != OTA_OK)
		return rc;
	sg->on_trial = false;
	sg->seed_confirmed = false; /* a pushed version is no seed from the boot bundle */
	printf("control: %s: slot %c v%u.%u.%u confirmed\n", name, slot_letter((unsigned)slot),
	       (unsigned)version[0], (unsigned)version[1], (unsigned)version[2]);
	log_event(OTA_EVENT_CONFIRM, name, (unsigned)slot, OTA_OK, 0, version);
	return OTA_OK;
}

int store_revert_trial(const char *name, unsigned reason)
{
	if (!store_ok)
		return OTA_E_NO_STORE;
	struct store_guest *sg = find_sguest(name);
	int slot = slot_store_boot_slot(&store, name);
	const struct slot_guest *guest = slot_store_guest(&store, name);
	if (!sg || slot < 0 || guest->slot[slot].state != SLOT_TRIAL)
		return OTA_E_STATE;
	revert(sg, (unsigned)slot, OTA_OK, reason);
	sg->on_trial = false;
	/* The instance that keeps serving runs the confirmed image. */
	int back = slot_store_boot_slot(&store, name);
	sg->running_slot = back < 0 ? NO_SLOT : (uint8_t)back;
	return OTA_OK;
}

int store_activate_previous(const char *name, char *version, size_t size)
{
	if (!store_ok)
		return OTA_E_NO_STORE;
	const struct slot_guest *guest = slot_store_guest(&store, name);
	if (!guest)
		return OTA_E_NO_GUEST;
	for (unsigned slot = 0; slot < SLOT_STORE_SLOTS; slot++) {
		const struct slot_info *info = &guest->slot[slot];
		if (info->state != SLOT_READY)
			continue;
		int rc = slot_store_activate_slot(&store, name, slot);
		if (rc != OTA_OK)
			return rc;
		/* As for a push: a power cut before the gate withdraws it at boot. */
		slot_store_count_attempt(&store, name);
		snprintf(version, size, "%u.%u.%u", (unsigned)info->version[0],
			 (unsigned)info->version[1], (unsigned)info->version[2]);
		printf("control: %s: slot %c v%s is the trial again (rollback)\n", name,
		       slot_letter(slot), version);
		return OTA_OK;
	}
	return OTA_E_STATE;
}

void store_confirm_all(void)
{
	int confirmed = 0;
	for (int i = 0; i < sguest_count; i++) {
		/* A swap's candidate is confirmed by its health gate, not by hand. */
		const struct guest *g = supervisor_find(sguests[i].name);
		if (g && g->swap != SWAP_NONE)
			continue;
		confirmed += store_confirm(sguests[i].name) == OTA_OK;
	}
	printf("control: store: %d trial(s) confirmed\n", confirmed);
}

void store_install_test_updates(const char *only)
{
	if (!store_ok) {
		printf("control: store: not usable: no test update installed\n");
		return;
	}
	for (int i = 0; i < test_update_count; i++) {
		const struct boot_entry *e = &test_updates[i];
		if ((only && strcmp(only, e->name) != 0) || !find_sguest(e->name))
			continue;
		if (install_test_update(e) != OTA_OK)
			continue;
		for (int k = 0;; k++) {
			struct guest *g = supervisor_guest(k);
			if (!g)
				break;
			if (strcmp(g->name, e->name) == 0 && g->from_store && g->swap == SWAP_NONE)
				supervisor_rebuild(g);
		}
	}
}

void store_print_status(void)
{
	if (!store_ok) {
		printf(
		    "control: store: ERROR: NO USABLE SLOT STORE ON THE CARD (%s): guests run from "
		    "the BOOT BUNDLE\n",
		    store_problem ? store_problem : "not opened");
		return;
	}
	printf("control: store: card store open, boot %" PRIu32 ", record %" PRIu64 "\n",
	       boot_number, store.seq);
	for (unsigned g = 0; g < store.guest_capacity; g++) {
		const struct slot_guest *guest = &store.guests[g];
		if (!guest->name[0])
			continue;
		char slots[2][48];
		for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
			const struct slot_info *info = &guest->slot[k];
			if (info->state == SLOT_EMPTY)
				snprintf(slots[k], sizeof(slots[k]), "%c empty", slot_letter(k));
			else
				snprintf(slots[k], sizeof(slots[k]), "%c %s v%u.%u.%u c%u",
					 slot_letter(k), slot_state_name(info->state),
					 (unsigned)info->version[0], (unsigned)info->version[1],
					 (unsigned)info->version[2],
					 (unsigned)info->security_counter);
		}
		printf("control:   %-16s %-28s %-28s counter %u%s\n", guest->name, slots[0],
		       slots[1], (unsigned)guest->highest_counter,
		       guest->trial_attempts ? " (trial counted)" : "");
	}
}

/* ---------------------------------------------------------------- pushes (push.c) */

struct slot_store *store_for_push(struct ota_verify_policy *policy)
{
	if (!store_ok)
		return NULL;
	*policy = board_policy();
	return &store;
}

uint32_t store_slot_bytes(void)
{
	return store_ok ? store.slot_blocks * store.block_size : 0;
}

const char *store_installing(void)
{
	if (!store_ok || store.install_guest < 0)
		return NULL;
	return store.guests[store.install_guest].name;
}

int store_activate_pushed(const char *name, const struct ota_manifest *m)
{
	if (!store_ok)
		return OTA_E_NO_STORE;
	int rc = slot_store_activate(&store, name);
	if (rc != OTA_OK) {
		printf("control: %s: pushed v%u.%u.%u could not be activated: %s\n", name,
		       (unsigned)m->version[0], (unsigned)m->version[1], (unsigned)m->version[2],
		       ota_strerror(rc));
		refuse_event(name, rc, OTA_EVENT_FROM_NETWORK, NO_SLOT, m->version);
		return rc;
	}
	/* Count an attempt now: a power cut before the health gate has run
	 * leaves a trial the next boot reverts, never one it runs ungated. */
	slot_store_count_attempt(&store, name);
	int slot = slot_store_boot_slot(&store, name);
	printf("control: %s: pushed v%u.%u.%u installed in slot %c as TRIAL\n", name,
	       (unsigned)m->version[0], (unsigned)m->version[1], (unsigned)m->version[2],
	       slot_letter((unsigned)slot));
	log_event(OTA_EVENT_INSTALL, name, (unsigned)slot, OTA_OK, 0, m->version);
	return OTA_OK;
}

void store_log_push_refused(const char *name, int status, const struct ota_manifest *m)
{
	refuse_event(name, status, OTA_EVENT_FROM_NETWORK, NO_SLOT, m ? m->version : NULL);
}

/* ---------------------------------------------------------------- health (health_board.c) */

void store_health_info(struct store_health_info *out)
{
	memset(out, 0, sizeof(*out));
	out->usable = store_ok;
	out->problem = store_problem;
	out->boot = boot_number;
	out->refused = refused_count;
	snprintf(out->last_refused, sizeof(out->last_refused), "%s", last_refused);
	if (!store_ok)
		return;
	out->guests_capacity = store.guest_capacity;
	for (unsigned g = 0; g < store.guest_capacity; g++)
		out->guests_used += store.guests[g].name[0] != '\0';
	out->slot_kib = (unsigned)(store.slot_blocks * store.block_size / 1024);
	out->events_written = log_ok ? event_log.next_seq - 1 : 0;
	out->events_capacity = log_ok ? event_log.capacity : 0;
}

int store_check_image_at(unsigned index, char *bad, size_t size)
{
	struct ota_verify_policy policy = board_policy();
	static struct ota_verifier verifier;
	if (!store_ok || index >= store.guest_capacity * SLOT_STORE_SLOTS)
		return -1;
	const struct slot_guest *guest = &store.guests[index / SLOT_STORE_SLOTS];
	unsigned k = index % SLOT_STORE_SLOTS;
	unsigned state = guest->slot[k].state;
	if (!guest->name[0] ||
	    (state != SLOT_READY && state != SLOT_TRIAL && state != SLOT_CONFIRMED))
		return 0;
	int rc = ota_install_check_slot(&store, guest->name, k, &policy, &verifier);
	if (rc == OTA_E_ROLLBACK && state == SLOT_READY)
		rc = OTA_OK; /* an older image kept, never booted */
	if (rc == OTA_OK)
		rc = slot_store_check_slot(&store, guest->name, k);
	if (rc == OTA_OK)
		return 0;
	snprintf(bad, size, "%s slot %c (%s): %s", guest->name, slot_letter(k),
		 slot_state_name(state), ota_status_name(rc));
	return 1;
}

int store_check_images(char *first_bad, size_t size)
{
	int problems = 0;
	char bad[128];
	if (!store_ok)
		return -1;
	first_bad[0] = '\0';
	for (unsigned i = 0;; i++) {
		int r = store_check_image_at(i, bad, sizeof(bad));
		if (r < 0)
			break;
		if (r == 1 && problems++ == 0)
			snprintf(first_bad, size, "%s", bad);
	}
	return problems;
}

bool store_guest_slot(const char *name, char *slot, unsigned *trial_attempts)
{
	const struct store_guest *sg = find_sguest(name);
	const struct slot_guest *guest = store_ok ? slot_store_guest(&store, name) : NULL;
	*slot = sg && sg->running_slot != NO_SLOT ? slot_letter(sg->running_slot) : '-';
	*trial_attempts = guest ? guest->trial_attempts : 0;
	return sg && sg->on_trial;
}

struct recent_events {
	struct ota_event *out;
	unsigned max, seen;
};

static void keep_recent(const struct ota_event *e, void *arg)
{
	struct recent_events *r = arg;
	r->out[r->seen++ % r->max] = *e;
}

int store_recent_events(struct ota_event *out, unsigned max)
{
	struct recent_events r = {out, max, 0};
	if (!log_ok || max == 0 || ota_event_log_for_each(&event_log, keep_recent, &r) != OTA_OK)
		return -1;
	if (r.seen <= max)
		return (int)r.seen;
	/* Rotate the ring so that the oldest kept comes first. */
	unsigned start = r.seen % max;
	for (unsigned n = 0; n < start; n++) {
		struct ota_event first = out[0];
		memmove(out, out + 1, (max - 1) * sizeof(*out));
		out[max - 1] = first;
	}
	return (int)max;
}

int store_guest_slots(const char *name, struct store_slot_view out[2])
{
	const struct slot_guest *guest = store_ok ? slot_store_guest(&store, name) : NULL;
	if (!guest)
		return -1;
	for (unsigned k = 0; k < SLOT_STORE_SLOTS && k < 2; k++) {
		const struct slot_info *info = &guest->slot[k];
		out[k].letter = slot_letter(k);
		snprintf(out[k].state, sizeof(out[k].state), "%s", slot_state_name(info->state));
		snprintf(out[k].version, sizeof(out[k].version), "%u.%u.%u",
			 (unsigned)info->version[0], (unsigned)info->version[1],
			 (unsigned)info->version[2]);
		out[k].counter = info->security_counter;
		out[k].empty = info->state == SLOT_EMPTY;
	}
	return 0;
}
