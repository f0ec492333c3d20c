/* arp.h — ARP (RFC 826): cache with timeouts, requests, replies, a bounded
 * queue of frames waiting for resolution, gratuitous ARP, and RFC 5227
 * conflict detection with a rate-limited defense of our address. */
#ifndef NET_ARP_H
#define NET_ARP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct net_stack;

struct arp_entry {
	uint32_t addr;
	uint8_t mac[6];
	uint8_t state; /* ARP_FREE, ARP_PENDING, ARP_RESOLVED */
	uint8_t tries;
	uint64_t deadline; /* expiry (resolved) or next retry (pending) */
};

struct arp_queued {
	uint32_t next_hop; /* 0: slot free */
	uint16_t len;
	uint8_t frame[NET_FRAME_MAX];
};

struct arp_state {
	struct arp_entry entries[CONFIG_NET_ARP_ENTRIES];
	struct arp_queued queue[CONFIG_NET_ARP_QUEUE];
	uint64_t last_defense; /* when we last defended our address (RFC 5227) */
};

/* arp.c */
void arp_input(struct net_stack *s, const uint8_t *p, size_t len);
/* Send frame (headers from IP up filled in) to next_hop, resolving its MAC;
 * the frame is copied to the queue while a request is outstanding. */
int arp_output(struct net_stack *s, uint32_t next_hop, uint8_t *frame, size_t len);
void arp_announce(struct net_stack *s);
void arp_flush(struct net_stack *s);
void arp_poll(struct net_stack *s);
uint64_t arp_next_deadline(const struct net_stack *s);

#endif
