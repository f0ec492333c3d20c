/*
 * Entry point of a Flotilla image on Xen/ARM32: the zImage header Xen's
 * loader looks for, self-relocation, stacks, and the exception vectors.
 *
 * Xen enters at offset 0 in ARM state, SVC mode, IRQs masked, MMU off,
 * with r2 = physical address of the device tree. The image is linked at 0
 * and may be placed anywhere: everything before the relocation loop below
 * must use PC-relative addressing only.
 */
	.syntax unified
	.arch armv7-a
	.arch_extension virt
	.arm

#define MODE_SVC 0x13
#define MODE_ABT 0x17
#define MODE_UND 0x1b
#define MODE_IRQ 0x12
#define R_ARM_RELATIVE 23

	.section .text.head, "ax"
	.global _start
_start:
	.rept 8
	mov	r0, r0
	.endr
	b	reset
	.word	0x016f2818		/* 0x24: zImage magic */
	.word	0			/* 0x28: start, 0 = position independent */
	.word	_image_end		/* 0x2c: end; linked at 0, so the size */

reset:
	mov	r10, r2			/* r10 = DTB for the whole entry path */
	adr	r11, _start		/* r11 = load address (link address is 0) */

	/* Stack first (docs/emulated-board.md): SP is inside the image, in .bss. */
	ldr	sp, =boot_stack_top
	add	sp, sp, r11

	/* Zero .bss (the file carries zeros, but a warm restart may not). */
	ldr	r0, =__bss_start
	ldr	r1, =__bss_end
	add	r0, r0, r11
	add	r1, r1, r11
	mov	r2, #0
1:	cmp	r0, r1
	strlo	r2, [r0], #4
	blo	1b

	/* Apply R_ARM_RELATIVE relocations: *(base + off) += base. Any other
	 * type means the image was linked wrongly: stop rather than run. */
	ldr	r4, =__rel_start
	ldr	r5, =__rel_end
	add	r4, r4, r11
	add	r5, r5, r11
2:	cmp	r4, r5
	bhs	3f
	ldmia	r4!, {r6, r7}
	and	r7, r7, #0xff
	cmp	r7, #R_ARM_RELATIVE
	bne	relocation_failed
	ldr	r8, [r6, r11]
	add	r8, r8, r11
	str	r8, [r6, r11]
	b	2b
3:
	/* From here on, literal-pool addresses are relocated: no "+ r11". */
	cps	#MODE_IRQ
	ldr	sp, =irq_stack_top
	cps	#MODE_ABT
	ldr	sp, =exception_stack_top
	cps	#MODE_UND
	ldr	sp, =exception_stack_top
	cps	#MODE_SVC

	/* Vectors: VBAR needs 32-byte alignment; SCTLR.V = 0 (Xen's init). */
	ldr	r0, =exception_vectors
	mcr	p15, 0, r0, c12, c0, 0
	isb

	mov	r0, r10
	mov	r1, r11
	blx	arch_start		/* (void *dtb, uintptr_t load_address), C, never returns */
relocation_failed:
	wfi
	b	relocation_failed

	.ltorg

/* ------------------------------------------------------------------ vectors */
	.text
	.balign 32
exception_vectors:
	b	.			/* reset: not taken in a guest */
	b	vector_undef
	b	vector_svc
	b	vector_prefetch_abort
	b	vector_data_abort
	b	.			/* unused */
	b	vector_irq
	b	vector_fiq

/*
 * Fatal exceptions: build a struct arch_registers (r0-r12, sp, lr, pc,
 * cpsr) on the mode's stack and hand it to C, which reports and shuts the
 * domain down. sp/lr are the SVC ones: the runtime only runs in SVC mode.
 */
.macro FATAL_EXCEPTION kind, lr_adjust
	sub	lr, lr, #\lr_adjust
	sub	sp, sp, #(17 * 4)
	stmia	sp, {r0-r12}
	str	lr, [sp, #(15 * 4)]
	mrs	r0, spsr
	str	r0, [sp, #(16 * 4)]
	mrs	r0, sp_svc
	str	r0, [sp, #(13 * 4)]
	mrs	r0, lr_svc
	str	r0, [sp, #(14 * 4)]
	mov	r0, #\kind
	mov	r1, sp
	blx	arch_fatal_exception	/* never returns */
	b	.
.endm

vector_undef:		FATAL_EXCEPTION 1, 4
vector_svc:		FATAL_EXCEPTION 2, 0
vector_prefetch_abort:	FATAL_EXCEPTION 3, 4
vector_data_abort:	FATAL_EXCEPTION 4, 8
vector_fiq:		FATAL_EXCEPTION 6, 4

/* IRQs (Xen's event-channel PPI and the virtual timer) return to where
 * they interrupted; the C handler runs in IRQ mode with IRQs masked. */
vector_irq:
	sub	lr, lr, #4
	push	{r0-r3, r12, lr}
	blx	arch_irq
	pop	{r0-r3, r12, lr}
	movs	pc, lr

/*
 * void arch_run_on_stack(void *stack_top, void (*function)(void *), void *arg)
 * Continue on another stack; function must not return.
 */
	.global arch_run_on_stack
	.type arch_run_on_stack, %function
arch_run_on_stack:
	mov	sp, r0
	mov	r0, r2
	bx	r1
	.size arch_run_on_stack, . - arch_run_on_stack

/* ------------------------------------------------------------------ stacks */
	.bss
	.balign 16
	/* Only start-up runs here: the application's stack comes from the
	 * heap (runtime.c), which keeps the image - .bss included - small. */
	.space	2048
	.global boot_stack_top
boot_stack_top:
	.space	1024
irq_stack_top:
	.space	2048
exception_stack_top:
