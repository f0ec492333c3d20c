/*
 * Events on Xen/ARM32: the GIC CPU interface, the virtual timer for
 * deadlines, event channels (2-level ABI over shared_info) delivered on
 * the PPI named by the device tree's /hypervisor node, and the
 * wait-for-event loop behind flotilla_yield().
 *
 * The runtime runs with IRQs masked. To wait it executes WFI, which Xen
 * traps and blocks on unless a virtual interrupt is already pending -
 * masked or not - so an interrupt that arrives between the last check and
 * the WFI is never lost. After waking it unmasks IRQs for an instant so
 * pending ones are handled, then masks them again.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "devicetree.h"

#include "flotilla.h"
#include "hypercall.h"
#include "runtime.h"
#include "../arch/arm32/arch.h"

#define GICD_CTLR       0x000
#define GICD_ISENABLER  0x100
#define GICD_IPRIORITYR 0x400
#define GICC_CTLR       0x000
#define GICC_PMR        0x004
#define GICC_IAR        0x00c
#define GICC_EOIR       0x010
#define GIC_SPURIOUS    1023

#define CNTV_CTL_ENABLE 1u
#define CNTV_CTL_IMASK  2u

#define EVENT_PORTS_MAX 128 /* the control domain: 16 guests x (console + 4 vNICs) + VIRQs */

static volatile uint8_t *gic_dist;
static volatile uint8_t *gic_cpu;
static unsigned timer_irq = 27;  /* virtual timer PPI 11 */
static unsigned evtchn_irq = 31; /* GUEST_EVTCHN_PPI, or from /hypervisor */
static uint32_t counter_frequency;

static shared_info_t *shared;

static struct {
	event_handler_t handler;
	void *arg;
} port_handlers[EVENT_PORTS_MAX];

/* Set by interrupt handlers; consumed by flotilla_yield(). */
static volatile bool wake_application;
static unsigned long long interrupts_handled;

static inline uint32_t mmio_read32(volatile uint8_t *base, unsigned offset)
{
	return *(volatile uint32_t *)(base + offset);
}

static inline void mmio_write32(volatile uint8_t *base, unsigned offset, uint32_t value)
{
	*(volatile uint32_t *)(base + offset) = value;
}

/* A PPI from a 3-cell GIC interrupt specifier <type number flags>. */
static int ppi_from_property(const void *dtb, int node, int index)
{
	int len;
	const fdt32_t *cells = fdt_getprop(dtb, node, "interrupts", &len);
	if (!cells || len < (index + 1) * 12)
		return -1;
	if (fdt32_to_cpu(cells[index * 3]) != 1) /* 1 = PPI */
		return -1;
	return (int)fdt32_to_cpu(cells[index * 3 + 1]) + 16;
}

static int gic_init(const void *dtb)
{
	static const char *const compatibles[] = {
	    "arm,gic-400",
	    "arm,cortex-a15-gic",
	    "arm,cortex-a7-gic",
	    "arm,cortex-a9-gic",
	};
	int node = -1;
	for (unsigned i = 0; i < sizeof(compatibles) / sizeof(compatibles[0]) && node < 0; i++)
		node = fdt_node_offset_by_compatible(dtb, -1, compatibles[i]);
	if (node < 0)
		return -1;
	uint64_t dist_base, cpu_base, size;
	if (dt_read_reg(dtb, node, 0, &dist_base, &size) != 0 ||
	    dt_read_reg(dtb, node, 1, &cpu_base, &size) != 0)
		return -1;
	gic_dist = (volatile uint8_t *)(uintptr_t)dist_base;
	gic_cpu = (volatile uint8_t *)(uintptr_t)cpu_base;
	mmio_write32(gic_cpu, GICC_PMR, 0xff);
	mmio_write32(gic_cpu, GICC_CTLR, 1);
	mmio_write32(gic_dist, GICD_CTLR, 1);
	return 0;
}

static void gic_enable_ppi(unsigned irq)
{
	volatile uint8_t *priority = gic_dist + GICD_IPRIORITYR + irq;
	*priority = 0xa0;
	mmio_write32(gic_dist, GICD_ISENABLER, 1u << irq);
}

