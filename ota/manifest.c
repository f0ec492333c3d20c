/* manifest.c: TLV encoding and validation of the bundle manifest. */
#include "manifest.h"

#include "endian.h"
#include "ota.h"

#include <string.h>

static int name_char_ok(char c, int first)
{
	if (c >= 'a' && c <= 'z')
		return 1;
	if (first)
		return 0;
	return (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int ota_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > OTA_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!name_char_ok(s[i], i == 0))
			return 0;
	}
	return 1;
}

/* 1 when list[0..len) is 1..max_count valid names separated by commas. */
static int name_list_valid(const char *list, size_t len, size_t max_len, size_t max_count)
{
	size_t start = 0, count = 0;

	if (len == 0 || len > max_len)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && list[i] != ',')
			continue;
		if (!ota_name_valid(list + start, i - start) || ++count > max_count)
			return 0;
		start = i + 1;
	}
	return 1;
}

static int boards_valid(const char *list, size_t len)
{
	return name_list_valid(list, len, OTA_BOARDS_MAX, OTA_BOARD_COUNT_MAX);
}

/* NIC names are unique within a manifest: the plan maps each to one vNIC. */
static int nics_valid(const char *list, size_t len)
{
	size_t start[OTA_NICS_MAX], length[OTA_NICS_MAX], count = 0, from = 0;

	if (!name_list_valid(list, len, OTA_NICS_LIST_MAX, OTA_NICS_MAX))
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && list[i] != ',')
			continue;
		for (size_t k = 0; k < count; k++)
			if (length[k] == i - from &&
			    memcmp(list + start[k], list + from, i - from) == 0)
				return 0;
		start[count] = from;
		length[count++] = i - from;
		from = i + 1;
	}
	return 1;
}

static size_t bounded_strlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n] != '\0')
		n++;
	return n;
}

int ota_manifest_validate(const struct ota_manifest *m)
{
	size_t name_len = bounded_strlen(m->name, OTA_NAME_MAX);
	size_t boards_len = bounded_strlen(m->boards, OTA_BOARDS_MAX);
	size_t nics_len = bounded_strlen(m->nics, OTA_NICS_LIST_MAX);

	if (!ota_name_valid(m->name, name_len) || !boards_valid(m->boards, boards_len))
		return OTA_E_INVALID;
	if (nics_len > OTA_NICS_LIST_MAX || (nics_len > 0 && !nics_valid(m->nics, nics_len)))
		return OTA_E_INVALID;
	if (m->image_size == 0 || m->memory_mib == 0 || m->memory_mib > OTA_MEMORY_MIB_MAX)
		return OTA_E_INVALID;
	if (m->vcpus == 0 || m->vcpus > OTA_VCPUS_MAX)
		return OTA_E_INVALID;
	return OTA_OK;
}

