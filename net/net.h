/*
 * net.h — the whole interface of Flotilla's TCP/IP stack.
 *
 * The stack is portable C with no platform code. It sees its host through
 * one seam (struct net_port): a function that transmits an Ethernet frame
 * and a clock. The host delivers received frames with net_input() and calls
 * net_poll() when the deadline given by net_next_timeout_ms() has passed.
 * Everything is single-threaded: the host MUST NOT call into a stack from
 * two threads, nor from an interrupt handler while another call runs.
 *
 * Memory: a stack lives in one block the host provides (net_stack_size()
 * bytes, any 8-byte aligned storage). Every pool inside it (TCP and UDP
 * endpoints, ARP cache, reassembly buffers, DNS queries) is sized by
 * Kconfig (net/Kconfig); the packet path never allocates. When a pool is
 * full the operation fails with NET_ENOMEM and the pool's exhaustion counter
 * is incremented (net_counter()).
 *
 * Events: applications are event-driven. Every TCP endpoint, UDP socket,
 * DHCP client and DNS query carries a callback; callbacks run from inside
 * net_input()/net_poll() (and never from inside an API call that the
 * application makes itself). A callback may call any function here,
 * including closing the object it was called for.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stddef.h>
#include <stdint.h>

/* Results. Functions return NET_OK (0) or a negative result. */
enum net_result {
	NET_OK = 0,
	NET_EAGAIN = -1,    /* no room now: retry after a SENT event */
	NET_EINVAL = -2,    /* an argument is out of range */
	NET_ENOMEM = -3,    /* a fixed pool is exhausted (see counters) */
	NET_EUNREACH = -4,  /* no route: address not configured / no gateway */
	NET_ENOTCONN = -5,  /* the connection is not (or no longer) open */
	NET_EINUSE = -6,    /* the local port is taken */
	NET_ERESET = -7,    /* the peer reset the connection */
	NET_ETIMEDOUT = -8, /* retransmissions or keep-alives gave up */
	NET_EREFUSED = -9,  /* the peer refused the connection (RST to SYN) */
	NET_EMSGSIZE = -10, /* datagram larger than the MTU (no fragmentation on output) */
};
const char *net_result_text(int result);

/* IPv4 addresses are host-order uint32_t: 10.0.0.1 is 0x0a000001. */
#define NET_IPV4(a, b, c, d)                                                                       \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* ------------------------------------------------------------ the seam */

struct net_port {
	/*
	 * Transmit one Ethernet frame (destination MAC first, no FCS). The
	 * frame is only valid during the call: the port copies it or sends it
	 * before returning. Returning non-zero counts a transmit drop; the
	 * stack recovers as it does from loss on the wire.
	 */
	int (*transmit)(void *ctx, const uint8_t *frame, size_t len);
	/* Monotonic milliseconds; never goes backwards. */
	uint64_t (*now_ms)(void *ctx);
	void *ctx;
	uint8_t mac[6];
	/*
	 * 16 secret random bytes: keys the hash behind TCP initial sequence
	 * numbers (RFC 6528), ephemeral ports, DHCP and DNS identifiers. A
	 * stack with a guessable secret is open to blind spoofing.
	 */
	uint8_t secret[16];
};

struct net_stack;

/* Bytes of storage a stack needs. */
size_t net_stack_size(void);
/* Start a stack in `mem` (net_stack_size() bytes, 8-byte aligned). */
struct net_stack *net_stack_init(void *mem, size_t len, const struct net_port *port);

/* A frame arrived (destination MAC first, FCS stripped). Any content is safe. */
void net_input(struct net_stack *s, const uint8_t *frame, size_t len);
/* Run due timers. Cheap to call more often than needed. */
void net_poll(struct net_stack *s);
/* Milliseconds until net_poll() has work; -1 when no timer is armed. */
int64_t net_next_timeout_ms(struct net_stack *s);

/* Static IPv4 configuration (also what DHCP applies). Announces the
 * address with a gratuitous ARP. addr 0 removes the address. TCP
 * connections on a previous address are aborted (NET_EUNREACH) at the
 * next net_poll(). */
void net_set_ipv4(struct net_stack *s, uint32_t addr, uint32_t netmask, uint32_t gateway);
uint32_t net_ipv4_addr(const struct net_stack *s);

/* ------------------------------------------------------------ counters */

