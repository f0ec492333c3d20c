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
#include "gstatus.h"
#include "probe.h"

#include "bundle.h"
#include "event_log.h"
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

/* The hot swap (at the end of this file). */
static uint64_t swap_poll(struct guest *g, uint64_t now);
static void swap_candidate_died(struct guest *g, int reason);
static bool swap_crash_loop(struct guest *g, int reason, unsigned crashes);
static void forget_crashes(struct guest *g);
static void swap_begin(struct guest *g, enum op_kind kind, bool auto_rollback);

static void on_console_event(evtchn_port_t port, void *arg)
{
	(void)port;
	struct guest *g = arg;
	g->console_pending = true;
	events_wake_application();
}

static bool instance_live(const struct guest_instance *in)
{
	return in->dom.domid != 0 && !in->dying;
}

static struct guest_instance *candidate(struct guest *g)
{
	return &g->inst[!g->run];
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
	printf("control:   %-16s %-10s %-6s %-10s %-8s %-8s %s\n", "guest", "state", "domid",
	       "uptime", "restarts", "version", "memory");
	for (int i = 0; i < guest_count; i++) {
		struct guest *g = &guests[i];
		char domid[8] = "-", uptime[16] = "-";
		if (g->state == GUEST_RUNNING) {
			snprintf(domid, sizeof(domid), "d%u", guest_dom(g)->domid);
			uint64_t up = now - g->started_ns;
			snprintf(uptime, sizeof(uptime), "%" PRIu64 ".%01" PRIu64 " s",
				 up / SECONDS, up / (SECONDS / 10) % 10);
		}
		printf("control:   %-16s %-10s %-6s %-10s %-8u %-8s %u MiB\n", g->name,
		       supervisor_state_name(g->state), domid, uptime, g->restarts,
		       g->version[0] ? g->version : "-", g->memory_mb);
		if (g->state == GUEST_REFUSED)
			printf("control:     refused: %s\n", g->refused_reason);
		struct guest_instance *c = candidate(g);
		if (c->dom.domid)
			printf("control:     %s instance d%u (v%s)%s\n",
			       g->swap == SWAP_DRAINING ? "draining" : "candidate", c->dom.domid,
			       c->version, c->dying ? ", destroy failed: retrying" : "");
		if (!op_finished(g->op.stage))
			printf("control:     %s under way: %s\n", op_kind_name(g->op.kind),
			       op_stage_name(g->op.stage));
	}
	vnic_print_counters();
}

static void log_line(struct guest *g, struct guest_instance *in)
{
	in->line[in->line_len] = '\0';
	/* A swap's candidate, and the old instance while it drains, speak
	 * under their own tags. */
	bool cand = in != &g->inst[g->run];
	const char *tag = !cand ? "" : g->swap == SWAP_DRAINING ? " old" : " new";
	if (!g->quiet)
		printf("[%s%s] %s\n", g->name, tag, in->line);
	if (g->log) {
		snprintf(g->log[g->log_next], sizeof(g->log[0]), "%s%.152s",
			 !cand                      ? ""
			 : g->swap == SWAP_DRAINING ? "(old) "
						    : "(new) ",
			 in->line);
		g->log_next = (g->log_next + 1) % CONFIG_CONTROL_LOG_LINES;
		if (g->log_count < CONFIG_CONTROL_LOG_LINES)
			g->log_count++;
		g->log_total++;
	}
	in->line_len = 0;
}

/*
 * Drain an instance's vpl011 output ring (we are its console backend).
 * Only printable ASCII passes: a guest must not be able to move the
 * operator's cursor, forge a "control:" line with a carriage return, or
 * send terminal escape sequences; every line it prints carries its tag.
 */