static void timer_set(uint64_t ticks)
{
	__asm__ volatile("mcrr p15, 3, %Q0, %R0, c14" ::"r"(ticks));           /* CNTV_CVAL */
	__asm__ volatile("mcr p15, 0, %0, c14, c3, 1" ::"r"(CNTV_CTL_ENABLE)); /* CNTV_CTL */
	arch_isb();
}

static void timer_stop(void)
{
	__asm__ volatile("mcr p15, 0, %0, c14, c3, 1" ::"r"(0u));
	arch_isb();
}

uint64_t runtime_counter(void)
{
	uint32_t low, high;
	__asm__ volatile("isb; mrrc p15, 1, %0, %1, c14" : "=r"(low), "=r"(high));
	return ((uint64_t)high << 32) | low;
}

uint64_t runtime_ticks_to_ns(uint64_t ticks)
{
	/* Split so that ticks * 1e9 cannot overflow (it would after ~12 min). */
	return (ticks / counter_frequency) * 1000000000ull +
	       (ticks % counter_frequency) * 1000000000ull / counter_frequency;
}

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (ns / 1000000000ull) * counter_frequency +
	       (ns % 1000000000ull) * counter_frequency / 1000000000ull;
}

uint64_t flotilla_clock_monotonic(void)
{
	return runtime_ticks_to_ns(runtime_counter());
}

uint64_t flotilla_clock_wall(void)
{
	uint64_t base = 0;
	if (shared) {
		/* wc_* is the wall-clock time of Xen's boot; CNTPCT counts since
		 * about then. Without an RTC Xen leaves wc at 0. */
		uint32_t version;
		do {
			version = shared->wc_version;
			__asm__ volatile("dmb" ::: "memory");
			base =
			    ((uint64_t)shared->wc_sec_hi << 32 | shared->wc_sec) * 1000000000ull +
			    shared->wc_nsec;
			__asm__ volatile("dmb" ::: "memory");
		} while ((version & 1) || version != shared->wc_version);
	}
	uint32_t low, high;
	__asm__ volatile("isb; mrrc p15, 0, %0, %1, c14" : "=r"(low), "=r"(high)); /* CNTPCT */
	return base + runtime_ticks_to_ns(((uint64_t)high << 32) | low);
}

int events_bind(evtchn_port_t port, event_handler_t handler, void *arg)
{
	if (port >= EVENT_PORTS_MAX || !shared)
		return -1;
	port_handlers[port].handler = handler;
	port_handlers[port].arg = arg;
	events_unmask(port);
	return 0;
}

void events_unbind(evtchn_port_t port)
{
	if (port >= EVENT_PORTS_MAX)
		return;
	events_mask(port);
	port_handlers[port].handler = NULL;
}

void events_mask(evtchn_port_t port)
{
	if (!shared)
		return;
	__atomic_fetch_or(&shared->evtchn_mask[port / 64], 1ull << (port % 64), __ATOMIC_SEQ_CST);
}

void events_unmask(evtchn_port_t port)
{
	if (!shared)
		return;
	/*
	 * Let Xen clear the mask: it then re-raises the upcall if the port went
	 * pending while masked (bind_interdomain, for one, raises the new port
	 * at once). Clearing the bit here first would hide that from Xen and the
	 * event would stay pending, unseen, until some other event came.
	 */
	struct evtchn_unmask unmask = {.port = port};
	xen_event_channel_op(EVTCHNOP_unmask, &unmask);
}

int events_notify(evtchn_port_t port)
{
	struct evtchn_send send = {.port = port};
	return (int)xen_event_channel_op(EVTCHNOP_send, &send);
}

void events_wake_application(void)
{
	wake_application = true;
}

