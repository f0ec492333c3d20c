/* The stack's whole state as one static object: its .bss is net/'s RAM. */
#include "stack.h"

struct net_stack bench_stack;
