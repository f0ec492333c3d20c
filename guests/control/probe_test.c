/*
 * The probe's boot-time test hook (probe_test.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#include "ctlnet.h"
#include "probe.h"
#include "probe_test.h"
#include "supervisor.h"

_Static_assert(PROBE_TEXT_MAX == BOOT_BUNDLE_PROBE_MAX, "probe.h and boot_bundle.h disagree");

enum step { WAITING, GATING, REPEATING, DONE };

static struct probe_test {
	char name[BOOT_BUNDLE_NAME_MAX + 1];
	char probe_text[BOOT_BUNDLE_PROBE_MAX + 1];
	uint32_t ipv4;
	uint32_t window_ms;
	enum step step;
	struct probe_spec spec;
	unsigned repeats;
	uint32_t repeat_ms[PROBE_TEST_REPEAT];
	struct probe_gate gate;
	struct probe probe;
} tests[PROBE_TEST_GUESTS];
static int test_count;

uint32_t probe_test_static_ipv4(const char *bootargs)
{
	for (const char *p = bootargs; (p = strstr(p, "ip=")) != NULL; p += 3) {
		if (p != bootargs && p[-1] != ' ')
			continue;
		uint32_t addr = 0;
		const char *q = p + 3;
		for (int i = 0; i < 4; i++) {
			char *end;
			unsigned long part = strtoul(q, &end, 10);
			if (end == q || part > 255 || (i < 3 && *end != '.'))
				return 0;
			addr = addr << 8 | (uint32_t)part;
			q = end + 1;
		}
		return addr;
	}
	return 0;
}

void probe_test_setup(const char *bootargs, const struct boot_entry *entries, int count)
{
	const char *list = strstr(bootargs, "probe_test=");
	if (!list)
		return;
	list += strlen("probe_test=");
	size_t len = strcspn(list, " ");
	for (int i = 0; i < count && test_count < PROBE_TEST_GUESTS; i++) {
		const struct boot_entry *e = &entries[i];
		size_t name_len = strlen(e->name);
		bool named = false;
		for (const char *p = list; p < list + len; p += strcspn(p, ", ") + 1)
			named |= strncmp(p, e->name, name_len) == 0 &&
				 (p[name_len] == ',' || p[name_len] == ' ' || p[name_len] == '\0');
		if (!named || (e->flags & BOOT_ENTRY_TEST_UPDATE))
			continue;
		struct probe_test *t = &tests[test_count++];
		memcpy(t->name, e->name, sizeof(t->name));
		memcpy(t->probe_text, e->probe, sizeof(t->probe_text));
		t->ipv4 = probe_test_static_ipv4(e->bootargs);
		t->window_ms = e->ready_timeout_s * 1000u;
		printf("control: probe_test: %s: probe \"%s\", ready timeout %u s\n", t->name,
		       t->probe_text, (unsigned)e->ready_timeout_s);
	}
}

/* The verdict is printed once; the hook is then done with the guest. */
static void done(struct probe_test *t)
{
	fflush(stdout);
	t->step = DONE;
}

/* Start the gate's window: the guest runs and the control domain has an address. */
static bool ready_to_start(struct probe_test *t)
{
	const struct guest *g = supervisor_find(t->name);
	if (!g || g->state != GUEST_RUNNING || ctlnet_ipv4() == 0)
		return false;
	struct probe_spec spec;
	const char *why = "";
	if (probe_parse(t->probe_text, &spec, &why) != 0) {
		printf("control: probe %s: failed: %s\n", t->name, why);
		done(t);
		return false;
	}
	if (spec.kind == PROBE_NONE) {
		printf(
		    "control: probe %s: no probe in its plan entry (the gate is flotilla_ready() "
		    "alone)\n",
		    t->name);
		done(t);
		return false;
	}
	if (t->ipv4 == 0) {
		printf(
		    "control: probe %s: failed: its address is unknown (no static ip= in its plan "
		    "boot arguments)\n",
		    t->name);
		done(t);
		return false;
	}
	t->spec = spec;
	return true;
}

/* A guest that passed: probed PROBE_TEST_REPEAT times more, back to back,
 * for the latency of a probe of a guest that serves (the first pays for
 * ARP on both sides). */
static void repeat(struct probe_test *t)
{
	if (t->step == REPEATING) {
		enum probe_state state = probe_poll(&t->probe);
		if (state == PROBE_RUNNING)
			return;
		if (state == PROBE_FAILED) {
			printf("control: probe %s: again: failed: %s\n", t->name, t->probe.reason);
			done(t);
			return;
		}
		t->repeat_ms[t->repeats++] = t->probe.latency_ms;
	}
	if (t->repeats == PROBE_TEST_REPEAT) {
		printf("control: probe %s: again %u times: passed in", t->name, t->repeats);
		for (unsigned i = 0; i < t->repeats; i++)
			printf(" %" PRIu32, t->repeat_ms[i]);
		printf(" ms\n");
		done(t);
		return;
	}
	probe_start(&t->probe, &t->spec, t->ipv4, PROBE_TEST_REPEAT_TIMEOUT_MS);
	t->step = REPEATING;
}

/* Once every verdict is in: the stack's counters that explain a slow probe
 * (a lost ARP or SYN costs a 1 s retry). */
static void print_counters(void)
{
	static const enum net_counter_id ids[] = {
	    NET_CNT_ARP_TX,         NET_CNT_ARP_QUEUE_FULL, NET_CNT_ARP_QUEUE_DROP,
	    NET_CNT_TCP_RETRANSMIT, NET_CNT_TCP_RTO,        NET_CNT_TCP_CONNECTED,
	};
	struct net_stack *stack = ctlnet_stack();
	if (!stack)
		return;
	printf("control: probe_test: done; stack");
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		printf(" %s=%" PRIu32, net_counter_name(ids[i]), net_counter(stack, ids[i]));
	printf("\n");
}

uint64_t probe_test_poll(void)
{
	static bool counted;
	uint64_t deadline = UINT64_MAX;
	int finished = 0;
	for (int i = 0; i < test_count; i++) {
		struct probe_test *t = &tests[i];
		if (t->step == WAITING && ready_to_start(t)) {
			probe_gate_start(&t->gate, &t->spec, t->ipv4, t->window_ms);
			t->step = GATING;
		}
		if (t->step == GATING) {
			enum probe_state state = probe_gate_poll(&t->gate);
			if (state == PROBE_PASSED) {
				printf("control: probe %s: passed in %" PRIu32
				       " ms (attempt %u, %" PRIu32 " ms after it started)\n",
				       t->name, t->gate.latency_ms, t->gate.attempts,
				       t->gate.elapsed_ms);
				fflush(stdout);
				repeat(t);
			} else if (state == PROBE_FAILED) {
				printf("control: probe %s: failed: %s (%u attempts in %" PRIu32
				       " ms)\n",
				       t->name, t->gate.reason, t->gate.attempts,
				       t->gate.elapsed_ms);
				done(t);
			}
		}
		if (t->step == REPEATING)
			repeat(t);
		uint64_t next = t->step == GATING      ? probe_gate_deadline_ms(&t->gate)
				: t->step == REPEATING ? probe_deadline_ms(&t->probe)
						       : UINT64_MAX;
		if (next != UINT64_MAX && next * 1000000u < deadline)
			deadline = next * 1000000u;
		finished += t->step == DONE;
	}
	if (test_count && finished == test_count && !counted) {
		counted = true;
		print_counters();
	}
	return deadline;
}
