/*
 * The guest's side of the status page shared with the control domain
 * (include/flotilla_status_page.h, docs/status-page.md): flotilla_ready(),
 * flotilla_health() and the network helper's addresses (lib/lease.h) are
 * written there under the sequence lock, then the control domain is
 * notified on the page's event channel. The control domain notifies the
 * same channel when it sets `drain` (flotilla_draining()): that wakes
 * flotilla_yield().
 *
 * The page is found on first use through the device tree's
 * "flotilla,status-page" node. A control domain that gives none (an older
 * one, or the control domain itself) makes every call a no-op.
 */
#include <stdio.h>
#include <string.h>

#include "devicetree.h"
#include "lease.h"

#include "flotilla.h"
#include "flotilla_status_page.h"
#include "runtime.h"
#include "../arch/arm32/arch.h"

static bool probed;
static struct flotilla_status_page *page;
static evtchn_port_t port;
static uint32_t sequence;

static void on_status_event(evtchn_port_t channel, void *arg)
{
	(void)channel;
	(void)arg;
	events_wake_application(); /* `drain` was set: flotilla_draining() */
}

static struct flotilla_status_page *attach(void)
{
	if (probed)
		return page;
	probed = true;
	const void *dtb = flotilla_devicetree();
	int node = dtb ? fdt_node_offset_by_compatible(dtb, -1, FLOTILLA_STATUS_COMPAT) : -1;
	if (node < 0)
		return NULL;
	uint64_t base, size;
	int len;
	const fdt32_t *channel = fdt_getprop(dtb, node, "flotilla,event-channel", &len);
	if (dt_read_reg(dtb, node, 0, &base, &size) != 0 || size < FLOTILLA_STATUS_PAGE_SIZE ||
	    base % FLOTILLA_STATUS_PAGE_SIZE || !channel || len != 4) {
		printf("runtime: warning: status page node unusable; readiness is not reported\n");
		return NULL;
	}
	/* Normal cacheable, as the control domain maps it. */
	if (mmu_map_normal((uintptr_t)base, FLOTILLA_STATUS_PAGE_SIZE) != 0) {
		printf("runtime: warning: cannot map the status page; readiness is not reported\n");
		return NULL;
	}
	struct flotilla_status_page *p = (struct flotilla_status_page *)(uintptr_t)base;
	if (p->magic != FLOTILLA_STATUS_MAGIC || p->version != FLOTILLA_STATUS_VERSION) {
		printf("runtime: warning: status page version %u unknown; readiness is not "
		       "reported\n",
		       (unsigned)p->version);
		return NULL;
	}
	port = fdt32_to_cpu(*channel);
	if (events_bind(port, on_status_event, NULL) != 0)
		printf("runtime: warning: no handler for the status page's channel; a drain is "
		       "seen only at the next wake-up\n");
	sequence = p->sequence & ~1u;
	page = p;
	return page;
}

/* Sequence lock, writer side: odd while writing. */
static void write_begin(void)
{
	sequence++;
	*(volatile uint32_t *)&page->sequence = sequence;
	__asm__ volatile("dmb" ::: "memory");
}

static void write_end(void)
{
	__asm__ volatile("dmb" ::: "memory");
	sequence++;
	*(volatile uint32_t *)&page->sequence = sequence;
	__asm__ volatile("dsb" ::: "memory");
	events_notify(port);
}

void flotilla_ready(void)
{
	if (!attach())
		return;
	write_begin();
	if (!page->ready)
		page->ready_ns = flotilla_clock_monotonic();
	page->ready = 1;
	page->ready_count++;
	write_end();
}

void flotilla_health(enum flotilla_health_status status, const char *reason)
{
	if (!attach())
		return;
	if ((unsigned)status > FLOTILLA_HEALTH_FAILED)
		status = FLOTILLA_HEALTH_FAILED;
	write_begin();
	page->health = (uint32_t)status;
	page->health_ns = flotilla_clock_monotonic();
	page->health_count++;
	memset(page->reason, 0, sizeof(page->reason));
	if (reason)
		strncpy(page->reason, reason, sizeof(page->reason) - 1);
	write_end();
}

bool flotilla_draining(void)
{
	return attach() && *(volatile uint32_t *)&page->drain == 1;
}

void runtime_report_address(unsigned interface, uint32_t flags, uint32_t addr, uint32_t netmask,
			    uint32_t gateway)
{
	if (interface >= FLOTILLA_STATUS_NICS || !attach())
		return;
	struct flotilla_status_nic *n = &page->nic[interface];
	write_begin();
	n->flags = addr ? flags | FLOTILLA_STATUS_NIC_CONFIGURED : 0;
	n->ipv4 = addr;
	n->netmask = addr ? netmask : 0;
	n->gateway = addr ? gateway : 0;
	page->address_changes++;
	write_end();
}

const char *runtime_net_label(unsigned interface)
{
	/* flotilla_net_* numbers the vNICs in device-tree order (xen/net.c). */
	const void *dtb = flotilla_devicetree();
	int node = -1;
	for (unsigned i = 0; dtb && i <= interface; i++)
		if ((node = fdt_node_offset_by_compatible(dtb, node, "flotilla,vnic-1")) < 0)
			return NULL;
	return dtb ? fdt_getprop(dtb, node, "label", NULL) : NULL;
}
