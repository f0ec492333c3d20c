/* site.c - see site.h. The file table is generated (mksite.py → www/site_data.h). */
#include "site.h"

#include <string.h>

#include "www/site_data.h"

const struct site_file *site_lookup(const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (size_t i = 0; i < sizeof(site_files) / sizeof(site_files[0]); i++)
		if (strcmp(site_files[i].path, path) == 0)
			return &site_files[i];
	return NULL;
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void site_testfile_read(uint64_t offset, uint8_t *buf, size_t len)
{
	uint64_t block = offset / 8, value = mix64((block + 1) * 0x9e3779b97f4a7c15ull);
	for (size_t i = 0; i < len; i++, offset++) {
		if (offset / 8 != block) {
			block = offset / 8;
			value = mix64((block + 1) * 0x9e3779b97f4a7c15ull);
		}
		buf[i] = (uint8_t)(value >> (8 * (offset % 8)));
	}
}
