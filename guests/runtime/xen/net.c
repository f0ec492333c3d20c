/*
 * Network interfaces on Xen: the virtual NICs the control domain described
 * in our device tree (/flotilla/vnic@..., compatible "flotilla,vnic-1";
 * docs/vnic-ring.md). Each is a TX ring we produce, an RX ring we consume,
 * and one event channel to the control domain that wakes flotilla_yield().
 *
 * The rings are pages outside the RAM our memory node describes, so the
 * heap never hands them out; they are mapped Normal cacheable, as the
 * control domain maps them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devicetree.h"
#include "vnic_ring.h"

#include "flotilla.h"
#include "runtime.h"
#include "../arch/arm32/arch.h"

#define NET_MAX 8

struct interface {
	struct vnic_ring tx; /* we produce */
	struct vnic_ring rx; /* we consume */
	evtchn_port_t port;
	struct flotilla_net_info info;
	bool broken_reported;
};

/* Allocated by net_init() only when the device tree has vNICs: .bss is
 * part of every image file. */
static struct interface *interfaces;
static unsigned interface_count;

static void on_event(evtchn_port_t port, void *arg)
{
	(void)port;
	(void)arg;
	events_wake_application();
}

static int setup(struct interface *nic, const void *dtb, int node)
{
	uint64_t tx_base, tx_size, rx_base, rx_size;
	int len;
	const fdt32_t *slots = fdt_getprop(dtb, node, "flotilla,slots", &len);
	if (!slots || len != 4)
		return -1;
	uint32_t slot_count = fdt32_to_cpu(*slots);
	const fdt32_t *port = fdt_getprop(dtb, node, "flotilla,event-channel", &len);
	if (!port || len != 4)
		return -1;
	const uint8_t *mac = fdt_getprop(dtb, node, "local-mac-address", &len);
	if (!mac || len != 6)
		return -1;
	if (dt_read_reg(dtb, node, 0, &tx_base, &tx_size) != 0 ||
	    dt_read_reg(dtb, node, 1, &rx_base, &rx_size) != 0)
		return -1;
	if (mmu_map_normal((uintptr_t)tx_base, (size_t)tx_size) != 0 ||
	    mmu_map_normal((uintptr_t)rx_base, (size_t)rx_size) != 0)
		return -1;
	if (vnic_ring_attach(&nic->tx, (void *)(uintptr_t)tx_base, (size_t)tx_size, slot_count) !=
		0 ||
	    vnic_ring_attach(&nic->rx, (void *)(uintptr_t)rx_base, (size_t)rx_size, slot_count) !=
		0)
		return -1;
	memcpy(nic->info.mac, mac, 6);
	const fdt32_t *mtu = fdt_getprop(dtb, node, "mtu", &len);
	nic->info.mtu = mtu && len == 4 ? fdt32_to_cpu(*mtu) : 1500;
	nic->info.link_up = true;
	nic->port = fdt32_to_cpu(*port);
	if (events_bind(nic->port, on_event, nic) != 0)
		return -1;
	return 0;
}

void net_init(const void *dtb)
{
	int node = -1;
	unsigned found = 0;
	while (found < NET_MAX &&
	       (node = fdt_node_offset_by_compatible(dtb, node, "flotilla,vnic-1")) >= 0)
		found++;
	if (found == 0 || (interfaces = calloc(found, sizeof(*interfaces))) == NULL) {
		if (found)
			printf("runtime: warning: no memory for %u vNICs\n", found);
		return;
	}
	node = -1;
	while (interface_count < found &&
	       (node = fdt_node_offset_by_compatible(dtb, node, "flotilla,vnic-1")) >= 0) {
		struct interface *nic = &interfaces[interface_count];
		const char *label = fdt_getprop(dtb, node, "label", NULL);
		if (setup(nic, dtb, node) != 0) {
			printf(
			    "runtime: warning: vNIC %s in the device tree is unusable; skipped\n",
			    label ? label : "?");
			memset(nic, 0, sizeof(*nic));
			continue;
		}
		interface_count++;
	}
}

bool net_frames_pending(void)
{
	bool pending = false;
	for (unsigned i = 0; i < interface_count; i++)
		/* Frames that wait for room to answer them (flotilla_net_writable())
		 * are no event: the control domain notifies when it has drained
		 * our transmit ring. */
		if (!vnic_ring_arm(&interfaces[i].rx) && !vnic_ring_full(&interfaces[i].tx))
			pending = true;
	return pending;
}

unsigned flotilla_net_count(void)
{
	return interface_count;
}

flotilla_result_t flotilla_net_info(unsigned interface, struct flotilla_net_info *info)
{
	if (interface >= interface_count || !info)
		return FLOTILLA_EINVAL;
	*info = interfaces[interface].info;
	return FLOTILLA_OK;
}

static flotilla_result_t broken(struct interface *nic)
{
	if (!nic->broken_reported) {
		nic->broken_reported = true;
		nic->info.link_up = false;
		printf("runtime: vNIC ring broken (impossible index from the control domain)\n");
	}
	return FLOTILLA_EUNSPEC;
}

flotilla_result_t flotilla_net_write(unsigned interface, const void *frame, size_t len)
{
	if (interface >= interface_count || !frame || len < 14 || len > FLOTILLA_NET_FRAME_MAX)
		return FLOTILLA_EINVAL;
	struct interface *nic = &interfaces[interface];
	switch (vnic_ring_put(&nic->tx, frame, len)) {
	case VNIC_RING_OK: break;
	case VNIC_RING_FULL: return FLOTILLA_AGAIN; /* the control domain notifies on space */
	case VNIC_RING_BROKEN: return broken(nic);
	default: return FLOTILLA_EINVAL;
	}
	if (vnic_ring_push(&nic->tx))
		events_notify(nic->port);
	return FLOTILLA_OK;
}

bool flotilla_net_writable(unsigned interface)
{
	/* vnic_ring_full() asks the control domain to notify when half the ring is free. */
	return interface < interface_count && !vnic_ring_full(&interfaces[interface].tx);
}

flotilla_result_t flotilla_net_read(unsigned interface, void *buf, size_t size, size_t *len)
{
	if (interface >= interface_count || !buf || !len || size < FLOTILLA_NET_FRAME_MAX)
		return FLOTILLA_EINVAL;
	struct interface *nic = &interfaces[interface];
	for (;;) {
		enum vnic_ring_result r = vnic_ring_get(&nic->rx, buf, size, len);
		if (vnic_ring_release(&nic->rx))
			events_notify(nic->port);
		if (r == VNIC_RING_OK)
			return FLOTILLA_OK;
		if (r == VNIC_RING_BROKEN)
			return broken(nic);
		if (r != VNIC_RING_EMPTY)
			return FLOTILLA_EINVAL;
		/* Empty: ask for an event on the next frame, then look once more. */
		if (vnic_ring_arm(&nic->rx))
			return FLOTILLA_AGAIN;
	}
}
