/* DHCP client against a scripted server, DNS stub against a scripted resolver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stack.h"
#include "test_net_wire.h"
#include "wire.h"

#define OFFERED NET_IPV4(10, 0, 0, 50)

struct server {
	struct udp_socket *sock;
	int discovers, requests, renew_requests, releases, silent, nak;
	uint32_t lease_s;
	/* every DHCPREQUEST, answered or not: its ciaddr, option 50, option 54 */
	int seen_requests;
	uint32_t last_ciaddr, last_requested;
	int last_has_server_id;
};

static size_t dhcp_reply(uint8_t *m, const uint8_t *req, uint8_t type, uint32_t lease)
{
	memset(m, 0, 300);
	m[0] = 2;
	m[1] = 1;
	m[2] = 6;
	memcpy(m + 4, req + 4, 4);    /* xid */
	memcpy(m + 28, req + 28, 16); /* chaddr */
	net_put32(m + 16, type == 6 ? 0 : OFFERED);
	net_put32(m + 236, 0x63825363u);
	uint8_t *o = m + 240;
	*o++ = 53;
	*o++ = 1;
	*o++ = type;
	*o++ = 54;
	*o++ = 4;
	net_put32(o, WIRE_IP_B);
	o += 4;
	*o++ = 51;
	*o++ = 4;
	net_put32(o, lease);
	o += 4;
	*o++ = 1;
	*o++ = 4;
	net_put32(o, NET_IPV4(255, 255, 255, 0));
	o += 4;
	*o++ = 3;
	*o++ = 4;
	net_put32(o, WIRE_IP_B);
	o += 4;
	*o++ = 6;
	*o++ = 4;
	net_put32(o, WIRE_IP_B);
	o += 4;
	*o++ = 255;
	return 300;
}

static int dhcp_type(const uint8_t *m, size_t len)
{
	for (size_t i = 240; i + 2 < len && m[i] != 255;) {
		if (m[i] == 0) {
			i++;
			continue;
		}
		if (m[i] == 53)
			return m[i + 2];
		i += 2 + m[i + 1];
	}
	return -1;
}

/* The value of option code, or NULL. */
static const uint8_t *dhcp_option(const uint8_t *m, size_t len, uint8_t code)
{
	for (size_t i = 240; i + 2 < len && m[i] != 255;) {
		if (m[i] == 0) {
			i++;
			continue;
		}
		if (m[i] == code)
			return m + i + 2;
		i += 2 + m[i + 1];
	}
	return NULL;
}

static void server_recv(void *arg, struct udp_socket *sock, uint32_t src, uint16_t sport,
			const uint8_t *m, size_t len)
{
	(void)sport;
	struct server *sv = arg;
	uint8_t r[300];
	int type = dhcp_type(m, len);
	if (type == 7)
		sv->releases++;
	if (type == 3) {
		const uint8_t *requested = dhcp_option(m, len, 50);
		sv->seen_requests++;
		sv->last_ciaddr = net_get32(m + 12);
		sv->last_requested = requested ? net_get32(requested) : 0;
		sv->last_has_server_id = dhcp_option(m, len, 54) != NULL;
	}
	if (sv->silent)
		return;
	if (type == 1) {
		sv->discovers++;
		udp_sendto(sock, 0xffffffffu, 68, r, dhcp_reply(r, m, 2, sv->lease_s));
	} else if (type == 3) {
		sv->requests++;
		if (src != 0)
			sv->renew_requests++;
		udp_sendto(sock, 0xffffffffu, 68, r,
			   dhcp_reply(r, m, sv->nak ? 6 : 5, sv->lease_s));
	}
}

struct client {
	int bound, renewed, lost;
	struct dhcp_lease lease;
};

static void client_event(void *arg, enum dhcp_event ev, const struct dhcp_lease *lease)
{
	struct client *c = arg;
	c->lease = *lease;
	if (ev == DHCP_EVENT_BOUND)
		c->bound++;
	else if (ev == DHCP_EVENT_RENEWED)
		c->renewed++;
	else
		c->lost++;
}

static int is_bound(void *arg)
{
	return ((struct client *)arg)->bound > 0;
}

