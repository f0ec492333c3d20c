/*
 * unix target: the Flotilla application interface as an ordinary Linux
 * process, for development and host tests. Console = stdout, time =
 * clock_gettime, waiting = poll() on the network descriptors, exit = exit.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flotilla.h"
#include "lease.h"
#include "unix.h"

static uint64_t start_ns;

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t flotilla_clock_monotonic(void)
{
	return clock_ns(CLOCK_MONOTONIC) - start_ns;
}

uint64_t flotilla_clock_wall(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void flotilla_console_write(const char *buf, size_t len)
{
	fwrite(buf, 1, len, stdout);
	if (memchr(buf, '\n', len))
		fflush(stdout);
}

bool flotilla_yield(uint64_t deadline)
{
	fflush(stdout);
	struct pollfd fds[UNIX_NET_MAX];
	int count = unix_net_pollfds(fds, UNIX_NET_MAX);
	for (;;) {
		uint64_t now = flotilla_clock_monotonic();
		int timeout_ms = -1;
		if (deadline != UINT64_MAX) {
			if (now >= deadline)
				return false;
			uint64_t wait_ms = (deadline - now + 999999) / 1000000;
			timeout_ms = wait_ms > INT32_MAX ? INT32_MAX : (int)wait_ms;
		}
		int ready = poll(fds, (nfds_t)count, timeout_ms);
		if (ready > 0)
			return true;
		if (ready == 0 && deadline != UINT64_MAX && flotilla_clock_monotonic() >= deadline)
			return false;
	}
}

void flotilla_exit(int status)
{
	fflush(stdout);
	exit(status);
}

const void *flotilla_devicetree(void)
{
	return NULL;
}

/* No control domain on unix: say it on stderr, where a test can see it. */
void flotilla_ready(void)
{
	fprintf(stderr, "flotilla: ready\n");
}

void flotilla_health(enum flotilla_health_status status, const char *reason)
{
	static const char *const names[] = {"ok", "degraded", "failed"};
	fprintf(stderr, "flotilla: health %s: %s\n", (unsigned)status < 3 ? names[status] : "?",
		reason ? reason : "");
}

/* No control domain on unix: nothing ever replaces this process hot. */
bool flotilla_draining(void)
{
	return false;
}

/* No control domain to tell on unix: the console already shows the address. */
void runtime_report_address(unsigned interface, uint32_t flags, uint32_t addr, uint32_t netmask,
			    uint32_t gateway)
{
	(void)interface;
	(void)flags;
	(void)addr;
	(void)netmask;
	(void)gateway;
}

const char *runtime_net_label(unsigned interface)
{
	(void)interface;
	return NULL;
}

int main(int argc, char **argv)
{
	start_ns = clock_ns(CLOCK_MONOTONIC);
	/* Boot arguments: the command line, joined by spaces, as on Xen. */
	size_t length = 1;
	for (int i = 1; i < argc; i++)
		length += strlen(argv[i]) + 1;
	char *bootargs = calloc(1, length);
	if (!bootargs)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			strcat(bootargs, " ");
		strcat(bootargs, argv[i]);
	}
	if (unix_net_init() != 0)
		return 2;
	struct flotilla_start_info info = {.bootargs = bootargs};
	int status = flotilla_main(&info);
	flotilla_exit(status);
}
