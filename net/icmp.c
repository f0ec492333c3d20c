/* icmp.c — ICMP echo reply and destination unreachable (RFC 792, RFC 1122 §3.2.2). */
#include "icmp.h"

#include <string.h>

#include "ipv4.h"
#include "stack.h"
#include "wire.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_UNREACH 3
#define ICMP_ECHO_REQUEST 8

void icmp_input(struct net_stack *s, const struct ipv4_packet *pkt)
{
	net_count(s, NET_CNT_ICMP_RX);
	if (pkt->len < 8 || net_checksum_finish(net_checksum_add(0, pkt->payload, pkt->len)) != 0) {
		net_count(s, NET_CNT_ICMP_DROP_MALFORMED);
		return;
	}
	/* Echo to a broadcast address is not answered (RFC 1122 allows silence). */
	if (pkt->payload[0] != ICMP_ECHO_REQUEST || pkt->link_broadcast)
		return;
	if (pkt->len > NET_L4_MAX) {
		net_count(s, NET_CNT_ICMP_DROP_MALFORMED);
		return;
	}
	uint8_t *icmp = s->tx + NET_L4_OFFSET;
	memcpy(icmp, pkt->payload, pkt->len);
	icmp[0] = ICMP_ECHO_REPLY;
	icmp[1] = 0;
	net_put16(icmp + 2, 0);
	net_put16(icmp + 2, net_checksum_finish(net_checksum_add(0, icmp, pkt->len)));
	net_count(s, NET_CNT_ICMP_TX);
	ipv4_output(s, pkt->src, IP_PROTO_ICMP, pkt->len);
}

void icmp_send_unreachable(struct net_stack *s, const struct ipv4_packet *pkt, uint8_t code)
{
	if (pkt->link_broadcast || s->addr == 0)
		return;
	if (pkt->proto == IP_PROTO_ICMP && (pkt->len < 1 || pkt->payload[0] != ICMP_ECHO_REQUEST))
		return; /* never an error about an error */
	size_t quote = pkt->len < 8 ? pkt->len : 8;
	uint8_t *icmp = s->tx + NET_L4_OFFSET;
	icmp[0] = ICMP_UNREACH;
	icmp[1] = code;
	memset(icmp + 2, 0, 6);
	memcpy(icmp + 8, pkt->header, pkt->header_len);
	memcpy(icmp + 8 + pkt->header_len, pkt->payload, quote);
	size_t len = 8 + pkt->header_len + quote;
	net_put16(icmp + 2, net_checksum_finish(net_checksum_add(0, icmp, len)));
	net_count(s, NET_CNT_ICMP_TX);
	ipv4_output(s, pkt->src, IP_PROTO_ICMP, len);
}
