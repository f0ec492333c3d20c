/*
 * Domain builder. The sequence is the one verified on Debian's Xen 4.17.5
 * armhf (docs/domain-building.md); every step checks what Xen really did,
 * because a release hypervisor answers mistakes with a bare -EINVAL, a
 * short count or a per-page error it does not report in the return value.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devicetree.h"

#include "builder.h"
#include "domain.h"
#include "vnic.h"
#include "gstatus.h"
#include "hypercall.h"
#include "runtime.h"
#include "../runtime/arch/arm32/arch.h"

#include <xen/domctl.h>

#define PAGE_SIZE            4096u
#define PAGE_SHIFT           12
#define GUEST_RAM_PFN        (GUEST_RAM0_BASE >> PAGE_SHIFT)
#define KERNEL_OFFSET        0x8000u    /* zImage placed at RAM + 32 KiB */
#define DTB_FROM_END         (2u << 20) /* device tree at RAM end - 2 MiB */
#define DTB_MAX              PAGE_SIZE
#define VUART_RING_PFN       ((GUEST_MAGIC_BASE >> PAGE_SHIFT) + 3)
#define EXTENT_ORDER         9 /* populate in 2 MiB extents */
#define WINDOW_CONSOLE_SLOTS 16

/*
 * The window in our own physical address space where guest pages are
 * mapped (builder.h: DOM_WINDOW_BASE). Its first DOM_WINDOW_BUILDER_PAGES
 * are ours: the console-ring slots at their end, the copy window before.
 */
static uintptr_t window_base;
static unsigned window_pages;
static unsigned copy_pages;
static uint32_t console_slots_used;

const char *const dom_build_phase_names[DOM_BUILD_PHASES] = {
    "create", "populate", "load", "console", "start",
};

int dom_builder_init(const void *dtb)
{
	(void)dtb;
	/* The status pages (gstatus.c) come first in our share of the window. */
	window_base = DOM_WINDOW_BASE + DOM_WINDOW_STATUS_PAGES * PAGE_SIZE;
	window_pages = DOM_WINDOW_BUILDER_PAGES - DOM_WINDOW_STATUS_PAGES;
	copy_pages = window_pages - WINDOW_CONSOLE_SLOTS;
	/* Foreign pages are RAM: map the window Normal, so memcpy may do what it likes. */
	return mmu_map_normal(DOM_WINDOW_BASE, DOM_WINDOW_SIZE) == 0 ? 0 : -ENOMEM;
}

int dom_map_foreign(uint16_t domid, uint64_t guest_pfn, uint64_t local_pfn, unsigned count)
{
	xen_ulong_t idxs[64];
	xen_pfn_t gpfns[64];
	int errs[64];
	if (count > 64)
		return -EINVAL;
	for (unsigned i = 0; i < count; i++) {
		idxs[i] = guest_pfn + i;
		gpfns[i] = local_pfn + i;
		errs[i] = -1;
	}
	struct xen_add_to_physmap_batch batch = {
	    .domid = DOMID_SELF,
	    .space = XENMAPSPACE_gmfn_foreign,
	    .size = (uint16_t)count,
	    .u.foreign_domid = domid,
	};
	set_xen_guest_handle(batch.idxs, idxs);
	set_xen_guest_handle(batch.gpfns, gpfns);
	set_xen_guest_handle(batch.errs, errs);
	long rc = xen_memory_op(XENMEM_add_to_physmap_batch, &batch);
	if (rc != 0)
		return (int)rc;
	/* Xen returns 0 even when pages failed: the truth is in errs[]. */
	for (unsigned i = 0; i < count; i++)
		if (errs[i] != 0)
			return errs[i];
	return 0;
}

/* *why for the helpers below: one line naming what failed, valid until the
 * next call (the control domain is single-threaded). */
static const char *reason(const char *format, const char *what)
{
	static char line[96];
	snprintf(line, sizeof(line), format, what);
	return line;
}

