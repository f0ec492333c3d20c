/*
 * Supervisor: verify, build, watch and restart the guests (supervisor.h).
 *
 * Interrupt handlers only raise flags; all work happens here, in the
 * application's context, when flotilla_yield() returns.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"
#include "hypercall.h"
#include "runtime.h"
#include "domain.h"
#include "supervisor.h"
#include "trust.h"
#include "store.h"
#include "vnic.h"

#include "bundle.h"
#include "ota.h"
#include "trusted_keys.h"

#include <generated/autoconf.h>

#define MS      ((uint64_t)1000000)
#define SECONDS ((uint64_t)1000000000)

static struct guest guests[BOOT_BUNDLE_ENTRIES_MAX];
static int guest_count;
static volatile bool domain_exception;
static evtchn_port_t dom_exc_port;

static double ticks_to_ms(uint64_t ticks)
{
	return (double)runtime_ticks_to_ns(ticks) / 1e6;
}

static void on_domain_exception(evtchn_port_t port, void *arg)
{
	(void)port;
	(void)arg;
	domain_exception = true;
	events_wake_application();
}

static void on_console_event(evtchn_port_t port, void *arg)
{
	(void)port;
	struct guest *g = arg;
	g->console_pending = true;
	events_wake_application();
}

int supervisor_init(const void *dtb)
{
	int rc = dom_builder_init(dtb);
	if (rc != 0) {
		printf("control: error: cannot map the window to build guests in at %#x (%d)\n",
		       DOM_WINDOW_BASE, rc);
		return rc;
	}
	struct evtchn_bind_virq bind = {.virq = VIRQ_DOM_EXC, .vcpu = 0};
	if (xen_event_channel_op(EVTCHNOP_bind_virq, &bind) != 0) {
		printf("control: error: cannot bind VIRQ_DOM_EXC: guest deaths go unnoticed\n");
		return -1;
	}
	dom_exc_port = bind.port;
	vnic_init(dtb, NULL);
	if (events_bind(dom_exc_port, on_domain_exception, NULL) != 0) {
		printf("control: error: no event handler slot for VIRQ_DOM_EXC\n");
		return -1;
	}
	return 0;
}

const char *supervisor_state_name(enum guest_state state)
{
	switch (state) {
	case GUEST_REFUSED: return "refused";
	case GUEST_RUNNING: return "running";
	case GUEST_EXITED: return "exited";
	case GUEST_BACKOFF: return "restarting";
	case GUEST_FAILED: return "failed";
	}
	return "?";
}

void supervisor_print_status(void)
{
	uint64_t now = flotilla_clock_monotonic();
	uint64_t free_pages = dom_xen_free_pages();
	printf("control: status: %d guest(s), Xen free memory %" PRIu64 " MiB\n", guest_count,
	       free_pages >> 8);
	printf("control:   %-16s %-10s %-6s %-10s %-8s %s\n", "guest", "state", "domid", "uptime",
	       "restarts", "memory");
	for (int i = 0; i < guest_count; i++) {
		struct guest *g = &guests[i];
		char domid[8] = "-", uptime[16] = "-";
		if (g->state == GUEST_RUNNING) {
			snprintf(domid, sizeof(domid), "d%u", g->dom.domid);
			uint64_t up = now - g->started_ns;
			snprintf(uptime, sizeof(uptime), "%" PRIu64 ".%01" PRIu64 " s",
				 up / SECONDS, up / (SECONDS / 10) % 10);
		}
		printf("control:   %-16s %-10s %-6s %-10s %-8u %u MiB\n", g->name,
		       supervisor_state_name(g->state), domid, uptime, g->restarts, g->memory_mb);
		if (g->state == GUEST_REFUSED)
			printf("control:     refused: %s\n", g->refused_reason);
	}
	vnic_print_counters();
}

static void log_line(struct guest *g)
{
	g->line[g->line_len] = '\0';
	if (!g->quiet)
		printf("[%s] %s\n", g->name, g->line);
	if (g->log) {
		memcpy(g->log[g->log_next], g->line, g->line_len + 1);
		g->log_next = (g->log_next + 1) % CONFIG_CONTROL_LOG_LINES;
		if (g->log_count < CONFIG_CONTROL_LOG_LINES)
			g->log_count++;
	}
	g->line_len = 0;
}

/* Drain the guest's vpl011 output ring (we are its console backend). */
static void console_drain(struct guest *g)
{
	struct xencons_interface *ring = g->dom.console;
	if (!ring)
		return;
	/* The ring is in the guest's memory: it may write nonsense indexes. */
	XENCONS_RING_IDX cons = *(volatile XENCONS_RING_IDX *)&ring->out_cons;
	XENCONS_RING_IDX prod = *(volatile XENCONS_RING_IDX *)&ring->out_prod;
	__asm__ volatile("dmb" ::: "memory"); /* read the index before the data */
	if (prod - cons > sizeof(ring->out)) {
		if (!g->console_corrupt)
			printf("control: %s: console ring indexes are corrupt; output dropped\n",
			       g->name);
		g->console_corrupt = true;
		cons = prod - sizeof(ring->out);
	}
	if (cons != prod && !g->first_output_seen) {
		g->first_output_seen = true;
		g->first_output_ticks = runtime_counter();
		if (!g->quiet)
			printf("control: %s: first console output %.3f ms after the build started "
			       "(build itself %.3f ms)\n",
			       g->name, ticks_to_ms(g->first_output_ticks - g->dom.build_started),
			       ticks_to_ms(g->dom.build_finished - g->dom.build_started));
	}
	while (cons != prod) {
		char c = ring->out[MASK_XENCONS_IDX(cons, ring->out)];
		cons++;
		if (c == '\n' || g->line_len == sizeof(g->line) - 1)
			log_line(g);
		if (c != '\n' && c != '\r')
			g->line[g->line_len++] = c;
	}
	__asm__ volatile("dmb" ::: "memory"); /* finish reading before freeing the space */
	ring->out_cons = cons;
	/* The guest's TXFF only clears when we tell it there is room again. */
	events_notify(g->dom.console_port);
}

