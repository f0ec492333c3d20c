/*
 * gstatus: guests' status pages on the control domain's side (gstatus.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devicetree.h"

#include "flotilla.h"
#include "flotilla_status_page.h"
#include "hypercall.h"
#include "runtime.h"

#include "boot_bundle.h"
#include "builder.h"
#include "gstatus.h"

#define PAGE_SIZE  4096u
#define PAGE_SHIFT 12
#define NICS       4u /* struct gstatus_view's arrays */
/* The guest maps its status page in the gigabyte of RAM its page table covers. */
#define GUEST_MAPPED_END (GUEST_RAM0_BASE + (1ull << 30))
/* A writer that keeps the sequence odd or moving cannot hold us up. */
#define READ_TRIES 4

_Static_assert(NICS <= FLOTILLA_STATUS_NICS, "more view NICs than page slots");
_Static_assert(DOM_NICS_MAX <= FLOTILLA_STATUS_NICS, "more vNICs than status page slots");

struct gstatus {
	bool used;
	bool mapped;
	uint16_t domid;
	uint64_t gpa;
	evtchn_port_t guest_port;
	evtchn_port_t local_port;
	volatile struct flotilla_status_page *page;
	volatile bool notified;
	volatile uint64_t notified_ticks; /* runtime_counter() at the latest notification */
	uint64_t build_started;           /* the handle's, for "ready after N ms" */
	char name[BOOT_BUNDLE_NAME_MAX + 1];
	char nic_names[DOM_NICS_MAX][16];
	unsigned nic_count;
	struct gstatus_view view; /* the latest good snapshot */
	/* what was logged, so that each change is logged once */
	bool ready_logged;
	bool garbage_logged;
	uint8_t logged_health;
	uint32_t logged_ipv4[NICS], logged_netmask[NICS], logged_gateway[NICS];
};

/* Allocated by the first gstatus_build(), not in the image: .bss is part of the file. */
static struct gstatus *slots;

static uint64_t window_pfn(unsigned slot)
{
	return ((uint64_t)DOM_WINDOW_BASE >> PAGE_SHIFT) + slot;
}

static void on_status_event(evtchn_port_t port, void *arg)
{
	(void)port;
	struct gstatus *s = arg;
	s->notified_ticks = runtime_counter();
	s->notified = true;
	events_wake_application();
}

static void release(struct gstatus *s)
{
	if (s->local_port) {
		events_unbind(s->local_port);
		struct evtchn_close close = {.port = s->local_port};
		xen_event_channel_op(EVTCHNOP_close, &close); /* else a port leaks per instance */
	}
	unsigned slot = (unsigned)(s - slots);
	if (s->mapped && dom_unmap_foreign(window_pfn(slot), 1) != 0)
		printf("control: d%u: status page would not unmap\n", s->domid);
	memset(s, 0, sizeof(*s));
}

int gstatus_build(struct dom_handle *h, uint64_t page_gpa, const char **why)
{
	h->status = NULL;
	if (page_gpa < GUEST_RAM0_BASE || page_gpa + PAGE_SIZE > GUEST_MAPPED_END ||
	    page_gpa % PAGE_SIZE)
		return 0; /* no room the guest could map: it runs without one */
	if (!slots && !(slots = calloc(DOM_WINDOW_STATUS_PAGES, sizeof(*slots)))) {
		*why = "no memory for status pages";
		return -ENOMEM;
	}
	struct gstatus *s = NULL;
	for (unsigned i = 0; i < DOM_WINDOW_STATUS_PAGES && !s; i++)
		if (!slots[i].used)
			s = &slots[i];
	if (!s) {
		*why = "too many domains for their status pages (DOM_WINDOW_STATUS_PAGES)";
		return -ENOSPC;
	}
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->domid = h->domid;
	s->gpa = page_gpa;
	s->build_started = h->build_started;
	snprintf(s->name, sizeof(s->name), "d%u", h->domid);
	h->status = s; /* from here on, dom_build's failure path releases it */

	unsigned slot = (unsigned)(s - slots);
	int rc = dom_share_pages(h->domid, page_gpa >> PAGE_SHIFT, window_pfn(slot), 1,
				 "status page", why);
	if (rc != 0)
		return rc;
	s->mapped = true;
	s->page =
	    (volatile struct flotilla_status_page *)(uintptr_t)(window_pfn(slot) << PAGE_SHIFT);
	memset((void *)s->page, 0, PAGE_SIZE);
	s->page->magic = FLOTILLA_STATUS_MAGIC;
	s->page->version = FLOTILLA_STATUS_VERSION;
	s->page->size = sizeof(struct flotilla_status_page);

	return dom_event_channel(h->domid, on_status_event, s, &s->guest_port, &s->local_port,
				 "status page", why);
}

