/*
 * vnic: the control domain's side of the guests' virtual NICs, and the
 * switch they plug into (docs/vnic-ring.md).
 *
 * When the builder makes a domain, vnic_build() gives it one vNIC per name
 * in its spec: two rings of CONFIG_VNIC_RING_SLOTS slots in pages populated
 * just above the guest's RAM and mapped into our window, one interdomain
 * event channel (allocated unbound for the guest, bound here), and a port
 * on the switch locked to the NIC's derived MAC. vnic_device_tree() then
 * describes them in the guest's device tree. vnic_destroy() undoes it all
 * before the domain is destroyed.
 *
 * Other ports - the physical NIC, the control domain's own stack - attach
 * to the same switch with vswitch_port_add(vnic_switch(), ...).
 */
#ifndef FLOTILLA_CONTROL_VNIC_H
#define FLOTILLA_CONTROL_VNIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder.h"
#include "vswitch.h"

/* vnic.c */
/* The switch, the board's MAC (the first enabled Ethernet node's
 * local-mac-address) and "switch_report=N" from the boot arguments. */
int vnic_init(const void *dtb, const char *bootargs);
struct vswitch *vnic_switch(void);
/* The board's MAC, from which the guests' MACs are derived. */
const uint8_t *vnic_board_mac(void);
/* Guest pages the rings of nic_count vNICs take (for max_mem). */
size_t vnic_guest_pages(unsigned nic_count);
/* Build spec->nic_count vNICs for handle's domain, rings from guest
 * physical address ring_base. 0, or a negative errno with *why set. */
int vnic_build(struct dom_handle *handle, const struct dom_spec *spec, uint64_t ring_base,
	       const char **why);
/* Add /flotilla/vnic@N nodes to a device tree being written with libfdt's
 * sequential writer (inside the root node). */
int vnic_device_tree(void *fdt, const struct dom_handle *handle);
void vnic_destroy(struct dom_handle *handle);
/* Move frames through the switch. Returns the monotonic time at which it
 * wants to run again: now if there is more to do, else a report time or
 * UINT64_MAX. */
uint64_t vnic_poll(void);
/* One line per switch port with its counters. */
void vnic_print_counters(void);

/*
 * Hot swap (docs/vnic-ring.md, "Hot swap"). A handle built from a spec
 * with `staged` has its vNICs on staged switch ports named "<guest>.<nic>'"
 * (same MACs as the running instance; they reach only the control
 * domain's port "control"). vnic_promote() moves each of new_h's MACs to
 * it: new_h's ports become live and take the name "<guest>.<nic>", old_h's
 * drain as "<guest>.<nic>~" (old_h may be NULL: nothing ran). 0, or
 * -EINVAL when new_h has a vNIC that is not staged (nothing changed),
 * -ENODEV without a switch.
 */
int vnic_promote(struct dom_handle *new_h, struct dom_handle *old_h);
/* True once every vNIC of old_h is drained: no open TCP connection left on
 * it, or CONFIG_SWITCH_DRAIN_MS since vnic_promote(). Then destroy it. */
bool vnic_drained(const struct dom_handle *old_h);
/* Open TCP connections the switch still keeps on handle's vNICs. */
unsigned vnic_open_flows(const struct dom_handle *handle);

#endif
