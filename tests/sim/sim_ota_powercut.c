/*
 * sim_ota_powercut.c: the slot store under a power cut at every write.
 *
 * MCUboot's method. For each scenario (a starting store plus a sequence of
 * operations) a reference run records the store's logical state after every
 * API call and counts the block writes. Then, for every write index k and
 * every way a cut can hit it, the scenario is replayed on a fresh copy of
 * the starting store with power failing at write k, the store is reopened
 * as after a reboot, and the invariants are checked:
 *
 *   1. the reopened store opens and is usable (a full install, activate and
 *      confirm of another guest succeeds, and survives another reopen);
 *   2. its state is the one before or the one after the interrupted call
 *      (an install in progress counts as not started);
 *   3. a confirmed image is never lost or corrupted: every READY, TRIAL
 *      and CONFIRMED slot re-hashes to its recorded SHA-256;
 *   4. no guest's security counter decreases.
 *
 * How a cut hits write k (the cut device below):
 *   clean     write k does not happen;
 *   torn-old  write k lands half: the first half of the block new, the rest old;
 *   torn-junk write k lands one byte; the rest of the block is garbage;
 *   reorder   write k does not happen and of the writes since the last
 *             flush only the most recent one landed (a volatile write cache).
 *
 * Output: TAP, one line per scenario and block size, with the number of cut
 * points tried, and the total at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ota.h"
#include "ota_test_util.h"
#include "slot_store.h"

/* ---------------------------------------------------------------- cut device */

enum cut_mode { CUT_CLEAN, CUT_TORN_OLD, CUT_TORN_JUNK, CUT_REORDER, CUT_MODES };
static const char *const cut_mode_names[CUT_MODES] = {"clean", "torn-old", "torn-junk", "reorder"};

struct undo {
	uint32_t block;
	uint8_t *old;
};

struct cut_dev {
	struct ota_blockdev dev;
	uint8_t *mem;
	uint32_t bs, count;
	long writes; /* block writes since armed */
	long cut_at; /* -1: no cut */
	enum cut_mode mode;
	int dead;
	struct undo *undo; /* unflushed writes, for CUT_REORDER */
	size_t undo_len, undo_cap;
};

static struct cut_dev *cut_of(struct ota_blockdev *dev)
{
	return dev->ctx;
}

static void undo_clear(struct cut_dev *c)
{
	for (size_t i = 0; i < c->undo_len; i++)
		free(c->undo[i].old);
	c->undo_len = 0;
}

static void undo_push(struct cut_dev *c, uint32_t block)
{
	if (c->undo_len == c->undo_cap) {
		c->undo_cap = c->undo_cap ? 2 * c->undo_cap : 64;
		c->undo = realloc(c->undo, c->undo_cap * sizeof(*c->undo));
	}
	c->undo[c->undo_len].block = block;
	c->undo[c->undo_len].old = malloc(c->bs);
	memcpy(c->undo[c->undo_len].old, c->mem + (size_t)block * c->bs, c->bs);
	c->undo_len++;
}

static void power_fails(struct cut_dev *c, uint32_t block, const uint8_t *data)
{
	uint8_t *dst = c->mem + (size_t)block * c->bs;

	switch (c->mode) {
	case CUT_TORN_OLD: memcpy(dst, data, c->bs / 2); break;
	case CUT_TORN_JUNK:
		dst[0] = data[0];
		memset(dst + 1, 0xa5, c->bs - 1);
		break;
	case CUT_REORDER:
		/* Undo all unflushed writes but the last one, newest first. */
		for (size_t i = c->undo_len; i-- > 0;) {
			if (i + 1 == c->undo_len)
				continue;
			memcpy(c->mem + (size_t)c->undo[i].block * c->bs, c->undo[i].old, c->bs);
		}
		break;
	default: break;
	}
	c->dead = 1;
}

static int cut_read(struct ota_blockdev *dev, uint32_t block, void *buf, uint32_t count)
{
	struct cut_dev *c = cut_of(dev);

	if (c->dead)
		return OTA_E_IO;
	memcpy(buf, c->mem + (size_t)block * c->bs, (size_t)count * c->bs);
	return OTA_OK;
}

