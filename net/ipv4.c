/* ipv4.c — IPv4 input, output and reassembly (policy in ipv4.h). */
#include "ipv4.h"

#include <string.h>

#include "arp.h"
#include "eth.h"
#include "icmp.h"
#include "stack.h"
#include "tcp.h"
#include "udp.h"
#include "wire.h"

#define IP_MF          0x2000
#define IP_DF          0x4000
#define IP_OFFSET_MASK 0x1fff
#define IP_TTL         64

int ipv4_is_broadcast(const struct net_stack *s, uint32_t addr)
{
	if (addr == 0xffffffffu)
		return 1;
	return s->netmask != 0 && s->netmask != 0xffffffffu &&
	       (addr & ~s->netmask) == ~s->netmask && (addr & s->netmask) == (s->addr & s->netmask);
}

static void ipv4_deliver(struct net_stack *s, const struct ipv4_packet *pkt)
{
	switch (pkt->proto) {
	case IP_PROTO_TCP: tcp_input(s, pkt); break;
	case IP_PROTO_UDP: udp_input(s, pkt); break;
	case IP_PROTO_ICMP: icmp_input(s, pkt); break;
	default:
		net_count(s, NET_CNT_IP_DROP_PROTO);
		if (!pkt->link_broadcast)
			icmp_send_unreachable(s, pkt, ICMP_UNREACH_PROTOCOL);
	}
}

#if CONFIG_NET_IP_REASS_SLOTS > 0
static void reass_free(struct net_stack *s, struct ipv4_reass *r)
{
	r->in_use = 0;
	net_pool_gave(s, NET_POOL_REASS);
}

static void reass_input(struct net_stack *s, struct ipv4_packet *pkt, uint16_t id, uint32_t offset,
			int more)
{
	struct ipv4_reass *r = NULL, *free_slot = NULL;
	for (int i = 0; i < CONFIG_NET_IP_REASS_SLOTS; i++) {
		struct ipv4_reass *x = &s->ipv4.reass[i];
		if (!x->in_use) {
			if (free_slot == NULL)
				free_slot = x;
		} else if (x->id == id && x->src == pkt->src && x->dst == pkt->dst &&
			   x->proto == pkt->proto) {
			r = x;
			break;
		}
	}
	if (r == NULL) {
		if (free_slot == NULL) {
			net_count(s, NET_CNT_IP_REASS_POOL_FULL);
			net_pool_exhausted(s, NET_POOL_REASS);
			return;
		}
		r = free_slot;
		memset(r->have, 0, sizeof(r->have));
		r->in_use = 1;
		r->id = id;
		r->src = pkt->src;
		r->dst = pkt->dst;
		r->proto = pkt->proto;
		r->total = 0;
		r->header_len = 0;
		r->deadline = s->now + (uint64_t)CONFIG_NET_IP_REASS_TIMEOUT_S * 1000;
		net_pool_took(s, NET_POOL_REASS);
	}
	size_t len = pkt->len;
	if ((more && (len % 8 != 0 || len == 0)) || offset + len > CONFIG_NET_IP_REASS_SIZE ||
	    (r->total != 0 && offset + len > r->total) || (!more && r->total != 0)) {
		net_count(s, NET_CNT_IP_REASS_DROP);
		reass_free(s, r);
		return;
	}
	uint32_t first = offset / 8, last = (uint32_t)(offset + len + 7) / 8;
	for (uint32_t b = first; b < last; b++) {
		if (r->have[b / 8] & (1u << (b % 8))) {
			net_count(s, NET_CNT_IP_REASS_DROP); /* overlap: drop the datagram */
			reass_free(s, r);
			return;
		}
	}
	for (uint32_t b = first; b < last; b++)
		r->have[b / 8] |= (uint8_t)(1u << (b % 8));
	memcpy(r->data + offset, pkt->payload, len);
	if (!more)
		r->total = (uint32_t)(offset + len);
	if (offset == 0) {
		memcpy(r->header, pkt->header, pkt->header_len);
		r->header_len = (uint8_t)pkt->header_len;
	}
	if (r->total == 0 || r->header_len == 0)
		return;
	for (uint32_t b = 0; b < (r->total + 7) / 8; b++)
		if (!(r->have[b / 8] & (1u << (b % 8))))
			return;
	net_count(s, NET_CNT_IP_REASS_OK);
	struct ipv4_packet whole = *pkt;
	whole.header = r->header;
	whole.header_len = r->header_len;
	whole.payload = r->data;
	whole.len = r->total;
	/* The slot stays taken while the transport reads it. */
	ipv4_deliver(s, &whole);
	reass_free(s, r);
}
#endif

