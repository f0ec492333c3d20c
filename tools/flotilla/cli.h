/*
 * cli.h: what the verbs of the flotilla CLI share.
 *
 * Each verb group lives in its own file (verb_keys.c, verb_bundle.c,
 * verb_store.c; later push/status/health/logs/rollback/flash) and exports
 * one function per verb, listed in main.c's table. Conventions: errors are
 * one line on stderr through cli_error() and a non-zero exit
 * (CLI_EXIT_FAIL: the operation was refused or failed; CLI_EXIT_USAGE: bad
 * command line); `--help` prints the verb's usage on stdout and exits 0.
 */
#ifndef FLOTILLA_CLI_H
#define FLOTILLA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ota_trusted_key;

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

struct cli_verb {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the verb */
	const char *summary;
	const char *usage; /* full --help text */
};

/* verb_keys.c */
int verb_keygen(int argc, char **argv);
int verb_embed_keys(int argc, char **argv);
extern const char usage_keygen[], usage_embed_keys[];
/* verb_bundle.c */
int verb_sign(int argc, char **argv);
int verb_inspect(int argc, char **argv);
int verb_verify(int argc, char **argv);
extern const char usage_sign[], usage_inspect[], usage_verify[];
/* Loads .pub files into a malloc'd trusted-key table; NULL with the error printed. */
struct ota_trusted_key *cli_load_trusted_keys(const char **paths, size_t count);
/* verb_flash.c */
int verb_flash(int argc, char **argv);
extern const char usage_flash[];
/* verb_store.c */
int verb_store(int argc, char **argv);
extern const char usage_store[];

/* verb_push.c: the device API (client.c) */
int verb_push(int argc, char **argv);
int verb_rollback(int argc, char **argv);
int verb_restart(int argc, char **argv);
extern const char usage_push[], usage_rollback[], usage_restart[];
/* Exit codes of the verbs that act on a board (docs/cli.md). */
#define CLI_EXIT_UNREACHABLE 3 /* no connection, or it broke before the verdict */
#define CLI_EXIT_REFUSED     4 /* the board refused the request (4xx): nothing changed */
#define CLI_EXIT_ROLLED_BACK 5 /* the new version failed its health gate; the old one serves */
#define CLI_EXIT_OP_FAILED   6 /* the board could not run either version, or answered 5xx */
#define CLI_EXIT_TIMEOUT     7 /* no verdict within --timeout; the board carries on */

/* config.c: boards and the operator key named once (docs/cli.md) */
struct cli_target {
	char label[64]; /* as the user named it */
	char host[256];
	uint16_t port;
	char key[4096]; /* the operator's private key file */
};
/*
 * BOARD is a [board NAME] of the config file or HOST[:PORT]; the key is
 * key_option, else the board's key, else the file's default. 0, or an exit
 * code with the error printed.
 */
int cli_resolve_board(const char *board, const char *key_option, struct cli_target *t);
/* The same; without key_required, t->key may be left "" (reads the board
 * answers unsigned). */
int cli_resolve_board_key(const char *board, const char *key_option, struct cli_target *t,
			  bool key_required);

/* verb_health.c: the board's health and state (docs/cli.md) */
int verb_health(int argc, char **argv);
int verb_status(int argc, char **argv);
int verb_logs(int argc, char **argv);
int verb_events(int argc, char **argv);
extern const char usage_health[], usage_status[], usage_logs[], usage_events[];

/* util.c: messages */
void cli_set_verb(const char *verb);
/* "flotilla: VERB: message" on stderr; returns CLI_EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, then "(try 'flotilla VERB --help')"; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* util.c: option parsing. Matches argv[*i] against "--name VALUE" or
 * "--name=VALUE"; on a match stores the value, advances *i and returns 1;
 * returns -1 when the value is missing (error already printed). */
int cli_option(int argc, char **argv, int *i, const char *name, const char **value);
/* 1 when argv[i] is "--help" or "-h". */
int cli_is_help(const char *arg);
int cli_parse_u32(const char *s, uint32_t *out);
int cli_parse_u64(const char *s, uint64_t *out);

/* util.c: files */
/* Whole file into a malloc'd buffer; NULL with the error printed. */
uint8_t *cli_read_file(const char *path, size_t *len);
/* Creates path (replacing it atomically through path.tmp) with mode. */
int cli_write_file(const char *path, const void *data, size_t len, unsigned mode);

/* util.c: output */
void cli_hex(char *out, const uint8_t *data, size_t len); /* out: 2*len+1 */
void cli_json_string(const char *s);                      /* quoted, escaped, to stdout */

#endif
