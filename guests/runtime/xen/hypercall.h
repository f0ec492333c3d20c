/*
 * Xen hypercall numbers and thin typed wrappers. The numbers and structures
 * come from Xen's public headers (Debian's libxen-dev, /usr/include/xen).
 */
#ifndef FLOTILLA_XEN_HYPERCALL_H
#define FLOTILLA_XEN_HYPERCALL_H

#include <stdint.h>

#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/event_channel.h>
#include <xen/memory.h>

/* hypercall.S */
long xen_hypercall(unsigned op, unsigned long a0, unsigned long a1, unsigned long a2,
		   unsigned long a3, unsigned long a4);

static inline long xen_console_write(const char *text, unsigned len)
{
	return xen_hypercall(__HYPERVISOR_console_io, CONSOLEIO_write, len, (unsigned long)text, 0,
			     0);
}

static inline long xen_sched_op(int cmd, void *arg)
{
	return xen_hypercall(__HYPERVISOR_sched_op, (unsigned long)cmd, (unsigned long)arg, 0, 0,
			     0);
}

static inline long xen_version(int cmd, void *arg)
{
	return xen_hypercall(__HYPERVISOR_xen_version, (unsigned long)cmd, (unsigned long)arg, 0, 0,
			     0);
}

static inline long xen_event_channel_op(int cmd, void *arg)
{
	return xen_hypercall(__HYPERVISOR_event_channel_op, (unsigned long)cmd, (unsigned long)arg,
			     0, 0, 0);
}

static inline long xen_memory_op(int cmd, void *arg)
{
	return xen_hypercall(__HYPERVISOR_memory_op, (unsigned long)cmd, (unsigned long)arg, 0, 0,
			     0);
}

#endif
