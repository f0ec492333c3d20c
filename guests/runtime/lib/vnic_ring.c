/*
 * vnic_ring: the shared-memory frame ring of a virtual NIC (vnic_ring.h,
 * docs/vnic-ring.md).
 *
 * Ordering. Indices are read with acquire and published with release, so a
 * slot's contents are visible before the index that hands it over, and a
 * slot is read completely before the index that frees it. A full barrier
 * separates "write my event index" from "re-read the peer's index": without
 * it both sides could decide the other will notify, and sleep forever (the
 * lost wake-up that Xen's RING_FINAL_CHECK_FOR_* guards against). The GCC
 * builtins emit DMB ISH on ARMv7, which orders accesses between CPUs of the
 * inner-shareable domain - every CPU any domain runs on.
 *
 * Distrust. Our own index lives in struct vnic_ring and is only ever
 * written to shared memory, never read back. The peer's index is read once
 * per call and checked: 0 <= prod - cons <= slot_count, else the ring is
 * broken for good. A slot's length is read once and checked before any
 * copy; the frame bytes may change while we copy them - that only damages
 * the peer's own frame.
 */
#include <string.h>

#include "vnic_ring.h"

static uint32_t load_acquire(const uint32_t *index)
{
	return __atomic_load_n(index, __ATOMIC_ACQUIRE);
}

static void store_release(uint32_t *index, uint32_t value)
{
	__atomic_store_n(index, value, __ATOMIC_RELEASE);
}

static void full_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Xen's test: did the index move from old to new across event? */
static bool crossed(uint32_t new_index, uint32_t old_index, uint32_t event)
{
	return (uint32_t)(new_index - event) < (uint32_t)(new_index - old_index);
}

bool vnic_ring_slot_count_valid(uint32_t slot_count)
{
	return slot_count >= VNIC_RING_SLOTS_MIN && slot_count <= VNIC_RING_SLOTS_MAX &&
	       (slot_count & (slot_count - 1)) == 0;
}

size_t vnic_ring_bytes(uint32_t slot_count)
{
	return VNIC_RING_HEADER_SIZE + (size_t)slot_count * VNIC_RING_SLOT_SIZE;
}

int vnic_ring_format(void *memory, size_t size, uint32_t slot_count)
{
	if (!memory || !vnic_ring_slot_count_valid(slot_count) ||
	    size < vnic_ring_bytes(slot_count))
		return -1;
	memset(memory, 0, vnic_ring_bytes(slot_count));
	struct vnic_ring_header *header = memory;
	header->prod_event = 1; /* the first frame notifies */
	header->cons_event = 0; /* nobody waits for space (wrong at most once per 2^32) */
	header->slot_count = slot_count;
	store_release(&header->magic, VNIC_RING_MAGIC);
	return 0;
}

int vnic_ring_attach(struct vnic_ring *ring, void *memory, size_t size, uint32_t slot_count)
{
	memset(ring, 0, sizeof(*ring));
	if (!memory || !vnic_ring_slot_count_valid(slot_count) ||
	    size < vnic_ring_bytes(slot_count))
		return -1;
	struct vnic_ring_header *header = memory;
	if (load_acquire(&header->magic) != VNIC_RING_MAGIC ||
	    load_acquire(&header->slot_count) != slot_count)
		return -1;
	ring->header = header;
	ring->slots = (struct vnic_ring_slot *)((uint8_t *)memory + VNIC_RING_HEADER_SIZE);
	ring->slot_count = slot_count;
	/* A freshly formatted ring starts at 0 on both sides. */
	return 0;
}

/* ---------------------------------------------------------------- producer */

/* The consumer's index, or false (ring now broken) if it is impossible. */
static bool read_cons(struct vnic_ring *ring, uint32_t *cons)
{
	*cons = load_acquire(&ring->header->cons);
	if ((uint32_t)(ring->prod - *cons) > ring->slot_count) {
		ring->broken = true;
		return false;
	}
	return true;
}

uint32_t vnic_ring_free_slots(struct vnic_ring *ring)
{
	uint32_t cons;
	if (ring->broken || !ring->header || !read_cons(ring, &cons))
		return 0;
	return ring->slot_count - (uint32_t)(ring->prod - cons);
}

/* Full: ask for a notification when half the ring is free (a busy sender
 * then refills in batches, not slot by slot), then look again in case the
 * consumer freed slots before it saw the ask. OK, FULL or BROKEN. */
