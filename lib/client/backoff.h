/* Exponential backoff with jitter between retries, and the Retry-After header. Pure: the random
 * source and the current time are injected, so tests pin every value. */
#ifndef RESUMABLE_BACKOFF_H
#define RESUMABLE_BACKOFF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Returns a uniformly distributed 64-bit value. */
typedef uint64_t (*rs_random_fn)(void *user_data);

typedef struct rs_backoff {
  uint64_t min_ms;
  uint64_t max_ms;
  uint64_t step_ms; /* the next un-jittered wait */
  int jitter;       /* resumable_jitter */
  rs_random_fn rnd;
  void *rnd_ud;
} rs_backoff;

/* 1 <= min_ms <= max_ms. `rnd` may be NULL only with RESUMABLE_JITTER_NONE. */
void rs_backoff_init(rs_backoff *b, uint64_t min_ms, uint64_t max_ms, int jitter, rs_random_fn rnd,
                     void *rnd_ud);

/* The wait before the next retry; then doubles the step (capped at max_ms).
 * NONE: step; FULL: uniform in [0, step]; EQUAL: step/2 + uniform in [0, step - step/2]. */
uint64_t rs_backoff_next(rs_backoff *b);

/* Back to min_ms: progress was made. */
void rs_backoff_reset(rs_backoff *b);

/* Parse a Retry-After value of `len` bytes: delay-seconds (digits only) or an HTTP-date, which
 * is converted to a delay from `now` (a date in the past is 0). Surrounding whitespace must
 * already be trimmed. Returns 0 and sets *ms, or -1 if malformed. Seconds are capped at 2^31. */
int rs_retry_after_parse(const char *v, size_t len, time_t now, uint64_t *ms);

/* splitmix64: a small, fast generator for jitter (not for secrets). `state` is the seed. */
uint64_t rs_splitmix64(void *state);

#endif
