/*
 * Descriptor-ring bookkeeping for the Allwinner EMAC (see emac_ring.h).
 * Portable: the board's driver and the host's unit test share it.
 */
#include <string.h>

#include "emac_ring.h"

/* Descriptor words are written before the ownership bit that publishes them. */
static inline void publish_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void rx_give(struct emac_ring *r, unsigned i)
{
	struct emac_desc *d = emac_desc_at(r, i);
	uint8_t *buffer = r->buffers + i * EMAC_BUFFER_SIZE;
	/* No line of the buffer may be dirty in the CPU's cache while the device
	 * writes it: an eviction would overwrite the frame. */
	emac_ring_invalidate(buffer, EMAC_BUFFER_SIZE);
	d->control = EMAC_BUFFER_SIZE - 1; /* bit 31 clear: interrupt on completion */
	d->buffer = r->buffers_bus + i * EMAC_BUFFER_SIZE;
	d->next = emac_desc_bus(r, (i + 1) % r->count);
	publish_barrier();
	d->status = EMAC_DESC_OWN;
	emac_ring_clean(d, sizeof(*d));
}

void emac_rx_init(struct emac_ring *r)
{
	r->head = r->tail = r->used = 0;
	for (unsigned i = 0; i < r->count; i++)
		rx_give(r, i);
}

enum emac_rx_result emac_rx_peek(struct emac_ring *r, const uint8_t **frame, size_t *len)
{
	struct emac_desc *d = emac_desc_at(r, r->tail);
	emac_ring_invalidate(d, sizeof(*d));
	uint32_t status = d->status;
	if (status & EMAC_DESC_OWN)
		return EMAC_RX_NONE;
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the frame after the status */
	uint32_t length = EMAC_RX_STATUS_LEN(status);
	uint32_t whole = EMAC_RX_STATUS_FIRST | EMAC_RX_STATUS_LAST;
	/* The length counts the FCS (and the padding of a short frame). A frame
	 * spread over descriptors cannot happen with 2 KiB buffers: an error. */
	if ((status & whole) != whole || (status & EMAC_RX_STATUS_ERROR) ||
	    length < EMAC_FRAME_MIN + EMAC_FCS_LEN || length > EMAC_BUFFER_SIZE)
		return EMAC_RX_ERROR;
	const uint8_t *buffer = r->buffers + r->tail * EMAC_BUFFER_SIZE;
	emac_ring_invalidate(buffer, length);
	*frame = buffer;
	*len = length - EMAC_FCS_LEN;
	return EMAC_RX_FRAME;
}

void emac_rx_release(struct emac_ring *r)
{
	rx_give(r, r->tail);
	r->tail = (r->tail + 1) % r->count;
}

uint32_t emac_rx_restart_address(struct emac_ring *r)
{
	/* The device's descriptors are the run the CPU gave back last, ending
	 * just before tail: if the one before tail is not the device's, none is. */
	unsigned before = (r->tail + r->count - 1) % r->count;
	struct emac_desc *d = emac_desc_at(r, before);
	emac_ring_invalidate(d, sizeof(*d));
	return (d->status & EMAC_DESC_OWN) ? 0 : emac_desc_bus(r, r->tail);
}

void emac_tx_init(struct emac_ring *r)
{
	r->head = r->tail = r->used = 0;
	for (unsigned i = 0; i < r->count; i++) {
		struct emac_desc *d = emac_desc_at(r, i);
		d->status = 0;
		d->control = 0;
		d->buffer = r->buffers_bus + i * EMAC_BUFFER_SIZE;
		d->next = emac_desc_bus(r, (i + 1) % r->count);
		emac_ring_clean(d, sizeof(*d));
	}
}

int emac_tx_put(struct emac_ring *r, const uint8_t *frame, size_t len)
{
	if (r->used == r->count || len < EMAC_FRAME_MIN || len > EMAC_BUFFER_SIZE - EMAC_FCS_LEN)
		return -1;
	unsigned i = r->head;
	struct emac_desc *d = emac_desc_at(r, i);
	uint8_t *buffer = r->buffers + i * EMAC_BUFFER_SIZE;
	memcpy(buffer, frame, len);
	emac_ring_clean(buffer, len);
	r->len[i] = (uint16_t)len;
	d->control = EMAC_TX_CTL_INT | EMAC_TX_CTL_FIRST | EMAC_TX_CTL_LAST | (uint32_t)len;
	publish_barrier();
	d->status = EMAC_DESC_OWN;
	emac_ring_clean(d, sizeof(*d));
	r->head = (i + 1) % r->count;
	r->used++;
	return 0;
}

enum emac_tx_result emac_tx_reclaim(struct emac_ring *r, size_t *len)
{
	if (r->used == 0)
		return EMAC_TX_NONE;
	struct emac_desc *d = emac_desc_at(r, r->tail);
	emac_ring_invalidate(d, sizeof(*d));
	uint32_t status = d->status;
	if (status & EMAC_DESC_OWN)
		return EMAC_TX_NONE;
	*len = r->len[r->tail];
	r->tail = (r->tail + 1) % r->count;
	r->used--;
	return (status & EMAC_TX_STATUS_ERROR) ? EMAC_TX_FAILED : EMAC_TX_SENT;
}