/* 1 when name is one of the comma-separated list. */
static int list_has(const char *list, const char *name)
{
	size_t want = bounded_strlen(name, OTA_NAME_MAX + 1);
	const char *p = list;

	while (*p != '\0') {
		size_t n = 0;

		while (p[n] != '\0' && p[n] != ',')
			n++;
		if (n == want && memcmp(p, name, n) == 0)
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int ota_manifest_has_board(const struct ota_manifest *m, const char *board)
{
	return list_has(m->boards, board);
}

int ota_manifest_has_nic(const struct ota_manifest *m, const char *name)
{
	return list_has(m->nics, name);
}

unsigned ota_manifest_nic_count(const struct ota_manifest *m)
{
	unsigned count = m->nics[0] != '\0';
	for (const char *p = m->nics; *p; p++)
		count += *p == ',';
	return count;
}

int ota_manifest_nic(const struct ota_manifest *m, unsigned index, char *name)
{
	const char *p = m->nics;
	for (unsigned i = 0; i < index && *p; i++) {
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	size_t n = strcspn(p, ",");
	if (n == 0 || n > OTA_NAME_MAX)
		return -1;
	memcpy(name, p, n);
	name[n] = '\0';
	return 0;
}

void ota_key_id(const uint8_t pubkey[OTA_P256_PUBKEY_SIZE], uint8_t key_id[OTA_KEY_ID_SIZE])
{
	uint8_t digest[OTA_SHA256_SIZE];

	ota_sha256(pubkey, OTA_P256_PUBKEY_SIZE, digest);
	memcpy(key_id, digest, OTA_KEY_ID_SIZE);
}

/* ---------------------------------------------------------------- decode */

/* Exact value length of each known tag; 0 = variable (a string). */
static const uint8_t tag_sizes[OTA_TAG_LAST_KNOWN + 1] = {
    [OTA_TAG_VERSION] = 12,      [OTA_TAG_SECURITY_COUNTER] = 4, [OTA_TAG_IMAGE_SIZE] = 4,
    [OTA_TAG_IMAGE_SHA256] = 32, [OTA_TAG_MEMORY_MIB] = 4,       [OTA_TAG_VCPUS] = 1,
    [OTA_TAG_KEY_ID] = 8,        [OTA_TAG_BUILD_TIME] = 8,
};

static void decode_field(struct ota_manifest *m, unsigned tag, const uint8_t *v, size_t len)
{
	switch (tag) {
	case OTA_TAG_NAME:
		memcpy(m->name, v, len);
		m->name[len] = '\0';
		break;
	case OTA_TAG_VERSION:
		for (int i = 0; i < 3; i++)
			m->version[i] = ota_get_le32(v + 4 * i);
		break;
	case OTA_TAG_SECURITY_COUNTER: m->security_counter = ota_get_le32(v); break;
	case OTA_TAG_BOARDS:
		memcpy(m->boards, v, len);
		m->boards[len] = '\0';
		break;
	case OTA_TAG_IMAGE_SIZE: m->image_size = ota_get_le32(v); break;
	case OTA_TAG_IMAGE_SHA256: memcpy(m->image_sha256, v, OTA_SHA256_SIZE); break;
	case OTA_TAG_MEMORY_MIB: m->memory_mib = ota_get_le32(v); break;
	case OTA_TAG_VCPUS: m->vcpus = v[0]; break;
	case OTA_TAG_KEY_ID: memcpy(m->key_id, v, OTA_KEY_ID_SIZE); break;
	case OTA_TAG_BUILD_TIME: m->build_time = ota_get_le64(v); break;
	case OTA_TAG_NICS:
		memcpy(m->nics, v, len);
		m->nics[len] = '\0';
		break;
	default: break;
	}
}

int ota_manifest_decode(const uint8_t *buf, size_t len, struct ota_manifest *m)
{
	unsigned last_tag = 0;
	uint32_t seen = 0;
	size_t pos = 0;

	memset(m, 0, sizeof(*m));
	if (len < OTA_MANIFEST_SIZE_MIN || len > OTA_MANIFEST_SIZE_MAX)
		return OTA_E_MALFORMED_MANIFEST;
	while (pos < len) {
		unsigned tag, vlen;

		if (len - pos < 2)
			return OTA_E_MALFORMED_MANIFEST;
		tag = buf[pos];
		vlen = buf[pos + 1];
		pos += 2;
		/* Strictly ascending tags: no duplicates, one encoding per manifest. */
		if (tag <= last_tag || vlen > len - pos)
			return OTA_E_MALFORMED_MANIFEST;
		last_tag = tag;
		if (tag >= OTA_TAG_FIRST_OPTIONAL) {
			pos += vlen;
			continue;
		}
		if (tag > OTA_TAG_LAST_KNOWN)
			return OTA_E_MALFORMED_MANIFEST;
		if (tag_sizes[tag] != 0 && vlen != tag_sizes[tag])
			return OTA_E_MALFORMED_MANIFEST;
		/* Strings are checked raw: an embedded NUL must not shorten them. */
		if (tag == OTA_TAG_NAME && !ota_name_valid((const char *)buf + pos, vlen))
			return OTA_E_MALFORMED_MANIFEST;
		if (tag == OTA_TAG_BOARDS && !boards_valid((const char *)buf + pos, vlen))
			return OTA_E_MALFORMED_MANIFEST;
		if (tag == OTA_TAG_NICS && !nics_valid((const char *)buf + pos, vlen))
			return OTA_E_MALFORMED_MANIFEST;
		decode_field(m, tag, buf + pos, vlen);
		seen |= 1u << tag;
		pos += vlen;
	}
	/* Every tag up to the build time is required; NICs are optional. */
	const uint32_t required = (1u << (OTA_TAG_LAST_REQUIRED + 1)) - 2u;
	if ((seen & required) != required)
		return OTA_E_MALFORMED_MANIFEST;
	if (ota_manifest_validate(m) != OTA_OK)
		return OTA_E_MALFORMED_MANIFEST;
	return OTA_OK;
}

/* ---------------------------------------------------------------- encode */

struct writer {
	uint8_t *buf;
	size_t cap, len;
	int overflow;
};

static uint8_t *put_tag(struct writer *w, unsigned tag, size_t vlen)
{
	uint8_t *v;

	if (w->overflow || w->cap - w->len < 2 + vlen) {
		w->overflow = 1;
		return 0;
	}
	w->buf[w->len] = (uint8_t)tag;
	w->buf[w->len + 1] = (uint8_t)vlen;
	v = w->buf + w->len + 2;
	w->len += 2 + vlen;
	return v;
}

static void put_bytes(struct writer *w, unsigned tag, const void *data, size_t len)
{
	uint8_t *v = put_tag(w, tag, len);

	if (v)
		memcpy(v, data, len);
}

static void put_u32(struct writer *w, unsigned tag, uint32_t value)
{
	uint8_t *v = put_tag(w, tag, 4);

	if (v)
		ota_put_le32(v, value);
}

int ota_manifest_encode(const struct ota_manifest *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct writer w = {buf, cap > OTA_MANIFEST_SIZE_MAX ? OTA_MANIFEST_SIZE_MAX : cap, 0, 0};
	uint8_t *v;

	if (ota_manifest_validate(m) != OTA_OK)
		return OTA_E_INVALID;
	put_bytes(&w, OTA_TAG_NAME, m->name, strlen(m->name));
	if ((v = put_tag(&w, OTA_TAG_VERSION, 12)) != 0) {
		for (int i = 0; i < 3; i++)
			ota_put_le32(v + 4 * i, m->version[i]);
	}
	put_u32(&w, OTA_TAG_SECURITY_COUNTER, m->security_counter);
	put_bytes(&w, OTA_TAG_BOARDS, m->boards, strlen(m->boards));
	put_u32(&w, OTA_TAG_IMAGE_SIZE, m->image_size);
	put_bytes(&w, OTA_TAG_IMAGE_SHA256, m->image_sha256, OTA_SHA256_SIZE);
	put_u32(&w, OTA_TAG_MEMORY_MIB, m->memory_mib);
	if ((v = put_tag(&w, OTA_TAG_VCPUS, 1)) != 0)
		v[0] = (uint8_t)m->vcpus;
	put_bytes(&w, OTA_TAG_KEY_ID, m->key_id, OTA_KEY_ID_SIZE);
	if ((v = put_tag(&w, OTA_TAG_BUILD_TIME, 8)) != 0)
		ota_put_le64(v, m->build_time);
	/* Only when asked for: a bundle without NICs stays byte-identical to
	 * what older signers made, and older devices still accept it. */
	if (m->nics[0] != '\0')
		put_bytes(&w, OTA_TAG_NICS, m->nics, strlen(m->nics));
	if (w.overflow)
		return OTA_E_OVERSIZE;
	*len = w.len;
	return OTA_OK;
}
