/*
 * The control domain's own port: net/ on a frame interface.
 *
 * The stack is the switch's "control" port; the NIC is its "eth0" port
 * (see the attachment section below), so the control domain, the LAN and
 * every guest's vNIC meet in one switch.
 *
 * Services: ICMP echo (net/), the device API on port 80 (api.c), and TCP
 * discard on port 9 (RFC 863) for throughput measurements.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#include "flotilla.h"
#include "runtime.h"
#include "nic.h"
#include "ctlnet.h"
#include "api.h"
#include "vnic.h"
#include "probe.h"

#define DISCARD_PORT  9
#define NIC_BUDGET    64
#define LINK_CHECK_NS 2000000000ull

static struct nic *nic;
static struct net_stack *stack;
static struct net_port port;
static uint64_t next_link_check;
static bool link_up;
static uint64_t discard_bytes;

/* ------------------------------------------------------------ attachment */

/*
 * Two ports on the switch (vswitch.h): "eth0", the NIC, which learns the
 * LAN's addresses, and "control", this stack, locked to the board's MAC.
 * The NIC pushes what it receives into the switch from its receive
 * callback; frames the switch sends to the stack wait in a small queue that
 * ctlnet_poll() drains, so the stack never runs inside the switch (it would
 * send back into it).
 */
#define CONTROL_QUEUE 32

static int eth0_port = -1, control_port = -1;
static struct {
	uint16_t len[CONTROL_QUEUE];
	uint8_t frame[CONTROL_QUEUE][FLOTILLA_NET_FRAME_MAX];
	unsigned head, tail; /* free-running: head - tail frames queued */
} * control_queue;

static uint64_t ms_now(void)
{
	return flotilla_clock_monotonic() / 1000000u;
}

/* switch -> NIC */
static int eth0_transmit(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	return nic_transmit(nic, frame, len);
}

/*
 * NIC -> switch, with bounded backpressure (vswitch_offer()): a frame for a
 * port whose queue is full but which took a frame within NIC_HOLD_MS stays
 * in the NIC's receive ring, and the NIC is polled again every
 * NIC_HOLD_RETRY_NS until the port has room or stops draining. A burst for
 * one guest (a SYN flood) then waits in the NIC's ring and the wire's queue
 * while the guest works through it, instead of being dropped at the
 * guest's 64 slots; a guest that stops draining costs the others at most
 * NIC_HOLD_MS, once, and one that drains slowly at most half of the NIC's
 * time (vswitch.h). NIC_HOLD_MS is long enough for a guest that is merely
 * not scheduled for a while (an emulated board on a busy host: 20 ms was
 * exceeded in 1 of 6 runs of the SYN-flood test).
 */
#define NIC_HOLD_MS       200
#define NIC_HOLD_RETRY_NS 1000000ull

static bool eth0_receive(void *arg, const uint8_t *frame, size_t len)
{
	(void)arg;
	return vswitch_offer(vnic_switch(), eth0_port, frame, len, ms_now(), NIC_HOLD_MS) !=
	       VSWITCH_HELD;
}

/* switch -> the stack's queue; -1 (a drop the switch counts) when full */
static int control_transmit(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	if (control_queue->head - control_queue->tail == CONTROL_QUEUE ||
	    len > FLOTILLA_NET_FRAME_MAX)
		return -1;
	unsigned i = control_queue->head % CONTROL_QUEUE;
	memcpy(control_queue->frame[i], frame, len);
	control_queue->len[i] = (uint16_t)len;
	control_queue->head++;
	/* Queued from the switch's pass: the main loop must come round again
	 * before it blocks, so the stack sees the frame now. */
	events_wake_application();
	return 0;
}

/* the stack -> switch */
static int stack_transmit(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	vswitch_input(vnic_switch(), control_port, frame, len, ms_now());
	return 0;
}

