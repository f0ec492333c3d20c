/*
 * The guest's side of the status page shared with the control domain.
 * Placeholder until the status page lands: the calls do nothing yet.
 */
#include "flotilla.h"

void flotilla_ready(void)
{
}

void flotilla_health(enum flotilla_health_status status, const char *reason)
{
	(void)status;
	(void)reason;
}
