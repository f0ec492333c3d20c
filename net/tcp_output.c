/* tcp_output.c — building and sending segments: data from the send ring,
 * options on SYN, ACKs, resets, challenge ACKs (RFC 9293, RFC 5961, RFC 7323). */
#include <string.h>

#include "ipv4.h"
#include "stack.h"
#include "tcp.h"
#include "wire.h"

#define TCP_HLEN  20
#define SND_MASK  (CONFIG_NET_TCP_SND_BUF - 1)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

uint32_t tcp_rcv_window(const struct tcp_conn *c)
{
	/*
	 * Receiver-side silly window avoidance (RFC 9293 §3.8.6.2.2): the right
	 * edge moves only once it can move by min(buffer/2, MSS). The edge never
	 * moves left: it is rcv_nxt plus free space, which reading only grows.
	 */
	uint32_t edge = c->rcv_nxt + (CONFIG_NET_TCP_RCV_BUF - c->rcv_len);
	uint32_t threshold = MIN(CONFIG_NET_TCP_RCV_BUF / 2, c->mss);
	if (SEQ_GEQ(c->rcv_adv, c->rcv_nxt) && SEQ_LT(edge, c->rcv_adv + threshold))
		edge = c->rcv_adv;
	uint32_t wnd = SEQ_GT(edge, c->rcv_nxt) ? edge - c->rcv_nxt : 0;
	uint32_t max = (uint32_t)0xffff << c->rcv_wscale;
	if (wnd > max)
		wnd = max;
	return (wnd >> c->rcv_wscale) << c->rcv_wscale;
}

/*
 * RFC 2018 SACK blocks for the out-of-order data we hold: the block with
 * the latest segment first, then the others, at most 4 (no timestamps).
 * Only when they fit beside the payload within the MSS.
 */
static size_t tcp_sack_option(const struct tcp_conn *c, uint8_t *o, uint32_t payload)
{
	if (!(c->flags & TCPF_SACK_OK) || c->ooo_count == 0)
		return 0;
	int n = c->ooo_count < 4 ? c->ooo_count : 4;
	while (n > 0 && payload + 4 + 8u * (uint32_t)n > c->mss)
		n--;
	if (n == 0)
		return 0;
	int first = 0;
	for (int i = 0; i < c->ooo_count; i++)
		if (SEQ_LEQ(c->ooo[i].start, c->ooo_recent) && SEQ_LT(c->ooo_recent, c->ooo[i].end))
			first = i;
	o[0] = 1;
	o[1] = 1;
	o[2] = 5;
	o[3] = (uint8_t)(2 + 8 * n);
	net_put32(o + 4, c->ooo[first].start);
	net_put32(o + 8, c->ooo[first].end);
	for (int i = 0, k = 1; i < c->ooo_count && k < n; i++) {
		if (i == first)
			continue;
		net_put32(o + 4 + 8 * k, c->ooo[i].start);
		net_put32(o + 8 + 8 * k, c->ooo[i].end);
		k++;
	}
	return 4 + 8 * (size_t)n;
}

static void tcp_checksum_and_send(struct net_stack *s, uint32_t laddr, uint32_t raddr, size_t len)
{
	uint8_t *t = s->tx + NET_L4_OFFSET;
	uint32_t sum = net_checksum_pseudo(laddr, raddr, IP_PROTO_TCP, len);
	net_put16(t + 16, net_checksum_finish(net_checksum_add(sum, t, len)));
	net_count(s, NET_CNT_TCP_TX);
	ipv4_output(s, raddr, IP_PROTO_TCP, len);
}

void tcp_send_segment(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct net_stack *s = c->stack;
	uint8_t *t = s->tx + NET_L4_OFFSET;
	size_t hlen = TCP_HLEN;
	uint32_t wnd = tcp_rcv_window(c);
	net_put16(t, c->local_port);
	net_put16(t + 2, c->remote_port);
	net_put32(t + 4, seq);
	net_put32(t + 8, (flags & TCP_FLAG_ACK) ? c->rcv_nxt : 0);
	t[13] = flags;
	if (flags & TCP_FLAG_SYN) {
		/* RFC 7323 §2.2: the window in a SYN is never scaled. */
		net_put16(t + 14, (uint16_t)MIN(wnd, 0xffff));
		t[20] = 2; /* MSS */
		t[21] = 4;
		net_put16(t + 22, CONFIG_NET_TCP_MSS);
		hlen += 4;
		if (c->state == TCP_SYN_SENT || (c->flags & TCPF_WSCALE_OK)) {
			t[hlen] = 1; /* NOP, window scale */
			t[hlen + 1] = 3;
			t[hlen + 2] = 3;
			t[hlen + 3] = c->rcv_wscale;
			hlen += 4;
		}
		if (c->state == TCP_SYN_SENT || (c->flags & TCPF_SACK_OK)) {
			t[hlen] = 1; /* NOP, NOP, SACK-permitted (RFC 2018) */
			t[hlen + 1] = 1;
			t[hlen + 2] = 4;
			t[hlen + 3] = 2;
			hlen += 4;
		}
	} else {
		net_put16(t + 14, (uint16_t)(wnd >> c->rcv_wscale));
		hlen += tcp_sack_option(c, t + hlen, len);
	}
	t[12] = (uint8_t)((hlen / 4) << 4);
	net_put16(t + 16, 0);
	net_put16(t + 18, 0);
	if (len > 0) {
		uint32_t pos = (seq - c->iss - 1) & SND_MASK;
		uint32_t first = MIN(len, CONFIG_NET_TCP_SND_BUF - pos);
		memcpy(t + hlen, c->snd_buf + pos, first);
		memcpy(t + hlen + first, c->snd_buf, len - first);
		if (SEQ_LT(seq, c->snd_max))
			net_count(s, NET_CNT_TCP_RETRANSMIT);
	}
	if (flags & TCP_FLAG_ACK) {
		if (SEQ_GT(c->rcv_nxt + wnd, c->rcv_adv))
			c->rcv_adv = c->rcv_nxt + wnd;
		c->flags &= ~(TCPF_ACK_NOW | TCPF_ACK_DELAYED);
		c->delack_at = 0;
	}
	tcp_checksum_and_send(s, c->local_addr, c->remote_addr, hlen + len);
}

