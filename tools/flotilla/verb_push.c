/*
 * verb_push.c: `flotilla push`, `flotilla rollback`, `flotilla restart`: act
 * on a guest over the device API and follow the operation to its verdict.
 *
 * A push is PUT /v1/guests/NAME with the bundle streamed as the body, signed
 * by the operator (the signature commits to the bundle's signed head); the
 * board answers 202 with the operation, or a 4xx refusal. Rollback and
 * restart are signed POSTs without a body. Then the CLI polls
 * GET /v1/guests/NAME/operation and prints each stage as it is reached,
 * until the operation ends: confirmed (exit 0), refused, rolled back or
 * failed (each its own exit code, cli.h), or --timeout passes.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_INTERVAL_MS  250
#define DEFAULT_TIMEOUT_S 300
#define STALL_TIMEOUT_MS  30000
#define EXIT_CODES_TEXT                                                                            \
	"exit status:\n"                                                                           \
	"  0  confirmed: the new version serves and is confirmed on the card\n"                    \
	"  1  an error on this side (unreadable bundle or key)\n"                                  \
	"  2  bad command line or config file entry\n"                                             \
	"  3  the board is unreachable, did not answer in HTTP, or the connection broke\n"         \
	"  4  refused by the board (4xx: bad bundle, signature, busy...): nothing changed\n"       \
	"  5  rolled back: the new version failed its health gate; the previous one serves\n"      \
	"  6  failed: the board could not run the guest (or answered 5xx)\n"                       \
	"  7  no verdict within --timeout (the board carries on; run again to follow)\n"

const char usage_push[] =
    "usage: flotilla push BUNDLE --to BOARD[:PORT] [--key OPERATOR.key] [--json] [--timeout S]\n"
    "\n"
    "Streams a signed bundle to a board's device API (PUT /v1/guests/NAME, NAME from the\n"
    "bundle's manifest), with a progress bar, then follows the swap and prints each stage:\n"
    "installed, starting, healthy, confirmed; or refused / rolled back with the reason.\n"
    "\n"
    "  --to BOARD     a board named in the config file, or HOST[:PORT] (port 80 by default)\n"
    "  --key FILE     the operator's private key (flotilla keygen); default: the config file's\n"
    "  --json         print one JSON document with the final operation on stdout\n"
    "  --timeout S    how long to wait for the verdict after the upload (default 300)\n"
    "\n"
    "Config file: $FLOTILLA_CONFIG, else ~/.config/flotilla/config (docs/cli.md):\n"
    "  key = ~/keys/operator.key\n"
    "  [board lab]\n"
    "  address = 192.168.1.50:80\n"
    "\n" EXIT_CODES_TEXT;

const char usage_rollback[] =
    "usage: flotilla rollback BOARD NAME [--key OPERATOR.key] [--json] [--timeout S]\n"
    "\n"
    "Puts guest NAME back on its previous confirmed version, hot (POST\n"
    "/v1/guests/NAME/rollback), and follows the operation to its verdict as push does.\n"
    "BOARD and the options are as for 'flotilla push'.\n"
    "\n" EXIT_CODES_TEXT;

const char usage_restart[] =
    "usage: flotilla restart BOARD NAME [--key OPERATOR.key] [--json] [--timeout S]\n"
    "\n"
    "Restarts guest NAME's current version (POST /v1/guests/NAME/restart) and follows\n"
    "the operation to its verdict as push does. BOARD and the options are as for\n"
    "'flotilla push'.\n"
    "\n" EXIT_CODES_TEXT;

struct options {
	const char *positional[2];
	int positional_count;
	const char *to, *key;
	bool json;
	uint32_t timeout_s;
};

struct session {
	struct cli_target target;
	struct client client;
	struct client_signer signer;
	bool signer_loaded;
	bool json;
	const char *verb;
	char guest[OTA_NAME_MAX + 1];
	char board[CLIENT_BOARD_MAX + 1]; /* the board's own id, from its nonce */
	uint64_t start_ms;
	uint32_t timeout_s;
	uint64_t upload_bytes, upload_ms; /* until the board's answer: what it took to install */
	/* the outcome, for --json */
	int http_status;
	char error_code[48], error_message[256];
	const char *result;
	char operation[CLIENT_BODY_MAX + 1]; /* the board's last operation JSON, verbatim */
};

