/* net.c — stack lifecycle, the input and timer entry points, counters. */
#include "net.h"

#include <string.h>

#include "eth.h"
#include "stack.h"
#include "wire.h"

size_t net_stack_size(void)
{
	return sizeof(struct net_stack);
}

static const uint16_t pool_sizes[NET_POOL_COUNT] = {
    [NET_POOL_TCP] = CONFIG_NET_TCP_CONNS,       [NET_POOL_UDP] = CONFIG_NET_UDP_SOCKETS,
    [NET_POOL_ARP_QUEUE] = CONFIG_NET_ARP_QUEUE, [NET_POOL_REASS] = CONFIG_NET_IP_REASS_SLOTS,
    [NET_POOL_DNS] = CONFIG_NET_DNS_QUERIES,
};

struct net_stack *net_stack_init(void *mem, size_t len, const struct net_port *port)
{
	if (mem == NULL || len < sizeof(struct net_stack) || ((uintptr_t)mem & 7) != 0 ||
	    port == NULL || port->transmit == NULL || port->now_ms == NULL)
		return NULL;
	struct net_stack *s = mem;
	memset(s, 0, sizeof(*s));
	s->port = *port;
	s->now = port->now_ms(port->ctx);
	for (int i = 0; i < NET_POOL_COUNT; i++)
		s->pools[i].size = pool_sizes[i];
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++)
		s->tcp.conns[i].stack = s;
	for (int i = 0; i < CONFIG_NET_TCP_LISTENERS; i++)
		s->tcp.listeners[i].stack = s;
	for (int i = 0; i < CONFIG_NET_UDP_SOCKETS; i++)
		s->udp.sockets[i].stack = s;
	s->ipv4.next_id = (uint16_t)net_random32(s);
	return s;
}

static void update_clock(struct net_stack *s)
{
	uint64_t now = s->port.now_ms(s->port.ctx);
	if (now > s->now)
		s->now = now;
}

void net_input(struct net_stack *s, const uint8_t *frame, size_t len)
{
	update_clock(s);
	eth_input(s, frame, len);
}

void net_poll(struct net_stack *s)
{
	update_clock(s);
	arp_poll(s);
	ipv4_poll(s);
	tcp_poll(s);
	dhcp_poll(s);
	dns_poll(s);
}

int64_t net_next_timeout_ms(struct net_stack *s)
{
	update_clock(s);
	uint64_t d = arp_next_deadline(s);
	d = net_earliest(d, ipv4_next_deadline(s));
	d = net_earliest(d, tcp_next_deadline(s));
	d = net_earliest(d, dhcp_next_deadline(s));
	d = net_earliest(d, dns_next_deadline(s));
	if (d == 0)
		return -1;
	return d <= s->now ? 0 : (int64_t)(d - s->now);
}

void net_set_ipv4(struct net_stack *s, uint32_t addr, uint32_t netmask, uint32_t gateway)
{
	int changed = addr != s->addr;
	s->addr = addr;
	s->netmask = netmask;
	s->gateway = gateway;
	if (changed) {
		arp_flush(s);
		tcp_address_changed(s);
		if (addr != 0)
			arp_announce(s);
	}
}

uint32_t net_ipv4_addr(const struct net_stack *s)
{
	return s->addr;
}

uint32_t net_counter(const struct net_stack *s, enum net_counter_id id)
{
	return (unsigned)id < NET_CNT_COUNT ? s->counters[id] : 0;
}

const char *net_counter_name(enum net_counter_id id)
{
	static const char *const names[] = {
#define NET_COUNTER_NAME(name) #name,
	    NET_COUNTERS(NET_COUNTER_NAME)
#undef NET_COUNTER_NAME
	};
	return (unsigned)id < NET_CNT_COUNT ? names[id] : "?";
}

struct net_pool_stats net_pool_stats(const struct net_stack *s, enum net_pool_id id)
{
	struct net_pool_stats none = {0, 0, 0, 0};
	return (unsigned)id < NET_POOL_COUNT ? s->pools[id] : none;
}

void net_pool_took(struct net_stack *s, enum net_pool_id id)
{
	struct net_pool_stats *p = &s->pools[id];
	if (++p->in_use > p->peak)
		p->peak = p->in_use;
}

void net_pool_gave(struct net_stack *s, enum net_pool_id id)
{
	s->pools[id].in_use--;
}

void net_pool_exhausted(struct net_stack *s, enum net_pool_id id)
{
	s->pools[id].exhausted++;
}

uint32_t net_random32(struct net_stack *s)
{
	/* A keyed hash of a counter and the clock: unpredictable without the
	 * port's secret, and deterministic for tests that fix the secret. */
	uint8_t in[16];
	net_put32(in, (uint32_t)(s->random_counter >> 32));
	net_put32(in + 4, (uint32_t)s->random_counter++);
	net_put32(in + 8, (uint32_t)(s->now >> 32));
	net_put32(in + 12, (uint32_t)s->now);
	return (uint32_t)net_siphash(s->port.secret, in, sizeof(in));
}

uint16_t net_ephemeral_port(struct net_stack *s, int (*in_use)(struct net_stack *, uint16_t))
{
	/* RFC 6056 range 49152-65535, random start, first free. */
	uint16_t port = (uint16_t)(49152 + net_random32(s) % 16384);
	for (int i = 0; i < 16384; i++) {
		if (!in_use(s, port))
			return port;
		port = port == 65535 ? 49152 : (uint16_t)(port + 1);
	}
	return 0;
}

const char *net_result_text(int result)
{
	switch (result) {
	case NET_OK: return "ok";
	case NET_EAGAIN: return "no room now, retry after the next SENT event";
	case NET_EINVAL: return "invalid argument";
	case NET_ENOMEM: return "pool exhausted: raise the size in menuconfig (Networking)";
	case NET_EUNREACH: return "no route to host: configure an address or a gateway";
	case NET_ENOTCONN: return "connection not open";
	case NET_EINUSE: return "local port already in use";
	case NET_ERESET: return "connection reset by peer";
	case NET_ETIMEDOUT: return "connection timed out";
	case NET_EREFUSED: return "connection refused";
	case NET_EMSGSIZE: return "datagram larger than the MTU";
	default: return "unknown result";
	}
}
