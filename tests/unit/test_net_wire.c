#include "test_net_wire.h"

#include <stdlib.h>
#include <string.h>

#include "wire.h"

const uint8_t wire_mac[2][6] = {{0x02, 0, 0, 0, 0, 0x01}, {0x02, 0, 0, 0, 0, 0x02}};

static uint32_t wire_rand(struct test_wire *w)
{
	/* xorshift32: deterministic per seed */
	uint32_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	w->rng = x;
	return x;
}

struct wire_ctx {
	struct test_wire *w;
	int side;
};

static uint64_t wire_now(void *ctx)
{
	return ((struct wire_ctx *)ctx)->w->now;
}

size_t wire_build_arp(uint8_t *f, uint16_t op, uint32_t spa, const uint8_t tha[6], uint32_t tpa,
		      const uint8_t dst[6])
{
	memset(f, 0, 60);
	memcpy(f, dst, 6);
	memcpy(f + 6, wire_mac[1], 6);
	net_put16(f + 12, 0x0806);
	net_put16(f + 14, 1);
	net_put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	net_put16(f + 20, op);
	memcpy(f + 22, wire_mac[1], 6);
	net_put32(f + 28, spa);
	memcpy(f + 32, tha, 6);
	net_put32(f + 38, tpa);
	return 60;
}

static void wire_answer_arp(struct test_wire *w, const uint8_t *frame, size_t len)
{
	/* A raw peer still answers ARP, so tests need not. */
	if (len < 42 || net_get16(frame + 12) != 0x0806 || net_get16(frame + 20) != 1 ||
	    net_get32(frame + 38) != WIRE_IP_B || w->queued >= WIRE_QUEUE)
		return;
	struct wire_frame *f = &w->queue[w->queued++];
	f->due = w->now;
	f->order = w->order++;
	f->to = 0;
	f->len = (uint16_t)wire_build_arp(f->data, 2, WIRE_IP_B, frame + 22, net_get32(frame + 28),
					  wire_mac[0]);
}

static struct wire_ctx ctxs[16][2];
static int nctx;

static void wire_enqueue(struct test_wire *w, int to, const uint8_t *frame, size_t len,
			 uint64_t extra)
{
	if (w->queued >= WIRE_QUEUE || len > WIRE_FRAME) {
		w->lost++;
		return;
	}
	struct wire_frame *f = &w->queue[w->queued++];
	f->due = w->now + w->faults.latency_ms + extra;
	f->order = w->order++;
	f->len = (uint16_t)len;
	f->to = (uint8_t)to;
	memcpy(f->data, frame, len);
}

static int wire_transmit(void *ctx, const uint8_t *frame, size_t len)
{
	struct wire_ctx *c = ctx;
	struct test_wire *w = c->w;
	int to = !c->side;
	if (to == 1 && w->stack[1] == NULL) {
		wire_answer_arp(w, frame, len);
		if (w->captured < WIRE_CAPTURE) {
			struct wire_frame *f = &w->capture[w->captured++];
			f->len = (uint16_t)len;
			memcpy(f->data, frame, len);
		}
		return 0;
	}
	if (w->faults.loss_pct && wire_rand(w) % 100 < w->faults.loss_pct) {
		w->lost++;
		return 0;
	}
	uint64_t extra = 0;
	if (w->faults.reorder_pct && wire_rand(w) % 100 < w->faults.reorder_pct) {
		extra = 1 + wire_rand(w) % 5;
		w->reordered++;
	}
	wire_enqueue(w, to, frame, len, extra);
	if (w->faults.dup_pct && wire_rand(w) % 100 < w->faults.dup_pct) {
		w->duplicated++;
		wire_enqueue(w, to, frame, len, 1 + wire_rand(w) % 3);
	}
	return 0;
}

