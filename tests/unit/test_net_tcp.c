/* TCP: handshakes, transfers under loss/duplication/reordering, closes,
 * RFC 5961 checks, SYN flood bounds, zero windows, keep-alive, options. */
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

struct app {
	struct tcp_conn *conn;
	struct tcp_listener *listener;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	const uint8_t *tx;
	size_t tx_len, tx_off;
	int connected, accepted, peer_closed, aborted, error, sent_events;
	int no_read, close_on_peer_close, close_after_send;
};

static void app_push(struct app *a)
{
	while (a->conn != NULL && a->tx_off < a->tx_len) {
		int n = tcp_send(a->conn, a->tx + a->tx_off, a->tx_len - a->tx_off);
		if (n <= 0)
			break;
		a->tx_off += (size_t)n;
	}
	if (a->conn != NULL && a->close_after_send && a->tx_off == a->tx_len) {
		a->close_after_send = 0;
		tcp_shutdown(a->conn);
	}
}

static void app_read(struct app *a)
{
	for (;;) {
		if (a->rx_len == a->rx_cap) {
			a->rx_cap = a->rx_cap ? a->rx_cap * 2 : 65536;
			a->rx = realloc(a->rx, a->rx_cap);
		}
		int n = tcp_recv(a->conn, a->rx + a->rx_len, a->rx_cap - a->rx_len);
		if (n <= 0)
			break;
		a->rx_len += (size_t)n;
	}
}

static void app_event(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	struct app *a = arg;
	switch (ev) {
	case TCP_EVENT_ACCEPT:
		a->conn = c;
		a->accepted++;
		app_push(a);
		break;
	case TCP_EVENT_CONNECTED:
		a->connected++;
		app_push(a);
		break;
	case TCP_EVENT_RECV:
		if (!a->no_read)
			app_read(a);
		break;
	case TCP_EVENT_SENT:
		a->sent_events++;
		app_push(a);
		break;
	case TCP_EVENT_PEER_CLOSED:
		a->peer_closed++;
		if (!a->no_read)
			app_read(a);
		if (a->close_on_peer_close) {
			tcp_close(a->conn);
			a->conn = NULL;
		}
		break;
	case TCP_EVENT_ABORTED:
		a->aborted++;
		a->error = tcp_error(c);
		a->conn = NULL;
		break;
	}
}

