/*
 * vnic: guests' virtual NICs on the control domain's side (vnic.h), and
 * the switch between them.
 *
 * Everything a guest can write - its rings' indices, slot lengths, frame
 * bytes - is handled by vnic_ring.c, which validates before use and never
 * waits for the guest. A guest whose ring breaks loses its own network
 * until it is restarted; nobody else notices.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devicetree.h"

#include "flotilla.h"
#include "hypercall.h"
#include "runtime.h"
#include "vnic_ring.h"

#include "builder.h"
#include "boot_bundle.h"
#include "vnic.h"

#define PAGE_SIZE  4096u
#define PAGE_SHIFT 12
#define RING_PAGES                                                                                 \
	((VNIC_RING_HEADER_SIZE + CONFIG_VNIC_RING_SLOTS * VNIC_RING_SLOT_SIZE + PAGE_SIZE - 1) /  \
	 PAGE_SIZE)
#define NIC_PAGES  (2 * RING_PAGES) /* TX ring, then RX ring */
#define VNIC_TOTAL (BOOT_BUNDLE_ENTRIES_MAX * DOM_NICS_MAX)
#define VNIC_MTU   1500u

_Static_assert(DOM_WINDOW_BUILDER_PAGES + VNIC_TOTAL * NIC_PAGES <= DOM_WINDOW_SIZE / PAGE_SIZE,
	       "the vNIC rings do not fit the foreign-mapping window");

struct vnic {
	bool used;
	bool mapped;
	uint16_t domid;
	unsigned index; /* within its guest */
	char name[BOOT_BUNDLE_NAME_MAX + 1];
	uint8_t mac[6];
	uint64_t tx_gpa;     /* guest -> control domain */
	uint64_t rx_gpa;     /* control domain -> guest */
	struct vnic_ring tx; /* we consume */
	struct vnic_ring rx; /* we produce */
	evtchn_port_t guest_port;
	evtchn_port_t local_port;
	int switch_port;
	bool broken_reported;
	char port_name[VSWITCH_NAME_MAX + 1];
	char guest[BOOT_BUNDLE_NAME_MAX + 1]; /* its domain's guest name */
	bool staged;                          /* a hot swap's new instance, not yet promoted */
	bool draining;                        /* a hot swap's old instance */
};

static int attach_port(struct vnic *v, const struct dom_spec *spec, const char **why);

/* The same NIC of the same guest: another instance of it during a hot swap. */
static bool same_nic(const struct vnic *v, const char *guest, const char *nic)
{
	return strcmp(v->guest, guest) == 0 && strcmp(v->name, nic) == 0;
}

/* Allocated once by vnic_init(), not in the image: .bss is part of the file. */
static struct vswitch *the_switch;
static struct vnic *vnics;
static uint8_t board_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static uint64_t report_interval_ns;
static uint64_t next_report_ns = UINT64_MAX;

struct vswitch *vnic_switch(void)
{
	return the_switch;
}

const uint8_t *vnic_board_mac(void)
{
	return board_mac;
}

size_t vnic_guest_pages(unsigned nic_count)
{
	return (size_t)nic_count * NIC_PAGES;
}

static uint64_t ms_now(void)
{
	return flotilla_clock_monotonic() / 1000000u;
}

static void print_mac(char *out, const uint8_t *mac)
{
	sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		mac[5]);
}

