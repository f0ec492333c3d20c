/*
 * MMU set-up: a flat 1:1 map of the 4 GiB address space with 1 MiB
 * short-descriptor sections. RAM banks named by the device tree's memory
 * nodes are Normal write-back write-allocate, shareable, so that memory
 * shared with Xen or another domain is cacheable as the other side expects
 * (QEMU does not model caches: a wrong attribute here only shows on real
 * boards). Everything else is shareable Device memory, never executable.
 *
 * Runs with the MMU off: every memory access is Strongly-ordered until
 * SCTLR.M is set, so this file and libfdt are compiled without unaligned
 * accesses.
 */
#include <stdint.h>

#include <libfdt.h>

#include "arch.h"

#define SECTION_SHIFT 20
#define SECTIONS 4096u

#define SECT_TYPE 0x2u
#define SECT_B (1u << 2)
#define SECT_C (1u << 3)
#define SECT_XN (1u << 4)
#define SECT_AP_RW (3u << 10)
#define SECT_TEX(x) ((uint32_t)(x) << 12)
#define SECT_S (1u << 16)

#define SECT_NORMAL (SECT_TYPE | SECT_AP_RW | SECT_TEX(1) | SECT_C | SECT_B | SECT_S)
#define SECT_DEVICE (SECT_TYPE | SECT_AP_RW | SECT_B | SECT_XN)

#define SCTLR_M (1u << 0)
#define SCTLR_A (1u << 1)
#define SCTLR_C (1u << 2)
#define SCTLR_Z (1u << 11)
#define SCTLR_I (1u << 12)
#define SCTLR_TRE (1u << 28)
#define SCTLR_AFE (1u << 29)

/* TTBR0 walk attributes: inner and outer write-back write-allocate, shareable. */
#define TTBR_IRGN_WBWA (1u << 6)
#define TTBR_RGN_WBWA (1u << 3)
#define TTBR_S (1u << 1)

static uint32_t translation_table[SECTIONS] __attribute__((aligned(16384)));

static uint64_t read_cells(const fdt32_t *cell, int count)
{
	uint64_t value = 0;
	for (int i = 0; i < count; i++)
		value = (value << 32) | fdt32_to_cpu(cell[i]);
	return value;
}

static void map_ram_bank(uint64_t base, uint64_t size)
{
	if (base >= (1ull << 32) || size == 0)
		return;
	uint64_t end = base + size;
	if (end > (1ull << 32))
		end = 1ull << 32;
	/* Round outwards: a partial section is still this domain's RAM where
	 * it is mapped at stage 2, and unmapped elsewhere. */
	uint32_t first = (uint32_t)(base >> SECTION_SHIFT);
	uint32_t last = (uint32_t)((end + (1u << SECTION_SHIFT) - 1) >> SECTION_SHIFT);
	for (uint32_t s = first; s < last && s < SECTIONS; s++)
		translation_table[s] = (s << SECTION_SHIFT) | SECT_NORMAL;
}

/* Returns the number of RAM banks mapped cacheable; 0 means the DTB named
 * none and only the image's own section is. */
static int map_memory_nodes(const void *dtb)
{
	int banks = 0;
	int address_cells = fdt_address_cells(dtb, 0);
	int size_cells = fdt_size_cells(dtb, 0);
	if (address_cells < 1 || address_cells > 2 || size_cells < 1 || size_cells > 2)
		return 0;
	int node = -1;
	while ((node = fdt_node_offset_by_prop_value(dtb, node, "device_type", "memory",
						     sizeof("memory"))) >= 0) {
		int len;
		const fdt32_t *reg = fdt_getprop(dtb, node, "reg", &len);
		if (!reg)
			continue;
		int stride = address_cells + size_cells;
		for (int i = 0; (i + stride) * 4 <= len; i += stride) {
			map_ram_bank(read_cells(reg + i, address_cells),
				     read_cells(reg + i + address_cells, size_cells));
			banks++;
		}
	}
	return banks;
}

int mmu_init(const void *dtb)
{
	for (uint32_t s = 0; s < SECTIONS; s++)
		translation_table[s] = (s << SECTION_SHIFT) | SECT_DEVICE;
	int banks = 0;
	if (fdt_check_header(dtb) == 0)
		banks = map_memory_nodes(dtb);
	/* Whatever the DTB says, the image itself must stay executable. */
	map_ram_bank(arch_load_address, 1u << SECTION_SHIFT);

	uint32_t ttbr0 = (uint32_t)(uintptr_t)translation_table | TTBR_IRGN_WBWA | TTBR_RGN_WBWA | TTBR_S;
	__asm__ volatile("mcr p15, 0, %0, c2, c0, 2" ::"r"(0u));   /* TTBCR: TTBR0 only, short descriptors */
	__asm__ volatile("mcr p15, 0, %0, c2, c0, 0" ::"r"(ttbr0)); /* TTBR0 */
	__asm__ volatile("mcr p15, 0, %0, c3, c0, 0" ::"r"(1u));    /* DACR: domain 0 client */
	arch_dsb();
	__asm__ volatile("mcr p15, 0, %0, c8, c7, 0" ::"r"(0u)); /* TLBIALL */
	__asm__ volatile("mcr p15, 0, %0, c7, c5, 0" ::"r"(0u)); /* ICIALLU */
	__asm__ volatile("mcr p15, 0, %0, c7, c5, 6" ::"r"(0u)); /* BPIALL */
	arch_dsb();
	arch_isb();

	uint32_t sctlr;
	__asm__ volatile("mrc p15, 0, %0, c1, c0, 0" : "=r"(sctlr));
	sctlr |= SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_Z;
	sctlr &= ~(SCTLR_A | SCTLR_TRE | SCTLR_AFE);
	__asm__ volatile("mcr p15, 0, %0, c1, c0, 0" ::"r"(sctlr) : "memory");
	arch_isb();
	return banks;
}
