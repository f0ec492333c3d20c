/* arch/cc.h — lwIP port definitions for the benchmark (host and Cortex-A7). */
#ifndef BENCH_ARCH_CC_H
#define BENCH_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>

#define LWIP_NOASSERT 1 /* net/ has no assertions either */
#define LWIP_PLATFORM_DIAG(x)                                                                      \
	do {                                                                                       \
		printf x;                                                                          \
	} while (0)
#define LWIP_PLATFORM_ASSERT(x)                                                                    \
	do {                                                                                       \
		printf("lwIP assertion: %s\n", x);                                                 \
		abort();                                                                           \
	} while (0)
#define LWIP_NO_UNISTD_H 1

#endif
