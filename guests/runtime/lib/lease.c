/*
 * flotilla.lease= boot arguments (lease.h).
 */
#include "lease.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KEY "flotilla.lease="

/* A.B.C.D, each part 0..255 without more than 3 digits; *end after it. */
static bool parse_ipv4(const char *p, const char *limit, uint32_t *addr, const char **end)
{
	uint32_t value = 0;
	for (int i = 0; i < 4; i++) {
		unsigned part = 0;
		int digits = 0;
		for (; p < limit && *p >= '0' && *p <= '9'; p++) {
			part = part * 10 + (unsigned)(*p - '0');
			if (++digits > 3 || part > 255)
				return false;
		}
		if (digits == 0)
			return false;
		value = (value << 8) | part;
		if (i < 3) {
			if (p >= limit || *p != '.')
				return false;
			p++;
		}
	}
	*addr = value;
	*end = p;
	return true;
}

/* Does the NIC part name this interface? */
static bool names(const char *nic, size_t len, unsigned index, const char *label)
{
	char number[16];
	snprintf(number, sizeof(number), "%u", index);
	if (len == strlen(number) && memcmp(nic, number, len) == 0)
		return true;
	if (len == 3 + strlen(number) && memcmp(nic, "eth", 3) == 0 &&
	    memcmp(nic + 3, number, len - 3) == 0)
		return true;
	return label && label[0] && len == strlen(label) && memcmp(nic, label, len) == 0;
}

static int parse_value(const char *p, const char *end, struct flotilla_lease *out)
{
	uint32_t addr, gateway = 0;
	if (!parse_ipv4(p, end, &addr, &p) || p >= end || *p != '/')
		return -1;
	p++;
	unsigned prefix = 0;
	int digits = 0;
	for (; p < end && *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
		prefix = prefix * 10 + (unsigned)(*p - '0');
	if (digits == 0 || prefix < 1 || prefix > 32)
		return -1;
	if (p < end) {
		if (*p != ',' || !parse_ipv4(p + 1, end, &gateway, &p) || p != end)
			return -1;
	}
	if (addr == 0 || addr == 0xffffffffu || (addr >> 28) >= 0xe)
		return -1;
	out->addr = addr;
	out->netmask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
	out->gateway = gateway;
	return 0;
}

int lease_find(const char *bootargs, unsigned index, const char *label, struct flotilla_lease *out,
	       char *why, size_t why_size)
{
	const size_t klen = strlen(KEY);
	for (const char *p = bootargs; p && *p;) {
		while (*p == ' ')
			p++;
		const char *end = strchr(p, ' ');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > klen && strncmp(p, KEY, klen) == 0) {
			const char *nic = p + klen;
			const char *colon = memchr(nic, ':', (size_t)(end - nic));
			if (colon && names(nic, (size_t)(colon - nic), index, label)) {
				if (parse_value(colon + 1, end, out) == 0)
					return 1;
				snprintf(why, why_size,
					 "bad %.*s (want " KEY "NIC:A.B.C.D/N[,GATEWAY])",
					 (int)(end - p > 60 ? 60 : end - p), p);
				return -1;
			}
		}
		p = end;
	}
	return 0;
}
