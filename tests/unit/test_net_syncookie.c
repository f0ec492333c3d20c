/* SYN cookies (RFC 4987 §3.6): beyond the listen backlog every SYN is
 * answered without state; a valid cookie in the returning ACK creates the
 * connection; forged, replayed-with-another-ISN and expired cookies are
 * refused; window scale, SACK-permitted and MSS survive the round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stack.h"
#include "tcp.h"
#include "test_net_wire.h"
#include "wire.h"

struct server {
	struct tcp_conn *conn;
	int accepted;
	uint8_t rx[256];
	size_t rx_len;
};

static void server_event(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	struct server *s = arg;
	if (ev == TCP_EVENT_ACCEPT) {
		s->conn = c;
		s->accepted++;
	}
	if (ev == TCP_EVENT_RECV || ev == TCP_EVENT_ACCEPT) {
		int n = tcp_recv(c, s->rx + s->rx_len, sizeof(s->rx) - s->rx_len);
		if (n > 0)
			s->rx_len += (size_t)n;
	}
}

struct client {
	int connected;
};

static void client_event(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	(void)c;
	struct client *cl = arg;
	if (ev == TCP_EVENT_CONNECTED)
		cl->connected++;
}

static int count_synacks(const struct test_wire *w, uint16_t *ports, int max)
{
	struct wire_tcp t;
	int n = 0;
	for (int i = 0; wire_captured_tcp(w, i, &t) == 0; i++)
		if (t.flags == (TCP_FLAG_SYN | TCP_FLAG_ACK) && n < max)
			ports[n++] = t.dport;
	return n;
}

/* The last SYN-ACK captured for `port`. */
static int synack_for(const struct test_wire *w, uint16_t port, struct wire_tcp *out)
{
	struct wire_tcp t;
	int found = -1;
	for (int i = 0; wire_captured_tcp(w, i, &t) == 0; i++)
		if (t.flags == (TCP_FLAG_SYN | TCP_FLAG_ACK) && t.dport == port) {
			*out = t;
			found = 0;
		}
	return found;
}

static void inject_syn(struct test_wire *w, uint16_t sport, uint32_t seq)
{
	uint8_t f[1600];
	wire_inject(w, f,
		    wire_build_tcp(f, sport, 80, seq, 0, TCP_FLAG_SYN, 8192, NULL, 0, NULL, 0));
}

/* A raw B with its address in A's ARP cache: a SYN to a closed port makes
 * A resolve B to send its RST. */
static void wire_init_resolved(struct test_wire *w, uint32_t seed)
{
	uint8_t f[1600];
	wire_init(w, seed, 1);
	wire_inject(w, f, wire_build_tcp(f, 1, 81, 1, 0, TCP_FLAG_SYN, 8192, NULL, 0, NULL, 0));
	wire_run(w, 1);
	wire_clear_capture(w);
}

static void test_burst_all_answered(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init_resolved(&w, 21);
	struct server srv = {0};
	assert_non_null(tcp_listen(w.stack[0], 80, 2, server_event, &srv));
	/* 8 SYNs at once from different ports: 2 fill the backlog, 6 get cookies. */
	for (int i = 0; i < 8; i++)
		inject_syn(&w, (uint16_t)(40000 + i), 1000u * (uint32_t)i);
	uint16_t ports[16];
	assert_int_equal(count_synacks(&w, ports, 16), 8);
	for (int i = 0; i < 8; i++) {
		struct wire_tcp t;
		assert_int_equal(synack_for(&w, (uint16_t)(40000 + i), &t), 0);
		assert_int_equal(t.ack, 1000u * (uint32_t)i + 1);
		assert_int_equal(t.mss, CONFIG_NET_TCP_MSS);
	}
	assert_int_equal(net_counter(w.stack[0], NET_CNT_TCP_SYNCOOKIE_TX), 6);
	assert_int_equal(net_pool_stats(w.stack[0], NET_POOL_TCP).in_use, 2);
	/* Every one of them completes: cookie or not. */
	for (int i = 0; i < 8; i++) {
		struct wire_tcp t;
		uint8_t f[1600];
		synack_for(&w, (uint16_t)(40000 + i), &t);
		wire_inject(&w, f,
			    wire_build_tcp(f, (uint16_t)(40000 + i), 80, 1000u * (uint32_t)i + 1,
					   t.seq + 1, TCP_FLAG_ACK, 8192, NULL, 0, NULL, 0));
	}
	assert_int_equal(srv.accepted, 8);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_TCP_SYNCOOKIE_OK), 6);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_TCP_SYNCOOKIE_BAD), 0);
	wire_free(&w);
}

