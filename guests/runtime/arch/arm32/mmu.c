/*
 * MMU set-up: a 1:1 map of the 4 GiB address space with LPAE long
 * descriptors. RAM banks named by the device tree's memory nodes are
 * Normal write-back write-allocate, inner shareable - memory shared with
 * Xen or another domain must be cacheable the way the other side maps it
 * (QEMU does not model caches: a wrong attribute here only shows on real
 * boards). Everything else is Device memory, never executable.
 *
 * LPAE rather than short descriptors keeps the tables small enough to
 * live inside the image (Xen copies only the file, so .bss is in it): a
 * 32-byte first level of four 1 GiB entries, and one 4 KiB second level
 * of 2 MiB blocks for the gigabyte that holds RAM. Both boards keep all
 * RAM in 0x40000000-0x7fffffff, as does Xen's guest memory map.
 *
 * Runs with the MMU off: every access is Strongly-ordered until SCTLR.M is
 * set, so this file and libfdt are compiled without unaligned accesses.
 */
#include <stddef.h>
#include <stdint.h>

#include "devicetree.h"

#include "arch.h"

#define GIB_SHIFT   30
#define BLOCK_SHIFT 21 /* 2 MiB */
#define L2_ENTRIES  512
#define L2_TABLES   1

#define DESC_BLOCK       0x1ull
#define DESC_TABLE       0x3ull
#define DESC_ATTR(index) ((uint64_t)(index) << 2)
#define DESC_SH_INNER    (3ull << 8)
#define DESC_AF          (1ull << 10)
#define DESC_PXN         (1ull << 53)
#define DESC_XN          (1ull << 54)

/* MAIR0: attribute 0 Normal WBWA inner/outer, attribute 1 Device. */
#define MAIR_NORMAL 0
#define MAIR_DEVICE 1
#define MAIR0_VALUE 0x000004ffu

#define BLOCK_NORMAL (DESC_BLOCK | DESC_ATTR(MAIR_NORMAL) | DESC_SH_INNER | DESC_AF)
#define BLOCK_DEVICE (DESC_BLOCK | DESC_ATTR(MAIR_DEVICE) | DESC_AF | DESC_XN | DESC_PXN)

#define TTBCR_EAE        (1u << 31)
#define TTBCR_EPD1       (1u << 23)
#define TTBCR_SH0_INNER  (3u << 12)
#define TTBCR_ORGN0_WBWA (1u << 10)
#define TTBCR_IRGN0_WBWA (1u << 8)

#define SCTLR_M   (1u << 0)
#define SCTLR_A   (1u << 1)
#define SCTLR_C   (1u << 2)
#define SCTLR_Z   (1u << 11)
#define SCTLR_I   (1u << 12)
#define SCTLR_TRE (1u << 28)

/* Second-level tables beyond the one in the image (for mmu_map_normal()
 * outside the RAM gigabyte, e.g. the control domain's foreign-mapping
 * window) come from the page allocator (xen/memory.c). */
void *page_alloc(size_t count);

static uint64_t level1[4] __attribute__((aligned(32)));
static uint64_t level2[L2_TABLES][L2_ENTRIES] __attribute__((aligned(4096)));
static int level2_used;
static int banks_unmapped;

/* The second-level table for a gigabyte, made on first use (all Device). */
static uint64_t *level2_for(unsigned gib)
{
	if ((level1[gib] & 3) == DESC_TABLE)
		return (uint64_t *)(uintptr_t)(level1[gib] & 0xfffff000ull);
	uint64_t *table;
	if (level2_used < L2_TABLES)
		table = level2[level2_used++];
	else if ((table = page_alloc(1)) == 0) /* after start-up only: NULL before */
		return 0;
	for (unsigned i = 0; i < L2_ENTRIES; i++)
		table[i] =
		    (((uint64_t)gib << GIB_SHIFT) + ((uint64_t)i << BLOCK_SHIFT)) | BLOCK_DEVICE;
	/* Break before make: a live 1 GiB block becomes a table. The valid
	 * bit is in the low word, written last. */
	volatile uint32_t *entry = (volatile uint32_t *)&level1[gib];
	entry[0] = 0;
	arch_dsb();
	__asm__ volatile("mcr p15, 0, %0, c8, c7, 0" ::"r"(0u)); /* TLBIALL */
	arch_dsb();
	entry[1] = 0;
	entry[0] = (uint32_t)(uintptr_t)table | (uint32_t)DESC_TABLE;
	arch_dsb();
	return table;
}

