/*
 * The control domain's switch (guests/control/vswitch.c) on the host, with
 * ports whose queues the test controls: learning and ageing, flooding of
 * broadcast, multicast and unknown unicast, locked guest MACs, per-port
 * drops when one port's queue is full, fairness of vswitch_poll(), the
 * guests' derived MACs, and vswitch_offer()'s bounded backpressure. Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vswitch.h"

static int count, failed;

static void check(const char *what, int ok)
{
	count++;
	failed += !ok;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
}

/* A test port: a queue of up to `capacity` frames out, a source of frames in. */
struct test_port {
	unsigned capacity;
	unsigned queued;
	uint8_t last[VSWITCH_FRAME_MAX];
	size_t last_len;
	unsigned to_send; /* frames receive() still gives */
	uint8_t send_frame[64];
};

static int port_transmit(void *context, const uint8_t *frame, size_t len)
{
	struct test_port *tp = context;
	if (tp->queued >= tp->capacity)
		return -1;
	tp->queued++;
	memcpy(tp->last, frame, len);
	tp->last_len = len;
	return 0;
}

static size_t port_receive(void *context, uint8_t *buf, size_t size)
{
	struct test_port *tp = context;
	if (tp->to_send == 0 || size < sizeof(tp->send_frame))
		return 0;
	tp->to_send--;
	memcpy(buf, tp->send_frame, sizeof(tp->send_frame));
	return sizeof(tp->send_frame);
}

static bool port_full(void *context)
{
	const struct test_port *tp = context;
	return tp->queued >= tp->capacity;
}

static const struct vswitch_port_ops ops = {port_transmit, port_receive, NULL};
static const struct vswitch_port_ops ops_full = {port_transmit, port_receive, port_full};

static struct vswitch sw;
static struct test_port tp[6];
static int port[6];

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};
static const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 0xc};
static const uint8_t mac_lan[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t multicast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};

static void frame(uint8_t *f, const uint8_t *dst, const uint8_t *src)
{
	memset(f, 0, 64);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
}

/* Ports: 0 = NIC (learning), 1 = control domain (learning), 2..4 = guests a, b, c. */
static void setup(void)
{
	vswitch_init(&sw, 300);
	memset(tp, 0, sizeof(tp));
	const uint8_t *locked[5] = {NULL, NULL, mac_a, mac_b, mac_c};
	const char *names[5] = {"eth0", "control", "a.lan", "b.lan", "c.lan"};
	for (int i = 0; i < 5; i++) {
		tp[i].capacity = 1000;
		port[i] = vswitch_port_add(&sw, names[i], &ops, &tp[i], locked[i]);
	}
}

static unsigned queued(int i)
{
	return tp[i].queued;
}

static void clear(void)
{
	for (int i = 0; i < 6; i++)
		tp[i].queued = 0;
}

static void test_ports(void)
{
	setup();
	check("five ports are added", port[0] == 0 && port[4] == 4);
	struct vswitch_port_ops no_transmit = {.receive = port_receive};
	check("a port without transmit is refused",
	      vswitch_port_add(&sw, "x", &no_transmit, NULL, NULL) < 0);
	check("a second port locked to a MAC in use is refused",
	      vswitch_port_add(&sw, "x", &ops, &tp[5], mac_a) < 0);
	check("a port locked to a multicast MAC is refused",
	      vswitch_port_add(&sw, "x", &ops, &tp[5], multicast) < 0);
	int last = 0;
	for (int i = 0; i < VSWITCH_PORTS + 1; i++) {
		int p = vswitch_port_add(&sw, "fill", &ops, &tp[5], NULL);
		if (p >= 0)
			last = p;
	}
	check("ports are bounded by CONFIG_SWITCH_PORTS_MAX", last == VSWITCH_PORTS - 1);
}

