/*
 * www: an HTTP/1.1 server guest. It serves the 2048 game compiled into the
 * image (guests/www/site/), /healthz, and a generated 4 MiB download test
 * file, on port 80 (boot argument port=N), over Flotilla's own TCP/IP stack
 * (net/) on the domain's first network interface. PUT /test/sink reads and
 * discards its body, then answers 204: the upload half of the benchmarks.
 *
 * Each client is a small state machine driven by the stack's callbacks:
 * read into a bounded request buffer, parse one request (http.c), queue
 * the response as the send buffer allows (SENT events pull more), then
 * take the next request already buffered (pipelining) or close. Clients
 * are bounded (WWW_CLIENTS); slow ones meet timeouts: a request must
 * arrive completely within WWW_REQUEST_TIMEOUT_S of the previous response
 * (or the accept), and a response must make progress every
 * WWW_SEND_TIMEOUT_S.
 *
 * Once it listens, www calls flotilla_ready(): a new version is confirmed
 * only after that and its health probe. Every response names the version
 * (header X-Www-Version on every response, GET /version), so a client can
 * tell which instance answered during a hot swap. Once replaced by a new
 * version (flotilla_draining()), www closes its idle keep-alive connections
 * and ends the others after their response in progress.
 *
 * Test builds (tests/integration/push.mk) set WWW_VERSION and WWW_FAULT to
 * make the versions the update tests push; WWW_FAULT_NONE is the product.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"
#include "flotilla_net.h"
#include "http.h"
#include "site.h"

#define WWW_CLIENTS           16
#define WWW_REQUEST_MAX       4096
#define WWW_REQUEST_TIMEOUT_S 15
#define WWW_SEND_TIMEOUT_S    30
#define WWW_LISTEN_BACKLOG    2 /* half-open endpoints; beyond them SYN cookies answer */
#define NS_PER_S              1000000000ull

#ifndef WWW_VERSION
#define WWW_VERSION "dev"
#endif

/* Faults a test build may inject (-DWWW_FAULT=...), one each. */
#define WWW_FAULT_NONE        0
#define WWW_FAULT_CRASH_START 1 /* crashes before it listens */
#define WWW_FAULT_NEVER_READY 2 /* serves, but never calls flotilla_ready() */
#define WWW_FAULT_HEALTHZ_500 3 /* ready, but /healthz answers 500 */
#define WWW_FAULT_CRASH_LATER 4 /* ready and serving, crashes WWW_CRASH_AFTER_S after start */
#ifndef WWW_FAULT
#define WWW_FAULT WWW_FAULT_NONE
#endif
#ifndef WWW_CRASH_AFTER_S
#define WWW_CRASH_AFTER_S 5
#endif
#define WWW_STRINGIFY(x)       #x
#define WWW_TEXT(x)            WWW_STRINGIFY(x)
#define WWW_CRASH_AFTER_S_TEXT WWW_TEXT(WWW_CRASH_AFTER_S)

struct client {
	struct tcp_conn *conn; /* NULL: the slot is free */
	char *in;              /* WWW_REQUEST_MAX bytes */
	size_t in_len;
	uint64_t discard; /* request body bytes still to skip */
	bool sink;        /* PUT /test/sink: answer 204 once the body is all read */
	int sink_minor;
	bool responding, keep_alive, peer_closed;
	char head[320];
	size_t head_len, head_off;
	const uint8_t *body; /* NULL with body_len > 0: the generated test file */
	uint64_t body_len, body_off;
	uint64_t deadline; /* flotilla_clock_monotonic() */
};

static struct client clients[WWW_CLIENTS];
static bool draining;         /* replaced by a new version: no more keep-alive */
static uint8_t scratch[2048]; /* generated test file bytes on their way to tcp_send() */

static void client_free(struct client *c)
{
	c->conn = NULL;
	c->responding = false;
}

static void client_close(struct client *c)
{
	tcp_close(c->conn);
	client_free(c);
}

static void client_abort(struct client *c)
{
	tcp_abort(c->conn);
	client_free(c);
}

