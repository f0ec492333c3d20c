/*
 * Device-tree helpers shared by the Xen target's start-up code (MMU, heap,
 * events) and the control domain. Safe to call with the MMU off (no
 * unaligned accesses: libfdt reads properties byte-wise).
 */
#ifndef FLOTILLA_DEVICETREE_H
#define FLOTILLA_DEVICETREE_H

#include <stdbool.h>
#include <stdint.h>

#include <libfdt.h>

/* devicetree.c */
/* A big-endian number of count (1 or 2) cells. */
uint64_t dt_read_cells(const fdt32_t *cell, int count);
/* A 32- or 64-bit property (like linux,initrd-start); *found says if it was there. */
uint64_t dt_read_u64(const void *dtb, int node, const char *name, bool *found);
/* reg entry index of node as (base, size), with the parent's cell counts. 0 or -1. */
int dt_read_reg(const void *dtb, int node, int index, uint64_t *base, uint64_t *size);
/* Calls visit for every RAM bank of every memory node; returns the bank count. */
int dt_for_each_memory_bank(const void *dtb, void (*visit)(uint64_t base, uint64_t size, void *arg),
			    void *arg);

#endif
