/* eth.h — Ethernet II framing. */
#ifndef NET_ETH_H
#define NET_ETH_H

#include <stddef.h>
#include <stdint.h>

struct net_stack;

#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP  0x0806

extern const uint8_t eth_broadcast[6];

/* eth.c */
void eth_input(struct net_stack *s, const uint8_t *frame, size_t len);
/* Fill the 14-byte header at frame[0] and transmit frame[0..len). */
int eth_output(struct net_stack *s, uint8_t *frame, size_t len, const uint8_t dst[6],
	       uint16_t type);

#endif
