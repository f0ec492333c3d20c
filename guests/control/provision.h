/*
 * provision.h: the board's provisioning at boot — the device configuration
 * `flotilla flash` wrote (devcfg.h), found in the initrd after the boot
 * bundle, validated, and applied (hostname, address, trusted keys).
 */
#ifndef FLOTILLA_CONTROL_PROVISION_H
#define FLOTILLA_CONTROL_PROVISION_H

#include <stddef.h>
#include <stdint.h>

#include "devcfg.h"

/* provision.c */
/*
 * Reads /chosen's flotilla,device-config = <offset size> (offset into the
 * initrd [initrd, initrd + initrd_size)); parses and applies the
 * configuration, printing one line on what was done or why it was refused.
 * Returns the bytes of the initrd before the configuration (the boot
 * bundle's part; initrd_size when there is none).
 */
size_t provision_load(const void *dtb, const uint8_t *initrd, size_t initrd_size);
/* The configuration in force: all defaults when none was accepted. */
const struct devcfg *provision_config(void);

#endif
