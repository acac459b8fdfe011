/* The tus URL store (lib/client/url_store.c): lookup, replace, bound, removal, and a damaged file read
 * as empty and replaced. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_fs.h"
#include "url_store.h"

static int setup(void **state)
{
  char *dir = malloc(64);
  snprintf(dir, 64, "/tmp/rs-urls-XXXXXX");
  assert_non_null(mkdtemp(dir));
  *state = dir;
  return 0;
}

static int teardown(void **state)
{
  assert_int_equal(test_remove_tree(*state), 0);
  free(*state);
  return 0;
}

static void key_of(unsigned i, uint8_t key[32])
{
  uint8_t sha[32] = {(uint8_t)i};
  rs_us_key("http://h/files/", 1, i, 100, 5, 6, 7, 8, sha, key);
}

static void entries_round_trip_and_are_replaced(void **state)
{
  char store[96];
  snprintf(store, sizeof store, "%s/nested/dir", (char *)*state); /* made on the first store */
  uint8_t k1[32], k2[32];
  key_of(1, k1);
  key_of(2, k2);
  char urls[RS_US_MAX_URLS][RS_TUS_URL_MAX + 1];
  assert_int_equal(rs_us_lookup(store, k1, urls, RS_US_MAX_URLS), 0);
  const char *one[] = {"http://h/files/a"};
  const char *two[] = {"http://h/files/p1", "https://h/files/p2"};
  assert_int_equal(rs_us_store(store, k1, one, 1), 0);
  assert_int_equal(rs_us_store(store, k2, two, 2), 0);
  assert_int_equal(rs_us_lookup(store, k1, urls, RS_US_MAX_URLS), 1);
  assert_string_equal(urls[0], "http://h/files/a");
  assert_int_equal(rs_us_lookup(store, k2, urls, RS_US_MAX_URLS), 2);
  assert_string_equal(urls[1], "https://h/files/p2");
  const char *newer[] = {"http://h/files/b"};
  assert_int_equal(rs_us_store(store, k1, newer, 1), 0);
  assert_int_equal(rs_us_lookup(store, k1, urls, RS_US_MAX_URLS), 1);
  assert_string_equal(urls[0], "http://h/files/b");
  assert_int_equal(rs_us_remove(store, k1), 0);
  assert_int_equal(rs_us_lookup(store, k1, urls, RS_US_MAX_URLS), 0);
  assert_int_equal(rs_us_lookup(store, k2, urls, RS_US_MAX_URLS), 2); /* the other stays */
  struct stat st;
  assert_int_equal(stat(store, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
}

static void bad_urls_are_refused(void **state)
{
  uint8_t k[32];
  key_of(3, k);
  const char *bad[][1] = {{"ftp://h/x"}, {"http://h/a b"}, {"http://h/a\nb"}, {""}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(rs_us_store(*state, k, bad[i], 1), EINVAL);
  const char *ok[] = {"http://h/x"};
  assert_int_equal(rs_us_store(*state, k, ok, 0), EINVAL);
}

static void the_oldest_entries_are_evicted(void **state)
{
  const char *u[] = {"http://h/files/x"};
  uint8_t k[32];
  for (unsigned i = 0; i < RS_US_MAX_ENTRIES + 10; i++) {
    key_of(100 + i, k);
    assert_int_equal(rs_us_store(*state, k, u, 1), 0);
  }
  char urls[1][RS_TUS_URL_MAX + 1];
  key_of(100, k); /* the first ten are gone */
  assert_int_equal(rs_us_lookup(*state, k, urls, 1), 0);
  key_of(109, k);
  assert_int_equal(rs_us_lookup(*state, k, urls, 1), 0);
  key_of(110, k);
  assert_int_equal(rs_us_lookup(*state, k, urls, 1), 1);
  key_of(100 + RS_US_MAX_ENTRIES + 9, k);
  assert_int_equal(rs_us_lookup(*state, k, urls, 1), 1);
}

static void a_damaged_store_reads_as_empty_and_is_replaced(void **state)
{
  uint8_t k[32];
  key_of(4, k);
  const char *u[] = {"http://h/files/x"};
  assert_int_equal(rs_us_store(*state, k, u, 1), 0);
  char path[128];
  snprintf(path, sizeof path, "%s/%s", (char *)*state, RS_US_FILE);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, 30, SEEK_SET);
  fputc('#', f); /* one byte: the checksum no longer matches */
  fclose(f);
  char urls[1][RS_TUS_URL_MAX + 1];
  assert_int_equal(rs_us_lookup(*state, k, urls, 1), 0);
  assert_int_equal(rs_us_store(*state, k, u, 1), 0);
  assert_int_equal(rs_us_lookup(*state, k, urls, 1), 1);
}

static void keys_depend_on_every_part_of_the_identity(void **state)
{
  (void)state;
  uint8_t a[32], b[32], sha[32] = {1}, sha2[32] = {2};
  rs_us_key("http://h/files/", 1, 2, 3, 4, 5, 6, 7, sha, a);
  rs_us_key("http://h/files/", 1, 2, 3, 4, 5, 6, 7, sha, b);
  assert_memory_equal(a, b, 32);
  rs_us_key("http://h/other/", 1, 2, 3, 4, 5, 6, 7, sha, b);
  assert_memory_not_equal(a, b, 32);
  rs_us_key("http://h/files/", 1, 2, 3, 4, 5, 6, 7, sha2, b);
  assert_memory_not_equal(a, b, 32);
  rs_us_key("http://h/files/", 1, 2, 3, 4, 5, 6, 8, sha, b); /* ctime */
  assert_memory_not_equal(a, b, 32);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(entries_round_trip_and_are_replaced, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_urls_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(the_oldest_entries_are_evicted, setup, teardown),
      cmocka_unit_test_setup_teardown(a_damaged_store_reads_as_empty_and_is_replaced, setup,
                                      teardown),
      cmocka_unit_test(keys_depend_on_every_part_of_the_identity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
