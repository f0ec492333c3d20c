/*
 * The device API's HTTP/1.1 machine (http.h). Every length is checked
 * against its buffer; input is never trusted to be text.
 */
#include "http.h"

#include <stdio.h>
#include <string.h>

static bool lower_equal(const char *a, size_t len, const char *b)
{
	if (strlen(b) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = a[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != b[i])
			return false;
	}
	return true;
}

static bool is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

void http_conn_init(struct http_conn *c, const struct http_server *server, uint64_t now_ms)
{
	memset(c, 0, sizeof(*c));
	c->server = server;
	c->state = HTTP_READ_HEAD;
	c->last_activity_ms = now_ms;
	c->last_input_ms = now_ms;
}

static bool output_pending(const struct http_conn *c)
{
	return c->out_sent < c->out_len || c->stream_left > 0;
}

/* The handler (or the machine) has answered: what happens to the connection next. */
static void after_answer(struct http_conn *c)
{
	c->requests++;
	if (c->close_after || c->state == HTTP_READ_BODY || c->state == HTTP_DISCARD) {
		/* Unread body, or the client asked: no further request can be framed. */
		c->close_after = true;
		c->state = HTTP_DISCARD;
	} else if (c->state == HTTP_WAIT || c->state == HTTP_READ_HEAD) {
		c->state = HTTP_READ_HEAD;
	}
	c->route = NULL;
	c->user = NULL;
}

static void respond_head(struct http_conn *c, int status, const char *content_type, uint64_t len,
			 const char *extra)
{
	/* An error before the request was framed, or a body not read: close. */
	if (status >= 400 && (c->state == HTTP_READ_BODY || !c->request.keep_alive))
		c->close_after = true;
	if (!c->request.keep_alive)
		c->close_after = true;
	char length[48] = "";
	/* UINT64_MAX: no length, the body ends with the connection. */
	if (len == UINT64_MAX)
		c->close_after = true;
	else
		snprintf(length, sizeof(length), "Content-Length: %llu\r\n",
			 (unsigned long long)len);
	int n =
	    snprintf(c->out, sizeof(c->out),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s"
		     "Cache-Control: no-store\r\n%sConnection: %s\r\n\r\n",
		     status, http_status_text(status), content_type ? content_type : "text/plain",
		     length, extra ? extra : "", c->close_after ? "close" : "keep-alive");
	c->out_len = n > 0 && (size_t)n < sizeof(c->out) ? (size_t)n : 0;
	c->out_sent = 0;
	c->answered = true;
}

void http_respond(struct http_conn *c, int status, const char *content_type, const char *body,
		  size_t len)
{
	http_respond_headers(c, status, content_type, NULL, body, len);
}

void http_respond_headers(struct http_conn *c, int status, const char *content_type,
			  const char *headers, const char *body, size_t len)
{
	if (c->answered || c->state == HTTP_CLOSED)
		return;
	respond_head(c, status, content_type, len, headers);
	if (!c->head_only && len) {
		if (len > sizeof(c->out) - c->out_len) {
			/* A handler bug, not the client's: say so instead of truncating. */
			c->answered = false;
			http_respond_error(c, 500, "internal", "response too large for its buffer");
			return;
		}
		memcpy(c->out + c->out_len, body, len);
		c->out_len += len;
	}
	after_answer(c);
}

static void respond_with_allow(struct http_conn *c, int status, const char *code,
			       const char *message, const char *allow)
{
	char body[256], extra[96];
	struct json_writer j;
	json_init(&j, body, sizeof(body));
	json_begin_object(&j);
	json_string(&j, "error", code);
	json_string(&j, "message", message);
	json_end_object(&j);
	if (c->answered || c->state == HTTP_CLOSED)
		return;
	snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow ? allow : "");
	respond_head(c, status, "application/json", j.len, allow ? extra : NULL);
	if (!c->head_only && j.len <= sizeof(c->out) - c->out_len) {
		memcpy(c->out + c->out_len, body, j.len);
		c->out_len += j.len;
	}
	after_answer(c);
}

