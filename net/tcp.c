/* tcp.c — TCP endpoints: the pool, the application API, timers (RTO per
 * RFC 6298, persist, delayed ACK, keep-alive, TIME_WAIT), RFC 6528 ISNs. */
#include "tcp.h"

#include <stddef.h>
#include <string.h>

#include "icmp.h"
#include "stack.h"
#include "wire.h"

#define SND_MASK           (CONFIG_NET_TCP_SND_BUF - 1)
#define RCV_MASK           (CONFIG_NET_TCP_RCV_BUF - 1)
#define MIN(a, b)          ((a) < (b) ? (a) : (b))
#define TCP_INITIAL_RTO_MS 1000

static int tcp_port_in_use(struct net_stack *s, uint16_t port)
{
	for (int i = 0; i < CONFIG_NET_TCP_LISTENERS; i++)
		if (s->tcp.listeners[i].port == port)
			return 1;
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++)
		if (s->tcp.conns[i].in_use && s->tcp.conns[i].local_port == port)
			return 1;
	return 0;
}

static uint8_t tcp_wscale_for_buffer(void)
{
	uint8_t shift = 0;
	while (shift < 14 && ((uint32_t)CONFIG_NET_TCP_RCV_BUF >> shift) > 0xffff)
		shift++;
	return shift;
}

struct tcp_conn *tcp_conn_alloc(struct net_stack *s)
{
	struct tcp_conn *c = NULL, *oldest_tw = NULL;
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++) {
		struct tcp_conn *x = &s->tcp.conns[i];
		if (!x->in_use) {
			c = x;
			break;
		}
		/* Only a TIME_WAIT the application has let go of: a held
		 * handle must never come to name another connection. */
		if (x->state == TCP_TIME_WAIT && (x->flags & TCPF_APP_CLOSED) &&
		    (oldest_tw == NULL || x->close_at < oldest_tw->close_at))
			oldest_tw = x;
	}
	if (c == NULL && oldest_tw != NULL) {
		/* A TIME_WAIT endpoint is worth less than a new connection. */
		net_count(s, NET_CNT_TCP_TIMEWAIT_RECYCLED);
		tcp_conn_free(oldest_tw);
		c = oldest_tw;
	}
	if (c == NULL) {
		net_count(s, NET_CNT_TCP_POOL_FULL);
		net_pool_exhausted(s, NET_POOL_TCP);
		return NULL;
	}
	uint32_t generation = c->generation;
	memset(c, 0, offsetof(struct tcp_conn, ooo));
	c->stack = s;
	c->generation = generation;
	c->in_use = 1;
	c->rto = TCP_INITIAL_RTO_MS;
	c->mss = 536;
	c->ssthresh = 0x7fffffff;
	c->rcv_wscale = tcp_wscale_for_buffer();
	net_pool_took(s, NET_POOL_TCP);
	return c;
}

void tcp_conn_free(struct tcp_conn *c)
{
	if (c->listener != NULL) {
		c->listener->pending--;
		c->listener = NULL;
	}
	c->state = TCP_CLOSED;
	c->rexmit_at = c->delack_at = c->keep_at = c->close_at = 0;
	if (c->in_use && (c->flags & TCPF_APP_CLOSED)) {
		c->in_use = 0;
		c->generation++;
		net_pool_gave(c->stack, NET_POOL_TCP);
	}
}

void tcp_conn_abort(struct tcp_conn *c, int error)
{
	c->error = (int8_t)error;
	int notify = !(c->flags & TCPF_APP_CLOSED) && c->fn != NULL;
	c->flags |= TCPF_APP_CLOSED; /* the handle dies with this callback */
	c->state = TCP_CLOSED;
	if (notify)
		c->fn(c->arg, c, TCP_EVENT_ABORTED);
	tcp_conn_free(c);
}

uint32_t tcp_isn(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
		 uint16_t rport)
{
	/* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
	 * M a 4-microsecond timer. */
	uint8_t in[12];
	net_put32(in, laddr);
	net_put16(in + 4, lport);
	net_put32(in + 6, raddr);
	net_put16(in + 10, rport);
	return (uint32_t)net_siphash(s->port.secret, in, sizeof(in)) + (uint32_t)(s->now * 250);
}

