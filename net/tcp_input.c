/* tcp_input.c — segment arrival (RFC 9293 §3.10.7) with RFC 5961 checks,
 * RFC 6298 RTT sampling and RFC 5681/6582 congestion control. */
#include <string.h>

#include "ipv4.h"
#include "stack.h"
#include "tcp.h"
#include "wire.h"

#define RCV_MASK  (CONFIG_NET_TCP_RCV_BUF - 1)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static int tcp_parse(struct net_stack *s, const struct ipv4_packet *pkt, struct tcp_segment *seg)
{
	const uint8_t *t = pkt->payload;
	if (pkt->len < 20) {
		net_count(s, NET_CNT_TCP_DROP_MALFORMED);
		return -1;
	}
	size_t hlen = (size_t)(t[12] >> 4) * 4;
	if (hlen < 20 || hlen > pkt->len) {
		net_count(s, NET_CNT_TCP_DROP_MALFORMED);
		return -1;
	}
	uint32_t sum = net_checksum_pseudo(pkt->src, pkt->dst, IP_PROTO_TCP, pkt->len);
	if (net_checksum_finish(net_checksum_add(sum, t, pkt->len)) != 0) {
		net_count(s, NET_CNT_TCP_DROP_CHECKSUM);
		return -1;
	}
	seg->seq = net_get32(t + 4);
	seg->ack = net_get32(t + 8);
	seg->flags = t[13] & 0x3f;
	seg->wnd = net_get16(t + 14);
	seg->ws = 0xff;
	seg->mss = 0;
	seg->sack_ok = 0;
	seg->data = t + hlen;
	seg->len = (uint32_t)(pkt->len - hlen);
	seg->sack_count = 0;
	/* MSS, window scale and SACK-permitted on SYNs, SACK blocks on the
	 * rest; timestamps and anything else are skipped. */
	for (size_t i = 20; i < hlen;) {
		uint8_t kind = t[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || t[i + 1] < 2 || i + t[i + 1] > hlen) {
			net_count(s, NET_CNT_TCP_DROP_MALFORMED);
			return -1;
		}
		int syn = (seg->flags & TCP_FLAG_SYN) != 0;
		if (kind == 5 && !syn && t[i + 1] >= 10 && (t[i + 1] - 2) % 8 == 0) {
			for (int b = 0; b < (t[i + 1] - 2) / 8 && b < TCP_SACK_RANGES; b++) {
				seg->sack[b].start = net_get32(t + i + 2 + 8 * b);
				seg->sack[b].end = net_get32(t + i + 6 + 8 * b);
				seg->sack_count = (uint8_t)(b + 1);
			}
		} else if (!syn) {
			/* only SACK blocks matter after the handshake */
		} else if (kind == 2 && t[i + 1] == 4)
			seg->mss = net_get16(t + i + 2);
		else if (kind == 3 && t[i + 1] == 3)
			seg->ws = MIN(t[i + 2], 14);
		else if (kind == 4 && t[i + 1] == 2)
			seg->sack_ok = 1;
		i += t[i + 1];
	}
	return 0;
}

static void tcp_apply_syn_options(struct tcp_conn *c, const struct tcp_segment *seg)
{
	uint16_t peer_mss = seg->mss ? seg->mss : 536;
	c->mss = (uint16_t)MAX(MIN(peer_mss, CONFIG_NET_TCP_MSS), 64);
	if (seg->sack_ok)
		c->flags |= TCPF_SACK_OK;
	if (seg->ws != 0xff) {
		c->flags |= TCPF_WSCALE_OK;
		c->snd_wscale = seg->ws;
	} else {
		c->snd_wscale = 0;
		c->rcv_wscale = 0;
	}
}

static void tcp_established(struct tcp_conn *c)
{
	/* RFC 5681 §3.1 initial window. */
	c->cwnd = MIN(4u * c->mss, MAX(2u * c->mss, 4380u));
	c->state = TCP_ESTABLISHED;
	c->flags |= TCPF_EV_ESTABLISHED;
	net_count(c->stack,
		  (c->flags & TCPF_PASSIVE) ? NET_CNT_TCP_ACCEPTED : NET_CNT_TCP_CONNECTED);
	if (c->flags & TCPF_KEEPALIVE)
		c->keep_at = c->stack->now + (uint64_t)CONFIG_NET_TCP_KEEPALIVE_IDLE_S * 1000;
}