static void start_response(struct client *c, int status, const struct http_request *req,
			   const char *type, const uint8_t *body, uint64_t len, bool send_body)
{
	c->head_len = http_format_head(c->head, sizeof(c->head), status, type, len, c->keep_alive,
				       req ? req->minor : 1);
	/* The version goes in as the last header, before the blank line. */
	static const char version[] = "X-Www-Version: " WWW_VERSION "\r\n\r\n";
	if (c->head_len >= 2 && c->head_len - 2 + sizeof(version) - 1 <= sizeof(c->head)) {
		memcpy(c->head + c->head_len - 2, version, sizeof(version) - 1);
		c->head_len += sizeof(version) - 1 - 2;
	} else {
		c->head_len = 0;
	}
	c->head_off = 0;
	c->body = body;
	c->body_len = send_body ? len : 0;
	c->body_off = 0;
	c->responding = true;
	c->deadline = flotilla_clock_monotonic() + WWW_SEND_TIMEOUT_S * NS_PER_S;
}

static void respond_error(struct client *c, int status, const struct http_request *req)
{
	/* Errors that leave the stream's framing in doubt end the connection. */
	if (status == 400 || status == 431 || status == 501)
		c->keep_alive = false;
	char text[48];
	int n = snprintf(text, sizeof(text), "%d %s\n", status, http_reason(status));
	bool body = !req || req->method != HTTP_HEAD;
	start_response(c, status, req, "text/plain; charset=utf-8", NULL, (uint64_t)n, false);
	/* The short body goes out with the head, from the same buffer. */
	if (body && c->head_len > 0 && c->head_len + (size_t)n <= sizeof(c->head)) {
		memcpy(c->head + c->head_len, text, (size_t)n);
		c->head_len += (size_t)n;
	}
}

static void respond(struct client *c, const struct http_request *req)
{
	bool body = req->method == HTTP_GET;
	if (req->method == HTTP_OTHER) {
		respond_error(c, 405, req);
		return;
	}
	if (strcmp(req->target, "/healthz") == 0) {
		static const uint8_t ok[] = "ok\n";
		if (WWW_FAULT == WWW_FAULT_HEALTHZ_500) {
			static const uint8_t failing[] = "failing " WWW_VERSION " (test fault)\n";
			start_response(c, 500, req, "text/plain; charset=utf-8", failing,
				       sizeof(failing) - 1, body);
			return;
		}
		start_response(c, 200, req, "text/plain; charset=utf-8", ok, sizeof(ok) - 1, body);
		return;
	}
	if (strcmp(req->target, "/version") == 0) {
		static const uint8_t v[] = WWW_VERSION "\n";
		start_response(c, 200, req, "text/plain; charset=utf-8", v, sizeof(v) - 1, body);
		return;
	}
	if (strcmp(req->target, SITE_TESTFILE_PATH) == 0) {
		start_response(c, 200, req, "application/octet-stream", NULL, SITE_TESTFILE_SIZE,
			       body);
		return;
	}
	const struct site_file *f = site_lookup(req->target);
	if (!f) {
		respond_error(c, 404, req);
		return;
	}
	start_response(c, 200, req, f->type, f->data, f->len, body);
}

/* Queue as much of the response as the send buffer takes. */
static void pump(struct client *c)
{
	while (c->responding) {
		int n;
		if (c->head_off < c->head_len) {
			n = tcp_send(c->conn, c->head + c->head_off, c->head_len - c->head_off);
			if (n > 0)
				c->head_off += (size_t)n;
		} else if (c->body_off < c->body_len) {
			uint64_t left = c->body_len - c->body_off;
			if (c->body) {
				n = tcp_send(c->conn, c->body + c->body_off,
					     left > 65536 ? 65536 : (size_t)left);
			} else {
				size_t want = tcp_send_space(c->conn);
				if (want > sizeof(scratch))
					want = sizeof(scratch);
				if (want > left)
					want = (size_t)left;
				if (want == 0)
					return;
				site_testfile_read(c->body_off, scratch, want);
				n = tcp_send(c->conn, scratch, want);
			}
			if (n > 0)
				c->body_off += (uint64_t)n;
		} else {
			/* Response queued: the next request, or the end. */
			c->responding = false;
			if (!c->keep_alive)
				client_close(c);
			else
				c->deadline =
				    flotilla_clock_monotonic() + WWW_REQUEST_TIMEOUT_S * NS_PER_S;
			return;
		}
		if (n < 0) {
			client_abort(c);
			return;
		}
		if (n == 0)
			return; /* wait for SENT */
		c->deadline = flotilla_clock_monotonic() + WWW_SEND_TIMEOUT_S * NS_PER_S;
	}
}

