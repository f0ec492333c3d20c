/* udp.c — UDP sockets (RFC 768): bind, send, receive, port unreachable. */
#include "udp.h"

#include <string.h>

#include "icmp.h"
#include "ipv4.h"
#include "stack.h"
#include "wire.h"

#define UDP_HLEN 8

static struct udp_socket *udp_find(struct net_stack *s, uint16_t port)
{
	for (int i = 0; i < CONFIG_NET_UDP_SOCKETS; i++)
		if (s->udp.sockets[i].port == port)
			return &s->udp.sockets[i];
	return NULL;
}

static int udp_port_in_use(struct net_stack *s, uint16_t port)
{
	return udp_find(s, port) != NULL;
}

struct udp_socket *udp_open(struct net_stack *s, uint16_t port, udp_recv_fn *fn, void *arg)
{
	if (port == 0)
		port = net_ephemeral_port(s, udp_port_in_use);
	if (port == 0 || udp_find(s, port) != NULL)
		return NULL;
	struct udp_socket *sock = udp_find(s, 0);
	if (sock == NULL) {
		net_count(s, NET_CNT_UDP_POOL_FULL);
		net_pool_exhausted(s, NET_POOL_UDP);
		return NULL;
	}
	sock->port = port;
	sock->fn = fn;
	sock->arg = arg;
	net_pool_took(s, NET_POOL_UDP);
	return sock;
}

uint16_t udp_local_port(const struct udp_socket *sock)
{
	return sock->port;
}

void udp_close(struct udp_socket *sock)
{
	if (sock == NULL || sock->port == 0)
		return;
	sock->port = 0;
	net_pool_gave(sock->stack, NET_POOL_UDP);
}

int udp_sendto(struct udp_socket *sock, uint32_t addr, uint16_t port, const void *data, size_t len)
{
	struct net_stack *s = sock->stack;
	if (sock->port == 0 || port == 0 || addr == 0)
		return NET_EINVAL;
	if (len > NET_L4_MAX - UDP_HLEN)
		return NET_EMSGSIZE;
	uint8_t *u = s->tx + NET_L4_OFFSET;
	net_put16(u, sock->port);
	net_put16(u + 2, port);
	net_put16(u + 4, (uint16_t)(UDP_HLEN + len));
	net_put16(u + 6, 0);
	memcpy(u + UDP_HLEN, data, len);
	uint32_t sum = net_checksum_pseudo(s->addr, addr, IP_PROTO_UDP, UDP_HLEN + len);
	uint16_t check = net_checksum_finish(net_checksum_add(sum, u, UDP_HLEN + len));
	net_put16(u + 6, check == 0 ? 0xffff : check);
	net_count(s, NET_CNT_UDP_TX);
	return ipv4_output(s, addr, IP_PROTO_UDP, UDP_HLEN + len);
}

void udp_input(struct net_stack *s, const struct ipv4_packet *pkt)
{
	net_count(s, NET_CNT_UDP_RX);
	const uint8_t *u = pkt->payload;
	if (pkt->len < UDP_HLEN) {
		net_count(s, NET_CNT_UDP_DROP_MALFORMED);
		return;
	}
	size_t ulen = net_get16(u + 4);
	if (ulen < UDP_HLEN || ulen > pkt->len) {
		net_count(s, NET_CNT_UDP_DROP_MALFORMED);
		return;
	}
	if (net_get16(u + 6) != 0) {
		uint32_t sum = net_checksum_pseudo(pkt->src, pkt->dst, IP_PROTO_UDP, ulen);
		if (net_checksum_finish(net_checksum_add(sum, u, ulen)) != 0) {
			net_count(s, NET_CNT_UDP_DROP_CHECKSUM);
			return;
		}
	}
	uint16_t dport = net_get16(u + 2), sport = net_get16(u);
	struct udp_socket *sock = dport != 0 ? udp_find(s, dport) : NULL;
	if (sock == NULL) {
		net_count(s, NET_CNT_UDP_DROP_NO_PORT);
		icmp_send_unreachable(s, pkt, ICMP_UNREACH_PORT);
		return;
	}
	if (sock->fn != NULL)
		sock->fn(sock->arg, sock, pkt->src, sport, u + UDP_HLEN, ulen - UDP_HLEN);
}
