/*
 * libFuzzer target: arbitrary frames into the whole input path of one stack
 * (Ethernet, ARP, IPv4 + reassembly, ICMP, UDP, TCP with a listener that
 * echoes, DHCP client, DNS stub), with the clock advanced between frames
 * so that timers run too. Input: records of [len u16][flags u8][frame].
 * flags bit 0: force our MAC as destination; bit 1: make the IPv4 header
 * and transport checksums right (so that mutations reach past them);
 * bits 2-7: ms to advance × 16. Seeds: tests/fuzz/fuzz_net_seeds.py.
 * The clock and the secret are fixed, so ISNs, DHCP xids and DNS ids are
 * reproducible and the fuzzer can learn them from comparisons.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "stack.h"
#include "wire.h"

static uint64_t fuzz_now;
static uint8_t stack_mem[1 << 22] __attribute__((aligned(64)));
static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 1};

static uint64_t clock_ms(void *ctx)
{
	(void)ctx;
	return fuzz_now;
}

static int transmit(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	(void)frame;
	if (len > NET_FRAME_MAX || len < 14)
		abort(); /* the stack must never build an impossible frame */
	return 0;
}

static void echo_event(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	(void)arg;
	uint8_t buf[4096];
	switch (ev) {
	case TCP_EVENT_RECV: {
		int n = tcp_recv(c, buf, sizeof(buf));
		if (n > 0)
			tcp_send(c, buf, (size_t)n);
		break;
	}
	case TCP_EVENT_PEER_CLOSED:
		while (tcp_recv(c, buf, sizeof(buf)) > 0)
			;
		tcp_close(c);
		break;
	default: break;
	}
}

static void udp_echo(void *arg, struct udp_socket *sock, uint32_t src, uint16_t sport,
		     const uint8_t *data, size_t len)
{
	(void)arg;
	udp_sendto(sock, src, sport, data, len);
}

static void dns_done(void *arg, const char *name, int result, uint32_t addr)
{
	(void)arg;
	(void)name;
	(void)result;
	(void)addr;
}

static void dhcp_done(void *arg, enum dhcp_event ev, const struct dhcp_lease *l)
{
	(void)arg;
	(void)ev;
	(void)l;
}

static void fix_checksums(uint8_t *f, size_t len)
{
	if (len < 34 || net_get16(f + 12) != 0x0800 || (f[14] >> 4) != 4)
		return;
	uint8_t *ip = f + 14;
	size_t hlen = (size_t)(ip[0] & 0xf) * 4, total = net_get16(ip + 2);
	if (hlen < 20 || 14 + hlen > len)
		return;
	net_put16(ip + 10, 0);
	net_put16(ip + 10, net_checksum_finish(net_checksum_add(0, ip, hlen)));
	if (total < hlen || 14 + total > len || (net_get16(ip + 6) & 0x3fff) != 0)
		return;
	uint8_t *l4 = ip + hlen;
	size_t l4len = total - hlen;
	size_t at = ip[9] == 6 ? 16 : ip[9] == 17 ? 6 : ip[9] == 1 ? 2 : 0;
	if (at == 0 || l4len < at + 2)
		return;
	net_put16(l4 + at, 0);
	uint32_t sum =
	    ip[9] == 1 ? 0
		       : net_checksum_pseudo(net_get32(ip + 12), net_get32(ip + 16), ip[9], l4len);
	net_put16(l4 + at, net_checksum_finish(net_checksum_add(sum, l4, l4len)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (net_stack_size() > sizeof(stack_mem))
		abort();
	fuzz_now = 1000000;
	struct net_port port = {.transmit = transmit, .now_ms = clock_ms};
	memcpy(port.mac, our_mac, 6);
	memset(port.secret, 0x5a, sizeof(port.secret));
	struct net_stack *s = net_stack_init(stack_mem, sizeof(stack_mem), &port);
	net_set_ipv4(s, NET_IPV4(10, 0, 0, 1), NET_IPV4(255, 255, 255, 0), NET_IPV4(10, 0, 0, 254));
	tcp_listen(s, 80, 4, echo_event, NULL);
	udp_open(s, 7, udp_echo, NULL);
	dns_set_server(s, NET_IPV4(10, 0, 0, 2));
	dns_resolve(s, "host.flotilla.test", dns_done, NULL);
	dhcp_start(s, dhcp_done, NULL);
	struct tcp_conn *out = tcp_connect(s, NET_IPV4(10, 0, 0, 2), 8080, echo_event, NULL);
	(void)out;

	uint8_t frame[2048];
	while (size >= 3) {
		size_t len = (size_t)data[0] << 8 | data[1];
		uint8_t flags = data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(frame))
			len = sizeof(frame);
		memcpy(frame, data, len);
		if ((flags & 1) && len >= 6)
			memcpy(frame, our_mac, 6);
		if (flags & 2)
			fix_checksums(frame, len);
		fuzz_now += (uint64_t)(flags >> 2) * 16;
		net_input(s, frame, len);
		net_poll(s);
		data += len;
		size -= len;
	}
	/* Let every timer fire: retransmissions, TIME_WAIT, reassembly, leases. */
	for (int i = 0; i < 40; i++) {
		int64_t t = net_next_timeout_ms(s);
		if (t < 0)
			break;
		fuzz_now += (uint64_t)t + 1;
		net_poll(s);
	}
	for (int p = 0; p < NET_POOL_COUNT; p++) {
		struct net_pool_stats st = net_pool_stats(s, (enum net_pool_id)p);
		if (st.in_use > st.size)
			abort(); /* a pool counter went wrong: a leak or a double free */
	}
	return 0;
}
