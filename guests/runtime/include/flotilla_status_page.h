/*
 * flotilla_status_page.h - the status page a guest shares with the control
 * domain (docs/status-page.md). One 4 KiB page of guest memory, outside the
 * RAM its memory node describes, populated and formatted by the control
 * domain when it builds the guest, described in the guest's device tree
 * (compatible "flotilla,status-page": reg, event channel) and mapped by
 * both. The guest writes it, the control domain reads it - but for `drain`.
 *
 * Writes follow a sequence lock: the guest makes `sequence` odd, writes the
 * fields, makes it even again (with barriers between), then notifies the
 * event channel. One word goes the other way: `drain`, which the control
 * domain sets (and notifies) when a hot swap has replaced this instance.
 * A reader copies the page and keeps the copy only if
 * `sequence` was even and unchanged before and after. The page is guest
 * memory: the control domain checks every field of its copy (magic,
 * version, ranges, NUL-terminated text) and never trusts a pointer, length
 * or index from it.
 *
 * Portable: shared by the runtime (guests/runtime/xen/status.c) and the
 * control domain (guests/control/gstatus.c); both are little-endian ARM.
 * IPv4 values are held as net/ holds them: 10.0.0.5 is 0x0a000005.
 */
#ifndef FLOTILLA_STATUS_PAGE_H
#define FLOTILLA_STATUS_PAGE_H

#include <stdint.h>

#include "flotilla.h"

#define FLOTILLA_STATUS_MAGIC     0x31545346u /* "FST1" little-endian */
#define FLOTILLA_STATUS_VERSION   1u
#define FLOTILLA_STATUS_PAGE_SIZE 4096u
#define FLOTILLA_STATUS_NICS      8u /* per-NIC address slots (runtime interface index) */
#define FLOTILLA_STATUS_COMPAT    "flotilla,status-page"

/* nic[i].flags */
#define FLOTILLA_STATUS_NIC_CONFIGURED 1u /* ipv4/netmask/gateway hold an address */
#define FLOTILLA_STATUS_NIC_DHCP       2u /* ... from a DHCP lease (else static) */
#define FLOTILLA_STATUS_NIC_TENTATIVE  4u /* a previous instance's lease not yet re-acknowledged */

struct flotilla_status_nic {
	uint32_t flags;
	uint32_t ipv4;
	uint32_t netmask;
	uint32_t gateway;
};

struct flotilla_status_page {
	/* Written by the control domain when it formats the page. */
	uint32_t magic;
	uint32_t version;
	uint32_t size;  /* bytes of this structure the control domain knows */
	uint32_t drain; /* control domain: 1 once a hot swap replaced this instance */
	/* Written by the guest, under the sequence lock. */
	uint32_t sequence;    /* odd while the guest writes */
	uint32_t ready;       /* 1 once flotilla_ready() was called */
	uint32_t ready_count; /* calls of flotilla_ready() */
	uint32_t health;      /* enum flotilla_health_status */
	uint64_t ready_ns;    /* the guest's monotonic clock at its first flotilla_ready() */
	uint64_t health_ns;   /* ... at its latest flotilla_health() */
	uint32_t health_count;
	uint32_t address_changes;                /* bumped whenever a nic[] entry changes */
	char reason[FLOTILLA_HEALTH_REASON_MAX]; /* NUL-terminated (checked by the reader) */
	struct flotilla_status_nic nic[FLOTILLA_STATUS_NICS];
};

_Static_assert(sizeof(struct flotilla_status_page) <= FLOTILLA_STATUS_PAGE_SIZE,
	       "the status page outgrew its page");

#endif
