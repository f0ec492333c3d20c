/* ota.c: messages for the result codes of ota.h. */
#include "ota.h"

struct status_text {
	int code;
	const char *name;
	const char *message;
};

static const struct status_text status_texts[] = {
    {OTA_OK, "ok", "success"},
    {OTA_AGAIN, "again", "more bundle bytes are needed"},
    {OTA_E_BAD_MAGIC, "bad-magic",
     "not a Flotilla bundle (bad magic): sign the image with 'flotilla sign'"},
    {OTA_E_UNSUPPORTED_VERSION, "unsupported-version",
     "bundle format version not supported by this device: sign with a matching flotilla"},
    {OTA_E_MALFORMED_HEADER, "malformed-header",
     "malformed bundle header: the file is damaged, sign it again"},
    {OTA_E_OVERSIZE, "oversize",
     "image larger than a slot: shrink the image or raise CONFIG_OTA_SLOT_SIZE_KB"},
    {OTA_E_MALFORMED_MANIFEST, "malformed-manifest",
     "malformed bundle manifest: the file is damaged, sign it again"},
    {OTA_E_UNKNOWN_KEY, "unknown-key",
     "bundle signed by a key this device does not trust: check the key id"},
    {OTA_E_BAD_SIGNATURE, "bad-signature",
     "bad signature: the bundle was altered or signed with another key"},
    {OTA_E_WRONG_BOARD, "wrong-board",
     "bundle not built for this board: sign it with --board for this board"},
    {OTA_E_TRUNCATED, "truncated", "bundle truncated: the transfer stopped early, send it again"},
    {OTA_E_TRAILING_DATA, "trailing-data", "unexpected bytes after the image: the file is damaged"},
    {OTA_E_HASH_MISMATCH, "hash-mismatch",
     "image does not match its signed SHA-256: the payload was altered"},
    {OTA_E_ROLLBACK, "rollback",
     "security counter lower than the one this device accepted: sign with a higher --counter"},
    {OTA_E_NO_STORE, "no-store", "no valid slot store on the device: format it first"},
    {OTA_E_GEOMETRY, "geometry",
     "slot store geometry does not fit this device or build: reformat it"},
    {OTA_E_STORE_FULL, "store-full",
     "slot store full: no free guest entry (raise CONFIG_OTA_MAX_GUESTS)"},
    {OTA_E_NO_GUEST, "no-guest", "no such guest in the slot store"},
    {OTA_E_STATE, "state", "operation not allowed in the current slot state"},
    {OTA_E_IO, "io", "block device I/O error: reopen the slot store"},
    {OTA_E_INVALID, "invalid", "invalid argument"},
    {OTA_E_CRYPTO, "crypto", "cryptographic failure (bad public key or out of memory)"},
};

static const struct status_text *find_status(int status)
{
	for (unsigned i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++) {
		if (status_texts[i].code == status)
			return &status_texts[i];
	}
	return 0;
}

const char *ota_strerror(int status)
{
	const struct status_text *t = find_status(status);

	return t ? t->message : "unknown error";
}

const char *ota_status_name(int status)
{
	const struct status_text *t = find_status(status);

	return t ? t->name : "unknown";
}
