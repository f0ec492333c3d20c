/*
 * The Allwinner EMAC's DMA descriptor rings, as portable C: the bookkeeping
 * of nic_sun8i_emac.c without a register access, so that it is tested on
 * the host against a model of the DMA engine (tests/unit/test_emac_ring.c).
 *
 * A descriptor is four little-endian words {status, control, buffer, next};
 * bit 31 of status says the DMA engine owns it. A ring is a chain whose
 * last `next` points at the first. Each descriptor sits alone in an
 * EMAC_SLOT-byte cache line and each buffer is EMAC_BUFFER_SIZE bytes, line
 * aligned, so that cache maintenance on one never touches another.
 *
 * Receive: every descriptor starts owned by the device; the CPU takes them
 * back in ring order (tail), and gives each back as soon as it has used the
 * frame. Transmit: the CPU fills at head and gives to the device; it
 * reclaims at tail the ones the device has finished.
 */
#ifndef CONTROL_EMAC_RING_H
#define CONTROL_EMAC_RING_H

#include <stddef.h>
#include <stdint.h>

#define EMAC_SLOT        64u
#define EMAC_BUFFER_SIZE 2048u /* > 1518 + FCS; the size field holds 11 bits */
#define EMAC_FCS_LEN     4u
#define EMAC_FRAME_MIN   14u /* an Ethernet header */

#define EMAC_DESC_OWN         (1u << 31)
#define EMAC_RX_STATUS_ERROR  ((1u << 15) | (1u << 14)) /* error summary, descriptor error */
#define EMAC_RX_STATUS_FIRST  (1u << 9)
#define EMAC_RX_STATUS_LAST   (1u << 8)
#define EMAC_RX_STATUS_LEN(s) (((s) >> 16) & 0x3fffu)
#define EMAC_TX_STATUS_ERROR  ((1u << 16) | (1u << 14)) /* error summary, length error */
#define EMAC_TX_CTL_INT       (1u << 31)
#define EMAC_TX_CTL_LAST      (1u << 30)
#define EMAC_TX_CTL_FIRST     (1u << 29)
#define EMAC_DESC_SIZE_MASK   0x7ffu

struct emac_desc {
	volatile uint32_t status;
	volatile uint32_t control;
	volatile uint32_t buffer;
	volatile uint32_t next;
};

struct emac_ring {
	uint8_t *slots;     /* count descriptors, EMAC_SLOT bytes apart */
	uint8_t *buffers;   /* count buffers, EMAC_BUFFER_SIZE bytes apart */
	uint32_t slots_bus; /* the device's addresses of the same memory */
	uint32_t buffers_bus;
	unsigned count;
	unsigned head, tail, used; /* transmit; receive uses tail only */
	uint16_t len[64];          /* transmit: frame length per slot */
};

/* Provided by the platform (dma.c on the board, no-ops on the host): make
 * the CPU's writes visible to the device / drop stale lines before reading
 * what the device wrote. */
void emac_ring_clean(const void *start, size_t len);
void emac_ring_invalidate(const void *start, size_t len);

/* emac_ring.c */
static inline struct emac_desc *emac_desc_at(const struct emac_ring *r, unsigned i)
{
	return (struct emac_desc *)(r->slots + i * EMAC_SLOT);
}
static inline uint32_t emac_desc_bus(const struct emac_ring *r, unsigned i)
{
	return r->slots_bus + i * EMAC_SLOT;
}
/* Every descriptor chained and given to the device (count <= 64). */
void emac_rx_init(struct emac_ring *r);
enum emac_rx_result { EMAC_RX_NONE, EMAC_RX_FRAME, EMAC_RX_ERROR };
/* The descriptor at tail: a whole good frame (FCS excluded), a bad one
 * (flagged, split or of impossible length), or none completed yet. After
 * FRAME or ERROR, call emac_rx_release() once the frame has been used. */
enum emac_rx_result emac_rx_peek(struct emac_ring *r, const uint8_t **frame, size_t *len);
/* Give the descriptor at tail back to the device and move on. */
void emac_rx_release(struct emac_ring *r);
/*
 * Call before emac_rx_release(): when the device owns no descriptor at all
 * (the ring ran full), the bus address of the descriptor at tail - the one
 * the device must fill next - to write into the receive list register
 * first; else 0. A device that follows the chain strictly (hardware) is
 * already there; QEMU's model instead restarts at the list's head after a
 * full ring, which would put new frames behind the CPU's back (they would
 * surface a whole lap late, out of order).
 */
uint32_t emac_rx_restart_address(struct emac_ring *r);

/* Every descriptor chained, owned by the CPU. */
void emac_tx_init(struct emac_ring *r);
/* Copy a frame into the slot at head and give it to the device: 0, or -1
 * when the ring is full or the length impossible (nothing queued). */
int emac_tx_put(struct emac_ring *r, const uint8_t *frame, size_t len);
enum emac_tx_result { EMAC_TX_NONE, EMAC_TX_SENT, EMAC_TX_FAILED };
/* Reclaim the slot at tail if the device is done with it (*len: its frame). */
enum emac_tx_result emac_tx_reclaim(struct emac_ring *r, size_t *len);

#endif
