/*
 * The virtual NIC ring (guests/runtime/lib/vnic_ring.c) on the host: frames
 * cross intact, the ring fills and drains, indices wrap at 2^32, a peer's
 * impossible index or slot length never makes us read out of bounds (ASan)
 * or wait, and notifications are sent exactly when the other side asked.
 * Prints TAP.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnic_ring.h"

static int count, failed;

static void check(const char *what, int ok)
{
	count++;
	failed += !ok;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
}

#define SLOTS 8u

static uint8_t *memory;
static size_t memory_size;

/* A formatted ring with a producer and a consumer attached to it. */
static void fresh(struct vnic_ring *producer, struct vnic_ring *consumer, uint32_t slots)
{
	free(memory);
	memory_size = vnic_ring_bytes(slots);
	memory = malloc(memory_size);
	memset(memory, 0xa5, memory_size);
	if (vnic_ring_format(memory, memory_size, slots) != 0 ||
	    vnic_ring_attach(producer, memory, memory_size, slots) != 0 ||
	    vnic_ring_attach(consumer, memory, memory_size, slots) != 0) {
		printf("Bail out! cannot set up a ring\n");
		exit(1);
	}
}

static void frame_fill(uint8_t *frame, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		frame[i] = (uint8_t)(seed * 31 + i);
}

static int frame_ok(const uint8_t *frame, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (frame[i] != (uint8_t)(seed * 31 + i))
			return 0;
	return 1;
}

static void test_setup(void)
{
	struct vnic_ring ring;
	uint8_t buf[VNIC_RING_HEADER_SIZE + 4 * VNIC_RING_SLOT_SIZE];
	check("slot counts must be powers of two in 2..256",
	      !vnic_ring_slot_count_valid(0) && !vnic_ring_slot_count_valid(1) &&
		  !vnic_ring_slot_count_valid(6) && !vnic_ring_slot_count_valid(512) &&
		  vnic_ring_slot_count_valid(2) && vnic_ring_slot_count_valid(256));
	check("a ring of 4 slots needs 64 + 4 * 1536 bytes", vnic_ring_bytes(4) == sizeof(buf));
	check("format refuses memory smaller than the ring",
	      vnic_ring_format(buf, sizeof(buf) - 1, 4) != 0);
	memset(buf, 0, sizeof(buf));
	check("attach refuses memory without the magic",
	      vnic_ring_attach(&ring, buf, sizeof(buf), 4) != 0);
	check("format then attach works", vnic_ring_format(buf, sizeof(buf), 4) == 0 &&
					      vnic_ring_attach(&ring, buf, sizeof(buf), 4) == 0);
	check("attach refuses a slot count other than the formatted one",
	      vnic_ring_attach(&ring, buf, sizeof(buf), 2) != 0);
	check("a refused attach leaves a ring that does nothing",
	      vnic_ring_put(&ring, buf, 60) == VNIC_RING_BROKEN);
}

static void test_roundtrip(void)
{
	struct vnic_ring p, c;
	fresh(&p, &c, SLOTS);
	uint8_t frame[VNIC_RING_FRAME_MAX + 1], got[VNIC_RING_FRAME_MAX];
	size_t len = 0;
	check("an empty ring gives nothing",
	      vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_EMPTY);
	check("frames under 14 bytes are refused",
	      vnic_ring_put(&p, frame, 13) == VNIC_RING_EINVAL);
	check("frames over 1514 bytes are refused",
	      vnic_ring_put(&p, frame, 1515) == VNIC_RING_EINVAL);
	frame_fill(frame, 14, 1);
	vnic_ring_put(&p, frame, 14);
	frame_fill(frame, 1514, 2);
	vnic_ring_put(&p, frame, 1514);
	check("put frames are invisible until pushed", vnic_ring_pending(&c) == 0);
	vnic_ring_push(&p);
	check("pushed frames are pending", vnic_ring_pending(&c) == 2);
	int ok = vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_OK && len == 14 &&
		 frame_ok(got, 14, 1);
	check("the shortest frame crosses intact", ok);
	check("a buffer too small for the next frame is refused and the frame kept",
	      vnic_ring_get(&c, got, 100, &len) == VNIC_RING_EINVAL && vnic_ring_pending(&c) == 1);
	ok = vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_OK && len == 1514 &&
	     frame_ok(got, 1514, 2);
	check("the longest frame crosses intact", ok);
	check("counters count frames and bytes on both sides",
	      p.stats.frames == 2 && p.stats.bytes == 1528 && c.stats.frames == 2 &&
		  c.stats.bytes == 1528);
}

