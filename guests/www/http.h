/*
 * http.h - HTTP/1.1 request parsing and response heads (RFC 9112) for the
 * www guest. Portable: no runtime or network calls, so the host can test it.
 */
#ifndef WWW_HTTP_H
#define WWW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_TARGET_MAX 256

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

struct http_request {
	enum http_method method;
	char target[HTTP_TARGET_MAX]; /* the path, query removed */
	int minor;                    /* HTTP/1.<minor> */
	bool keep_alive;              /* after this request, per version and Connection */
	bool chunked;                 /* Transfer-Encoding present: the body cannot be skipped */
	uint64_t content_length;      /* request body bytes to skip */
};

/*
 * Parse the request at the start of buf. Returns the length of the head
 * (request line and headers, through the empty line) when it is complete
 * and valid, 0 when more bytes are needed, -1 when it is malformed.
 */
long http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Reason phrase for a status code. */
const char *http_reason(int status);

/*
 * Write a response head into out (size bytes): status line, Server,
 * Content-Type (when type is not NULL), Content-Length, Connection: close
 * when !keep_alive (keep-alive for HTTP/1.0 clients that asked for it),
 * Allow for 405. Returns its length, or 0 if it does not fit.
 */
size_t http_format_head(char *out, size_t size, int status, const char *type, uint64_t length,
			bool keep_alive, int minor);

#endif