static void test_flooding_and_learning(void)
{
	uint8_t f[64];
	setup();
	frame(f, broadcast, mac_a);
	vswitch_input(&sw, port[2], f, 64, 1000);
	check("broadcast reaches every other port, not its source",
	      queued(0) == 1 && queued(1) == 1 && queued(2) == 0 && queued(3) == 1 &&
		  queued(4) == 1);
	clear();
	frame(f, multicast, mac_lan);
	vswitch_input(&sw, port[0], f, 64, 1000);
	check("multicast is flooded", queued(1) == 1 && queued(2) == 1 && queued(3) == 1 &&
					  queued(4) == 1 && queued(0) == 0);
	clear();
	frame(f, (const uint8_t[6]){0x02, 9, 9, 9, 9, 9}, mac_b);
	vswitch_input(&sw, port[3], f, 64, 1000);
	check("unknown unicast is flooded",
	      queued(0) == 1 && queued(1) == 1 && queued(2) == 1 && queued(4) == 1);
	clear();
	frame(f, mac_lan, mac_a);
	vswitch_input(&sw, port[2], f, 64, 2000);
	check("unicast to a MAC learned on the NIC goes to the NIC only",
	      queued(0) == 1 && queued(1) + queued(3) + queued(4) == 0);
	clear();
	frame(f, mac_b, mac_lan);
	vswitch_input(&sw, port[0], f, 64, 2000);
	check("unicast to a guest's locked MAC goes to that guest only",
	      queued(3) == 1 && queued(1) + queued(2) + queued(4) == 0 &&
		  memcmp(tp[3].last, f, 64) == 0);
	clear();
	frame(f, mac_lan, (const uint8_t[6]){0x02, 7, 7, 7, 7, 7});
	vswitch_input(&sw, port[0], f, 64, 2000);
	check("a frame to a MAC learned on its own source port is filtered",
	      queued(0) + queued(1) + queued(2) + queued(3) + queued(4) == 0 &&
		  sw.stats.filtered == 1);
	check("a learned MAC is found", vswitch_lookup(&sw, mac_lan) == port[0]);
	frame(f, mac_a, mac_lan);
	vswitch_input(&sw, port[1], f, 64, 3000);
	check("a MAC seen on another learning port moves there",
	      vswitch_lookup(&sw, mac_lan) == port[1] && sw.stats.moved == 1);
	sw.now_s = 3 + 300;
	check("a learned MAC is still known at the ageing limit",
	      vswitch_lookup(&sw, mac_lan) == 1);
	sw.now_s = 3 + 301;
	check("a learned MAC is forgotten after CONFIG_SWITCH_MAC_AGEING_S",
	      vswitch_lookup(&sw, mac_lan) < 0);
	clear();
	frame(f, mac_lan, mac_a);
	vswitch_input(&sw, port[2], f, 64, 400000);
	check("frames to an aged-out MAC are flooded again", queued(0) == 1 && queued(1) == 1);
	check("locked MACs never age", vswitch_lookup(&sw, mac_a) == port[2]);
}

static void test_refused_input(void)
{
	uint8_t f[VSWITCH_FRAME_MAX + 1];
	setup();
	frame(f, broadcast, mac_b);
	vswitch_input(&sw, port[2], f, 64, 1000);
	check("a guest sending with another guest's MAC is dropped on its port",
	      queued(0) + queued(1) + queued(3) + queued(4) == 0 &&
		  vswitch_port_counters(&sw, port[2])->rx_drops == 1);
	frame(f, broadcast, (const uint8_t[6]){0x02, 1, 2, 3, 4, 5});
	vswitch_input(&sw, port[2], f, 64, 1000);
	check("a guest sending with a made-up MAC is dropped",
	      vswitch_port_counters(&sw, port[2])->rx_drops == 2 && queued(0) == 0);
	frame(f, broadcast, mac_a);
	vswitch_input(&sw, port[0], f, 64, 1000);
	check("the LAN claiming a guest's MAC is dropped, the guest keeps it",
	      vswitch_port_counters(&sw, port[0])->rx_drops == 1 &&
		  vswitch_lookup(&sw, mac_a) == port[2]);
	frame(f, broadcast, multicast);
	vswitch_input(&sw, port[0], f, 64, 1000);
	frame(f, broadcast, (const uint8_t[6]){0});
	vswitch_input(&sw, port[0], f, 64, 1000);
	check("multicast and all-zero source MACs are dropped",
	      vswitch_port_counters(&sw, port[0])->rx_drops == 3);
	frame(f, broadcast, mac_lan);
	vswitch_input(&sw, port[0], f, 13, 1000);
	vswitch_input(&sw, port[0], f, VSWITCH_FRAME_MAX + 1, 1000);
	check("runt and oversized frames are dropped",
	      vswitch_port_counters(&sw, port[0])->rx_drops == 5 && queued(1) == 0);
	vswitch_input(&sw, 99, f, 64, 1000);
	vswitch_input(&sw, -1, f, 64, 1000);
	check("input on a port that does not exist is ignored", queued(1) == 0);
}

