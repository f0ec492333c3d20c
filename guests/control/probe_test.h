/*
 * probe_test.h: a boot-time test hook for the health probe (probe.h).
 *
 * Boot argument `probe_test=NAME[,NAME...]`: once the control domain has an
 * address and guest NAME runs, the control domain probes NAME as its plan
 * entry declares (`probe`) as a health gate does (struct probe_gate, probe.h:
 * again after each failure, within its `ready_timeout_s`), and prints:
 *   control: probe NAME: passed in N ms (attempt K, T ms after it started)
 *   control: probe NAME: failed: REASON (K attempts in T ms)
 * and after a pass, PROBE_TEST_REPEAT more probes back to back:
 *   control: probe NAME: again 5 times: passed in A B C D E ms
 * The address probed is the static `ip=` of NAME's plan boot arguments (the
 * guest's status page will give it for DHCP guests). Tests use it
 * (tests/integration/test_probe_board.py); it changes nothing.
 */
#ifndef FLOTILLA_CONTROL_PROBE_TEST_H
#define FLOTILLA_CONTROL_PROBE_TEST_H

#include <stdint.h>

#include "boot_bundle.h"

#define PROBE_TEST_GUESTS            8
#define PROBE_TEST_REPEAT            5 /* probes more after a pass, for the latency */
#define PROBE_TEST_REPEAT_TIMEOUT_MS 2000

/* probe_test.c */
/* Note the guests named by probe_test= (nothing without it). */
void probe_test_setup(const char *bootargs, const struct boot_entry *entries, int count);
/* Move the probes on (after the stack has run); returns the monotonic ns
 * deadline of the next timed step, UINT64_MAX when none. */
uint64_t probe_test_poll(void);
/* The static address in boot arguments ("ip=10.0.2.16/24 ..."), net/'s
 * host order; 0 when there is none (ip=dhcp, no ip=). */
uint32_t probe_test_static_ipv4(const char *bootargs);

#endif