int dom_share_pages(uint16_t domid, uint64_t guest_pfn, uint64_t local_pfn, unsigned count,
		    const char *what, const char **why)
{
	static xen_pfn_t pfns[64];
	for (unsigned done = 0; done < count;) {
		unsigned chunk = count - done > 64 ? 64 : count - done;
		for (unsigned i = 0; i < chunk; i++)
			pfns[i] = guest_pfn + done + i;
		struct xen_memory_reservation reservation = {
		    .nr_extents = chunk, .extent_order = 0, .domid = domid};
		set_xen_guest_handle(reservation.extent_start, pfns);
		long rc = xen_memory_op(XENMEM_populate_physmap, &reservation);
		if (rc != (long)chunk) { /* a count, not a status */
			*why = reason("populate_physmap of the %s failed (out of memory?)", what);
			return rc < 0 ? (int)rc : -ENOMEM;
		}
		done += chunk;
	}
	for (unsigned done = 0; done < count;) {
		unsigned chunk = count - done > 64 ? 64 : count - done;
		int rc = dom_map_foreign(domid, guest_pfn + done, local_pfn + done, chunk);
		if (rc != 0) {
			dom_unmap_foreign(local_pfn, count);
			*why = reason("mapping the %s failed", what);
			return rc;
		}
		done += chunk;
	}
	return 0;
}

int dom_event_channel(uint16_t domid, void (*handler)(evtchn_port_t port, void *arg), void *arg,
		      evtchn_port_t *guest_port, evtchn_port_t *local_port, const char *what,
		      const char **why)
{
	struct evtchn_alloc_unbound alloc = {.dom = domid, .remote_dom = 0};
	int rc = xen_event_channel_op(EVTCHNOP_alloc_unbound, &alloc);
	if (rc != 0) {
		*why = reason("allocating the %s's event channel failed", what);
		return rc;
	}
	*guest_port = alloc.port;
	struct evtchn_bind_interdomain bind = {.remote_dom = domid, .remote_port = alloc.port};
	if ((rc = xen_event_channel_op(EVTCHNOP_bind_interdomain, &bind)) != 0) {
		*why = reason("binding the %s's event channel failed", what);
		return rc;
	}
	*local_port = bind.local_port;
	if (events_bind(bind.local_port, handler, arg) != 0) {
		*why = reason("no event handler slot for the %s's channel", what);
		return -ENOSPC;
	}
	return 0;
}

int dom_unmap_foreign(uint64_t local_pfn, unsigned count)
{
	int failures = 0;
	for (unsigned i = 0; i < count; i++) {
		struct xen_remove_from_physmap remove = {
		    .domid = DOMID_SELF,
		    .gpfn = local_pfn + i,
		};
		failures += xen_memory_op(XENMEM_remove_from_physmap, &remove) != 0;
	}
	return failures;
}

/* Map count guest frames starting at guest_pfn at window page first. */
static int map_foreign(uint16_t domid, uint64_t guest_pfn, unsigned first, unsigned count)
{
	return dom_map_foreign(domid, guest_pfn, (window_base >> PAGE_SHIFT) + first, count);
}

static int unmap_window(unsigned first, unsigned count)
{
	return dom_unmap_foreign((window_base >> PAGE_SHIFT) + first, count);
}

/* Clean our cache lines to the point of coherency: the guest starts with
 * its MMU and caches off and reads memory directly. */
static void clean_dcache(const void *start, size_t size)
{
	uintptr_t line = (uintptr_t)start & ~63u;
	for (; line < (uintptr_t)start + size; line += 64)
		__asm__ volatile("mcr p15, 0, %0, c7, c10, 1" ::"r"(line)); /* DCCMVAC */
	arch_dsb();
}

/* Copy data to guest physical address gpa, through the window; with a
 * reader, its bytes instead of data's. */