static int cut_write(struct ota_blockdev *dev, uint32_t block, const void *buf, uint32_t count)
{
	struct cut_dev *c = cut_of(dev);
	const uint8_t *p = buf;

	for (uint32_t i = 0; i < count; i++) {
		if (c->dead)
			return OTA_E_IO;
		if (c->cut_at >= 0 && c->writes == c->cut_at) {
			power_fails(c, block + i, p + (size_t)i * c->bs);
			return OTA_E_IO;
		}
		if (c->mode == CUT_REORDER)
			undo_push(c, block + i);
		memcpy(c->mem + (size_t)(block + i) * c->bs, p + (size_t)i * c->bs, c->bs);
		c->writes++;
	}
	return OTA_OK;
}

static int cut_flush(struct ota_blockdev *dev)
{
	struct cut_dev *c = cut_of(dev);

	if (c->dead)
		return OTA_E_IO;
	undo_clear(c);
	return OTA_OK;
}

static uint32_t cut_block_size(struct ota_blockdev *dev)
{
	return cut_of(dev)->bs;
}

static uint32_t cut_block_count(struct ota_blockdev *dev)
{
	return cut_of(dev)->count;
}

static const struct ota_blockdev_ops cut_ops = {cut_read, cut_write, cut_flush, cut_block_size,
						cut_block_count};

static void cut_init(struct cut_dev *c, uint32_t bs, uint32_t count)
{
	memset(c, 0, sizeof(*c));
	c->dev.ops = &cut_ops;
	c->dev.ctx = c;
	c->bs = bs;
	c->count = count;
	c->mem = calloc(count, bs);
	c->cut_at = -1;
}

/* Power back on: the medium keeps what it holds, the device works again. */
static void cut_power_on(struct cut_dev *c)
{
	undo_clear(c);
	c->dead = 0;
	c->cut_at = -1;
	c->writes = 0;
	c->mode = CUT_CLEAN;
}

static void cut_arm(struct cut_dev *c, long cut_at, enum cut_mode mode)
{
	cut_power_on(c);
	c->cut_at = cut_at;
	c->mode = mode;
}

/* ---------------------------------------------------------------- scenarios */

enum op_kind { OP_INSTALL, OP_ACTIVATE, OP_CONFIRM, OP_REVERT, OP_ATTEMPT, OP_CONFIRM_READY };

struct op {
	enum op_kind kind;
	const char *guest;
	uint32_t minor, counter; /* OP_INSTALL: version 1.minor.0 and counter */
};

struct scenario {
	const char *name;
	struct op base[8]; /* the starting store, built without cuts */
	size_t base_len;
	struct op steps[8]; /* what power is cut during */
	size_t steps_len;
};

#define INSTALL(g, minor, counter)                                                                 \
	{                                                                                          \
		OP_INSTALL, g, minor, counter                                                      \
	}
#define ACTIVATE(g)                                                                                \
	{                                                                                          \
		OP_ACTIVATE, g, 0, 0                                                               \
	}
#define CONFIRM(g)                                                                                 \
	{                                                                                          \
		OP_CONFIRM, g, 0, 0                                                                \
	}
#define REVERT(g)                                                                                  \
	{                                                                                          \
		OP_REVERT, g, 0, 0                                                                 \
	}
#define ATTEMPT(g)                                                                                 \
	{                                                                                          \
		OP_ATTEMPT, g, 0, 0                                                                \
	}
#define CONFIRM_READY(g)                                                                           \
	{                                                                                          \
		OP_CONFIRM_READY, g, 0, 0                                                          \
	}
#define LIVE(g, minor, counter) INSTALL(g, minor, counter), ACTIVATE(g), CONFIRM(g)

