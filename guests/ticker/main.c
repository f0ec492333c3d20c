/*
 * ticker: a long-running guest that does almost nothing: it prints a line
 * every "interval=" seconds (boot argument; default 10) and otherwise stays
 * blocked. Used as the idle guest in CPU-use tests and as the long-running
 * guest in lifecycle tests and the stop-then-start swap test.
 *
 * It is a service: once started it calls flotilla_ready(), so a new version
 * of it passes the health gate (a plan with no probe needs nothing more).
 * Built with -DTICKER_NEVER_READY it never does: the version a test pushes
 * to see the gate roll it back. -DTICKER_VERSION='"X.Y.Z"' makes a build
 * name itself on its console, so a test sees which code runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"

#define NS_PER_SECOND ((uint64_t)1000000000)

static unsigned interval_from(const char *bootargs)
{
	const char *p = strstr(bootargs, "interval=");
	if (!p)
		return 10;
	unsigned long value = strtoul(p + strlen("interval="), NULL, 10);
	return value ? (unsigned)value : 10;
}

int flotilla_main(const struct flotilla_start_info *info)
{
	unsigned interval = interval_from(info->bootargs);
	printf("ticker: started, a tick every %u s\n", interval);
#ifdef TICKER_VERSION
	printf("ticker: version %s\n", TICKER_VERSION);
#endif
#ifndef TICKER_NEVER_READY
	flotilla_ready();
#endif
	uint64_t next = flotilla_clock_monotonic();
	for (unsigned tick = 1;; tick++) {
		next += interval * NS_PER_SECOND;
		while (flotilla_clock_monotonic() < next)
			flotilla_yield(next);
		printf("ticker: tick %u\n", tick);
	}
}
