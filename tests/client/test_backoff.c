/* lib/client/backoff.c: exponential backoff with injected randomness, and Retry-After parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"
#include "resumable/stager.h"

/* A "random" source that returns a fixed value, so every jittered wait is known. */
static uint64_t fixed_rnd(void *ud)
{
  return *(uint64_t *)ud;
}

static void backoff_without_jitter_doubles_from_min_to_max(void **state)
{
  (void)state;
  rs_backoff b;
  rs_backoff_init(&b, 1000, 30000, RESUMABLE_JITTER_NONE, NULL, NULL);
  const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    assert_int_equal(rs_backoff_next(&b), want[i]);
}

static void backoff_reset_returns_to_min(void **state)
{
  (void)state;
  rs_backoff b;
  rs_backoff_init(&b, 250, 4000, RESUMABLE_JITTER_NONE, NULL, NULL);
  rs_backoff_next(&b);
  rs_backoff_next(&b);
  rs_backoff_reset(&b);
  assert_int_equal(rs_backoff_next(&b), 250);
  assert_int_equal(rs_backoff_next(&b), 500);
}

static void backoff_full_jitter_spans_zero_to_step(void **state)
{
  (void)state;
  rs_backoff b;
  uint64_t r = 0;
  rs_backoff_init(&b, 1000, 30000, RESUMABLE_JITTER_FULL, fixed_rnd, &r);
  assert_int_equal(rs_backoff_next(&b), 0); /* rnd 0 -> the bottom of [0, 1000] */
  r = 2000;                                 /* 2000 % 2001 = 2000: the top of [0, 2000] */
  assert_int_equal(rs_backoff_next(&b), 2000);
}

static void backoff_equal_jitter_keeps_half_the_step(void **state)
{
  (void)state;
  rs_backoff b;
  uint64_t r = 0;
  rs_backoff_init(&b, 1000, 30000, RESUMABLE_JITTER_EQUAL, fixed_rnd, &r);
  assert_int_equal(rs_backoff_next(&b), 500);
  r = UINT64_MAX; /* whatever the draw, the second wait stays in [1000, 2000] */
  uint64_t w = rs_backoff_next(&b);
  assert_true(w >= 1000 && w <= 2000);
}

static void backoff_jitter_never_exceeds_the_step(void **state)
{
  (void)state;
  uint64_t seed = 42;
  for (int mode = RESUMABLE_JITTER_FULL; mode <= RESUMABLE_JITTER_EQUAL; mode++) {
    rs_backoff b;
    rs_backoff_init(&b, 7, 1000, mode, rs_splitmix64, &seed);
    uint64_t step = 7;
    for (int i = 0; i < 200; i++) {
      uint64_t w = rs_backoff_next(&b);
      assert_true(w <= step);
      if (mode == RESUMABLE_JITTER_EQUAL)
        assert_true(w >= step / 2);
      step = step * 2 > 1000 ? 1000 : step * 2;
    }
  }
}

static void backoff_step_does_not_overflow_at_huge_max(void **state)
{
  (void)state;
  rs_backoff b;
  rs_backoff_init(&b, 1, UINT64_MAX, RESUMABLE_JITTER_NONE, NULL, NULL);
  uint64_t last = 0;
  for (int i = 0; i < 80; i++) {
    uint64_t w = rs_backoff_next(&b);
    assert_true(w >= last);
    last = w;
  }
  assert_true(last >= (UINT64_C(1) << 62));
}

static void retry_after_parses_delay_seconds(void **state)
{
  (void)state;
  uint64_t ms = 0;
  assert_int_equal(rs_retry_after_parse("1", 1, 0, &ms), 0);
  assert_int_equal(ms, 1000);
  assert_int_equal(rs_retry_after_parse("120", 3, 0, &ms), 0);
  assert_int_equal(ms, 120000);
}

static void retry_after_parses_http_date_relative_to_now(void **state)
{
  (void)state;
  const char *d = "Sun, 06 Nov 1994 08:49:37 GMT"; /* 784111777 */
  uint64_t ms = 0;
  assert_int_equal(rs_retry_after_parse(d, strlen(d), 784111777 - 5, &ms), 0);
  assert_int_equal(ms, 5000);
}

static void retry_after_date_in_the_past_is_zero(void **state)
{
  (void)state;
  const char *d = "Sun, 06 Nov 1994 08:49:37 GMT";
  uint64_t ms = 99;
  assert_int_equal(rs_retry_after_parse(d, strlen(d), 784111777 + 60, &ms), 0);
  assert_int_equal(ms, 0);
}

static void retry_after_rejects_garbage(void **state)
{
  (void)state;
  uint64_t ms = 7;
  assert_int_equal(rs_retry_after_parse("", 0, 0, &ms), -1);
  assert_int_equal(rs_retry_after_parse("1.5", 3, 0, &ms), -1);
  assert_int_equal(rs_retry_after_parse("-1", 2, 0, &ms), -1);
  assert_int_equal(rs_retry_after_parse("soon", 4, 0, &ms), -1);
  assert_int_equal(ms, 7);
}

static void retry_after_caps_huge_seconds(void **state)
{
  (void)state;
  uint64_t ms = 0;
  assert_int_equal(rs_retry_after_parse("9223372036854775807", 19, 0, &ms), 0);
  assert_int_equal(ms, (UINT64_C(1) << 31) * 1000);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(backoff_without_jitter_doubles_from_min_to_max),
      cmocka_unit_test(backoff_reset_returns_to_min),
      cmocka_unit_test(backoff_full_jitter_spans_zero_to_step),
      cmocka_unit_test(backoff_equal_jitter_keeps_half_the_step),
      cmocka_unit_test(backoff_jitter_never_exceeds_the_step),
      cmocka_unit_test(backoff_step_does_not_overflow_at_huge_max),
      cmocka_unit_test(retry_after_parses_delay_seconds),
      cmocka_unit_test(retry_after_parses_http_date_relative_to_now),
      cmocka_unit_test(retry_after_date_in_the_past_is_zero),
      cmocka_unit_test(retry_after_rejects_garbage),
      cmocka_unit_test(retry_after_caps_huge_seconds),
  };
  return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
