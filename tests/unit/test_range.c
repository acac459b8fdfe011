/* lib/range.c: Content-Range (PUT), Range (GET) and strict decimals. Table-driven: each row is a
 * named cmocka case, so the TAP output names the behaviour that broke. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "range.h"

/* Copy a test input into a heap block of exactly len bytes, so ASan flags any read past len. */
static char *exact_copy(const char *s, size_t len)
{
  char *p = malloc(len ? len : 1);
  assert_non_null(p);
  if (len)
    memcpy(p, s, len);
  return p;
}

#define MAX63 "9223372036854775807"
#define OVER63 "9223372036854775808"

/* ---- rs_content_range_parse --------------------------------------------------------------- */

typedef struct cr_case {
  const char *s;
  size_t len;
  int rc;
  int is_query;
  uint64_t start, end, total;
} cr_case;

#define CONTENT_RANGE_CASES(OK, QUERY, BAD)                                                        \
  OK(content_range_accepts_first_chunk, "bytes 0-9/10", 0, 9, 10)                                  \
  OK(content_range_accepts_single_byte_file, "bytes 0-0/1", 0, 0, 1)                               \
  OK(content_range_accepts_middle_chunk, "bytes 5-9/20", 5, 9, 20)                                 \
  OK(content_range_accepts_end_equal_total_minus_one, "bytes 10-19/20", 10, 19, 20)                \
  OK(content_range_accepts_start_equal_end, "bytes 7-7/8", 7, 7, 8)                                \
  OK(content_range_accepts_total_2p63_minus_1, "bytes 0-9223372036854775806/" MAX63, 0,            \
     INT64_MAX - 1, INT64_MAX)                                                                     \
  OK(content_range_accepts_leading_zeros, "bytes 007-009/010", 7, 9, 10)                           \
  OK(content_range_accepts_19_digits_with_leading_zeros,                                           \
     "bytes 0000000000000000000-0000000000000000009/10", 0, 9, 10)                                 \
  OK(content_range_accepts_capitalised_unit_per_rfc9110_case_insensitive, "Bytes 0-9/10", 0, 9,    \
     10)                                                                                           \
  OK(content_range_accepts_upper_case_unit_per_rfc9110_case_insensitive, "BYTES 0-9/10", 0, 9, 10) \
  QUERY(content_range_accepts_status_query, "bytes */10", 10)                                      \
  QUERY(content_range_accepts_status_query_with_zero_total, "bytes */0", 0)                        \
  QUERY(content_range_accepts_status_query_with_total_2p63_minus_1, "bytes */" MAX63, INT64_MAX)   \
  QUERY(content_range_accepts_status_query_with_leading_zeros, "bytes */0010", 10)                 \
  BAD(content_range_rejects_empty, "")                                                             \
  BAD(content_range_rejects_unit_only, "bytes")                                                    \
  BAD(content_range_rejects_unit_and_space_only, "bytes ")                                         \
  BAD(content_range_rejects_missing_space, "bytes0-9/10")                                          \
  BAD(content_range_rejects_two_spaces, "bytes  0-9/10")                                           \
  BAD(content_range_rejects_tab_after_unit, "bytes\t0-9/10")                                       \
  BAD(content_range_rejects_equals_after_unit, "bytes=0-9/10")                                     \
  BAD(content_range_rejects_other_unit, "items 0-9/10")                                            \
  BAD(content_range_rejects_unit_prefix_only, "byte 0-9/10")                                       \
  BAD(content_range_rejects_longer_unit, "bytess 0-9/10")                                          \
  BAD(content_range_rejects_leading_space, " bytes 0-9/10")                                        \
  BAD(content_range_rejects_trailing_space, "bytes 0-9/10 ")                                       \
  BAD(content_range_rejects_trailing_newline, "bytes 0-9/10\r\n")                                  \
  BAD(content_range_rejects_space_before_dash, "bytes 0 -9/10")                                    \
  BAD(content_range_rejects_space_after_dash, "bytes 0- 9/10")                                     \
  BAD(content_range_rejects_space_before_slash, "bytes 0-9 /10")                                   \
  BAD(content_range_rejects_space_after_slash, "bytes 0-9/ 10")                                    \
  BAD(content_range_rejects_space_inside_number, "bytes 0-1 9/20")                                 \
  BAD(content_range_rejects_leading_plus, "bytes +0-9/10")                                         \
  BAD(content_range_rejects_plus_on_end, "bytes 0-+9/10")                                          \
  BAD(content_range_rejects_plus_on_total, "bytes 0-9/+10")                                        \
  BAD(content_range_rejects_leading_minus, "bytes -0-9/10")                                        \
  BAD(content_range_rejects_minus_on_end, "bytes 0--9/10")                                         \
  BAD(content_range_rejects_minus_on_total, "bytes 0-9/-10")                                       \
  BAD(content_range_rejects_start_after_end, "bytes 5-4/10")                                       \
  BAD(content_range_rejects_end_equal_total, "bytes 0-10/10")                                      \
  BAD(content_range_rejects_end_past_total, "bytes 0-11/10")                                       \
  BAD(content_range_rejects_zero_total_in_range_form, "bytes 0-0/0")                               \
  BAD(content_range_rejects_total_2p63, "bytes 0-0/" OVER63)                                       \
  BAD(content_range_rejects_start_2p63, "bytes " OVER63 "-" OVER63 "/" MAX63)                      \
  BAD(content_range_rejects_end_2p63, "bytes 0-" OVER63 "/" MAX63)                                 \
  BAD(content_range_rejects_query_total_2p63, "bytes */" OVER63)                                   \
  BAD(content_range_rejects_20_digit_total, "bytes 0-0/10000000000000000000")                      \
  BAD(content_range_rejects_20_digits_even_with_leading_zero, "bytes 0-0/00000000000000000010")    \
  BAD(content_range_rejects_total_that_wraps_u64, "bytes 0-9/18446744073709551626")                \
  BAD(content_range_rejects_empty_start, "bytes -9/10")                                            \
  BAD(content_range_rejects_empty_end, "bytes 0-/10")                                              \
  BAD(content_range_rejects_empty_total, "bytes 0-9/")                                             \
  BAD(content_range_rejects_missing_total, "bytes 0-9")                                            \
  BAD(content_range_rejects_missing_dash, "bytes 9/10")                                            \
  BAD(content_range_rejects_unknown_total_star, "bytes 0-9/*")                                     \
  BAD(content_range_rejects_query_without_total, "bytes */")                                       \
  BAD(content_range_rejects_query_with_star_total, "bytes */*")                                    \
  BAD(content_range_rejects_star_with_start, "bytes *0-9/10")                                      \
  BAD(content_range_rejects_double_star, "bytes **/10")                                            \
  BAD(content_range_rejects_star_range, "bytes *-9/10")                                            \
  BAD(content_range_rejects_extra_slash, "bytes 0-9/10/10")                                        \
  BAD(content_range_rejects_extra_dash, "bytes 0-5-9/10")                                          \
  BAD(content_range_rejects_trailing_garbage, "bytes 0-9/10x")                                     \
  BAD(content_range_rejects_embedded_nul, "bytes 0-9/1\0"                                          \
                                          "0")                                                     \
  BAD(content_range_rejects_trailing_nul, "bytes 0-9/10\0")                                        \
  BAD(content_range_rejects_nul_after_unit, "bytes\0"                                              \
                                            "0-9/10")                                              \
  BAD(content_range_rejects_hex_number, "bytes 0x0-9/10")                                          \
  BAD(content_range_rejects_decimal_point, "bytes 0-9/10.0")                                       \
  BAD(content_range_rejects_several_ranges, "bytes 0-4,5-9/10")                                    \
  BAD(content_range_rejects_non_ascii_digits, "bytes 0-9/\xef\xbc\x91\xef\xbc\x90")

