/* dns.c — stub resolver for A records (RFC 1035). */
#include "dns.h"

#include <string.h>

#include "stack.h"
#include "udp.h"
#include "wire.h"

#define DNS_PORT      53
#define DNS_HLEN      12
#define DNS_MSG_MAX   512
#define DNS_TYPE_A    1
#define DNS_CLASS_IN  1
#define DNS_JUMPS_MAX 16

void dns_set_server(struct net_stack *s, uint32_t server)
{
	s->dns.server = server;
}

/* Encode `name` as labels; returns the length or -1 when it is not a valid host name. */
static int dns_encode_name(const char *name, uint8_t *out, size_t room)
{
	size_t n = strlen(name), o = 0;
	if (n == 0 || n > DNS_NAME_MAX || n + 2 > room)
		return -1;
	const char *label = name;
	for (size_t i = 0; i <= n; i++) {
		if (name[i] == '.' || name[i] == '\0') {
			size_t l = (size_t)(&name[i] - label);
			if (l == 0 && name[i] == '\0' && i == n && i > 0 && name[i - 1] == '.')
				break; /* trailing dot */
			if (l == 0 || l > 63)
				return -1;
			out[o++] = (uint8_t)l;
			memcpy(out + o, label, l);
			o += l;
			label = &name[i + 1];
		}
	}
	out[o++] = 0;
	return (int)o;
}

static void dns_send(struct net_stack *s, struct dns_query *q)
{
	uint8_t m[DNS_HLEN + DNS_NAME_MAX + 2 + 4];
	memset(m, 0, DNS_HLEN);
	net_put16(m, q->id);
	net_put16(m + 2, 0x0100); /* recursion desired */
	net_put16(m + 4, 1);
	int n = dns_encode_name(q->name, m + DNS_HLEN, sizeof(m) - DNS_HLEN - 4);
	if (n < 0)
		return;
	net_put16(m + DNS_HLEN + n, DNS_TYPE_A);
	net_put16(m + DNS_HLEN + n + 2, DNS_CLASS_IN);
	net_count(s, NET_CNT_DNS_TX);
	q->tries++;
	q->deadline = s->now + CONFIG_NET_DNS_TIMEOUT_MS;
	udp_sendto(s->dns.sock, s->dns.server, DNS_PORT, m, (size_t)(DNS_HLEN + n + 4));
}

static void dns_finish(struct net_stack *s, struct dns_query *q, int result, uint32_t addr)
{
	q->in_use = 0;
	net_pool_gave(s, NET_POOL_DNS);
	if (q->fn != NULL)
		q->fn(q->arg, q->name, result, addr);
}

/*
 * Read the (possibly compressed) name at *off into `out` as dotted text,
 * advancing *off past it. Pointer loops are cut by a jump limit.
 */
static int dns_read_name(const uint8_t *m, size_t len, size_t *off, char *out, size_t room)
{
	size_t pos = *off, o = 0;
	int jumped = 0, jumps = 0;
	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t l = m[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++jumps > DNS_JUMPS_MAX)
				return -1;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			pos = (size_t)((l & 0x3f) << 8 | m[pos + 1]);
			continue;
		}
		if (l & 0xc0)
			return -1;
		pos++;
		if (l == 0)
			break;
		if (pos + l > len || o + l + 2 > room)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, m + pos, l);
		o += l;
		pos += l;
	}
	if (!jumped)
		*off = pos;
	out[o] = '\0';
	return 0;
}

