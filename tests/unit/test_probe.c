/*
 * The control domain's health probe (guests/control/probe.c) on the host:
 * the plan's probe specs and HTTP status lines are parsed or refused with a
 * reason, and whole probes run from one net/ stack to a second one serving
 * TCP and HTTP over an in-memory wire with a virtual clock: passes, HTTP
 * errors, refusals, silence, garbage, loss, several probes at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "probe.h"
#include "test_net_wire.h"

/* ------------------------------------------------------------ parsing */

static void test_parse_accepts(void **state)
{
	(void)state;
	struct probe_spec s;
	const char *why = NULL;
	assert_int_equal(probe_parse("tcp:80", &s, &why), 0);
	assert_int_equal(s.kind, PROBE_TCP);
	assert_int_equal(s.port, 80);
	assert_int_equal(probe_parse("http:8080/healthz", &s, &why), 0);
	assert_int_equal(s.kind, PROBE_HTTP);
	assert_int_equal(s.port, 8080);
	assert_string_equal(s.path, "/healthz");
	assert_int_equal(probe_parse("http:65535/", &s, &why), 0);
	assert_string_equal(s.path, "/");
	assert_int_equal(probe_parse("http:1/a/b?x=1&y=%20", &s, &why), 0);
	assert_string_equal(s.path, "/a/b?x=1&y=%20");
	assert_int_equal(probe_parse("", &s, &why), 0);
	assert_int_equal(s.kind, PROBE_NONE);
	assert_int_equal(probe_parse("none", &s, &why), 0);
	assert_int_equal(s.kind, PROBE_NONE);
	char text[48];
	probe_parse("http:80/healthz", &s, &why);
	probe_format(&s, text, sizeof(text));
	assert_string_equal(text, "http:80/healthz");
}

static void test_parse_refuses(void **state)
{
	(void)state;
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"udp:53", "must be \"tcp:PORT\" or \"http:PORT/PATH\""},
	    {"TCP:80", "must be \"tcp:PORT\""},
	    {"tcp:", "port must be a number 1..65535"},
	    {"tcp:0", "port must be a number 1..65535"},
	    {"tcp:65536", "port must be a number 1..65535"},
	    {"tcp:1234567", "port must be a number 1..65535"},
	    {"tcp:-1", "port must be a number 1..65535"},
	    {"tcp:80/x", "nothing after the port"},
	    {"tcp:80 ", "nothing after the port"},
	    {"http:80", "needs a path"},
	    {"http:80healthz", "needs a path"},
	    {"http:/healthz", "port must be a number"},
	    {"http:80/a b", "may not contain spaces"},
	    {"http:80/a\r\nX: y", "may not contain spaces"},
	    {"http:80/#frag", "may not contain"},
	    {"http:80/\x7f", "may not contain"},
	    {"http:80/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "longer than 47 bytes"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct probe_spec s;
		const char *why = NULL;
		int rc = probe_parse(bad[i].text, &s, &why);
		if (rc != -1 || !why || !strstr(why, bad[i].why))
			fail_msg("\"%s\": rc %d, why \"%s\", wanted \"%s\"", bad[i].text, rc,
				 why ? why : "(none)", bad[i].why);
	}
}

static void test_status_line(void **state)
{
	(void)state;
#define STATUS(text) probe_http_status(text, strlen(text))
	assert_int_equal(STATUS("HTTP/1.1 200 OK"), 200);
	assert_int_equal(STATUS("HTTP/1.0 404 Not Found"), 404);
	assert_int_equal(STATUS("HTTP/1.1 204"), 204);
	assert_int_equal(STATUS("HTTP/1.1 503 "), 503);
	assert_int_equal(STATUS("HTTP/1.1 999 x"), 999);
	assert_int_equal(STATUS("HTTP/2 200 OK"), -1);
	assert_int_equal(STATUS("HTTP/1.1 20 OK"), -1);
	assert_int_equal(STATUS("HTTP/1.1 2000 OK"), -1);
	assert_int_equal(STATUS("HTTP/1.1 099 low"), -1);
	assert_int_equal(STATUS("HTTP/1.1  200 OK"), -1);
	assert_int_equal(STATUS("http/1.1 200 OK"), -1);
	assert_int_equal(STATUS("SSH-2.0-OpenSSH_9.2"), -1);
	assert_int_equal(STATUS(""), -1);
	/* Only len bytes count: no terminator needed, nothing read past it. */
	assert_int_equal(probe_http_status("HTTP/1.1 200 OK", 8), -1);
#undef STATUS
}

