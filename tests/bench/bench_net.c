/*
 * bench_net — net/ against lwIP on one in-process Ethernet wire.
 *
 *   bench_net run                 throughput and latency for every pair
 *   bench_net bulk PAIR BYTES     one bulk transfer (for callgrind)
 *   bench_net ram                 net/'s stack size in this configuration
 *
 * PAIR is sender-receiver: ours-ours, lwip-lwip, ours-lwip, lwip-ours.
 * Two lwIP instances coexist because lwip_node.c is linked twice under
 * the prefixes lwa_ and lwb_. Frames cross the wire synchronously and
 * without loss; the stacks' clock advances only when the wire is idle, so
 * timers (delayed ACKs) cost virtual, not wall, time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_node.h"
#include "net.h"

uint64_t bench_now_ms = 1000;

/* lwIP's clock hook, shared by both instances. */
uint32_t sys_now(void)
{
	return (uint32_t)bench_now_ms;
}

extern const struct bench_node_ops lwa_lwip_node_ops, lwb_lwip_node_ops;

/* ------------------------------------------------------------ net/ node */

struct ours_node {
	struct net_stack *stack;
	struct tcp_conn *conn;
	size_t rx;
	int echo, connected;
};

static uint64_t ours_clock(void *ctx)
{
	(void)ctx;
	return bench_now_ms;
}

static void ours_event(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	struct ours_node *n = arg;
	static uint8_t buf[16384];
	switch (ev) {
	case TCP_EVENT_ACCEPT:
	case TCP_EVENT_CONNECTED:
		n->conn = c;
		n->connected = 1;
		tcp_set_nodelay(c, 1);
		break;
	case TCP_EVENT_RECV:
	case TCP_EVENT_PEER_CLOSED:
		for (;;) {
			int got = tcp_recv(c, buf, sizeof(buf));
			if (got <= 0)
				break;
			n->rx += (size_t)got;
			if (n->echo)
				tcp_send(c, buf, (size_t)got);
		}
		break;
	default: break;
	}
}

static void *ours_create(const uint8_t mac[6], uint32_t ip, bench_tx_fn *tx, void *ctx)
{
	struct ours_node *n = calloc(1, sizeof(*n));
	struct net_port port = {.transmit = tx, .now_ms = ours_clock, .ctx = ctx};
	memcpy(port.mac, mac, 6);
	memset(port.secret, 0x11, sizeof(port.secret));
	void *mem = aligned_alloc(64, (net_stack_size() + 63) / 64 * 64);
	n->stack = net_stack_init(mem, net_stack_size(), &port);
	net_set_ipv4(n->stack, ip, 0xffffff00u, 0);
	return n;
}

static void ours_input(void *node, const uint8_t *frame, size_t len)
{
	net_input(((struct ours_node *)node)->stack, frame, len);
}

static void ours_poll(void *node)
{
	net_poll(((struct ours_node *)node)->stack);
}

static int ours_listen(void *node, uint16_t port, int echo)
{
	struct ours_node *n = node;
	n->echo = echo;
	return tcp_listen(n->stack, port, 4, ours_event, n) ? 0 : -1;
}

static int ours_connect(void *node, uint32_t ip, uint16_t port)
{
	struct ours_node *n = node;
	return tcp_connect(n->stack, ip, port, ours_event, n) ? 0 : -1;
}

static int ours_connected(void *node)
{
	return ((struct ours_node *)node)->connected;
}

static size_t ours_send(void *node, const void *data, size_t len)
{
	struct ours_node *n = node;
	int got = n->conn ? tcp_send(n->conn, data, len) : 0;
	return got > 0 ? (size_t)got : 0;
}

static size_t ours_received(void *node)
{
	return ((struct ours_node *)node)->rx;
}

static const struct bench_node_ops ours_ops = {
    "ours",       ours_create,    ours_input, ours_poll,     ours_listen,
    ours_connect, ours_connected, ours_send,  ours_received,
};

/* ------------------------------------------------------------ the wire */

#define WIRE_SLOTS 512
struct wire_frame {
	int to;
	size_t len;
	uint8_t data[1600];
};
static struct wire_frame wire[WIRE_SLOTS];
static size_t wire_head, wire_count;
static const struct bench_node_ops *ops[2];
static void *nodes[2];
static int side_ctx[2] = {0, 1};

static int wire_tx(void *ctx, const uint8_t *frame, size_t len)
{
	int from = *(int *)ctx;
	if (wire_count == WIRE_SLOTS || len > 1600)
		return -1;
	struct wire_frame *f = &wire[(wire_head + wire_count++) % WIRE_SLOTS];
	f->to = !from;
	f->len = len;
	memcpy(f->data, frame, len);
	return 0;
}

/* Deliver until the wire is empty; returns how many frames moved. */
static size_t wire_pump(void)
{
	size_t moved = 0;
	while (wire_count > 0) {
		struct wire_frame *f = &wire[wire_head];
		wire_head = (wire_head + 1) % WIRE_SLOTS;
		wire_count--;
		ops[f->to]->input(nodes[f->to], f->data, f->len);
		moved++;
	}
	return moved;
}

static void wire_idle_tick(void)
{
	bench_now_ms += 1;
	ops[0]->poll(nodes[0]);
	ops[1]->poll(nodes[1]);
}

