/* slot_store.c: A/B slots and the two-copy metadata journal. */
#include "slot_store.h"

#include "crypto.h"
#include "endian.h"
#include "ota.h"

#include <string.h>

/*
 * On-disk constants. Each metadata copy owns a fixed 8 KiB area so that the
 * layout does not depend on how a build was configured: a store written by
 * the host CLI opens on the board and the other way round.
 */
#define META_MAGIC          "FLSS"
#define META_LAYOUT_VERSION 2
#define META_AREA           8192u
#define META_GUESTS_MAX     ((META_AREA - SLOT_STORE_RECORD_HEADER) / SLOT_STORE_GUEST_ENTRY)
#define SLOT_ENTRY          60
#define BLOCK_SIZE_MIN      64u
/* Each slot's signed bundle head lives in its own area (before all slots),
 * at least this many bytes and at least one block. */
#define HEAD_AREA_MIN SLOT_STORE_HEAD_MAX

_Static_assert(SLOT_STORE_RECORD_HEADER + SLOT_STORE_GUEST_ENTRY * OTA_MAX_GUESTS <= META_AREA,
	       "CONFIG_OTA_MAX_GUESTS too large for the metadata area");
_Static_assert(40 + 2 * SLOT_ENTRY == SLOT_STORE_GUEST_ENTRY, "guest entry layout");
_Static_assert(OTA_BLOCK_SIZE_MAX <= META_AREA, "block size larger than the metadata area");

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static uint32_t record_crc(const uint8_t *rec, uint32_t size)
{
	return crc32_update(crc32_update(0, rec, 28), rec + 32, size - 32);
}

static uint32_t blocks_for(uint32_t bytes, uint32_t block_size)
{
	return (bytes + block_size - 1) / block_size;
}

static uint32_t copy_block(const struct slot_store *s, unsigned copy)
{
	return copy * (META_AREA / s->block_size);
}

static uint32_t head_blocks(uint32_t block_size)
{
	return block_size > HEAD_AREA_MIN ? 1 : HEAD_AREA_MIN / block_size;
}

/* [meta 0][meta 1][heads: capacity x 2 areas][slots: capacity x 2] */
static uint32_t head_block(const struct slot_store *s, unsigned guest, unsigned slot)
{
	return 2 * (META_AREA / s->block_size) +
	       (guest * SLOT_STORE_SLOTS + slot) * head_blocks(s->block_size);
}

static uint32_t slot_block(const struct slot_store *s, unsigned guest, unsigned slot)
{
	return 2 * (META_AREA / s->block_size) +
	       s->guest_capacity * SLOT_STORE_SLOTS * head_blocks(s->block_size) +
	       (guest * SLOT_STORE_SLOTS + slot) * s->slot_blocks;
}

static uint32_t io_capacity(const struct slot_store *s)
{
	return (sizeof(s->io) / s->block_size) * s->block_size;
}

const char *slot_state_name(unsigned state)
{
	static const char *const names[] = {"empty", "installing", "ready",
					    "trial", "confirmed",  "bad"};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "invalid";
}

/* ---------------------------------------------------------------- record codec */

static void encode_slot(uint8_t *p, const struct slot_info *info)
{
	p[0] = info->state;
	p[1] = info->vcpus;
	for (int i = 0; i < 3; i++)
		ota_put_le32(p + 4 + 4 * i, info->version[i]);
	ota_put_le32(p + 16, info->security_counter);
	ota_put_le32(p + 20, info->image_size);
	ota_put_le32(p + 24, info->memory_mib);
	memcpy(p + 28, info->image_sha256, OTA_SHA256_SIZE);
}

