/* verb_bundle.c: flotilla sign, flotilla inspect, flotilla verify. */
#define _POSIX_C_SOURCE 200809L
#include "bundle.h"
#include "bundle_build.h"
#include "cli.h"
#include "keys.h"
#include "ota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char usage_sign[] =
    "usage: flotilla sign --key NAME.key --name GUEST --version X.Y.Z --counter N\n"
    "                     --board BOARD[,BOARD...] [--memory MIB] [--vcpus N]\n"
    "                     [--nic NAME[,NAME...]] [--build-time SECONDS] IMAGE -o FILE\n"
    "\n"
    "Wraps a guest image in a signed bundle (docs/bundle-format.md).\n"
    "  --key         private key from 'flotilla keygen'\n"
    "  --name        guest name: a-z first, then a-z 0-9 - _ (at most 31)\n"
    "  --version     semantic version X.Y.Z\n"
    "  --counter     security counter: a device refuses a bundle whose counter is\n"
    "                lower than the highest it has confirmed for this guest\n"
    "  --board       board(s) the image may run on (repeat or comma-separate, max 4)\n"
    "  --memory      guest RAM in MiB (default 16)\n"
    "  --vcpus       virtual CPUs (default 1)\n"
    "  --nic         network interface the guest needs, by name (repeat or\n"
    "                comma-separate, max 8); a board whose plan does not give the\n"
    "                guest a vNIC of each name refuses to run it\n"
    "  --build-time  seconds since 1970 (default $SOURCE_DATE_EPOCH, else now)\n"
    "  -o, --out     bundle file to write\n";

const char usage_inspect[] =
    "usage: flotilla inspect [--json] FILE\n"
    "\n"
    "Shows a bundle's header and manifest and whether the image matches its\n"
    "SHA-256. Does not check the signature: use 'flotilla verify' for that.\n";

const char usage_verify[] =
    "usage: flotilla verify --pub KEY.pub [--pub KEY.pub ...] [--board BOARD] FILE\n"
    "\n"
    "Runs the device's streaming verifier on a bundle: format, manifest,\n"
    "signature by one of the given public keys, board (with --board), image\n"
    "size and SHA-256. Exit status 0 when the device would accept it.\n";

static int parse_version(const char *s, uint32_t v[3])
{
	char *end;

	for (int i = 0; i < 3; i++) {
		unsigned long n;

		if (*s < '0' || *s > '9')
			return -1;
		n = strtoul(s, &end, 10);
		if (n > UINT32_MAX || (end - s > 1 && *s == '0'))
			return -1;
		v[i] = (uint32_t)n;
		if (*end != (i < 2 ? '.' : '\0'))
			return -1;
		s = end + 1;
	}
	return 0;
}

static int add_to_list(char *list, size_t max, const char *value)
{
	size_t have = strlen(list), add = strlen(value);

	if (have + (have ? 1 : 0) + add > max)
		return -1;
	if (have)
		list[have++] = ',';
	memcpy(list + have, value, add + 1);
	return 0;
}

static int add_board(char *boards, const char *value)
{
	size_t have = strlen(boards), add = strlen(value);

	if (have + (have ? 1 : 0) + add > OTA_BOARDS_MAX)
		return -1;
	if (have)
		boards[have++] = ',';
	memcpy(boards + have, value, add + 1);
	return 0;
}