void tcp_enter_time_wait(struct tcp_conn *c)
{
	c->state = TCP_TIME_WAIT;
	c->rexmit_at = c->keep_at = 0;
	c->close_at = c->stack->now + 2 * (uint64_t)CONFIG_NET_TCP_MSL_MS;
}

void tcp_report_events(struct tcp_conn *c)
{
	static const struct {
		uint16_t flag;
		enum tcp_event event;
	} order[] = {
	    {TCPF_EV_ESTABLISHED, TCP_EVENT_CONNECTED},
	    {TCPF_EV_RECV, TCP_EVENT_RECV},
	    {TCPF_EV_SENT, TCP_EVENT_SENT},
	    {TCPF_EV_PEER_CLOSED, TCP_EVENT_PEER_CLOSED},
	};
	uint32_t generation = c->generation;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(c->flags & order[i].flag))
			continue;
		c->flags &= ~(uint32_t)order[i].flag;
		if ((c->flags & TCPF_APP_CLOSED) || c->fn == NULL)
			continue;
		enum tcp_event ev = order[i].event;
		if (ev == TCP_EVENT_CONNECTED && (c->flags & TCPF_PASSIVE))
			ev = TCP_EVENT_ACCEPT;
		c->fn(c->arg, c, ev);
		/* The callback may have closed or aborted this connection. */
		if (c->generation != generation || !c->in_use || c->state == TCP_CLOSED)
			return;
	}
}

/* ------------------------------------------------------------ API */

struct tcp_listener *tcp_listen(struct net_stack *s, uint16_t port, int backlog, tcp_event_fn *fn,
				void *arg)
{
	if (port == 0 || fn == NULL || tcp_port_in_use(s, port))
		return NULL;
	for (int i = 0; i < CONFIG_NET_TCP_LISTENERS; i++) {
		struct tcp_listener *l = &s->tcp.listeners[i];
		if (l->port == 0) {
			l->port = port;
			l->backlog =
			    (uint8_t)(backlog < 1                        ? 1
				      : backlog > CONFIG_NET_TCP_BACKLOG ? CONFIG_NET_TCP_BACKLOG
									 : backlog);
			l->pending = 0;
			l->fn = fn;
			l->arg = arg;
			return l;
		}
	}
	return NULL;
}

void tcp_listener_close(struct tcp_listener *l)
{
	struct net_stack *s = l->stack;
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++) {
		struct tcp_conn *c = &s->tcp.conns[i];
		if (c->in_use && c->listener == l) {
			tcp_send_reset(s, c->local_addr, c->local_port, c->remote_addr,
				       c->remote_port, c->snd_nxt, c->rcv_nxt, TCP_FLAG_ACK);
			tcp_conn_free(c);
		}
	}
	l->port = 0;
}

struct tcp_conn *tcp_connect(struct net_stack *s, uint32_t addr, uint16_t port, tcp_event_fn *fn,
			     void *arg)
{
	if (s->addr == 0 || addr == 0 || addr == s->addr || port == 0 ||
	    ipv4_is_broadcast(s, addr) || (addr >> 28) == 0xe)
		return NULL;
	uint16_t lport = net_ephemeral_port(s, tcp_port_in_use);
	if (lport == 0)
		return NULL;
	struct tcp_conn *c = tcp_conn_alloc(s);
	if (c == NULL)
		return NULL;
	c->fn = fn;
	c->arg = arg;
	c->local_addr = s->addr;
	c->local_port = lport;
	c->remote_addr = addr;
	c->remote_port = port;
	c->iss = tcp_isn(s, s->addr, lport, addr, port);
	c->snd_una = c->snd_nxt = c->snd_max = c->recover = c->iss;
	c->snd_buf_seq = c->iss + 1;
	c->rtt_start = s->now;
	c->state = TCP_SYN_SENT;
	tcp_output(c);
	return c;
}

void tcp_set_callback(struct tcp_conn *c, tcp_event_fn *fn, void *arg)
{
	c->fn = fn;
	c->arg = arg;
}

size_t tcp_send_space(const struct tcp_conn *c)
{
	return CONFIG_NET_TCP_SND_BUF - c->snd_buf_len;
}

