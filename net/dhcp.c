/* dhcp.c — DHCP client (RFC 2131, options RFC 2132). */
#include "dhcp.h"

#include <string.h>

#include "stack.h"
#include "udp.h"
#include "wire.h"

#define DHCP_SERVER_PORT        67
#define DHCP_CLIENT_PORT        68
#define DHCP_MAGIC              0x63825363u
#define DHCP_FIXED_LEN          236
#define DHCP_MSG_LEN            300 /* BOOTP minimum */
#define DHCP_MAX_BACKOFF_MS     64000
#define DHCP_MIN_RENEW_RETRY_MS 60000
#define DHCP_RELEASE_MS         2000

enum { DHCPDISCOVER = 1, DHCPOFFER, DHCPREQUEST, DHCPDECLINE, DHCPACK, DHCPNAK, DHCPRELEASE };

static void dhcp_send(struct net_stack *s, uint8_t type)
{
	struct dhcp_state *d = &s->dhcp;
	uint8_t m[DHCP_MSG_LEN];
	memset(m, 0, sizeof(m));
	m[0] = 1; /* BOOTREQUEST */
	m[1] = 1;
	m[2] = 6;
	net_put32(m + 4, d->xid);
	uint64_t secs = (s->now - d->start_ms) / 1000;
	net_put16(m + 8, (uint16_t)(secs > 0xffff ? 0xffff : secs));
	int renewing =
	    d->state == DHCP_RENEWING || d->state == DHCP_REBINDING || type == DHCPRELEASE;
	if (renewing)
		net_put32(m + 12, d->lease.addr); /* ciaddr */
	else
		net_put16(m + 10,
			  0x8000); /* broadcast: we cannot take unicast before we have an address */
	memcpy(m + 28, s->port.mac, 6);
	net_put32(m + DHCP_FIXED_LEN, DHCP_MAGIC);
	uint8_t *o = m + DHCP_FIXED_LEN + 4;
	*o++ = 53;
	*o++ = 1;
	*o++ = type;
	*o++ = 61; /* client identifier: hardware type + MAC */
	*o++ = 7;
	*o++ = 1;
	memcpy(o, s->port.mac, 6);
	o += 6;
	if (type == DHCPRELEASE) {
		*o++ = 54;
		*o++ = 4;
		net_put32(o, d->lease.server);
		o += 4;
	}
	if (type == DHCPREQUEST && d->state == DHCP_REQUESTING) {
		*o++ = 50;
		*o++ = 4;
		net_put32(o, d->offer.addr);
		o += 4;
		*o++ = 54;
		*o++ = 4;
		net_put32(o, d->offer.server);
		o += 4;
	} else if (type == DHCPREQUEST && d->state == DHCP_REBOOTING) {
		/* INIT-REBOOT: the address wanted, no server id, ciaddr 0 (§4.3.2). */
		*o++ = 50;
		*o++ = 4;
		net_put32(o, d->lease.addr);
		o += 4;
	}
	static const uint8_t params[] = {55, 5, 1, 3, 6, 51, 58};
	memcpy(o, params, sizeof(params));
	o += sizeof(params);
	*o++ = 255;
	net_count(s, NET_CNT_DHCP_TX);
	uint32_t dst =
	    d->state == DHCP_RENEWING || type == DHCPRELEASE ? d->lease.server : 0xffffffffu;
	udp_sendto(d->sock, dst, DHCP_SERVER_PORT, m, sizeof(m));
}

static uint64_t dhcp_backoff(struct net_stack *s)
{
	/* RFC 2131 §4.1: 4 s doubling to 64 s, randomised by ±1 s. */
	struct dhcp_state *d = &s->dhcp;
	uint64_t delay = (uint64_t)CONFIG_NET_DHCP_RETRY_MS << (d->tries < 5 ? d->tries : 5);
	if (delay > DHCP_MAX_BACKOFF_MS)
		delay = DHCP_MAX_BACKOFF_MS;
	int64_t jitter = (int64_t)(net_random32(s) % 2001) - 1000;
	if ((int64_t)delay + jitter > 100)
		delay = (uint64_t)((int64_t)delay + jitter);
	d->tries++;
	return s->now + delay;
}