static int start_guest(struct guest *g)
{
	struct dom_spec spec = {
	    .name = g->name,
	    .kernel = g->image,
	    .kernel_size = g->image_size,
	    .memory_mb = g->memory_mb,
	    .vcpus = g->vcpus,
	    .bootargs = g->bootargs,
	    .pcpu_mask = g->pcpu_mask,
	};
	/* The plan's NIC list, split in place into the spec's names. */
	char nics[BOOT_BUNDLE_NICS_MAX + 1];
	memcpy(nics, g->nics, sizeof(nics));
	for (char *name = nics; *name && spec.nic_count < DOM_NICS_MAX;) {
		spec.nics[spec.nic_count++] = name;
		name += strcspn(name, ",");
		if (*name)
			*name++ = '\0';
	}
	const char *why = "unknown";
	g->first_output_seen = false;
	g->line_len = 0;
	int rc =
	    g->from_store ? store_build(g, &spec, &g->dom, &why) : dom_build(&spec, &g->dom, &why);
	if (rc != 0) {
		printf("control: %s: cannot build the domain: %s (%d)\n", g->name, why, rc);
		return rc;
	}
	if (events_bind(g->dom.console_port, on_console_event, g) != 0) {
		/* Without its console backend the guest would spin on a full FIFO. */
		printf("control: %s: no event handler slot for console port %u: not started\n",
		       g->name, (unsigned)g->dom.console_port);
		dom_destroy(&g->dom);
		return -1;
	}
	g->started_ns = flotilla_clock_monotonic();
	g->state = GUEST_RUNNING;
	if (!g->quiet)
		printf("control: %s: started as d%u (%u MiB, %u vCPU, console port %u)\n", g->name,
		       g->dom.domid, g->memory_mb, g->vcpus, (unsigned)g->dom.console_port);
	return 0;
}

