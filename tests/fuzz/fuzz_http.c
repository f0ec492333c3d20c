/*
 * libFuzzer target: the device API's HTTP machine (guests/control/http.c)
 * on arbitrary bytes, fed in pieces whose sizes come from the input, with
 * answers pulled through small windows and deadlines advanced. Properties:
 * no crash, no read or write outside the connection (ASan), output never
 * larger than what fits, and a closed connection stays closed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"

static uint8_t sink[1 << 16];

static void body(struct http_conn *c, const uint8_t *data, size_t len)
{
	if (len && data[0] == '!')
		http_respond_error(c, 422, "refused", "a refusal mid-body");
}

static void end_json(struct http_conn *c, const struct http_request *r)
{
	char buf[256];
	struct json_writer j;
	json_init(&j, buf, sizeof(buf));
	json_begin_object(&j);
	json_string(&j, "param", r->param);
	json_string(&j, "query", r->query);
	json_string(&j, "auth", r->authorization);
	json_end_object(&j);
	if (json_ok(&j))
		http_respond(c, 200, "application/json", buf, j.len);
	else
		http_respond_error(c, 500, "overflow", "json");
}

static size_t fill(struct http_conn *c, char *buf, size_t cap)
{
	(void)c;
	memset(buf, 'z', cap);
	return cap;
}

static void end_stream(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	http_respond_stream(c, 200, "text/plain", 5000, fill);
}

/* An open stream (logs?follow=1): a little news each time, never ending by itself. */
static unsigned open_budget;

static size_t fill_open(struct http_conn *c, char *buf, size_t cap)
{
	(void)c;
	if (open_budget == 0)
		return 0; /* nothing new now */
	open_budget--;
	size_t n = cap < 7 ? cap : 7;
	memcpy(buf, "{\"n\":1}", n);
	return n;
}

static void end_open(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	open_budget = 50;
	http_respond_stream_open(c, 200, "application/x-ndjson", fill_open);
}

static const struct http_route routes[] = {
    {HTTP_GET, "/v1/follow", 0, NULL, NULL, end_open},
    {HTTP_GET, "/v1/guests/{}", 0, NULL, NULL, end_json},
    {HTTP_PUT, "/v1/guests/{}", 100000, NULL, body, end_json},
    {HTTP_POST, "/v1/guests/{}/rollback", 64, NULL, body, end_json},
    {HTTP_GET, "/v1/stream", 0, NULL, NULL, end_stream},
};
static const struct http_server server = {routes, sizeof(routes) / sizeof(routes[0]), NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_conn c;
	uint64_t now = 0;
	if (size < 1)
		return 0;
	unsigned piece = data[0] % 17 + 1;
	data++;
	size--;
	http_conn_init(&c, &server, now);
	size_t pos = 0;
	unsigned stalls = 0;
	while (pos < size && stalls < 4) {
		size_t n = size - pos < piece ? size - pos : piece;
		size_t took = http_conn_input(&c, data + pos, n, now);
		pos += took;
		stalls = took ? 0 : stalls + 1;
		size_t out;
		while ((out = http_conn_output(&c, sink, 1 + (pos % 700))) > 0)
			if (out > 1 + (pos % 700))
				__builtin_trap();
		now += (data[pos < size ? pos : 0] & 0x3) * 4000;
		http_conn_expired(&c, now);
		if (http_conn_should_close(&c))
			break;
	}
	http_conn_peer_closed(&c);
	while (http_conn_output(&c, sink, sizeof(sink)) > 0)
		;
	return 0;
}
