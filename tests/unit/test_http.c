/*
 * test_http.c: the device API's HTTP/1.1 machine (guests/control/http.c),
 * fed the way TCP delivers bytes: whole, one at a time, in random pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* ---------------------------------------------------------------- a small API */

struct app {
	uint64_t body_bytes, body_sum;
	unsigned bodies, fail_after;
	char last_param[64];
	unsigned streamed;
};
static struct app app;

static void hello_end(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	http_respond(c, 200, "text/plain", "hello\n", 6);
}

static void guest_end(struct http_conn *c, const struct http_request *r)
{
	char body[128];
	struct json_writer j;
	json_init(&j, body, sizeof(body));
	json_begin_object(&j);
	json_string(&j, "name", r->param);
	json_end_object(&j);
	snprintf(app.last_param, sizeof(app.last_param), "%s", r->param);
	http_respond(c, 200, "application/json", body, j.len);
}

static void upload_body(struct http_conn *c, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		app.body_sum += data[i];
	app.body_bytes += len;
	if (app.fail_after && app.body_bytes >= app.fail_after)
		http_respond_error(c, 422, "bad_bundle", "refused mid-body");
}

static void upload_end(struct http_conn *c, const struct http_request *r)
{
	char body[64];
	(void)r;
	app.bodies++;
	int n =
	    snprintf(body, sizeof(body), "{\"bytes\":%llu}", (unsigned long long)app.body_bytes);
	http_respond(c, 201, "application/json", body, (size_t)n);
}

static size_t fill_pattern(struct http_conn *c, char *buf, size_t cap)
{
	(void)c;
	for (size_t i = 0; i < cap; i++)
		buf[i] = (char)('a' + (app.streamed++ % 26));
	return cap;
}

static void big_end(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	app.streamed = 0;
	http_respond_stream(c, 200, "text/plain", 100000, fill_pattern);
}

/* An open stream: what app.news holds is sent as it appears. */
static char news[256];
static size_t news_len, news_sent;

static size_t fill_news(struct http_conn *c, char *buf, size_t cap)
{
	(void)c;
	size_t n = news_len - news_sent < cap ? news_len - news_sent : cap;
	memcpy(buf, news + news_sent, n);
	news_sent += n;
	return n;
}

static void follow_end(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	news_len = news_sent = 0;
	http_respond_stream_open(c, 200, "application/x-ndjson", fill_news);
}

static void add_news(const char *text)
{
	size_t n = strlen(text);
	memcpy(news + news_len, text, n);
	news_len += n;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/follow", 0, NULL, NULL, follow_end},
    {HTTP_GET, "/hello", 0, NULL, NULL, hello_end},
    {HTTP_GET, "/v1/guests/{}", 0, NULL, NULL, guest_end},
    {HTTP_PUT, "/v1/guests/{}", 1 << 24, NULL, upload_body, upload_end},
    {HTTP_DELETE, "/v1/guests/{}", 0, NULL, NULL, guest_end},
    {HTTP_GET, "/big", 0, NULL, NULL, big_end},
};
static const struct http_server server = {routes, sizeof(routes) / sizeof(routes[0]), &app};

/* ---------------------------------------------------------------- driving */

static char out[1 << 18];
static size_t out_len;

static void pump(struct http_conn *c, size_t chunk)
{
	size_t n;
	while (out_len < sizeof(out) - 1 &&
	       (n = http_conn_output(
		    c, out + out_len,
		    chunk < sizeof(out) - 1 - out_len ? chunk : sizeof(out) - 1 - out_len)) > 0)
		out_len += n;
	out[out_len] = '\0';
}

/* Feeds input in pieces of `piece` bytes (0: random 1..64), sending answers as TCP would. */
static void feed(struct http_conn *c, const char *input, size_t len, size_t piece, uint64_t now)
{
	size_t pos = 0;
	while (pos < len) {
		size_t n = piece ? piece : 1 + (size_t)(rand() % 64);
		if (n > len - pos)
			n = len - pos;
		size_t took = http_conn_input(c, input + pos, n, now);
		pos += took;
		pump(c, 1 + (size_t)(rand() % 700));
		if (took == 0 && http_conn_should_close(c))
			break;
		if (took == 0 && c->state == HTTP_DISCARD)
			break;
	}
	pump(c, 4096);
}

