/*
 * The health model and its rules (health.h). Portable: the control domain
 * and the host tests run the same code.
 */
#include "health.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_S   1000u
#define NS_PER_MS  1000000u
#define KIB_PER_MB 1024u

/* ---------------------------------------------------------------- model */

int health_init(struct health *h, unsigned capacity)
{
	memset(h, 0, sizeof(*h));
	h->checks = calloc(capacity, sizeof(*h->checks));
	if (!h->checks)
		return -1;
	h->capacity = capacity;
	return 0;
}

const char *health_status_name(enum health_status s)
{
	switch (s) {
	case HEALTH_OK: return "ok";
	case HEALTH_DEGRADED: return "degraded";
	case HEALTH_FAILED: return "failed";
	}
	return "?";
}

const struct health_check *health_find(const struct health *h, const char *name)
{
	for (unsigned i = 0; i < h->count; i++)
		if (strcmp(h->checks[i].name, name) == 0)
			return &h->checks[i];
	return NULL;
}

int health_record_result(struct health *h, const char *subject, const char *name,
			 const struct health_result *r, uint64_t now_ms)
{
	struct health_check *c = (struct health_check *)health_find(h, name);
	if (!c) {
		if (h->count == h->capacity)
			return -1;
		c = &h->checks[h->count++];
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", name);
		snprintf(c->subject, sizeof(c->subject), "%s", subject);
	}
	c->current = *r;
	c->last_run_ms = now_ms;
	struct health_entry *newest =
	    c->history_count ? &c->history[(c->history_next + HEALTH_HISTORY - 1) % HEALTH_HISTORY]
			     : NULL;
	if (newest && newest->result.status == r->status &&
	    strcmp(newest->result.reason, r->reason) == 0) {
		newest->last_ms = now_ms;
		newest->runs++;
		return 0;
	}
	struct health_entry *e = &c->history[c->history_next];
	c->history_next = (c->history_next + 1) % HEALTH_HISTORY;
	if (c->history_count < HEALTH_HISTORY)
		c->history_count++;
	e->first_ms = e->last_ms = now_ms;
	e->runs = 1;
	e->result = *r;
	return 0;
}

static void vformat(struct health_result *r, const char *format, va_list ap)
{
	vsnprintf(r->reason, sizeof(r->reason), format, ap);
}