void gstatus_name(struct dom_handle *h, const struct dom_spec *spec)
{
	struct gstatus *s = h->status;
	if (!s)
		return;
	if (spec->name)
		snprintf(s->name, sizeof(s->name), "%s", spec->name);
	s->nic_count = spec->nic_count < DOM_NICS_MAX ? spec->nic_count : DOM_NICS_MAX;
	for (unsigned i = 0; i < s->nic_count; i++)
		snprintf(s->nic_names[i], sizeof(s->nic_names[i]), "%s",
			 spec->nics[i] ? spec->nics[i] : "?");
}

int gstatus_device_tree(void *fdt, const struct dom_handle *h)
{
	const struct gstatus *s = h->status;
	if (!s)
		return 0;
	int rc = 0;
#define FDT(call)                                                                                  \
	do {                                                                                       \
		if (rc == 0)                                                                       \
			rc = (call);                                                               \
	} while (0)
	char node[40];
	snprintf(node, sizeof(node), "flotilla-status@%llx", (unsigned long long)s->gpa);
	FDT(fdt_begin_node(fdt, node));
	FDT(fdt_property_string(fdt, "compatible", FLOTILLA_STATUS_COMPAT));
	fdt64_t reg[2] = {cpu_to_fdt64(s->gpa), cpu_to_fdt64(PAGE_SIZE)};
	FDT(fdt_property(fdt, "reg", reg, sizeof(reg)));
	FDT(fdt_property_cell(fdt, "flotilla,event-channel", s->guest_port));
	FDT(fdt_property_cell(fdt, "flotilla,version", FLOTILLA_STATUS_VERSION));
	FDT(fdt_end_node(fdt));
#undef FDT
	return rc;
}

static bool netmask_contiguous(uint32_t m)
{
	return (~m & (~m + 1)) == 0; /* the zeros are all at the bottom */
}

/* Check a copy of the page; NULL when sane, else why not. Fills v. */
static const char *check(const struct gstatus *s, const struct flotilla_status_page *p,
			 struct gstatus_view *v)
{
	if (p->magic != FLOTILLA_STATUS_MAGIC || p->version != FLOTILLA_STATUS_VERSION ||
	    p->size != sizeof(*p))
		return "its header was overwritten";
	if (p->ready > 1)
		return "ready is neither 0 nor 1";
	if (p->health > FLOTILLA_HEALTH_FAILED)
		return "unknown health status";
	if (!memchr(p->reason, '\0', sizeof(p->reason)))
		return "health reason not terminated";
	memset(v, 0, sizeof(*v));
	v->valid = true;
	v->ready = p->ready == 1;
	v->ready_count = p->ready_count;
	v->health = (uint8_t)p->health;
	/* Printable ASCII only: the text reaches the operator's console and logs. */
	for (size_t i = 0; i < sizeof(v->reason) - 1 && p->reason[i]; i++)
		v->reason[i] = p->reason[i] >= 0x20 && p->reason[i] < 0x7f ? p->reason[i] : '?';
	for (unsigned i = 0; i < FLOTILLA_STATUS_NICS; i++) {
		const struct flotilla_status_nic *n = &p->nic[i];
		if (!(n->flags & FLOTILLA_STATUS_NIC_CONFIGURED))
			continue;
		if (i >= s->nic_count || i >= NICS)
			return "an address for a NIC it does not have";
		if (n->ipv4 == 0 || n->ipv4 == 0xffffffffu || n->ipv4 >> 28 >= 0xe ||
		    !netmask_contiguous(n->netmask) || n->netmask == 0)
			return "an impossible address or netmask";
		v->ipv4[i] = n->ipv4;
		v->netmask[i] = n->netmask;
		v->gateway[i] = n->gateway;
	}
	return NULL;
}

/* Take a snapshot if the page holds a whole, sane one; keep the old one
 * otherwise. seen: runtime_counter() when the guest's write was noticed. */
static void refresh(struct gstatus *s, uint64_t seen)
{
	static struct flotilla_status_page copy;
	const char *why = "the guest kept writing it";
	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint32_t before = s->page->sequence;
		__asm__ volatile("dmb" ::: "memory");
		if (before & 1)
			continue;
		memcpy(&copy, (const void *)s->page, sizeof(copy));
		__asm__ volatile("dmb" ::: "memory");
		if (s->page->sequence != before)
			continue;
		struct gstatus_view v;
		why = check(s, &copy, &v);
		if (why)
			break;
		/* Readiness latches: the time we first saw it. */
		v.ready = v.ready || s->view.ready;
		v.ready_ns = s->view.ready_ns;
		if (v.ready && !v.ready_ns)
			v.ready_ns = runtime_ticks_to_ns(seen);
		s->view = v;
		return;
	}
	if (!s->garbage_logged) {
		s->garbage_logged = true;
		printf("control: %s: status page ignored: %s\n", s->name, why);
	}
}

