/*
 * Read-only resources of the device API (api_health.h): health, guest
 * detail and logs, the card's event log, Prometheus metrics.
 *
 * Answers can be larger than a connection's output buffer (HTTP_OUT_MAX),
 * and HTTP/1.1 without chunked encoding needs their length first. So an
 * answer is rendered whole, at once, into a buffer of the heap (a snapshot:
 * the model may change while it is sent), then streamed with
 * http_respond_stream(). One buffer per connection at most
 * (API_CONNECTIONS), freed once sent, or at the connection's next answer.
 */
#include "api_health.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_logs.h"
#include "card.h"
#include "domain.h"
#include "event_log.h"
#include "http.h"
#include "monitor.h"
#include "ota.h"
#include "store.h"
#include "supervisor.h"
#include "vnic.h"

#include <generated/autoconf.h>

#ifndef FLOTILLA_VERSION
#error "FLOTILLA_VERSION must be defined by the build"
#endif

#define NS_PER_MS    1000000ull
#define FIRST_CAP    4096u
#define MAX_CAP      (512u * 1024u)
#define EVENTS_MAX   64u
#define JSON_TYPE    "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---------------------------------------------------------------- streaming */

static struct stream {
	struct http_conn *c;
	char *buf;
	size_t len, sent;
} streams[API_CONNECTIONS];

static size_t fill(struct http_conn *c, char *out, size_t cap);

static struct stream *stream_slot(struct http_conn *c)
{
	struct stream *free_slot = NULL;
	for (unsigned i = 0; i < API_CONNECTIONS; i++) {
		struct stream *s = &streams[i];
		/* A buffer whose connection moved on (HEAD, reset mid-answer) is stale. */
		if (s->buf && (s->c == c || s->c->stream != fill || s->c->stream_left == 0)) {
			free(s->buf);
			s->buf = NULL;
		}
		if (!s->buf && !free_slot)
			free_slot = s;
	}
	return free_slot;
}

static size_t fill(struct http_conn *c, char *out, size_t cap)
{
	for (unsigned i = 0; i < API_CONNECTIONS; i++) {
		struct stream *s = &streams[i];
		if (s->c != c || !s->buf)
			continue;
		size_t n = s->len - s->sent < cap ? s->len - s->sent : cap;
		memcpy(out, s->buf + s->sent, n);
		s->sent += n;
		if (s->sent == s->len) {
			free(s->buf);
			s->buf = NULL;
		}
		return n;
	}
	return 0;
}

/* Takes buf (heap) and sends it as the answer. */
static void respond_buffer(struct http_conn *c, int status, const char *type, char *buf, size_t len)
{
	struct stream *s = stream_slot(c);
	if (!s) {
		free(buf);
		http_respond_error(c, 503, "busy", "every answer buffer is in use: retry");
		return;
	}
	*s = (struct stream){.c = c, .buf = buf, .len = len, .sent = 0};
	http_respond_stream(c, status, type, len, fill);
	if (s->buf && (c->stream != fill || c->stream_left == 0)) {
		/* HEAD, or nothing to send: keep nothing. */
		free(s->buf);
		s->buf = NULL;
	}
}

/*
 * Renders with render(j, arg) into buffers of growing size until it fits,
 * then answers it. JSON answers are small on today's boards (a few KiB);
 * the cap only bounds a runaway.
 */
static void respond_json_rendered(struct http_conn *c, int status,
				  void (*render)(struct json_writer *j, const void *arg),
				  const void *arg)
{
	for (size_t cap = FIRST_CAP; cap <= MAX_CAP; cap *= 2) {
		char *buf = malloc(cap);
		if (!buf)
			break;
		struct json_writer j;
		json_init(&j, buf, cap);
		render(&j, arg);
		if (json_ok(&j)) {
			respond_buffer(c, status, JSON_TYPE, buf, j.len);
			return;
		}
		free(buf);
	}
	http_respond_error(c, 500, "internal", "the answer did not fit in memory");
}

/* ---------------------------------------------------------------- health */

