#include "wire.h"

#include <stdint.h>
#include <string.h>

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v)); /* one load where the target allows it */
	return v;
}

uint32_t net_checksum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	/*
	 * RFC 1071 §2(B): the one's complement sum does not depend on byte
	 * order. Sum 32-bit words in host order into 64 bits, fold to 16 bits,
	 * and swap once at the end on a little-endian host.
	 */
	uint64_t acc = 0;
#if UINTPTR_MAX > 0xffffffffu && defined(__GNUC__)
	/* 64-bit hosts: 8 bytes per add (add + adc); each carry out of bit 63
	 * is worth 1, since 2^64 = 1 modulo 0xffff. */
	uint64_t wide = 0, carries = 0;
	while (len >= 32) {
		uint64_t w0, w1, w2, w3;
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		carries += __builtin_add_overflow(wide, w0, &wide);
		carries += __builtin_add_overflow(wide, w1, &wide);
		carries += __builtin_add_overflow(wide, w2, &wide);
		carries += __builtin_add_overflow(wide, w3, &wide);
		p += 32;
		len -= 32;
	}
	acc = (wide & 0xffffffffu) + (wide >> 32) + carries;
#endif
	while (len >= 16) {
		acc += (uint64_t)load32(p) + load32(p + 4) + load32(p + 8) + load32(p + 12);
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		acc += load32(p);
		p += 4;
		len -= 4;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	acc = ((acc & 0xff) << 8) | (acc >> 8);
#endif
	uint64_t total = (uint64_t)sum + acc;
	if (len >= 2) {
		total += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		total += (uint32_t)p[0] << 8;
	while (total >> 32)
		total = (total & 0xffffffffu) + (total >> 32);
	return (uint32_t)total;
}

uint16_t net_checksum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t net_checksum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	uint64_t acc = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

/* SipHash-2-4 (Aumasson and Bernstein), the keyed hash behind RFC 6528 ISNs. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t load64_le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t net_siphash(const uint8_t key[16], const uint8_t *data, size_t len)
{
	uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	uint64_t b = (uint64_t)len << 56;
	size_t i;
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m = load64_le(data + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)data[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
