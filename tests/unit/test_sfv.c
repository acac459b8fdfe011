/* lib/sfv.c: RFC 8941 items, booleans, integers, byte sequences and dictionaries, and the
 * RFC 9530 digest lookup. Each input is copied to a heap block of its exact length, so ASan
 * flags any read past it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sfv.h"

static char *exact(const char *s)
{
  size_t n = strlen(s);
  char *p = malloc(n ? n : 1);
  assert_non_null(p);
  memcpy(p, s, n);
  return p;
}

static int uint_of(const char *s, uint64_t *out)
{
  char *p = exact(s);
  int rc = rs_sfv_uint(p, strlen(s), out);
  free(p);
  return rc;
}

static int bool_of(const char *s, int *out)
{
  char *p = exact(s);
  int rc = rs_sfv_bool(p, strlen(s), out);
  free(p);
  return rc;
}

static int dict_ok(const char *s)
{
  char *p = exact(s);
  int rc = rs_sfv_dict(p, strlen(s), NULL, NULL);
  free(p);
  return rc;
}

static void integers_parse(void **state)
{
  (void)state;
  static const struct {
    const char *in;
    uint64_t want;
  } ok[] = {{"0", 0},       {"42", 42},      {" 7 ", 7},   {"999999999999999", 999999999999999ull},
            {"12;a=1", 12}, {"5;x;y=?0", 5}, {"00012", 12}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    uint64_t v = 1;
    print_message("# integer %s\n", ok[i].in);
    assert_int_equal(uint_of(ok[i].in, &v), 0);
    assert_true(v == ok[i].want);
  }
}

static void integers_reject(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "",     " ",  "-1",    "1000000000000000", "1.5", "+1",    "1 2", "1,2",
      "a",    "?1", "\"1\"", ":AQ==:",           "1;",  "1;A=1", "1\t", "0x10",
      "1;a=", "(1)"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint64_t v = 0;
    print_message("# not a non-negative integer: '%s'\n", bad[i]);
    assert_int_equal(uint_of(bad[i], &v), -1);
  }
}

static void booleans(void **state)
{
  (void)state;
  int v = -1;
  assert_int_equal(bool_of("?0", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(bool_of("?1", &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(bool_of(" ?1;p=2 ", &v), 0);
  assert_int_equal(v, 1);
  static const char *const bad[] = {"",    "?",   "?2",  "1",      "true", "?1 ?0",
                                    "?01", "?1,", "??1", "\"?1\"", "?1;"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    print_message("# not a boolean: '%s'\n", bad[i]);
    assert_int_equal(bool_of(bad[i], &v), -1);
  }
}

static void dictionaries(void **state)
{
  (void)state;
  static const char *const ok[] = {"a=1",
                                   "a=1, b=2",
                                   "a=1,b=2",
                                   "a, b=?0",
                                   "a=(1 2);p, b=:AQ==:",
                                   "max-size=100, max-age=3600",
                                   "a=\"x\\\"y\"",
                                   "a=1.5",
                                   "a=tok/en:x",
                                   "*a=1",
                                   "a=()",
                                   "a=1;q=2;r",
                                   " a=1 ",
                                   "a=1,\tb=2",
                                   "a=:AQ:"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    print_message("# dictionary '%s'\n", ok[i]);
    assert_int_equal(dict_ok(ok[i]), 0);
  }
  static const char *const bad[] = {
      "a=1,",  ",a=1",     "A=1",   "a=1 b=2",  "a=\"x", "a=\"\\x\"", "a=:AQ=",
      "a=:A:", "a=:A*==:", "a=(1",  "a=(1,2)",  "a=1.",  "a=1.2345",  "a=1234567890123.5",
      "a==1",  "1a=1",     "a=@12", "a=%\"x\"", "a=1;",  "a=\"\x01\""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    print_message("# not a dictionary: '%s'\n", bad[i]);
    assert_int_equal(dict_ok(bad[i]), -1);
  }
}

/* sha-256 of "" in base64 */
#define EMPTY_B64 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

static void digests(void **state)
{
  (void)state;
  uint8_t d[32];
  memset(d, 0, sizeof(d));
  assert_int_equal(rs_sfv_digest("sha-256=:" EMPTY_B64 ":", "sha-256", d), 1);
  assert_int_equal(d[0], 0xe3);
  assert_int_equal(d[31], 0x55);
  /* other members are skipped; the last duplicate wins */
  assert_int_equal(
      rs_sfv_digest("sha-512=:AQ==:, sha-256=:AAAA:, sha-256=:" EMPTY_B64 ":", "sha-256", d), 1);
  assert_int_equal(d[0], 0xe3);
  assert_int_equal(rs_sfv_digest("sha-512=:AQ==:", "sha-256", d), 0);
  assert_int_equal(rs_sfv_digest("", "sha-256", d), 0);
  /* wrong length, wrong type, malformed field */
  assert_int_equal(rs_sfv_digest("sha-256=:AQ==:", "sha-256", d), -1);
  assert_int_equal(rs_sfv_digest("sha-256=1", "sha-256", d), -1);
  assert_int_equal(rs_sfv_digest("sha-256=:" EMPTY_B64 ":,", "sha-256", d), -1);
  assert_int_equal(rs_sfv_digest("sha-256=" EMPTY_B64, "sha-256", d), -1);
  uint8_t d64[64];
  assert_int_equal(rs_sfv_digest_n("sha-256=:" EMPTY_B64 ":", "sha-256", d64, 64), -1);
}

static int count_members(void *arg, const char *key, const rs_sfv_value *v)
{
  (void)key;
  (void)v;
  (*(int *)arg)++;
  return 0;
}

static void dict_reports_members_only_when_whole_field_parses(void **state)
{
  (void)state;
  int n = 0;
  char *p = exact("a=1, b=2, c=");
  assert_int_equal(rs_sfv_dict(p, 12, count_members, &n), -1);
  free(p);
  assert_int_equal(n, 0);
  p = exact("a=1, b=?0, c");
  assert_int_equal(rs_sfv_dict(p, 12, count_members, &n), 0);
  free(p);
  assert_int_equal(n, 3);
}

static void bytes_decode(void **state)
{
  (void)state;
  rs_sfv_value v;
  char *p = exact(":aGVsbG8=:");
  assert_int_equal(rs_sfv_item(p, 10, RS_SFV_BYTES, &v), 0);
  uint8_t out[8];
  size_t n = 0;
  assert_int_equal(rs_sfv_bytes(&v, out, sizeof(out), &n), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(out, "hello", 5);
  assert_int_equal(rs_sfv_bytes(&v, out, 4, &n), -1);
  free(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(integers_parse),
      cmocka_unit_test(integers_reject),
      cmocka_unit_test(booleans),
      cmocka_unit_test(dictionaries),
      cmocka_unit_test(digests),
      cmocka_unit_test(dict_reports_members_only_when_whole_field_parses),
      cmocka_unit_test(bytes_decode),
  };
  return cmocka_run_group_tests_name("sfv", tests, NULL, NULL);
}
