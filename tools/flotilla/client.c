/* client.c: HTTP/1.1 to the device API, and operator request signing (client.h). */
#define _POSIX_C_SOURCE 200809L
#include "client.h"

#include "auth.h"
#include "bundle.h"
#include "cli.h"
#include "keys.h"
#include "ota.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX   8192  /* a response's status line and headers */
#define CHUNK_SIZE 65536 /* a streamed body is read and sent this much at a time */

static int fail(struct client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return rc;
}

int client_parse_address(const char *text, char host[CLIENT_HOST_MAX + 1], uint16_t *port)
{
	const char *end, *colon = NULL;
	size_t len;
	uint32_t p = CLIENT_DEFAULT_PORT;

	if (text[0] == '[') { /* [v6]:port */
		end = strchr(text, ']');
		if (!end || (end[1] != '\0' && end[1] != ':'))
			return -1;
		if (end[1] == ':')
			colon = end + 1;
		text++;
	} else {
		colon = strrchr(text, ':');
		if (colon && strchr(text, ':') != colon)
			return -1; /* a bare IPv6 address: ambiguous, ask for brackets */
		end = colon ? colon : text + strlen(text);
	}
	len = (size_t)(end - text);
	if (len == 0 || len > CLIENT_HOST_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (text[i] <= ' ' || text[i] == '/' || text[i] == '@' || text[i] == 0x7f)
			return -1;
	if (colon && (cli_parse_u32(colon + 1, &p) != 0 || p == 0 || p > 65535))
		return -1;
	memcpy(host, text, len);
	host[len] = '\0';
	*port = (uint16_t)p;
	return 0;
}

void client_init(struct client *c, const char *host, uint16_t port, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	c->fd = -1;
}

void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reused = false;
}

/* Waits for events on the socket; 0 on timeout, -1 on error, else revents. */
static int wait_for(struct client *c, short events)
{
	struct pollfd p = {.fd = c->fd, .events = events};
	int n;

	do {
		n = poll(&p, 1, c->timeout_ms);
	} while (n < 0 && errno == EINTR);
	return n <= 0 ? n : p.revents;
}

static int connect_to(struct client *c)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list, *a;
	char port[8];
	int err, last = 0;

	snprintf(port, sizeof(port), "%u", c->port);
	err = getaddrinfo(c->host, port, &hints, &list);
	if (err != 0)
		return fail(c, CLIENT_E_UNREACHABLE, "cannot resolve %s: %s", c->host,
			    gai_strerror(err));
	for (a = list; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);
		socklen_t len = sizeof(err);

		if (fd < 0) {
			last = errno;
			continue;
		}
		c->fd = fd;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_for(c, POLLOUT) > 0 &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0))
			break;
		last = errno == EINPROGRESS ? (err ? err : ETIMEDOUT) : errno;
		close(fd);
		c->fd = -1;
	}
	freeaddrinfo(list);
	if (c->fd < 0)
		return fail(c, CLIENT_E_UNREACHABLE, "cannot reach %s:%u: %s", c->host, c->port,
			    strerror(last ? last : ECONNREFUSED));
	c->reused = false;
	return CLIENT_OK;
}

/*
 * Sends len bytes. Returns CLIENT_OK, 1 when the board has something to say
 * first (an early answer, or it closed the connection), or CLIENT_E_LOST.
 */
