/* Ethernet, ARP, IPv4 (checks, reassembly), ICMP and UDP. */
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

static const uint8_t *captured(struct test_wire *w, int i)
{
	return i < w->captured ? w->capture[i].data : NULL;
}

static const uint8_t no_mac[6];

static size_t build_arp(uint8_t *f, uint16_t op, uint32_t spa, uint32_t tpa, const uint8_t *dst)
{
	return wire_build_arp(f, op, spa, no_mac, tpa, dst);
}

static void test_arp_reply_and_gratuitous(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 1, 1);
	/* Changing the address announces it. */
	net_set_ipv4(w.stack[0], NET_IPV4(10, 0, 0, 9), NET_IPV4(255, 255, 255, 0), 0);
	const uint8_t *g = captured(&w, 0);
	assert_non_null(g);
	assert_int_equal(net_get16(g + 12), 0x0806);
	assert_int_equal(net_get32(g + 28), NET_IPV4(10, 0, 0, 9));
	assert_int_equal(net_get32(g + 38), NET_IPV4(10, 0, 0, 9));
	net_set_ipv4(w.stack[0], WIRE_IP_A, NET_IPV4(255, 255, 255, 0), 0);
	wire_clear_capture(&w);
	uint8_t f[64];
	const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	wire_inject(&w, f, build_arp(f, 1, WIRE_IP_B, WIRE_IP_A, bcast));
	const uint8_t *r = captured(&w, 0);
	assert_non_null(r);
	assert_memory_equal(r, wire_mac[1], 6);
	assert_int_equal(net_get16(r + 20), 2);
	assert_memory_equal(r + 22, wire_mac[0], 6);
	assert_int_equal(net_get32(r + 38), WIRE_IP_B);
	/* A request for someone else is not answered. */
	wire_clear_capture(&w);
	wire_inject(&w, f, build_arp(f, 1, WIRE_IP_B, NET_IPV4(10, 0, 0, 77), bcast));
	assert_int_equal(w.captured, 0);
	/* Another host claims our address: counted, defended once per 10 s. */
	wire_clear_capture(&w);
	wire_inject(&w, f, build_arp(f, 2, WIRE_IP_A, WIRE_IP_B, wire_mac[0]));
	wire_inject(&w, f, build_arp(f, 2, WIRE_IP_A, WIRE_IP_B, wire_mac[0]));
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ARP_CONFLICT), 2);
	assert_int_equal(w.captured, 1);
	assert_int_equal(net_get32(captured(&w, 0) + 28), WIRE_IP_A); /* the announcement */
	wire_clear_capture(&w);
	/* Malformed: wrong hardware length, truncated. */
	build_arp(f, 1, WIRE_IP_B, WIRE_IP_A, bcast);
	f[18] = 8;
	wire_inject(&w, f, 60);
	wire_inject(&w, f, 30);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ARP_DROP_MALFORMED), 2);
	assert_int_equal(w.captured, 0);
	wire_free(&w);
}

static void udp_count(void *arg, struct udp_socket *sock, uint32_t src, uint16_t sport,
		      const uint8_t *data, size_t len)
{
	(void)sock;
	(void)src;
	int *n = arg;
	*n += 1;
	/* Echo it back. */
	udp_sendto(sock, src, sport, data, len);
}

static void test_arp_queue_and_timeout(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 2, 1);
	int n = 0;
	struct udp_socket *u = udp_open(w.stack[0], 0, udp_count, &n);
	assert_non_null(u);
	/* To a host that never answers: requests are retried, then the queue is dropped. */
	uint32_t before = net_counter(w.stack[0], NET_CNT_ARP_TX);
	assert_int_equal(udp_sendto(u, NET_IPV4(10, 0, 0, 50), 9, "hi", 2), NET_OK);
	wire_run(&w, 10000);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ARP_TX) - before, 3);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ARP_QUEUE_DROP), 1);
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_ARP_QUEUE).in_use, 0);
	/* The queue is bounded. */
	for (int i = 0; i < CONFIG_NET_ARP_QUEUE + 3; i++)
		udp_sendto(u, NET_IPV4(10, 0, 0, 51), 9, "hi", 2);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ARP_QUEUE_FULL), 3);
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_ARP_QUEUE).exhausted, 3);
	assert_int_equal(udp_sendto(u, WIRE_IP_B, 9, "hi", 2), NET_ENOMEM);
	wire_run(&w, 10000);
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_ARP_QUEUE).in_use, 0);
	/* To B (the wire answers ARP): the queued datagram goes out after the reply. */
	wire_clear_capture(&w);
	assert_int_equal(udp_sendto(u, WIRE_IP_B, 9, "hi", 2), NET_OK);
	wire_run(&w, 1);
	int udp = 0;
	for (int i = 0; i < w.captured; i++)
		udp += net_get16(w.capture[i].data + 12) == 0x0800;
	assert_int_equal(udp, 1);
	/* No route off-link without a gateway. */
	assert_int_equal(udp_sendto(u, NET_IPV4(192, 168, 1, 1), 9, "x", 1), NET_EUNREACH);
	udp_close(u);
	wire_free(&w);
}

