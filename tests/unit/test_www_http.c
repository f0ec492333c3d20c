/* The www guest's HTTP/1.1 request parser and response heads (guests/www/http.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

static long parse(const char *text, struct http_request *req)
{
	return http_parse_request(text, strlen(text), req);
}

static void test_get_and_head(void **state)
{
	(void)state;
	struct http_request r;
	const char *get = "GET /game.js?v=2 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nNEXT";
	assert_int_equal(parse(get, &r), (long)strlen(get) - 4);
	assert_int_equal(r.method, HTTP_GET);
	assert_string_equal(r.target, "/game.js");
	assert_int_equal(r.minor, 1);
	assert_true(r.keep_alive);
	assert_int_equal(r.content_length, 0);
	assert_true(parse("HEAD / HTTP/1.0\r\n\r\n", &r) > 0);
	assert_int_equal(r.method, HTTP_HEAD);
	assert_false(r.keep_alive); /* HTTP/1.0 closes unless asked */
	assert_true(parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", &r) > 0);
	assert_int_equal(r.method, HTTP_OTHER);
	assert_int_equal(r.content_length, 12);
	assert_true(parse("GET http://a.b/c HTTP/1.1\r\nHost: a.b\r\n\r\n", &r) > 0);
	assert_string_equal(r.target, "/c");
}

static void test_connection_header(void **state)
{
	(void)state;
	struct http_request r;
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", &r) > 0);
	assert_false(r.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n", &r) >
		    0);
	assert_false(r.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r) > 0);
	assert_true(r.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", &r) > 0);
	assert_true(r.keep_alive);
}

static void test_incomplete(void **state)
{
	(void)state;
	struct http_request r;
	const char *full = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	/* Every strict prefix needs more bytes; none is an error. */
	for (size_t n = 0; n < strlen(full); n++)
		assert_int_equal(http_parse_request(full, n, &r), 0);
	assert_int_equal(http_parse_request(full, strlen(full), &r), (long)strlen(full));
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "GARBAGE\r\n\r\n",
	    " GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	    "GET / HTTP/1.1\r\n\r\n", /* no Host */
	    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	    "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
	    "GET foo HTTP/1.1\r\nHost: a\r\n\r\n",
	    "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	    "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
	    "GET / http/1.1\r\nHost: a\r\n\r\n",
	    "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
	    "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nBad Name: 1\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n",
	    "GET / HTTP/1.1\nHost: a\n\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1234567890123456\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	};
	struct http_request r;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long got = parse(bad[i], &r);
		if (got != -1)
			fail_msg("accepted (%ld): %s", got, bad[i]);
	}
	/* A target longer than the buffer is refused, not truncated. */
	char line[600] = "GET /";
	memset(line + 5, 'a', 400);
	strcpy(line + 405, " HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(parse(line, &r), -1);
	/* Chunked alone parses: the server answers 501 and closes. */
	assert_true(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &r) >
		    0);
	assert_true(r.chunked);
}

static void test_heads(void **state)
{
	(void)state;
	char out[256];
	size_t n = http_format_head(out, sizeof(out), 200, "text/plain", 3, true, 1);
	assert_int_equal(n, strlen(out));
	assert_string_equal(
	    out, "HTTP/1.1 200 OK\r\nServer: flotilla-www\r\nContent-Type: text/plain\r\n"
		 "Content-Length: 3\r\n\r\n");
	http_format_head(out, sizeof(out), 405, NULL, 0, false, 1);
	assert_non_null(strstr(out, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
	assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
	http_format_head(out, sizeof(out), 200, NULL, 4194304, true, 0);
	assert_non_null(strstr(out, "\r\nContent-Length: 4194304\r\nConnection: keep-alive\r\n"));
	assert_int_equal(http_format_head(out, 20, 200, "text/plain", 3, true, 1), 0);
	/* The upload sink's answer: no Content-Length on a 204 (RFC 9110 §8.6). */
	http_format_head(out, sizeof(out), 204, NULL, 0, true, 1);
	assert_string_equal(out, "HTTP/1.1 204 No Content\r\nServer: flotilla-www\r\n\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_and_head), cmocka_unit_test(test_connection_header),
	    cmocka_unit_test(test_incomplete),   cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_heads),
	};
	return cmocka_run_group_tests_name("www_http", tests, NULL, NULL);
}
