/*
 * ota.h: result codes shared by every ota/ module.
 *
 * Every error a user can cause (a bad bundle, a wrong key, an old version)
 * has its own code, so the CLI, the device API and the tests can tell them
 * apart; ota_strerror() gives the one-line message that says what to do.
 * Functions return OTA_OK (0) or a negative enum ota_status value.
 */
#ifndef OTA_OTA_H
#define OTA_OTA_H

enum ota_status {
	OTA_OK = 0,
	OTA_AGAIN = 1, /* not an error: the streaming verifier needs more bytes */

	/* bundle: header */
	OTA_E_BAD_MAGIC = -1,
	OTA_E_UNSUPPORTED_VERSION = -2,
	OTA_E_MALFORMED_HEADER = -3,
	OTA_E_OVERSIZE = -4,
	/* bundle: manifest and signature */
	OTA_E_MALFORMED_MANIFEST = -5,
	OTA_E_UNKNOWN_KEY = -6,
	OTA_E_BAD_SIGNATURE = -7,
	OTA_E_WRONG_BOARD = -8,
	/* bundle: payload */
	OTA_E_TRUNCATED = -9,
	OTA_E_TRAILING_DATA = -10,
	OTA_E_HASH_MISMATCH = -11,
	/* slot store */
	OTA_E_ROLLBACK = -12,
	OTA_E_NO_STORE = -13,
	OTA_E_GEOMETRY = -14,
	OTA_E_STORE_FULL = -15,
	OTA_E_NO_GUEST = -16,
	OTA_E_STATE = -17,
	OTA_E_IO = -18,
	OTA_E_INVALID = -19, /* an API misuse: a bad argument from the caller */
	OTA_E_CRYPTO = -20,
};

/* One line, no trailing newline, never NULL. */
const char *ota_strerror(int status);

/* A short stable identifier ("bad-signature"), for --json and logs. */
const char *ota_status_name(int status);

#endif