static void map_ram_bank(uint64_t base, uint64_t size)
{
	uint64_t end = base + size;
	if (end > (1ull << 32))
		end = 1ull << 32;
	/* Round outwards to 2 MiB: the rest of a partial block is not this
	 * domain's memory at stage 2, so it is never accessed through it. */
	for (uint64_t block = base >> BLOCK_SHIFT; (block << BLOCK_SHIFT) < end; block++) {
		unsigned gib = (unsigned)(block >> (GIB_SHIFT - BLOCK_SHIFT));
		uint64_t *table = level2_for(gib);
		if (!table) {
			banks_unmapped++; /* stays Device: correct, only slow */
			return;
		}
		table[block % L2_ENTRIES] = (block << BLOCK_SHIFT) | BLOCK_NORMAL;
	}
}

static void map_bank(uint64_t base, uint64_t size, void *arg)
{
	(void)arg;
	map_ram_bank(base, size);
}

int mmu_map_normal(uintptr_t base, size_t size)
{
	/* After start-up: changing live entries needs a TLB flush. */
	uint64_t start = base & ~((1ull << BLOCK_SHIFT) - 1);
	for (uint64_t block = start >> BLOCK_SHIFT; (block << BLOCK_SHIFT) < (uint64_t)base + size;
	     block++) {
		uint64_t *table = level2_for((unsigned)(block >> (GIB_SHIFT - BLOCK_SHIFT)));
		if (!table)
			return -1;
		/* Break before make: the memory type of a live entry changes. */
		table[block % L2_ENTRIES] = 0;
		arch_dsb();
		__asm__ volatile("mcr p15, 0, %0, c8, c7, 0" ::"r"(0u)); /* TLBIALL */
		arch_dsb();
		table[block % L2_ENTRIES] = (block << BLOCK_SHIFT) | BLOCK_NORMAL;
	}
	arch_dsb();
	__asm__ volatile("mcr p15, 0, %0, c8, c7, 0" ::"r"(0u)); /* TLBIALL */
	arch_dsb();
	arch_isb();
	return 0;
}

int mmu_banks_unmapped(void)
{
	return banks_unmapped;
}

int mmu_init(const void *dtb)
{
	for (unsigned gib = 0; gib < 4; gib++)
		level1[gib] = ((uint64_t)gib << GIB_SHIFT) | BLOCK_DEVICE;
	/* The image must stay executable whatever the DTB says. */
	map_ram_bank(arch_load_address & ~((1u << BLOCK_SHIFT) - 1), 1u << BLOCK_SHIFT);
	int banks = fdt_check_header(dtb) == 0 ? dt_for_each_memory_bank(dtb, map_bank, NULL) : 0;

	/*
	 * Everything so far (relocations, .bss, these tables) was written with
	 * the caches off, straight to memory. Xen only cleaned the image when it
	 * loaded it, so the cache may still hold the old lines: invalidate them,
	 * or the first cached reads - table walks included - could see them.
	 */
	extern const char _image_end[];
	for (uintptr_t line = arch_load_address & ~63u; line < (uintptr_t)_image_end; line += 64)
		__asm__ volatile("mcr p15, 0, %0, c7, c6, 1" ::"r"(line)); /* DCIMVAC */
	arch_dsb();

	uint32_t ttbcr =
	    TTBCR_EAE | TTBCR_EPD1 | TTBCR_SH0_INNER | TTBCR_ORGN0_WBWA | TTBCR_IRGN0_WBWA;
	uint64_t ttbr0 = (uint64_t)(uintptr_t)level1;
	__asm__ volatile("mcr p15, 0, %0, c10, c2, 0" ::"r"(MAIR0_VALUE));
	__asm__ volatile("mcr p15, 0, %0, c10, c2, 1" ::"r"(0u));
	__asm__ volatile("mcr p15, 0, %0, c2, c0, 2" ::"r"(ttbcr));
	__asm__ volatile("mcrr p15, 0, %Q0, %R0, c2" ::"r"(ttbr0));
	arch_dsb();
	__asm__ volatile("mcr p15, 0, %0, c8, c7, 0" ::"r"(0u)); /* TLBIALL */
	__asm__ volatile("mcr p15, 0, %0, c7, c5, 0" ::"r"(0u)); /* ICIALLU */
	__asm__ volatile("mcr p15, 0, %0, c7, c5, 6" ::"r"(0u)); /* BPIALL */
	arch_dsb();
	arch_isb();

	uint32_t sctlr;
	__asm__ volatile("mrc p15, 0, %0, c1, c0, 0" : "=r"(sctlr));
	sctlr |= SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_Z;
	sctlr &= ~(SCTLR_A | SCTLR_TRE);
	__asm__ volatile("mcr p15, 0, %0, c1, c0, 0" ::"r"(sctlr) : "memory");
	arch_isb();
	return banks;
}
