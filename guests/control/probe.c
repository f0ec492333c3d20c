/*
 * The health probe (probe.h): a TCP connect or an HTTP GET from the control
 * domain's stack to a guest, with a timeout and a reason a user can act on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

#include "probe.h"

static struct net_stack *probe_stack;
static uint64_t (*probe_now_ms)(void);

/* ------------------------------------------------------------ parsing */

/* Characters a path may carry into a request line unescaped. */
static bool path_char_ok(char c)
{
	return c > ' ' && c < 0x7f && !strchr("\"#<>\\^`{|}", c);
}

/* A decimal port 1..65535 at text; *end after it. */
static int parse_port(const char *text, const char **end, uint16_t *port)
{
	uint32_t value = 0;
	const char *p = text;
	while (*p >= '0' && *p <= '9' && p - text < 6)
		value = value * 10 + (uint32_t)(*p++ - '0');
	if (p == text || value == 0 || value > 65535 || (*p >= '0' && *p <= '9'))
		return -1;
	*end = p;
	*port = (uint16_t)value;
	return 0;
}

int probe_parse(const char *text, struct probe_spec *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (text[0] == '\0' || strcmp(text, "none") == 0) {
		out->kind = PROBE_NONE;
		return 0;
	}
	if (strlen(text) > PROBE_TEXT_MAX) {
		*why = "probe is longer than 47 bytes";
		return -1;
	}
	const char *rest;
	if (strncmp(text, "tcp:", 4) == 0) {
		out->kind = PROBE_TCP;
		rest = text + 4;
	} else if (strncmp(text, "http:", 5) == 0) {
		out->kind = PROBE_HTTP;
		rest = text + 5;
	} else {
		*why = "probe must be \"tcp:PORT\" or \"http:PORT/PATH\"";
		return -1;
	}
	const char *end;
	if (parse_port(rest, &end, &out->port) != 0) {
		*why = "probe port must be a number 1..65535";
		return -1;
	}
	if (out->kind == PROBE_TCP) {
		if (*end != '\0') {
			*why = "a tcp probe is \"tcp:PORT\", nothing after the port";
			return -1;
		}
		return 0;
	}
	if (*end != '/') {
		*why = "an http probe needs a path: \"http:PORT/PATH\"";
		return -1;
	}
	size_t len = strlen(end);
	if (len >= sizeof(out->path)) {
		*why = "probe path is longer than 63 bytes";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!path_char_ok(end[i])) {
			*why =
			    "probe path may not contain spaces, control characters or \"#<>\\^`{|}";
			return -1;
		}
	}
	memcpy(out->path, end, len + 1);
	return 0;
}

void probe_format(const struct probe_spec *s, char *out, size_t size)
{
	switch (s->kind) {
	case PROBE_TCP: snprintf(out, size, "tcp:%u", (unsigned)s->port); break;
	case PROBE_HTTP: snprintf(out, size, "http:%u%s", (unsigned)s->port, s->path); break;
	default: snprintf(out, size, "none"); break;
	}
}

int probe_http_status(const char *line, size_t len)
{
	/* "HTTP/1.x SP 3DIGIT [SP reason]" (RFC 9112 section 4); some servers
	 * omit the reason and its space. */
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
	    line[8] != ' ')
		return -1;
	int status = 0;
	for (size_t i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		status = status * 10 + (line[i] - '0');
	}
	if (status < 100 || (len > 12 && line[12] != ' '))
		return -1;
	return status;
}

/* ------------------------------------------------------------ the probe */

void probe_attach(struct net_stack *stack, uint64_t (*now_ms)(void))
{
	probe_stack = stack;
	probe_now_ms = now_ms;
}

static uint64_t now(void)
{
	return probe_now_ms ? probe_now_ms() : 0;
}

/* Let go of the connection: what is buffered is read first, since closing
 * with unread data resets the connection (net.h). */
static void release(struct probe *p)
{
	if (!p->conn)
		return;
	char sink[64];
	while (tcp_recv(p->conn, sink, sizeof(sink)) > 0)
		continue;
	tcp_close(p->conn);
	p->conn = NULL;
}

static void finish(struct probe *p, enum probe_state verdict)
{
	release(p);
	p->state = verdict;
	uint64_t elapsed = now() - p->started_ms;
	p->latency_ms = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;
}

static void pass(struct probe *p)
{
	p->reason[0] = '\0';
	finish(p, PROBE_PASSED);
}

/* The reason, from pieces (NULL ends them), cut to fit: a long path may
 * shorten the tail of a message, never overflow it. */
#define PROBE_STR_(x) #x
#define PROBE_STR(x)  PROBE_STR_(x)

static void say(struct probe *p, const char *piece, ...)
{
	size_t n = 0;
	va_list ap;
	va_start(ap, piece);
	for (const char *s = piece; s; s = va_arg(ap, const char *))
		for (; *s && n + 1 < sizeof(p->reason); s++)
			p->reason[n++] = *s;
	va_end(ap);
	p->reason[n] = '\0';
}