int vnic_init(const void *dtb, const char *bootargs)
{
	the_switch = calloc(1, sizeof(*the_switch));
	vnics = calloc(VNIC_TOTAL, sizeof(*vnics));
	if (!the_switch || !vnics) {
		printf("control: switch: error: no memory for the switch; guests get no vNICs\n");
		free(the_switch);
		free(vnics);
		the_switch = NULL;
		vnics = NULL;
		return -1;
	}
	vswitch_init(the_switch, CONFIG_SWITCH_MAC_AGEING_S);
	bool found = false;
	for (int node = fdt_next_node(dtb, -1, NULL); node >= 0 && !found;
	     node = fdt_next_node(dtb, node, NULL)) {
		const char *name = fdt_get_name(dtb, node, NULL);
		int len;
		const uint8_t *mac = fdt_getprop(dtb, node, "local-mac-address", &len);
		if (name && strncmp(name, "ethernet", 8) == 0 && mac && len == 6 &&
		    (mac[0] & 1) == 0 && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
			memcpy(board_mac, mac, 6);
			found = true;
		}
	}
	char text[18];
	print_mac(text, board_mac);
	if (found)
		printf("control: switch: board MAC %s; guests' MACs derive from it\n", text);
	else
		printf("control: switch: warning: no local-mac-address in the device tree; guests' "
		       "MACs derive from %s and may clash with another board's\n",
		       text);
	int chosen = fdt_path_offset(dtb, "/chosen");
	if (!bootargs && chosen >= 0)
		bootargs = fdt_getprop(dtb, chosen, "bootargs", NULL);
	/* "switch_flood=N": flooded frames per second per port (slow boards). */
	const char *flood = bootargs ? strstr(bootargs, "switch_flood=") : NULL;
	if (flood && strtoul(flood + strlen("switch_flood="), NULL, 10) > 0)
		the_switch->flood_per_s =
		    (uint32_t)strtoul(flood + strlen("switch_flood="), NULL, 10);
	/* "switch_burst=N": flooded frames a port may send at once. A guest
	 * whose ring filled while the control domain was busy (building the
	 * other guests at boot) sends its backlog in one pass. */
	const char *burst = bootargs ? strstr(bootargs, "switch_burst=") : NULL;
	if (burst && strtoul(burst + strlen("switch_burst="), NULL, 10) > 0)
		the_switch->flood_burst =
		    (uint32_t)strtoul(burst + strlen("switch_burst="), NULL, 10);
	const char *report = bootargs ? strstr(bootargs, "switch_report=") : NULL;
	if (report) {
		report_interval_ns =
		    strtoull(report + strlen("switch_report="), NULL, 10) * 1000000000ull;
		if (report_interval_ns)
			next_report_ns = flotilla_clock_monotonic() + report_interval_ns;
	}
	return 0;
}

static void on_vnic_event(evtchn_port_t port, void *arg)
{
	(void)port;
	(void)arg;
	events_wake_application(); /* vnic_poll() looks at every ring */
}

static void report_broken(struct vnic *v, const char *which)
{
	if (v->broken_reported)
		return;
	v->broken_reported = true;
	printf("control: switch: port %s: the guest broke its %s ring (impossible index); "
	       "the port is dead until the guest restarts\n",
	       v->port_name, which);
}

/* switch -> guest: into its RX ring; full means dropped (counted by the switch). */
static int vnic_transmit(void *context, const uint8_t *frame, size_t len)
{
	struct vnic *v = context;
	enum vnic_ring_result r = vnic_ring_put(&v->rx, frame, len);
	if (r == VNIC_RING_BROKEN)
		report_broken(v, "receive");
	if (r != VNIC_RING_OK)
		return -1;
	if (vnic_ring_push(&v->rx))
		events_notify(v->local_port);
	return 0;
}

/* guest -> switch: the next frame of its TX ring, 0 when there is none. */
static size_t vnic_receive(void *context, uint8_t *buf, size_t size)
{
	struct vnic *v = context;
	for (;;) {
		size_t len = 0;
		enum vnic_ring_result r = vnic_ring_get(&v->tx, buf, size, &len);
		/* Free the slot at once: a guest waiting for space is woken. */
		if (vnic_ring_release(&v->tx))
			events_notify(v->local_port);
		if (r == VNIC_RING_OK)
			return len;
		if (r == VNIC_RING_BROKEN) {
			report_broken(v, "transmit");
			return 0;
		}
		if (r != VNIC_RING_EMPTY || vnic_ring_arm(&v->tx))
			return 0;
		/* Frames arrived while arming: take them now. */
	}
}

