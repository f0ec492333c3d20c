/*
 * vswitch: learning Ethernet switch with bounded memory (vswitch.h).
 *
 * Per frame: validate length and source, learn the source, look the
 * destination up in one bucket of VSWITCH_WAYS entries, then hand the frame
 * to one port or to all the others. The cost is a hash, a few compares and
 * one copy per output port (made by the port's transmit function).
 */
#include <string.h>

#include "vswitch.h"

#define BUCKETS (VSWITCH_MAC_TABLE / VSWITCH_WAYS)

_Static_assert(VSWITCH_MAC_TABLE % VSWITCH_WAYS == 0, "MAC table size must be a multiple of 4");
_Static_assert(VSWITCH_PORTS < 255, "port numbers are stored in a byte");

static const uint8_t zero_mac[6];

/* Hot swap (the section at the end). */
static int route(struct vswitch *sw, int port, const uint8_t *frame, size_t len);
static bool floods_to(const struct vswitch *sw, int source, int port);
static void staged_input(struct vswitch *sw, int port, const uint8_t *frame, size_t len);
static void flow_track(struct vswitch *sw, int port, int target, const uint8_t *frame, size_t len);
static void forget_port(struct vswitch *sw, int port);
static int live_owner(const struct vswitch *sw, const uint8_t *mac);
static void arp_to_draining(struct vswitch *sw, int target, const uint8_t *frame, size_t len);

static bool is_multicast(const uint8_t *mac)
{
	return (mac[0] & 1) != 0; /* broadcast included */
}

static bool mac_equal(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 6) == 0;
}

/* FNV-1a, 32 bit: spreads MACs that differ in one byte over the buckets. */
static uint32_t fnv1a(uint32_t hash, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++)
		hash = (hash ^ p[i]) * 16777619u;
	return hash;
}

static struct vswitch_mac_entry *bucket_of(const struct vswitch *sw, const uint8_t *mac)
{
	uint32_t index = fnv1a(2166136261u, mac, 6) % BUCKETS;
	return (struct vswitch_mac_entry *)&sw->table[index * VSWITCH_WAYS];
}

static bool entry_live(const struct vswitch *sw, const struct vswitch_mac_entry *e)
{
	return e->port != 0 && (uint32_t)(sw->now_s - e->last_seen_s) <= sw->ageing_s;
}

void vswitch_init(struct vswitch *sw, uint32_t ageing_s)
{
	memset(sw, 0, sizeof(*sw));
	sw->ageing_s = ageing_s;
	sw->flood_per_s = CONFIG_SWITCH_FLOOD_PER_S;
	sw->flood_burst = CONFIG_SWITCH_FLOOD_BURST;
	sw->hold_burst_ms = VSWITCH_HOLD_BURST_MS;
}

/* The port a locked MAC belongs to (its live port if it has one, else a
 * staged or draining one), or -1. */
static int locked_owner(const struct vswitch *sw, const uint8_t *mac)
{
	int other = -1;
	for (int p = 0; p < VSWITCH_PORTS; p++)
		if (sw->ports[p].used && sw->ports[p].locked && mac_equal(sw->ports[p].mac, mac)) {
			if (sw->ports[p].role == VSWITCH_LIVE)
				return p;
			other = p;
		}
	return other;
}

int vswitch_port_add(struct vswitch *sw, const char *name, const struct vswitch_port_ops *ops,
		     void *context, const uint8_t *locked_mac)
{
	if (!ops || !ops->transmit)
		return -1;
	if (locked_mac && (is_multicast(locked_mac) || mac_equal(locked_mac, zero_mac) ||
			   live_owner(sw, locked_mac) >= 0))
		return -1;
	for (int p = 0; p < VSWITCH_PORTS; p++) {
		struct vswitch_port *port = &sw->ports[p];
		if (port->used)
			continue;
		memset(port, 0, sizeof(*port));
		port->used = true;
		port->ops = ops;
		port->context = context;
		port->flood_tokens = sw->flood_burst * 1000u;
		port->flood_refilled_ms = sw->now_ms;
		port->hold_credit_ms = sw->hold_burst_ms;
		port->hold_refilled_ms = sw->now_ms;
		if (name) {
			strncpy(port->name, name, VSWITCH_NAME_MAX);
			port->name[VSWITCH_NAME_MAX] = '\0';
		}
		if (locked_mac) {
			port->locked = true;
			memcpy(port->mac, locked_mac, 6);
			/* A learned entry for it elsewhere would shadow the lock. */
			struct vswitch_mac_entry *bucket = bucket_of(sw, locked_mac);
			for (unsigned w = 0; w < VSWITCH_WAYS; w++)
				if (mac_equal(bucket[w].mac, locked_mac))
					bucket[w].port = 0;
		}
		return p;
	}
	return -1;
}

