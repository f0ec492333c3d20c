/*
 * pingpong: raw Ethernet frames through flotilla_net_*, for the board test
 * of virtual NICs and the switch. One role per guest (boot argument):
 *
 *   role=pong   answers every hello and ping with an echo to its sender
 *   role=ping   finds a pong with broadcast hellos, then sends count=N
 *               pings one at a time (unicast) and waits for each echo
 *   role=flood  sends broadcast frames as fast as its ring takes them
 *               (retrying at once when it is full)
 *   role=deaf   says hello once, then never reads its receive ring
 *   role=crash  says hello once, then crashes (its vNIC is torn down and
 *               rebuilt by every restart)
 *
 * Frames: EtherType 0x88b5 (IEEE local experimental), payload "FLPP", a
 * type byte, a 32-bit sequence number. Progress goes to the console, which
 * is what the test reads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"

#define MS            ((uint64_t)1000000)
#define ETHERTYPE     0x88b5
#define TYPE_HELLO    1
#define TYPE_PING     2
#define TYPE_ECHO     3
#define TYPE_FLOOD    4
#define FRAME_LEN     60
#define REPORT_PERIOD (5000 * MS)

static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static uint8_t my_mac[6];
static uint8_t frame[FLOTILLA_NET_FRAME_MAX];

static void mac_text(char *out, const uint8_t *mac)
{
	sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		mac[5]);
}

static flotilla_result_t send(const uint8_t *to, unsigned type, uint32_t seq)
{
	uint8_t out[FRAME_LEN];
	memset(out, 0, sizeof(out));
	memcpy(out, to, 6);
	memcpy(out + 6, my_mac, 6);
	out[12] = ETHERTYPE >> 8;
	out[13] = ETHERTYPE & 0xff;
	memcpy(out + 14, "FLPP", 4);
	out[18] = (uint8_t)type;
	memcpy(out + 19, &seq, 4);
	return flotilla_net_write(0, out, sizeof(out));
}

/* The next frame of ours (type, sequence, sender), or false when none. */
static bool receive(unsigned *type, uint32_t *seq, uint8_t *from)
{
	size_t len;
	while (flotilla_net_read(0, frame, sizeof(frame), &len) == FLOTILLA_OK) {
		if (len < 23 || frame[12] != ETHERTYPE >> 8 || frame[13] != (ETHERTYPE & 0xff) ||
		    memcmp(frame + 14, "FLPP", 4) != 0)
			continue;
		*type = frame[18];
		memcpy(seq, frame + 19, 4);
		memcpy(from, frame + 6, 6);
		return true;
	}
	return false;
}

__attribute__((noreturn)) static void pong(void)
{
	unsigned type;
	uint32_t seq, echoed = 0, others = 0;
	uint8_t from[6];
	uint64_t next_report = flotilla_clock_monotonic() + REPORT_PERIOD;
	for (;;) {
		while (receive(&type, &seq, from)) {
			if (type != TYPE_HELLO && type != TYPE_PING) {
				others++;
				continue;
			}
			/* A full ring: wait for room rather than lose the echo. */
			while (send(from, TYPE_ECHO, seq) == FLOTILLA_AGAIN)
				flotilla_yield(flotilla_clock_monotonic() + MS);
			if (type == TYPE_PING && ++echoed == 1) {
				char text[18];
				mac_text(text, from);
				printf("pingpong: pong: first ping from %s\n", text);
			}
		}
		if (flotilla_clock_monotonic() >= next_report) {
			next_report += REPORT_PERIOD;
			printf("pingpong: pong: echoed %" PRIu32 " pings, ignored %" PRIu32
			       " other frames\n",
			       echoed, others);
		}
		flotilla_yield(next_report);
	}
}

