/*
 * The unix target's frame wire: two processes, each a Flotilla application
 * with one interface on a UNIX-datagram wire, exchange Ethernet frames.
 * The parent sends numbered frames of every size from 14 to 1514 bytes; the
 * child echoes each back; the parent checks every byte. Prints TAP.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flotilla.h"

#define NS ((uint64_t)1000000000)

static int tap_count;
static int tap_failed;

static void check(const char *what, int ok)
{
	tap_count++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", tap_count, what);
	fflush(stdout);
}

static void fill(uint8_t *frame, size_t len, unsigned seq)
{
	memset(frame, 0xff, 6);     /* broadcast */
	memset(frame + 6, 0x02, 6); /* source */
	frame[12] = 0x88;           /* local experimental ethertype */
	frame[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		frame[i] = (uint8_t)(seq * 31 + i);
	if (len >= 18)
		memcpy(frame + 14, &seq, sizeof(seq));
}

static int echo_child(void)
{
	uint8_t frame[FLOTILLA_NET_FRAME_MAX];
	uint64_t deadline = flotilla_clock_monotonic() + 20 * NS;
	size_t len;
	while (flotilla_clock_monotonic() < deadline) {
		flotilla_result_t rc = flotilla_net_read(0, frame, sizeof(frame), &len);
		if (rc == FLOTILLA_AGAIN) {
			flotilla_yield(deadline);
			continue;
		}
		if (rc != FLOTILLA_OK)
			return 2;
		if (len == 14 + 4 && memcmp(frame + 14, "done", 4) == 0)
			return 0;
		while (flotilla_net_write(0, frame, len) == FLOTILLA_AGAIN)
			flotilla_yield(flotilla_clock_monotonic() + NS / 1000);
	}
	return 3;
}

/* Send frame 0 until the echo side answers: it may not have bound yet. */
static int handshake(uint8_t *out, uint8_t *in)
{
	uint64_t give_up = flotilla_clock_monotonic() + 10 * NS;
	fill(out, 60, 0xffffffffu);
	while (flotilla_clock_monotonic() < give_up) {
		flotilla_net_write(0, out, 60);
		uint64_t deadline = flotilla_clock_monotonic() + NS / 20;
		size_t got;
		flotilla_result_t rc;
		while ((rc = flotilla_net_read(0, in, FLOTILLA_NET_FRAME_MAX, &got)) ==
			   FLOTILLA_AGAIN &&
		       flotilla_yield(deadline))
			;
		if (rc == FLOTILLA_OK && got == 60 && memcmp(in, out, 60) == 0)
			return 0;
	}
	return -1;
}

int flotilla_main(const struct flotilla_start_info *info)
{
	char spec[300], a[128], b[128];
	if (strcmp(info->bootargs, "--echo") == 0)
		return echo_child();
	if (strncmp(info->bootargs, "--parent ", 9) != 0) {
		/* First start: make the wire's directory, then become the parent
		 * application with its interface configured. */
		char dir[] = "/tmp/flotilla-wire-XXXXXX";
		if (!mkdtemp(dir)) {
			check("make a directory for the wire sockets", 0);
			return 1;
		}
		snprintf(spec, sizeof(spec), "wire:%s/a,%s/b,mac=02:00:00:00:00:0a", dir, dir);
		setenv("FLOTILLA_NET0", spec, 1);
		execl("/proc/self/exe", "test_runtime_wire", "--parent", dir, (char *)NULL);
		return 127;
	}
	const char *dir = info->bootargs + 9;
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);

	pid_t child = fork();
	if (child == 0) {
		snprintf(spec, sizeof(spec), "wire:%s,%s", b, a);
		setenv("FLOTILLA_NET0", spec, 1);
		execl("/proc/self/exe", "test_runtime_wire", "--echo", (char *)NULL);
		_exit(127);
	}
	uint8_t out[FLOTILLA_NET_FRAME_MAX], in[FLOTILLA_NET_FRAME_MAX];
	check("two processes connect over the wire (handshake frame echoed)",
	      handshake(out, in) == 0);

	unsigned sent = 0, matched = 0;
	for (size_t len = 14; len <= FLOTILLA_NET_FRAME_MAX; len += 7) {
		fill(out, len, sent);
		while (flotilla_net_write(0, out, len) == FLOTILLA_AGAIN)
			flotilla_yield(flotilla_clock_monotonic() + NS / 1000);
		sent++;
		uint64_t deadline = flotilla_clock_monotonic() + 5 * NS;
		size_t got;
		flotilla_result_t rc;
		while ((rc = flotilla_net_read(0, in, sizeof(in), &got)) == FLOTILLA_AGAIN &&
		       flotilla_yield(deadline))
			;
		if (rc == FLOTILLA_OK && got == len && memcmp(in, out, len) == 0)
			matched++;
	}
	memcpy(out + 14, "done", 4);
	flotilla_net_write(0, out, 18);
	int status = 0;
	waitpid(child, &status, 0);

	check("frames of 14..1514 bytes cross the wire to another process and back, byte-identical",
	      sent > 200 && matched == sent);
	check("the echoing process (a second application) exits cleanly",
	      WIFEXITED(status) && WEXITSTATUS(status) == 0);
	size_t len;
	check("reading an interface that does not exist is EINVAL",
	      flotilla_net_read(7, in, sizeof(in), &len) == FLOTILLA_EINVAL);
	check("a buffer shorter than a full frame is EINVAL",
	      flotilla_net_read(0, in, 100, &len) == FLOTILLA_EINVAL);
	check("an oversize frame is refused with EINVAL",
	      flotilla_net_write(0, out, FLOTILLA_NET_FRAME_MAX + 1) == FLOTILLA_EINVAL);
	struct flotilla_net_info nic;
	check("the interface reports its MAC from FLOTILLA_NET0 and a 1500-byte MTU",
	      flotilla_net_info(0, &nic) == FLOTILLA_OK && nic.mac[0] == 0x02 &&
		  nic.mac[5] == 0x0a && nic.mtu == 1500);
	printf("# %u frames echoed\n", matched);
	unlink(a);
	unlink(b);
	rmdir(dir);
	return tap_failed ? 1 : 0;
}