static void console_drain(struct guest *g, struct guest_instance *in)
{
	struct xencons_interface *ring = in->dom.console;
	if (!ring)
		return;
	/* The ring is in the guest's memory: it may write nonsense indexes. */
	XENCONS_RING_IDX cons = *(volatile XENCONS_RING_IDX *)&ring->out_cons;
	XENCONS_RING_IDX prod = *(volatile XENCONS_RING_IDX *)&ring->out_prod;
	__asm__ volatile("dmb" ::: "memory"); /* read the index before the data */
	if (prod - cons > sizeof(ring->out)) {
		if (!in->console_corrupt)
			printf("control: %s: console ring indexes are corrupt; output dropped\n",
			       g->name);
		in->console_corrupt = true;
		cons = prod - sizeof(ring->out);
	}
	if (cons != prod && !in->first_output_seen) {
		in->first_output_seen = true;
		in->first_output_ticks = runtime_counter();
		if (!g->quiet)
			printf("control: %s: first console output %.3f ms after the build started "
			       "(build itself %.3f ms)\n",
			       g->name, ticks_to_ms(in->first_output_ticks - in->dom.build_started),
			       ticks_to_ms(in->dom.build_finished - in->dom.build_started));
	}
	while (cons != prod) {
		char c = ring->out[MASK_XENCONS_IDX(cons, ring->out)];
		cons++;
		if (c == '\n' || in->line_len == sizeof(in->line) - 1)
			log_line(g, in);
		if (c == '\t')
			c = ' ';
		if (c >= 0x20 && c <= 0x7e)
			in->line[in->line_len++] = c;
	}
	__asm__ volatile("dmb" ::: "memory"); /* finish reading before freeing the space */
	ring->out_cons = cons;
	/* The guest's TXFF only clears when we tell it there is room again. */
	events_notify(in->dom.console_port);
}

static void instance_console_flush(struct guest *g, struct guest_instance *in)
{
	console_drain(g, in);
	if (in->line_len)
		log_line(g, in);
}

/*
 * Destroys an instance's domain. When Xen will not let it go (a page still
 * mapped, a hypercall refused), the domid is kept and the destroy retried
 * from supervisor_poll(): a domain is never forgotten while it holds memory.
 */
static int destroy_instance(struct guest *g, struct guest_instance *in)
{
	if (!in->dom.domid)
		return 0;
	if (!in->dying) {
		instance_console_flush(g, in);
		/* Remember where the serving instance was on the LAN. */
		if (in == &g->inst[g->run] && in->dom.domid) {
			char lease[sizeof(g->lease)];
			if (gstatus_lease_args(&in->dom, lease, sizeof(lease)) > 0)
				memcpy(g->lease, lease, sizeof(lease));
		}
	}
	uint16_t domid = in->dom.domid;
	int rc = dom_destroy(&in->dom);
	if (rc != 0) {
		if (!in->dying)
			printf(
			    "control: %s: d%u could not be destroyed (%d): retrying every %u ms\n",
			    g->name, domid, rc, CONFIG_CONTROL_DESTROY_RETRY_MS);
		in->dying = true;
		in->destroy_retry_ns =
		    flotilla_clock_monotonic() + (uint64_t)CONFIG_CONTROL_DESTROY_RETRY_MS * MS;
		return rc;
	}
	if (in->dying)
		printf("control: %s: d%u destroyed at last\n", g->name, domid);
	in->dying = false;
	return 0;
}

/*
 * Builds an instance of g into in. staged: its vNICs join the switch
 * isolated (a swap's candidate); extra: boot arguments appended to the
 * plan's (the lease it inherits). 0, or an error with the reason printed.
 */