void http_respond_error(struct http_conn *c, int status, const char *code, const char *message)
{
	respond_with_allow(c, status, code, message, NULL);
}

void http_respond_stream(struct http_conn *c, int status, const char *content_type, uint64_t len,
			 size_t (*fill)(struct http_conn *c, char *buf, size_t cap))
{
	if (c->answered || c->state == HTTP_CLOSED)
		return;
	respond_head(c, status, content_type, len, NULL);
	c->stream = fill;
	c->stream_open = false;
	c->stream_left = c->head_only ? 0 : len;
	after_answer(c);
}

void http_respond_stream_open(struct http_conn *c, int status, const char *content_type,
			      size_t (*fill)(struct http_conn *c, char *buf, size_t cap))
{
	if (c->answered || c->state == HTTP_CLOSED)
		return;
	respond_head(c, status, content_type, UINT64_MAX, NULL);
	c->stream = fill;
	c->stream_open = !c->head_only;
	c->stream_left = c->head_only ? 0 : UINT64_MAX;
	after_answer(c);
}

void http_stream_end(struct http_conn *c)
{
	if (!c->stream_open)
		return;
	c->stream_open = false;
	c->stream_left = 0;
}

/* ---------------------------------------------------------------- parsing */

static enum http_method method_of(const char *name)
{
	static const char *const names[] = {"GET", "HEAD", "PUT", "POST", "DELETE"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (enum http_method)i;
	return HTTP_METHOD_OTHER;
}

static const char *method_name(enum http_method m)
{
	static const char *const names[] = {"GET", "HEAD", "PUT", "POST", "DELETE", "?"};
	return names[m];
}

/* Does path match pattern ("{}" = one parameter segment)? Fills param. */
static bool route_matches(const char *pattern, const char *path, char *param)
{
	while (*pattern) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t n = 0;
			while (path[n] && path[n] != '/') {
				char ch = path[n];
				if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
				      ch == '_' || ch == '-' || ch == '.'))
					return false;
				n++;
			}
			if (n == 0 || n > HTTP_ROUTE_PARAM_MAX)
				return false;
			memcpy(param, path, n);
			param[n] = '\0';
			path += n;
			pattern += 2;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *path == '\0';
}

static int parse_length(const char *v, size_t len, uint64_t *out)
{
	uint64_t n = 0;
	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n;
	return 0;
}

/* Sets keep_alive from a Connection header's comma-separated tokens. */
static void parse_connection(struct http_request *r, const char *v, size_t len)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t start = i;
		while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		if (lower_equal(v + start, i - start, "close"))
			r->keep_alive = false;
		else if (lower_equal(v + start, i - start, "keep-alive"))
			r->keep_alive = true;
	}
}

/*
 * Parses the head in c->in[0, len) (ending with CRLF CRLF). Returns 0, or
 * an HTTP status with code and message set.
 */