static uint32_t encode_record(struct slot_store *s)
{
	uint32_t size = SLOT_STORE_RECORD_SIZE(s->guest_capacity);
	uint8_t *rec = s->meta;

	memset(rec, 0, sizeof(s->meta));
	memcpy(rec, META_MAGIC, 4);
	ota_put_le16(rec + 4, META_LAYOUT_VERSION);
	ota_put_le16(rec + 6, (uint16_t)s->guest_capacity);
	ota_put_le64(rec + 8, s->seq);
	ota_put_le32(rec + 16, s->block_size);
	ota_put_le32(rec + 20, s->slot_blocks);
	ota_put_le32(rec + 24, size);
	for (uint32_t g = 0; g < s->guest_capacity; g++) {
		const struct slot_guest *guest = &s->guests[g];
		uint8_t *e = rec + SLOT_STORE_RECORD_HEADER + g * SLOT_STORE_GUEST_ENTRY;

		if (guest->name[0] == '\0')
			continue;
		memcpy(e, guest->name, strlen(guest->name));
		ota_put_le32(e + 32, guest->highest_counter);
		e[36] = guest->newest;
		e[37] = guest->trial_attempts;
		for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++)
			encode_slot(e + 40 + k * SLOT_ENTRY, &guest->slot[k]);
	}
	ota_put_le32(rec + 28, record_crc(rec, size));
	return size;
}

static int all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

static int decode_slot(const uint8_t *p, struct slot_info *info, uint32_t slot_bytes)
{
	info->state = p[0];
	info->vcpus = p[1];
	for (int i = 0; i < 3; i++)
		info->version[i] = ota_get_le32(p + 4 + 4 * i);
	info->security_counter = ota_get_le32(p + 16);
	info->image_size = ota_get_le32(p + 20);
	info->memory_mib = ota_get_le32(p + 24);
	memcpy(info->image_sha256, p + 28, OTA_SHA256_SIZE);
	if (info->state > SLOT_BAD || p[2] != 0 || p[3] != 0)
		return 0;
	if (info->state == SLOT_EMPTY)
		return all_zero(p, SLOT_ENTRY);
	return info->image_size > 0 && info->image_size <= slot_bytes;
}

static int decode_guest(const uint8_t *e, struct slot_guest *guest, uint32_t slot_bytes)
{
	size_t name_len = 0;
	unsigned trials = 0, confirmed = 0;

	memset(guest, 0, sizeof(*guest));
	if (all_zero(e, SLOT_STORE_GUEST_ENTRY)) {
		guest->newest = SLOT_STORE_NO_SLOT;
		return 1;
	}
	while (name_len < OTA_NAME_MAX && e[name_len] != 0)
		name_len++;
	if (!ota_name_valid((const char *)e, name_len) || !all_zero(e + name_len, 32 - name_len))
		return 0;
	memcpy(guest->name, e, name_len);
	guest->highest_counter = ota_get_le32(e + 32);
	guest->newest = e[36];
	guest->trial_attempts = e[37];
	if ((guest->newest >= SLOT_STORE_SLOTS && guest->newest != SLOT_STORE_NO_SLOT) ||
	    !all_zero(e + 38, 2))
		return 0;
	for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
		if (!decode_slot(e + 40 + k * SLOT_ENTRY, &guest->slot[k], slot_bytes))
			return 0;
		trials += guest->slot[k].state == SLOT_TRIAL;
		confirmed += guest->slot[k].state == SLOT_CONFIRMED;
	}
	/* Attempts are counted only while a trial runs. */
	return trials <= 1 && confirmed <= 1 && (trials == 1 || guest->trial_attempts == 0);
}

/*
 * Reads one metadata copy into s->meta and checks it. Returns OTA_OK,
 * OTA_E_NO_STORE (absent or torn) or OTA_E_GEOMETRY (a valid-looking record
 * made for another device or build).
 */
static int read_copy(struct slot_store *s, unsigned copy, uint64_t *seq)
{
	uint32_t block = copy_block(s, copy);
	uint32_t size, capacity;
	int rc;

	rc = ota_blockdev_read(s->dev, block, s->meta, 1);
	if (rc != OTA_OK)
		return rc;
	if (memcmp(s->meta, META_MAGIC, 4) != 0 || ota_get_le16(s->meta + 4) != META_LAYOUT_VERSION)
		return OTA_E_NO_STORE;
	capacity = ota_get_le16(s->meta + 6);
	size = ota_get_le32(s->meta + 24);
	if (capacity == 0 || capacity > META_GUESTS_MAX || size != SLOT_STORE_RECORD_SIZE(capacity))
		return OTA_E_NO_STORE;
	if (ota_get_le32(s->meta + 16) != s->block_size || capacity > OTA_MAX_GUESTS)
		return OTA_E_GEOMETRY;
	if (blocks_for(size, s->block_size) > 1) {
		rc = ota_blockdev_read(s->dev, block + 1, s->meta + s->block_size,
				       blocks_for(size, s->block_size) - 1);
		if (rc != OTA_OK)
			return rc;
	}
	if (ota_get_le32(s->meta + 28) != record_crc(s->meta, size))
		return OTA_E_NO_STORE;
	*seq = ota_get_le64(s->meta + 8);
	return OTA_OK;
}

