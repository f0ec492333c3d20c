/*
 * verb_health.c: `flotilla health`, `status`, `logs`, `events`: what a board
 * and its guests look like, over the device API's read-only resources
 * (docs/device-api.md, "Health and status"; docs/cli.md).
 *
 * health: GET /v1/health (and /v1/health/checks with --checks): a table, and
 *   an exit status for cron and Nagios-style monitors: 0 ok, 1 degraded,
 *   2 failed, 3 unreachable or unknown. --watch refreshes it.
 * status: GET /v1/ping, /v1/guests, then /v1/guests/NAME for each guest.
 * logs:   GET /v1/guests/NAME/logs, signed; -f follows
 *   (?follow=1: newline-delimited JSON for as long as we listen).
 * events: GET /v1/events, signed.
 * --json on all: the board's documents as it sent them.
 *
 * Reads that the board answers unsigned are sent unsigned; when it asks for
 * a signature (401, a board built with CONFIG_HEALTH_AUTH) and an operator
 * key is known, the request is signed and sent again. logs and events are
 * always signed (the board always asks).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "client.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S 10
#define FOLLOW_STALL_MS   35000 /* the board sends a heartbeat every 10 s of silence */
#define ITEM_MAX          8192

/* Exit codes of `flotilla health` (Nagios' plugin convention). */
#define HEALTH_EXIT_OK       0
#define HEALTH_EXIT_DEGRADED 1
#define HEALTH_EXIT_FAILED   2
#define HEALTH_EXIT_UNKNOWN  3

#define BOARD_TEXT                                                                                 \
	"  BOARD          a board named in the config file, or HOST[:PORT] (port 80 by default)\n" \
	"  --key FILE     the operator's private key (default: the config file's)\n"               \
	"  --json         print the board's JSON document(s) as it sent them\n"                    \
	"  --timeout S    how long to wait for the board (default 10)\n"

const char usage_health[] =
    "usage: flotilla health BOARD [--checks] [--watch [--interval S] [--count N]] [--json]\n"
    "                      [--key OPERATOR.key] [--timeout S]\n"
    "\n"
    "Asks the board whether it and each of its guests are healthy (GET /v1/health) and\n"
    "prints its guests and, worst first, every check that is not ok with its reason.\n"
    "Colour on a terminal only (NO_COLOR turns it off).\n"
    "\n" BOARD_TEXT
    "  --checks       every check with its reason (GET /v1/health/checks), not only problems\n"
    "  --watch        refresh every --interval seconds (default 2), in place on a terminal,\n"
    "                 until interrupted or --count refreshes; exits with the last status\n"
    "\n"
    "exit status (for cron and Nagios-style monitors):\n"
    "  0  ok          every check is ok\n"
    "  1  degraded    it works, but someone should look\n"
    "  2  failed      something does not serve what it should (or a bad command line)\n"
    "  3  unreachable no answer, not a Flotilla board, or it has no verdict yet\n";

const char usage_status[] =
    "usage: flotilla status BOARD [--json] [--key OPERATOR.key] [--timeout S]\n"
    "\n"
    "The board's guests: state, version, the slot it runs from and both slots' versions,\n"
    "addresses, uptime and restarts (GET /v1/guests/NAME for each guest).\n"
    "\n" BOARD_TEXT "\n"
    "exit status: 0 answered; 1 an error on this side; 2 bad command line;\n"
    "3 unreachable or not the device API; 4 the board refused (401/403).\n";

const char usage_logs[] =
    "usage: flotilla logs BOARD NAME [-f] [--json] [--key OPERATOR.key] [--timeout S]\n"
    "\n"
    "Guest NAME's last console lines as the board keeps them (GET /v1/guests/NAME/logs,\n"
    "signed with the operator key). With -f (--follow), then each new line as the guest\n"
    "prints it, and the control domain's news about the guest (state changes, operations,\n"
    "health) as lines starting with '--', until interrupted or the board goes away.\n"
    "\n" BOARD_TEXT "\n"
    "exit status: 0 answered (with -f: interrupted); 1 an error on this side; 2 bad\n"
    "command line; 3 unreachable, or the board went away while following; 4 refused\n"
    "(401/403: the key is not an operator of this board; 404: no such guest).\n";

