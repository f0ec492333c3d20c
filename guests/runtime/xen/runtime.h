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

/* net.c: the virtual NICs described in the device tree (flotilla_net_*) */
void net_init(const void *dtb);
/* Before blocking: arm every receive ring; true if a frame is waiting. */
bool net_frames_pending(void);

/* memory.c: pages and the heap under malloc() */
void memory_init(const void *dtb, uintptr_t image_start, uintptr_t image_end);
void *page_alloc(size_t count);
void page_free(void *pages, size_t count);
void memory_stats(uintptr_t *base, size_t *total, size_t *used_pages, size_t *brk_bytes);

#endif
