/*
 * Flotilla control domain: Xen's domain 0, a C unikernel. For now it
 * reports what it was given (Xen version, memory, the Ethernet and MMC
 * controllers it owns) and idles, blocked in Xen.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devicetree.h"

#include "flotilla.h"
#include "hypercall.h"
#include "domain.h"
#include "boot_bundle.h"
#include "card.h"
#include "supervisor.h"
#include "provision.h"
#include "ctlnet.h"
#include "probe_test.h"
#include "store.h"
#include "vnic.h"
#include "gstatus.h"
#include "monitor.h"
#include "runtime.h"

#include <generated/autoconf.h>

#ifndef FLOTILLA_VERSION
#error "FLOTILLA_VERSION must be defined by the build"
#endif

static void print_xen_version(void)
{
	long version = xen_version(XENVER_version, NULL);
	xen_extraversion_t extra;
	memset(extra, 0, sizeof(extra));
	if (xen_version(XENVER_extraversion, extra) != 0)
		extra[0] = '\0';
	extra[sizeof(extra) - 1] = '\0';
	printf("control: Xen %ld.%ld%s\n", version >> 16, version & 0xffff, extra);
}

static void print_bank(uint64_t base, uint64_t size, void *arg)
{
	uint64_t *total = arg;
	printf("control: memory %#010" PRIx64 "-%#010" PRIx64 " (%" PRIu64 " MiB)\n", base,
	       base + size - 1, size >> 20);
	*total += size;
}

static void print_memory(const void *dtb)
{
	uint64_t total = 0;
	dt_for_each_memory_bank(dtb, print_bank, &total);
	printf("control: memory total %" PRIu64 " MiB\n", total >> 20);
}

static bool node_enabled(const void *dtb, int node)
{
	const char *status = fdt_getprop(dtb, node, "status", NULL);
	return !status || strcmp(status, "okay") == 0 || strcmp(status, "ok") == 0;
}

/* Report every enabled node whose name starts with prefix ("ethernet", "mmc"). */
static int print_devices(const void *dtb, const char *kind, const char *prefix)
{
	int found = 0;
	size_t prefix_len = strlen(prefix);
	for (int node = fdt_next_node(dtb, -1, NULL); node >= 0;
	     node = fdt_next_node(dtb, node, NULL)) {
		const char *name = fdt_get_name(dtb, node, NULL);
		if (!name || strncmp(name, prefix, prefix_len) != 0 ||
		    (name[prefix_len] != '@' && name[prefix_len] != '\0'))
			continue;
		if (!node_enabled(dtb, node))
			continue;
		const char *compatible = fdt_getprop(dtb, node, "compatible", NULL);
		char path[128];
		if (fdt_get_path(dtb, node, path, sizeof(path)) != 0)
			strcpy(path, name);
		printf("control: %s %s (%s)\n", kind, path,
		       compatible ? compatible : "no compatible");
		found++;
	}
	if (!found)
		printf("control: no %s found\n", kind);
	return found;
}

/* "cpu_report=N" in the boot arguments: every N seconds, one line per
 * domain with its state and CPU time, for tests and bring-up. */
static unsigned cpu_report_interval(const char *bootargs)
{
	const char *p = strstr(bootargs, "cpu_report=");
	return p ? (unsigned)strtoul(p + strlen("cpu_report="), NULL, 10) : 0;
}

static void report_domains(void)
{
	uint64_t now = flotilla_clock_monotonic();
	struct dom_info info;
	for (unsigned next = 0; next < DOMID_FIRST_RESERVED && dom_next((uint16_t)next, &info) == 0;
	     next = info.domid + 1) {
		const char *state = info.shutdown  ? dom_shutdown_reason_name(info.shutdown_reason)
				    : info.dying   ? "dying"
				    : info.running ? "running"
						   : "blocked";
		printf("control: report t=%" PRIu64 ".%03" PRIu64 " d%u %s cpu_ns=%" PRIu64
		       " pages=%" PRIu64 "\n",
		       now / 1000000000u, now / 1000000u % 1000u, info.domid,
		       info.shutdown ? "shutdown" : state, info.cpu_time_ns, info.pages);
		if (info.shutdown)
			printf("control: d%u shut down: %s\n", info.domid, state);
	}
}

static unsigned bootarg_number(const char *bootargs, const char *key)
{
	const char *p = strstr(bootargs, key);
	return p ? (unsigned)strtoul(p + strlen(key), NULL, 10) : 0;
}