/* ------------------------------------------------------------ a server on B */

/* What B's port 80 does with a connection. */
enum server_mode {
	SERVE_ANSWER, /* reads the request head, sends `answer`, closes */
	SERVE_SILENT, /* accepts, reads, never answers */
	SERVE_HANGUP, /* closes as soon as the request arrives */
};

static struct server {
	enum server_mode mode;
	const char *answer;
	size_t answer_len, answer_sent;
	char request[512];
	size_t request_len;
	struct tcp_conn *conn;
	int accepted;
} server;

static struct test_wire *wire;
static struct tcp_listener *listener22;

static uint64_t wire_clock(void)
{
	return wire->now;
}

static void server_push(void)
{
	while (server.conn && server.answer_sent < server.answer_len) {
		int n = tcp_send(server.conn, server.answer + server.answer_sent,
				 server.answer_len - server.answer_sent);
		if (n <= 0)
			return;
		server.answer_sent += (size_t)n;
	}
	if (server.conn && server.answer_sent == server.answer_len) {
		tcp_close(server.conn);
		server.conn = NULL;
	}
}

static void server_event(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	(void)arg;
	switch (ev) {
	case TCP_EVENT_ACCEPT:
		server.conn = c;
		server.accepted++;
		server.answer_sent = 0;
		break;
	case TCP_EVENT_RECV:
	case TCP_EVENT_PEER_CLOSED: {
		int n;
		while ((n = tcp_recv(c, server.request + server.request_len,
				     sizeof(server.request) - 1 - server.request_len)) > 0)
			server.request_len += (size_t)n;
		server.request[server.request_len] = '\0';
		if (!strstr(server.request, "\r\n\r\n") || c != server.conn)
			break;
		if (server.mode == SERVE_HANGUP) {
			tcp_close(c);
			server.conn = NULL;
		} else if (server.mode == SERVE_ANSWER) {
			server_push();
		}
		break;
	}
	case TCP_EVENT_SENT: server_push(); break;
	case TCP_EVENT_ABORTED: server.conn = NULL; break;
	default: break;
	}
}

static struct test_wire *setup_wire(uint32_t seed, int raw_b)
{
	static struct test_wire w;
	wire_init(&w, seed, raw_b);
	wire = &w;
	memset(&server, 0, sizeof(server));
	if (!raw_b) {
		assert_non_null(tcp_listen(w.stack[1], 80, 4, server_event, NULL));
		listener22 = tcp_listen(w.stack[1], 22, 4, server_event, NULL);
		assert_non_null(listener22);
	}
	probe_attach(w.stack[0], wire_clock);
	return &w;
}

static void serve(enum server_mode mode, const char *answer)
{
	server.mode = mode;
	server.answer = answer;
	server.answer_len = answer ? strlen(answer) : 0;
}

/* Run the wire in 5 ms steps until every probe has its verdict. */
static void run_probes(struct probe *p, int n, uint64_t max_ms)
{
	for (uint64_t t = 0; t <= max_ms; t += 5) {
		int running = 0;
		for (int i = 0; i < n; i++)
			running += probe_poll(&p[i]) == PROBE_RUNNING;
		if (!running)
			return;
		wire_run(wire, 5);
	}
}

