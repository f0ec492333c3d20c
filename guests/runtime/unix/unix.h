/* Internal interface of the unix target. */
#ifndef FLOTILLA_UNIX_H
#define FLOTILLA_UNIX_H

#include <poll.h>

#define UNIX_NET_MAX 4

/* net.c: network interfaces from FLOTILLA_NET0.. (see flotilla.h) */
int unix_net_init(void);
int unix_net_pollfds(struct pollfd *fds, int max);

#endif
