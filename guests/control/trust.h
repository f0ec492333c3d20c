/*
 * trust.h: the signing keys this board trusts for bundles: the ones built
 * into the image (CONFIG_OTA_TRUSTED_KEYS, ota/trusted_keys.h) plus fleet
 * keys provisioned by `flotilla flash --trust` (devcfg.h). Every path that
 * verifies a bundle asks here, so the two sources can never disagree.
 */
#ifndef FLOTILLA_CONTROL_TRUST_H
#define FLOTILLA_CONTROL_TRUST_H

#include <stddef.h>

#include "bundle.h"
#include "devcfg.h"

/* trust.c */
/* Adds the provisioned keys (NULL: none) to the built-in ones. */
void trust_init(const struct devcfg *cfg);
const struct ota_trusted_key *trust_keys(size_t *count);
/* How many of trust_keys() came from the device configuration. */
size_t trust_provisioned_count(void);

#endif