/* Decodes the record in s->meta (already CRC-checked) into s. */
static int load_record(struct slot_store *s)
{
	uint32_t capacity = ota_get_le16(s->meta + 6);
	uint32_t slot_blocks = ota_get_le32(s->meta + 20);
	uint32_t data_start = 2 * (META_AREA / s->block_size);
	uint32_t total = s->dev->ops->block_count(s->dev);

	if (slot_blocks == 0 || total < data_start ||
	    (uint64_t)capacity * SLOT_STORE_SLOTS * (slot_blocks + head_blocks(s->block_size)) >
		total - data_start)
		return OTA_E_GEOMETRY;
	if ((uint64_t)slot_blocks * s->block_size > SLOT_STORE_SLOT_SIZE_MAX)
		return OTA_E_GEOMETRY;
	s->guest_capacity = capacity;
	s->slot_blocks = slot_blocks;
	s->seq = ota_get_le64(s->meta + 8);
	for (uint32_t g = 0; g < OTA_MAX_GUESTS; g++) {
		struct slot_guest *guest = &s->guests[g];

		if (g >= capacity) {
			memset(guest, 0, sizeof(*guest));
			guest->newest = SLOT_STORE_NO_SLOT;
			continue;
		}
		if (!decode_guest(s->meta + SLOT_STORE_RECORD_HEADER + g * SLOT_STORE_GUEST_ENTRY,
				  guest, slot_blocks * s->block_size))
			return OTA_E_NO_STORE;
		for (uint32_t h = 0; h < g; h++) {
			if (guest->name[0] != '\0' && strcmp(guest->name, s->guests[h].name) == 0)
				return OTA_E_NO_STORE;
		}
	}
	return OTA_OK;
}

/* ---------------------------------------------------------------- commit */

static int store_usable(const struct slot_store *s)
{
	if (!s->is_open)
		return OTA_E_NO_STORE;
	return s->failed ? OTA_E_IO : OTA_OK;
}

/* Writes the in-memory state as the next record into the older copy. */
static int commit(struct slot_store *s)
{
	unsigned target = s->current_copy ^ 1u;
	uint32_t size;
	int rc;

	s->seq++;
	size = encode_record(s);
	rc = ota_blockdev_write(s->dev, copy_block(s, target), s->meta,
				blocks_for(size, s->block_size));
	if (rc == OTA_OK)
		rc = ota_blockdev_flush(s->dev);
	if (rc != OTA_OK) {
		/* Memory is ahead of the disk now; only a reopen tells which record won. */
		s->failed = 1;
		return OTA_E_IO;
	}
	s->current_copy = (uint8_t)target;
	return OTA_OK;
}

static int device_geometry(struct slot_store *s, struct ota_blockdev *dev)
{
	uint32_t bs = dev->ops->block_size(dev);

	memset(s, 0, offsetof(struct slot_store, meta));
	s->dev = dev;
	s->block_size = bs;
	s->install_guest = -1;
	if (bs < BLOCK_SIZE_MIN || bs > OTA_BLOCK_SIZE_MAX || (bs & (bs - 1)) != 0)
		return OTA_E_GEOMETRY;
	return OTA_OK;
}

