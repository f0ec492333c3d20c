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

/* The port a locked MAC belongs to, or -1. */
static int locked_owner(const struct vswitch *sw, const uint8_t *mac)
{
	for (int p = 0; p < VSWITCH_PORTS; p++)
		if (sw->ports[p].used && sw->ports[p].locked && mac_equal(sw->ports[p].mac, mac))
			return p;
	return -1;
}

int vswitch_port_add(struct vswitch *sw, const char *name, const struct vswitch_port_ops *ops,
		     void *context, const uint8_t *locked_mac)
{
	if (!ops || !ops->transmit)
		return -1;
	if (locked_mac && (is_multicast(locked_mac) || mac_equal(locked_mac, zero_mac) ||
			   locked_owner(sw, locked_mac) >= 0))
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
	if (owner >= 0)
		return owner;
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
	const uint8_t *destination = frame, *source = frame + 6;
	if (is_multicast(source) || mac_equal(source, zero_mac)) {
		in->counters.rx_drops++;
		return;
	}
	/* A locked port sends only as itself; nobody else sends as it. */
	if (in->locked ? !mac_equal(source, in->mac) : locked_owner(sw, source) >= 0) {
		in->counters.rx_drops++;
		return;
	}
	int target = is_multicast(destination) ? -1 : vswitch_lookup(sw, destination);
	if (target < 0 && !flood_allowed(sw, in)) {
		in->counters.rx_drops++;
		sw->stats.storm++;
		return;
	}
	in->counters.rx_frames++;
	in->counters.rx_bytes += len;
	if (!in->locked)
		learn(sw, port, source);
	if (target == port) {
		sw->stats.filtered++;
		return;
	}
	if (target >= 0) {
		sw->stats.forwarded++;
		deliver(sw, target, frame, len);
		return;
	}
	sw->stats.flooded++;
	for (int p = 0; p < VSWITCH_PORTS; p++)
		if (p != port && sw->ports[p].used)
			deliver(sw, p, frame, len);
}

/* The one port vswitch_input() would hand this frame to (valid, from an
 * allowed source, known unicast, not back to its source), or -1. No side
 * effects: vswitch_offer() asks before it decides. */
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
	int target = vswitch_lookup(sw, destination);
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

enum vswitch_verdict vswitch_offer(struct vswitch *sw, int port, const uint8_t *frame, size_t len,
				   uint64_t now_ms, uint32_t hold_ms)
{
	if (now_ms > sw->now_ms)
		sw->now_ms = now_ms;
	sw->now_s = (uint32_t)(sw->now_ms / 1000u);
	int target = hold_ms ? unicast_target(sw, port, frame, len) : -1;
	if (target >= 0) {
		struct vswitch_port *out = &sw->ports[target];
		if (out->ops->full && sw->now_ms - out->taken_ms <= hold_ms &&
		    out->ops->full(out->context) && hold_allowed(sw, out)) {
			out->counters.tx_held++;
			return VSWITCH_HELD;
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