static const struct bench_node_ops *lookup(const char *name, int lwip_instance)
{
	if (!strcmp(name, "ours"))
		return &ours_ops;
	if (!strcmp(name, "lwip"))
		return lwip_instance == 0 ? &lwa_lwip_node_ops : &lwb_lwip_node_ops;
	return NULL;
}

static const uint8_t macs[2][6] = {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}};
static uint8_t payload[65536];

/* Set up sender (0) and receiver (1), connected on port 5001. */
static int setup(const char *sender, const char *receiver, int echo)
{
	ops[0] = lookup(sender, 0);
	ops[1] = lookup(receiver, !strcmp(sender, "lwip") ? 1 : 0);
	if (ops[0] == NULL || ops[1] == NULL)
		return -1;
	wire_head = wire_count = 0;
	nodes[0] = ops[0]->create(macs[0], 0x0a000001, wire_tx, &side_ctx[0]);
	nodes[1] = ops[1]->create(macs[1], 0x0a000002, wire_tx, &side_ctx[1]);
	ops[1]->listen(nodes[1], 5001, echo);
	ops[0]->connect(nodes[0], 0x0a000002, 5001);
	for (int i = 0; i < 100000 && !(ops[0]->connected(nodes[0]) && ops[1]->connected(nodes[1]));
	     i++)
		if (wire_pump() == 0)
			wire_idle_tick();
	return ops[0]->connected(nodes[0]) && ops[1]->connected(nodes[1]) ? 0 : -1;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long idle_ticks;

static int bulk(size_t bytes)
{
	size_t sent = 0;
	while (ops[1]->received(nodes[1]) < bytes) {
		size_t n = 0;
		if (sent < bytes) {
			size_t want = bytes - sent;
			size_t off = sent % sizeof(payload);
			if (want > sizeof(payload) - off)
				want = sizeof(payload) - off;
			n = ops[0]->send(nodes[0], payload + off, want);
			sent += n;
		}
		if (wire_pump() == 0 && n == 0) {
			wire_idle_tick();
			if (++idle_ticks > 10000000)
				return -1;
		}
	}
	return 0;
}

static int ping_pong(int rounds, size_t size)
{
	for (int r = 0; r < rounds; r++) {
		size_t want = ops[0]->received(nodes[0]) + size;
		size_t sent = 0;
		while (sent < size)
			sent += ops[0]->send(nodes[0], payload + sent, size - sent);
		while (ops[0]->received(nodes[0]) < want)
			if (wire_pump() == 0)
				wire_idle_tick();
	}
	return 0;
}

static const char *const pairs[][2] = {
    {"ours", "ours"}, {"lwip", "lwip"}, {"ours", "lwip"}, {"lwip", "ours"}};
#define BULK_BYTES (64u << 20)
#define ROUNDS     20000

static int split_pair(const char *arg, char *sender, char *receiver)
{
	const char *dash = strchr(arg, '-');
	if (dash == NULL || dash - arg >= 16 || strlen(dash + 1) >= 16)
		return -1;
	memcpy(sender, arg, (size_t)(dash - arg));
	sender[dash - arg] = '\0';
	strcpy(receiver, dash + 1);
	return 0;
}

/* One measurement in this process; prints one number. */
static int measure(const char *what, const char *pair, long amount)
{
	char s[16], r[16];
	if (split_pair(pair, s, r) != 0 || setup(s, r, !strcmp(what, "lat")) != 0) {
		fprintf(stderr, "bench_net: cannot connect %s\n", pair);
		return 1;
	}
	double t0 = wall_seconds();
	if (!strcmp(what, "lat")) {
		ping_pong((int)amount, 64);
		printf("%.3f\n", (wall_seconds() - t0) / (double)amount * 1e6);
	} else {
		if (bulk((size_t)amount) != 0)
			return 1;
		double dt = wall_seconds() - t0;
		if (!strcmp(what, "tp"))
			printf("%.1f\n", (double)amount / dt / 1e6);
	}
	return 0;
}

static double run_child(const char *self, const char *what, const char *pair, long amount)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "'%s' %s %s %ld", self, what, pair, amount);
	FILE *child = popen(cmd, "r");
	double v = -1;
	if (child == NULL || fscanf(child, "%lf", &v) != 1)
		v = -1;
	if (child != NULL)
		pclose(child);
	return v;
}

int main(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 131 + (i >> 9));
	if (argc == 2 && !strcmp(argv[1], "ram")) {
		printf("%zu\n", net_stack_size());
		return 0;
	}
	if (argc == 4)
		return measure(argv[1], argv[2], atol(argv[3]));
	if (argc != 2 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr,
			"usage: bench_net run | tp|lat|bulk SENDER-RECEIVER AMOUNT | ram\n");
		return 2;
	}
	/* Each measurement runs in a child process (lwIP's state is process-wide);
	 * the best of three is kept, the least disturbed by a noisy machine. */
	for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
		char pair[40];
		snprintf(pair, sizeof(pair), "%s-%s", pairs[p][0], pairs[p][1]);
		double tp = 0, lat = 1e18;
		for (int rep = 0; rep < 3; rep++) {
			double t = run_child(argv[0], "tp", pair, BULK_BYTES);
			double l = run_child(argv[0], "lat", pair, ROUNDS);
			if (t < 0 || l < 0) {
				fprintf(stderr, "bench_net: %s failed\n", pair);
				return 1;
			}
			tp = t > tp ? t : tp;
			lat = l < lat ? l : lat;
		}
		printf("%s %.1f %.3f\n", pair, tp, lat);
	}
	return 0;
}
