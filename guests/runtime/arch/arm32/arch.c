/*
 * arm32 start-up (after start.S), thread-local storage and fatal
 * exceptions.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "../../xen/runtime.h"

uintptr_t arch_load_address;

/* Linker-script symbols (link.ld). Only addresses are used: an absolute
 * symbol's GOT entry would be relocated like an address in this PIE. */
extern const char __tls_base[];
extern const char __tdata_end[];
extern const char __tbss_end[];

/* picolibc keeps errno in thread-local storage; the runtime has one thread. */
#define TLS_AREA_SIZE 256
static uint8_t tls_area[TLS_AREA_SIZE] __attribute__((aligned(8)));

static void tls_init(void)
{
	size_t tdata = (size_t)(__tdata_end - __tls_base);
	size_t total = (size_t)(__tbss_end - __tls_base);
	if (total > TLS_AREA_SIZE) {
		/* Cannot print yet (console not set up): stop where a debugger sees it. */
		for (;;)
			__asm__ volatile("wfi");
	}
	memcpy(tls_area, __tls_base, tdata);
	memset(tls_area + tdata, 0, TLS_AREA_SIZE - tdata);
	/* ARM variant I TLS: TPIDRURO points 8 bytes (the TCB) before the block. */
	__asm__ volatile("mcr p15, 0, %0, c13, c0, 3" ::"r"((uintptr_t)tls_area - 8));
}

void arch_start(void *dtb, uintptr_t load_address)
{
	arch_load_address = load_address;
	int banks = mmu_init(dtb);
	tls_init();
	runtime_start(dtb, banks);
}

static const char *const exception_names[] = {
    "reset", "undefined instruction", "supervisor call", "prefetch abort", "data abort", "irq",
    "fiq",
};

static const char *mode_name(uint32_t cpsr)
{
	switch (cpsr & 0x1f) {
	case 0x10: return "usr";
	case 0x11: return "fiq";
	case 0x12: return "irq";
	case 0x13: return "svc";
	case 0x17: return "abt";
	case 0x1b: return "und";
	case 0x1f: return "sys";
	default: return "?";
	}
}

/*
 * Walk the frame-pointer chain when the image was built with one; with
 * -Os and Thumb there usually is none, so the report also lists words on
 * the stack that look like return addresses into the image.
 */
static void report_backtrace(uint32_t sp)
{
	extern const char _image_end[];
	uintptr_t text_start = arch_load_address;
	uintptr_t text_end = (uintptr_t)_image_end;
	printf("backtrace (return addresses found on the stack, image offset in brackets):\n");
	const uint32_t *word = (const uint32_t *)(uintptr_t)(sp & ~3u);
	int found = 0;
	for (int i = 0; i < 256 && found < 8; i++) {
		uintptr_t addr = (uintptr_t)word + 4u * i;
		if ((addr & 0xfffff) == 0 && i > 0)
			break; /* do not walk off the stack's section */
		uint32_t value = word[i];
		/* Thumb return addresses have bit 0 set. */
		if ((value & 1) && value > text_start && value < text_end) {
			printf("  #%d %08x [+%#x]\n", found, (unsigned)value,
			       (unsigned)(value - 1 - text_start));
			found++;
		}
	}
}

void arch_fatal_exception(unsigned kind, struct arch_registers *regs)
{
	uint32_t dfsr, dfar, ifsr, ifar;
	__asm__ volatile("mrc p15, 0, %0, c5, c0, 0" : "=r"(dfsr));
	__asm__ volatile("mrc p15, 0, %0, c6, c0, 0" : "=r"(dfar));
	__asm__ volatile("mrc p15, 0, %0, c5, c0, 1" : "=r"(ifsr));
	__asm__ volatile("mrc p15, 0, %0, c6, c0, 2" : "=r"(ifar));
	const char *name = kind < sizeof(exception_names) / sizeof(exception_names[0])
			       ? exception_names[kind]
			       : "unknown";
	printf("\n*** CRASH: %s in %s mode at pc %08x [image +%#x]\n", name, mode_name(regs->cpsr),
	       (unsigned)regs->pc, (unsigned)(regs->pc - arch_load_address));
	if (kind == 4)
		printf("fault address %08x, status %08x (DFSR)\n", (unsigned)dfar, (unsigned)dfsr);
	else if (kind == 3)
		printf("fault address %08x, status %08x (IFSR)\n", (unsigned)ifar, (unsigned)ifsr);
	for (int i = 0; i < 13; i++)
		printf("r%-2d %08x%s", i, (unsigned)regs->r[i], (i % 4 == 3) ? "\n" : "  ");
	printf("sp  %08x  lr  %08x  pc  %08x  cpsr %08x\n", (unsigned)regs->sp, (unsigned)regs->lr,
	       (unsigned)regs->pc, (unsigned)regs->cpsr);
	report_backtrace(regs->sp);
	runtime_crash();
}