static bool control_full(void *ctx)
{
	(void)ctx;
	return control_queue->head - control_queue->tail == CONTROL_QUEUE;
}

static const struct vswitch_port_ops eth0_ops = {.transmit = eth0_transmit};
static const struct vswitch_port_ops control_ops = {.transmit = control_transmit,
						    .full = control_full};

/* Frames the switch queued for the stack. */
static void drain_control_queue(void)
{
	while (control_queue->head != control_queue->tail) {
		unsigned i = control_queue->tail % CONTROL_QUEUE;
		net_input(stack, control_queue->frame[i], control_queue->len[i]);
		control_queue->tail++;
	}
}

static uint64_t port_now_ms(void *ctx)
{
	(void)ctx;
	return flotilla_clock_monotonic() / 1000000u;
}

/* ------------------------------------------------------------ services */

static void discard_event(void *arg, struct tcp_conn *conn, enum tcp_event event)
{
	(void)arg;
	uint8_t sink[512];
	int n;
	switch (event) {
	case TCP_EVENT_RECV:
		while ((n = tcp_recv(conn, sink, sizeof(sink))) > 0)
			discard_bytes += (uint64_t)n;
		break;
	case TCP_EVENT_PEER_CLOSED:
		while ((n = tcp_recv(conn, sink, sizeof(sink))) > 0)
			discard_bytes += (uint64_t)n;
		tcp_close(conn);
		break;
	default: break;
	}
}

/* ------------------------------------------------------------ DHCP, link */

static unsigned prefix_length(uint32_t netmask)
{
	return (unsigned)__builtin_popcount(netmask);
}

static void print_ipv4(const char *label, uint32_t a)
{
	printf("%s%u.%u.%u.%u", label, (unsigned)(a >> 24), (unsigned)(a >> 16) & 0xff,
	       (unsigned)(a >> 8) & 0xff, (unsigned)a & 0xff);
}

static void dhcp_event(void *arg, enum dhcp_event event, const struct dhcp_lease *lease)
{
	(void)arg;
	if (event == DHCP_EVENT_LOST) {
		printf("control: net: DHCP lease lost\n");
		return;
	}
	if (event == DHCP_EVENT_RENEWED)
		return;
	print_ipv4("control: net: ", lease->addr);
	printf("/%u via DHCP (", prefix_length(lease->netmask));
	print_ipv4("gw ", lease->gateway);
	printf(", lease %" PRIu32 " s)\n", lease->lease_s);
}

static void check_link(void)
{
	unsigned mbps = 0;
	bool full = false;
	bool up = nic_link(nic, &mbps, &full);
	if (up != link_up)
		printf("control: nic link %s", up ? "up" : "down");
	if (up && !link_up)
		printf(" %u Mbit/s %s duplex", mbps, full ? "full" : "half");
	if (up != link_up)
		printf("\n");
	link_up = up;
}

/*
 * 16 secret bytes for the stack (TCP ISNs, DHCP xids, ports): the MAC and
 * the low bits of the counter sampled around the MDIO and device-tree work
 * done so far. Weak - the H3 has no TRNG we drive yet - but different per
 * board and per boot.
 */
static void make_secret(uint8_t secret[16])
{
	uint64_t hash = 0xcbf29ce484222325ull;
	for (unsigned round = 0; round < 4; round++) {
		uint64_t t = flotilla_clock_wall() ^ flotilla_clock_monotonic() << 17;
		for (unsigned i = 0; i < 6; i++)
			hash = (hash ^ nic->mac[i]) * 0x100000001b3ull;
		for (unsigned i = 0; i < 8; i++)
			hash = (hash ^ (uint8_t)(t >> (8 * i))) * 0x100000001b3ull;
		memcpy(secret + 4 * round, &hash, 4);
	}
}

/* ------------------------------------------------------------ main loop */