int slot_store_format(struct slot_store *s, struct ota_blockdev *dev, uint32_t slot_size,
		      uint32_t guest_capacity)
{
	uint32_t total = dev->ops->block_count(dev);
	uint32_t data_start, fit;
	int rc = device_geometry(s, dev);

	if (rc != OTA_OK)
		return rc;
	data_start = 2 * (META_AREA / s->block_size);
	if (slot_size == 0 || slot_size % s->block_size != 0 ||
	    slot_size > SLOT_STORE_SLOT_SIZE_MAX || total <= data_start)
		return OTA_E_GEOMETRY;
	s->slot_blocks = slot_size / s->block_size;
	fit = (total - data_start) /
	      (SLOT_STORE_SLOTS * (s->slot_blocks + head_blocks(s->block_size)));
	if (fit > OTA_MAX_GUESTS)
		fit = OTA_MAX_GUESTS;
	if (guest_capacity == 0)
		guest_capacity = fit;
	if (guest_capacity == 0 || guest_capacity > fit)
		return OTA_E_GEOMETRY;
	s->guest_capacity = guest_capacity;
	for (unsigned g = 0; g < OTA_MAX_GUESTS; g++)
		s->guests[g].newest = SLOT_STORE_NO_SLOT;

	/* Kill copy 1 first: an older store's record there must not outrank ours. */
	memset(s->meta, 0, s->block_size);
	rc = ota_blockdev_write(dev, copy_block(s, 1), s->meta, 1);
	if (rc == OTA_OK)
		rc = ota_blockdev_flush(dev);
	if (rc != OTA_OK)
		return rc;
	s->is_open = 1;
	s->current_copy = 1; /* so the first commit lands in copy 0 */
	s->seq = 0;
	rc = commit(s);
	if (rc != OTA_OK)
		s->is_open = 0;
	return rc;
}

/* Frees the entry of a guest that has no image and never confirmed one. */
static void forget_if_unused(struct slot_guest *guest)
{
	for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
		if (guest->slot[k].state != SLOT_EMPTY)
			return;
	}
	if (guest->highest_counter == 0) {
		memset(guest, 0, sizeof(*guest));
		guest->newest = SLOT_STORE_NO_SLOT;
	}
}

int slot_store_open(struct slot_store *s, struct ota_blockdev *dev)
{
	uint64_t seq[2] = {0, 0};
	int rc[2], result;
	unsigned order[2];

	result = device_geometry(s, dev);
	if (result != OTA_OK)
		return result;
	for (unsigned c = 0; c < 2; c++) {
		rc[c] = read_copy(s, c, &seq[c]);
		if (rc[c] == OTA_E_IO)
			return OTA_E_IO;
	}
	if (rc[0] != OTA_OK && rc[1] != OTA_OK)
		return (rc[0] == OTA_E_GEOMETRY || rc[1] == OTA_E_GEOMETRY) ? OTA_E_GEOMETRY
									    : OTA_E_NO_STORE;
	/* Newest valid copy first; the other is the fallback. */
	order[0] = (rc[0] == OTA_OK && (rc[1] != OTA_OK || seq[0] >= seq[1])) ? 0 : 1;
	order[1] = order[0] ^ 1u;
	result = OTA_E_NO_STORE;
	for (unsigned i = 0; i < 2 && result != OTA_OK; i++) {
		unsigned copy = order[i];

		if (rc[copy] != OTA_OK)
			continue;
		/* s->meta holds whichever copy was read last: read this one again. */
		result = read_copy(s, copy, &seq[copy]);
		if (result == OTA_OK)
			result = load_record(s);
		if (result == OTA_OK)
			s->current_copy = (uint8_t)copy;
	}
	if (result != OTA_OK)
		return result;
	/* An install cut short by a reset is abandoned: its bytes are not trusted. */
	for (unsigned g = 0; g < s->guest_capacity; g++) {
		for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
			if (s->guests[g].slot[k].state == SLOT_INSTALLING)
				memset(&s->guests[g].slot[k], 0, sizeof(s->guests[g].slot[k]));
		}
		forget_if_unused(&s->guests[g]);
	}
	s->is_open = 1;
	return OTA_OK;
}

/* ---------------------------------------------------------------- guests */

static int find_guest(const struct slot_store *s, const char *name)
{
	for (unsigned g = 0; g < s->guest_capacity; g++) {
		if (s->guests[g].name[0] != '\0' &&
		    strncmp(s->guests[g].name, name, OTA_NAME_MAX + 1) == 0)
			return (int)g;
	}
	return -1;
}

static int find_state(const struct slot_guest *guest, unsigned state)
{
	for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
		if (guest->slot[k].state == state)
			return (int)k;
	}
	return -1;
}

const struct slot_guest *slot_store_guest(const struct slot_store *s, const char *name)
{
	int g = s->is_open ? find_guest(s, name) : -1;

	return g < 0 ? 0 : &s->guests[g];
}

