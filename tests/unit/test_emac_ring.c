/*
 * The EMAC's descriptor rings (guests/control/emac_ring.c) on the host,
 * against a model of the DMA engine as QEMU's allwinner-sun8i-emac
 * implements it: receive searches for a descriptor it owns from its
 * current one along `next`, writes the frame, reports the length with the
 * FCS (and the padding of a short frame) counted, clears the own bit, and
 * goes back to the list head when no descriptor is left; transmit follows
 * `next` from its current descriptor while it owns them. Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emac_ring.h"

static int count, failed;

static void check(const char *what, int ok)
{
	count++;
	failed += !ok;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
}

void emac_ring_clean(const void *start, size_t len)
{
	(void)start;
	(void)len;
}

void emac_ring_invalidate(const void *start, size_t len)
{
	(void)start;
	(void)len;
}

/* ---------------------------------------------------------- device model */

#define RING      8
#define SLOTS_BUS 0x4c010000u
#define BUFS_BUS  0x4c100000u

static uint8_t *slots, *buffers;
static struct emac_ring ring;

/* Bus address -> host pointer, refusing anything outside the ring's memory. */
static void *at(uint32_t bus, size_t len)
{
	if (bus >= SLOTS_BUS && bus + len <= SLOTS_BUS + RING * EMAC_SLOT)
		return slots + (bus - SLOTS_BUS);
	if (bus >= BUFS_BUS && bus + len <= BUFS_BUS + RING * EMAC_BUFFER_SIZE)
		return buffers + (bus - BUFS_BUS);
	fprintf(stderr, "device access outside the rings: %#x\n", (unsigned)bus);
	abort();
}

static uint32_t rx_head, rx_curr; /* the device's RX_DESC_LIST and current descriptor */

static uint32_t find_owned(uint32_t start)
{
	uint32_t addr = start;
	do {
		struct emac_desc *d = at(addr, sizeof(*d));
		if ((d->status & EMAC_DESC_OWN) && (d->control & EMAC_DESC_SIZE_MASK) >= 64)
			return addr;
		addr = d->next;
	} while (addr != start);
	return 0;
}

/* Deliver one frame; false when the device has no descriptor (it would wait). */
static int device_receive(const uint8_t *frame, size_t len, uint32_t error_bits)
{
	uint32_t addr = find_owned(rx_curr);
	if (!addr)
		return 0;
	struct emac_desc *d = at(addr, sizeof(*d));
	size_t padded = (len < 60 ? 60 : len) + EMAC_FCS_LEN;
	memcpy(at(d->buffer, len), frame, len);
	d->status =
	    EMAC_RX_STATUS_FIRST | EMAC_RX_STATUS_LAST | error_bits | (uint32_t)padded << 16;
	uint32_t next = find_owned(d->next);
	rx_curr = next ? next : rx_head;
	return 1;
}

static uint32_t tx_curr;
static uint8_t wire[64][EMAC_BUFFER_SIZE];
static size_t wire_len[64];
static unsigned wire_count;

static void device_transmit(void)
{
	for (;;) {
		struct emac_desc *d = at(tx_curr, sizeof(*d));
		if (!(d->status & EMAC_DESC_OWN))
			return;
		size_t len = d->control & EMAC_DESC_SIZE_MASK;
		if ((d->control & (EMAC_TX_CTL_FIRST | EMAC_TX_CTL_LAST)) ==
			(EMAC_TX_CTL_FIRST | EMAC_TX_CTL_LAST) &&
		    wire_count < 64) {
			memcpy(wire[wire_count], at(d->buffer, len), len);
			wire_len[wire_count++] = len;
		}
		d->status = 0;
		tx_curr = d->next;
	}
}

static void setup(void)
{
	memset(slots, 0x5a, RING * EMAC_SLOT);
	memset(buffers, 0, RING * EMAC_BUFFER_SIZE);
	memset(&ring, 0, sizeof(ring));
	ring.slots = slots;
	ring.buffers = buffers;
	ring.slots_bus = SLOTS_BUS;
	ring.buffers_bus = BUFS_BUS;
	ring.count = RING;
	rx_head = rx_curr = tx_curr = SLOTS_BUS;
	wire_count = 0;
}

static void make_frame(uint8_t *frame, size_t len, unsigned seq)
{
	for (size_t i = 0; i < len; i++)
		frame[i] = (uint8_t)(seq * 31 + i);
}

/* What the driver does after using a descriptor: re-point the device's list
 * when it owns nothing (QEMU restarts at the head then), then give it back. */
static unsigned restarts;
static void release(void)
{
	uint32_t restart = emac_rx_restart_address(&ring);
	if (restart) {
		rx_head = rx_curr = restart; /* the RX_DESC_LIST register write */
		restarts++;
	}
	emac_rx_release(&ring);
}

/* ---------------------------------------------------------- tests */

