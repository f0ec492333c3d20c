/*
 * netiftest: a test guest for the runtime's network helper
 * (guests/runtime/lib/netif.c), run on both targets: on unix by the
 * www-unit suite (under ASan), on Xen as a boot-time domain by the
 * netif-xen suite. Two stacks attached back to back through
 * flotilla_netif_attach() exchange a TCP stream through the helper's event
 * loop; boot arguments are parsed or refused with a message; the entropy
 * source gives distinct secrets. Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"
#include "flotilla_net.h"

static int count, failed;

static void check(const char *what, int ok)
{
	count++;
	if (!ok)
		failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
}

/* A wire between two attached ports: frames queue here until the loop delivers them. */
#define QUEUE 64
static struct frame {
	int to;
	size_t len;
	uint8_t data[FLOTILLA_NET_FRAME_MAX];
} queue[QUEUE];
static int queued;
static struct flotilla_netif *side[2];

static int wire_transmit(void *ctx, const uint8_t *frame, size_t len)
{
	int from = (int)(intptr_t)ctx;
	if (queued == QUEUE || len > FLOTILLA_NET_FRAME_MAX)
		return -1;
	queue[queued].to = !from;
	queue[queued].len = len;
	memcpy(queue[queued].data, frame, len);
	queued++;
	return 0;
}

static void wire_deliver(void)
{
	static struct frame batch[QUEUE];
	int n = queued;
	memcpy(batch, queue, sizeof(batch[0]) * (size_t)n);
	queued = 0;
	for (int i = 0; i < n; i++)
		flotilla_netif_input(side[batch[i].to], batch[i].data, batch[i].len);
}

struct peer {
	struct tcp_conn *conn;
	char rx[64];
	size_t rx_len;
	int connected;
};

static void on_tcp(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	struct peer *p = arg;
	if (ev == TCP_EVENT_ACCEPT) {
		p->conn = c;
		tcp_set_callback(c, on_tcp, p);
	}
	if (ev == TCP_EVENT_CONNECTED) {
		p->connected = 1;
		tcp_send(c, "hello through netif", 19);
	}
	if (ev == TCP_EVENT_RECV || ev == TCP_EVENT_ACCEPT) {
		int n = tcp_recv(c, p->rx + p->rx_len, sizeof(p->rx) - 1 - p->rx_len);
		if (n > 0)
			p->rx_len += (size_t)n;
	}
}

int flotilla_main(const struct flotilla_start_info *info)
{
	(void)info;
	struct flotilla_netif_port a = {"sw0", {2, 0, 0, 0, 0, 1}, wire_transmit, (void *)0, ""};
	struct flotilla_netif_port b = {"sw1", {2, 0, 0, 0, 0, 2}, wire_transmit, (void *)1, "1"};
	const char *args = "console=x ip=10.7.0.1/24 gw=10.7.0.254 ip1=10.7.0.2/24 other=1";
	side[0] = flotilla_netif_attach(&a, args);
	side[1] = flotilla_netif_attach(&b, args);
	check("two ports attach with static addresses from ip= and ip1=",
	      side[0] && side[1] &&
		  net_ipv4_addr(flotilla_netif_stack(side[0])) == NET_IPV4(10, 7, 0, 1) &&
		  net_ipv4_addr(flotilla_netif_stack(side[1])) == NET_IPV4(10, 7, 0, 2) &&
		  flotilla_netif_up(side[0]) && strcmp(flotilla_netif_name(side[1]), "sw1") == 0);
	if (!side[0] || !side[1])
		return 1;

	struct peer server = {0}, client = {0};
	tcp_listen(flotilla_netif_stack(side[1]), 7, 2, on_tcp, &server);
	client.conn =
	    tcp_connect(flotilla_netif_stack(side[0]), NET_IPV4(10, 7, 0, 2), 7, on_tcp, &client);
	uint64_t give_up = flotilla_clock_monotonic() + 5000000000ull;
	while (server.rx_len < 19 && flotilla_clock_monotonic() < give_up) {
		wire_deliver();
		uint64_t next = flotilla_netif_poll(side[0]);
		uint64_t other = flotilla_netif_poll(side[1]);
		if (queued == 0) {
			uint64_t until = next < other ? next : other;
			uint64_t soon = flotilla_clock_monotonic() + 10000000ull;
			flotilla_yield(until < soon ? until : soon);
		}
	}
	server.rx[server.rx_len] = '\0';
	check("a TCP stream crosses between them through the helper's loop",
	      client.connected && strcmp(server.rx, "hello through netif") == 0);

	static const char *const bad[] = {"ip=10.7.0.300/24", "ip=10.7.0.1", "ip=10.7.0.1/33",
					  "ip=10.7.0.1/24 gw=nowhere", "ip=1.2.3.4/24x"};
	int refused = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct flotilla_netif_port c = {
		    "bad0", {2, 0, 0, 0, 0, 3}, wire_transmit, (void *)0, ""};
		refused += flotilla_netif_attach(&c, bad[i]) == NULL;
	}
	check("malformed ip=/gw= boot arguments are refused", refused == 5);

	struct flotilla_netif_port d = {"dh0", {2, 0, 0, 0, 0, 4}, wire_transmit, (void *)0, ""};
	struct flotilla_netif *dhcp = flotilla_netif_attach(&d, "ip=dhcp");
	check("ip=dhcp (and no ip=) starts DHCP, not up until a lease",
	      dhcp && !flotilla_netif_up(dhcp));
	flotilla_netif_close(dhcp);

	uint8_t s1[16], s2[16], zero[16] = {0};
	flotilla_netif_entropy(s1, sizeof(s1), a.mac);
	flotilla_netif_entropy(s2, sizeof(s2), a.mac);
	check("the entropy source gives different secrets each time",
	      memcmp(s1, s2, 16) != 0 && memcmp(s1, zero, 16) != 0);
	check("an interface the domain does not have is refused",
	      flotilla_netif_open(3, "") == NULL);
	flotilla_netif_close(side[0]);
	flotilla_netif_close(side[1]);
	return failed ? 1 : 0;
}
