/* arp.c — ARP for IPv4 over Ethernet (RFC 826, RFC 5227 announcements). */
#include "arp.h"

#include <string.h>

#include "eth.h"
#include "stack.h"
#include "wire.h"

#define ARP_LEN                28
#define ARP_REQUEST            1
#define ARP_REPLY              2
#define ARP_RETRY_MS           1000
#define ARP_TRIES              3
#define ARP_DEFEND_INTERVAL_MS 10000 /* RFC 5227 DEFEND_INTERVAL */

enum { ARP_FREE, ARP_PENDING, ARP_RESOLVED };

static void arp_send(struct net_stack *s, uint16_t op, const uint8_t tha[6], uint32_t tpa,
		     const uint8_t dst[6])
{
	uint8_t *p = s->tx + NET_ETH_HLEN;
	net_put16(p, 1);
	net_put16(p + 2, ETH_TYPE_IPV4);
	p[4] = 6;
	p[5] = 4;
	net_put16(p + 6, op);
	memcpy(p + 8, s->port.mac, 6);
	net_put32(p + 14, s->addr);
	memcpy(p + 18, tha, 6);
	net_put32(p + 24, tpa);
	net_count(s, NET_CNT_ARP_TX);
	/* Pad to the Ethernet minimum of 60 bytes. */
	memset(p + ARP_LEN, 0, 60 - NET_ETH_HLEN - ARP_LEN);
	eth_output(s, s->tx, 60, dst, ETH_TYPE_ARP);
}

static const uint8_t zero_mac[6];

void arp_announce(struct net_stack *s)
{
	/* Gratuitous ARP: a request for our own address updates neighbours' caches. */
	arp_send(s, ARP_REQUEST, zero_mac, s->addr, eth_broadcast);
}

static struct arp_entry *arp_find(struct net_stack *s, uint32_t addr)
{
	for (int i = 0; i < CONFIG_NET_ARP_ENTRIES; i++)
		if (s->arp.entries[i].state != ARP_FREE && s->arp.entries[i].addr == addr)
			return &s->arp.entries[i];
	return NULL;
}

static struct arp_entry *arp_new(struct net_stack *s, uint32_t addr)
{
	struct arp_entry *victim = NULL;
	for (int i = 0; i < CONFIG_NET_ARP_ENTRIES; i++) {
		struct arp_entry *e = &s->arp.entries[i];
		if (e->state == ARP_FREE) {
			victim = e;
			break;
		}
		/* Otherwise evict the resolved entry closest to expiry. */
		if (e->state == ARP_RESOLVED && (victim == NULL || e->deadline < victim->deadline))
			victim = e;
	}
	if (victim == NULL) {
		net_count(s, NET_CNT_ARP_CACHE_FULL);
		return NULL;
	}
	memset(victim, 0, sizeof(*victim));
	victim->addr = addr;
	return victim;
}

static void arp_drop_queued(struct net_stack *s, uint32_t addr)
{
	for (int i = 0; i < CONFIG_NET_ARP_QUEUE; i++) {
		if (s->arp.queue[i].next_hop == addr) {
			s->arp.queue[i].next_hop = 0;
			net_pool_gave(s, NET_POOL_ARP_QUEUE);
			net_count(s, NET_CNT_ARP_QUEUE_DROP);
		}
	}
}

static void arp_resolved(struct net_stack *s, struct arp_entry *e, const uint8_t mac[6])
{
	memcpy(e->mac, mac, 6);
	e->state = ARP_RESOLVED;
	e->deadline = s->now + (uint64_t)CONFIG_NET_ARP_TIMEOUT_S * 1000;
	for (int i = 0; i < CONFIG_NET_ARP_QUEUE; i++) {
		struct arp_queued *q = &s->arp.queue[i];
		if (q->next_hop == e->addr) {
			q->next_hop = 0;
			net_pool_gave(s, NET_POOL_ARP_QUEUE);
			eth_output(s, q->frame, q->len, mac, ETH_TYPE_IPV4);
		}
	}
}

