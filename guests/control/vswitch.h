/*
 * vswitch: the control domain's Ethernet switch between the physical NIC,
 * every guest's virtual NICs and the control domain's own network stack.
 * Portable (no platform headers; host-tested and fuzzed).
 *
 * A port is a pair of functions and a context pointer:
 *
 *   transmit(context, frame, len)  switch -> port. Copy the frame into the
 *       port's own bounded queue (a vNIC's receive ring, a NIC's transmit
 *       descriptors, the stack's input queue) and return 0, or return -1
 *       when that queue is full: the switch drops the frame and counts it
 *       as a tx_drop of that port only. Never blocks, never keeps the
 *       pointer.
 *   receive(context, buf, size)    port -> switch. Copy the port's next
 *       received frame into buf and return its length, or 0 when it has
 *       none. vswitch_poll() calls it at most `budget` times per port per
 *       pass, round robin, so a port that floods gets the same share as
 *       the others and never starves them. NULL for a port that pushes
 *       frames itself with vswitch_input() (e.g. from a NIC's receive
 *       loop).
 *
 * The switch learns source MACs into a fixed set-associative table
 * (CONFIG_SWITCH_MAC_TABLE entries, ageing after CONFIG_SWITCH_MAC_AGEING_S
 * seconds), forwards known unicast to one port, floods broadcast,
 * multicast and unknown unicast to every other port. Flooding is rate
 * limited per source port (a token bucket of CONFIG_SWITCH_FLOOD_BURST
 * frames refilled at CONFIG_SWITCH_FLOOD_PER_S): a port that floods has
 * its own excess dropped (rx_drops) instead of filling everybody's queues. A port may be locked
 * to one MAC (guests' vNICs): frames it sends from any other source are
 * dropped, and no other port can claim that MAC. Nothing is allocated:
 * all state is in struct vswitch.
 *
 * Hot swap (docs/vnic-ring.md, "Hot swap"): a second port may share a
 * guest's locked MAC as a *staged* port, isolated with one peer (the
 * control domain's stack) until it is promoted; the MAC's previous port
 * then *drains*: the IPv4 TCP connections it had, kept in a bounded flow
 * table (CONFIG_SWITCH_FLOWS), stay on it until they close or
 * CONFIG_SWITCH_DRAIN_MS has passed, everything else goes to the new port.
 */
#ifndef FLOTILLA_CONTROL_VSWITCH_H
#define FLOTILLA_CONTROL_VSWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <generated/autoconf.h>

#define VSWITCH_FRAME_MIN 14u
#define VSWITCH_FRAME_MAX 1514u
#define VSWITCH_NAME_MAX  63u
#define VSWITCH_WAYS      4u /* MAC table associativity */

#define VSWITCH_PORTS     CONFIG_SWITCH_PORTS_MAX
#define VSWITCH_MAC_TABLE CONFIG_SWITCH_MAC_TABLE
#define VSWITCH_FLOWS     CONFIG_SWITCH_FLOWS
#define VSWITCH_FLOW_WAYS 8u /* flow table associativity */
#define VSWITCH_FLOW_KEY  18u

/* A port's part in a hot swap. */
enum vswitch_role {
	VSWITCH_LIVE,     /* an ordinary port; if locked, the owner of its MAC */
	VSWITCH_STAGED,   /* shares a locked MAC; reaches and is reached by its peer only */
	VSWITCH_DRAINING, /* a MAC's previous owner: gets only its own TCP flows */
};

/* vswitch_offer(): a port's credit for holding the NIC, refilled at half
 * of real time: a stretch lasts at most twice this, and over longer
 * periods a port holds the NIC at most half of the time. */
#define VSWITCH_HOLD_BURST_MS 500u

struct vswitch_port_ops {
	int (*transmit)(void *context, const uint8_t *frame, size_t len);
	size_t (*receive)(void *context, uint8_t *buf, size_t size);
	/* Optional: true when transmit would refuse a frame now (the port's
	 * queue is full). Only vswitch_offer() asks; NULL = never full. */
	bool (*full)(void *context);
};

struct vswitch_counters {
	uint64_t rx_frames; /* frames the port gave the switch and it accepted */
	uint64_t rx_bytes;
	uint64_t rx_drops;  /* refused on input: bad length, bad or spoofed source */
	uint64_t tx_frames; /* frames the port took from the switch */
	uint64_t tx_bytes;
	uint64_t tx_drops;  /* the port's queue was full */
	uint64_t tx_held;   /* vswitch_offer(): frames for it made to wait (per offer) */
	uint64_t tx_unheld; /* vswitch_offer(): frames it was full for but not waited for
			     * (it stopped draining, or its hold budget ran out); in tx_drops */
};