static int send_bytes(struct client *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		int ev = wait_for(c, POLLOUT | POLLIN);
		ssize_t n;

		if (ev == 0)
			return fail(c, CLIENT_E_LOST, "%s:%u stopped taking data for %d s", c->host,
				    c->port, c->timeout_ms / 1000);
		if (ev < 0)
			return fail(c, CLIENT_E_LOST, "poll: %s", strerror(errno));
		if (ev & (POLLIN | POLLHUP | POLLERR))
			return 1;
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno == EPIPE || errno == ECONNRESET
				   ? 1
				   : fail(c, CLIENT_E_LOST, "sending to %s:%u: %s", c->host,
					  c->port, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return CLIENT_OK;
}

/* Reads what is there (at least one byte); 0 at end of stream, -1 error/timeout. */
static ssize_t recv_some(struct client *c, void *buf, size_t cap)
{
	for (;;) {
		int ev = wait_for(c, POLLIN);
		ssize_t n;

		if (ev == 0) {
			fail(c, CLIENT_E_LOST, "%s:%u did not answer within %d s", c->host, c->port,
			     c->timeout_ms / 1000);
			return -1;
		}
		if (ev < 0) {
			fail(c, CLIENT_E_LOST, "poll: %s", strerror(errno));
			return -1;
		}
		n = recv(c->fd, buf, cap, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			fail(c, CLIENT_E_LOST, "connection to %s:%u broke: %s", c->host, c->port,
			     strerror(errno));
			return -1;
		}
		return n;
	}
}

/* Value of header name in the head (lines after the first), into out. */
static bool header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t name_len = strlen(name);
	const char *line = strstr(head, "\r\n");

	while (line && line[2] != '\r' && line[2] != '\0') {
		const char *start = line + 2, *eol = strstr(start, "\r\n");

		if (!eol)
			break;
		if (strncasecmp(start, name, name_len) == 0 && start[name_len] == ':') {
			const char *v = start + name_len + 1;
			size_t n;

			while (*v == ' ' || *v == '\t')
				v++;
			n = (size_t)(eol - v);
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		line = eol;
	}
	return false;
}

static void store_body(struct client_response *resp, const char *data, size_t n)
{
	size_t room = CLIENT_BODY_MAX - resp->body_len;

	if (n > room) {
		resp->truncated = true;
		n = room;
	}
	memcpy(resp->body + resp->body_len, data, n);
	resp->body_len += n;
	resp->body[resp->body_len] = '\0';
}

/*
 * Reads one response. *got_any says whether any byte arrived (a reused
 * connection the board had closed yields none: the caller retries).
 */
static int read_response(struct client *c, struct client_response *resp, bool *got_any,
			 const struct client_request *rq)
{
	int answer_timeout_ms = rq->answer_timeout_ms;
	bool streaming;
	int stall_timeout_ms = c->timeout_ms;

	char head[HEAD_MAX + 1], value[64];
	size_t used = 0;
	char *end = NULL;
	bool keep_alive, has_length;
	uint64_t length = 0, remaining;
	int minor;

	*got_any = false;
	head[0] = '\0';
	for (;;) {
		while (!(end = strstr(head, "\r\n\r\n")) || used == 0) {
			ssize_t n;

			if (used == HEAD_MAX)
				return fail(c, CLIENT_E_PROTOCOL,
					    "%s:%u answered with headers over %d bytes", c->host,
					    c->port, HEAD_MAX);
			/* The board may work a while before its first byte (finishing an
			 * install); after that, the usual stall limit holds. */
			if (used == 0 && answer_timeout_ms > c->timeout_ms)
				c->timeout_ms = answer_timeout_ms;
			n = recv_some(c, head + used, HEAD_MAX - used);
			c->timeout_ms = stall_timeout_ms;
			if (n < 0)
				return CLIENT_E_LOST;
			if (n == 0)
				return fail(c, CLIENT_E_LOST, "%s:%u closed the connection%s",
					    c->host, c->port,
					    used ? " mid-answer" : " without an answer");
			*got_any = true;
			used += (size_t)n;
			head[used] = '\0';
			if (memchr(head, '\0', used))
				return fail(c, CLIENT_E_PROTOCOL, "%s:%u: not an HTTP answer",
					    c->host, c->port);
		}
		if (sscanf(head, "HTTP/1.%d %3d", &minor, &resp->status) != 2 ||
		    resp->status < 100 || resp->status > 599)
			return fail(c, CLIENT_E_PROTOCOL, "%s:%u: not an HTTP/1.x answer", c->host,
				    c->port);
		if (resp->status >= 200)
			break;
		/* An interim 1xx: drop it, the real answer follows. */
		end += 4;
		used -= (size_t)(end - head);
		memmove(head, end, used);
		head[used] = '\0';
	}
	c->status = resp->status;
	end[2] = '\0'; /* keep the last header's CRLF for header_value() */
	keep_alive = minor >= 1;
	if (header_value(head, "Connection", value, sizeof(value)))
		keep_alive = strcasecmp(value, "close") != 0 &&
			     (minor >= 1 || strcasecmp(value, "keep-alive") == 0);
	has_length = header_value(head, "Content-Length", value, sizeof(value));
	if (has_length && cli_parse_u64(value, &length) != 0)
		return fail(c, CLIENT_E_PROTOCOL, "%s:%u: bad Content-Length '%s'", c->host,
			    c->port, value);
	if (header_value(head, "Transfer-Encoding", value, sizeof(value)))
		return fail(c, CLIENT_E_PROTOCOL, "%s:%u: Transfer-Encoding %s is not supported",
			    c->host, c->port, value);
	header_value(head, "Location", resp->location, sizeof(resp->location));
	streaming = rq->on_body && resp->status >= 200 && resp->status < 300;

	/* Body bytes that came with the head. */
	{
		const char *body = end + 4;
		size_t have = used - (size_t)(body - head);

		if (has_length && have > length)
			have = (size_t)length; /* more would be a pipelined answer we never asked */
		if (!streaming)
			store_body(resp, body, have);
		else if (have && !rq->on_body(rq->on_body_ctx, body, have)) {
			client_close(c);
			return CLIENT_OK;
		}
		remaining = has_length ? length - have : UINT64_MAX;
	}
	while (remaining > 0) {
		char buf[4096];
		ssize_t n;

		if (streaming && rq->stream_stall_ms > 0)
			c->timeout_ms = rq->stream_stall_ms;
		n = recv_some(c, buf, remaining < sizeof(buf) ? (size_t)remaining : sizeof(buf));
		c->timeout_ms = stall_timeout_ms;
		if (n < 0)
			return CLIENT_E_LOST;
		if (n == 0) {
			if (has_length)
				return fail(c, CLIENT_E_LOST,
					    "%s:%u closed the connection mid-answer", c->host,
					    c->port);
			keep_alive = false;
			break;
		}
		if (has_length)
			remaining -= (uint64_t)n;
		if (!streaming)
			store_body(resp, buf, (size_t)n);
		else if (!rq->on_body(rq->on_body_ctx, buf, (size_t)n)) {
			client_close(c); /* the caller has seen enough */
			return CLIENT_OK;
		}
	}
	if (!keep_alive || resp->early)
		client_close(c);
	else
		c->reused = true;
	return CLIENT_OK;
}

/* 0: sent; 1: the board spoke (or hung up) first; else an error. */
static int send_request(struct client *c, const struct client_request *rq,
			struct client_response *resp)
{
	char head[1024];
	int n, rc;

	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: flotilla\r\n"
		     "Accept: application/json\r\n%s%s%s%s%s%s",
		     rq->method, rq->target, c->host, c->port,
		     rq->authorization ? "Authorization: " : "",
		     rq->authorization ? rq->authorization : "", rq->authorization ? "\r\n" : "",
		     rq->content_type ? "Content-Type: " : "",
		     rq->content_type ? rq->content_type : "", rq->content_type ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head) - 64)
		return fail(c, CLIENT_E_LOCAL, "request head too long");
	if (rq->body_len > 0 || strcmp(rq->method, "GET") != 0)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %llu\r\n",
			      (unsigned long long)rq->body_len);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	rc = send_bytes(c, head, (size_t)n);
	if (rc != CLIENT_OK)
		return rc;
	if (rq->body_fd < 0) {
		rc = rq->body_len ? send_bytes(c, rq->body, (size_t)rq->body_len) : CLIENT_OK;
		if (rc == CLIENT_OK)
			resp->body_sent = rq->body_len;
		return rc;
	}
	{
		static uint8_t chunk[CHUNK_SIZE];
		uint64_t off = 0;

		if (rq->progress)
			rq->progress(rq->progress_ctx, 0, rq->body_len);
		while (off < rq->body_len) {
			size_t want = rq->body_len - off < CHUNK_SIZE ? (size_t)(rq->body_len - off)
								      : CHUNK_SIZE;
			ssize_t got = pread(rq->body_fd, chunk, want, (off_t)off);

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return fail(c, CLIENT_E_LOCAL, "reading the body at byte %llu: %s",
					    (unsigned long long)off,
					    got < 0 ? strerror(errno) : "the file shrank");
			rc = send_bytes(c, chunk, (size_t)got);
			if (rc != CLIENT_OK)
				return rc;
			off += (uint64_t)got;
			resp->body_sent = off;
			if (rq->progress)
				rq->progress(rq->progress_ctx, off, rq->body_len);
		}
	}
	return CLIENT_OK;
}

