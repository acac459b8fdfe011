/* The path chosen on first use: the fastest this CPU runs, or the portable one when the
 * environment says RESUMABLE_SHA256=portable. Registered twice in meson, with and without;
 * nothing here forces a path, so every case sees the first-use choice. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sha256_impl.h"

static const char *fastest_supported(void)
{
  size_t n;
  const rs_sha256_impl *impls = rs_sha256_impls(&n);
  for (size_t i = n; i-- > 0;)
    if (impls[i].supported())
      return impls[i].name;
  return NULL;
}

enum { THREADS = 8 };

static void *first_use(void *arg)
{
  *(const char **)arg = rs_sha256_impl_name();
  return NULL;
}

/* Runs first: the one-time choice races from several threads and all see the same path. */
static void concurrent_first_use_agrees_on_one_path(void **state)
{
  (void)state;
  pthread_t t[THREADS];
  const char *seen[THREADS] = {0};
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, first_use, &seen[i]), 0);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  for (int i = 0; i < THREADS; i++) {
    assert_non_null(seen[i]);
    assert_string_equal(seen[i], rs_sha256_impl_name());
  }
}

static void first_use_honours_resumable_sha256_env(void **state)
{
  (void)state;
  const char *env = getenv("RESUMABLE_SHA256");
  int want_portable = env != NULL && strcmp(env, "portable") == 0;
  const char *want = want_portable ? "portable" : fastest_supported();
  print_message("# RESUMABLE_SHA256=%s: path %s\n", env ? env : "(unset)", rs_sha256_impl_name());
  assert_non_null(want);
  assert_string_equal(rs_sha256_impl_name(), want);
  /* And it hashes correctly there. */
  uint8_t got[32];
  static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                  0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                  0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  rs_sha256_digest("abc", 3, got);
  assert_memory_equal(got, abc, 32);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(concurrent_first_use_agrees_on_one_path),
      cmocka_unit_test(first_use_honours_resumable_sha256_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
