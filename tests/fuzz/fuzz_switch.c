/*
 * libFuzzer target for the control domain's switch (guests/control/vswitch.c):
 * the input is a sequence of frames arriving on ports, as any guest or the
 * LAN could send them, mixed with the hot swap's steps. Each record: port
 * byte, time step byte, length (2 bytes), frame. Ports are a NIC, the
 * control domain and three locked guests, one of which never drains (a
 * queue of 2); a sixth is a second instance of the first guest (same MAC),
 * staged, promoted and removed as the records say, so either instance may
 * be live, staged or draining. After every frame the switch's invariants
 * are checked: counters add up, no frame leaves through its own source
 * port, nothing locked is ever learned elsewhere, a staged port talks to
 * its peer only, a draining port gets only TCP segments for its MAC.
 * tests/fuzz/fuzz_switch_seeds.py writes seeds that run a swap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vswitch.h"

enum { NIC, CONTROL, GUEST_A, GUEST_B, GUEST_C, GUEST_A2, PORTS };

struct fuzz_port {
	unsigned capacity, queued;
	int self;
	uint64_t sent;
};

static struct vswitch sw;
static struct fuzz_port ports[PORTS];
static const uint8_t guest_macs[3][6] = {
    {0x02, 0, 0, 0, 0, 1}, {0x02, 0, 0, 0, 0, 2}, {0x02, 0, 0, 0, 0, 3}};
static int current_source = -1;
static int live_a = GUEST_A; /* which instance of guest a owns its MAC */
static int other_a = -1;     /* the other instance's slot, when it exists */
static enum vswitch_role other_role;

static int slot_of_port(int port)
{
	for (int i = 0; i < PORTS; i++)
		if (ports[i].self == port && port >= 0)
			return i;
	return -1;
}

static int fuzz_transmit(void *context, const uint8_t *frame, size_t len)
{
	struct fuzz_port *p = context;
	int to = (int)(p - ports), from = slot_of_port(current_source);
	if (p->self == current_source)
		abort(); /* a frame went back out of its source port */
	if (len < VSWITCH_FRAME_MIN || len > VSWITCH_FRAME_MAX || frame == NULL)
		abort();
	if (other_a >= 0 && other_role == VSWITCH_STAGED &&
	    ((from == other_a && to != CONTROL) || (to == other_a && from != CONTROL)))
		abort(); /* a staged port reached or was reached by a port not its peer */
	if (other_a >= 0 && other_role == VSWITCH_DRAINING && to == other_a &&
	    (len < 14 || memcmp(frame, guest_macs[0], 6) != 0 || frame[12] != 0x08 ||
	     (frame[13] == 0 ? len < 48 || frame[23] != 6 : frame[13] != 0x06)))
		abort(); /* a draining port got something but its TCP segments and ARP */
	if (p->queued >= p->capacity)
		return -1;
	p->queued++;
	p->sent++;
	return 0;
}

static bool fuzz_full(void *context)
{
	const struct fuzz_port *p = context;
	return p->queued >= p->capacity;
}

static const struct vswitch_port_ops fuzz_ops = {.transmit = fuzz_transmit, .full = fuzz_full};

/* Records for port 6 are hot-swap steps for guest a. */
static void swap_step(uint8_t op, uint64_t *now)
{
	switch (op % 6) {
	case 0: /* a new instance is built: staged, peer the control domain */
		if (other_a < 0) {
			int slot = live_a == GUEST_A ? GUEST_A2 : GUEST_A;
			ports[slot].queued = 0;
			ports[slot].self =
			    vswitch_port_add_staged(&sw, "fuzz'", &fuzz_ops, &ports[slot],
						    guest_macs[0], ports[CONTROL].self);
			if (ports[slot].self < 0)
				abort(); /* a free port and a live MAC: must be accepted */
			vswitch_port_track_flows(&sw, ports[slot].self, true);
			other_a = slot;
			other_role = VSWITCH_STAGED;
		}
		break;
	case 1: /* healthy: promoted */
		if (other_a >= 0 && other_role == VSWITCH_STAGED) {
			int old = vswitch_port_promote(&sw, ports[other_a].self, *now);
			if (old != ports[live_a].self)
				abort();
			int previous = live_a;
			live_a = other_a;
			other_a = previous;
			other_role = VSWITCH_DRAINING;
		}
		break;
	case 2: /* drained (or not: destroyed anyway) */
	case 3: /* refused: the staged instance is destroyed */
		if (other_a >= 0 && (other_role == VSWITCH_DRAINING) == (op % 6 == 2)) {
			vswitch_port_remove(&sw, ports[other_a].self);
			ports[other_a].self = -1;
			other_a = -1;
		}
		break;
	case 4:
		if (other_a >= 0 && other_role == VSWITCH_DRAINING) {
			const struct vswitch_port *d = &sw.ports[ports[other_a].self];
			if (*now - d->drain_since_ms >= CONFIG_SWITCH_DRAIN_MS &&
			    !vswitch_port_drained(&sw, ports[other_a].self, *now))
				abort(); /* the drain time is a bound */
			if (vswitch_port_flows(&sw, ports[other_a].self, *now) == 0 &&
			    !vswitch_port_drained(&sw, ports[other_a].self, *now))
				abort();
		}
		break;
	default: *now += 2000;
	}
}

