/*
 * Internal interface of the arm32 architecture layer, grouped by the file
 * that defines it.
 */
#ifndef FLOTILLA_ARCH_ARM32_H
#define FLOTILLA_ARCH_ARM32_H

#include <stddef.h>
#include <stdint.h>

/* Registers saved by start.S on a fatal exception. */
struct arch_registers {
	uint32_t r[13];
	uint32_t sp;
	uint32_t lr;
	uint32_t pc;
	uint32_t cpsr;
};

/* mmu.c: identity map, RAM cacheable, everything else device memory */
int mmu_init(const void *dtb);
int mmu_banks_unmapped(void);
/* Map [base, base+size) as Normal cacheable memory (2 MiB granules): for a
 * window where the control domain maps other domains' pages. */
int mmu_map_normal(uintptr_t base, size_t size);

/* arch.c: start-up and fatal exceptions */
extern uintptr_t arch_load_address;
void arch_start(void *dtb, uintptr_t load_address) __attribute__((noreturn));
void arch_fatal_exception(unsigned kind, struct arch_registers *regs) __attribute__((noreturn));
void arch_irq(void);

/* start.S */
void arch_run_on_stack(void *stack_top, void (*function)(void *), void *arg)
    __attribute__((noreturn));

static inline void arch_dsb(void)
{
	__asm__ volatile("dsb" ::: "memory");
}
static inline void arch_isb(void)
{
	__asm__ volatile("isb" ::: "memory");
}
static inline void arch_irq_enable(void)
{
	__asm__ volatile("cpsie i" ::: "memory");
}
static inline void arch_irq_disable(void)
{
	__asm__ volatile("cpsid i" ::: "memory");
}

#endif