static void tcp_conn_input(struct tcp_conn *c, const struct tcp_segment *in);

/*
 * A bare ACK for a listener with no matching endpoint: the third step of a
 * handshake answered with a SYN cookie. A valid cookie creates the
 * connection in SYN_RCVD as if its SYN had been kept, and the segment
 * (which may carry the first data) completes the handshake at once.
 */
static void tcp_cookie_input(struct net_stack *s, struct tcp_listener *l,
			     const struct ipv4_packet *pkt, const struct tcp_segment *seg,
			     uint16_t sport, uint16_t dport)
{
	struct tcp_cookie cookie;
	uint32_t iss = seg->ack - 1;
	if (tcp_cookie_check(s, pkt->dst, dport, pkt->src, sport, seg->seq - 1, iss, &cookie) !=
	    0) {
		net_count(s, NET_CNT_TCP_SYNCOOKIE_BAD);
		tcp_send_reset(s, pkt->dst, dport, pkt->src, sport, seg->ack, 0, 0);
		return;
	}
	struct tcp_conn *c = tcp_conn_alloc(s);
	if (c == NULL)
		return; /* counted; the peer retransmits and the cookie stays valid */
	net_count(s, NET_CNT_TCP_SYNCOOKIE_OK);
	c->flags |= TCPF_PASSIVE | TCPF_APP_CLOSED;
	c->fn = l->fn;
	c->arg = l->arg;
	c->local_addr = pkt->dst;
	c->local_port = dport;
	c->remote_addr = pkt->src;
	c->remote_port = sport;
	c->irs = seg->seq - 1;
	c->rcv_nxt = seg->seq;
	c->rcv_adv = c->rcv_nxt;
	c->iss = iss;
	c->snd_una = c->recover = iss;
	c->snd_nxt = c->snd_max = iss + 1;
	c->snd_buf_seq = iss + 1;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = iss;
	struct tcp_segment syn = {.mss = cookie.mss, .ws = cookie.ws, .sack_ok = cookie.sack_ok};
	tcp_apply_syn_options(c, &syn);
	c->state = TCP_SYN_RCVD;
	tcp_conn_input(c, seg);
}

static void tcp_listen_input(struct net_stack *s, struct tcp_listener *l,
			     const struct ipv4_packet *pkt, const struct tcp_segment *seg,
			     uint16_t sport, uint16_t dport)
{
	if (seg->flags & TCP_FLAG_RST)
		return;
	if ((seg->flags & (TCP_FLAG_ACK | TCP_FLAG_SYN)) == TCP_FLAG_ACK) {
		tcp_cookie_input(s, l, pkt, seg, sport, dport);
		return;
	}
	if (seg->flags & TCP_FLAG_ACK) {
		tcp_send_reset(s, pkt->dst, dport, pkt->src, sport, seg->ack, 0, 0);
		return;
	}
	if (!(seg->flags & TCP_FLAG_SYN) || pkt->link_broadcast)
		return;
	/*
	 * Beyond the backlog, or with no endpoint free, the SYN is answered
	 * with a SYN cookie and forgotten (RFC 4987 §3.6): a flood of spoofed
	 * SYNs then costs one SYN-ACK each and no memory, and every genuine
	 * peer still gets its SYN-ACK. Below the backlog a half-open endpoint
	 * keeps the exact MSS and retransmits its SYN-ACK.
	 */
	struct tcp_conn *c = NULL;
	if (l->pending >= l->backlog)
		net_count(s, NET_CNT_TCP_DROP_BACKLOG);
	else
		c = tcp_conn_alloc(s);
	if (c == NULL) {
		uint32_t cookie = tcp_cookie_make(s, pkt->dst, dport, pkt->src, sport, seg->seq,
						  seg->mss ? seg->mss : 536, seg->ws, seg->sack_ok);
		tcp_send_cookie_synack(s, pkt->dst, dport, pkt->src, sport, cookie, seg->seq + 1,
				       seg->ws != 0xff, seg->sack_ok);
		return;
	}
	c->flags |= TCPF_PASSIVE | TCPF_APP_CLOSED; /* the application gets it at ACCEPT */
	c->listener = l;
	l->pending++;
	c->fn = l->fn;
	c->arg = l->arg;
	c->local_addr = pkt->dst;
	c->local_port = dport;
	c->remote_addr = pkt->src;
	c->remote_port = sport;
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->iss = tcp_isn(s, pkt->dst, dport, pkt->src, sport);
	c->snd_una = c->snd_nxt = c->snd_max = c->recover = c->iss;
	c->snd_buf_seq = c->iss + 1;
	c->snd_wnd = seg->wnd;
	c->max_snd_wnd = seg->wnd;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = c->iss;
	tcp_apply_syn_options(c, seg);
	c->state = TCP_SYN_RCVD;
	tcp_output(c);
}