static uint8_t *pattern(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

struct transfer {
	struct app *client, *server;
	size_t want;
};

static int transfer_done(void *arg)
{
	struct transfer *t = arg;
	return t->server->rx_len >= t->want && t->server->peer_closed;
}

static int pool_in_use(struct net_stack *s)
{
	return net_pool_stats(s, NET_POOL_TCP).in_use;
}

/* Client on A sends `len` bytes to a server on B, then closes; both sides close. */
static void run_transfer(uint32_t seed, struct wire_faults faults, size_t len)
{
	struct test_wire w;
	wire_init(&w, seed, 0);
	w.faults = faults;
	struct app server = {.close_on_peer_close = 1}, client = {.close_after_send = 1};
	uint8_t *data = pattern(len, seed);
	client.tx = data;
	client.tx_len = len;
	server.listener = tcp_listen(w.stack[1], 80, 4, app_event, &server);
	assert_non_null(server.listener);
	client.conn = tcp_connect(w.stack[0], WIRE_IP_B, 80, app_event, &client);
	assert_non_null(client.conn);
	struct transfer t = {&client, &server, len};
	assert_true(wire_run_until(&w, transfer_done, &t, 3600 * 1000));
	assert_int_equal(server.rx_len, len);
	assert_memory_equal(server.rx, data, len);
	assert_int_equal(client.connected, 1);
	assert_int_equal(server.accepted, 1);
	/* The client sees the server's FIN and closes; after TIME_WAIT all is free. */
	wire_run(&w, 10 * 60 * 1000);
	assert_int_equal(client.peer_closed, 1);
	assert_int_equal(client.aborted + server.aborted, 0);
	tcp_close(client.conn);
	wire_run(&w, 3 * CONFIG_NET_TCP_MSL_MS);
	assert_int_equal(pool_in_use(w.stack[0]), 0);
	assert_int_equal(pool_in_use(w.stack[1]), 0);
	free(data);
	free(server.rx);
	free(client.rx);
	wire_free(&w);
}

static void test_transfer_clean(void **state)
{
	(void)state;
	struct wire_faults f = {.latency_ms = 1};
	run_transfer(1, f, 1 << 20);
}

static void test_transfer_small(void **state)
{
	(void)state;
	struct wire_faults f = {.latency_ms = 5};
	run_transfer(2, f, 1);
	run_transfer(3, f, 0);
	run_transfer(4, f, 1461);
}

static void test_transfer_lossy(void **state)
{
	(void)state;
	for (uint32_t seed = 10; seed < 16; seed++) {
		struct wire_faults f = {
		    .loss_pct = 5, .dup_pct = 3, .reorder_pct = 20, .latency_ms = 2};
		run_transfer(seed, f, 256 * 1024 + seed);
	}
}

static void test_transfer_heavy_loss(void **state)
{
	(void)state;
	struct wire_faults f = {.loss_pct = 20, .dup_pct = 10, .reorder_pct = 30, .latency_ms = 3};
	run_transfer(99, f, 64 * 1024);
}

static int both_time_wait(void *arg)
{
	struct tcp_conn **c = arg;
	return c[0]->state == TCP_TIME_WAIT && c[1]->state == TCP_TIME_WAIT;
}

static int established(void *arg)
{
	struct app *a = arg;
	return a[0].connected && a[1].accepted;
}

/* A client on A connected to a server on B (port 7); apps[0] client, apps[1] server. */
static void establish(struct test_wire *w, uint32_t seed, struct app apps[2])
{
	wire_init(w, seed, 0);
	memset(apps, 0, 2 * sizeof(*apps));
	apps[1].listener = tcp_listen(w->stack[1], 7, 1, app_event, &apps[1]);
	apps[0].conn = tcp_connect(w->stack[0], WIRE_IP_B, 7, app_event, &apps[0]);
	assert_true(wire_run_until(w, established, apps, 10000));
}

static void test_simultaneous_close(void **state)
{
	(void)state;
	struct test_wire w;
	struct app apps[2];
	establish(&w, 7, apps);
	w.faults.latency_ms = 10;
	struct tcp_conn *c[2] = {apps[0].conn, apps[1].conn};
	tcp_shutdown(c[0]);
	tcp_shutdown(c[1]);
	assert_int_equal(c[0]->state, TCP_FIN_WAIT_1);
	/* Both FINs cross on the wire: FIN_WAIT_1 -> CLOSING -> TIME_WAIT. */
	assert_true(wire_run_until(&w, both_time_wait, c, 10000));
	tcp_close(c[0]);
	tcp_close(c[1]);
	wire_run(&w, 2 * CONFIG_NET_TCP_MSL_MS + 1000);
	assert_int_equal(pool_in_use(w.stack[0]), 0);
	assert_int_equal(pool_in_use(w.stack[1]), 0);
	free(apps[0].rx);
	free(apps[1].rx);
	wire_free(&w);
}

static void test_connect_refused_and_rst_closed_port(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 8, 0);
	struct app a = {0};
	a.conn = tcp_connect(w.stack[0], WIRE_IP_B, 9999, app_event, &a);
	wire_run(&w, 5000);
	assert_int_equal(a.aborted, 1);
	assert_int_equal(a.error, NET_EREFUSED);
	assert_int_equal(net_counter(w.stack[1], NET_CNT_TCP_RST_TX), 1);
	assert_int_equal(pool_in_use(w.stack[0]), 0);
	wire_free(&w);
}

/* A raw peer on B talking to a listener on A. Returns A's ISN. */
static uint32_t raw_handshake(struct test_wire *w, struct app *server, uint16_t sport,
			      uint32_t peer_isn)
{
	uint8_t f[1600], opts[8] = {2, 4, 0x05, 0xb4, 1, 3, 3, 2};
	if (server->listener == NULL)
		server->listener = tcp_listen(w->stack[0], 80, 4, app_event, server);
	wire_clear_capture(w);
	wire_inject(
	    w, f, wire_build_tcp(f, sport, 80, peer_isn, 0, TCP_FLAG_SYN, 65535, opts, 8, NULL, 0));
	wire_run(w, 1);
	struct wire_tcp t;
	assert_int_equal(wire_captured_tcp(w, 0, &t), 0);
	assert_int_equal(t.flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
	assert_int_equal(t.ack, peer_isn + 1);
	assert_int_equal(t.mss, CONFIG_NET_TCP_MSS);
	assert_int_not_equal(t.ws, 0xff);
	wire_inject(w, f,
		    wire_build_tcp(f, sport, 80, peer_isn + 1, t.seq + 1, TCP_FLAG_ACK, 1000, NULL,
				   0, NULL, 0));
	wire_clear_capture(w);
	return t.seq;
}

static void test_challenge_ack(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 9, 1);
	struct app server = {0};
	uint32_t isn = raw_handshake(&w, &server, 4000, 5000);
	assert_int_equal(server.accepted, 1);
	uint8_t f[1600];
	struct wire_tcp t;
	/* RST inside the window but not at rcv_nxt: challenge ACK, no reset. */
	wire_inject(&w, f,
		    wire_build_tcp(f, 4000, 80, 5001 + 100, 0, TCP_FLAG_RST, 0, NULL, 0, NULL, 0));
	assert_int_equal(server.aborted, 0);
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.flags, TCP_FLAG_ACK);
	assert_int_equal(t.ack, 5001);
	assert_int_equal(t.seq, isn + 1);
	/* SYN on an established connection: challenge ACK too (RFC 5961 §4). */
	wire_clear_capture(&w);
	wire_inject(&w, f,
		    wire_build_tcp(f, 4000, 80, 7777, 0, TCP_FLAG_SYN, 1000, NULL, 0, NULL, 0));
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.flags, TCP_FLAG_ACK);
	assert_int_equal(server.aborted, 0);
	/* ACK for data never sent: answered with an ACK and ignored. */
	wire_clear_capture(&w);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 4000, 80, 5001, isn + 100000, TCP_FLAG_ACK, 1000, NULL, 0, NULL, 0));
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(server.aborted, 0);
	assert_true(net_counter(w.stack[0], NET_CNT_TCP_CHALLENGE_ACK) >= 2);
	/* RST exactly at rcv_nxt: the connection is reset. */
	wire_inject(&w, f, wire_build_tcp(f, 4000, 80, 5001, 0, TCP_FLAG_RST, 0, NULL, 0, NULL, 0));
	assert_int_equal(server.aborted, 1);
	assert_int_equal(server.error, NET_ERESET);
	assert_int_equal(pool_in_use(w.stack[0]), 0);
	wire_free(&w);
}