int tcp_send(struct tcp_conn *c, const void *data, size_t len)
{
	if ((c->flags & (TCPF_FIN_QUEUED | TCPF_APP_CLOSED)) ||
	    (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
	     c->state != TCP_SYN_SENT && c->state != TCP_SYN_RCVD))
		return NET_ENOTCONN;
	size_t n = MIN(len, tcp_send_space(c));
	if (n > 0x7fffffff)
		n = 0x7fffffff;
	uint32_t pos = (c->snd_buf_seq + c->snd_buf_len - c->iss - 1) & SND_MASK;
	size_t first = MIN(n, (size_t)(CONFIG_NET_TCP_SND_BUF - pos));
	memcpy(c->snd_buf + pos, data, first);
	memcpy(c->snd_buf, (const uint8_t *)data + first, n - first);
	c->snd_buf_len += (uint32_t)n;
	if (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)
		tcp_output(c);
	return (int)n;
}

size_t tcp_recv_available(const struct tcp_conn *c)
{
	return c->rcv_len;
}

static int tcp_peer_closed(const struct tcp_conn *c)
{
	return c->state == TCP_CLOSE_WAIT || c->state == TCP_LAST_ACK || c->state == TCP_CLOSING ||
	       c->state == TCP_TIME_WAIT || c->state == TCP_CLOSED;
}

int tcp_recv(struct tcp_conn *c, void *buf, size_t len)
{
	if (len == 0)
		return NET_EINVAL; /* 0 means end of stream */
	if (c->rcv_len == 0)
		return tcp_peer_closed(c) ? 0 : NET_EAGAIN;
	size_t n = MIN(len, (size_t)c->rcv_len);
	if (n > 0x7fffffff)
		n = 0x7fffffff;
	size_t first = MIN(n, (size_t)(CONFIG_NET_TCP_RCV_BUF - c->rcv_head));
	memcpy(buf, c->rcv_buf + c->rcv_head, first);
	memcpy((uint8_t *)buf + first, c->rcv_buf, n - first);
	c->rcv_head = (c->rcv_head + (uint32_t)n) & RCV_MASK;
	c->rcv_len -= (uint32_t)n;
	/* Window update once the edge can move far enough (see tcp_rcv_window). */
	if ((c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
	     c->state == TCP_FIN_WAIT_2) &&
	    SEQ_GT(c->rcv_nxt + tcp_rcv_window(c), c->rcv_adv)) {
		c->flags |= TCPF_ACK_NOW;
		tcp_output(c);
	}
	return (int)n;
}

int tcp_shutdown(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RCVD:
	case TCP_ESTABLISHED:
		c->state = c->state == TCP_SYN_SENT ? TCP_SYN_SENT : TCP_FIN_WAIT_1;
		break;
	case TCP_CLOSE_WAIT: c->state = TCP_LAST_ACK; break;
	default: return c->flags & TCPF_FIN_QUEUED ? NET_OK : NET_ENOTCONN;
	}
	c->flags |= TCPF_FIN_QUEUED;
	tcp_output(c);
	return NET_OK;
}

void tcp_close(struct tcp_conn *c)
{
	if (c == NULL || !c->in_use || (c->flags & TCPF_APP_CLOSED))
		return;
	if (c->rcv_len > 0 && c->state != TCP_CLOSED) {
		tcp_abort(c); /* RFC 2525 §2.17: unread data means the peer must know */
		return;
	}
	c->flags |= TCPF_APP_CLOSED;
	switch (c->state) {
	case TCP_CLOSED:
	case TCP_SYN_SENT: tcp_conn_free(c); return;
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_SYN_RCVD: tcp_shutdown(c); break;
	case TCP_FIN_WAIT_2: c->close_at = c->stack->now + CONFIG_NET_TCP_FIN_WAIT2_MS; break;
	default: break;
	}
}

void tcp_abort(struct tcp_conn *c)
{
	if (c == NULL || !c->in_use)
		return;
	if (c->state != TCP_CLOSED && c->state != TCP_SYN_SENT && c->state != TCP_TIME_WAIT)
		tcp_send_reset(c->stack, c->local_addr, c->local_port, c->remote_addr,
			       c->remote_port, c->snd_nxt, c->rcv_nxt, TCP_FLAG_ACK);
	c->flags |= TCPF_APP_CLOSED;
	tcp_conn_free(c);
}

