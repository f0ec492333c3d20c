/*
 * The control domain's own network stack: one net/ instance on a frame
 * interface - today the physical NIC directly, later the control domain's
 * port on the switch. It takes an address by DHCP, answers ping (net/'s
 * ICMP echo) and serves a minimal HTTP endpoint and a discard port for
 * tests and benchmarks until the device API takes over.
 */
#ifndef CONTROL_CTLNET_H
#define CONTROL_CTLNET_H

#include <stdbool.h>
#include <stdint.h>

/* ctlnet.c */
/* Find and start the NIC, start the stack and DHCP. 0, or -1 (no network:
 * said on the console; the control domain runs on without it). */
int ctlnet_start(const void *dtb);
/* Do what is due (frames, timers, link); returns the next deadline
 * (flotilla_clock_monotonic() ns; UINT64_MAX when only an event can wake). */
uint64_t ctlnet_poll(void);
/* The stack (NULL without a network) and its IPv4 address (net/'s host
 * order; 0 before DHCP): what the health probes (probe.c) go out from. */
struct net_stack *ctlnet_stack(void);
uint32_t ctlnet_ipv4(void);
/* Address, link and NIC counters, for the status key. */
void ctlnet_print_status(void);
/* For the health model: the NIC (NULL: no network) and its link now. */
struct nic *ctlnet_nic(void);
bool ctlnet_link_up(unsigned *mbps);

#endif
