/* udp.h — UDP (RFC 768). */
#ifndef NET_UDP_H
#define NET_UDP_H

#include <stdint.h>

#include "config.h"
#include "net.h"

struct ipv4_packet;

struct udp_socket {
	struct net_stack *stack;
	uint16_t port; /* 0: free */
	udp_recv_fn *fn;
	void *arg;
};

struct udp_state {
	struct udp_socket sockets[CONFIG_NET_UDP_SOCKETS];
};

/* udp.c */
void udp_input(struct net_stack *s, const struct ipv4_packet *pkt);

#endif
