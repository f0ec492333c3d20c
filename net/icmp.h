/* icmp.h — ICMP (RFC 792): echo reply and destination unreachable. */
#ifndef NET_ICMP_H
#define NET_ICMP_H

#include <stdint.h>

struct net_stack;
struct ipv4_packet;

#define ICMP_UNREACH_PROTOCOL 2
#define ICMP_UNREACH_PORT 3

/* icmp.c */
void icmp_input(struct net_stack *s, const struct ipv4_packet *pkt);
/* Report an undeliverable datagram (never for broadcasts or ICMP errors). */
void icmp_send_unreachable(struct net_stack *s, const struct ipv4_packet *pkt, uint8_t code);

#endif
