/* See fm_run.h. */
#include "fm_run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Far above any scenario's allocation count: a loop that never ends is a bug of the wrapper. */
#define FM_MAX_RUNS 100000

long fm_each(const char *name, fm_scenario fn, void *arg)
{
  size_t before = fm_live();
  for (long n = 0; n < FM_MAX_RUNS; n++) {
    fm_arm(n);
    fn(arg, n);
    int hit = fm_disarm();
    size_t after = fm_live();
    if (after != before)
      fail_msg("%s: %zu block(s) leaked with allocation %ld failing", name, after - before, n);
    if (!hit) {
      print_message("# %s: %ld allocations, each failed in turn\n", name, n);
      return n;
    }
  }
  fail_msg("%s: still allocating after %d runs", name, FM_MAX_RUNS);
  return -1;
}