/* 16 KiB each: static, not on the stack. */
static struct client_response response;
static struct session session;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int parse_options(int argc, char **argv, struct options *o, int want_positional)
{
	memset(o, 0, sizeof(*o));
	o->timeout_s = DEFAULT_TIMEOUT_S;
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;

		if ((r = cli_option(argc, argv, &i, "--to", &o->to)) != 0 ||
		    (r = cli_option(argc, argv, &i, "--key", &o->key)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
		} else if ((r = cli_option(argc, argv, &i, "--timeout", &v)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			if (cli_parse_u32(v, &o->timeout_s) != 0 || o->timeout_s == 0 ||
			    o->timeout_s > 86400)
				return cli_usage_error("bad --timeout '%s' (seconds, 1..86400)", v);
		} else if (strcmp(argv[i], "--json") == 0) {
			o->json = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return cli_usage_error("unknown option %s", argv[i]);
		} else if (o->positional_count < want_positional) {
			o->positional[o->positional_count++] = argv[i];
		} else {
			return cli_usage_error("unexpected argument '%s'", argv[i]);
		}
	}
	if (o->positional_count < want_positional)
		return cli_usage_error("missing %s", want_positional == 1       ? "BUNDLE"
						     : o->positional_count == 0 ? "BOARD and NAME"
										: "NAME");
	return 0;
}

/* ---------------------------------------------------------------- output */

static void json_field(const char *name, const char *value, bool comma)
{
	printf("%s\"%s\":", comma ? "," : "", name);
	if (value)
		cli_json_string(value);
	else
		fputs("null", stdout);
}

/* A JSON object, whole (the board's body verbatim) or not at all. */
static bool is_json_object(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
		n--;
	return n >= 2 && s[0] == '{' && s[n - 1] == '}';
}

/* The verdict: --json's document, and the exit code. */
static int finish(struct session *s, int code)
{
	char address[300];

	if (!s->json)
		return code;
	snprintf(address, sizeof(address), "%s:%u", s->target.host, s->target.port);
	printf("{");
	json_field("verb", s->verb, false);
	json_field("board", s->board[0] ? s->board : NULL, true);
	json_field("address", address, true);
	json_field("guest", s->guest, true);
	json_field("result", s->result, true);
	printf(",\"exit\":%d", code);
	if (s->http_status)
		printf(",\"http_status\":%d", s->http_status);
	if (s->upload_ms)
		printf(",\"upload\":{\"bytes\":%llu,\"ms\":%llu}",
		       (unsigned long long)s->upload_bytes, (unsigned long long)s->upload_ms);
	if (s->error_code[0] || s->error_message[0]) {
		printf(",\"error\":{");
		json_field("code", s->error_code, false);
		json_field("message", s->error_message, true);
		printf("}");
	}
	printf(",\"operation\":%s}\n", is_json_object(s->operation) ? s->operation : "null");
	return code;
}

/* A failure before a verdict: one line on stderr (and --json's document). */
static int give_up(struct session *s, int code, const char *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int give_up(struct session *s, int code, const char *result, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->error_message, sizeof(s->error_message), fmt, ap);
	va_end(ap);
	s->result = result;
	cli_error("%s", s->error_message);
	return finish(s, code);
}

static int transport_failure(struct session *s, int rc)
{
	if (rc == CLIENT_E_LOCAL)
		return give_up(s, CLI_EXIT_FAIL, "error", "%s", s->client.error);
	if (rc == CLIENT_E_REFUSED) {
		s->http_status = s->client.status;
		return s->client.status < 500
			   ? give_up(s, CLI_EXIT_REFUSED, "refused", "%s", s->client.error)
			   : give_up(s, CLI_EXIT_OP_FAILED, "failed", "%s", s->client.error);
	}
	return give_up(s, CLI_EXIT_UNREACHABLE, "unreachable", "%s (%s)", s->client.error,
		       s->target.label);
}

/* ---------------------------------------------------------------- progress */

struct progress {
	bool tty, quiet;
	uint64_t start_ms, last_ms;
	unsigned last_quarter;
};

static void human_bytes(char *out, size_t cap, double bytes)
{
	if (bytes >= 1024.0 * 1024)
		snprintf(out, cap, "%.1f MiB", bytes / (1024.0 * 1024));
	else if (bytes >= 1024.0)
		snprintf(out, cap, "%.1f KiB", bytes / 1024.0);
	else
		snprintf(out, cap, "%.0f B", bytes);
}

static void show_progress(void *ctx, uint64_t sent, uint64_t total)
{
	struct progress *p = ctx;
	uint64_t now = now_ms(), elapsed = now - p->start_ms;
	double rate = elapsed ? (double)sent * 1000.0 / (double)elapsed : 0;
	unsigned percent = total ? (unsigned)(sent * 100 / total) : 100;
	char done[24], all[24], speed[24], eta[24] = "--:--";

	if (p->quiet)
		return;
	if (p->tty) {
		if (sent != total && now - p->last_ms < 100)
			return;
	} else {
		/* Plain lines for logs: a quarter at a time. */
		unsigned quarter = total ? (unsigned)(sent * 4 / total) : 4;

		if (sent == 0 || quarter == p->last_quarter)
			return;
		p->last_quarter = quarter;
	}
	p->last_ms = now;
	human_bytes(done, sizeof(done), (double)sent);
	human_bytes(all, sizeof(all), (double)total);
	if (rate > 0)
		human_bytes(speed, sizeof(speed), rate);
	else
		snprintf(speed, sizeof(speed), "- B"); /* too soon to tell */
	if (rate > 0) {
		unsigned secs = (unsigned)((double)(total - sent) / rate + 0.5);

		snprintf(eta, sizeof(eta), "%u:%02u", secs / 60, secs % 60);
	}
	if (p->tty) {
		char bar[31];
		unsigned fill = percent * 30 / 100;

		memset(bar, '#', fill);
		memset(bar + fill, '.', 30 - fill);
		bar[30] = '\0';
		fprintf(stderr, "\r  [%s] %3u%%  %s / %s  %s/s  ETA %s \033[K", bar, percent, done,
			all, speed, eta);
		if (sent == total)
			fputc('\n', stderr);
	} else {
		if (rate > 0)
			fprintf(stderr, "  sent %s of %s (%u%%), %s/s, ETA %s\n", done, all,
				percent, speed, eta);
		else
			fprintf(stderr, "  sent %s of %s (%u%%)\n", done, all, percent);
	}
	fflush(stderr);
}

/* ---------------------------------------------------------------- the operation */

static const char *const forward_stages[] = {"installed", "starting", "healthy", "confirmed"};
#define FORWARD_COUNT (sizeof(forward_stages) / sizeof(forward_stages[0]))

static int forward_index(const char *stage)
{
	for (size_t i = 0; i < FORWARD_COUNT; i++)
		if (strcmp(stage, forward_stages[i]) == 0)
			return (int)i;
	return -1;
}

static bool stage_final(const char *stage)
{
	return strcmp(stage, "confirmed") == 0 || strcmp(stage, "refused") == 0 ||
	       strcmp(stage, "rolled_back") == 0 || strcmp(stage, "failed") == 0 ||
	       strcmp(stage, "idle") == 0;
}

/* One stage line on stdout (not with --json). */
static void print_stage(struct session *s, const char *stage, const char *op)
{
	char version[32] = "", from[32] = "", code[48] = "", reason[160] = "", mode[32] = "";
	double t = (double)(now_ms() - s->start_ms) / 1000.0;
	char detail[400] = "";

	if (s->json)
		return;
	client_json_string(op, "version", version, sizeof(version));
	client_json_string(op, "from_version", from, sizeof(from));
	client_json_string(op, "code", code, sizeof(code));
	client_json_string(op, "reason", reason, sizeof(reason));
	client_json_string(op, "mode", mode, sizeof(mode));
	if (strcmp(stage, "installed") == 0)
		snprintf(detail, sizeof(detail), "%s %s is on the card (trial)", s->guest, version);
	else if (strcmp(stage, "starting") == 0)
		snprintf(detail, sizeof(detail), "%s %s is starting%s%s", s->guest, version,
			 mode[0] ? ", " : "", mode);
	else if (strcmp(stage, "healthy") == 0)
		snprintf(detail, sizeof(detail), "%s %s is ready and passed its probe", s->guest,
			 version);
	else if (strcmp(stage, "confirmed") == 0)
		snprintf(detail, sizeof(detail), "%s %s serves%s%s%s", s->guest, version,
			 from[0] ? " (was " : "", from, from[0] ? ")" : "");
	else if (strcmp(stage, "rolled_back") == 0)
		snprintf(detail, sizeof(detail), "%s%s%s%s%s", code, code[0] ? ": " : "", reason,
			 from[0] ? "; serving " : "", from);
	else
		snprintf(detail, sizeof(detail), "%s%s%s", code, code[0] ? ": " : "", reason);
	printf("  %-12s %s  (%.1f s)\n", strcmp(stage, "rolled_back") == 0 ? "rolled back" : stage,
	       detail, t);
	fflush(stdout);
}

/* The verdict of a finished operation in op. */
static int verdict(struct session *s, const char *stage, const char *op)
{
	char code[48] = "", reason[160] = "";

	client_json_string(op, "code", code, sizeof(code));
	client_json_string(op, "reason", reason, sizeof(reason));
	snprintf(s->operation, sizeof(s->operation), "%s", op);
	s->result = stage;
	if (strcmp(stage, "confirmed") == 0)
		return finish(s, CLI_EXIT_OK);
	snprintf(s->error_code, sizeof(s->error_code), "%s", code);
	snprintf(s->error_message, sizeof(s->error_message), "%s", reason);
	if (strcmp(stage, "refused") == 0)
		cli_error("%s refused by %s: %s%s%s", s->guest, s->target.label, code,
			  code[0] ? ": " : "", reason);
	else if (strcmp(stage, "rolled_back") == 0)
		cli_error("%s rolled back on %s: %s%s%s", s->guest, s->target.label, code,
			  code[0] ? ": " : "", reason);
	else if (strcmp(stage, "idle") == 0)
		cli_error("%s: %s has no record of the operation (did the board restart?)",
			  s->guest, s->target.label);
	else
		cli_error("%s failed on %s: %s%s%s", s->guest, s->target.label, code,
			  code[0] ? ": " : "", reason);
	return finish(s, strcmp(stage, "refused") == 0       ? CLI_EXIT_REFUSED
			 : strcmp(stage, "rolled_back") == 0 ? CLI_EXIT_ROLLED_BACK
							     : CLI_EXIT_OP_FAILED);
}

/* A 4xx/5xx answer: the board's reason, one line. */
static int refusal(struct session *s, const struct client_response *r)
{
	char code[48] = "", message[200] = "";

	s->http_status = r->status;
	if (client_json_string(r->body, "error", code, sizeof(code)) != 0)
		client_json_string(r->body, "code", code, sizeof(code));
	if (client_json_string(r->body, "message", message, sizeof(message)) != 0)
		client_json_string(r->body, "reason", message, sizeof(message));
	if (!message[0] && r->body_len && r->body_len < 120 && !is_json_object(r->body))
		for (size_t i = 0; i < r->body_len && i + 1 < sizeof(message); i++)
			message[i] = r->body[i] >= ' ' && r->body[i] != 0x7f ? r->body[i] : ' ';
	snprintf(s->error_code, sizeof(s->error_code), "%s", code);
	snprintf(s->error_message, sizeof(s->error_message), "%s", message);
	if (is_json_object(r->body))
		snprintf(s->operation, sizeof(s->operation), "%s", r->body);
	s->result = r->status < 500 ? "refused" : "failed";
	cli_error("%s refused %s %s: HTTP %d%s%s%s%s", s->target.label, s->verb, s->guest,
		  r->status, code[0] ? " " : "", code, message[0] ? ": " : "", message);
	return finish(s, r->status < 500 ? CLI_EXIT_REFUSED : CLI_EXIT_OP_FAILED);
}

/*
 * GET /v1/guests/NAME/operation: 1 with the operation in response, 0 when the
 * guest has none (404), or a negative CLIENT_ code.
 */
static int get_operation(struct session *s, const char *target)
{
	struct client_request rq = {.method = "GET", .target = target, .body_fd = -1};
	char auth[CLIENT_AUTH_MAX];
	int rc = client_request(&s->client, &rq, &response);

	/* A board that wants reads signed too: sign and ask again. */
	if (rc == CLIENT_OK && (response.status == 401 || response.status == 403) &&
	    s->signer_loaded) {
		uint8_t empty[OTA_SHA256_SIZE];

		ota_sha256("", 0, empty);
		rc = client_authorize(&s->client, &s->signer, "GET", target, empty, auth, NULL);
		if (rc != CLIENT_OK)
			return -rc;
		rq.authorization = auth;
		rc = client_request(&s->client, &rq, &response);
	}
	if (rc != CLIENT_OK)
		return -rc;
	if (response.status == 404)
		return 0;
	if (response.status != 200) {
		snprintf(s->client.error, sizeof(s->client.error), "GET %s: HTTP %d", target,
			 response.status);
		return -CLIENT_E_PROTOCOL;
	}
	return 1;
}

/*
 * Polls the operation until it is final (or its id says it is not ours
 * yet), printing each stage reached; first is the answer to the request.
 */
static int follow(struct session *s, uint64_t min_id, const char *first)
{
	char target[96], stage[24] = "";
	/* Forward stages printed so far; rollback and restart install nothing. */
	int printed = strcmp(s->verb, "push") == 0 ? -1 : 0;
	uint64_t deadline = now_ms() + (uint64_t)s->timeout_s * 1000, id;
	const char *op = first;
	int last_rc = 0;
	char last_error[256] = "";

	snprintf(target, sizeof(target), "/v1/guests/%s/operation", s->guest);
	for (;;) {
		if (op && client_json_string(op, "stage", stage, sizeof(stage)) == 0 &&
		    (client_json_u64(op, "id", &id) != 0 || id >= min_id)) {
			int fwd = forward_index(stage);

			/* Stages the poll stepped over were reached all the same. */
			for (int i = printed + 1; fwd >= 0 && i <= fwd; i++)
				print_stage(s, forward_stages[i], op);
			if (fwd > printed)
				printed = fwd;
			if (stage_final(stage)) {
				if (fwd < 0)
					print_stage(s, stage, op);
				return verdict(s, stage, op);
			}
		}
		if (now_ms() >= deadline) {
			s->result = "timeout";
			if (op)
				snprintf(s->operation, sizeof(s->operation), "%s", op);
			if (last_rc)
				return give_up(s, CLI_EXIT_TIMEOUT, "timeout",
					       "no verdict for %s within %u s; last error: %s",
					       s->guest, s->timeout_s, last_error);
			return give_up(s, CLI_EXIT_TIMEOUT, "timeout",
				       "no verdict for %s within %u s (last stage: %s); the board "
				       "carries on: GET %s shows it",
				       s->guest, s->timeout_s, stage[0] ? stage : "none", target);
		}
		sleep_ms(POLL_INTERVAL_MS);
		last_rc = get_operation(s, target);
		op = NULL;
		if (last_rc == 1) {
			op = response.body;
			last_rc = 0;
		} else if (last_rc == 0) {
			return give_up(s, CLI_EXIT_OP_FAILED, "failed",
				       "%s has no operation for guest %s (GET %s: 404)",
				       s->target.label, s->guest, target);
		} else {
			/* The board may be too busy to answer for a moment: keep asking. */
			snprintf(last_error, sizeof(last_error), "%s", s->client.error);
		}
	}
}

/* The id of the guest's latest operation before ours (0 when none). */
static int previous_operation(struct session *s, uint64_t *id)
{
	char target[96];
	int rc;

	*id = 0;
	snprintf(target, sizeof(target), "/v1/guests/%s/operation", s->guest);
	rc = get_operation(s, target);
	/* Only an unreachable board stops us here: whatever else the board
	 * says to this read, the request itself gets its own answer. */
	if (rc == -CLIENT_E_UNREACHABLE || rc == -CLIENT_E_LOST)
		return -rc;
	if (rc == 1)
		client_json_u64(response.body, "id", id);
	return CLIENT_OK;
}

static int open_session(struct session *s, const char *verb, const char *board,
			const struct options *o)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->verb = verb;
	s->json = o->json;
	s->timeout_s = o->timeout_s;
	s->start_ms = now_ms();
	s->result = "error";
	rc = cli_resolve_board(board, o->key, &s->target);
	if (rc != 0)
		return rc;
	if (client_signer_load(&s->signer, s->target.key) != 0)
		return CLI_EXIT_FAIL;
	s->signer_loaded = true;
	client_init(&s->client, s->target.host, s->target.port,
		    o->timeout_s * 1000 < STALL_TIMEOUT_MS ? (int)o->timeout_s * 1000
							   : STALL_TIMEOUT_MS);
	return 0;
}

