/*
 * Host benchmark of the control domain's per-frame work: one frame from a
 * guest's TX ring through the switch into another guest's RX ring and out
 * again (vnic_ring get -> vswitch_input -> vnic_ring put -> get), with a
 * port table of 24 and a warm MAC table. Prints ns per frame for small and
 * full-size frames. Host figures only: the board's Cortex-A7 is slower.
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

int main(void)
{
	static struct vswitch sw;
	static const struct vswitch_port_ops guest_ops = {.transmit = to_guest};
	static const struct vswitch_port_ops other_ops = {.transmit = to_nowhere};
	const uint8_t a[6] = {0x02, 0, 0, 0, 0, 1}, b[6] = {0x02, 0, 0, 0, 0, 2};
	uint8_t frame[VNIC_RING_FRAME_MAX], out[VNIC_RING_FRAME_MAX];
	size_t len;

	ring(&tx_producer, &tx_consumer);
	ring(&rx_producer, &rx_consumer);
	vswitch_init(&sw, 300);
	vswitch_port_add(&sw, "a", &guest_ops, NULL, a);
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
	printf("bench-switch: struct vswitch %zu bytes (%d ports, %d MAC entries)\n", sizeof(sw),
	       VSWITCH_PORTS, VSWITCH_MAC_TABLE);
	return 0;
}
