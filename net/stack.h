/* stack.h — one stack instance: every module's state in one block, and the
 * helpers all modules use (clock, counters, pools, random numbers). */
#ifndef NET_STACK_H
#define NET_STACK_H

#include <stdint.h>

#include "arp.h"
#include "config.h"
#include "dhcp.h"
#include "dns.h"
#include "ipv4.h"
#include "net.h"
#include "tcp.h"
#include "udp.h"

struct net_stack {
	struct net_port port;
	uint64_t now; /* ms, read from the port at each entry */
	uint32_t addr, netmask, gateway;
	uint64_t random_counter;
	uint64_t icmp_error_second; /* ICMP error budget (icmp.c) */
	uint32_t icmp_errors_sent;
	uint32_t counters[NET_CNT_COUNT];
	struct net_pool_stats pools[NET_POOL_COUNT];
	struct arp_state arp;
	struct ipv4_state ipv4;
	struct udp_state udp;
	struct tcp_state tcp;
	struct dhcp_state dhcp;
	struct dns_state dns;
	/* Every outgoing frame is built here and handed to the port at once. */
	uint8_t tx[NET_FRAME_MAX] __attribute__((aligned(8)));
};

/* net.c */
static inline void net_count(struct net_stack *s, enum net_counter_id id)
{
	s->counters[id]++;
}
static inline void net_count_add(struct net_stack *s, enum net_counter_id id, uint32_t n)
{
	s->counters[id] += n;
}
void net_pool_took(struct net_stack *s, enum net_pool_id id);
void net_pool_gave(struct net_stack *s, enum net_pool_id id);
void net_pool_exhausted(struct net_stack *s, enum net_pool_id id);
uint32_t net_random32(struct net_stack *s);
uint16_t net_ephemeral_port(struct net_stack *s, int (*in_use)(struct net_stack *, uint16_t));
/* Earliest of two deadlines where 0 means "none". */
static inline uint64_t net_earliest(uint64_t a, uint64_t b)
{
	return a == 0 ? b : (b == 0 || a < b) ? a : b;
}

#endif