static void render_summary(struct json_writer *j, const void *arg)
{
	(void)arg;
	const struct health *h = monitor_health();
	const struct health_check *worst;
	enum health_status overall = health_overall(h, &worst);
	uint64_t now_ms = flotilla_clock_monotonic() / NS_PER_MS;
	json_begin_object(j);
	json_string(j, "board", api_board_id());
	json_string(j, "status", h->runs ? health_status_name(overall) : "unknown");
	json_string(j, "version", FLOTILLA_VERSION);
	json_uint(j, "uptime_ms", now_ms);
	json_uint(j, "checks", h->count);
	json_uint(j, "runs", h->runs);
	json_uint(j, "checked_ms_ago", h->runs ? now_ms - h->last_run_ms : 0);
	json_uint(j, "period_s", monitor_period_s());
	/* What is not ok, worst first: the answer to "why?". */
	json_begin_array(j, "problems");
	for (int s = HEALTH_FAILED; s > HEALTH_OK; s--) {
		for (unsigned i = 0; i < h->count; i++) {
			const struct health_check *c = &h->checks[i];
			if ((int)c->current.status != s)
				continue;
			json_begin_object(j);
			json_string(j, "check", c->name);
			json_string(j, "subject", c->subject);
			json_string(j, "status", health_status_name(c->current.status));
			json_string(j, "reason", c->current.reason);
			json_end_object(j);
		}
	}
	json_end_array(j);
	json_begin_array(j, "guests");
	for (int i = 0; i < supervisor_guest_count(); i++) {
		const struct guest *g = supervisor_guest(i);
		json_begin_object(j);
		json_string(j, "name", g->name);
		json_string(j, "status", health_status_name(health_subject(h, g->name)));
		json_string(j, "state", supervisor_state_name(g->state));
		json_string(j, "version", g->version);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}

static bool health_allowed(struct http_conn *c, const struct http_request *r)
{
#ifdef CONFIG_HEALTH_AUTH
	return api_authorized(c, r);
#else
	(void)c;
	(void)r;
	return true;
#endif
}

void api_get_health(struct http_conn *c, const struct http_request *r)
{
	if (health_allowed(c, r))
		respond_json_rendered(c, 200, render_summary, NULL);
}

static void render_checks(struct json_writer *j, const void *arg)
{
	(void)arg;
	const struct health *h = monitor_health();
	uint64_t now_ms = flotilla_clock_monotonic() / NS_PER_MS;
	json_begin_object(j);
	json_string(j, "status", h->runs ? health_status_name(health_overall(h, NULL)) : "unknown");
	json_uint(j, "now_ms", now_ms);
	json_uint(j, "period_s", monitor_period_s());
	json_uint(j, "last_run_us", h->last_run_ns / 1000);
	json_begin_array(j, "checks");
	for (unsigned i = 0; i < h->count; i++) {
		const struct health_check *c = &h->checks[i];
		json_begin_object(j);
		json_string(j, "name", c->name);
		json_string(j, "subject", c->subject);
		json_string(j, "status", health_status_name(c->current.status));
		json_string(j, "reason", c->current.reason);
		json_uint(j, "last_run_ms", c->last_run_ms);
		json_begin_array(j, "history");
		const struct health_entry *e;
		for (unsigned k = 0; (e = health_history(c, k)) != NULL; k++) {
			json_begin_object(j);
			json_string(j, "status", health_status_name(e->result.status));
			json_string(j, "reason", e->result.reason);
			json_uint(j, "first_ms", e->first_ms);
			json_uint(j, "last_ms", e->last_ms);
			json_uint(j, "runs", e->runs);
			json_end_object(j);
		}
		json_end_array(j);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}

void api_get_health_checks(struct http_conn *c, const struct http_request *r)
{
	if (health_allowed(c, r))
		respond_json_rendered(c, 200, render_checks, NULL);
}

/* ---------------------------------------------------------------- guests */

static void ipv4_text(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16) & 0xff,
		 (unsigned)(a >> 8) & 0xff, (unsigned)a & 0xff);
}

