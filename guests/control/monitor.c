/*
 * The health monitor (monitor.h): gathers, on a schedule, what the rules of
 * health.c judge. Everything it reads is already in memory except Xen's
 * free memory (one sysctl), the NIC's link (one MDIO read), and, once per
 * CONFIG_HEALTH_STORE_CHECK_S, every image on the card.
 */
#include "monitor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"
#include "ctlnet.h"
#include "domain.h"
#include "nic.h"
#include "probe.h"
#include "runtime.h"
#include "store.h"
#include "supervisor.h"

#if __has_include("gstatus.h")
#include "gstatus.h"
#define HAVE_GSTATUS 1
#endif

#include <generated/autoconf.h>

#ifndef CONFIG_HEALTH_PERIOD_S
#define CONFIG_HEALTH_PERIOD_S 10
#endif
#ifndef CONFIG_HEALTH_XEN_FREE_FLOOR_MB
#define CONFIG_HEALTH_XEN_FREE_FLOOR_MB 32
#endif
#ifndef CONFIG_HEALTH_STORE_CHECK_S
#define CONFIG_HEALTH_STORE_CHECK_S 3600
#endif
#ifndef CONFIG_OTA_TRIAL_ATTEMPTS
#define CONFIG_OTA_TRIAL_ATTEMPTS 3
#endif

#define NS_PER_MS    1000000ull
#define NS_PER_S     1000000000ull
#define BOARD_CHECKS 7
#define GUEST_CHECKS 6
/* A wall clock before this (2024-01-01) was never set by anyone. */
#define FIRMWARE_EPOCH_S 1704067200ull

static struct health model;
static struct card_store *card;
static uint64_t next_run_ns, next_store_check_ns;
static struct {
	bool running;
	unsigned index;
	int bad;
	char first_bad[128];
	uint64_t started_ns, busy_ns;
} store_pass;
static int store_bad = -1;
static char store_first_bad[80];
static struct nic_counters previous_nic;
static uint64_t previous_wall_ns, previous_monotonic_ns;
static enum health_status announced = HEALTH_OK;
/* Each guest's state and restarts at the last run: a change runs the checks
 * at once, so a crash shows in GET /v1/health without waiting a period. */
static struct {
	enum guest_state state;
	unsigned restarts;
} seen[BOOT_BUNDLE_ENTRIES_MAX];

/*
 * Each running guest's probe (its plan's `probe`), once a period, at the
 * address its status page reports, driven from monitor_poll(). The last
 * verdict feeds the NAME.probe check. Allocated at start (not .bss).
 */
#define PROBE_TIMEOUT_MAX_MS 5000u
struct guest_probe {
	struct probe probe;
	struct probe_spec spec;
	bool parsed, valid, announced;
	bool in_flight; /* started, verdict not yet taken (the stack's callbacks may give it) */
	bool ran, passed;
	uint32_t latency_ms;
	char reason[PROBE_REASON_MAX];
	char skipped[PROBE_REASON_MAX]; /* why the last attempt could not run */
};
static struct guest_probe *probes;
static void probe_record(const struct guest *g, uint64_t now_ms);
static int guest_index(const struct guest *g);
static void probe_verdict(int i, enum probe_state st);

int monitor_start(struct card_store *card_store)
{
	card = card_store;
	if (health_init(&model, BOARD_CHECKS + GUEST_CHECKS * BOOT_BUNDLE_ENTRIES_MAX) != 0) {
		printf("control: health: no memory for the health model\n");
		return -1;
	}
	probes = calloc(BOOT_BUNDLE_ENTRIES_MAX, sizeof(*probes));
	if (!probes)
		printf("control: health: no memory for the guests' probes: not probed\n");
	next_run_ns = flotilla_clock_monotonic() + NS_PER_S;
	return 0;
}

const struct health *monitor_health(void)
{
	return &model;
}

unsigned monitor_period_s(void)
{
	return CONFIG_HEALTH_PERIOD_S;
}

