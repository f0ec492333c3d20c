/*
 * flotilla_net.h - optional helper that runs Flotilla's TCP/IP stack (net/)
 * on one of the runtime's network interfaces. flotilla.h stays the core
 * interface; a guest that asks for the network stack in its guest.mk
 * (the third argument of flotilla_guest, "net") gets this helper and
 * net/'s API (net.h) linked in.
 *
 * The helper owns the stack's memory, gives it a random secret, configures
 * the address from the boot arguments or by DHCP, prints the address the
 * domain got, and moves frames and timers between the runtime and the
 * stack. Single-threaded like everything else in a guest.
 *
 * Boot arguments (interface 0 reads ip=, gw=, dns=; interface N>0 reads
 * ipN=, gwN=, dnsN=):
 *   ip=dhcp                      DHCP (also the default when ip= is absent)
 *   ip=10.0.2.16/24 gw=10.0.2.2  static address, prefix length, gateway
 *   dns=10.0.2.3                 DNS server for a static configuration
 *   flotilla.lease=lan:10.0.2.15/24,10.0.2.2
 *                                with DHCP: start with the address a previous
 *                                instance held and confirm it (INIT-REBOOT);
 *                                the control domain adds it for a hot swap
 *                                (docs/status-page.md)
 * Each address the interface gets is reported to the control domain on the
 * guest's status page.
 * The console then says, for example:
 *   net: eth0 10.0.2.15/24 via DHCP (gw 10.0.2.2)
 */
#ifndef FLOTILLA_NET_H
#define FLOTILLA_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "flotilla.h"
#include "net.h"

struct flotilla_netif;

/*
 * Start the stack on runtime interface `interface` with the settings from
 * `bootargs`. NULL (and a one-line message on the console) when there is
 * no such interface, the boot arguments are malformed or memory is short.
 */
struct flotilla_netif *flotilla_netif_open(unsigned interface, const char *bootargs);

/*
 * The same for a port that is not one of the runtime's interfaces, such as
 * the control domain's own port on its switch: the caller transmits (the
 * frame is valid only during the call) and hands received frames to
 * flotilla_netif_input(); flotilla_netif_poll() then only runs timers.
 * arg_suffix selects the boot arguments: "" reads ip=, gw=, dns=; "1"
 * reads ip1=, gw1=, dns1=.
 */
struct flotilla_netif_port {
	const char *name; /* for the console, at most 7 characters: "eth0", "sw0" */
	uint8_t mac[6];
	int (*transmit)(void *ctx, const uint8_t *frame, size_t len); /* non-zero: dropped */
	void *ctx;
	const char *arg_suffix;
};
struct flotilla_netif *flotilla_netif_attach(const struct flotilla_netif_port *port,
					     const char *bootargs);
/* A frame arrived on an attached port (any content is safe). */
void flotilla_netif_input(struct flotilla_netif *nif, const uint8_t *frame, size_t len);

/* Stop: release a DHCP lease (best effort), free the stack and the helper.
 * Every handle into the stack (connections, sockets) dies with it. */
void flotilla_netif_close(struct flotilla_netif *nif);

/* The stack, for tcp_listen(), udp_open() and the rest of net.h. */
struct net_stack *flotilla_netif_stack(struct flotilla_netif *nif);

/* "eth0", "eth1", ... */
const char *flotilla_netif_name(const struct flotilla_netif *nif);

/* True once an address is configured (static, or a DHCP lease). */
bool flotilla_netif_up(const struct flotilla_netif *nif);

/*
 * Do all pending work: hand every received frame to the stack, run its
 * timers. Returns the flotilla_clock_monotonic() time at which it has work
 * again (UINT64_MAX: none), for flotilla_yield(). Bounded: it returns the
 * current time when frames are still waiting, so one busy interface
 * cannot starve the caller's other work.
 */
uint64_t flotilla_netif_poll(struct flotilla_netif *nif);

/*
 * The event loop for a guest whose work is all callbacks from the stack:
 * poll, then yield until the stack's next deadline or `deadline` (the
 * caller's own timer; UINT64_MAX for none), whichever comes first. Returns
 * after one wait so the caller can run its timers.
 */
void flotilla_netif_wait(struct flotilla_netif *nif, uint64_t deadline);

/*
 * Fill `buf` with secret random bytes as well as the platform allows: the
 * kernel's getrandom() on unix; on Xen (no RNG in the runtime) the jitter
 * of the generic timer counter across hypervisor calls, mixed with the
 * wall clock and the MAC address. Used for the stack secret.
 */
void flotilla_netif_entropy(uint8_t *buf, size_t len, const uint8_t mac[6]);

#endif
