/*
 * trust.h: the keys this board trusts, in two separate roles.
 *  - signing keys (what may run): the ones built into the image
 *    (CONFIG_OTA_TRUSTED_KEYS, ota/trusted_keys.h) plus fleet keys
 *    provisioned by `flotilla flash --trust` (devcfg.h). Every path that
 *    verifies a bundle asks here, so the two sources can never disagree.
 *  - operator keys (who may act over the device API): built in
 *    (CONFIG_OTA_OPERATOR_KEYS, ota/operator_keys.h) plus those provisioned
 *    by `flotilla flash --operator`. A key listed in both roles is trusted as
 *    a signing key only.
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
/* The operator keys (ota_auth's table). */
const struct ota_trusted_key *trust_operators(size_t *count);
size_t trust_provisioned_operator_count(void);

#endif
