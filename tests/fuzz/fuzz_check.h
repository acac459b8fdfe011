/* Invariant checks for the libFuzzer harnesses: a broken invariant aborts, which libFuzzer
 * reports as a crash and saves the input (crash-<sha1>) for replay. */
#ifndef RESUMABLE_FUZZ_CHECK_H
#define RESUMABLE_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                           \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

#endif