static void test_rx_order_and_length(void)
{
	setup();
	emac_rx_init(&ring);
	int chained = 1;
	for (unsigned i = 0; i < RING; i++) {
		struct emac_desc *d = emac_desc_at(&ring, i);
		chained &= d->next == SLOTS_BUS + ((i + 1) % RING) * EMAC_SLOT &&
			   d->buffer == BUFS_BUS + i * EMAC_BUFFER_SIZE &&
			   (d->status & EMAC_DESC_OWN) &&
			   (d->control & EMAC_DESC_SIZE_MASK) >= 1536;
	}
	check("receive: every descriptor chained in a cycle, owned by the device, >= 1536 bytes",
	      chained);

	/* 3 frames, then take them: order, length without FCS, content. */
	uint8_t frame[1514], expect[3][1514];
	size_t lens[3] = {60, 1514, 342};
	for (unsigned i = 0; i < 3; i++) {
		make_frame(expect[i], lens[i], i);
		device_receive(expect[i], lens[i], 0);
	}
	int ok = 1;
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *got;
		size_t len;
		ok &= emac_rx_peek(&ring, &got, &len) == EMAC_RX_FRAME && len == lens[i] &&
		      memcmp(got, expect[i], len) == 0;
		release();
	}
	const uint8_t *got;
	size_t len;
	check("receive: frames come out in order, whole, the FCS not counted", ok);
	check("receive: nothing more once the completed descriptors are taken",
	      emac_rx_peek(&ring, &got, &len) == EMAC_RX_NONE);

	/* A short frame is padded to 60 + FCS by the device: its length is 60. */
	make_frame(frame, 42, 9);
	device_receive(frame, 42, 0);
	check("receive: a short frame reports the padded minimum length (60)",
	      emac_rx_peek(&ring, &got, &len) == EMAC_RX_FRAME && len == 60 &&
		  memcmp(got, frame, 42) == 0);
	release();
}

static void test_rx_full_ring_and_wrap(void)
{
	setup();
	emac_rx_init(&ring);
	uint8_t frame[200];
	unsigned accepted = 0;
	for (unsigned i = 0; i < RING + 3; i++) {
		make_frame(frame, sizeof(frame), i);
		accepted += (unsigned)device_receive(frame, sizeof(frame), 0);
	}
	check("receive: a full ring takes exactly as many frames as descriptors", accepted == RING);

	/* Take them one by one while the device keeps delivering: many laps of
	 * the ring, with the device restarting from the list head whenever it
	 * found no free descriptor. Order must hold throughout. */
	unsigned next_seq = 0, sent = RING, ok = 1;
	for (unsigned round = 0; round < 5 * RING; round++) {
		const uint8_t *got;
		size_t len;
		uint8_t expect[200];
		make_frame(expect, sizeof(expect), next_seq);
		ok &= emac_rx_peek(&ring, &got, &len) == EMAC_RX_FRAME && len == sizeof(expect) &&
		      memcmp(got, expect, len) == 0;
		release();
		next_seq++;
		make_frame(frame, sizeof(frame), sent);
		sent += (unsigned)device_receive(frame, sizeof(frame), 0);
	}
	check("receive: order holds over many laps with the ring kept full", ok && sent > RING);
}

/* QEMU's model goes back to the list head when the ring runs full. With the
 * CPU's tail elsewhere, the next frames would land behind it unless the
 * driver re-points the list at tail before giving descriptors back. */
static void test_rx_full_ring_restart(void)
{
	setup();
	emac_rx_init(&ring);
	restarts = 0;
	uint8_t frame[120];
	const uint8_t *got;
	size_t len;
	unsigned seq = 0, expect_seq = 0;
	int ok = 1;
	for (unsigned i = 0; i < 3; i++) { /* move tail off the head */
		make_frame(frame, sizeof(frame), seq++);
		device_receive(frame, sizeof(frame), 0);
		ok &= emac_rx_peek(&ring, &got, &len) == EMAC_RX_FRAME;
		release();
		expect_seq++;
	}
	for (unsigned i = 0; i < RING; i++) { /* fill the ring: the device goes back to its head */
		make_frame(frame, sizeof(frame), seq++);
		device_receive(frame, sizeof(frame), 0);
	}
	for (unsigned i = 0; i < RING; i++) { /* drain it */
		uint8_t expect[120];
		make_frame(expect, sizeof(expect), expect_seq++);
		ok &= emac_rx_peek(&ring, &got, &len) == EMAC_RX_FRAME &&
		      memcmp(got, expect, sizeof(expect)) == 0;
		release();
	}
	check("receive: the list is re-pointed once, when the device owned nothing",
	      ok && restarts == 1);
	for (unsigned i = 0; i < 3; i++) { /* the next frames arrive where the CPU looks */
		uint8_t expect[120];
		make_frame(frame, sizeof(frame), seq++);
		device_receive(frame, sizeof(frame), 0);
		make_frame(expect, sizeof(expect), expect_seq++);
		ok &= emac_rx_peek(&ring, &got, &len) == EMAC_RX_FRAME &&
		      memcmp(got, expect, sizeof(expect)) == 0;
		release();
	}
	check("receive: after a full ring, new frames arrive at tail, at once and in order", ok);
}