void ipv4_input(struct net_stack *s, const uint8_t *p, size_t len, int link_broadcast)
{
	net_count(s, NET_CNT_IP_RX);
	if (len < IPV4_HLEN || (p[0] >> 4) != 4) {
		net_count(s, NET_CNT_IP_DROP_MALFORMED);
		return;
	}
	size_t hlen = (size_t)(p[0] & 0xf) * 4;
	size_t total = net_get16(p + 2);
	if (hlen < IPV4_HLEN || total < hlen || total > len) {
		net_count(s, NET_CNT_IP_DROP_MALFORMED);
		return;
	}
	if (net_checksum_finish(net_checksum_add(0, p, hlen)) != 0) {
		net_count(s, NET_CNT_IP_DROP_CHECKSUM);
		return;
	}
	struct ipv4_packet pkt = {
	    .src = net_get32(p + 12),
	    .dst = net_get32(p + 16),
	    .proto = p[9],
	    .link_broadcast = (uint8_t)link_broadcast,
	    .header = p,
	    .header_len = hlen,
	    .payload = p + hlen,
	    .len = total - hlen,
	};
	/* Martian sources: never answer to a broadcast, multicast or own source. */
	if (pkt.src == 0xffffffffu || (pkt.src >> 28) == 0xe ||
	    (s->addr != 0 && pkt.src == s->addr) || (pkt.src >> 24) == 127) {
		net_count(s, NET_CNT_IP_DROP_MALFORMED);
		return;
	}
	if (ipv4_is_broadcast(s, pkt.dst) || (pkt.dst >> 28) == 0xe) {
		pkt.link_broadcast = 1;
	} else if (pkt.dst != s->addr || s->addr == 0) {
		net_count(s, NET_CNT_IP_DROP_NOT_FOR_US);
		return;
	}
	uint16_t frag = net_get16(p + 6);
	if (frag & (IP_MF | IP_OFFSET_MASK)) {
		net_count(s, NET_CNT_IP_FRAG_RX);
#if CONFIG_NET_IP_REASS_SLOTS > 0
		reass_input(s, &pkt, net_get16(p + 4), (uint32_t)(frag & IP_OFFSET_MASK) * 8,
			    (frag & IP_MF) != 0);
#else
		net_count(s, NET_CNT_IP_REASS_DROP);
#endif
		return;
	}
	ipv4_deliver(s, &pkt);
}

int ipv4_output_frame(struct net_stack *s, uint8_t *frame, uint32_t dst, uint8_t proto,
		      size_t l4_len)
{
	if (l4_len > NET_L4_MAX)
		return NET_EMSGSIZE;
	uint8_t *ip = frame + NET_ETH_HLEN;
	ip[0] = 0x45;
	ip[1] = 0;
	net_put16(ip + 2, (uint16_t)(IPV4_HLEN + l4_len));
	net_put16(ip + 4, s->ipv4.next_id++);
	net_put16(ip + 6, proto == IP_PROTO_TCP ? IP_DF : 0);
	ip[8] = IP_TTL;
	ip[9] = proto;
	net_put16(ip + 10, 0);
	net_put32(ip + 12, s->addr);
	net_put32(ip + 16, dst);
	net_put16(ip + 10, net_checksum_finish(net_checksum_add(0, ip, IPV4_HLEN)));
	net_count(s, NET_CNT_IP_TX);
	size_t len = NET_L4_OFFSET + l4_len;
	if (len < 60) {
		memset(frame + len, 0, 60 - len); /* Ethernet minimum frame */
		len = 60;
	}
	if (ipv4_is_broadcast(s, dst))
		return eth_output(s, frame, len, eth_broadcast, ETH_TYPE_IPV4);
	uint32_t next_hop = dst;
	if (s->addr == 0 || (dst & s->netmask) != (s->addr & s->netmask)) {
		if (s->gateway == 0 || s->addr == 0) {
			net_count(s, NET_CNT_IP_DROP_NO_ROUTE);
			return NET_EUNREACH;
		}
		next_hop = s->gateway;
	}
	return arp_output(s, next_hop, frame, len);
}

int ipv4_output(struct net_stack *s, uint32_t dst, uint8_t proto, size_t l4_len)
{
	return ipv4_output_frame(s, s->tx, dst, proto, l4_len);
}

void ipv4_poll(struct net_stack *s)
{
#if CONFIG_NET_IP_REASS_SLOTS > 0
	for (int i = 0; i < CONFIG_NET_IP_REASS_SLOTS; i++) {
		struct ipv4_reass *r = &s->ipv4.reass[i];
		if (r->in_use && r->deadline <= s->now) {
			net_count(s, NET_CNT_IP_REASS_TIMEOUT);
			/* RFC 792/1122: time exceeded, when fragment zero arrived. */
			if (r->header_len != 0 && (r->have[0] & 1) && r->dst == s->addr)
				icmp_send_error(s, ICMP_TIME_EXCEEDED,
						ICMP_TIME_EXCEEDED_REASSEMBLY, r->src, r->header,
						r->header_len, r->data, 8);
			reass_free(s, r);
		}
	}
#else
	(void)s;
#endif
}

uint64_t ipv4_next_deadline(const struct net_stack *s)
{
	uint64_t d = 0;
#if CONFIG_NET_IP_REASS_SLOTS > 0
	for (int i = 0; i < CONFIG_NET_IP_REASS_SLOTS; i++)
		if (s->ipv4.reass[i].in_use)
			d = net_earliest(d, s->ipv4.reass[i].deadline);
#else
	(void)s;
#endif
	return d;
}