bool gstatus_read(const struct dom_handle *h, struct gstatus_view *v)
{
	struct gstatus *s = h->status;
	if (!s || !s->page) {
		memset(v, 0, sizeof(*v));
		return false;
	}
	refresh(s, runtime_counter());
	*v = s->view;
	return v->valid;
}

void gstatus_drain(const struct dom_handle *h)
{
	struct gstatus *s = h->status;
	if (!s || !s->page || !s->local_port)
		return;
	s->page->drain = 1;
	__asm__ volatile("dsb" ::: "memory"); /* the word before the event */
	events_notify(s->local_port);
}

static void format_ipv4(char *out, size_t size, uint32_t a)
{
	snprintf(out, size, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16) & 255,
		 (unsigned)(a >> 8) & 255, (unsigned)a & 255);
}

static int prefix_length(uint32_t netmask)
{
	int n = 0;
	while (n < 32 && (netmask & (0x80000000u >> n)))
		n++;
	return n;
}

static const char *const health_names[] = {"ok", "degraded", "failed"};

static void log_changes(struct gstatus *s)
{
	const struct gstatus_view *v = &s->view;
	if (!v->valid)
		return;
	if (v->ready && !s->ready_logged) {
		s->ready_logged = true;
		uint64_t started = runtime_ticks_to_ns(s->build_started);
		uint64_t ms = v->ready_ns > started ? (v->ready_ns - started) / 1000000u : 0;
		printf("control: %s: ready after %llu ms\n", s->name, (unsigned long long)ms);
	}
	if (v->health != s->logged_health) {
		s->logged_health = v->health;
		printf("control: %s: health %s%s%s\n", s->name, health_names[v->health],
		       v->reason[0] ? ": " : "", v->reason);
	}
	for (unsigned i = 0; i < NICS && i < s->nic_count; i++) {
		if (v->ipv4[i] == s->logged_ipv4[i] && v->netmask[i] == s->logged_netmask[i] &&
		    v->gateway[i] == s->logged_gateway[i])
			continue;
		s->logged_ipv4[i] = v->ipv4[i];
		s->logged_netmask[i] = v->netmask[i];
		s->logged_gateway[i] = v->gateway[i];
		if (!v->ipv4[i]) {
			printf("control: %s: %s no address\n", s->name, s->nic_names[i]);
			continue;
		}
		char a[16], g[16];
		format_ipv4(a, sizeof(a), v->ipv4[i]);
		format_ipv4(g, sizeof(g), v->gateway[i]);
		printf("control: %s: %s %s/%d%s%s\n", s->name, s->nic_names[i], a,
		       prefix_length(v->netmask[i]), v->gateway[i] ? " gw " : "",
		       v->gateway[i] ? g : "");
	}
}

void gstatus_destroy(struct dom_handle *h)
{
	struct gstatus *s = h->status;
	if (!s)
		return;
	/* A guest that said something and stopped before the main loop
	 * looked (e.g. it powered off at once) still gets its lines. */
	if (s->page && s->notified) {
		refresh(s, s->notified_ticks);
		log_changes(s);
	}
	release(s);
	h->status = NULL;
}

uint64_t gstatus_poll(void)
{
	if (!slots)
		return UINT64_MAX;
	for (unsigned i = 0; i < DOM_WINDOW_STATUS_PAGES; i++) {
		struct gstatus *s = &slots[i];
		if (!s->used || !s->page || !s->notified)
			continue;
		s->notified = false;
		/* The notification's time: the main loop may come late. */
		refresh(s, s->notified_ticks);
		log_changes(s);
	}
	return UINT64_MAX;
}

size_t gstatus_lease_args(const struct dom_handle *h, char *out, size_t size)
{
	struct gstatus_view v;
	if (!size)
		return 0;
	out[0] = '\0';
	if (!gstatus_read(h, &v))
		return 0;
	const struct gstatus *s = h->status;
	size_t used = 0;
	for (unsigned i = 0; i < NICS && i < s->nic_count; i++) {
		if (!v.ipv4[i])
			continue;
		char a[16], g[16];
		format_ipv4(a, sizeof(a), v.ipv4[i]);
		format_ipv4(g, sizeof(g), v.gateway[i]);
		int n = snprintf(out + used, size - used, " flotilla.lease=%s:%s/%d,%s",
				 s->nic_names[i], a, prefix_length(v.netmask[i]), g);
		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0'; /* all or nothing for each NIC */
			return used;
		}
		used += (size_t)n;
	}
	return used;
}
