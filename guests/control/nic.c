/*
 * Finding the control domain's network controller, and what every driver
 * shares: the MAC address rule and the counters line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devicetree.h"

#include "nic.h"

static const struct {
	const char *compatible;
	struct nic *(*probe)(const void *dtb, int node);
} drivers[] = {
    {"allwinner,sun8i-h3-emac", nic_sun8i_emac_probe},
    /* {"allwinner,sun7i-a20-gmac", nic_sun7i_gmac_probe}: Cubieboard2, on hardware */
};

static bool node_enabled(const void *dtb, int node)
{
	const char *status = fdt_getprop(dtb, node, "status", NULL);
	return !status || strcmp(status, "okay") == 0 || strcmp(status, "ok") == 0;
}

struct nic *nic_probe(const void *dtb)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		for (int node = fdt_node_offset_by_compatible(dtb, -1, drivers[i].compatible);
		     node >= 0;
		     node = fdt_node_offset_by_compatible(dtb, node, drivers[i].compatible)) {
			if (!node_enabled(dtb, node))
				continue;
			struct nic *nic = drivers[i].probe(dtb, node);
			if (nic)
				return nic;
		}
	}
	printf("control: nic: no network controller this build drives\n");
	return NULL;
}

/* FNV-1a, 64 bits: spreads a stable identity over the MAC's bits. */
static uint64_t fnv1a(uint64_t hash, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= 0x100000001b3ull;
	}
	return hash;
}

/* The SoC's unique chip id (the SID's first 16 bytes), the identity U-Boot
 * also derives its MAC from; 0 bytes when the device tree has no SID. */
static size_t chip_id(const void *dtb, uint8_t id[16])
{
	static const char *const compatibles[] = {"allwinner,sun8i-h3-sid",
						  "allwinner,sun7i-a20-sid"};
	for (size_t i = 0; i < sizeof(compatibles) / sizeof(compatibles[0]); i++) {
		int node = fdt_node_offset_by_compatible(dtb, -1, compatibles[i]);
		uint64_t base, size;
		if (node < 0 || dt_read_reg(dtb, node, 0, &base, &size) != 0)
			continue;
		/* H3: the eFuse words are read through the SID at +0x200. */
		uintptr_t words = (uintptr_t)base + (i == 0 ? 0x200 : 0);
		for (unsigned w = 0; w < 4; w++) {
			uint32_t v = *(volatile uint32_t *)(words + 4 * w);
			memcpy(id + 4 * w, &v, 4);
		}
		return 16;
	}
	return 0;
}

void nic_mac_from_devicetree(struct nic *nic, const void *dtb, int node)
{
	static const char *const properties[] = {"local-mac-address", "mac-address"};
	for (size_t i = 0; i < 2; i++) {
		int len;
		const uint8_t *mac = fdt_getprop(dtb, node, properties[i], &len);
		static const uint8_t zero[6];
		if (mac && len == 6 && memcmp(mac, zero, 6) != 0 && !(mac[0] & 1)) {
			memcpy(nic->mac, mac, 6);
			nic->mac_from_devicetree = true;
			return;
		}
	}
	uint8_t id[16];
	size_t id_len = chip_id(dtb, id);
	const char *model = fdt_getprop(dtb, 0, "model", NULL);
	uint64_t hash = 0xcbf29ce484222325ull;
	hash = fnv1a(hash, id, id_len);
	hash = fnv1a(hash, model ? model : "", model ? strlen(model) : 0);
	hash = fnv1a(hash, nic->path, strlen(nic->path));
	for (unsigned i = 0; i < 6; i++)
		nic->mac[i] = (uint8_t)(hash >> (8 * i));
	nic->mac[0] = (uint8_t)((nic->mac[0] & ~1u) | 2u); /* unicast, locally administered */
	nic->mac_from_devicetree = false;
	printf(
	    "control: nic: no MAC address in the device tree: using %02x:%02x:%02x:%02x:%02x:%02x "
	    "(locally administered, from the %s)\n",
	    nic->mac[0], nic->mac[1], nic->mac[2], nic->mac[3], nic->mac[4], nic->mac[5],
	    id_len ? "chip id" : "board model");
}

void nic_print_counters(const struct nic *nic)
{
	const struct nic_counters *c = &nic->counters;
	printf("control: nic %s rx %" PRIu64 " frames %" PRIu64 " bytes, tx %" PRIu64
	       " frames %" PRIu64 " bytes, drops rx %" PRIu64 " tx %" PRIu64 ", errors rx %" PRIu64
	       " tx %" PRIu64 ", irqs %" PRIu64 ", ring full %" PRIu64 ", held %" PRIu64 "\n",
	       nic->name, c->rx_frames, c->rx_bytes, c->tx_frames, c->tx_bytes, c->rx_dropped,
	       c->tx_dropped, c->rx_errors, c->tx_errors, c->interrupts, c->rx_ring_full,
	       c->rx_held);
}
