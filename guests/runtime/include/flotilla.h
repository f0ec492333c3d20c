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
	const char *bootargs; /* from the device tree's /chosen/bootargs, or "" */
	uintptr_t heap_start; /* RAM not used by the image (informational) */
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
 * Network interfaces. Each carries whole Ethernet II frames (destination,
 * source, type, payload; no FCS) of at most FLOTILLA_NET_FRAME_MAX bytes.
 * Interfaces are numbered 0..flotilla_net_count()-1 and never change while
 * the application runs. A frame arrival or a link change wakes
 * flotilla_yield().
 *
 * On Xen, interfaces are the virtual NICs the control domain gives the
 * guest; a domain started without one has none (count 0). On unix, they
 * are configured by the environment: FLOTILLA_NET0, FLOTILLA_NET1, ... each
 * "wire:LOCAL_PATH,PEER_PATH" (a UNIX datagram socket carrying one frame
 * per datagram; no privileges needed, and QEMU's -netdev dgram speaks it)
 * or "tap:IFNAME" (an existing TAP device), optionally followed by
 * ",mac=02:00:00:00:00:01".
 */
#define FLOTILLA_NET_FRAME_MAX 1514

struct flotilla_net_info {
	uint8_t mac[6]; /* this interface's address */
	size_t mtu;     /* largest IP packet: frame payload without the 14-byte header */
	bool link_up;
};

unsigned flotilla_net_count(void);

/* FLOTILLA_EINVAL: no such interface. */
flotilla_result_t flotilla_net_info(unsigned interface, struct flotilla_net_info *info);

/*
 * Send one frame. FLOTILLA_AGAIN: the transmit queue is full, the frame was
 * not taken (retry after flotilla_yield()). FLOTILLA_EINVAL: no such
 * interface, or len is under 14 or over FLOTILLA_NET_FRAME_MAX.
 */
flotilla_result_t flotilla_net_write(unsigned interface, const void *frame, size_t len);

/*
 * True when the transmit queue of `interface` can take a frame now. When it
 * cannot, the runtime asks to be woken when room comes back, so a caller
 * may stop reading input it could not answer and flotilla_yield() until
 * then (false for no such interface).
 */
bool flotilla_net_writable(unsigned interface);

/*
 * Receive one frame into buf (size >= FLOTILLA_NET_FRAME_MAX), its length
 * in *len. FLOTILLA_AGAIN: nothing has arrived. FLOTILLA_EINVAL: no such
 * interface or buf too small. A frame is never split or truncated.
 */
flotilla_result_t flotilla_net_read(unsigned interface, void *buf, size_t size, size_t *len);

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

/*
 * Health reporting to the control domain (Xen: a status page shared with it,
 * described in the device tree; unix: a line on stderr).
 *
 * flotilla_ready(): the application says it is serving. A new version of a
 * guest is confirmed only after it has called this and passed the probe its
 * plan entry declares; call it once the service accepts requests.
 * flotilla_health(): the application's own view of its health, with a
 * short reason (truncated to FLOTILLA_HEALTH_REASON_MAX - 1 bytes).
 * flotilla_draining(): true once a hot swap has replaced this instance by
 * a new version. New connections already go to the new one; this one keeps
 * its connections until they close (or the switch's drain time passes) and
 * is then destroyed. Finish what is in flight and close idle connections,
 * so that their clients move over cleanly instead of being reset later.
 * flotilla_yield() returns when it becomes true. Always false on unix.
 */
enum flotilla_health_status {
	FLOTILLA_HEALTH_OK = 0,
	FLOTILLA_HEALTH_DEGRADED = 1,
	FLOTILLA_HEALTH_FAILED = 2,
};
#define FLOTILLA_HEALTH_REASON_MAX 96
void flotilla_ready(void);
void flotilla_health(enum flotilla_health_status status, const char *reason);
bool flotilla_draining(void);

#endif
