/*
 * test_health.c: the health model (guests/control/health.c) - the board's
 * status is the worst check, history keeps changes, and each rule says
 * ok / degraded / failed for the situations a user meets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

#define MIB 1024u

static void test_overall_is_worst_check(void **state)
{
	(void)state;
	struct health h;
	const struct health_check *worst;
	assert_int_equal(health_init(&h, 8), 0);
	assert_int_equal(health_overall(&h, &worst), HEALTH_OK);
	assert_null(worst);
	health_record(&h, "board", "board.clock", HEALTH_OK, 1000, "fine");
	health_record(&h, "www", "www.state", HEALTH_DEGRADED, 1000, "crashed");
	health_record(&h, "hello", "hello.state", HEALTH_OK, 1000, "running");
	assert_int_equal(health_overall(&h, &worst), HEALTH_DEGRADED);
	assert_string_equal(worst->name, "www.state");
	assert_int_equal(health_subject(&h, "www"), HEALTH_DEGRADED);
	assert_int_equal(health_subject(&h, "hello"), HEALTH_OK);
	health_record(&h, "board", "board.nic", HEALTH_FAILED, 1000, "link down");
	assert_int_equal(health_overall(&h, &worst), HEALTH_FAILED);
	assert_string_equal(worst->name, "board.nic");
	/* A check that recovers no longer counts. */
	health_record(&h, "board", "board.nic", HEALTH_OK, 2000, "link up");
	health_record(&h, "www", "www.state", HEALTH_OK, 2000, "running");
	assert_int_equal(health_overall(&h, NULL), HEALTH_OK);
	assert_int_equal(h.count, 4);
	free(h.checks);
}

static void test_history_coalesces_and_wraps(void **state)
{
	(void)state;
	struct health h;
	assert_int_equal(health_init(&h, 2), 0);
	for (unsigned i = 0; i < 5; i++)
		health_record(&h, "board", "c", HEALTH_OK, 1000 + i, "same");
	const struct health_check *c = health_find(&h, "c");
	assert_int_equal(c->history_count, 1);
	assert_int_equal(health_history(c, 0)->runs, 5);
	assert_int_equal(health_history(c, 0)->first_ms, 1000);
	assert_int_equal(health_history(c, 0)->last_ms, 1004);
	/* A different reason is a new entry even with the same status. */
	health_record(&h, "board", "c", HEALTH_OK, 2000, "other");
	assert_int_equal(c->history_count, 2);
	assert_string_equal(health_history(c, 0)->result.reason, "other");
	assert_string_equal(health_history(c, 1)->result.reason, "same");
	/* Alternating results fill the history; the oldest fall out. */
	for (unsigned i = 0; i < 3 * HEALTH_HISTORY; i++)
		health_record(&h, "board", "c", i % 2 ? HEALTH_OK : HEALTH_FAILED, 3000 + i, "r%u",
			      i);
	assert_int_equal(c->history_count, HEALTH_HISTORY);
	char newest[16];
	snprintf(newest, sizeof(newest), "r%u", 3 * HEALTH_HISTORY - 1);
	assert_string_equal(health_history(c, 0)->result.reason, newest);
	assert_true(health_history(c, 0)->first_ms > health_history(c, 1)->first_ms);
	assert_null(health_history(c, HEALTH_HISTORY));
	/* The model is bounded: a third check does not fit. */
	assert_int_equal(health_record(&h, "board", "d", HEALTH_OK, 1, "x"), 0);
	assert_int_equal(health_record(&h, "board", "e", HEALTH_OK, 1, "x"), -1);
	free(h.checks);
}

