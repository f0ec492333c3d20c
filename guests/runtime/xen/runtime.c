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
#include "../arch/arm32/arch.h"

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

#define APPLICATION_STACK_PAGES 4 /* 16 KiB */

static void run_application(void *arg)
{
	struct flotilla_start_info *info = arg;
	flotilla_exit(flotilla_main(info));
}

void runtime_start(void *dtb, int ram_banks)
{
	extern const char _image_end[];
	devicetree = dtb;
	console_init(dtb);
	if (ram_banks == 0)
		printf("runtime: warning: no memory node in the device tree; only the image is "
		       "cached\n");
	memory_init(dtb, arch_load_address, (uintptr_t)_image_end);
	events_init(dtb);
	net_init(dtb);

	struct flotilla_start_info info = {.bootargs = ""};
	int chosen = fdt_path_offset(dtb, "/chosen");
	if (chosen >= 0) {
		const char *args = fdt_getprop(dtb, chosen, "bootargs", NULL);
		if (args)
			info.bootargs = args;
	}
	size_t used_pages, brk_bytes;
	memory_stats(&info.heap_start, &info.heap_size, &used_pages, &brk_bytes);
	static struct flotilla_start_info start_info;
	start_info = info;
	uint8_t *stack = page_alloc(APPLICATION_STACK_PAGES);
	if (!stack) {
		printf("runtime: error: no memory for the application stack\n");
		runtime_crash();
	}
	arch_run_on_stack(stack + APPLICATION_STACK_PAGES * 4096, run_application, &start_info);
}
