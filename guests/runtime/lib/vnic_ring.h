/*
 * vnic_ring: one direction of a Flotilla virtual NIC, a single-producer
 * single-consumer ring of Ethernet frames in memory shared between two
 * domains (docs/vnic-ring.md). Portable: no platform headers; used by the
 * guest runtime (xen/net.c), the control domain (control/vnic.c) and host
 * tests.
 *
 * Each side keeps its own index privately and only publishes it; it reads
 * the other side's index once per operation and validates it. The peer may
 * be malicious or dead: nothing read from shared memory is trusted, nothing
 * here waits for the peer, and a ring whose indices make no sense is marked
 * broken (sticky) and left alone.
 *
 *   producer: vnic_ring_put() ... vnic_ring_push() -> notify the consumer?
 *   consumer: vnic_ring_get() ... vnic_ring_release() -> notify the producer?
 *             vnic_ring_arm() before sleeping (false: more arrived, go on)
 */
#ifndef FLOTILLA_VNIC_RING_H
#define FLOTILLA_VNIC_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNIC_RING_MAGIC       0x31524e56u /* "VNR1" little-endian */
#define VNIC_RING_HEADER_SIZE 64u
#define VNIC_RING_SLOT_SIZE   1536u
#define VNIC_RING_FRAME_MIN   14u   /* an Ethernet II header */
#define VNIC_RING_FRAME_MAX   1514u /* without FCS */
#define VNIC_RING_SLOTS_MIN   2u
#define VNIC_RING_SLOTS_MAX   256u

/* The shared header at offset 0 of a ring (little-endian, both sides ARM).
 * prod and cons_event are written by the producer only, cons and
 * prod_event by the consumer only. Indices are free-running uint32. */
struct vnic_ring_header {
	uint32_t prod;       /* next slot the producer will fill */
	uint32_t prod_event; /* consumer: "notify me when prod passes this" */
	uint32_t cons;       /* next slot the consumer will read */
	uint32_t cons_event; /* producer: "notify me when cons passes this" */
	uint32_t magic;      /* VNIC_RING_MAGIC, written by the control domain */
	uint32_t slot_count; /* informational copy of the device tree's value */
	uint32_t reserved[10];
};

/* A slot: a 16-bit length, 16 bits of zero, then the frame. */
struct vnic_ring_slot {
	uint16_t len;
	uint16_t flags; /* 0; reserved */
	uint8_t frame[VNIC_RING_SLOT_SIZE - 4];
};

enum vnic_ring_result {
	VNIC_RING_OK = 0,
	VNIC_RING_EMPTY,  /* consumer: nothing to read */
	VNIC_RING_FULL,   /* producer: no free slot; the consumer will notify */
	VNIC_RING_EINVAL, /* a bad argument (length, buffer) */
	VNIC_RING_BROKEN, /* the peer's index is impossible: ring abandoned */
};

struct vnic_ring_stats {
	uint64_t frames;    /* put or got */
	uint64_t bytes;     /* frame bytes put or got */
	uint64_t full;      /* producer: put refused for lack of space */
	uint64_t malformed; /* consumer: slots skipped for a bad length */
};

/* One side's private view of a ring. */
struct vnic_ring {
	struct vnic_ring_header *header;
	struct vnic_ring_slot *slots;
	uint32_t slot_count; /* power of two, from our own configuration */
	uint32_t prod;       /* producer: next slot to fill (private) */
	uint32_t cons;       /* consumer: next slot to read (private) */
	uint32_t published;  /* our index as last published */
	bool broken;
	struct vnic_ring_stats stats;
};

/* vnic_ring.c */
/* Bytes of shared memory a ring of slot_count slots needs. */
size_t vnic_ring_bytes(uint32_t slot_count);
/* True for a power of two in VNIC_RING_SLOTS_MIN..MAX. */
bool vnic_ring_slot_count_valid(uint32_t slot_count);
/* The control domain, before either side uses the ring: zero it, write the
 * magic and ask for a notification on the first frame. */
int vnic_ring_format(void *memory, size_t size, uint32_t slot_count);
/* Attach one side to formatted memory. The slot count is the caller's own
 * (device tree or build configuration), never the header's. Fails if the
 * memory is too small or the header's magic or slot count disagree. */
int vnic_ring_attach(struct vnic_ring *ring, void *memory, size_t size, uint32_t slot_count);

/* Producer. */
enum vnic_ring_result vnic_ring_put(struct vnic_ring *ring, const void *frame, size_t len);
/* Publish what was put; true if the consumer asked to be notified. */
bool vnic_ring_push(struct vnic_ring *ring);
/* True when no slot is free (false when broken); then, as a refused put
 * does, asks the consumer to notify when half the ring is free, so a
 * producer that waits for space instead of putting is woken too. */
bool vnic_ring_full(struct vnic_ring *ring);
/* Free slots as far as the producer knows (0 when broken). */
uint32_t vnic_ring_free_slots(struct vnic_ring *ring);

/* Consumer. Copies the next valid frame into buf (size >= its length);
 * slots with an impossible length are skipped and counted as malformed. */
enum vnic_ring_result vnic_ring_get(struct vnic_ring *ring, void *buf, size_t size, size_t *len);
/* Publish what was read; true if the producer waits for space. */
bool vnic_ring_release(struct vnic_ring *ring);
/* Before sleeping: ask for a notification on the next frame. Returns true
 * when the ring is still empty (sleep), false when frames arrived in the
 * meantime (consume them first). */
bool vnic_ring_arm(struct vnic_ring *ring);
/* Frames waiting, as far as the consumer knows (0 when broken). */
uint32_t vnic_ring_pending(struct vnic_ring *ring);

#endif