static void test_slow_port(void)
{
	uint8_t f[64];
	setup();
	tp[4].capacity = 3; /* guest c never drains its ring */
	frame(f, broadcast, mac_lan);
	for (int i = 0; i < 10; i++)
		vswitch_input(&sw, port[0], f, 64, 1000);
	const struct vswitch_counters *c = vswitch_port_counters(&sw, port[4]);
	const struct vswitch_counters *b = vswitch_port_counters(&sw, port[3]);
	check("a port whose queue is full drops only its own frames",
	      c->tx_frames == 3 && c->tx_drops == 7 && b->tx_frames == 10 && b->tx_drops == 0);
	check("the other ports got every frame", queued(1) == 10 && queued(2) == 10);
	check("tx bytes are counted", b->tx_bytes == 640);
	frame(f, mac_c, mac_a);
	vswitch_input(&sw, port[2], f, 64, 1000);
	check("unicast to a full port is a drop there, not elsewhere",
	      c->tx_drops == 8 && vswitch_port_counters(&sw, port[2])->tx_drops == 0);
}

static void test_storm_control(void)
{
	uint8_t f[64];
	setup();
	frame(f, broadcast, mac_a);
	for (int i = 0; i < 1000; i++)
		vswitch_input(&sw, port[2], f, 64, 5000);
	const struct vswitch_counters *a = vswitch_port_counters(&sw, port[2]);
	check("a burst of broadcasts passes up to CONFIG_SWITCH_FLOOD_BURST",
	      queued(3) == CONFIG_SWITCH_FLOOD_BURST && a->rx_frames == CONFIG_SWITCH_FLOOD_BURST);
	check("the rest of the flood is dropped on the flooder's port only",
	      a->rx_drops == 1000 - CONFIG_SWITCH_FLOOD_BURST &&
		  vswitch_port_counters(&sw, port[3])->tx_drops == 0 &&
		  vswitch_port_counters(&sw, port[0])->tx_drops == 0);
	clear();
	for (int i = 0; i < 1000; i++)
		vswitch_input(&sw, port[2], f, 64, 5000 + 1000 + i / 10);
	check("over time the flooder gets CONFIG_SWITCH_FLOOD_PER_S, no more",
	      queued(3) <= CONFIG_SWITCH_FLOOD_BURST + CONFIG_SWITCH_FLOOD_PER_S / 10 + 1 &&
		  queued(3) >= CONFIG_SWITCH_FLOOD_BURST);
	clear();
	frame(f, mac_b, mac_a);
	for (int i = 0; i < 1000; i++)
		vswitch_input(&sw, port[2], f, 64, 6100);
	check("unicast to a known port is not rate limited", queued(3) == 1000);
}

static void test_poll_fairness(void)
{
	setup();
	/* Guest a floods; guest b sends 5 frames to c. */
	tp[2].to_send = 100000;
	frame(tp[2].send_frame, broadcast, mac_a);
	tp[3].to_send = 5;
	frame(tp[3].send_frame, mac_c, mac_b);
	unsigned passes = 0, moved;
	while (tp[3].to_send > 0 && passes < 100) {
		moved = vswitch_poll(&sw, 4, 1000 + passes);
		passes++;
		(void)moved;
	}
	check("a flooding port does not starve another: 5 frames in 2 passes of budget 4",
	      passes == 2 && queued(4) >= 5);
	check("the flood got only its budget per pass", tp[2].to_send == 100000 - 8);
	const struct vswitch_counters *a = vswitch_port_counters(&sw, port[2]);
	check("rx counters count the flooder's frames", a->rx_frames == 8 && a->rx_bytes == 8 * 64);
}

static void test_remove(void)
{
	uint8_t f[64];
	setup();
	frame(f, broadcast, mac_lan);
	vswitch_input(&sw, port[0], f, 64, 1000);
	vswitch_port_remove(&sw, port[0]);
	check("removing a port forgets what was learned on it", vswitch_lookup(&sw, mac_lan) < 0);
	vswitch_port_remove(&sw, port[2]);
	check("removing a guest's port frees its locked MAC", vswitch_lookup(&sw, mac_a) < 0);
	check("a restarted guest gets its port and MAC back",
	      vswitch_port_add(&sw, "a.lan", &ops, &tp[2], mac_a) >= 0 &&
		  vswitch_lookup(&sw, mac_a) >= 0);
}

