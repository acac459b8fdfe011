/* See clock.h. */
#include "clock.h"

#include <time.h>

uint64_t rs_now_ms(void)
{
  struct timespec ts = {0, 0};
  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