static void test_full(void)
{
	struct vnic_ring p, c;
	fresh(&p, &c, SLOTS);
	uint8_t frame[64], got[VNIC_RING_FRAME_MAX];
	size_t len;
	unsigned put = 0;
	for (unsigned i = 0; i < SLOTS; i++) {
		frame_fill(frame, sizeof(frame), i);
		put += vnic_ring_put(&p, frame, sizeof(frame)) == VNIC_RING_OK;
	}
	vnic_ring_push(&p);
	check("a ring takes exactly slot_count frames", put == SLOTS);
	check("the next put reports full and counts it",
	      vnic_ring_put(&p, frame, sizeof(frame)) == VNIC_RING_FULL && p.stats.full == 1);
	check("a full producer has no free slot", vnic_ring_free_slots(&p) == 0);
	int early = 0;
	for (unsigned i = 0; i < SLOTS / 2 - 1; i++) {
		vnic_ring_get(&c, got, sizeof(got), &len);
		early += vnic_ring_release(&c);
	}
	check("a producer that waits for space is not woken slot by slot", early == 0);
	vnic_ring_get(&c, got, sizeof(got), &len);
	check("it is notified once half the ring is free", vnic_ring_release(&c));
	check("a put succeeds again after the consumer released slots",
	      vnic_ring_put(&p, frame, sizeof(frame)) == VNIC_RING_OK);
	vnic_ring_get(&c, got, sizeof(got), &len);
	check("freeing more slots without a new request does not notify again",
	      !vnic_ring_release(&c));

	/* A producer that asks vnic_ring_full() instead of putting. */
	fresh(&p, &c, SLOTS);
	for (unsigned i = 0; i < SLOTS; i++)
		vnic_ring_put(&p, frame, sizeof(frame));
	vnic_ring_push(&p);
	check("vnic_ring_full() says full, and counts no refused put",
	      vnic_ring_full(&p) && p.stats.full == 0);
	early = 0;
	for (unsigned i = 0; i < SLOTS / 2 - 1; i++) {
		vnic_ring_get(&c, got, sizeof(got), &len);
		early += vnic_ring_release(&c);
	}
	vnic_ring_get(&c, got, sizeof(got), &len);
	check("after vnic_ring_full(), the consumer notifies once half the ring is free",
	      early == 0 && vnic_ring_release(&c));
	check("then it is no longer full", !vnic_ring_full(&p));
}

static void test_wraparound(void)
{
	struct vnic_ring p, c;
	fresh(&p, &c, 4);
	/* Start both sides just below 2^32, as after years of traffic. */
	uint32_t start = 0xfffffffdu;
	p.prod = p.published = c.cons = c.published = start;
	p.header->prod = p.header->cons = start;
	p.header->prod_event = p.header->cons_event = start + 1;
	uint8_t frame[100], got[VNIC_RING_FRAME_MAX];
	size_t len;
	int ok = 1;
	for (unsigned i = 0; i < 50 && ok; i++) {
		unsigned batch = 1 + i % 4;
		for (unsigned j = 0; j < batch; j++) {
			frame_fill(frame, 20 + j, i * 8 + j);
			ok &= vnic_ring_put(&p, frame, 20 + j) == VNIC_RING_OK;
		}
		vnic_ring_push(&p);
		for (unsigned j = 0; j < batch; j++)
			ok &= vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_OK &&
			      len == 20 + j && frame_ok(got, len, i * 8 + j);
		vnic_ring_release(&c);
		ok &= vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_EMPTY;
	}
	check("indices wrap past 2^32 with every frame intact and in order", ok);
	check("after wrapping the indices are small again", p.prod < 200 && !p.broken && !c.broken);
}

static void test_malicious_indices(void)
{
	struct vnic_ring p, c;
	uint8_t frame[64] = {0}, got[VNIC_RING_FRAME_MAX];
	size_t len;

	fresh(&p, &c, SLOTS);
	p.header->prod = SLOTS + 1; /* more than the ring holds */
	check("a consumer refuses a producer index beyond the ring",
	      vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_BROKEN && c.broken);
	p.header->prod = 0;
	check("a broken ring stays broken",
	      vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_BROKEN);
	check("a broken ring is never waited on", vnic_ring_arm(&c) && vnic_ring_pending(&c) == 0);

	fresh(&p, &c, SLOTS);
	p.header->prod = 0xffffffffu; /* behind the consumer */
	check("a consumer refuses a producer index that went backwards",
	      vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_BROKEN);

	fresh(&p, &c, SLOTS);
	p.header->cons = 5; /* ahead of the producer's 0 */
	check("a producer refuses a consumer index ahead of its own",
	      vnic_ring_put(&p, frame, sizeof(frame)) == VNIC_RING_BROKEN && p.broken);

	fresh(&p, &c, SLOTS);
	for (unsigned i = 0; i < 3; i++)
		vnic_ring_put(&p, frame, sizeof(frame));
	vnic_ring_push(&p);
	p.header->cons = 0x80000000u; /* garbage far behind */
	check("a producer refuses a consumer index far behind",
	      vnic_ring_put(&p, frame, sizeof(frame)) == VNIC_RING_BROKEN);

	fresh(&p, &c, SLOTS);
	vnic_ring_put(&p, frame, sizeof(frame));
	vnic_ring_push(&p);
	p.header->cons = 1000; /* the producer scribbles on the consumer's index */
	vnic_ring_get(&c, got, sizeof(got), &len);
	vnic_ring_release(&c);
	check("a consumer publishes its own index, never the scribbled one",
	      c.header->cons == 1 && !c.broken);
}