static void test_dhcp_lifecycle(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 21, 0);
	net_set_ipv4(w.stack[0], 0, 0, 0);
	struct server sv = {.lease_s = 600};
	sv.sock = udp_open(w.stack[1], 67, server_recv, &sv);
	struct client c = {0};
	/* The first DISCOVER is lost: the client retransmits (RFC 2131 §4.1). */
	w.faults.loss_pct = 100;
	assert_int_equal(dhcp_start(w.stack[0], client_event, &c), NET_OK);
	assert_int_equal(dhcp_start(w.stack[0], client_event, &c), NET_EINUSE);
	wire_run(&w, 100);
	w.faults.loss_pct = 0;
	assert_true(wire_run_until(&w, is_bound, &c, 60000));
	assert_int_equal(net_ipv4_addr(w.stack[0]), OFFERED);
	assert_int_equal(c.lease.gateway, WIRE_IP_B);
	assert_int_equal(c.lease.dns, WIRE_IP_B);
	assert_int_equal(c.lease.t1_s, 300);
	assert_int_equal(sv.discovers, 1);
	/* At T1 the client renews by unicast. */
	wire_run(&w, 301 * 1000);
	assert_int_equal(sv.renew_requests, 1);
	assert_int_equal(c.renewed, 1);
	assert_int_equal(net_ipv4_addr(w.stack[0]), OFFERED);
	/* The server goes away: renew, rebind, then the lease expires and the address goes. */
	sv.silent = 1;
	wire_run(&w, 601 * 1000);
	assert_int_equal(c.lost, 1);
	assert_int_equal(net_ipv4_addr(w.stack[0]), 0);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_DHCP_LEASE_EXPIRED), 1);
	/* It comes back: the client starts over and binds again. */
	sv.silent = 0;
	c.bound = 0;
	assert_true(wire_run_until(&w, is_bound, &c, 120000));
	assert_int_equal(net_ipv4_addr(w.stack[0]), OFFERED);
	/* Stopping releases the lease. */
	dhcp_stop(w.stack[0]);
	wire_run(&w, 100);
	assert_int_equal(sv.releases, 1);
	assert_int_equal(net_ipv4_addr(w.stack[0]), OFFERED);
	wire_run(&w, 3000);
	assert_int_equal(net_ipv4_addr(w.stack[0]), 0);
	wire_free(&w);
}

static void test_dhcp_nak_and_garbage(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 22, 0);
	net_set_ipv4(w.stack[0], 0, 0, 0);
	struct server sv = {.lease_s = 600, .nak = 1};
	sv.sock = udp_open(w.stack[1], 67, server_recv, &sv);
	struct client c = {0};
	assert_int_equal(dhcp_start(w.stack[0], client_event, &c), NET_OK);
	wire_run(&w, 30000);
	/* Every REQUEST is refused: back to DISCOVER each time, never bound. */
	assert_int_equal(c.bound, 0);
	assert_true(sv.discovers >= 2);
	assert_int_equal(net_ipv4_addr(w.stack[0]), 0);
	/* Garbage to port 68 is counted, never crashes. */
	uint8_t junk[300];
	memset(junk, 0xee, sizeof(junk));
	udp_sendto(sv.sock, 0xffffffffu, 68, junk, sizeof(junk));
	udp_sendto(sv.sock, 0xffffffffu, 68, junk, 10);
	wire_run(&w, 10);
	assert_true(net_counter(w.stack[0], NET_CNT_DHCP_DROP_MALFORMED) >= 2);
	dhcp_stop(w.stack[0]);
	wire_free(&w);
}

