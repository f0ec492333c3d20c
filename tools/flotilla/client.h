/*
 * client.h: the CLI's side of the device API (docs/device-api.md): a small
 * HTTP/1.1 client over one TCP connection, and request signing with an
 * operator key (ota/auth.h).
 *
 * Shared by every verb that talks to a board (push, rollback, restart; later
 * health, status, logs, events). One struct client per board: it connects on
 * first use, keeps the connection alive between requests and reconnects when
 * the board closed it. Bodies always carry Content-Length (the board refuses
 * chunked uploads); a body can be streamed from a file in chunks with a
 * progress callback, and the board may answer before the body is complete
 * (a bundle refused at its head): the client then stops sending and returns
 * that answer. Response bodies are bounded (CLIENT_BODY_MAX, the rest is
 * read and dropped) since every answer of the API is a JSON document of a
 * few KiB; an answer that goes on (a followed log) is handed over as it
 * arrives instead (client_request.on_body).
 *
 * Functions return a CLIENT_ code and leave a one-line reason in c->error;
 * they print nothing.
 */
#ifndef FLOTILLA_CLIENT_H
#define FLOTILLA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#include "crypto.h"
#include "manifest.h"

#define CLIENT_BODY_MAX     262144 /* GET /v1/health/checks with its history */
#define CLIENT_HOST_MAX     255
#define CLIENT_DEFAULT_PORT 80
#define CLIENT_AUTH_MAX     320 /* the board's limit for the Authorization header */
#define CLIENT_BOARD_MAX    63  /* OTA_AUTH_BOARD_MAX */

enum client_result {
	CLIENT_OK = 0,
	CLIENT_E_UNREACHABLE, /* name does not resolve, connection refused or timed out */
	CLIENT_E_LOST,        /* the connection broke or stalled mid-request */
	CLIENT_E_PROTOCOL,    /* the answer is not HTTP/1.x we understand */
	CLIENT_E_REFUSED,     /* client_authorize: the board answered the nonce request with an
				 error status (c->status) */
	CLIENT_E_LOCAL,       /* our side: a file could not be read, a field does not fit */
};

struct client {
	char host[CLIENT_HOST_MAX + 1];
	uint16_t port;
	int timeout_ms; /* connect, and any stall while sending or receiving */
	int fd;         /* -1 when not connected */
	bool reused;    /* fd has carried a request already */
	int status;     /* the last answer's HTTP status, 0 before one */
	char error[256];
};

struct client_response {
	int status; /* 200, 202, 401, ... */
	char body[CLIENT_BODY_MAX + 1];
	size_t body_len;    /* what body holds (NUL-terminated) */
	bool truncated;     /* the board sent more than CLIENT_BODY_MAX */
	bool early;         /* answered before the request body was all sent */
	uint64_t body_sent; /* request body bytes sent */
	char location[128];
};

/* Called as a streamed body goes out: bytes sent so far, of total. */
typedef void (*client_progress_fn)(void *ctx, uint64_t sent, uint64_t total);

struct client_request {
	const char *method;
	const char *target;        /* path and query, exactly as signed */
	const char *authorization; /* NULL: unsigned */
	const char *content_type;  /* NULL: none */
	/* The body: body_len bytes at body, or, when body_fd >= 0, body_len
	 * bytes of that file from offset 0, read and sent in chunks. */
	const void *body;
	int body_fd;
	uint64_t body_len;
	client_progress_fn progress;
	void *progress_ctx;
	/* How long the board may think before the first byte of its answer,
	 * when longer than the client's stall timeout (0: that timeout). */
	int answer_timeout_ms;
	/* A streamed answer (GET /v1/guests/NAME/logs?follow=1): when set, a 2xx
	 * answer's body is handed to on_body as it arrives instead of being kept
	 * in resp->body, and may go on until the board closes the connection;
	 * on_body returns false to stop reading. stream_stall_ms: the longest
	 * silence taken within it (0: the client's stall timeout). */
	bool (*on_body)(void *ctx, const char *data, size_t len);
	void *on_body_ctx;
	int stream_stall_ms;
};

/*
 * "HOST", "HOST:PORT" or "[V6]:PORT" into host and port (default 80);
 * -1 when it is none of these.
 */
int client_parse_address(const char *text, char host[CLIENT_HOST_MAX + 1], uint16_t *port);

void client_init(struct client *c, const char *host, uint16_t port, int timeout_ms);
void client_close(struct client *c);
/* One request and its response; connects first when needed. */
int client_request(struct client *c, const struct client_request *rq, struct client_response *resp);

/* ---------------------------------------------------------------- signing */

struct client_signer {
	mbedtls_pk_context pk;
	char key_id[2 * OTA_KEY_ID_SIZE + 1]; /* hex, as ota/ computes it */
};

/* Loads an operator's private key (PEM, as 'flotilla keygen' writes it);
 * -1 with the error printed through cli_error(). */
int client_signer_load(struct client_signer *s, const char *path);
void client_signer_free(struct client_signer *s);

/*
 * The Authorization header value for a request to board with this nonce:
 * the operator's ECDSA signature over SHA-256 of ota_auth_canonical(). -1
 * when a field holds a newline or the header would not fit.
 */
int client_sign_request(const struct client_signer *s, const char *board, const char *nonce,
			const char *method, const char *target,
			const uint8_t commitment[OTA_SHA256_SIZE], char out[CLIENT_AUTH_MAX]);

/*
 * The Authorization header value for METHOD target with this body
 * commitment: fetches a fresh nonce (GET /v1/nonce), which also names the
 * board (into board when not NULL), and signs the canonical request
 * (ota_auth_canonical). CLIENT_E_REFUSED with the board's reason in
 * c->error when it answers with an error status instead of a nonce,
 * CLIENT_E_PROTOCOL when the answer holds no nonce.
 */
int client_authorize(struct client *c, const struct client_signer *s, const char *method,
		     const char *target, const uint8_t commitment[OTA_SHA256_SIZE],
		     char out[CLIENT_AUTH_MAX], char board[CLIENT_BOARD_MAX + 1]);

/*
 * A bundle file's signed head (header + manifest + signature): its SHA-256
 * (the body commitment of an upload), the decoded manifest and the file's
 * size. CLIENT_E_LOCAL with the reason in c_error when it is not a bundle.
 */
int client_bundle_head(int fd, uint8_t commitment[OTA_SHA256_SIZE], struct ota_manifest *m,
		       uint64_t *file_size, char *error, size_t error_cap);

/* ---------------------------------------------------------------- JSON */

/*
 * The first member named key anywhere in a JSON text (the API's documents
 * are flat or nest each name once): a string into out (unescaped; \u
 * escapes above 0x7f become '?'), or a number. -1 when absent or of
 * another type.
 */
int client_json_string(const char *json, const char *key, char *out, size_t cap);
int client_json_u64(const char *json, const char *key, uint64_t *out);

#endif