static void test_rst_for_unknown_segments(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 10, 1);
	uint8_t f[1600];
	struct wire_tcp t;
	wire_inject(&w, f,
		    wire_build_tcp(f, 1234, 81, 100, 0, TCP_FLAG_SYN, 1000, NULL, 0, NULL, 0));
	wire_run(&w, 1);
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.flags, TCP_FLAG_RST | TCP_FLAG_ACK);
	assert_int_equal(t.ack, 101);
	wire_clear_capture(&w);
	wire_inject(&w, f,
		    wire_build_tcp(f, 1234, 81, 100, 5555, TCP_FLAG_ACK, 1000, NULL, 0, NULL, 0));
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.flags, TCP_FLAG_RST);
	assert_int_equal(t.seq, 5555);
	/* Never a reset for a reset. */
	wire_clear_capture(&w);
	wire_inject(&w, f,
		    wire_build_tcp(f, 1234, 81, 100, 5555, TCP_FLAG_RST, 1000, NULL, 0, NULL, 0));
	assert_int_equal(w.captured, 0);
	wire_free(&w);
}

static void test_syn_flood_bounded(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 11, 0);
	struct app server = {0}, client = {0};
	uint8_t *data = pattern(100000, 5);
	client.tx = data;
	client.tx_len = 100000;
	server.listener = tcp_listen(w.stack[1], 80, 4, app_event, &server);
	client.conn = tcp_connect(w.stack[0], WIRE_IP_B, 80, app_event, &client);
	wire_run(&w, 50);
	assert_int_equal(server.accepted, 1);
	/* 500 spoofed SYNs from 10.0.0.3 (answered by nobody) hit B's listener. */
	uint8_t f[1600];
	for (int i = 0; i < 500; i++) {
		size_t n = wire_build_tcp(f, (uint16_t)(2000 + i), 80, (uint32_t)i * 7919u, 0,
					  TCP_FLAG_SYN, 1000, NULL, 0, NULL, 0);
		/* rewrite as A->B with a spoofed source */
		uint8_t g[1600];
		memcpy(g, f, n);
		memcpy(g, wire_mac[1], 6);
		memcpy(g + 6, wire_mac[0], 6);
		size_t l =
		    wire_build_ipv4(g, NET_IPV4(10, 0, 0, 3), WIRE_IP_B, 6, 1, 0, NULL, n - 34);
		memcpy(g, wire_mac[1], 6);
		memcpy(g + 6, wire_mac[0], 6);
		/* fix TCP checksum for the new pseudo header */
		g[34 + 16] = g[34 + 17] = 0;
		uint32_t sum = net_checksum_pseudo(NET_IPV4(10, 0, 0, 3), WIRE_IP_B, 6, n - 34);
		uint16_t ck = net_checksum_finish(net_checksum_add(sum, g + 34, n - 34));
		g[34 + 16] = (uint8_t)(ck >> 8);
		g[34 + 17] = (uint8_t)ck;
		net_input(w.stack[1], g, l);
	}
	struct net_pool_stats p = net_pool_stats(w.stack[1], NET_POOL_TCP);
	assert_true(p.in_use <= 1 + 4);
	assert_true(net_counter(w.stack[1], NET_CNT_TCP_DROP_BACKLOG) >= 490);
	/* The established connection keeps working. */
	client.close_after_send = 1;
	app_push(&client);
	server.close_on_peer_close = 1;
	struct transfer t = {&client, &server, 100000};
	assert_true(wire_run_until(&w, transfer_done, &t, 600000));
	assert_memory_equal(server.rx, data, 100000);
	/* Half-open entries time out and the pool drains. */
	tcp_close(client.conn);
	wire_run(&w, 10 * 60 * 1000);
	assert_int_equal(pool_in_use(w.stack[1]), 0);
	free(data);
	free(server.rx);
	free(client.rx);
	wire_free(&w);
}

