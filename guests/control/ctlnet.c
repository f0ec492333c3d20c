/*
 * The control domain's own port: net/ on a frame interface.
 *
 * The attachment point is two functions: ctlnet_attach_transmit() sends a
 * frame out of the port and ctlnet_input() is what the port calls for each
 * frame it receives. Today they are the NIC's transmit and receive; when
 * the switch exists they become the switch's control port - one line in
 * ctlnet_start().
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
#include "nic.h"
#include "ctlnet.h"
#include "api.h"

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

static int nic_port_transmit(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	return nic_transmit(nic, frame, len);
}

static void ctlnet_input(void *arg, const uint8_t *frame, size_t len)
{
	(void)arg;
	net_input(stack, frame, len);
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
	/* The attachment point: the NIC today, the switch's control port later. */
	if (nic_start(nic, ctlnet_input, NULL) != 0)
		return -1;
	port.transmit = nic_port_transmit;
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
	if (nic->work)
		nic_poll(nic, NIC_BUDGET);
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
	return deadline;
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