/* A kept-alive connection the board has closed (or wrote to unasked) meanwhile. */
static bool stale(struct client *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};

	return poll(&p, 1, 0) != 0;
}

int client_request(struct client *c, const struct client_request *rq, struct client_response *resp)
{
	/* Only an unsigned GET is sent twice: a signed request spends its nonce,
	 * and the board may have acted on one whose answer was lost. */
	bool may_retry = !rq->authorization && strcmp(rq->method, "GET") == 0;

	for (int attempt = 0;; attempt++) {
		bool reused, got_any;
		int rc;

		memset(resp, 0, sizeof(*resp));
		if (c->fd >= 0 && c->reused && stale(c))
			client_close(c);
		if (c->fd < 0 && (rc = connect_to(c)) != CLIENT_OK)
			return rc;
		reused = c->reused;
		rc = send_request(c, rq, resp);
		if (rc == 1) /* the board answered or hung up before we were done */
			resp->early = rq->body_len > 0 && resp->body_sent < rq->body_len;
		else if (rc != CLIENT_OK) {
			client_close(c);
			return rc;
		}
		rc = read_response(c, resp, &got_any, rq);
		if (rc == CLIENT_OK)
			return CLIENT_OK;
		client_close(c);
		if (may_retry && reused && !got_any && attempt == 0)
			continue;
		if (rq->body_len > 0 && resp->body_sent < rq->body_len && !got_any)
			return fail(c, CLIENT_E_LOST,
				    "%s:%u closed the connection after %llu of %llu body bytes, "
				    "without an answer",
				    c->host, c->port, (unsigned long long)resp->body_sent,
				    (unsigned long long)rq->body_len);
		return rc;
	}
}