/* Read what fits, then answer the next complete request if not busy. */
static void process(struct client *c)
{
	while (c->conn && !c->responding) {
		while (c->in_len < WWW_REQUEST_MAX) {
			int n = tcp_recv(c->conn, c->in + c->in_len, WWW_REQUEST_MAX - c->in_len);
			if (n <= 0)
				break;
			c->in_len += (size_t)n;
		}
		if (c->discard) {
			size_t skip = c->discard < c->in_len ? (size_t)c->discard : c->in_len;
			memmove(c->in, c->in + skip, c->in_len - skip);
			c->in_len -= skip;
			c->discard -= skip;
			if (skip && c->sink) /* a long upload: progress, not its total, is timed */
				c->deadline =
				    flotilla_clock_monotonic() + WWW_REQUEST_TIMEOUT_S * NS_PER_S;
			if (c->discard)
				return; /* the rest of the body comes with later RECV events */
		}
		if (c->sink) {
			/* Answering only now makes the client's time the upload's. */
			c->sink = false;
			struct http_request done = {.minor = c->sink_minor};
			start_response(c, 204, &done, NULL, NULL, 0, false);
			pump(c);
			continue;
		}
		if (c->in_len == 0 && c->discard == 0 && c->peer_closed) {
			client_close(c);
			return;
		}
		struct http_request req;
		long head = c->in_len ? http_parse_request(c->in, c->in_len, &req) : 0;
		if (head == 0) {
			if (c->in_len == WWW_REQUEST_MAX) {
				respond_error(c, 431, NULL);
				pump(c);
			} else if (c->peer_closed) {
				client_close(c); /* a partial request and no more to come */
			}
			return;
		}
		if (head < 0) {
			respond_error(c, 400, NULL);
			pump(c);
			return;
		}
		char method[4];
		memcpy(method, c->in, sizeof(method)); /* a valid head is longer than this */
		memmove(c->in, c->in + head, c->in_len - (size_t)head);
		c->in_len -= (size_t)head;
		c->keep_alive = req.keep_alive && !c->peer_closed && !draining;
		c->discard = req.content_length;
		if (!req.chunked && req.method == HTTP_OTHER && strncmp(method, "PUT ", 4) == 0 &&
		    strcmp(req.target, "/test/sink") == 0) {
			c->sink = true;
			c->sink_minor = req.minor;
		} else if (req.chunked) {
			respond_error(c, 501, &req);
		} else {
			respond(c, &req);
		}
		pump(c);
	}
}

static void on_event(void *arg, struct tcp_conn *conn, enum tcp_event event)
{
	struct client *c = arg;
	(void)conn;
	switch (event) {
	case TCP_EVENT_RECV: process(c); break;
	case TCP_EVENT_SENT:
		pump(c);
		if (c->conn && !c->responding)
			process(c); /* pipelined requests waiting in the buffer */
		break;
	case TCP_EVENT_PEER_CLOSED:
		c->peer_closed = true;
		c->keep_alive = false;
		if (!c->responding)
			process(c);
		break;
	case TCP_EVENT_ABORTED: client_free(c); break;
	default: break;
	}
}

static void on_accept(void *arg, struct tcp_conn *conn, enum tcp_event event)
{
	(void)arg;
	if (event != TCP_EVENT_ACCEPT)
		return;
	for (int i = 0; i < WWW_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->conn == NULL) {
			c->conn = conn;
			c->in_len = 0;
			c->discard = 0;
			c->sink = false;
			c->responding = c->peer_closed = false;
			c->keep_alive = true;
			c->deadline = flotilla_clock_monotonic() + WWW_REQUEST_TIMEOUT_S * NS_PER_S;
			tcp_set_callback(conn, on_event, c);
			tcp_set_nodelay(conn, 1);
			/* Data may have come with the handshake's last ACK. */
			if (tcp_recv_available(conn))
				process(c);
			return;
		}
	}
	tcp_abort(conn);
}