/* INIT-REBOOT: a previous instance's address, used at once, confirmed later. */
static void test_dhcp_init_reboot(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 23, 0);
	net_set_ipv4(w.stack[0], 0, 0, 0);
	struct server sv = {.lease_s = 600, .silent = 1};
	sv.sock = udp_open(w.stack[1], 67, server_recv, &sv);
	struct client c = {0};
	struct dhcp_lease held = {
	    .addr = OFFERED, .netmask = NET_IPV4(255, 255, 255, 0), .gateway = WIRE_IP_B};
	struct dhcp_lease none = {0};
	assert_int_equal(dhcp_start_reboot(w.stack[0], &none, client_event, &c), NET_EINVAL);
	assert_int_equal(dhcp_start_reboot(w.stack[0], &held, client_event, &c), NET_OK);
	assert_int_equal(dhcp_start(w.stack[0], client_event, &c), NET_EINUSE);
	/* Configured at once, before any server has answered. */
	assert_int_equal(net_ipv4_addr(w.stack[0]), OFFERED);
	/* Cut off (no server answers): it keeps the address and keeps asking
	 * every few seconds (CONFIG_NET_DHCP_RETRY_MS), for as long as it takes. */
	wire_run(&w, 60000);
	assert_int_equal(net_ipv4_addr(w.stack[0]), OFFERED);
	assert_int_equal(c.bound + c.lost, 0);
	assert_true(sv.seen_requests >= 60000 / CONFIG_NET_DHCP_RETRY_MS - 1);
	assert_int_equal(sv.discovers, 0);
	/* RFC 2131 §4.3.2: ciaddr 0, the address in option 50, no server id. */
	assert_int_equal(sv.last_ciaddr, 0);
	assert_int_equal(sv.last_requested, OFFERED);
	assert_false(sv.last_has_server_id);
	/* A server appears: ACK, bound, the usual lease life from then on. */
	sv.silent = 0;
	assert_true(wire_run_until(&w, is_bound, &c, 2 * CONFIG_NET_DHCP_RETRY_MS + 2000));
	assert_int_equal(c.bound, 1);
	assert_int_equal(c.lease.t1_s, 300);
	assert_int_equal(net_ipv4_addr(w.stack[0]), OFFERED);
	assert_int_equal(sv.discovers, 0);
	wire_run(&w, 301 * 1000);
	assert_int_equal(c.renewed, 1);
	dhcp_stop(w.stack[0]);
	wire_free(&w);
}

/* INIT-REBOOT refused (the address is not ours here): dropped, start over. */
static void test_dhcp_init_reboot_nak(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 24, 0);
	net_set_ipv4(w.stack[0], 0, 0, 0);
	struct server sv = {.lease_s = 600, .nak = 1};
	sv.sock = udp_open(w.stack[1], 67, server_recv, &sv);
	struct client c = {0};
	struct dhcp_lease held = {.addr = NET_IPV4(10, 0, 0, 99),
				  .netmask = NET_IPV4(255, 255, 255, 0)};
	assert_int_equal(dhcp_start_reboot(w.stack[0], &held, client_event, &c), NET_OK);
	assert_int_equal(net_ipv4_addr(w.stack[0]), NET_IPV4(10, 0, 0, 99));
	wire_run(&w, 1000);
	assert_int_equal(c.lost, 1);
	assert_int_equal(net_ipv4_addr(w.stack[0]), 0);
	sv.nak = 0;
	assert_true(wire_run_until(&w, is_bound, &c, 120000));
	assert_true(sv.discovers >= 1);
	assert_int_equal(net_ipv4_addr(w.stack[0]), OFFERED);
	/* Stopping in INIT-REBOOT drops the unconfirmed address. */
	dhcp_stop(w.stack[0]);
	wire_free(&w);
	wire_init(&w, 25, 0);
	net_set_ipv4(w.stack[0], 0, 0, 0);
	assert_int_equal(dhcp_start_reboot(w.stack[0], &held, client_event, &c), NET_OK);
	dhcp_stop(w.stack[0]);
	assert_int_equal(net_ipv4_addr(w.stack[0]), 0);
	wire_free(&w);
}

/* ------------------------------------------------------------ DNS */

struct resolver {
	int queries;
};