static void refuse(struct guest *g, const char *reason)
{
	g->state = GUEST_REFUSED;
	g->refused_reason = reason;
	printf("control: %s: refused: %s\n", g->name, reason);
}

/* Every network interface the manifest asks for must be one of the plan's
 * vNICs (by name, as Solo5 manifests do); the plan may give more. */
bool supervisor_plan_gives_nics(const char *plan_nics, const struct ota_manifest *m, char *reason,
				size_t size)
{
	unsigned plan_count = plan_nics[0] ? 1 : 0;
	for (const char *p = plan_nics; *p; p++)
		plan_count += *p == ',';
	if (plan_count > DOM_NICS_MAX) {
		snprintf(reason, size, "the plan gives %u vNICs, at most %u fit a guest",
			 plan_count, (unsigned)DOM_NICS_MAX);
		return false;
	}
	for (unsigned i = 0; i < ota_manifest_nic_count(m); i++) {
		char name[OTA_NAME_MAX + 1];
		if (ota_manifest_nic(m, i, name) != 0)
			break;
		size_t len = strlen(name);
		bool given = false;
		for (const char *p = plan_nics; *p && !given;) {
			size_t n = strcspn(p, ",");
			given = n == len && memcmp(p, name, n) == 0;
			p += n;
			if (*p)
				p++;
		}
		if (!given) {
			snprintf(reason, size,
				 "the plan gives no vNIC \"%s\" that the manifest asks for", name);
			return false;
		}
	}
	return true;
}

static bool plan_gives_nics(struct guest *g, const struct boot_entry *e,
			    const struct ota_manifest *m)
{
	static char reasons[BOOT_BUNDLE_ENTRIES_MAX][128];
	char *reason = reasons[g - guests];
	if (supervisor_plan_gives_nics(e->nics, m, reason, sizeof(reasons[0])))
		return true;
	refuse(g, reason);
	return false;
}

/* Check the signed bundle; on success point the guest at its image. */
static void verify_entry(const struct boot_entry *e, struct guest *g)
{
	static struct ota_verifier verifier;
	struct ota_verify_policy policy = {.board = CONFIG_BOARD};
	policy.keys = trust_keys(&policy.key_count);
	if (e->flags & BOOT_ENTRY_ON_CARD) {
		/* Built from the card, verified there; this copy only seeds. */
		g->refused_reason = "not started yet";
		return;
	}
	int rc = ota_bundle_verify(&verifier, &policy, e->bundle, e->bundle_size);
	if (rc != OTA_OK) {
		refuse(g, ota_strerror(rc));
		return;
	}
	const struct ota_manifest *m = ota_verifier_manifest(&verifier);
	if (strcmp(m->name, e->name) != 0) {
		refuse(g, "the signed manifest names another guest");
		return;
	}
	if (e->memory_mb < m->memory_mib || e->vcpus < m->vcpus) {
		refuse(g, "the plan gives less memory or fewer vCPUs than the manifest asks for");
		return;
	}
	if (!plan_gives_nics(g, e, m))
		return;
	size_t head = verifier.header.header_size + verifier.header.manifest_size +
		      verifier.header.signature_size;
	g->image = e->bundle + head;
	g->image_size = m->image_size;
	snprintf(g->version, sizeof(g->version), "%u.%u.%u", (unsigned)m->version[0],
		 (unsigned)m->version[1], (unsigned)m->version[2]);
	printf("control: %s: bundle verified (version %s, counter %u, %u bytes)\n", g->name,
	       g->version, (unsigned)m->security_counter, (unsigned)m->image_size);
}