static int receive_buffer_full(void *arg)
{
	struct app *a = arg;
	return a->conn != NULL && tcp_recv_available(a->conn) == CONFIG_NET_TCP_RCV_BUF;
}

static void test_zero_window_probe(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 12, 0);
	w.faults.latency_ms = 1;
	struct app server = {.no_read = 1, .close_on_peer_close = 0},
		   client = {.close_after_send = 1};
	size_t len = 3 * CONFIG_NET_TCP_RCV_BUF;
	uint8_t *data = pattern(len, 12);
	client.tx = data;
	client.tx_len = len;
	server.listener = tcp_listen(w.stack[1], 80, 4, app_event, &server);
	client.conn = tcp_connect(w.stack[0], WIRE_IP_B, 80, app_event, &client);
	/* The receiver's buffer fills to the last byte (with window scaling the
	 * last few bytes go by persist probes), the window is zero, the sender
	 * keeps probing. */
	assert_true(wire_run_until(&w, receive_buffer_full, &server, 120000));
	wire_run(&w, 30000);
	assert_true(net_counter(w.stack[0], NET_CNT_TCP_ZERO_WINDOW_PROBE) >= 2);
	assert_int_equal(client.aborted, 0);
	server.no_read = 0;
	server.close_on_peer_close = 1;
	app_read(&server);
	struct transfer t = {&client, &server, len};
	assert_true(wire_run_until(&w, transfer_done, &t, 600000));
	assert_memory_equal(server.rx, data, len);
	free(data);
	free(server.rx);
	free(client.rx);
	wire_free(&w);
}

static int aborted(void *arg)
{
	return ((struct app *)arg)->aborted;
}

static void test_keepalive_and_rto_give_up(void **state)
{
	(void)state;
	struct test_wire w;
	struct app apps[2];
	establish(&w, 13, apps);
	tcp_set_keepalive(apps[0].conn, 1);
	/* Idle but alive: probes are answered, nothing breaks. */
	wire_run(&w, (uint64_t)(CONFIG_NET_TCP_KEEPALIVE_IDLE_S +
				3 * CONFIG_NET_TCP_KEEPALIVE_INTERVAL_S) *
			 1000);
	assert_int_equal(apps[0].aborted, 0);
	assert_true(net_counter(w.stack[0], NET_CNT_TCP_KEEPALIVE) >= 1);
	/* The peer vanishes: keep-alive gives up. */
	w.faults.loss_pct = 100;
	assert_true(wire_run_until(
	    &w, aborted, &apps[0],
	    (uint64_t)(CONFIG_NET_TCP_KEEPALIVE_IDLE_S + 20 * CONFIG_NET_TCP_KEEPALIVE_INTERVAL_S) *
		1000));
	assert_int_equal(apps[0].error, NET_ETIMEDOUT);
	/* Data to a vanished peer: the retransmission limit aborts. */
	assert_int_equal(tcp_send(apps[1].conn, "x", 1), 1);
	assert_true(wire_run_until(&w, aborted, &apps[1], 3600 * 1000));
	assert_int_equal(apps[1].error, NET_ETIMEDOUT);
	assert_true(net_counter(w.stack[1], NET_CNT_TCP_RTO) >= CONFIG_NET_TCP_MAX_RETRIES);
	free(apps[0].rx);
	free(apps[1].rx);
	wire_free(&w);
}

static void test_address_change_aborts(void **state)
{
	(void)state;
	struct test_wire w;
	struct app apps[2];
	establish(&w, 19, apps);
	uint8_t b[8];
	assert_int_equal(tcp_recv(apps[0].conn, b, 0), NET_EINVAL);
	assert_null(tcp_connect(w.stack[0], WIRE_IP_A, 7, app_event, &apps[0])); /* ourselves */
	/* A new address: the connection on the old one ends at the next poll,
	 * not inside net_set_ipv4(). */
	net_set_ipv4(w.stack[0], NET_IPV4(10, 0, 0, 9), NET_IPV4(255, 255, 255, 0), 0);
	assert_int_equal(apps[0].aborted, 0);
	wire_run(&w, 1);
	assert_int_equal(apps[0].aborted, 1);
	assert_int_equal(apps[0].error, NET_EUNREACH);
	assert_int_equal(pool_in_use(w.stack[0]), 0);
	free(apps[0].rx);
	free(apps[1].rx);
	wire_free(&w);
}