static int copy_to_guest(uint16_t domid, uint64_t gpa, const uint8_t *data, size_t size,
			 const struct dom_spec *reader)
{
	size_t done = 0;
	while (size > 0) {
		uint64_t pfn = gpa >> PAGE_SHIFT;
		size_t offset = (size_t)(gpa & (PAGE_SIZE - 1));
		unsigned pages = (unsigned)((offset + size + PAGE_SIZE - 1) / PAGE_SIZE);
		if (pages > copy_pages)
			pages = copy_pages;
		if (pages > 64)
			pages = 64;
		size_t chunk = pages * PAGE_SIZE - offset;
		if (chunk > size)
			chunk = size;
		int rc = map_foreign(domid, pfn, 0, pages);
		if (rc != 0) {
			unmap_window(0, pages);
			return rc;
		}
		uint8_t *dest = (uint8_t *)window_base + offset;
		if (reader)
			rc = reader->read(reader->read_ctx, done, dest, chunk) ? -EIO : 0;
		else
			memcpy(dest, data, chunk);
		clean_dcache(dest, chunk);
		unmap_window(0, pages);
		if (rc != 0)
			return rc;
		gpa += chunk;
		data += reader ? 0 : chunk;
		done += chunk;
		size -= chunk;
	}
	return 0;
}

