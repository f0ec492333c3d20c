/*
 * manifest.h: the signed description of a guest image inside a bundle.
 *
 * Encoded as TLV records (tag u8, length u8, value), tags strictly
 * ascending, so each manifest has exactly one encoding. Tags 0x01..0x7f are
 * critical: an unknown one is refused, because its meaning might restrict
 * where the image may run. Tags 0x80..0xff are extensions an older device
 * may skip. Layout and limits: docs/bundle-format.md.
 */
#ifndef OTA_MANIFEST_H
#define OTA_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define OTA_MANIFEST_SIZE_MIN 16
#define OTA_MANIFEST_SIZE_MAX 512
#define OTA_NAME_MAX          31  /* guest and board names, bytes, no NUL */
#define OTA_BOARDS_MAX        127 /* the whole comma-separated board list */
#define OTA_BOARD_COUNT_MAX   4   /* boards one bundle may name */
#define OTA_KEY_ID_SIZE       8   /* first 8 bytes of SHA-256(public point) */
#define OTA_MEMORY_MIB_MAX    65535
#define OTA_VCPUS_MAX         64
#define OTA_NICS_MAX          8   /* network interfaces one guest may ask for */
#define OTA_NICS_LIST_MAX     127 /* the whole comma-separated NIC list */

enum ota_manifest_tag {
	OTA_TAG_NAME = 0x01,
	OTA_TAG_VERSION = 0x02,
	OTA_TAG_SECURITY_COUNTER = 0x03,
	OTA_TAG_BOARDS = 0x04,
	OTA_TAG_IMAGE_SIZE = 0x05,
	OTA_TAG_IMAGE_SHA256 = 0x06,
	OTA_TAG_MEMORY_MIB = 0x07,
	OTA_TAG_VCPUS = 0x08,
	OTA_TAG_KEY_ID = 0x09,
	OTA_TAG_BUILD_TIME = 0x0a,
	OTA_TAG_NICS = 0x0b, /* critical but optional: absent = no network */
	OTA_TAG_LAST_REQUIRED = OTA_TAG_BUILD_TIME,
	OTA_TAG_LAST_KNOWN = OTA_TAG_NICS,
	OTA_TAG_FIRST_OPTIONAL = 0x80,
};

struct ota_manifest {
	char name[OTA_NAME_MAX + 1];     /* [a-z][a-z0-9_-]*, NUL-terminated */
	uint32_t version[3];             /* major, minor, patch */
	uint32_t security_counter;       /* anti-rollback: never accepted lower */
	char boards[OTA_BOARDS_MAX + 1]; /* "orangepi-pc,cubieboard2" */
	uint32_t image_size;             /* bytes, > 0 */
	uint8_t image_sha256[OTA_SHA256_SIZE];
	uint32_t memory_mib; /* guest RAM, 1..OTA_MEMORY_MIB_MAX */
	uint32_t vcpus;      /* 1..OTA_VCPUS_MAX */
	uint8_t key_id[OTA_KEY_ID_SIZE];
	uint64_t build_time; /* seconds since 1970-01-01 UTC */
	/* Network interfaces the guest needs, by name ("lan,mgmt"), "" for
	 * none. A device that cannot give them must not run the image. */
	char nics[OTA_NICS_LIST_MAX + 1];
};

/* Decodes and validates; OTA_OK or OTA_E_MALFORMED_MANIFEST. */
int ota_manifest_decode(const uint8_t *buf, size_t len, struct ota_manifest *m);

/* Validates m and encodes it; OTA_OK, OTA_E_INVALID (bad field) or
 * OTA_E_OVERSIZE (cap too small). */
int ota_manifest_encode(const struct ota_manifest *m, uint8_t *buf, size_t cap, size_t *len);

/* OTA_OK when every field is within its limits, else OTA_E_INVALID. */
int ota_manifest_validate(const struct ota_manifest *m);

/* 1 when board is one of m->boards. */
int ota_manifest_has_board(const struct ota_manifest *m, const char *board);

/* Number of NICs the manifest asks for, and whether it asks for name. */
unsigned ota_manifest_nic_count(const struct ota_manifest *m);
int ota_manifest_has_nic(const struct ota_manifest *m, const char *name);
/* The index-th NIC name into name[OTA_NAME_MAX + 1]; 0 or -1 (no such). */
int ota_manifest_nic(const struct ota_manifest *m, unsigned index, char *name);

/* 1 when s[0..len) is a valid guest or board name. */
int ota_name_valid(const char *s, size_t len);

/* Key id of a public point, as carried in manifests. */
void ota_key_id(const uint8_t pubkey[OTA_P256_PUBKEY_SIZE], uint8_t key_id[OTA_KEY_ID_SIZE]);

#endif
