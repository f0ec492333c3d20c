/*
 * flotilla.h - the one interface between a Flotilla application and the
 * runtime (the unikernel library OS). Everything an application may call is
 * here. Two targets implement it: xen/ (a Xen/ARM32 domain) and unix/ (an
 * ordinary Linux process, for development and tests).
 *
 * Applications are event-driven: the runtime calls flotilla_main() once;
 * the application then waits for work with flotilla_yield(), which blocks
 * in the hypervisor (or the host kernel) and never spins.
 *
 * Standard C (picolibc on Xen, glibc on unix) is available: printf() and
 * friends write to the console; malloc() draws from the domain's RAM.
 */
#ifndef FLOTILLA_H
#define FLOTILLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of calls that can fail. */
typedef enum {
	FLOTILLA_OK = 0,
	FLOTILLA_AGAIN,  /* nothing to do now: try again after flotilla_yield() */
	FLOTILLA_EINVAL, /* an argument was wrong (a bad handle, a short buffer) */
	FLOTILLA_EUNSPEC /* the platform failed; the application cannot fix it */
} flotilla_result_t;

/* What the runtime tells the application at start. */
struct flotilla_start_info {
	const char *bootargs;  /* from the device tree's /chosen/bootargs, or "" */
	uintptr_t heap_start;  /* RAM not used by the image (informational) */
	size_t heap_size;
};

/*
 * The application's entry point, called once after the runtime is up. Its
 * return value becomes the exit status, as for flotilla_exit().
 */
int flotilla_main(const struct flotilla_start_info *info);

/*
 * Console. Writes len bytes. Output is line-buffered by the runtime: a line
 * appears when its '\n' is written (or the buffer of 256 bytes is full).
 * Never fails; bytes may be dropped if the console backend is gone.
 */
void flotilla_console_write(const char *buf, size_t len);

/* Time. Nanoseconds since this domain (process) started; never goes back. */
uint64_t flotilla_clock_monotonic(void);

/*
 * Wall-clock time in nanoseconds since the Unix epoch, as well as the
 * platform knows it: on Xen/ARM32 boards without an RTC this is the
 * monotonic clock plus the offset Xen reports in shared_info (which may be
 * 0, i.e. 1970, until a time source sets it). Callers MUST NOT rely on it
 * being set or monotonic.
 */
uint64_t flotilla_clock_wall(void);

/*
 * Block until an event arrives or until flotilla_clock_monotonic() reaches
 * deadline, whichever comes first. Returns true if an event (network frame,
 * link change) may be pending, false when woken by the deadline only.
 * A deadline in the past returns at once.
 */
bool flotilla_yield(uint64_t deadline);

/*
 * Exit. status 0 powers the domain off cleanly; any other status is
 * reported to the control domain as a crash. Never returns.
 */
void flotilla_exit(int status) __attribute__((noreturn));

/*
 * The device tree this domain was started with (Xen/ARM32), or NULL on
 * unix. Read-only.
 */
const void *flotilla_devicetree(void);

#endif