/* The guest's device tree, written with libfdt's sequential writer. */
static int make_guest_dtb(void *buf, size_t size, const struct dom_spec *spec, uint64_t ram_size,
			  const struct dom_handle *handle)
{
	const uint32_t gic_phandle = 1;
	int rc = 0;
#define FDT(call)                                                                                  \
	do {                                                                                       \
		if (rc == 0)                                                                       \
			rc = (call);                                                               \
	} while (0)
	FDT(fdt_create(buf, (int)size));
	FDT(fdt_finish_reservemap(buf));
	FDT(fdt_begin_node(buf, ""));
	FDT(fdt_property_string(buf, "compatible", "xen,xenvm-4.17\0xen,xenvm"));
	FDT(fdt_property_cell(buf, "#address-cells", 2));
	FDT(fdt_property_cell(buf, "#size-cells", 2));
	FDT(fdt_property_cell(buf, "interrupt-parent", gic_phandle));

	FDT(fdt_begin_node(buf, "chosen"));
	FDT(fdt_property_string(buf, "bootargs", spec->bootargs ? spec->bootargs : ""));
	FDT(fdt_end_node(buf));

	FDT(fdt_begin_node(buf, "cpus"));
	FDT(fdt_property_cell(buf, "#address-cells", 1));
	FDT(fdt_property_cell(buf, "#size-cells", 0));
	for (unsigned cpu = 0; cpu < spec->vcpus; cpu++) {
		char name[16];
		snprintf(name, sizeof(name), "cpu@%u", cpu);
		FDT(fdt_begin_node(buf, name));
		FDT(fdt_property_string(buf, "device_type", "cpu"));
		FDT(fdt_property_string(buf, "compatible", "arm,cortex-a7"));
		FDT(fdt_property_string(buf, "enable-method", "psci"));
		FDT(fdt_property_cell(buf, "reg", cpu));
		FDT(fdt_end_node(buf));
	}
	FDT(fdt_end_node(buf));

	FDT(fdt_begin_node(buf, "psci"));
	static const char psci_compatible[] = "arm,psci-1.0\0arm,psci-0.2\0arm,psci";
	FDT(fdt_property(buf, "compatible", psci_compatible, sizeof(psci_compatible)));
	FDT(fdt_property_string(buf, "method", "hvc"));
	FDT(fdt_end_node(buf));

	char node[48];
	snprintf(node, sizeof(node), "memory@%llx", (unsigned long long)GUEST_RAM0_BASE);
	FDT(fdt_begin_node(buf, node));
	FDT(fdt_property_string(buf, "device_type", "memory"));
	fdt64_t memory_reg[2] = {cpu_to_fdt64(GUEST_RAM0_BASE), cpu_to_fdt64(ram_size)};
	FDT(fdt_property(buf, "reg", memory_reg, sizeof(memory_reg)));
	FDT(fdt_end_node(buf));

	snprintf(node, sizeof(node), "interrupt-controller@%llx",
		 (unsigned long long)GUEST_GICD_BASE);
	FDT(fdt_begin_node(buf, node));
	FDT(fdt_property_string(buf, "compatible", "arm,cortex-a15-gic"));
	FDT(fdt_property_cell(buf, "#interrupt-cells", 3));
	FDT(fdt_property_cell(buf, "#address-cells", 0));
	FDT(fdt_property(buf, "interrupt-controller", NULL, 0));
	fdt64_t gic_reg[4] = {cpu_to_fdt64(GUEST_GICD_BASE), cpu_to_fdt64(GUEST_GICD_SIZE),
			      cpu_to_fdt64(GUEST_GICC_BASE), cpu_to_fdt64(GUEST_GICC_SIZE)};
	FDT(fdt_property(buf, "reg", gic_reg, sizeof(gic_reg)));
	FDT(fdt_property_cell(buf, "phandle", gic_phandle));
	FDT(fdt_end_node(buf));

	/* PPIs: <1 n flags>, number = IRQ - 16; flags: all CPUs, level-low. */
	FDT(fdt_begin_node(buf, "timer"));
	FDT(fdt_property_string(buf, "compatible", "arm,armv7-timer"));
	fdt32_t timer_irqs[12];
	const unsigned timer_ppis[4] = {GUEST_TIMER_PHYS_S_PPI, GUEST_TIMER_PHYS_NS_PPI,
					GUEST_TIMER_VIRT_PPI, 26 /* hypervisor timer */};
	for (int i = 0; i < 4; i++) {
		timer_irqs[i * 3] = cpu_to_fdt32(1);
		timer_irqs[i * 3 + 1] = cpu_to_fdt32(timer_ppis[i] - 16);
		timer_irqs[i * 3 + 2] = cpu_to_fdt32(0xf08);
	}
	FDT(fdt_property(buf, "interrupts", timer_irqs, sizeof(timer_irqs)));
	FDT(fdt_end_node(buf));

	FDT(fdt_begin_node(buf, "hypervisor"));
	static const char xen_compatible[] = "xen,xen-4.17\0xen,xen";
	FDT(fdt_property(buf, "compatible", xen_compatible, sizeof(xen_compatible)));
	fdt64_t hv_reg[2] = {cpu_to_fdt64(GUEST_GNTTAB_BASE), cpu_to_fdt64(GUEST_GNTTAB_SIZE)};
	FDT(fdt_property(buf, "reg", hv_reg, sizeof(hv_reg)));
	fdt32_t hv_irq[3] = {cpu_to_fdt32(1), cpu_to_fdt32(GUEST_EVTCHN_PPI - 16),
			     cpu_to_fdt32(0xf08)};
	FDT(fdt_property(buf, "interrupts", hv_irq, sizeof(hv_irq)));
	FDT(fdt_end_node(buf));

	snprintf(node, sizeof(node), "sbsa-uart@%llx", (unsigned long long)GUEST_PL011_BASE);
	FDT(fdt_begin_node(buf, node));
	FDT(fdt_property_string(buf, "compatible", "arm,sbsa-uart"));
	fdt64_t uart_reg[2] = {cpu_to_fdt64(GUEST_PL011_BASE), cpu_to_fdt64(GUEST_PL011_SIZE)};
	FDT(fdt_property(buf, "reg", uart_reg, sizeof(uart_reg)));
	fdt32_t uart_irq[3] = {cpu_to_fdt32(0), cpu_to_fdt32(GUEST_VPL011_SPI - 32),
			       cpu_to_fdt32(4)};
	FDT(fdt_property(buf, "interrupts", uart_irq, sizeof(uart_irq)));
	FDT(fdt_property_cell(buf, "current-speed", 115200));
	FDT(fdt_end_node(buf));

	FDT(vnic_device_tree(buf, handle)); /* /flotilla/vnic@N */

	/* /flotilla-status@ADDR: the status page (docs/status-page.md) */
	FDT(gstatus_device_tree(buf, handle));

	FDT(fdt_end_node(buf));
	FDT(fdt_finish(buf));
#undef FDT
	return rc;
}