int supervisor_load(const struct boot_entry *entries, int count)
{
	/* Verify all first: benchmarks then run on a quiet machine, before
	 * supervisor_start_all() starts the verified guests. */
	for (int i = 0; i < count && guest_count < BOOT_BUNDLE_ENTRIES_MAX; i++) {
		struct guest *g = &guests[guest_count++];
		memset(g, 0, sizeof(*g));
		memcpy(g->name, entries[i].name, sizeof(g->name));
		memcpy(g->bootargs, entries[i].bootargs, sizeof(g->bootargs));
		memcpy(g->nics, entries[i].nics, sizeof(g->nics));
		g->memory_mb = entries[i].memory_mb;
		g->vcpus = entries[i].vcpus;
		g->pcpu_mask = entries[i].pcpu_mask;
		g->backoff_ms = CONFIG_CONTROL_RESTART_BACKOFF_MS;
		g->log = calloc(CONFIG_CONTROL_LOG_LINES, sizeof(*g->log));
		verify_entry(&entries[i], g);
	}
	return guest_count;
}

void supervisor_start_all(void)
{
	for (int i = 0; i < guest_count; i++) {
		struct guest *g = &guests[i];
		if ((g->image || g->from_store) && start_guest(g) != 0)
			g->state = GUEST_FAILED;
	}
	supervisor_print_status();
}

struct guest *supervisor_guest(int i)
{
	return i >= 0 && i < guest_count ? &guests[i] : NULL;
}

int supervisor_rebuild(struct guest *g)
{
	if (g->state == GUEST_RUNNING) {
		console_drain(g);
		dom_destroy(&g->dom);
	}
	g->crashes_in_window = 0;
	int rc = start_guest(g);
	if (rc != 0)
		g->state = GUEST_FAILED;
	supervisor_print_status();
	return rc;
}

static void handle_death(struct guest *g, int reason)
{
	console_drain(g);
	if (g->line_len)
		log_line(g);
	dom_destroy(&g->dom);
	uint64_t now = flotilla_clock_monotonic();
	if (reason == SHUTDOWN_poweroff) {
		g->state = GUEST_EXITED;
		printf("control: %s: exited (poweroff)\n", g->name);
		return;
	}
	if (now - g->window_start_ns > (uint64_t)CONFIG_CONTROL_CRASH_WINDOW_S * SECONDS) {
		g->window_start_ns = now;
		g->crashes_in_window = 0;
		g->backoff_ms = CONFIG_CONTROL_RESTART_BACKOFF_MS;
	}
	/* A trial's crashes are bounded by its attempts (store.c), not here. */
	if (g->from_store && store_on_trial(g))
		g->crashes_in_window = 0;
	g->crashes_in_window++;
	if (g->crashes_in_window >= CONFIG_CONTROL_CRASH_LIMIT) {
		g->state = GUEST_FAILED;
		printf("control: %s: %s; %u crashes within %u s: marked failed, not restarted\n",
		       g->name, dom_shutdown_reason_name(reason), g->crashes_in_window,
		       CONFIG_CONTROL_CRASH_WINDOW_S);
		return;
	}
	g->state = GUEST_BACKOFF;
	g->restart_at_ns = now + g->backoff_ms * MS;
	printf("control: %s: %s; restarting in %u ms (crash %u; marked failed at %u within %u s)\n",
	       g->name, dom_shutdown_reason_name(reason), g->backoff_ms, g->crashes_in_window,
	       CONFIG_CONTROL_CRASH_LIMIT, CONFIG_CONTROL_CRASH_WINDOW_S);
	g->backoff_ms *= 2;
}

