/*
 * Memory a device reads and writes by DMA, for the control domain.
 *
 * Domain 0 on Xen/ARM is mapped 1:1 (its guest-physical addresses are the
 * machine addresses) and the runtime's MMU maps RAM 1:1 too, so a pointer
 * into RAM is the bus address a device needs. RAM is mapped cacheable:
 * the device does not snoop the CPU's data cache on these SoCs, so
 * whoever hands a buffer to the device cleans it first (the CPU's writes
 * reach memory), and whoever takes a buffer back invalidates it (the CPU
 * does not read stale or speculatively fetched lines). QEMU does not
 * model caches: mistakes here only show on real boards.
 */
#include <stdint.h>

#include "runtime.h"
#include "../arch/arm32/arch.h"

/* Cortex-A7 and Cortex-A15: 64-byte lines. CTR could say; this is the
 * largest on the cores we run on, and a larger step is only slower. */
#define CACHE_LINE 64u

void *dma_alloc_pages(size_t count, uintptr_t *bus_address)
{
	void *pages = page_alloc(count);
	if (pages && bus_address)
		*bus_address = (uintptr_t)pages;
	return pages;
}

void dma_clean(const void *start, size_t len)
{
	uintptr_t line = (uintptr_t)start & ~(uintptr_t)(CACHE_LINE - 1);
	for (; line < (uintptr_t)start + len; line += CACHE_LINE)
		__asm__ volatile("mcr p15, 0, %0, c7, c10, 1" ::"r"(line) : "memory"); /* DCCMVAC */
	arch_dsb();
}

void dma_invalidate(const void *start, size_t len)
{
	/* Callers keep DMA buffers line-aligned, so no partial line holds CPU
	 * data that invalidating would lose; clean+invalidate makes that safe
	 * even if one did. */
	uintptr_t line = (uintptr_t)start & ~(uintptr_t)(CACHE_LINE - 1);
	for (; line < (uintptr_t)start + len; line += CACHE_LINE)
		__asm__ volatile("mcr p15, 0, %0, c7, c14, 1" ::"r"(line)
				 : "memory"); /* DCCIMVAC */
	arch_dsb();
}