static int start_instance(struct guest *g, struct guest_instance *in, bool staged,
			  const char *extra, const char **why_out)
{
	static char bootargs[BOOT_BUNDLE_BOOTARGS_MAX + sizeof(g->lease) + 2];
	if (in->dom.domid) {
		if (why_out)
			*why_out = "a previous instance is still being destroyed";
		return -1;
	}
	snprintf(bootargs, sizeof(bootargs), "%s%s%s", g->bootargs, extra && *extra ? " " : "",
		 extra ? extra : "");
	struct dom_spec spec = {
	    .name = g->name,
	    .kernel = g->image,
	    .kernel_size = g->image_size,
	    .memory_mb = g->memory_mb,
	    .vcpus = g->vcpus,
	    .bootargs = bootargs,
	    .pcpu_mask = g->pcpu_mask,
	};
	spec.staged = staged;
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
	in->first_output_seen = false;
	in->console_corrupt = false;
	in->line_len = 0;
	char version[sizeof(g->version)];
	memcpy(version, g->version, sizeof(version));
	int rc = g->from_store ? store_build(g, &spec, &in->dom, &why)
			       : dom_build(&spec, &in->dom, &why);
	/* store_build() names the version it built in g->version: it belongs
	 * to this instance; the guest's stays that of the serving one. */
	memcpy(in->version, g->version, sizeof(in->version));
	if (in != &g->inst[g->run])
		memcpy(g->version, version, sizeof(version));
	if (rc != 0) {
		printf("control: %s: cannot build the domain: %s (%d)\n", g->name, why, rc);
		if (why_out)
			*why_out = why;
		return rc;
	}
	if (events_bind(in->dom.console_port, on_console_event, g) != 0) {
		/* Without its console backend the guest would spin on a full FIFO. */
		printf("control: %s: no event handler slot for console port %u: not started\n",
		       g->name, (unsigned)in->dom.console_port);
		destroy_instance(g, in);
		if (why_out)
			*why_out = "no event handler slot for its console";
		return -1;
	}
	in->started_ns = flotilla_clock_monotonic();
	if (!g->quiet)
		printf("control: %s: started as d%u (%u MiB, %u vCPU, console port %u%s)\n",
		       g->name, in->dom.domid, g->memory_mb, g->vcpus,
		       (unsigned)in->dom.console_port,
		       staged ? ", staged beside the running one" : "");
	return 0;
}

/* (Re)starts the serving instance. */
static int start_guest(struct guest *g)
{
	struct guest_instance *in = &g->inst[g->run];
	int rc = start_instance(g, in, false, NULL, NULL);
	if (rc != 0)
		return rc;
	g->started_ns = in->started_ns;
	g->state = GUEST_RUNNING;
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
		snprintf(g->probe, sizeof(g->probe), "%s", entries[i].probe);
		g->ready_timeout_s = entries[i].ready_timeout_s;
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
	if (destroy_instance(g, &g->inst[g->run]) != 0) {
		printf("control: %s: not rebuilt: its domain would not go\n", g->name);
		return -1;
	}
	forget_crashes(g);
	int rc = start_guest(g);
	if (rc != 0)
		g->state = GUEST_FAILED;
	supervisor_print_status();
	return rc;
}

/* Crashes within the last CONFIG_CONTROL_CRASH_WINDOW_S seconds (a sliding
 * window over the ring of the latest crash times). */
static unsigned crashes_in_window(const struct guest *g, uint64_t now)
{
	unsigned n = 0;
	for (unsigned i = 0; i < CONFIG_CONTROL_CRASH_LIMIT; i++)
		if (g->crash_ns[i] &&
		    now - g->crash_ns[i] <= (uint64_t)CONFIG_CONTROL_CRASH_WINDOW_S * SECONDS)
			n++;
	return n;
}

unsigned supervisor_crashes_in_window(const struct guest *g)
{
	/* A guest marked failed keeps its count: that is why it stopped. */
	uint64_t now = flotilla_clock_monotonic();
	unsigned n = crashes_in_window(g, now);
	if (g->state == GUEST_FAILED && n == 0)
		for (unsigned i = 0; i < CONFIG_CONTROL_CRASH_LIMIT; i++)
			n += g->crash_ns[i] != 0;
	return n;
}

static void record_crash(struct guest *g, uint64_t now)
{
	g->crash_ns[g->crash_next] = now;
	g->crash_next = (g->crash_next + 1) % CONFIG_CONTROL_CRASH_LIMIT;
}

static void forget_crashes(struct guest *g)
{
	memset(g->crash_ns, 0, sizeof(g->crash_ns));
	g->crash_next = 0;
	g->backoff_ms = CONFIG_CONTROL_RESTART_BACKOFF_MS;
}

/* The next restart delay: doubling, capped, and back to the first one when
 * the previous crash has left the window. */
static unsigned next_backoff(struct guest *g, unsigned crashes)
{
	if (crashes <= 1)
		g->backoff_ms = CONFIG_CONTROL_RESTART_BACKOFF_MS;
	unsigned delay = g->backoff_ms;
	g->backoff_ms = g->backoff_ms > CONFIG_CONTROL_RESTART_BACKOFF_MAX_MS / 2
			    ? CONFIG_CONTROL_RESTART_BACKOFF_MAX_MS
			    : g->backoff_ms * 2;
	return delay;
}

