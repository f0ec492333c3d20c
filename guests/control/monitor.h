/*
 * monitor.h: the control domain's health monitor. Every
 * CONFIG_HEALTH_PERIOD_S it gathers what the board and each guest look like
 * (Xen's free memory, the card's store and I/O errors, the NIC, its own
 * heap, the clock; each guest's state, crashes, status page, version, slot
 * and trial) and records the verdicts in the health model (health.h). The
 * device API (api_health.c) and the console key 'h' read the model; nothing
 * here changes the state of a guest or of the card.
 */
#ifndef FLOTILLA_CONTROL_MONITOR_H
#define FLOTILLA_CONTROL_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "flotilla.h"
#include "health.h"

struct card_store;
struct guest;

/* What a guest says on its status page (flotilla_ready / flotilla_health). */
struct monitor_guest_status {
	bool valid, ready;
	unsigned health; /* enum flotilla_health_status */
	char reason[FLOTILLA_HEALTH_REASON_MAX];
	uint32_t ipv4[4]; /* per NIC, host order as net/ prints them, 0 = none */
};

/* monitor.c */
/* card: the card's store (NULL: none). Allocates the model; the first run
 * is due a second later. 0 or -1. */
int monitor_start(struct card_store *card);
/* Runs the checks when due; returns the next deadline (monotonic ns). */
uint64_t monitor_poll(void);
/* The model (never NULL after monitor_start; empty before the first run). */
const struct health *monitor_health(void);
/* The board's guest status page, if the runtime gives one. */
bool monitor_guest_status(const struct guest *g, struct monitor_guest_status *s);
/* Seconds between runs. */
unsigned monitor_period_s(void);
/* Console: 'h' (the table), 'l NAME' (the guest's last console lines). */
void monitor_print(void);
void monitor_print_log(const char *name);

#endif