void arp_input(struct net_stack *s, const uint8_t *p, size_t len)
{
	net_count(s, NET_CNT_ARP_RX);
	if (len < ARP_LEN || net_get16(p) != 1 || net_get16(p + 2) != ETH_TYPE_IPV4 || p[4] != 6 ||
	    p[5] != 4) {
		net_count(s, NET_CNT_ARP_DROP_MALFORMED);
		return;
	}
	uint16_t op = net_get16(p + 6);
	const uint8_t *sha = p + 8;
	uint32_t spa = net_get32(p + 14);
	uint32_t tpa = net_get32(p + 24);
	if ((op != ARP_REQUEST && op != ARP_REPLY) || (sha[0] & 1) || spa == 0xffffffffu) {
		net_count(s, NET_CNT_ARP_DROP_MALFORMED);
		return;
	}
	if (s->addr != 0 && spa == s->addr && memcmp(sha, s->port.mac, 6) != 0) {
		/* RFC 5227 §2.4: someone else claims our address. Count it and
		 * defend once per interval with an announcement (option b). */
		net_count(s, NET_CNT_ARP_CONFLICT);
		if (s->arp.last_defense == 0 ||
		    s->now - s->arp.last_defense >= ARP_DEFEND_INTERVAL_MS) {
			s->arp.last_defense = s->now;
			arp_announce(s);
		}
		return;
	}
	if (spa == 0 || s->addr == 0 || spa == s->addr)
		return; /* probes (RFC 5227), or we have no address yet */
	/* RFC 826 merge: refresh a known sender; learn it when the packet is for us. */
	struct arp_entry *e = arp_find(s, spa);
	if (e == NULL && tpa == s->addr)
		e = arp_new(s, spa);
	if (e != NULL)
		arp_resolved(s, e, sha);
	if (op == ARP_REQUEST && tpa == s->addr)
		arp_send(s, ARP_REPLY, sha, spa, sha);
}

int arp_output(struct net_stack *s, uint32_t next_hop, uint8_t *frame, size_t len)
{
	struct arp_entry *e = arp_find(s, next_hop);
	if (e != NULL && e->state == ARP_RESOLVED)
		return eth_output(s, frame, len, e->mac, ETH_TYPE_IPV4);
	int ask = 0;
	if (e == NULL) {
		e = arp_new(s, next_hop);
		if (e == NULL)
			return NET_ENOMEM;
		e->state = ARP_PENDING;
		e->tries = 1;
		e->deadline = s->now + ARP_RETRY_MS;
		ask = 1;
	}
	/* Hold a copy until the reply comes (before the request reuses s->tx).
	 * TCP would recover anyway; UDP and ICMP would lose their datagram. */
	int rc = NET_ENOMEM;
	for (int i = 0; i < CONFIG_NET_ARP_QUEUE; i++) {
		struct arp_queued *q = &s->arp.queue[i];
		if (q->next_hop == 0) {
			q->next_hop = next_hop;
			q->len = (uint16_t)len;
			memcpy(q->frame, frame, len);
			net_pool_took(s, NET_POOL_ARP_QUEUE);
			rc = NET_OK;
			break;
		}
	}
	if (rc != NET_OK) {
		net_count(s, NET_CNT_ARP_QUEUE_FULL);
		net_pool_exhausted(s, NET_POOL_ARP_QUEUE);
	}
	if (ask)
		arp_send(s, ARP_REQUEST, zero_mac, next_hop, eth_broadcast);
	return rc;
}

void arp_flush(struct net_stack *s)
{
	for (int i = 0; i < CONFIG_NET_ARP_ENTRIES; i++) {
		struct arp_entry *e = &s->arp.entries[i];
		if (e->state == ARP_PENDING)
			arp_drop_queued(s, e->addr);
		e->state = ARP_FREE;
	}
}

void arp_poll(struct net_stack *s)
{
	for (int i = 0; i < CONFIG_NET_ARP_ENTRIES; i++) {
		struct arp_entry *e = &s->arp.entries[i];
		if (e->state == ARP_FREE || e->deadline > s->now)
			continue;
		if (e->state == ARP_RESOLVED || e->tries >= ARP_TRIES) {
			if (e->state == ARP_PENDING)
				arp_drop_queued(s, e->addr);
			e->state = ARP_FREE;
			continue;
		}
		e->tries++;
		e->deadline = s->now + ARP_RETRY_MS;
		arp_send(s, ARP_REQUEST, zero_mac, e->addr, eth_broadcast);
	}
}

uint64_t arp_next_deadline(const struct net_stack *s)
{
	uint64_t d = 0;
	for (int i = 0; i < CONFIG_NET_ARP_ENTRIES; i++)
		if (s->arp.entries[i].state != ARP_FREE)
			d = net_earliest(d, s->arp.entries[i].deadline);
	return d;
}