static struct probe_spec spec(const char *text)
{
	struct probe_spec s;
	const char *why;
	assert_int_equal(probe_parse(text, &s, &why), 0);
	return s;
}

static void expect_failure(struct probe *p, const char *reason)
{
	if (p->state != PROBE_FAILED || strcmp(p->reason, reason) != 0)
		fail_msg("state %d, reason \"%s\", wanted \"%s\"", p->state, p->reason, reason);
}

static void finish_wire(struct test_wire *w)
{
	wire_run(w, 70000); /* every endpoint closes; TIME_WAIT passes */
	assert_int_equal(net_pool_stats(w->stack[0], NET_POOL_TCP).in_use, 0);
	wire_free(w);
}

/* ------------------------------------------------------------ probes */

static void test_http_passes(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(1, 0);
	w->faults.latency_ms = 3;
	serve(SERVE_ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	struct probe p;
	struct probe_spec s = spec("http:80/healthz");
	assert_int_equal(probe_start(&p, &s, WIRE_IP_B, 2000), PROBE_RUNNING);
	run_probes(&p, 1, 3000);
	assert_int_equal(p.state, PROBE_PASSED);
	assert_int_equal(p.http_status, 200);
	/* ARP, handshake, request, answer: a few 3 ms hops, not the timeout. */
	assert_true(p.latency_ms >= 9 && p.latency_ms < 100);
	assert_string_equal(server.request, "GET /healthz HTTP/1.1\r\nHost: 10.0.0.2\r\n"
					    "Connection: close\r\n\r\n");
	finish_wire(w);
}

static void test_http_status_fails(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(2, 0);
	serve(SERVE_ANSWER, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
	struct probe p;
	struct probe_spec s = spec("http:80/healthz");
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "HTTP 500 from GET /healthz");
	assert_int_equal(p.http_status, 500);
	/* 3xx is not healthy either: the probe does not follow redirects. */
	serve(SERVE_ANSWER, "HTTP/1.0 301 Moved\r\nLocation: /x\r\n\r\n");
	server.request_len = 0;
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "HTTP 301 from GET /healthz");
	finish_wire(w);
}

static void test_tcp_passes_and_refused(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(3, 0);
	serve(SERVE_SILENT, NULL);
	struct probe p;
	struct probe_spec s = spec("tcp:22");
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	assert_int_equal(p.state, PROBE_PASSED);
	assert_int_equal(server.accepted, 1);
	s = spec("tcp:81");
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "connection refused by 10.0.0.2:81");
	assert_true(p.latency_ms < 100);
	s = spec("http:8080/healthz");
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "connection refused by 10.0.0.2:8080");
	finish_wire(w);
}

static void test_silence_times_out(void **state)
{
	(void)state;
	/* Nobody at all at B: ARP goes unanswered. */
	struct test_wire *w = setup_wire(4, 1);
	struct probe p;
	struct probe_spec s = spec("http:80/healthz");
	probe_start(&p, &s, WIRE_IP_B, 1500);
	assert_int_equal(probe_deadline_ms(&p), w->now + 1500);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "no answer from 10.0.0.2:80 within 1500 ms");
	assert_true(p.latency_ms >= 1500 && p.latency_ms <= 1510);
	assert_int_equal(probe_deadline_ms(&p), UINT64_MAX);
	wire_run(w, 70000);
	assert_int_equal(net_pool_stats(w->stack[0], NET_POOL_TCP).in_use, 0);
	wire_free(w);
	/* A server that accepts and never answers. */
	w = setup_wire(5, 0);
	serve(SERVE_SILENT, NULL);
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "10.0.0.2:80 accepted GET /healthz but sent no status within 2000 ms");
	finish_wire(w);
}

