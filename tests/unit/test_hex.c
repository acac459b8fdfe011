/* lib/hex.c: SHA-256 digests as hex (either case in, lower case out). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
static const char abc_lower[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char abc_upper[] = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
static const uint8_t abc_bytes[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};

/* Parse from a heap block of exactly len bytes so ASan flags a read past len. */
static int parse_exact(const char *s, size_t len, uint8_t out[32])
{
  char *p = malloc(len ? len : 1);
  assert_non_null(p);
  if (len)
    memcpy(p, s, len);
  int rc = rs_sha256_hex_parse(p, len, out);
  free(p);
  return rc;
}

static void hex_parses_lower_case(void **state)
{
  (void)state;
  uint8_t out[32];
  assert_int_equal(parse_exact(abc_lower, 64, out), 0);
  assert_memory_equal(out, abc_bytes, 32);
}

static void hex_parses_upper_case(void **state)
{
  (void)state;
  uint8_t out[32];
  assert_int_equal(parse_exact(abc_upper, 64, out), 0);
  assert_memory_equal(out, abc_bytes, 32);
}

static void hex_parses_mixed_case(void **state)
{
  (void)state;
  char mixed[65];
  uint8_t out[32];
  for (size_t i = 0; i < 64; i++)
    mixed[i] = (i % 2) ? abc_upper[i] : abc_lower[i];
  assert_int_equal(parse_exact(mixed, 64, out), 0);
  assert_memory_equal(out, abc_bytes, 32);
}

static void hex_parses_every_digit_value(void **state)
{
  (void)state;
  const char *s = "00112233445566778899aAbBcCdDeEfF0123456789abcdefABCDEF0f1e2d3c4b";
  const uint8_t want[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                            0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                            0xcd, 0xef, 0xab, 0xcd, 0xef, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b};
  uint8_t out[32];
  assert_int_equal(parse_exact(s, 64, out), 0);
  assert_memory_equal(out, want, 32);
}

static void assert_rejected_untouched(const char *s, size_t len)
{
  uint8_t out[32];
  memset(out, 0x5a, sizeof out);
  assert_int_equal(parse_exact(s, len, out), -1);
  for (size_t i = 0; i < 32; i++)
    assert_int_equal(out[i], 0x5a);
}

static void hex_rejects_63_chars(void **state)
{
  (void)state;
  assert_rejected_untouched(abc_lower, 63);
}

static void hex_rejects_65_chars(void **state)
{
  (void)state;
  char s[65];
  memcpy(s, abc_lower, 64);
  s[64] = 'a';
  assert_rejected_untouched(s, 65);
}

static void hex_rejects_empty(void **state)
{
  (void)state;
  assert_rejected_untouched("", 0);
  uint8_t out[32];
  assert_int_equal(rs_sha256_hex_parse(NULL, 64, out), -1);
}

/* Each neighbour of the hex ranges in ASCII, plus whitespace, NUL, signs and a UTF-8 byte,
 * tried at the first, a middle and the last position, in both nibbles. */
static void hex_rejects_non_hex_byte_anywhere(void **state)
{
  (void)state;
  const char bad[] = {'/', ':', '@', 'G', '`', 'g', ' ', '\t', '\0', '+', '-', 'x', (char)0xc3};
  const size_t pos[] = {0, 1, 31, 32, 62, 63};
  for (size_t b = 0; b < sizeof bad; b++) {
    for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++) {
      char s[64];
      memcpy(s, abc_lower, 64);
      s[pos[p]] = bad[b];
      assert_rejected_untouched(s, 64);
    }
  }
}

static void hex_rejects_prefixed_digest(void **state)
{
  (void)state;
  char s[64];
  s[0] = '0';
  s[1] = 'x';
  memcpy(s + 2, abc_lower, 62);
  assert_rejected_untouched(s, 64);
}

static void hex_format_writes_lower_case_and_nul(void **state)
{
  (void)state;
  char out[RS_SHA256_HEX_LEN + 1];
  memset(out, 'Z', sizeof out);
  rs_sha256_hex_format(abc_bytes, out);
  assert_int_equal(out[64], '\0');
  assert_string_equal(out, abc_lower);
}

static void hex_round_trips_every_byte_value(void **state)
{
  (void)state;
  for (unsigned block = 0; block < 8; block++) {
    uint8_t in[32], back[32];
    char text[RS_SHA256_HEX_LEN + 1];
    for (unsigned i = 0; i < 32; i++)
      in[i] = (uint8_t)(block * 32 + i);
    rs_sha256_hex_format(in, text);
    for (size_t i = 0; i < 64; i++)
      assert_false(text[i] >= 'A' && text[i] <= 'F');
    assert_int_equal(parse_exact(text, 64, back), 0);
    assert_memory_equal(back, in, 32);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hex_parses_lower_case),
      cmocka_unit_test(hex_parses_upper_case),
      cmocka_unit_test(hex_parses_mixed_case),
      cmocka_unit_test(hex_parses_every_digit_value),
      cmocka_unit_test(hex_rejects_63_chars),
      cmocka_unit_test(hex_rejects_65_chars),
      cmocka_unit_test(hex_rejects_empty),
      cmocka_unit_test(hex_rejects_non_hex_byte_anywhere),
      cmocka_unit_test(hex_rejects_prefixed_digest),
      cmocka_unit_test(hex_format_writes_lower_case_and_nul),
      cmocka_unit_test(hex_round_trips_every_byte_value),
  };
  return cmocka_run_group_tests_name("hex", tests, NULL, NULL);
}