struct vswitch_port {
	bool used;
	bool locked; /* only `mac` may send from here */
	uint8_t mac[6];
	char name[VSWITCH_NAME_MAX + 1];
	const struct vswitch_port_ops *ops;
	void *context;
	uint8_t role;            /* enum vswitch_role */
	bool track_flows;        /* its IPv4 TCP connections go into the flow table */
	int16_t peer;            /* VSWITCH_STAGED: the one port it talks to, or -1 */
	uint64_t drain_since_ms; /* VSWITCH_DRAINING: when it was replaced */
	uint32_t flood_tokens;   /* in 1/1000 frame */
	uint64_t flood_refilled_ms;
	uint64_t taken_ms; /* when its transmit last took a frame */
	/* vswitch_offer(): how long it has been full since it last took a frame,
	 * counting only the time we were offering it frames, and when an offer
	 * last found it full. */
	uint32_t full_for_ms;
	uint64_t full_seen_ms;
	/* vswitch_offer()'s budget: how long this port may still hold the NIC
	 * (ms), refilled at half of real time up to sw->hold_burst_ms. */
	uint32_t hold_credit_ms;
	uint64_t hold_refilled_ms;
	uint64_t last_held_ms; /* the last VSWITCH_HELD for it; 0 = none */
	struct vswitch_counters counters;
};

struct vswitch_mac_entry {
	uint8_t mac[6];
	uint8_t port; /* index + 1; 0 = unused */
	uint8_t reserved;
	uint32_t last_seen_s;
};

/* One TCP connection of a tracked port, seen from the guest's side. */
struct vswitch_flow {
	/* MAC, local IPv4, remote IPv4, local port, remote port: bytes as in
	 * the frame, compared with memcmp. */
	uint8_t key[VSWITCH_FLOW_KEY];
	uint8_t owner; /* port + 1; 0 = free */
	uint8_t state; /* phase and FIN bits, vswitch.c */
	uint64_t last_ms;
};

struct vswitch_flow_stats {
	uint64_t tracked; /* new entries */
	uint64_t closed;  /* by RST, or FIN from both sides */
	uint64_t evicted; /* live entries pushed out by a full set */
	uint64_t pinned;  /* frames for a swapped MAC kept on the draining port */
};

struct vswitch_stats {
	uint64_t flooded;   /* frames sent to every port but their source */
	uint64_t forwarded; /* unicast to one learned port */
	uint64_t filtered;  /* destination learned on the source port itself */
	uint64_t learned;   /* new table entries */
	uint64_t evicted;   /* live entries pushed out by a full bucket */
	uint64_t moved;     /* a MAC seen on a different port than learned */
	uint64_t storm;     /* floods refused by a port's rate limit */
};

struct vswitch {
	struct vswitch_port ports[VSWITCH_PORTS];
	struct vswitch_mac_entry table[VSWITCH_MAC_TABLE];
	struct vswitch_flow flows[VSWITCH_FLOWS];
	struct vswitch_flow_stats flow_stats;
	unsigned swapping; /* staged + draining ports: 0 keeps the plain fast path */
	uint32_t ageing_s;
	uint32_t flood_per_s; /* CONFIG_SWITCH_FLOOD_PER_S unless changed */
	uint32_t flood_burst;
	uint32_t hold_burst_ms; /* VSWITCH_HOLD_BURST_MS unless changed */
	uint32_t now_s;
	uint64_t now_ms;
	unsigned next_poll; /* round-robin start */
	struct vswitch_stats stats;
	uint8_t frame[VSWITCH_FRAME_MAX]; /* vswitch_poll()'s one buffer */
};

/* vswitch.c */
void vswitch_init(struct vswitch *sw, uint32_t ageing_s);
/* A new port; locked_mac NULL for a learning port (a NIC, a stack that
 * bridges), else the only source MAC it may use. Returns the port number
 * or -1 (no free port, a bad ops, a locked MAC already in use by a live
 * port). */
int vswitch_port_add(struct vswitch *sw, const char *name, const struct vswitch_port_ops *ops,
		     void *context, const uint8_t *locked_mac);
