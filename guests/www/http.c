/* http.c - see http.h. Strict where leniency would let two parsers (ours
 * and a proxy's) disagree about where a request ends (RFC 9112 §11.2). */
#include "http.h"

#include <stdio.h>
#include <string.h>

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool name_is(const char *name, size_t len, const char *want)
{
	if (strlen(want) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (lower(name[i]) != want[i])
			return false;
	return true;
}

/* Does the comma-separated list value[0..len) contain token (any case)? */
static bool list_has(const char *value, size_t len, const char *token)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		size_t start = i;
		while (i < len && value[i] != ',' && value[i] != ' ' && value[i] != '\t')
			i++;
		if (i > start && name_is(value + start, i - start, token))
			return true;
		while (i < len && value[i] != ',')
			i++;
	}
	return false;
}

static const char *find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

long http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const char *end = buf + len;
	memset(req, 0, sizeof(*req));
	const char *eol = find_crlf(buf, end);
	if (!eol)
		return memchr(buf, '\n', len) ? -1 : 0; /* a bare LF line ending */

	/* request-line = method SP request-target SP HTTP-version */
	const char *p = buf, *sp = memchr(p, ' ', (size_t)(eol - p));
	if (!sp || sp == p)
		return -1;
	for (const char *q = p; q < sp; q++)
		if (!is_tchar(*q))
			return -1;
	size_t mlen = (size_t)(sp - p);
	req->method = (mlen == 3 && memcmp(p, "GET", 3) == 0)    ? HTTP_GET
		      : (mlen == 4 && memcmp(p, "HEAD", 4) == 0) ? HTTP_HEAD
								 : HTTP_OTHER;
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(eol - p));
	if (!sp)
		return -1;
	if (sp - p > 7 && memcmp(p, "http://", 7) == 0) {
		/* absolute-form (RFC 9112 §3.2.2): the path starts after the authority */
		const char *path = memchr(p + 7, '/', (size_t)(sp - p - 7));
		p = path ? path : sp;
	}
	if (*p != '/')
		return -1;
	size_t tlen = 0;
	for (const char *q = p; q < sp && *q != '?' && *q != '#'; q++) {
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return -1;
		if (tlen + 1 >= sizeof(req->target))
			return -1;
		req->target[tlen++] = *q;
	}
	req->target[tlen] = '\0';
	for (const char *q = p; q < sp; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return -1;
	p = sp + 1;
	if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
		return -1;
	req->minor = p[7] - '0';
	req->keep_alive = req->minor == 1;

	bool host = false, have_length = false;
	for (p = eol + 2;;) {
		eol = find_crlf(p, end);
		if (!eol)
			return memchr(p, '\n', (size_t)(end - p)) ? -1 : 0;
		if (eol == p)
			break; /* the empty line: end of the head */
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return -1; /* also rejects obsolete line folding (leading space) */
		for (const char *q = p; q < colon; q++)
			if (!is_tchar(*q))
				return -1;
		size_t nlen = (size_t)(colon - p);
		const char *v = colon + 1, *vend = eol;
		while (v < vend && (*v == ' ' || *v == '\t'))
			v++;
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		for (const char *q = v; q < vend; q++)
			if (*q == '\r' || *q == '\n' || *q == '\0')
				return -1;
		size_t vlen = (size_t)(vend - v);
		if (name_is(p, nlen, "host")) {
			if (host)
				return -1; /* RFC 9112 §3.2: exactly one */
			host = true;
		} else if (name_is(p, nlen, "connection")) {
			if (list_has(v, vlen, "close"))
				req->keep_alive = false;
			else if (list_has(v, vlen, "keep-alive") && req->minor == 0)
				req->keep_alive = true;
		} else if (name_is(p, nlen, "content-length")) {
			uint64_t n = 0;
			if (vlen == 0 || vlen > 15)
				return -1;
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -1;
				n = n * 10 + (uint64_t)(v[i] - '0');
			}
			if (have_length && n != req->content_length)
				return -1;
			have_length = true;
			req->content_length = n;
		} else if (name_is(p, nlen, "transfer-encoding")) {
			req->chunked = true;
		}
		p = eol + 2;
	}
	if (req->minor == 1 && !host)
		return -1; /* RFC 9112 §3.2 */
	if (req->chunked && have_length)
		return -1; /* RFC 9112 §6.3: a smuggling attempt */
	return (long)(eol + 2 - buf);
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

size_t http_format_head(char *out, size_t size, int status, const char *type, uint64_t length,
			bool keep_alive, int minor)
{
	/* RFC 9110 §8.6: a 204 carries no Content-Length. */
	char length_line[40] = "";
	if (status != 204)
		snprintf(length_line, sizeof(length_line), "Content-Length: %lu\r\n",
			 (unsigned long)length);
	int n = snprintf(out, size,
			 "HTTP/1.1 %d %s\r\n"
			 "Server: flotilla-www\r\n"
			 "%s%s%s"
			 "%s"
			 "%s%s"
			 "\r\n",
			 status, http_reason(status), type ? "Content-Type: " : "",
			 type ? type : "", type ? "\r\n" : "", length_line,
			 !keep_alive  ? "Connection: close\r\n"
			 : minor == 0 ? "Connection: keep-alive\r\n"
				      : "",
			 status == 405 ? "Allow: GET, HEAD\r\n" : "");
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