static void close_session(struct session *s)
{
	client_close(&s->client);
	if (s->signer_loaded)
		client_signer_free(&s->signer);
}

/*
 * The connection broke before the answer: the board may have taken the
 * request all the same (its answer lost, or a refusal it sent as it closed).
 * A newer operation than the one before ours is ours: follow it (true, the
 * exit code in *rc); else false and the break is reported.
 */
static bool lost_answer(struct session *s, uint64_t previous_id, int *rc)
{
	char target[96], error[sizeof(s->client.error)];
	uint64_t id;

	memcpy(error, s->client.error, sizeof(error));
	snprintf(target, sizeof(target), "/v1/guests/%s/operation", s->guest);
	if (get_operation(s, target) != 1 || client_json_u64(response.body, "id", &id) != 0 ||
	    id <= previous_id) {
		memcpy(s->client.error, error, sizeof(error));
		return false;
	}
	if (!s->json)
		printf("  (%s; the board has operation %llu: following it)\n", error,
		       (unsigned long long)id);
	*rc = follow(s, id, response.body);
	return true;
}

/* After the request was answered 2xx: the operation's id, then follow it. */
static int after_accept(struct session *s, uint64_t previous_id)
{
	uint64_t id;

	s->http_status = response.status;
	snprintf(s->operation, sizeof(s->operation), "%s", response.body);
	if (client_json_u64(response.body, "id", &id) == 0)
		return follow(s, id, response.body);
	return follow(s, previous_id + 1, response.body);
}

