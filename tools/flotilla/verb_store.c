/* verb_store.c: flotilla store: a device's slot store, in a file. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "host/blockdev_file.h"
#include "install.h"
#include "ota.h"
#include "slot_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CONFIG_OTA_STORE_SIZE_MB
#define CONFIG_OTA_STORE_SIZE_MB 64
#endif

const char usage_store[] =
    "usage: flotilla store ACTION --file STORE [options]\n"
    "\n"
    "Works on a slot store in a file (or the raw OTA partition of an SD card)\n"
    "with the same code the board runs.\n"
    "  format   --file STORE [--size MIB] [--slot-size KIB] [--guests N]\n"
    "           creates an empty store (defaults: CONFIG_OTA_STORE_SIZE_MB,\n"
    "           CONFIG_OTA_SLOT_SIZE_KB, as many guests as fit)\n"
    "  install  --file STORE --pub KEY.pub [--pub ...] [--board BOARD] BUNDLE\n"
    "           verifies and installs a bundle into the guest's free slot (READY)\n"
    "  activate --file STORE GUEST   newest installed image -> trial\n"
    "  confirm  --file STORE GUEST   trial -> confirmed\n"
    "  revert   --file STORE GUEST   trial -> bad; the confirmed image boots again\n"
    "  check    --file STORE GUEST   re-hashes the guest's images\n"
    "  list     --file STORE [--json]\n"
    "Every action also takes --block-size BYTES (default 512, as on SD cards).\n";

static struct slot_store store;
static struct ota_file_blockdev file_dev;

struct store_args {
	const char *action, *file, *guest, *board, *size, *slot_size, *guests, *block_size;
	const char **pubs;
	size_t npubs;
	int json;
};

static int parse_store_args(int argc, char **argv, struct store_args *a)
{
	for (int i = 2; i < argc; i++) {
		const char *value;
		int k;

		if ((k = cli_option(argc, argv, &i, "--file", &a->file)) ||
		    (k = cli_option(argc, argv, &i, "--board", &a->board)) ||
		    (k = cli_option(argc, argv, &i, "--size", &a->size)) ||
		    (k = cli_option(argc, argv, &i, "--slot-size", &a->slot_size)) ||
		    (k = cli_option(argc, argv, &i, "--guests", &a->guests)) ||
		    (k = cli_option(argc, argv, &i, "--block-size", &a->block_size))) {
			if (k < 0)
				return CLI_EXIT_USAGE;
		} else if ((k = cli_option(argc, argv, &i, "--pub", &value)) != 0) {
			if (k < 0)
				return CLI_EXIT_USAGE;
			a->pubs[a->npubs++] = value;
		} else if (strcmp(argv[i], "--json") == 0) {
			a->json = 1;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return cli_usage_error("unknown option '%s'", argv[i]);
		} else if (a->guest) {
			return cli_usage_error("unexpected argument '%s'", argv[i]);
		} else {
			a->guest = argv[i];
		}
	}
	if (!a->file)
		return cli_usage_error("missing --file STORE");
	return CLI_EXIT_OK;
}

static int store_error(const char *what, int rc)
{
	return cli_error("%s: %s", what, ota_strerror(rc));
}

static int open_device(const struct store_args *a, uint64_t create_size)
{
	uint32_t bs = 512;

	if (a->block_size && cli_parse_u32(a->block_size, &bs) != 0)
		return cli_usage_error("bad --block-size '%s'", a->block_size);
	if (ota_file_blockdev_open(&file_dev, a->file, bs, create_size) != 0)
		return cli_error("%s: %s", a->file,
				 errno == EINVAL ? "not a whole number of blocks"
						 : strerror(errno));
	return CLI_EXIT_OK;
}

static int store_format(const struct store_args *a)
{
	uint32_t size_mb = CONFIG_OTA_STORE_SIZE_MB, slot_kb = CONFIG_OTA_SLOT_SIZE_KB, guests = 0;
	int rc;

	if ((a->size && cli_parse_u32(a->size, &size_mb) != 0) || size_mb == 0)
		return cli_usage_error("bad --size '%s' (MiB)", a->size);
	if ((a->slot_size && cli_parse_u32(a->slot_size, &slot_kb) != 0) || slot_kb == 0 ||
	    slot_kb > (1u << 20))
		return cli_usage_error("bad --slot-size '%s' (KiB)", a->slot_size);
	if (a->guests && cli_parse_u32(a->guests, &guests) != 0)
		return cli_usage_error("bad --guests '%s'", a->guests);
	rc = open_device(a, (uint64_t)size_mb << 20);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = slot_store_format(&store, &file_dev.dev, slot_kb * 1024u, guests);
	if (rc != OTA_OK)
		return store_error(a->file, rc);
	printf("formatted %s: %u guests, slots of %u KiB\n", a->file, store.guest_capacity,
	       store.slot_blocks * store.block_size / 1024);
	return CLI_EXIT_OK;
}

static int store_install(const struct store_args *a)
{
	static struct ota_install install;
	static uint8_t chunk[1460];
	struct ota_verify_policy policy = {0};
	struct ota_trusted_key *keys;
	const struct ota_manifest *m;
	FILE *f;
	size_t n;
	int rc;

	if (!a->guest || a->npubs == 0)
		return cli_usage_error("install needs --pub KEY.pub and a BUNDLE");
	keys = cli_load_trusted_keys(a->pubs, a->npubs);
	if (!keys)
		return CLI_EXIT_FAIL;
	f = fopen(a->guest, "rb");
	if (!f) {
		free(keys);
		return cli_error("%s: %s", a->guest, strerror(errno));
	}
	policy.keys = keys;
	policy.key_count = a->npubs;
	policy.board = a->board;
	policy.max_image_size = store.slot_blocks * store.block_size;
	ota_install_begin(&install, &store, &policy);
	rc = OTA_OK;
	while (rc == OTA_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = ota_install_feed(&install, chunk, n);
	if (rc == OTA_OK && ferror(f)) {
		ota_install_abort(&install);
		rc = OTA_E_IO;
	}
	if (rc == OTA_OK)
		rc = ota_install_finish(&install);
	fclose(f);
	free(keys);
	if (rc != OTA_OK)
		return store_error(a->guest, rc);
	m = ota_install_manifest(&install);
	printf("installed %s %u.%u.%u (counter %u) into slot %c: ready, activate it next\n",
	       m->name, m->version[0], m->version[1], m->version[2], m->security_counter,
	       'A' + slot_store_guest(&store, m->name)->newest);
	return CLI_EXIT_OK;
}

static void print_slot_json(unsigned k, const struct slot_info *info)
{
	char sha[2 * OTA_SHA256_SIZE + 1];

	cli_hex(sha, info->image_sha256, OTA_SHA256_SIZE);
	printf("{\"slot\":\"%c\",\"state\":\"%s\"", 'A' + k, slot_state_name(info->state));
	if (info->state != SLOT_EMPTY)
		printf(",\"version\":\"%u.%u.%u\",\"security_counter\":%u,\"image_size\":%u,"
		       "\"image_sha256\":\"%s\","
		       "\"memory_mib\":%u,\"vcpus\":%u",
		       info->version[0], info->version[1], info->version[2], info->security_counter,
		       info->image_size, sha, info->memory_mib, info->vcpus);
	putchar('}');
}

static int store_list(const struct store_args *a)
{
	int first = 1;

	if (a->json)
		printf("{\"guest_capacity\":%u,\"slot_size\":%u,\"guests\":[", store.guest_capacity,
		       store.slot_blocks * store.block_size);
	else
		printf("store %s: %u guests max, slots of %u KiB\n", a->file, store.guest_capacity,
		       store.slot_blocks * store.block_size / 1024);
	for (unsigned g = 0; g < store.guest_capacity; g++) {
		const struct slot_guest *guest = &store.guests[g];
		int boot;

		if (guest->name[0] == '\0')
			continue;
		boot = slot_store_boot_slot(&store, guest->name);
		if (a->json) {
			printf("%s{\"name\":", first ? "" : ",");
			cli_json_string(guest->name);
			printf(",\"highest_counter\":%u,\"boot_slot\":", guest->highest_counter);
			if (boot >= 0)
				printf("\"%c\"", 'A' + boot);
			else
				printf("null");
			printf(",\"slots\":[");
			for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
				if (k)
					putchar(',');
				print_slot_json(k, &guest->slot[k]);
			}
			printf("]}");
		} else {
			printf("guest %s: highest counter %u, boots %s%c\n", guest->name,
			       guest->highest_counter, boot >= 0 ? "slot " : "nothing",
			       boot >= 0 ? 'A' + boot : ' ');
			for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
				const struct slot_info *info = &guest->slot[k];

				printf("  slot %c: %s", 'A' + k, slot_state_name(info->state));
				if (info->state != SLOT_EMPTY)
					printf(" %u.%u.%u counter %u, %u bytes", info->version[0],
					       info->version[1], info->version[2],
					       info->security_counter, info->image_size);
				putchar('\n');
			}
		}
		first = 0;
	}
	if (a->json)
		printf("]}\n");
	return CLI_EXIT_OK;
}

static int store_check(const struct store_args *a)
{
	const struct slot_guest *guest = slot_store_guest(&store, a->guest);
	int bad = 0;

	if (!guest)
		return store_error(a->guest, OTA_E_NO_GUEST);
	for (unsigned k = 0; k < SLOT_STORE_SLOTS; k++) {
		unsigned state = guest->slot[k].state;
		int rc;

		if (state != SLOT_READY && state != SLOT_TRIAL && state != SLOT_CONFIRMED)
			continue;
		rc = slot_store_check_slot(&store, a->guest, k);
		printf("%s slot %c (%s): %s\n", a->guest, 'A' + k, slot_state_name(state),
		       rc == OTA_OK ? "image intact" : ota_strerror(rc));
		bad |= rc != OTA_OK;
	}
	return bad ? cli_error("%s: an image is damaged", a->guest) : CLI_EXIT_OK;
}

static int store_transition(const struct store_args *a)
{
	static const struct {
		const char *action;
		int (*fn)(struct slot_store *, const char *);
		const char *done;
	} ops[] = {
	    {"activate", slot_store_activate,
	     "on trial: confirm or revert it after its health checks"},
	    {"confirm", slot_store_confirm, "confirmed"},
	    {"revert", slot_store_revert, "reverted: the confirmed image boots again"},
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int rc;

		if (strcmp(a->action, ops[i].action) != 0)
			continue;
		rc = ops[i].fn(&store, a->guest);
		if (rc != OTA_OK)
			return store_error(a->guest, rc);
		printf("%s: %s\n", a->guest, ops[i].done);
		return CLI_EXIT_OK;
	}
	return cli_usage_error("unknown action '%s'", a->action);
}

int verb_store(int argc, char **argv)
{
	struct store_args a = {0};
	int rc;

	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(usage_store, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	for (int i = 2; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(usage_store, stdout);
			return CLI_EXIT_OK;
		}
	}
	file_dev.fd = -1;
	a.action = argv[1];
	a.pubs = calloc((size_t)argc, sizeof(*a.pubs));
	if (!a.pubs)
		return cli_error("out of memory");
	rc = parse_store_args(argc, argv, &a);
	if (rc != CLI_EXIT_OK)
		goto out;
	if (strcmp(a.action, "format") == 0) {
		rc = store_format(&a);
		goto out_close;
	}
	if (strcmp(a.action, "install") != 0 && strcmp(a.action, "list") != 0 && !a.guest) {
		rc = cli_usage_error("%s needs a GUEST", a.action);
		goto out;
	}
	rc = open_device(&a, 0);
	if (rc != CLI_EXIT_OK)
		goto out;
	rc = slot_store_open(&store, &file_dev.dev);
	if (rc != OTA_OK) {
		rc = store_error(a.file, rc);
		goto out_close;
	}
	if (strcmp(a.action, "install") == 0)
		rc = store_install(&a);
	else if (strcmp(a.action, "list") == 0)
		rc = store_list(&a);
	else if (strcmp(a.action, "check") == 0)
		rc = store_check(&a);
	else
		rc = store_transition(&a);
out_close:
	ota_file_blockdev_close(&file_dev);
out:
	free(a.pubs);
	return rc;
}
