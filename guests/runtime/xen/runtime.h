/*
 * Internal interface of the Xen target, grouped by defining file.
 */
#ifndef FLOTILLA_XEN_RUNTIME_H
#define FLOTILLA_XEN_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

/* runtime.c: start-up and shutdown */
void runtime_start(void *dtb, int ram_banks) __attribute__((noreturn));
void runtime_crash(void) __attribute__((noreturn));
void runtime_shutdown(unsigned reason) __attribute__((noreturn));

/* console.c: console backends (Xen console hypercall or vpl011) */
void console_init(const void *dtb);
void console_flush(void);
const char *console_backend_name(void);

/* events.c: GIC, virtual timer, event channels, waiting */
typedef void (*event_handler_t)(evtchn_port_t port, void *arg);
void events_init(const void *dtb);
int events_bind(evtchn_port_t port, event_handler_t handler, void *arg);
void events_unbind(evtchn_port_t port);
void events_mask(evtchn_port_t port);
void events_unmask(evtchn_port_t port);
int events_notify(evtchn_port_t port);
void events_wake_application(void);
unsigned long long events_interrupt_count(void);
uint64_t runtime_counter(void);
uint64_t runtime_ticks_to_ns(uint64_t ticks);
/* The GIC distributor (virtual for a domU, the host's addresses for dom0). */
volatile uint8_t *events_gic_distributor(void);

/* irq.c: device interrupts (SPIs), for the domain that owns devices */
typedef void (*irq_handler_t)(unsigned irq, void *arg);
/* GIC interrupt id of the node's interrupts entry `index` (<type number flags>), or -1. */
int irq_from_devicetree(const void *dtb, int node, int index);
/* Enable an SPI and route it to handler (interrupt context: quiet the device,
 * record the work, events_wake_application()). 0 or -1. */
int irq_register(unsigned irq, irq_handler_t handler, void *arg);
void irq_unregister(unsigned irq);
/* Called by events.c for an interrupt it does not handle itself. */
bool irq_dispatch(unsigned irq);
unsigned long long irq_count(unsigned irq);

/* dma.c: memory shared with devices (1:1 bus addresses, cache maintenance) */
void *dma_alloc_pages(size_t count, uintptr_t *bus_address);
/* Before the device reads what the CPU wrote. */
void dma_clean(const void *start, size_t len);
/* Before the CPU reads what the device wrote (and before giving it a buffer). */
void dma_invalidate(const void *start, size_t len);

/* net.c: the virtual NICs described in the device tree (flotilla_net_*) */
void net_init(const void *dtb);
/* Before blocking: arm every receive ring; true if a frame is waiting. */
bool net_frames_pending(void);

/* memory.c: pages and the heap under malloc() */
void memory_init(const void *dtb, uintptr_t image_start, uintptr_t image_end);
void *page_alloc(size_t count);
void page_free(void *pages, size_t count);
void memory_stats(uintptr_t *base, size_t *total, size_t *used_pages, size_t *brk_bytes);
/* The most heap ever in use: malloc's break plus the peak of page_alloc(). */
size_t memory_high_water(void);

#endif
