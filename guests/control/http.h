/*
 * http.h: the device API's HTTP/1.1 server side, as a byte-stream machine.
 *
 * Portable (no platform or network headers): the board feeds it the bytes a
 * TCP connection received and pulls the bytes to send; host tests do the
 * same over buffers and sockets. One struct http_conn per connection, all
 * memory inside it (no allocation), so the board bounds its RAM by bounding
 * its connections.
 *
 * What a client gets:
 *  - request line + headers up to HTTP_HEAD_MAX bytes (else 431), a path up
 *    to HTTP_PATH_MAX (else 414); anything malformed → 400 and the
 *    connection is closed after the answer (it cannot be re-synchronised);
 *  - bodies with Content-Length only, streamed to the route in pieces as
 *    they arrive (a 16 MiB bundle passes through a few KiB); a body larger
 *    than the route's limit → 413 before any of it is taken; a body without
 *    Content-Length on a route that takes one → 411; Transfer-Encoding → 501;
 *  - keep-alive (HTTP/1.1 default; "Connection: close" honoured; HTTP/1.0
 *    closes unless it asks for keep-alive), pipelined requests answered in
 *    order, HEAD answered like GET without the body;
 *  - unknown paths → 404, a known path with another method → 405 + Allow;
 *  - deadlines: a request must arrive whole (head) within
 *    HTTP_HEAD_TIMEOUT_MS of its first byte, and a body may not stall for
 *    longer than HTTP_BODY_IDLE_MS; an idle keep-alive connection is closed
 *    after HTTP_IDLE_TIMEOUT_MS. A slowloris sending a byte a second is cut
 *    off by the head deadline, not kept alive by its trickle.
 *
 * Error answers carry a JSON body {"error":"<code>","message":"<text>"}.
 */
#ifndef FLOTILLA_CONTROL_HTTP_H
#define FLOTILLA_CONTROL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX        4096
#define HTTP_PATH_MAX        128
#define HTTP_AUTH_MAX        320
#define HTTP_OUT_MAX         2048 /* response head + small bodies */
#define HTTP_HEAD_TIMEOUT_MS 10000
#define HTTP_BODY_IDLE_MS    15000
#define HTTP_IDLE_TIMEOUT_MS 30000
#define HTTP_ROUTE_PARAM_MAX 32

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_PUT, HTTP_POST, HTTP_DELETE, HTTP_METHOD_OTHER };

struct http_request {
	enum http_method method;
	char method_name[8];
	char path[HTTP_PATH_MAX];             /* without the query */
	char query[HTTP_PATH_MAX];            /* after '?', "" when none */
	char param[HTTP_ROUTE_PARAM_MAX + 1]; /* the route's {name} segment */
	char authorization[HTTP_AUTH_MAX];
	bool has_length;
	uint64_t content_length;
	bool keep_alive;
};

struct http_conn;

/*
 * A route: METHOD and a path pattern where one segment may be "{}" (any
 * 1..HTTP_ROUTE_PARAM_MAX of [a-z0-9_.-], given in request.param). Calls:
 *  begin(): the head is complete; may answer at once (http_respond…) — then
 *           any body is refused (the connection closes after the answer);
 *  body():  the next piece of the body (only when begin() did not answer);
 *           may answer (an error): the rest is not read, the connection closes;
 *  end():   the whole body has arrived (or there was none): must answer.
 * body_max: the largest body taken (0: no body allowed; a body → 413).
 */
struct http_route {
	enum http_method method;
	const char *pattern;
	uint64_t body_max;
	void (*begin)(struct http_conn *c, const struct http_request *r);
	void (*body)(struct http_conn *c, const uint8_t *data, size_t len);
	void (*end)(struct http_conn *c, const struct http_request *r);
};

struct http_server {
	const struct http_route *routes;
	size_t route_count;
	void *app; /* the application's state, for handlers */
};

enum http_conn_state {
	HTTP_READ_HEAD,
	HTTP_READ_BODY,
	HTTP_DISCARD, /* answered early: waiting for the output to drain, then close */
	HTTP_WAIT,    /* body complete, answer pending (an asynchronous handler) */
	HTTP_CLOSED,
};

