/*
 * api.h: the device API server in the control domain — http.c's machine on
 * net/'s TCP connections (docs/device-api.md). Bounded: API_CONNECTIONS at
 * once (a further client is refused with a reset and retries), each with
 * its deadlines; nothing is allocated per request.
 */
#ifndef CONTROL_API_H
#define CONTROL_API_H

#include <stdbool.h>
#include <stdint.h>

struct net_stack;
struct net_port;
struct ota_auth;

#define API_PORT        80
#define API_CONNECTIONS 8

/* api.c */
/* Listens on API_PORT of the control domain's own stack. 0 or -1. */
int api_start(struct net_stack *stack, const struct net_port *port);
/* Deadlines of the connections; returns the next one (monotonic ns). */
uint64_t api_poll(void);
/* The board's identity in signed requests (hostname, or derived from the MAC). */
const char *api_board_id(void);
/* The operator authentication (nonces, operator keys) for handlers. */
struct ota_auth *api_auth(void);
struct http_conn;
struct http_request;
/* An operator's signed request (docs/device-api.md): true, or false after
 * answering the refusal (401/403). For requests without a body. */
bool api_authorized(struct http_conn *c, const struct http_request *r);

#endif
