/* dns.h — stub resolver for A records (RFC 1035): one UDP socket, a few
 * queries in flight, timeouts and retries, answers checked against the
 * question, the server and the query id. */
#ifndef NET_DNS_H
#define NET_DNS_H

#include <stdint.h>

#include "config.h"
#include "net.h"

#define DNS_NAME_MAX 253

struct dns_query {
	uint8_t in_use;
	uint8_t tries;
	uint16_t id;
	uint64_t deadline;
	dns_result_fn *fn;
	void *arg;
	char name[DNS_NAME_MAX + 1];
};

struct dns_state {
	uint32_t server;
	struct udp_socket *sock;
	struct dns_query queries[CONFIG_NET_DNS_QUERIES];
};

/* dns.c */
void dns_poll(struct net_stack *s);
uint64_t dns_next_deadline(const struct net_stack *s);

#endif
