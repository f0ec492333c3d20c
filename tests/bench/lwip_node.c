/*
 * lwip_node.c — a benchmark node running lwIP. Compiled once, then linked
 * twice under different symbol prefixes (lwa_, lwb_: see bench-net.mk) so
 * that two independent lwIP instances can talk to each other in one process.
 */
#include <string.h>

#include "bench_node.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

static struct netif nif;
static bench_tx_fn *node_tx;
static void *node_ctx;
static uint8_t node_mac[6];
static struct tcp_pcb *conn;
static size_t rx_bytes;
static int echo_mode, is_connected;
static uint8_t frame_buf[1600];

static err_t node_linkoutput(struct netif *n, struct pbuf *p)
{
	(void)n;
	size_t len = pbuf_copy_partial(p, frame_buf, sizeof(frame_buf), 0);
	node_tx(node_ctx, frame_buf, len);
	return ERR_OK;
}

static err_t node_netif_init(struct netif *n)
{
	n->hwaddr_len = 6;
	memcpy(n->hwaddr, node_mac, 6);
	n->mtu = 1500;
	n->flags =
	    NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
	n->output = etharp_output;
	n->linkoutput = node_linkoutput;
	n->name[0] = 'b';
	n->name[1] = 'n';
	return ERR_OK;
}

static void *node_create(const uint8_t mac[6], uint32_t ip, bench_tx_fn *tx, void *ctx)
{
	node_tx = tx;
	node_ctx = ctx;
	memcpy(node_mac, mac, 6);
	lwip_init();
	ip4_addr_t a, m, g;
	a.addr = lwip_htonl(ip);
	m.addr = lwip_htonl(0xffffff00u);
	g.addr = 0;
	netif_add(&nif, &a, &m, &g, NULL, node_netif_init, ethernet_input);
	netif_set_default(&nif);
	netif_set_up(&nif);
	return &nif;
}

static void node_input(void *n, const uint8_t *frame, size_t len)
{
	(void)n;
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
	if (p == NULL)
		return;
	pbuf_take(p, frame, (u16_t)len);
	if (nif.input(p, &nif) != ERR_OK)
		pbuf_free(p);
}

static void node_poll(void *n)
{
	(void)n;
	sys_check_timeouts();
}

static err_t node_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (p == NULL) {
		tcp_close(pcb);
		return ERR_OK;
	}
	/* Read the data out, as an application would (and as net/'s tcp_recv does). */
	static uint8_t sink[16384];
	for (u16_t off = 0; off < p->tot_len; off = (u16_t)(off + sizeof(sink)))
		pbuf_copy_partial(p, sink, sizeof(sink), off);
	rx_bytes += p->tot_len;
	if (echo_mode)
		for (struct pbuf *q = p; q != NULL; q = q->next)
			tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY);
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	if (echo_mode)
		tcp_output(pcb);
	return ERR_OK;
}

static err_t node_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	(void)err;
	conn = pcb;
	tcp_recv(pcb, node_recv);
	tcp_nagle_disable(pcb);
	is_connected = 1;
	return ERR_OK;
}

static int node_listen(void *n, uint16_t port, int echo)
{
	(void)n;
	echo_mode = echo;
	struct tcp_pcb *pcb = tcp_new();
	if (pcb == NULL || tcp_bind(pcb, IP_ADDR_ANY, port) != ERR_OK)
		return -1;
	pcb = tcp_listen(pcb);
	tcp_accept(pcb, node_accept);
	return 0;
}

static err_t node_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	(void)pcb;
	(void)err;
	is_connected = 1;
	return ERR_OK;
}

static int node_connect(void *n, uint32_t ip, uint16_t port)
{
	(void)n;
	conn = tcp_new();
	if (conn == NULL)
		return -1;
	tcp_recv(conn, node_recv);
	tcp_nagle_disable(conn);
	ip_addr_t dst;
	ip_addr_set_ip4_u32(&dst, lwip_htonl(ip));
	return tcp_connect(conn, &dst, port, node_connected) == ERR_OK ? 0 : -1;
}

static int node_is_connected(void *n)
{
	(void)n;
	return is_connected;
}

static size_t node_send(void *n, const void *data, size_t len)
{
	(void)n;
	if (!is_connected || conn == NULL)
		return 0;
	size_t space = tcp_sndbuf(conn);
	if (len > space)
		len = space;
	while (len > 0 && tcp_write(conn, data, (u16_t)len, TCP_WRITE_FLAG_COPY) != ERR_OK)
		len /= 2; /* the segment queue is full: take less */
	if (len > 0)
		tcp_output(conn);
	return len;
}

static size_t node_received(void *n)
{
	(void)n;
	return rx_bytes;
}

const struct bench_node_ops lwip_node_ops = {
    "lwIP",       node_create,       node_input, node_poll,     node_listen,
    node_connect, node_is_connected, node_send,  node_received,
};