#define CR_DEF_OK(name, lit, a, b, t) static cr_case name = {lit, sizeof(lit) - 1, 0, 0, a, b, t};
#define CR_DEF_QUERY(name, lit, t) static cr_case name = {lit, sizeof(lit) - 1, 0, 1, 0, 0, t};
#define CR_DEF_BAD(name, lit) static cr_case name = {lit, sizeof(lit) - 1, -1, 0, 0, 0, 0};
CONTENT_RANGE_CASES(CR_DEF_OK, CR_DEF_QUERY, CR_DEF_BAD)

static void run_content_range_case(void **state)
{
  const cr_case *c = *state;
  const rs_content_range sentinel = {7, 111, 222, 333};
  rs_content_range r = sentinel;
  char *s = exact_copy(c->s, c->len);

  int rc = rs_content_range_parse(s, c->len, &r);
  free(s);
  assert_int_equal(rc, c->rc);
  if (rc != 0) {
    assert_memory_equal(&r, &sentinel, sizeof r); /* out untouched on error */
    return;
  }
  assert_int_equal(r.is_query, c->is_query);
  assert_int_equal(r.total, c->total);
  if (!c->is_query) {
    assert_int_equal(r.start, c->start);
    assert_int_equal(r.end, c->end);
  }
  /* Whatever parses formats back to a canonical string that parses to the same range. */
  char buf[80];
  rs_content_range again = sentinel;
  int n = rs_content_range_format(&r, buf, sizeof buf);
  assert_true(n > 0);
  assert_int_equal(rs_content_range_parse(buf, (size_t)n, &again), 0);
  assert_int_equal(again.is_query, r.is_query);
  assert_int_equal(again.total, r.total);
  if (!r.is_query) {
    assert_int_equal(again.start, r.start);
    assert_int_equal(again.end, r.end);
  }
}

