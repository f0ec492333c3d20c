/*
 * Device configuration parser (guests/control/devcfg.c): what `flotilla
 * flash` writes is accepted; every malformed file is refused as a whole with
 * a reason naming the line, and leaves the defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "devcfg.h"
#include "manifest.h"

/* Points as hex: "04" then 128 digits (the verifier checks the curve, not the parser). */
#define KEY_TAIL                                                                                   \
	"6d1a6e3c1b2e4f0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b"                         \
	"5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
#define KEY1 "04" KEY_TAIL
#define KEY2                                                                                       \
	"04"                                                                                       \
	"1111111111111111111111111111111111111111111111111111111111111111"                         \
	"1111111111111111111111111111111111111111111111111111111111111111"

static int parse(const char *text, struct devcfg *cfg, char *error)
{
	return devcfg_parse(text, strlen(text), cfg, error);
}

/* Refused, with a reason that contains want; the result is all defaults. */
static void refused(const char *text, const char *want)
{
	struct devcfg cfg;
	char error[DEVCFG_ERROR_MAX];
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(parse(text, &cfg, error), -1);
	if (!strstr(error, want))
		fail_msg("reason '%s' does not contain '%s'", error, want);
	assert_string_equal(cfg.hostname, "");
	assert_false(cfg.static_ip);
	assert_int_equal(cfg.key_count, 0);
}

static void full_config_is_accepted(void **state)
{
	(void)state;
	struct devcfg cfg;
	char error[DEVCFG_ERROR_MAX];
	const char *text = "# written by flotilla flash\n"
			   "flotilla-device-config 1\n"
			   "hostname = board-17\n"
			   "static-ip = 10.0.3.17/24   # LAN\n"
			   "gateway=10.0.3.1\n"
			   "\n"
			   "dns = 10.0.3.53\r\n"
			   "trust = " KEY1 "\n"
			   "operator = " KEY2;
	assert_int_equal(parse(text, &cfg, error), 0);
	assert_string_equal(cfg.hostname, "board-17");
	assert_true(cfg.static_ip);
	assert_memory_equal(cfg.ip, ((uint8_t[]){10, 0, 3, 17}), 4);
	assert_int_equal(cfg.prefix_len, 24);
	assert_true(cfg.has_gateway);
	assert_memory_equal(cfg.gateway, ((uint8_t[]){10, 0, 3, 1}), 4);
	assert_memory_equal(cfg.dns, ((uint8_t[]){10, 0, 3, 53}), 4);
	/* Signing and operator keys: each in its own table. */
	assert_int_equal(cfg.key_count, 1);
	assert_int_equal(cfg.keys[0].pubkey[0], 0x04);
	assert_int_equal(cfg.operator_count, 1);
	assert_memory_not_equal(cfg.operators[0].pubkey, cfg.keys[0].pubkey, OTA_P256_PUBKEY_SIZE);
	assert_int_equal(cfg.keys[0].pubkey[1], 0x6d);
	uint8_t id[OTA_KEY_ID_SIZE];
	ota_key_id(cfg.operators[0].pubkey, id);
	assert_memory_equal(cfg.operators[0].key_id, id, sizeof(id));
}

static void header_only_means_defaults(void **state)
{
	(void)state;
	struct devcfg cfg;
	char error[DEVCFG_ERROR_MAX];
	assert_int_equal(parse("flotilla-device-config 1\n", &cfg, error), 0);
	assert_string_equal(cfg.hostname, "");
	assert_false(cfg.static_ip);
	assert_int_equal(cfg.key_count, 0);
}