/* A SYN to B's port 80 from a spoofed address, as A's stack would see it. */
static size_t spoofed_syn(uint8_t *g, uint32_t src, uint16_t sport, uint32_t seq)
{
	uint8_t f[1600];
	size_t n = wire_build_tcp(f, sport, 80, seq, 0, TCP_FLAG_SYN, 1000, NULL, 0, NULL, 0);
	memcpy(g, f, n);
	size_t l = wire_build_ipv4(g, src, WIRE_IP_B, 6, 1, 0, NULL, n - 34);
	memcpy(g, wire_mac[1], 6);
	memcpy(g + 6, wire_mac[0], 6);
	g[34 + 16] = g[34 + 17] = 0;
	uint32_t sum = net_checksum_pseudo(src, WIRE_IP_B, 6, n - 34);
	uint16_t ck = net_checksum_finish(net_checksum_add(sum, g + 34, n - 34));
	g[34 + 16] = (uint8_t)(ck >> 8);
	g[34 + 17] = (uint8_t)ck;
	return l;
}

static int client_connected(void *arg)
{
	return ((struct client *)arg)->connected > 0;
}

static void test_flood_then_legitimate_connect(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 22, 0);
	struct server srv = {0};
	struct client cl = {0};
	assert_non_null(tcp_listen(w.stack[1], 80, 4, server_event, &srv));
	/* 2000 SYNs from 250 spoofed addresses that never answer. */
	for (int i = 0; i < 2000; i++) {
		uint8_t g[1600];
		uint32_t src = NET_IPV4(10, 0, 1, 1 + i % 250);
		net_input(w.stack[1], g,
			  spoofed_syn(g, src, (uint16_t)(1024 + i), 7919u * (uint32_t)i));
	}
	/* No per-half-open state beyond the backlog. */
	assert_true(net_pool_stats(w.stack[1], NET_POOL_TCP).in_use <= 4);
	assert_true(net_counter(w.stack[1], NET_CNT_TCP_SYNCOOKIE_TX) >= 1996);
	/* A legitimate client connects within 1 s and its data arrives. */
	struct tcp_conn *c = tcp_connect(w.stack[0], WIRE_IP_B, 80, client_event, &cl);
	assert_non_null(c);
	assert_true(wire_run_until(&w, client_connected, &cl, 1000));
	assert_int_equal(tcp_send(c, "hello", 5), 5);
	wire_run(&w, 100);
	assert_int_equal(srv.accepted, 1);
	assert_int_equal(srv.rx_len, 5);
	assert_memory_equal(srv.rx, "hello", 5);
	assert_int_equal(net_counter(w.stack[1], NET_CNT_TCP_SYNCOOKIE_OK), 1);
	tcp_abort(c);
	wire_free(&w);
}

