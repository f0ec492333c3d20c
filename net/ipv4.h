/* ipv4.h — IPv4 (RFC 791, RFC 1122): header validation, routing to the
 * link or the gateway, and reassembly of fragments in a few fixed slots.
 *
 * Reassembly policy: at most CONFIG_NET_IP_REASS_SLOTS datagrams of at most
 * CONFIG_NET_IP_REASS_SIZE bytes are rebuilt at once; a datagram is dropped
 * (and counted) when it would exceed the size, when its fragments overlap
 * (RFC 5722's rule, applied to IPv4), when no slot is free, or when it is
 * not complete within CONFIG_NET_IP_REASS_TIMEOUT_S. We never fragment on
 * output: TCP sizes segments by the MSS; UDP refuses larger datagrams. */
#ifndef NET_IPV4_H
#define NET_IPV4_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct net_stack;

#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17
#define IPV4_HLEN     20
/* Where the transport header starts in the transmit buffer. */
#define NET_L4_OFFSET (NET_ETH_HLEN + IPV4_HLEN)
#define NET_L4_MAX    (CONFIG_NET_MTU - IPV4_HLEN)

/* A received datagram as the transports see it. */
struct ipv4_packet {
	uint32_t src, dst;
	uint8_t proto;
	uint8_t link_broadcast; /* arrived to the broadcast MAC, or to a broadcast/multicast IP */
	const uint8_t *header;  /* the IP header (for ICMP errors) */
	size_t header_len;
	const uint8_t *payload;
	size_t len;
};

struct ipv4_reass {
	uint8_t in_use;
	uint8_t proto;
	uint16_t id;
	uint32_t src, dst;
	uint32_t total; /* payload length, known once the last fragment arrived */
	uint64_t deadline;
	uint8_t header[60];
	uint8_t header_len;
	uint8_t have[CONFIG_NET_IP_REASS_SIZE / 64]; /* one bit per 8-byte block */
	uint8_t data[CONFIG_NET_IP_REASS_SIZE];
};

struct ipv4_state {
#if CONFIG_NET_IP_REASS_SLOTS > 0
	struct ipv4_reass reass[CONFIG_NET_IP_REASS_SLOTS];
#endif
	uint16_t next_id;
};

/* ipv4.c */
void ipv4_input(struct net_stack *s, const uint8_t *p, size_t len, int link_broadcast);
/* Send the transport payload already written at s->tx + NET_L4_OFFSET. */
int ipv4_output(struct net_stack *s, uint32_t dst, uint8_t proto, size_t l4_len);
/* Same, with the payload in `frame` (laid out like s->tx). */
int ipv4_output_frame(struct net_stack *s, uint8_t *frame, uint32_t dst, uint8_t proto,
		      size_t l4_len);
int ipv4_is_broadcast(const struct net_stack *s, uint32_t addr);
void ipv4_poll(struct net_stack *s);
uint64_t ipv4_next_deadline(const struct net_stack *s);

#endif