int tcp_error(const struct tcp_conn *c)
{
	return c->error;
}

void tcp_set_nodelay(struct tcp_conn *c, int on)
{
	if (on)
		c->flags |= TCPF_NODELAY;
	else
		c->flags &= ~TCPF_NODELAY;
}

void tcp_set_keepalive(struct tcp_conn *c, int on)
{
	if (on) {
		c->flags |= TCPF_KEEPALIVE;
		c->keep_at = c->stack->now + (uint64_t)CONFIG_NET_TCP_KEEPALIVE_IDLE_S * 1000;
	} else {
		c->flags &= ~TCPF_KEEPALIVE;
		c->keep_at = 0;
	}
}

void tcp_remote(const struct tcp_conn *c, uint32_t *addr, uint16_t *port)
{
	*addr = c->remote_addr;
	*port = c->remote_port;
}

/* ------------------------------------------------------------ ICMP errors */

void tcp_icmp_unreachable(struct net_stack *s, uint32_t raddr, uint16_t lport, uint16_t rport,
			  uint32_t seq, uint8_t code, uint16_t mtu)
{
	struct tcp_conn *c = NULL;
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++) {
		struct tcp_conn *x = &s->tcp.conns[i];
		if (x->in_use && x->state != TCP_CLOSED && x->remote_addr == raddr &&
		    x->local_port == lport && x->remote_port == rport)
			c = x;
	}
	/* RFC 5927 §4.1: only for a segment in flight, so that a blind
	 * attacker must guess the sequence space as for a reset. */
	if (c == NULL || SEQ_LT(seq, c->snd_una) || SEQ_GEQ(seq, c->snd_max)) {
		net_count(s, NET_CNT_ICMP_DROP_MALFORMED);
		return;
	}
	if (code == ICMP_UNREACH_NEEDFRAG) {
		/* RFC 1191: shrink segments to the next hop's MTU. Values under 576
		 * are ignored (RFC 5927 §7.2: a forged tiny MTU is an attack). */
		if (mtu >= 576 && mtu - 40 < c->mss) {
			c->mss = (uint16_t)(mtu - 40);
			c->snd_nxt = c->snd_una; /* resend what was too big */
			tcp_output(c);
		}
		return;
	}
	/* Protocol or port unreachable are hard errors (RFC 1122 §4.2.3.9), acted
	 * on only while connecting (RFC 5927 §5.2); others are soft: retransmission
	 * goes on, and if it gives up the application learns why (RFC 1122
	 * §4.2.3.9: NET_EUNREACH rather than NET_ETIMEDOUT). */
	if ((code == ICMP_UNREACH_PROTOCOL || code == ICMP_UNREACH_PORT) &&
	    c->state == TCP_SYN_SENT)
		tcp_conn_abort(c, NET_EREFUSED);
	else
		c->error = NET_EUNREACH;
}

void tcp_address_changed(struct net_stack *s)
{
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++) {
		struct tcp_conn *c = &s->tcp.conns[i];
		if (c->in_use && c->state != TCP_CLOSED && c->local_addr != s->addr) {
			c->flags |= TCPF_ADDR_LOST;
			c->rexmit_at = s->now; /* due at once */
		}
	}
}

/* ------------------------------------------------------------ timers */

