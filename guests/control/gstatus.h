/*
 * gstatus: the control domain's side of each guest's status page
 * (guests/runtime/include/flotilla_status_page.h, docs/status-page.md).
 *
 * When the builder makes a domain, gstatus_build() populates one page just
 * above the guest's vNIC rings, maps it into our foreign-mapping window,
 * formats it and gives the guest an event channel (allocated unbound for
 * the guest, bound here); gstatus_device_tree() describes both in the
 * guest's device tree. The guest writes the page (flotilla_ready(),
 * flotilla_health(), its addresses) and notifies; we wake, and
 * gstatus_poll() logs what changed:
 *   control: NAME: ready after N ms
 *   control: NAME: lan 10.0.0.5/24 gw 10.0.0.1 (dhcp)
 * gstatus_read() gives the latest consistent, checked snapshot.
 * gstatus_destroy() undoes it all before the domain is destroyed.
 *
 * Everything on the page is guest memory: a guest can write anything there
 * at any moment. A snapshot is taken only when the sequence lock says it is
 * whole, then checked field by field; a page that fails is ignored (the
 * previous good snapshot stays) and reported once per instance.
 */
#ifndef FLOTILLA_CONTROL_GSTATUS_H
#define FLOTILLA_CONTROL_GSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flotilla.h"

#include "builder.h"

struct gstatus;

struct gstatus_view {
	bool valid;           /* a consistent, sane snapshot was read */
	bool ready;           /* the guest has called flotilla_ready() (latched) */
	uint32_t ready_count; /* how often */
	uint64_t ready_ns; /* our flotilla_clock_monotonic() when we first saw it ready; 0: not */
	uint8_t health;    /* enum flotilla_health_status */
	char reason[FLOTILLA_HEALTH_REASON_MAX]; /* printable ASCII only, NUL-terminated */
	/* per NIC index (the plan's order), as net/ holds them (10.0.0.5 is
	 * 0x0a000005); 0 = none */
	uint32_t ipv4[4], netmask[4], gateway[4];
};

/* Populate, map and format the status page at guest physical address
 * page_gpa, and its event channel. 0, or a negative errno with *why set
 * (the build fails). A guest whose page would lie outside the gigabyte its
 * page table covers simply gets none (h->status stays NULL). */
int gstatus_build(struct dom_handle *h, uint64_t page_gpa, const char **why);
/* The names used in log lines: the guest's and its NICs' (spec->nics). */
void gstatus_name(struct dom_handle *h, const struct dom_spec *spec);
/* Add the /flotilla-status@ADDR node to a device tree being written with
 * libfdt's sequential writer (inside the root node). Nothing without a page. */
int gstatus_device_tree(void *fdt, const struct dom_handle *h);
void gstatus_destroy(struct dom_handle *h);
/* The latest consistent snapshot (re-read now). false when the guest has
 * no status page or it never held a sane one (v->valid false). */
bool gstatus_read(const struct dom_handle *h, struct gstatus_view *v);
/* A hot swap replaced this instance: set the page's `drain` and notify, so
 * the guest closes idle connections (flotilla_draining()). */
void gstatus_drain(const struct dom_handle *h);
/* Pages a guest needs for it (max_mem accounting). */
#define GSTATUS_GUEST_PAGES 1u
/* Look at pages whose guests notified; log readiness, health and address
 * changes. Returns the next monotonic deadline it wants (UINT64_MAX). */
uint64_t gstatus_poll(void);
/* " flotilla.lease=lan:10.0.0.5/24,10.0.0.1" for each NIC the latest
 * snapshot gives an address, for the boot arguments of the next instance
 * (docs/status-page.md). Returns the length written (0: none or no room). */
size_t gstatus_lease_args(const struct dom_handle *h, char *out, size_t size);

#endif