static uint64_t expire_clients(void)
{
	uint64_t now = flotilla_clock_monotonic(), next = UINT64_MAX;
	for (int i = 0; i < WWW_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->conn == NULL)
			continue;
		if (c->deadline <= now) {
			/* Idle keep-alive or a stalled request: close; a stuck response: reset. */
			if (c->responding)
				client_abort(c);
			else
				client_close(c);
			continue;
		}
		if (c->deadline < next)
			next = c->deadline;
	}
	return next;
}

/*
 * A hot swap replaced us: new connections already go to the new version.
 * Close the idle keep-alive connections now - their clients see a clean
 * close and reconnect, to the new version, instead of being reset once the
 * switch stops sending their segments here - and end the others after the
 * response in progress (Connection: close).
 */
static void drain(void)
{
	draining = true;
	unsigned idle = 0, busy = 0;
	for (int i = 0; i < WWW_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (!c->conn)
			continue;
		if (!c->responding && c->in_len == 0 && c->discard == 0 && !c->sink) {
			client_close(c);
			idle++;
		} else {
			c->keep_alive = false;
			busy++;
		}
	}
	printf("www: replaced by a new version: closed %u idle connections, %u finish their "
	       "request\n",
	       idle, busy);
}

static unsigned port_from(const char *bootargs)
{
	const char *p = strstr(bootargs, "port=");
	if (!p || (p != bootargs && p[-1] != ' '))
		return 80;
	unsigned long port = strtoul(p + 5, NULL, 10);
	return port > 0 && port < 65536 ? (unsigned)port : 0;
}

/* A null-pointer write: the runtime's exception handler reports it and the
 * domain shuts down with reason "crash", as a real bug would. */
static void crash(const char *why)
{
	printf("www: %s: crashing on purpose (test fault)\n", why);
	fflush(stdout);
	volatile int *null_pointer = (volatile int *)0;
	*null_pointer = 42;
	flotilla_exit(3); /* not reached where the null page is unmapped */
}

int flotilla_main(const struct flotilla_start_info *info)
{
	uint64_t started = flotilla_clock_monotonic();
	printf("www: version %s\n", WWW_VERSION);
	if (WWW_FAULT == WWW_FAULT_CRASH_START)
		crash("at start");
	unsigned port = port_from(info->bootargs);
	if (port == 0) {
		printf("www: bad port= boot argument (want 1-65535)\n");
		return 1;
	}
	for (int i = 0; i < WWW_CLIENTS; i++) {
		clients[i].in = malloc(WWW_REQUEST_MAX);
		if (!clients[i].in) {
			printf("www: out of memory for %d clients\n", WWW_CLIENTS);
			return 1;
		}
	}
	struct flotilla_netif *nif = flotilla_netif_open(0, info->bootargs);
	if (!nif)
		return 1;
	struct tcp_listener *l = tcp_listen(flotilla_netif_stack(nif), (uint16_t)port,
					    WWW_LISTEN_BACKLOG, on_accept, NULL);
	if (!l) {
		printf("www: cannot listen on TCP port %u\n", port);
		return 1;
	}
	printf("www: serving 2048 on TCP port %u\n", port);
	if (WWW_FAULT != WWW_FAULT_NEVER_READY)
		flotilla_ready();
	uint64_t crash_at = WWW_FAULT == WWW_FAULT_CRASH_LATER
				? started + (uint64_t)WWW_CRASH_AFTER_S * NS_PER_S
				: UINT64_MAX;
	for (;;) {
		if (!draining && flotilla_draining())
			drain();
		uint64_t next = expire_clients();
		if (flotilla_clock_monotonic() >= crash_at)
			crash("after " WWW_CRASH_AFTER_S_TEXT " s");
		flotilla_netif_wait(nif, next < crash_at ? next : crash_at);
	}
}
