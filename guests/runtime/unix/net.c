/*
 * unix target network interfaces, configured from the environment:
 *   FLOTILLA_NET<n>=wire:LOCAL_PATH,PEER_PATH[,mac=xx:xx:xx:xx:xx:xx]
 *   FLOTILLA_NET<n>=tap:IFNAME[,mac=...]
 * A wire is an AF_UNIX datagram socket bound at LOCAL_PATH, sending to
 * PEER_PATH: one Ethernet frame per datagram, no privileges needed. QEMU's
 * "-netdev dgram,local.type=unix,..." speaks the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "flotilla.h"
#include "unix.h"

struct interface {
	int fd;
	bool is_wire;
	struct sockaddr_un peer;
	struct flotilla_net_info info;
	bool want_write; /* flotilla_net_writable() said no: yield waits for POLLOUT, not POLLIN */
};

static struct interface interfaces[UNIX_NET_MAX];
static unsigned interface_count;

static int parse_mac(const char *text, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int set_unix_path(struct sockaddr_un *address, const char *path)
{
	memset(address, 0, sizeof(*address));
	address->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(address->sun_path))
		return -1;
	strcpy(address->sun_path, path);
	return 0;
}

static int open_wire(struct interface *nic, const char *local, const char *peer)
{
	struct sockaddr_un address;
	if (set_unix_path(&address, local) != 0 || set_unix_path(&nic->peer, peer) != 0)
		return -1;
	nic->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (nic->fd < 0)
		return -1;
	unlink(local);
	if (bind(nic->fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
		int saved = errno;
		close(nic->fd);
		errno = saved;
		return -1;
	}
	nic->is_wire = true;
	return 0;
}

static int open_tap(struct interface *nic, const char *name)
{
	nic->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (nic->fd < 0)
		return -1;
	struct ifreq request;
	memset(&request, 0, sizeof(request));
	request.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (strlen(name) >= IFNAMSIZ)
		return -1;
	strcpy(request.ifr_name, name);
	if (ioctl(nic->fd, TUNSETIFF, &request) != 0) {
		int saved = errno;
		close(nic->fd);
		errno = saved;
		return -1;
	}
	return 0;
}

static int configure(unsigned index, const char *spec)
{
	struct interface *nic = &interfaces[index];
	char *copy = strdup(spec);
	if (!copy)
		return -1;
	/* A locally administered, per-process default address. */
	uint8_t mac[6] = {0x02,          0x00, 0x00, (uint8_t)(getpid() >> 8), (uint8_t)getpid(),
			  (uint8_t)index};
	char *fields[4] = {0};
	int n = 0;
	for (char *save, *field = strtok_r(copy, ",", &save); field && n < 4;
	     field = strtok_r(NULL, ",", &save))
		fields[n++] = field;
	int rc = -1;
	for (int i = 0; i < n; i++)
		if (strncmp(fields[i], "mac=", 4) == 0 && parse_mac(fields[i] + 4, mac) != 0)
			goto out;
	if (n >= 2 && strncmp(fields[0], "wire:", 5) == 0)
		rc = open_wire(nic, fields[0] + 5, fields[1]);
	else if (n >= 1 && strncmp(fields[0], "tap:", 4) == 0)
		rc = open_tap(nic, fields[0] + 4);
out:
	if (rc == 0) {
		memcpy(nic->info.mac, mac, 6);
		nic->info.mtu = FLOTILLA_NET_FRAME_MAX - 14;
		nic->info.link_up = true;
	}
	free(copy);
	return rc;
}

int unix_net_init(void)
{
	for (unsigned i = 0; i < UNIX_NET_MAX; i++) {
		char name[32];
		snprintf(name, sizeof(name), "FLOTILLA_NET%u", i);
		const char *spec = getenv(name);
		if (!spec)
			break;
		errno = 0;
		if (configure(i, spec) != 0) {
			fprintf(stderr,
				"flotilla: error: %s=\"%s\": %s (expected wire:LOCAL,PEER or "
				"tap:IFNAME)\n",
				name, spec, errno ? strerror(errno) : "bad format");
			return -1;
		}
		interface_count = i + 1;
	}
	return 0;
}

int unix_net_pollfds(struct pollfd *fds, int max)
{
	int n = 0;
	for (unsigned i = 0; i < interface_count && n < max; i++)
		/* Input that waits for room to answer it is no event. */
		fds[n++] = (struct pollfd){.fd = interfaces[i].fd,
					   .events = interfaces[i].want_write ? POLLOUT : POLLIN};
	return n;
}

bool flotilla_net_writable(unsigned interface)
{
	if (interface >= interface_count)
		return false;
	struct interface *nic = &interfaces[interface];
	struct pollfd p = {.fd = nic->fd, .events = POLLOUT};
	nic->want_write = poll(&p, 1, 0) == 0; /* an error: let the write say what it is */
	return !nic->want_write;
}

unsigned flotilla_net_count(void)
{
	return interface_count;
}

flotilla_result_t flotilla_net_info(unsigned interface, struct flotilla_net_info *info)
{
	if (interface >= interface_count || !info)
		return FLOTILLA_EINVAL;
	*info = interfaces[interface].info;
	return FLOTILLA_OK;
}

flotilla_result_t flotilla_net_write(unsigned interface, const void *frame, size_t len)
{
	if (interface >= interface_count || len < 14 || len > FLOTILLA_NET_FRAME_MAX)
		return FLOTILLA_EINVAL;
	struct interface *nic = &interfaces[interface];
	ssize_t sent = nic->is_wire ? sendto(nic->fd, frame, len, 0, (struct sockaddr *)&nic->peer,
					     sizeof(nic->peer))
				    : write(nic->fd, frame, len);
	if (sent == (ssize_t)len)
		return FLOTILLA_OK;
	if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
		return FLOTILLA_AGAIN;
	/* A wire whose peer is not there yet drops the frame, as a cable would. */
	if (sent < 0 && nic->is_wire && (errno == ENOENT || errno == ECONNREFUSED))
		return FLOTILLA_OK;
	return FLOTILLA_EUNSPEC;
}

flotilla_result_t flotilla_net_read(unsigned interface, void *buf, size_t size, size_t *len)
{
	if (interface >= interface_count || size < FLOTILLA_NET_FRAME_MAX || !len)
		return FLOTILLA_EINVAL;
	ssize_t got = read(interfaces[interface].fd, buf, size);
	if (got < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? FLOTILLA_AGAIN
								 : FLOTILLA_EUNSPEC;
	*len = (size_t)got;
	return FLOTILLA_OK;
}