static void content_range_rejects_null_input(void **state)
{
  (void)state;
  rs_content_range r = {0};
  assert_int_equal(rs_content_range_parse(NULL, 0, &r), -1);
  assert_int_equal(rs_content_range_parse("bytes 0-0/1", 11, NULL), -1);
}

static void content_range_reads_only_len_bytes(void **state)
{
  (void)state;
  rs_content_range r = {0};
  /* The value is not NUL-terminated: what follows len must not matter. */
  assert_int_equal(rs_content_range_parse("bytes 0-9/10junk", 12, &r), 0);
  assert_int_equal(r.total, 10);
  assert_int_equal(rs_content_range_parse("bytes 0-0/10junk", 11, &r), 0);
  assert_int_equal(r.total, 1);
}

/* ---- rs_content_range_format -------------------------------------------------------------- */

static void content_range_format_writes_range(void **state)
{
  (void)state;
  rs_content_range r = {0, 0, 9, 10};
  char buf[32];
  assert_int_equal(rs_content_range_format(&r, buf, sizeof buf), 12);
  assert_string_equal(buf, "bytes 0-9/10");
}

static void content_range_format_writes_query(void **state)
{
  (void)state;
  rs_content_range r = {1, 5, 6, 0};
  char buf[32];
  assert_int_equal(rs_content_range_format(&r, buf, sizeof buf), 9);
  assert_string_equal(buf, "bytes */0");
}

static void content_range_format_writes_max_values(void **state)
{
  (void)state;
  rs_content_range r = {0, INT64_MAX - 1, INT64_MAX - 1, INT64_MAX};
  char buf[80];
  const char *want = "bytes 9223372036854775806-9223372036854775806/" MAX63;
  assert_int_equal(rs_content_range_format(&r, buf, sizeof buf), (int)strlen(want));
  assert_string_equal(buf, want);
  /* Values past 2^63-1 are not produced by parse, but format must still fit them in 68 bytes. */
  rs_content_range big = {0, UINT64_MAX, UINT64_MAX, UINT64_MAX};
  assert_int_equal(rs_content_range_format(&big, buf, 69), 68);
  assert_string_equal(buf, "bytes 18446744073709551615-18446744073709551615/18446744073709551615");
}

static void content_range_format_needs_room_for_nul(void **state)
{
  (void)state;
  rs_content_range r = {0, 100, 199, 1000};
  const char *want = "bytes 100-199/1000";
  size_t n = strlen(want);
  for (size_t cap = 0; cap <= n + 1; cap++) {
    char *buf = malloc(cap ? cap : 1); /* exact size: ASan catches a write past cap */
    assert_non_null(buf);
    int rc = rs_content_range_format(&r, buf, cap);
    if (cap == n + 1) {
      assert_int_equal(rc, (int)n);
      assert_string_equal(buf, want);
    } else {
      assert_int_equal(rc, -1);
    }
    free(buf);
  }
  assert_int_equal(rs_content_range_format(NULL, (char[8]){0}, 8), -1);
  assert_int_equal(rs_content_range_format(&r, NULL, 8), -1);
}

/* ---- rs_parse_u63 ------------------------------------------------------------------------- */

typedef struct u63_case {
  const char *s;
  size_t len;
  int rc;
  uint64_t value;
} u63_case;