/* Forget the port and every MAC learned on it. */
void vswitch_port_remove(struct vswitch *sw, int port);
/* One frame received on port at now_ms (monotonic milliseconds). */
void vswitch_input(struct vswitch *sw, int port, const uint8_t *frame, size_t len, uint64_t now_ms);
/*
 * Bounded backpressure for a port that receives from a device which can
 * keep a frame (a NIC whose receive descriptor can wait): like
 * vswitch_input(), unless the frame is known unicast for one other port
 * whose queue is full (ops->full) while that port is draining - its
 * transmit took a frame within the last hold_ms. Then nothing is done or
 * counted but that port's tx_held, and VSWITCH_HELD says: keep the frame
 * and offer it again shortly. A port that stops draining (a deaf guest)
 * holds the sender at most hold_ms after the last frame it took; after
 * that its frames are dropped as vswitch_input() drops them. And a port
 * that drains, but slowly, holds the sender at most 2 x hold_burst_ms at
 * a stretch and half of the time in the long run (a budget per port), so
 * it cannot slow everybody's traffic to its own pace. hold_ms 0 is
 * vswitch_input().
 */
enum vswitch_verdict { VSWITCH_TAKEN, VSWITCH_HELD };
enum vswitch_verdict vswitch_offer(struct vswitch *sw, int port, const uint8_t *frame, size_t len,
				   uint64_t now_ms, uint32_t hold_ms);
/* One round-robin pass pulling at most budget frames from each port with a
 * receive function. Returns the frames moved (call again while > 0, after
 * letting other work run). */
unsigned vswitch_poll(struct vswitch *sw, unsigned budget, uint64_t now_ms);
const struct vswitch_counters *vswitch_port_counters(const struct vswitch *sw, int port);
/* The port a MAC is known on (locked or learned and not aged), or -1. */
int vswitch_lookup(const struct vswitch *sw, const uint8_t mac[6]);

/*
 * Hot swap. A staged port shares `mac` with the port locked to it (the
 * live instance of a guest's vNIC; there may be none) and is isolated:
 * every frame it sends goes to peer_port only, whatever its destination,
 * and is never learned; the only frames it gets are those peer_port sends
 * to `mac` (they no longer reach the live port) and peer_port's floods.
 * peer_port -1: it reaches nobody. Returns the port number or -1 (no free
 * port, a bad ops or MAC, a peer that is not a port, a staged port for
 * this MAC already).
 */
int vswitch_port_add_staged(struct vswitch *sw, const char *name,
			    const struct vswitch_port_ops *ops, void *context, const uint8_t mac[6],
			    int peer_port);
/*
 * The staged port becomes the live, locked port of its MAC; the previous
 * live port becomes draining: frames to the MAC reach it only when they
 * belong to a TCP connection it owns in the flow table (not a new SYN),
 * everything else - new connections, broadcasts, UDP, unknown flows -
 * reaches the new port (unicast ARP reaches both). What the draining port
 * sends is forwarded as before. Returns
 * the previous live port, -1 when there was none, or -2 when `staged` is
 * not a staged port (nothing changed).
 */
int vswitch_port_promote(struct vswitch *sw, int staged, uint64_t now_ms);
/* True once a draining port owns no open connection (closing ones do not
 * count) or CONFIG_SWITCH_DRAIN_MS has passed since its promotion; true
 * for a port that does not exist; false for a live or staged port. */
bool vswitch_port_drained(const struct vswitch *sw, int port, uint64_t now_ms);
/* Open (not closing, not expired) connections the port owns. */
unsigned vswitch_port_flows(const struct vswitch *sw, int port, uint64_t now_ms);
/* Track a locked port's IPv4 TCP connections (guests' vNICs), so that a
 * hot swap can leave them on it. The control domain's own port has no
 * need: it is never swapped. Ignored for a port that is not locked. */
void vswitch_port_track_flows(struct vswitch *sw, int port, bool on);
/* The port with this name, or -1. */
int vswitch_port_find(const struct vswitch *sw, const char *name);
void vswitch_port_rename(struct vswitch *sw, int port, const char *name);

/*
 * A guest NIC's MAC: stable across boots and updates because it depends
 * only on the board's MAC, the guest's name and the NIC's index; locally
 * administered (0x02 set) and unicast (0x01 clear). attempt perturbs it
 * deterministically when it collides with another address on the board.
 */
void vswitch_mac_derive(const uint8_t board_mac[6], const char *name, unsigned nic,
			unsigned attempt, uint8_t mac[6]);
/* The first derived MAC (attempt 0, 1, ...) that is not in taken[]. */
void vswitch_mac_assign(const uint8_t board_mac[6], const char *name, unsigned nic,
			const uint8_t (*taken)[6], unsigned taken_count, uint8_t mac[6]);

#endif