static struct health_result result(enum health_status status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static struct health_result result(enum health_status status, const char *format, ...)
{
	struct health_result r;
	va_list ap;
	r.status = status;
	va_start(ap, format);
	vformat(&r, format, ap);
	va_end(ap);
	return r;
}

int health_record(struct health *h, const char *subject, const char *name,
		  enum health_status status, uint64_t now_ms, const char *reason_format, ...)
{
	struct health_result r;
	va_list ap;
	r.status = status;
	va_start(ap, reason_format);
	vformat(&r, reason_format, ap);
	va_end(ap);
	return health_record_result(h, subject, name, &r, now_ms);
}

enum health_status health_overall(const struct health *h, const struct health_check **worst)
{
	enum health_status status = HEALTH_OK;
	if (worst)
		*worst = NULL;
	for (unsigned i = 0; i < h->count; i++) {
		if (h->checks[i].current.status > status) {
			status = h->checks[i].current.status;
			if (worst)
				*worst = &h->checks[i];
		}
	}
	return status;
}

enum health_status health_subject(const struct health *h, const char *subject)
{
	enum health_status status = HEALTH_OK;
	for (unsigned i = 0; i < h->count; i++)
		if (strcmp(h->checks[i].subject, subject) == 0 &&
		    h->checks[i].current.status > status)
			status = h->checks[i].current.status;
	return status;
}

const struct health_entry *health_history(const struct health_check *c, unsigned i)
{
	if (i >= c->history_count)
		return NULL;
	return &c->history[(c->history_next + 2 * HEALTH_HISTORY - 1 - i) % HEALTH_HISTORY];
}

/* ---------------------------------------------------------------- board rules */

struct health_result health_eval_xen_memory(uint64_t free_kib, uint64_t floor_kib)
{
	if (free_kib < floor_kib)
		return result(HEALTH_DEGRADED,
			      "Xen has %" PRIu64 " MiB free, under the floor of %" PRIu64
			      " MiB: a guest may not be rebuilt",
			      free_kib / KIB_PER_MB, floor_kib / KIB_PER_MB);
	return result(HEALTH_OK, "Xen has %" PRIu64 " MiB free (floor %" PRIu64 " MiB)",
		      free_kib / KIB_PER_MB, floor_kib / KIB_PER_MB);
}

struct health_result health_eval_store(const struct health_store_input *in)
{
	if (!in->usable)
		return result(HEALTH_FAILED,
			      "the card's slot store is unusable (%s): guests run from the boot "
			      "bundle, updates are not kept",
			      in->problem ? in->problem : "not opened");
	if (in->bad_images > 0)
		return result(HEALTH_DEGRADED, "%d bad image(s) on the card: %s", in->bad_images,
			      in->first_bad ? in->first_bad : "?");
	if (in->refused)
		return result(HEALTH_DEGRADED, "%u image(s) on the card refused this boot: %s",
			      in->refused, in->last_refused ? in->last_refused : "?");
	if (in->guests_capacity && in->guests_used >= in->guests_capacity)
		return result(HEALTH_DEGRADED,
			      "the store is full: %u of %u guest entries used (a new guest cannot "
			      "be installed)",
			      in->guests_used, in->guests_capacity);
	return result(HEALTH_OK, "%u of %u guest entries used, %s", in->guests_used,
		      in->guests_capacity,
		      in->bad_images < 0 ? "images not checked yet" : "every image verified");
}

struct health_result health_eval_card(bool present, uint64_t io_errors, const char *last_error)
{
	if (!present)
		return result(HEALTH_DEGRADED, "no card store: nothing is kept across boots");
	if (io_errors)
		return result(HEALTH_DEGRADED,
			      "%" PRIu64 " I/O error(s) since boot (last: %s): the card may be "
			      "failing",
			      io_errors, last_error ? last_error : "?");
	return result(HEALTH_OK, "no I/O errors since boot");
}

struct health_result health_eval_nic(const struct health_nic_input *in)
{
	if (!in->present)
		return result(HEALTH_FAILED, "no network controller: the board is unreachable");
	if (!in->link_up)
		return result(HEALTH_FAILED, "link down");
	if (in->rx_errors || in->tx_errors)
		return result(HEALTH_DEGRADED,
			      "link up %u Mbit/s, %" PRIu64 " receive and %" PRIu64
			      " transmit error(s) since the last check",
			      in->mbps, in->rx_errors, in->tx_errors);
	return result(HEALTH_OK,
		      "link up %u Mbit/s, no errors (%" PRIu64 " frame(s) dropped since the last "
		      "check)",
		      in->mbps, in->rx_dropped + in->tx_dropped);
}

struct health_result health_eval_heap(uint64_t total, uint64_t high_water)
{
	unsigned percent = total ? (unsigned)(high_water * 100 / total) : 100;
	enum health_status s = percent >= 95   ? HEALTH_FAILED
			       : percent >= 80 ? HEALTH_DEGRADED
					       : HEALTH_OK;
	return result(s, "memory high-water %" PRIu64 " KiB of %" PRIu64 " KiB (%u%%)%s",
		      high_water / 1024, total / 1024, percent,
		      s == HEALTH_OK ? "" : ": the control domain may run out");
}

struct health_result health_eval_uptime(uint64_t uptime_ms, uint32_t boot_number)
{
	uint64_t s = uptime_ms / MS_PER_S;
	return result(HEALTH_OK,
		      "up %" PRIu64 " d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ", boot %" PRIu32,
		      s / 86400, s / 3600 % 24, s / 60 % 60, s % 60, boot_number);
}

struct health_result health_eval_clock(const struct health_clock_input *in)
{
	if (in->previous_monotonic_ns && in->monotonic_ns <= in->previous_monotonic_ns)
		return result(HEALTH_FAILED, "the monotonic clock did not advance");
	/* Boards without an RTC or a time source have no wall clock: that is
	 * normal (times are uptimes), not a fault. */
	if (in->wall_ns / NS_PER_MS / MS_PER_S < 365u * 86400u)
		return result(HEALTH_OK, "monotonic clock advancing; wall clock not set (no time "
					 "source): times are uptimes");
	if (in->build_time_s && in->wall_ns / NS_PER_MS / MS_PER_S < in->build_time_s)
		return result(HEALTH_DEGRADED, "wall clock is before this firmware was built");
	if (in->previous_monotonic_ns && in->previous_wall_ns) {
		uint64_t mono = in->monotonic_ns - in->previous_monotonic_ns;
		if (in->wall_ns < in->previous_wall_ns)
			return result(HEALTH_DEGRADED, "wall clock went back %" PRIu64 " ms",
				      (in->previous_wall_ns - in->wall_ns) / NS_PER_MS);
		uint64_t wall = in->wall_ns - in->previous_wall_ns;
		uint64_t drift = wall > mono ? wall - mono : mono - wall;
		/* More than 1 s plus 1 % between runs: someone set it, or it runs wrong. */
		if (drift > 1000u * NS_PER_MS + mono / 100)
			return result(HEALTH_DEGRADED,
				      "wall clock jumped %" PRIu64
				      " ms against the monotonic clock",
				      drift / NS_PER_MS);
	}
	return result(HEALTH_OK, "wall clock set and advancing with the monotonic clock");
}

/* ---------------------------------------------------------------- guest rules */

struct health_result health_eval_guest_state(const struct health_guest_input *in)
{
	switch (in->state) {
	case HEALTH_GUEST_RUNNING: {
		uint64_t s = in->uptime_ms / MS_PER_S;
		return result(HEALTH_OK, "running for %" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
			      s / 3600, s / 60 % 60, s % 60);
	}
	case HEALTH_GUEST_EXITED: return result(HEALTH_OK, "exited by itself (status 0)");
	case HEALTH_GUEST_BACKOFF:
		return result(HEALTH_DEGRADED, "crashed; restarting (crash %u of %u within %u s)",
			      in->crashes_in_window, in->crash_limit, in->window_s);
	case HEALTH_GUEST_FAILED:
		/* Contained: the supervisor stopped it, the rest of the board serves. */
		return result(HEALTH_DEGRADED,
			      "crash-looping: %u crashes within %u s, stopped (push a fix or "
			      "restart it)",
			      in->crashes_in_window, in->window_s);
	case HEALTH_GUEST_REFUSED:
		return result(HEALTH_FAILED, "never started: its bundle was refused (%s)",
			      in->refused_reason ? in->refused_reason : "?");
	}
	return result(HEALTH_FAILED, "unknown state");
}

struct health_result health_eval_guest_restarts(const struct health_guest_input *in)
{
	if (in->crashes_in_window)
		return result(HEALTH_DEGRADED, "%u crash(es) within the last %u s",
			      in->crashes_in_window, in->window_s);
	return result(HEALTH_OK, "no crash within the last %u s", in->window_s);
}

struct health_result health_eval_guest_report(const struct health_guest_input *in)
{
	if (!in->status_valid)
		return result(HEALTH_OK, "no report (the guest does not use flotilla_ready())");
	if (in->reported == 2)
		return result(HEALTH_FAILED, "reports failed: %s",
			      in->reported_reason ? in->reported_reason : "");
	if (in->reported == 1)
		return result(HEALTH_DEGRADED, "reports degraded: %s",
			      in->reported_reason ? in->reported_reason : "");
	if (!in->ready)
		return result(HEALTH_OK, "has not said it is ready yet");
	if (in->reported_reason && in->reported_reason[0])
		return result(HEALTH_OK, "ready; reports ok: %s", in->reported_reason);
	return result(HEALTH_OK, "ready");
}

struct health_result health_eval_guest_probe(const struct health_guest_input *in)
{
	if (!in->probe_declared)
		return result(HEALTH_OK, "no probe declared in the plan");
	if (in->state != HEALTH_GUEST_RUNNING)
		return result(HEALTH_OK, "not probed: not running");
	if (!in->probe_ran)
		return result(HEALTH_OK, "not probed yet");
	if (!in->probe_passed)
		return result(HEALTH_FAILED, "probe failed: %s",
			      in->probe_reason ? in->probe_reason : "?");
	return result(HEALTH_OK, "probe passed in %" PRIu32 " ms", in->probe_latency_ms);
}

struct health_result health_eval_guest_version(const struct health_guest_input *in)
{
	const char *v = in->version && in->version[0] ? in->version : "?";
	if (!in->from_store)
		return result(HEALTH_OK, "v%s from the boot bundle (not on the card)", v);
	return result(HEALTH_OK, "v%s from slot %c", v, in->slot);
}

struct health_result health_eval_guest_trial(const struct health_guest_input *in)
{
	if (!in->on_trial)
		return result(HEALTH_OK, "no pending trial");
	if (in->operation)
		return result(HEALTH_OK, "trial on probation (%s under way)", in->operation);
	return result(HEALTH_DEGRADED,
		      "runs an unconfirmed trial (attempt %u of %u): it reverts at the next "
		      "boot unless confirmed",
		      in->trial_attempt, in->trial_attempts_max);
}