static void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt);
static void tcp_sack_prune(struct tcp_conn *c);

static void tcp_syn_sent_input(struct tcp_conn *c, const struct tcp_segment *seg)
{
	if (seg->flags & TCP_FLAG_ACK) {
		if (SEQ_LEQ(seg->ack, c->iss) || SEQ_GT(seg->ack, c->snd_max)) {
			if (!(seg->flags & TCP_FLAG_RST))
				tcp_send_reset(c->stack, c->local_addr, c->local_port,
					       c->remote_addr, c->remote_port, seg->ack, 0, 0);
			return;
		}
	}
	if (seg->flags & TCP_FLAG_RST) {
		if (seg->flags & TCP_FLAG_ACK)
			tcp_conn_abort(c, NET_EREFUSED);
		return;
	}
	if (!(seg->flags & TCP_FLAG_SYN))
		return;
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	tcp_apply_syn_options(c, seg);
	c->snd_wnd = seg->wnd; /* never scaled in a SYN */
	c->max_snd_wnd = seg->wnd;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = seg->ack;
	if (seg->flags & TCP_FLAG_ACK) {
		c->snd_una = seg->ack;
		if (c->retries == 0)
			tcp_rtt_sample(c, (uint32_t)(c->stack->now - c->rtt_start));
		c->rexmit_at = 0;
		c->retries = 0;
		tcp_established(c);
		if (c->flags & TCPF_FIN_QUEUED)
			c->state = TCP_FIN_WAIT_1;
		c->flags |= TCPF_ACK_NOW;
		tcp_output(c);
	} else {
		/* Simultaneous open (RFC 9293 §3.5 figure 7). */
		c->state = TCP_SYN_RCVD;
		c->snd_nxt = c->iss;
		tcp_output(c);
	}
}

static int tcp_acceptable(const struct tcp_conn *c, const struct tcp_segment *seg, uint32_t seglen)
{
	uint32_t wnd = CONFIG_NET_TCP_RCV_BUF - c->rcv_len;
	if (seglen == 0) {
		if (wnd == 0)
			return seg->seq == c->rcv_nxt;
		return SEQ_LEQ(c->rcv_nxt, seg->seq) && SEQ_LT(seg->seq, c->rcv_nxt + wnd);
	}
	if (wnd == 0)
		return 0;
	uint32_t last = seg->seq + seglen - 1;
	return (SEQ_LEQ(c->rcv_nxt, seg->seq) && SEQ_LT(seg->seq, c->rcv_nxt + wnd)) ||
	       (SEQ_LEQ(c->rcv_nxt, last) && SEQ_LT(last, c->rcv_nxt + wnd));
}

static void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt)
{
	/* RFC 6298 §2 in fixed point: srtt8 = 8*SRTT, rttvar4 = 4*RTTVAR. */
	if (c->srtt8 == 0) {
		c->srtt8 = (int32_t)(rtt << 3);
		c->rttvar4 = (int32_t)(rtt << 1);
	} else {
		int32_t delta = (int32_t)rtt - (c->srtt8 >> 3);
		c->srtt8 += delta;
		if (delta < 0)
			delta = -delta;
		c->rttvar4 += delta - (c->rttvar4 >> 2);
	}
	uint32_t rto = (uint32_t)(c->srtt8 >> 3) + (uint32_t)MAX(c->rttvar4, 1);
	c->rto =
	    MIN(MAX(rto, (uint32_t)CONFIG_NET_TCP_RTO_MIN_MS), (uint32_t)CONFIG_NET_TCP_RTO_MAX_MS);
}

