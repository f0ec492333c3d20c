/*
 * trusted_keys.h: the public keys compiled into the control domain.
 *
 * The table is generated at build time from CONFIG_OTA_TRUSTED_KEYS (a list
 * of .pub files, so a new key can be added before an old one is retired) by
 * `flotilla embed-keys`. Only public keys: no private key ever enters a
 * board image. With no key configured the table is empty and the device
 * refuses every bundle (OTA_E_UNKNOWN_KEY).
 */
#ifndef OTA_TRUSTED_KEYS_H
#define OTA_TRUSTED_KEYS_H

#include <stddef.h>

#include "bundle.h"

extern const struct ota_trusted_key ota_trusted_keys[];
extern const size_t ota_trusted_key_count;

#endif
