/*
 * Domain control over domctl. Every call sets interface_version: a release
 * Xen answers any mistake with a bare -EINVAL.
 */
#include <string.h>

#include "hypercall.h"
#include "domain.h"

#include <xen/domctl.h>
#include <xen/sysctl.h>

long dom_domctl(struct xen_domctl *op)
{
	op->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
	return xen_hypercall(__HYPERVISOR_domctl, (unsigned long)op, 0, 0, 0, 0);
}

/* XEN_SYSCTL_physinfo; 0 or Xen's error. */
static long physinfo(struct xen_sysctl_physinfo *info)
{
	struct xen_sysctl op;
	memset(&op, 0, sizeof(op));
	op.cmd = XEN_SYSCTL_physinfo;
	op.interface_version = XEN_SYSCTL_INTERFACE_VERSION;
	long rc = xen_hypercall(__HYPERVISOR_sysctl, (unsigned long)&op, 0, 0, 0, 0);
	*info = op.u.physinfo;
	return rc;
}

uint64_t dom_xen_free_pages(void)
{
	struct xen_sysctl_physinfo info;
	return physinfo(&info) == 0 ? info.free_pages : 0;
}

uint64_t dom_xen_scrub_pages(void)
{
	struct xen_sysctl_physinfo info;
	return physinfo(&info) == 0 ? info.scrub_pages : 0;
}

static void fill_info(const struct xen_domctl_getdomaininfo *raw, struct dom_info *info)
{
	info->domid = raw->domain;
	info->dying = raw->flags & XEN_DOMINF_dying;
	info->shutdown = raw->flags & XEN_DOMINF_shutdown;
	info->shutdown_reason =
	    info->shutdown
		? (int)((raw->flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask)
		: DOM_SHUTDOWN_NONE;
	info->running = raw->flags & XEN_DOMINF_running;
	info->blocked = raw->flags & XEN_DOMINF_blocked;
	info->cpu_time_ns = raw->cpu_time;
	info->pages = raw->tot_pages;
	info->max_pages = raw->max_pages;
	info->vcpus_online = raw->nr_online_vcpus;
}

int dom_next(uint16_t from, struct dom_info *info)
{
	struct xen_domctl op;
	memset(&op, 0, sizeof(op));
	op.cmd = XEN_DOMCTL_getdomaininfo;
	op.domain = from;
	if (dom_domctl(&op) != 0)
		return -1;
	fill_info(&op.u.getdomaininfo, info);
	return 0;
}

int dom_getinfo(uint16_t domid, struct dom_info *info)
{
	/* getdomaininfo answers with the next existing domain: check the id. */
	if (dom_next(domid, info) != 0 || info->domid != domid)
		return -1;
	return 0;
}

const char *dom_shutdown_reason_name(int reason)
{
	switch (reason) {
	case SHUTDOWN_poweroff: return "poweroff";
	case SHUTDOWN_reboot: return "reboot";
	case SHUTDOWN_suspend: return "suspend";
	case SHUTDOWN_crash: return "crash";
	case SHUTDOWN_watchdog: return "watchdog";
	case DOM_SHUTDOWN_NONE: return "none";
	default: return "unknown";
	}
}