static void start(struct http_conn *c)
{
	memset(&app, 0, sizeof(app));
	out_len = 0;
	out[0] = '\0';
	http_conn_init(c, &server, 0);
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

#define REQ(line, extra) line " HTTP/1.1\r\nHost: board\r\n" extra "\r\n"

static void get_keep_alive_in_any_pieces(void **state)
{
	(void)state;
	static struct http_conn c;
	const char req[] = REQ("GET /hello", "");
	for (size_t piece = 0; piece <= 3; piece++) {
		start(&c);
		feed(&c, req, strlen(req), piece, 1);
		assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
		assert_non_null(strstr(out, "Content-Length: 6\r\n"));
		assert_non_null(strstr(out, "Connection: keep-alive\r\n"));
		assert_non_null(strstr(out, "\r\n\r\nhello\n"));
		assert_false(http_conn_should_close(&c));
	}
}

static void pipelined_requests_are_answered_in_order(void **state)
{
	(void)state;
	static struct http_conn c;
	const char req[] = REQ("GET /v1/guests/alpha", "") REQ("HEAD /hello", "")
	    REQ("GET /v1/guests/beta", "") REQ("GET /hello", "Connection: close\r\n");
	start(&c);
	feed(&c, req, strlen(req), 0, 1);
	assert_int_equal(count(out, "HTTP/1.1 200 OK"), 4);
	char *a = strstr(out, "{\"name\":\"alpha\"}"), *b = strstr(out, "{\"name\":\"beta\"}");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	/* HEAD: the GET's headers, no body: "hello" appears once, in the last answer. */
	assert_int_equal(count(out, "hello\n"), 1);
	assert_non_null(strstr(out, "Connection: close"));
	assert_true(http_conn_should_close(&c));
}

static void routing_errors(void **state)
{
	(void)state;
	static struct http_conn c;
	start(&c);
	const char r404[] = REQ("GET /nope", "");
	feed(&c, r404, strlen(r404), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 404 Not Found"));
	assert_non_null(strstr(out, "{\"error\":\"not_found\""));
	assert_false(http_conn_should_close(&c));

	out_len = 0;
	const char r405[] = REQ("POST /v1/guests/alpha", "Content-Length: 0\r\n");
	feed(&c, r405, strlen(r405), 0, 2);
	assert_non_null(strstr(out, "HTTP/1.1 405 Method Not Allowed"));
	assert_non_null(strstr(out, "Allow: GET, HEAD, PUT, DELETE\r\n"));

	out_len = 0;
	const char bad_name[] = REQ("GET /v1/guests/Al$pha", "");
	feed(&c, bad_name, strlen(bad_name), 0, 3);
	assert_non_null(strstr(out, "HTTP/1.1 404"));
}

static void malformed_requests_get_400_and_close(void **state)
{
	(void)state;
	static struct http_conn c;
	const char *cases[] = {
	    "GET /hello\r\n\r\n",
	    "get /hello HTTP/1.1\r\nHost: b\r\n\r\n",
	    "GET hello HTTP/1.1\r\nHost: b\r\n\r\n",
	    "GET /hello HTTP/2.0\r\nHost: b\r\n\r\n",
	    "GET /hello HTTP/1.1\r\nHost b\r\n\r\n",
	    "GET /hello HTTP/1.1\r\nHost: b\r\n folded\r\n\r\n",
	    "GET /hello HTTP/1.1\r\nHost : b\r\n\r\n",
	    "PUT /v1/guests/a HTTP/1.1\r\nHost: b\r\nContent-Length: 12x\r\n\r\n",
	    "PUT /v1/guests/a HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\nContent-Length: "
	    "6\r\n\r\n",
	    "GET /hello HTTP/1.1\r\n\r\n", /* no Host */
	    "GET /he\x01llo HTTP/1.1\r\nHost: b\r\n\r\n",
	    "GET /hello HTTP/1.1\r\nHost: b\x7f\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(&c);
		feed(&c, cases[i], strlen(cases[i]), 0, 1);
		if (!strstr(out, "HTTP/1.1 400 Bad Request") || !strstr(out, "Connection: close"))
			fail_msg("case %zu: %s", i, out);
		assert_true(http_conn_should_close(&c));
		/* Nothing after a malformed request is ever parsed. */
		size_t before = out_len;
		const char more[] = REQ("GET /hello", "");
		feed(&c, more, strlen(more), 0, 2);
		assert_int_equal(out_len, before);
	}
}

static void limits_413_414_431_411_501(void **state)
{
	(void)state;
	static struct http_conn c;
	static char big[HTTP_HEAD_MAX + 200];

	start(&c);
	snprintf(big, sizeof(big), "GET /hello HTTP/1.1\r\nHost: b\r\nX-Pad: %0*d\r\n\r\n",
		 HTTP_HEAD_MAX, 0);
	feed(&c, big, strlen(big), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 431"));
	assert_true(http_conn_should_close(&c));

	start(&c);
	snprintf(big, sizeof(big), "GET /%0*d HTTP/1.1\r\nHost: b\r\n\r\n", HTTP_PATH_MAX, 0);
	feed(&c, big, strlen(big), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 414"));

	start(&c);
	const char too_big[] = REQ("PUT /v1/guests/a", "Content-Length: 16777217\r\n") "xxxx";
	feed(&c, too_big, strlen(too_big), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 413"));
	assert_int_equal(app.body_bytes, 0);
	assert_true(http_conn_should_close(&c));

	start(&c);
	const char body_on_get[] = REQ("GET /hello", "Content-Length: 3\r\n") "abc";
	feed(&c, body_on_get, strlen(body_on_get), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 413"));

	start(&c);
	const char no_length[] = REQ("PUT /v1/guests/a", "");
	feed(&c, no_length, strlen(no_length), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 411"));

	start(&c);
	const char chunked[] =
	    REQ("PUT /v1/guests/a", "Transfer-Encoding: chunked\r\n") "5\r\nhello\r\n0\r\n\r\n";
	feed(&c, chunked, strlen(chunked), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 501"));
	assert_true(http_conn_should_close(&c));
	assert_int_equal(app.body_bytes, 0);
}

static void a_large_body_streams_through(void **state)
{
	(void)state;
	static struct http_conn c;
	size_t body_len = 3u << 20;
	char head[128];
	int n = snprintf(head, sizeof(head), REQ("PUT /v1/guests/www", "Content-Length: %zu\r\n"),
			 body_len);
	char *req = malloc((size_t)n + body_len);
	memcpy(req, head, (size_t)n);
	uint64_t sum = 0;
	for (size_t i = 0; i < body_len; i++) {
		req[n + (long)i] = (char)(i * 131 + (i >> 9));
		sum += (uint8_t)req[n + (long)i];
	}
	start(&c);
	feed(&c, req, (size_t)n + body_len, 0, 1);
	free(req);
	assert_non_null(strstr(out, "HTTP/1.1 201 Created"));
	assert_int_equal(app.body_bytes, body_len);
	assert_int_equal(app.body_sum, sum);
	assert_int_equal(app.bodies, 1);
	assert_false(http_conn_should_close(&c));
	/* Everything a connection holds, whatever the body size. */
	assert_true(sizeof(struct http_conn) < 8192);
}

static void an_error_mid_body_stops_reading(void **state)
{
	(void)state;
	static struct http_conn c;
	static char req[200000];
	int n = snprintf(req, sizeof(req), REQ("PUT /v1/guests/www", "Content-Length: 150000\r\n"));
	memset(req + n, 'x', 150000);
	start(&c);
	app.fail_after = 1000;
	feed(&c, req, (size_t)n + 150000, 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 422"));
	assert_non_null(strstr(out, "refused mid-body"));
	assert_true(app.body_bytes < 1100);
	assert_int_equal(app.bodies, 0);
	assert_true(http_conn_should_close(&c));
}

static void slowloris_and_idle_deadlines(void **state)
{
	(void)state;
	static struct http_conn c;
	const char req[] = REQ("GET /hello", "");
	start(&c);
	uint64_t now = 0;
	size_t i = 0;
	/* One byte a second keeps the connection busy but not alive. */
	for (; i < strlen(req) - 1 && !http_conn_expired(&c, now); i++, now += 1000) {
		http_conn_input(&c, req + i, 1, now);
		pump(&c, 4096);
		if (out_len)
			break;
	}
	pump(&c, 4096);
	assert_non_null(strstr(out, "HTTP/1.1 408"));
	assert_true(now <= HTTP_HEAD_TIMEOUT_MS + 2000);
	assert_true(http_conn_should_close(&c));

	/* A keep-alive connection with nothing to do is closed after the idle time. */
	start(&c);
	feed(&c, req, strlen(req), 0, 1000);
	assert_false(http_conn_expired(&c, 1000 + HTTP_IDLE_TIMEOUT_MS - 1));
	assert_true(http_conn_expired(&c, 1000 + HTTP_IDLE_TIMEOUT_MS + 1));

	/* A body that stalls. */
	start(&c);
	const char put[] = REQ("PUT /v1/guests/a", "Content-Length: 100\r\n") "abc";
	feed(&c, put, strlen(put), 0, 0);
	assert_false(http_conn_expired(&c, HTTP_BODY_IDLE_MS));
	http_conn_expired(&c, HTTP_BODY_IDLE_MS + 1);
	pump(&c, 4096);
	assert_non_null(strstr(out, "HTTP/1.1 408"));
}

static void http10_and_connection_close(void **state)
{
	(void)state;
	static struct http_conn c;
	start(&c);
	const char r10[] = "GET /hello HTTP/1.0\r\n\r\n";
	feed(&c, r10, strlen(r10), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(out, "Connection: close"));
	assert_true(http_conn_should_close(&c));

	start(&c);
	const char keep10[] = "GET /hello HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
	feed(&c, keep10, strlen(keep10), 0, 1);
	assert_non_null(strstr(out, "Connection: keep-alive"));
	assert_false(http_conn_should_close(&c));
}

static void streamed_answer_through_small_windows(void **state)
{
	(void)state;
	static struct http_conn c;
	start(&c);
	const char req[] = REQ("GET /big", "");
	/* 37-byte windows, as a tiny TCP window would give. */
	http_conn_input(&c, req, strlen(req), 1);
	size_t n;
	while ((n = http_conn_output(&c, out + out_len, 37)) > 0)
		out_len += n;
	out[out_len] = '\0';
	char *body = strstr(out, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_int_equal(out_len - (size_t)(body - out), 100000);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(body[i], 'a' + (char)(i % 26));
	/* The next request is served after the stream. */
	out_len = 0;
	const char again[] = REQ("GET /hello", "");
	feed(&c, again, strlen(again), 0, 2);
	assert_non_null(strstr(out, "hello\n"));
}

static void open_stream_ends_with_the_connection(void **state)
{
	(void)state;
	static struct http_conn c;
	start(&c);
	const char req[] = REQ("GET /follow", "");
	feed(&c, req, strlen(req), 0, 1);
	/* The head: no length, the body ends when the connection does. */
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_null(strstr(out, "Content-Length"));
	assert_non_null(strstr(out, "Connection: close\r\n"));
	assert_non_null(strstr(out, "application/x-ndjson"));
	assert_false(http_conn_should_close(&c));
	/* Nothing yet: nothing sent, and the connection waits. */
	size_t before = out_len;
	pump(&c, 4096);
	assert_int_equal(out_len, before);
	/* News goes out as it appears, in whatever windows TCP gives. */
	add_news("{\"n\":1}\n");
	pump(&c, 3);
	add_news("{\"n\":2}\n");
	pump(&c, 5);
	assert_non_null(strstr(out, "\r\n\r\n{\"n\":1}\n{\"n\":2}\n"));
	/* Silence is not idleness: an open stream outlives the idle deadline. */
	assert_false(http_conn_expired(&c, 10 * HTTP_IDLE_TIMEOUT_MS));
	assert_false(http_conn_should_close(&c));
	/* A request pipelined meanwhile is not served: this answer never ends. */
	const char more[] = REQ("GET /hello", "");
	http_conn_input(&c, more, strlen(more), 2);
	pump(&c, 4096);
	assert_null(strstr(out, "hello\n"));
	/* The client goes away: the stream ends, the connection closes. */
	http_conn_peer_closed(&c);
	assert_true(http_conn_should_close(&c));
	assert_true(http_conn_expired(&c, 3));
}

static void open_stream_ended_by_the_handler_and_head(void **state)
{
	(void)state;
	static struct http_conn c;
	start(&c);
	const char req[] = REQ("GET /follow", "");
	feed(&c, req, strlen(req), 0, 1);
	add_news("last\n");
	http_stream_end(&c);
	pump(&c, 4096);
	/* What fill() had before the end is not promised: the end is at once. */
	assert_true(http_conn_should_close(&c));

	start(&c);
	const char head[] = REQ("HEAD /follow", "");
	feed(&c, head, strlen(head), 0, 1);
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_null(strstr(out, "Content-Length"));
	assert_true(http_conn_should_close(&c));

	/* An HTTP/1.0 client gets the same framing. */
	start(&c);
	const char old[] = "GET /follow HTTP/1.0\r\n\r\n";
	feed(&c, old, strlen(old), 0, 1);
	add_news("x\n");
	pump(&c, 4096);
	assert_non_null(strstr(out, "Connection: close\r\n\r\nx\n"));
	assert_false(http_conn_should_close(&c));
}

static void json_writer_escapes_and_bounds(void **state)
{
	(void)state;
	char buf[64];
	struct json_writer j;
	json_init(&j, buf, sizeof(buf));
	json_begin_object(&j);
	json_string(&j, "m", "a\"b\\c\n\x01");
	json_uint(&j, "n", 42);
	json_bool(&j, "ok", true);
	json_begin_array(&j, "l");
	json_string(&j, NULL, "x");
	json_uint(&j, NULL, 1);
	json_end_array(&j);
	json_end_object(&j);
	assert_true(json_ok(&j));
	assert_string_equal(
	    buf, "{\"m\":\"a\\\"b\\\\c\\u000a\\u0001\",\"n\":42,\"ok\":true,\"l\":[\"x\",1]}");

	char tiny[8];
	json_init(&j, tiny, sizeof(tiny));
	json_begin_object(&j);
	json_string(&j, "message", "too long for eight bytes");
	json_end_object(&j);
	assert_false(json_ok(&j));
	assert_true(strlen(tiny) < sizeof(tiny));
}

int main(void)
{
	srand(1);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(get_keep_alive_in_any_pieces),
	    cmocka_unit_test(pipelined_requests_are_answered_in_order),
	    cmocka_unit_test(routing_errors),
	    cmocka_unit_test(malformed_requests_get_400_and_close),
	    cmocka_unit_test(limits_413_414_431_411_501),
	    cmocka_unit_test(a_large_body_streams_through),
	    cmocka_unit_test(an_error_mid_body_stops_reading),
	    cmocka_unit_test(slowloris_and_idle_deadlines),
	    cmocka_unit_test(http10_and_connection_close),
	    cmocka_unit_test(streamed_answer_through_small_windows),
	    cmocka_unit_test(open_stream_ends_with_the_connection),
	    cmocka_unit_test(open_stream_ended_by_the_handler_and_head),
	    cmocka_unit_test(json_writer_escapes_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
