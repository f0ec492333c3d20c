/*
 * The control domain's boot-bundle parser (guests/control/boot_bundle.c) on
 * the host: a well-formed table parses; every malformed one is refused with
 * a reason and never read out of bounds (ASan). Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_bundle.h"

static int count, failed;

static void check(const char *what, int ok)
{
	count++;
	failed += !ok;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

#define E        BOOT_BUNDLE_ENTRY_SIZE
#define ARGS     (24 + 2 * E)
#define BUNDLES  (ARGS + 8)
#define PROBE_AT 64 /* in an entry: probe[48], then the ready timeout */
#define READY_AT 112

/* Two entries: "alpha" (bundle "AAAA...", args "x=1", NIC "lan", probe
 * "http:80/healthz", 30 s), "beta" (args "", no probe, 5 s). */
static size_t make(uint8_t *buf)
{
	memset(buf, 0, 1024);
	memcpy(buf, "FLOTBOOT", 8);
	put32(buf + 8, BOOT_BUNDLE_VERSION);
	put32(buf + 12, 2);
	size_t args = ARGS;
	memcpy(buf + args, "x=1", 4);     /* + NUL */
	memcpy(buf + args + 4, "lan", 3); /* alpha's NIC list, after its bootargs' NUL */
	size_t bundles = BUNDLES;
	memset(buf + bundles, 'A', 40);
	memset(buf + bundles + 40, 'B', 24);
	uint8_t *e = buf + 24;
	strcpy((char *)e, "alpha");
	put32(e + 32, (uint32_t)bundles);
	put32(e + 36, 40);
	put32(e + 40, 16);
	put32(e + 44, 1);
	put32(e + 48, (uint32_t)args);
	put32(e + 52, 3);
	put32(e + 60, 3);
	strcpy((char *)e + PROBE_AT, "http:80/healthz");
	put16(e + READY_AT, 30);
	e += E;
	strcpy((char *)e, "beta");
	put32(e + 32, (uint32_t)bundles + 40);
	put32(e + 36, 24);
	put32(e + 40, 8);
	put32(e + 44, 2);
	put32(e + 48, (uint32_t)args + 3);
	put32(e + 52, 0);
	put16(e + READY_AT, 5);
	put32(buf + 16, (uint32_t)(bundles + 64));
	return bundles + 64;
}

/* Returns the entry count, -1 when refused with a reason (*reason), -2
 * when refused without one. */
static int parse_why(const uint8_t *buf, size_t size, const char **reason)
{
	struct boot_entry entries[BOOT_BUNDLE_ENTRIES_MAX];
	const char *error = NULL;
	/* Copy into an exact-size heap block so ASan sees any overread. */
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, buf, size);
	int n = boot_bundle_parse(copy, size, entries, BOOT_BUNDLE_ENTRIES_MAX, &error);
	if (n < 0 && (!error || !*error))
		n = -2; /* a refusal must say why */
	free(copy);
	*reason = n == -1 ? error : "";
	return n;
}

static int parse(const uint8_t *buf, size_t size)
{
	const char *reason;
	return parse_why(buf, size, &reason);
}

/* Refused, and for the reason the test names (not some earlier check). */
static int refused_for(const uint8_t *buf, size_t size, const char *why)
{
	const char *reason;
	int n = parse_why(buf, size, &reason);
	if (n == -1 && strstr(reason, why) == NULL)
		printf("# refused, but for \"%s\", not \"%s\"\n", reason, why);
	return n == -1 && strstr(reason, why) != NULL;
}

