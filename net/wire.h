/*
 * wire.h — byte order, the Internet checksum (RFC 1071) and SipHash-2-4.
 * Headers on the wire are read and written byte by byte through these
 * helpers: frames may sit at any alignment and the target runs with
 * unaligned access off.
 */
#ifndef NET_WIRE_H
#define NET_WIRE_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t net_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t net_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void net_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void net_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* wire.c */
/* One's complement sum of `len` bytes added to `sum` (not folded). Every
 * piece but the last must have an even length. */
uint32_t net_checksum_add(uint32_t sum, const uint8_t *p, size_t len);
/* Fold and complement: the value to store in a checksum field. */
uint16_t net_checksum_finish(uint32_t sum);
/* Sum of the TCP/UDP pseudo header. */
uint32_t net_checksum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len);
uint64_t net_siphash(const uint8_t key[16], const uint8_t *data, size_t len);

#endif