/* clang-format off */
#define NET_COUNTERS(X) \
	X(ETH_RX) X(ETH_TX) X(ETH_TX_FAILED) X(ETH_DROP_SHORT) X(ETH_DROP_NOT_FOR_US) \
	X(ETH_DROP_TYPE) \
	X(ARP_RX) X(ARP_TX) X(ARP_DROP_MALFORMED) X(ARP_QUEUE_FULL) X(ARP_QUEUE_DROP) \
	X(ARP_CACHE_FULL) X(ARP_CONFLICT) \
	X(IP_RX) X(IP_TX) X(IP_DROP_MALFORMED) X(IP_DROP_CHECKSUM) X(IP_DROP_NOT_FOR_US) \
	X(IP_DROP_PROTO) X(IP_DROP_NO_ROUTE) X(IP_FRAG_RX) X(IP_REASS_OK) X(IP_REASS_TIMEOUT) \
	X(IP_REASS_DROP) X(IP_REASS_POOL_FULL) \
	X(ICMP_RX) X(ICMP_TX) X(ICMP_DROP_MALFORMED) X(ICMP_RATE_LIMITED) \
	X(UDP_RX) X(UDP_TX) X(UDP_DROP_MALFORMED) X(UDP_DROP_CHECKSUM) X(UDP_DROP_NO_PORT) \
	X(UDP_POOL_FULL) \
	X(TCP_RX) X(TCP_TX) X(TCP_DROP_MALFORMED) X(TCP_DROP_CHECKSUM) X(TCP_DROP_NO_PORT) \
	X(TCP_DROP_OUT_OF_WINDOW) X(TCP_DROP_BACKLOG) X(TCP_POOL_FULL) X(TCP_RETRANSMIT) \
	X(TCP_FAST_RETRANSMIT) X(TCP_RTO) X(TCP_CHALLENGE_ACK) X(TCP_RST_TX) X(TCP_RST_RX) \
	X(TCP_OOO_QUEUED) X(TCP_OOO_DROP) X(TCP_DUP_DATA) X(TCP_ZERO_WINDOW_PROBE) \
	X(TCP_KEEPALIVE) X(TCP_TIMEWAIT_RECYCLED) X(TCP_ACCEPTED) X(TCP_CONNECTED) \
	X(TCP_SYNCOOKIE_TX) X(TCP_SYNCOOKIE_OK) X(TCP_SYNCOOKIE_BAD) \
	X(DHCP_TX) X(DHCP_RX) X(DHCP_DROP_MALFORMED) X(DHCP_BOUND) X(DHCP_LEASE_EXPIRED) \
	X(DNS_TX) X(DNS_RX) X(DNS_DROP_MALFORMED) X(DNS_POOL_FULL) X(DNS_TIMEOUT)

enum net_counter_id {
#define NET_COUNTER_ENUM(name) NET_CNT_##name,
	NET_COUNTERS(NET_COUNTER_ENUM)
#undef NET_COUNTER_ENUM
	NET_CNT_COUNT
};
/* clang-format on */
uint32_t net_counter(const struct net_stack *s, enum net_counter_id id);
const char *net_counter_name(enum net_counter_id id);

/* Fixed pools: in use now, highest use seen, failed takes. */
enum net_pool_id {
	NET_POOL_TCP,
	NET_POOL_UDP,
	NET_POOL_ARP_QUEUE,
	NET_POOL_REASS,
	NET_POOL_DNS,
	NET_POOL_COUNT
};
struct net_pool_stats {
	uint16_t size, in_use, peak;
	uint32_t exhausted;
};
struct net_pool_stats net_pool_stats(const struct net_stack *s, enum net_pool_id id);

/* ------------------------------------------------------------ UDP */

struct udp_socket;
/* A datagram arrived; `data` is valid only during the call. */
typedef void udp_recv_fn(void *arg, struct udp_socket *sock, uint32_t src_addr, uint16_t src_port,
			 const uint8_t *data, size_t len);
/* Bind a local port (0 picks an ephemeral port). NULL when the pool or port is taken. */
struct udp_socket *udp_open(struct net_stack *s, uint16_t port, udp_recv_fn *fn, void *arg);
uint16_t udp_local_port(const struct udp_socket *sock);
/* Send one datagram (no fragmentation: at most MTU-28 bytes). A datagram
 * waiting for ARP resolution is queued (bounded); NET_OK means "handed on". */
int udp_sendto(struct udp_socket *sock, uint32_t addr, uint16_t port, const void *data, size_t len);
void udp_close(struct udp_socket *sock);

/* ------------------------------------------------------------ TCP */

struct tcp_conn;
struct tcp_listener;
enum tcp_event {
	TCP_EVENT_ACCEPT,      /* on a listener's callback: `conn` is a new connection */
	TCP_EVENT_CONNECTED,   /* an active open completed */
	TCP_EVENT_RECV,        /* data is readable: call tcp_recv() */
	TCP_EVENT_SENT,        /* send buffer space was freed: tcp_send() may take more */
	TCP_EVENT_PEER_CLOSED, /* the peer sent FIN: after the buffered data, tcp_recv() returns 0
				*/
	TCP_EVENT_ABORTED,     /* reset, refused or timed out (tcp_error()); the handle
				* is freed when the callback returns: do not use it again */
};
typedef void tcp_event_fn(void *arg, struct tcp_conn *conn, enum tcp_event event);