static void tcp_new_ack(struct tcp_conn *c, uint32_t ack)
{
	struct net_stack *s = c->stack;
	uint32_t acked = ack - c->snd_una;
	uint32_t data_end = c->snd_buf_seq + c->snd_buf_len;
	uint32_t upto = SEQ_LT(ack, data_end) ? ack : data_end;
	if (SEQ_GT(upto, c->snd_buf_seq)) {
		uint32_t n = upto - c->snd_buf_seq;
		c->snd_buf_seq += n;
		c->snd_buf_len -= n;
		c->flags |= TCPF_EV_SENT;
	}
	if ((c->flags & TCPF_RTT_TIMING) && SEQ_GT(ack, c->rtt_seq)) {
		c->flags &= ~TCPF_RTT_TIMING;
		tcp_rtt_sample(c, (uint32_t)(s->now - c->rtt_start));
	}
	if (c->flags & TCPF_RECOVERY) {
		if (SEQ_GEQ(ack, c->recover)) {
			/* Full acknowledgment (RFC 6582 §3.2 step 3). */
			uint32_t flight = c->snd_max - ack;
			c->cwnd = MIN(c->ssthresh, MAX(flight, (uint32_t)c->mss) + c->mss);
			c->flags &= ~TCPF_RECOVERY;
		} else {
			/* Partial acknowledgment: retransmit the next hole, deflate. */
			c->snd_una = ack;
			tcp_sack_prune(c);
			tcp_retransmit_first(c);
			if (SEQ_LT(c->rexmit_next, ack + c->mss))
				c->rexmit_next = ack + c->mss;
			c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
			if (acked >= c->mss)
				c->cwnd += c->mss;
			c->cwnd = MAX(c->cwnd, (uint32_t)c->mss);
		}
	} else if (c->cwnd < c->ssthresh) {
		c->cwnd += MIN(acked, (uint32_t)c->mss); /* slow start */
	} else {
		c->cwnd += MAX(1u, (uint32_t)c->mss * c->mss / c->cwnd); /* congestion avoidance */
	}
	c->dupacks = 0;
	c->snd_una = ack;
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	tcp_sack_prune(c);
	c->retries = 0;
	c->flags &= ~TCPF_PERSIST;
	c->rexmit_at = c->snd_una == c->snd_max ? 0 : s->now + c->rto;
}

static void tcp_limited_transmit(struct tcp_conn *c)
{
	/*
	 * RFC 3042: on the first two duplicate ACKs send one new segment each
	 * (the receiver's window permitting), without growing cwnd, so that a
	 * small window still produces the three duplicates fast retransmit
	 * needs instead of waiting for the retransmission timer.
	 */
	uint32_t cwnd = c->cwnd;
	c->cwnd = c->snd_max - c->snd_una + c->mss;
	tcp_output(c);
	c->cwnd = cwnd;
}

static void tcp_fast_retransmit(struct tcp_conn *c)
{
	/* RFC 5681 §3.2 steps 2-3, with RFC 6582's recover point. */
	if ((c->flags & TCPF_RECOVERY) || SEQ_LT(c->snd_una, c->recover))
		return; /* still repairing the previous window: no second reduction */
	uint32_t flight = c->snd_max - c->snd_una;
	c->ssthresh = MAX(flight / 2, 2u * c->mss);
	c->recover = c->snd_max;
	c->flags |= TCPF_RECOVERY;
	net_count(c->stack, NET_CNT_TCP_FAST_RETRANSMIT);
	tcp_retransmit_first(c);
	c->rexmit_next = c->snd_una + c->mss;
	c->cwnd = c->ssthresh + 3u * c->mss;
	c->rexmit_at = c->stack->now + c->rto;
}

/* Merge [start,end) into a sorted, disjoint range list with room for one more. */
static void tcp_range_add(struct tcp_range *r, uint8_t *count, uint32_t start, uint32_t end)
{
	int n = *count;
	for (int i = 0; i < n; i++) {
		if (SEQ_LEQ(start, r[i].end) && SEQ_GEQ(end, r[i].start)) {
			if (SEQ_LT(start, r[i].start))
				r[i].start = start;
			if (SEQ_GT(end, r[i].end))
				r[i].end = end;
			/* Absorb followers that now touch. */
			while (i + 1 < n && SEQ_GEQ(r[i].end, r[i + 1].start)) {
				if (SEQ_GT(r[i + 1].end, r[i].end))
					r[i].end = r[i + 1].end;
				memmove(&r[i + 1], &r[i + 2], (size_t)(n - i - 2) * sizeof(*r));
				n--;
			}
			*count = (uint8_t)n;
			return;
		}
	}
	int at = 0;
	while (at < n && SEQ_LT(r[at].start, start))
		at++;
	memmove(&r[at + 1], &r[at], (size_t)(n - at) * sizeof(*r));
	r[at].start = start;
	r[at].end = end;
	*count = (uint8_t)(n + 1);
}