void vswitch_port_remove(struct vswitch *sw, int port)
{
	if (port < 0 || port >= VSWITCH_PORTS)
		return;
	forget_port(sw, port);
	for (unsigned i = 0; i < VSWITCH_MAC_TABLE; i++)
		if (sw->table[i].port == port + 1)
			sw->table[i].port = 0;
	memset(&sw->ports[port], 0, sizeof(sw->ports[port]));
}

const struct vswitch_counters *vswitch_port_counters(const struct vswitch *sw, int port)
{
	if (port < 0 || port >= VSWITCH_PORTS || !sw->ports[port].used)
		return NULL;
	return &sw->ports[port].counters;
}

int vswitch_lookup(const struct vswitch *sw, const uint8_t mac[6])
{
	int owner = locked_owner(sw, mac);
	if (owner >= 0) /* a staged or draining port is never where a MAC "is" */
		return sw->ports[owner].role == VSWITCH_LIVE ? owner : -1;
	const struct vswitch_mac_entry *bucket = bucket_of(sw, mac);
	for (unsigned w = 0; w < VSWITCH_WAYS; w++)
		if (entry_live(sw, &bucket[w]) && mac_equal(bucket[w].mac, mac))
			return bucket[w].port - 1;
	return -1;
}

static void learn(struct vswitch *sw, int port, const uint8_t *mac)
{
	struct vswitch_mac_entry *bucket = bucket_of(sw, mac);
	struct vswitch_mac_entry *victim = NULL;
	for (unsigned w = 0; w < VSWITCH_WAYS; w++) {
		struct vswitch_mac_entry *e = &bucket[w];
		if (e->port != 0 && mac_equal(e->mac, mac)) {
			if (e->port != port + 1)
				sw->stats.moved++;
			e->port = (uint8_t)(port + 1);
			e->last_seen_s = sw->now_s;
			return;
		}
		/* Prefer a free or aged slot, else the least recently seen. */
		if (!victim ||
		    (entry_live(sw, victim) &&
		     (!entry_live(sw, e) || (uint32_t)(sw->now_s - e->last_seen_s) >
						(uint32_t)(sw->now_s - victim->last_seen_s))))
			victim = e;
	}
	if (entry_live(sw, victim))
		sw->stats.evicted++;
	memcpy(victim->mac, mac, 6);
	victim->port = (uint8_t)(port + 1);
	victim->last_seen_s = sw->now_s;
	sw->stats.learned++;
}

static void deliver(struct vswitch *sw, int port, const uint8_t *frame, size_t len)
{
	struct vswitch_port *out = &sw->ports[port];
	if (out->ops->transmit(out->context, frame, len) == 0) {
		out->taken_ms = sw->now_ms;
		out->counters.tx_frames++;
		out->counters.tx_bytes += len;
	} else {
		out->counters.tx_drops++;
	}
}

/* May this port flood one more frame now? A token bucket per port. */
static bool flood_allowed(struct vswitch *sw, struct vswitch_port *in)
{
	const uint32_t full = sw->flood_burst * 1000u;
	uint64_t elapsed = sw->now_ms - in->flood_refilled_ms;
	if (elapsed > 0) {
		uint64_t add = elapsed * sw->flood_per_s; /* milli-frames */
		in->flood_tokens =
		    add >= full - in->flood_tokens ? full : in->flood_tokens + (uint32_t)add;
		in->flood_refilled_ms = sw->now_ms;
	}
	if (in->flood_tokens < 1000u)
		return false;
	in->flood_tokens -= 1000u;
	return true;
}

void vswitch_input(struct vswitch *sw, int port, const uint8_t *frame, size_t len, uint64_t now_ms)
{
	if (port < 0 || port >= VSWITCH_PORTS || !sw->ports[port].used)
		return;
	struct vswitch_port *in = &sw->ports[port];
	if (now_ms > sw->now_ms) /* never backwards */
		sw->now_ms = now_ms;
	sw->now_s = (uint32_t)(sw->now_ms / 1000u);
	if (!frame || len < VSWITCH_FRAME_MIN || len > VSWITCH_FRAME_MAX) {
		in->counters.rx_drops++;
		return;
	}
	const uint8_t *source = frame + 6;
	if (is_multicast(source) || mac_equal(source, zero_mac)) {
		in->counters.rx_drops++;
		return;
	}
	/* A locked port sends only as itself; nobody else sends as it. */
	if (in->locked ? !mac_equal(source, in->mac) : locked_owner(sw, source) >= 0) {
		in->counters.rx_drops++;
		return;
	}
	if (in->role == VSWITCH_STAGED) {
		staged_input(sw, port, frame, len);
		return;
	}
	int target = route(sw, port, frame, len);
	if (target < 0 && !flood_allowed(sw, in)) {
		in->counters.rx_drops++;
		sw->stats.storm++;
		return;
	}
	in->counters.rx_frames++;
	in->counters.rx_bytes += len;
	if (!in->locked)
		learn(sw, port, source);
	flow_track(sw, port, target, frame, len);
	if (target == port) {
		sw->stats.filtered++;
		return;
	}
	if (target >= 0) {
		sw->stats.forwarded++;
		deliver(sw, target, frame, len);
		arp_to_draining(sw, target, frame, len);
		return;
	}
	sw->stats.flooded++;
	for (int p = 0; p < VSWITCH_PORTS; p++)
		if (p != port && sw->ports[p].used && floods_to(sw, port, p))
			deliver(sw, p, frame, len);
}