bool monitor_guest_status(const struct guest *g, struct monitor_guest_status *s)
{
	memset(s, 0, sizeof(*s));
#ifdef HAVE_GSTATUS
	struct gstatus_view v;
	if (g->state != GUEST_RUNNING || !gstatus_read(&g->inst[g->run].dom, &v) || !v.valid)
		return false;
	s->valid = true;
	s->ready = v.ready;
	s->health = v.health;
	snprintf(s->reason, sizeof(s->reason), "%s", v.reason);
	for (unsigned i = 0; i < 4; i++)
		s->ipv4[i] = v.ipv4[i];
	return true;
#else
	/* No status page in this build yet: guests' reports are not seen. */
	(void)g;
	return false;
#endif
}

/* ---------------------------------------------------------------- board checks */

static void check_board(uint64_t now_ms)
{
	uint64_t free_kib = dom_xen_free_pages() * 4;
	struct health_result r =
	    health_eval_xen_memory(free_kib, (uint64_t)CONFIG_HEALTH_XEN_FREE_FLOOR_MB * 1024);
	health_record_result(&model, "board", "board.xen_memory", &r, now_ms);

	struct store_health_info info;
	store_health_info(&info);
	uint64_t now = flotilla_clock_monotonic();
	if (info.usable && now >= next_store_check_ns && !store_pass.running) {
		/* A pass over every image, one slot per step from monitor_poll():
		 * the main loop (the switch, the API) runs between the slots. */
		memset(&store_pass, 0, sizeof(store_pass));
		store_pass.running = true;
		store_pass.started_ns = now;
	}
	struct health_store_input store = {
	    .usable = info.usable,
	    .problem = info.problem,
	    .guests_used = info.guests_used,
	    .guests_capacity = info.guests_capacity,
	    .bad_images = info.usable ? store_bad : -1,
	    .first_bad = store_first_bad,
	    .refused = info.refused,
	    .last_refused = info.last_refused,
	};
	r = health_eval_store(&store);
	health_record_result(&model, "board", "board.store", &r, now_ms);

	r = health_eval_card(card != NULL, card ? card->io_errors : 0,
			     card ? mmc_strerror(card->last_error) : NULL);
	health_record_result(&model, "board", "board.card", &r, now_ms);

	struct nic *nic = ctlnet_nic();
	struct health_nic_input n = {.present = nic != NULL};
	if (nic) {
		n.link_up = ctlnet_link_up(&n.mbps);
		n.rx_errors = nic->counters.rx_errors - previous_nic.rx_errors;
		n.tx_errors = nic->counters.tx_errors - previous_nic.tx_errors;
		n.rx_dropped = nic->counters.rx_dropped - previous_nic.rx_dropped;
		n.tx_dropped = nic->counters.tx_dropped - previous_nic.tx_dropped;
		previous_nic = nic->counters;
	}
	r = health_eval_nic(&n);
	health_record_result(&model, "board", "board.nic", &r, now_ms);

	uintptr_t base;
	size_t total, used_pages, brk_bytes;
	memory_stats(&base, &total, &used_pages, &brk_bytes);
	r = health_eval_heap(total, memory_high_water());
	health_record_result(&model, "board", "board.control_memory", &r, now_ms);

	r = health_eval_uptime(now_ms, info.boot);
	health_record_result(&model, "board", "board.uptime", &r, now_ms);

	struct health_clock_input clock = {
	    .wall_ns = flotilla_clock_wall(),
	    .previous_wall_ns = previous_wall_ns,
	    .monotonic_ns = now,
	    .previous_monotonic_ns = previous_monotonic_ns,
	    .build_time_s = FIRMWARE_EPOCH_S,
	};
	r = health_eval_clock(&clock);
	health_record_result(&model, "board", "board.clock", &r, now_ms);
	previous_wall_ns = clock.wall_ns;
	previous_monotonic_ns = now;
}

/* ---------------------------------------------------------------- guest checks */

static enum health_guest_state state_of(enum guest_state s)
{
	switch (s) {
	case GUEST_RUNNING: return HEALTH_GUEST_RUNNING;
	case GUEST_EXITED: return HEALTH_GUEST_EXITED;
	case GUEST_BACKOFF: return HEALTH_GUEST_BACKOFF;
	case GUEST_FAILED: return HEALTH_GUEST_FAILED;
	case GUEST_REFUSED: return HEALTH_GUEST_REFUSED;
	}
	return HEALTH_GUEST_FAILED;
}

static void record(const struct guest *g, const char *what, struct health_result r, uint64_t now_ms)
{
	char name[HEALTH_NAME_MAX];
	snprintf(name, sizeof(name), "%s.%s", g->name, what);
	health_record_result(&model, g->name, name, &r, now_ms);
}