static void test_rx_errors(void)
{
	setup();
	emac_rx_init(&ring);
	uint8_t frame[100];
	make_frame(frame, sizeof(frame), 1);
	device_receive(frame, sizeof(frame), 1u << 15); /* error summary */
	device_receive(frame, sizeof(frame), 0);
	const uint8_t *got;
	size_t len;
	enum emac_rx_result first = emac_rx_peek(&ring, &got, &len);
	release();
	enum emac_rx_result second = emac_rx_peek(&ring, &got, &len);
	release();
	check("receive: a flagged frame is an error, and the next good one still arrives",
	      first == EMAC_RX_ERROR && second == EMAC_RX_FRAME && len == sizeof(frame));

	/* A descriptor that claims a first-only fragment or an impossible length. */
	struct emac_desc *d = emac_desc_at(&ring, ring.tail);
	d->status = EMAC_RX_STATUS_FIRST | 600u << 16;
	check("receive: a frame split over descriptors is an error",
	      emac_rx_peek(&ring, &got, &len) == EMAC_RX_ERROR);
	d->status = EMAC_RX_STATUS_FIRST | EMAC_RX_STATUS_LAST | 0x3fffu << 16;
	check("receive: a length beyond the buffer is an error, never a read past it",
	      emac_rx_peek(&ring, &got, &len) == EMAC_RX_ERROR);
	d->status = EMAC_RX_STATUS_FIRST | EMAC_RX_STATUS_LAST | 3u << 16;
	check("receive: a length shorter than the FCS and a header is an error",
	      emac_rx_peek(&ring, &got, &len) == EMAC_RX_ERROR);
	release();
	check("receive: the released bad descriptor goes back to the device",
	      emac_desc_at(&ring, (ring.tail + RING - 1) % RING)->status == EMAC_DESC_OWN);
}

static void test_tx(void)
{
	setup();
	emac_tx_init(&ring);
	uint8_t frame[1514];
	int ok = 1;
	for (unsigned i = 0; i < RING; i++) {
		make_frame(frame, 100 + i, i);
		ok &= emac_tx_put(&ring, frame, 100 + i) == 0;
	}
	check("transmit: the ring takes as many frames as descriptors", ok);
	make_frame(frame, 100, 99);
	check("transmit: one more is refused while the device has them all",
	      emac_tx_put(&ring, frame, 100) == -1 && ring.used == RING);
	size_t len;
	check("transmit: nothing to reclaim before the device sent",
	      emac_tx_reclaim(&ring, &len) == EMAC_TX_NONE);
	device_transmit();
	ok = wire_count == RING;
	for (unsigned i = 0; i < wire_count; i++) {
		make_frame(frame, 100 + i, i);
		ok &= wire_len[i] == 100 + i && memcmp(wire[i], frame, wire_len[i]) == 0;
	}
	check("transmit: the device sends them in order, byte for byte", ok);
	unsigned reclaimed = 0;
	size_t bytes = 0;
	while (emac_tx_reclaim(&ring, &len) == EMAC_TX_SENT) {
		reclaimed++;
		bytes += len;
	}
	check("transmit: every sent slot is reclaimed with its length",
	      reclaimed == RING && bytes == RING * 100 + RING * (RING - 1) / 2 && ring.used == 0);

	/* Wrap: keep queueing and sending across several laps. */
	ok = 1;
	wire_count = 0;
	for (unsigned i = 0; i < 3 * RING; i++) {
		make_frame(frame, 64, i);
		ok &= emac_tx_put(&ring, frame, 64) == 0;
		device_transmit();
		ok &= emac_tx_reclaim(&ring, &len) == EMAC_TX_SENT && len == 64;
		ok &= memcmp(wire[wire_count - 1], frame, 64) == 0;
		wire_count = 0;
	}
	check("transmit: queue, send and reclaim over several laps of the ring", ok);

	check("transmit: an impossible length is refused (runt, or larger than a buffer)",
	      emac_tx_put(&ring, frame, 10) == -1 &&
		  emac_tx_put(&ring, frame, EMAC_BUFFER_SIZE) == -1 && ring.used == 0);

	/* An error the device reports is seen at reclaim time. */
	make_frame(frame, 80, 1);
	emac_tx_put(&ring, frame, 80);
	struct emac_desc *d = emac_desc_at(&ring, ring.tail);
	d->status = 1u << 16;
	check("transmit: a slot the device flagged is reclaimed as failed",
	      emac_tx_reclaim(&ring, &len) == EMAC_TX_FAILED && ring.used == 0);
}

int main(void)
{
	slots = aligned_alloc(64, RING * EMAC_SLOT);
	buffers = aligned_alloc(64, RING * EMAC_BUFFER_SIZE);
	test_rx_order_and_length();
	test_rx_full_ring_and_wrap();
	test_rx_full_ring_restart();
	test_rx_errors();
	test_tx();
	printf("1..%d\n", count);
	free(slots);
	free(buffers);
	return failed ? 1 : 0;
}