static void test_reason_truncated_not_overflowed(void **state)
{
	(void)state;
	struct health h;
	char long_reason[400];
	memset(long_reason, 'x', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	assert_int_equal(health_init(&h, 1), 0);
	health_record(&h, "board", "c", HEALTH_DEGRADED, 1, "%s", long_reason);
	assert_int_equal(strlen(health_find(&h, "c")->current.reason), HEALTH_REASON_MAX - 1);
	free(h.checks);
}

static void test_xen_memory_floor(void **state)
{
	(void)state;
	struct health_result r = health_eval_xen_memory(900 * MIB, 32 * MIB);
	assert_int_equal(r.status, HEALTH_OK);
	assert_non_null(strstr(r.reason, "900 MiB free"));
	r = health_eval_xen_memory(20 * MIB, 32 * MIB);
	assert_int_equal(r.status, HEALTH_DEGRADED);
	assert_non_null(strstr(r.reason, "floor of 32 MiB"));
}

static void test_store(void **state)
{
	(void)state;
	struct health_store_input in = {
	    .usable = true, .guests_used = 2, .guests_capacity = 16, .bad_images = 0};
	assert_int_equal(health_eval_store(&in).status, HEALTH_OK);
	in.bad_images = -1;
	assert_int_equal(health_eval_store(&in).status, HEALTH_OK);
	assert_non_null(strstr(health_eval_store(&in).reason, "not checked"));
	/* A corrupted slot names the image. */
	in.bad_images = 1;
	in.first_bad = "www slot A: hash mismatch";
	struct health_result r = health_eval_store(&in);
	assert_int_equal(r.status, HEALTH_DEGRADED);
	assert_non_null(strstr(r.reason, "www slot A"));
	/* A refusal at build time counts even when the check has not run. */
	in.bad_images = -1;
	in.refused = 1;
	in.last_refused = "hello slot A: bad signature";
	r = health_eval_store(&in);
	assert_int_equal(r.status, HEALTH_DEGRADED);
	assert_non_null(strstr(r.reason, "hello slot A"));
	in.refused = 0;
	in.guests_used = 16;
	assert_int_equal(health_eval_store(&in).status, HEALTH_DEGRADED);
	in.usable = false;
	in.problem = "no valid metadata";
	r = health_eval_store(&in);
	assert_int_equal(r.status, HEALTH_FAILED);
	assert_non_null(strstr(r.reason, "no valid metadata"));
}

static void test_card_and_nic(void **state)
{
	(void)state;
	assert_int_equal(health_eval_card(true, 0, NULL).status, HEALTH_OK);
	struct health_result r = health_eval_card(true, 3, "timeout");
	assert_int_equal(r.status, HEALTH_DEGRADED);
	assert_non_null(strstr(r.reason, "3 I/O error"));
	assert_int_equal(health_eval_card(false, 0, NULL).status, HEALTH_DEGRADED);

	struct health_nic_input nic = {.present = true, .link_up = true, .mbps = 100};
	assert_int_equal(health_eval_nic(&nic).status, HEALTH_OK);
	nic.rx_dropped = 10; /* drops under load are not a fault */
	assert_int_equal(health_eval_nic(&nic).status, HEALTH_OK);
	nic.rx_errors = 2;
	assert_int_equal(health_eval_nic(&nic).status, HEALTH_DEGRADED);
	nic.link_up = false;
	assert_int_equal(health_eval_nic(&nic).status, HEALTH_FAILED);
	nic.present = false;
	assert_int_equal(health_eval_nic(&nic).status, HEALTH_FAILED);
}

static void test_heap_and_uptime(void **state)
{
	(void)state;
	assert_int_equal(health_eval_heap(60u << 20, 2u << 20).status, HEALTH_OK);
	assert_int_equal(health_eval_heap(100, 85).status, HEALTH_DEGRADED);
	assert_int_equal(health_eval_heap(100, 99).status, HEALTH_FAILED);
	assert_int_equal(health_eval_heap(0, 0).status, HEALTH_FAILED);
	struct health_result r = health_eval_uptime((86400u + 3723u) * 1000ull, 7);
	assert_int_equal(r.status, HEALTH_OK);
	assert_string_equal(r.reason, "up 1 d 01:02:03, boot 7");
}

static void test_clock(void **state)
{
	(void)state;
	const uint64_t s = 1000000000ull;
	const uint64_t y2026 = 1780000000ull;
	/* Unset wall clock: normal on a board without a time source. */
	struct health_clock_input in = {.wall_ns = 5 * s, .monotonic_ns = 5 * s};
	assert_int_equal(health_eval_clock(&in).status, HEALTH_OK);
	assert_non_null(strstr(health_eval_clock(&in).reason, "not set"));
	/* The monotonic clock must advance between runs. */
	in.previous_monotonic_ns = 5 * s;
	assert_int_equal(health_eval_clock(&in).status, HEALTH_FAILED);
	/* Set, advancing with the monotonic clock: ok. */
	in = (struct health_clock_input){.wall_ns = y2026 * s + 10 * s,
					 .previous_wall_ns = y2026 * s,
					 .monotonic_ns = 20 * s,
					 .previous_monotonic_ns = 10 * s,
					 .build_time_s = y2026 - 86400};
	assert_int_equal(health_eval_clock(&in).status, HEALTH_OK);
	/* Went back, jumped, or before the build: degraded. */
	in.wall_ns = y2026 * s - s;
	assert_int_equal(health_eval_clock(&in).status, HEALTH_DEGRADED);
	in.wall_ns = y2026 * s + 100 * s;
	assert_int_equal(health_eval_clock(&in).status, HEALTH_DEGRADED);
	assert_non_null(strstr(health_eval_clock(&in).reason, "jumped"));
	in.previous_monotonic_ns = 0;
	in.wall_ns = (y2026 - 2 * 86400) * s;
	assert_int_equal(health_eval_clock(&in).status, HEALTH_DEGRADED);
	assert_non_null(strstr(health_eval_clock(&in).reason, "before"));
}

static void test_guest_rules(void **state)
{
	(void)state;
	struct health_guest_input g = {.state = HEALTH_GUEST_RUNNING,
				       .crash_limit = 3,
				       .window_s = 60,
				       .uptime_ms = 3723000,
				       .version = "1.2.3",
				       .from_store = true,
				       .slot = 'B'};
	assert_int_equal(health_eval_guest_state(&g).status, HEALTH_OK);
	assert_string_equal(health_eval_guest_state(&g).reason, "running for 1:02:03");
	assert_int_equal(health_eval_guest_restarts(&g).status, HEALTH_OK);
	assert_int_equal(health_eval_guest_report(&g).status, HEALTH_OK);
	assert_int_equal(health_eval_guest_probe(&g).status, HEALTH_OK);
	assert_string_equal(health_eval_guest_version(&g).reason, "v1.2.3 from slot B");
	assert_int_equal(health_eval_guest_trial(&g).status, HEALTH_OK);

	/* Crash loop: restarting, then stopped by the supervisor: degraded, not failed. */
	g.crashes_in_window = 2;
	g.state = HEALTH_GUEST_BACKOFF;
	assert_int_equal(health_eval_guest_state(&g).status, HEALTH_DEGRADED);
	assert_int_equal(health_eval_guest_restarts(&g).status, HEALTH_DEGRADED);
	g.state = HEALTH_GUEST_FAILED;
	g.crashes_in_window = 3;
	assert_int_equal(health_eval_guest_state(&g).status, HEALTH_DEGRADED);
	assert_non_null(strstr(health_eval_guest_state(&g).reason, "crash-looping"));
	g.state = HEALTH_GUEST_REFUSED;
	g.refused_reason = "bad signature";
	assert_int_equal(health_eval_guest_state(&g).status, HEALTH_FAILED);
	assert_non_null(strstr(health_eval_guest_state(&g).reason, "bad signature"));
	g.state = HEALTH_GUEST_EXITED;
	assert_int_equal(health_eval_guest_state(&g).status, HEALTH_OK);

	/* The guest's own report. */
	g.state = HEALTH_GUEST_RUNNING;
	g.status_valid = true;
	assert_string_equal(health_eval_guest_report(&g).reason, "has not said it is ready yet");
	g.ready = true;
	assert_string_equal(health_eval_guest_report(&g).reason, "ready");
	g.reported = 1;
	g.reported_reason = "cache cold";
	assert_int_equal(health_eval_guest_report(&g).status, HEALTH_DEGRADED);
	assert_non_null(strstr(health_eval_guest_report(&g).reason, "cache cold"));
	g.reported = 2;
	g.reported_reason = "database gone";
	assert_int_equal(health_eval_guest_report(&g).status, HEALTH_FAILED);

	/* Its probe. */
	g.probe_declared = true;
	assert_string_equal(health_eval_guest_probe(&g).reason, "not probed yet");
	g.probe_ran = true;
	g.probe_passed = true;
	g.probe_latency_ms = 12;
	assert_string_equal(health_eval_guest_probe(&g).reason, "probe passed in 12 ms");
	g.probe_passed = false;
	g.probe_reason = "http:80/: status 500";
	assert_int_equal(health_eval_guest_probe(&g).status, HEALTH_FAILED);
	assert_non_null(strstr(health_eval_guest_probe(&g).reason, "status 500"));
	g.state = HEALTH_GUEST_BACKOFF;
	assert_int_equal(health_eval_guest_probe(&g).status, HEALTH_OK);

	/* A trial nobody confirms vs one on probation. */
	g.on_trial = true;
	g.trial_attempt = 1;
	g.trial_attempts_max = 3;
	assert_int_equal(health_eval_guest_trial(&g).status, HEALTH_DEGRADED);
	g.operation = "update";
	assert_int_equal(health_eval_guest_trial(&g).status, HEALTH_OK);
	g.from_store = false;
	assert_non_null(strstr(health_eval_guest_version(&g).reason, "boot bundle"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_overall_is_worst_check),
	    cmocka_unit_test(test_history_coalesces_and_wraps),
	    cmocka_unit_test(test_reason_truncated_not_overflowed),
	    cmocka_unit_test(test_xen_memory_floor),
	    cmocka_unit_test(test_store),
	    cmocka_unit_test(test_card_and_nic),
	    cmocka_unit_test(test_heap_and_uptime),
	    cmocka_unit_test(test_clock),
	    cmocka_unit_test(test_guest_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
