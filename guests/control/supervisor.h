/*
 * The supervisor: runs the guests of the boot plan and keeps them running.
 * It verifies each guest's signed bundle, builds its domain, serves its
 * console (prefixing lines with the guest's name, keeping the last lines
 * in memory), learns of deaths through VIRQ_DOM_EXC, restarts crashed
 * guests with exponential backoff and marks a guest failed after
 * CONFIG_CONTROL_CRASH_LIMIT crashes within CONFIG_CONTROL_CRASH_WINDOW_S.
 */
#ifndef FLOTILLA_CONTROL_SUPERVISOR_H
#define FLOTILLA_CONTROL_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot_bundle.h"
#include "builder.h"
#include "operation.h"
#include "probe.h"

#include <generated/autoconf.h>

enum guest_state {
	GUEST_REFUSED, /* its bundle failed verification: never built */
	GUEST_RUNNING,
	GUEST_EXITED,  /* powered off by itself (exit status 0) */
	GUEST_BACKOFF, /* crashed; waiting to be restarted */
	GUEST_FAILED,  /* crashed too often: left stopped */
};

/*
 * One domain running a guest. A guest has one instance serving; during a
 * swap a second one (the candidate) runs beside it until it is healthy and
 * takes over, or fails and is destroyed.
 */
struct guest_instance {
	struct dom_handle dom; /* dom.domid 0: no domain */
	bool dying;            /* its destroy failed: retried, the domid kept */
	uint64_t destroy_retry_ns;
	char version[16];
	uint64_t started_ns;
	bool first_output_seen;
	bool console_corrupt;
	uint64_t first_output_ticks;
	/* console line assembly */
	char line[160];
	unsigned line_len;
};

enum swap_phase {
	SWAP_NONE,
	SWAP_PROBATION, /* the candidate runs: waiting for flotilla_ready() */
	SWAP_PROBING,   /* ready: the control domain probes it */
	SWAP_DRAINING,  /* switched over: the old instance finishes its connections */
};

struct guest {
	/* The spec: what the plan says this guest is. */
	char name[BOOT_BUNDLE_NAME_MAX + 1];
	const uint8_t *image;
	size_t image_size;
	unsigned memory_mb;
	unsigned vcpus;
	uint32_t pcpu_mask;
	char bootargs[BOOT_BUNDLE_BOOTARGS_MAX + 1];
	char nics[BOOT_BUNDLE_NICS_MAX + 1]; /* the plan's vNICs, "lan,mgmt" */
	char probe[48];                      /* "tcp:80", "http:80/healthz" or "" */
	unsigned ready_timeout_s;
	bool quiet; /* benchmarks: do not forward console lines */
	/* built from its slot on the card (store.c), not from image */
	bool from_store;

	/* Its life. */
	enum guest_state state;
	const char *refused_reason;
	char version[16]; /* of the serving instance */
	struct guest_instance inst[2];
	uint8_t run;         /* inst[run] serves; inst[!run] is a swap's candidate */
	uint64_t started_ns; /* of the serving instance */
	unsigned restarts;
	/* the latest crashes, a ring: newest at crash_next - 1 (a sliding window) */
	uint64_t crash_ns[CONFIG_CONTROL_CRASH_LIMIT];
	unsigned crash_next;
	uint64_t restart_at_ns;
	unsigned backoff_ms;
	uint64_t confirmed_ns; /* when an update was last confirmed (0: never) */
	volatile bool console_pending;

	/* A swap in progress (op says which step). */
	enum swap_phase swap;
	bool swap_side_by_side;
	uint64_t swap_deadline_ns;
	uint64_t swap_stopped_ns; /* stop-then-start: when the old instance went */
	char swap_old_version[16];
	/* the serving instance's address(es) as boot arguments, kept from its
	 * status page when it went: a stop-then-start successor takes them */
	char lease[160];
	bool swap_no_address; /* ready, but no address reported yet */
	bool auto_rollback;
	bool swap_trial;
	/* this swap made (and owns) a TRIAL on the card */ /* the swap is a rollback after a
							       crash loop */
	struct probe_gate probe_run;                        /* the candidate's health probe */

	/* the latest operator action on this guest (a push, rollback, restart) */
	struct guest_operation op;
	/* the last lines, for `flotilla logs` */
	char (*log)[160];
	unsigned log_next;
	unsigned log_count;
	uint64_t log_total; /* lines ever logged: followers of the logs find new ones */
};

/* The serving instance's domain (domid 0 when none). */
static inline struct dom_handle *guest_dom(const struct guest *g)
{
	return (struct dom_handle *)&g->inst[g->run].dom;
}

/* supervisor.c */
int supervisor_init(const void *dtb);
/* Verify every entry (refusing, with a logged reason, those that fail).
 * Returns the number of guests known. */
int supervisor_load(const struct boot_entry *entries, int count);
/* Build every verified guest. */
void supervisor_start_all(void);
/* One pass of work; returns the monotonic deadline of the next timed work. */
uint64_t supervisor_poll(void);
void supervisor_print_status(void);
/* The i-th guest of the plan, NULL past the last (store.c walks them). */
struct guest *supervisor_guest(int i);
/* Destroy g's domain if it runs and build it again now (its image changed). */
int supervisor_rebuild(struct guest *g);
struct ota_manifest;
/* Does the plan's NIC list ("lan,mgmt") give every NIC the manifest asks
 * for? false with a one-line reason. */
bool supervisor_plan_gives_nics(const char *plan_nics, const struct ota_manifest *m, char *reason,
				size_t size);
/* A new operation id (push.c starts an operation when a bundle arrives). */
uint32_t supervisor_next_op_id(void);
/* Crashes within the sliding window (for the health checks). */
unsigned supervisor_crashes_in_window(const struct guest *g);
/* The plan guest called name, or NULL. */
struct guest *supervisor_find(const char *name);
/* An operation (push, swap, rollback, restart) is under way for g: a second
 * one is refused (409). */
bool supervisor_busy(const struct guest *g);
/* push.c, once a pushed bundle is on the card as TRIAL: build the new
 * version beside the running one, gate it on its health, switch over or
 * roll back (g->op follows each step). */
void supervisor_swap_start(struct guest *g, enum op_kind kind);
/* POST /v1/guests/NAME/rollback: the previous confirmed version (READY on
 * the card) becomes the TRIAL and is swapped in hot like an update. 0 or an
 * OTA_E_* code (OTA_E_STATE: no previous version to go back to). */
int supervisor_rollback(struct guest *g);
/* POST /v1/guests/NAME/restart: a new instance of the running version. */
int supervisor_restart(struct guest *g);
/* Read-only views for the device API. */
int supervisor_guest_count(void);
const char *supervisor_state_name(enum guest_state state);
/* Benchmarks used by `make bench` and tests (boot arguments bench=, cycles=). */
void supervisor_bench_build(unsigned runs);
void supervisor_bench_cycles(unsigned cycles);

#endif