static void evtchn_dispatch(void)
{
	struct vcpu_info *vcpu = &shared->vcpu_info[0];
	vcpu->evtchn_upcall_pending = 0;
	__asm__ volatile("dmb" ::: "memory");
	xen_ulong_t selector = __atomic_exchange_n(&vcpu->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	while (selector) {
		unsigned word = (unsigned)__builtin_ctzll(selector);
		selector &= selector - 1;
		xen_ulong_t pending =
		    __atomic_load_n(&shared->evtchn_pending[word], __ATOMIC_SEQ_CST) &
		    ~__atomic_load_n(&shared->evtchn_mask[word], __ATOMIC_SEQ_CST);
		while (pending) {
			unsigned bit = (unsigned)__builtin_ctzll(pending);
			pending &= pending - 1;
			evtchn_port_t port = word * 64 + bit;
			__atomic_fetch_and(&shared->evtchn_pending[word], ~(1ull << bit),
					   __ATOMIC_SEQ_CST);
			if (port < EVENT_PORTS_MAX && port_handlers[port].handler)
				port_handlers[port].handler(port, port_handlers[port].arg);
			else
				wake_application = true;
		}
	}
}

void arch_irq(void)
{
	if (!gic_cpu)
		return;
	uint32_t iar = mmio_read32(gic_cpu, GICC_IAR);
	unsigned irq = iar & 0x3ff;
	if (irq == GIC_SPURIOUS)
		return;
	interrupts_handled++;
	if (irq == timer_irq) {
		/* Level-triggered: stop it before EOI or it fires again at once. */
		timer_stop();
	} else if (irq == evtchn_irq && shared) {
		evtchn_dispatch();
	} else {
		irq_dispatch(irq); /* device interrupts (irq.c) */
	}
	mmio_write32(gic_cpu, GICC_EOIR, iar);
}

/* Let pending interrupts in, then mask them again. */
static void take_pending_interrupts(void)
{
	arch_irq_enable();
	arch_isb();
	__asm__ volatile("nop; nop" ::: "memory");
	arch_irq_disable();
}

bool flotilla_yield(uint64_t deadline)
{
	for (;;) {
		take_pending_interrupts();
		if (wake_application) {
			wake_application = false;
			return true;
		}
		/* A frame already waiting (the application stopped reading
		 * before the ring was empty) is an event; arming the rings
		 * also makes sure the next frame notifies us. */
		if (net_frames_pending())
			return true;
		uint64_t now = runtime_counter();
		uint64_t deadline_ticks =
		    deadline == UINT64_MAX ? UINT64_MAX : ns_to_ticks(deadline);
		if (now >= deadline_ticks) {
			timer_stop();
			return false;
		}
		if (deadline_ticks != UINT64_MAX)
			timer_set(deadline_ticks);
		else
			timer_stop();
		/* Trapped by Xen: blocks this vCPU unless an interrupt is pending. */
		__asm__ volatile("dsb; wfi" ::: "memory");
	}
}

void events_init(const void *dtb)
{
	__asm__ volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(counter_frequency));
	if (counter_frequency == 0)
		counter_frequency = 24000000;

	int timer = fdt_node_offset_by_compatible(dtb, -1, "arm,armv7-timer");
	if (timer >= 0 && ppi_from_property(dtb, timer, 2) > 0)
		timer_irq = (unsigned)ppi_from_property(dtb, timer, 2);
	int hypervisor = fdt_node_offset_by_compatible(dtb, -1, "xen,xen");
	if (hypervisor >= 0 && ppi_from_property(dtb, hypervisor, 0) > 0)
		evtchn_irq = (unsigned)ppi_from_property(dtb, hypervisor, 0);

	if (gic_init(dtb) != 0) {
		printf("runtime: warning: no GIC in the device tree: deadlines only, no events\n");
		return;
	}
	gic_enable_ppi(timer_irq);

	/* Xen's shared_info replaces one of our RAM pages in our physical map. */
	void *page = page_alloc(1);
	if (!page) {
		printf("runtime: warning: no page for shared_info: no event channels\n");
		return;
	}
	struct xen_add_to_physmap map = {
	    .domid = DOMID_SELF,
	    .space = XENMAPSPACE_shared_info,
	    .idx = 0,
	    .gpfn = (xen_pfn_t)((uintptr_t)page >> 12),
	};
	long rc = xen_memory_op(XENMEM_add_to_physmap, &map);
	if (rc != 0) {
		printf("runtime: warning: cannot map shared_info (%ld): no event channels\n", rc);
		return;
	}
	shared = (shared_info_t *)page;
	/* Start with every port masked; events_bind() unmasks the ones in use. */
	for (unsigned i = 0; i < sizeof(shared->evtchn_mask) / sizeof(shared->evtchn_mask[0]); i++)
		shared->evtchn_mask[i] = ~(xen_ulong_t)0;
	gic_enable_ppi(evtchn_irq);
}

volatile uint8_t *events_gic_distributor(void)
{
	return gic_dist;
}

unsigned long long events_interrupt_count(void)
{
	return interrupts_handled;
}
