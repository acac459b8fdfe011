/* A failing allocator for the library's own objects: the failmalloc programs are linked with
 * -Wl,--wrap=malloc,... so that every malloc, calloc, realloc, strdup, strndup and free of the
 * static library and of the test's objects comes here, while libcurl's, libc's and cmocka's
 * internals (shared libraries) keep the real allocator. Allocation number `n` (0-based, counted
 * from fm_arm) fails; the live blocks this wrapper handed out are tracked so that a run can
 * assert it freed everything it allocated. Thread-safe (the library's pools allocate too). */
#ifndef RESUMABLE_FAILMALLOC_H
#define RESUMABLE_FAILMALLOC_H

#include <stddef.h>

/* Count allocations from 0 again and fail allocation number `n` (-1: none fails). */
void fm_arm(long n);
/* Stop failing; returns 1 if the armed allocation was reached (and failed) since fm_arm. */
int fm_disarm(void);
/* While held (1), allocations are neither counted nor failed: a scenario's own set-up. */
void fm_hold(int on);
/* Allocations counted since the last fm_arm. */
long fm_count(void);
/* Blocks handed out by the wrapper and not yet freed (whenever they were allocated). */
size_t fm_live(void);

#endif
