/*
 * probe.h: the control domain's health probe of a guest, made from its own
 * net/ stack through the switch. The second half of a guest's health gate
 * (the first is flotilla_ready() on its status page): a new version is
 * confirmed only when the probe its plan entry declares passes in time.
 *
 * Kinds (plan key `probe`, docs/plan.md):
 *   "tcp:PORT"       passes when a TCP handshake with PORT completes (the
 *                    connection is then closed at once);
 *   "http:PORT/PATH" sends `GET /PATH HTTP/1.1` (Host, Connection: close) and
 *                    passes on a 2xx status line; any other status fails
 *                    with it. At most PROBE_HTTP_READ_MAX bytes are read.
 * Each attempt has a timeout; p->reason says, in one line a user can act
 * on, why it failed ("connection refused by 10.0.0.5:80", "HTTP 500 from
 * GET /healthz", "no answer from 10.0.0.5:80 within 2000 ms", "the control
 * domain has no address"); p->latency_ms is the time from probe_start() to
 * the verdict.
 *
 * Several probes may run at once (one per guest being swapped): all state
 * is in struct probe, nothing is allocated per probe (each takes one TCP
 * endpoint from the stack's pool while it runs).
 *
 * Portable C on net.h: the spec and status-line parsers and the whole
 * probe run on the host against in-memory stacks (tests/unit/test_probe.c).
 */
#ifndef FLOTILLA_CONTROL_PROBE_H
#define FLOTILLA_CONTROL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_stack;
struct tcp_conn;

#define PROBE_PATH_MAX      64 /* the path field, with its NUL */
#define PROBE_TEXT_MAX      47 /* a spec's text ("http:80/healthz"), as the boot bundle carries it */
#define PROBE_HTTP_READ_MAX 512 /* bytes of an answer read to find its status line */
#define PROBE_REASON_MAX    128

enum probe_kind { PROBE_NONE, PROBE_TCP, PROBE_HTTP };

struct probe_spec {
	enum probe_kind kind;
	uint16_t port;
	char path[PROBE_PATH_MAX]; /* PROBE_HTTP: "/healthz" */
};

enum probe_state { PROBE_IDLE, PROBE_RUNNING, PROBE_PASSED, PROBE_FAILED };

struct probe {
	enum probe_state state;
	char reason[PROBE_REASON_MAX]; /* why it failed (PROBE_FAILED), one line */
	uint32_t latency_ms;           /* probe_start() to the verdict */
	int http_status;               /* the status an HTTP probe saw, 0 if none */
	/* inside: */
	struct probe_spec spec;
	uint32_t ipv4;
	char peer[24]; /* "10.0.0.5:80", for reasons */
	uint32_t timeout_ms;
	uint64_t started_ms, deadline_ms;
	struct tcp_conn *conn;
	bool connected;
	uint16_t request_sent; /* bytes of the request taken by the stack */
	uint16_t request_len;
	char request[PROBE_PATH_MAX + 64];
	uint16_t answer_len;
	char answer[PROBE_HTTP_READ_MAX + 1];
};

/* probe.c */

/*
 * "tcp:PORT", "http:PORT/PATH", or "" / "none" (PROBE_NONE: the gate waits
 * for flotilla_ready() alone). 0, or -1 with *why a one-line reason. PORT
 * is 1..65535; PATH starts with '/', is at most PROBE_PATH_MAX - 1 bytes
 * of visible ASCII that may stand in a request line (no spaces, quotes,
 * '#', '<', '>', '\\', '^', '`', '{', '|', '}').
 */
int probe_parse(const char *text, struct probe_spec *out, const char **why);
/* "tcp:80", "http:80/healthz" or "none", for messages. */
void probe_format(const struct probe_spec *s, char *out, size_t size);

/*
 * The status of an HTTP answer from its first line ("HTTP/1.1 200 OK"):
 * 100..999, or -1 when the line is not an HTTP/1.x status line. `line`
 * need not be terminated; len excludes the CRLF.
 */
int probe_http_status(const char *line, size_t len);

/* The stack the probes use and its clock (monotonic ms); ctlnet.c attaches
 * its stack when it starts it. Until then every probe fails at once. */
void probe_attach(struct net_stack *stack, uint64_t (*now_ms)(void));

/*
 * Start a probe of the guest at ipv4 (net/'s host order) within timeout_ms.
 * Returns p->state: PROBE_RUNNING, or the verdict when it is known at once (a spec
 * of PROBE_NONE passes; no address, no stack or no free TCP endpoint
 * fails). p must stay put until the verdict or probe_cancel(), and a
 * running probe must be cancelled before p is started again (its
 * connection would be lost, not closed).
 */
int probe_start(struct probe *p, const struct probe_spec *s, uint32_t ipv4, uint32_t timeout_ms);
/* The state now; applies the timeout. The stack's callbacks (from its own
 * poll) move a probe on; call this after the stack has run. */
enum probe_state probe_poll(struct probe *p);
/* Monotonic ms by which probe_poll() must be called again (UINT64_MAX when
 * the probe is finished). */
uint64_t probe_deadline_ms(const struct probe *p);
/* Stop a running probe (its connection is reset); p may then be reused. */
void probe_cancel(struct probe *p);

/*
 * A health gate's probing: the probe again and again until one attempt
 * passes or the window (the plan's ready_timeout_s) ends. A service that is
 * still starting refuses connections or answers 503; the gate retries
 * PROBE_GATE_RETRY_MS after each failure, and starts an attempt only with at
 * least PROBE_GATE_ATTEMPT_MIN_MS left, so that the verdict's reason is the
 * last real answer rather than an attempt the window cut short.
 */
#define PROBE_GATE_RETRY_MS       250
#define PROBE_GATE_ATTEMPT_MIN_MS 1000

struct probe_gate {
	enum probe_state state;        /* RUNNING until the verdict */
	char reason[PROBE_REASON_MAX]; /* the last attempt's, when FAILED */
	uint32_t latency_ms;           /* the passing attempt's */
	uint32_t elapsed_ms;           /* start to verdict */
	unsigned attempts;
	/* inside: */
	struct probe probe;
	struct probe_spec spec;
	uint32_t ipv4;
	uint64_t started_ms, end_ms, retry_ms;
	bool waiting; /* between attempts */
};

/* Start probing within window_ms; returns g->state (a spec of PROBE_NONE
 * passes at once). */
int probe_gate_start(struct probe_gate *g, const struct probe_spec *s, uint32_t ipv4,
		     uint32_t window_ms);
enum probe_state probe_gate_poll(struct probe_gate *g);
uint64_t probe_gate_deadline_ms(const struct probe_gate *g);
void probe_gate_cancel(struct probe_gate *g);

#endif