static void test_table_bounded(void)
{
	uint8_t f[64];
	setup();
	sw.flood_per_s = 1000000; /* this test is about the table, not the rate */
	for (unsigned i = 0; i < 10 * VSWITCH_MAC_TABLE; i++) {
		uint8_t src[6] = {0x52, 0x54, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 1};
		frame(f, broadcast, src);
		vswitch_input(&sw, port[0], f, 64, 1000 + i); /* within the flood rate */
	}
	unsigned used = 0;
	for (unsigned i = 0; i < VSWITCH_MAC_TABLE; i++)
		used += sw.table[i].port != 0;
	check("ten times more MACs than entries fill the table and evict, nothing more",
	      used == VSWITCH_MAC_TABLE && sw.stats.evicted > 0);
	uint8_t recent[6] = {0x52,
			     0x54,
			     (uint8_t)((10 * VSWITCH_MAC_TABLE - 1) >> 16),
			     (uint8_t)((10 * VSWITCH_MAC_TABLE - 1) >> 8),
			     (uint8_t)(10 * VSWITCH_MAC_TABLE - 1),
			     1};
	check("the most recent MAC is known", vswitch_lookup(&sw, recent) == port[0]);
	check("guests' locked MACs survive a table flood", vswitch_lookup(&sw, mac_b) == port[3]);
}

static void test_mac_derive(void)
{
	const uint8_t board[6] = {0x02, 0x81, 0xa1, 0xb2, 0xc3, 0xd4};
	const uint8_t board2[6] = {0x02, 0x81, 0xa1, 0xb2, 0xc3, 0xd5};
	uint8_t m1[6], m2[6], m3[6], m4[6], m5[6];
	vswitch_mac_derive(board, "www", 0, 0, m1);
	vswitch_mac_derive(board, "www", 0, 0, m2);
	check("a guest's MAC is the same every time (stable across boots)", !memcmp(m1, m2, 6));
	check("it is locally administered and unicast", (m1[0] & 3) == 2);
	vswitch_mac_derive(board, "www", 1, 0, m3);
	vswitch_mac_derive(board, "pong", 0, 0, m4);
	vswitch_mac_derive(board2, "www", 0, 0, m5);
	check("the NIC index, the name and the board each change it",
	      memcmp(m1, m3, 6) && memcmp(m1, m4, 6) && memcmp(m1, m5, 6));
	uint8_t taken[1][6];
	memcpy(taken[0], m1, 6);
	vswitch_mac_assign(board, "www", 0, taken, 1, m2);
	vswitch_mac_derive(board, "www", 0, 1, m3);
	check("a collision is resolved by the next deterministic perturbation",
	      memcmp(m2, m1, 6) && !memcmp(m2, m3, 6) && (m2[0] & 3) == 2);
	vswitch_mac_assign(board, "www", 0, NULL, 0, m2);
	check("without a collision assign gives the plain derivation", !memcmp(m2, m1, 6));
	unsigned bad = 0;
	for (unsigned i = 0; i < 2000; i++) {
		char name[16];
		snprintf(name, sizeof(name), "g%u", i);
		vswitch_mac_derive(board, name, i % 4, 0, m1);
		bad += (m1[0] & 3) != 2;
	}
	check("2000 derived MACs are all local unicast", bad == 0);
}

/* vswitch_offer(): a full port that drains holds the NIC; one that does not
 * drain, a flood, or a port that cannot say it is full never does. */