/* Fails with the reason made of the pieces (NULL ends them). */
#define FAIL(p, ...)                                                                               \
	do {                                                                                       \
		say(p, __VA_ARGS__, NULL);                                                         \
		finish(p, PROBE_FAILED);                                                           \
	} while (0)

/* A few bytes of a non-HTTP answer, printable, for the reason. */
static void quote_answer(const struct probe *p, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < p->answer_len && n + 1 < size && i < 24; i++) {
		char c = p->answer[i];
		if (c == '\r' || c == '\n')
			break;
		out[n++] = c >= ' ' && c < 0x7f ? c : '?';
	}
	out[n] = '\0';
}

/* The answer so far: a verdict once its status line is complete. */
static void read_answer(struct probe *p, bool peer_closed)
{
	int n;
	while (p->answer_len < PROBE_HTTP_READ_MAX &&
	       (n = tcp_recv(p->conn, p->answer + p->answer_len,
			     PROBE_HTTP_READ_MAX - p->answer_len)) > 0)
		p->answer_len += (uint16_t)n;
	p->answer[p->answer_len] = '\0';
	char *eol = memchr(p->answer, '\n', p->answer_len);
	const char *path = p->spec.path;
	if (!eol) {
		if (p->answer_len == PROBE_HTTP_READ_MAX)
			FAIL(p, p->peer,
			     " sent no HTTP status line in the first " PROBE_STR(
				 PROBE_HTTP_READ_MAX) " bytes of its answer to GET ",
			     path);
		else if (peer_closed)
			FAIL(p, p->peer, " closed the connection without answering GET ", path);
		return;
	}
	size_t len = (size_t)(eol - p->answer);
	if (len > 0 && p->answer[len - 1] == '\r')
		len--;
	int status = probe_http_status(p->answer, len);
	if (status < 0) {
		char quoted[32];
		quote_answer(p, quoted, sizeof(quoted));
		FAIL(p, "the answer to GET ", path, " from ", p->peer, " is not HTTP: \"", quoted,
		     "\"");
		return;
	}
	p->http_status = status;
	if (status >= 200 && status <= 299) {
		pass(p);
		return;
	}
	/* The status first: it is what a user acts on. */
	char code[12];
	snprintf(code, sizeof(code), "%d", status);
	FAIL(p, "HTTP ", code, " from GET ", path);
}

static void send_request(struct probe *p)
{
	while (p->request_sent < p->request_len) {
		int n = tcp_send(p->conn, p->request + p->request_sent,
				 (size_t)(p->request_len - p->request_sent));
		if (n <= 0)
			return; /* the rest after a SENT event */
		p->request_sent += (uint16_t)n;
	}
}

static void aborted(struct probe *p, int error)
{
	/* The stack frees the handle when this callback returns. */
	p->conn = NULL;
	switch (error) {
	case NET_EREFUSED: FAIL(p, "connection refused by ", p->peer); break;
	case NET_ERESET:
		if (p->connected && p->spec.kind == PROBE_HTTP)
			FAIL(p, "connection reset by ", p->peer, " during GET ", p->spec.path);
		else
			FAIL(p, "connection reset by ", p->peer);
		break;
	case NET_ETIMEDOUT:
		FAIL(p, "no answer from ", p->peer, " (TCP retransmissions gave up)");
		break;
	case NET_EUNREACH:
		FAIL(p, "no route from the control domain to ", p->peer, " (its address changed?)");
		break;
	default: FAIL(p, "connection to ", p->peer, " failed: ", net_result_text(error)); break;
	}
}

static void probe_event(void *arg, struct tcp_conn *conn, enum tcp_event event)
{
	struct probe *p = arg;
	if (p->state != PROBE_RUNNING || conn != p->conn)
		return;
	switch (event) {
	case TCP_EVENT_CONNECTED:
		p->connected = true;
		if (p->spec.kind == PROBE_TCP) {
			pass(p);
			return;
		}
		tcp_set_nodelay(conn, 1);
		send_request(p);
		break;
	case TCP_EVENT_SENT: send_request(p); break;
	case TCP_EVENT_RECV: read_answer(p, false); break;
	case TCP_EVENT_PEER_CLOSED: read_answer(p, true); break;
	case TCP_EVENT_ABORTED: aborted(p, tcp_error(conn)); break;
	case TCP_EVENT_ACCEPT: break;
	}
}