/* Is the guest's RX ring full? (vswitch_offer() then makes the NIC wait
 * while the guest drains, and the guest's notification when half the ring
 * is free wakes the main loop to offer the frame again.) A broken ring is
 * not "full": it never drains. */
static bool vnic_full(void *context)
{
	struct vnic *v = context;
	return vnic_ring_full(&v->rx);
}

static const struct vswitch_port_ops vnic_ops = {vnic_transmit, vnic_receive, vnic_full};

static uint64_t window_pfn(unsigned slot)
{
	return ((uint64_t)DOM_WINDOW_BASE >> PAGE_SHIFT) + DOM_WINDOW_BUILDER_PAGES +
	       (uint64_t)slot * NIC_PAGES;
}

static void *window_address(unsigned slot)
{
	return (void *)(uintptr_t)(window_pfn(slot) << PAGE_SHIFT);
}

static void release(struct vnic *v)
{
	if (v->switch_port >= 0)
		vswitch_port_remove(the_switch, v->switch_port);
	if (v->local_port) {
		events_unbind(v->local_port);
		struct evtchn_close close = {.port = v->local_port};
		xen_event_channel_op(EVTCHNOP_close, &close);
	}
	unsigned slot = (unsigned)(v - vnics);
	if (v->mapped && dom_unmap_foreign(window_pfn(slot), NIC_PAGES) != 0)
		printf("control: d%u: vNIC %s rings would not unmap\n", v->domid, v->name);
	memset(v, 0, sizeof(*v));
	v->switch_port = -1;
}

static int build_one(struct vnic *v, const struct dom_spec *spec, uint64_t gpa, const char **why)
{
	unsigned slot = (unsigned)(v - vnics);
	int rc = dom_share_pages(v->domid, gpa >> PAGE_SHIFT, window_pfn(slot), NIC_PAGES,
				 "vNIC rings", why);
	if (rc != 0)
		return rc;
	v->mapped = true;
	uint8_t *base = window_address(slot);
	size_t ring_size = RING_PAGES * PAGE_SIZE;
	v->tx_gpa = gpa;
	v->rx_gpa = gpa + ring_size;
	if (vnic_ring_format(base, ring_size, CONFIG_VNIC_RING_SLOTS) != 0 ||
	    vnic_ring_format(base + ring_size, ring_size, CONFIG_VNIC_RING_SLOTS) != 0 ||
	    vnic_ring_attach(&v->tx, base, ring_size, CONFIG_VNIC_RING_SLOTS) != 0 ||
	    vnic_ring_attach(&v->rx, base + ring_size, ring_size, CONFIG_VNIC_RING_SLOTS) != 0) {
		*why = "formatting the vNIC rings failed";
		return -EINVAL;
	}

	if ((rc = dom_event_channel(v->domid, on_vnic_event, v, &v->guest_port, &v->local_port,
				    "vNIC", why)) != 0)
		return rc;

	if (spec->staged)
		return attach_port(v, spec, why);
	/* Its MAC: derived, and unlike every other NIC's on the board. */
	uint8_t taken[VNIC_TOTAL][6];
	unsigned taken_count = 0;
	char label[BOOT_BUNDLE_NAME_MAX + 1];
	snprintf(label, sizeof(label), "%s", spec->name ? spec->name : "guest");
	for (unsigned i = 0; i < VNIC_TOTAL; i++)
		if (vnics[i].used && &vnics[i] != v && vnics[i].switch_port >= 0 &&
		    !same_nic(&vnics[i], label, v->name)) /* another instance's is ours too */
			memcpy(taken[taken_count++], vnics[i].mac, 6);
	vswitch_mac_assign(board_mac, label, v->index, (const uint8_t(*)[6])taken, taken_count,
			   v->mac);
	char port_name[sizeof(v->port_name)];
	snprintf(port_name, sizeof(port_name), "%s.%s", label, v->name);
	memcpy(v->port_name, port_name, sizeof(port_name));
	v->switch_port = vswitch_port_add(the_switch, v->port_name, &vnic_ops, v, v->mac);
	if (v->switch_port < 0) {
		*why = "no free switch port (CONFIG_SWITCH_PORTS_MAX)";
		return -ENOSPC;
	}
	snprintf(v->guest, sizeof(v->guest), "%s", label);
	vswitch_port_track_flows(the_switch, v->switch_port, true); /* for a later hot swap */
	return 0;
}

