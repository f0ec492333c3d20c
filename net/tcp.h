/*
 * tcp.h — TCP (RFC 9293) internals shared by tcp.c (endpoints, API, timers),
 * tcp_input.c (segment arrival) and tcp_output.c (segment building).
 *
 * Data lives in two rings per connection, no per-segment buffers: the send
 * ring holds everything from snd_una on (unacknowledged and unsent), and a
 * retransmission rebuilds its segment from the ring. The receive ring holds
 * in-order data not yet read by the application, and out-of-order data is
 * written straight to its place further on, its extent kept in a small
 * list of ranges; the window is the free space of the ring.
 */
#ifndef NET_TCP_H
#define NET_TCP_H

#include <stdint.h>

#include "config.h"
#include "net.h"

struct ipv4_packet;

enum tcp_state_id {
	TCP_CLOSED,
	TCP_SYN_SENT,
	TCP_SYN_RCVD,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT
};

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10
#define TCP_FLAG_URG 0x20

/* struct tcp_conn.flags */
#define TCPF_ACK_NOW        0x0001 /* send an ACK at the next output */
#define TCPF_ACK_DELAYED    0x0002 /* one segment is waiting for its delayed ACK */
#define TCPF_FIN_QUEUED     0x0004 /* application shut down its side: FIN after the data */
#define TCPF_NODELAY        0x0008
#define TCPF_KEEPALIVE      0x0010
#define TCPF_RECOVERY       0x0020 /* in fast recovery (RFC 5681 / RFC 6582) */
#define TCPF_APP_CLOSED     0x0040 /* the handle was given back */
#define TCPF_PERSIST        0x0080 /* the retransmit timer is the persist timer */
#define TCPF_RTT_TIMING     0x0100
#define TCPF_FIN_RECEIVED   0x0200 /* an out-of-order FIN is remembered at rcv_fin_seq */
#define TCPF_WSCALE_OK      0x0400 /* both sides sent the window scale option */
#define TCPF_PASSIVE        0x0800 /* opened by a listener: report ACCEPT, not CONNECTED */
#define TCPF_EV_RECV        0x1000 /* events to report when input processing ends */
#define TCPF_EV_SENT        0x2000
#define TCPF_EV_PEER_CLOSED 0x4000
#define TCPF_EV_ESTABLISHED 0x8000
#define TCPF_SACK_OK        0x10000 /* both sides sent SACK-permitted: our ACKs carry SACK blocks */
#define TCPF_ADDR_LOST      0x20000 /* our address went away: abort at the next poll */

#define SEQ_LT(a, b)  ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b)  ((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((a) - (b)) >= 0)

struct tcp_range {
	uint32_t start, end;
};

#define TCP_SACK_RANGES 4

struct tcp_listener {
	struct net_stack *stack;
	uint16_t port; /* 0: free */
	uint8_t backlog, pending;
	tcp_event_fn *fn;
	void *arg;
};

struct tcp_conn {
	struct net_stack *stack;
	struct tcp_listener *listener; /* while SYN_RCVD from a passive open */
	tcp_event_fn *fn;
	void *arg;
	uint8_t in_use; /* the slot is taken (state CLOSED may still be held by the app) */
	uint8_t state;
	int8_t error;
	uint8_t dupacks, retries, keep_probes;
	uint8_t snd_wscale, rcv_wscale, ooo_count;
	uint32_t flags;
	uint16_t mss;
	uint16_t local_port, remote_port;
	uint32_t generation; /* changes whenever the slot is freed */
	uint32_t local_addr, remote_addr;

	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint32_t cwnd, ssthresh, recover;
	uint32_t snd_buf_seq, snd_buf_len; /* the send ring holds [snd_buf_seq, +len) */

	uint32_t irs, rcv_nxt, rcv_adv, rcv_fin_seq;
	uint32_t ooo_recent;        /* start of the latest out-of-order segment: first SACK block */
	uint32_t rcv_head, rcv_len; /* readable bytes in the receive ring */

