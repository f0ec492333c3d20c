/*
 * The domain builder: what xl + libxl do for an ARM guest, in-process,
 * with domctl / memory_op / event-channel hypercalls (Xen 4.17, domctl
 * interface 0x15). The OTA hot swap reuses it.
 *
 *   dom_build()   create, populate, load kernel + device tree, set up the
 *                 vpl011 console with us as backend, unpause
 *   dom_destroy() unmap, close the console channel, destroy, wait until gone
 */
#ifndef FLOTILLA_CONTROL_BUILDER_H
#define FLOTILLA_CONTROL_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/io/console.h>

#include <generated/autoconf.h>

/* Phases of dom_build(), timed separately. */
enum dom_build_phase {
	DOM_PHASE_CREATE,   /* createdomain, vCPUs, paging pool, max_mem */
	DOM_PHASE_POPULATE, /* RAM and the console ring page */
	DOM_PHASE_LOAD,     /* kernel + device tree copied, caches cleaned */
	DOM_PHASE_CONSOLE,  /* vpl011 + event channel */
	DOM_PHASE_START,    /* vCPU context + unpause */
	DOM_BUILD_PHASES
};
extern const char *const dom_build_phase_names[DOM_BUILD_PHASES];

/*
 * What dom_build() accepts. hypervisor-cfg/plan.py reads these #define
 * lines (plain decimal integers only), so a plan is refused at build time
 * for what the builder would refuse at boot: the numbers live here only.
 */
#define DOM_MEMORY_MB_MIN 4
#define DOM_MEMORY_MB_MAX 1024
/* dom_build() gives only vCPU 0 a context and starts it. */
#define DOM_VCPUS_MAX 1
/* Xen's paging pool for each guest (libxl's formula), in KiB: per vCPU,
 * per MiB of guest RAM, and fixed. Xen takes it from its free memory on
 * top of the guest's RAM; the plan counts it. */
#define DOM_PAGING_POOL_KB_PER_VCPU 1024
#define DOM_PAGING_POOL_KB_PER_MB   4
#define DOM_PAGING_POOL_KB_FIXED    512
#define DOM_NICS_MAX                CONFIG_VNIC_PER_GUEST_MAX

/*
 * Where guest pages are mapped in our own physical address space: an IPA
 * range that is neither RAM nor a device on the H3 or the A20 (DRAM ends
 * at 0xbfffffff on both SoCs, the boot ROM starts at 0xffff0000; Xen gives
 * a 32-bit domain 0 no extended regions, docs/vnic-ring.md). The first
 * DOM_WINDOW_BUILDER_PAGES are the builder's (copy window + console rings),
 * the rest holds the guests' vNIC rings (vnic.c). The builder's share
 * starts with DOM_WINDOW_STATUS_PAGES pages for the guests' status pages
 * (gstatus.c: one per domain, two per guest during a hot swap).
 */
#define DOM_WINDOW_BASE          0xc0000000u
#define DOM_WINDOW_SIZE          (16u << 20)
#define DOM_WINDOW_BUILDER_PAGES 256u
#define DOM_WINDOW_STATUS_PAGES  32u

struct dom_spec {
	const char *name;
	const uint8_t *kernel; /* a zImage (position independent or not) */
	size_t kernel_size;
	/* Instead of kernel: the image is read in pieces, in order, straight
	 * into the guest's pages (from the SD card). 0 or an error, which
	 * stops the build before the guest runs (e.g. a hash mismatch found
	 * once the last piece was read). The first 48 bytes may be read twice. */
	int (*read)(void *ctx, size_t offset, void *buf, size_t len);
	void *read_ctx;
	unsigned memory_mb;
	unsigned vcpus;
	const char *bootargs;
	uint32_t pcpu_mask; /* physical CPUs its vCPUs may run on (hard affinity); 0: any */
	const char *nics[DOM_NICS_MAX]; /* virtual NICs by name (vnic.c) */
	unsigned nic_count;
	/* A second instance of a running guest (hot swap): its vNICs take the
	 * MACs of the running instance's vNICs with the same guest `name` and
	 * NIC names, on staged switch ports that reach only the control
	 * domain's stack, until vnic_promote(). */
	bool staged;
};

struct vnic;
struct gstatus;

struct dom_handle {
	uint16_t domid;
	evtchn_port_t console_port;        /* our end of the vpl011 channel */
	struct xencons_interface *console; /* the guest's vpl011 ring, mapped here */
	unsigned console_slot;
	uint64_t build_started;  /* runtime_counter() at dom_build() entry */
	uint64_t build_finished; /* ... at unpause */
	/* runtime_counter() after each phase, for `make bench`'s breakdown */
	uint64_t phase_end[DOM_BUILD_PHASES];
	struct vnic *nics[DOM_NICS_MAX]; /* ring pair + channel + switch port each */
	unsigned nic_count;
	struct gstatus *status; /* its status page (gstatus.c), NULL if none */
};

/* builder.c */
int dom_builder_init(const void *dtb);
/* 0 or a negative errno-style code; *error gets a one-line reason. */
int dom_build(const struct dom_spec *spec, struct dom_handle *handle, const char **error);
int dom_destroy(struct dom_handle *handle);
/* Map count frames of a guest, from guest_pfn, at our page local_pfn
 * (inside the window); unmap them again. 0 or a negative errno. */
int dom_map_foreign(uint16_t domid, uint64_t guest_pfn, uint64_t local_pfn, unsigned count);
int dom_unmap_foreign(uint64_t local_pfn, unsigned count);
/* Memory shared with a guest being built (vNIC rings, its status page):
 * count new frames of the guest's at guest_pfn - its memory, freed with it -
 * mapped here at local_pfn. 0 or a negative errno; *why names `what`. */
int dom_share_pages(uint16_t domid, uint64_t guest_pfn, uint64_t local_pfn, unsigned count,
		    const char *what, const char **why);
/* An interdomain event channel with a guest being built: *guest_port is
 * its end (for its device tree), *local_port ours, bound to handler(arg).
 * Each is written as soon as it exists, so the caller's cleanup closes what
 * was made. 0 or a negative errno; *why names `what`. */
int dom_event_channel(uint16_t domid, void (*handler)(evtchn_port_t port, void *arg), void *arg,
		      evtchn_port_t *guest_port, evtchn_port_t *local_port, const char *what,
		      const char **why);

#endif