/* The boot bundle is our initrd: Xen passes its place in /chosen. */
static int load_boot_bundle(const void *dtb, const char *bootargs)
{
	int chosen = fdt_path_offset(dtb, "/chosen");
	uint64_t start = chosen >= 0 ? dt_read_u64(dtb, chosen, "linux,initrd-start", NULL) : 0;
	uint64_t end = chosen >= 0 ? dt_read_u64(dtb, chosen, "linux,initrd-end", NULL) : 0;
	/* The device configuration, if any, follows the bundle in the initrd. */
	size_t bundle_size = provision_load(dtb, (const uint8_t *)(uintptr_t)start,
					    start && end > start ? (size_t)(end - start) : 0);
	end = start + bundle_size;
	if (!start || end <= start) {
		printf("control: no boot bundle (no initrd from Xen): no guests to start\n");
		return 0;
	}
	static struct boot_entry entries[BOOT_BUNDLE_ENTRIES_MAX];
	const char *error = NULL;
	int count = boot_bundle_parse((const uint8_t *)(uintptr_t)start, (size_t)(end - start),
				      entries, BOOT_BUNDLE_ENTRIES_MAX, &error);
	if (count < 0) {
		printf("control: boot bundle refused: %s\n", error);
		return 0;
	}
	count = store_take_test_updates(entries, count);
	store_mark_entries_on_card(entries, count);
	printf("control: boot bundle at %#" PRIx64 ": %d guest(s), %" PRIu64 " bytes\n", start,
	       count, end - start);
	int loaded = supervisor_load(entries, count);
	store_attach_guests(entries, count, bootargs);
	probe_test_setup(bootargs, entries, count);
	return loaded;
}

static volatile bool console_input;

static void on_console_input(evtchn_port_t port, void *arg)
{
	(void)port;
	(void)arg;
	console_input = true;
	events_wake_application();
}

/* Keys typed on the serial console (Xen gives dom0 the input): 's' prints
 * the status, 'h' the health checks, 'l NAME' a guest's last lines, 'e' the card's event log, 'c'
 * confirms running trials, 'u' installs the boot bundle's test updates as trials (store.h). */
static void read_console_input(void)
{
	char keys[16];
	long n;
	/* 'l NAME' + Enter: the guest's last console lines (a line being typed). */
	static char name[BOOT_BUNDLE_NAME_MAX + 2];
	static int name_len = -1;
	while ((n = xen_hypercall(__HYPERVISOR_console_io, CONSOLEIO_read, sizeof(keys),
				  (unsigned long)keys, 0, 0)) > 0) {
		for (long i = 0; i < n; i++)
			if (name_len >= 0) {
				if (keys[i] == '\r' || keys[i] == '\n') {
					name[name_len] = '\0';
					monitor_print_log(name[0] == ' ' ? name + 1 : name);
					name_len = -1;
				} else if (name_len < (int)sizeof(name) - 1) {
					name[name_len++] = keys[i];
				}
			} else if (keys[i] == 'l') {
				name_len = 0;
			} else if (keys[i] == 'h') {
				monitor_print();
			} else if (keys[i] == 's') {
				supervisor_print_status();
				ctlnet_print_status();
				store_print_status();
			} else if (keys[i] == 'e') {
				store_print_events();
			} else if (keys[i] == 'c') {
				store_confirm_all();
			} else if (keys[i] == 'u') {
				store_install_test_updates(NULL);
			} else if (keys[i] == 'r') {
				report_domains(); /* CPU time now: benchmarks take differences */
			}
	}
}

int flotilla_main(const struct flotilla_start_info *info)
{
	const void *dtb = flotilla_devicetree();
	printf("flotilla: control domain %s starting\n", FLOTILLA_VERSION);
	print_xen_version();
	printf("control: boot arguments \"%s\"\n", info->bootargs);
	print_memory(dtb);
	print_devices(dtb, "ethernet", "ethernet");
	print_devices(dtb, "mmc", "mmc");
	struct card_store *card = card_boot(dtb, info->bootargs);
	if (supervisor_init(dtb) == 0) {
		store_open(card ? &card->dev : NULL, info->bootargs);
		load_boot_bundle(dtb, info->bootargs);
	}
	struct evtchn_bind_virq bind = {.virq = VIRQ_CONSOLE, .vcpu = 0};
	if (xen_event_channel_op(EVTCHNOP_bind_virq, &bind) == 0)
		events_bind(bind.port, on_console_input, NULL);
	unsigned bench_runs = bootarg_number(info->bootargs, "bench=");
	if (bench_runs)
		supervisor_bench_build(bench_runs);
	unsigned cycles = bootarg_number(info->bootargs, "cycles=");
	if (cycles)
		supervisor_bench_cycles(cycles);
	supervisor_start_all();
	ctlnet_start(dtb);
	monitor_start(card);
	printf("flotilla: control domain %s ready\n", FLOTILLA_VERSION);
	fflush(stdout);

	unsigned interval = cpu_report_interval(info->bootargs);
	uint64_t next_report = interval ? flotilla_clock_monotonic() : UINT64_MAX;
	for (;;) {
		if (flotilla_clock_monotonic() >= next_report) {
			next_report += (uint64_t)interval * 1000000000u;
			report_domains();
		}
		if (console_input) {
			console_input = false;
			read_console_input();
		}
		gstatus_poll(); /* guests' status pages that changed: log readiness, addresses */
		uint64_t deadline = supervisor_poll();
		uint64_t net_deadline = ctlnet_poll();
		if (net_deadline < deadline)
			deadline = net_deadline;
		if (next_report < deadline)
			deadline = next_report;
		uint64_t probes = probe_test_poll(); /* boot argument probe_test= */
		if (probes < deadline)
			deadline = probes;
		uint64_t health = monitor_poll();
		if (health < deadline)
			deadline = health;
		uint64_t network = vnic_poll(); /* the switch: now if it has more to move */
		if (network < deadline)
			deadline = network;
		/* Blocks in Xen until an event (console, domain death) or a deadline. */
		flotilla_yield(deadline);
	}
}