	int32_t srtt8, rttvar4; /* RFC 6298 in ms, scaled by 8 and 4 */
	uint32_t rto, rtt_seq;
	uint64_t rtt_start;
	uint64_t rexmit_at, delack_at, keep_at, close_at; /* 0: not armed */

	/* Sender side of SACK (RFC 2018/6675): what the peer reported holding
	 * beyond snd_una, and how far this recovery has retransmitted holes. */
	struct tcp_range sacked[TCP_SACK_RANGES];
	uint8_t sacked_count;
	uint32_t rexmit_next;
	struct tcp_range ooo[CONFIG_NET_TCP_OOO_RANGES];
	uint8_t snd_buf[CONFIG_NET_TCP_SND_BUF];
	uint8_t rcv_buf[CONFIG_NET_TCP_RCV_BUF];
};

struct tcp_state {
	struct tcp_conn conns[CONFIG_NET_TCP_CONNS];
	struct tcp_listener listeners[CONFIG_NET_TCP_LISTENERS];
	uint64_t challenge_second;
	uint32_t challenge_count;
};

/* A parsed, checksummed segment. */
struct tcp_segment {
	uint32_t seq, ack;
	uint16_t wnd;
	uint8_t flags;
	uint8_t ws;         /* window scale option, 0xff: absent */
	uint8_t sack_ok;    /* SACK-permitted option */
	uint8_t sack_count; /* SACK blocks (non-SYN segments) */
	struct tcp_range sack[TCP_SACK_RANGES];
	uint16_t mss; /* 0: absent */
	const uint8_t *data;
	uint32_t len;
};

/* tcp.c */
struct tcp_conn *tcp_conn_alloc(struct net_stack *s);
void tcp_conn_free(struct tcp_conn *c);
void tcp_conn_abort(struct tcp_conn *c, int error); /* ABORTED event, then free */
uint32_t tcp_isn(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
		 uint16_t rport);
void tcp_enter_time_wait(struct tcp_conn *c);
void tcp_report_events(struct tcp_conn *c);
void tcp_poll(struct net_stack *s);
/* The interface address changed: connections on the old one are aborted
 * (NET_EUNREACH) at the next poll, never inside the caller's API call. */
void tcp_address_changed(struct net_stack *s);
/* An ICMP destination unreachable quoting one of our segments. */
void tcp_icmp_unreachable(struct net_stack *s, uint32_t raddr, uint16_t lport, uint16_t rport,
			  uint32_t seq, uint8_t code, uint16_t mtu);
uint64_t tcp_next_deadline(const struct net_stack *s);

/* tcp_cookie.c: SYN cookies (RFC 4987 §3.6) */
struct tcp_cookie {
	uint16_t mss;
	uint8_t ws; /* 0xff: the peer sent no window scale */
	uint8_t sack_ok;
};
uint32_t tcp_cookie_make(const struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
			 uint16_t rport, uint32_t peer_isn, uint16_t mss, uint8_t ws,
			 uint8_t sack_ok);
/* 0 when `cookie` is one we made for this 4-tuple and peer ISN, not expired. */
int tcp_cookie_check(const struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
		     uint16_t rport, uint32_t peer_isn, uint32_t cookie, struct tcp_cookie *out);

/* tcp_input.c */
void tcp_input(struct net_stack *s, const struct ipv4_packet *pkt);

/* tcp_output.c */
void tcp_output(struct tcp_conn *c);
void tcp_send_segment(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags);
void tcp_send_challenge_ack(struct tcp_conn *c);
void tcp_send_reset(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
		    uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags);
void tcp_retransmit_first(struct tcp_conn *c);
/* A stateless SYN-ACK carrying a SYN cookie as its sequence number. */
void tcp_send_cookie_synack(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
			    uint16_t rport, uint32_t cookie, uint32_t ack, int wscale_ok,
			    int sack_ok);
void tcp_persist_send(struct tcp_conn *c);
uint32_t tcp_rcv_window(const struct tcp_conn *c);

#endif