int vnic_build(struct dom_handle *handle, const struct dom_spec *spec, uint64_t ring_base,
	       const char **why)
{
	handle->nic_count = 0;
	if (spec->nic_count && !vnics) {
		*why = "no switch (vnic_init failed)";
		return -ENODEV;
	}
	for (unsigned i = 0; i < spec->nic_count; i++) {
		struct vnic *v = NULL;
		for (unsigned s = 0; s < VNIC_TOTAL && !v; s++)
			if (!vnics[s].used)
				v = &vnics[s];
		if (!v) {
			*why = "too many vNICs on the board";
			return -ENOSPC;
		}
		memset(v, 0, sizeof(*v));
		v->used = true;
		v->switch_port = -1;
		v->domid = handle->domid;
		v->index = i;
		snprintf(v->name, sizeof(v->name), "%s", spec->nics[i]);
		handle->nics[handle->nic_count++] = v;
		int rc = build_one(v, spec, ring_base + (uint64_t)i * NIC_PAGES * PAGE_SIZE, why);
		if (rc != 0)
			return rc; /* dom_build's failure path calls vnic_destroy() */
		char mac[18];
		print_mac(mac, v->mac);
		printf("control: %s: vNIC %s %s (switch port %d%s, event channel %u)\n",
		       spec->name ? spec->name : "?", v->name, mac, v->switch_port,
		       v->staged ? ", staged: reaches the control domain only" : "",
		       (unsigned)v->local_port);
	}
	return 0;
}

int vnic_device_tree(void *fdt, const struct dom_handle *handle)
{
	if (handle->nic_count == 0)
		return 0;
	int rc = 0;
#define FDT(call)                                                                                  \
	do {                                                                                       \
		if (rc == 0)                                                                       \
			rc = (call);                                                               \
	} while (0)
	FDT(fdt_begin_node(fdt, "flotilla"));
	FDT(fdt_property_cell(fdt, "#address-cells", 2));
	FDT(fdt_property_cell(fdt, "#size-cells", 2));
	for (unsigned i = 0; i < handle->nic_count; i++) {
		const struct vnic *v = handle->nics[i];
		char node[32];
		snprintf(node, sizeof(node), "vnic@%llx", (unsigned long long)v->tx_gpa);
		FDT(fdt_begin_node(fdt, node));
		FDT(fdt_property_string(fdt, "compatible", "flotilla,vnic-1"));
		uint64_t ring_size = RING_PAGES * PAGE_SIZE;
		fdt64_t reg[4] = {cpu_to_fdt64(v->tx_gpa), cpu_to_fdt64(ring_size),
				  cpu_to_fdt64(v->rx_gpa), cpu_to_fdt64(ring_size)};
		FDT(fdt_property(fdt, "reg", reg, sizeof(reg)));
		static const char reg_names[] = "tx\0rx";
		FDT(fdt_property(fdt, "reg-names", reg_names, sizeof(reg_names)));
		FDT(fdt_property_cell(fdt, "flotilla,index", i));
		FDT(fdt_property_cell(fdt, "flotilla,event-channel", v->guest_port));
		FDT(fdt_property_cell(fdt, "flotilla,slots", CONFIG_VNIC_RING_SLOTS));
		FDT(fdt_property(fdt, "local-mac-address", v->mac, 6));
		FDT(fdt_property_cell(fdt, "mtu", VNIC_MTU));
		FDT(fdt_property_string(fdt, "label", v->name));
		FDT(fdt_end_node(fdt));
	}
	FDT(fdt_end_node(fdt));
#undef FDT
	return rc;
}