/* The one port vswitch_input() would hand this frame to (valid, from an
 * allowed source, known unicast, not back to its source), or -1. No side
 * effects: vswitch_offer() asks before it decides. */
static int route_target(const struct vswitch *sw, int port, const uint8_t *frame, size_t len,
			bool *pinned);

static int unicast_target(const struct vswitch *sw, int port, const uint8_t *frame, size_t len)
{
	if (port < 0 || port >= VSWITCH_PORTS || !sw->ports[port].used || !frame ||
	    len < VSWITCH_FRAME_MIN || len > VSWITCH_FRAME_MAX)
		return -1;
	const struct vswitch_port *in = &sw->ports[port];
	const uint8_t *destination = frame, *source = frame + 6;
	if (is_multicast(destination) || is_multicast(source) || mac_equal(source, zero_mac) ||
	    (in->locked ? !mac_equal(source, in->mac) : locked_owner(sw, source) >= 0))
		return -1;
	bool pinned; /* during a swap: the instance the frame really goes to */
	int target = route_target(sw, port, frame, len, &pinned);
	return target == port ? -1 : target;
}

/*
 * May this port hold the NIC a little longer? Consecutive holds (offers at
 * most HOLD_GAP_MS apart) are charged the time between them, so a stretch
 * costs its length; credit comes back at half of real time.
 */
#define HOLD_GAP_MS 10u

static bool hold_allowed(struct vswitch *sw, struct vswitch_port *out)
{
	uint64_t elapsed = sw->now_ms - out->hold_refilled_ms;
	uint64_t add = elapsed / 2;
	out->hold_refilled_ms += add * 2;
	out->hold_credit_ms = add >= sw->hold_burst_ms - out->hold_credit_ms
				  ? sw->hold_burst_ms
				  : out->hold_credit_ms + (uint32_t)add;
	uint64_t charge = 0;
	if (out->last_held_ms && sw->now_ms - out->last_held_ms <= HOLD_GAP_MS)
		charge = sw->now_ms - out->last_held_ms;
	if (out->hold_credit_ms == 0 || charge > out->hold_credit_ms) {
		out->last_held_ms = 0;
		return false;
	}
	out->hold_credit_ms -= (uint32_t)charge;
	out->last_held_ms = sw->now_ms;
	return true;
}

/*
 * Does this full port still drain? It does until it has been full for
 * hold_ms without taking a frame - counting only the time we spent offering
 * it frames (offers at most HOLD_GAP_MS apart). A control domain that was
 * away meanwhile (busy elsewhere, or, emulated, not scheduled by the host)
 * does not count against the guest: it may have been waiting for us to
 * drain its own transmit ring. A guest that stops draining is waited for
 * hold_ms in all, however its frames come.
 */
static bool still_draining(struct vswitch *sw, struct vswitch_port *out, uint32_t hold_ms)
{
	bool took = out->taken_ms >= out->full_seen_ms;
	uint64_t since = took ? out->taken_ms : out->full_seen_ms;
	uint64_t elapsed = sw->now_ms - since;
	uint32_t counted = elapsed <= HOLD_GAP_MS ? (uint32_t)elapsed : 0;
	if (took)
		out->full_for_ms = counted;
	else if (out->full_for_ms <= hold_ms) /* past it, it stays past it */
		out->full_for_ms += counted;
	out->full_seen_ms = sw->now_ms;
	return out->full_for_ms <= hold_ms;
}