static void test_bad_answers(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(6, 0);
	struct probe p;
	struct probe_spec s = spec("http:80/healthz");
	serve(SERVE_ANSWER, "SSH-2.0-OpenSSH_9.2\r\n");
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "the answer to GET /healthz from 10.0.0.2:80 is not HTTP: "
			   "\"SSH-2.0-OpenSSH_9.2\"");
	/* A status line never ends: the probe reads no more than its bound. */
	static char endless[4096];
	memset(endless, 'x', sizeof(endless) - 1);
	serve(SERVE_ANSWER, endless);
	server.request_len = 0;
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "10.0.0.2:80 sent no HTTP status line in the first 512 bytes of its "
			   "answer to GET /healthz");
	serve(SERVE_HANGUP, NULL);
	server.request_len = 0;
	probe_start(&p, &s, WIRE_IP_B, 2000);
	run_probes(&p, 1, 3000);
	expect_failure(&p, "10.0.0.2:80 closed the connection without answering GET /healthz");
	finish_wire(w);
}

static void test_without_address(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(7, 0);
	struct probe p;
	struct probe_spec s = spec("tcp:80");
	probe_start(&p, &s, 0, 2000);
	expect_failure(&p, "the guest has no address to probe");
	net_set_ipv4(w->stack[0], 0, 0, 0);
	assert_int_equal(probe_start(&p, &s, WIRE_IP_B, 2000), PROBE_FAILED);
	expect_failure(&p, "the control domain has no address");
	probe_attach(NULL, NULL);
	probe_start(&p, &s, WIRE_IP_B, 2000);
	expect_failure(&p, "the control domain has no network");
	/* No probe declared: passes at once (the gate is flotilla_ready() alone). */
	s = spec("none");
	assert_int_equal(probe_start(&p, &s, WIRE_IP_B, 2000), PROBE_PASSED);
	wire_free(w);
}

/* One per guest being swapped: independent probes on one stack. */
static void test_concurrent_probes(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(8, 0);
	w->faults.latency_ms = 2;
	serve(SERVE_ANSWER, "HTTP/1.1 204 No Content\r\n\r\n");
	struct probe p[4];
	struct probe_spec specs[4] = {spec("http:80/a"), spec("tcp:22"), spec("tcp:81"),
				      spec("http:80/b")};
	for (int i = 0; i < 4; i++)
		assert_int_equal(probe_start(&p[i], &specs[i], WIRE_IP_B, 2000), PROBE_RUNNING);
	run_probes(p, 4, 3000);
	assert_int_equal(p[0].state, PROBE_PASSED);
	assert_int_equal(p[0].http_status, 204);
	assert_int_equal(p[1].state, PROBE_PASSED);
	expect_failure(&p[2], "connection refused by 10.0.0.2:81");
	assert_int_equal(p[3].state, PROBE_PASSED);
	finish_wire(w);
}