static void test_malformed_slots(void)
{
	struct vnic_ring p, c;
	fresh(&p, &c, SLOTS);
	uint8_t frame[64], got[VNIC_RING_FRAME_MAX];
	size_t len;
	for (unsigned i = 0; i < 4; i++) {
		frame_fill(frame, sizeof(frame), i);
		vnic_ring_put(&p, frame, sizeof(frame));
	}
	vnic_ring_push(&p);
	p.slots[0].len = 0;
	p.slots[1].len = 60000;
	p.slots[2].len = 13;
	int ok = vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_OK && len == 64 &&
		 frame_ok(got, len, 3);
	check("slots with impossible lengths are skipped, the next good frame is read", ok);
	check("skipped slots are counted as malformed, the ring is not abandoned",
	      c.stats.malformed == 3 && !c.broken);
}

static void test_notifications(void)
{
	struct vnic_ring p, c;
	fresh(&p, &c, SLOTS);
	uint8_t frame[64] = {0}, got[VNIC_RING_FRAME_MAX];
	size_t len;
	vnic_ring_put(&p, frame, sizeof(frame));
	check("the first frame on a fresh ring notifies", vnic_ring_push(&p));
	vnic_ring_put(&p, frame, sizeof(frame));
	check("more frames while the consumer has not re-armed do not notify", !vnic_ring_push(&p));
	check("a push with nothing new does not notify", !vnic_ring_push(&p));
	check("arming with frames pending says: do not sleep", !vnic_ring_arm(&c));
	while (vnic_ring_get(&c, got, sizeof(got), &len) == VNIC_RING_OK)
		;
	check("releasing slots nobody waits for does not notify", !vnic_ring_release(&c));
	check("arming an empty ring says: sleep", vnic_ring_arm(&c));
	vnic_ring_put(&p, frame, sizeof(frame));
	vnic_ring_put(&p, frame, sizeof(frame));
	vnic_ring_put(&p, frame, sizeof(frame));
	check("the first push after the consumer armed notifies once for a batch",
	      vnic_ring_push(&p));
	vnic_ring_put(&p, frame, sizeof(frame));
	check("and the next push does not", !vnic_ring_push(&p));
}

/* Two threads stream frames with sequence numbers through a small ring. */
#define STREAM_FRAMES 200000u
static struct vnic_ring stream_p, stream_c;

static void *stream_producer(void *arg)
{
	(void)arg;
	uint8_t frame[64] = {0};
	for (uint32_t seq = 0; seq < STREAM_FRAMES;) {
		memcpy(frame + 14, &seq, 4);
		size_t len = 14 + 4 + seq % 40;
		if (vnic_ring_put(&stream_p, frame, len) == VNIC_RING_OK)
			seq++;
		vnic_ring_push(&stream_p);
	}
	return NULL;
}

static void test_two_threads(void)
{
	fresh(&stream_p, &stream_c, 4);
	pthread_t thread;
	pthread_create(&thread, NULL, stream_producer, NULL);
	uint8_t got[VNIC_RING_FRAME_MAX];
	size_t len;
	uint32_t expect = 0;
	int ok = 1;
	while (expect < STREAM_FRAMES && ok) {
		if (vnic_ring_get(&stream_c, got, sizeof(got), &len) != VNIC_RING_OK) {
			vnic_ring_release(&stream_c);
			continue;
		}
		uint32_t seq;
		memcpy(&seq, got + 14, 4);
		ok = seq == expect && len == 14 + 4 + seq % 40;
		expect++;
		vnic_ring_release(&stream_c);
	}
	pthread_join(thread, NULL);
	check("200000 frames between two threads arrive complete and in order", ok);
}

int main(void)
{
	test_setup();
	test_roundtrip();
	test_full();
	test_wraparound();
	test_malicious_indices();
	test_malformed_slots();
	test_notifications();
	test_two_threads();
	free(memory);
	printf("1..%d\n", count);
	return failed != 0;
}