int slot_store_boot_slot(const struct slot_store *s, const char *name)
{
	const struct slot_guest *guest = slot_store_guest(s, name);
	int k;

	if (!guest)
		return OTA_E_NO_GUEST;
	k = find_state(guest, SLOT_TRIAL);
	if (k < 0)
		k = find_state(guest, SLOT_CONFIRMED);
	return k < 0 ? OTA_E_STATE : k;
}

/* Usable store and a known guest: its index, or an error. */
static int lookup(struct slot_store *s, const char *name)
{
	int rc = store_usable(s);
	int g;

	if (rc != OTA_OK)
		return rc;
	g = find_guest(s, name);
	return g < 0 ? OTA_E_NO_GUEST : g;
}

/*
 * Which slot an install overwrites: never the CONFIRMED one; with no
 * confirmed image never a running trial; otherwise the less valuable slot
 * (empty, bad, then a ready image).
 */
static unsigned install_target(const struct slot_guest *guest)
{
	int confirmed = find_state(guest, SLOT_CONFIRMED);
	int trial = find_state(guest, SLOT_TRIAL);

	if (confirmed >= 0)
		return (unsigned)confirmed ^ 1u;
	if (trial >= 0)
		return (unsigned)trial ^ 1u;
	if (guest->slot[0].state == SLOT_READY && guest->slot[1].state != SLOT_READY)
		return 1;
	if (guest->slot[0].state == SLOT_READY && guest->newest == 0)
		return 1;
	return 0;
}

int slot_store_begin_install(struct slot_store *s, const struct ota_manifest *m)
{
	return slot_store_begin_install_signed(s, m, NULL, 0);
}

/* Writes the bundle head into the install target's head area (zero-padded). */
static int write_head(struct slot_store *s, const uint8_t *head, size_t head_len)
{
	uint32_t first = head_block(s, (unsigned)s->install_guest, s->install_slot);
	uint32_t count = head_blocks(s->block_size);

	for (uint32_t b = 0; b < count; b++) {
		size_t at = (size_t)b * s->block_size;
		size_t take = at < head_len ? head_len - at : 0;

		if (take > s->block_size)
			take = s->block_size;
		memset(s->bounce, 0, s->block_size);
		if (take > 0)
			memcpy(s->bounce, head + at, take);
		if (ota_blockdev_write(s->dev, first + b, s->bounce, 1) != OTA_OK) {
			s->failed = 1;
			return OTA_E_IO;
		}
	}
	return OTA_OK;
}

int slot_store_begin_install_signed(struct slot_store *s, const struct ota_manifest *m,
				    const uint8_t *head, size_t head_len)
{
	struct slot_guest *guest;
	struct slot_info *info;
	unsigned target;
	int rc = store_usable(s);
	int g;

	if (rc != OTA_OK)
		return rc;
	if (s->install_guest >= 0 || ota_manifest_validate(m) != OTA_OK)
		return s->install_guest >= 0 ? OTA_E_STATE : OTA_E_INVALID;
	if (head_len > HEAD_AREA_MIN || (head_len > 0 && !head))
		return OTA_E_INVALID;
	if ((uint64_t)m->image_size > (uint64_t)s->slot_blocks * s->block_size)
		return OTA_E_OVERSIZE;
	g = find_guest(s, m->name);
	if (g >= 0 && m->security_counter < s->guests[g].highest_counter)
		return OTA_E_ROLLBACK;
	if (g < 0) {
		for (unsigned i = 0; i < s->guest_capacity && g < 0; i++) {
			if (s->guests[i].name[0] == '\0')
				g = (int)i;
		}
		if (g < 0)
			return OTA_E_STORE_FULL;
		memcpy(s->guests[g].name, m->name, strlen(m->name) + 1);
	}
	guest = &s->guests[g];
	target = install_target(guest);
	if (guest->slot[target].state == SLOT_TRIAL)
		guest->trial_attempts = 0; /* that trial is given up */
	if (guest->newest == target)
		guest->newest = SLOT_STORE_NO_SLOT;
	info = &guest->slot[target];
	memset(info, 0, sizeof(*info));
	info->state = SLOT_INSTALLING;
	info->vcpus = (uint8_t)m->vcpus;
	memcpy(info->version, m->version, sizeof(info->version));
	info->security_counter = m->security_counter;
	info->image_size = m->image_size;
	info->memory_mib = m->memory_mib;
	memcpy(info->image_sha256, m->image_sha256, OTA_SHA256_SIZE);
	/* Durable before the first image byte overwrites what the slot held. */
	rc = commit(s);
	if (rc != OTA_OK)
		return rc;
	s->install_guest = (int8_t)g;
	s->install_slot = (uint8_t)target;
	s->install_written = 0;
	s->install_buffered = 0;
	/* Flushed with the image, before the record that calls the slot READY. */
	return write_head(s, head, head_len);
}