static void check_guest(const struct guest *g, uint64_t now_ms)
{
	uint64_t now = flotilla_clock_monotonic();
	struct monitor_guest_status status;
	struct health_guest_input in = {
	    .state = state_of(g->state),
	    .refused_reason = g->refused_reason,
	    .crashes_in_window = supervisor_crashes_in_window(g),
	    .crash_limit = CONFIG_CONTROL_CRASH_LIMIT,
	    .window_s = CONFIG_CONTROL_CRASH_WINDOW_S,
	    .uptime_ms = g->state == GUEST_RUNNING ? (now - g->started_ns) / NS_PER_MS : 0,
	    .version = g->version,
	    .from_store = g->from_store,
	    .trial_attempts_max = CONFIG_OTA_TRIAL_ATTEMPTS,
	    .operation = op_finished(g->op.stage) ? NULL : op_kind_name(g->op.kind),
	};
	if (monitor_guest_status(g, &status)) {
		in.status_valid = true;
		in.ready = status.ready;
		in.reported = status.health;
		in.reported_reason = status.reason;
	}
	int index = guest_index(g);
	const struct guest_probe *gp = index >= 0 && probes ? &probes[index] : NULL;
	in.probe_declared = g->probe[0] != '\0';
	if (gp && gp->ran && g->state == GUEST_RUNNING) {
		in.probe_ran = true;
		in.probe_passed = gp->passed;
		in.probe_latency_ms = gp->latency_ms;
		in.probe_reason = gp->reason;
	}
	in.on_trial = store_guest_slot(g->name, &in.slot, &in.trial_attempt);
	record(g, "state", health_eval_guest_state(&in), now_ms);
	record(g, "restarts", health_eval_guest_restarts(&in), now_ms);
	record(g, "report", health_eval_guest_report(&in), now_ms);
	record(g, "probe", health_eval_guest_probe(&in), now_ms);
	record(g, "version", health_eval_guest_version(&in), now_ms);
	record(g, "trial", health_eval_guest_trial(&in), now_ms);
}

/* ---------------------------------------------------------------- probes */

static int guest_index(const struct guest *g)
{
	for (int i = 0; i < supervisor_guest_count() && i < BOOT_BUNDLE_ENTRIES_MAX; i++)
		if (supervisor_guest(i) == g)
			return i;
	return -1;
}

/* The first address the guest's status page reports (net/'s host order), 0: none. */
static uint32_t guest_address(const struct guest *g)
{
	struct monitor_guest_status status;
	if (!monitor_guest_status(g, &status))
		return 0;
	for (unsigned i = 0; i < 4; i++)
		if (status.ipv4[i])
			return status.ipv4[i];
	return 0;
}

/* A run of the checks: start each running guest's probe (one at a time per guest). */
static void probes_start(void)
{
	for (int i = 0; probes && i < supervisor_guest_count() && i < BOOT_BUNDLE_ENTRIES_MAX;
	     i++) {
		const struct guest *g = supervisor_guest(i);
		struct guest_probe *gp = &probes[i];
		const char *why = NULL;
		if (!gp->parsed) {
			gp->parsed = true;
			gp->valid = g->probe[0] && probe_parse(g->probe, &gp->spec, &why) == 0 &&
				    gp->spec.kind != PROBE_NONE;
			if (g->probe[0] && !gp->valid)
				printf("control: health: %s: probe \"%s\" not run: %s\n", g->name,
				       g->probe, why ? why : "none");
		}
		if (!gp->valid || gp->in_flight)
			continue;
		/* Not running: nothing to probe. During a swap the supervisor's gate
		 * probes the candidate; the serving instance keeps its last verdict. */
		if (g->state != GUEST_RUNNING) {
			gp->ran = false;
			continue;
		}
		if (g->swap != SWAP_NONE)
			continue;
		uint32_t address = guest_address(g);
		if (!address) {
			/* Its network is not up yet (or it reports none): no verdict. */
			continue;
		}
		if (!gp->announced) {
			gp->announced = true;
			printf("control: health: %s: probing %s at %u.%u.%u.%u every %u s\n",
			       g->name, g->probe, (unsigned)(address >> 24),
			       (unsigned)(address >> 16) & 0xff, (unsigned)(address >> 8) & 0xff,
			       (unsigned)address & 0xff, (unsigned)CONFIG_HEALTH_PERIOD_S);
		}
		uint32_t timeout_ms = g->ready_timeout_s * 1000u;
		if (timeout_ms == 0 || timeout_ms > PROBE_TIMEOUT_MAX_MS)
			timeout_ms = PROBE_TIMEOUT_MAX_MS;
		gp->in_flight = true;
		enum probe_state st = probe_start(&gp->probe, &gp->spec, address, timeout_ms);
		if (st != PROBE_RUNNING)
			probe_verdict(i, st); /* known at once (no address, no free connection) */
	}
}

