/*
 * test_net_wire.h — an in-memory Ethernet link between two stacks (or one
 * stack and a raw peer that the test drives by hand), with a virtual clock
 * and deterministic fault injection: loss, duplication and reordering drawn
 * from a seeded generator, so every failure replays exactly.
 */
#ifndef TEST_NET_WIRE_H
#define TEST_NET_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define WIRE_QUEUE   2048
#define WIRE_CAPTURE 256
#define WIRE_FRAME   1514

struct wire_frame {
	uint64_t due;
	uint32_t order;
	uint16_t len;
	uint8_t to; /* 0: stack A, 1: B */
	uint8_t data[WIRE_FRAME];
};

struct wire_faults {
	unsigned loss_pct, dup_pct, reorder_pct;
	unsigned latency_ms;
};

struct test_wire {
	uint64_t now;
	uint32_t rng, order;
	struct net_stack *stack[2]; /* stack[1] NULL: B is a raw peer */
	void *mem[2];
	struct net_port port[2];
	struct wire_faults faults;
	struct wire_frame *queue; /* WIRE_QUEUE entries */
	int queued;
	/* Frames A sent to a raw B. */
	struct wire_frame *capture; /* WIRE_CAPTURE entries */
	int captured;
	unsigned delivered, lost, duplicated, reordered;
};

extern const uint8_t wire_mac[2][6];
#define WIRE_IP_A NET_IPV4(10, 0, 0, 1)
#define WIRE_IP_B NET_IPV4(10, 0, 0, 2)

/* Two stacks (raw_b: only A) on 10.0.0.0/24, A = .1, B = .2. */
void wire_init(struct test_wire *w, uint32_t seed, int raw_b);
void wire_free(struct test_wire *w);
/* Deliver frames and run timers until `done(arg)` or max_ms of virtual time. */
int wire_run_until(struct test_wire *w, int (*done)(void *), void *arg, uint64_t max_ms);
void wire_run(struct test_wire *w, uint64_t ms);
/* Hand a frame to stack A as if B had sent it. */
void wire_inject(struct test_wire *w, const uint8_t *frame, size_t len);
void wire_clear_capture(struct test_wire *w);

/* Raw frame building (for a raw B), checksums filled in. */
size_t wire_build_tcp(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		      uint8_t flags, uint16_t wnd, const uint8_t *opts, size_t optlen,
		      const uint8_t *data, size_t len);
size_t wire_build_arp(uint8_t *f, uint16_t op, uint32_t spa, const uint8_t tha[6], uint32_t tpa,
		      const uint8_t dst[6]);
size_t wire_build_udp(uint8_t *f, uint16_t sport, uint16_t dport, const uint8_t *data, size_t len);
size_t wire_build_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
		       uint16_t frag, const uint8_t *payload, size_t len);
/* Find the n-th captured TCP segment (from A) and decode it; -1 if none. */
struct wire_tcp {
	uint16_t sport, dport, wnd, mss;
	uint32_t seq, ack;
	uint8_t flags, ws; /* ws 0xff: absent */
	uint8_t sack_ok, sack_blocks;
	uint32_t sack[4][2];
	size_t len;
	const uint8_t *data;
};
int wire_captured_tcp(const struct test_wire *w, int n, struct wire_tcp *out);
int wire_count_captured_tcp(const struct test_wire *w);

#endif
