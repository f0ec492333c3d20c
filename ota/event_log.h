/*
 * event_log.h: a fixed-size ring of events on a block device, kept beside
 * the slot store so that a board can say later what it did at boot: which
 * slot it switched to, what it reverted or refused and why, when it seeded
 * or formatted the store.
 *
 * One record per block, at block (seq mod capacity): appending writes one
 * block and flushes, so a power cut can tear only the record being written.
 * Each record carries a CRC-32; a torn or blank record is skipped when the
 * log is read, and open() continues after the newest valid one. Nothing is
 * ever erased: the oldest records are overwritten once the ring is full.
 * The log needs no format: a zeroed area is an empty log.
 */
#ifndef OTA_EVENT_LOG_H
#define OTA_EVENT_LOG_H

#include <stdint.h>

#include "blockdev.h"
#include "manifest.h"
#include "ota_config.h"

#define OTA_EVENT_RECORD_SIZE 80 /* bytes used of each block */

enum ota_event_type {
	OTA_EVENT_BOOT = 1,      /* the control domain opened the store; detail = 0 */
	OTA_EVENT_FORMAT = 2,    /* a blank or unreadable store was formatted; status why */
	OTA_EVENT_SEED = 3,      /* a guest's image was installed from the boot bundle */
	OTA_EVENT_INSTALL = 4,   /* a new image was installed as TRIAL */
	OTA_EVENT_SWITCH = 5,    /* the guest now runs another slot than at its last run */
	OTA_EVENT_ATTEMPT = 6,   /* a trial attempt was counted; detail = attempt */
	OTA_EVENT_CONFIRM = 7,   /* a trial was confirmed */
	OTA_EVENT_REVERT = 8,    /* a trial was reverted; detail = attempts it had */
	OTA_EVENT_REFUSE = 9,    /* an image was refused; status = why, detail = source */
	OTA_EVENT_FALLBACK = 10, /* the store was unusable: the boot bundle ran */
};

/* detail of OTA_EVENT_REFUSE: where the refused image came from. */
enum ota_event_source {
	OTA_EVENT_FROM_STORE = 0,
	OTA_EVENT_FROM_BOOT_BUNDLE = 1,
	OTA_EVENT_FROM_NETWORK = 2, /* pushed over the device API */
};

/* Why a trial was reverted (OTA_EVENT_REVERT's reason). */
enum ota_event_reason {
	OTA_REASON_NONE = 0,
	OTA_REASON_ATTEMPTS = 1,    /* its attempts ran out (it kept crashing) */
	OTA_REASON_UNCONFIRMED = 2, /* not confirmed before the board restarted */
	OTA_REASON_REFUSED = 3,     /* its image was refused (status says why) */
	OTA_REASON_UNHEALTHY = 4,   /* it failed its health gate during a hot swap */
	OTA_REASON_CRASH_LOOP = 5,  /* it crash-looped after confirmation: the previous came back */
	OTA_REASON_OPERATOR = 6,    /* an operator asked for the previous version */
};

struct ota_event {
	uint32_t seq;       /* set by append */
	uint32_t boot;      /* boot counter of the board when it happened */
	uint32_t uptime_ms; /* time since that boot */
	uint8_t type;       /* enum ota_event_type */
	uint8_t slot;       /* 0 = A, 1 = B, 0xff = none */
	int16_t status;     /* an enum ota_status (0 = OK) */
	uint32_t detail;
	uint8_t reason; /* enum ota_event_reason */
	uint32_t version[3];
	char guest[OTA_NAME_MAX + 1]; /* "" = the board as a whole */
};

struct ota_event_log {
	struct ota_blockdev *dev;
	uint32_t block_size;
	uint32_t capacity;  /* records (blocks) */
	uint32_t next_seq;  /* seq of the next record; 1 for an empty log */
	uint32_t last_boot; /* highest boot counter seen */
	uint32_t valid;     /* valid records found by open() */
	uint8_t buf[OTA_BLOCK_SIZE_MAX];
};

/* Scans the whole device. OTA_E_GEOMETRY for blocks under 128 bytes or over
 * OTA_BLOCK_SIZE_MAX, OTA_E_IO when a read fails. */
int ota_event_log_open(struct ota_event_log *log, struct ota_blockdev *dev);
/* Appends e (its seq is assigned) and flushes. */
int ota_event_log_append(struct ota_event_log *log, struct ota_event *e);
/* Calls fn for every valid record, oldest first. Returns OTA_OK or OTA_E_IO. */
int ota_event_log_for_each(struct ota_event_log *log,
			   void (*fn)(const struct ota_event *e, void *arg), void *arg);

const char *ota_event_type_name(unsigned type);
/* "attempts ran out", ...; "" for OTA_REASON_NONE. */
const char *ota_event_reason_text(unsigned reason);

#endif
