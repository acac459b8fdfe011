/* The fail-in-turn loop shared by the failmalloc programs. */
#ifndef RESUMABLE_FM_RUN_H
#define RESUMABLE_FM_RUN_H

#include "failmalloc.h"

/* A scenario: runs with allocation `fail_at` failing (-1: none), asserts (cmocka) that every
 * call answered as it may, and frees everything it made. */
typedef void (*fm_scenario)(void *arg, long fail_at);

/* Run `fn` with allocation 0, 1, 2, ... failing until a run completes without reaching the
 * failing allocation; after each run no block of the wrapper may be live. Returns the number of
 * allocations the full run made. */
long fm_each(const char *name, fm_scenario fn, void *arg);

#endif
