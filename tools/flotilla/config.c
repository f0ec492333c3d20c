/*
 * config.c: the CLI's config file, where boards and the operator key are
 * named once (docs/cli.md):
 *
 *   # defaults for every board
 *   key = ~/.config/flotilla/operator.key
 *
 *   [board lab]
 *   address = 192.168.1.50        # HOST[:PORT], port 80 by default
 *   key = lab-operator.key        # relative to this file's directory
 *
 * $FLOTILLA_CONFIG names the file (it must then exist); else
 * $XDG_CONFIG_HOME/flotilla/config or ~/.config/flotilla/config, if present.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "client.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 1024

_Static_assert(sizeof(((struct cli_target *)0)->host) == CLIENT_HOST_MAX + 1,
	       "cli_target holds any host client.h takes");

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* ~/x and paths relative to the config file's directory, into out. */
static int expand_path(const char *config, const char *value, char *out, size_t cap)
{
	const char *home = getenv("HOME");
	const char *slash = strrchr(config, '/');
	int n;

	if (value[0] == '~' && value[1] == '/' && home)
		n = snprintf(out, cap, "%s%s", home, value + 1);
	else if (value[0] == '/' || !slash)
		n = snprintf(out, cap, "%s", value);
	else
		n = snprintf(out, cap, "%.*s/%s", (int)(slash - config), config, value);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static const char *config_path(char *buf, size_t cap, int *required)
{
	const char *env = getenv("FLOTILLA_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	*required = 0;
	if (env && env[0]) {
		*required = 1;
		return env;
	}
	if (xdg && xdg[0])
		snprintf(buf, cap, "%s/flotilla/config", xdg);
	else if (home && home[0])
		snprintf(buf, cap, "%s/.config/flotilla/config", home);
	else
		return NULL;
	return buf;
}

/*
 * Reads the file and fills t from the [board NAME] section (found = 1) and
 * the defaults. 0, or CLI_EXIT_FAIL with the error printed.
 */
static int read_config(const char *path, const char *name, struct cli_target *t, int *found,
		       char *default_key, size_t key_cap)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_LEN];
	int lineno = 0;
	enum { DEFAULTS, THIS_BOARD, OTHER_BOARD } section = DEFAULTS;

	if (!f)
		return cli_error("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *value, *hash;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			fclose(f);
			return cli_error("%s:%d: line too long", path, lineno);
		}
		/* A comment starts at '#' or ';' at the start or after a space. */
		for (hash = line; (hash = strpbrk(hash, "#;")) != NULL; hash++)
			if (hash == line || hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = '\0';
				break;
			}
		s = trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']'), *inner;

			if (!end || end[1] != '\0') {
				fclose(f);
				return cli_error("%s:%d: a section is [board NAME] or [defaults]",
						 path, lineno);
			}
			*end = '\0';
			inner = trim(s + 1);
			if (strcmp(inner, "defaults") == 0) {
				section = DEFAULTS;
				continue;
			}
			if (strncmp(inner, "board", 5) != 0 ||
			    (inner[5] != ' ' && inner[5] != '\t') || !*trim(inner + 5)) {
				fclose(f);
				return cli_error("%s:%d: a section is [board NAME] or [defaults]",
						 path, lineno);
			}
			inner = trim(inner + 5);
			section = strcmp(inner, name) == 0 ? THIS_BOARD : OTHER_BOARD;
			if (section == THIS_BOARD)
				*found = 1;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			fclose(f);
			return cli_error("%s:%d: expected 'name = value'", path, lineno);
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		if (strcmp(key, "key") == 0) {
			char *dest = section == DEFAULTS ? default_key : t->key;
			size_t cap = section == DEFAULTS ? key_cap : sizeof(t->key);

			if (section == OTHER_BOARD)
				continue;
			if (!*value || expand_path(path, value, dest, cap) != 0) {
				fclose(f);
				return cli_error("%s:%d: bad key path", path, lineno);
			}
		} else if (strcmp(key, "address") == 0) {
			if (section == DEFAULTS) {
				fclose(f);
				return cli_error("%s:%d: address belongs in a [board NAME] section",
						 path, lineno);
			}
			if (section == OTHER_BOARD)
				continue;
			if (client_parse_address(value, t->host, &t->port) != 0) {
				fclose(f);
				return cli_error("%s:%d: bad address '%s' (HOST or HOST:PORT)",
						 path, lineno, value);
			}
		} else {
			fclose(f);
			return cli_error("%s:%d: unknown setting '%s' (address, key)", path, lineno,
					 key);
		}
	}
	fclose(f);
	return 0;
}

int cli_resolve_board(const char *board, const char *key_option, struct cli_target *t)
{
	return cli_resolve_board_key(board, key_option, t, true);
}

int cli_resolve_board_key(const char *board, const char *key_option, struct cli_target *t,
			  bool key_required)
{
	char buf[PATH_MAX], default_key[PATH_MAX] = "";
	int required, found = 0;
	const char *path = config_path(buf, sizeof(buf), &required);
	FILE *probe;

	memset(t, 0, sizeof(*t));
	snprintf(t->label, sizeof(t->label), "%s", board);
	if (path && (required || (probe = fopen(path, "r")) != NULL)) {
		if (!required)
			fclose(probe);
		if (read_config(path, board, t, &found, default_key, sizeof(default_key)) != 0)
			return CLI_EXIT_FAIL;
	}
	if (found && !t->host[0])
		return cli_error("%s: [board %s] has no address", path, board);
	if (!found && client_parse_address(board, t->host, &t->port) != 0)
		return cli_usage_error("'%s' is neither a board in %s nor HOST[:PORT]", board,
				       path ? path : "the config file");
	if (key_option)
		snprintf(t->key, sizeof(t->key), "%s", key_option);
	else if (!t->key[0])
		snprintf(t->key, sizeof(t->key), "%s", default_key);
	if (!t->key[0] && key_required)
		return cli_usage_error("no operator key: give --key OPERATOR.key, or key = in %s",
				       path ? path : "~/.config/flotilla/config");
	return 0;
}