static void tcp_arm_rexmit(struct tcp_conn *c)
{
	if (c->rexmit_at == 0 || (c->flags & TCPF_PERSIST)) {
		c->flags &= ~TCPF_PERSIST;
		c->rexmit_at = c->stack->now + c->rto;
	}
}

void tcp_output(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_CLOSED: return;
	case TCP_SYN_SENT:
	case TCP_SYN_RCVD:
		if (c->snd_nxt == c->iss) {
			uint8_t fl = TCP_FLAG_SYN | (c->state == TCP_SYN_RCVD ? TCP_FLAG_ACK : 0);
			tcp_send_segment(c, c->iss, 0, fl);
			c->snd_nxt = c->iss + 1;
			if (SEQ_GT(c->snd_nxt, c->snd_max))
				c->snd_max = c->snd_nxt;
			tcp_arm_rexmit(c);
		} else if ((c->flags & TCPF_ACK_NOW) && c->state == TCP_SYN_RCVD) {
			tcp_send_segment(c, c->snd_nxt, 0, TCP_FLAG_ACK);
		}
		return;
	case TCP_FIN_WAIT_2:
	case TCP_TIME_WAIT:
		if (c->flags & TCPF_ACK_NOW)
			tcp_send_segment(c, c->snd_nxt, 0, TCP_FLAG_ACK);
		return;
	default: break;
	}
	int sent = 0;
	uint32_t data_end = c->snd_buf_seq + c->snd_buf_len;
	uint32_t wnd = MIN(c->snd_wnd, c->cwnd);
	for (;;) {
		uint32_t avail = SEQ_LT(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
		uint32_t flight = c->snd_nxt - c->snd_una;
		uint32_t usable = wnd > flight ? wnd - flight : 0;
		uint32_t len = MIN(MIN(avail, (uint32_t)c->mss), usable);
		int fin =
		    (c->flags & TCPF_FIN_QUEUED) && len == avail && SEQ_LEQ(c->snd_nxt, data_end);
		if (len == 0 && !fin)
			break;
		if (len < c->mss) {
			/* Nagle (RFC 896) and sender-side SWS avoidance (RFC 9293 §3.8.6.2.1). */
			int all = len == avail;
			int ok = (all && ((c->flags & TCPF_NODELAY) || flight == 0 || fin)) ||
				 (len > 0 && len >= c->max_snd_wnd / 2);
			if (!ok)
				break;
		}
		uint8_t fl = TCP_FLAG_ACK | (fin ? TCP_FLAG_FIN : 0) |
			     (len > 0 && len == avail ? TCP_FLAG_PSH : 0);
		if (len > 0 && !(c->flags & TCPF_RTT_TIMING) && c->snd_nxt == c->snd_max) {
			c->flags |= TCPF_RTT_TIMING;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start = c->stack->now;
		}
		tcp_send_segment(c, c->snd_nxt, len, fl);
		c->snd_nxt += len + (fin ? 1 : 0);
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		tcp_arm_rexmit(c);
		sent = 1;
		if (fin)
			break;
	}
	if (!sent && (c->flags & TCPF_ACK_NOW))
		tcp_send_segment(c, c->snd_nxt, 0, TCP_FLAG_ACK);
	/*
	 * Data waiting, nothing in flight, and a window too small to use (zero,
	 * or held back by SWS avoidance): the persist timer probes a zero window
	 * (RFC 9293 §3.8.6.1) or sends what fits when it expires (the override
	 * timeout of §3.8.6.2.1), so a connection never stalls silently.
	 */
	if (SEQ_LT(c->snd_nxt, data_end) && c->snd_una == c->snd_max && c->rexmit_at == 0) {
		c->flags |= TCPF_PERSIST;
		c->rexmit_at = c->stack->now + c->rto;
	}
}