/* Loss on the wire costs retransmissions, not the verdict. */
static void test_lossy_wire(void **state)
{
	(void)state;
	for (uint32_t seed = 10; seed < 20; seed++) {
		struct test_wire *w = setup_wire(seed, 0);
		w->faults.loss_pct = 20;
		w->faults.latency_ms = 1;
		serve(SERVE_ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		struct probe p;
		struct probe_spec s = spec("http:80/healthz");
		probe_start(&p, &s, WIRE_IP_B, 30000);
		run_probes(&p, 1, 31000);
		if (p.state != PROBE_PASSED)
			fail_msg("seed %u: %s", seed, p.reason);
		w->faults.loss_pct = 0;
		finish_wire(w);
	}
}

static void test_cancel(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(9, 0);
	serve(SERVE_SILENT, NULL);
	struct probe p;
	struct probe_spec s = spec("http:80/healthz");
	probe_start(&p, &s, WIRE_IP_B, 2000);
	wire_run(w, 20);
	assert_int_equal(probe_poll(&p), PROBE_RUNNING);
	probe_cancel(&p);
	assert_int_equal(p.state, PROBE_IDLE);
	memset(&p, 0xa5, sizeof(p)); /* no callback may touch it any more */
	wire_run(w, 3000);
	assert_int_equal(net_pool_stats(w->stack[0], NET_POOL_TCP).in_use, 0);
	wire_free(w);
}

/* ------------------------------------------------------------ the gate */

static void run_gate(struct probe_gate *g, uint64_t max_ms)
{
	for (uint64_t t = 0; t <= max_ms && probe_gate_poll(g) == PROBE_RUNNING; t += 5)
		wire_run(wire, 5);
}

/* A service that starts listening late: refused at first, then it passes. */
static void test_gate_waits_for_the_service(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(20, 0);
	serve(SERVE_ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	struct probe_gate g;
	struct probe_spec s = spec("http:8080/healthz");
	assert_int_equal(probe_gate_start(&g, &s, WIRE_IP_B, 5000), PROBE_RUNNING);
	run_gate(&g, 1200);
	assert_int_equal(g.state, PROBE_RUNNING);
	assert_true(g.attempts >= 3);
	/* Between attempts the deadline is the retry, no later. */
	assert_true(probe_gate_deadline_ms(&g) <= w->now + PROBE_GATE_RETRY_MS);
	tcp_listener_close(listener22); /* B's stack holds two listeners */
	assert_non_null(tcp_listen(w->stack[1], 8080, 4, server_event, NULL));
	run_gate(&g, 5000);
	assert_int_equal(g.state, PROBE_PASSED);
	assert_true(g.elapsed_ms >= 1200 && g.elapsed_ms < 1600);
	assert_true(g.latency_ms < 100);
	finish_wire(w);
}

/* Never healthy: the verdict is the last real answer, within the window. */
static void test_gate_reports_the_last_answer(void **state)
{
	(void)state;
	struct test_wire *w = setup_wire(21, 0);
	serve(SERVE_ANSWER, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	struct probe_gate g;
	struct probe_spec s = spec("http:80/healthz");
	probe_gate_start(&g, &s, WIRE_IP_B, 3000);
	run_gate(&g, 5000);
	if (g.state != PROBE_FAILED || strcmp(g.reason, "HTTP 503 from GET /healthz") != 0)
		fail_msg("state %d, reason \"%s\"", g.state, g.reason);
	assert_true(g.attempts > 3);
	assert_true(g.elapsed_ms > 3000 - PROBE_GATE_RETRY_MS - PROBE_GATE_ATTEMPT_MIN_MS &&
		    g.elapsed_ms <= 3000);
	finish_wire(w);
	/* Silence: one attempt takes the whole window. */
	w = setup_wire(22, 1);
	probe_gate_start(&g, &s, WIRE_IP_B, 1500);
	run_gate(&g, 3000);
	if (g.state != PROBE_FAILED ||
	    strcmp(g.reason, "no answer from 10.0.0.2:80 within 1500 ms") != 0)
		fail_msg("state %d, reason \"%s\"", g.state, g.reason);
	assert_int_equal(g.attempts, 1);
	wire_free(w);
	/* No probe declared: the gate passes at once. */
	s = spec("none");
	assert_int_equal(probe_gate_start(&g, &s, WIRE_IP_B, 1500), PROBE_PASSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_accepts),
	    cmocka_unit_test(test_parse_refuses),
	    cmocka_unit_test(test_status_line),
	    cmocka_unit_test(test_http_passes),
	    cmocka_unit_test(test_http_status_fails),
	    cmocka_unit_test(test_tcp_passes_and_refused),
	    cmocka_unit_test(test_silence_times_out),
	    cmocka_unit_test(test_bad_answers),
	    cmocka_unit_test(test_without_address),
	    cmocka_unit_test(test_concurrent_probes),
	    cmocka_unit_test(test_lossy_wire),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_gate_waits_for_the_service),
	    cmocka_unit_test(test_gate_reports_the_last_answer),
	};
	return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