static int zimage_entry(const struct dom_spec *spec, uint64_t *load, uint64_t *entry)
{
	const uint8_t *k = spec->kernel;
	uint8_t header[0x30];
	if (spec->kernel_size < 0x30)
		return -EINVAL;
	if (spec->read) {
		if (spec->read(spec->read_ctx, 0, header, sizeof(header)) != 0)
			return -EIO;
		k = header;
	}
	uint32_t magic, start, end;
	memcpy(&magic, k + 0x24, 4);
	memcpy(&start, k + 0x28, 4);
	memcpy(&end, k + 0x2c, 4);
	if (magic != 0x016f2818 || end <= start || end - start > spec->kernel_size)
		return -EINVAL;
	*load = start ? start : GUEST_RAM0_BASE + KERNEL_OFFSET;
	*entry = *load;
	return 0;
}

static const char *fail(const char **error, const char *why)
{
	if (error)
		*error = why;
	return why;
}

int dom_build(const struct dom_spec *spec, struct dom_handle *handle, const char **error)
{
	memset(handle, 0, sizeof(*handle));
	handle->build_started = runtime_counter();
	uint64_t ram_size = (uint64_t)spec->memory_mb << 20;
	uint64_t kernel_load, entry;
	if (!window_base)
		return fail(error, "builder not initialised (no /hypervisor window)"), -ENODEV;
	if (spec->memory_mb < DOM_MEMORY_MB_MIN || spec->memory_mb > DOM_MEMORY_MB_MAX ||
	    spec->memory_mb % 2 || spec->vcpus < 1 || spec->vcpus > DOM_VCPUS_MAX)
		return fail(error, "memory or vCPUs outside the builder's limits (builder.h)"),
		       -EINVAL;
	if (zimage_entry(spec, &kernel_load, &entry) != 0)
		return fail(error, "not an ARM zImage (magic 0x016f2818 at 0x24)"), -EINVAL;
	uint64_t dtb_addr = GUEST_RAM0_BASE + ram_size - DTB_FROM_END;
	if (kernel_load < GUEST_RAM0_BASE || kernel_load + spec->kernel_size > dtb_addr)
		return fail(error, "kernel does not fit below the device tree"), -E2BIG;
	if (spec->nic_count > DOM_NICS_MAX || (spec->nic_count && spec->memory_mb > 1020))
		return fail(error, "too many vNICs (or no room for their rings above 1020 MiB)"),
		       -EINVAL;
	if (console_slots_used == (1u << WINDOW_CONSOLE_SLOTS) - 1)
		return fail(error, "too many guests (no console slot)"), -ENOSPC;

	struct xen_domctl op;
	memset(&op, 0, sizeof(op));
	op.cmd = XEN_DOMCTL_createdomain;
	op.domain = 0; /* Xen picks the id */
	struct xen_domctl_createdomain *create = &op.u.createdomain;
	create->flags = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap;
	create->max_vcpus = spec->vcpus;
	create->max_evtchn_port = 1023;
	create->max_grant_frames = 64;
	create->max_maptrack_frames = 1024;
	create->grant_opts = XEN_DOMCTL_GRANT_version(1);
	create->arch.gic_version = XEN_DOMCTL_CONFIG_GIC_NATIVE;
	create->arch.tee_type = XEN_DOMCTL_CONFIG_TEE_NONE;
	create->arch.nr_spis = GUEST_VPL011_SPI - 32 + 1;
	long created = dom_domctl(&op);
	if (created != 0)
		return fail(error, "createdomain failed (out of memory or domain ids?)"),
		       (int)created;
	uint16_t domid = op.domain;
	handle->domid = domid;
	const char *why = NULL;
	long rc;

	memset(&op, 0, sizeof(op));
	op.cmd = XEN_DOMCTL_max_vcpus; /* still needed in 4.17: allocates the vCPUs */
	op.domain = domid;
	op.u.max_vcpus.max = spec->vcpus;
	if ((rc = dom_domctl(&op)) != 0) {
		why = "max_vcpus failed";
		goto failed;
	}

	memset(&op, 0, sizeof(op));
	op.cmd = XEN_DOMCTL_set_paging_mempool_size; /* libxl's formula; default 16 pages stalls
							populate */
	op.domain = domid;
	uint64_t pool_kb = (uint64_t)DOM_PAGING_POOL_KB_PER_VCPU * spec->vcpus +
			   (uint64_t)DOM_PAGING_POOL_KB_PER_MB * spec->memory_mb +
			   DOM_PAGING_POOL_KB_FIXED;
	op.u.paging_mempool.size = pool_kb * 1024;
	if ((rc = dom_domctl(&op)) != 0) {
		why = "set_paging_mempool_size failed";
		goto failed;
	}

	memset(&op, 0, sizeof(op));
	op.cmd = XEN_DOMCTL_max_mem;
	op.domain = domid;
	op.u.max_mem.max_memkb =
	    (uint64_t)spec->memory_mb * 1024 + 1024 + vnic_guest_pages(spec->nic_count) * 4;
	op.u.max_mem.max_memkb += GSTATUS_GUEST_PAGES * 4; /* the status page */
	if ((rc = dom_domctl(&op)) != 0) {
		why = "max_mem failed";
		goto failed;
	}

	if (spec->pcpu_mask) {
		/* Pinning (the plan's pcpus): keeps guests off the control
		 * domain's CPU, so a guest never delays its own console backend. */
		for (unsigned vcpu = 0; vcpu < spec->vcpus; vcpu++) {
			uint8_t hard[4] = {
			    (uint8_t)spec->pcpu_mask, (uint8_t)(spec->pcpu_mask >> 8),
			    (uint8_t)(spec->pcpu_mask >> 16), (uint8_t)(spec->pcpu_mask >> 24)};
			uint8_t soft[4] = {0xff, 0xff, 0xff, 0xff};
			memset(&op, 0, sizeof(op));
			op.cmd = XEN_DOMCTL_setvcpuaffinity;
			op.domain = domid;
			op.u.vcpuaffinity.vcpu = vcpu;
			op.u.vcpuaffinity.flags = XEN_VCPUAFFINITY_HARD;
			set_xen_guest_handle(op.u.vcpuaffinity.cpumap_hard.bitmap, hard);
			op.u.vcpuaffinity.cpumap_hard.nr_bits = 32;
			set_xen_guest_handle(op.u.vcpuaffinity.cpumap_soft.bitmap, soft);
			op.u.vcpuaffinity.cpumap_soft.nr_bits = 32;
			if ((rc = dom_domctl(&op)) != 0) {
				why = "setvcpuaffinity failed (pcpus names no online CPU?)";
				goto failed;
			}
		}
	}
	handle->phase_end[DOM_PHASE_CREATE] = runtime_counter();
	/* RAM in 2 MiB extents, then the vpl011 ring page. */
	{
		static xen_pfn_t extents[512];
		unsigned count = spec->memory_mb / 2;
		if (count > sizeof(extents) / sizeof(extents[0])) {
			why = "too much memory for one guest";
			rc = -E2BIG;
			goto failed;
		}
		for (unsigned i = 0; i < count; i++)
			extents[i] = GUEST_RAM_PFN + ((xen_pfn_t)i << EXTENT_ORDER);
		struct xen_memory_reservation reservation = {
		    .nr_extents = count, .extent_order = EXTENT_ORDER, .domid = domid};
		set_xen_guest_handle(reservation.extent_start, extents);
		rc = xen_memory_op(XENMEM_populate_physmap, &reservation);
		if (rc != (long)count) { /* a count, not a status */
			why = "populate_physmap gave fewer extents than asked (out of memory?)";
			goto failed;
		}
		xen_pfn_t ring_pfn = VUART_RING_PFN;
		struct xen_memory_reservation ring = {
		    .nr_extents = 1, .extent_order = 0, .domid = domid};
		set_xen_guest_handle(ring.extent_start, &ring_pfn);
		if ((rc = xen_memory_op(XENMEM_populate_physmap, &ring)) != 1) {
			why = "populate_physmap of the console ring failed";
			goto failed;
		}
	}

	/* vNIC rings just above the RAM the device tree describes, mapped
	 * here too; their event channels; their switch ports. */
	if ((rc = vnic_build(handle, spec, GUEST_RAM0_BASE + ram_size, &why)) != 0)
		goto failed;
	/* The status page just above the rings (docs/status-page.md). */
	if ((rc = gstatus_build(handle,
				GUEST_RAM0_BASE + ram_size +
				    vnic_guest_pages(spec->nic_count) * (uint64_t)PAGE_SIZE,
				&why)) != 0)
		goto failed;
	gstatus_name(handle, spec);

	handle->phase_end[DOM_PHASE_POPULATE] = runtime_counter();
	if ((rc = copy_to_guest(domid, kernel_load, spec->kernel, spec->kernel_size,
				spec->read ? spec : NULL)) != 0) {
		why = spec->read ? "reading the kernel failed (see above)"
				 : "copying the kernel failed";
		goto failed;
	}
	{
		static uint8_t dtb[DTB_MAX] __attribute__((aligned(8)));
		if ((rc = make_guest_dtb(dtb, sizeof(dtb), spec, ram_size, handle)) != 0) {
			why = "device tree does not fit";
			goto failed;
		}
		if ((rc = copy_to_guest(domid, dtb_addr, dtb, fdt_totalsize(dtb), NULL)) != 0) {
			why = "copying the device tree failed";
			goto failed;
		}
	}

	/* Only what was written: Xen 4.17 cannot preempt a cacheflush. */
	{
		const uint64_t ranges[2][2] = {
		    {kernel_load >> PAGE_SHIFT,
		     (kernel_load + spec->kernel_size + PAGE_SIZE - 1) >> PAGE_SHIFT},
		    {dtb_addr >> PAGE_SHIFT, (dtb_addr + DTB_MAX) >> PAGE_SHIFT},
		};
		for (int r = 0; r < 2; r++) {
			memset(&op, 0, sizeof(op));
			op.cmd = XEN_DOMCTL_cacheflush;
			op.domain = domid;
			op.u.cacheflush.start_pfn = ranges[r][0];
			op.u.cacheflush.nr_pfns = ranges[r][1] - ranges[r][0];
			if ((rc = dom_domctl(&op)) != 0) {
				why = "cacheflush failed";
				goto failed;
			}
		}
	}

	handle->phase_end[DOM_PHASE_LOAD] = runtime_counter();
	/* Console: keep the ring mapped in a slot of our window for the backend. */
	{
		unsigned slot = 0;
		while (console_slots_used & (1u << slot))
			slot++;
		if ((rc = map_foreign(domid, VUART_RING_PFN, copy_pages + slot, 1)) != 0) {
			unmap_window(copy_pages + slot, 1);
			why = "mapping the console ring failed";
			goto failed;
		}
		console_slots_used |= 1u << slot;
		handle->console_slot = slot + 1; /* 0 = none */
		handle->console =
		    (struct xencons_interface *)(window_base +
						 (size_t)(copy_pages + slot) * PAGE_SIZE);
		memset(handle->console, 0, PAGE_SIZE);

		memset(&op, 0, sizeof(op));
		op.cmd = XEN_DOMCTL_vuart_op;
		op.domain = domid;
		op.u.vuart_op.cmd = XEN_DOMCTL_VUART_OP_INIT;
		op.u.vuart_op.type = XEN_DOMCTL_VUART_TYPE_VPL011;
		op.u.vuart_op.gfn = VUART_RING_PFN;
		op.u.vuart_op.console_domid = 0;
		if ((rc = dom_domctl(&op)) != 0) {
			why = "vuart_op INIT failed";
			goto failed;
		}
		struct evtchn_bind_interdomain bind = {.remote_dom = domid,
						       .remote_port = op.u.vuart_op.evtchn};
		if ((rc = xen_event_channel_op(EVTCHNOP_bind_interdomain, &bind)) != 0) {
			why = "binding the console event channel failed";
			goto failed;
		}
		handle->console_port = bind.local_port;
	}

	handle->phase_end[DOM_PHASE_CONSOLE] = runtime_counter();
	{
		static vcpu_guest_context_t context;
		memset(&context, 0, sizeof(context));
		context.user_regs.pc32 = (uint32_t)entry;
		context.user_regs.r0_usr = 0;
		context.user_regs.r1_usr = 0xffffffff; /* no machine type: device tree boot */
		context.user_regs.r2_usr = (uint32_t)dtb_addr;
		context.user_regs.cpsr = PSR_GUEST32_INIT;
		context.sctlr = SCTLR_GUEST_INIT;
		context.flags = VGCF_online;
		memset(&op, 0, sizeof(op));
		op.cmd = XEN_DOMCTL_setvcpucontext;
		op.domain = domid;
		op.u.vcpucontext.vcpu = 0;
		set_xen_guest_handle(op.u.vcpucontext.ctxt, &context);
		if ((rc = dom_domctl(&op)) != 0) {
			why = "setvcpucontext failed";
			goto failed;
		}
	}

	memset(&op, 0, sizeof(op));
	op.cmd = XEN_DOMCTL_unpausedomain;
	op.domain = domid;
	if ((rc = dom_domctl(&op)) != 0) {
		why = "unpause failed";
		goto failed;
	}
	handle->build_finished = runtime_counter();
	handle->phase_end[DOM_PHASE_START] = handle->build_finished;
	return 0;

failed:
	fail(error, why);
	dom_destroy(handle);
	return rc < 0 ? (int)rc : -EINVAL;
}