#define U63_CASES(OK, BAD)                                                         \
  OK(u63_accepts_zero, "0", 0)                                                     \
  OK(u63_accepts_one_digit, "7", 7)                                                \
  OK(u63_accepts_2p63_minus_1, MAX63, INT64_MAX)                                   \
  OK(u63_accepts_leading_zeros, "007", 7)                                          \
  OK(u63_accepts_19_zeros, "0000000000000000000", 0)                               \
  OK(u63_accepts_19_digits_below_max, "1000000000000000000", 1000000000000000000u) \
  BAD(u63_rejects_2p63, OVER63)                                                    \
  BAD(u63_rejects_largest_19_digit_number, "9999999999999999999")                  \
  BAD(u63_rejects_20_digits, "10000000000000000000")                               \
  BAD(u63_rejects_20_digits_even_with_leading_zero, "00000000000000000001")        \
  BAD(u63_rejects_u64_max, "18446744073709551615")                                 \
  BAD(u63_rejects_value_that_wraps_u64, "18446744073709551616")                    \
  BAD(u63_rejects_empty, "")                                                       \
  BAD(u63_rejects_leading_plus, "+1")                                              \
  BAD(u63_rejects_leading_minus, "-1")                                             \
  BAD(u63_rejects_minus_zero, "-0")                                                \
  BAD(u63_rejects_leading_space, " 1")                                             \
  BAD(u63_rejects_trailing_space, "1 ")                                            \
  BAD(u63_rejects_inner_space, "1 0")                                              \
  BAD(u63_rejects_tab, "\t1")                                                      \
  BAD(u63_rejects_embedded_nul, "1\0"                                              \
                                "0")                                               \
  BAD(u63_rejects_trailing_nul, "1\0")                                             \
  BAD(u63_rejects_hex_prefix, "0x1")                                               \
  BAD(u63_rejects_letters, "abc")                                                  \
  BAD(u63_rejects_decimal_point, "1.0")                                            \
  BAD(u63_rejects_exponent, "1e3")                                                 \
  BAD(u63_rejects_digit_neighbours_slash_and_colon, "/:")

#define U63_DEF_OK(name, lit, v) static u63_case name = {lit, sizeof(lit) - 1, 0, v};
#define U63_DEF_BAD(name, lit) static u63_case name = {lit, sizeof(lit) - 1, -1, 0};
U63_CASES(U63_DEF_OK, U63_DEF_BAD)

static void run_u63_case(void **state)
{
  const u63_case *c = *state;
  uint64_t v = 12345;
  char *s = exact_copy(c->s, c->len);
  int rc = rs_parse_u63(s, c->len, &v);
  free(s);
  assert_int_equal(rc, c->rc);
  assert_int_equal(v, rc == 0 ? c->value : 12345); /* out untouched on error */
}

static void u63_rejects_null_input(void **state)
{
  (void)state;
  uint64_t v = 1;
  assert_int_equal(rs_parse_u63(NULL, 0, &v), -1);
  assert_int_equal(v, 1);
}

/* ---- rs_get_range_parse ------------------------------------------------------------------- */

typedef struct get_case {
  const char *s;
  size_t len;
  uint64_t size;
  int rc;
  uint64_t first, last;
} get_case;

#define HUGE24 "999999999999999999999999"