static int tcp_range_overlaps(const struct tcp_range *r, int n, uint32_t start, uint32_t end)
{
	for (int i = 0; i < n; i++)
		if (SEQ_LEQ(start, r[i].end) && SEQ_GEQ(end, r[i].start))
			return 1;
	return 0;
}

/* Fold the peer's SACK blocks into the scoreboard (RFC 2018 §4). Blocks must
 * lie within (snd_una, snd_max]: anything else is stale or forged. */
static void tcp_sack_update(struct tcp_conn *c, const struct tcp_segment *seg)
{
	for (int b = 0; b < seg->sack_count; b++) {
		uint32_t start = seg->sack[b].start, end = seg->sack[b].end;
		if (SEQ_LEQ(end, start) || SEQ_LEQ(end, c->snd_una) || SEQ_GT(end, c->snd_max))
			continue;
		if (SEQ_LT(start, c->snd_una))
			start = c->snd_una;
		if (c->sacked_count == TCP_SACK_RANGES &&
		    !tcp_range_overlaps(c->sacked, c->sacked_count, start, end)) {
			if (!SEQ_LT(start, c->sacked[c->sacked_count - 1].start))
				continue;
			c->sacked_count--; /* keep what is nearest snd_una */
		}
		tcp_range_add(c->sacked, &c->sacked_count, start, end);
	}
}

static void tcp_sack_prune(struct tcp_conn *c)
{
	int k = 0;
	for (int i = 0; i < c->sacked_count; i++) {
		if (SEQ_LEQ(c->sacked[i].end, c->snd_una))
			continue;
		c->sacked[k] = c->sacked[i];
		if (SEQ_LT(c->sacked[k].start, c->snd_una))
			c->sacked[k].start = c->snd_una;
		k++;
	}
	c->sacked_count = (uint8_t)k;
}

/*
 * In fast recovery, each further duplicate ACK means a segment left the
 * network: use it to repair the next hole the peer's SACK blocks reveal
 * (RFC 6675's NextSeg, rule 1), so that several losses in one window
 * cost one round trip, not one each as with NewReno alone.
 */
static void tcp_sack_retransmit_hole(struct tcp_conn *c)
{
	if (c->sacked_count == 0)
		return;
	uint32_t seq = SEQ_GT(c->rexmit_next, c->snd_una) ? c->rexmit_next : c->snd_una;
	for (int i = 0; i < c->sacked_count; i++) {
		if (SEQ_LT(seq, c->sacked[i].start)) {
			uint32_t data_end = c->snd_buf_seq + c->snd_buf_len;
			uint32_t limit =
			    SEQ_LT(c->sacked[i].start, data_end) ? c->sacked[i].start : data_end;
			if (SEQ_LEQ(limit, seq))
				return;
			uint32_t len = MIN(limit - seq, (uint32_t)c->mss);
			tcp_send_segment(c, seq, len, TCP_FLAG_ACK);
			c->rexmit_next = seq + len;
			return;
		}
		if (SEQ_LT(seq, c->sacked[i].end))
			seq = c->sacked[i].end; /* inside a SACKed range: skip it */
	}
}

static void tcp_ring_write(struct tcp_conn *c, uint32_t offset, const uint8_t *data, uint32_t len)
{
	uint32_t pos = (c->rcv_head + c->rcv_len + offset) & RCV_MASK;
	uint32_t first = MIN(len, CONFIG_NET_TCP_RCV_BUF - pos);
	memcpy(c->rcv_buf + pos, data, first);
	memcpy(c->rcv_buf, data + first, len - first);
}