/* ---------------------------------------------------------------- signing */

int client_signer_load(struct client_signer *s, const char *path)
{
	uint8_t point[OTA_P256_PUBKEY_SIZE], id[OTA_KEY_ID_SIZE];

	mbedtls_pk_init(&s->pk);
	if (keys_load_private_file(path, &s->pk) != 0)
		return -1;
	if (keys_public_point(&s->pk, point) != OTA_OK)
		return cli_error("%s: not an ECDSA P-256 key", path), -1;
	ota_key_id(point, id);
	cli_hex(s->key_id, id, sizeof(id));
	return 0;
}

void client_signer_free(struct client_signer *s)
{
	mbedtls_pk_free(&s->pk);
}

static bool is_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int client_sign_request(const struct client_signer *s, const char *board, const char *nonce,
			const char *method, const char *target,
			const uint8_t commitment[OTA_SHA256_SIZE], char out[CLIENT_AUTH_MAX])
{
	char canonical[OTA_AUTH_CANONICAL_MAX], sig_hex[2 * OTA_P256_SIGNATURE_SIZE + 1];
	uint8_t hash[OTA_SHA256_SIZE], sig[OTA_P256_SIGNATURE_SIZE];
	size_t len = ota_auth_canonical(canonical, sizeof(canonical), board, method, target, nonce,
					commitment);

	if (len == 0)
		return -1;
	ota_sha256(canonical, len, hash);
	/* keys_sign only reads the key; mbedTLS's API just is not const. */
	if (keys_sign((mbedtls_pk_context *)&s->pk, hash, sig) != OTA_OK)
		return -1;
	cli_hex(sig_hex, sig, sizeof(sig));
	if (snprintf(out, CLIENT_AUTH_MAX, "Flotilla board=%s, key=%s, nonce=%s, sig=%s", board,
		     s->key_id, nonce, sig_hex) >= CLIENT_AUTH_MAX)
		return -1;
	return 0;
}

int client_authorize(struct client *c, const struct client_signer *s, const char *method,
		     const char *target, const uint8_t commitment[OTA_SHA256_SIZE],
		     char out[CLIENT_AUTH_MAX], char board[CLIENT_BOARD_MAX + 1])
{
	static struct client_response resp; /* 16 KiB: not on the stack */
	const struct client_request rq = {.method = "GET", .target = "/v1/nonce", .body_fd = -1};
	char nonce[2 * OTA_AUTH_NONCE_SIZE + 1], id[CLIENT_BOARD_MAX + 1];
	int rc;

	rc = client_request(c, &rq, &resp);
	if (rc != CLIENT_OK)
		return rc;
	if (resp.status != 200) {
		char message[160] = "";

		client_json_string(resp.body, "message", message, sizeof(message));
		return fail(c, CLIENT_E_REFUSED, "GET /v1/nonce: HTTP %d%s%s", resp.status,
			    message[0] ? ": " : "", message);
	}
	if (client_json_string(resp.body, "nonce", nonce, sizeof(nonce)) != 0 ||
	    !is_hex(nonce, 2 * OTA_AUTH_NONCE_SIZE) ||
	    client_json_string(resp.body, "board", id, sizeof(id)) != 0 || !id[0])
		return fail(c, CLIENT_E_PROTOCOL,
			    "GET /v1/nonce: no nonce and board id in the answer (is %s:%u a "
			    "Flotilla board?)",
			    c->host, c->port);
	if (client_sign_request(s, id, nonce, method, target, commitment, out) != 0)
		return fail(c, CLIENT_E_LOCAL,
			    "cannot sign %s %s: a field is too long or holds a newline", method,
			    target);
	if (board)
		snprintf(board, CLIENT_BOARD_MAX + 1, "%s", id);
	return CLIENT_OK;
}