#define GET_RANGE_CASES(OK, UNSAT, IGNORE)                                                 \
  OK(get_range_accepts_closed_range, "bytes=0-9", 100, 0, 9)                               \
  OK(get_range_accepts_single_byte, "bytes=3-3", 10, 3, 3)                                 \
  OK(get_range_accepts_last_equal_size_minus_one, "bytes=0-9", 10, 0, 9)                   \
  OK(get_range_clamps_last_to_size_minus_one, "bytes=5-1000", 10, 5, 9)                    \
  OK(get_range_clamps_last_equal_size, "bytes=5-10", 10, 5, 9)                             \
  OK(get_range_accepts_open_ended, "bytes=5-", 10, 5, 9)                                   \
  OK(get_range_accepts_open_ended_from_last_byte, "bytes=9-", 10, 9, 9)                    \
  OK(get_range_accepts_open_ended_from_zero, "bytes=0-", 10, 0, 9)                         \
  OK(get_range_accepts_suffix, "bytes=-3", 10, 7, 9)                                       \
  OK(get_range_accepts_suffix_of_one_byte, "bytes=-1", 10, 9, 9)                           \
  OK(get_range_suffix_equal_to_size_is_whole_file, "bytes=-10", 10, 0, 9)                  \
  OK(get_range_suffix_longer_than_file_is_whole_file, "bytes=-100", 10, 0, 9)              \
  OK(get_range_accepts_capitalised_unit_per_rfc9110, "Bytes=0-1", 10, 0, 1)                \
  OK(get_range_accepts_upper_case_unit_per_rfc9110, "BYTES=0-1", 10, 0, 1)                 \
  OK(get_range_accepts_leading_zeros, "bytes=007-009", 10, 7, 9)                           \
  OK(get_range_huge_last_pos_clamps_to_end, "bytes=0-" HUGE24, 10, 0, 9)                   \
  OK(get_range_huge_suffix_is_whole_file, "bytes=-" HUGE24, 10, 0, 9)                      \
  OK(get_range_accepts_last_byte_of_largest_file, "bytes=9223372036854775806-", INT64_MAX, \
     INT64_MAX - 1, INT64_MAX - 1)                                                         \
  OK(get_range_accepts_one_byte_file, "bytes=0-0", 1, 0, 0)                                \
  UNSAT(get_range_first_at_size_is_unsatisfiable, "bytes=10-", 10)                         \
  UNSAT(get_range_closed_range_past_end_is_unsatisfiable, "bytes=11-20", 10)               \
  UNSAT(get_range_first_equal_size_closed_is_unsatisfiable, "bytes=10-10", 10)             \
  UNSAT(get_range_zero_suffix_is_unsatisfiable, "bytes=-0", 10)                            \
  UNSAT(get_range_huge_first_is_unsatisfiable, "bytes=" HUGE24 "-", 10)                    \
  UNSAT(get_range_huge_closed_range_is_unsatisfiable, "bytes=" HUGE24 "-" HUGE24, 10)      \
  UNSAT(get_range_empty_file_first_byte_is_unsatisfiable, "bytes=0-0", 0)                  \
  UNSAT(get_range_empty_file_open_range_is_unsatisfiable, "bytes=0-", 0)                   \
  UNSAT(get_range_empty_file_suffix_is_unsatisfiable, "bytes=-1", 0)                       \
  UNSAT(get_range_empty_file_zero_suffix_is_unsatisfiable, "bytes=-0", 0)                  \
  IGNORE(get_range_ignores_empty_value, "", 10)                                            \
  IGNORE(get_range_ignores_several_ranges, "bytes=0-1,3-4", 10)                            \
  IGNORE(get_range_ignores_trailing_comma, "bytes=0-1,", 10)                               \
  IGNORE(get_range_ignores_leading_comma, "bytes=,0-1", 10)                                \
  IGNORE(get_range_ignores_several_ranges_on_empty_file, "bytes=0-1,3-4", 0)               \
  IGNORE(get_range_ignores_other_unit, "items=0-1", 10)                                    \
  IGNORE(get_range_ignores_missing_equals, "bytes 0-1", 10)                                \
  IGNORE(get_range_ignores_unit_only, "bytes=", 10)                                        \
  IGNORE(get_range_ignores_lone_dash, "bytes=-", 10)                                       \
  IGNORE(get_range_ignores_missing_dash, "bytes=5", 10)                                    \
  IGNORE(get_range_ignores_reversed_range, "bytes=5-4", 10)                                \
  IGNORE(get_range_ignores_reversed_range_on_empty_file, "bytes=5-4", 0)                   \
  IGNORE(get_range_ignores_garbage_on_empty_file, "bytes=x", 0)                            \
  IGNORE(get_range_ignores_space_after_equals, "bytes= 0-1", 10)                           \
  IGNORE(get_range_ignores_trailing_space, "bytes=0-1 ", 10)                               \
  IGNORE(get_range_ignores_space_before_dash, "bytes=0 -1", 10)                            \
  IGNORE(get_range_ignores_leading_plus, "bytes=+0-1", 10)                                 \
  IGNORE(get_range_ignores_negative_suffix, "bytes=--1", 10)                               \
  IGNORE(get_range_ignores_second_dash, "bytes=0-1-2", 10)                                 \
  IGNORE(get_range_ignores_letters, "bytes=a-b", 10)                                       \
  IGNORE(get_range_ignores_embedded_nul, "bytes=0-1\0", 10)                                \
  IGNORE(get_range_ignores_content_range_syntax, "bytes 0-1/10", 10)