static void tcp_receive_data(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct net_stack *s = c->stack;
	if (c->flags & TCPF_APP_CLOSED) {
		/* Nobody will read: acknowledge and discard (in order only). */
		if (seq == c->rcv_nxt)
			c->rcv_nxt += len;
		c->flags |= TCPF_ACK_NOW;
		return;
	}
	if (seq != c->rcv_nxt) {
		if (c->ooo_count == CONFIG_NET_TCP_OOO_RANGES) {
			int fits = 0;
			for (int i = 0; i < c->ooo_count; i++)
				fits |= SEQ_LEQ(seq, c->ooo[i].end) &&
					SEQ_GEQ(seq + len, c->ooo[i].start);
			if (!fits && SEQ_LT(seq, c->ooo[c->ooo_count - 1].start)) {
				/* Forget the range furthest right: data nearer rcv_nxt
				 * is worth more (it is what the next hole needs). */
				c->ooo_count--;
				fits = 1;
			}
			if (!fits) {
				net_count(s, NET_CNT_TCP_OOO_DROP);
				c->flags |= TCPF_ACK_NOW;
				return;
			}
		}
		tcp_ring_write(c, seq - c->rcv_nxt, data, len);
		tcp_range_add(c->ooo, &c->ooo_count, seq, seq + len);
		c->ooo_recent = seq;
		net_count(s, NET_CNT_TCP_OOO_QUEUED);
		c->flags |= TCPF_ACK_NOW; /* RFC 5681 §4.2: immediate duplicate ACK */
		return;
	}
	tcp_ring_write(c, 0, data, len);
	c->rcv_len += len;
	c->rcv_nxt += len;
	c->flags |= TCPF_EV_RECV;
	if (c->ooo_count > 0) {
		/* Data that filled a hole is acknowledged at once (RFC 5681 §4.2). */
		c->flags |= TCPF_ACK_NOW;
		while (c->ooo_count > 0 && SEQ_LEQ(c->ooo[0].start, c->rcv_nxt)) {
			if (SEQ_GT(c->ooo[0].end, c->rcv_nxt)) {
				c->rcv_len += c->ooo[0].end - c->rcv_nxt;
				c->rcv_nxt = c->ooo[0].end;
			}
			memmove(&c->ooo[0], &c->ooo[1],
				(size_t)(c->ooo_count - 1) * sizeof(c->ooo[0]));
			c->ooo_count--;
		}
	} else if (c->flags & TCPF_ACK_DELAYED) {
		c->flags |= TCPF_ACK_NOW; /* every second full segment */
	} else {
		c->flags |= TCPF_ACK_DELAYED;
		c->delack_at = s->now + CONFIG_NET_TCP_DELACK_MS;
	}
}

static void tcp_receive_fin(struct tcp_conn *c)
{
	c->rcv_nxt++;
	c->flags |= TCPF_ACK_NOW | TCPF_EV_PEER_CLOSED;
	c->flags &= ~TCPF_FIN_RECEIVED;
	switch (c->state) {
	case TCP_SYN_RCVD:
	case TCP_ESTABLISHED: c->state = TCP_CLOSE_WAIT; break;
	case TCP_FIN_WAIT_1:
		c->state = TCP_CLOSING; /* our FIN is not acknowledged yet */
		break;
	case TCP_FIN_WAIT_2: tcp_enter_time_wait(c); break;
	default: break;
	}
}