void tcp_persist_send(struct tcp_conn *c)
{
	uint32_t data_end = c->snd_buf_seq + c->snd_buf_len;
	uint32_t avail = SEQ_LT(c->snd_una, data_end) ? data_end - c->snd_una : 0;
	/* A zero window gets a one-byte probe; a small one gets what fits. */
	uint32_t len = MIN(MIN(avail, (uint32_t)c->mss), MAX(c->snd_wnd, 1u));
	if (len == 0)
		return;
	c->flags &= ~TCPF_RTT_TIMING;
	tcp_send_segment(c, c->snd_una, len, TCP_FLAG_ACK | TCP_FLAG_PSH);
	if (SEQ_GT(c->snd_una + len, c->snd_nxt))
		c->snd_nxt = c->snd_una + len;
	if (SEQ_GT(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
}

void tcp_retransmit_first(struct tcp_conn *c)
{
	uint32_t data_end = c->snd_buf_seq + c->snd_buf_len;
	uint32_t len =
	    SEQ_LT(c->snd_una, data_end) ? MIN(data_end - c->snd_una, (uint32_t)c->mss) : 0;
	uint8_t fl = TCP_FLAG_ACK;
	if ((c->flags & TCPF_FIN_QUEUED) && c->snd_una + len == data_end &&
	    SEQ_GT(c->snd_max, data_end))
		fl |= TCP_FLAG_FIN;
	if (len == 0 && !(fl & TCP_FLAG_FIN))
		return;
	c->flags &= ~TCPF_RTT_TIMING; /* Karn: never time a retransmission */
	tcp_send_segment(c, c->snd_una, len, fl);
}

void tcp_send_challenge_ack(struct tcp_conn *c)
{
	/* RFC 5961 §7: a global per-second budget keeps challenge ACKs from
	 * becoming an amplifier or a side channel. */
	struct tcp_state *t = &c->stack->tcp;
	uint64_t second = c->stack->now / 1000;
	if (second != t->challenge_second) {
		t->challenge_second = second;
		t->challenge_count = 0;
	}
	if (t->challenge_count >= CONFIG_NET_TCP_CHALLENGE_ACKS_PER_S)
		return;
	t->challenge_count++;
	net_count(c->stack, NET_CNT_TCP_CHALLENGE_ACK);
	tcp_send_segment(c, c->snd_nxt, 0, TCP_FLAG_ACK);
}

void tcp_send_reset(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
		    uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t *t = s->tx + NET_L4_OFFSET;
	net_put16(t, lport);
	net_put16(t + 2, rport);
	net_put32(t + 4, seq);
	net_put32(t + 8, ack);
	t[12] = (TCP_HLEN / 4) << 4;
	t[13] = (uint8_t)(TCP_FLAG_RST | flags);
	net_put16(t + 14, 0);
	net_put16(t + 16, 0);
	net_put16(t + 18, 0);
	net_count(s, NET_CNT_TCP_RST_TX);
	tcp_checksum_and_send(s, laddr, raddr, TCP_HLEN);
}

void tcp_send_cookie_synack(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
			    uint16_t rport, uint32_t cookie, uint32_t ack, int wscale_ok,
			    int sack_ok)
{
	/* The same options tcp_send_segment() puts on a SYN-ACK, built without
	 * a connection: nothing is remembered until the cookie comes back. */
	uint8_t *t = s->tx + NET_L4_OFFSET;
	size_t hlen = TCP_HLEN;
	uint8_t shift = 0;
	while (shift < 14 && ((uint32_t)CONFIG_NET_TCP_RCV_BUF >> shift) > 0xffff)
		shift++;
	net_put16(t, lport);
	net_put16(t + 2, rport);
	net_put32(t + 4, cookie);
	net_put32(t + 8, ack);
	t[13] = TCP_FLAG_SYN | TCP_FLAG_ACK;
	net_put16(t + 14, (uint16_t)MIN(CONFIG_NET_TCP_RCV_BUF, 0xffff));
	t[20] = 2;
	t[21] = 4;
	net_put16(t + 22, CONFIG_NET_TCP_MSS);
	hlen += 4;
	if (wscale_ok) {
		t[hlen] = 1;
		t[hlen + 1] = 3;
		t[hlen + 2] = 3;
		t[hlen + 3] = shift;
		hlen += 4;
	}
	if (sack_ok) {
		t[hlen] = 1;
		t[hlen + 1] = 1;
		t[hlen + 2] = 4;
		t[hlen + 3] = 2;
		hlen += 4;
	}
	t[12] = (uint8_t)((hlen / 4) << 4);
	net_put16(t + 16, 0);
	net_put16(t + 18, 0);
	net_count(s, NET_CNT_TCP_SYNCOOKIE_TX);
	tcp_checksum_and_send(s, laddr, raddr, hlen);
}