static int parse_head(struct http_conn *c, size_t len, const char **code, const char **message)
{
	struct http_request *r = &c->request;
	const char *p = c->in, *end = c->in + len;
	memset(r, 0, sizeof(*r));

	/* request line: METHOD SP target SP HTTP/1.x CRLF */
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || sp == p || sp - p >= (long)sizeof(r->method_name))
		goto malformed;
	for (const char *m = p; m < sp; m++)
		if (*m < 'A' || *m > 'Z')
			goto malformed;
	memcpy(r->method_name, p, (size_t)(sp - p));
	r->method = method_of(r->method_name);
	p = sp + 1;
	const char *target = p;
	while (p < end && *p != ' ' && *p != '\r')
		p++;
	if (p >= end || *p != ' ' || target[0] != '/')
		goto malformed;
	size_t target_len = (size_t)(p - target);
	const char *q = memchr(target, '?', target_len);
	size_t path_len = q ? (size_t)(q - target) : target_len;
	size_t query_len = q ? target_len - path_len - 1 : 0;
	if (path_len >= sizeof(r->path) || query_len >= sizeof(r->query)) {
		*code = "uri_too_long";
		*message = "the request target is too long";
		return 414;
	}
	for (size_t i = 0; i < target_len; i++)
		if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
			goto malformed;
	memcpy(r->path, target, path_len);
	if (q)
		memcpy(r->query, q + 1, query_len);
	p++;
	if (end - p < 10 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != '\r' || p[9] != '\n')
		goto malformed;
	r->keep_alive = p[7] == '1';
	bool http11 = p[7] == '1', has_host = false, has_te = false;
	p += 10;

	/* header fields up to the empty line */
	while (p < end) {
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			break;
		const char *line_end = p;
		while (line_end + 1 < end && !(line_end[0] == '\r' && line_end[1] == '\n'))
			line_end++;
		if (line_end + 1 >= end)
			goto malformed;
		if (*p == ' ' || *p == '\t')
			goto malformed; /* obsolete line folding: refused (RFC 9112 §5.2) */
		const char *colon = p;
		while (colon < line_end && is_token_char(*colon))
			colon++;
		if (colon == p || colon >= line_end || *colon != ':')
			goto malformed;
		size_t name_len = (size_t)(colon - p);
		const char *v = colon + 1, *v_end = line_end;
		while (v < v_end && (*v == ' ' || *v == '\t'))
			v++;
		while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
			v_end--;
		for (const char *x = v; x < v_end; x++)
			if (((unsigned char)*x < 0x20 && *x != '\t') || *x == 0x7f)
				goto malformed;
		size_t v_len = (size_t)(v_end - v);
		if (lower_equal(p, name_len, "content-length")) {
			uint64_t n;
			if (parse_length(v, v_len, &n) != 0 ||
			    (r->has_length && n != r->content_length))
				goto malformed;
			r->has_length = true;
			r->content_length = n;
		} else if (lower_equal(p, name_len, "transfer-encoding")) {
			has_te = true;
		} else if (lower_equal(p, name_len, "connection")) {
			parse_connection(r, v, v_len);
		} else if (lower_equal(p, name_len, "host")) {
			has_host = true;
		} else if (lower_equal(p, name_len, "authorization")) {
			if (v_len >= sizeof(r->authorization)) {
				*code = "header_too_large";
				*message = "the Authorization header is too long";
				return 431;
			}
			memcpy(r->authorization, v, v_len);
			r->authorization[v_len] = '\0';
		}
		p = line_end + 2;
	}
	if (has_te) {
		*code = "transfer_encoding";
		*message = "Transfer-Encoding is not supported: send Content-Length";
		return 501;
	}
	if (http11 && !has_host) {
		*code = "bad_request";
		*message = "HTTP/1.1 request without Host";
		return 400;
	}
	return 0;
malformed:
	r->keep_alive = false;
	*code = "bad_request";
	*message = "malformed HTTP request";
	return 400;
}

/* Finds the route for the parsed request; answers 404/405/411/413 itself. */
static void dispatch(struct http_conn *c)
{
	struct http_request *r = &c->request;
	const struct http_server *s = c->server;
	const struct http_route *route = NULL;
	char allow[64] = "";
	char param[HTTP_ROUTE_PARAM_MAX + 1] = "";
	enum http_method want = r->method == HTTP_HEAD ? HTTP_GET : r->method;

	c->head_only = r->method == HTTP_HEAD;
	for (size_t i = 0; i < s->route_count; i++) {
		const struct http_route *rt = &s->routes[i];
		if (!route_matches(rt->pattern, r->path, param))
			continue;
		if (rt->method == want && !route) {
			route = rt;
			memcpy(r->param, param, sizeof(param));
		}
		const char *name = method_name(rt->method);
		if (!strstr(allow, name) && strlen(allow) + strlen(name) + 8 < sizeof(allow)) {
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, name);
			if (rt->method == HTTP_GET)
				strcat(allow, ", HEAD");
		}
	}
	uint64_t length = r->has_length ? r->content_length : 0;
	c->state = length ? HTTP_READ_BODY : HTTP_WAIT;
	c->body_left = length;
	if (!route && allow[0]) {
		respond_with_allow(c, 405, "method_not_allowed", "this path takes other methods",
				   allow);
		return;
	}
	if (!route) {
		http_respond_error(c, 404, "not_found", "no such resource");
		return;
	}
	if (length > route->body_max) {
		http_respond_error(c, 413, "too_large",
				   route->body_max ? "the body is larger than this resource takes"
						   : "this resource takes no body");
		return;
	}
	if (route->body_max && !r->has_length &&
	    (r->method == HTTP_PUT || r->method == HTTP_POST)) {
		http_respond_error(c, 411, "length_required", "send Content-Length");
		return;
	}
	c->route = route;
	if (route->begin)
		route->begin(c, r);
	if (!c->answered && c->state == HTTP_WAIT && route->end)
		route->end(c, r);
}

