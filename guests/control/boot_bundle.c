/*
 * Boot bundle parser (format in boot_bundle.h). Every offset and size is
 * checked against the module's size before anything is read through it.
 */
#include <string.h>

#include "boot_bundle.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* [offset, offset + length) inside [0, size)? */
static int in_bounds(uint32_t offset, uint32_t length, size_t size)
{
	return offset <= size && length <= size - offset;
}

int boot_bundle_parse(const uint8_t *data, size_t size, struct boot_entry *entries, int max,
		      const char **error)
{
	if (size < BOOT_BUNDLE_HEADER_SIZE || memcmp(data, BOOT_BUNDLE_MAGIC, 8) != 0) {
		*error = "not a boot bundle (magic FLOTBOOT missing)";
		return -1;
	}
	if (le32(data + 8) != BOOT_BUNDLE_VERSION) {
		*error = "unsupported boot bundle format version";
		return -1;
	}
	uint32_t count = le32(data + 12);
	uint32_t total = le32(data + 16);
	if (total > size) {
		*error = "boot bundle truncated (shorter than its header says)";
		return -1;
	}
	if (count == 0 || count > BOOT_BUNDLE_ENTRIES_MAX || (int)count > max) {
		*error = "boot bundle entry count out of range";
		return -1;
	}
	if (!in_bounds(BOOT_BUNDLE_HEADER_SIZE, count * BOOT_BUNDLE_ENTRY_SIZE, total)) {
		*error = "boot bundle entry table runs past the end of the bundle";
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = data + BOOT_BUNDLE_HEADER_SIZE + i * BOOT_BUNDLE_ENTRY_SIZE;
		struct boot_entry *out = &entries[i];
		memset(out, 0, sizeof(*out));
		if (memchr(e, 0, 32) == NULL || e[0] == 0) {
			*error = "boot bundle entry name is empty or not terminated";
			return -1;
		}
		memcpy(out->name, e, 32);
		uint32_t offset = le32(e + 32), length = le32(e + 36);
		uint32_t args_offset = le32(e + 48), args_length = le32(e + 52);
		if (!in_bounds(offset, length, total) ||
		    !in_bounds(args_offset, args_length, total)) {
			*error = "boot bundle entry points outside the bundle";
			return -1;
		}
		if (args_length > BOOT_BUNDLE_BOOTARGS_MAX) {
			*error = "boot bundle boot arguments longer than 255 bytes";
			return -1;
		}
		out->bundle = data + offset;
		out->bundle_size = length;
		out->memory_mb = le32(e + 40);
		out->vcpus = le32(e + 44);
		out->pcpu_mask = le32(e + 56);
		out->flags = le16(e + 62);
		memcpy(out->bootargs, data + args_offset, args_length);
		out->bootargs[args_length] = '\0';
		if (strlen(out->bootargs) != args_length) {
			*error = "boot bundle boot arguments contain a NUL byte";
			return -1;
		}
		uint32_t nics_length = le16(e + 60);
		if (nics_length > 0) {
			/* After the bootargs and their NUL (args_length <= 255: no overflow). */
			if (nics_length > BOOT_BUNDLE_NICS_MAX ||
			    !in_bounds(args_offset + args_length + 1, nics_length, total)) {
				*error =
				    "boot bundle NIC list out of bounds or longer than 127 bytes";
				return -1;
			}
			memcpy(out->nics, data + args_offset + args_length + 1, nics_length);
			out->nics[nics_length] = '\0';
			if (strlen(out->nics) != nics_length) {
				*error = "boot bundle NIC list contains a NUL byte";
				return -1;
			}
		}
		if (memchr(e + 64, 0, BOOT_BUNDLE_PROBE_MAX + 1) == NULL) {
			*error = "boot bundle probe is longer than 47 bytes (not terminated)";
			return -1;
		}
		memcpy(out->probe, e + 64, BOOT_BUNDLE_PROBE_MAX + 1);
		out->ready_timeout_s = le16(e + 112);
		if (out->ready_timeout_s == 0 || out->ready_timeout_s > BOOT_READY_MAX_S) {
			*error = "boot bundle ready timeout out of range (1..3600 s)";
			return -1;
		}
	}
	return (int)count;
}