enum vswitch_verdict vswitch_offer(struct vswitch *sw, int port, const uint8_t *frame, size_t len,
				   uint64_t now_ms, uint32_t hold_ms)
{
	if (now_ms > sw->now_ms)
		sw->now_ms = now_ms;
	sw->now_s = (uint32_t)(sw->now_ms / 1000u);
	int target = hold_ms ? unicast_target(sw, port, frame, len) : -1;
	if (target >= 0) {
		struct vswitch_port *out = &sw->ports[target];
		if (out->ops->full && out->ops->full(out->context)) {
			if (still_draining(sw, out, hold_ms) && hold_allowed(sw, out)) {
				out->counters.tx_held++;
				return VSWITCH_HELD;
			}
			out->counters.tx_unheld++;
		}
	}
	vswitch_input(sw, port, frame, len, now_ms);
	return VSWITCH_TAKEN;
}

unsigned vswitch_poll(struct vswitch *sw, unsigned budget, uint64_t now_ms)
{
	unsigned moved = 0;
	unsigned start = sw->next_poll;
	sw->next_poll = (start + 1) % VSWITCH_PORTS; /* nobody is always first */
	for (unsigned i = 0; i < VSWITCH_PORTS; i++) {
		int p = (int)((start + i) % VSWITCH_PORTS);
		for (unsigned n = 0; n < budget; n++) {
			/* Re-check each time: a transmit may have removed the port. */
			struct vswitch_port *port = &sw->ports[p];
			if (!port->used || !port->ops->receive)
				break;
			size_t len =
			    port->ops->receive(port->context, sw->frame, sizeof(sw->frame));
			if (len == 0)
				break;
			if (len > sizeof(sw->frame)) { /* a broken receive: never trust it */
				port->counters.rx_drops++;
				break;
			}
			vswitch_input(sw, p, sw->frame, len, now_ms);
			moved++;
		}
	}
	return moved;
}

void vswitch_mac_derive(const uint8_t board_mac[6], const char *name, unsigned nic,
			unsigned attempt, uint8_t mac[6])
{
	static const char domain[] = "flotilla-vnic";
	uint8_t numbers[8];
	for (int i = 0; i < 4; i++) {
		numbers[i] = (uint8_t)(nic >> (8 * i));
		numbers[4 + i] = (uint8_t)(attempt >> (8 * i));
	}
	uint32_t a = fnv1a(2166136261u, domain, sizeof(domain));
	a = fnv1a(a, board_mac, 6);
	a = fnv1a(a, name, strlen(name) + 1);
	a = fnv1a(a, numbers, sizeof(numbers));
	uint32_t b = fnv1a(a ^ 0x5bd1e995u, numbers, sizeof(numbers));
	b = fnv1a(b, name, strlen(name) + 1);
	mac[0] = (uint8_t)(((a >> 24) & 0xfc) | 0x02); /* local, unicast */
	mac[1] = (uint8_t)(a >> 16);
	mac[2] = (uint8_t)(a >> 8);
	mac[3] = (uint8_t)a;
	mac[4] = (uint8_t)(b >> 8);
	mac[5] = (uint8_t)b;
}

void vswitch_mac_assign(const uint8_t board_mac[6], const char *name, unsigned nic,
			const uint8_t (*taken)[6], unsigned taken_count, uint8_t mac[6])
{
	for (unsigned attempt = 0;; attempt++) {
		vswitch_mac_derive(board_mac, name, nic, attempt, mac);
		bool clash = mac_equal(mac, board_mac);
		for (unsigned i = 0; i < taken_count && !clash; i++)
			clash = mac_equal(mac, taken[i]);
		if (!clash)
			return; /* terminates: taken_count + 1 addresses cannot fill 2^46 */
	}
}

/* ------------------------------------------------------------ hot swap */

/*
 * Staged ports, promotion and TCP flow pinning (vswitch.h). The flow table
 * is set-associative like the MAC table; an entry is a connection of one
 * tracked (locked, not staged) port, keyed from the guest's side, so the
 * same key is found whichever way a segment travels. Entries are made by
 * segments the port sends (any but RST or FIN: that also picks up a
 * connection whose entry was evicted) and by a SYN it receives, never by
 * other segments from outside, so a LAN host sending random ACKs cannot
 * fill the table.
 */

_Static_assert(VSWITCH_FLOWS % VSWITCH_FLOW_WAYS == 0, "flow table size must be a multiple of 8");

#define FLOW_SETS (VSWITCH_FLOWS / VSWITCH_FLOW_WAYS)

enum flow_phase {
	FLOW_CLOSING = 1,     /* FIN both ways: lingers for the last ACKs, does not hold a drain */
	FLOW_HANDSHAKE = 2,   /* a SYN seen, no segment without SYN yet */
	FLOW_ESTABLISHED = 3, /* a segment without SYN seen */
};
#define FLOW_PHASE      0x0f
#define FLOW_FIN_LOCAL  0x10 /* the guest sent its FIN */
#define FLOW_FIN_REMOTE 0x20 /* the other side sent its FIN */