static const struct scenario scenarios[] = {
    {"first install", {{0}}, 0, {INSTALL("hello", 1, 1)}, 1},
    {"install beside a confirmed image", {LIVE("hello", 1, 1)}, 3, {INSTALL("hello", 2, 2)}, 1},
    {"activate", {LIVE("hello", 1, 1), INSTALL("hello", 2, 2)}, 4, {ACTIVATE("hello")}, 1},
    {"confirm",
     {LIVE("hello", 1, 1), INSTALL("hello", 2, 2), ACTIVATE("hello")},
     5,
     {CONFIRM("hello")},
     1},
    {"revert",
     {LIVE("hello", 1, 1), INSTALL("hello", 2, 2), ACTIVATE("hello")},
     5,
     {REVERT("hello")},
     1},
    {"install over a trial",
     {LIVE("hello", 1, 1), INSTALL("hello", 2, 2), ACTIVATE("hello")},
     5,
     {INSTALL("hello", 3, 3)},
     1},
    {"full update cycle", {{0}}, 0, {LIVE("hello", 1, 1), LIVE("hello", 2, 2)}, 6},
    {"two guests interleaved",
     {LIVE("hello", 1, 1), LIVE("web", 1, 1)},
     6,
     {INSTALL("hello", 2, 2), ACTIVATE("hello"), INSTALL("web", 2, 5), CONFIRM("hello"),
      ACTIVATE("web"), REVERT("web"), INSTALL("web", 3, 5)},
     7},
    {"seed: a factory image confirmed in one commit",
     {{0}},
     0,
     {INSTALL("hello", 1, 1), CONFIRM_READY("hello")},
     2},
    {"trial attempts counted, then reverted",
     {LIVE("hello", 1, 1), INSTALL("hello", 2, 2), ACTIVATE("hello")},
     5,
     {ATTEMPT("hello"), ATTEMPT("hello"), REVERT("hello")},
     3},
};

#define GUESTS    4
#define SLOT_SIZE 8192
/* Image size of the run: a partial last block, or exactly one full slot. */
static uint32_t image_len = 5000;
#define WRITE_CHUNK 1460

static unsigned image_seed(const char *guest, uint32_t minor)
{
	return (unsigned)guest[0] * 100u + minor;
}

/* Logical state: the guest table with an install in progress counted as not started. */
struct snapshot {
	struct slot_guest guests[OTA_MAX_GUESTS];
};

static void snapshot_take(const struct slot_store *s, struct snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	for (unsigned g = 0; g < s->guest_capacity; g++) {
		struct slot_guest *guest = &snap->guests[g];
		int used = 0;

		*guest = s->guests[g];
		for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
			if (guest->slot[k].state == SLOT_INSTALLING)
				memset(&guest->slot[k], 0, sizeof(guest->slot[k]));
			used |= guest->slot[k].state != SLOT_EMPTY;
		}
		if (!used && guest->highest_counter == 0) {
			memset(guest, 0, sizeof(*guest));
			guest->newest = SLOT_STORE_NO_SLOT;
		}
	}
}

static int snapshot_equal(const struct snapshot *a, const struct snapshot *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/*
 * Runs ops, one API call per micro-step. snaps (may be NULL) receives the
 * state before the first call and after each. Returns the number of calls
 * that succeeded; *failed_rc the error of the first that did not.
 */
static size_t run_ops(struct slot_store *s, const struct op *ops, size_t n, struct snapshot *snaps,
		      int *failed_rc)
{
	size_t calls = 0;
	int rc = OTA_OK;

#define CALL(expr)                                                                                 \
	do {                                                                                       \
		rc = (expr);                                                                       \
		if (rc != OTA_OK)                                                                  \
			goto out;                                                                  \
		calls++;                                                                           \
		if (snaps)                                                                         \
			snapshot_take(s, &snaps[calls]);                                           \
	} while (0)

	if (snaps)
		snapshot_take(s, &snaps[0]);
	for (size_t i = 0; i < n; i++) {
		const struct op *op = &ops[i];

		switch (op->kind) {
		case OP_INSTALL: {
			struct ota_manifest m = test_manifest(op->guest, op->minor, op->counter);
			uint8_t *image = test_image(image_len, image_seed(op->guest, op->minor));

			test_describe_image(&m, image, image_len);
			rc = slot_store_begin_install(s, &m);
			if (rc == OTA_OK) {
				calls++;
				if (snaps)
					snapshot_take(s, &snaps[calls]);
			}
			for (uint32_t done = 0; rc == OTA_OK && done < image_len;
			     done += WRITE_CHUNK) {
				uint32_t len =
				    image_len - done < WRITE_CHUNK ? image_len - done : WRITE_CHUNK;

				rc = slot_store_write(s, image + done, len);
				if (rc == OTA_OK) {
					calls++;
					if (snaps)
						snapshot_take(s, &snaps[calls]);
				}
			}
			if (rc == OTA_OK)
				rc = slot_store_finish(s);
			free(image);
			if (rc != OTA_OK)
				goto out;
			calls++;
			if (snaps)
				snapshot_take(s, &snaps[calls]);
			break;
		}
		case OP_ACTIVATE: CALL(slot_store_activate(s, op->guest)); break;
		case OP_CONFIRM: CALL(slot_store_confirm(s, op->guest)); break;
		case OP_REVERT: CALL(slot_store_revert(s, op->guest)); break;
		case OP_ATTEMPT: {
			int attempt = slot_store_count_attempt(s, op->guest);

			CALL(attempt > 0 ? OTA_OK : attempt);
			break;
		}
		case OP_CONFIRM_READY: CALL(slot_store_confirm_ready(s, op->guest)); break;
		}
	}
out:
	*failed_rc = rc;
	return calls;
#undef CALL
}

static size_t max_calls(const struct op *ops, size_t n)
{
	size_t calls = 0;

	for (size_t i = 0; i < n; i++)
		calls +=
		    ops[i].kind == OP_INSTALL ? 2 + (image_len + WRITE_CHUNK - 1) / WRITE_CHUNK : 1;
	return calls;
}

/* ---------------------------------------------------------------- checks */

static char failure[512];

#define REQUIRE(cond, ...)                                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(failure, sizeof(failure), __VA_ARGS__);                           \
			return 0;                                                                  \
		}                                                                                  \
	} while (0)

