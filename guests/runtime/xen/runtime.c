/*
 * Xen target: from arch start-up to the application, and back out through
 * SCHEDOP_shutdown.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "flotilla.h"
#include "hypercall.h"
#include "runtime.h"

static const void *devicetree;

const void *flotilla_devicetree(void)
{
	return devicetree;
}

void runtime_shutdown(unsigned reason)
{
	console_flush();
	struct sched_shutdown shutdown = {.reason = reason};
	for (;;)
		xen_sched_op(SCHEDOP_shutdown, &shutdown);
}

void runtime_crash(void)
{
	runtime_shutdown(SHUTDOWN_crash);
}

void flotilla_exit(int status)
{
	runtime_shutdown(status == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}

/* Generic timer: CNTVCT counts from this domain's creation (Xen sets
 * CNTVOFF); CNTFRQ is what firmware programmed (24 MHz on Allwinner). */
static uint32_t counter_frequency;

static uint64_t read_cntvct(void)
{
	uint32_t low, high;
	__asm__ volatile("isb; mrrc p15, 1, %0, %1, c14" : "=r"(low), "=r"(high));
	return ((uint64_t)high << 32) | low;
}

uint64_t flotilla_clock_monotonic(void)
{
	uint64_t ticks = read_cntvct();
	/* Split to avoid overflowing 64 bits: ticks * 1e9 overflows after ~12 min at 24 MHz. */
	return (ticks / counter_frequency) * 1000000000ull +
	       (ticks % counter_frequency) * 1000000000ull / counter_frequency;
}

uint64_t flotilla_clock_wall(void)
{
	return flotilla_clock_monotonic();
}

bool flotilla_yield(uint64_t deadline)
{
	(void)deadline;
	xen_sched_op(SCHEDOP_block, NULL);
	return true;
}

void arch_irq(void)
{
}

void runtime_start(void *dtb, int ram_banks)
{
	devicetree = dtb;
	__asm__ volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(counter_frequency));
	if (counter_frequency == 0)
		counter_frequency = 24000000;
	console_init(dtb);
	if (ram_banks == 0)
		printf("runtime: warning: no memory node in the device tree; only the image is cached\n");

	struct flotilla_start_info info = {.bootargs = ""};
	int chosen = fdt_path_offset(dtb, "/chosen");
	if (chosen >= 0) {
		const char *args = fdt_getprop(dtb, chosen, "bootargs", NULL);
		if (args)
			info.bootargs = args;
	}
	flotilla_exit(flotilla_main(&info));
}