static void tcp_conn_input(struct tcp_conn *c, const struct tcp_segment *in)
{
	struct net_stack *s = c->stack;
	struct tcp_segment seg = *in;
	uint32_t seglen =
	    seg.len + ((seg.flags & TCP_FLAG_SYN) ? 1 : 0) + ((seg.flags & TCP_FLAG_FIN) ? 1 : 0);

	if (c->state == TCP_SYN_RCVD && (seg.flags & TCP_FLAG_SYN) && !(seg.flags & TCP_FLAG_ACK) &&
	    seg.seq == c->irs) {
		c->snd_nxt = c->iss; /* our SYN-ACK was lost: send it again */
		tcp_output(c);
		return;
	}
	if (!tcp_acceptable(c, &seg, seglen)) {
		net_count(s, NET_CNT_TCP_DROP_OUT_OF_WINDOW);
		if (!(seg.flags & TCP_FLAG_RST)) {
			c->flags |= TCPF_ACK_NOW;
			tcp_output(c);
			if (c->state == TCP_TIME_WAIT && (seg.flags & TCP_FLAG_FIN))
				tcp_enter_time_wait(c); /* retransmitted FIN restarts 2MSL */
		}
		return;
	}
	if (seg.flags & TCP_FLAG_RST) {
		/* RFC 5961 §3.2: only an exact match resets; in-window earns a challenge. */
		if (seg.seq != c->rcv_nxt) {
			tcp_send_challenge_ack(c);
			return;
		}
		net_count(s, NET_CNT_TCP_RST_RX);
		if (c->state == TCP_SYN_RCVD && (c->flags & TCPF_PASSIVE)) {
			tcp_conn_free(c); /* back to LISTEN, which never left */
		} else if (c->state == TCP_CLOSING || c->state == TCP_LAST_ACK ||
			   c->state == TCP_TIME_WAIT) {
			tcp_conn_free(c);
		} else {
			tcp_conn_abort(c, c->state == TCP_SYN_RCVD ? NET_EREFUSED : NET_ERESET);
		}
		return;
	}
	if (seg.flags & TCP_FLAG_SYN) {
		tcp_send_challenge_ack(c); /* RFC 5961 §4.2 */
		return;
	}
	if (!(seg.flags & TCP_FLAG_ACK))
		return;
	if (c->flags & TCPF_KEEPALIVE) {
		c->keep_probes = 0;
		c->keep_at = s->now + (uint64_t)CONFIG_NET_TCP_KEEPALIVE_IDLE_S * 1000;
	}

	if (c->state == TCP_SYN_RCVD) {
		if (SEQ_LEQ(seg.ack, c->snd_una) || SEQ_GT(seg.ack, c->snd_max)) {
			tcp_send_reset(s, c->local_addr, c->local_port, c->remote_addr,
				       c->remote_port, seg.ack, 0, 0);
			return;
		}
		if (c->listener != NULL) {
			c->listener->pending--;
			c->listener = NULL;
		}
		if (c->flags & TCPF_PASSIVE)
			c->flags &= ~TCPF_APP_CLOSED; /* handed to the application now */
		c->snd_wnd = (uint32_t)seg.wnd << c->snd_wscale;
		c->max_snd_wnd = MAX(c->max_snd_wnd, c->snd_wnd);
		c->snd_wl1 = seg.seq;
		c->snd_wl2 = seg.ack;
		tcp_established(c);
		if (c->flags & TCPF_FIN_QUEUED)
			c->state = TCP_FIN_WAIT_1;
	}

	/* RFC 5961 §5.2: an ACK for data never sent, or too old, is answered and dropped. */
	if (SEQ_GT(seg.ack, c->snd_max) || SEQ_LT(seg.ack, c->snd_una - MAX(c->max_snd_wnd, 1u))) {
		c->flags |= TCPF_ACK_NOW;
		tcp_output(c);
		return;
	}
	if ((c->flags & TCPF_SACK_OK) && seg.sack_count > 0)
		tcp_sack_update(c, &seg);
	uint32_t wnd = (uint32_t)seg.wnd << c->snd_wscale;
	if (c->flags & TCPF_PERSIST)
		c->retries = 0; /* RFC 9293 §3.8.6.1: probe for as long as the peer answers */
	if (SEQ_GT(seg.ack, c->snd_una)) {
		tcp_new_ack(c, seg.ack);
	} else if (seg.ack == c->snd_una && seg.len == 0 && !(seg.flags & TCP_FLAG_FIN) &&
		   wnd >= c->snd_wnd && c->snd_max != c->snd_una) {
		/*
		 * A duplicate ACK (RFC 5681 §2), except that a window that grew
		 * still counts: receivers that auto-tune their buffer (Linux)
		 * open the window on the very ACKs that report a hole.
		 */
		if (++c->dupacks == 3)
			tcp_fast_retransmit(c);
		else if (c->dupacks > 3 && (c->flags & TCPF_RECOVERY)) {
			c->cwnd += c->mss; /* inflate for each segment that left the network */
			tcp_sack_retransmit_hole(c);
		} else if (c->dupacks < 3 && !(c->flags & TCPF_RECOVERY))
			tcp_limited_transmit(c);
	}
	if (SEQ_LT(c->snd_wl1, seg.seq) ||
	    (c->snd_wl1 == seg.seq && SEQ_LEQ(c->snd_wl2, seg.ack))) {
		c->snd_wnd = wnd;
		c->snd_wl1 = seg.seq;
		c->snd_wl2 = seg.ack;
		if (wnd > c->max_snd_wnd)
			c->max_snd_wnd = wnd;
		if (wnd > 0 && (c->flags & TCPF_PERSIST)) {
			c->flags &= ~TCPF_PERSIST;
			c->rexmit_at = c->snd_una == c->snd_max ? 0 : s->now + c->rto;
		}
	}
	uint32_t data_end = c->snd_buf_seq + c->snd_buf_len;
	int fin_acked = (c->flags & TCPF_FIN_QUEUED) && SEQ_GT(c->snd_una, data_end);
	if (fin_acked) {
		if (c->state == TCP_FIN_WAIT_1) {
			c->state = TCP_FIN_WAIT_2;
			if (c->flags & TCPF_APP_CLOSED)
				c->close_at = s->now + CONFIG_NET_TCP_FIN_WAIT2_MS;
		} else if (c->state == TCP_CLOSING) {
			tcp_enter_time_wait(c);
		} else if (c->state == TCP_LAST_ACK) {
			tcp_conn_free(c);
			return;
		}
	}

	/* Data: trim what we already have, then keep what fits the window. */
	if (seg.len > 0 && (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
			    c->state == TCP_FIN_WAIT_2)) {
		if (SEQ_LT(seg.seq, c->rcv_nxt)) {
			uint32_t skip = c->rcv_nxt - seg.seq;
			if (skip >= seg.len) {
				seg.len = 0;
				net_count(s, NET_CNT_TCP_DUP_DATA);
				c->flags |= TCPF_ACK_NOW;
			} else {
				seg.data += skip;
				seg.len -= skip;
			}
			seg.seq = c->rcv_nxt;
		}
		uint32_t room = CONFIG_NET_TCP_RCV_BUF - c->rcv_len - (seg.seq - c->rcv_nxt);
		if (seg.len > room) {
			seg.len = room;
			seg.flags &= (uint8_t)~TCP_FLAG_FIN;
		}
		if (seg.len > 0)
			tcp_receive_data(c, seg.seq, seg.data, seg.len);
	}
	if ((seg.flags & TCP_FLAG_FIN) && c->state != TCP_CLOSE_WAIT && c->state != TCP_CLOSING &&
	    c->state != TCP_LAST_ACK && c->state != TCP_TIME_WAIT) {
		uint32_t fin_seq = seg.seq + seg.len;
		if (fin_seq == c->rcv_nxt) {
			tcp_receive_fin(c);
		} else if (SEQ_GT(fin_seq, c->rcv_nxt)) {
			c->flags |= TCPF_FIN_RECEIVED;
			c->rcv_fin_seq = fin_seq;
		}
	} else if ((seg.flags & TCP_FLAG_FIN) && c->state == TCP_TIME_WAIT) {
		c->flags |= TCPF_ACK_NOW;
		tcp_enter_time_wait(c);
	}
	if ((c->flags & TCPF_FIN_RECEIVED) && c->rcv_nxt == c->rcv_fin_seq)
		tcp_receive_fin(c);
	tcp_output(c);
	tcp_report_events(c);
}