int dom_destroy(struct dom_handle *handle)
{
	if (!handle->domid)
		return 0;
	/* Unmap first: a page still mapped here leaves a zombie "dying" domain. */
	vnic_destroy(handle);
	gstatus_destroy(handle);
	if (handle->console_slot) {
		unsigned slot = handle->console_slot - 1;
		if (unmap_window(copy_pages + slot, 1) != 0)
			printf("control: d%u: console ring would not unmap\n", handle->domid);
		console_slots_used &= ~(1u << slot);
		handle->console_slot = 0;
		handle->console = NULL;
	}
	if (handle->console_port) {
		events_unbind(handle->console_port);
		struct evtchn_close close = {.port = handle->console_port};
		xen_event_channel_op(EVTCHNOP_close, &close); /* else a port leaks per cycle */
		handle->console_port = 0;
	}
	struct xen_domctl op;
	long rc;
	do {
		memset(&op, 0, sizeof(op));
		op.cmd = XEN_DOMCTL_destroydomain;
		op.domain = handle->domid;
		rc = dom_domctl(&op);
	} while (rc == -EAGAIN);
	if (rc != 0 && rc != -ESRCH)
		return (int)rc;
	/* Wait until the domain is really gone (its memory back with Xen). */
	struct dom_info info;
	for (int tries = 0; tries < 10000 && dom_getinfo(handle->domid, &info) == 0; tries++)
		xen_sched_op(SCHEDOP_yield, NULL);
	if (dom_getinfo(handle->domid, &info) == 0) {
		printf("control: d%u does not go away after destroy (a page still mapped?)\n",
		       handle->domid);
		return -EBUSY; /* keep the domid: the caller must not reuse the handle */
	}
	handle->domid = 0;
	return 0;
}
