/*
 * health.h: the board's health model - named checks, each ok / degraded /
 * failed with a one-line reason and a short history, and the board's status
 * as the worst of them (docs/device-api.md, "Health").
 *
 * Portable (no platform headers; host-tested in tests/unit/test_health.c).
 * The evaluation rules are pure functions over plain inputs
 * (health_eval_*): the control domain gathers the inputs (health_board.c)
 * and records the results here; the tests feed the same functions.
 *
 * What the states mean to a user:
 *   ok       - nothing to do;
 *   degraded - it works, but someone should look (a guest crash-looped and
 *              was stopped, a bad image on the card, memory running low);
 *   failed   - something does not serve what it should (a guest's probe or
 *              its own report says failed, its bundle was refused, no link).
 *
 * History: consecutive identical results are one entry (first and last time
 * seen, how many runs), so HEALTH_HISTORY entries cover a check's recent
 * changes, not only its last few runs.
 */
#ifndef FLOTILLA_CONTROL_HEALTH_H
#define FLOTILLA_CONTROL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <generated/autoconf.h>

#ifndef CONFIG_HEALTH_HISTORY
#define CONFIG_HEALTH_HISTORY 8
#endif

#define HEALTH_NAME_MAX   48
#define HEALTH_REASON_MAX 96
#define HEALTH_HISTORY    CONFIG_HEALTH_HISTORY

enum health_status { HEALTH_OK = 0, HEALTH_DEGRADED = 1, HEALTH_FAILED = 2 };

struct health_result {
	enum health_status status;
	char reason[HEALTH_REASON_MAX];
};

struct health_entry {
	uint64_t first_ms, last_ms; /* monotonic ms of the first and last run with this result */
	uint32_t runs;
	struct health_result result;
};

struct health_check {
	char name[HEALTH_NAME_MAX];    /* "board.store", "www.state" */
	char subject[HEALTH_NAME_MAX]; /* "board" or the guest's name */
	struct health_result current;
	uint64_t last_run_ms;
	/* newest at (next - 1) % HEALTH_HISTORY */
	struct health_entry history[HEALTH_HISTORY];
	unsigned history_next, history_count;
};

struct health {
	struct health_check *checks;
	unsigned count, capacity;
	uint64_t runs;        /* evaluations of the whole model */
	uint64_t last_run_ms; /* when the last one ended */
	uint64_t last_run_ns; /* how long it took (CPU of the control domain) */
};

/* health.c: the model */
/* capacity checks, allocated once (not in .bss: Xen copies .bss with the image). 0 or -1. */
int health_init(struct health *h, unsigned capacity);
/* Records one result of the check called name (created on first use; -1
 * when the model is full). Formats its reason with printf rules. */
int health_record(struct health *h, const char *subject, const char *name,
		  enum health_status status, uint64_t now_ms, const char *reason_format, ...)
    __attribute__((format(printf, 6, 7)));
int health_record_result(struct health *h, const char *subject, const char *name,
			 const struct health_result *r, uint64_t now_ms);
const struct health_check *health_find(const struct health *h, const char *name);
/* The worst current status; *worst (may be NULL) is the first check with it. */
enum health_status health_overall(const struct health *h, const struct health_check **worst);
/* The worst current status of one subject ("board", a guest's name). */
enum health_status health_subject(const struct health *h, const char *subject);
/* The i-th newest history entry (0 = newest), NULL past the last. */
const struct health_entry *health_history(const struct health_check *c, unsigned i);
const char *health_status_name(enum health_status s);

/* health.c: the rules (pure functions) */
struct health_result health_eval_xen_memory(uint64_t free_kib, uint64_t floor_kib);

struct health_store_input {
	bool usable;
	const char *problem; /* why not usable */
	unsigned guests_used, guests_capacity;
	int bad_images;        /* found by the last consistency check; -1: not checked yet */
	const char *first_bad; /* "www slot A: hash mismatch" */
	unsigned refused;      /* images refused from the card this boot */
	const char *last_refused;
};
struct health_result health_eval_store(const struct health_store_input *in);

struct health_result health_eval_card(bool present, uint64_t io_errors, const char *last_error);

struct health_nic_input {
	bool present, link_up;
	unsigned mbps;
	uint64_t rx_errors, tx_errors; /* since the previous run */
	uint64_t rx_dropped, tx_dropped;
};
struct health_result health_eval_nic(const struct health_nic_input *in);

/* Control domain memory: bytes of its heap, and the most ever in use. */
struct health_result health_eval_heap(uint64_t total, uint64_t high_water);

struct health_result health_eval_uptime(uint64_t uptime_ms, uint32_t boot_number);

/* Wall clock (ns since 1970, 0 or tiny when unset) now and at the
 * previous run, with the monotonic time elapsed between them; the build's
 * time (s since 1970) as a floor for a set clock. */
struct health_clock_input {
	uint64_t wall_ns, previous_wall_ns;
	uint64_t monotonic_ns, previous_monotonic_ns; /* previous 0: first run */
	uint64_t build_time_s;
};
struct health_result health_eval_clock(const struct health_clock_input *in);

/* A guest, as the supervisor, its status page, its probe and the store see it. */
enum health_guest_state {
	HEALTH_GUEST_RUNNING,
	HEALTH_GUEST_EXITED,
	HEALTH_GUEST_BACKOFF,
	HEALTH_GUEST_FAILED,
	HEALTH_GUEST_REFUSED,
};
struct health_guest_input {
	enum health_guest_state state;
	const char *refused_reason;
	unsigned crashes_in_window, crash_limit, window_s;
	uint64_t uptime_ms; /* running: since its start */
	/* its status page (flotilla_ready / flotilla_health) */
	bool status_valid, ready;
	unsigned reported; /* enum flotilla_health_status */
	const char *reported_reason;
	/* its probe: none declared, not run yet, passed or failed */
	bool probe_declared, probe_ran, probe_passed;
	uint32_t probe_latency_ms;
	const char *probe_reason;
	/* version and where it runs from */
	const char *version;
	bool from_store;
	char slot; /* 'A', 'B', '-' */
	bool on_trial;
	unsigned trial_attempt, trial_attempts_max;
	/* an operation under way (push, rollback, restart) */
	const char *operation; /* NULL: none */
};
struct health_result health_eval_guest_state(const struct health_guest_input *in);
struct health_result health_eval_guest_restarts(const struct health_guest_input *in);
struct health_result health_eval_guest_report(const struct health_guest_input *in);
struct health_result health_eval_guest_probe(const struct health_guest_input *in);
struct health_result health_eval_guest_version(const struct health_guest_input *in);
struct health_result health_eval_guest_trial(const struct health_guest_input *in);

#endif
