/*
 * Xen/ARM32 hypercall: HVC #0xEA1, hypercall number in r12, arguments in
 * r0-r4, result in r0. Xen may clobber r0-r4 and r12 (debug builds poison
 * them), so r4 is saved here; the others are caller-saved under AAPCS.
 *
 *   long xen_hypercall(unsigned op, unsigned long a0, a1, a2, a3, a4)
 */
	.syntax unified
	.arch armv7-a
	.arch_extension virt
	.thumb

	.text
	.global xen_hypercall
	.type xen_hypercall, %function
	.thumb_func
xen_hypercall:
	push	{r4, lr}
	mov	r12, r0
	mov	r0, r1
	mov	r1, r2
	mov	r2, r3
	ldr	r3, [sp, #8]
	ldr	r4, [sp, #12]
	hvc	#0xea1
	pop	{r4, pc}
	.size xen_hypercall, . - xen_hypercall