static void test_icmp_echo_and_unreachable(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 3, 1);
	uint8_t f[1600], icmp[64];
	memset(icmp, 0xab, sizeof(icmp));
	icmp[0] = 8;
	icmp[1] = 0;
	net_put16(icmp + 2, 0);
	net_put16(icmp + 2, net_checksum_finish(net_checksum_add(0, icmp, sizeof(icmp))));
	wire_run(&w, 1);
	wire_clear_capture(&w);
	wire_inject(&w, f, wire_build_ipv4(f, WIRE_IP_B, WIRE_IP_A, 1, 7, 0, icmp, sizeof(icmp)));
	wire_run(&w, 1);
	const uint8_t *r = NULL;
	for (int i = 0; i < w.captured; i++)
		if (net_get16(w.capture[i].data + 12) == 0x0800)
			r = w.capture[i].data;
	assert_non_null(r);
	assert_int_equal(r[23], 1);
	assert_int_equal(r[34], 0);
	assert_memory_equal(r + 38, icmp + 4, sizeof(icmp) - 4);
	assert_int_equal(net_checksum_finish(net_checksum_add(0, r + 34, sizeof(icmp))), 0);
	/* UDP to a closed port: port unreachable quoting the datagram. */
	wire_clear_capture(&w);
	wire_inject(&w, f, wire_build_udp(f, 1000, 4444, (const uint8_t *)"data", 4));
	r = captured(&w, 0);
	assert_non_null(r);
	assert_int_equal(r[34], 3);
	assert_int_equal(r[35], 3);
	assert_int_equal(net_get16(r + 34 + 8 + 20 + 2), 4444);
	/* Errors are rate limited: a burst to closed ports gets at most the budget. */
	wire_clear_capture(&w);
	for (int i = 0; i < CONFIG_NET_ICMP_ERRORS_PER_S + 50; i++)
		wire_inject(&w, f, wire_build_udp(f, 1000, 4444, (const uint8_t *)"data", 4));
	assert_true(w.captured <= CONFIG_NET_ICMP_ERRORS_PER_S);
	assert_true(net_counter(w.stack[0], NET_CNT_ICMP_RATE_LIMITED) >= 50);
	wire_run(&w, 1000);
	/* Unknown protocol: protocol unreachable. */
	wire_clear_capture(&w);
	wire_inject(&w, f, wire_build_ipv4(f, WIRE_IP_B, WIRE_IP_A, 99, 8, 0, icmp, 8));
	r = captured(&w, 0);
	assert_non_null(r);
	assert_int_equal(r[35], 2);
	/* Bad ICMP checksum: dropped and counted. */
	wire_clear_capture(&w);
	icmp[5] ^= 1;
	wire_inject(&w, f, wire_build_ipv4(f, WIRE_IP_B, WIRE_IP_A, 1, 9, 0, icmp, sizeof(icmp)));
	assert_int_equal(w.captured, 0);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ICMP_DROP_MALFORMED), 1);
	wire_free(&w);
}

