/*
 * api_health.h: the device API's read-only views of the board - health,
 * guest detail, logs, the card's event log and Prometheus metrics
 * (docs/device-api.md, "Health and status"; docs/monitoring.md). Routed from
 * api.c's table. Nothing here changes any state.
 */
#ifndef FLOTILLA_CONTROL_API_HEALTH_H
#define FLOTILLA_CONTROL_API_HEALTH_H

struct http_conn;
struct http_request;

/* api_health.c */
void api_get_health(struct http_conn *c, const struct http_request *r);
void api_get_health_checks(struct http_conn *c, const struct http_request *r);
void api_get_guest(struct http_conn *c, const struct http_request *r);
void api_get_guest_logs(struct http_conn *c, const struct http_request *r);
void api_get_events(struct http_conn *c, const struct http_request *r);
void api_get_metrics(struct http_conn *c, const struct http_request *r);

#endif