/* How long an entry lives without a segment, by phase. Half-open entries
 * go quickly (a SYN flood's), closing ones only wait for retransmitted
 * FINs and the last ACK. */
#define FLOW_HANDSHAKE_MS 30000u
#define FLOW_CLOSING_MS   4000u
#define FLOW_IDLE_MS      ((uint64_t)CONFIG_SWITCH_FLOW_IDLE_S * 1000u)

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* The parts of an IPv4 TCP segment the flow table needs (pointers into
 * the frame). */
struct tcp_view {
	const uint8_t *source_ip, *destination_ip;
	const uint8_t *source_port, *destination_port;
	uint8_t flags;
};

/* An untagged Ethernet II frame carrying IPv4, TCP, and the first (or only)
 * fragment: later fragments have no TCP header. Everything is bounds
 * checked against len: the frame is whatever a guest or the LAN sent. */
static bool parse_tcp(const uint8_t *frame, size_t len, struct tcp_view *t)
{
	if (len < 14 + 20 || frame[12] != 0x08 || frame[13] != 0x00)
		return false;
	const uint8_t *ip = frame + 14;
	size_t header = (size_t)(ip[0] & 0x0f) * 4u;
	if ((ip[0] >> 4) != 4 || header < 20 || ip[9] != 6 || ((ip[6] & 0x1f) | ip[7]) != 0)
		return false;
	if (len < 14 + header + 14) /* through the TCP flags byte */
		return false;
	const uint8_t *tcp = ip + header;
	t->source_ip = ip + 12;
	t->destination_ip = ip + 16;
	t->source_port = tcp;
	t->destination_port = tcp + 2;
	t->flags = tcp[13];
	return true;
}

/* The key of the connection of the guest at `mac`; local_is_source when the
 * guest sent the segment. */
static void flow_key(uint8_t key[VSWITCH_FLOW_KEY], const uint8_t *mac, const struct tcp_view *t,
		     bool local_is_source)
{
	memcpy(key, mac, 6);
	memcpy(key + 6, local_is_source ? t->source_ip : t->destination_ip, 4);
	memcpy(key + 10, local_is_source ? t->destination_ip : t->source_ip, 4);
	memcpy(key + 14, local_is_source ? t->source_port : t->destination_port, 2);
	memcpy(key + 16, local_is_source ? t->destination_port : t->source_port, 2);
}

static struct vswitch_flow *flow_set(const struct vswitch *sw, const uint8_t *key)
{
	uint32_t index = fnv1a(2166136261u, key, VSWITCH_FLOW_KEY) % FLOW_SETS;
	return (struct vswitch_flow *)&sw->flows[index * VSWITCH_FLOW_WAYS];
}

static bool flow_live(const struct vswitch_flow *f, uint64_t now_ms)
{
	if (f->owner == 0)
		return false;
	uint64_t idle = now_ms > f->last_ms ? now_ms - f->last_ms : 0;
	switch (f->state & FLOW_PHASE) {
	case FLOW_CLOSING: return idle <= FLOW_CLOSING_MS;
	case FLOW_HANDSHAKE: return idle <= FLOW_HANDSHAKE_MS;
	default: return idle <= FLOW_IDLE_MS;
	}
}

static struct vswitch_flow *flow_find(const struct vswitch *sw, const uint8_t *key, uint64_t now_ms)
{
	struct vswitch_flow *set = flow_set(sw, key);
	for (unsigned w = 0; w < VSWITCH_FLOW_WAYS; w++)
		if (flow_live(&set[w], now_ms) && memcmp(set[w].key, key, VSWITCH_FLOW_KEY) == 0)
			return &set[w];
	return NULL;
}

/* A slot for a new key: a free or expired one, else the closing, then the
 * half-open, then the established entry seen least recently. A half-open
 * connection never pushes out an established one (a SYN flood cannot
 * unpin anything): NULL, it is not tracked. */
static struct vswitch_flow *flow_allocate(struct vswitch *sw, const uint8_t *key,
					  enum flow_phase phase)
{
	struct vswitch_flow *set = flow_set(sw, key), *victim = NULL;
	for (unsigned w = 0; w < VSWITCH_FLOW_WAYS; w++) {
		struct vswitch_flow *f = &set[w];
		if (!flow_live(f, sw->now_ms)) {
			victim = f;
			break;
		}
		unsigned rank = f->state & FLOW_PHASE,
			 victim_rank = victim ? victim->state & FLOW_PHASE : 0;
		if (!victim || rank < victim_rank ||
		    (rank == victim_rank && f->last_ms < victim->last_ms))
			victim = f;
	}
	if (flow_live(victim, sw->now_ms)) {
		if (phase == FLOW_HANDSHAKE && (victim->state & FLOW_PHASE) == FLOW_ESTABLISHED)
			return NULL;
		sw->flow_stats.evicted++;
	}
	memcpy(victim->key, key, VSWITCH_FLOW_KEY);
	sw->flow_stats.tracked++;
	return victim;
}