static void test_ipv4_validation(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 4, 1);
	uint8_t f[1600];
	size_t n = wire_build_udp(f, 1, 2, (const uint8_t *)"x", 1);
	f[24] ^= 0xff; /* header checksum */
	wire_inject(&w, f, n);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_IP_DROP_CHECKSUM), 1);
	n = wire_build_udp(f, 1, 2, (const uint8_t *)"x", 1);
	wire_inject(&w, f, 30); /* truncated */
	f[14] = 0x44;           /* IHL 4 */
	wire_inject(&w, f, n);
	n = wire_build_udp(f, 1, 2, (const uint8_t *)"x", 1);
	net_put16(f + 16, 200); /* total length beyond the frame */
	wire_inject(&w, f, n);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_IP_DROP_MALFORMED), 3);
	n = wire_build_ipv4(f, WIRE_IP_B, NET_IPV4(10, 0, 0, 99), 17, 1, 0,
			    (const uint8_t *)"12345678", 8);
	wire_inject(&w, f, n);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_IP_DROP_NOT_FOR_US), 1);
	/* Frames for another MAC, too short, unknown type. */
	n = wire_build_udp(f, 1, 2, (const uint8_t *)"x", 1);
	f[0] = 0x02;
	f[5] = 0x77;
	wire_inject(&w, f, n);
	wire_inject(&w, f, 5);
	n = wire_build_udp(f, 1, 2, (const uint8_t *)"x", 1);
	f[12] = 0x86;
	f[13] = 0xdd;
	wire_inject(&w, f, n);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ETH_DROP_NOT_FOR_US), 1);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ETH_DROP_SHORT), 1);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_ETH_DROP_TYPE), 1);
	wire_free(&w);
}

struct got {
	int n;
	size_t len;
	uint8_t data[9000];
};

static void udp_keep(void *arg, struct udp_socket *sock, uint32_t src, uint16_t sport,
		     const uint8_t *data, size_t len)
{
	(void)sock;
	(void)src;
	(void)sport;
	struct got *g = arg;
	g->n++;
	g->len = len;
	memcpy(g->data, data, len);
}

/* Send a UDP datagram of `len` bytes in fragments of `fragsz`, in the given order. */
static void send_fragments(struct test_wire *w, uint16_t id, const uint8_t *udp, size_t len,
			   size_t fragsz, const int *order, int count)
{
	uint8_t f[1600];
	for (int k = 0; k < count; k++) {
		size_t off = (size_t)order[k] * fragsz;
		size_t l = len - off < fragsz ? len - off : fragsz;
		int more = off + l < len;
		uint16_t frag = (uint16_t)((off / 8) | (more ? 0x2000 : 0));
		wire_inject(w, f,
			    wire_build_ipv4(f, WIRE_IP_B, WIRE_IP_A, 17, id, frag, udp + off, l));
	}
}

static void test_reassembly(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 5, 1);
	struct got *g = calloc(1, sizeof(*g));
	assert_non_null(udp_open(w.stack[0], 7, udp_keep, g));
	size_t plen = 3000;
	uint8_t *udp = malloc(8 + plen);
	for (size_t i = 0; i < plen; i++)
		udp[8 + i] = (uint8_t)(i * 7);
	net_put16(udp, 1000);
	net_put16(udp + 2, 7);
	net_put16(udp + 4, (uint16_t)(8 + plen));
	net_put16(udp + 6, 0);
	uint32_t sum = net_checksum_pseudo(WIRE_IP_B, WIRE_IP_A, 17, 8 + plen);
	net_put16(udp + 6, net_checksum_finish(net_checksum_add(sum, udp, 8 + plen)));
	/* Out of order: 2, 0, 1 (fragments of 1480 bytes). */
	const int order[] = {2, 0, 1};
	send_fragments(&w, 100, udp, 8 + plen, 1480, order, 3);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->len, plen);
	assert_memory_equal(g->data, udp + 8, plen);
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_REASS).in_use, 0);
	/* Overlap: the datagram is dropped. */
	const int dup[] = {0, 0, 1, 2};
	send_fragments(&w, 101, udp, 8 + plen, 1480, dup, 4);
	assert_int_equal(g->n, 1);
	assert_true(net_counter(w.stack[0], NET_CNT_IP_REASS_DROP) >= 1);
	/* Incomplete: times out and frees its slot. */
	const int part[] = {0};
	send_fragments(&w, 102, udp, 8 + plen, 1480, part, 1);
	/* (the tail of the overlapping datagram holds the other slot) */
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_REASS).in_use, 2);
	wire_clear_capture(&w);
	wire_run(&w, (CONFIG_NET_IP_REASS_TIMEOUT_S + 1) * 1000);
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_REASS).in_use, 0);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_IP_REASS_TIMEOUT), 2);
	/* Fragment zero had arrived for one of them: ICMP time exceeded (code 1). */
	int exceeded = 0;
	for (int i = 0; i < w.captured; i++) {
		const uint8_t *r = w.capture[i].data;
		if (net_get16(r + 12) == 0x0800 && r[23] == 1 && r[34] == 11 && r[35] == 1 &&
		    net_get16(r + 34 + 8 + 4) == 102)
			exceeded++;
	}
	assert_int_equal(exceeded, 1);
	/* More datagrams in flight than slots: the excess is counted and dropped. */
	for (int i = 0; i < CONFIG_NET_IP_REASS_SLOTS + 2; i++)
		send_fragments(&w, (uint16_t)(200 + i), udp, 8 + plen, 1480, part, 1);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_IP_REASS_POOL_FULL), 2);
	/* Too large for a slot. */
	wire_run(&w, (CONFIG_NET_IP_REASS_TIMEOUT_S + 1) * 1000);
	uint8_t f[1600];
	wire_inject(&w, f,
		    wire_build_ipv4(f, WIRE_IP_B, WIRE_IP_A, 17, 300,
				    (uint16_t)(CONFIG_NET_IP_REASS_SIZE / 8), udp, 16));
	assert_true(net_counter(w.stack[0], NET_CNT_IP_REASS_DROP) >= 2);
	free(udp);
	free(g);
	wire_free(&w);
}