static int dns_name_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 0 && a[la - 1] == '.')
		la--;
	if (la != lb)
		return 0;
	for (size_t i = 0; i < la; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

static void dns_recv(void *arg, struct udp_socket *sock, uint32_t src, uint16_t sport,
		     const uint8_t *m, size_t len)
{
	struct net_stack *s = arg;
	(void)sock;
	net_count(s, NET_CNT_DNS_RX);
	if (src != s->dns.server || sport != DNS_PORT || len < DNS_HLEN || !(m[2] & 0x80)) {
		net_count(s, NET_CNT_DNS_DROP_MALFORMED);
		return;
	}
	uint16_t id = net_get16(m);
	struct dns_query *q = NULL;
	for (int i = 0; i < CONFIG_NET_DNS_QUERIES; i++)
		if (s->dns.queries[i].in_use && s->dns.queries[i].id == id)
			q = &s->dns.queries[i];
	if (q == NULL) {
		net_count(s, NET_CNT_DNS_DROP_MALFORMED);
		return;
	}
	uint16_t qd = net_get16(m + 4), an = net_get16(m + 6);
	char name[DNS_NAME_MAX + 2];
	size_t off = DNS_HLEN;
	if (qd != 1 || dns_read_name(m, len, &off, name, sizeof(name)) != 0 || off + 4 > len ||
	    !dns_name_equal(q->name, name) || net_get16(m + off) != DNS_TYPE_A) {
		net_count(s, NET_CNT_DNS_DROP_MALFORMED);
		return; /* not the answer to our question */
	}
	off += 4;
	uint8_t rcode = m[3] & 0x0f;
	if (rcode == 3) {
		dns_finish(s, q, NET_EUNREACH, 0);
		return;
	}
	if (rcode != 0) {
		q->deadline = s->now; /* server failure: retry at once */
		return;
	}
	for (uint16_t i = 0; i < an; i++) {
		if (dns_read_name(m, len, &off, name, sizeof(name)) != 0 || off + 10 > len) {
			net_count(s, NET_CNT_DNS_DROP_MALFORMED);
			return;
		}
		uint16_t type = net_get16(m + off), cls = net_get16(m + off + 2),
			 rdlen = net_get16(m + off + 8);
		off += 10;
		if (off + rdlen > len) {
			net_count(s, NET_CNT_DNS_DROP_MALFORMED);
			return;
		}
		/* The first A record answers (CNAME chains end in the A we want). */
		if (type == DNS_TYPE_A && cls == DNS_CLASS_IN && rdlen == 4) {
			dns_finish(s, q, NET_OK, net_get32(m + off));
			return;
		}
		off += rdlen;
	}
	dns_finish(s, q, NET_EUNREACH, 0);
}

int dns_resolve(struct net_stack *s, const char *name, dns_result_fn *fn, void *arg)
{
	uint8_t scratch[DNS_NAME_MAX + 2];
	if (name == NULL || dns_encode_name(name, scratch, sizeof(scratch)) < 0)
		return NET_EINVAL;
	if (s->dns.server == 0 || s->addr == 0)
		return NET_EUNREACH;
	if (s->dns.sock == NULL) {
		s->dns.sock = udp_open(s, 0, dns_recv, s);
		if (s->dns.sock == NULL)
			return NET_ENOMEM;
	}
	for (int i = 0; i < CONFIG_NET_DNS_QUERIES; i++) {
		struct dns_query *q = &s->dns.queries[i];
		if (q->in_use)
			continue;
		memset(q, 0, sizeof(*q));
		q->in_use = 1;
		q->id = (uint16_t)net_random32(s);
		q->fn = fn;
		q->arg = arg;
		strcpy(q->name, name);
		net_pool_took(s, NET_POOL_DNS);
		dns_send(s, q);
		return NET_OK;
	}
	net_count(s, NET_CNT_DNS_POOL_FULL);
	net_pool_exhausted(s, NET_POOL_DNS);
	return NET_ENOMEM;
}

void dns_poll(struct net_stack *s)
{
	for (int i = 0; i < CONFIG_NET_DNS_QUERIES; i++) {
		struct dns_query *q = &s->dns.queries[i];
		if (!q->in_use || q->deadline > s->now)
			continue;
		if (q->tries >= CONFIG_NET_DNS_RETRIES) {
			net_count(s, NET_CNT_DNS_TIMEOUT);
			dns_finish(s, q, NET_ETIMEDOUT, 0);
		} else {
			dns_send(s, q);
		}
	}
}

uint64_t dns_next_deadline(const struct net_stack *s)
{
	uint64_t d = 0;
	for (int i = 0; i < CONFIG_NET_DNS_QUERIES; i++)
		if (s->dns.queries[i].in_use)
			d = net_earliest(d, s->dns.queries[i].deadline);
	return d;
}
