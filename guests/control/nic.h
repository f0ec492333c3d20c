/*
 * The control domain's physical network interfaces: one small interface
 * per controller driver, so that another controller (the Cubieboard2's
 * sun7i-a20-gmac, say) is one more nic_*.c file and one line in nic.c.
 *
 * Model: a driver owns its DMA rings and its interrupt. The interrupt
 * handler only quiets the device and wakes the main loop; everything else
 * (harvesting received frames, reclaiming sent ones, link changes) happens
 * in nic_poll() from the main loop, which is also the only caller of
 * nic_transmit(). Nothing here allocates per frame.
 */
#ifndef CONTROL_NIC_H
#define CONTROL_NIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nic_counters {
	uint64_t rx_frames, rx_bytes;
	uint64_t tx_frames, tx_bytes;
	uint64_t rx_dropped;   /* the receiver had no room: frames lost */
	uint64_t rx_ring_full; /* the receive ring ran full (frames waited) */
	uint64_t rx_held;      /* polls that stopped at a frame the callback kept */
	uint64_t rx_errors;    /* frames the controller flagged (CRC, length, ...) */
	uint64_t tx_dropped;   /* transmit ring full */
	uint64_t tx_errors;    /* frame too large, controller error */
	uint64_t interrupts;
};

/* Called from nic_poll() for every good frame received (FCS stripped). The
 * frame is valid only during the call. Returns true when the frame was
 * used (forwarded or dropped), false to keep it: the driver then leaves it
 * in its receive ring, stops, sets `held`, and offers the same frame first
 * on the next nic_poll(). Frames behind it wait in the ring and then in
 * the wire's (or the emulator's) queue instead of being lost. */
typedef bool nic_receive_fn(void *arg, const uint8_t *frame, size_t len);

struct nic;

struct nic_ops {
	/* Reset the controller, set up rings, enable receive and the interrupt. */
	int (*start)(struct nic *nic);
	/* Queue one frame (destination MAC first, no FCS). 0, or -1 when the
	 * ring is full or the frame too large (counted). */
	int (*transmit)(struct nic *nic, const uint8_t *frame, size_t len);
	/* Deliver received frames, reclaim sent ones; returns frames delivered.
	 * `budget` bounds the work done in one call. */
	unsigned (*poll)(struct nic *nic, unsigned budget);
	/* Link state from the PHY; speed in Mbit/s and duplex when up. */
	bool (*link)(struct nic *nic, unsigned *mbps, bool *full_duplex);
};

struct nic {
	const struct nic_ops *ops;
	const char *name; /* "sun8i-emac" */
	char path[64];    /* device-tree path of the controller */
	uint8_t mac[6];
	bool mac_from_devicetree;
	nic_receive_fn *receive;
	void *receive_arg;
	struct nic_counters counters;
	bool work; /* set by the interrupt handler */
	bool held; /* the receive callback kept the frame at the ring's head */
	unsigned irq;
};

/* nic.c */
/* Find the first enabled controller a driver knows in the device tree;
 * NULL (and a console line saying why) when there is none. */
struct nic *nic_probe(const void *dtb);
static inline int nic_start(struct nic *nic, nic_receive_fn *receive, void *arg)
{
	nic->receive = receive;
	nic->receive_arg = arg;
	return nic->ops->start(nic);
}
static inline int nic_transmit(struct nic *nic, const uint8_t *frame, size_t len)
{
	return nic->ops->transmit(nic, frame, len);
}
static inline unsigned nic_poll(struct nic *nic, unsigned budget)
{
	return nic->ops->poll(nic, budget);
}
static inline bool nic_link(struct nic *nic, unsigned *mbps, bool *full_duplex)
{
	return nic->ops->link(nic, mbps, full_duplex);
}
/* The MAC address: `local-mac-address` (or `mac-address`) of the node, else
 * a locally administered one derived from the node's path and the board's
 * model (stable across boots). */
void nic_mac_from_devicetree(struct nic *nic, const void *dtb, int node);
void nic_print_counters(const struct nic *nic);

/* nic_sun8i_emac.c: Allwinner H3/H5/A64 EMAC ("allwinner,sun8i-h3-emac") */
struct nic *nic_sun8i_emac_probe(const void *dtb, int node);

#endif
