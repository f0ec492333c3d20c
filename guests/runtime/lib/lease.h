/*
 * lease.h - what a guest's network helper (netif.c) learns from and tells
 * the control domain about its addresses, across instances of the guest:
 *
 * - flotilla.lease=NIC:A.B.C.D/N[,GW] in the boot arguments: the address
 *   the previous instance of this guest held on NIC (the vNIC's label from
 *   the plan, "ethN" or "N"). With ip=dhcp the interface starts with it at
 *   once and confirms it by DHCP (INIT-REBOOT, net.h dhcp_start_reboot()).
 *   The control domain adds it when it starts a new instance beside the
 *   running one (docs/status-page.md). Several words for several NICs.
 * - runtime_report_address(): every address change, for the status page.
 *
 * lease_find() is portable (tests/unit/test_lease.c); the two runtime_
 * functions are implemented by each target (xen/status.c, unix/runtime.c).
 */
#ifndef FLOTILLA_LEASE_H
#define FLOTILLA_LEASE_H

#include <stddef.h>
#include <stdint.h>

struct flotilla_lease {
	uint32_t addr, netmask, gateway; /* as net/ holds them: 10.0.0.5 is 0x0a000005 */
};

/*
 * Look for a flotilla.lease= word for the interface with index `index`
 * (named "N" or "ethN") or label `label` (may be NULL). 1: found, *out set;
 * 0: none for it; -1: a word for it is malformed, why (size >= 80) says how.
 */
int lease_find(const char *bootargs, unsigned index, const char *label, struct flotilla_lease *out,
	       char *why, size_t why_size);

/* flags: FLOTILLA_STATUS_NIC_* (flotilla_status_page.h); 0 = no address. */
void runtime_report_address(unsigned interface, uint32_t flags, uint32_t addr, uint32_t netmask,
			    uint32_t gateway);
/* The label the control domain gave the interface ("lan"), or NULL. */
const char *runtime_net_label(unsigned interface);

#endif