static void resolver_recv(void *arg, struct udp_socket *sock, uint32_t src, uint16_t sport,
			  const uint8_t *m, size_t len)
{
	struct resolver *r = arg;
	r->queries++;
	if (len < 12 || len > 400)
		return;
	char name[256];
	size_t o = 12, n = 0;
	while (o < len && m[o] != 0 && n < 200) {
		if (n)
			name[n++] = '.';
		memcpy(name + n, m + o + 1, m[o]);
		n += m[o];
		o += 1 + m[o];
	}
	name[n] = 0;
	size_t qend = o + 5;
	uint8_t a[512];
	memcpy(a, m, qend);
	net_put16(a + 2, 0x8180);
	if (strcmp(name, "silent.test") == 0)
		return;
	if (strcmp(name, "missing.test") == 0) {
		net_put16(a + 2, 0x8183);
		udp_sendto(sock, src, sport, a, qend);
		return;
	}
	/* A CNAME first, then the A record (compressed names). */
	uint8_t *p = a + qend;
	net_put16(a + 6, 2);
	net_put16(p, 0xc00c);
	net_put16(p + 2, 5);
	net_put16(p + 4, 1);
	net_put32(p + 6, 60);
	net_put16(p + 10, 2);
	net_put16(p + 12, 0xc00c);
	p += 14;
	net_put16(p, 0xc00c);
	net_put16(p + 2, 1);
	net_put16(p + 4, 1);
	net_put32(p + 6, 60);
	net_put16(p + 10, 4);
	net_put32(p + 12,
		  strcmp(name, "host.test") == 0 ? NET_IPV4(10, 9, 8, 7) : NET_IPV4(10, 1, 1, 1));
	p += 16;
	if (strcmp(name, "loop.test") == 0) {
		net_put16(a + qend, 0xc000 | (uint16_t)qend); /* a pointer to itself */
	}
	udp_sendto(sock, src, sport, a, (size_t)(p - a));
}

struct answer {
	int done, result;
	uint32_t addr;
};

static void dns_done(void *arg, const char *name, int result, uint32_t addr)
{
	(void)name;
	struct answer *a = arg;
	a->done++;
	a->result = result;
	a->addr = addr;
}

static int answered(void *arg)
{
	return ((struct answer *)arg)->done > 0;
}

static void test_dns(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 23, 0);
	struct resolver r = {0};
	udp_open(w.stack[1], 53, resolver_recv, &r);
	struct answer a = {0};
	assert_int_equal(dns_resolve(w.stack[0], "host.test", dns_done, &a),
			 NET_EUNREACH); /* no server yet */
	dns_set_server(w.stack[0], WIRE_IP_B);
	assert_int_equal(dns_resolve(w.stack[0], "bad..name", dns_done, &a), NET_EINVAL);
	assert_int_equal(dns_resolve(w.stack[0], "host.test", dns_done, &a), NET_OK);
	assert_true(wire_run_until(&w, answered, &a, 10000));
	assert_int_equal(a.result, NET_OK);
	assert_int_equal(a.addr, NET_IPV4(10, 9, 8, 7));
	memset(&a, 0, sizeof(a));
	dns_resolve(w.stack[0], "missing.test", dns_done, &a);
	assert_true(wire_run_until(&w, answered, &a, 10000));
	assert_int_equal(a.result, NET_EUNREACH);
	/* A silent server: retried, then a timeout. */
	memset(&a, 0, sizeof(a));
	int before = r.queries;
	dns_resolve(w.stack[0], "silent.test", dns_done, &a);
	assert_true(wire_run_until(&w, answered, &a, 60000));
	assert_int_equal(a.result, NET_ETIMEDOUT);
	assert_int_equal(r.queries - before, CONFIG_NET_DNS_RETRIES);
	/* A pointer loop in the answer is rejected, the query later times out. */
	memset(&a, 0, sizeof(a));
	dns_resolve(w.stack[0], "loop.test", dns_done, &a);
	assert_true(wire_run_until(&w, answered, &a, 60000));
	assert_int_equal(a.result, NET_ETIMEDOUT);
	assert_true(net_counter(w.stack[0], NET_CNT_DNS_DROP_MALFORMED) >= 1);
	/* The query pool is bounded. */
	struct answer many[CONFIG_NET_DNS_QUERIES + 1];
	memset(many, 0, sizeof(many));
	for (int i = 0; i < CONFIG_NET_DNS_QUERIES; i++)
		assert_int_equal(dns_resolve(w.stack[0], "silent.test", dns_done, &many[i]),
				 NET_OK);
	assert_int_equal(
	    dns_resolve(w.stack[0], "silent.test", dns_done, &many[CONFIG_NET_DNS_QUERIES]),
	    NET_ENOMEM);
	wire_run(&w, 60000);
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_DNS).in_use, 0);
	wire_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dhcp_lifecycle),
	    cmocka_unit_test(test_dhcp_nak_and_garbage),
	    cmocka_unit_test(test_dhcp_init_reboot),
	    cmocka_unit_test(test_dhcp_init_reboot_nak),
	    cmocka_unit_test(test_dns),
	};
	return cmocka_run_group_tests_name("net_dhcp_dns", tests, NULL, NULL);
}
