/* bench_node.h — one network node of the benchmark, whichever stack runs it. */
#ifndef BENCH_NODE_H
#define BENCH_NODE_H

#include <stddef.h>
#include <stdint.h>

typedef int bench_tx_fn(void *ctx, const uint8_t *frame, size_t len);

struct bench_node_ops {
	const char *name;
	/* One connection per node: a listener (sink or echo) or a client. */
	void *(*create)(const uint8_t mac[6], uint32_t ip, bench_tx_fn *tx, void *ctx);
	void (*input)(void *node, const uint8_t *frame, size_t len);
	void (*poll)(void *node);
	int (*listen)(void *node, uint16_t port, int echo);
	int (*connect)(void *node, uint32_t ip, uint16_t port);
	int (*connected)(void *node);
	size_t (*send)(void *node, const void *data, size_t len);
	size_t (*received)(void *node);
};

/* bench_net.c: the shared clock (ms) */
extern uint64_t bench_now_ms;

#endif