/* Verdicts that arrived: recorded at once (not at the next run). */
static void probes_poll(uint64_t *deadline_ns)
{
	for (int i = 0; probes && i < supervisor_guest_count() && i < BOOT_BUNDLE_ENTRIES_MAX;
	     i++) {
		struct guest_probe *gp = &probes[i];
		if (!gp->in_flight)
			continue;
		enum probe_state st = probe_poll(&gp->probe);
		if (st == PROBE_RUNNING) {
			uint64_t d = probe_deadline_ms(&gp->probe);
			if (d != UINT64_MAX && d * NS_PER_MS < *deadline_ns)
				*deadline_ns = d * NS_PER_MS;
			continue;
		}
		probe_verdict(i, st);
	}
}

/* A probe's verdict: kept for the NAME.probe check and recorded at once. */
static void probe_verdict(int i, enum probe_state st)
{
	struct guest_probe *gp = &probes[i];
	const struct guest *g = supervisor_guest(i);
	gp->in_flight = false; /* the verdict is taken: ready for the next run */
	/* The control domain's own state (no address yet, every TCP connection
	 * in use) is not the guest's failure: no verdict this time. */
	if (st == PROBE_FAILED && (strstr(gp->probe.reason, "no free TCP connection") ||
				   strstr(gp->probe.reason, "control domain has no"))) {
		if (strcmp(gp->skipped, gp->probe.reason) != 0)
			printf("control: health: %s: not probed: %s\n", g->name, gp->probe.reason);
		snprintf(gp->skipped, sizeof(gp->skipped), "%s", gp->probe.reason);
		return;
	}
	gp->skipped[0] = '\0';
	bool passed = st == PROBE_PASSED;
	/* One console line per change of verdict (or of a failure's reason). */
	if (!gp->ran || passed != gp->passed ||
	    (!passed && strcmp(gp->reason, gp->probe.reason) != 0)) {
		if (passed)
			printf("control: health: %s: probe passed in %u ms\n", g->name,
			       (unsigned)gp->probe.latency_ms);
		else
			printf("control: health: %s: probe failed: %s\n", g->name,
			       gp->probe.reason);
	}
	gp->ran = true;
	gp->passed = passed;
	gp->latency_ms = gp->probe.latency_ms;
	snprintf(gp->reason, sizeof(gp->reason), "%s", gp->probe.reason);
	if (model.runs)
		probe_record(g, flotilla_clock_monotonic() / NS_PER_MS);
}

static void probe_record(const struct guest *g, uint64_t now_ms)
{
	int index = guest_index(g);
	if (index < 0 || !probes)
		return;
	const struct guest_probe *gp = &probes[index];
	struct health_guest_input in = {
	    .state = state_of(g->state),
	    .probe_declared = g->probe[0] != '\0',
	    .probe_ran = gp->ran && g->state == GUEST_RUNNING,
	    .probe_passed = gp->passed,
	    .probe_latency_ms = gp->latency_ms,
	    .probe_reason = gp->reason,
	};
	record(g, "probe", health_eval_guest_probe(&in), now_ms);
}

/* ---------------------------------------------------------------- schedule */