int probe_start(struct probe *p, const struct probe_spec *s, uint32_t ipv4, uint32_t timeout_ms)
{
	memset(p, 0, sizeof(*p));
	p->spec = *s;
	p->ipv4 = ipv4;
	p->timeout_ms = timeout_ms;
	p->started_ms = now();
	p->deadline_ms = p->started_ms + timeout_ms;
	p->state = PROBE_RUNNING;
	snprintf(p->peer, sizeof(p->peer), "%u.%u.%u.%u:%u", (unsigned)(ipv4 >> 24),
		 (unsigned)(ipv4 >> 16) & 0xff, (unsigned)(ipv4 >> 8) & 0xff, (unsigned)ipv4 & 0xff,
		 (unsigned)s->port);
	if (s->kind == PROBE_NONE) {
		pass(p);
		return p->state;
	}
	if (!probe_stack || !probe_now_ms) {
		FAIL(p, "the control domain has no network");
		return p->state;
	}
	if (net_ipv4_addr(probe_stack) == 0) {
		FAIL(p, "the control domain has no address");
		return p->state;
	}
	if (ipv4 == 0) {
		FAIL(p, "the guest has no address to probe");
		return p->state;
	}
	if (s->kind == PROBE_HTTP) {
		uint32_t a = ipv4;
		int n =
		    snprintf(p->request, sizeof(p->request),
			     "GET %s HTTP/1.1\r\nHost: %u.%u.%u.%u\r\nConnection: close\r\n\r\n",
			     s->path, (unsigned)(a >> 24), (unsigned)(a >> 16) & 0xff,
			     (unsigned)(a >> 8) & 0xff, (unsigned)a & 0xff);
		p->request_len = (uint16_t)n; /* < sizeof(request): path < PROBE_PATH_MAX */
	}
	p->conn = tcp_connect(probe_stack, ipv4, s->port, probe_event, p);
	if (!p->conn) {
		FAIL(p, "the control domain has no free TCP connection to probe with");
	}
	return p->state;
}

enum probe_state probe_poll(struct probe *p)
{
	if (p->state != PROBE_RUNNING || now() < p->deadline_ms)
		return p->state;
	char ms[16];
	snprintf(ms, sizeof(ms), "%u", (unsigned)p->timeout_ms);
	if (p->connected)
		FAIL(p, p->peer, " accepted GET ", p->spec.path, " but sent no status within ", ms,
		     " ms");
	else
		FAIL(p, "no answer from ", p->peer, " within ", ms, " ms");
	return p->state;
}

uint64_t probe_deadline_ms(const struct probe *p)
{
	return p->state == PROBE_RUNNING ? p->deadline_ms : UINT64_MAX;
}

void probe_cancel(struct probe *p)
{
	if (p->conn) {
		tcp_abort(p->conn);
		p->conn = NULL;
	}
	if (p->state == PROBE_RUNNING)
		p->state = PROBE_IDLE;
}

/* ------------------------------------------------------------ the gate */

static void gate_attempt(struct probe_gate *g)
{
	uint64_t t = now();
	g->attempts++;
	g->waiting = false;
	probe_start(&g->probe, &g->spec, g->ipv4, (uint32_t)(g->end_ms > t ? g->end_ms - t : 1));
}

static void gate_verdict(struct probe_gate *g, enum probe_state verdict)
{
	g->state = verdict;
	memcpy(g->reason, g->probe.reason, sizeof(g->reason));
	g->latency_ms = g->probe.latency_ms;
	g->elapsed_ms = (uint32_t)(now() - g->started_ms);
}

int probe_gate_start(struct probe_gate *g, const struct probe_spec *s, uint32_t ipv4,
		     uint32_t window_ms)
{
	memset(g, 0, sizeof(*g));
	g->spec = *s;
	g->ipv4 = ipv4;
	g->started_ms = now();
	g->end_ms = g->started_ms + window_ms;
	g->state = PROBE_RUNNING;
	gate_attempt(g);
	return probe_gate_poll(g);
}

enum probe_state probe_gate_poll(struct probe_gate *g)
{
	if (g->state != PROBE_RUNNING)
		return g->state;
	if (g->waiting) {
		if (now() < g->retry_ms)
			return g->state;
		gate_attempt(g);
	}
	enum probe_state s = probe_poll(&g->probe);
	if (s == PROBE_PASSED) {
		gate_verdict(g, PROBE_PASSED);
	} else if (s == PROBE_FAILED) {
		uint64_t t = now();
		if (t + PROBE_GATE_RETRY_MS + PROBE_GATE_ATTEMPT_MIN_MS <= g->end_ms) {
			g->waiting = true;
			g->retry_ms = t + PROBE_GATE_RETRY_MS;
		} else {
			gate_verdict(g, PROBE_FAILED);
		}
	}
	return g->state;
}

uint64_t probe_gate_deadline_ms(const struct probe_gate *g)
{
	if (g->state != PROBE_RUNNING)
		return UINT64_MAX;
	return g->waiting ? g->retry_ms : probe_deadline_ms(&g->probe);
}

void probe_gate_cancel(struct probe_gate *g)
{
	probe_cancel(&g->probe);
	if (g->state == PROBE_RUNNING)
		g->state = PROBE_IDLE;
}
