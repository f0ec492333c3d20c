/*
 * ota_config.h: compile-time limits of ota/, from Kconfig (ota/Kconfig) with
 * the same defaults when a file is built without the generated header (the
 * fuzz target, a standalone host tool).
 *
 * Every buffer in ota/ is sized from these numbers; nothing grows with the
 * size of an image.
 */
#ifndef OTA_OTA_CONFIG_H
#define OTA_OTA_CONFIG_H

#if defined(__has_include)
#if __has_include(<generated/autoconf.h>)
#include <generated/autoconf.h>
#endif
#endif

#ifndef CONFIG_OTA_MAX_GUESTS
#define CONFIG_OTA_MAX_GUESTS 7
#endif
#ifndef CONFIG_OTA_SLOT_SIZE_KB
#define CONFIG_OTA_SLOT_SIZE_KB 4096
#endif
#ifndef CONFIG_OTA_BLOCK_SIZE_MAX
#define CONFIG_OTA_BLOCK_SIZE_MAX 4096
#endif
#ifndef CONFIG_OTA_IO_BUFFER_SIZE
#define CONFIG_OTA_IO_BUFFER_SIZE 4096
#endif
#ifndef CONFIG_BOARD
#define CONFIG_BOARD "orangepi-pc"
#endif

/* Guests a slot store can hold (each has an A and a B slot). */
#define OTA_MAX_GUESTS CONFIG_OTA_MAX_GUESTS
/* Default slot size; also the largest image a device accepts. */
#define OTA_SLOT_SIZE ((unsigned long)CONFIG_OTA_SLOT_SIZE_KB * 1024ul)
/* Largest block size of a block device the slot store can drive. */
#define OTA_BLOCK_SIZE_MAX CONFIG_OTA_BLOCK_SIZE_MAX
/* Bytes moved per block-device call while writing or hashing a slot. */
#define OTA_IO_BUFFER_SIZE                                                                         \
	(CONFIG_OTA_IO_BUFFER_SIZE > OTA_BLOCK_SIZE_MAX ? CONFIG_OTA_IO_BUFFER_SIZE                \
							: OTA_BLOCK_SIZE_MAX)

#endif
