/*
 * push.h: the device API's update resources (docs/device-api.md):
 *
 *   PUT  /v1/guests/NAME            a signed bundle, streamed to the card
 *   GET  /v1/guests/NAME/operation  the latest operation on NAME (no signature)
 *   POST /v1/guests/NAME/rollback   the previous confirmed version, hot
 *   POST /v1/guests/NAME/restart    a new instance of the running version
 *
 * A push is checked in this order, and nothing on the card or in the running
 * guest changes until every check has passed: NAME is a plan guest (404),
 * the card's store is usable (503), Content-Length fits a slot (413), no
 * operation runs on NAME (409) and no other image is being written (409).
 * Then the bundle's signed head (header, manifest, signature; at most
 * OTA_BUNDLE_HEAD_MAX bytes) is buffered — nothing else is — and the
 * operator's signature over its SHA-256 is checked (401/403); only then is
 * the operation recorded, the manifest verified (key, signature, board,
 * format), compared with NAME and its plan entry and with Content-Length,
 * and handed to the slot store (counter, size). The payload is hashed as it
 * is written to the inactive slot; at the end the slot is re-read, becomes
 * the TRIAL and the supervisor swaps it in. Answer: 202 + the operation.
 *
 * RAM: one head buffer per API connection and one install in flight (a few
 * KiB), whatever the bundle's size.
 */
#ifndef FLOTILLA_CONTROL_PUSH_H
#define FLOTILLA_CONTROL_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "http.h"
#include "slot_store.h"

/* The route's body limit; the real one (the card's slot size) is checked
 * when the request's head arrives, before any byte of the body is taken. */
#define PUSH_BODY_MAX ((uint64_t)SLOT_STORE_SLOT_SIZE_MAX + OTA_BUNDLE_HEAD_MAX)

/* push.c: route handlers (api.c's table) */
void push_put_begin(struct http_conn *c, const struct http_request *r);
void push_put_body(struct http_conn *c, const uint8_t *data, size_t len);
void push_put_end(struct http_conn *c, const struct http_request *r);
void push_get_operation(struct http_conn *c, const struct http_request *r);
void push_post_rollback(struct http_conn *c, const struct http_request *r);
void push_post_restart(struct http_conn *c, const struct http_request *r);
/* api.c: the connection is gone (closed, reset, timed out). A push it was
 * receiving is abandoned: the slot it was writing becomes EMPTY again and
 * the operation is REFUSED ("aborted"). */
void push_connection_closed(struct http_conn *c);

/* The HTTP status for a refused bundle's OTA_E_* code (4xx; 503 for the card). */
int push_status_for(int ota_status);

#endif
