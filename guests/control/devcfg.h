/*
 * devcfg.h: the per-board device configuration written by `flotilla flash`
 * (--hostname, --static-ip, --gateway, --trust) to the boot partition as
 * device.cfg, so that one image can be provisioned for many boards without a
 * rebuild.
 *
 * U-Boot's boot script loads device.cfg (when the file exists) right after
 * the boot bundle, inside domain 0's initrd, and records where it is in
 * /chosen's "flotilla,device-config" = <offset size> (offset from the initrd
 * start). The control domain validates it with devcfg_parse(): a malformed
 * file is refused as a whole with one line naming the line and the problem,
 * and the board runs with its built-in defaults. The same parser is
 * compiled into the host CLI, which checks what it writes.
 *
 * Format: text, one "key = value" per line, '#' comments, blank lines. The
 * first non-comment line must be "flotilla-device-config 1" (the version).
 *
 *   hostname  = board-17          (1-63 of a-z 0-9 -, not starting with -)
 *   static-ip = 10.0.3.17/24      (the control domain's address; else DHCP)
 *   gateway   = 10.0.3.1          (only with static-ip)
 *   dns       = 10.0.3.1          (only with static-ip)
 *   trust     = 04ab…             (a fleet signing key: the 65-byte P-256
 *                                  point in hex; repeatable, at most
 *                                  DEVCFG_KEYS_MAX; trusted in addition to
 *                                  the keys built into the image)
 *   operator  = 04cd…             (an operator key: who may act on the board
 *                                  over the device API; repeatable, at most
 *                                  DEVCFG_KEYS_MAX; in addition to
 *                                  CONFIG_OTA_OPERATOR_KEYS. A key may not be
 *                                  both a trust and an operator key.)
 *
 * Each key may appear once, except trust and operator. Unknown keys are errors, so that
 * a typo never silently leaves a board on its defaults.
 */
#ifndef FLOTILLA_CONTROL_DEVCFG_H
#define FLOTILLA_CONTROL_DEVCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle.h"

#define DEVCFG_SIZE_MAX     16384 /* bytes of device.cfg */
#define DEVCFG_HOSTNAME_MAX 63
#define DEVCFG_KEYS_MAX     4
#define DEVCFG_ERROR_MAX    120

struct devcfg {
	char hostname[DEVCFG_HOSTNAME_MAX + 1]; /* "" when not set */
	bool static_ip;
	uint8_t ip[4];
	unsigned prefix_len;
	bool has_gateway, has_dns;
	uint8_t gateway[4];
	uint8_t dns[4];
	struct ota_trusted_key keys[DEVCFG_KEYS_MAX]; /* signing keys (trust) */
	size_t key_count;
	struct ota_trusted_key operators[DEVCFG_KEYS_MAX]; /* operator keys */
	size_t operator_count;
};

/*
 * Parses and validates text of len bytes. Returns 0 and fills *cfg, or -1
 * with a one-line reason ("line 3: unknown key 'hostnme'") in error
 * (DEVCFG_ERROR_MAX bytes); *cfg is then all defaults.
 */
int devcfg_parse(const char *text, size_t len, struct devcfg *cfg, char *error);

/* "10.0.3.17/24" → address and prefix length; 0 or -1. */
int devcfg_parse_cidr(const char *s, uint8_t ip[4], unsigned *prefix_len);
/* "10.0.3.1" → address; 0 or -1. */
int devcfg_parse_ipv4(const char *s, uint8_t ip[4]);
/* A valid hostname (see above)? */
bool devcfg_hostname_valid(const char *s);

#endif
