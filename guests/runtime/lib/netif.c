/*
 * netif.c - the glue between the runtime's network interfaces and clock
 * (flotilla.h) and the portable TCP/IP stack (net/net.h). See
 * include/flotilla_net.h. net/ itself never sees a platform header: all it
 * gets is the struct net_port built here.
 */
#include "flotilla_net.h"
#include "flotilla_status_page.h"
#include "lease.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <sys/random.h>
#endif

#define NS_PER_MS   1000000ull
#define POLL_FRAMES 64 /* frames per flotilla_netif_poll() before giving others a turn */

struct flotilla_netif {
	unsigned index;
	bool attached; /* a caller's port (flotilla_netif_attach), not a runtime interface */
	char name[8];
	char arg_suffix[4];
	int (*attached_transmit)(void *ctx, const uint8_t *frame, size_t len);
	void *attached_ctx;
	bool up;
	struct net_stack *stack;
	struct net_port port;
	uint8_t frame[FLOTILLA_NET_FRAME_MAX];
};

static int netif_transmit(void *ctx, const uint8_t *frame, size_t len)
{
	struct flotilla_netif *nif = ctx;
	if (nif->attached)
		return nif->attached_transmit(nif->attached_ctx, frame, len);
	/* A full transmit queue drops the frame: the stack recovers as from loss. */
	return flotilla_net_write(nif->index, frame, len) == FLOTILLA_OK ? 0 : -1;
}

static uint64_t netif_now_ms(void *ctx)
{
	(void)ctx;
	return flotilla_clock_monotonic() / NS_PER_MS;
}

/* ------------------------------------------------------------ entropy */

static uint64_t mix64(uint64_t z)
{
	/* splitmix64's finaliser: every input bit reaches every output bit. */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void flotilla_netif_entropy(uint8_t *buf, size_t len, const uint8_t mac[6])
{
#ifdef __linux__
	if (getrandom(buf, len, 0) == (ssize_t)len)
		return;
#endif
	/*
	 * No RNG: time short waits in the hypervisor with the generic timer
	 * counter. The low bits of each duration depend on timer interrupt
	 * phase, cache and scheduling noise (and, under emulation, on the host).
	 * This is weaker than a hardware RNG; it keeps ISNs and cookies from
	 * being predictable from the boot sequence alone.
	 */
	uint64_t a = flotilla_clock_wall(), b = 0x6a09e667f3bcc908ull;
	for (int i = 0; i < 6; i++)
		b = (b << 8) | mac[i];
	for (int i = 0; i < 256; i++) {
		uint64_t t0 = flotilla_clock_monotonic();
		flotilla_yield(t0 + 1000 + (a & 0xfff));
		uint64_t t1 = flotilla_clock_monotonic();
		a = mix64(a ^ (t1 - t0) ^ ((uint64_t)i << 56));
		b = mix64(b + a + t1);
	}
	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0) {
			a = mix64(a + 0x9e3779b97f4a7c15ull);
			b = mix64(b ^ a);
		}
		buf[i] = (uint8_t)(b >> (8 * (i % 8)));
	}
}

/* ------------------------------------------------------------ boot arguments */

