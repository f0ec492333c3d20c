/*
 * tcp_cookie.c — SYN cookies (RFC 4987 §3.6).
 *
 * When a listener's backlog (or the connection pool) is full, a SYN is
 * answered with a SYN-ACK whose initial sequence number encodes everything
 * the connection needs later, and no state is kept. The peer's ACK returns
 * the number (ack - 1); if its MAC checks out, the connection is created
 * then, established at once.
 *
 * The 32-bit ISN:
 *   31..29  time counter: bits of now_ms >> 16 (a period of 65.536 s)
 *   28..27  index of the peer's MSS in a table, rounded down
 *   26..23  peer's window scale + 1 (0: the peer sent no window scale)
 *   22      the peer sent SACK-permitted
 *   21..0   MAC: SipHash-2-4 under the stack secret of a domain tag, the
 *           4-tuple, the peer's ISN, the full period number and bits 31..22
 *
 * A cookie is accepted during the period it was made in and the next one
 * (65 to 131 s). A blind forger must guess 22 MAC bits per 4-tuple: one
 * chance in four million per segment, which is comparable to Linux's
 * cookies. Window scale and SACK-permitted survive (the peer announced
 * them in the SYN; we do not need timestamps to carry them, since we have
 * the bits); what is lost is the exact MSS (rounded down to the table) and
 * our SYN-ACK retransmission (the peer's SYN retransmission replaces it).
 */
#include "stack.h"
#include "tcp.h"
#include "wire.h"

#define COOKIE_PERIOD_SHIFT 16 /* ms >> 16: 65.536 s */
#define COOKIE_MAC_BITS     22
#define COOKIE_MAC_MASK     ((1u << COOKIE_MAC_BITS) - 1)

static const uint16_t cookie_mss_table[4] = {536, 1220, 1440, 1460};

static uint32_t cookie_mac(const struct net_stack *s, uint32_t laddr, uint16_t lport,
			   uint32_t raddr, uint16_t rport, uint32_t peer_isn, uint64_t period,
			   uint32_t fields)
{
	uint8_t in[32];
	in[0] = 'S'; /* keeps these hashes apart from the ISN and random streams */
	in[1] = 'C';
	net_put32(in + 2, laddr);
	net_put16(in + 6, lport);
	net_put32(in + 8, raddr);
	net_put16(in + 12, rport);
	net_put32(in + 14, peer_isn);
	net_put32(in + 18, (uint32_t)(period >> 32));
	net_put32(in + 22, (uint32_t)period);
	net_put32(in + 26, fields);
	in[30] = in[31] = 0;
	return (uint32_t)net_siphash(s->port.secret, in, sizeof(in)) & COOKIE_MAC_MASK;
}

uint32_t tcp_cookie_make(const struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
			 uint16_t rport, uint32_t peer_isn, uint16_t mss, uint8_t ws,
			 uint8_t sack_ok)
{
	uint64_t period = s->now >> COOKIE_PERIOD_SHIFT;
	uint32_t mss_index = 0;
	for (uint32_t i = 0; i < 4; i++)
		if (mss >= cookie_mss_table[i])
			mss_index = i;
	uint32_t ws_field = ws == 0xff ? 0 : (uint32_t)(ws > 14 ? 14 : ws) + 1;
	uint32_t fields = ((uint32_t)(period & 7) << 29) | (mss_index << 27) | (ws_field << 23) |
			  ((sack_ok ? 1u : 0u) << 22);
	return fields | cookie_mac(s, laddr, lport, raddr, rport, peer_isn, period, fields);
}

int tcp_cookie_check(const struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
		     uint16_t rport, uint32_t peer_isn, uint32_t cookie, struct tcp_cookie *out)
{
	uint64_t now_period = s->now >> COOKIE_PERIOD_SHIFT;
	uint32_t fields = cookie & ~COOKIE_MAC_MASK;
	uint32_t t = fields >> 29;
	uint64_t period;
	if (t == (now_period & 7))
		period = now_period;
	else if (now_period > 0 && t == ((now_period - 1) & 7))
		period = now_period - 1;
	else
		return -1; /* expired, or from the future */
	uint32_t mac = cookie_mac(s, laddr, lport, raddr, rport, peer_isn, period, fields);
	if (mac != (cookie & COOKIE_MAC_MASK))
		return -1;
	uint32_t ws_field = (fields >> 23) & 0xf;
	out->mss = cookie_mss_table[(fields >> 27) & 3];
	out->ws = ws_field == 0 ? 0xff : (uint8_t)(ws_field - 1);
	out->sack_ok = (uint8_t)((fields >> 22) & 1);
	return 0;
}