#define GET_DEF_OK(name, lit, sz, a, b) static get_case name = {lit, sizeof(lit) - 1, sz, 1, a, b};
#define GET_DEF_UNSAT(name, lit, sz) static get_case name = {lit, sizeof(lit) - 1, sz, -1, 0, 0};
#define GET_DEF_IGNORE(name, lit, sz) static get_case name = {lit, sizeof(lit) - 1, sz, 0, 0, 0};
GET_RANGE_CASES(GET_DEF_OK, GET_DEF_UNSAT, GET_DEF_IGNORE)

static void run_get_range_case(void **state)
{
  const get_case *c = *state;
  uint64_t first = 111, last = 222;
  char *s = exact_copy(c->s, c->len);
  int rc = rs_get_range_parse(s, c->len, c->size, &first, &last);
  free(s);
  assert_int_equal(rc, c->rc);
  if (rc == 1) {
    assert_int_equal(first, c->first);
    assert_int_equal(last, c->last);
    assert_true(first <= last && last < c->size);
  } else {
    assert_int_equal(first, 111); /* untouched unless satisfiable */
    assert_int_equal(last, 222);
  }
}

static void get_range_ignores_null_input(void **state)
{
  (void)state;
  uint64_t a = 0, b = 0;
  assert_int_equal(rs_get_range_parse(NULL, 0, 10, &a, &b), 0);
  assert_int_equal(rs_get_range_parse("bytes=0-1", 9, 10, NULL, &b), 0);
}

/* Every satisfiable answer lies inside the file, for all small sizes and positions. */
static void get_range_result_always_inside_file(void **state)
{
  (void)state;
  for (uint64_t size = 0; size < 12; size++) {
    for (unsigned a = 0; a < 14; a++) {
      for (unsigned b = 0; b < 14; b++) {
        char s[32];
        uint64_t first, last;
        int n = snprintf(s, sizeof s, "bytes=%u-%u", a, b);
        int rc = rs_get_range_parse(s, (size_t)n, size, &first, &last);
        int want = b < a ? 0 : a >= size ? -1 : 1;
        assert_int_equal(rc, want);
        if (rc == 1) {
          assert_int_equal(first, a);
          assert_int_equal(last, b < size ? b : size - 1);
        }
      }
    }
  }
}

#define REG_CR_OK(name, lit, a, b, t) {#name, run_content_range_case, NULL, NULL, &name},
#define REG_CR_QUERY(name, lit, t) {#name, run_content_range_case, NULL, NULL, &name},
#define REG_CR_BAD(name, lit) {#name, run_content_range_case, NULL, NULL, &name},
#define REG_U63_OK(name, lit, v) {#name, run_u63_case, NULL, NULL, &name},
#define REG_U63_BAD(name, lit) {#name, run_u63_case, NULL, NULL, &name},
#define REG_GET_OK(name, lit, sz, a, b) {#name, run_get_range_case, NULL, NULL, &name},
#define REG_GET_UNSAT(name, lit, sz) {#name, run_get_range_case, NULL, NULL, &name},
#define REG_GET_IGNORE(name, lit, sz) {#name, run_get_range_case, NULL, NULL, &name},

int main(void)
{
  const struct CMUnitTest tests[] = {
      CONTENT_RANGE_CASES(REG_CR_OK, REG_CR_QUERY, REG_CR_BAD)
          cmocka_unit_test(content_range_rejects_null_input),
      cmocka_unit_test(content_range_reads_only_len_bytes),
      cmocka_unit_test(content_range_format_writes_range),
      cmocka_unit_test(content_range_format_writes_query),
      cmocka_unit_test(content_range_format_writes_max_values),
      cmocka_unit_test(content_range_format_needs_room_for_nul),
      U63_CASES(REG_U63_OK, REG_U63_BAD) cmocka_unit_test(u63_rejects_null_input),
      GET_RANGE_CASES(REG_GET_OK, REG_GET_UNSAT, REG_GET_IGNORE)
          cmocka_unit_test(get_range_ignores_null_input),
      cmocka_unit_test(get_range_result_always_inside_file),
  };
  return cmocka_run_group_tests_name("range", tests, NULL, NULL);
}
