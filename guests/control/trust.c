/* The board's trusted signing and operator keys (trust.h). */
#include "trust.h"

#include <string.h>

#include "operator_keys.h"
#include "trusted_keys.h"

#include <stdio.h>

#define TRUST_KEYS_MAX 16

static struct ota_trusted_key keys[TRUST_KEYS_MAX];
static size_t key_count, provisioned;
static struct ota_trusted_key operators[TRUST_KEYS_MAX];
static size_t operator_count, operators_provisioned;
static bool initialised;

static bool in_table(const struct ota_trusted_key *table, size_t count,
		     const struct ota_trusted_key *k)
{
	for (size_t i = 0; i < count; i++)
		if (memcmp(table[i].pubkey, k->pubkey, sizeof(k->pubkey)) == 0)
			return true;
	return false;
}

/* Built-in operators, then provisioned ones. A key that signs bundles is
 * never also an operator here: one leaked key must not give both roles. */
static void add_operator(const struct ota_trusted_key *k, bool from_config)
{
	if (in_table(operators, operator_count, k))
		return;
	if (in_table(keys, key_count, k)) {
		printf("control: trust: an operator key is also a bundle signing key: not trusted "
		       "as operator (use separate keys for the two roles)\n");
		return;
	}
	if (operator_count == TRUST_KEYS_MAX)
		return;
	operators[operator_count++] = *k;
	operators_provisioned += from_config;
}

static void init_operators(const struct devcfg *cfg)
{
	operator_count = 0;
	operators_provisioned = 0;
	for (size_t i = 0; i < ota_operator_key_count; i++)
		add_operator(&ota_operator_keys[i], false);
	for (size_t i = 0; cfg && i < cfg->operator_count; i++)
		add_operator(&cfg->operators[i], true);
}

void trust_init(const struct devcfg *cfg)
{
	key_count = 0;
	provisioned = 0;
	for (size_t i = 0; i < ota_trusted_key_count && key_count < TRUST_KEYS_MAX; i++)
		keys[key_count++] = ota_trusted_keys[i];
	for (size_t i = 0; cfg && i < cfg->key_count && key_count < TRUST_KEYS_MAX; i++) {
		bool known = false;
		for (size_t j = 0; j < key_count; j++)
			known |= memcmp(keys[j].pubkey, cfg->keys[i].pubkey,
					sizeof(keys[j].pubkey)) == 0;
		if (known)
			continue;
		keys[key_count++] = cfg->keys[i];
		provisioned++;
	}
	init_operators(cfg);
	initialised = true;
}

const struct ota_trusted_key *trust_keys(size_t *count)
{
	if (!initialised)
		trust_init(NULL);
	*count = key_count;
	return keys;
}

size_t trust_provisioned_count(void)
{
	return provisioned;
}

const struct ota_trusted_key *trust_operators(size_t *count)
{
	if (!initialised)
		trust_init(NULL);
	*count = operator_count;
	return operators;
}

size_t trust_provisioned_operator_count(void)
{
	return operators_provisioned;
}
