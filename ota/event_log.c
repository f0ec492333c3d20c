/* event_log.c: the event ring (event_log.h). */
#include "event_log.h"

#include "endian.h"
#include "ota.h"

#include <stddef.h>
#include <string.h>

#define EVENT_MAGIC    "FLEV"
#define EVENT_CRC_AT   76
#define BLOCK_SIZE_MIN 128u

_Static_assert(EVENT_CRC_AT + 4 == OTA_EVENT_RECORD_SIZE, "event record layout");
_Static_assert(36 + OTA_NAME_MAX + 1 <= EVENT_CRC_AT, "guest name fits the record");

static uint32_t crc32(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

const char *ota_event_type_name(unsigned type)
{
	static const char *const names[] = {"?",       "boot",   "format",  "seed",
					    "install", "switch", "attempt", "confirm",
					    "revert",  "refuse", "fallback"};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

const char *ota_event_reason_text(unsigned reason)
{
	static const char *const texts[] = {"",
					    "its attempts ran out",
					    "not confirmed before the board restarted",
					    "its image was refused",
					    "it failed its health gate",
					    "it crash-looped after confirmation",
					    "an operator rolled it back"};

	return reason < sizeof(texts) / sizeof(texts[0]) ? texts[reason] : "?";
}

static void encode(const struct ota_event *e, uint8_t *p, uint32_t block_size)
{
	memset(p, 0, block_size);
	memcpy(p, EVENT_MAGIC, 4);
	ota_put_le32(p + 4, e->seq);
	ota_put_le32(p + 8, e->boot);
	ota_put_le32(p + 12, e->uptime_ms);
	p[16] = e->type;
	p[17] = e->slot;
	ota_put_le16(p + 18, (uint16_t)e->status);
	ota_put_le32(p + 20, e->detail);
	for (int i = 0; i < 3; i++)
		ota_put_le32(p + 24 + 4 * i, e->version[i]);
	for (size_t i = 0; i < OTA_NAME_MAX && e->guest[i]; i++)
		p[36 + i] = (uint8_t)e->guest[i];
	p[68] = e->reason;
	ota_put_le32(p + EVENT_CRC_AT, crc32(p, EVENT_CRC_AT));
}

/* 1 when p holds a valid record (torn and blank blocks do not). */
static int decode(const uint8_t *p, struct ota_event *e)
{
	if (memcmp(p, EVENT_MAGIC, 4) != 0 ||
	    ota_get_le32(p + EVENT_CRC_AT) != crc32(p, EVENT_CRC_AT))
		return 0;
	memset(e, 0, sizeof(*e));
	e->seq = ota_get_le32(p + 4);
	e->boot = ota_get_le32(p + 8);
	e->uptime_ms = ota_get_le32(p + 12);
	e->type = p[16];
	e->slot = p[17];
	e->status = (int16_t)ota_get_le16(p + 18);
	e->detail = ota_get_le32(p + 20);
	for (int i = 0; i < 3; i++)
		e->version[i] = ota_get_le32(p + 24 + 4 * i);
	e->reason = p[68];
	memcpy(e->guest, p + 36, OTA_NAME_MAX);
	e->guest[OTA_NAME_MAX] = '\0';
	return e->seq != 0;
}

int ota_event_log_open(struct ota_event_log *log, struct ota_blockdev *dev)
{
	uint32_t bs = dev->ops->block_size(dev);
	struct ota_event e;

	memset(log, 0, offsetof(struct ota_event_log, buf));
	log->dev = dev;
	log->next_seq = 1;
	if (bs < BLOCK_SIZE_MIN || bs > OTA_BLOCK_SIZE_MAX || dev->ops->block_count(dev) == 0)
		return OTA_E_GEOMETRY;
	log->block_size = bs;
	log->capacity = dev->ops->block_count(dev);
	for (uint32_t b = 0; b < log->capacity; b++) {
		if (ota_blockdev_read(dev, b, log->buf, 1) != OTA_OK)
			return OTA_E_IO;
		/* A record is only valid where its seq puts it. */
		if (!decode(log->buf, &e) || e.seq % log->capacity != b)
			continue;
		log->valid++;
		if (e.seq >= log->next_seq)
			log->next_seq = e.seq + 1;
		if (e.boot > log->last_boot)
			log->last_boot = e.boot;
	}
	return OTA_OK;
}

int ota_event_log_append(struct ota_event_log *log, struct ota_event *e)
{
	if (!log->dev || log->capacity == 0)
		return OTA_E_NO_STORE;
	e->seq = log->next_seq;
	encode(e, log->buf, log->block_size);
	if (ota_blockdev_write(log->dev, e->seq % log->capacity, log->buf, 1) != OTA_OK ||
	    ota_blockdev_flush(log->dev) != OTA_OK)
		return OTA_E_IO;
	/* Skip 0 on wrap-around: seq 0 marks nothing written. */
	log->next_seq = e->seq + 1 ? e->seq + 1 : 1;
	if (e->boot > log->last_boot)
		log->last_boot = e->boot;
	return OTA_OK;
}

int ota_event_log_for_each(struct ota_event_log *log,
			   void (*fn)(const struct ota_event *e, void *arg), void *arg)
{
	uint32_t first = log->next_seq > log->capacity ? log->next_seq - log->capacity : 1;
	struct ota_event e;

	if (!log->dev || log->capacity == 0)
		return OTA_E_NO_STORE;
	for (uint32_t seq = first; seq < log->next_seq; seq++) {
		if (ota_blockdev_read(log->dev, seq % log->capacity, log->buf, 1) != OTA_OK)
			return OTA_E_IO;
		if (decode(log->buf, &e) && e.seq == seq)
			fn(&e, arg);
	}
	return OTA_OK;
}