/* The value of "key=" as a whole word of bootargs, copied into out. */
static bool arg_value(const char *bootargs, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	for (const char *p = bootargs; p && *p;) {
		while (*p == ' ')
			p++;
		const char *end = strchr(p, ' ');
		size_t wlen = end ? (size_t)(end - p) : strlen(p);
		if (wlen > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t vlen = wlen - klen - 1;
			if (vlen >= size)
				vlen = size - 1;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

static bool parse_ipv4(const char *text, uint32_t *addr, const char **rest)
{
	uint32_t value = 0;
	const char *p = text;
	for (int i = 0; i < 4; i++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned part = 0;
		for (int digits = 0; *p >= '0' && *p <= '9'; p++, digits++) {
			part = part * 10 + (unsigned)(*p - '0');
			if (digits == 3 || part > 255)
				return false;
		}
		value = (value << 8) | part;
		if (i < 3 && *p++ != '.')
			return false;
	}
	*addr = value;
	if (rest)
		*rest = p;
	else if (*p != '\0')
		return false;
	return true;
}

static int prefix_length(uint32_t netmask)
{
	int n = 0;
	while (n < 32 && (netmask & (0x80000000u >> n)))
		n++;
	return n;
}

static void format_ipv4(char *out, size_t size, uint32_t a)
{
	snprintf(out, size, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16) & 255,
		 (unsigned)(a >> 8) & 255, (unsigned)a & 255);
}

static void print_address(const struct flotilla_netif *nif, uint32_t addr, uint32_t netmask,
			  uint32_t gateway, const char *how)
{
	char a[16], g[16];
	format_ipv4(a, sizeof(a), addr);
	format_ipv4(g, sizeof(g), gateway);
	if (gateway)
		printf("net: %s %s/%d %s (gw %s)\n", nif->name, a, prefix_length(netmask), how, g);
	else
		printf("net: %s %s/%d %s (no gateway)\n", nif->name, a, prefix_length(netmask),
		       how);
}

/* Tell the control domain (the status page) what address the interface has. */
static void report(const struct flotilla_netif *nif, uint32_t flags, uint32_t addr,
		   uint32_t netmask, uint32_t gateway)
{
	if (!nif->attached)
		runtime_report_address(nif->index, flags, addr, netmask, gateway);
}

static void netif_dhcp_event(void *arg, enum dhcp_event event, const struct dhcp_lease *lease)
{
	struct flotilla_netif *nif = arg;
	const uint32_t dhcp = FLOTILLA_STATUS_NIC_CONFIGURED | FLOTILLA_STATUS_NIC_DHCP;
	switch (event) {
	case DHCP_EVENT_BOUND:
		nif->up = true;
		print_address(nif, lease->addr, lease->netmask, lease->gateway, "via DHCP");
		report(nif, dhcp, lease->addr, lease->netmask, lease->gateway);
		break;
	case DHCP_EVENT_RENEWED:
		report(nif, dhcp, lease->addr, lease->netmask, lease->gateway);
		break;
	case DHCP_EVENT_LOST:
		nif->up = false;
		printf("net: %s lost its DHCP lease\n", nif->name);
		report(nif, 0, 0, 0, 0);
		break;
	}
}

/* ip=dhcp with flotilla.lease= for this interface: start with the previous
 * instance's address and confirm it (INIT-REBOOT). 1 started, 0 no lease
 * given, -1 error. */
static int start_with_lease(struct flotilla_netif *nif, const char *bootargs)
{
	struct flotilla_lease held;
	char why[96];
	const char *label = nif->attached ? NULL : runtime_net_label(nif->index);
	int found = lease_find(bootargs, nif->index, label, &held, why, sizeof(why));
	if (found < 0)
		printf("net: %s: %s; ignored\n", nif->name, why);
	if (found <= 0)
		return 0;
	struct dhcp_lease lease = {
	    .addr = held.addr, .netmask = held.netmask, .gateway = held.gateway};
	int r = dhcp_start_reboot(nif->stack, &lease, netif_dhcp_event, nif);
	if (r != NET_OK) {
		printf("net: %s: cannot start DHCP: %s\n", nif->name, net_result_text(r));
		return -1;
	}
	nif->up = true;
	print_address(nif, held.addr, held.netmask, held.gateway,
		      "from the previous instance, confirming by DHCP");
	report(nif,
	       FLOTILLA_STATUS_NIC_CONFIGURED | FLOTILLA_STATUS_NIC_DHCP |
		   FLOTILLA_STATUS_NIC_TENTATIVE,
	       held.addr, held.netmask, held.gateway);
	return 1;
}

/* ------------------------------------------------------------ API */

static int configure(struct flotilla_netif *nif, const char *bootargs)
{
	char key[8], value[40];
	const char *suffix = nif->arg_suffix; /* "ip", "ip1", ... */
	snprintf(key, sizeof(key), "ip%s", suffix);
	if (!arg_value(bootargs, key, value, sizeof(value)) || strcmp(value, "dhcp") == 0) {
		int held = start_with_lease(nif, bootargs);
		if (held != 0)
			return held > 0 ? 0 : -1;
		int r = dhcp_start(nif->stack, netif_dhcp_event, nif);
		if (r != NET_OK) {
			printf("net: %s: cannot start DHCP: %s\n", nif->name, net_result_text(r));
			return -1;
		}
		printf("net: %s asking for an address by DHCP\n", nif->name);
		return 0;
	}
	uint32_t addr, gateway = 0, dns = 0;
	const char *rest;
	char *end;
	if (!parse_ipv4(value, &addr, &rest) || *rest != '/') {
		printf("net: %s: bad %s=%s (want dhcp or A.B.C.D/N)\n", nif->name, key, value);
		return -1;
	}
	unsigned long prefix = strtoul(rest + 1, &end, 10);
	if (end == rest + 1 || *end != '\0' || prefix < 1 || prefix > 32) {
		printf("net: %s: bad prefix length in %s=%s\n", nif->name, key, value);
		return -1;
	}
	uint32_t netmask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
	snprintf(key, sizeof(key), "gw%s", suffix);
	if (arg_value(bootargs, key, value, sizeof(value)) && !parse_ipv4(value, &gateway, NULL)) {
		printf("net: %s: bad %s=%s\n", nif->name, key, value);
		return -1;
	}
	snprintf(key, sizeof(key), "dns%s", suffix);
	if (arg_value(bootargs, key, value, sizeof(value)) && !parse_ipv4(value, &dns, NULL)) {
		printf("net: %s: bad %s=%s\n", nif->name, key, value);
		return -1;
	}
	net_set_ipv4(nif->stack, addr, netmask, gateway);
	if (dns)
		dns_set_server(nif->stack, dns);
	nif->up = true;
	print_address(nif, addr, netmask, gateway, "static");
	report(nif, FLOTILLA_STATUS_NIC_CONFIGURED, addr, netmask, gateway);
	return 0;
}

/* Allocate, key and configure a stack for nif (name, suffix, mac set). */
static struct flotilla_netif *netif_start(struct flotilla_netif *nif, const char *bootargs)
{
	size_t size = net_stack_size();
	void *mem = malloc(size); /* malloc aligns for any type, so 8 bytes */
	if (!mem) {
		printf("net: %s: no memory for the stack (%zu bytes)\n", nif->name, size);
		free(nif);
		return NULL;
	}
	nif->port.transmit = netif_transmit;
	nif->port.now_ms = netif_now_ms;
	nif->port.ctx = nif;
	flotilla_netif_entropy(nif->port.secret, sizeof(nif->port.secret), nif->port.mac);
	nif->stack = net_stack_init(mem, size, &nif->port);
	if (!nif->stack || configure(nif, bootargs ? bootargs : "") != 0) {
		free(mem);
		free(nif);
		return NULL;
	}
	return nif;
}

struct flotilla_netif *flotilla_netif_open(unsigned interface, const char *bootargs)
{
	struct flotilla_net_info info;
	if (flotilla_net_info(interface, &info) != FLOTILLA_OK) {
		printf("net: no network interface %u (this domain has %u)\n", interface,
		       flotilla_net_count());
		return NULL;
	}
	struct flotilla_netif *nif = calloc(1, sizeof(*nif));
	if (!nif) {
		printf("net: eth%u: out of memory\n", interface);
		return NULL;
	}
	nif->index = interface;
	snprintf(nif->name, sizeof(nif->name), "eth%u", interface % 1000);
	if (interface)
		snprintf(nif->arg_suffix, sizeof(nif->arg_suffix), "%u", interface % 1000);
	memcpy(nif->port.mac, info.mac, 6);
	return netif_start(nif, bootargs);
}

struct flotilla_netif *flotilla_netif_attach(const struct flotilla_netif_port *port,
					     const char *bootargs)
{
	if (!port->transmit || !port->name ||
	    strlen(port->name) >= sizeof(((struct flotilla_netif *)0)->name) ||
	    (port->arg_suffix && strlen(port->arg_suffix) >= 4)) {
		printf("net: flotilla_netif_attach: bad port description\n");
		return NULL;
	}
	struct flotilla_netif *nif = calloc(1, sizeof(*nif));
	if (!nif) {
		printf("net: %s: out of memory\n", port->name);
		return NULL;
	}
	nif->attached = true;
	nif->attached_transmit = port->transmit;
	nif->attached_ctx = port->ctx;
	strcpy(nif->name, port->name);
	if (port->arg_suffix)
		strcpy(nif->arg_suffix, port->arg_suffix);
	memcpy(nif->port.mac, port->mac, 6);
	return netif_start(nif, bootargs);
}

void flotilla_netif_input(struct flotilla_netif *nif, const uint8_t *frame, size_t len)
{
	net_input(nif->stack, frame, len);
}

void flotilla_netif_close(struct flotilla_netif *nif)
{
	if (!nif)
		return;
	dhcp_stop(nif->stack); /* sends DHCPRELEASE when a lease is held */
	free(nif->stack);
	free(nif);
}

struct net_stack *flotilla_netif_stack(struct flotilla_netif *nif)
{
	return nif->stack;
}

const char *flotilla_netif_name(const struct flotilla_netif *nif)
{
	return nif->name;
}

bool flotilla_netif_up(const struct flotilla_netif *nif)
{
	return nif->up;
}

uint64_t flotilla_netif_poll(struct flotilla_netif *nif)
{
	int frames = 0;
	size_t len;
	/* Input is read only while the transmit queue has room for what it may
	 * make us send: under a flood, frames wait in our receive ring (and the
	 * control domain holds the NIC, docs/networking.md) instead of being
	 * answered into a full queue and lost there - a lost SYN-ACK costs a
	 * legitimate client a 1 s retransmission. A full queue wakes us when
	 * the control domain has drained half of it. */
	while (!nif->attached && frames < POLL_FRAMES && flotilla_net_writable(nif->index) &&
	       flotilla_net_read(nif->index, nif->frame, sizeof(nif->frame), &len) == FLOTILLA_OK) {
		net_input(nif->stack, nif->frame, len);
		frames++;
	}
	net_poll(nif->stack);
	uint64_t now = flotilla_clock_monotonic();
	if (frames == POLL_FRAMES)
		return now; /* more may be waiting: come back at once */
	int64_t ms = net_next_timeout_ms(nif->stack);
	if (ms < 0)
		return UINT64_MAX;
	return now + (uint64_t)ms * NS_PER_MS;
}

void flotilla_netif_wait(struct flotilla_netif *nif, uint64_t deadline)
{
	uint64_t next = flotilla_netif_poll(nif);
	if (deadline < next)
		next = deadline;
	if (next > flotilla_clock_monotonic())
		flotilla_yield(next);
}
