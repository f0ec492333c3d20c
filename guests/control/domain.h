/*
 * Domain control: thin, checked wrappers over Xen's domctl interface
 * (interface version 0x15, Xen 4.17) for the control domain.
 */
#ifndef FLOTILLA_CONTROL_DOMAIN_H
#define FLOTILLA_CONTROL_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#define DOM_SHUTDOWN_NONE (-1)

struct dom_info {
	uint16_t domid;
	bool dying;
	bool shutdown;
	int shutdown_reason; /* SHUTDOWN_poweroff, _crash, ...; DOM_SHUTDOWN_NONE */
	bool running;
	bool blocked;
	uint64_t cpu_time_ns;
	uint64_t pages;
	uint64_t max_pages;
	unsigned vcpus_online;
};

struct xen_domctl;

/* domain.c */
/* Any domctl, with interface_version set (0x15, Xen 4.17). */
long dom_domctl(struct xen_domctl *op);
/* Xen's free memory in pages, and the part of it still to be scrubbed
 * (Xen scrubs freed pages in its idle loop); 0 if unknown. */
uint64_t dom_xen_free_pages(void);
uint64_t dom_xen_scrub_pages(void);
int dom_getinfo(uint16_t domid, struct dom_info *info);
/* The first domain with id >= from; -1 when there is none. */
int dom_next(uint16_t from, struct dom_info *info);
const char *dom_shutdown_reason_name(int reason);

#endif
