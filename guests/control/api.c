/*
 * The device API server (api.h): TCP connections of the control domain's
 * own net/ stack, each driving one http.c machine. The resources are in the
 * route table at the end; docs/device-api.md is their contract.
 */
#include "api.h"
#include "api_health.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#include "auth.h"
#include "crypto.h"
#include "flotilla.h"
#include "http.h"
#include "provision.h"
#include "push.h"
#include "supervisor.h"
#include "trust.h"

#ifndef FLOTILLA_VERSION
#error "FLOTILLA_VERSION must be defined by the build"
#endif

#define NS_PER_MS   1000000u
#define CHUNK       1024
#define POLL_PERIOD (1000 * NS_PER_MS)

struct api_connection {
	struct tcp_conn *tcp; /* NULL: free */
	struct http_conn http;
	/* received bytes the machine did not take yet (it waits for its answer to drain) */
	uint8_t pending[CHUNK];
	size_t pending_len, pending_off;
};

/* Allocated once at start, not in the image (Xen copies .bss with the file). */
static struct api_connection *connections;
static struct net_stack *stack;
static struct ota_auth auth;
static char board_id[OTA_AUTH_BOARD_MAX + 1];
static uint8_t random_seed[OTA_SHA256_SIZE];
static uint64_t random_counter, refused_connections, evicted_connections;

static uint64_t now_ms(void)
{
	return flotilla_clock_monotonic() / NS_PER_MS;
}

/*
 * Nonces: SHA-256 of a per-boot seed and a counter. The seed mixes the
 * stack's secret (timer jitter and the MAC) with the clock at start: the
 * board has no hardware RNG driver yet, and a nonce needs to be unique and
 * unpredictable to a client, not secret.
 */
static void api_random(void *ctx, uint8_t *out, size_t len)
{
	(void)ctx;
	while (len) {
		uint8_t block[OTA_SHA256_SIZE + 16], digest[OTA_SHA256_SIZE];
		uint64_t t = flotilla_clock_monotonic();
		memcpy(block, random_seed, OTA_SHA256_SIZE);
		memcpy(block + OTA_SHA256_SIZE, &random_counter, 8);
		memcpy(block + OTA_SHA256_SIZE + 8, &t, 8);
		random_counter++;
		ota_sha256(block, sizeof(block), digest);
		size_t n = len < sizeof(digest) ? len : sizeof(digest);
		memcpy(out, digest, n);
		out += n;
		len -= n;
	}
}

/* ------------------------------------------------------------ resources */

static void respond_json(struct http_conn *c, int status, struct json_writer *j)
{
	if (!json_ok(j)) {
		http_respond_error(c, 500, "internal", "the answer did not fit its buffer");
		return;
	}
	http_respond(c, status, "application/json", j->buf, j->len);
}

static void get_ping(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	char body[256];
	struct json_writer j;
	json_init(&j, body, sizeof(body));
	json_begin_object(&j);
	json_bool(&j, "ok", true);
	json_string(&j, "board", board_id);
	json_string(&j, "version", FLOTILLA_VERSION);
	json_uint(&j, "uptime_ms", now_ms());
	json_end_object(&j);
	respond_json(c, 200, &j);
}

static void get_nonce(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	char body[160], nonce[2 * OTA_AUTH_NONCE_SIZE + 1];
	struct json_writer j;
	ota_auth_issue_nonce(&auth, now_ms(), nonce);
	json_init(&j, body, sizeof(body));
	json_begin_object(&j);
	json_string(&j, "nonce", nonce);
	json_string(&j, "board", board_id);
	json_uint(&j, "expires_in_ms", OTA_AUTH_NONCE_TTL_MS);
	json_end_object(&j);
	respond_json(c, 200, &j);
}