static void serving_died(struct guest *g, int reason)
{
	struct guest_instance *in = &g->inst[g->run];
	destroy_instance(g, in);
	uint64_t now = flotilla_clock_monotonic();
	if (reason == SHUTDOWN_poweroff) {
		g->state = GUEST_EXITED;
		printf("control: %s: exited (poweroff)\n", g->name);
		return;
	}
	/* A trial's crashes are bounded by its attempts (store.c), not here. */
	if (g->from_store && store_on_trial(g))
		forget_crashes(g);
	record_crash(g, now);
	unsigned crashes = crashes_in_window(g, now);
	if (crashes >= CONFIG_CONTROL_CRASH_LIMIT) {
		if (swap_crash_loop(g, reason, crashes))
			return;
		g->state = GUEST_FAILED;
		printf("control: %s: %s; %u crashes within %u s: marked failed, not restarted\n",
		       g->name, dom_shutdown_reason_name(reason), crashes,
		       CONFIG_CONTROL_CRASH_WINDOW_S);
		return;
	}
	unsigned delay = next_backoff(g, crashes);
	g->state = GUEST_BACKOFF;
	g->restart_at_ns = now + (uint64_t)delay * MS;
	printf("control: %s: %s; restarting in %u ms (crash %u; marked failed at %u within %u s)\n",
	       g->name, dom_shutdown_reason_name(reason), delay, crashes,
	       CONFIG_CONTROL_CRASH_LIMIT, CONFIG_CONTROL_CRASH_WINDOW_S);
}

/* Did this instance's domain stop? Its shutdown reason in *reason. */
static bool instance_stopped(struct guest_instance *in, int *reason)
{
	struct dom_info info;
	if (!instance_live(in))
		return false;
	if (dom_getinfo(in->dom.domid, &info) != 0) {
		*reason = SHUTDOWN_crash; /* vanished */
		return true;
	}
	if (info.shutdown) {
		*reason = info.shutdown_reason;
		return true;
	}
	return false;
}

