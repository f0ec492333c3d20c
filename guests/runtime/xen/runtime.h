/*
 * Internal interface of the Xen target, grouped by defining file.
 */
#ifndef FLOTILLA_XEN_RUNTIME_H
#define FLOTILLA_XEN_RUNTIME_H

#include <stdint.h>

/* runtime.c: start-up and shutdown */
void runtime_start(void *dtb, int ram_banks) __attribute__((noreturn));
void runtime_crash(void) __attribute__((noreturn));
void runtime_shutdown(unsigned reason) __attribute__((noreturn));

/* console.c: console backends (Xen console hypercall or vpl011) */
void console_init(const void *dtb);
void console_flush(void);
const char *console_backend_name(void);

#endif