/* Consumes head bytes; returns how many. */
static size_t take_head(struct http_conn *c, const uint8_t *data, size_t len, uint64_t now_ms)
{
	size_t taken = 0;
	while (taken < len) {
		char ch = (char)data[taken];
		/* RFC 9112 §2.2: ignore empty lines before a request line. */
		if (c->in_len == 0 && (ch == '\r' || ch == '\n')) {
			taken++;
			continue;
		}
		if (c->in_len == 0) {
			/* A new request: the previous answer is out (see the caller). */
			c->head_started_ms = now_ms;
			c->answered = false;
		}
		if (c->in_len == sizeof(c->in)) {
			c->request.keep_alive = false;
			http_respond_error(c, 431, "header_too_large",
					   "the request line and headers exceed 4096 bytes");
			c->close_after = true;
			c->state = HTTP_DISCARD;
			return len;
		}
		c->in[c->in_len++] = ch;
		taken++;
		if (c->in_len >= 4 && memcmp(c->in + c->in_len - 4, "\r\n\r\n", 4) == 0) {
			const char *code = NULL, *message = NULL;
			size_t head_len = c->in_len;
			c->in_len = 0;
			c->answered = false;
			int status = parse_head(c, head_len, &code, &message);
			if (status) {
				c->state = HTTP_DISCARD;
				c->close_after = true;
				http_respond_error(c, status, code, message);
				return len;
			}
			dispatch(c);
			return taken;
		}
	}
	return taken;
}

size_t http_conn_input(struct http_conn *c, const void *data, size_t len, uint64_t now_ms)
{
	const uint8_t *bytes = data;
	size_t taken = 0;
	if (len)
		c->last_input_ms = c->last_activity_ms = now_ms;
	while (taken < len) {
		switch (c->state) {
		case HTTP_READ_HEAD:
			/* Pipelined requests wait until the previous answer is out. */
			if (output_pending(c))
				return taken;
			taken += take_head(c, bytes + taken, len - taken, now_ms);
			break;
		case HTTP_READ_BODY: {
			size_t n = len - taken;
			if (n > c->body_left)
				n = (size_t)c->body_left;
			if (c->route && c->route->body && !c->answered)
				c->route->body(c, bytes + taken, n);
			taken += n;
			c->body_left -= n;
			if (c->answered) {
				c->close_after = true;
				c->state = HTTP_DISCARD;
				return len;
			}
			if (c->body_left == 0) {
				c->state = HTTP_WAIT;
				if (c->route && c->route->end)
					c->route->end(c, &c->request);
			}
			break;
		}
		case HTTP_WAIT: return taken;
		case HTTP_DISCARD:
		case HTTP_CLOSED: return len;
		}
	}
	return taken;
}

size_t http_conn_output(struct http_conn *c, void *buf, size_t cap)
{
	size_t n = 0;
	char *out = buf;
	if (c->out_sent < c->out_len) {
		n = c->out_len - c->out_sent;
		if (n > cap)
			n = cap;
		memcpy(out, c->out + c->out_sent, n);
		c->out_sent += n;
	}
	if (c->out_sent == c->out_len && c->stream_left && n < cap) {
		size_t room = cap - n;
		if (room > c->stream_left)
			room = (size_t)c->stream_left;
		size_t got = c->stream ? c->stream(c, out + n, room) : 0;
		if (got > room)
			got = room;
		if (!c->stream_open)
			c->stream_left -= got;
		n += got;
	}
	if (!output_pending(c))
		c->out_len = c->out_sent = 0;
	return n;
}