void wire_init(struct test_wire *w, uint32_t seed, int raw_b)
{
	memset(w, 0, sizeof(*w));
	w->rng = seed ? seed : 1;
	w->now = 1000000;
	w->queue = calloc(WIRE_QUEUE, sizeof(struct wire_frame));
	w->capture = calloc(WIRE_CAPTURE, sizeof(struct wire_frame));
	struct wire_ctx *pair = ctxs[nctx++ % 16];
	for (int i = 0; i < 2; i++) {
		if (i == 1 && raw_b)
			break;
		pair[i].w = w;
		pair[i].side = i;
		struct net_port *p = &w->port[i];
		p->transmit = wire_transmit;
		p->now_ms = wire_now;
		p->ctx = &pair[i];
		memcpy(p->mac, wire_mac[i], 6);
		for (int k = 0; k < 16; k++)
			p->secret[k] = (uint8_t)(seed * 31 + (unsigned)k * 7 + (unsigned)i);
		w->mem[i] = aligned_alloc(64, (net_stack_size() + 63) / 64 * 64);
		w->stack[i] = net_stack_init(w->mem[i], net_stack_size(), p);
		net_set_ipv4(w->stack[i], i ? WIRE_IP_B : WIRE_IP_A, NET_IPV4(255, 255, 255, 0), 0);
	}
	if (raw_b)
		w->captured = 0; /* forget the gratuitous ARP */
}

void wire_free(struct test_wire *w)
{
	free(w->mem[0]);
	free(w->mem[1]);
	free(w->queue);
	free(w->capture);
}

static void wire_step(struct test_wire *w)
{
	/* Deliver every due frame, earliest first (ties in send order). */
	for (;;) {
		int best = -1;
		for (int i = 0; i < w->queued; i++) {
			struct wire_frame *f = &w->queue[i];
			if (f->due > w->now)
				continue;
			if (best < 0 || f->due < w->queue[best].due ||
			    (f->due == w->queue[best].due && f->order < w->queue[best].order))
				best = i;
		}
		if (best < 0)
			break;
		static struct wire_frame f;
		f = w->queue[best];
		w->queue[best] = w->queue[--w->queued];
		w->delivered++;
		if (w->stack[f.to] != NULL)
			net_input(w->stack[f.to], f.data, f.len);
	}
	for (int i = 0; i < 2; i++)
		if (w->stack[i] != NULL)
			net_poll(w->stack[i]);
}

static uint64_t wire_next_event(struct test_wire *w)
{
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < w->queued; i++)
		if (w->queue[i].due < next)
			next = w->queue[i].due;
	for (int i = 0; i < 2; i++) {
		if (w->stack[i] == NULL)
			continue;
		int64_t t = net_next_timeout_ms(w->stack[i]);
		if (t >= 0 && w->now + (uint64_t)t < next)
			next = w->now + (uint64_t)t;
	}
	return next;
}

int wire_run_until(struct test_wire *w, int (*done)(void *), void *arg, uint64_t max_ms)
{
	uint64_t end = w->now + max_ms;
	for (;;) {
		wire_step(w);
		if (done != NULL && done(arg))
			return 1;
		uint64_t next = wire_next_event(w);
		if (next <= w->now)
			next = w->now + 1;
		if (next > end) {
			w->now = end;
			wire_step(w);
			return done != NULL && done(arg);
		}
		w->now = next;
	}
}

void wire_run(struct test_wire *w, uint64_t ms)
{
	wire_run_until(w, NULL, NULL, ms);
}

void wire_inject(struct test_wire *w, const uint8_t *frame, size_t len)
{
	net_input(w->stack[0], frame, len);
}

void wire_clear_capture(struct test_wire *w)
{
	w->captured = 0;
}

static size_t wire_eth(uint8_t *f, uint16_t type)
{
	memcpy(f, wire_mac[0], 6);
	memcpy(f + 6, wire_mac[1], 6);
	net_put16(f + 12, type);
	return 14;
}

