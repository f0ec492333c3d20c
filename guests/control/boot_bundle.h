/*
 * The boot bundle: the guests the control domain starts at boot, handed
 * over by U-Boot and Xen as domain 0's initrd (a multiboot,ramdisk module)
 * before any storage driver exists. Written by tools/mkbootbundle.py.
 *
 *   offset size
 *   0      8    magic "FLOTBOOT"
 *   8      4    format version (2), little-endian like every field
 *   12     4    entry count (1..BOOT_BUNDLE_ENTRIES_MAX)
 *   16     4    total size in bytes
 *   20     4    reserved, 0
 *   24     128  entry[0]: name[32] (NUL-padded), bundle offset, bundle
 *               size, memory MiB, vCPUs, bootargs offset, bootargs size,
 *               physical-CPU mask (hard affinity; 0 = any), NIC-list size
 *               (16 bits), flags (16 bits: BOOT_ENTRY_*); at 64: probe[48]
 *               (the plan's `probe`, NUL-padded, "" = none), ready timeout
 *               in seconds (16 bits, 1..BOOT_READY_MAX_S), 14
 *               reserved zero bytes
 *   ...         bootargs strings, then the signed bundles (4-aligned)
 *
 * The NIC list (the plan's `nics`, comma-separated names, one vNIC each in
 * this order) follows the entry's bootargs and their NUL; size 0 = none.
 * It took the place of 4 reserved zero bytes, so older tables still parse.
 * Version 2 doubled the entry to carry the health gate (probe, ready
 * timeout: guests/control/probe.h); a version 1 table is refused.
 *
 * The table is the domain plan (hypervisor-cfg/), not signed: it decides
 * what a guest gets, never what runs. Each bundle is a signed OTA bundle
 * (docs/bundle-format.md) checked before its guest is built; the manifest's
 * name must match the entry's and the plan must give at least the memory
 * and vCPUs the manifest asks for.
 *
 * Flags: BOOT_ENTRY_TEST_UPDATE marks a bundle that is not a plan guest but
 * a newer version of one, which tests install on the card as a TRIAL
 * (boot argument test_install=NAME, console key 'u'; docs/storage.md).
 */
#ifndef FLOTILLA_CONTROL_BOOT_BUNDLE_H
#define FLOTILLA_CONTROL_BOOT_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#define BOOT_BUNDLE_MAGIC        "FLOTBOOT"
#define BOOT_BUNDLE_VERSION      2
#define BOOT_BUNDLE_ENTRIES_MAX  16
#define BOOT_BUNDLE_HEADER_SIZE  24
#define BOOT_BUNDLE_ENTRY_SIZE   128
#define BOOT_BUNDLE_NAME_MAX     31
#define BOOT_BUNDLE_BOOTARGS_MAX 255
#define BOOT_ENTRY_TEST_UPDATE   1u /* tests only: an update, not a plan guest */
#define BOOT_ENTRY_ON_CARD       2u /* set at boot (never in the file): the card has it */
#define BOOT_BUNDLE_NICS_MAX     127
#define BOOT_BUNDLE_PROBE_MAX    47 /* the probe field holds 48 bytes with its NUL */
#define BOOT_READY_DEFAULT_S     30 /* the plan's ready_timeout_s when it has none */
#define BOOT_READY_MAX_S         3600

struct boot_entry {
	char name[BOOT_BUNDLE_NAME_MAX + 1];
	const uint8_t *bundle;
	size_t bundle_size;
	unsigned memory_mb;
	unsigned vcpus;
	uint32_t pcpu_mask;
	uint32_t flags; /* BOOT_ENTRY_* */
	char bootargs[BOOT_BUNDLE_BOOTARGS_MAX + 1];
	char nics[BOOT_BUNDLE_NICS_MAX + 1]; /* "lan,mgmt" or "" */
	/* The health gate (probe.h): "http:80/healthz", "tcp:22" or "" (none),
	 * checked with probe_parse() where it is used; seconds a new instance
	 * has to become ready and pass it. */
	char probe[BOOT_BUNDLE_PROBE_MAX + 1];
	uint16_t ready_timeout_s;
};

/* boot_bundle.c: parse and bounds-check the whole table. Returns the number
 * of entries, or -1 with *error set to a one-line reason. */
int boot_bundle_parse(const uint8_t *data, size_t size, struct boot_entry *entries, int max,
		      const char **error);

#endif
