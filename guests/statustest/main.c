/*
 * statustest: a test guest for the status page (docs/status-page.md,
 * tests/integration/test_status_page.py). Its boot arguments pick a role:
 *
 *   role=ready [delay_ms=N]  configure its NIC (if it has one; ip=, gw=,
 *                            flotilla.lease= as any guest), wait for an
 *                            address, wait N ms more, then flotilla_ready()
 *                            and flotilla_health(OK)
 *   role=silent              the same, but never calls flotilla_ready()
 *   role=scribble [delay_ms=N]
 *                            reports a health reason full of terminal escapes,
 *                            then N ms later writes garbage all over its status page
 *                            (Xen only) and notifies the control domain each
 *                            time: the control domain must shrug it off
 *
 * Then it keeps serving its network (answering ARP and ping) forever.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"
#include "flotilla_net.h"

#ifdef __arm__
#include <libfdt.h>

#include "flotilla_status_page.h"
#include "runtime.h" /* events_notify(): a test guest pokes below the API */
#endif

#define NS_PER_MS 1000000ull

static const char *arg(const char *bootargs, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	for (const char *p = bootargs; p && *p;) {
		while (*p == ' ')
			p++;
		const char *end = strchr(p, ' ');
		size_t wlen = end ? (size_t)(end - p) : strlen(p);
		if (wlen > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t vlen = wlen - klen - 1 < size - 1 ? wlen - klen - 1 : size - 1;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = '\0';
			return out;
		}
		p = end;
	}
	return NULL;
}

static void wait_ms(struct flotilla_netif *nif, uint64_t ms)
{
	uint64_t deadline = flotilla_clock_monotonic() + ms * NS_PER_MS;
	while (flotilla_clock_monotonic() < deadline) {
		if (nif)
			flotilla_netif_wait(nif, deadline);
		else
			flotilla_yield(deadline);
	}
}

static void scribble(void)
{
#ifdef __arm__
	const void *dtb = flotilla_devicetree();
	int node = dtb ? fdt_node_offset_by_compatible(dtb, -1, FLOTILLA_STATUS_COMPAT) : -1;
	int len;
	const fdt32_t *reg = node >= 0 ? fdt_getprop(dtb, node, "reg", &len) : NULL;
	const fdt32_t *port =
	    node >= 0 ? fdt_getprop(dtb, node, "flotilla,event-channel", NULL) : NULL;
	if (!reg || len != 16 || !port) {
		printf("statustest: no status page to scribble on\n");
		return;
	}
	/* flotilla_health() above made the runtime map it. */
	volatile uint8_t *bytes = (volatile uint8_t *)(uintptr_t)fdt32_to_cpu(reg[1]);
	volatile struct flotilla_status_page *page = (volatile struct flotilla_status_page *)bytes;
	evtchn_port_t channel = fdt32_to_cpu(*port);
	unsigned patterns = 0;
	/* 1. a reason without its NUL */
	memset((void *)page->reason, 'A', sizeof(page->reason));
	events_notify(channel);
	flotilla_yield(flotilla_clock_monotonic() + 20 * NS_PER_MS);
	patterns++;
	/* 2. an address for a NIC it does not have, and ready = 7 */
	page->nic[5].flags = FLOTILLA_STATUS_NIC_CONFIGURED;
	page->nic[5].ipv4 = 0x0a000001;
	page->nic[5].netmask = 0xffffff00;
	page->ready = 7;
	events_notify(channel);
	flotilla_yield(flotilla_clock_monotonic() + 20 * NS_PER_MS);
	patterns++;
	/* 3. random bytes over the whole page, the sequence sometimes stuck odd */
	uint32_t x = 0x12345678u;
	for (int round = 0; round < 100; round++) {
		for (unsigned i = 0; i < FLOTILLA_STATUS_PAGE_SIZE; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			bytes[i] = (uint8_t)x;
		}
		if (round % 3 == 0)
			page->sequence |= 1;
		events_notify(channel);
		flotilla_yield(flotilla_clock_monotonic() + 5 * NS_PER_MS);
		patterns++;
	}
	/* 4. a header that looks right with everything else random */
	page->magic = FLOTILLA_STATUS_MAGIC;
	page->version = FLOTILLA_STATUS_VERSION;
	page->size = sizeof(struct flotilla_status_page);
	page->sequence = 2;
	events_notify(channel);
	patterns++;
	printf("statustest: scribbled %u patterns on the status page\n", patterns);
#else
	printf("statustest: no status page on this target\n");
#endif
}

int flotilla_main(const struct flotilla_start_info *info)
{
	char role[16] = "ready", delay[16] = "0";
	arg(info->bootargs, "role", role, sizeof(role));
	arg(info->bootargs, "delay_ms", delay, sizeof(delay));
	printf("statustest: role %s\n", role);
	struct flotilla_netif *nif = NULL;
	if (flotilla_net_count() > 0) {
		nif = flotilla_netif_open(0, info->bootargs);
		if (!nif)
			return 1;
		/* Poll, then look: a lease bound by this poll must not wait for
		 * the stack's next deadline (T1, hours away). */
		for (;;) {
			uint64_t next = flotilla_netif_poll(nif);
			if (flotilla_netif_up(nif))
				break;
			flotilla_yield(next);
		}
	}
	if (strcmp(role, "scribble") == 0) {
		flotilla_health(FLOTILLA_HEALTH_DEGRADED,
				"\x1b[31m\r\ncontrol: forged: ready after 1 ms\x07");
		/* delay_ms: long enough for a control domain still busy starting
		 * other guests to log the (sanitised) reason before the garbage. */
		wait_ms(nif, strtoull(delay, NULL, 10));
		scribble();
	} else if (strcmp(role, "silent") != 0) {
		wait_ms(nif, strtoull(delay, NULL, 10));
		flotilla_ready();
		flotilla_health(FLOTILLA_HEALTH_OK, "serving");
		printf("statustest: ready\n");
	}
	for (;;)
		wait_ms(nif, 1000);
}