/* Writes io[0..bytes) (bytes a multiple of the block size) at the install position. */
static int write_io(struct slot_store *s, uint32_t bytes)
{
	uint32_t offset = s->install_written - s->install_buffered;
	uint32_t block =
	    slot_block(s, (unsigned)s->install_guest, s->install_slot) + offset / s->block_size;
	int rc = ota_blockdev_write(s->dev, block, s->io, bytes / s->block_size);

	if (rc != OTA_OK) {
		s->failed = 1;
		return OTA_E_IO;
	}
	s->install_buffered = 0;
	return OTA_OK;
}

int slot_store_write(struct slot_store *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t cap = io_capacity(s);
	int rc = store_usable(s);

	if (rc != OTA_OK)
		return rc;
	if (s->install_guest < 0)
		return OTA_E_STATE;
	if (len > s->guests[s->install_guest].slot[s->install_slot].image_size - s->install_written)
		return OTA_E_OVERSIZE;
	while (len > 0) {
		uint32_t take = cap - s->install_buffered;

		if (take > len)
			take = (uint32_t)len;
		memcpy(s->io + s->install_buffered, p, take);
		s->install_buffered += take;
		s->install_written += take;
		p += take;
		len -= take;
		if (s->install_buffered == cap) {
			rc = write_io(s, cap);
			if (rc != OTA_OK)
				return rc;
		}
	}
	return OTA_OK;
}

/* SHA-256 of the first size bytes of a slot, read through buf. */
static int hash_slot(struct slot_store *s, uint32_t first_block, uint32_t size, uint8_t *buf,
		     uint32_t buf_size, uint8_t digest[OTA_SHA256_SIZE])
{
	struct ota_sha256 sha;
	uint32_t chunk_blocks = buf_size / s->block_size;
	uint32_t done = 0;

	ota_sha256_init(&sha);
	while (done < size) {
		uint32_t blocks = blocks_for(size - done, s->block_size);
		uint32_t bytes;
		int rc;

		if (blocks > chunk_blocks)
			blocks = chunk_blocks;
		rc = ota_blockdev_read(s->dev, first_block + done / s->block_size, buf, blocks);
		if (rc != OTA_OK) {
			ota_sha256_final(&sha, digest);
			return OTA_E_IO;
		}
		bytes = blocks * s->block_size;
		if (bytes > size - done)
			bytes = size - done;
		ota_sha256_update(&sha, buf, bytes);
		done += bytes;
	}
	ota_sha256_final(&sha, digest);
	return OTA_OK;
}

/* Ends the install: the slot becomes state (READY or EMPTY), committed. */
static int end_install(struct slot_store *s, unsigned state)
{
	struct slot_guest *guest = &s->guests[s->install_guest];
	struct slot_info *info = &guest->slot[s->install_slot];

	if (state == SLOT_READY) {
		info->state = SLOT_READY;
		guest->newest = s->install_slot;
	} else {
		memset(info, 0, sizeof(*info));
		forget_if_unused(guest);
	}
	s->install_guest = -1;
	s->install_buffered = 0;
	return commit(s);
}