void vnic_destroy(struct dom_handle *handle)
{
	for (unsigned i = 0; i < handle->nic_count; i++)
		release(handle->nics[i]);
	handle->nic_count = 0;
}

void vnic_print_counters(void)
{
	if (!the_switch)
		return;
	for (int p = 0; p < VSWITCH_PORTS; p++) {
		const struct vswitch_port *port = &the_switch->ports[p];
		if (!port->used)
			continue;
		const struct vswitch_counters *c = &port->counters;
		char role[48] = "";
		if (port->role == VSWITCH_STAGED)
			snprintf(role, sizeof(role), " staged");
		else if (port->role == VSWITCH_DRAINING)
			snprintf(role, sizeof(role), " draining connections=%u",
				 vswitch_port_flows(the_switch, p, ms_now()));
		printf("control: switch: port %s rx_frames=%" PRIu64 " rx_bytes=%" PRIu64
		       " rx_drops=%" PRIu64 " tx_frames=%" PRIu64 " tx_bytes=%" PRIu64
		       " tx_drops=%" PRIu64 " tx_held=%" PRIu64 " tx_unheld=%" PRIu64 "%s\n",
		       port->name, c->rx_frames, c->rx_bytes, c->rx_drops, c->tx_frames,
		       c->tx_bytes, c->tx_drops, c->tx_held, c->tx_unheld, role);
	}
	const struct vswitch_flow_stats *f = &the_switch->flow_stats;
	if (f->tracked)
		printf("control: switch: tcp connections tracked=%" PRIu64 " closed=%" PRIu64
		       " evicted=%" PRIu64 " kept_on_old_instance=%" PRIu64 " frames\n",
		       f->tracked, f->closed, f->evicted, f->pinned);
}

uint64_t vnic_poll(void)
{
	if (!the_switch)
		return UINT64_MAX;
	uint64_t now = flotilla_clock_monotonic();
	unsigned moved = vswitch_poll(the_switch, CONFIG_SWITCH_POLL_BUDGET, now / 1000000u);
	if (now >= next_report_ns) {
		next_report_ns = now + report_interval_ns;
		vnic_print_counters();
	}
	return moved ? now : next_report_ns;
}

/* ------------------------------------------------------------ hot swap */

/* "<guest>.<nic><suffix>", cut to what a switch port's name holds. */
static void name_port(struct vnic *v, const char *suffix)
{
	char name[sizeof(v->guest) + sizeof(v->name) + 4];
	snprintf(name, sizeof(name), "%s.%s%s", v->guest, v->name, suffix);
	size_t len = strnlen(name, VSWITCH_NAME_MAX);
	memcpy(v->port_name, name, len);
	v->port_name[len] = '\0';
}

/*
 * A staged vNIC (spec->staged): the MAC of the running instance's vNIC of
 * the same guest and name - the address the LAN and its ARP caches know -
 * on a staged switch port whose one peer is the control domain's stack,
 * which probes it (docs/vnic-ring.md, "Hot swap").
 */