static int ping(unsigned count)
{
	unsigned type;
	uint32_t seq;
	uint8_t from[6], peer[6];
	char text[18];
	bool found = false;
	uint64_t next_hello = 0;
	while (!found) {
		uint64_t now = flotilla_clock_monotonic();
		if (now >= next_hello) {
			send(broadcast, TYPE_HELLO, 0);
			next_hello = now + 100 * MS;
		}
		while (!found && receive(&type, &seq, from))
			if (type == TYPE_ECHO && seq == 0) {
				memcpy(peer, from, 6);
				found = true;
			}
		if (!found)
			flotilla_yield(next_hello);
	}
	mac_text(text, peer);
	printf("pingpong: ping: found a pong at %s\n", text);

	static uint64_t rtt[1000];
	if (count > 1000)
		count = 1000;
	unsigned answered = 0, resent = 0;
	for (uint32_t n = 1; n <= count; n++) {
		uint64_t sent = flotilla_clock_monotonic(), deadline = sent + 500 * MS;
		while (send(peer, TYPE_PING, n) == FLOTILLA_AGAIN)
			flotilla_yield(flotilla_clock_monotonic() + MS);
		bool echoed = false;
		while (!echoed) {
			while (!echoed && receive(&type, &seq, from))
				echoed = type == TYPE_ECHO && seq == n && !memcmp(from, peer, 6);
			if (echoed)
				break;
			if (flotilla_clock_monotonic() >= deadline) {
				if (++resent > 2000) {
					printf("pingpong: ping: no echo for ping %" PRIu32
					       "; giving "
					       "up\n",
					       n);
					return 1;
				}
				send(peer, TYPE_PING, n);
				deadline = flotilla_clock_monotonic() + 500 * MS;
			}
			flotilla_yield(deadline);
		}
		rtt[answered++] = flotilla_clock_monotonic() - sent;
	}
	/* Median round trip (insertion sort: count is small). */
	for (unsigned i = 1; i < answered; i++)
		for (unsigned j = i; j > 0 && rtt[j - 1] > rtt[j]; j--) {
			uint64_t t = rtt[j];
			rtt[j] = rtt[j - 1];
			rtt[j - 1] = t;
		}
	printf("pingpong: ping: %u/%u echoes from %s, %u resent, median round trip %" PRIu64
	       " us\n",
	       answered, count, text, resent, answered ? rtt[answered / 2] / 1000 : 0);
	/* Stay up: the test reads the switch's counters afterwards. */
	for (;;) {
		flotilla_yield(UINT64_MAX);
		while (receive(&type, &seq, from))
			;
	}
}

__attribute__((noreturn)) static void flood(void)
{
	uint32_t sent = 0, full = 0;
	uint64_t next_report = flotilla_clock_monotonic() + REPORT_PERIOD;
	unsigned type;
	uint32_t seq;
	uint8_t from[6];
	printf("pingpong: flood: flooding broadcast frames\n");
	for (;;) {
		if (send(broadcast, TYPE_FLOOD, sent) == FLOTILLA_OK) {
			sent++;
		} else {
			full++; /* an attacker does not wait politely: try again */
		}
		while (receive(&type, &seq, from))
			;
		if (flotilla_clock_monotonic() >= next_report) {
			next_report += REPORT_PERIOD;
			printf("pingpong: flood: %" PRIu32 " frames sent, ring full %" PRIu32
			       " times\n",
			       sent, full);
		}
	}
}

__attribute__((noreturn)) static void deaf(void)
{
	send(broadcast, TYPE_HELLO, 0xdeaf);
	printf("pingpong: deaf: said hello; never reading again\n");
	for (;;)
		flotilla_yield(UINT64_MAX);
}

int flotilla_main(const struct flotilla_start_info *info)
{
	struct flotilla_net_info net;
	if (flotilla_net_count() == 0 || flotilla_net_info(0, &net) != FLOTILLA_OK) {
		printf("pingpong: no network interface\n");
		return 1;
	}
	memcpy(my_mac, net.mac, 6);
	char text[18];
	mac_text(text, my_mac);
	printf("pingpong: %u interface(s), first %s mtu %u\n", flotilla_net_count(), text,
	       (unsigned)net.mtu);
	const char *role = strstr(info->bootargs, "role=");
	const char *count = strstr(info->bootargs, "count=");
	unsigned n = count ? (unsigned)strtoul(count + 6, NULL, 10) : 100;
	if (role && !strncmp(role + 5, "pong", 4))
		pong();
	if (role && !strncmp(role + 5, "ping", 4))
		return ping(n ? n : 100);
	if (role && !strncmp(role + 5, "flood", 5))
		flood();
	if (role && !strncmp(role + 5, "deaf", 4))
		deaf();
	if (role && !strncmp(role + 5, "crash", 5)) {
		send(broadcast, TYPE_HELLO, 0xc7a54);
		printf("pingpong: crash: said hello; crashing on purpose\n");
		return 1;
	}
	printf("pingpong: boot arguments need role=ping|pong|flood|deaf\n");
	return 1;
}