const char usage_events[] =
    "usage: flotilla events BOARD [--json] [--key OPERATOR.key] [--timeout S]\n"
    "\n"
    "The card's event log, oldest first: installs, trials, confirmations, rollbacks and\n"
    "refusals, with the boot and uptime of each (GET /v1/events, signed).\n"
    "\n" BOARD_TEXT "\n"
    "exit status: as for 'flotilla logs'.\n";

struct options {
	const char *positional[2];
	int positional_count;
	const char *key;
	bool json, follow, watch, checks;
	uint32_t timeout_s, interval_s, count;
};

struct session {
	struct cli_target target;
	struct client client;
	struct client_signer signer;
	bool signer_loaded;
	bool json;
	bool colour;
};

/* Large: static, not on the stack. */
static struct client_response response;
static struct session session;
static char item[ITEM_MAX];

/* ---------------------------------------------------------------- options */

static int parse_options(int argc, char **argv, struct options *o, int want, bool may_follow,
			 bool may_watch)
{
	memset(o, 0, sizeof(*o));
	o->timeout_s = DEFAULT_TIMEOUT_S;
	o->interval_s = 2;
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;

		if ((r = cli_option(argc, argv, &i, "--key", &o->key)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
		} else if ((r = cli_option(argc, argv, &i, "--timeout", &v)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			if (cli_parse_u32(v, &o->timeout_s) != 0 || o->timeout_s == 0 ||
			    o->timeout_s > 3600)
				return cli_usage_error("bad --timeout '%s' (seconds, 1..3600)", v);
		} else if (may_watch && (r = cli_option(argc, argv, &i, "--interval", &v)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			if (cli_parse_u32(v, &o->interval_s) != 0 || o->interval_s == 0 ||
			    o->interval_s > 86400)
				return cli_usage_error("bad --interval '%s' (seconds, 1..86400)",
						       v);
		} else if (may_watch && (r = cli_option(argc, argv, &i, "--count", &v)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			if (cli_parse_u32(v, &o->count) != 0 || o->count == 0)
				return cli_usage_error("bad --count '%s' (1 or more)", v);
		} else if (strcmp(argv[i], "--json") == 0) {
			o->json = true;
		} else if (may_follow &&
			   (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)) {
			o->follow = true;
		} else if (may_watch && strcmp(argv[i], "--watch") == 0) {
			o->watch = true;
		} else if (may_watch && strcmp(argv[i], "--checks") == 0) {
			o->checks = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return cli_usage_error("unknown option %s", argv[i]);
		} else if (o->positional_count < want) {
			o->positional[o->positional_count++] = argv[i];
		} else {
			return cli_usage_error("unexpected argument '%s'", argv[i]);
		}
	}
	if (o->positional_count < want)
		return cli_usage_error("missing %s", o->positional_count == 0
							 ? (want == 1 ? "BOARD" : "BOARD and NAME")
							 : "NAME");
	if (o->count && !o->watch)
		return cli_usage_error("--count goes with --watch");
	return 0;
}

static int open_session(struct session *s, const struct options *o, bool key_required)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->json = o->json;
	rc = cli_resolve_board_key(o->positional[0], o->key, &s->target, key_required);
	if (rc != 0)
		return rc;
	if (s->target.key[0]) {
		if (client_signer_load(&s->signer, s->target.key) != 0)
			return CLI_EXIT_FAIL;
		s->signer_loaded = true;
	}
	{
		const char *no_colour = getenv("NO_COLOR");
		const char *term = getenv("TERM");

		s->colour = !o->json && isatty(STDOUT_FILENO) && !(no_colour && no_colour[0]) &&
			    !(term && strcmp(term, "dumb") == 0);
	}
	client_init(&s->client, s->target.host, s->target.port, (int)o->timeout_s * 1000);
	return 0;
}

static void close_session(struct session *s)
{
	client_close(&s->client);
	if (s->signer_loaded)
		client_signer_free(&s->signer);
}

/* ---------------------------------------------------------------- requests */

/*
 * GET target into response. sign: always, or only when the board asks
 * (401/403) and a key is known. CLIENT_OK (any HTTP status: the caller
 * looks), or a CLIENT_ code with s->client.error set.
 */
static int get(struct session *s, const char *target, bool sign, struct client_request *extra)
{
	struct client_request rq = {.method = "GET", .target = target, .body_fd = -1};
	char auth[CLIENT_AUTH_MAX];
	uint8_t empty[OTA_SHA256_SIZE];
	int rc;

	if (extra)
		rq = *extra;
	rq.method = "GET";
	rq.target = target;
	rq.body_fd = -1;
	ota_sha256("", 0, empty);
	if (sign) {
		rc = client_authorize(&s->client, &s->signer, "GET", target, empty, auth, NULL);
		if (rc != CLIENT_OK)
			return rc;
		rq.authorization = auth;
		return client_request(&s->client, &rq, &response);
	}
	rc = client_request(&s->client, &rq, &response);
	if (rc == CLIENT_OK && (response.status == 401 || response.status == 403) &&
	    s->signer_loaded) {
		rc = client_authorize(&s->client, &s->signer, "GET", target, empty, auth, NULL);
		if (rc != CLIENT_OK)
			return rc;
		rq.authorization = auth;
		rc = client_request(&s->client, &rq, &response);
	}
	return rc;
}

/* A transport failure: one line, exit 3 (or 1 for our own side). */
static int transport_failure(struct session *s, int rc)
{
	if (rc == CLIENT_E_LOCAL) {
		cli_error("%s", s->client.error);
		return CLI_EXIT_FAIL;
	}
	if (rc == CLIENT_E_REFUSED) {
		cli_error("%s (%s)", s->client.error, s->target.label);
		return CLI_EXIT_REFUSED;
	}
	cli_error("%s (%s)", s->client.error, s->target.label);
	return CLI_EXIT_UNREACHABLE;
}

/* A non-200 answer: the board's reason, one line; 4 for 4xx, 3 otherwise. */
static int http_failure(struct session *s, const char *target)
{
	char code[64] = "", message[200] = "";

	client_json_string(response.body, "error", code, sizeof(code));
	client_json_string(response.body, "message", message, sizeof(message));
	cli_error("%s: GET %s: HTTP %d%s%s%s%s", s->target.label, target, response.status,
		  code[0] ? " " : "", code, message[0] ? ": " : "", message);
	if (response.status == 401 && !s->signer_loaded)
		fprintf(stderr, "flotilla: (the board wants a signed request: give --key "
				"OPERATOR.key or key = in the config file)\n");
	return response.status >= 400 && response.status < 500 ? CLI_EXIT_REFUSED
							       : CLI_EXIT_UNREACHABLE;
}

/* ---------------------------------------------------------------- JSON lists */

/* Where the value of "key": starts (the first such member), or NULL. */
static const char *member(const char *json, const char *key)
{
	size_t key_len = strlen(key);

	for (const char *p = json; (p = strchr(p, '"')) != NULL;) {
		const char *q = p + 1;

		while (*q && *q != '"')
			q += *q == '\\' && q[1] ? 2 : 1;
		if (!*q)
			return NULL;
		if ((size_t)(q - p - 1) == key_len && strncmp(p + 1, key, key_len) == 0) {
			const char *v = q + 1;

			while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
				v++;
			if (*v == ':') {
				for (v++; *v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'; v++)
					;
				return v;
			}
		}
		p = q + 1;
	}
	return NULL;
}

/*
 * The elements of the array json["key"]: *cursor starts NULL; each call
 * copies the next element's text (an object, a string with its quotes, a
 * number) into out and returns true, false after the last. Elements longer
 * than cap are skipped.
 */
static bool next_element(const char *json, const char *key, const char **cursor, char *out,
			 size_t cap)
{
	const char *p = *cursor;

	if (!p) {
		p = member(json, key);
		if (!p || *p != '[')
			return false;
		p++;
	}
	for (;;) {
		const char *start;
		int depth = 0;
		bool in_string = false;

		while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == ']' || !*p) {
			*cursor = p;
			return false;
		}
		start = p;
		for (; *p; p++) {
			if (in_string) {
				if (*p == '\\' && p[1])
					p++;
				else if (*p == '"')
					in_string = false;
				if (!in_string && depth == 0) {
					p++;
					break;
				}
				continue;
			}
			if (*p == '"')
				in_string = true;
			else if (*p == '{' || *p == '[')
				depth++;
			else if (*p == '}' || *p == ']') {
				if (depth == 0)
					break; /* the array's end, after a number */
				if (--depth == 0) {
					p++;
					break;
				}
			} else if (*p == ',' && depth == 0)
				break;
		}
		*cursor = p;
		if ((size_t)(p - start) < cap) {
			memcpy(out, start, (size_t)(p - start));
			out[p - start] = '\0';
			return true;
		}
	}
}

/* A string element ("text" with its quotes) unescaped into out. */
static void element_string(const char *element, char *out, size_t cap)
{
	static char wrapped[ITEM_MAX + 16];

	snprintf(wrapped, sizeof(wrapped), "{\"v\":%s}", element);
	if (client_json_string(wrapped, "v", out, cap) != 0)
		snprintf(out, cap, "%s", element);
}

static void field(const char *json, const char *key, char *out, size_t cap)
{
	uint64_t n;

	if (client_json_string(json, key, out, cap) == 0)
		return;
	if (client_json_u64(json, key, &n) == 0)
		snprintf(out, cap, "%llu", (unsigned long long)n);
	else
		snprintf(out, cap, "-");
}

/* ---------------------------------------------------------------- output */

static void duration(uint64_t ms, char *out, size_t cap)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(out, cap, "%llu s", (unsigned long long)s);
	else if (s < 3600)
		snprintf(out, cap, "%llum %02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(out, cap, "%lluh %02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60));
	else
		snprintf(out, cap, "%llud %lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s / 3600 % 24));
}

/* A status word, padded to width, coloured on a terminal. */
static void status_word(FILE *out, const struct session *s, const char *status, int width)
{
	const char *colour = strcmp(status, "ok") == 0         ? "\033[32m"
			     : strcmp(status, "degraded") == 0 ? "\033[33m"
			     : strcmp(status, "failed") == 0   ? "\033[31m"
							       : "\033[35m";

	if (s->colour)
		fprintf(out, "%s%-*s\033[0m", colour, width, status);
	else
		fprintf(out, "%-*s", width, status);
}

static int health_exit(const char *status)
{
	return strcmp(status, "ok") == 0         ? HEALTH_EXIT_OK
	       : strcmp(status, "degraded") == 0 ? HEALTH_EXIT_DEGRADED
	       : strcmp(status, "failed") == 0   ? HEALTH_EXIT_FAILED
						 : HEALTH_EXIT_UNKNOWN;
}

/* ---------------------------------------------------------------- health */

static char checks_body[CLIENT_BODY_MAX + 1];

/* One look at the board: prints it to out, returns the exit code. */
static int health_once(struct session *s, const struct options *o, FILE *out)
{
	char status[24] = "unknown", board[72] = "", version[40] = "", guest_status[24];
	uint64_t uptime = 0, checks = 0, ago = 0;
	const char *cursor = NULL;
	int rc, code;
	bool any = false;

	rc = get(s, "/v1/health", false, NULL);
	if (rc != CLIENT_OK) {
		transport_failure(s, rc); /* the message; the exit code is health's own */
		if (s->json)
			fprintf(out, "{\"status\":\"unreachable\",\"address\":\"%s:%u\"}\n",
				s->target.host, s->target.port);
		return HEALTH_EXIT_UNKNOWN;
	}
	if (response.status != 200 ||
	    client_json_string(response.body, "status", status, sizeof(status)) != 0) {
		if (response.status != 200)
			http_failure(s, "/v1/health");
		else
			cli_error("%s: GET /v1/health: no status in the answer (is it a Flotilla "
				  "board?)",
				  s->target.label);
		if (s->json)
			fprintf(out, "{\"status\":\"unreachable\",\"address\":\"%s:%u\"}\n",
				s->target.host, s->target.port);
		return HEALTH_EXIT_UNKNOWN;
	}
	code = health_exit(status);
	if (o->checks) {
		memcpy(checks_body, response.body, response.body_len + 1);
		rc = get(s, "/v1/health/checks", false, NULL);
		if (rc != CLIENT_OK || response.status != 200) {
			if (rc != CLIENT_OK)
				transport_failure(s, rc);
			else
				http_failure(s, "/v1/health/checks");
			return HEALTH_EXIT_UNKNOWN;
		}
	}
	if (s->json) {
		if (o->checks)
			fprintf(out, "{\"health\":%s,\"checks\":%s}\n", checks_body, response.body);
		else
			fprintf(out, "%s%s", response.body,
				response.body_len && response.body[response.body_len - 1] == '\n'
				    ? ""
				    : "\n");
		return code;
	}
	{
		const char *summary = o->checks ? checks_body : response.body;

		client_json_string(summary, "board", board, sizeof(board));
		client_json_string(summary, "version", version, sizeof(version));
		client_json_u64(summary, "uptime_ms", &uptime);
		client_json_u64(summary, "checks", &checks);
		client_json_u64(summary, "checked_ms_ago", &ago);
		{
			char up[24];

			duration(uptime, up, sizeof(up));
			fprintf(out, "%s  ", board[0] ? board : s->target.label);
			status_word(out, s, status, 0);
			fprintf(out,
				"  (%s:%u, flotilla %s, up %s, %llu checks, checked %llu s ago)\n",
				s->target.host, s->target.port, version[0] ? version : "?", up,
				(unsigned long long)checks, (unsigned long long)(ago / 1000));
		}
		fprintf(out, "\n%-16s %-9s %-10s %s\n", "GUEST", "STATE", "VERSION", "HEALTH");
		while (next_element(summary, "guests", &cursor, item, sizeof(item))) {
			char name[64], state[24], gversion[40];

			field(item, "name", name, sizeof(name));
			field(item, "state", state, sizeof(state));
			field(item, "version", gversion, sizeof(gversion));
			field(item, "status", guest_status, sizeof(guest_status));
			fprintf(out, "%-16s %-9s %-10s ", name, state, gversion);
			status_word(out, s, guest_status, 0);
			fputc('\n', out);
			any = true;
		}
		if (!any)
			fprintf(out, "(no guests in the board's plan)\n");
		cursor = NULL;
		if (o->checks) {
			fprintf(out, "\n%-26s %-9s %s\n", "CHECK", "STATUS", "REASON");
			while (next_element(response.body, "checks", &cursor, item, sizeof(item))) {
				char name[64], cstatus[24], reason[200];

				field(item, "name", name, sizeof(name));
				field(item, "status", cstatus, sizeof(cstatus));
				field(item, "reason", reason, sizeof(reason));
				fprintf(out, "%-26s ", name);
				status_word(out, s, cstatus, 9);
				fprintf(out, " %s\n", reason);
			}
		} else {
			bool problems = false;

			while (next_element(summary, "problems", &cursor, item, sizeof(item))) {
				char name[64], cstatus[24], reason[200];

				if (!problems)
					fprintf(out, "\nPROBLEMS (worst first)\n");
				problems = true;
				field(item, "check", name, sizeof(name));
				field(item, "status", cstatus, sizeof(cstatus));
				field(item, "reason", reason, sizeof(reason));
				fprintf(out, "  ");
				status_word(out, s, cstatus, 9);
				fprintf(out, " %-24s %s\n", name, reason);
			}
			if (!problems && code == HEALTH_EXIT_OK)
				fprintf(out, "\nevery check is ok\n");
			else if (!problems)
				fprintf(out, "\n(the board has not run its checks yet)\n");
		}
	}
	return code;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void sleep_s(uint32_t s)
{
	struct timespec ts = {.tv_sec = s, .tv_nsec = 0};

	while (!interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int verb_health(int argc, char **argv)
{
	struct options o;
	struct session *s = &session;
	int rc;

	if (argc > 1 && cli_is_help(argv[1]))
		return fputs(usage_health, stdout), CLI_EXIT_OK;
	rc = parse_options(argc, argv, &o, 1, false, true);
	if (rc != 0)
		return rc;
	rc = open_session(s, &o, false);
	if (rc != 0)
		return rc;
	if (!o.watch) {
		rc = health_once(s, &o, stdout);
	} else {
		bool tty = isatty(STDOUT_FILENO) && !o.json;
		struct sigaction sa = {.sa_handler = on_interrupt};

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		for (uint32_t n = 0; !interrupted; n++) {
			char *text = NULL;
			size_t len = 0;
			FILE *out = open_memstream(&text, &len);

			if (!out) {
				rc = cli_error("out of memory");
				break;
			}
			/* Rendered first, shown at once: the screen never shows half a table. */
			rc = health_once(s, &o, out);
			if (!o.json) {
				time_t now = time(NULL);
				char when[32];

				strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
				fprintf(out, "\n%s, every %u s%s\n", when, o.interval_s,
					tty ? " (Ctrl-C to stop)" : "");
			}
			fclose(out);
			if (tty)
				fputs("\033[H\033[2J", stdout);
			else if (n && !o.json)
				fputc('\n', stdout);
			fwrite(text, 1, len, stdout);
			fflush(stdout);
			free(text);
			if (o.count && n + 1 >= o.count)
				break;
			client_close(&s->client); /* a fresh connection each time */
			sleep_s(o.interval_s);
		}
	}
	close_session(s);
	return rc;
}

/* ---------------------------------------------------------------- status */

static char ping_body[4096];
static char guests_body[CLIENT_BODY_MAX + 1];

int verb_status(int argc, char **argv)
{
	struct options o;
	struct session *s = &session;
	const char *cursor = NULL;
	char board[72] = "", version[40] = "", up[24];
	uint64_t uptime = 0;
	int rc;
	bool first = true;

	if (argc > 1 && cli_is_help(argv[1]))
		return fputs(usage_status, stdout), CLI_EXIT_OK;
	rc = parse_options(argc, argv, &o, 1, false, false);
	if (rc != 0)
		return rc;
	rc = open_session(s, &o, false);
	if (rc != 0)
		return rc;
	rc = get(s, "/v1/ping", false, NULL);
	if (rc != CLIENT_OK) {
		rc = transport_failure(s, rc);
		goto out;
	}
	if (response.status != 200) {
		rc = http_failure(s, "/v1/ping");
		goto out;
	}
	{
		size_t n = response.body_len < sizeof(ping_body) - 1 ? response.body_len
								     : sizeof(ping_body) - 1;

		memcpy(ping_body, response.body, n);
		ping_body[n] = '\0';
	}
	rc = get(s, "/v1/guests", false, NULL);
	if (rc != CLIENT_OK) {
		rc = transport_failure(s, rc);
		goto out;
	}
	if (response.status != 200) {
		rc = http_failure(s, "/v1/guests");
		goto out;
	}
	memcpy(guests_body, response.body, response.body_len + 1);
	client_json_string(ping_body, "board", board, sizeof(board));
	client_json_string(ping_body, "version", version, sizeof(version));
	client_json_u64(ping_body, "uptime_ms", &uptime);
	duration(uptime, up, sizeof(up));
	if (o.json)
		printf("{\"board\":%s,\"guests\":[", ping_body);
	else
		printf(
		    "%s  (%s:%u)  flotilla %s, up %s\n\n%-12s %-8s %-8s %-4s %-26s %-16s %-8s %s\n",
		    board[0] ? board : s->target.label, s->target.host, s->target.port,
		    version[0] ? version : "?", up, "GUEST", "STATE", "VERSION", "SLOT", "SLOTS",
		    "ADDRESSES", "UPTIME", "RESTARTS");
	while (next_element(guests_body, "guests", &cursor, item, sizeof(item))) {
		char name[64], target[128], state[24], gversion[40], slot[8], slots[160] = "",
									      addresses[128] = "";
		const char *sub = NULL;
		char element[256];
		uint64_t guest_up = 0, restarts = 0;

		field(item, "name", name, sizeof(name));
		snprintf(target, sizeof(target), "/v1/guests/%s", name);
		rc = get(s, target, false, NULL);
		if (rc != CLIENT_OK) {
			if (o.json)
				printf("]}\n");
			rc = transport_failure(s, rc);
			goto out;
		}
		if (response.status != 200) {
			if (o.json)
				printf("]}\n");
			rc = http_failure(s, target);
			goto out;
		}
		if (o.json) {
			printf("%s%s", first ? "" : ",", response.body);
			first = false;
			continue;
		}
		field(response.body, "state", state, sizeof(state));
		field(response.body, "version", gversion, sizeof(gversion));
		if (client_json_string(response.body, "slot", slot, sizeof(slot)) != 0)
			snprintf(slot, sizeof(slot), "-");
		while (next_element(response.body, "slots", &sub, element, sizeof(element))) {
			char letter[4], sstate[24], sversion[40];
			size_t n = strlen(slots);

			field(element, "slot", letter, sizeof(letter));
			field(element, "state", sstate, sizeof(sstate));
			if (client_json_string(element, "version", sversion, sizeof(sversion)) != 0)
				sversion[0] = '\0';
			snprintf(slots + n, sizeof(slots) - n, "%s%s:%s%s%s", n ? " " : "", letter,
				 sstate, sversion[0] ? " " : "", sversion);
		}
		sub = NULL;
		while (next_element(response.body, "addresses", &sub, element, sizeof(element))) {
			char a[64];
			size_t n = strlen(addresses);

			element_string(element, a, sizeof(a));
			snprintf(addresses + n, sizeof(addresses) - n, "%s%s", n ? "," : "", a);
		}
		if (client_json_u64(response.body, "uptime_ms", &guest_up) == 0)
			duration(guest_up, up, sizeof(up));
		else
			snprintf(up, sizeof(up), "-");
		client_json_u64(response.body, "restarts", &restarts);
		printf("%-12s %-8s %-8s %-4s %-26s %-16s %-8s %llu\n", name, state, gversion, slot,
		       slots[0] ? slots : "(boot bundle)", addresses[0] ? addresses : "-", up,
		       (unsigned long long)restarts);
	}
	if (o.json)
		printf("]}\n");
	rc = CLI_EXIT_OK;
out:
	close_session(s);
	return rc;
}

/* ---------------------------------------------------------------- logs */

struct follow {
	const char *guest;
	bool json;
	char line[ITEM_MAX];
	size_t len;
	unsigned lines;
};

/* One line of the board's stream (newline-delimited JSON). */
static void follow_line(struct follow *f, const char *line)
{
	static char text[ITEM_MAX];
	char event[32], a[64], b[64], reason[200];

	if (!line[0])
		return;
	if (client_json_string(line, "event", event, sizeof(event)) == 0 &&
	    strcmp(event, "heartbeat") == 0)
		return;
	if (f->json) {
		printf("%s\n", line);
	} else if (client_json_string(line, "line", text, sizeof(text)) == 0) {
		printf("%s\n", text);
		f->lines++;
	} else if (strcmp(event, "state") == 0) {
		uint64_t restarts = 0;

		field(line, "state", a, sizeof(a));
		field(line, "version", b, sizeof(b));
		client_json_u64(line, "restarts", &restarts);
		printf("-- %s: %s, version %s, %llu restart(s)\n", f->guest, a, b,
		       (unsigned long long)restarts);
	} else if (strcmp(event, "operation") == 0) {
		field(line, "kind", a, sizeof(a));
		field(line, "stage", b, sizeof(b));
		if (client_json_string(line, "reason", reason, sizeof(reason)) != 0)
			reason[0] = '\0';
		printf("-- %s: %s %s%s%s\n", f->guest, a, b, reason[0] ? ": " : "", reason);
	} else if (strcmp(event, "health") == 0) {
		field(line, "status", a, sizeof(a));
		if (client_json_string(line, "reason", reason, sizeof(reason)) != 0)
			reason[0] = '\0';
		printf("-- %s: health %s%s%s\n", f->guest, a, reason[0] ? ": " : "", reason);
	} else if (strcmp(event, "dropped") == 0) {
		field(line, "lines", a, sizeof(a));
		printf("-- %s: %s line(s) lost (printed faster than they were read)\n", f->guest,
		       a);
	}
	fflush(stdout);
}

static bool follow_body(void *ctx, const char *data, size_t len)
{
	struct follow *f = ctx;

	for (size_t i = 0; i < len && !interrupted; i++) {
		if (data[i] == '\n') {
			f->line[f->len] = '\0';
			follow_line(f, f->line);
			f->len = 0;
		} else if (f->len + 1 < sizeof(f->line)) {
			f->line[f->len++] = data[i];
		}
	}
	return !interrupted;
}

int verb_logs(int argc, char **argv)
{
	struct options o;
	struct session *s = &session;
	char target[128];
	const char *name, *cursor = NULL;
	int rc;

	if (argc > 1 && cli_is_help(argv[1]))
		return fputs(usage_logs, stdout), CLI_EXIT_OK;
	rc = parse_options(argc, argv, &o, 2, true, false);
	if (rc != 0)
		return rc;
	name = o.positional[1];
	if (!ota_name_valid(name, strlen(name)))
		return cli_usage_error("bad guest name '%s'", name);
	rc = open_session(s, &o, true);
	if (rc != 0)
		return rc;
	snprintf(target, sizeof(target), "/v1/guests/%s/logs%s", name, o.follow ? "?follow=1" : "");
	if (o.follow) {
		static struct follow f;
		struct sigaction sa = {.sa_handler = on_interrupt};
		struct client_request rq = {
		    .on_body = follow_body, .on_body_ctx = &f, .stream_stall_ms = FOLLOW_STALL_MS};

		f.guest = name;
		f.json = o.json;
		/* Ctrl-C ends the follow: a clean exit 0, not a killed process. */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		rc = get(s, target, true, &rq);
		if (interrupted) {
			rc = CLI_EXIT_OK;
		} else if (rc != CLIENT_OK) {
			rc = transport_failure(s, rc);
		} else if (response.status != 200) {
			rc = http_failure(s, target);
		} else {
			cli_error("%s closed the stream of %s's lines", s->target.label, name);
			rc = CLI_EXIT_UNREACHABLE;
		}
		goto out;
	}
	rc = get(s, target, true, NULL);
	if (rc != CLIENT_OK) {
		rc = transport_failure(s, rc);
		goto out;
	}
	if (response.status != 200) {
		rc = http_failure(s, target);
		goto out;
	}
	if (o.json) {
		printf("%s\n", response.body);
	} else {
		static char text[ITEM_MAX];

		while (next_element(response.body, "lines", &cursor, item, sizeof(item))) {
			element_string(item, text, sizeof(text));
			printf("%s\n", text);
		}
	}
	rc = CLI_EXIT_OK;
out:
	close_session(s);
	return rc;
}

/* ---------------------------------------------------------------- events */

int verb_events(int argc, char **argv)
{
	struct options o;
	struct session *s = &session;
	const char *cursor = NULL;
	int rc;
	bool any = false;

	if (argc > 1 && cli_is_help(argv[1]))
		return fputs(usage_events, stdout), CLI_EXIT_OK;
	rc = parse_options(argc, argv, &o, 1, false, false);
	if (rc != 0)
		return rc;
	rc = open_session(s, &o, true);
	if (rc != 0)
		return rc;
	rc = get(s, "/v1/events", true, NULL);
	if (rc != CLIENT_OK) {
		rc = transport_failure(s, rc);
		goto out;
	}
	if (response.status != 200) {
		rc = http_failure(s, "/v1/events");
		goto out;
	}
	if (o.json) {
		printf("%s\n", response.body);
		rc = CLI_EXIT_OK;
		goto out;
	}
	printf("%-6s %-5s %-10s %-16s %-12s %-4s %-10s %-10s %s\n", "SEQ", "BOOT", "UPTIME",
	       "EVENT", "GUEST", "SLOT", "VERSION", "STATUS", "REASON");
	while (next_element(response.body, "events", &cursor, item, sizeof(item))) {
		char seq[24], boot[24], type[40], guest[64], slot[8], version[40], status[40],
		    reason[160], up[24];
		uint64_t uptime = 0;

		field(item, "seq", seq, sizeof(seq));
		field(item, "boot", boot, sizeof(boot));
		field(item, "type", type, sizeof(type));
		field(item, "guest", guest, sizeof(guest));
		field(item, "slot", slot, sizeof(slot));
		field(item, "version", version, sizeof(version));
		field(item, "status", status, sizeof(status));
		if (client_json_string(item, "reason", reason, sizeof(reason)) != 0)
			reason[0] = '\0';
		client_json_u64(item, "uptime_ms", &uptime);
		duration(uptime, up, sizeof(up));
		printf("%-6s %-5s %-10s %-16s %-12s %-4s %-10s %-10s %s\n", seq, boot, up, type,
		       guest, slot, version, status, reason);
		any = true;
	}
	if (!any)
		printf("(the event log is empty)\n");
	rc = CLI_EXIT_OK;
out:
	close_session(s);
	return rc;
}