size_t wire_build_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
		       uint16_t frag, const uint8_t *payload, size_t len)
{
	wire_eth(f, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	net_put16(ip + 2, (uint16_t)(20 + len));
	net_put16(ip + 4, id);
	net_put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	net_put32(ip + 12, src);
	net_put32(ip + 16, dst);
	net_put16(ip + 10, net_checksum_finish(net_checksum_add(0, ip, 20)));
	if (payload != NULL && payload != ip + 20)
		memmove(ip + 20, payload, len);
	return 34 + len;
}

size_t wire_build_tcp(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		      uint8_t flags, uint16_t wnd, const uint8_t *opts, size_t optlen,
		      const uint8_t *data, size_t len)
{
	uint8_t *t = f + 34;
	size_t hlen = 20 + optlen;
	memset(t, 0, 20);
	net_put16(t, sport);
	net_put16(t + 2, dport);
	net_put32(t + 4, seq);
	net_put32(t + 8, ack);
	t[12] = (uint8_t)((hlen / 4) << 4);
	t[13] = flags;
	net_put16(t + 14, wnd);
	if (optlen)
		memcpy(t + 20, opts, optlen);
	if (len)
		memcpy(t + hlen, data, len);
	uint32_t sum = net_checksum_pseudo(WIRE_IP_B, WIRE_IP_A, 6, hlen + len);
	net_put16(t + 16, net_checksum_finish(net_checksum_add(sum, t, hlen + len)));
	return wire_build_ipv4(f, WIRE_IP_B, WIRE_IP_A, 6, 1, 0, NULL, hlen + len);
}

size_t wire_build_udp(uint8_t *f, uint16_t sport, uint16_t dport, const uint8_t *data, size_t len)
{
	uint8_t *u = f + 34;
	net_put16(u, sport);
	net_put16(u + 2, dport);
	net_put16(u + 4, (uint16_t)(8 + len));
	net_put16(u + 6, 0);
	memcpy(u + 8, data, len);
	uint32_t sum = net_checksum_pseudo(WIRE_IP_B, WIRE_IP_A, 17, 8 + len);
	net_put16(u + 6, net_checksum_finish(net_checksum_add(sum, u, 8 + len)));
	return wire_build_ipv4(f, WIRE_IP_B, WIRE_IP_A, 17, 2, 0, NULL, 8 + len);
}

int wire_captured_tcp(const struct test_wire *w, int n, struct wire_tcp *out)
{
	for (int i = 0; i < w->captured; i++) {
		const uint8_t *f = w->capture[i].data;
		if (w->capture[i].len < 54 || net_get16(f + 12) != 0x0800 || f[23] != 6)
			continue;
		if (n-- > 0)
			continue;
		const uint8_t *t = f + 14 + (f[14] & 0xf) * 4;
		size_t iplen = net_get16(f + 16);
		size_t hlen = (size_t)(t[12] >> 4) * 4;
		out->sport = net_get16(t);
		out->dport = net_get16(t + 2);
		out->seq = net_get32(t + 4);
		out->ack = net_get32(t + 8);
		out->flags = t[13];
		out->wnd = net_get16(t + 14);
		out->mss = 0;
		out->ws = 0xff;
		out->sack_ok = 0;
		out->sack_blocks = 0;
		for (size_t o = 20; o < hlen;) {
			if (t[o] == 0)
				break;
			if (t[o] == 1) {
				o++;
				continue;
			}
			if (t[o] == 2)
				out->mss = net_get16(t + o + 2);
			if (t[o] == 3)
				out->ws = t[o + 2];
			if (t[o] == 4)
				out->sack_ok = 1;
			if (t[o] == 5)
				for (int b = 0; b < (t[o + 1] - 2) / 8 && b < 4; b++) {
					out->sack[b][0] = net_get32(t + o + 2 + 8 * b);
					out->sack[b][1] = net_get32(t + o + 6 + 8 * b);
					out->sack_blocks = (uint8_t)(b + 1);
				}
			o += t[o + 1];
		}
		out->data = t + hlen;
		out->len = iplen - (size_t)(f[14] & 0xf) * 4 - hlen;
		return 0;
	}
	return -1;
}

int wire_count_captured_tcp(const struct test_wire *w)
{
	struct wire_tcp t;
	int n = 0;
	while (wire_captured_tcp(w, n, &t) == 0)
		n++;
	return n;
}
