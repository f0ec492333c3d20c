/*
 * hello: the smallest useful guest. Prints its boot arguments and the
 * time, sleeps one second twice (blocked, not spinning) reporting how long
 * each sleep measured, and exits with status 0. It tells the control
 * domain it is ready as soon as it runs.
 */
#include <inttypes.h>
#include <stdio.h>

#include "flotilla.h"

#define NS_PER_SECOND ((uint64_t)1000000000)

static void sleep_until(uint64_t deadline)
{
	/* yield() may return early for an event; keep waiting for the deadline. */
	while (flotilla_clock_monotonic() < deadline)
		flotilla_yield(deadline);
}

int flotilla_main(const struct flotilla_start_info *info)
{
	printf("hello: boot arguments \"%s\"\n", info->bootargs);
	flotilla_ready(); /* up: the control domain logs "hello: ready after N ms" */
	uint64_t now = flotilla_clock_monotonic();
	uint64_t wall = flotilla_clock_wall();
	printf("hello: monotonic %" PRIu64 ".%06" PRIu64 " s, wall clock %" PRIu64 ".%06" PRIu64
	       " s\n",
	       now / NS_PER_SECOND, now % NS_PER_SECOND / 1000, wall / NS_PER_SECOND,
	       wall % NS_PER_SECOND / 1000);
	for (int i = 1; i <= 2; i++) {
		uint64_t start = flotilla_clock_monotonic();
		sleep_until(start + NS_PER_SECOND);
		uint64_t slept = flotilla_clock_monotonic() - start;
		printf("hello: sleep %d took %" PRIu64 " us\n", i, slept / 1000);
	}
	printf("hello: goodbye\n");
	return 0;
}