int client_bundle_head(int fd, uint8_t commitment[OTA_SHA256_SIZE], struct ota_manifest *m,
		       uint64_t *file_size, char *error, size_t error_cap)
{
	uint8_t head[OTA_BUNDLE_HEAD_MAX];
	struct ota_bundle_header h;
	off_t size = lseek(fd, 0, SEEK_END);
	ssize_t got;
	size_t need;
	int rc;

	if (size < 0) {
		snprintf(error, error_cap, "cannot seek: %s", strerror(errno));
		return CLIENT_E_LOCAL;
	}
	got = pread(fd, head, sizeof(head), 0);
	if (got < 0) {
		snprintf(error, error_cap, "%s", strerror(errno));
		return CLIENT_E_LOCAL;
	}
	if (got < OTA_BUNDLE_HEADER_SIZE) {
		snprintf(error, error_cap, "not a bundle: %s", ota_strerror(OTA_E_TRUNCATED));
		return CLIENT_E_LOCAL;
	}
	rc = ota_bundle_header_decode(head, &h);
	if (rc != OTA_OK) {
		snprintf(error, error_cap, "not a bundle: %s", ota_strerror(rc));
		return CLIENT_E_LOCAL;
	}
	need = h.header_size + h.manifest_size + h.signature_size;
	if ((size_t)got < need) {
		snprintf(error, error_cap, "not a bundle: %s", ota_strerror(OTA_E_TRUNCATED));
		return CLIENT_E_LOCAL;
	}
	rc = ota_manifest_decode(head + h.header_size, h.manifest_size, m);
	if (rc != OTA_OK) {
		snprintf(error, error_cap, "not a bundle: %s", ota_strerror(rc));
		return CLIENT_E_LOCAL;
	}
	ota_sha256(head, need, commitment);
	*file_size = (uint64_t)size;
	return CLIENT_OK;
}

/* ---------------------------------------------------------------- JSON */

/* End of the string token opening at s[0] == '"' (its closing quote), or NULL. */
static const char *string_end(const char *s)
{
	for (s++; *s; s++) {
		if (*s == '\\') {
			if (!s[1])
				return NULL;
			s++;
		} else if (*s == '"')
			return s;
	}
	return NULL;
}

/* Where the value of member key starts, or NULL. */
static const char *find_member(const char *json, const char *key)
{
	size_t key_len = strlen(key);

	for (const char *p = json; *p; p++) {
		const char *end, *v;

		if (*p != '"')
			continue;
		end = string_end(p);
		if (!end)
			return NULL;
		v = end + 1;
		while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
			v++;
		if (*v == ':' && (size_t)(end - p - 1) == key_len &&
		    strncmp(p + 1, key, key_len) == 0) {
			for (v++; *v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'; v++)
				;
			return v;
		}
		p = end;
	}
	return NULL;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

int client_json_string(const char *json, const char *key, char *out, size_t cap)
{
	const char *v = find_member(json, key), *end;
	size_t n = 0;

	if (!v || *v != '"' || !(end = string_end(v)) || cap == 0)
		return -1;
	for (const char *p = v + 1; p < end && n + 1 < cap; p++) {
		char ch = *p;

		if (ch == '\\') {
			p++;
			switch (*p) {
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'u': {
				int code = 0;

				for (int i = 1; i <= 4; i++) {
					int d = p + i < end ? hex_digit(p[i]) : -1;

					if (d < 0)
						return -1;
					code = code << 4 | d;
				}
				p += 4;
				ch = code < 0x80 ? (char)code : '?';
				break;
			}
			default: ch = *p; break;
			}
		}
		/* What the board says reaches a terminal: no control characters. */
		if ((unsigned char)ch < 0x20 || ch == 0x7f)
			ch = '?';
		out[n++] = ch;
	}
	out[n] = '\0';
	return 0;
}

int client_json_u64(const char *json, const char *key, uint64_t *out)
{
	const char *v = find_member(json, key);
	char digits[24];
	size_t n = 0;

	if (!v)
		return -1;
	while (v[n] >= '0' && v[n] <= '9' && n < sizeof(digits) - 1) {
		digits[n] = v[n];
		n++;
	}
	digits[n] = '\0';
	return n ? cli_parse_u64(digits, out) : -1;
}