void tcp_input(struct net_stack *s, const struct ipv4_packet *pkt)
{
	net_count(s, NET_CNT_TCP_RX);
	struct tcp_segment seg;
	if (tcp_parse(s, pkt, &seg) != 0)
		return;
	if (pkt->link_broadcast) {
		net_count(s, NET_CNT_TCP_DROP_MALFORMED);
		return;
	}
	uint16_t sport = net_get16(pkt->payload), dport = net_get16(pkt->payload + 2);
	for (int i = 0; i < CONFIG_NET_TCP_CONNS; i++) {
		struct tcp_conn *c = &s->tcp.conns[i];
		if (c->in_use && c->state != TCP_CLOSED && c->local_port == dport &&
		    c->remote_port == sport && c->remote_addr == pkt->src &&
		    c->local_addr == pkt->dst) {
			if (c->state == TCP_SYN_SENT) {
				tcp_syn_sent_input(c, &seg);
				if (c->in_use && c->state != TCP_CLOSED)
					tcp_report_events(c);
			} else {
				tcp_conn_input(c, &seg);
			}
			return;
		}
	}
	for (int i = 0; i < CONFIG_NET_TCP_LISTENERS; i++) {
		struct tcp_listener *l = &s->tcp.listeners[i];
		if (l->port != 0 && l->port == dport) {
			tcp_listen_input(s, l, pkt, &seg, sport, dport);
			return;
		}
	}
	net_count(s, NET_CNT_TCP_DROP_NO_PORT);
	if (seg.flags & TCP_FLAG_RST)
		return;
	/* RFC 9293 §3.10.7.1: a reset that the sender will accept. */
	if (seg.flags & TCP_FLAG_ACK)
		tcp_send_reset(s, pkt->dst, dport, pkt->src, sport, seg.ack, 0, 0);
	else
		tcp_send_reset(s, pkt->dst, dport, pkt->src, sport, 0,
			       seg.seq + seg.len + ((seg.flags & TCP_FLAG_SYN) ? 1 : 0) +
				   ((seg.flags & TCP_FLAG_FIN) ? 1 : 0),
			       TCP_FLAG_ACK);
}
