/* icmp.c — ICMP (RFC 792, RFC 1122 §3.2.2): echo reply, the errors we send
 * (destination unreachable, reassembly time exceeded) and the errors we act
 * on (destination unreachable for our TCP segments, RFC 5927 checks). */
#include "icmp.h"

#include <string.h>

#include "ipv4.h"
#include "stack.h"
#include "tcp.h"
#include "wire.h"

#define ICMP_ECHO_REPLY   0
#define ICMP_UNREACH      3
#define ICMP_ECHO_REQUEST 8

static void icmp_error_input(struct net_stack *s, const struct ipv4_packet *pkt)
{
	/* The quoted datagram: an IP header we sent and at least 8 bytes of it. */
	const uint8_t *q = pkt->payload + 8;
	size_t qlen = pkt->len - 8;
	if (qlen < IPV4_HLEN + 8 || (q[0] >> 4) != 4) {
		net_count(s, NET_CNT_ICMP_DROP_MALFORMED);
		return;
	}
	size_t qhlen = (size_t)(q[0] & 0xf) * 4;
	if (qhlen < IPV4_HLEN || qlen < qhlen + 8 || net_get32(q + 12) != s->addr) {
		net_count(s, NET_CNT_ICMP_DROP_MALFORMED);
		return;
	}
	if (q[9] != IP_PROTO_TCP)
		return;
	const uint8_t *t = q + qhlen;
	uint16_t mtu = pkt->payload[1] == ICMP_UNREACH_NEEDFRAG ? net_get16(pkt->payload + 6) : 0;
	tcp_icmp_unreachable(s, net_get32(q + 16), net_get16(t), net_get16(t + 2), net_get32(t + 4),
			     pkt->payload[1], mtu);
}

void icmp_input(struct net_stack *s, const struct ipv4_packet *pkt)
{
	net_count(s, NET_CNT_ICMP_RX);
	if (pkt->len < 8 || net_checksum_finish(net_checksum_add(0, pkt->payload, pkt->len)) != 0) {
		net_count(s, NET_CNT_ICMP_DROP_MALFORMED);
		return;
	}
	if (pkt->payload[0] == ICMP_UNREACH && !pkt->link_broadcast) {
		icmp_error_input(s, pkt);
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

void icmp_send_error(struct net_stack *s, uint8_t type, uint8_t code, uint32_t dst,
		     const uint8_t *header, size_t header_len, const uint8_t *data, size_t data_len)
{
	if (s->addr == 0)
		return;
	/* RFC 1812 §4.3.2.8 style budget: a flood of datagrams to closed ports
	 * must not turn us into a flood of errors. */
	uint64_t second = s->now / 1000;
	if (second != s->icmp_error_second) {
		s->icmp_error_second = second;
		s->icmp_errors_sent = 0;
	}
	if (s->icmp_errors_sent >= CONFIG_NET_ICMP_ERRORS_PER_S) {
		net_count(s, NET_CNT_ICMP_RATE_LIMITED);
		return;
	}
	s->icmp_errors_sent++;
	size_t quote = data_len < 8 ? data_len : 8;
	uint8_t *icmp = s->tx + NET_L4_OFFSET;
	icmp[0] = type;
	icmp[1] = code;
	memset(icmp + 2, 0, 6);
	memcpy(icmp + 8, header, header_len);
	memcpy(icmp + 8 + header_len, data, quote);
	size_t len = 8 + header_len + quote;
	net_put16(icmp + 2, net_checksum_finish(net_checksum_add(0, icmp, len)));
	net_count(s, NET_CNT_ICMP_TX);
	ipv4_output(s, dst, IP_PROTO_ICMP, len);
}

void icmp_send_unreachable(struct net_stack *s, const struct ipv4_packet *pkt, uint8_t code)
{
	if (pkt->link_broadcast)
		return;
	if (pkt->proto == IP_PROTO_ICMP && (pkt->len < 1 || pkt->payload[0] != ICMP_ECHO_REQUEST))
		return; /* never an error about an error */
	icmp_send_error(s, ICMP_UNREACH, code, pkt->src, pkt->header, pkt->header_len, pkt->payload,
			pkt->len);
}