static void test_time_wait_recycling(void **state)
{
	(void)state;
	/* Fill A's pool with connections that A closed first (so A holds
	 * them in TIME_WAIT); one handle is kept, the others released. */
	struct test_wire w;
	wire_init(&w, 20, 0);
	struct app server = {.close_on_peer_close = 1};
	server.listener = tcp_listen(w.stack[1], 7, 4, app_event, &server);
	struct app clients[CONFIG_NET_TCP_CONNS];
	memset(clients, 0, sizeof(clients));
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++) {
		clients[i].conn = tcp_connect(w.stack[0], WIRE_IP_B, 7, app_event, &clients[i]);
		assert_non_null(clients[i].conn);
		wire_run(&w, 10);
		assert_int_equal(clients[i].connected, 1);
		if (i == 0)
			tcp_shutdown(clients[i].conn); /* handle kept */
		else
			tcp_close(clients[i].conn);
		wire_run(&w, 10);
		assert_int_equal(clients[i].conn->state, TCP_TIME_WAIT);
	}
	struct tcp_conn *held = clients[0].conn;
	uint32_t generation = held->generation;
	/* A new connection takes the oldest released TIME_WAIT slot, never the held one. */
	for (int i = 0; i < CONFIG_NET_TCP_CONNS - 1; i++) {
		struct app extra = {0};
		assert_non_null(tcp_connect(w.stack[0], WIRE_IP_B, 7, app_event, &extra));
	}
	assert_int_equal(net_counter(w.stack[0], NET_CNT_TCP_TIMEWAIT_RECYCLED),
			 CONFIG_NET_TCP_CONNS - 1);
	struct app none = {0};
	assert_null(tcp_connect(w.stack[0], WIRE_IP_B, 7, app_event, &none));
	assert_int_equal(held->generation, generation);
	assert_int_equal(held->state, TCP_TIME_WAIT);
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++)
		free(clients[i].rx);
	free(server.rx);
	wire_free(&w);
}

static void test_simultaneous_open(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 14, 1);
	struct app a = {0};
	a.conn = tcp_connect(w.stack[0], WIRE_IP_B, 5000, app_event, &a);
	wire_run(&w, 1);
	struct wire_tcp syn;
	assert_int_equal(wire_captured_tcp(&w, 0, &syn), 0);
	assert_int_equal(syn.flags, TCP_FLAG_SYN);
	assert_int_not_equal(syn.ws, 0xff);
	uint8_t f[1600], opts[4] = {2, 4, 0x02, 0x18};
	/* The peer's own SYN crosses ours: SYN_SENT -> SYN_RCVD, we answer SYN-ACK. */
	wire_clear_capture(&w);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 5000, syn.sport, 9000, 0, TCP_FLAG_SYN, 8192, opts, 4, NULL, 0));
	assert_int_equal(a.conn->state, TCP_SYN_RCVD);
	struct wire_tcp t;
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
	assert_int_equal(t.seq, syn.seq);
	assert_int_equal(t.ws, 0xff); /* the peer sent no window scale: neither do we */
	/* The peer's SYN-ACK for our SYN completes the open. */
	wire_inject(&w, f,
		    wire_build_tcp(f, 5000, syn.sport, 9000, syn.seq + 1,
				   TCP_FLAG_SYN | TCP_FLAG_ACK, 8192, opts, 4, NULL, 0));
	wire_inject(&w, f,
		    wire_build_tcp(f, 5000, syn.sport, 9001, syn.seq + 1, TCP_FLAG_ACK, 8192, NULL,
				   0, NULL, 0));
	assert_int_equal(a.conn->state, TCP_ESTABLISHED);
	assert_int_equal(a.connected, 1);
	assert_int_equal(a.conn->mss, 536);
	/* Segments respect the peer's MSS. */
	uint8_t *data = pattern(2000, 1);
	tcp_set_nodelay(a.conn, 1);
	wire_clear_capture(&w);
	assert_int_equal(tcp_send(a.conn, data, 2000), 2000);
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.len, 536);
	free(data);
	free(a.rx);
	wire_free(&w);
}

