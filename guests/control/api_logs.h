/*
 * api_logs.h: GET /v1/guests/NAME/logs?follow=1 - a guest's console lines
 * and the control domain's news about it, streamed for as long as the
 * client listens (docs/device-api.md, "Logs").
 *
 * The answer is newline-delimited JSON (application/x-ndjson), one object a
 * line: first the lines the board keeps, then each new one as the guest
 * prints it, and events as they happen:
 *   {"n":41,"line":"tick 8"}                       a console line (n counts them)
 *   {"event":"state","state":"backoff","restarts":2}  the supervisor's view changed
 *   {"event":"operation","kind":"update","stage":"starting"}
 *   {"event":"health","status":"failed","reason":"..."}
 *   {"event":"dropped","lines":12}                 the client read too slowly
 *   {"event":"heartbeat","uptime_ms":...}          every FOLLOW_HEARTBEAT_MS of silence
 * Memory is bounded: one small record per connection (API_CONNECTIONS),
 * lines are read from the supervisor's ring when there is room to send
 * them; a client slower than the guest loses lines, and is told how many.
 */
#ifndef FLOTILLA_CONTROL_API_LOGS_H
#define FLOTILLA_CONTROL_API_LOGS_H

struct http_conn;
struct guest;

#define FOLLOW_HEARTBEAT_MS 10000

/* api_logs.c: answers c with the stream of g's lines and events. */
void api_logs_follow(struct http_conn *c, const struct guest *g);

#endif
