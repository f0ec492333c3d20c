/* icmp.h — ICMP (RFC 792): echo, the errors we send and those we act on. */
#ifndef NET_ICMP_H
#define NET_ICMP_H

#include <stddef.h>
#include <stdint.h>

struct net_stack;
struct ipv4_packet;

#define ICMP_UNREACH_PROTOCOL         2
#define ICMP_UNREACH_PORT             3
#define ICMP_UNREACH_NEEDFRAG         4
#define ICMP_TIME_EXCEEDED            11
#define ICMP_TIME_EXCEEDED_REASSEMBLY 1

/* icmp.c */
void icmp_input(struct net_stack *s, const struct ipv4_packet *pkt);
/* Report an undeliverable datagram (never for broadcasts or ICMP errors). */
void icmp_send_unreachable(struct net_stack *s, const struct ipv4_packet *pkt, uint8_t code);
/* Send an error quoting `header` and the first 8 bytes of `data`. */
void icmp_send_error(struct net_stack *s, uint8_t type, uint8_t code, uint32_t dst,
		     const uint8_t *header, size_t header_len, const uint8_t *data,
		     size_t data_len);

#endif
