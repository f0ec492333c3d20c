/*
 * operator_keys.h: the operator public keys compiled into the control
 * domain — who may act on the board over the device API (ota/auth.h).
 *
 * A separate role from trusted_keys.h (what may run): generated at build
 * time from CONFIG_OTA_OPERATOR_KEYS by `flotilla embed-keys --table
 * operator`. With no key configured the build uses its development operator
 * key (build/keys/operator.pub). Only public keys enter the image.
 */
#ifndef OTA_OPERATOR_KEYS_H
#define OTA_OPERATOR_KEYS_H

#include <stddef.h>

#include "bundle.h"

extern const struct ota_trusted_key ota_operator_keys[];
extern const size_t ota_operator_key_count;

#endif