static void get_guests(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	char body[HTTP_OUT_MAX - 256];
	struct json_writer j;
	uint64_t now = flotilla_clock_monotonic();
	json_init(&j, body, sizeof(body));
	json_begin_object(&j);
	json_begin_array(&j, "guests");
	for (int i = 0; i < supervisor_guest_count(); i++) {
		const struct guest *g = supervisor_guest(i);
		json_begin_object(&j);
		json_string(&j, "name", g->name);
		json_string(&j, "state", supervisor_state_name(g->state));
		json_string(&j, "version", g->version);
		if (g->state == GUEST_RUNNING) {
			json_uint(&j, "domid", guest_dom(g)->domid);
			json_uint(&j, "uptime_ms", (now - g->started_ns) / NS_PER_MS);
		}
		json_uint(&j, "restarts", g->restarts);
		json_uint(&j, "memory_mb", g->memory_mb);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	respond_json(c, 200, &j);
}

static const struct http_route routes[] = {
    {HTTP_GET, "/v1/ping", 0, NULL, NULL, get_ping},
    {HTTP_GET, "/v1/nonce", 0, NULL, NULL, get_nonce},
    {HTTP_GET, "/v1/guests", 0, NULL, NULL, get_guests},
    /* Updates (push.c): push, its operation, rollback, restart. */
    {HTTP_PUT, "/v1/guests/{}", PUSH_BODY_MAX, push_put_begin, push_put_body, push_put_end},
    {HTTP_GET, "/v1/guests/{}/operation", 0, NULL, NULL, push_get_operation},
    {HTTP_POST, "/v1/guests/{}/rollback", 0, NULL, NULL, push_post_rollback},
    {HTTP_POST, "/v1/guests/{}/restart", 0, NULL, NULL, push_post_restart},
    /* health, status, events, metrics: api_health.c */
    {HTTP_GET, "/v1/health", 0, NULL, NULL, api_get_health},
    {HTTP_GET, "/v1/health/checks", 0, NULL, NULL, api_get_health_checks},
    {HTTP_GET, "/v1/guests/{}", 0, NULL, NULL, api_get_guest},
    {HTTP_GET, "/v1/guests/{}/logs", 0, NULL, NULL, api_get_guest_logs},
    {HTTP_GET, "/v1/events", 0, NULL, NULL, api_get_events},
    {HTTP_GET, "/metrics", 0, NULL, NULL, api_get_metrics},
};
static const struct http_server server = {routes, sizeof(routes) / sizeof(routes[0]), NULL};

/* ------------------------------------------------------------ TCP glue */

static void release(struct api_connection *a)
{
	push_connection_closed(&a->http); /* an upload it carried is abandoned */
	a->tcp = NULL;
	a->pending_len = a->pending_off = 0;
}

/* Sends what the machine has, as far as the send window allows. */
static void flush_output(struct api_connection *a)
{
	char buf[CHUNK];
	size_t space;
	while (a->tcp && (space = tcp_send_space(a->tcp)) > 0) {
		size_t n =
		    http_conn_output(&a->http, buf, space < sizeof(buf) ? space : sizeof(buf));
		if (n == 0)
			break;
		if (tcp_send(a->tcp, buf, n) < 0)
			break;
	}
	if (a->tcp && http_conn_should_close(&a->http)) {
		tcp_close(a->tcp);
		release(a);
	}
}

/* Feeds held and newly received bytes while the machine takes them. */
static void pump_input(struct api_connection *a)
{
	for (;;) {
		if (a->pending_off == a->pending_len) {
			int n = a->tcp ? tcp_recv(a->tcp, a->pending, sizeof(a->pending)) : 0;
			if (n <= 0)
				return;
			a->pending_len = (size_t)n;
			a->pending_off = 0;
		}
		size_t took = http_conn_input(&a->http, a->pending + a->pending_off,
					      a->pending_len - a->pending_off, now_ms());
		a->pending_off += took;
		flush_output(a);
		if (!a->tcp || took == 0)
			return;
	}
}

/*
 * All connections busy: the one that has been waiting longest for a request
 * head (idle keep-alive, a stalled or slowloris client) gives its place to
 * the newcomer, so idle and stalled clients can never lock everyone out. A
 * connection in the middle of a body (a push) or of an answer keeps its
 * place. NULL when every connection is working.
 */
static struct api_connection *evict_idle(void)
{
	struct api_connection *victim = NULL;
	for (unsigned i = 0; i < API_CONNECTIONS; i++) {
		struct api_connection *a = &connections[i];
		/* Not one that is answering: a pending answer, or a stream
		 * (logs ?follow=1) that stays open while it waits for lines. */
		if (a->http.state != HTTP_READ_HEAD || a->http.out_len > a->http.out_sent ||
		    a->http.stream_left > 0)
			continue;
		if (!victim || a->http.last_input_ms < victim->http.last_input_ms)
			victim = a;
	}
	if (victim) {
		evicted_connections++;
		tcp_abort(victim->tcp);
		release(victim);
	}
	return victim;
}

static void api_event(void *arg, struct tcp_conn *conn, enum tcp_event event)
{
	struct api_connection *a = arg;
	if (event == TCP_EVENT_ACCEPT) {
		a = NULL;
		for (unsigned i = 0; connections && i < API_CONNECTIONS && !a; i++)
			if (!connections[i].tcp)
				a = &connections[i];
		if (!a)
			a = evict_idle();
		if (!a) {
			refused_connections++;
			tcp_abort(conn); /* all busy: the client retries later */
			return;
		}
		a->tcp = conn;
		a->pending_len = a->pending_off = 0;
		http_conn_init(&a->http, &server, now_ms());
		tcp_set_callback(conn, api_event, a);
		return;
	}
	if (!a || a->tcp != conn)
		return;
	switch (event) {
	case TCP_EVENT_ABORTED: release(a); break;
	case TCP_EVENT_RECV: pump_input(a); break;
	case TCP_EVENT_SENT:
		flush_output(a);
		pump_input(a);
		break;
	case TCP_EVENT_PEER_CLOSED:
		pump_input(a);
		http_conn_peer_closed(&a->http);
		flush_output(a);
		break;
	default: break;
	}
}

uint64_t api_poll(void)
{
	uint64_t now = now_ms();
	bool busy = false;
	if (!connections)
		return UINT64_MAX;
	for (unsigned i = 0; i < API_CONNECTIONS; i++) {
		struct api_connection *a = &connections[i];
		if (!a->tcp)
			continue;
		if (http_conn_expired(&a->http, now)) {
			tcp_abort(a->tcp);
			release(a);
			continue;
		}
		flush_output(a);
		busy |= a->tcp != NULL;
	}
	/* Deadlines are seconds long: a check a second while clients are
	 * connected, none at all when idle (the board must not wake for nothing). */
	return busy ? flotilla_clock_monotonic() + POLL_PERIOD : UINT64_MAX;
}

bool api_authorized(struct http_conn *c, const struct http_request *r)
{
	/* GET requests carry no body: the commitment is the empty string. */
	uint8_t empty[OTA_SHA256_SIZE];
	char target[2 * HTTP_PATH_MAX + 1];
	ota_sha256("", 0, empty);
	snprintf(target, sizeof(target), "%s%s%s", r->path, r->query[0] ? "?" : "", r->query);
	struct ota_auth_result a =
	    ota_auth_check(&auth, r->authorization, r->method_name, target, empty, now_ms());
	if (a.status == 0)
		return true;
	http_respond_error(c, a.status, a.code, a.message);
	return false;
}

const char *api_board_id(void)
{
	return board_id;
}

struct ota_auth *api_auth(void)
{
	return &auth;
}

int api_start(struct net_stack *s, const struct net_port *port)
{
	const struct devcfg *cfg = provision_config();
	stack = s;
	connections = calloc(API_CONNECTIONS, sizeof(*connections));
	if (!connections) {
		printf("control: api: no memory for %d connections\n", API_CONNECTIONS);
		return -1;
	}
	if (cfg->hostname[0])
		snprintf(board_id, sizeof(board_id), "%s", cfg->hostname);
	else
		snprintf(board_id, sizeof(board_id), "flotilla-%02x%02x%02x", port->mac[3],
			 port->mac[4], port->mac[5]);
	uint8_t seed[16 + 8];
	uint64_t t = flotilla_clock_monotonic() ^ flotilla_clock_wall();
	memcpy(seed, port->secret, 16);
	memcpy(seed + 16, &t, 8);
	ota_sha256(seed, sizeof(seed), random_seed);
	/* Operators may act; signing keys are named only to refuse them as
	 * operators with their own reason (wrong_role). */
	size_t operator_count;
	const struct ota_trusted_key *operators = trust_operators(&operator_count);
	ota_auth_init(&auth, board_id, operators, operator_count, api_random, NULL);
	auth.signers = trust_keys(&auth.signer_count);
	if (!tcp_listen(stack, API_PORT, API_CONNECTIONS, api_event, NULL)) {
		printf("control: api: cannot listen on port %d\n", API_PORT);
		return -1;
	}
	printf("control: api: device API on port %d, board id %s, %u operator key(s)\n", API_PORT,
	       board_id, (unsigned)operator_count);
	return 0;
}
