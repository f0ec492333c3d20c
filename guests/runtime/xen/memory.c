/*
 * Memory: a page allocator over the free RAM of the bank that holds the
 * image, and sbrk() for picolibc's malloc on top of it.
 *
 * Free RAM is the largest gap in that bank once the image, the device
 * tree and an initrd (if any) are taken out. Pages are tracked in a bitmap
 * kept in the first pages of that gap (not in .bss, which is in the image);
 * sbrk() grows upwards from the bottom of the gap, page_alloc() takes runs
 * from the top, so the two meet only when memory is really exhausted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "devicetree.h"

#include "runtime.h"
#include "../arch/arm32/arch.h"

#define PAGE_SIZE 4096u

static uintptr_t heap_base;
static size_t heap_pages;
static uint32_t *page_used;
static uintptr_t brk_current; /* sbrk's break */
static size_t pages_in_use, pages_peak;

struct range {
	uint64_t start, end;
};

struct bank_search {
	uint64_t addr;
	struct range bank;
	bool found;
};

static void match_bank(uint64_t base, uint64_t size, void *arg)
{
	struct bank_search *search = arg;
	if (search->addr >= base && search->addr < base + size) {
		search->bank = (struct range){base, base + size};
		search->found = true;
	}
}

static uint64_t align_up(uint64_t v)
{
	return (v + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
}
static uint64_t align_down(uint64_t v)
{
	return v & ~(uint64_t)(PAGE_SIZE - 1);
}

void memory_init(const void *dtb, uintptr_t image_start, uintptr_t image_end)
{
	struct bank_search search = {.addr = image_start};
	dt_for_each_memory_bank(dtb, match_bank, &search);
	struct range bank = search.bank;
	if (!search.found) {
		printf("runtime: warning: the image is in no memory node: no heap\n");
		return;
	}
	struct range reserved[3] = {
	    {image_start, image_end},
	    {(uintptr_t)dtb, (uintptr_t)dtb + fdt_totalsize(dtb)},
	    {0, 0},
	};
	int chosen = fdt_path_offset(dtb, "/chosen");
	if (chosen >= 0) {
		bool has_start, has_end;
		uint64_t start = dt_read_u64(dtb, chosen, "linux,initrd-start", &has_start);
		uint64_t end = dt_read_u64(dtb, chosen, "linux,initrd-end", &has_end);
		if (has_start && has_end && end > start)
			reserved[2] = (struct range){start, end};
	}
	/* The largest gap in the bank between reserved ranges. */
	struct range best = {0, 0};
	uint64_t cursor = bank.start;
	for (;;) {
		uint64_t next_start = bank.end, next_end = bank.end;
		for (int i = 0; i < 3; i++) {
			if (reserved[i].end > cursor && reserved[i].start < next_start &&
			    reserved[i].end > reserved[i].start) {
				next_start =
				    reserved[i].start > cursor ? reserved[i].start : cursor;
				next_end = reserved[i].end;
			}
		}
		uint64_t gap_start = align_up(cursor), gap_end = align_down(next_start);
		if (gap_end > gap_start && gap_end - gap_start > best.end - best.start)
			best = (struct range){gap_start, gap_end};
		if (next_start >= bank.end)
			break;
		cursor = next_end;
	}
	size_t pages = (size_t)((best.end - best.start) / PAGE_SIZE);
	size_t bitmap_bytes = (pages + 31) / 32 * sizeof(uint32_t);
	size_t bitmap_pages = (bitmap_bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	if (pages <= bitmap_pages + 1) {
		printf("runtime: warning: no free RAM for a heap\n");
		return;
	}
	page_used = (uint32_t *)(uintptr_t)best.start;
	memset(page_used, 0, bitmap_pages * PAGE_SIZE);
	heap_base = (uintptr_t)best.start + bitmap_pages * PAGE_SIZE;
	heap_pages = pages - bitmap_pages;
	brk_current = heap_base;
}

static bool page_is_used(size_t i)
{
	return page_used[i / 32] & (1u << (i % 32));
}
static void page_mark(size_t i, bool used)
{
	if (used)
		page_used[i / 32] |= 1u << (i % 32);
	else
		page_used[i / 32] &= ~(1u << (i % 32));
}

void *page_alloc(size_t count)
{
	if (count == 0 || count > heap_pages)
		return NULL;
	size_t floor = (brk_current - heap_base + PAGE_SIZE - 1) / PAGE_SIZE;
	/* First fit from the top down. */
	size_t run = 0;
	for (size_t i = heap_pages; i-- > floor;) {
		run = page_is_used(i) ? 0 : run + 1;
		if (run == count) {
			for (size_t j = i; j < i + count; j++)
				page_mark(j, true);
			pages_in_use += count;
			if (pages_in_use > pages_peak)
				pages_peak = pages_in_use;
			void *p = (void *)(heap_base + i * PAGE_SIZE);
			memset(p, 0, count * PAGE_SIZE);
			return p;
		}
	}
	return NULL;
}

void page_free(void *pages, size_t count)
{
	if (!pages)
		return;
	size_t first = ((uintptr_t)pages - heap_base) / PAGE_SIZE;
	for (size_t j = first; j < first + count && j < heap_pages; j++)
		page_mark(j, false);
	pages_in_use -= count;
}

void memory_stats(uintptr_t *base, size_t *total, size_t *used_pages, size_t *brk_bytes)
{
	*base = heap_base;
	*total = heap_pages * PAGE_SIZE;
	*used_pages = pages_in_use;
	*brk_bytes = brk_current - heap_base;
}

size_t memory_high_water(void)
{
	/* malloc's break never shrinks: it is its own high-water mark. */
	return (brk_current - heap_base) + pages_peak * PAGE_SIZE;
}

void *sbrk(ptrdiff_t increment)
{
	uintptr_t old = brk_current;
	if (increment < 0) {
		errno = EINVAL; /* picolibc's malloc never shrinks the break */
		return (void *)-1;
	}
	uintptr_t new_brk = old + (uintptr_t)increment;
	size_t first = (old - heap_base) / PAGE_SIZE;
	size_t last = (new_brk - heap_base + PAGE_SIZE - 1) / PAGE_SIZE;
	if (new_brk < old || last > heap_pages) {
		errno = ENOMEM;
		return (void *)-1;
	}
	for (size_t i = first; i < last; i++) {
		if (page_is_used(i) && !(i == first && (old & (PAGE_SIZE - 1)))) {
			errno = ENOMEM; /* ran into pages from page_alloc() */
			return (void *)-1;
		}
	}
	for (size_t i = first; i < last; i++)
		page_mark(i, true);
	brk_current = new_brk;
	return (void *)old;
}