static int check_images(struct slot_store *s)
{
	for (unsigned g = 0; g < s->guest_capacity; g++) {
		const struct slot_guest *guest = &s->guests[g];

		for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
			unsigned st = guest->slot[k].state;

			if (st != SLOT_READY && st != SLOT_TRIAL && st != SLOT_CONFIRMED)
				continue;
			REQUIRE(slot_store_check_slot(s, guest->name, k) == OTA_OK,
				"%s slot %c (%s) is corrupt", guest->name, 'A' + k,
				slot_state_name(st));
		}
	}
	return 1;
}

static int confirmed_sha(const struct slot_guest *g, const uint8_t **sha)
{
	for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
		if (g->slot[k].state == SLOT_CONFIRMED) {
			*sha = g->slot[k].image_sha256;
			return 1;
		}
	}
	return 0;
}

static int check_invariants(struct slot_store *s, const struct snapshot *before,
			    const struct snapshot *after)
{
	struct snapshot now;

	snapshot_take(s, &now);
	REQUIRE(snapshot_equal(&now, before) || snapshot_equal(&now, after),
		"state after reopen is neither the old nor the new one");
	for (unsigned g = 0; g < OTA_MAX_GUESTS; g++) {
		const uint8_t *was, *is, *next;

		REQUIRE(now.guests[g].highest_counter >= before->guests[g].highest_counter,
			"security counter of %s went down", before->guests[g].name);
		if (!confirmed_sha(&before->guests[g], &was))
			continue;
		REQUIRE(confirmed_sha(&now.guests[g], &is), "confirmed image of %s lost",
			before->guests[g].name);
		REQUIRE(memcmp(is, was, OTA_SHA256_SIZE) == 0 ||
			    (confirmed_sha(&after->guests[g], &next) &&
			     memcmp(is, next, OTA_SHA256_SIZE) == 0),
			"confirmed image of %s replaced by another", before->guests[g].name);
	}
	return check_images(s);
}

/* A store that came back must take a whole update of another guest. */
static int check_usable(struct slot_store *s, struct ota_blockdev *dev)
{
	static const struct op probe[] = {LIVE("probe", 1, 1)};
	struct snapshot pre, post;
	int rc;

	snapshot_take(s, &pre);
	REQUIRE(run_ops(s, probe, 3, NULL, &rc) == max_calls(probe, 3),
		"update after reopen failed: %s", ota_status_name(rc));
	REQUIRE(slot_store_open(s, dev) == OTA_OK, "second reopen failed");
	REQUIRE(slot_store_boot_slot(s, "probe") >= 0, "probe guest not bootable after reopen");
	snapshot_take(s, &post);
	for (unsigned g = 0; g < OTA_MAX_GUESTS; g++) {
		if (strcmp(post.guests[g].name, "probe") == 0)
			continue;
		REQUIRE(memcmp(&pre.guests[g], &post.guests[g], sizeof(pre.guests[g])) == 0,
			"updating another guest changed %s", pre.guests[g].name);
	}
	return check_images(s);
}

/* ---------------------------------------------------------------- driver */

static unsigned long total_cut_points;