int verb_sign(int argc, char **argv)
{
	const char *key = NULL, *name = NULL, *version = NULL, *counter = NULL, *out = NULL,
		   *image_path = NULL;
	const char *memory = "16", *vcpus = "1", *build_time = getenv("SOURCE_DATE_EPOCH"), *board;
	struct ota_manifest m;
	mbedtls_pk_context pk;
	uint8_t *image = NULL, *bundle = NULL;
	size_t image_len, bundle_len;
	uint64_t when;
	int rc;

	memset(&m, 0, sizeof(m));
	for (int i = 1; i < argc; i++) {
		int k = 0;

		if (cli_is_help(argv[i])) {
			fputs(usage_sign, stdout);
			return CLI_EXIT_OK;
		}
		if ((k = cli_option(argc, argv, &i, "--key", &key)) ||
		    (k = cli_option(argc, argv, &i, "--name", &name)) ||
		    (k = cli_option(argc, argv, &i, "--version", &version)) ||
		    (k = cli_option(argc, argv, &i, "--counter", &counter)) ||
		    (k = cli_option(argc, argv, &i, "--memory", &memory)) ||
		    (k = cli_option(argc, argv, &i, "--vcpus", &vcpus)) ||
		    (k = cli_option(argc, argv, &i, "--build-time", &build_time)) ||
		    (k = cli_option(argc, argv, &i, "--out", &out)) ||
		    (k = cli_option(argc, argv, &i, "-o", &out))) {
			if (k < 0)
				return CLI_EXIT_USAGE;
			continue;
		}
		if ((k = cli_option(argc, argv, &i, "--board", &board)) != 0) {
			if (k < 0)
				return CLI_EXIT_USAGE;
			if (add_board(m.boards, board) != 0)
				return cli_usage_error("too many boards (at most %d bytes in all)",
						       OTA_BOARDS_MAX);
			continue;
		}
		if ((k = cli_option(argc, argv, &i, "--nic", &board)) != 0) {
			if (k < 0)
				return CLI_EXIT_USAGE;
			if (add_to_list(m.nics, OTA_NICS_LIST_MAX, board) != 0)
				return cli_usage_error("too many NICs (at most %d bytes in all)",
						       OTA_NICS_LIST_MAX);
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return cli_usage_error("unknown option '%s'", argv[i]);
		if (image_path)
			return cli_usage_error("more than one IMAGE ('%s' and '%s')", image_path,
					       argv[i]);
		image_path = argv[i];
	}
	if (!key || !name || !version || !counter || !m.boards[0] || !image_path || !out)
		return cli_usage_error("missing %s", !key           ? "--key"
						     : !name        ? "--name"
						     : !version     ? "--version"
						     : !counter     ? "--counter"
						     : !m.boards[0] ? "--board"
						     : !image_path  ? "IMAGE"
								    : "-o FILE");
	if (!ota_name_valid(name, strlen(name)))
		return cli_usage_error(
		    "bad --name '%s': use a-z first, then a-z 0-9 - _ (at most %d)", name,
		    OTA_NAME_MAX);
	memcpy(m.name, name, strlen(name) + 1);
	if (parse_version(version, m.version) != 0)
		return cli_usage_error("bad --version '%s': expected X.Y.Z", version);
	if (cli_parse_u32(counter, &m.security_counter) != 0)
		return cli_usage_error("bad --counter '%s': expected 0..4294967295", counter);
	if (cli_parse_u32(memory, &m.memory_mib) != 0 || m.memory_mib == 0 ||
	    m.memory_mib > OTA_MEMORY_MIB_MAX)
		return cli_usage_error("bad --memory '%s': expected 1..%d MiB", memory,
				       OTA_MEMORY_MIB_MAX);
	if (cli_parse_u32(vcpus, &m.vcpus) != 0 || m.vcpus == 0 || m.vcpus > OTA_VCPUS_MAX)
		return cli_usage_error("bad --vcpus '%s': expected 1..%d", vcpus, OTA_VCPUS_MAX);
	if (build_time && cli_parse_u64(build_time, &when) != 0)
		return cli_usage_error("bad --build-time '%s': expected seconds since 1970",
				       build_time);
	m.build_time = build_time ? when : (uint64_t)time(NULL);
	{
		/* Every other field was checked above: a failure here is the boards
		 * or the NICs. */
		struct ota_manifest probe = m;

		probe.image_size = 1;
		probe.nics[0] = '\0';
		if (ota_manifest_validate(&probe) == OTA_OK) {
			memcpy(probe.nics, m.nics, sizeof(m.nics));
			if (ota_manifest_validate(&probe) != OTA_OK)
				return cli_usage_error("bad --nic '%s': names use a-z 0-9 - _, "
						       "each once, at most %d NICs",
						       m.nics, OTA_NICS_MAX);
		}
		if (ota_manifest_validate(&probe) != OTA_OK)
			return cli_usage_error(
			    "bad --board '%s': names use a-z 0-9 - _, at most %d boards", m.boards,
			    OTA_BOARD_COUNT_MAX);
	}

	mbedtls_pk_init(&pk);
	rc = CLI_EXIT_FAIL;
	if (keys_load_private_file(key, &pk) != 0)
		goto out;
	image = cli_read_file(image_path, &image_len);
	if (!image)
		goto out;
	if (image_len == 0) {
		cli_error("%s: image is empty", image_path);
		goto out;
	}
	if (image_len > OTA_BUNDLE_IMAGE_MAX) {
		cli_error("%s: image is %zu bytes, the format allows at most %lu", image_path,
			  image_len, (unsigned long)OTA_BUNDLE_IMAGE_MAX);
		goto out;
	}
	rc = bundle_build(&m, image, image_len, &pk, &bundle, &bundle_len);
	if (rc != OTA_OK) {
		cli_error("cannot build the bundle: %s", ota_strerror(rc));
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	rc = cli_write_file(out, bundle, bundle_len, 0644) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	if (rc == CLI_EXIT_OK)
		printf("wrote %s: %s %u.%u.%u counter %u, %zu bytes\n", out, m.name, m.version[0],
		       m.version[1], m.version[2], m.security_counter, bundle_len);
out:
	free(bundle);
	free(image);
	mbedtls_pk_free(&pk);
	return rc;
}

static void format_time(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((uint64_t)tt != t || !gmtime_r(&tt, &tm) ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

static void print_boards_json(const char *boards)
{
	char one[OTA_NAME_MAX + 1];
	const char *p = boards;

	putchar('[');
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n > OTA_NAME_MAX)
			n = OTA_NAME_MAX;
		memcpy(one, p, n);
		one[n] = '\0';
		cli_json_string(one);
		p += strcspn(p, ",");
		if (*p == ',') {
			p++;
			putchar(',');
		}
	}
	putchar(']');
}

/* What inspect learnt about the image part of the file. */
struct image_check {
	size_t present;  /* image bytes in the file */
	int hash_ok;     /* SHA-256 of a complete image matches */
	const char *why; /* NULL when consistent */
};

static void print_inspect_text(const char *path, size_t file_len, const struct ota_bundle_header *h,
			       const struct ota_manifest *m, const struct image_check *ic)
{
	char sha[2 * OTA_SHA256_SIZE + 1], kid[2 * OTA_KEY_ID_SIZE + 1], when[32];

	cli_hex(sha, m->image_sha256, OTA_SHA256_SIZE);
	cli_hex(kid, m->key_id, OTA_KEY_ID_SIZE);
	format_time(m->build_time, when, sizeof(when));
	printf("bundle:           %s (%zu bytes, format %u)\n", path, file_len, h->format_version);
	printf("guest:            %s\n", m->name);
	printf("version:          %u.%u.%u\n", m->version[0], m->version[1], m->version[2]);
	printf("security counter: %u\n", m->security_counter);
	printf("boards:           %s\n", m->boards);
	printf("image size:       %u bytes\n", m->image_size);
	printf("image sha256:     %s (%s)\n", sha, ic->why ? ic->why : "matches");
	printf("memory:           %u MiB\n", m->memory_mib);
	printf("vcpus:            %u\n", m->vcpus);
	printf("nics:             %s\n", m->nics[0] ? m->nics : "(none)");
	printf("key id:           %s\n", kid);
	printf("build time:       %s (%llu)\n", when, (unsigned long long)m->build_time);
	printf("signature:        ecdsa-p256-sha256, not checked (use 'flotilla verify --pub "
	       "KEY.pub')\n");
}

static void print_inspect_json(size_t file_len, const struct ota_bundle_header *h,
			       const struct ota_manifest *m, const struct image_check *ic)
{
	char sha[2 * OTA_SHA256_SIZE + 1], kid[2 * OTA_KEY_ID_SIZE + 1], ver[40];

	cli_hex(sha, m->image_sha256, OTA_SHA256_SIZE);
	cli_hex(kid, m->key_id, OTA_KEY_ID_SIZE);
	snprintf(ver, sizeof(ver), "%u.%u.%u", m->version[0], m->version[1], m->version[2]);
	printf("{\"format_version\":%u,\"bundle_size\":%zu,\"name\":", h->format_version, file_len);
	cli_json_string(m->name);
	printf(",\"version\":\"%s\",\"security_counter\":%u,\"boards\":", ver, m->security_counter);
	print_boards_json(m->boards);
	printf(",\"image_size\":%u,\"image_sha256\":\"%s\",\"image_ok\":%s", m->image_size, sha,
	       ic->why ? "false" : "true");
	if (ic->why) {
		printf(",\"image_problem\":");
		cli_json_string(ic->why);
	}
	printf(",\"memory_mib\":%u,\"vcpus\":%u,\"nics\":", m->memory_mib, m->vcpus);
	print_boards_json(m->nics); /* the same comma-separated name list */
	printf(",\"key_id\":\"%s\",\"build_time\":%llu,"
	       "\"signature_alg\":\"ecdsa-p256-sha256\",\"signature_checked\":false}\n",
	       kid, (unsigned long long)m->build_time);
}

int verb_inspect(int argc, char **argv)
{
	const char *path = NULL;
	int json = 0, rc;
	struct ota_bundle_header h;
	struct ota_manifest m;
	struct image_check ic = {0, 0, NULL};
	uint8_t *data;
	size_t len, head;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(usage_inspect, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return cli_usage_error("unknown option '%s'", argv[i]);
		else if (path)
			return cli_usage_error("more than one FILE");
		else
			path = argv[i];
	}
	if (!path)
		return cli_usage_error("missing FILE");
	data = cli_read_file(path, &len);
	if (!data)
		return CLI_EXIT_FAIL;
	rc = len < OTA_BUNDLE_HEADER_SIZE
		 ? (len >= 4 && memcmp(data, OTA_BUNDLE_MAGIC, 4) != 0 ? OTA_E_BAD_MAGIC
								       : OTA_E_TRUNCATED)
		 : ota_bundle_header_decode(data, &h);
	if (rc == OTA_OK) {
		head = OTA_BUNDLE_HEADER_SIZE + h.manifest_size + h.signature_size;
		rc = len < head
			 ? OTA_E_TRUNCATED
			 : ota_manifest_decode(data + OTA_BUNDLE_HEADER_SIZE, h.manifest_size, &m);
	}
	if (rc == OTA_OK && m.image_size != h.image_size)
		rc = OTA_E_MALFORMED_MANIFEST;
	if (rc != OTA_OK) {
		free(data);
		return cli_error("%s: %s", path, ota_strerror(rc));
	}
	ic.present = len - head;
	if (ic.present < m.image_size) {
		ic.why = "image truncated";
	} else if (ic.present > m.image_size) {
		ic.why = "trailing bytes after the image";
	} else {
		uint8_t digest[OTA_SHA256_SIZE];

		ota_sha256(data + head, m.image_size, digest);
		if (memcmp(digest, m.image_sha256, OTA_SHA256_SIZE) != 0)
			ic.why = "MISMATCH: the image was altered";
	}
	if (json)
		print_inspect_json(len, &h, &m, &ic);
	else
		print_inspect_text(path, len, &h, &m, &ic);
	free(data);
	if (ic.why)
		return cli_error("%s: %s", path, ic.why);
	return CLI_EXIT_OK;
}

/* Loads every --pub into a trusted-key table; NULL with the error printed. */
struct ota_trusted_key *cli_load_trusted_keys(const char **paths, size_t count)
{
	struct ota_trusted_key *keys = calloc(count ? count : 1, sizeof(*keys));

	if (!keys) {
		cli_error("out of memory");
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		if (keys_load_public_file(paths[i], keys[i].pubkey) != 0) {
			free(keys);
			return NULL;
		}
		ota_key_id(keys[i].pubkey, keys[i].key_id);
	}
	return keys;
}

/* Streams a file through the device's verifier in network-sized chunks. */
static int verify_stream(FILE *f, struct ota_verifier *v)
{
	static uint8_t chunk[1460];
	int in_head = 1;
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		size_t used = 0;
		int rc;

		if (in_head) {
			rc = ota_verifier_feed_head(v, chunk, n, &used);
			if (rc == OTA_AGAIN)
				continue;
			if (rc != OTA_OK)
				return rc;
			in_head = 0;
		}
		rc = ota_verifier_feed_image(v, chunk + used, n - used);
		if (rc != OTA_OK)
			return rc;
	}
	if (ferror(f))
		return OTA_E_IO;
	return ota_verifier_finish(v);
}

int verb_verify(int argc, char **argv)
{
	const char **pubs = calloc((size_t)argc, sizeof(*pubs));
	const char *path = NULL, *board = NULL, *value;
	struct ota_verify_policy policy = {0};
	struct ota_trusted_key *keys = NULL;
	struct ota_verifier *v = NULL;
	size_t npubs = 0;
	FILE *f = NULL;
	int rc = CLI_EXIT_USAGE, k;

	if (!pubs)
		return cli_error("out of memory");
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(usage_verify, stdout);
			rc = CLI_EXIT_OK;
			goto out;
		}
		if ((k = cli_option(argc, argv, &i, "--pub", &value)) != 0) {
			if (k < 0)
				goto out;
			pubs[npubs++] = value;
		} else if ((k = cli_option(argc, argv, &i, "--board", &board)) != 0) {
			if (k < 0)
				goto out;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			rc = cli_usage_error("unknown option '%s'", argv[i]);
			goto out;
		} else if (path) {
			rc = cli_usage_error("more than one FILE");
			goto out;
		} else {
			path = argv[i];
		}
	}
	if (!path || npubs == 0) {
		rc = cli_usage_error("missing %s", npubs == 0 ? "--pub KEY.pub" : "FILE");
		goto out;
	}
	rc = CLI_EXIT_FAIL;
	keys = cli_load_trusted_keys(pubs, npubs);
	v = malloc(sizeof(*v));
	if (!keys || !v)
		goto out;
	policy.keys = keys;
	policy.key_count = npubs;
	policy.board = board;
	f = fopen(path, "rb");
	if (!f) {
		cli_error("%s: cannot open", path);
		goto out;
	}
	ota_verifier_init(v, &policy);
	k = verify_stream(f, v);
	if (k != OTA_OK) {
		cli_error("%s: %s", path, ota_strerror(k));
		goto out;
	}
	{
		const struct ota_manifest *m = ota_verifier_manifest(v);
		char kid[2 * OTA_KEY_ID_SIZE + 1];

		cli_hex(kid, m->key_id, OTA_KEY_ID_SIZE);
		printf("%s: OK: %s %u.%u.%u counter %u for %s, signed by key %s (%s)\n", path,
		       m->name, m->version[0], m->version[1], m->version[2], m->security_counter,
		       m->boards, kid, pubs[v->key - keys]);
	}
	rc = CLI_EXIT_OK;
out:
	if (f)
		fclose(f);
	free(v);
	free(keys);
	free(pubs);
	return rc;
}
