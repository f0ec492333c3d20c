/*
 * net_tap — runs Flotilla's stack in a host process on a Linux TAP device,
 * so that real Linux tools can talk to it (tests/net/interop.sh).
 *
 *   net_tap --tap NAME [--ip A.B.C.D/PREFIX] [--gw A.B.C.D] [--dhcp]
 *           [--impair loss=PCT,reorder=PCT,seed=N] [--impair-tx ...same...]
 *           [--serve-file PATH] [--timeout SECONDS] MODE...
 *
 * Modes (one or more, run in this order):
 *   serve                    HTTP/1.0 on port 80 (ICMP echo always works) until the timeout:
 *                            GET /file sends the --serve-file contents, anything else a greeting
 *   download IP PORT FILE    connect, write every byte received until EOF to FILE
 *   resolve NAME             DNS A lookup through the configured/DHCP server
 *
 * --impair drops and reorders frames read from the TAP (a stand-in for
 * tc netem on kernels built without sch_netem), --impair-tx the frames the
 * stack sends (netem on the TAP only reaches the other direction); both
 * with a seeded generator.
 * Prints "bound ADDR", "resolved NAME ADDR", "downloaded N bytes" and the
 * stack's non-zero counters on exit. Exit status 0 when every mode succeeded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

static int tap_fd = -1;
static struct net_stack *stack;
static volatile sig_atomic_t stop;
static unsigned impair_loss, impair_reorder;
static uint32_t rng = 1;
static uint8_t held[2048];
static ssize_t held_len;
static uint64_t held_at;

static uint64_t now_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static unsigned tx_loss, tx_reorder;
static uint8_t tx_held[2048];
static size_t tx_held_len;

static int tap_write(const uint8_t *frame, size_t len)
{
	return write(tap_fd, frame, len) == (ssize_t)len ? 0 : -1;
}

static int tap_transmit(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	if (tx_loss && next_random() % 1000 < tx_loss * 10)
		return 0;
	if (tx_reorder && tx_held_len == 0 && len <= sizeof(tx_held) &&
	    next_random() % 100 < tx_reorder) {
		memcpy(tx_held, frame, len);
		tx_held_len = len;
		return 0;
	}
	int rc = tap_write(frame, len);
	if (tx_held_len) {
		tap_write(tx_held, tx_held_len); /* overtaken by the frame just sent */
		tx_held_len = 0;
	}
	return rc;
}