uint64_t supervisor_poll(void)
{
	bool changed = false;
	for (int i = 0; i < guest_count; i++) {
		struct guest *g = &guests[i];
		if (g->state == GUEST_RUNNING && g->console_pending) {
			g->console_pending = false;
			console_drain(g);
		}
	}
	if (domain_exception) {
		domain_exception = false;
		for (int i = 0; i < guest_count; i++) {
			struct guest *g = &guests[i];
			struct dom_info info;
			if (g->state != GUEST_RUNNING)
				continue;
			if (dom_getinfo(g->dom.domid, &info) != 0) {
				handle_death(g, SHUTDOWN_crash); /* vanished */
				changed = true;
			} else if (info.shutdown) {
				handle_death(g, info.shutdown_reason);
				changed = true;
			}
		}
	}
	uint64_t now = flotilla_clock_monotonic();
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < guest_count; i++) {
		struct guest *g = &guests[i];
		if (g->state != GUEST_BACKOFF)
			continue;
		if (now >= g->restart_at_ns) {
			g->restarts++;
			if (start_guest(g) != 0)
				g->state = GUEST_FAILED;
			changed = true;
		} else if (g->restart_at_ns < next) {
			next = g->restart_at_ns;
		}
	}
	if (changed)
		supervisor_print_status();
	return next;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Xen's free memory once it stops moving: pages of a destroyed domain
 * reach the free pool a little after the domain is gone. */
static uint64_t settled_free_pages(void)
{
	/* A destroyed domain's last pages (p2m, paging pool) come back after an
	 * RCU grace period, and Xen scrubs freed pages in its idle loop: wait
	 * for three equal readings 100 ms apart with nothing left to scrub. */
	uint64_t previous = dom_xen_free_pages();
	int stable = 0;
	for (int i = 0; i < 50 && stable < 3; i++) {
		uint64_t wake = flotilla_clock_monotonic() + 100 * MS;
		while (flotilla_clock_monotonic() < wake)
			flotilla_yield(wake);
		uint64_t now = dom_xen_free_pages();
		stable = now == previous && dom_xen_scrub_pages() == 0 ? stable + 1 : 0;
		previous = now;
	}
	return previous;
}

static struct guest *bench_guest(void)
{
	for (int i = 0; i < guest_count; i++)
		if (guests[i].image)
			return &guests[i];
	return NULL;
}

void supervisor_bench_build(unsigned runs)
{
	struct guest *model = bench_guest();
	static uint64_t first_line[64], cycle[64], phase[DOM_BUILD_PHASES][64], boot[64],
	    destroy[64];
	if (!model || runs == 0 || runs > 64) {
		printf("control: bench: needs a verified guest and 1..64 runs\n");
		return;
	}
	struct guest g = *model;
	g.quiet = true;
	g.log = NULL;
	g.from_store = false; /* the builder's figures, from the verified image in RAM */
	unsigned done = 0;
	for (unsigned i = 0; i < runs; i++) {
		/* Measure a board at rest, as a guest is built in service: let Xen
		 * take back the last run's memory and scrub it in its idle loop
		 * (back-to-back builds, which pay for scrubbing, are the cycles
		 * figure). */
		settled_free_pages();
		if (start_guest(&g) != 0)
			break;
		uint64_t give_up = flotilla_clock_monotonic() + 2 * SECONDS;
		while (!g.first_output_seen && flotilla_clock_monotonic() < give_up) {
			flotilla_yield(give_up);
			if (g.console_pending) {
				g.console_pending = false;
				console_drain(&g);
			}
		}
		uint64_t destroy_started = runtime_counter();
		dom_destroy(&g.dom);
		uint64_t destroyed_at = runtime_counter();
		if (!g.first_output_seen)
			break;
		first_line[done] = g.first_output_ticks - g.dom.build_started;
		uint64_t previous = g.dom.build_started;
		for (int p = 0; p < DOM_BUILD_PHASES; p++) {
			phase[p][done] = g.dom.phase_end[p] - previous;
			previous = g.dom.phase_end[p];
		}
		boot[done] = g.first_output_ticks - g.dom.build_finished;
		cycle[done] = destroyed_at - g.dom.build_started;
		destroy[done] = destroyed_at - destroy_started;
		done++;
	}
	domain_exception = false;
	qsort(first_line, done, sizeof(first_line[0]), compare_u64);
	qsort(cycle, done, sizeof(cycle[0]), compare_u64);
	if (done)
		printf(
		    "control: bench: build start to first console line: median %.3f ms, min %.3f, "
		    "max %.3f (n=%u, guest %s)\n",
		    ticks_to_ms(first_line[done / 2]), ticks_to_ms(first_line[0]),
		    ticks_to_ms(first_line[done - 1]), done, model->name);
	if (done)
		printf(
		    "control: bench: build + first line + destroy cycle: median %.3f ms (n=%u)\n",
		    ticks_to_ms(cycle[done / 2]), done);
	if (done) {
		/* Destroy alone: the figure `xl destroy` is compared with. */
		qsort(destroy, done, sizeof(destroy[0]), compare_u64);
		printf("control: bench: destroy median %.3f ms (n=%u)\n",
		       ticks_to_ms(destroy[done / 2]), done);
	}
	for (int p = 0; p < DOM_BUILD_PHASES && done; p++) {
		qsort(phase[p], done, sizeof(phase[p][0]), compare_u64);
		printf("control: bench:   phase %-9s median %.3f ms\n", dom_build_phase_names[p],
		       ticks_to_ms(phase[p][done / 2]));
	}
	if (done) {
		qsort(boot, done, sizeof(boot[0]), compare_u64);
		printf("control: bench:   unpause to first console line median %.3f ms\n",
		       ticks_to_ms(boot[done / 2]));
	}
	if (done != runs)
		printf("control: bench: only %u of %u runs completed\n", done, runs);
}