/* Listen on a local port; up to `backlog` half-open connections (bounded by
 * Kconfig NET_TCP_BACKLOG). New connections are reported to fn as ACCEPT and
 * inherit fn/arg until tcp_set_callback(). A SYN beyond the backlog or the
 * connection pool is answered with a SYN cookie (RFC 4987) and no state is
 * kept; the connection is created when the peer's ACK returns a valid cookie.
 * Established connections are not disturbed. */
struct tcp_listener *tcp_listen(struct net_stack *s, uint16_t port, int backlog, tcp_event_fn *fn,
				void *arg);
/* Stop listening; half-open connections are reset, accepted ones stay. */
void tcp_listener_close(struct tcp_listener *l);
/* Active open; CONNECTED or ABORTED follows. NULL when no endpoint is free. */
struct tcp_conn *tcp_connect(struct net_stack *s, uint32_t addr, uint16_t port, tcp_event_fn *fn,
			     void *arg);
void tcp_set_callback(struct tcp_conn *c, tcp_event_fn *fn, void *arg);
/* Queue data: returns how many bytes were taken (0..len; back-pressure), or
 * NET_ENOTCONN. Data is sent as the windows allow. */
int tcp_send(struct tcp_conn *c, const void *data, size_t len);
/* Free space in the send buffer. */
size_t tcp_send_space(const struct tcp_conn *c);
/* Read up to len (> 0) bytes: returns the count, 0 at end of stream (peer
 * closed and all read), NET_EAGAIN when nothing is buffered yet. Reading
 * reopens the receive window. */
int tcp_recv(struct tcp_conn *c, void *buf, size_t len);
size_t tcp_recv_available(const struct tcp_conn *c);
/* Half-close: send FIN after the queued data; receiving continues. */
int tcp_shutdown(struct tcp_conn *c);
/* Close and give the handle back: FIN after queued data, then the stack
 * finishes the close on its own. No callback follows; data that still
 * arrives is acknowledged and discarded. Closing with unread received data
 * resets the connection instead (RFC 2525). */
void tcp_close(struct tcp_conn *c);
/* Reset the connection now (RST) and free the handle. No callback follows. */
void tcp_abort(struct tcp_conn *c);
/* Why a connection was aborted (valid in the ABORTED callback). */
int tcp_error(const struct tcp_conn *c);
/* Disable Nagle's algorithm (send small segments at once). */
void tcp_set_nodelay(struct tcp_conn *c, int on);
/* RFC 1122 keep-alive with the Kconfig idle/interval/count. */
void tcp_set_keepalive(struct tcp_conn *c, int on);
void tcp_remote(const struct tcp_conn *c, uint32_t *addr, uint16_t *port);

/* ------------------------------------------------------------ DHCP */

enum dhcp_event { DHCP_EVENT_BOUND, DHCP_EVENT_RENEWED, DHCP_EVENT_LOST };
struct dhcp_lease {
	uint32_t addr, netmask, gateway, dns, server;
	uint32_t lease_s, t1_s, t2_s;
};
typedef void dhcp_event_fn(void *arg, enum dhcp_event event, const struct dhcp_lease *lease);
/* Start the RFC 2131 client (discover/request/renew/rebind; the lease is
 * applied with net_set_ipv4() and removed on expiry). */
int dhcp_start(struct net_stack *s, dhcp_event_fn *fn, void *arg);
/* Stop the client. A lease held is released (DHCPRELEASE) and its address
 * removed two seconds later (the release may need an ARP exchange first). */
void dhcp_stop(struct net_stack *s);
/* Start in INIT-REBOOT (RFC 2131 §3.2, §4.3.2) with the address a previous
 * instance of this host held (held->addr, netmask, gateway; dns optional):
 * it is configured at once, and a DHCPREQUEST for it (requested-address
 * option, no server id, ciaddr 0, broadcast) goes out now and every
 * CONFIG_NET_DHCP_RETRY_MS until a server answers. DHCPACK → BOUND (the
 * BOUND event, then the usual lease life); DHCPNAK → the address is removed
 * (LOST event) and the client starts over with DHCPDISCOVER. While no
 * server answers (e.g. cut off from the LAN) the address stays in use. */
int dhcp_start_reboot(struct net_stack *s, const struct dhcp_lease *held, dhcp_event_fn *fn,
		      void *arg);

/* ------------------------------------------------------------ DNS */

/* Result of an A lookup: addr is valid when result == NET_OK;
 * NET_ETIMEDOUT after all retries, NET_EUNREACH when the name does not exist. */
typedef void dns_result_fn(void *arg, const char *name, int result, uint32_t addr);
void dns_set_server(struct net_stack *s, uint32_t server);
/* Resolve an A record via the configured (or DHCP-learned) server. */
int dns_resolve(struct net_stack *s, const char *name, dns_result_fn *fn, void *arg);

#endif
