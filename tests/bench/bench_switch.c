/*
 * Host benchmark of the control domain's per-frame work: one frame from a
 * guest's TX ring through the switch into another guest's RX ring and out
 * again (vnic_ring get -> vswitch_input -> vnic_ring put -> get), with a
 * port table of 24 and a warm MAC table. Prints ns per frame for small and
 * full-size frames, then for TCP segments of tracked guests (the hot swap's
 * flow table), with and without a swap in progress. Host figures only: the
 * board's Cortex-A7 is slower.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vnic_ring.h"
#include "vswitch.h"

static struct vnic_ring tx_producer, tx_consumer, rx_producer, rx_consumer;

static int to_guest(void *context, const uint8_t *frame, size_t len)
{
	(void)context;
	if (vnic_ring_put(&rx_producer, frame, len) != VNIC_RING_OK)
		return -1;
	vnic_ring_push(&rx_producer);
	return 0;
}

static int to_nowhere(void *context, const uint8_t *frame, size_t len)
{
	(void)context;
	(void)frame;
	(void)len;
	return 0;
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void ring(struct vnic_ring *producer, struct vnic_ring *consumer)
{
	size_t size = vnic_ring_bytes(32);
	void *memory = aligned_alloc(4096, (size + 4095) / 4096 * 4096);
	if (!memory || vnic_ring_format(memory, size, 32) != 0 ||
	    vnic_ring_attach(producer, memory, size, 32) != 0 ||
	    vnic_ring_attach(consumer, memory, size, 32) != 0)
		exit(1);
}

static struct vswitch sw;

/* n frames of len bytes from port `from` through the rings; ns per frame. */
static double run(int from, const uint8_t *frame, size_t len_in, long n)
{
	uint8_t out[VNIC_RING_FRAME_MAX];
	size_t len;
	double start = seconds();
	for (long i = 0; i < n; i++) {
		vnic_ring_put(&tx_producer, frame, len_in);
		vnic_ring_push(&tx_producer);
		vnic_ring_get(&tx_consumer, out, sizeof(out), &len);
		vnic_ring_release(&tx_consumer);
		vswitch_input(&sw, from, out, len, 1000);
		vnic_ring_get(&rx_consumer, out, sizeof(out), &len);
		vnic_ring_release(&rx_consumer);
	}
	return (seconds() - start) / (double)n * 1e9;
}

int main(void)
{
	static const struct vswitch_port_ops guest_ops = {.transmit = to_guest};
	static const struct vswitch_port_ops other_ops = {.transmit = to_nowhere};
	const uint8_t a[6] = {0x02, 0, 0, 0, 0, 1}, b[6] = {0x02, 0, 0, 0, 0, 2};
	uint8_t frame[VNIC_RING_FRAME_MAX], out[VNIC_RING_FRAME_MAX];
	size_t len;

	ring(&tx_producer, &tx_consumer);
	ring(&rx_producer, &rx_consumer);
	vswitch_init(&sw, 300);
	int to = vswitch_port_add(&sw, "a", &guest_ops, NULL, a);
	int from = vswitch_port_add(&sw, "b", &other_ops, NULL, b);
	while (vswitch_port_add(&sw, "other", &other_ops, NULL, NULL) >= 0)
		;
	memset(frame, 0x5a, sizeof(frame));
	memcpy(frame, a, 6);
	memcpy(frame + 6, b, 6);
	const size_t sizes[2] = {64, VNIC_RING_FRAME_MAX};
	for (int s = 0; s < 2; s++) {
		const long n = 2000000;
		double start = seconds();
		for (long i = 0; i < n; i++) {
			vnic_ring_put(&tx_producer, frame, sizes[s]);
			vnic_ring_push(&tx_producer);
			vnic_ring_get(&tx_consumer, out, sizeof(out), &len);
			vnic_ring_release(&tx_consumer);
			vswitch_input(&sw, from, out, len, 1000);
			vnic_ring_get(&rx_consumer, out, sizeof(out), &len);
			vnic_ring_release(&rx_consumer);
		}
		double elapsed = seconds() - start;
		printf(
		    "bench-switch: %zu-byte unicast frame guest -> switch -> guest: %.0f ns/frame "
		    "(%.2f M frames/s, %.0f MB/s)\n",
		    sizes[s], elapsed / (double)n * 1e9, (double)n / elapsed / 1e6,
		    (double)n * (double)sizes[s] / elapsed / 1e6);
	}
	/* A TCP ACK from b to a, both tracked; then the same with a swapped
	 * and the connection pinned to a's old port. */
	static const uint8_t tcp[40] = {
	    0x45, 0,    0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10,   0,    0,    2,    10, 0, 0, 1,
	    0x13, 0x88, 0, 80, 0, 0, 0,    1, 0,  0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0,  0, 0, 0};
	memset(frame + 14, 0, 50);
	frame[12] = 0x08, frame[13] = 0x00;
	memcpy(frame + 14, tcp, sizeof(tcp));
	vswitch_port_track_flows(&sw, to, true);
	vswitch_port_track_flows(&sw, from, true);
	frame[47] = 0x02; /* the SYN that makes the connection a's */
	run(from, frame, 64, 1);
	frame[47] = 0x10;
	double tracked = run(from, frame, 64, 2000000);
	printf("bench-switch: 64-byte TCP segment between tracked guests: %.0f ns/frame\n",
	       tracked);
	vswitch_port_remove(&sw, VSWITCH_PORTS - 1); /* room for the new instance */
	int fresh = vswitch_port_add_staged(&sw, "a'", &guest_ops, NULL, a, from);
	if (fresh < 0 || vswitch_port_promote(&sw, fresh, 1000) != to)
		return 1;
	double pinned = run(from, frame, 64, 2000000);
	printf("bench-switch: 64-byte TCP segment kept on a draining port during a swap: %.0f "
	       "ns/frame (%llu pinned)\n",
	       pinned, (unsigned long long)sw.flow_stats.pinned);
	printf("bench-switch: struct vswitch %zu bytes (%d ports, %d MAC entries, %d flows)\n",
	       sizeof(sw), VSWITCH_PORTS, VSWITCH_MAC_TABLE, VSWITCH_FLOWS);
	return 0;
}