static void test_backpressure(void)
{
	setup();
	vswitch_port_remove(&sw, port[2]);
	port[2] = vswitch_port_add(&sw, "a.lan", &ops_full, &tp[2], mac_a);
	uint8_t f[64];
	frame(f, mac_a, mac_lan);
	tp[2].capacity = 2;
	enum vswitch_verdict v1 = vswitch_offer(&sw, port[0], f, 64, 1000, 20);
	enum vswitch_verdict v2 = vswitch_offer(&sw, port[0], f, 64, 1001, 20);
	check("frames for a guest with room are taken",
	      v1 == VSWITCH_TAKEN && v2 == VSWITCH_TAKEN && queued(2) == 2);
	const struct vswitch_counters *a = vswitch_port_counters(&sw, port[2]);
	const struct vswitch_counters *nic = vswitch_port_counters(&sw, port[0]);
	uint64_t nic_rx = nic->rx_frames;
	check("a frame for a full guest that took one 9 ms ago is held, not dropped or counted",
	      vswitch_offer(&sw, port[0], f, 64, 1010, 20) == VSWITCH_HELD && a->tx_held == 1 &&
		  a->tx_drops == 0 && nic->rx_frames == nic_rx && queued(2) == 2);
	tp[2].queued = 0; /* the guest drains */
	check("offered again once the guest drained, it is delivered",
	      vswitch_offer(&sw, port[0], f, 64, 1015, 20) == VSWITCH_TAKEN && queued(2) == 1 &&
		  nic->rx_frames == nic_rx + 1 && a->tx_drops == 0);
	vswitch_offer(&sw, port[0], f, 64, 1015, 20); /* full again, last taken at 1015 */
	check("held up to hold_ms after the last frame the guest took",
	      vswitch_offer(&sw, port[0], f, 64, 1035, 20) == VSWITCH_HELD);
	check("a guest that took nothing for longer than hold_ms is not waited for: dropped",
	      vswitch_offer(&sw, port[0], f, 64, 1036, 20) == VSWITCH_TAKEN && a->tx_drops == 1 &&
		  queued(2) == 2);
	tp[2].queued = 0;
	vswitch_offer(&sw, port[0], f, 64, 2000, 20);
	vswitch_offer(&sw, port[0], f, 64, 2000, 20);
	check("hold_ms 0 never holds (vswitch_input)",
	      vswitch_offer(&sw, port[0], f, 64, 2000, 0) == VSWITCH_TAKEN && a->tx_drops == 2);
	frame(f, broadcast, mac_lan);
	check("a broadcast is never held (the other ports have it already)",
	      vswitch_offer(&sw, port[0], f, 64, 2001, 20) == VSWITCH_TAKEN && a->tx_drops == 3);
	tp[3].capacity = 0;
	frame(f, mac_b, mac_lan);
	check("a port without ops->full is never waited for",
	      vswitch_offer(&sw, port[0], f, 64, 2001, 20) == VSWITCH_TAKEN &&
		  vswitch_port_counters(&sw, port[3])->tx_drops >= 1);
	frame(f, mac_a, mac_b);
	check("a frame whose source a locked port may not use is never held",
	      vswitch_offer(&sw, port[0], f, 64, 2001, 20) == VSWITCH_TAKEN);
}

/* A guest that drains, but slowly (one frame every 5 ms), while the NIC
 * offers it a frame every millisecond: held at most 2 x hold_burst_ms at a
 * stretch (the credit, refilled at half speed meanwhile), and about half
 * of the time after that. */
static void test_hold_budget(void)
{
	setup();
	vswitch_port_remove(&sw, port[2]);
	port[2] = vswitch_port_add(&sw, "a.lan", &ops_full, &tp[2], mac_a);
	tp[2].capacity = 1;
	uint8_t f[64];
	frame(f, mac_a, mac_lan);
	const struct vswitch_counters *a = vswitch_port_counters(&sw, port[2]);
	uint64_t first_drop = 0;
	unsigned held_late = 0;
	for (uint64_t t = 10000; t < 15000; t++) {
		if (t % 5 == 0)
			tp[2].queued = 0; /* the guest takes one */
		uint64_t drops = a->tx_drops;
		enum vswitch_verdict v = vswitch_offer(&sw, port[0], f, 64, t, 200);
		if (a->tx_drops > drops && !first_drop)
			first_drop = t;
		if (t >= 13000 && v == VSWITCH_HELD)
			held_late++;
	}
	check("a slow guest holds the NIC at most 2 x hold_burst_ms at a stretch",
	      first_drop >= 10000 + 2 * VSWITCH_HOLD_BURST_MS - 30 &&
		  first_drop <= 10000 + 2 * VSWITCH_HOLD_BURST_MS + 30);
	check("and about half of the time after that", held_late >= 800 && held_late <= 1200);
}

int main(void)
{
	test_ports();
	test_flooding_and_learning();
	test_refused_input();
	test_slow_port();
	test_storm_control();
	test_poll_fairness();
	test_remove();
	test_table_bounded();
	test_mac_derive();
	test_backpressure();
	test_hold_budget();
	printf("# struct vswitch: %zu bytes (%d ports, %d MAC entries)\n", sizeof(struct vswitch),
	       VSWITCH_PORTS, VSWITCH_MAC_TABLE);
	printf("1..%d\n", count);
	return failed != 0;
}
