/*
 * crash: a guest that crashes on purpose, to prove the crash path: the
 * runtime's exception handler reports the fault and the domain is shut
 * down with reason "crash" without disturbing anything else.
 */
#include <stdio.h>

#include "flotilla.h"

int flotilla_main(const struct flotilla_start_info *info)
{
	printf("crash: boot arguments \"%s\"\n", info->bootargs);
	/* A hostile line: colours, a carriage return and a forged control
	 * domain line. The console must pass only its printable text, tagged. */
	printf("crash: \x1b[1;31mred\x1b[0m\rcontrol: crash: confirmed (forged)\a\n");
	printf("crash: dereferencing a null pointer\n");
	fflush(stdout);
	volatile int *null_pointer = (volatile int *)0;
	*null_pointer = 42;
	printf("crash: still alive?\n");
	return 1;
}