int slot_store_finish(struct slot_store *s)
{
	const struct slot_info *info;
	uint8_t digest[OTA_SHA256_SIZE];
	uint32_t first;
	int rc = store_usable(s);

	if (rc != OTA_OK)
		return rc;
	if (s->install_guest < 0)
		return OTA_E_STATE;
	info = &s->guests[s->install_guest].slot[s->install_slot];
	if (s->install_written != info->image_size) {
		rc = end_install(s, SLOT_EMPTY);
		return rc == OTA_OK ? OTA_E_TRUNCATED : rc;
	}
	if (s->install_buffered > 0) {
		uint32_t padded = blocks_for(s->install_buffered, s->block_size) * s->block_size;

		memset(s->io + s->install_buffered, 0, padded - s->install_buffered);
		rc = write_io(s, padded);
		if (rc != OTA_OK)
			return rc;
	}
	/* Image durable before the record that calls it READY. */
	rc = ota_blockdev_flush(s->dev);
	if (rc != OTA_OK) {
		s->failed = 1;
		return OTA_E_IO;
	}
	/* Check what the medium holds, not what we meant to write. */
	first = slot_block(s, (unsigned)s->install_guest, s->install_slot);
	rc = hash_slot(s, first, info->image_size, s->io, io_capacity(s), digest);
	if (rc != OTA_OK) {
		s->failed = 1;
		return rc;
	}
	if (ota_digest_compare(digest, info->image_sha256, OTA_SHA256_SIZE) != 0) {
		rc = end_install(s, SLOT_EMPTY);
		return rc == OTA_OK ? OTA_E_HASH_MISMATCH : rc;
	}
	return end_install(s, SLOT_READY);
}

int slot_store_abort(struct slot_store *s)
{
	int rc = store_usable(s);

	if (rc != OTA_OK)
		return rc;
	if (s->install_guest < 0)
		return OTA_OK;
	return end_install(s, SLOT_EMPTY);
}

/* ---------------------------------------------------------------- trial */

int slot_store_activate_slot(struct slot_store *s, const char *name, unsigned slot)
{
	int g = lookup(s, name);
	struct slot_guest *guest;

	if (g < 0)
		return g;
	guest = &s->guests[g];
	if (slot >= SLOT_STORE_SLOTS || guest->slot[slot].state != SLOT_READY ||
	    find_state(guest, SLOT_TRIAL) >= 0)
		return OTA_E_STATE;
	/* A confirm may have raised the counter since this image was installed. */
	if (guest->slot[slot].security_counter < guest->highest_counter)
		return OTA_E_ROLLBACK;
	guest->slot[slot].state = SLOT_TRIAL;
	guest->trial_attempts = 0;
	return commit(s);
}

int slot_store_activate(struct slot_store *s, const char *name)
{
	int g = lookup(s, name);

	if (g < 0)
		return g;
	if (s->guests[g].newest == SLOT_STORE_NO_SLOT)
		return OTA_E_STATE;
	return slot_store_activate_slot(s, name, s->guests[g].newest);
}

int slot_store_confirm(struct slot_store *s, const char *name)
{
	int g = lookup(s, name);
	struct slot_guest *guest;
	int trial, confirmed;

	if (g < 0)
		return g;
	guest = &s->guests[g];
	trial = find_state(guest, SLOT_TRIAL);
	if (trial < 0)
		return OTA_E_STATE;
	confirmed = find_state(guest, SLOT_CONFIRMED);
	if (confirmed >= 0)
		guest->slot[confirmed].state = SLOT_READY;
	guest->slot[trial].state = SLOT_CONFIRMED;
	guest->trial_attempts = 0;
	if (guest->slot[trial].security_counter > guest->highest_counter)
		guest->highest_counter = guest->slot[trial].security_counter;
	return commit(s);
}

int slot_store_confirm_ready(struct slot_store *s, const char *name)
{
	int g = lookup(s, name);
	struct slot_guest *guest;
	unsigned slot;
	int confirmed;

	if (g < 0)
		return g;
	guest = &s->guests[g];
	slot = guest->newest;
	if (slot >= SLOT_STORE_SLOTS || guest->slot[slot].state != SLOT_READY ||
	    find_state(guest, SLOT_TRIAL) >= 0)
		return OTA_E_STATE;
	if (guest->slot[slot].security_counter < guest->highest_counter)
		return OTA_E_ROLLBACK;
	confirmed = find_state(guest, SLOT_CONFIRMED);
	if (confirmed >= 0)
		guest->slot[confirmed].state = SLOT_READY;
	guest->slot[slot].state = SLOT_CONFIRMED;
	if (guest->slot[slot].security_counter > guest->highest_counter)
		guest->highest_counter = guest->slot[slot].security_counter;
	return commit(s);
}

/* Ends the guest's trial without confirming it: its slot becomes `state`. */
static int end_trial(struct slot_store *s, const char *name, uint8_t state)
{
	int g = lookup(s, name);
	int trial;

	if (g < 0)
		return g;
	trial = find_state(&s->guests[g], SLOT_TRIAL);
	if (trial < 0)
		return OTA_E_STATE;
	s->guests[g].slot[trial].state = state;
	s->guests[g].trial_attempts = 0;
	return commit(s);
}

