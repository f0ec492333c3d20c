/* dhcp.h — DHCP client (RFC 2131): INIT → SELECTING → REQUESTING → BOUND,
 * RENEWING at T1 (unicast), REBINDING at T2 (broadcast), and the lease
 * removed when it expires. INIT-REBOOT (REBOOTING) for an address a
 * previous instance held: used at once, confirmed by DHCPREQUEST. */
#ifndef NET_DHCP_H
#define NET_DHCP_H

#include <stdint.h>

#include "net.h"

enum dhcp_state_id {
	DHCP_OFF,
	DHCP_SELECTING,
	DHCP_REQUESTING,
	DHCP_BOUND,
	DHCP_RENEWING,
	DHCP_REBINDING,
	DHCP_RELEASING,
	DHCP_REBOOTING
};

struct dhcp_state {
	uint8_t state;
	uint8_t tries;
	uint32_t xid;
	struct udp_socket *sock;
	dhcp_event_fn *fn;
	void *arg;
	struct dhcp_lease offer, lease;
	uint64_t retry_at, t1_at, t2_at, expire_at, start_ms;
};

/* dhcp.c */
void dhcp_poll(struct net_stack *s);
uint64_t dhcp_next_deadline(const struct net_stack *s);

#endif