static int tap_open(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void deliver(const uint8_t *frame, ssize_t len)
{
	if (impair_loss && next_random() % 1000 < impair_loss * 10)
		return;
	if (impair_reorder && held_len == 0 && next_random() % 100 < impair_reorder) {
		memcpy(held, frame, (size_t)len);
		held_len = len;
		held_at = now_ms(NULL);
		return;
	}
	net_input(stack, frame, (size_t)len);
	if (held_len) {
		/* The held frame arrives after the one that overtook it. */
		net_input(stack, held, (size_t)held_len);
		held_len = 0;
	}
}

/* One turn of the event loop: wait for a frame or a timer, then run both. */
static void run_once(int max_wait_ms)
{
	int64_t t = net_next_timeout_ms(stack);
	int wait = t < 0 || t > max_wait_ms ? max_wait_ms : (int)t;
	if ((held_len || tx_held_len) && wait > 5)
		wait = 5;
	struct pollfd p = {.fd = tap_fd, .events = POLLIN};
	poll(&p, 1, wait);
	uint8_t frame[2048];
	for (int i = 0; i < 256; i++) {
		ssize_t n = read(tap_fd, frame, sizeof(frame));
		if (n <= 0)
			break;
		deliver(frame, n);
	}
	if (held_len && now_ms(NULL) - held_at >= 5) {
		net_input(stack, held, (size_t)held_len);
		held_len = 0;
	}
	net_poll(stack);
	if (tx_held_len) {
		tap_write(tx_held, tx_held_len);
		tx_held_len = 0;
	}
}

/* ------------------------------------------------------------ HTTP server */

struct http_conn {
	struct tcp_conn *conn;
	char req[1024];
	size_t req_len;
	const char *resp;
	size_t resp_len, sent;
};
static struct http_conn http_conns[8];
static unsigned http_served;
static const char http_body[] = "Hello from Flotilla net\n";
static char http_response[256];
static char *file_response; /* header + --serve-file contents */
static size_t file_response_len;

static void http_push(struct http_conn *h)
{
	while (h->sent < h->resp_len) {
		int n = tcp_send(h->conn, h->resp + h->sent, h->resp_len - h->sent);
		if (n <= 0)
			return;
		h->sent += (size_t)n;
	}
	tcp_close(h->conn);
	h->conn = NULL;
	http_served++;
}

static void http_event(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	struct http_conn *h = arg;
	if (ev == TCP_EVENT_ACCEPT) {
		h = NULL;
		for (size_t i = 0; i < sizeof(http_conns) / sizeof(http_conns[0]); i++)
			if (http_conns[i].conn == NULL)
				h = &http_conns[i];
		if (h == NULL) {
			tcp_abort(c);
			return;
		}
		memset(h, 0, sizeof(*h));
		h->conn = c;
		tcp_set_callback(c, http_event, h);
		return;
	}
	if (h == NULL || h->conn != c)
		return;
	switch (ev) {
	case TCP_EVENT_RECV:
	case TCP_EVENT_PEER_CLOSED: {
		int n;
		while ((n = tcp_recv(c, h->req + h->req_len, sizeof(h->req) - 1 - h->req_len)) > 0)
			h->req_len += (size_t)n;
		h->req[h->req_len] = '\0';
		if (h->resp == NULL &&
		    (strstr(h->req, "\r\n\r\n") || h->req_len == sizeof(h->req) - 1 ||
		     ev == TCP_EVENT_PEER_CLOSED)) {
			if (file_response != NULL && strncmp(h->req, "GET /file ", 10) == 0) {
				h->resp = file_response;
				h->resp_len = file_response_len;
			} else {
				h->resp = http_response;
				h->resp_len = strlen(http_response);
			}
			http_push(h);
		}
		break;
	}
	case TCP_EVENT_SENT:
		if (h->resp != NULL)
			http_push(h);
		break;
	case TCP_EVENT_ABORTED: h->conn = NULL; break;
	default: break;
	}
}

/* ------------------------------------------------------------ download */

struct download {
	FILE *out;
	size_t bytes;
	int done, failed;
};

static void download_event(void *arg, struct tcp_conn *c, enum tcp_event ev)
{
	struct download *d = arg;
	uint8_t buf[16384];
	switch (ev) {
	case TCP_EVENT_RECV:
	case TCP_EVENT_PEER_CLOSED:
		for (;;) {
			int n = tcp_recv(c, buf, sizeof(buf));
			if (n > 0) {
				fwrite(buf, 1, (size_t)n, d->out);
				d->bytes += (size_t)n;
				continue;
			}
			if (n == 0) {
				d->done = 1;
				tcp_close(c);
			}
			break;
		}
		break;
	case TCP_EVENT_ABORTED:
		fprintf(stderr, "net_tap: download aborted: %s\n", net_result_text(tcp_error(c)));
		d->failed = 1;
		break;
	default: break;
	}
}

/* ------------------------------------------------------------ DHCP / DNS */

static int dhcp_bound;
static void dhcp_event(void *arg, enum dhcp_event ev, const struct dhcp_lease *l)
{
	(void)arg;
	if (ev == DHCP_EVENT_BOUND) {
		struct in_addr a = {htonl(l->addr)};
		printf("bound %s\n", inet_ntoa(a));
		fflush(stdout);
		dhcp_bound = 1;
	}
}

struct lookup {
	int done, result;
	uint32_t addr;
};
static void dns_event(void *arg, const char *name, int result, uint32_t addr)
{
	struct lookup *l = arg;
	l->done = 1;
	l->result = result;
	l->addr = addr;
	if (result == NET_OK) {
		struct in_addr a = {htonl(addr)};
		printf("resolved %s %s\n", name, inet_ntoa(a));
	} else {
		printf("resolve %s failed: %s\n", name, net_result_text(result));
	}
	fflush(stdout);
}

static uint32_t parse_ip(const char *s)
{
	struct in_addr a;
	if (inet_aton(s, &a) == 0) {
		fprintf(stderr, "net_tap: bad address %s\n", s);
		exit(2);
	}
	return ntohl(a.s_addr);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_counters(void)
{
	for (int i = 0; i < NET_CNT_COUNT; i++)
		if (net_counter(stack, (enum net_counter_id)i))
			fprintf(stderr, "  %s=%u", net_counter_name((enum net_counter_id)i),
				net_counter(stack, (enum net_counter_id)i));
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	const char *tap = NULL;
	uint32_t addr = 0, mask = 0, gw = 0;
	int use_dhcp = 0, timeout_s = 60, i;
	const char *serve_file = NULL;
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (!strcmp(argv[i], "--tap") && i + 1 < argc) {
			tap = argv[++i];
		} else if (!strcmp(argv[i], "--ip") && i + 1 < argc) {
			char *slash = strchr(argv[++i], '/');
			int prefix = slash ? atoi(slash + 1) : 24;
			if (slash)
				*slash = '\0';
			addr = parse_ip(argv[i]);
			mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
		} else if (!strcmp(argv[i], "--gw") && i + 1 < argc) {
			gw = parse_ip(argv[++i]);
		} else if (!strcmp(argv[i], "--dhcp")) {
			use_dhcp = 1;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_s = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--serve-file") && i + 1 < argc) {
			serve_file = argv[++i];
		} else if ((!strcmp(argv[i], "--impair") || !strcmp(argv[i], "--impair-tx")) &&
			   i + 1 < argc) {
			int tx = !strcmp(argv[i], "--impair-tx");
			char *opt = argv[++i], *tok;
			while ((tok = strsep(&opt, ",")) != NULL) {
				if (!strncmp(tok, "loss=", 5))
					*(tx ? &tx_loss : &impair_loss) = (unsigned)atoi(tok + 5);
				else if (!strncmp(tok, "reorder=", 8))
					*(tx ? &tx_reorder : &impair_reorder) =
					    (unsigned)atoi(tok + 8);
				else if (!strncmp(tok, "seed=", 5))
					rng = (uint32_t)atoi(tok + 5) | 1;
			}
		} else {
			fprintf(stderr, "net_tap: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (tap == NULL || i >= argc) {
		fprintf(stderr, "usage: net_tap --tap NAME [--ip A/P] [--gw G] [--dhcp] [--impair "
				"...] serve|download IP PORT FILE|resolve NAME\n");
		return 2;
	}
	tap_fd = tap_open(tap);
	if (tap_fd < 0) {
		fprintf(stderr, "net_tap: cannot open TAP %s: %s (needs root and /dev/net/tun)\n",
			tap, strerror(errno));
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	snprintf(http_response, sizeof(http_response),
		 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
		 "%zu\r\nConnection: close\r\n\r\n%s",
		 strlen(http_body), http_body);

	if (serve_file != NULL) {
		FILE *f = fopen(serve_file, "rb");
		if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
			fprintf(stderr, "net_tap: cannot read %s\n", serve_file);
			return 2;
		}
		long size = ftell(f);
		rewind(f);
		file_response = malloc((size_t)size + 256);
		int hl = snprintf(file_response, 256,
				  "HTTP/1.0 200 OK\r\nContent-Type: "
				  "application/octet-stream\r\nContent-Length: %ld\r\n\r\n",
				  size);
		if (fread(file_response + hl, 1, (size_t)size, f) != (size_t)size) {
			fprintf(stderr, "net_tap: short read on %s\n", serve_file);
			return 2;
		}
		fclose(f);
		file_response_len = (size_t)hl + (size_t)size;
	}
	struct net_port port = {.transmit = tap_transmit, .now_ms = now_ms};
	const uint8_t mac[6] = {0x02, 0x46, 0x4c, 0x54, 0x00, 0x02}; /* locally administered */
	memcpy(port.mac, mac, 6);
	FILE *ur = fopen("/dev/urandom", "rb");
	if (ur == NULL || fread(port.secret, 1, sizeof(port.secret), ur) != sizeof(port.secret)) {
		fprintf(stderr, "net_tap: cannot read /dev/urandom\n");
		return 2;
	}
	fclose(ur);
	void *mem = aligned_alloc(64, (net_stack_size() + 63) / 64 * 64);
	stack = net_stack_init(mem, net_stack_size(), &port);
	uint64_t deadline = now_ms(NULL) + (uint64_t)timeout_s * 1000;
	int failed = 0;

	if (use_dhcp) {
		dhcp_start(stack, dhcp_event, NULL);
		while (!dhcp_bound && !stop && now_ms(NULL) < deadline)
			run_once(100);
		if (!dhcp_bound) {
			fprintf(stderr, "net_tap: no DHCP lease\n");
			failed = 1;
		}
	} else {
		net_set_ipv4(stack, addr, mask, gw);
	}
	if (addr == 0 && !use_dhcp) {
		fprintf(stderr, "net_tap: give --ip or --dhcp\n");
		return 2;
	}
	for (; i < argc && !failed; i++) {
		if (!strcmp(argv[i], "serve")) {
			if (tcp_listen(stack, 80, 4, http_event, NULL) == NULL)
				failed = 1;
			printf("serving\n");
			fflush(stdout);
			while (!stop && now_ms(NULL) < deadline)
				run_once(100);
			fprintf(stderr, "net_tap: served %u HTTP requests\n", http_served);
		} else if (!strcmp(argv[i], "download") && i + 3 < argc) {
			struct download d = {0};
			d.out = fopen(argv[i + 3], "wb");
			struct tcp_conn *c =
			    d.out ? tcp_connect(stack, parse_ip(argv[i + 1]),
						(uint16_t)atoi(argv[i + 2]), download_event, &d)
				  : NULL;
			i += 3;
			if (c == NULL) {
				failed = 1;
				break;
			}
			uint64_t start = now_ms(NULL);
			while (!d.done && !d.failed && !stop && now_ms(NULL) < deadline)
				run_once(100);
			fclose(d.out);
			uint64_t ms = now_ms(NULL) - start;
			printf("downloaded %zu bytes in %llu ms\n", d.bytes,
			       (unsigned long long)ms);
			failed = !d.done;
			/* Let our FIN be acknowledged. */
			for (int k = 0; k < 20; k++)
				run_once(10);
		} else if (!strcmp(argv[i], "resolve") && i + 1 < argc) {
			struct lookup l = {0};
			int rc = dns_resolve(stack, argv[++i], dns_event, &l);
			if (rc != NET_OK) {
				printf("resolve failed: %s\n", net_result_text(rc));
				failed = 1;
				break;
			}
			while (!l.done && !stop && now_ms(NULL) < deadline)
				run_once(100);
			failed = !l.done || l.result != NET_OK;
		} else {
			fprintf(stderr, "net_tap: bad mode %s\n", argv[i]);
			failed = 1;
		}
	}
	fprintf(stderr, "net_tap counters:");
	print_counters();
	free(mem);
	free(file_response);
	close(tap_fd);
	return failed;
}
