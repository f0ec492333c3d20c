/*
 * libFuzzer target for the control domain's switch (guests/control/vswitch.c):
 * the input is a sequence of frames arriving on ports, as any guest or the
 * LAN could send them. Each record: port byte, time step byte, length (2
 * bytes), frame. Ports are a NIC, the control domain and three locked
 * guests, one of which never drains (a queue of 2). After every frame the
 * switch's invariants are checked: counters add up, no frame leaves through
 * its own source port, nothing locked is ever learned elsewhere. Records
 * whose time byte has bit 7 set go through vswitch_offer() (the NIC's
 * backpressure path) instead of vswitch_input().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vswitch.h"

struct fuzz_port {
	unsigned capacity, queued;
	int self;
	uint64_t sent;
};

static int current_source = -1;

static int fuzz_transmit(void *context, const uint8_t *frame, size_t len)
{
	struct fuzz_port *p = context;
	if (p->self == current_source)
		abort(); /* a frame went back out of its source port */
	if (len < VSWITCH_FRAME_MIN || len > VSWITCH_FRAME_MAX || frame == NULL)
		abort();
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vswitch sw;
	static struct fuzz_port ports[5];
	static const uint8_t guest_macs[3][6] = {
	    {0x02, 0, 0, 0, 0, 1}, {0x02, 0, 0, 0, 0, 2}, {0x02, 0, 0, 0, 0, 3}};
	vswitch_init(&sw, 5);
	memset(ports, 0, sizeof(ports));
	for (int i = 0; i < 5; i++) {
		ports[i].capacity = i == 4 ? 2 : 1u << 30;
		ports[i].self = vswitch_port_add(&sw, "fuzz", &fuzz_ops, &ports[i],
						 i >= 2 ? guest_macs[i - 2] : NULL);
	}
	uint32_t now = 0;
	size_t pos = 0;
	while (size - pos >= 4) {
		int port = data[pos] % 6 == 5 ? 77 : data[pos] % 6; /* sometimes a bad port */
		now += data[pos + 1] & 7;
		size_t len = (size_t)(data[pos + 2] | data[pos + 3] << 8) % 1600;
		pos += 4;
		if (len > size - pos)
			len = size - pos;
		/* A private copy: ASan catches any read past the frame. */
		uint8_t *frame = malloc(len ? len : 1);
		memcpy(frame, data + pos, len);
		pos += len;
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
		if (len > 0 && (data[pos - 1] & 0x80) && port == 3) {
			/* Sometimes a guest restarts: its port goes and comes back. */
			vswitch_port_remove(&sw, ports[3].self);
			ports[3].self =
			    vswitch_port_add(&sw, "fuzz", &fuzz_ops, &ports[3], guest_macs[1]);
		}
		for (int g = 0; g < 3; g++) {
			int owner = vswitch_lookup(&sw, guest_macs[g]);
			if (owner >= 0 && owner != ports[g + 2].self)
				abort(); /* a locked MAC was learned on another port */
		}
	}
	for (int i = 0; i < 5; i++) {
		const struct vswitch_counters *c = vswitch_port_counters(&sw, ports[i].self);
		if (c && c->tx_frames > ports[i].sent)
			abort();
	}
	return 0;
}
