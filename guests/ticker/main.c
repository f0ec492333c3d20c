/*
 * ticker: a long-running guest that does almost nothing: it prints a line
 * every "interval=" seconds (boot argument; default 10) and otherwise stays
 * blocked. Used as the idle guest in CPU-use tests and as the long-running
 * guest in lifecycle tests.
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
	uint64_t next = flotilla_clock_monotonic();
	for (unsigned tick = 1;; tick++) {
		next += interval * NS_PER_SECOND;
		while (flotilla_clock_monotonic() < next)
			flotilla_yield(next);
		printf("ticker: tick %u\n", tick);
	}
}
