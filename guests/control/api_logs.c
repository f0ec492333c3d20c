/*
 * Following a guest's console over the device API (api_logs.h). The
 * stream's fill() is called by http.c whenever the connection has room to
 * send (the API's poll asks at least once a second): it compares what it
 * last told the client with the guest now and writes the difference.
 */
#include "api_logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "flotilla.h"
#include "health.h"
#include "http.h"
#include "monitor.h"
#include "supervisor.h"

#include <generated/autoconf.h>

#define NS_PER_MS   1000000ull
#define PENDING_MAX 512 /* one JSON line: a console line is at most 160 printable bytes */
#define FOLLOW_TYPE "application/x-ndjson"

struct follower {
	struct http_conn *c; /* NULL: free */
	const struct guest *g;
	uint64_t next;    /* the number of the next console line to send */
	uint64_t last_ms; /* when something was last sent */
	/* what the client was last told */
	enum guest_state state;
	unsigned restarts;
	uint32_t op_id;
	enum op_stage op_stage;
	enum health_status health;
	char health_reason[HEALTH_REASON_MAX];
	/* the JSON line being sent */
	char pending[PENDING_MAX];
	size_t len, off;
};

/* Allocated on first use (not .bss: Xen copies .bss with the image). */
static struct follower *followers;

static size_t follow_fill(struct http_conn *c, char *out, size_t cap);

static uint64_t now_ms(void)
{
	return flotilla_clock_monotonic() / NS_PER_MS;
}

/* Lines ever logged that the ring still holds start at this number. */
static uint64_t oldest_kept(const struct guest *g)
{
	return g->log_total - g->log_count;
}

static const char *kept_line(const struct guest *g, uint64_t n)
{
	unsigned back = (unsigned)(g->log_total - n); /* 1..log_count */
	return g->log[(g->log_next + CONFIG_CONTROL_LOG_LINES - back) % CONFIG_CONTROL_LOG_LINES];
}

static void begin(struct follower *f, struct json_writer *j)
{
	json_init(j, f->pending, sizeof(f->pending) - 1);
	json_begin_object(j);
}

static void end(struct follower *f, struct json_writer *j)
{
	json_end_object(j);
	if (!json_ok(j)) {
		f->len = 0; /* cannot happen with these fields: skip it rather than cut it */
		return;
	}
	f->pending[j->len] = '\n';
	f->len = j->len + 1;
	f->off = 0;
	f->last_ms = now_ms();
}

/* The next thing to tell the client into f->pending; false when there is none. */
static bool next_item(struct follower *f)
{
	const struct guest *g = f->g;
	struct json_writer j;

	if (g->state != f->state || g->restarts != f->restarts) {
		f->state = g->state;
		f->restarts = g->restarts;
		begin(f, &j);
		json_string(&j, "event", "state");
		json_string(&j, "state", supervisor_state_name(g->state));
		json_uint(&j, "restarts", g->restarts);
		json_string(&j, "version", g->version);
		json_uint(&j, "uptime_ms", now_ms());
		end(f, &j);
		return true;
	}
	if (g->op.id != f->op_id || g->op.stage != f->op_stage) {
		f->op_id = g->op.id;
		f->op_stage = g->op.stage;
		begin(f, &j);
		json_string(&j, "event", "operation");
		json_uint(&j, "id", g->op.id);
		json_string(&j, "kind", op_kind_name(g->op.kind));
		json_string(&j, "stage", op_stage_name(g->op.stage));
		json_string(&j, "version", g->op.version);
		if (g->op.code[0])
			json_string(&j, "code", g->op.code);
		if (g->op.reason[0])
			json_string(&j, "reason", g->op.reason);
		json_uint(&j, "uptime_ms", now_ms());
		end(f, &j);
		return true;
	}
	const struct health *h = monitor_health();
	enum health_status status = health_subject(h, g->name);
	const char *reason = "";
	for (unsigned i = 0; i < h->count; i++)
		if (strcmp(h->checks[i].subject, g->name) == 0 &&
		    h->checks[i].current.status == status && status != HEALTH_OK) {
			reason = h->checks[i].current.reason;
			break;
		}
	if (h->runs && (status != f->health || strcmp(reason, f->health_reason) != 0)) {
		f->health = status;
		snprintf(f->health_reason, sizeof(f->health_reason), "%s", reason);
		begin(f, &j);
		json_string(&j, "event", "health");
		json_string(&j, "status", health_status_name(status));
		json_string(&j, "reason", reason);
		json_uint(&j, "uptime_ms", now_ms());
		end(f, &j);
		return true;
	}
	if (g->log && f->next < oldest_kept(g)) {
		uint64_t lost = oldest_kept(g) - f->next;
		f->next = oldest_kept(g);
		begin(f, &j);
		json_string(&j, "event", "dropped");
		json_uint(&j, "lines", lost);
		end(f, &j);
		return true;
	}
	if (g->log && f->next < g->log_total) {
		begin(f, &j);
		json_uint(&j, "n", f->next);
		json_string(&j, "line", kept_line(g, f->next));
		end(f, &j);
		f->next++;
		return true;
	}
	if (now_ms() - f->last_ms >= FOLLOW_HEARTBEAT_MS) {
		/* Silence would hide a client that went away without a word. */
		begin(f, &j);
		json_string(&j, "event", "heartbeat");
		json_uint(&j, "uptime_ms", now_ms());
		end(f, &j);
		return true;
	}
	return false;
}

static struct follower *find(struct http_conn *c)
{
	for (unsigned i = 0; followers && i < API_CONNECTIONS; i++)
		if (followers[i].c == c)
			return &followers[i];
	return NULL;
}

static size_t follow_fill(struct http_conn *c, char *out, size_t cap)
{
	struct follower *f = find(c);
	size_t n = 0;
	if (!f) {
		http_stream_end(c); /* lost its record: end rather than hang */
		return 0;
	}
	while (n < cap) {
		if (f->off == f->len && !next_item(f))
			break;
		size_t take = f->len - f->off < cap - n ? f->len - f->off : cap - n;
		memcpy(out + n, f->pending + f->off, take);
		f->off += take;
		n += take;
	}
	return n;
}

void api_logs_follow(struct http_conn *c, const struct guest *g)
{
	if (!followers)
		followers = calloc(API_CONNECTIONS, sizeof(*followers));
	if (!followers) {
		http_respond_error(c, 503, "busy", "no memory to follow a guest: retry");
		return;
	}
	struct follower *slot = NULL;
	for (unsigned i = 0; i < API_CONNECTIONS; i++) {
		struct follower *f = &followers[i];
		/* A record whose connection ended (or now carries another answer) is free. */
		if (f->c && (f->c == c || f->c->stream != follow_fill || !f->c->stream_open))
			f->c = NULL;
		if (!f->c && !slot)
			slot = f;
	}
	if (!slot) {
		http_respond_error(c, 503, "busy", "every follow slot is in use: retry");
		return;
	}
	memset(slot, 0, sizeof(*slot));
	slot->c = c;
	slot->g = g;
	slot->next = g->log ? oldest_kept(g) : 0;
	/* The state as it is now comes first, as events, so the client knows
	 * where it starts; then the kept lines. */
	slot->state = (enum guest_state) - 1;
	slot->op_id = g->op.stage == OP_IDLE ? g->op.id : UINT32_MAX;
	slot->op_stage = g->op.stage;
	slot->health = (enum health_status) - 1;
	slot->last_ms = now_ms();
	http_respond_stream_open(c, 200, FOLLOW_TYPE, follow_fill);
	if (!c->stream_open)
		slot->c = NULL; /* HEAD: the head only */
}