static void test_udp_between_stacks(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 6, 0);
	struct got *g = calloc(1, sizeof(*g));
	int echoes = 0;
	struct udp_socket *a = udp_open(w.stack[0], 0, udp_keep, g);
	struct udp_socket *b = udp_open(w.stack[1], 53, udp_count, &echoes);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(udp_open(w.stack[1], 53, udp_count, &echoes)); /* port taken */
	assert_int_equal(udp_sendto(a, WIRE_IP_B, 53, "ping", 4), NET_OK);
	wire_run(&w, 100);
	assert_int_equal(echoes, 1);
	assert_int_equal(g->n, 1);
	assert_memory_equal(g->data, "ping", 4);
	uint8_t big[1500] = {0};
	assert_int_equal(udp_sendto(a, WIRE_IP_B, 53, big, 1473), NET_EMSGSIZE);
	assert_int_equal(udp_sendto(a, WIRE_IP_B, 53, big, 1472), NET_OK);
	/* Pool exhaustion is reported. */
	struct udp_socket *more[CONFIG_NET_UDP_SOCKETS];
	int opened = 0;
	while (opened < CONFIG_NET_UDP_SOCKETS &&
	       (more[opened] = udp_open(w.stack[0], 0, udp_keep, g)) != NULL)
		opened++;
	assert_int_equal(opened, CONFIG_NET_UDP_SOCKETS - 1);
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_UDP).exhausted, 1);
	for (int i = 0; i < opened; i++)
		udp_close(more[i]);
	free(g);
	wire_free(&w);
}

static void test_checksum_known_values(void **state)
{
	(void)state;
	/* RFC 1071 §3 example: 0001 f203 f4f5 f6f7 sums to ddf2. */
	const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	assert_int_equal(net_checksum_finish(net_checksum_add(0, d, 8)), (uint16_t)~0xddf2);
	/* Odd length pads with zero. */
	const uint8_t o[] = {0x12, 0x34, 0x56};
	assert_int_equal(net_checksum_finish(net_checksum_add(0, o, 3)),
			 (uint16_t) ~(0x1234 + 0x5600));
	/* The word-at-a-time sum equals the RFC 1071 definition at any length
	 * and alignment (deterministic random buffers). */
	uint8_t buf[2100];
	uint32_t seed = 7;
	for (int t = 0; t < 2000; t++) {
		size_t off = (size_t)t % 8, n = (size_t)(t * 37) % 2000;
		for (size_t i = 0; i < off + n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		uint32_t ref = (uint32_t)t;
		for (size_t i = 0; i + 1 < n; i += 2)
			ref += (uint32_t)buf[off + i] << 8 | buf[off + i + 1];
		if (n & 1)
			ref += (uint32_t)buf[off + n - 1] << 8;
		assert_int_equal(net_checksum_finish(net_checksum_add((uint32_t)t, buf + off, n)),
				 net_checksum_finish(ref));
	}
	assert_string_equal(net_counter_name(NET_CNT_TCP_RX), "TCP_RX");
	assert_string_equal(net_result_text(NET_EREFUSED), "connection refused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checksum_known_values),
	    cmocka_unit_test(test_arp_reply_and_gratuitous),
	    cmocka_unit_test(test_arp_queue_and_timeout),
	    cmocka_unit_test(test_icmp_echo_and_unreachable),
	    cmocka_unit_test(test_ipv4_validation),
	    cmocka_unit_test(test_reassembly),
	    cmocka_unit_test(test_udp_between_stacks),
	};
	return cmocka_run_group_tests_name("net_ip", tests, NULL, NULL);
}