static bool tracked(const struct vswitch *sw, int port)
{
	const struct vswitch_port *p = &sw->ports[port];
	return p->used && p->locked && p->track_flows && p->role != VSWITCH_STAGED;
}

/* One segment the guest on `port` sent (sent) or was given. */
static void flow_segment(struct vswitch *sw, int port, const struct tcp_view *t, bool sent)
{
	struct vswitch_port *owner = &sw->ports[port];
	uint8_t key[VSWITCH_FLOW_KEY];
	flow_key(key, owner->mac, t, sent);
	bool syn = t->flags & TCP_SYN, pure_syn = syn && !(t->flags & TCP_ACK);
	bool rst = t->flags & TCP_RST, fin = t->flags & TCP_FIN;
	struct vswitch_flow *f = flow_find(sw, key, sw->now_ms);
	if (f && f->owner != port + 1) {
		/* Held by the other instance of this guest. Only a new connection
		 * reusing the 4-tuple moves it: a SYN that route() gave to this
		 * port, or one the live port opens itself. */
		if (!(sent ? syn && owner->role == VSWITCH_LIVE : pure_syn))
			return;
		f->owner = (uint8_t)(port + 1);
		f->state = FLOW_HANDSHAKE;
		f->last_ms = sw->now_ms;
		return;
	}
	if (!f) {
		if (rst || fin || !(sent || pure_syn))
			return;
		enum flow_phase phase = syn ? FLOW_HANDSHAKE : FLOW_ESTABLISHED;
		f = flow_allocate(sw, key, phase);
		if (f) {
			f->owner = (uint8_t)(port + 1);
			f->state = (uint8_t)phase;
			f->last_ms = sw->now_ms;
		}
		return;
	}
	f->last_ms = sw->now_ms;
	if (rst) {
		f->owner = 0;
		sw->flow_stats.closed++;
		return;
	}
	unsigned phase = f->state & FLOW_PHASE;
	if (pure_syn && phase != FLOW_HANDSHAKE) {
		f->state = FLOW_HANDSHAKE; /* the 4-tuple is reused for a new connection */
		return;
	}
	if (!syn && phase == FLOW_HANDSHAKE)
		f->state = (uint8_t)((f->state & ~FLOW_PHASE) | FLOW_ESTABLISHED);
	if (fin) {
		f->state |= sent ? FLOW_FIN_LOCAL : FLOW_FIN_REMOTE;
		if ((f->state & (FLOW_FIN_LOCAL | FLOW_FIN_REMOTE)) ==
			(FLOW_FIN_LOCAL | FLOW_FIN_REMOTE) &&
		    (f->state & FLOW_PHASE) != FLOW_CLOSING) {
			f->state = (uint8_t)((f->state & ~FLOW_PHASE) | FLOW_CLOSING);
			sw->flow_stats.closed++;
		}
	}
}

/* vswitch_input(): the frame from port goes to target (-1: flooded). */
static void flow_track(struct vswitch *sw, int port, int target, const uint8_t *frame, size_t len)
{
	bool from = tracked(sw, port), to = target >= 0 && target != port && tracked(sw, target);
	struct tcp_view t;
	if ((!from && !to) || !parse_tcp(frame, len, &t))
		return;
	if (from)
		flow_segment(sw, port, &t, true);
	if (to)
		flow_segment(sw, target, &t, false);
}

