/*
 * main.c: the flotilla host CLI: dispatches to one function per verb.
 *
 * A new verb is one line in the table below plus its file (verb_<group>.c).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#ifndef FLOTILLA_VERSION
#define FLOTILLA_VERSION "dev"
#endif

static int verb_help(int argc, char **argv);

static const char usage_help[] = "usage: flotilla help [VERB]\n";

static const struct cli_verb verbs[] = {
    {"keygen", verb_keygen, "create a P-256 signing key pair (NAME.key, NAME.pub)", usage_keygen},
    {"sign", verb_sign, "wrap a guest image in a signed bundle", usage_sign},
    {"inspect", verb_inspect, "show a bundle's header and manifest (--json)", usage_inspect},
    {"verify", verb_verify, "check a bundle as a device would, against public keys", usage_verify},
    {"store", verb_store, "format, install into and inspect a slot store in a file", usage_store},
    {"flash", verb_flash, "write an SD image to a card or file, verify it, provision the board",
     usage_flash},
    {"push", verb_push, "stream a bundle to a board and follow the swap to its verdict",
     usage_push},
    {"rollback", verb_rollback, "put a guest back on its previous confirmed version, hot",
     usage_rollback},
    {"restart", verb_restart, "restart a guest on a board and follow it to its verdict",
     usage_restart},
    {"health", verb_health,
     "a board's health: ok / degraded / failed, why (exit 0/1/2, 3 unreachable)", usage_health},
    {"status", verb_status, "a board's guests: versions, slots, addresses, uptime", usage_status},
    {"logs", verb_logs, "a guest's console lines (-f: follow them as they are printed)",
     usage_logs},
    {"events", verb_events, "the card's event log (installs, confirms, rollbacks...)",
     usage_events},
    {"embed-keys", verb_embed_keys, "write the C table of trusted keys (used by the build)",
     usage_embed_keys},
    {"help", verb_help, "show this list, or a verb's usage", usage_help},
};

#define VERB_COUNT (sizeof(verbs) / sizeof(verbs[0]))

static const struct cli_verb *find_verb(const char *name)
{
	for (size_t i = 0; i < VERB_COUNT; i++) {
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	}
	return NULL;
}

static void print_overview(FILE *out)
{
	fprintf(out, "flotilla %s: sign and manage Flotilla guest updates\n\n", FLOTILLA_VERSION);
	fprintf(out, "usage: flotilla VERB [options] (flotilla VERB --help for details)\n\n");
	for (size_t i = 0; i < VERB_COUNT; i++)
		fprintf(out, "  %-11s %s\n", verbs[i].name, verbs[i].summary);
}

static int verb_help(int argc, char **argv)
{
	const struct cli_verb *v;

	if (argc < 2) {
		print_overview(stdout);
		return CLI_EXIT_OK;
	}
	v = find_verb(argv[1]);
	if (!v)
		return cli_usage_error("no verb '%s'", argv[1]);
	fputs(v->usage, stdout);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct cli_verb *v;

	if (argc < 2) {
		print_overview(stderr);
		return CLI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1])) {
		print_overview(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("flotilla %s\n", FLOTILLA_VERSION);
		return CLI_EXIT_OK;
	}
	v = find_verb(argv[1]);
	if (!v) {
		fprintf(stderr, "flotilla: unknown verb '%s' (try 'flotilla help')\n", argv[1]);
		return CLI_EXIT_USAGE;
	}
	cli_set_verb(v->name);
	return v->run(argc - 1, argv + 1);
}