void supervisor_bench_cycles(unsigned cycles)
{
	struct guest *model = bench_guest();
	if (!model) {
		printf("control: cycles: needs a verified guest\n");
		return;
	}
	struct guest g = *model;
	g.quiet = true;
	g.log = NULL;
	g.from_store = false;
	uint64_t before = settled_free_pages();
	uint64_t started = runtime_counter();
	unsigned done = 0;
	for (; done < cycles; done++) {
		if (start_guest(&g) != 0)
			break;
		if (dom_destroy(&g.dom) != 0)
			break;
	}
	uint64_t elapsed = runtime_counter() - started;
	domain_exception = false;
	uint64_t after = settled_free_pages();
	printf("control: cycles: %u create/destroy cycles of %s, %.3f ms each; Xen free pages "
	       "before %" PRIu64 ", after %" PRIu64 "\n",
	       done, model->name, done ? ticks_to_ms(elapsed) / done : 0.0, before, after);
}

int supervisor_guest_count(void)
{
	return guest_count;
}

struct guest *supervisor_find(const char *name)
{
	for (int i = 0; i < guest_count; i++)
		if (strcmp(guests[i].name, name) == 0)
			return &guests[i];
	return NULL;
}

bool supervisor_busy(const struct guest *g)
{
	return !op_finished(g->op.stage);
}

/* First cut of the swap: stop-then-start from the card (the hot swap
 * replaces it). */
void supervisor_swap_start(struct guest *g, enum op_kind kind)
{
	uint64_t now = flotilla_clock_monotonic() / MS;
	g->op.kind = kind;
	g->op.stage = OP_STARTING;
	snprintf(g->op.mode, sizeof(g->op.mode), "stop-then-start");
	int rc = supervisor_rebuild(g);
	g->op.built_ms = flotilla_clock_monotonic() / MS;
	g->op.gap_ms = (uint32_t)(g->op.built_ms - now);
	if (rc == 0 && store_confirm(g->name) == 0) {
		g->op.stage = OP_CONFIRMED;
	} else {
		g->op.stage = OP_FAILED;
		snprintf(g->op.code, sizeof(g->op.code), "build_failed");
		snprintf(g->op.reason, sizeof(g->op.reason), "the new version could not be built");
	}
	g->op.finished_ms = flotilla_clock_monotonic() / MS;
}

int supervisor_rollback(struct guest *g)
{
	(void)g;
	return OTA_E_STATE;
}

int supervisor_restart(struct guest *g)
{
	return supervisor_rebuild(g);
}