static void test_forged_and_expired_cookies(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init_resolved(&w, 23);
	struct server srv = {0};
	uint8_t f[1600];
	struct wire_tcp t;
	assert_non_null(tcp_listen(w.stack[0], 80, 1, server_event, &srv));
	inject_syn(&w, 50000, 1); /* takes the backlog */
	inject_syn(&w, 50001, 5000);
	assert_int_equal(synack_for(&w, 50001, &t), 0);
	uint32_t cookie = t.seq;
	assert_int_equal(net_counter(w.stack[0], NET_CNT_TCP_SYNCOOKIE_TX), 1);

	/* A forged cookie (one bit off), and the right one with another ISN. */
	wire_clear_capture(&w);
	wire_inject(&w, f,
		    wire_build_tcp(f, 50001, 80, 5001, (cookie ^ 0x10) + 1, TCP_FLAG_ACK, 8192,
				   NULL, 0, NULL, 0));
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.flags, TCP_FLAG_RST);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 50001, 80, 9999, cookie + 1, TCP_FLAG_ACK, 8192, NULL, 0, NULL, 0));
	/* The right cookie for another port. */
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 50002, 80, 5001, cookie + 1, TCP_FLAG_ACK, 8192, NULL, 0, NULL, 0));
	assert_int_equal(net_counter(w.stack[0], NET_CNT_TCP_SYNCOOKIE_BAD), 3);
	assert_int_equal(srv.accepted, 0);

	/* Expired: three cookie periods (65.536 s each) later. */
	wire_run(&w, 3 * 65536 + 1000);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 50001, 80, 5001, cookie + 1, TCP_FLAG_ACK, 8192, NULL, 0, NULL, 0));
	assert_int_equal(net_counter(w.stack[0], NET_CNT_TCP_SYNCOOKIE_BAD), 4);
	assert_int_equal(srv.accepted, 0);

	/* A fresh cookie is still good one period later, with its data. */
	inject_syn(&w, 50000, 1); /* the backlog slot again (the old one timed out) */
	wire_clear_capture(&w);
	inject_syn(&w, 50003, 777);
	assert_int_equal(synack_for(&w, 50003, &t), 0);
	cookie = t.seq;
	wire_run(&w, 65536);
	wire_inject(&w, f,
		    wire_build_tcp(f, 50003, 80, 778, cookie + 1, TCP_FLAG_ACK | TCP_FLAG_PSH, 8192,
				   NULL, 0, (const uint8_t *)"GET /", 5));
	assert_int_equal(srv.accepted, 1);
	assert_int_equal(srv.rx_len, 5);
	assert_int_equal(net_counter(w.stack[0], NET_CNT_TCP_SYNCOOKIE_OK), 1);
	wire_free(&w);
}

static void test_options_survive(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init_resolved(&w, 24);
	struct server srv = {0};
	uint8_t f[1600];
	struct wire_tcp t;
	assert_non_null(tcp_listen(w.stack[0], 80, 1, server_event, &srv));
	inject_syn(&w, 50000, 1);
	/* MSS 1400, window scale 7, SACK-permitted. */
	static const uint8_t opts[] = {2, 4, 0x05, 0x78, 1, 3, 3, 7, 1, 1, 4, 2};
	wire_clear_capture(&w);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 50010, 80, 100, 0, TCP_FLAG_SYN, 65535, opts, sizeof(opts), NULL, 0));
	assert_int_equal(synack_for(&w, 50010, &t), 0);
	assert_int_not_equal(t.ws, 0xff);
	assert_int_equal(t.sack_ok, 1);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 50010, 80, 101, t.seq + 1, TCP_FLAG_ACK, 1000, NULL, 0, NULL, 0));
	assert_int_equal(srv.accepted, 1);
	struct tcp_conn *c = srv.conn;
	assert_int_equal(c->state, TCP_ESTABLISHED);
	assert_int_equal(c->mss, 1220); /* 1400 rounded down to the cookie's table */
	assert_int_equal(c->snd_wscale, 7);
	assert_true(c->flags & TCPF_SACK_OK);
	assert_int_equal(c->snd_wnd, 1000u << 7);
	/* Without options: no scaling either way, MSS 536. */
	wire_clear_capture(&w);
	inject_syn(&w, 50011, 300);
	assert_int_equal(synack_for(&w, 50011, &t), 0);
	assert_int_equal(t.ws, 0xff);
	assert_int_equal(t.sack_ok, 0);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 50011, 80, 301, t.seq + 1, TCP_FLAG_ACK, 1000, NULL, 0, NULL, 0));
	assert_int_equal(srv.accepted, 2);
	c = srv.conn;
	assert_int_equal(c->mss, 536);
	assert_int_equal(c->snd_wscale, 0);
	assert_int_equal(c->rcv_wscale, 0);
	assert_false(c->flags & TCPF_SACK_OK);
	wire_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_all_answered),
	    cmocka_unit_test(test_flood_then_legitimate_connect),
	    cmocka_unit_test(test_forged_and_expired_cookies),
	    cmocka_unit_test(test_options_survive),
	};
	return cmocka_run_group_tests_name("net_syncookie", tests, NULL, NULL);
}