/* The draining port a segment for a swapped MAC stays on, or -1. */
static int pinned_port(const struct vswitch *sw, const uint8_t *frame, size_t len)
{
	struct tcp_view t;
	if (!parse_tcp(frame, len, &t))
		return -1;
	uint8_t key[VSWITCH_FLOW_KEY];
	flow_key(key, frame, &t, false);
	const struct vswitch_flow *f = flow_find(sw, key, sw->now_ms);
	if (!f)
		return -1;
	int owner = f->owner - 1;
	const struct vswitch_port *p = &sw->ports[owner];
	if (!p->used || p->role != VSWITCH_DRAINING)
		return -1;
	/* A SYN on a 4-tuple the old instance had finished with is a new
	 * connection: the new instance's. A SYN during its handshake is a
	 * retransmission: the old one answered it. */
	if ((t.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN && (f->state & FLOW_PHASE) != FLOW_HANDSHAKE)
		return -1;
	return owner;
}

/* Where a frame from port goes: one port, or -1 to flood; *pinned when it
 * stays on a draining port. No side effects (a caller may only ask). */
static int route_target(const struct vswitch *sw, int port, const uint8_t *frame, size_t len,
			bool *pinned)
{
	const uint8_t *destination = frame;
	*pinned = false;
	if (is_multicast(destination))
		return -1;
	if (sw->swapping == 0)
		return vswitch_lookup(sw, destination);
	int live = -1;
	bool draining = false;
	for (int p = 0; p < VSWITCH_PORTS; p++) {
		const struct vswitch_port *o = &sw->ports[p];
		if (!o->used || !o->locked || !mac_equal(o->mac, destination))
			continue;
		if (o->role == VSWITCH_STAGED) {
			if (o->peer == port)
				return p;
		} else if (o->role == VSWITCH_DRAINING) {
			draining = true;
		} else {
			live = p;
		}
	}
	if (draining) {
		int owner = pinned_port(sw, frame, len);
		if (owner >= 0) {
			*pinned = true;
			return owner;
		}
	}
	return live >= 0 ? live : vswitch_lookup(sw, destination);
}

static int route(struct vswitch *sw, int port, const uint8_t *frame, size_t len)
{
	bool pinned;
	int target = route_target(sw, port, frame, len, &pinned);
	sw->flow_stats.pinned += pinned;
	return target;
}

/* Unicast ARP for a swapped MAC (replies to the old instance's requests,
 * reachability probes) reaches its draining ports too: an old instance
 * whose ARP entry for a client expires during the drain can still resolve
 * it. Both instances answer with the same MAC and address. */
static void arp_to_draining(struct vswitch *sw, int target, const uint8_t *frame, size_t len)
{
	if (sw->swapping == 0 || frame[12] != 0x08 || frame[13] != 0x06 ||
	    sw->ports[target].role != VSWITCH_LIVE || !sw->ports[target].locked)
		return;
	for (int p = 0; p < VSWITCH_PORTS; p++) {
		const struct vswitch_port *o = &sw->ports[p];
		if (o->used && o->role == VSWITCH_DRAINING && mac_equal(o->mac, frame))
			deliver(sw, p, frame, len);
	}
}

/* Floods reach live ports, and a staged port only from its peer. */
static bool floods_to(const struct vswitch *sw, int source, int port)
{
	const struct vswitch_port *p = &sw->ports[port];
	if (p->role == VSWITCH_STAGED)
		return p->peer == source;
	return p->role != VSWITCH_DRAINING;
}

/* A staged port's frame (length and source already checked): to its peer
 * only, never learned. */
static void staged_input(struct vswitch *sw, int port, const uint8_t *frame, size_t len)
{
	struct vswitch_port *in = &sw->ports[port];
	int peer = in->peer;
	if (peer < 0 || peer >= VSWITCH_PORTS || !sw->ports[peer].used) {
		in->counters.rx_drops++;
		return;
	}
	in->counters.rx_frames++;
	in->counters.rx_bytes += len;
	sw->stats.forwarded++;
	deliver(sw, peer, frame, len);
}

/* The live port locked to mac, or -1. A staged or draining port for it does
 * not keep vswitch_port_add() from giving it a live port (an old instance
 * restarted while its successor is staged). */
static int live_owner(const struct vswitch *sw, const uint8_t *mac)
{
	int owner = locked_owner(sw, mac);
	return owner >= 0 && sw->ports[owner].role == VSWITCH_LIVE ? owner : -1;
}

/* vswitch_port_remove(): nothing may point at the port any more. */
static void forget_port(struct vswitch *sw, int port)
{
	struct vswitch_port *gone = &sw->ports[port];
	if (!gone->used)
		return;
	if (gone->role != VSWITCH_LIVE && sw->swapping > 0)
		sw->swapping--;
	for (unsigned i = 0; i < VSWITCH_FLOWS; i++)
		if (sw->flows[i].owner == port + 1)
			sw->flows[i].owner = 0;
	for (int p = 0; p < VSWITCH_PORTS; p++)
		if (sw->ports[p].used && sw->ports[p].role == VSWITCH_STAGED &&
		    sw->ports[p].peer == port)
			sw->ports[p].peer = -1;
}

int vswitch_port_add_staged(struct vswitch *sw, const char *name,
			    const struct vswitch_port_ops *ops, void *context, const uint8_t mac[6],
			    int peer_port)
{
	if (!mac || is_multicast(mac) || mac_equal(mac, zero_mac))
		return -1;
	if (peer_port != -1 &&
	    (peer_port < 0 || peer_port >= VSWITCH_PORTS || !sw->ports[peer_port].used ||
	     sw->ports[peer_port].role == VSWITCH_STAGED))
		return -1;
	for (int p = 0; p < VSWITCH_PORTS; p++)
		if (sw->ports[p].used && sw->ports[p].role == VSWITCH_STAGED &&
		    mac_equal(sw->ports[p].mac, mac))
			return -1; /* one new instance at a time */
	/* A learning port first (nothing to clash with), then locked. */
	int p = vswitch_port_add(sw, name, ops, context, NULL);
	if (p < 0)
		return -1;
	struct vswitch_port *port = &sw->ports[p];
	port->locked = true;
	memcpy(port->mac, mac, 6);
	port->role = VSWITCH_STAGED;
	port->peer = (int16_t)peer_port;
	sw->swapping++;
	struct vswitch_mac_entry *bucket = bucket_of(sw, mac);
	for (unsigned w = 0; w < VSWITCH_WAYS; w++)
		if (mac_equal(bucket[w].mac, mac))
			bucket[w].port = 0;
	return p;
}

int vswitch_port_promote(struct vswitch *sw, int staged, uint64_t now_ms)
{
	if (staged < 0 || staged >= VSWITCH_PORTS || !sw->ports[staged].used ||
	    sw->ports[staged].role != VSWITCH_STAGED)
		return -2;
	struct vswitch_port *fresh = &sw->ports[staged];
	int old = -1;
	for (int p = 0; p < VSWITCH_PORTS && old < 0; p++)
		if (sw->ports[p].used && sw->ports[p].locked && sw->ports[p].role == VSWITCH_LIVE &&
		    mac_equal(sw->ports[p].mac, fresh->mac))
			old = p;
	fresh->role = VSWITCH_LIVE;
	fresh->peer = -1;
	sw->swapping--;
	if (old >= 0) {
		struct vswitch_port *previous = &sw->ports[old];
		previous->role = VSWITCH_DRAINING;
		previous->drain_since_ms = now_ms;
		fresh->track_flows = fresh->track_flows || previous->track_flows;
		sw->swapping++;
	}
	return old;
}

unsigned vswitch_port_flows(const struct vswitch *sw, int port, uint64_t now_ms)
{
	if (port < 0 || port >= VSWITCH_PORTS)
		return 0;
	unsigned open = 0;
	for (unsigned i = 0; i < VSWITCH_FLOWS; i++) {
		const struct vswitch_flow *f = &sw->flows[i];
		open += f->owner == port + 1 && (f->state & FLOW_PHASE) != FLOW_CLOSING &&
			flow_live(f, now_ms);
	}
	return open;
}

bool vswitch_port_drained(const struct vswitch *sw, int port, uint64_t now_ms)
{
	if (port < 0 || port >= VSWITCH_PORTS || !sw->ports[port].used)
		return true;
	const struct vswitch_port *p = &sw->ports[port];
	if (p->role != VSWITCH_DRAINING)
		return false;
	if (now_ms >= p->drain_since_ms && now_ms - p->drain_since_ms >= CONFIG_SWITCH_DRAIN_MS)
		return true;
	/* Connections that carried nothing for CONFIG_SWITCH_DRAIN_IDLE_MS (an
	 * idle keep-alive, a client that vanished) do not hold the old
	 * instance: a client that speaks on one later is reset by the new
	 * instance and reconnects, as HTTP clients do with a stale
	 * keep-alive connection. */
	for (unsigned i = 0; i < VSWITCH_FLOWS; i++) {
		const struct vswitch_flow *f = &sw->flows[i];
		if (f->owner == port + 1 && (f->state & FLOW_PHASE) != FLOW_CLOSING &&
		    flow_live(f, now_ms) &&
		    (CONFIG_SWITCH_DRAIN_IDLE_MS == 0 || now_ms < f->last_ms ||
		     now_ms - f->last_ms < CONFIG_SWITCH_DRAIN_IDLE_MS))
			return false;
	}
	return true;
}

void vswitch_port_track_flows(struct vswitch *sw, int port, bool on)
{
	if (port >= 0 && port < VSWITCH_PORTS && sw->ports[port].used && sw->ports[port].locked)
		sw->ports[port].track_flows = on;
}

int vswitch_port_find(const struct vswitch *sw, const char *name)
{
	for (int p = 0; p < VSWITCH_PORTS && name; p++)
		if (sw->ports[p].used && strcmp(sw->ports[p].name, name) == 0)
			return p;
	return -1;
}

void vswitch_port_rename(struct vswitch *sw, int port, const char *name)
{
	if (port < 0 || port >= VSWITCH_PORTS || !sw->ports[port].used || !name)
		return;
	strncpy(sw->ports[port].name, name, VSWITCH_NAME_MAX);
	sw->ports[port].name[VSWITCH_NAME_MAX] = '\0';
}
