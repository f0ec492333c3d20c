/*
 * site.h - what the www guest serves: the files of guests/www/site/,
 * compiled into the image by mksite.py, and a generated test file.
 */
#ifndef WWW_SITE_H
#define WWW_SITE_H

#include <stddef.h>
#include <stdint.h>

struct site_file {
	const char *path; /* "/index.html" */
	const char *type; /* Content-Type */
	const uint8_t *data;
	size_t len;
};

/* The file for a request path ("/" is "/index.html"); NULL when none. */
const struct site_file *site_lookup(const char *path);

/*
 * The download test file (/test/4M): SITE_TESTFILE_SIZE bytes from a
 * counter-mode generator, so any range is computed without storing it and
 * the host test recomputes the same bytes: byte i is byte (i % 8) (least
 * significant first) of splitmix64_mix((i / 8 + 1) * 0x9e3779b97f4a7c15).
 */
#define SITE_TESTFILE_PATH "/test/4M"
#define SITE_TESTFILE_SIZE (4u << 20)
void site_testfile_read(uint64_t offset, uint8_t *buf, size_t len);

#endif