static int attach_port(struct vnic *v, const struct dom_spec *spec, const char **why)
{
	snprintf(v->guest, sizeof(v->guest), "%s", spec->name ? spec->name : "guest");
	const struct vnic *running = NULL;
	for (unsigned i = 0; i < VNIC_TOTAL && !running; i++) {
		const struct vnic *o = &vnics[i];
		if (o != v && o->used && o->switch_port >= 0 && !o->staged && !o->draining &&
		    strcmp(o->guest, v->guest) == 0 && strcmp(o->name, v->name) == 0)
			running = o;
	}
	if (running) {
		memcpy(v->mac, running->mac, 6);
	} else { /* nothing runs (stop-then-start): the derived MAC, as ever */
		printf("control: %s: no running instance has a vNIC %s: the staged one gets its "
		       "derived MAC\n",
		       v->guest, v->name);
		uint8_t taken[VNIC_TOTAL][6];
		unsigned taken_count = 0;
		for (unsigned i = 0; i < VNIC_TOTAL; i++)
			if (vnics[i].used && &vnics[i] != v && vnics[i].switch_port >= 0)
				memcpy(taken[taken_count++], vnics[i].mac, 6);
		vswitch_mac_assign(board_mac, v->guest, v->index, (const uint8_t(*)[6])taken,
				   taken_count, v->mac);
	}
	name_port(v, "'");
	int peer = vswitch_port_find(the_switch, "control");
	if (peer < 0)
		printf(
		    "control: %s: warning: no control domain port on the switch; the staged vNIC "
		    "%s reaches nobody until it is promoted\n",
		    v->guest, v->name);
	v->switch_port =
	    vswitch_port_add_staged(the_switch, v->port_name, &vnic_ops, v, v->mac, peer);
	if (v->switch_port < 0) {
		*why = "no free switch port for the new instance (CONFIG_SWITCH_PORTS_MAX)";
		return -ENOSPC;
	}
	v->staged = true;
	vswitch_port_track_flows(the_switch, v->switch_port, true); /* from its promotion on */
	return 0;
}

int vnic_promote(struct dom_handle *new_h, struct dom_handle *old_h)
{
	if (!the_switch)
		return -ENODEV;
	for (unsigned i = 0; i < new_h->nic_count; i++)
		if (!new_h->nics[i] || !new_h->nics[i]->staged || new_h->nics[i]->switch_port < 0)
			return -EINVAL;
	uint64_t now = ms_now();
	for (unsigned i = 0; i < new_h->nic_count; i++) {
		struct vnic *v = new_h->nics[i];
		int old = vswitch_port_promote(the_switch, v->switch_port, now);
		if (old < -1)
			return -EINVAL; /* not reached: checked above */
		v->staged = false;
		struct vnic *o = NULL;
		for (unsigned s = 0; s < VNIC_TOTAL && old >= 0 && !o; s++)
			if (vnics[s].used && vnics[s].switch_port == old)
				o = &vnics[s];
		bool expected = !old_h;
		for (unsigned k = 0; old_h && k < old_h->nic_count; k++)
			expected = expected || old_h->nics[k] == o;
		if (o) {
			o->draining = true;
			name_port(o, "~");
			vswitch_port_rename(the_switch, o->switch_port, o->port_name);
		}
		name_port(v, "");
		vswitch_port_rename(the_switch, v->switch_port, v->port_name);
		printf("control: %s: vNIC %s now reaches d%u (switch port %d)", v->guest, v->name,
		       v->domid, v->switch_port);
		if (o)
			printf("; d%u keeps its %u TCP connections until they close, at most %u "
			       "ms%s\n",
			       o->domid, vswitch_port_flows(the_switch, o->switch_port, now),
			       (unsigned)CONFIG_SWITCH_DRAIN_MS,
			       expected ? "" : " (warning: not the instance given as the old one)");
		else
			printf("; no instance had it\n");
	}
	return 0;
}

bool vnic_drained(const struct dom_handle *old_h)
{
	if (!the_switch || !old_h)
		return true;
	uint64_t now = ms_now();
	for (unsigned i = 0; i < old_h->nic_count; i++) {
		const struct vnic *v = old_h->nics[i];
		if (v && v->switch_port >= 0 &&
		    !vswitch_port_drained(the_switch, v->switch_port, now))
			return false;
	}
	return true;
}

unsigned vnic_open_flows(const struct dom_handle *handle)
{
	unsigned open = 0;
	if (!the_switch || !handle)
		return 0;
	uint64_t now = ms_now();
	for (unsigned i = 0; i < handle->nic_count; i++)
		if (handle->nics[i] && handle->nics[i]->switch_port >= 0)
			open += vswitch_port_flows(the_switch, handle->nics[i]->switch_port, now);
	return open;
}