static void dhcp_discover(struct net_stack *s)
{
	struct dhcp_state *d = &s->dhcp;
	d->state = DHCP_SELECTING;
	d->xid = net_random32(s);
	d->tries = 0;
	d->start_ms = s->now;
	dhcp_send(s, DHCPDISCOVER);
	d->retry_at = dhcp_backoff(s);
}

struct dhcp_options {
	uint8_t type;
	uint32_t netmask, router, dns, server, lease, t1, t2;
};

static int dhcp_parse_options(const uint8_t *p, size_t len, struct dhcp_options *o)
{
	memset(o, 0, sizeof(*o));
	size_t i = 0;
	while (i < len) {
		uint8_t code = p[i++];
		if (code == 0)
			continue;
		if (code == 255)
			return 0;
		if (i >= len || i + 1 + p[i] > len)
			return -1;
		uint8_t olen = p[i++];
		const uint8_t *v = p + i;
		i += olen;
		if (code == 53 && olen == 1)
			o->type = v[0];
		else if (olen >= 4 && (code == 1 || code == 3 || code == 6 || code == 54 ||
				       code == 51 || code == 58 || code == 59)) {
			uint32_t x = net_get32(v);
			if (code == 1)
				o->netmask = x;
			else if (code == 3)
				o->router = x;
			else if (code == 6)
				o->dns = x;
			else if (code == 54)
				o->server = x;
			else if (code == 51)
				o->lease = x;
			else if (code == 58)
				o->t1 = x;
			else
				o->t2 = x;
		}
	}
	return 0; /* no end option: accept what was read */
}

static void dhcp_bind(struct net_stack *s, uint32_t yiaddr, const struct dhcp_options *o)
{
	struct dhcp_state *d = &s->dhcp;
	int renewed = d->state == DHCP_RENEWING || d->state == DHCP_REBINDING;
	struct dhcp_lease *l = &d->lease;
	l->addr = yiaddr;
	l->netmask = o->netmask ? o->netmask : 0xffffff00u;
	l->gateway = o->router;
	l->dns = o->dns;
	l->server = o->server ? o->server : d->offer.server;
	l->lease_s = o->lease ? o->lease : 3600;
	if (l->lease_s < 10)
		l->lease_s = 10;
	l->t1_s = o->t1 && o->t1 < l->lease_s ? o->t1 : l->lease_s / 2;
	l->t2_s = o->t2 && o->t2 < l->lease_s && o->t2 > l->t1_s ? o->t2 : l->lease_s / 8 * 7;
	/* Times count from when the request went out (RFC 2131 §4.4.1). */
	uint64_t base = d->start_ms;
	d->t1_at = base + (uint64_t)l->t1_s * 1000;
	d->t2_at = base + (uint64_t)l->t2_s * 1000;
	d->expire_at = base + (uint64_t)l->lease_s * 1000;
	d->retry_at = 0;
	d->state = DHCP_BOUND;
	net_set_ipv4(s, l->addr, l->netmask, l->gateway);
	if (l->dns != 0)
		dns_set_server(s, l->dns);
	net_count(s, NET_CNT_DHCP_BOUND);
	if (d->fn != NULL)
		d->fn(d->arg, renewed ? DHCP_EVENT_RENEWED : DHCP_EVENT_BOUND, l);
}

static void dhcp_lost(struct net_stack *s)
{
	struct dhcp_state *d = &s->dhcp;
	net_set_ipv4(s, 0, 0, 0);
	dhcp_discover(s);
	if (d->fn != NULL)
		d->fn(d->arg, DHCP_EVENT_LOST, &d->lease);
}