struct http_conn {
	const struct http_server *server;
	const struct http_route *route;
	void *user; /* the handler's per-request state */
	enum http_conn_state state;
	struct http_request request;
	uint64_t body_left;
	uint64_t head_started_ms, last_input_ms, last_activity_ms;
	bool answered, close_after, head_only;
	/* unparsed input: the head being collected, or pipelined bytes */
	char in[HTTP_HEAD_MAX];
	size_t in_len;
	/* the answer being sent */
	char out[HTTP_OUT_MAX];
	size_t out_len, out_sent;
	/* a streamed body (http_respond_stream): bytes still to come */
	uint64_t stream_left;
	size_t (*stream)(struct http_conn *c, char *buf, size_t cap);
	bool stream_open;  /* http_respond_stream_open(): the body ends with the connection */
	unsigned requests; /* answered on this connection */
};

/* http.c */
void http_conn_init(struct http_conn *c, const struct http_server *server, uint64_t now_ms);
/*
 * Bytes received. Returns how many were taken: fewer than len when the
 * connection waits for its answer to be sent (feed the rest later, after
 * http_conn_output()); all of them when it is closed (they are dropped).
 */
size_t http_conn_input(struct http_conn *c, const void *data, size_t len, uint64_t now_ms);
/* Copies up to cap bytes of answer to send; 0 when there is nothing now. */
size_t http_conn_output(struct http_conn *c, void *buf, size_t cap);
/* Deadlines: true when the connection should be closed now (answers 408 first if it can). */
bool http_conn_expired(struct http_conn *c, uint64_t now_ms);
/* True once the answer is sent and the connection must be closed. */
bool http_conn_should_close(const struct http_conn *c);
/* The peer closed its side: nothing more will arrive. */
void http_conn_peer_closed(struct http_conn *c);

/* Answers (from handlers). body may be NULL for len 0. */
void http_respond(struct http_conn *c, int status, const char *content_type, const char *body,
		  size_t len);
/* The same with extra header lines (each ending in CRLF, e.g.
 * "Location: /v1/guests/www/operation\r\n"); headers may be NULL. */
void http_respond_headers(struct http_conn *c, int status, const char *content_type,
			  const char *headers, const char *body, size_t len);
/* {"error":code,"message":message} with the status. */
void http_respond_error(struct http_conn *c, int status, const char *code, const char *message);
/* A body of exactly len bytes produced by fill() as output room appears. */
void http_respond_stream(struct http_conn *c, int status, const char *content_type, uint64_t len,
			 size_t (*fill)(struct http_conn *c, char *buf, size_t cap));
/*
 * A body without a length that ends when the connection does (HTTP/1.1
 * "Connection: close" framing, RFC 9112 §6.3 rule 8): for answers that go
 * on for as long as the client listens (GET /v1/guests/NAME/logs?follow=1).
 * fill() is asked whenever output room appears (and by the owner's poll)
 * and may return 0 when it has nothing yet; the connection is not expired
 * while it waits. It ends when the client goes away, or after
 * http_stream_end() once what fill() gave is sent. HEAD gets the head only.
 */
void http_respond_stream_open(struct http_conn *c, int status, const char *content_type,
			      size_t (*fill)(struct http_conn *c, char *buf, size_t cap));
/* Ends an open stream: the connection closes once the output is sent. */
void http_stream_end(struct http_conn *c);
const char *http_status_text(int status);

/*
 * A JSON writer into a fixed buffer: never overflows; json_ok() says whether
 * everything fit. Strings are escaped (control characters as \u00XX).
 */
struct json_writer {
	char *buf;
	size_t cap, len;
	bool overflow, need_comma;
};
void json_init(struct json_writer *j, char *buf, size_t cap);
void json_begin_object(struct json_writer *j);
void json_end_object(struct json_writer *j);
void json_begin_array(struct json_writer *j, const char *key);
void json_end_array(struct json_writer *j);
void json_key_object(struct json_writer *j, const char *key); /* "key":{ */
void json_string(struct json_writer *j, const char *key,
		 const char *value); /* key NULL in arrays */
void json_uint(struct json_writer *j, const char *key, uint64_t value);
void json_bool(struct json_writer *j, const char *key, bool value);
bool json_ok(const struct json_writer *j);

#endif