static void test_isn_and_window_scale(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 15, 1);
	uint32_t a = tcp_isn(w.stack[0], 1, 2, 3, 4), b = tcp_isn(w.stack[0], 1, 2, 3, 5);
	assert_int_not_equal(a, b);
	w.now += 1000;
	assert_int_equal(tcp_isn(w.stack[0], 1, 2, 3, 4), a); /* stack clock not yet refreshed */
	net_poll(w.stack[0]);
	assert_int_equal(tcp_isn(w.stack[0], 1, 2, 3, 4) - a, 250000); /* 4 µs clock */
	struct app server = {0};
	raw_handshake(&w, &server, 4001, 1);
	assert_int_equal(server.conn->snd_wscale, 2);
	/* A window of 1000 scaled by 4 */
	assert_int_equal(server.conn->snd_wnd, 4000);
	free(server.rx);
	wire_free(&w);
}

static void test_out_of_order_reassembly(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 16, 1);
	struct app server = {0};
	uint32_t ack = raw_handshake(&w, &server, 4002, 100) + 1;
	uint8_t f[1600];
	const char *msg = "abcdefghij";
	/* Send 3 pieces in the order 3,1,2 plus a duplicate of 1. */
	wire_inject(&w, f,
		    wire_build_tcp(f, 4002, 80, 101 + 6, ack, TCP_FLAG_ACK, 1000, NULL, 0,
				   (const uint8_t *)msg + 6, 4));
	assert_int_equal(server.rx_len, 0);
	wire_inject(&w, f,
		    wire_build_tcp(f, 4002, 80, 101, ack, TCP_FLAG_ACK, 1000, NULL, 0,
				   (const uint8_t *)msg, 3));
	wire_inject(&w, f,
		    wire_build_tcp(f, 4002, 80, 101, ack, TCP_FLAG_ACK, 1000, NULL, 0,
				   (const uint8_t *)msg, 3));
	assert_int_equal(server.rx_len, 3);
	wire_inject(&w, f,
		    wire_build_tcp(f, 4002, 80, 101 + 3, ack, TCP_FLAG_ACK | TCP_FLAG_FIN, 1000,
				   NULL, 0, (const uint8_t *)msg + 3, 3));
	/* That FIN arrived before byte 10: it must wait for the data it follows. */
	assert_int_equal(server.rx_len, 10);
	assert_memory_equal(server.rx, msg, 10);
	assert_int_equal(server.peer_closed, 0);
	wire_inject(&w, f,
		    wire_build_tcp(f, 4002, 80, 111, ack, TCP_FLAG_ACK | TCP_FLAG_FIN, 1000, NULL,
				   0, NULL, 0));
	assert_int_equal(server.peer_closed, 1);
	assert_int_equal(tcp_recv(server.conn, f, 10), 0);
	free(server.rx);
	wire_free(&w);
}

/* An ICMP error from B quoting the IP header of `f` (a frame A sent) and 8 bytes. */
static size_t build_icmp_error(uint8_t *out, const uint8_t *f, uint8_t type, uint8_t code,
			       uint16_t mtu)
{
	uint8_t icmp[8 + 28];
	memset(icmp, 0, sizeof(icmp));
	icmp[0] = type;
	icmp[1] = code;
	net_put16(icmp + 6, mtu);
	memcpy(icmp + 8, f + 14, 28);
	net_put16(icmp + 2, net_checksum_finish(net_checksum_add(0, icmp, sizeof(icmp))));
	return wire_build_ipv4(out, WIRE_IP_B, WIRE_IP_A, 1, 77, 0, icmp, sizeof(icmp));
}

static const uint8_t *captured_frame(struct test_wire *w, int nth_tcp)
{
	for (int i = 0; i < w->captured; i++)
		if (w->capture[i].data[23] == 6 && nth_tcp-- == 0)
			return w->capture[i].data;
	return NULL;
}

static void test_delayed_ack_and_nagle(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 21, 1);
	struct app server = {.no_read = 1};
	uint32_t ack = raw_handshake(&w, &server, 4020, 300) + 1;
	uint8_t f[1600], data[1460];
	memset(data, 'd', sizeof(data));
	struct wire_tcp t;
	/* One full segment: the ACK waits (RFC 9293 §3.8.6.3), at most the delay. */
	wire_inject(&w, f,
		    wire_build_tcp(f, 4020, 80, 301, ack, TCP_FLAG_ACK, 8000, NULL, 0, data, 1460));
	assert_int_equal(w.captured, 0);
	wire_run(&w, CONFIG_NET_TCP_DELACK_MS - 1);
	assert_int_equal(w.captured, 0);
	wire_run(&w, 2);
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.ack, 301 + 1460);
	/* Two full segments: the second is acknowledged at once. */
	wire_clear_capture(&w);
	wire_inject(
	    &w, f, wire_build_tcp(f, 4020, 80, 1761, ack, TCP_FLAG_ACK, 8000, NULL, 0, data, 1460));
	assert_int_equal(w.captured, 0);
	wire_inject(
	    &w, f, wire_build_tcp(f, 4020, 80, 3221, ack, TCP_FLAG_ACK, 8000, NULL, 0, data, 1460));
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.ack, 3221 + 1460);
	/* Nagle (RFC 896): with a small segment unacknowledged, more small
	 * writes wait for the ACK; then they leave as one segment. */
	wire_clear_capture(&w);
	assert_int_equal(tcp_send(server.conn, "a", 1), 1);
	assert_int_equal(tcp_send(server.conn, "b", 1), 1);
	assert_int_equal(tcp_send(server.conn, "c", 1), 1);
	assert_int_equal(wire_count_captured_tcp(&w), 1);
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.len, 1);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 4020, 80, 4681, t.seq + 1, TCP_FLAG_ACK, 8000, NULL, 0, NULL, 0));
	assert_int_equal(wire_count_captured_tcp(&w), 2);
	assert_int_equal(wire_captured_tcp(&w, 1, &t), 0);
	assert_int_equal(t.len, 2);
	/* With Nagle off, every write leaves at once. */
	tcp_set_nodelay(server.conn, 1);
	wire_clear_capture(&w);
	tcp_send(server.conn, "d", 1);
	tcp_send(server.conn, "e", 1);
	assert_int_equal(wire_count_captured_tcp(&w), 2);
	free(server.rx);
	wire_free(&w);
}

