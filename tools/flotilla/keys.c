/* keys.c: key generation, loading and signing with mbedTLS. */
#define _POSIX_C_SOURCE 200809L
#include "keys.h"

#include "cli.h"
#include "ota.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static int drbg_ready;

static int rng(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	return mbedtls_ctr_drbg_random(&drbg, out, len);
}

static int rng_init(void)
{
	static const char personal[] = "flotilla keys";

	if (drbg_ready)
		return 0;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				  (const unsigned char *)personal, sizeof(personal) - 1) != 0)
		return -1;
	drbg_ready = 1;
	return 0;
}

int keys_generate(mbedtls_pk_context *pk)
{
	if (rng_init() != 0)
		return OTA_E_CRYPTO;
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), rng, NULL) != 0)
		return OTA_E_CRYPTO;
	return OTA_OK;
}

static int is_p256(mbedtls_pk_context *pk)
{
	return mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY &&
	       mbedtls_pk_ec(*pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

int keys_public_point(mbedtls_pk_context *pk, uint8_t point[OTA_P256_PUBKEY_SIZE])
{
	mbedtls_ecp_keypair *ec;
	size_t len;

	if (!is_p256(pk))
		return OTA_E_INVALID;
	ec = mbedtls_pk_ec(*pk);
	if (mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len,
					   point, OTA_P256_PUBKEY_SIZE) != 0 ||
	    len != OTA_P256_PUBKEY_SIZE)
		return OTA_E_CRYPTO;
	return OTA_OK;
}

int keys_sign(mbedtls_pk_context *pk, const uint8_t hash[OTA_SHA256_SIZE],
	      uint8_t sig[OTA_P256_SIGNATURE_SIZE])
{
	mbedtls_ecp_keypair *ec;
	mbedtls_mpi r, s;
	int rc = OTA_E_CRYPTO;

	if (!is_p256(pk) || rng_init() != 0)
		return OTA_E_INVALID;
	ec = mbedtls_pk_ec(*pk);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	/* Deterministic k: the same key, header and manifest give the same bundle. */
	if (mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, hash, OTA_SHA256_SIZE,
				       MBEDTLS_MD_SHA256, rng, NULL) == 0 &&
	    mbedtls_mpi_write_binary(&r, sig, 32) == 0 &&
	    mbedtls_mpi_write_binary(&s, sig + 32, 32) == 0)
		rc = OTA_OK;
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return rc;
}

/* Writes a new file with exactly this mode; refuses to replace one. */
static int write_new_file(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		if (errno == EEXIST)
			return cli_error("%s already exists: remove it or choose another --out",
					 path),
			       -1;
		return cli_error("%s: %s", path, strerror(errno)), -1;
	}
	if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		cli_error("%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd) == 0 ? 0 : -1;
}

int keys_write_files(mbedtls_pk_context *pk, const char *base)
{
	unsigned char pem[1024];
	char path[4096];
	int rc;

	if (snprintf(path, sizeof(path), "%s.key", base) >= (int)sizeof(path))
		return cli_error("--out name too long"), -1;
	if (mbedtls_pk_write_key_pem(pk, pem, sizeof(pem)) != 0)
		return cli_error("cannot encode the private key"), -1;
	rc = write_new_file(path, (const char *)pem, 0600);
	/* The private key does not linger on the stack, whatever happened. */
	mbedtls_platform_zeroize(pem, sizeof(pem));
	if (rc != 0)
		return -1;
	snprintf(path, sizeof(path), "%s.pub", base);
	if (mbedtls_pk_write_pubkey_pem(pk, pem, sizeof(pem)) != 0)
		return cli_error("cannot encode the public key"), -1;
	return write_new_file(path, (const char *)pem, 0644);
}

static const char *mbedtls_message(int err, char *buf, size_t len)
{
	mbedtls_strerror(err, buf, len);
	return buf;
}

int keys_load_private_file(const char *path, mbedtls_pk_context *pk)
{
	char msg[128];
	int err = mbedtls_pk_parse_keyfile(pk, path, NULL);

	if (err == MBEDTLS_ERR_PK_FILE_IO_ERROR)
		return cli_error("%s: cannot read the key file", path), -1;
	if (err != 0)
		return cli_error("%s: not a private key (%s); give the .key file made by 'flotilla "
				 "keygen'",
				 path, mbedtls_message(err, msg, sizeof(msg))),
		       -1;
	if (!is_p256(pk))
		return cli_error("%s: not an ECDSA P-256 key", path), -1;
	return 0;
}

int keys_load_public_file(const char *path, uint8_t point[OTA_P256_PUBKEY_SIZE])
{
	mbedtls_pk_context pk;
	char msg[128];
	int err, rc = -1;

	mbedtls_pk_init(&pk);
	err = mbedtls_pk_parse_public_keyfile(&pk, path);
	if (err == MBEDTLS_ERR_PK_FILE_IO_ERROR)
		cli_error("%s: cannot read the key file", path);
	else if (err != 0)
		cli_error("%s: not a public key (%s); give the .pub file made by 'flotilla keygen'",
			  path, mbedtls_message(err, msg, sizeof(msg)));
	else if (keys_public_point(&pk, point) != OTA_OK)
		cli_error("%s: not an ECDSA P-256 key", path);
	else
		rc = 0;
	mbedtls_pk_free(&pk);
	return rc;
}
