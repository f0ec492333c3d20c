/*
 * Device configuration parser (format in devcfg.h). Portable: built into the
 * control domain and into the host CLI and its tests. Reads only inside
 * [text, text + len); the text need not be NUL-terminated.
 */
#include "devcfg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "manifest.h"

#define DEVCFG_LINE_MAX 200

static int fail(char *error, struct devcfg *cfg, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = line ? snprintf(error, DEVCFG_ERROR_MAX, "line %u: ", line) : 0;
	if (n < 0)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(error + n, DEVCFG_ERROR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	memset(cfg, 0, sizeof(*cfg));
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Copies s without leading and trailing blanks. */
static void trim(char *s)
{
	size_t len = strlen(s), start = 0;
	while (len && is_space(s[len - 1]))
		s[--len] = '\0';
	while (is_space(s[start]))
		start++;
	memmove(s, s + start, len - start + 1);
}

/* A decimal number in [0, max] made of the whole of s. */
static int parse_number(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

int devcfg_parse_ipv4(const char *s, uint8_t ip[4])
{
	char part[4];
	for (int i = 0; i < 4; i++) {
		size_t n = 0;
		while (*s >= '0' && *s <= '9' && n < 3)
			part[n++] = *s++;
		part[n] = '\0';
		unsigned v;
		/* No leading zeros: "010" is octal to some tools, decimal to others. */
		if (n == 0 || (n > 1 && part[0] == '0') || parse_number(part, 255, &v) != 0)
			return -1;
		ip[i] = (uint8_t)v;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

int devcfg_parse_cidr(const char *s, uint8_t ip[4], unsigned *prefix_len)
{
	char addr[16];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return -1;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (devcfg_parse_ipv4(addr, ip) != 0 || parse_number(slash + 1, 32, prefix_len) != 0)
		return -1;
	/* A host needs at least one other address on its link. */
	if (*prefix_len < 1 || *prefix_len > 30)
		return -1;
	return 0;
}

bool devcfg_hostname_valid(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > DEVCFG_HOSTNAME_MAX || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_key(const char *s, uint8_t point[OTA_P256_PUBKEY_SIZE])
{
	if (strlen(s) != 2 * OTA_P256_PUBKEY_SIZE)
		return -1;
	for (size_t i = 0; i < OTA_P256_PUBKEY_SIZE; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		point[i] = (uint8_t)(hi << 4 | lo);
	}
	/* Uncompressed SEC1 point; the verifier checks it is on the curve. */
	return point[0] == 0x04 ? 0 : -1;
}

/* Same network as the static address? */
static bool on_link(const struct devcfg *cfg, const uint8_t addr[4])
{
	uint32_t a = (uint32_t)cfg->ip[0] << 24 | cfg->ip[1] << 16 | cfg->ip[2] << 8 | cfg->ip[3];
	uint32_t b = (uint32_t)addr[0] << 24 | addr[1] << 16 | addr[2] << 8 | addr[3];
	uint32_t mask = cfg->prefix_len ? ~0u << (32 - cfg->prefix_len) : 0;
	return (a & mask) == (b & mask);
}

/* One "key = value" line; 0 or -1 with the error set. */
static int parse_entry(struct devcfg *cfg, char *key, char *value, unsigned line, char *error,
		       unsigned *seen)
{
	enum { SEEN_HOSTNAME = 1, SEEN_IP = 2, SEEN_GATEWAY = 4, SEEN_DNS = 8 };
	bool as_operator = strcmp(key, "operator") == 0;
	if (as_operator || strcmp(key, "trust") == 0) {
		/* Signing keys and operator keys: two roles, never one key for both. */
		struct ota_trusted_key *table = as_operator ? cfg->operators : cfg->keys;
		struct ota_trusted_key *other = as_operator ? cfg->keys : cfg->operators;
		size_t *count = as_operator ? &cfg->operator_count : &cfg->key_count;
		size_t other_count = as_operator ? cfg->key_count : cfg->operator_count;
		if (*count == DEVCFG_KEYS_MAX)
			return fail(error, cfg, line, "more than %d %s keys", DEVCFG_KEYS_MAX, key);
		struct ota_trusted_key *k = &table[*count];
		if (parse_key(value, k->pubkey) != 0)
			return fail(error, cfg, line,
				    "%s: not a P-256 public key (130 hex digits, 04...)", key);
		ota_key_id(k->pubkey, k->key_id);
		for (size_t i = 0; i < *count; i++)
			if (memcmp(table[i].pubkey, k->pubkey, OTA_P256_PUBKEY_SIZE) == 0)
				return fail(error, cfg, line, "%s: the same key twice", key);
		for (size_t i = 0; i < other_count; i++)
			if (memcmp(other[i].pubkey, k->pubkey, OTA_P256_PUBKEY_SIZE) == 0)
				return fail(
				    error, cfg, line,
				    "%s: that key is already listed as %s: use separate keys "
				    "for signing and operating",
				    key, as_operator ? "trust" : "operator");
		(*count)++;
		return 0;
	}
	unsigned bit = strcmp(key, "hostname") == 0    ? SEEN_HOSTNAME
		       : strcmp(key, "static-ip") == 0 ? SEEN_IP
		       : strcmp(key, "gateway") == 0   ? SEEN_GATEWAY
		       : strcmp(key, "dns") == 0       ? SEEN_DNS
						       : 0;
	if (!bit)
		return fail(error, cfg, line,
			    "unknown key '%.24s' (known: hostname, static-ip, gateway, dns, trust, "
			    "operator)",
			    key);
	if (*seen & bit)
		return fail(error, cfg, line, "%s given twice", key);
	*seen |= bit;
	switch (bit) {
	case SEEN_HOSTNAME:
		if (!devcfg_hostname_valid(value))
			return fail(error, cfg, line,
				    "hostname: 1-63 of a-z 0-9 and '-', not at either end");
		strcpy(cfg->hostname, value);
		return 0;
	case SEEN_IP:
		if (devcfg_parse_cidr(value, cfg->ip, &cfg->prefix_len) != 0)
			return fail(error, cfg, line,
				    "static-ip: expected ADDRESS/PREFIX, e.g. 10.0.3.17/24");
		cfg->static_ip = true;
		return 0;
	case SEEN_GATEWAY:
		cfg->has_gateway = true;
		return devcfg_parse_ipv4(value, cfg->gateway) == 0
			   ? 0
			   : fail(error, cfg, line, "gateway: expected an IPv4 address");
	default:
		cfg->has_dns = true;
		return devcfg_parse_ipv4(value, cfg->dns) == 0
			   ? 0
			   : fail(error, cfg, line, "dns: expected an IPv4 address");
	}
}

int devcfg_parse(const char *text, size_t len, struct devcfg *cfg, char *error)
{
	char buf[DEVCFG_LINE_MAX + 1];
	unsigned line = 0, seen = 0;
	bool versioned = false;
	size_t pos = 0;

	memset(cfg, 0, sizeof(*cfg));
	error[0] = '\0';
	if (len > DEVCFG_SIZE_MAX)
		return fail(error, cfg, 0, "%zu bytes, more than %d", len, DEVCFG_SIZE_MAX);
	while (pos < len) {
		size_t end = pos;
		while (end < len && text[end] != '\n')
			end++;
		line++;
		if (end - pos > DEVCFG_LINE_MAX)
			return fail(error, cfg, line, "longer than %d characters", DEVCFG_LINE_MAX);
		if (memchr(text + pos, '\0', end - pos) != NULL)
			return fail(error, cfg, line, "contains a NUL byte");
		memcpy(buf, text + pos, end - pos);
		buf[end - pos] = '\0';
		pos = end + 1;
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		trim(buf);
		if (!buf[0])
			continue;
		for (const char *c = buf; *c; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t')
				return fail(error, cfg, line, "contains a control character");
		if (!versioned) {
			if (strcmp(buf, "flotilla-device-config 1") != 0)
				return fail(error, cfg, line,
					    "expected the header 'flotilla-device-config 1'");
			versioned = true;
			continue;
		}
		char *eq = strchr(buf, '=');
		if (!eq)
			return fail(error, cfg, line, "expected 'key = value'");
		*eq = '\0';
		char *value = eq + 1;
		trim(buf);
		trim(value);
		if (!buf[0] || !value[0])
			return fail(error, cfg, line, "expected 'key = value'");
		if (parse_entry(cfg, buf, value, line, error, &seen) != 0)
			return -1;
	}
	if (!versioned)
		return fail(error, cfg, 0, "empty: no 'flotilla-device-config 1' header");
	if ((cfg->has_gateway || cfg->has_dns) && !cfg->static_ip)
		return fail(error, cfg, 0,
			    "gateway and dns need static-ip (without it DHCP gives them)");
	if (cfg->has_gateway && !on_link(cfg, cfg->gateway))
		return fail(error, cfg, 0, "gateway is not on the static-ip's network");
	return 0;
}
