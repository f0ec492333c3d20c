/*
 * Console: line-buffered output, through one of two backends.
 *
 * - The control domain (domain 0) writes with the console_io hypercall:
 *   Xen prints it on the physical UART.
 * - Other domains write to their vpl011 (an emulated SBSA UART whose
 *   backend is the control domain), found in the device tree. A release
 *   Xen drops console_io writes from unprivileged domains.
 *
 * stdout/stderr of picolibc's tinystdio end here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "flotilla.h"
#include "hypercall.h"
#include "runtime.h"

#define PL011_DR      0x00
#define PL011_FR      0x18
#define PL011_FR_TXFF (1u << 5)

static char line[256];
static size_t line_len;
static volatile uint32_t *uart; /* NULL: use the console_io hypercall */

void console_init(const void *dtb)
{
	int node = fdt_node_offset_by_compatible(dtb, -1, "arm,sbsa-uart");
	if (node < 0)
		return;
	int len;
	const fdt32_t *reg = fdt_getprop(dtb, node, "reg", &len);
	int address_cells = fdt_address_cells(dtb, 0);
	if (!reg || len < 4 * address_cells)
		return;
	uint64_t base = fdt32_to_cpu(reg[0]);
	if (address_cells == 2)
		base = (base << 32) | fdt32_to_cpu(reg[1]);
	uart = (volatile uint32_t *)(uintptr_t)base;
}

const char *console_backend_name(void)
{
	return uart ? "vpl011" : "xen console_io";
}

static void backend_write(const char *buf, size_t len)
{
	if (!uart) {
		xen_console_write(buf, (unsigned)len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		/* The control domain drains the ring and signals us; TXFF clears then. */
		while (uart[PL011_FR / 4] & PL011_FR_TXFF)
			xen_sched_op(SCHEDOP_yield, NULL);
		uart[PL011_DR / 4] = (uint8_t)buf[i];
	}
}

void console_flush(void)
{
	if (line_len) {
		backend_write(line, line_len);
		line_len = 0;
	}
}

void flotilla_console_write(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		line[line_len++] = buf[i];
		if (buf[i] == '\n' || line_len == sizeof(line))
			console_flush();
	}
}

static int stdout_put(char c, FILE *file)
{
	(void)file;
	flotilla_console_write(&c, 1);
	return (unsigned char)c;
}

static int stdout_flush(FILE *file)
{
	(void)file;
	console_flush();
	return 0;
}

static FILE console_stream = FDEV_SETUP_STREAM(stdout_put, NULL, stdout_flush, _FDEV_SETUP_WRITE);
FILE *const stdout = &console_stream;
FILE *const stderr = &console_stream;
FILE *const stdin = NULL;