static void test_timeout_with_small_window(void **state)
{
	(void)state;
	/* Data in flight, then an ACK shrinks the window below one MSS and the
	 * window update that follows is lost: the retransmission timeout must
	 * still send what fits instead of waiting on SWS avoidance forever. */
	struct test_wire w;
	wire_init(&w, 22, 1);
	struct app server = {0};
	uint32_t isn = raw_handshake(&w, &server, 4030, 700);
	uint8_t f[1600], *data = pattern(4000, 22);
	tcp_set_nodelay(server.conn, 1);
	assert_int_equal(tcp_send(server.conn, data, 4000), 4000); /* peer window 4000 */
	assert_int_equal(wire_count_captured_tcp(&w), 3);
	wire_inject(
	    &w, f,
	    wire_build_tcp(f, 4030, 80, 701, isn + 1 + 1460, TCP_FLAG_ACK, 25, NULL, 0, NULL, 0));
	wire_clear_capture(&w);
	wire_run(&w, 5000);
	struct wire_tcp t;
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.seq, isn + 1 + 1460);
	assert_int_equal(t.len, 100); /* the window the peer left: 25 << 2 */
	assert_int_equal(server.aborted, 0);
	free(data);
	free(server.rx);
	wire_free(&w);
}

static void test_sack_blocks(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 18, 1);
	struct app server = {.no_read = 1};
	uint8_t f[1600], opts[12] = {2, 4, 0x05, 0xb4, 1, 3, 3, 2, 1, 1, 4, 2};
	server.listener = tcp_listen(w.stack[0], 80, 4, app_event, &server);
	wire_inject(&w, f,
		    wire_build_tcp(f, 4010, 80, 500, 0, TCP_FLAG_SYN, 65535, opts, 12, NULL, 0));
	wire_run(&w, 1);
	struct wire_tcp t;
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.sack_ok, 1); /* SYN-ACK answers SACK-permitted */
	uint32_t ack = t.seq + 1;
	wire_inject(&w, f,
		    wire_build_tcp(f, 4010, 80, 501, ack, TCP_FLAG_ACK, 1000, NULL, 0, NULL, 0));
	uint8_t data[100];
	memset(data, 'x', sizeof(data));
	/* Holes: [501,601) missing; we get [601,701) then [801,901). */
	wire_clear_capture(&w);
	wire_inject(&w, f,
		    wire_build_tcp(f, 4010, 80, 601, ack, TCP_FLAG_ACK, 1000, NULL, 0, data, 100));
	wire_inject(&w, f,
		    wire_build_tcp(f, 4010, 80, 801, ack, TCP_FLAG_ACK, 1000, NULL, 0, data, 100));
	assert_int_equal(wire_captured_tcp(&w, 1, &t), 0);
	assert_int_equal(t.ack, 501);
	assert_int_equal(t.sack_blocks, 2);
	assert_int_equal(t.sack[0][0], 801); /* the latest first (RFC 2018 §4) */
	assert_int_equal(t.sack[0][1], 901);
	assert_int_equal(t.sack[1][0], 601);
	assert_int_equal(t.sack[1][1], 701);
	/* The hole fills: cumulative ACK moves, one block left. */
	wire_clear_capture(&w);
	wire_inject(&w, f,
		    wire_build_tcp(f, 4010, 80, 501, ack, TCP_FLAG_ACK, 1000, NULL, 0, data, 100));
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.ack, 701);
	assert_int_equal(t.sack_blocks, 1);
	assert_int_equal(t.sack[0][0], 801);
	/* A peer without SACK-permitted never gets blocks. */
	wire_clear_capture(&w);
	wire_inject(&w, f,
		    wire_build_tcp(f, 4011, 80, 500, 0, TCP_FLAG_SYN, 65535, opts, 8, NULL, 0));
	wire_run(&w, 1);
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.sack_ok, 0);
	free(server.rx);
	wire_free(&w);
}