/* Make the frame an IPv4 TCP segment between few addresses and ports, so
 * that flows are created, pinned and closed often. */
static void make_tcp(uint8_t *frame, size_t len, int slot)
{
	if (len < 54)
		return;
	if (slot < GUEST_A) /* from the LAN or the control domain: to a guest */
		memcpy(frame, guest_macs[(frame[5] + 2) % 3], 6);
	else /* from a guest: as itself */
		memcpy(frame + 6, guest_macs[slot == GUEST_A2 ? 0 : slot - GUEST_A], 6);
	frame[12] = 0x08;
	frame[13] = 0x00;
	frame[14] = 0x45;
	frame[20] &= 0x40;
	frame[21] = 0;
	frame[23] = 6;
	frame[26] = 10, frame[27] = 0, frame[28] = 0, frame[29] &= 3;
	frame[30] = 10, frame[31] = 0, frame[32] = 0, frame[33] &= 3;
	frame[34] = 0, frame[35] &= 3, frame[36] = 0, frame[37] &= 3;
	frame[47] &= 0x17; /* FIN SYN RST ACK */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vswitch_init(&sw, 5);
	memset(ports, 0, sizeof(ports));
	live_a = GUEST_A;
	other_a = -1;
	for (int i = 0; i < PORTS; i++) {
		ports[i].capacity = i == GUEST_C ? 2 : 1u << 30;
		ports[i].self = -1;
		if (i == GUEST_A2)
			continue;
		ports[i].self = vswitch_port_add(&sw, "fuzz", &fuzz_ops, &ports[i],
						 i >= GUEST_A ? guest_macs[i - GUEST_A] : NULL);
		if (i >= GUEST_A)
			vswitch_port_track_flows(&sw, ports[i].self, true);
	}
	uint64_t now = 0;
	size_t pos = 0;
	while (size - pos >= 4) {
		unsigned selector = data[pos] % 8;
		uint8_t step = data[pos + 1];
		now += step & 7;
		size_t len = (size_t)(data[pos + 2] | data[pos + 3] << 8) % 1600;
		pos += 4;
		if (len > size - pos)
			len = size - pos;
		if (selector == 6) {
			swap_step(step >> 3, &now);
			pos += len;
			continue;
		}
		int slot = selector == 7 ? -1 : (int)selector;
		int port = slot < 0 ? 77 : ports[slot].self; /* sometimes a bad port */
		if (port < 0)
			port = 77;
		/* A private copy: ASan catches any read past the frame. */
		uint8_t *frame = malloc(len ? len : 1);
		memcpy(frame, data + pos, len);
		pos += len;
		if (step & 0x80)
			make_tcp(frame, len, slot);
		current_source = port;
		if (data[pos - len - 3] & 0x80) {
			/* Through the NIC's path: a held frame changes no counter. */
			const struct vswitch_counters *c = vswitch_port_counters(&sw, port);
			uint64_t before = c ? c->rx_frames + c->rx_drops : 0;
			if (vswitch_offer(&sw, port, frame, len, now, 3) == VSWITCH_HELD &&
			    (!c || c->rx_frames + c->rx_drops != before))
				abort();
		} else {
			vswitch_input(&sw, port, frame, len, now);
		}
		current_source = -1;
		free(frame);
		if (len > 0 && (data[pos - 1] & 0x80) && slot == GUEST_B) {
			/* Sometimes a guest restarts: its port goes and comes back. */
			vswitch_port_remove(&sw, ports[GUEST_B].self);
			ports[GUEST_B].self = vswitch_port_add(&sw, "fuzz", &fuzz_ops,
							       &ports[GUEST_B], guest_macs[1]);
			vswitch_port_track_flows(&sw, ports[GUEST_B].self, true);
		}
		for (int g = 0; g < 3; g++) {
			int owner = vswitch_lookup(&sw, guest_macs[g]);
			int expected = ports[g == 0 ? live_a : GUEST_A + g].self;
			if (owner >= 0 && owner != expected)
				abort(); /* a locked MAC was learned on another port */
		}
		unsigned swapping = 0;
		for (int p = 0; p < VSWITCH_PORTS; p++)
			swapping += sw.ports[p].used && sw.ports[p].role != VSWITCH_LIVE;
		if (swapping != sw.swapping || swapping != (other_a >= 0))
			abort();
	}
	for (int i = 0; i < PORTS; i++) {
		const struct vswitch_counters *c = vswitch_port_counters(&sw, ports[i].self);
		if (c && c->tx_frames > ports[i].sent)
			abort();
	}
	return 0;
}