static void malformed_files_are_refused_with_their_line(void **state)
{
	(void)state;
	refused("", "no 'flotilla-device-config 1' header");
	refused("# only a comment\n", "no 'flotilla-device-config 1' header");
	refused("hostname = a\n", "line 1: expected the header");
	refused("flotilla-device-config 2\n", "line 1: expected the header");
	refused("flotilla-device-config 1\nhostnme = a\n", "line 2: unknown key 'hostnme'");
	refused("flotilla-device-config 1\nhostname\n", "line 2: expected 'key = value'");
	refused("flotilla-device-config 1\nhostname =\n", "line 2: expected 'key = value'");
	refused("flotilla-device-config 1\nhostname = Board\n", "line 2: hostname");
	refused("flotilla-device-config 1\nhostname = -a\n", "line 2: hostname");
	refused("flotilla-device-config 1\nhostname = a b\n", "line 2: hostname");
	refused("flotilla-device-config 1\nhostname = a\nhostname = b\n",
		"line 3: hostname given twice");
	refused("flotilla-device-config 1\nstatic-ip = 10.0.3.17\n", "line 2: static-ip");
	refused("flotilla-device-config 1\nstatic-ip = 10.0.3.256/24\n", "line 2: static-ip");
	refused("flotilla-device-config 1\nstatic-ip = 10.0.03.1/24\n", "line 2: static-ip");
	refused("flotilla-device-config 1\nstatic-ip = 10.0.3.1/33\n", "line 2: static-ip");
	refused("flotilla-device-config 1\nstatic-ip = 10.0.3.1/24x\n", "line 2: static-ip");
	refused("flotilla-device-config 1\ngateway = 10.0.3.1\n", "need static-ip");
	refused("flotilla-device-config 1\nstatic-ip = 10.0.3.17/24\ngateway = 10.0.4.1\n",
		"not on the static-ip's network");
	refused("flotilla-device-config 1\nstatic-ip = 10.0.3.17/24\ngateway = 10.0.3\n",
		"line 3: gateway");
	refused("flotilla-device-config 1\ntrust = 04abcd\n", "line 2: trust");
	refused("flotilla-device-config 1\ntrust = " KEY1 "0\n", "line 2: trust");
	refused("flotilla-device-config 1\ntrust = " KEY1 "\ntrust = " KEY1 "\n",
		"line 3: trust: the same key twice");
	refused("flotilla-device-config 1\ntrust = 05" KEY_TAIL "\n", "line 2: trust");
	/* One key, two roles: refused whichever line comes first. */
	refused("flotilla-device-config 1\noperator = " KEY1 "\ntrust = " KEY1 "\n",
		"line 3: trust: that key is already listed as operator");
	refused("flotilla-device-config 1\ntrust = " KEY1 "\noperator = " KEY1 "\n",
		"line 3: operator: that key is already listed as trust");
	refused("flotilla-device-config 1\noperator = 04abcd\n", "line 2: operator");
	refused("flotilla-device-config 1\nhostname = a\x01\n", "line 2: contains a control");
}

static void limits_are_enforced(void **state)
{
	(void)state;
	struct devcfg cfg;
	char error[DEVCFG_ERROR_MAX];
	static char big[DEVCFG_SIZE_MAX + 2];
	memset(big, '#', sizeof(big));
	assert_int_equal(devcfg_parse(big, sizeof(big), &cfg, error), -1);
	assert_non_null(strstr(error, "more than"));

	char text[2048];
	strcpy(text, "flotilla-device-config 1\n");
	for (int i = 0; i < DEVCFG_KEYS_MAX + 1; i++) {
		char line[160];
		/* Distinct keys: vary the last digit. */
		snprintf(line, sizeof(line), "trust = %.*s%x\n", 129, KEY1, i);
		strcat(text, line);
	}
	refused(text, "line 6: more than 4 trust keys");

	char longline[400];
	snprintf(longline, sizeof(longline), "flotilla-device-config 1\nhostname = %0300d\n", 1);
	refused(longline, "line 2: longer than");

	/* A NUL inside the file is refused, not taken as its end. */
	const char nul[] = "flotilla-device-config 1\nhostname = a\0b\n";
	assert_int_equal(devcfg_parse(nul, sizeof(nul) - 1, &cfg, error), -1);
	assert_non_null(strstr(error, "line 2: contains a NUL byte"));
}

static void every_truncation_is_safe(void **state)
{
	(void)state;
	/* Under ASan: no prefix of a valid file is read past its length. */
	const char *text = "flotilla-device-config 1\nhostname = board-17\n"
			   "static-ip = 10.0.3.17/24\ntrust = " KEY1 "\n";
	size_t len = strlen(text);
	for (size_t n = 0; n <= len; n++) {
		char *copy = test_malloc(n ? n : 1);
		memcpy(copy, text, n);
		struct devcfg cfg;
		char error[DEVCFG_ERROR_MAX];
		(void)devcfg_parse(copy, n, &cfg, error);
		test_free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_config_is_accepted),
	    cmocka_unit_test(header_only_means_defaults),
	    cmocka_unit_test(malformed_files_are_refused_with_their_line),
	    cmocka_unit_test(limits_are_enforced),
	    cmocka_unit_test(every_truncation_is_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