static int run_scenario(const struct scenario *sc, uint32_t bs, unsigned long *points)
{
	uint32_t head = bs > SLOT_STORE_HEAD_MAX ? bs : SLOT_STORE_HEAD_MAX; /* per slot */
	uint32_t blocks = 2 * 8192 / bs + GUESTS * SLOT_STORE_SLOTS * (SLOT_SIZE + head) / bs;
	size_t ncalls = max_calls(sc->steps, sc->steps_len);
	struct snapshot *snaps = calloc(ncalls + 1, sizeof(*snaps));
	struct slot_store *s = malloc(sizeof(*s));
	struct cut_dev dev;
	uint8_t *base;
	long writes;
	int rc, ok = 0;

	*points = 0;
	cut_init(&dev, bs, blocks);
	base = malloc((size_t)bs * blocks);
	if (slot_store_format(s, &dev.dev, SLOT_SIZE, GUESTS) != OTA_OK ||
	    run_ops(s, sc->base, sc->base_len, NULL, &rc) != max_calls(sc->base, sc->base_len)) {
		snprintf(failure, sizeof(failure), "building the starting store failed");
		goto out;
	}
	memcpy(base, dev.mem, (size_t)bs * blocks);

	/* Reference run: states after each call, and how many block writes. */
	cut_arm(&dev, -1, CUT_CLEAN);
	if (slot_store_open(s, &dev.dev) != OTA_OK ||
	    run_ops(s, sc->steps, sc->steps_len, snaps, &rc) != ncalls) {
		snprintf(failure, sizeof(failure), "reference run failed: %s", ota_status_name(rc));
		goto out;
	}
	writes = dev.writes;

	for (long k = 0; k < writes; k++) {
		for (int mode = 0; mode < CUT_MODES; mode++) {
			size_t done;

			memcpy(dev.mem, base, (size_t)bs * blocks);
			cut_power_on(&dev);
			if (slot_store_open(s, &dev.dev) != OTA_OK) {
				snprintf(failure, sizeof(failure),
					 "opening the starting store failed");
				goto out;
			}
			cut_arm(&dev, k, (enum cut_mode)mode);
			done = run_ops(s, sc->steps, sc->steps_len, NULL, &rc);
			(*points)++;
			cut_power_on(&dev);
			memset(s, 0x5a, sizeof(*s));
			rc = slot_store_open(s, &dev.dev);
			if (rc != OTA_OK) {
				snprintf(failure, sizeof(failure), "reopen failed: %s",
					 ota_status_name(rc));
			} else if (done < ncalls &&
				   check_invariants(s, &snaps[done], &snaps[done + 1]) &&
				   check_usable(s, &dev.dev)) {
				continue;
			} else if (done == ncalls) {
				snprintf(failure, sizeof(failure),
					 "the cut did not interrupt anything");
			}
			fprintf(
			    stdout,
			    "# %s, block size %u: cut at write %ld/%ld (%s), during call %zu: %s\n",
			    sc->name, bs, k, writes, cut_mode_names[mode], done + 1, failure);
			goto out;
		}
	}
	ok = 1;
out:
	undo_clear(&dev);
	free(dev.undo);
	free(dev.mem);
	free(base);
	free(snaps);
	free(s);
	return ok;
}

int main(void)
{
	static const uint32_t block_sizes[] = {512, 1024, 4096};
	static const uint32_t image_lens[] = {5000, SLOT_SIZE};
	const size_t nsc = sizeof(scenarios) / sizeof(scenarios[0]);
	unsigned n = 0, failed = 0;

	printf("1..%zu\n", nsc * 3 * 2 + 1);
	for (size_t b = 0; b < 3; b++) {
		for (size_t l = 0; l < 2; l++) {
			image_len = image_lens[l];
			for (size_t i = 0; i < nsc; i++) {
				unsigned long points;
				int ok = run_scenario(&scenarios[i], block_sizes[b], &points);

				total_cut_points += points;
				failed += !ok;
				printf("%sok %u - power cut: %s, %u-byte blocks, %u-byte images: "
				       "%lu cut "
				       "points\n",
				       ok ? "" : "not ", ++n, scenarios[i].name, block_sizes[b],
				       image_len, points);
			}
		}
	}
	printf(
	    "%sok %u - power cut: %lu cut points in all (every write x %d ways), invariants held\n",
	    failed ? "not " : "", ++n, total_cut_points, CUT_MODES);
	printf("# power-cut points tried: %lu\n", total_cut_points);
	return failed ? 1 : 0;
}