int main(void)
{
	uint8_t buf[1024], bad[1024];
	size_t size = make(buf);
	struct boot_entry entries[BOOT_BUNDLE_ENTRIES_MAX];
	const char *error = NULL;
	int n = boot_bundle_parse(buf, size, entries, BOOT_BUNDLE_ENTRIES_MAX, &error);
	check("a well-formed boot bundle parses: two entries", n == 2);
	check("entry fields: name, memory, vCPUs, boot arguments",
	      n == 2 && strcmp(entries[0].name, "alpha") == 0 && entries[0].memory_mb == 16 &&
		  entries[0].vcpus == 1 && strcmp(entries[0].bootargs, "x=1") == 0 &&
		  strcmp(entries[1].name, "beta") == 0 && entries[1].vcpus == 2 &&
		  entries[1].bootargs[0] == 0);
	check("the NIC list follows the boot arguments; none when its size is 0",
	      n == 2 && strcmp(entries[0].nics, "lan") == 0 && entries[1].nics[0] == 0);
	check("the health gate: alpha's probe and ready timeout; beta has no probe",
	      n == 2 && strcmp(entries[0].probe, "http:80/healthz") == 0 &&
		  entries[0].ready_timeout_s == 30 && entries[1].probe[0] == 0 &&
		  entries[1].ready_timeout_s == 5);
	check("entries point at their bundles", n == 2 && entries[0].bundle == buf + BUNDLES &&
						    entries[0].bundle_size == 40 &&
						    entries[1].bundle[0] == 'B');

	/* Each corruption must be refused for its own reason: a check that
	 * fires earlier for another reason would hide a missing one. A second
	 * field (offset2) makes the rest of the bundle valid around it. */
	struct {
		const char *what;
		size_t offset;
		uint32_t value;
		const char *reason;
		size_t offset2;
		uint32_t value2;
	} corruptions[] = {
	    {"bad magic", 0, 0x41414141, "magic FLOTBOOT missing", 0, 0},
	    {"unknown format version", 8, BOOT_BUNDLE_VERSION + 1,
	     "unsupported boot bundle format version", 0, 0},
	    {"zero entries", 12, 0, "entry count out of range", 0, 0},
	    {"more entries than allowed", 12, BOOT_BUNDLE_ENTRIES_MAX + 1,
	     "entry count out of range", 0, 0},
	    /* 24 + 4 * 128 = 536 bytes of table in a 352-byte bundle. */
	    {"a count whose table runs past the end", 12, 4, "entry table runs past the end", 0, 0},
	    {"a total size larger than the module", 16, 4096, "truncated", 0, 0},
	    {"a bundle offset past the end", 24 + 32, 10000, "points outside the bundle", 0, 0},
	    {"a bundle that runs past the end", 24 + 36, 1000, "points outside the bundle", 0, 0},
	    {"an offset + size that wraps around", 24 + 36, 0xfffffff0u,
	     "points outside the bundle", 0, 0},
	    {"boot arguments past the end", 24 + 48, 5000, "points outside the bundle", 0, 0},
	    /* Inside a 1024-byte bundle, so only the length is wrong. */
	    {"boot arguments longer than 255 bytes", 24 + 52, 256, "longer than 255 bytes", 16,
	     1024},
	    {"boot arguments with a NUL inside", 24 + 52, 4, "contain a NUL byte", 0, 0},
	    {"a NIC list longer than 127 bytes", 24 + 60, 128, "NIC list out of bounds or longer",
	     0, 0},
	    {"a NIC list past the end", 24 + 60, 100, "NIC list out of bounds", 0, 0},
	    {"a NIC list with a NUL inside", 24 + 60, 4, "NIC list contains a NUL byte", 0, 0},
	    {"a ready timeout of 0", 24 + READY_AT, 0, "ready timeout out of range", 0, 0},
	    {"a ready timeout over an hour", 24 + READY_AT, BOOT_READY_MAX_S + 1,
	     "ready timeout out of range", 0, 0},
	};
	for (size_t i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
		memcpy(bad, buf, sizeof(buf));
		put32(bad + corruptions[i].offset, corruptions[i].value);
		size_t bad_size = size;
		if (corruptions[i].offset2) {
			put32(bad + corruptions[i].offset2, corruptions[i].value2);
			bad_size = corruptions[i].value2;
		}
		char what[160];
		snprintf(what, sizeof(what), "refused because of %s (\"%s\")", corruptions[i].what,
			 corruptions[i].reason);
		check(what, refused_for(bad, bad_size, corruptions[i].reason));
	}
	memcpy(bad, buf, sizeof(buf));
	memset(bad + 24, 'n', 32); /* name with no NUL */
	check("refused because of an unterminated name",
	      refused_for(bad, size, "name is empty or not terminated"));
	memcpy(bad, buf, sizeof(buf));
	memset(bad + 24 + PROBE_AT, 't', BOOT_BUNDLE_PROBE_MAX + 1); /* probe with no NUL */
	check("refused because of an unterminated probe",
	      refused_for(bad, size, "probe is longer than 47 bytes"));
	memcpy(bad, buf, sizeof(buf));
	put32(bad + 8, 1);
	check("a version 1 table (64-byte entries, no health gate) is refused",
	      refused_for(bad, size, "unsupported boot bundle format version"));
	check("refused because of a truncated header", refused_for(buf, 20, "not a boot bundle"));
	check("refused because the module is shorter than the table says",
	      refused_for(buf, size - 1, "truncated"));
	/* Every prefix and every single-byte change: never crashes or overreads. */
	int survived = 1;
	for (size_t cut = 0; cut <= size; cut++)
		survived &= parse(buf, cut) >= -1;
	for (size_t at = 0; at < size; at++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, buf, sizeof(buf));
			bad[at] ^= (uint8_t)(1u << bit);
			survived &= parse(bad, size) >= -1;
		}
	}
	check("every truncation and every bit flip is parsed or refused, never overread", survived);
	return failed ? 1 : 0;
}