static void dhcp_recv(void *arg, struct udp_socket *sock, uint32_t src, uint16_t sport,
		      const uint8_t *m, size_t len)
{
	struct net_stack *s = arg;
	struct dhcp_state *d = &s->dhcp;
	(void)sock;
	(void)src;
	net_count(s, NET_CNT_DHCP_RX);
	if (sport != DHCP_SERVER_PORT || len < DHCP_FIXED_LEN + 4 || m[0] != 2 || m[1] != 1 ||
	    m[2] != 6 || net_get32(m + 4) != d->xid || memcmp(m + 28, s->port.mac, 6) != 0 ||
	    net_get32(m + DHCP_FIXED_LEN) != DHCP_MAGIC) {
		net_count(s, NET_CNT_DHCP_DROP_MALFORMED);
		return;
	}
	struct dhcp_options o;
	if (dhcp_parse_options(m + DHCP_FIXED_LEN + 4, len - DHCP_FIXED_LEN - 4, &o) != 0) {
		net_count(s, NET_CNT_DHCP_DROP_MALFORMED);
		return;
	}
	uint32_t yiaddr = net_get32(m + 16);
	int bad_addr =
	    yiaddr == 0 || yiaddr == 0xffffffffu || (yiaddr >> 24) == 127 || (yiaddr >> 28) >= 0xe;
	switch (o.type) {
	case DHCPOFFER:
		if (d->state != DHCP_SELECTING || bad_addr || o.server == 0)
			return;
		d->offer.addr = yiaddr;
		d->offer.server = o.server;
		d->state = DHCP_REQUESTING;
		d->tries = 0;
		dhcp_send(s, DHCPREQUEST);
		d->retry_at = dhcp_backoff(s);
		break;
	case DHCPACK:
		if (bad_addr || (d->state != DHCP_REQUESTING && d->state != DHCP_RENEWING &&
				 d->state != DHCP_REBINDING && d->state != DHCP_REBOOTING))
			return;
		if (d->state == DHCP_REQUESTING && o.server != 0 && o.server != d->offer.server)
			return;
		dhcp_bind(s, yiaddr, &o);
		break;
	case DHCPNAK:
		if (d->state == DHCP_REBOOTING) {
			/* The address is not ours on this network (any server may say so). */
			dhcp_lost(s);
			break;
		}
		if (o.server != 0 &&
		    o.server != (d->state == DHCP_REQUESTING ? d->offer.server : d->lease.server))
			return;
		if (d->state == DHCP_REQUESTING) {
			/* Start over after a pause: a server that refuses every
			 * request must not make us spin (RFC 2131 §3.1 step 5). */
			d->state = DHCP_SELECTING;
			d->xid = net_random32(s);
			d->tries = 0;
			d->start_ms = s->now;
			d->retry_at = dhcp_backoff(s);
		} else if (d->state == DHCP_RENEWING || d->state == DHCP_REBINDING) {
			dhcp_lost(s);
		}
		break;
	default: break;
	}
}

int dhcp_start(struct net_stack *s, dhcp_event_fn *fn, void *arg)
{
	struct dhcp_state *d = &s->dhcp;
	if (d->state != DHCP_OFF)
		return NET_EINUSE;
	d->sock = udp_open(s, DHCP_CLIENT_PORT, dhcp_recv, s);
	if (d->sock == NULL)
		return NET_ENOMEM;
	d->fn = fn;
	d->arg = arg;
	dhcp_discover(s);
	return NET_OK;
}

int dhcp_start_reboot(struct net_stack *s, const struct dhcp_lease *held, dhcp_event_fn *fn,
		      void *arg)
{
	struct dhcp_state *d = &s->dhcp;
	if (d->state != DHCP_OFF)
		return NET_EINUSE;
	if (held == NULL || held->addr == 0 || held->addr == 0xffffffffu)
		return NET_EINVAL;
	d->sock = udp_open(s, DHCP_CLIENT_PORT, dhcp_recv, s);
	if (d->sock == NULL)
		return NET_ENOMEM;
	d->fn = fn;
	d->arg = arg;
	memset(&d->lease, 0, sizeof(d->lease));
	d->lease.addr = held->addr;
	d->lease.netmask = held->netmask ? held->netmask : 0xffffff00u;
	d->lease.gateway = held->gateway;
	d->lease.dns = held->dns;
	net_set_ipv4(s, d->lease.addr, d->lease.netmask, d->lease.gateway);
	if (held->dns != 0)
		dns_set_server(s, held->dns);
	d->state = DHCP_REBOOTING;
	d->xid = net_random32(s);
	d->tries = 0;
	d->start_ms = s->now;
	d->retry_at = s->now; /* the first request goes out at the next poll */
	return NET_OK;
}

