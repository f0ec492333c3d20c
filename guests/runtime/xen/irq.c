/*
 * Device interrupts (SPIs) for the domain that owns devices: the control
 * domain, Xen's domain 0. Xen routes a device's physical interrupt to the
 * domain given the device and injects it through the virtual GIC at the
 * same interrupt number; the domain enables it in the (virtual)
 * distributor whose address its device tree gives - the host GIC's
 * addresses for domain 0, 0x03001000 for a domU.
 *
 * Handlers run in interrupt context (events.c's arch_irq(), IRQs masked):
 * they must only quiet the device (so that a level-triggered line drops
 * before the EOI) and record work, then call events_wake_application() so
 * the main loop's flotilla_yield() returns and does the work there.
 */
#include <stdio.h>

#include "devicetree.h"

#include "runtime.h"

#define GICD_ISENABLER  0x100
#define GICD_ICENABLER  0x180
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR  0x800
#define GICD_ICFGR      0xc00

#define IRQ_FIRST_SPI 32
#define IRQ_MAX       256 /* interrupt ids accepted (H3: 157 SPIs + 32) */
/* Handlers at once: a few devices per domain. A small table rather than one
 * slot per id keeps every image (guests link this file too) 4 KiB smaller. */
#define IRQ_HANDLERS_MAX 8

static struct irq_slot {
	unsigned irq;
	irq_handler_t handler; /* NULL: free */
	void *arg;
	unsigned long long count;
} irq_table[IRQ_HANDLERS_MAX];

static struct irq_slot *find_slot(unsigned irq)
{
	for (unsigned i = 0; i < IRQ_HANDLERS_MAX; i++)
		if (irq_table[i].handler && irq_table[i].irq == irq)
			return &irq_table[i];
	return NULL;
}

static inline void dist_write32(volatile uint8_t *dist, unsigned offset, uint32_t value)
{
	*(volatile uint32_t *)(dist + offset) = value;
}

int irq_from_devicetree(const void *dtb, int node, int index)
{
	int len;
	const fdt32_t *cells = fdt_getprop(dtb, node, "interrupts", &len);
	if (!cells || len < (index + 1) * 12)
		return -1;
	uint32_t type = fdt32_to_cpu(cells[index * 3]);
	uint32_t number = fdt32_to_cpu(cells[index * 3 + 1]);
	if (type == 0) /* GIC_SPI */
		return (int)number + IRQ_FIRST_SPI;
	if (type == 1) /* GIC_PPI */
		return (int)number + 16;
	return -1;
}

int irq_register(unsigned irq, irq_handler_t handler, void *arg)
{
	volatile uint8_t *dist = events_gic_distributor();
	if (!dist || irq < IRQ_FIRST_SPI || irq >= IRQ_MAX || !handler)
		return -1;
	struct irq_slot *slot = find_slot(irq);
	for (unsigned i = 0; i < IRQ_HANDLERS_MAX && !slot; i++)
		if (!irq_table[i].handler)
			slot = &irq_table[i];
	if (!slot)
		return -1;
	slot->irq = irq;
	slot->handler = handler;
	slot->arg = arg;
	/* Byte accesses to IPRIORITYR and ITARGETSR are architected (GICv2). */
	dist[GICD_IPRIORITYR + irq] = 0xa0;
	dist[GICD_ITARGETSR + irq] = 1; /* vCPU 0: the runtime runs on one */
	dist_write32(dist, GICD_ISENABLER + irq / 32 * 4, 1u << (irq % 32));
	return 0;
}

void irq_unregister(unsigned irq)
{
	volatile uint8_t *dist = events_gic_distributor();
	if (!dist || irq < IRQ_FIRST_SPI || irq >= IRQ_MAX)
		return;
	dist_write32(dist, GICD_ICENABLER + irq / 32 * 4, 1u << (irq % 32));
	struct irq_slot *slot = find_slot(irq);
	if (slot)
		slot->handler = NULL;
}

bool irq_dispatch(unsigned irq)
{
	struct irq_slot *slot = find_slot(irq);
	if (!slot)
		return false;
	slot->count++;
	slot->handler(irq, slot->arg);
	return true;
}

unsigned long long irq_count(unsigned irq)
{
	struct irq_slot *slot = find_slot(irq);
	return slot ? slot->count : 0;
}