static void test_icmp_errors(void **state)
{
	(void)state;
	struct test_wire w;
	wire_init(&w, 17, 1);
	struct app a = {0};
	uint8_t f[1600];
	/* Port unreachable for our SYN: the connect fails at once. A forged
	 * error with a sequence number outside the window is ignored first. */
	a.conn = tcp_connect(w.stack[0], WIRE_IP_B, 5000, app_event, &a);
	wire_run(&w, 1);
	const uint8_t *syn = captured_frame(&w, 0);
	assert_non_null(syn);
	uint8_t forged[64];
	memcpy(forged, syn, 64);
	net_put32(forged + 34 + 4, net_get32(syn + 34 + 4) + 100000);
	wire_inject(&w, f, build_icmp_error(f, forged, 3, 3, 0));
	assert_int_equal(a.aborted, 0);
	wire_inject(&w, f, build_icmp_error(f, syn, 3, 1, 0)); /* host unreachable: soft */
	assert_int_equal(a.aborted, 0);
	wire_inject(&w, f, build_icmp_error(f, syn, 3, 3, 0));
	assert_int_equal(a.aborted, 1);
	assert_int_equal(a.error, NET_EREFUSED);
	/* A soft error (host unreachable) is what the application hears when
	 * the retransmissions give up. */
	struct app b = {0};
	wire_clear_capture(&w);
	b.conn = tcp_connect(w.stack[0], WIRE_IP_B, 5001, app_event, &b);
	wire_run(&w, 1);
	syn = captured_frame(&w, 0);
	assert_non_null(syn);
	wire_inject(&w, f, build_icmp_error(f, syn, 3, 1, 0));
	assert_int_equal(b.aborted, 0);
	assert_true(wire_run_until(&w, aborted, &b, 600000));
	assert_int_equal(b.error, NET_EUNREACH);
	/* Fragmentation needed: segments shrink to the next hop's MTU. */
	struct app server = {0};
	raw_handshake(&w, &server, 4003, 1000);
	uint8_t *data = pattern(4000, 3);
	tcp_set_nodelay(server.conn, 1);
	assert_int_equal(tcp_send(server.conn, data, 4000), 4000);
	const uint8_t *big = captured_frame(&w, 0);
	assert_non_null(big);
	memcpy(f + 1000, big, 64);
	wire_clear_capture(&w);
	wire_inject(&w, f, build_icmp_error(f, f + 1000, 3, 4, 1000));
	assert_int_equal(server.conn->mss, 960);
	struct wire_tcp t;
	assert_int_equal(wire_captured_tcp(&w, 0, &t), 0);
	assert_int_equal(t.len, 960);
	/* A forged tiny MTU is ignored. */
	wire_inject(&w, f, build_icmp_error(f, f + 1000, 3, 4, 100));
	assert_int_equal(server.conn->mss, 960);
	free(data);
	free(server.rx);
	wire_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transfer_clean),
	    cmocka_unit_test(test_transfer_small),
	    cmocka_unit_test(test_transfer_lossy),
	    cmocka_unit_test(test_transfer_heavy_loss),
	    cmocka_unit_test(test_simultaneous_close),
	    cmocka_unit_test(test_simultaneous_open),
	    cmocka_unit_test(test_time_wait_recycling),
	    cmocka_unit_test(test_address_change_aborts),
	    cmocka_unit_test(test_connect_refused_and_rst_closed_port),
	    cmocka_unit_test(test_rst_for_unknown_segments),
	    cmocka_unit_test(test_challenge_ack),
	    cmocka_unit_test(test_syn_flood_bounded),
	    cmocka_unit_test(test_zero_window_probe),
	    cmocka_unit_test(test_keepalive_and_rto_give_up),
	    cmocka_unit_test(test_isn_and_window_scale),
	    cmocka_unit_test(test_out_of_order_reassembly),
	    cmocka_unit_test(test_icmp_errors),
	    cmocka_unit_test(test_sack_blocks),
	    cmocka_unit_test(test_timeout_with_small_window),
	    cmocka_unit_test(test_delayed_ack_and_nagle),
	};
#if CONFIG_NET_TCP_RCV_BUF > 65535
	return cmocka_run_group_tests_name("net_tcp with window scaling", tests, NULL, NULL);
#else
	return cmocka_run_group_tests_name("net_tcp", tests, NULL, NULL);
#endif
}