void dhcp_stop(struct net_stack *s)
{
	struct dhcp_state *d = &s->dhcp;
	if (d->state == DHCP_OFF || d->state == DHCP_RELEASING)
		return;
	if (d->state == DHCP_REBOOTING)
		net_set_ipv4(s, 0, 0, 0); /* never confirmed: nothing to release */
	if (d->state == DHCP_BOUND || d->state == DHCP_RENEWING || d->state == DHCP_REBINDING) {
		/* RFC 2131 §4.4.6: give the address back. It stays ours for a
		 * moment, so that the release can still resolve the server's MAC. */
		dhcp_send(s, DHCPRELEASE);
		d->state = DHCP_RELEASING;
		d->retry_at = s->now + DHCP_RELEASE_MS;
		d->t1_at = d->t2_at = d->expire_at = 0;
		return;
	}
	udp_close(d->sock);
	d->sock = NULL;
	d->state = DHCP_OFF;
	d->retry_at = d->t1_at = d->t2_at = d->expire_at = 0;
}

void dhcp_poll(struct net_stack *s)
{
	struct dhcp_state *d = &s->dhcp;
	uint64_t now = s->now;
	if (d->state == DHCP_OFF)
		return;
	if (d->state == DHCP_RELEASING) {
		if (d->retry_at <= now) {
			net_set_ipv4(s, 0, 0, 0);
			udp_close(d->sock);
			d->sock = NULL;
			d->state = DHCP_OFF;
			d->retry_at = 0;
		}
		return;
	}
	if ((d->state == DHCP_BOUND || d->state == DHCP_RENEWING || d->state == DHCP_REBINDING) &&
	    d->expire_at <= now) {
		net_count(s, NET_CNT_DHCP_LEASE_EXPIRED);
		dhcp_lost(s);
		return;
	}
	if (d->state == DHCP_BOUND && d->t1_at <= now) {
		d->state = DHCP_RENEWING;
		d->xid = net_random32(s);
		d->start_ms = now;
		d->retry_at = now; /* send below */
	}
	if (d->state == DHCP_RENEWING && d->t2_at <= now) {
		d->state = DHCP_REBINDING;
		d->xid = net_random32(s);
		d->retry_at = now;
	}
	if (d->retry_at == 0 || d->retry_at > now)
		return;
	switch (d->state) {
	case DHCP_SELECTING:
		if (d->tries >= 6) {
			dhcp_discover(s); /* new transaction */
			return;
		}
		dhcp_send(s, DHCPDISCOVER);
		d->retry_at = dhcp_backoff(s);
		break;
	case DHCP_REQUESTING:
		if (d->tries >= 4) {
			dhcp_discover(s);
			return;
		}
		dhcp_send(s, DHCPREQUEST);
		d->retry_at = dhcp_backoff(s);
		break;
	case DHCP_REBOOTING:
		/* Every few seconds, for as long as it takes: a guest started
		 * beside its previous instance is cut off from the LAN until the
		 * switch-over, and must keep serving under the address meanwhile. */
		dhcp_send(s, DHCPREQUEST);
		d->retry_at = s->now + CONFIG_NET_DHCP_RETRY_MS;
		break;
	case DHCP_RENEWING:
	case DHCP_REBINDING: {
		dhcp_send(s, DHCPREQUEST);
		/* RFC 2131 §4.4.5: half the time left, at least 60 s. */
		uint64_t until = d->state == DHCP_RENEWING ? d->t2_at : d->expire_at;
		uint64_t wait = (until - now) / 2;
		if (wait < DHCP_MIN_RENEW_RETRY_MS)
			wait = DHCP_MIN_RENEW_RETRY_MS;
		d->retry_at = now + wait;
		break;
	}
	default: break;
	}
}

uint64_t dhcp_next_deadline(const struct net_stack *s)
{
	const struct dhcp_state *d = &s->dhcp;
	switch (d->state) {
	case DHCP_SELECTING:
	case DHCP_REQUESTING:
	case DHCP_REBOOTING:
	case DHCP_RELEASING: return d->retry_at;
	case DHCP_BOUND: return net_earliest(d->t1_at, d->expire_at);
	case DHCP_RENEWING: return net_earliest(net_earliest(d->retry_at, d->t2_at), d->expire_at);
	case DHCP_REBINDING: return net_earliest(d->retry_at, d->expire_at);
	default: return 0;
	}
}