static void run_checks(void)
{
	uint64_t started = flotilla_clock_monotonic();
	uint64_t now_ms = started / NS_PER_MS;
	check_board(now_ms);
	for (int i = 0; i < supervisor_guest_count(); i++) {
		const struct guest *g = supervisor_guest(i);
		check_guest(g, now_ms);
		if (i < BOOT_BUNDLE_ENTRIES_MAX) {
			seen[i].state = g->state;
			seen[i].restarts = g->restarts;
		}
	}
	model.runs++;
	model.last_run_ms = now_ms;
	model.last_run_ns = flotilla_clock_monotonic() - started;
	const struct health_check *worst;
	enum health_status overall = health_overall(&model, &worst);
	if (overall != announced || model.runs == 1) {
		/* One console line per change of the board's status: the local record. */
		if (worst)
			printf("control: health: board %s: %s: %s\n", health_status_name(overall),
			       worst->name, worst->current.reason);
		else
			printf("control: health: board ok (%u checks)\n", model.count);
		announced = overall;
	}
}

/* One slot of the store pass; at its end the result counts at once. */
static void store_pass_step(uint64_t now, uint64_t *deadline)
{
	char bad[128];
	int r = store_check_image_at(store_pass.index++, bad, sizeof(bad));
	store_pass.busy_ns += flotilla_clock_monotonic() - now;
	if (r == 1 && store_pass.bad++ == 0)
		snprintf(store_pass.first_bad, sizeof(store_pass.first_bad), "%s", bad);
	if (r >= 0) {
		*deadline = now + 5 * NS_PER_MS; /* the next slot soon, after other work */
		return;
	}
	store_pass.running = false;
	store_bad = store_pass.bad;
	snprintf(store_first_bad, sizeof(store_first_bad), "%.79s", store_pass.first_bad);
	uint64_t took = flotilla_clock_monotonic() - store_pass.started_ns;
	printf("control: health: store check: %d bad image(s), %" PRIu64 ".%03" PRIu64
	       " s (%" PRIu64 " ms of it reading, a slot at a time)\n",
	       store_bad, took / NS_PER_S, took / NS_PER_MS % 1000, store_pass.busy_ns / NS_PER_MS);
	next_store_check_ns = now + (uint64_t)CONFIG_HEALTH_STORE_CHECK_S * NS_PER_S;
	run_checks();
}

uint64_t monitor_poll(void)
{
	if (!model.checks)
		return UINT64_MAX;
	uint64_t now = flotilla_clock_monotonic();
	bool changed = false;
	for (int i = 0; model.runs && i < supervisor_guest_count() && i < BOOT_BUNDLE_ENTRIES_MAX;
	     i++) {
		const struct guest *g = supervisor_guest(i);
		changed |= g->state != seen[i].state || g->restarts != seen[i].restarts;
	}
	if (now >= next_run_ns || changed) {
		run_checks();
		if (now >= next_run_ns)
			probes_start();
		next_run_ns = now + (uint64_t)CONFIG_HEALTH_PERIOD_S * NS_PER_S;
	}
	uint64_t deadline = next_run_ns;
	if (store_pass.running)
		store_pass_step(now, &deadline);
	probes_poll(&deadline);
	return deadline;
}

/* ---------------------------------------------------------------- console */

void monitor_print(void)
{
	const struct health_check *worst;
	enum health_status overall = health_overall(&model, &worst);
	uint64_t now_ms = flotilla_clock_monotonic() / NS_PER_MS;
	if (!model.runs) {
		printf("control: health: no run yet (every %u s)\n", CONFIG_HEALTH_PERIOD_S);
		return;
	}
	printf("control: health: board %s, %u checks, run %" PRIu64 " %" PRIu64
	       " ms ago (took %" PRIu64 " us)\n",
	       health_status_name(overall), model.count, model.runs, now_ms - model.last_run_ms,
	       model.last_run_ns / 1000);
	for (unsigned i = 0; i < model.count; i++) {
		const struct health_check *c = &model.checks[i];
		printf("control:   %-24s %-8s %s\n", c->name, health_status_name(c->current.status),
		       c->current.reason);
	}
}

void monitor_print_log(const char *name)
{
	struct guest *g = supervisor_find(name);
	if (!g) {
		printf("control: logs: no guest called \"%s\" (keys: l NAME, then Enter)\n", name);
		return;
	}
	printf("control: logs: %s, last %u line(s)\n", g->name, g->log_count);
	for (unsigned i = 0; g->log && i < g->log_count; i++) {
		unsigned at = (g->log_next + CONFIG_CONTROL_LOG_LINES - g->log_count + i) %
			      CONFIG_CONTROL_LOG_LINES;
		printf("control:   [%s] %s\n", g->name, g->log[at]);
	}
	printf("control: logs: end\n");
}
