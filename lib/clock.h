/* The one monotonic clock of the library, for deadlines and intervals. */
#ifndef RESUMABLE_CLOCK_H
#define RESUMABLE_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary origin; never jumps with the wall clock). */
uint64_t rs_now_ms(void);

#endif