uint64_t supervisor_poll(void)
{
	bool changed = false;
	uint64_t now = flotilla_clock_monotonic();
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < guest_count; i++) {
		struct guest *g = &guests[i];
		if (g->console_pending) {
			g->console_pending = false;
			for (int k = 0; k < 2; k++)
				if (instance_live(&g->inst[k]))
					console_drain(g, &g->inst[k]);
		}
	}
	if (domain_exception) {
		domain_exception = false;
		for (int i = 0; i < guest_count; i++) {
			struct guest *g = &guests[i];
			int reason;
			if (instance_stopped(candidate(g), &reason)) {
				swap_candidate_died(g, reason);
				changed = true;
			}
			if (g->state == GUEST_RUNNING &&
			    instance_stopped(&g->inst[g->run], &reason)) {
				serving_died(g, reason);
				changed = true;
			}
		}
	}
	for (int i = 0; i < guest_count; i++) {
		struct guest *g = &guests[i];
		for (int k = 0; k < 2; k++) {
			struct guest_instance *in = &g->inst[k];
			if (!in->dying)
				continue;
			if (now >= in->destroy_retry_ns)
				changed |= destroy_instance(g, in) == 0;
			if (in->dying && in->destroy_retry_ns < next)
				next = in->destroy_retry_ns;
		}
		uint64_t swap_next = swap_poll(g, now);
		if (swap_next < next)
			next = swap_next;
		/* Not while a candidate is on probation (a build now would take
		 * the card's TRIAL); during a drain the confirmed version may
		 * restart beside the old instance. Not while the last domain is
		 * still being destroyed. */
		if (g->state != GUEST_BACKOFF || g->swap == SWAP_PROBATION ||
		    g->swap == SWAP_PROBING || g->inst[g->run].dom.domid)
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
		struct guest_instance *in = &g.inst[g.run];
		uint64_t give_up = flotilla_clock_monotonic() + 2 * SECONDS;
		while (!in->first_output_seen && flotilla_clock_monotonic() < give_up) {
			flotilla_yield(give_up);
			if (g.console_pending) {
				g.console_pending = false;
				console_drain(&g, in);
			}
		}
		uint64_t destroy_started = runtime_counter();
		dom_destroy(&in->dom);
		uint64_t destroyed_at = runtime_counter();
		if (!in->first_output_seen)
			break;
		first_line[done] = in->first_output_ticks - in->dom.build_started;
		uint64_t previous = in->dom.build_started;
		for (int p = 0; p < DOM_BUILD_PHASES; p++) {
			phase[p][done] = in->dom.phase_end[p] - previous;
			previous = in->dom.phase_end[p];
		}
		boot[done] = in->first_output_ticks - in->dom.build_finished;
		cycle[done] = destroyed_at - in->dom.build_started;
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
		if (dom_destroy(&g.inst[g.run].dom) != 0)
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
/* ------------------------------------------------------------ hot swap */

static uint32_t next_op_id;

static uint64_t ms_now(void)
{
	return flotilla_clock_monotonic() / MS;
}

static void op_finish(struct guest *g, enum op_stage stage, const char *code, const char *reason)
{
	g->op.stage = stage;
	g->op.finished_ms = ms_now();
	if (code)
		snprintf(g->op.code, sizeof(g->op.code), "%s", code);
	if (reason && reason != g->op.reason)
		snprintf(g->op.reason, sizeof(g->op.reason), "%s", reason);
	printf("control: %s: %s %s: %s%s%s\n", g->name, op_kind_name(g->op.kind),
	       op_stage_name(stage), g->op.version, reason ? ": " : "", reason ? reason : "");
	g->swap = SWAP_NONE;
}

/* Pages Xen needs for one more instance: its RAM, its paging pool (as the
 * builder sizes it), its vNIC rings and status page, and some slack. */
static uint64_t instance_pages(const struct guest *g)
{
	uint64_t pool_kb = (uint64_t)DOM_PAGING_POOL_KB_PER_VCPU * g->vcpus +
			   (uint64_t)DOM_PAGING_POOL_KB_PER_MB * g->memory_mb +
			   DOM_PAGING_POOL_KB_FIXED;
	return (uint64_t)g->memory_mb * 256 + pool_kb / 4 + 64;
}

/* The candidate failed: destroy it, give its trial up, keep (or bring
 * back) the confirmed version. */
static void swap_fail(struct guest *g, const char *code, const char *reason)
{
	struct guest_instance *c = candidate(g);
	probe_gate_cancel(&g->probe_run);
	destroy_instance(g, c);
	/* The version is marked bad on the card: never retried by itself.
	 * (Whether or not the candidate got built: a trial left on the card
	 * would be what the next restart builds, ungated.) */
	if (g->swap_trial)
		store_revert_trial(g->name, OTA_REASON_UNHEALTHY);
	g->swap_trial = false;
	if (!g->swap_side_by_side) {
		/* Stop-then-start: nothing serves; the confirmed image comes back. */
		if (start_guest(g) != 0)
			g->state = GUEST_FAILED;
		g->op.gap_ms = (uint32_t)((flotilla_clock_monotonic() - g->swap_stopped_ns) / MS);
	}
	if (g->swap_side_by_side && g->state == GUEST_BACKOFF)
		g->restart_at_ns = flotilla_clock_monotonic(); /* it died meanwhile: now */
	bool serving = g->state == GUEST_RUNNING || g->state == GUEST_BACKOFF;
	op_finish(g, serving ? OP_ROLLED_BACK : OP_FAILED, code, reason);
	supervisor_print_status();
}

/* Healthy: the candidate takes the guest's traffic. */
static void swap_switch_over(struct guest *g)
{
	struct guest_instance *c = candidate(g);
	uint64_t now = flotilla_clock_monotonic();
	g->op.stage = OP_HEALTHY;
	g->op.healthy_ms = now / MS;
	if (g->swap_side_by_side && vnic_promote(&c->dom, guest_dom(g)) != 0) {
		swap_fail(g, "switch_over", "the switch could not move the guest's port");
		return;
	}
	g->run = (uint8_t)!g->run; /* the candidate serves; the old one drains */
	g->started_ns = c->started_ns;
	g->state = GUEST_RUNNING;
	memcpy(g->version, c->version, sizeof(g->version));
	g->op.switched_ms = now / MS;
	if (g->swap_trial && store_confirm(g->name) != 0)
		printf("control: %s: the card did not record the confirmation\n", g->name);
	g->swap_trial = false;
	/* A crash loop soon after an update brings the previous version back;
	 * the version brought back gets no such window (no ping-pong). */
	if (g->op.kind == OP_UPDATE || (g->op.kind == OP_ROLLBACK && !g->auto_rollback))
		g->confirmed_ns = now;
	else if (g->auto_rollback)
		g->confirmed_ns = 0;
	forget_crashes(g);
	if (!g->swap_side_by_side) {
		g->op.gap_ms = (uint32_t)((now - g->swap_stopped_ns) / MS);
		op_finish(g, g->auto_rollback ? OP_ROLLED_BACK : OP_CONFIRMED,
			  g->auto_rollback ? "crash_loop" : NULL,
			  g->auto_rollback ? g->op.reason : NULL);
		supervisor_print_status();
		return;
	}
	printf("control: %s: v%s took over from v%s; the old instance drains its connections\n",
	       g->name, g->version, g->swap_old_version);
	gstatus_drain(&g->inst[!g->run].dom); /* it closes its idle connections */
	g->swap = SWAP_DRAINING;
}

/* Ready and, if the plan declares one, its probe passed. */
static uint64_t swap_probation(struct guest *g, uint64_t now)
{
	struct guest_instance *c = candidate(g);
	struct gstatus_view v;
	if (now >= g->swap_deadline_ns) {
		char reason[128];
		if (g->swap == SWAP_PROBATION && g->swap_no_address)
			snprintf(reason, sizeof(reason),
				 "v%s was ready but reported no address to probe within %u s",
				 c->version, g->ready_timeout_s);
		else if (g->swap == SWAP_PROBATION)
			snprintf(reason, sizeof(reason),
				 "v%s did not call flotilla_ready() within %u s", c->version,
				 g->ready_timeout_s);
		else
			snprintf(reason, sizeof(reason), "v%.15s: probe %.30s: %.70s", c->version,
				 g->probe,
				 g->probe_run.reason[0] ? g->probe_run.reason
							: "no answer in time");
		swap_fail(g,
			  g->swap == SWAP_PROBATION && !g->swap_no_address ? "not_ready"
									   : "probe_failed",
			  reason);
		return UINT64_MAX;
	}
	if (g->swap == SWAP_PROBATION) {
		if (!gstatus_read(&c->dom, &v) || !v.ready)
			return now + 20 * MS;
		if (!g->op.ready_ms)
			g->op.ready_ms = now / MS;
		struct probe_spec spec;
		const char *why = NULL;
		if (!g->probe[0] || probe_parse(g->probe, &spec, &why) != 0 ||
		    spec.kind == PROBE_NONE) {
			swap_switch_over(g);
			return now;
		}
		uint32_t ip = 0;
		for (unsigned nic = 0; nic < 4 && !ip; nic++)
			ip = v.ipv4[nic];
		if (!ip) {
			/* Ready before DHCP bound an address: wait for it (the
			 * deadline's reason says so if it never comes). */
			g->swap_no_address = true;
			return now + 20 * MS;
		}
		g->swap_no_address = false;
		uint64_t left_ms = (g->swap_deadline_ns - now) / MS;
		probe_gate_start(&g->probe_run, &spec, ip, (uint32_t)(left_ms ? left_ms : 1));
		g->swap = SWAP_PROBING;
	}
	switch (probe_gate_poll(&g->probe_run)) {
	case PROBE_PASSED:
		printf("control: %s: probe %s passed in %u ms\n", g->name, g->probe,
		       (unsigned)g->probe_run.latency_ms);
		swap_switch_over(g);
		return now;
	case PROBE_FAILED: {
		char reason[128];
		snprintf(reason, sizeof(reason), "v%.15s: probe %.30s: %.70s", c->version, g->probe,
			 g->probe_run.reason);
		swap_fail(g, "probe_failed", reason);
		return UINT64_MAX;
	}
	default: return now + 20 * MS;
	}
}

static uint64_t swap_poll(struct guest *g, uint64_t now)
{
	switch (g->swap) {
	case SWAP_NONE: return UINT64_MAX;
	case SWAP_PROBATION:
	case SWAP_PROBING: return swap_probation(g, now);
	case SWAP_DRAINING: {
		struct guest_instance *old = candidate(g);
		if (!vnic_drained(&old->dom))
			return now + 50 * MS;
		destroy_instance(g, old);
		op_finish(g, g->auto_rollback ? OP_ROLLED_BACK : OP_CONFIRMED,
			  g->auto_rollback ? "crash_loop" : NULL,
			  g->auto_rollback ? g->op.reason : NULL);
		supervisor_print_status();
		return UINT64_MAX;
	}
	}
	return UINT64_MAX;
}

static void swap_candidate_died(struct guest *g, int reason)
{
	struct guest_instance *c = candidate(g);
	if (g->swap == SWAP_PROBATION || g->swap == SWAP_PROBING) {
		char text[128];
		snprintf(text, sizeof(text), "v%s stopped during its health gate (%s)", c->version,
			 dom_shutdown_reason_name(reason));
		swap_fail(g, "crashed", text);
		return;
	}
	/* The draining instance went by itself: nothing left to wait for. */
	destroy_instance(g, c);
	if (g->swap == SWAP_DRAINING)
		op_finish(g, g->auto_rollback ? OP_ROLLED_BACK : OP_CONFIRMED,
			  g->auto_rollback ? "crash_loop" : NULL,
			  g->auto_rollback ? g->op.reason : NULL);
}

static void op_begin(struct guest *g, enum op_kind kind)
{
	if (g->op.stage != OP_RECEIVING && g->op.stage != OP_INSTALLED) {
		/* Not a push (push.c began it): a fresh operation. */
		memset(&g->op, 0, sizeof(g->op));
		g->op.id = ++next_op_id;
		g->op.started_ms = ms_now();
	}
	g->op.kind = kind;
	snprintf(g->op.from_version, sizeof(g->op.from_version), "%s", g->version);
}

uint32_t supervisor_next_op_id(void)
{
	return ++next_op_id;
}

void supervisor_swap_start(struct guest *g, enum op_kind kind)
{
	swap_begin(g, kind, false);
}

static void swap_begin(struct guest *g, enum op_kind kind, bool auto_rollback)
{
	op_begin(g, kind);
	g->auto_rollback = auto_rollback;
	uint64_t now = flotilla_clock_monotonic();
	if (!g->op.installed_ms)
		g->op.installed_ms = now / MS;
	g->op.stage = OP_INSTALLED;
	snprintf(g->swap_old_version, sizeof(g->swap_old_version), "%s", g->version);
	bool serving = g->state == GUEST_RUNNING && instance_live(&g->inst[g->run]);
	uint64_t free_pages = dom_xen_free_pages(), need = instance_pages(g);
	g->swap_side_by_side = serving && free_pages >= need;
	/* A push or rollback made a TRIAL on the card: this swap owns it, and
	 * reverts it whatever happens unless the candidate is confirmed. */
	g->swap_trial = g->from_store && kind != OP_RESTART;
	char extra[sizeof(g->lease)] = "";
	/* The address(es) the serving instance holds (or, if it is gone, held
	 * last): the candidate serves under them at once. A live instance that
	 * has no address yet passes none (an old lease may be someone else's). */
	if (serving) {
		g->lease[0] = '\0';
		gstatus_lease_args(guest_dom(g), g->lease, sizeof(g->lease));
	}
	memcpy(extra, g->lease, sizeof(extra));
	if (g->swap_side_by_side) {
		snprintf(g->op.mode, sizeof(g->op.mode), "side-by-side");
	} else {
		snprintf(g->op.mode, sizeof(g->op.mode), "stop-then-start");
		if (serving)
			printf("control: %s: Xen has %" PRIu64
			       " free pages, a second instance needs "
			       "%" PRIu64 ": stop-then-start\n",
			       g->name, free_pages, need);
		g->swap_stopped_ns = now;
		if (serving && destroy_instance(g, &g->inst[g->run]) != 0) {
			/* Cut off already (its NICs went first): restart it once
			 * Xen lets it go; the trial goes back. */
			if (g->swap_trial)
				store_revert_trial(g->name, OTA_REASON_UNHEALTHY);
			g->swap_trial = false;
			g->state = GUEST_BACKOFF;
			g->restart_at_ns = now;
			op_finish(g, OP_FAILED, "stop_failed",
				  "the running instance would not stop");
			return;
		}
		g->state = GUEST_BACKOFF; /* no instance now; the swap decides what runs */
		g->restart_at_ns = UINT64_MAX;
	}
	struct guest_instance *c = candidate(g);
	const char *why = "unknown";
	if (start_instance(g, c, g->swap_side_by_side, extra, &why) != 0) {
		char reason[128];
		snprintf(reason, sizeof(reason), "the new version could not be built: %s", why);
		g->swap = SWAP_PROBATION; /* for swap_fail's bookkeeping */
		swap_fail(g, "build_failed", reason);
		return;
	}
	if (g->swap_trial && !store_on_trial(g)) {
		/* The card refused the trial while building (its hash, its
		 * attempts) and built the confirmed image instead. */
		g->swap = SWAP_PROBATION;
		swap_fail(g, "build_failed",
			  "the card refused the new image when it was read back (see the console)");
		return;
	}
	snprintf(g->op.version, sizeof(g->op.version), "%s", c->version);
	g->op.stage = OP_STARTING;
	g->op.built_ms = flotilla_clock_monotonic() / MS;
	g->swap = SWAP_PROBATION;
	g->swap_no_address = false;
	unsigned timeout = g->ready_timeout_s ? g->ready_timeout_s : 30;
	g->swap_deadline_ns = flotilla_clock_monotonic() + (uint64_t)timeout * SECONDS;
	printf("control: %s: v%s on probation (%s, %u s to become ready%s%s)\n", g->name,
	       c->version, g->op.mode, timeout, g->probe[0] ? " and pass " : "", g->probe);
	events_wake_application();
}

/* A crash loop soon after an update was confirmed: the previous confirmed
 * version comes back, health-gated like any other. true if it started. */
static bool swap_crash_loop(struct guest *g, int reason, unsigned crashes)
{
	uint64_t now = flotilla_clock_monotonic();
	if (!g->from_store || !g->confirmed_ns || CONFIG_CONTROL_ROLLBACK_WINDOW_S == 0 ||
	    now - g->confirmed_ns > (uint64_t)CONFIG_CONTROL_ROLLBACK_WINDOW_S * SECONDS ||
	    g->swap != SWAP_NONE)
		return false;
	char previous[16], bad[16];
	snprintf(bad, sizeof(bad), "%s", g->version);
	if (store_activate_previous(g->name, previous, sizeof(previous)) != OTA_OK)
		return false;
	printf("control: %s: v%s %s %u times within %u s of its confirmation: rolling back to "
	       "v%s\n",
	       g->name, bad, dom_shutdown_reason_name(reason), crashes,
	       CONFIG_CONTROL_CRASH_WINDOW_S, previous);
	memset(&g->op, 0, sizeof(g->op));
	g->op.id = ++next_op_id;
	g->op.started_ms = now / MS;
	g->op.stage = OP_INSTALLED; /* op_begin() keeps it */
	snprintf(g->op.reason, sizeof(g->op.reason),
		 "v%s crashed %u times within %u s after its confirmation: v%s is back", bad,
		 crashes, CONFIG_CONTROL_CRASH_WINDOW_S, previous);
	g->confirmed_ns = 0;
	swap_begin(g, OP_ROLLBACK, true);
	return true;
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
	/* A domain still being destroyed holds the candidate's place (and
	 * its memory): no swap until it is gone. */
	return !op_finished(g->op.stage) || g->swap != SWAP_NONE || g->inst[0].dying ||
	       g->inst[1].dying;
}

/* Nothing to build a new instance of: a plan guest whose boot bundle was
 * refused and which has no image on the card. */
static bool buildable(const struct guest *g)
{
	return g->from_store || g->image;
}

/* push.c has begun g->op (stage INSTALLED) when it calls these two. */
int supervisor_rollback(struct guest *g)
{
	char previous[16];
	if (g->swap != SWAP_NONE || !buildable(g))
		return OTA_E_STATE;
	int rc = store_activate_previous(g->name, previous, sizeof(previous));
	if (rc != OTA_OK)
		return rc;
	op_begin(g, OP_ROLLBACK);
	supervisor_swap_start(g, OP_ROLLBACK);
	return OTA_OK;
}

int supervisor_restart(struct guest *g)
{
	if (g->swap != SWAP_NONE || !buildable(g))
		return OTA_E_STATE;
	op_begin(g, OP_RESTART);
	supervisor_swap_start(g, OP_RESTART);
	return OTA_OK;
}
