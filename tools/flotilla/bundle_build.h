/*
 * bundle_build.h: assembling and signing a bundle on the host.
 *
 * The caller fills the manifest's descriptive fields (name, version,
 * counter, boards, memory, vCPUs, build time); bundle_build() fills in the
 * image size, its SHA-256 and the key id, encodes header and manifest, and
 * signs them. Used by `flotilla sign` and by the tests.
 */
#ifndef FLOTILLA_BUNDLE_BUILD_H
#define FLOTILLA_BUNDLE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#include "manifest.h"

/* *out is malloc'd. Returns OTA_OK, OTA_E_INVALID (a field out of range),
 * OTA_E_OVERSIZE (image too large) or OTA_E_CRYPTO. */
int bundle_build(struct ota_manifest *m, const uint8_t *image, size_t image_len,
		 mbedtls_pk_context *key, uint8_t **out, size_t *out_len);

#endif