int slot_store_revert(struct slot_store *s, const char *name)
{
	return end_trial(s, name, SLOT_BAD);
}

int slot_store_withdraw_trial(struct slot_store *s, const char *name)
{
	return end_trial(s, name, SLOT_READY);
}

int slot_store_count_attempt(struct slot_store *s, const char *name)
{
	int g = lookup(s, name);
	int rc;

	if (g < 0)
		return g;
	if (find_state(&s->guests[g], SLOT_TRIAL) < 0)
		return OTA_E_STATE;
	if (s->guests[g].trial_attempts == 0xff)
		return OTA_E_STATE;
	s->guests[g].trial_attempts++;
	rc = commit(s);
	return rc == OTA_OK ? s->guests[g].trial_attempts : rc;
}

/* ---------------------------------------------------------------- reading */

static int readable_slot(struct slot_store *s, const char *name, unsigned slot,
			 const struct slot_info **info)
{
	int g = lookup(s, name);
	unsigned state;

	if (g < 0)
		return g;
	if (slot >= SLOT_STORE_SLOTS)
		return OTA_E_INVALID;
	state = s->guests[g].slot[slot].state;
	if (state != SLOT_READY && state != SLOT_TRIAL && state != SLOT_CONFIRMED)
		return OTA_E_STATE;
	*info = &s->guests[g].slot[slot];
	return g;
}

int slot_store_check_slot(struct slot_store *s, const char *name, unsigned slot)
{
	const struct slot_info *info;
	uint8_t digest[OTA_SHA256_SIZE];
	int g = readable_slot(s, name, slot, &info);
	int rc;

	if (g < 0)
		return g;
	rc = hash_slot(s, slot_block(s, (unsigned)g, slot), info->image_size, s->bounce,
		       s->block_size, digest);
	if (rc != OTA_OK)
		return rc;
	return ota_digest_compare(digest, info->image_sha256, OTA_SHA256_SIZE) == 0
		   ? OTA_OK
		   : OTA_E_HASH_MISMATCH;
}

int slot_store_read_head(struct slot_store *s, const char *name, unsigned slot, void *buf,
			 size_t len)
{
	const struct slot_info *info;
	uint8_t *out = buf;
	int g = readable_slot(s, name, slot, &info);
	uint32_t first;

	if (g < 0)
		return g;
	if (len > HEAD_AREA_MIN)
		return OTA_E_INVALID;
	first = head_block(s, (unsigned)g, slot);
	for (uint32_t b = 0; (size_t)b * s->block_size < len; b++) {
		size_t at = (size_t)b * s->block_size;
		size_t take = len - at < s->block_size ? len - at : s->block_size;
		int rc = ota_blockdev_read(s->dev, first + b, s->bounce, 1);

		if (rc != OTA_OK)
			return rc;
		memcpy(out + at, s->bounce, take);
	}
	return OTA_OK;
}

int slot_store_read_image(struct slot_store *s, const char *name, unsigned slot, uint32_t offset,
			  void *buf, size_t len)
{
	const struct slot_info *info;
	uint8_t *out = buf;
	int g = readable_slot(s, name, slot, &info);
	uint32_t base;

	if (g < 0)
		return g;
	if (offset > info->image_size || len > info->image_size - offset)
		return OTA_E_INVALID;
	base = slot_block(s, (unsigned)g, slot);
	while (len > 0) {
		uint32_t block = offset / s->block_size, within = offset % s->block_size;
		uint32_t take;
		int rc;

		if (within == 0 && len >= s->block_size) {
			/* Whole blocks go straight into the caller's buffer. */
			uint32_t blocks = (uint32_t)(len / s->block_size);

			rc = ota_blockdev_read(s->dev, base + block, out, blocks);
			take = blocks * s->block_size;
		} else {
			rc = ota_blockdev_read(s->dev, base + block, s->bounce, 1);
			take = s->block_size - within;
			if (take > len)
				take = (uint32_t)len;
			if (rc == OTA_OK)
				memcpy(out, s->bounce + within, take);
		}
		if (rc != OTA_OK)
			return rc;
		out += take;
		offset += take;
		len -= take;
	}
	return OTA_OK;
}