static void render_guest(struct json_writer *j, const void *arg)
{
	const struct guest *g = arg;
	uint64_t now = flotilla_clock_monotonic();
	const struct health *h = monitor_health();
	json_begin_object(j);
	json_string(j, "name", g->name);
	json_string(j, "state", supervisor_state_name(g->state));
	json_string(j, "health", health_status_name(health_subject(h, g->name)));
	json_string(j, "version", g->version);
	if (g->state == GUEST_REFUSED)
		json_string(j, "refused", g->refused_reason);
	json_uint(j, "restarts", g->restarts);
	json_uint(j, "memory_mb", g->memory_mb);
	json_uint(j, "vcpus", g->vcpus);
	struct dom_info info;
	if (g->state == GUEST_RUNNING) {
		json_uint(j, "domid", guest_dom(g)->domid);
		json_uint(j, "uptime_ms", (now - g->started_ns) / NS_PER_MS);
		if (dom_getinfo(guest_dom(g)->domid, &info) == 0 &&
		    info.domid == guest_dom(g)->domid) {
			json_uint(j, "cpu_time_ns", info.cpu_time_ns);
			json_uint(j, "memory_bytes", info.pages * 4096u);
		}
	}
	char slot;
	unsigned attempts;
	bool trial = store_guest_slot(g->name, &slot, &attempts);
	json_string(j, "source", g->from_store ? "card" : "boot bundle");
	if (g->from_store) {
		char running[2] = {slot, '\0'};
		json_string(j, "slot", running);
	}
	json_bool(j, "trial", trial);
	struct store_slot_view slots[2];
	json_begin_array(j, "slots");
	for (unsigned k = 0; store_guest_slots(g->name, slots) == 0 && k < 2; k++) {
		char letter[2] = {slots[k].letter, '\0'};
		json_begin_object(j);
		json_string(j, "slot", letter);
		json_string(j, "state", slots[k].state);
		if (!slots[k].empty) {
			json_string(j, "version", slots[k].version);
			json_uint(j, "counter", slots[k].counter);
		}
		json_end_object(j);
	}
	json_end_array(j);
	json_string(j, "nics", g->nics);
	struct monitor_guest_status status;
	bool have_status = monitor_guest_status(g, &status);
	json_begin_array(j, "addresses");
	for (unsigned i = 0; have_status && i < 4; i++) {
		char text[16];
		if (!status.ipv4[i])
			continue;
		ipv4_text(status.ipv4[i], text);
		json_string(j, NULL, text);
	}
	json_end_array(j);
	if (have_status) {
		json_bool(j, "ready", status.ready);
		json_string(j, "reported_health",
			    health_status_name((enum health_status)status.health));
		json_string(j, "reported_reason", status.reason);
	}
	json_key_object(j, "operation");
	json_uint(j, "id", g->op.id);
	json_string(j, "kind", op_kind_name(g->op.kind));
	json_string(j, "stage", op_stage_name(g->op.stage));
	json_end_object(j);
	json_end_object(j);
}

void api_get_guest(struct http_conn *c, const struct http_request *r)
{
	const struct guest *g = supervisor_find(r->param);
	if (!g) {
		http_respond_error(c, 404, "no_guest", "no guest of that name in the board's plan");
		return;
	}
	respond_json_rendered(c, 200, render_guest, g);
}

static void render_logs(struct json_writer *j, const void *arg)
{
	const struct guest *g = arg;
	json_begin_object(j);
	json_string(j, "guest", g->name);
	json_uint(j, "kept", CONFIG_CONTROL_LOG_LINES);
	json_begin_array(j, "lines");
	for (unsigned i = 0; g->log && i < g->log_count; i++)
		json_string(j, NULL,
			    g->log[(g->log_next + CONFIG_CONTROL_LOG_LINES - g->log_count + i) %
				   CONFIG_CONTROL_LOG_LINES]);
	json_end_array(j);
	json_end_object(j);
}

void api_get_guest_logs(struct http_conn *c, const struct http_request *r)
{
	const struct guest *g = supervisor_find(r->param);
	if (!api_authorized(c, r))
		return;
	if (!g) {
		http_respond_error(c, 404, "no_guest", "no guest of that name in the board's plan");
		return;
	}
	if (strstr(r->query, "follow=1")) {
		api_logs_follow(c, g);
		return;
	}
	respond_json_rendered(c, 200, render_logs, g);
}

/* ---------------------------------------------------------------- events */

struct events {
	struct ota_event *list;
	int count;
};