int ctlnet_start(const void *dtb)
{
	nic = nic_probe(dtb);
	if (!nic)
		return -1;
	printf("control: nic %s %s mac %02x:%02x:%02x:%02x:%02x:%02x (%s), irq %u\n", nic->path,
	       nic->name, nic->mac[0], nic->mac[1], nic->mac[2], nic->mac[3], nic->mac[4],
	       nic->mac[5], nic->mac_from_devicetree ? "device tree" : "derived", nic->irq);
	struct vswitch *sw = vnic_switch();
	control_queue = calloc(1, sizeof(*control_queue));
	if (!sw || !control_queue)
		return -1;
	eth0_port = vswitch_port_add(sw, "eth0", &eth0_ops, NULL, NULL);
	control_port = vswitch_port_add(sw, "control", &control_ops, NULL, nic->mac);
	if (eth0_port < 0 || control_port < 0) {
		printf("control: net: no switch port for the NIC or the control domain\n");
		return -1;
	}
	if (nic_start(nic, eth0_receive, NULL) != 0)
		return -1;
	port.transmit = stack_transmit;
	port.now_ms = port_now_ms;
	memcpy(port.mac, nic->mac, 6);
	make_secret(port.secret);

	size_t size = net_stack_size();
	void *memory = aligned_alloc(8, (size + 7) & ~(size_t)7);
	stack = memory ? net_stack_init(memory, size, &port) : NULL;
	if (!stack) {
		printf("control: net: no memory for the stack (%zu bytes)\n", size);
		return -1;
	}
	api_start(stack, &port);
	probe_attach(stack, ms_now); /* health probes of guests (probe.h) */
	if (!tcp_listen(stack, DISCARD_PORT, 4, discard_event, NULL))
		printf("control: net: cannot listen on port %d\n", DISCARD_PORT);
	check_link();
	next_link_check = flotilla_clock_monotonic() + LINK_CHECK_NS;
	int rc = dhcp_start(stack, dhcp_event, NULL);
	if (rc != NET_OK)
		printf("control: net: DHCP does not start: %s\n", net_result_text(rc));
	return 0;
}

uint64_t ctlnet_poll(void)
{
	if (!stack)
		return UINT64_MAX;
	if (nic->work || nic->held)
		nic_poll(nic, NIC_BUDGET);
	drain_control_queue();
	net_poll(stack);
	uint64_t now = flotilla_clock_monotonic();
	if (now >= next_link_check) {
		check_link();
		next_link_check = now + LINK_CHECK_NS;
	}
	if (nic->work)
		return now; /* frames left over from the budget: come back at once */
	uint64_t deadline = api_poll();
	if (next_link_check < deadline)
		deadline = next_link_check;
	int64_t ms = net_next_timeout_ms(stack);
	if (ms >= 0 && now + (uint64_t)ms * 1000000u < deadline)
		deadline = now + (uint64_t)ms * 1000000u;
	if (nic->held && now + NIC_HOLD_RETRY_NS < deadline)
		deadline = now + NIC_HOLD_RETRY_NS; /* offer the kept frame again */
	return deadline;
}

struct net_stack *ctlnet_stack(void)
{
	return stack;
}

uint32_t ctlnet_ipv4(void)
{
	return stack ? net_ipv4_addr(stack) : 0;
}

void ctlnet_print_status(void)
{
	if (!stack) {
		printf("control: net: no network\n");
		return;
	}
	uint32_t addr = net_ipv4_addr(stack);
	print_ipv4("control: net: address ", addr);
	printf(", link %s, discard %" PRIu64 " bytes\n", link_up ? "up" : "down", discard_bytes);
	nic_print_counters(nic);
}

/* ------------------------------------------------------------ health (monitor.c) */

struct nic *ctlnet_nic(void)
{
	return stack ? nic : NULL;
}

bool ctlnet_link_up(unsigned *mbps)
{
	bool full = false;
	*mbps = 0;
	return stack && nic_link(nic, mbps, &full);
}
