#include "eth.h"

#include <string.h>

#include "arp.h"
#include "ipv4.h"
#include "stack.h"
#include "wire.h"

const uint8_t eth_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void eth_input(struct net_stack *s, const uint8_t *frame, size_t len)
{
	net_count(s, NET_CNT_ETH_RX);
	if (len < NET_ETH_HLEN) {
		net_count(s, NET_CNT_ETH_DROP_SHORT);
		return;
	}
	if (memcmp(frame, s->port.mac, 6) != 0 && memcmp(frame, eth_broadcast, 6) != 0) {
		net_count(s, NET_CNT_ETH_DROP_NOT_FOR_US);
		return;
	}
	uint16_t type = net_get16(frame + 12);
	const uint8_t *payload = frame + NET_ETH_HLEN;
	size_t plen = len - NET_ETH_HLEN;
	if (type == ETH_TYPE_IPV4)
		ipv4_input(s, payload, plen, frame[0] & 1);
	else if (type == ETH_TYPE_ARP)
		arp_input(s, payload, plen);
	else
		net_count(s, NET_CNT_ETH_DROP_TYPE);
}

int eth_output(struct net_stack *s, uint8_t *frame, size_t len, const uint8_t dst[6], uint16_t type)
{
	memcpy(frame, dst, 6);
	memcpy(frame + 6, s->port.mac, 6);
	net_put16(frame + 12, type);
	net_count(s, NET_CNT_ETH_TX);
	if (s->port.transmit(s->port.ctx, frame, len) != 0) {
		net_count(s, NET_CNT_ETH_TX_FAILED);
		return NET_EAGAIN;
	}
	return NET_OK;
}