static void render_events(struct json_writer *j, const void *arg)
{
	const struct events *ev = arg;
	json_begin_object(j);
	json_string(j, "board", api_board_id());
	json_begin_array(j, "events");
	for (int i = 0; i < ev->count; i++) {
		const struct ota_event *e = &ev->list[i];
		char version[40];
		json_begin_object(j);
		json_uint(j, "seq", e->seq);
		json_uint(j, "boot", e->boot);
		json_uint(j, "uptime_ms", e->uptime_ms);
		json_string(j, "type", ota_event_type_name(e->type));
		if (e->guest[0])
			json_string(j, "guest", e->guest);
		if (e->slot < 2) {
			char letter[2] = {(char)('A' + e->slot), '\0'};
			snprintf(version, sizeof(version), "%" PRIu32 ".%" PRIu32 ".%" PRIu32,
				 e->version[0], e->version[1], e->version[2]);
			json_string(j, "slot", letter);
			json_string(j, "version", version);
		}
		json_string(j, "status", ota_status_name(e->status));
		json_uint(j, "detail", e->detail);
		if (e->reason)
			json_string(j, "reason", ota_event_reason_text(e->reason));
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}

void api_get_events(struct http_conn *c, const struct http_request *r)
{
	if (!api_authorized(c, r))
		return;
	struct events ev = {calloc(EVENTS_MAX, sizeof(struct ota_event)), 0};
	if (!ev.list) {
		http_respond_error(c, 503, "busy", "no memory for the event list: retry");
		return;
	}
	ev.count = store_recent_events(ev.list, EVENTS_MAX);
	if (ev.count < 0)
		http_respond_error(c, 503, "no_event_log",
				   "the card's event log is not available (see GET /v1/health)");
	else
		respond_json_rendered(c, 200, render_events, &ev);
	free(ev.list);
}

/* ---------------------------------------------------------------- metrics */

/* Prometheus' text exposition format (version 0.0.4). */
struct text {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void emit(struct text *t, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct text *t, const char *format, ...)
{
	va_list ap;
	if (t->overflow)
		return;
	va_start(ap, format);
	int n = vsnprintf(t->buf + t->len, t->cap - t->len, format, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len)
		t->overflow = true;
	else
		t->len += (size_t)n;
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	emit(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Names on the board are [a-z0-9_.-]; escape anyway, as the format asks. */
static const char *label(const char *value, char *out, size_t size)
{
	size_t n = 0;
	for (; *value && n + 3 < size; value++) {
		if (*value == '\\' || *value == '"')
			out[n++] = '\\';
		if (*value == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
			continue;
		}
		out[n++] = *value;
	}
	out[n] = '\0';
	return out;
}

static void render_metrics(struct text *t)
{
	char l1[80], l2[80];
	const struct health *h = monitor_health();
	uint64_t now = flotilla_clock_monotonic();
	int guests = supervisor_guest_count();

	family(t, "flotilla_board_info", "gauge", "The board's identity and firmware version (1).");
	emit(t, "flotilla_board_info{board=\"%s\",version=\"%s\"} 1\n",
	     label(api_board_id(), l1, sizeof(l1)), FLOTILLA_VERSION);
	family(t, "flotilla_uptime_seconds", "gauge", "Seconds since the control domain started.");
	emit(t, "flotilla_uptime_seconds %.3f\n", (double)now / 1e9);
	family(t, "flotilla_xen_free_bytes", "gauge", "Memory Xen has free for new guests.");
	emit(t, "flotilla_xen_free_bytes %" PRIu64 "\n", dom_xen_free_pages() * 4096u);
	struct dom_info self;
	if (dom_getinfo(0, &self) == 0 && self.domid == 0) {
		family(t, "flotilla_control_cpu_seconds_total", "counter",
		       "CPU time of the control domain (domain 0).");
		emit(t, "flotilla_control_cpu_seconds_total %.6f\n",
		     (double)self.cpu_time_ns / 1e9);
	}

	/* Guests. */
	family(t, "flotilla_guest_up", "gauge", "1 when the guest's domain runs, else 0.");
	for (int i = 0; i < guests; i++) {
		const struct guest *g = supervisor_guest(i);
		emit(t, "flotilla_guest_up{guest=\"%s\"} %d\n", label(g->name, l1, sizeof(l1)),
		     g->state == GUEST_RUNNING);
	}
	family(t, "flotilla_guest_info", "gauge",
	       "The guest's version and supervisor state (always 1).");
	for (int i = 0; i < guests; i++) {
		const struct guest *g = supervisor_guest(i);
		emit(t, "flotilla_guest_info{guest=\"%s\",version=\"%s\",state=\"%s\"} 1\n",
		     label(g->name, l1, sizeof(l1)), label(g->version, l2, sizeof(l2)),
		     supervisor_state_name(g->state));
	}
	family(t, "flotilla_guest_restarts_total", "counter",
	       "Restarts of the guest after a crash since the board started.");
	for (int i = 0; i < guests; i++) {
		const struct guest *g = supervisor_guest(i);
		emit(t, "flotilla_guest_restarts_total{guest=\"%s\"} %u\n",
		     label(g->name, l1, sizeof(l1)), g->restarts);
	}
	family(t, "flotilla_guest_cpu_seconds_total", "counter",
	       "CPU time of the guest's current domain (Xen's accounting).");
	for (int i = 0; i < guests; i++) {
		const struct guest *g = supervisor_guest(i);
		struct dom_info info;
		if (g->state == GUEST_RUNNING && dom_getinfo(guest_dom(g)->domid, &info) == 0 &&
		    info.domid == guest_dom(g)->domid)
			emit(t, "flotilla_guest_cpu_seconds_total{guest=\"%s\"} %.6f\n",
			     label(g->name, l1, sizeof(l1)), (double)info.cpu_time_ns / 1e9);
	}
	family(t, "flotilla_guest_memory_bytes", "gauge", "Memory of the guest's current domain.");
	for (int i = 0; i < guests; i++) {
		const struct guest *g = supervisor_guest(i);
		struct dom_info info;
		if (g->state == GUEST_RUNNING && dom_getinfo(guest_dom(g)->domid, &info) == 0 &&
		    info.domid == guest_dom(g)->domid)
			emit(t, "flotilla_guest_memory_bytes{guest=\"%s\"} %" PRIu64 "\n",
			     label(g->name, l1, sizeof(l1)), info.pages * 4096u);
	}

	/* The switch. */
	struct vswitch *sw = vnic_switch();
	static const struct {
		const char *name, *type, *help;
	} port_families[] = {
	    {"flotilla_switch_port_frames_total", "counter",
	     "Frames through a switch port (direction rx: from the port into the switch)."},
	    {"flotilla_switch_port_bytes_total", "counter", "Bytes through a switch port."},
	    {"flotilla_switch_port_drops_total", "counter",
	     "Frames dropped at a switch port (rx: refused on input, tx: its queue was full)."},
	};
	for (unsigned f = 0; sw && f < 3; f++) {
		family(t, port_families[f].name, port_families[f].type, port_families[f].help);
		for (unsigned p = 0; p < VSWITCH_PORTS; p++) {
			const struct vswitch_port *port = &sw->ports[p];
			if (!port->used)
				continue;
			const struct vswitch_counters *k = &port->counters;
			uint64_t rx = f == 0 ? k->rx_frames : f == 1 ? k->rx_bytes : k->rx_drops;
			uint64_t tx = f == 0 ? k->tx_frames : f == 1 ? k->tx_bytes : k->tx_drops;
			label(port->name, l1, sizeof(l1));
			emit(t, "%s{port=\"%s\",direction=\"rx\"} %" PRIu64 "\n",
			     port_families[f].name, l1, rx);
			emit(t, "%s{port=\"%s\",direction=\"tx\"} %" PRIu64 "\n",
			     port_families[f].name, l1, tx);
		}
	}

	/* The store. */
	struct store_health_info store;
	store_health_info(&store);
	family(t, "flotilla_store_usable", "gauge", "1 when the card's slot store is in use.");
	emit(t, "flotilla_store_usable %d\n", store.usable);
	family(t, "flotilla_store_guest_entries", "gauge",
	       "Guest entries of the slot store, by use.");
	emit(t, "flotilla_store_guest_entries{use=\"used\"} %u\n", store.guests_used);
	emit(t, "flotilla_store_guest_entries{use=\"free\"} %u\n",
	     store.guests_capacity - store.guests_used);
	family(t, "flotilla_store_refused_images", "gauge",
	       "Images on the card refused since the board started.");
	emit(t, "flotilla_store_refused_images %u\n", store.refused);
	family(t, "flotilla_store_events_total", "counter", "Records written to the event log.");
	emit(t, "flotilla_store_events_total %" PRIu32 "\n", store.events_written);

	/* Health: every check as a gauge, 0 ok, 1 degraded, 2 failed. */
	family(t, "flotilla_health_status", "gauge",
	       "The board's health: 0 ok, 1 degraded, 2 failed (the worst check).");
	emit(t, "flotilla_health_status %d\n", (int)health_overall(h, NULL));
	family(t, "flotilla_health_check", "gauge",
	       "One health check: 0 ok, 1 degraded, 2 failed (reasons: GET /v1/health/checks).");
	for (unsigned i = 0; i < h->count; i++) {
		const struct health_check *c = &h->checks[i];
		emit(t, "flotilla_health_check{check=\"%s\",subject=\"%s\"} %d\n",
		     label(c->name, l1, sizeof(l1)), label(c->subject, l2, sizeof(l2)),
		     (int)c->current.status);
	}
	family(t, "flotilla_health_runs_total", "counter", "Runs of the health checks.");
	emit(t, "flotilla_health_runs_total %" PRIu64 "\n", h->runs);
	family(t, "flotilla_health_run_seconds", "gauge",
	       "How long the last run of the checks took.");
	emit(t, "flotilla_health_run_seconds %.6f\n", (double)h->last_run_ns / 1e9);
}

void api_get_metrics(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	for (size_t cap = 4 * FIRST_CAP; cap <= MAX_CAP; cap *= 2) {
		struct text t = {malloc(cap), cap, 0, false};
		if (!t.buf)
			break;
		render_metrics(&t);
		if (!t.overflow) {
			respond_buffer(c, 200, METRICS_TYPE, t.buf, t.len);
			return;
		}
		free(t.buf);
	}
	http_respond_error(c, 500, "internal", "the metrics did not fit in memory");
}