static enum vnic_ring_result check_space(struct vnic_ring *ring)
{
	uint32_t cons;
	if (!read_cons(ring, &cons))
		return VNIC_RING_BROKEN;
	if ((uint32_t)(ring->prod - cons) != ring->slot_count)
		return VNIC_RING_OK;
	ring->header->cons_event = cons + ring->slot_count / 2;
	full_barrier();
	if (!read_cons(ring, &cons))
		return VNIC_RING_BROKEN;
	return (uint32_t)(ring->prod - cons) == ring->slot_count ? VNIC_RING_FULL : VNIC_RING_OK;
}

bool vnic_ring_full(struct vnic_ring *ring)
{
	return !ring->broken && ring->header && check_space(ring) == VNIC_RING_FULL;
}

enum vnic_ring_result vnic_ring_put(struct vnic_ring *ring, const void *frame, size_t len)
{
	if (ring->broken || !ring->header)
		return VNIC_RING_BROKEN;
	if (!frame || len < VNIC_RING_FRAME_MIN || len > VNIC_RING_FRAME_MAX)
		return VNIC_RING_EINVAL;
	enum vnic_ring_result space = check_space(ring);
	if (space == VNIC_RING_FULL)
		ring->stats.full++;
	if (space != VNIC_RING_OK)
		return space;
	struct vnic_ring_slot *slot = &ring->slots[ring->prod & (ring->slot_count - 1)];
	memcpy(slot->frame, frame, len);
	slot->flags = 0;
	slot->len = (uint16_t)len;
	ring->prod++;
	ring->stats.frames++;
	ring->stats.bytes += len;
	return VNIC_RING_OK;
}

bool vnic_ring_push(struct vnic_ring *ring)
{
	if (ring->broken || !ring->header || ring->prod == ring->published)
		return false;
	uint32_t old = ring->published;
	store_release(&ring->header->prod, ring->prod); /* slots before the index */
	ring->published = ring->prod;
	full_barrier(); /* the index before reading the consumer's wish */
	uint32_t event = __atomic_load_n(&ring->header->prod_event, __ATOMIC_RELAXED);
	return crossed(ring->prod, old, event);
}

/* ---------------------------------------------------------------- consumer */

/* The producer's index, or false (ring now broken) if it is impossible. */
static bool read_prod(struct vnic_ring *ring, uint32_t *prod)
{
	*prod = load_acquire(&ring->header->prod);
	if ((uint32_t)(*prod - ring->cons) > ring->slot_count) {
		ring->broken = true;
		return false;
	}
	return true;
}

uint32_t vnic_ring_pending(struct vnic_ring *ring)
{
	uint32_t prod;
	if (ring->broken || !ring->header || !read_prod(ring, &prod))
		return 0;
	return prod - ring->cons;
}

enum vnic_ring_result vnic_ring_get(struct vnic_ring *ring, void *buf, size_t size, size_t *len)
{
	if (ring->broken || !ring->header)
		return VNIC_RING_BROKEN;
	if (!buf || !len)
		return VNIC_RING_EINVAL;
	uint32_t prod;
	if (!read_prod(ring, &prod))
		return VNIC_RING_BROKEN;
	while (ring->cons != prod) {
		const struct vnic_ring_slot *slot =
		    &ring->slots[ring->cons & (ring->slot_count - 1)];
		/* Read once: the producer may rewrite it under us. */
		uint16_t length = __atomic_load_n(&slot->len, __ATOMIC_RELAXED);
		if (length < VNIC_RING_FRAME_MIN || length > VNIC_RING_FRAME_MAX) {
			ring->cons++;
			ring->stats.malformed++;
			continue;
		}
		if (length > size)
			return VNIC_RING_EINVAL; /* the caller's buffer, not the peer's fault */
		memcpy(buf, slot->frame, length);
		ring->cons++;
		*len = length;
		ring->stats.frames++;
		ring->stats.bytes += length;
		return VNIC_RING_OK;
	}
	return VNIC_RING_EMPTY;
}

bool vnic_ring_release(struct vnic_ring *ring)
{
	if (ring->broken || !ring->header || ring->cons == ring->published)
		return false;
	uint32_t old = ring->published;
	store_release(&ring->header->cons, ring->cons); /* slot reads before freeing them */
	ring->published = ring->cons;
	full_barrier();
	uint32_t event = __atomic_load_n(&ring->header->cons_event, __ATOMIC_RELAXED);
	return crossed(ring->cons, old, event);
}

bool vnic_ring_arm(struct vnic_ring *ring)
{
	if (ring->broken || !ring->header)
		return true; /* nothing will ever arrive: sleep */
	ring->header->prod_event = ring->cons + 1;
	full_barrier(); /* the wish before the final look */
	uint32_t prod;
	if (!read_prod(ring, &prod))
		return true;
	return prod == ring->cons;
}