bool http_conn_should_close(const struct http_conn *c)
{
	return c->state == HTTP_CLOSED || (c->close_after && !output_pending(c) && c->requests > 0);
}

void http_conn_peer_closed(struct http_conn *c)
{
	/* Nobody listens to an open stream any more: it ends here. */
	if (c->stream_open) {
		c->stream_open = false;
		c->stream_left = 0;
		c->state = HTTP_CLOSED;
	}
	/* A half-sent request can never complete; a finished one may still be answered. */
	if (c->state == HTTP_READ_BODY || (c->state == HTTP_READ_HEAD && c->in_len) ||
	    (c->state == HTTP_READ_HEAD && !output_pending(c)))
		c->state = HTTP_CLOSED;
	c->close_after = true;
}

bool http_conn_expired(struct http_conn *c, uint64_t now_ms)
{
	if (c->state == HTTP_CLOSED)
		return true;
	if (c->state == HTTP_READ_HEAD && c->in_len &&
	    now_ms - c->head_started_ms > HTTP_HEAD_TIMEOUT_MS) {
		c->in_len = 0;
		c->request.keep_alive = false;
		c->state = HTTP_DISCARD;
		http_respond_error(c, 408, "timeout", "the request did not arrive in time");
		return false;
	}
	if (c->state == HTTP_READ_BODY && now_ms - c->last_input_ms > HTTP_BODY_IDLE_MS) {
		c->state = HTTP_DISCARD;
		http_respond_error(c, 408, "timeout", "the body stalled");
		return false;
	}
	/* An open stream waits for news as long as its client listens. */
	if (c->stream_open)
		return false;
	/* Idle between requests, or a client that does not read its answer. */
	return now_ms - c->last_activity_ms > HTTP_IDLE_TIMEOUT_MS && c->state != HTTP_WAIT;
}

/* ---------------------------------------------------------------- JSON */

void json_init(struct json_writer *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap;
	j->len = 0;
	j->overflow = cap == 0;
	j->need_comma = false;
	if (cap)
		buf[0] = '\0';
}

static void put(struct json_writer *j, const char *s, size_t n)
{
	if (j->overflow || n >= j->cap - j->len) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void put_str(struct json_writer *j, const char *s)
{
	put(j, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[8];
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			put(j, esc, 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			put(j, esc, 6);
		} else {
			put(j, (const char *)&ch, 1);
		}
	}
	put(j, "\"", 1);
}

static void put_key(struct json_writer *j, const char *key)
{
	if (j->need_comma)
		put(j, ",", 1);
	j->need_comma = true;
	if (key) {
		put_str(j, key);
		put(j, ":", 1);
	}
}

void json_begin_object(struct json_writer *j)
{
	put_key(j, NULL);
	put(j, "{", 1);
	j->need_comma = false;
}

void json_end_object(struct json_writer *j)
{
	put(j, "}", 1);
	j->need_comma = true;
}

void json_key_object(struct json_writer *j, const char *key)
{
	put_key(j, key);
	put(j, "{", 1);
	j->need_comma = false;
}

void json_begin_array(struct json_writer *j, const char *key)
{
	put_key(j, key);
	put(j, "[", 1);
	j->need_comma = false;
}

void json_end_array(struct json_writer *j)
{
	put(j, "]", 1);
	j->need_comma = true;
}

void json_string(struct json_writer *j, const char *key, const char *value)
{
	put_key(j, key);
	put_str(j, value ? value : "");
}

void json_uint(struct json_writer *j, const char *key, uint64_t value)
{
	char num[24];
	put_key(j, key);
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
	put(j, num, (size_t)n);
}

void json_bool(struct json_writer *j, const char *key, bool value)
{
	put_key(j, key);
	put(j, value ? "true" : "false", value ? 4 : 5);
}

bool json_ok(const struct json_writer *j)
{
	return !j->overflow;
}
