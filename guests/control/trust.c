/* The board's trusted signing keys (trust.h). */
#include "trust.h"

#include <string.h>

#include "trusted_keys.h"

#define TRUST_KEYS_MAX 16

static struct ota_trusted_key keys[TRUST_KEYS_MAX];
static size_t key_count, provisioned;
static bool initialised;

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
