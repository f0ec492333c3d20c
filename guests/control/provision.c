/* Provisioning at boot (provision.h). */
#include "provision.h"

#include <stdio.h>

#include "devicetree.h"
#include "trust.h"

static struct devcfg config;

const struct devcfg *provision_config(void)
{
	return &config;
}

static void print_applied(void)
{
	printf("control: device config: hostname %s, address %s",
	       config.hostname[0] ? config.hostname : "(default)",
	       config.static_ip ? "" : "by DHCP");
	if (config.static_ip)
		printf("%u.%u.%u.%u/%u", config.ip[0], config.ip[1], config.ip[2], config.ip[3],
		       config.prefix_len);
	printf(", %u provisioned signing key(s) trusted", (unsigned)trust_provisioned_count());
	if (trust_provisioned_operator_count())
		printf(", %u provisioned operator key(s)",
		       (unsigned)trust_provisioned_operator_count());
	printf("\n");
}

size_t provision_load(const void *dtb, const uint8_t *initrd, size_t initrd_size)
{
	int chosen = fdt_path_offset(dtb, "/chosen");
	int len = 0;
	const fdt32_t *cells =
	    chosen >= 0 ? fdt_getprop(dtb, chosen, "flotilla,device-config", &len) : NULL;
	trust_init(NULL);
	if (!cells) {
		printf("control: device config: none on the boot partition: built-in defaults\n");
		return initrd_size;
	}
	uint32_t offset = len == 8 ? fdt32_to_cpu(cells[0]) : UINT32_MAX;
	uint32_t size = len == 8 ? fdt32_to_cpu(cells[1]) : 0;
	if (!initrd || offset > initrd_size || size > initrd_size - offset) {
		printf("control: device config REFUSED: its place <%#x %#x> is outside the initrd "
		       "(%zu bytes): built-in defaults\n",
		       (unsigned)offset, (unsigned)size, initrd_size);
		return initrd_size;
	}
	char error[DEVCFG_ERROR_MAX];
	if (devcfg_parse((const char *)initrd + offset, size, &config, error) != 0) {
		printf("control: device config REFUSED: device.cfg %s: built-in defaults\n", error);
		return offset;
	}
	trust_init(&config);
	print_applied();
	return offset;
}
