/*
 * Device-tree helpers (devicetree.h).
 */
#include "devicetree.h"

uint64_t dt_read_cells(const fdt32_t *cell, int count)
{
	uint64_t value = 0;
	for (int i = 0; i < count; i++)
		value = (value << 32) | fdt32_to_cpu(cell[i]);
	return value;
}

uint64_t dt_read_u64(const void *dtb, int node, const char *name, bool *found)
{
	int len;
	const fdt32_t *p = fdt_getprop(dtb, node, name, &len);
	bool ok = p && (len == 4 || len == 8);
	if (found)
		*found = ok;
	if (!ok)
		return 0;
	return dt_read_cells(p, len / 4);
}

int dt_read_reg(const void *dtb, int node, int index, uint64_t *base, uint64_t *size)
{
	int parent = fdt_parent_offset(dtb, node);
	if (parent < 0)
		return -1;
	int address_cells = fdt_address_cells(dtb, parent);
	int size_cells = fdt_size_cells(dtb, parent);
	if (address_cells < 1 || address_cells > 2 || size_cells < 0 || size_cells > 2)
		return -1;
	int len;
	const fdt32_t *reg = fdt_getprop(dtb, node, "reg", &len);
	int stride = address_cells + size_cells;
	if (!reg || index < 0 || (index + 1) * stride * 4 > len)
		return -1;
	*base = dt_read_cells(reg + index * stride, address_cells);
	*size = dt_read_cells(reg + index * stride + address_cells, size_cells);
	return 0;
}

int dt_for_each_memory_bank(const void *dtb, void (*visit)(uint64_t base, uint64_t size, void *arg),
			    void *arg)
{
	int banks = 0;
	int node = -1;
	while ((node = fdt_node_offset_by_prop_value(dtb, node, "device_type", "memory",
						     sizeof("memory"))) >= 0) {
		uint64_t base, size;
		for (int i = 0; dt_read_reg(dtb, node, i, &base, &size) == 0; i++) {
			visit(base, size, arg);
			banks++;
		}
	}
	return banks;
}