int verb_push(int argc, char **argv)
{
	struct options o;
	struct session *s = &session;
	struct ota_manifest m;
	uint8_t commitment[OTA_SHA256_SIZE];
	uint64_t size, previous_id;
	char target[96], auth[CLIENT_AUTH_MAX], error[200];
	struct progress progress = {0};
	int rc, fd;

	if (argc > 1 && cli_is_help(argv[1]))
		return fputs(usage_push, stdout), CLI_EXIT_OK;
	rc = parse_options(argc, argv, &o, 1);
	if (rc != 0)
		return rc;
	if (!o.to)
		return cli_usage_error("missing --to BOARD");
	fd = open(o.positional[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_error("%s: %s", o.positional[0], strerror(errno));
	if (client_bundle_head(fd, commitment, &m, &size, error, sizeof(error)) != CLIENT_OK) {
		close(fd);
		return cli_error("%s: %s", o.positional[0], error);
	}
	rc = open_session(s, "push", o.to, &o);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	snprintf(s->guest, sizeof(s->guest), "%s", m.name);
	snprintf(target, sizeof(target), "/v1/guests/%s", m.name);

	rc = previous_operation(s, &previous_id);
	if (rc == CLIENT_OK)
		rc = client_authorize(&s->client, &s->signer, "PUT", target, commitment, auth,
				      s->board);
	if (rc != CLIENT_OK) {
		rc = transport_failure(s, rc);
		goto out;
	}
	if (!s->json)
		printf("pushing %s %u.%u.%u (%llu bytes) to %s (%s:%u)\n", m.name, m.version[0],
		       m.version[1], m.version[2], (unsigned long long)size, s->board,
		       s->target.host, s->target.port);
	fflush(stdout);
	progress.tty = isatty(STDERR_FILENO);
	progress.quiet = s->json && !progress.tty;
	progress.start_ms = now_ms();
	{
		const struct client_request rq = {
		    .method = "PUT",
		    .target = target,
		    .authorization = auth,
		    .content_type = "application/octet-stream",
		    .body_fd = fd,
		    .body_len = size,
		    .progress = show_progress,
		    .progress_ctx = &progress,
		    .answer_timeout_ms = (int)o.timeout_s * 1000,
		};
		rc = client_request(&s->client, &rq, &response);
	}
	if (progress.tty && response.body_sent < size)
		fputc('\n', stderr); /* end the bar's line */
	/* Upload to answer: the board answers once the bundle is on the card. */
	s->upload_bytes = response.body_sent;
	s->upload_ms = now_ms() - progress.start_ms;
	if (!s->upload_ms)
		s->upload_ms = 1;
	if (rc == CLIENT_E_LOST && lost_answer(s, previous_id, &rc))
		goto out;
	if (rc != CLIENT_OK) {
		rc = transport_failure(s, rc);
		goto out;
	}
	if (response.status < 200 || response.status >= 300) {
		rc = refusal(s, &response);
		goto out;
	}
	if (!s->json) {
		char bytes[24], rate[24];

		human_bytes(bytes, sizeof(bytes), (double)s->upload_bytes);
		human_bytes(rate, sizeof(rate),
			    (double)s->upload_bytes * 1000.0 / (double)s->upload_ms);
		printf("  uploaded     %s in %.1f s, %s/s to the board's answer (HTTP %d)\n", bytes,
		       (double)s->upload_ms / 1000.0, rate, response.status);
	}
	rc = after_accept(s, previous_id);
out:
	close(fd);
	close_session(s);
	return rc;
}

/* rollback and restart: a signed POST without a body, then follow. */
static int guest_action(int argc, char **argv, const char *verb, const char *usage)
{
	struct options o;
	struct session *s = &session;
	uint8_t empty[OTA_SHA256_SIZE];
	uint64_t previous_id;
	char target[96], auth[CLIENT_AUTH_MAX];
	const char *name;
	int rc;

	if (argc > 1 && cli_is_help(argv[1]))
		return fputs(usage, stdout), CLI_EXIT_OK;
	rc = parse_options(argc, argv, &o, 2);
	if (rc != 0)
		return rc;
	if (o.to)
		return cli_usage_error("the board is the first argument: flotilla %s BOARD NAME",
				       verb);
	name = o.positional[1];
	if (!ota_name_valid(name, strlen(name)))
		return cli_usage_error("bad guest name '%s'", name);
	rc = open_session(s, verb, o.positional[0], &o);
	if (rc != 0)
		return rc;
	snprintf(s->guest, sizeof(s->guest), "%s", name);
	snprintf(target, sizeof(target), "/v1/guests/%s/%s", name, verb);
	ota_sha256("", 0, empty);
	rc = previous_operation(s, &previous_id);
	if (rc == CLIENT_OK)
		rc =
		    client_authorize(&s->client, &s->signer, "POST", target, empty, auth, s->board);
	if (rc != CLIENT_OK) {
		rc = transport_failure(s, rc);
		goto out;
	}
	if (!s->json)
		printf("%s %s on %s (%s:%u)\n", verb, name, s->board, s->target.host,
		       s->target.port);
	{
		const struct client_request rq = {.method = "POST",
						  .target = target,
						  .authorization = auth,
						  .body_fd = -1,
						  .answer_timeout_ms = (int)o.timeout_s * 1000};
		rc = client_request(&s->client, &rq, &response);
	}
	if (rc != CLIENT_OK) {
		rc = transport_failure(s, rc);
		goto out;
	}
	if (response.status < 200 || response.status >= 300) {
		rc = refusal(s, &response);
		goto out;
	}
	rc = after_accept(s, previous_id);
out:
	close_session(s);
	return rc;
}

int verb_rollback(int argc, char **argv)
{
	return guest_action(argc, argv, "rollback", usage_rollback);
}

int verb_restart(int argc, char **argv)
{
	return guest_action(argc, argv, "restart", usage_restart);
}