static void tcp_rexmit_timeout(struct tcp_conn *c)
{
	struct net_stack *s = c->stack;
	c->rexmit_at = 0;
	if (c->flags & TCPF_ADDR_LOST) {
		if (c->state == TCP_TIME_WAIT || (c->flags & TCPF_APP_CLOSED) ||
		    c->listener != NULL)
			tcp_conn_free(c);
		else
			tcp_conn_abort(c, NET_EUNREACH);
		return;
	}
	int limit = (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD)
			? CONFIG_NET_TCP_SYN_RETRIES
			: CONFIG_NET_TCP_MAX_RETRIES;
	if (++c->retries > limit) {
		tcp_conn_abort(c, c->error ? c->error : NET_ETIMEDOUT);
		return;
	}
	c->rto = c->rto * 2 > CONFIG_NET_TCP_RTO_MAX_MS ? CONFIG_NET_TCP_RTO_MAX_MS : c->rto * 2;
	if (c->flags & TCPF_PERSIST) {
		if (c->snd_wnd == 0)
			net_count(s, NET_CNT_TCP_ZERO_WINDOW_PROBE);
		tcp_persist_send(c);
		c->rexmit_at = s->now + c->rto;
		return;
	}
	net_count(s, NET_CNT_TCP_RTO);
	if (c->state != TCP_SYN_SENT && c->state != TCP_SYN_RCVD) {
		/* RFC 5681 §3.1 equation 4, and a loss window of one segment. */
		uint32_t flight = c->snd_max - c->snd_una;
		c->ssthresh = flight / 2 > 2u * c->mss ? flight / 2 : 2u * c->mss;
		c->cwnd = c->mss;
		c->flags &= ~TCPF_RECOVERY;
		c->recover = c->snd_max; /* RFC 6582 §3.2 step 4 */
		c->sacked_count = 0;     /* RFC 2018 §8: the receiver may renege */
		c->dupacks = 0;
	}
	c->flags &= ~TCPF_RTT_TIMING;
	c->snd_nxt = (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) ? c->iss : c->snd_una;
	tcp_output(c);
	/*
	 * A timeout must put something on the wire: when the window is too
	 * small for a full segment (a window update was lost), SWS avoidance
	 * would hold the retransmission back and the connection would stall
	 * until it gives up. Send what fits, at least one byte, as a probe.
	 */
	if (c->snd_nxt == c->snd_una && SEQ_LT(c->snd_una, c->snd_max) &&
	    c->state != TCP_SYN_SENT && c->state != TCP_SYN_RCVD)
		tcp_persist_send(c);
	if (c->rexmit_at == 0 && c->snd_una != c->snd_max)
		c->rexmit_at = s->now + c->rto;
}

static void tcp_keepalive_timeout(struct tcp_conn *c)
{
	if (!(c->flags & TCPF_KEEPALIVE) ||
	    (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT)) {
		c->keep_at = 0;
		return;
	}
	if (c->keep_probes >= CONFIG_NET_TCP_KEEPALIVE_COUNT) {
		tcp_conn_abort(c, NET_ETIMEDOUT);
		return;
	}
	/* RFC 1122 §4.2.3.6: an old sequence number forces an ACK. */
	net_count(c->stack, NET_CNT_TCP_KEEPALIVE);
	c->keep_probes++;
	tcp_send_segment(c, c->snd_una - 1, 0, TCP_FLAG_ACK);
	c->keep_at = c->stack->now + (uint64_t)CONFIG_NET_TCP_KEEPALIVE_INTERVAL_S * 1000;
}

void tcp_poll(struct net_stack *s)
{
	uint64_t now = s->now;
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++) {
		struct tcp_conn *c = &s->tcp.conns[i];
		if (!c->in_use || c->state == TCP_CLOSED)
			continue;
		uint32_t generation = c->generation;
		if (c->close_at && c->close_at <= now) {
			tcp_conn_free(
			    c); /* the slot stays held if the application has not closed it */
			continue;
		}
		if (c->delack_at && c->delack_at <= now) {
			c->flags |= TCPF_ACK_NOW;
			c->delack_at = 0;
			tcp_output(c);
		}
		if (c->rexmit_at && c->rexmit_at <= now)
			tcp_rexmit_timeout(c);
		if (c->generation != generation || c->state == TCP_CLOSED)
			continue;
		if (c->keep_at && c->keep_at <= now)
			tcp_keepalive_timeout(c);
	}
}

uint64_t tcp_next_deadline(const struct net_stack *s)
{
	uint64_t d = 0;
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++) {
		const struct tcp_conn *c = &s->tcp.conns[i];
		if (!c->in_use || c->state == TCP_CLOSED)
			continue;
		d = net_earliest(d, c->rexmit_at);
		d = net_earliest(d, c->delack_at);
		d = net_earliest(d, c->keep_at);
		d = net_earliest(d, c->close_at);
	}
	return d;
}
