/* lib/key.c: percent-decoding and validation of keys (PROTOCOL.md "Keys").
 * Priority when several rules break (first wins, wherever in the key the problem sits):
 * EMPTY, BAD_ESCAPE, TOO_LONG, BAD_SEGMENT, RESERVED, BAD_BYTE, BAD_UTF8; the key_*_wins_over_*
 * cases pin it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "key.h"

#define OUT_CAP (RS_KEY_MAX + 1)

/* Decode from a heap block of exactly len bytes into a heap block of exactly cap bytes, so ASan
 * catches a read past len or a write past cap. Returns the status; copies out into *decoded. */
static rs_key_status decode_exact(const char *raw, size_t len, size_t cap, char **decoded)
{
  char *in = malloc(len ? len : 1);
  char *out = malloc(cap ? cap : 1);
  assert_non_null(in);
  assert_non_null(out);
  if (len)
    memcpy(in, raw, len);
  memset(out, 'Z', cap ? cap : 1);
  rs_key_status st = rs_key_decode(in, len, out, cap);
  free(in);
  if (st != RS_KEY_OK && cap > 0)
    assert_int_equal(out[0], '\0'); /* a rejected key never leaves half-checked bytes behind */
  if (decoded)
    *decoded = out;
  else
    free(out);
  return st;
}

typedef struct key_case {
  const char *raw;
  size_t len;
  rs_key_status st;
  const char *want; /* decoded key when st == RS_KEY_OK */
  size_t want_len;
} key_case;

#define KEY_CASES(OK, BAD)                                                                \
  OK(key_accepts_simple_name, "model.bin", "model.bin")                                   \
  OK(key_accepts_nested_path, "a/b/c.gguf", "a/b/c.gguf")                                 \
  OK(key_accepts_single_byte, "a", "a")                                                   \
  OK(key_decodes_percent_escape, "a%20b", "a b")                                          \
  OK(key_decodes_lower_and_upper_case_hex, "%4a%4A%4f", "JJO")                            \
  OK(key_keeps_plus_as_plus, "a+b", "a+b")                                                \
  OK(key_decodes_only_once, "%2541", "%41")                                               \
  OK(key_decodes_encoded_slash_into_segments, "a%2Fb", "a/b")                             \
  OK(key_decodes_lower_case_encoded_slash, "a%2fb", "a/b")                                \
  OK(key_accepts_utf8_bytes, "caf\xc3\xa9/\xe6\x97\xa5", "caf\xc3\xa9/\xe6\x97\xa5")      \
  OK(key_accepts_encoded_utf8_bytes, "caf%C3%A9", "caf\xc3\xa9")                          \
  OK(key_accepts_four_byte_utf8, "%F0%9F%98%80", "\xf0\x9f\x98\x80")                      \
  OK(key_accepts_highest_code_point, "%F4%8F%BF%BF", "\xf4\x8f\xbf\xbf")                  \
  OK(key_accepts_code_point_below_surrogates, "%ED%9F%BF", "\xed\x9f\xbf")                \
  OK(key_accepts_dot_file, ".hidden", ".hidden")                                          \
  OK(key_accepts_three_dots, "...", "...")                                                \
  OK(key_accepts_dot_dot_prefix, "..a", "..a")                                            \
  OK(key_accepts_trailing_dots, "a./b..", "a./b..")                                       \
  OK(key_accepts_resumabl_prefix, ".resumabl", ".resumabl")                               \
  OK(key_accepts_resumable_not_at_segment_start, "a/x.resumable", "a/x.resumable")        \
  OK(key_accepts_resumable_without_dot, "resumable/x", "resumable/x")                     \
  OK(key_accepts_printable_ascii_edges, " ~!\"#$&'()*,:;<=>?@[]^_`{|}",                   \
     " ~!\"#$&'()*,:;<=>?@[]^_`{|}")                                                      \
  OK(key_accepts_encoded_space_and_tilde, "%20%7E", " ~")                                 \
  BAD(key_rejects_empty, "", RS_KEY_EMPTY)                                                \
  BAD(key_rejects_lone_percent, "%", RS_KEY_BAD_ESCAPE)                                   \
  BAD(key_rejects_percent_at_end, "abc%", RS_KEY_BAD_ESCAPE)                              \
  BAD(key_rejects_percent_with_one_digit, "abc%4", RS_KEY_BAD_ESCAPE)                     \
  BAD(key_rejects_non_hex_escape, "%zz", RS_KEY_BAD_ESCAPE)                               \
  BAD(key_rejects_non_hex_first_digit, "%g0", RS_KEY_BAD_ESCAPE)                          \
  BAD(key_rejects_non_hex_second_digit, "%0g", RS_KEY_BAD_ESCAPE)                         \
  BAD(key_rejects_signed_escape, "%+1", RS_KEY_BAD_ESCAPE)                                \
  BAD(key_rejects_space_in_escape, "% 41", RS_KEY_BAD_ESCAPE)                             \
  BAD(key_rejects_double_percent, "%%41", RS_KEY_BAD_ESCAPE)                              \
  BAD(key_rejects_nul_in_escape, "%4\0", RS_KEY_BAD_ESCAPE)                               \
  BAD(key_rejects_leading_slash, "/a", RS_KEY_BAD_SEGMENT)                                \
  BAD(key_rejects_trailing_slash, "a/", RS_KEY_BAD_SEGMENT)                               \
  BAD(key_rejects_double_slash, "a//b", RS_KEY_BAD_SEGMENT)                               \
  BAD(key_rejects_lone_slash, "/", RS_KEY_BAD_SEGMENT)                                    \
  BAD(key_rejects_dot, ".", RS_KEY_BAD_SEGMENT)                                           \
  BAD(key_rejects_dot_dot, "..", RS_KEY_BAD_SEGMENT)                                      \
  BAD(key_rejects_inner_dot_segment, "a/./b", RS_KEY_BAD_SEGMENT)                         \
  BAD(key_rejects_inner_dot_dot_segment, "a/../b", RS_KEY_BAD_SEGMENT)                    \
  BAD(key_rejects_leading_dot_dot_segment, "../a", RS_KEY_BAD_SEGMENT)                    \
  BAD(key_rejects_trailing_dot_dot_segment, "a/..", RS_KEY_BAD_SEGMENT)                   \
  BAD(key_rejects_encoded_dot_dot_lower, "%2e%2e", RS_KEY_BAD_SEGMENT)                    \
  BAD(key_rejects_encoded_dot_dot_mixed_case, "%2E%2e", RS_KEY_BAD_SEGMENT)               \
  BAD(key_rejects_half_encoded_dot_dot, ".%2e/x", RS_KEY_BAD_SEGMENT)                     \
  BAD(key_rejects_encoded_dot, "a/%2e/b", RS_KEY_BAD_SEGMENT)                             \
  BAD(key_rejects_encoded_slash_making_empty_segment, "a/%2F/b", RS_KEY_BAD_SEGMENT)      \
  BAD(key_rejects_encoded_leading_slash, "%2Fetc/passwd", RS_KEY_BAD_SEGMENT)             \
  BAD(key_rejects_dot_dot_before_encoded_slash, "..%2Fx", RS_KEY_BAD_SEGMENT)             \
  BAD(key_rejects_fully_encoded_traversal, "a%2F%2E%2E%2F%2E%2E%2Fb", RS_KEY_BAD_SEGMENT) \
  BAD(key_rejects_reserved_name, ".resumable", RS_KEY_RESERVED)                           \
  BAD(key_rejects_reserved_prefix, ".resumablex", RS_KEY_RESERVED)                        \
  BAD(key_rejects_reserved_inner_segment, "a/.resumable/b", RS_KEY_RESERVED)              \
  BAD(key_rejects_reserved_last_segment, "a/.resumable-state", RS_KEY_RESERVED)           \
  BAD(key_rejects_encoded_reserved_name, "%2eresumable/x", RS_KEY_RESERVED)               \
  BAD(key_rejects_reserved_prefix_in_any_case_for_case_insensitive_fs, ".ReSuMaBle",      \
      RS_KEY_RESERVED)                                                                    \
  BAD(key_rejects_encoded_nul, "a%00b", RS_KEY_BAD_BYTE)                                  \
  BAD(key_rejects_raw_nul, "a\0b", RS_KEY_BAD_BYTE)                                       \
  BAD(key_rejects_raw_control_byte, "a\x01", RS_KEY_BAD_BYTE)                             \
  BAD(key_rejects_encoded_unit_separator, "%1f", RS_KEY_BAD_BYTE)                         \
  BAD(key_rejects_encoded_tab, "a%09b", RS_KEY_BAD_BYTE)                                  \
  BAD(key_rejects_encoded_newline, "a%0Ab", RS_KEY_BAD_BYTE)                              \
  BAD(key_rejects_encoded_carriage_return, "a%0db", RS_KEY_BAD_BYTE)                      \
  BAD(key_rejects_encoded_del, "a%7f", RS_KEY_BAD_BYTE)                                   \
  BAD(key_rejects_raw_del, "a\x7f", RS_KEY_BAD_BYTE)                                      \
  BAD(key_rejects_encoded_backslash_upper, "a%5Cb", RS_KEY_BAD_BYTE)                      \
  BAD(key_rejects_encoded_backslash_lower, "a%5cb", RS_KEY_BAD_BYTE)                      \
  BAD(key_rejects_raw_backslash, "a\\b", RS_KEY_BAD_BYTE)                                 \
  BAD(key_rejects_windows_traversal, "..\\x", RS_KEY_BAD_BYTE)                            \
  BAD(key_rejects_latin1_byte, "caf%E9.bin", RS_KEY_BAD_UTF8)                             \
  BAD(key_rejects_raw_latin1_byte, "caf\xe9.bin", RS_KEY_BAD_UTF8)                        \
  BAD(key_rejects_high_bytes, "%ff%80", RS_KEY_BAD_UTF8)                                  \
  BAD(key_rejects_stray_continuation_byte, "a%80", RS_KEY_BAD_UTF8)                       \
  BAD(key_rejects_truncated_sequence_at_end, "a%C3", RS_KEY_BAD_UTF8)                     \
  BAD(key_rejects_sequence_cut_by_a_slash, "%C3/%A9", RS_KEY_BAD_UTF8)                    \
  BAD(key_rejects_overlong_slash, "a%C0%AFb", RS_KEY_BAD_UTF8)                            \
  BAD(key_rejects_overlong_dot_dot, "%C0%AE%C0%AE", RS_KEY_BAD_UTF8)                      \
  BAD(key_rejects_overlong_three_byte_form, "%E0%80%AF", RS_KEY_BAD_UTF8)                 \
  BAD(key_rejects_utf16_surrogate, "%ED%A0%80", RS_KEY_BAD_UTF8)                          \
  BAD(key_rejects_code_point_above_10ffff, "%F4%90%80%80", RS_KEY_BAD_UTF8)               \
  BAD(key_rejects_five_byte_lead, "%F8%88%80%80%80", RS_KEY_BAD_UTF8)                     \
  BAD(key_escape_error_wins_over_bad_byte, "%00%zz", RS_KEY_BAD_ESCAPE)                   \
  BAD(key_escape_error_wins_over_bad_segment, "../%zz", RS_KEY_BAD_ESCAPE)                \
  BAD(key_escape_error_wins_over_reserved, ".resumable/%", RS_KEY_BAD_ESCAPE)             \
  BAD(key_bad_segment_wins_over_reserved, ".resumable/..", RS_KEY_BAD_SEGMENT)            \
  BAD(key_bad_segment_wins_over_earlier_reserved, ".resumable//x", RS_KEY_BAD_SEGMENT)    \
  BAD(key_bad_segment_wins_over_bad_byte, "%00/..", RS_KEY_BAD_SEGMENT)                   \
  BAD(key_reserved_wins_over_bad_byte, "%01/.resumable", RS_KEY_RESERVED)                 \
  BAD(key_bad_byte_wins_over_bad_utf8, "%ff%01", RS_KEY_BAD_BYTE)                         \
  BAD(key_reserved_wins_over_bad_utf8, "%ff/.resumable", RS_KEY_RESERVED)

#define KEY_DEF_OK(name, lit, dec) \
  static key_case name = {lit, sizeof(lit) - 1, RS_KEY_OK, dec, sizeof(dec) - 1};
#define KEY_DEF_BAD(name, lit, status) static key_case name = {lit, sizeof(lit) - 1, status, "", 0};
KEY_CASES(KEY_DEF_OK, KEY_DEF_BAD)

static void run_key_case(void **state)
{
  const key_case *c = *state;
  char *out = NULL;
  rs_key_status st = decode_exact(c->raw, c->len, OUT_CAP, &out);
  assert_int_equal(st, c->st);
  if (st == RS_KEY_OK) {
    assert_memory_equal(out, c->want, c->want_len);
    assert_int_equal(out[c->want_len], '\0');
  }
  free(out);
}

/* A key of `len` bytes: segments of 100 'k' joined by '/', never ending in '/'. */
static char *make_key(size_t len)
{
  char *k = malloc(len + 1);
  assert_non_null(k);
  for (size_t i = 0; i < len; i++)
    k[i] = (i % 101 == 100) ? '/' : 'k';
  if (len > 0 && k[len - 1] == '/')
    k[len - 1] = 'k';
  k[len] = '\0';
  return k;
}

/* The same key with every byte written as %XX (raw three times as long). */
static char *encode_all(const char *k, size_t len)
{
  static const char digits[] = "0123456789ABCDEF";
  char *e = malloc(3 * len + 1);
  assert_non_null(e);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)k[i];
    e[3 * i] = '%';
    e[3 * i + 1] = digits[c >> 4];
    e[3 * i + 2] = digits[c & 15];
  }
  e[3 * len] = '\0';
  return e;
}

static void key_accepts_exactly_1024_bytes(void **state)
{
  (void)state;
  char *k = make_key(RS_KEY_MAX), *out = NULL;
  assert_int_equal(decode_exact(k, RS_KEY_MAX, OUT_CAP, &out), RS_KEY_OK);
  assert_int_equal(strlen(out), RS_KEY_MAX);
  assert_memory_equal(out, k, RS_KEY_MAX);
  free(out);
  free(k);
}

static void key_rejects_1025_bytes(void **state)
{
  (void)state;
  char *k = make_key(RS_KEY_MAX + 1);
  assert_int_equal(decode_exact(k, RS_KEY_MAX + 1, OUT_CAP, NULL), RS_KEY_TOO_LONG);
  free(k);
}

static void key_rejects_1025_bytes_even_with_a_larger_buffer(void **state)
{
  (void)state;
  char *k = make_key(RS_KEY_MAX + 1);
  assert_int_equal(decode_exact(k, RS_KEY_MAX + 1, 4 * OUT_CAP, NULL), RS_KEY_TOO_LONG);
  free(k);
}

static void key_length_counts_decoded_bytes(void **state)
{
  (void)state;
  char *k = make_key(RS_KEY_MAX + 1);
  char *e = encode_all(k, RS_KEY_MAX + 1), *out = NULL;
  /* 3072 raw bytes decoding to 1024 is fine; 3075 decoding to 1025 is not. */
  assert_int_equal(decode_exact(e, 3 * RS_KEY_MAX, OUT_CAP, &out), RS_KEY_OK);
  assert_memory_equal(out, k, RS_KEY_MAX);
  assert_int_equal(out[RS_KEY_MAX], '\0');
  assert_int_equal(decode_exact(e, 3 * (RS_KEY_MAX + 1), OUT_CAP, NULL), RS_KEY_TOO_LONG);
  free(out);
  free(e);
  free(k);
}

static void key_rejects_huge_raw_without_overflow(void **state)
{
  (void)state;
  size_t len = 1u << 20;
  char *k = make_key(len);
  assert_int_equal(decode_exact(k, len, OUT_CAP, NULL), RS_KEY_TOO_LONG);
  free(k);
}

static void key_escape_error_wins_over_too_long_even_at_the_end(void **state)
{
  (void)state;
  size_t len = 4000;
  char *k = make_key(len);
  k[len - 1] = '%';
  assert_int_equal(decode_exact(k, len, OUT_CAP, NULL), RS_KEY_BAD_ESCAPE);
  free(k);
}

static void key_too_long_wins_over_bad_segment_and_bytes(void **state)
{
  (void)state;
  char k[RS_KEY_MAX + 1];
  memset(k, '/', sizeof k);
  k[0] = '\\';
  assert_int_equal(decode_exact(k, sizeof k, OUT_CAP, NULL), RS_KEY_TOO_LONG);
}

static void key_accepts_255_byte_segments(void **state)
{
  (void)state;
  char k[2 + 255 + 2];
  memset(k, 's', sizeof k);
  assert_int_equal(decode_exact(k, 255, OUT_CAP, NULL), RS_KEY_OK);
  k[1] = '/';
  k[2 + 255] = '/';
  assert_int_equal(decode_exact(k, sizeof k, OUT_CAP, NULL), RS_KEY_OK); /* "s/" 255 "/s" */
}

static void key_rejects_256_byte_segment(void **state)
{
  (void)state;
  char k[2 + 256 + 2];
  memset(k, 's', sizeof k);
  assert_int_equal(decode_exact(k, 256, OUT_CAP, NULL), RS_KEY_BAD_SEGMENT);
  k[1] = '/';
  k[2 + 256] = '/';
  assert_int_equal(decode_exact(k, sizeof k, OUT_CAP, NULL), RS_KEY_BAD_SEGMENT); /* middle */
  assert_int_equal(decode_exact(k, 2 + 256, OUT_CAP, NULL), RS_KEY_BAD_SEGMENT);  /* last */
}

static void key_segment_length_counts_decoded_bytes(void **state)
{
  (void)state;
  char seg[256];
  memset(seg, 'e', sizeof seg);
  char *e = encode_all(seg, sizeof seg);
  assert_int_equal(decode_exact(e, 3 * 255, OUT_CAP, NULL), RS_KEY_OK);
  assert_int_equal(decode_exact(e, 3 * 256, OUT_CAP, NULL), RS_KEY_BAD_SEGMENT);
  free(e);
}

static void key_never_writes_past_a_small_cap(void **state)
{
  (void)state;
  char *out = NULL;
  /* cap below the contract's minimum: what fits is decoded, the rest refused, nothing overrun. */
  assert_int_equal(decode_exact("abc", 3, 4, &out), RS_KEY_OK);
  assert_string_equal(out, "abc");
  free(out);
  assert_int_equal(decode_exact("abcd", 4, 4, NULL), RS_KEY_TOO_LONG);
  assert_int_equal(decode_exact("a", 1, 0, NULL), RS_KEY_TOO_LONG);
  assert_int_equal(rs_key_decode("a", 1, NULL, 0), RS_KEY_TOO_LONG);
}

static void key_rejects_null_input_as_empty(void **state)
{
  (void)state;
  char out[OUT_CAP];
  assert_int_equal(rs_key_decode(NULL, 0, out, sizeof out), RS_KEY_EMPTY);
  assert_int_equal(rs_key_decode(NULL, 5, out, sizeof out), RS_KEY_EMPTY);
}

static void key_status_text_is_distinct_for_every_status(void **state)
{
  (void)state;
  const rs_key_status all[] = {RS_KEY_OK,       RS_KEY_EMPTY,       RS_KEY_BAD_ESCAPE,
                               RS_KEY_TOO_LONG, RS_KEY_BAD_SEGMENT, RS_KEY_RESERVED,
                               RS_KEY_BAD_BYTE, RS_KEY_BAD_UTF8};
  const size_t n = sizeof all / sizeof all[0];
  for (size_t i = 0; i < n; i++) {
    const char *t = rs_key_status_text(all[i]);
    assert_non_null(t);
    assert_true(strlen(t) > 0);
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(t, rs_key_status_text(all[j]));
  }
  assert_non_null(rs_key_status_text((rs_key_status)99));
}

static void key_status_text_says_what_is_wrong(void **state)
{
  (void)state;
  assert_non_null(strstr(rs_key_status_text(RS_KEY_BAD_SEGMENT), "'..'"));
  assert_non_null(strstr(rs_key_status_text(RS_KEY_RESERVED), ".resumable"));
  assert_non_null(strstr(rs_key_status_text(RS_KEY_TOO_LONG), "1024"));
  assert_non_null(strstr(rs_key_status_text(RS_KEY_BAD_BYTE), "backslash"));
  assert_non_null(strstr(rs_key_status_text(RS_KEY_BAD_ESCAPE), "%"));
  assert_non_null(strstr(rs_key_status_text(RS_KEY_BAD_UTF8), "UTF-8"));
}

/* ---- differential test against a deliberately naive reference -------------------------------- */

static int ref_hex(char c)
{
  const char *d = "0123456789abcdef0123456789ABCDEF";
  const char *p = c ? strchr(d, c) : NULL;
  return p ? (int)((p - d) % 16) : -1;
}

/* UTF-8 read as code points (not by the byte-range table lib/utf8.c uses): each sequence decodes
 * to a code point that needs exactly its length, is not a surrogate and is at most U+10FFFF. */
static int ref_utf8(const char *s, size_t n)
{
  static const unsigned long least[5] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n)
      return 0;
    unsigned long cp = len == 1 ? c : c & (0x7fu >> len);
    for (size_t k = 1; k < len; k++) {
      if (((unsigned char)s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = cp << 6 | ((unsigned char)s[i + k] & 0x3fu);
    }
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += len;
  }
  return 1;
}

/* The rules read straight from PROTOCOL.md, applied one after another on a fully decoded copy. */
static rs_key_status ref_decode(const char *raw, size_t len, char *dec, size_t *n)
{
  *n = 0;
  if (len == 0)
    return RS_KEY_EMPTY;
  for (size_t i = 0; i < len; i++) {
    if (raw[i] != '%') {
      dec[(*n)++] = raw[i];
      continue;
    }
    if (i + 2 >= len || ref_hex(raw[i + 1]) < 0 || ref_hex(raw[i + 2]) < 0)
      return RS_KEY_BAD_ESCAPE;
    dec[(*n)++] = (char)(ref_hex(raw[i + 1]) * 16 + ref_hex(raw[i + 2]));
    i += 2;
  }
  if (*n > RS_KEY_MAX)
    return RS_KEY_TOO_LONG;
  for (size_t a = 0, b; a <= *n; a = b + 1) { /* segments dec[a..b) */
    for (b = a; b < *n && dec[b] != '/'; b++)
      ;
    size_t sl = b - a;
    if (sl == 0 || sl > 255 || (sl == 1 && dec[a] == '.') ||
        (sl == 2 && dec[a] == '.' && dec[a + 1] == '.'))
      return RS_KEY_BAD_SEGMENT;
  }
  for (size_t a = 0, b; a <= *n; a = b + 1) {
    for (b = a; b < *n && dec[b] != '/'; b++)
      ;
    if (b - a >= 10 && strncasecmp(dec + a, ".resumable", 10) == 0)
      return RS_KEY_RESERVED;
  }
  for (size_t i = 0; i < *n; i++)
    if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f || dec[i] == '\\')
      return RS_KEY_BAD_BYTE;
  return ref_utf8(dec, *n) ? RS_KEY_OK : RS_KEY_BAD_UTF8;
}

static uint32_t xorshift(uint32_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* Random keys built from the pieces that matter (escapes, dots, slashes, the reserved name,
 * bad bytes, long runs near the limits) must get the reference's status and bytes. */
static void key_matches_reference_on_random_keys(void **state)
{
  (void)state;
  static const char *const pieces[] = {
      "a",      "b",        ".",          "..",         "/",         "%",
      "%2e",    "%2E",      "%2F",        "%2f",        "%00",       "%5C",
      "%7f",    "%zz",      "%4",         "%25",        "+",         "\\",
      "\x01",   "\xc3\xa9", ".resumable", ".RESUMABLE", ".resumabl", "%2eresumable",
      "x",      "%41",      "~",          " ",          "%C3",       "%A9",
      "\xc3",   "%E9",      "%ff",        "%ED%A0%80",  "%ED%9F%BF", "%F0%9F%98%80",
      "%F4%90", "%C0%AF",   "%E0%80",     "%80"};
  const size_t npieces = sizeof pieces / sizeof pieces[0];
  static char raw[4096], dec[4096];
  uint32_t seed = 0x2545f491u;

  for (int iter = 0; iter < 20000; iter++) {
    size_t len = 0;
    unsigned count = xorshift(&seed) % 12;
    for (unsigned p = 0; p < count; p++) {
      uint32_t r = xorshift(&seed);
      if (r % 16 == 0) { /* a long run near the segment or key limit */
        static const size_t runs[] = {254, 255, 256, 1000, 1023, 1024, 1025};
        size_t run = runs[(r >> 8) % 7];
        if (len + run > sizeof raw)
          break;
        memset(raw + len, 'r', run);
        len += run;
      } else {
        const char *piece = pieces[(r >> 8) % npieces];
        size_t pl = strlen(piece);
        if (len + pl > sizeof raw)
          break;
        memcpy(raw + len, piece, pl);
        len += pl;
      }
    }
    size_t want_n;
    rs_key_status want = ref_decode(raw, len, dec, &want_n);
    char *out = NULL;
    rs_key_status got = decode_exact(raw, len, OUT_CAP, &out);
    if (got != want)
      fail_msg("iteration %d: got %d, want %d for \"%.*s\"", iter, got, want, (int)len, raw);
    if (got == RS_KEY_OK) {
      assert_memory_equal(out, dec, want_n);
      assert_int_equal(out[want_n], '\0');
    }
    free(out);
  }
}

#define KEY_REG_OK(name, lit, dec) {#name, run_key_case, NULL, NULL, &name},
#define KEY_REG_BAD(name, lit, status) {#name, run_key_case, NULL, NULL, &name},

int main(void)
{
  const struct CMUnitTest tests[] = {
      KEY_CASES(KEY_REG_OK, KEY_REG_BAD) cmocka_unit_test(key_accepts_exactly_1024_bytes),
      cmocka_unit_test(key_rejects_1025_bytes),
      cmocka_unit_test(key_rejects_1025_bytes_even_with_a_larger_buffer),
      cmocka_unit_test(key_length_counts_decoded_bytes),
      cmocka_unit_test(key_rejects_huge_raw_without_overflow),
      cmocka_unit_test(key_escape_error_wins_over_too_long_even_at_the_end),
      cmocka_unit_test(key_too_long_wins_over_bad_segment_and_bytes),
      cmocka_unit_test(key_accepts_255_byte_segments),
      cmocka_unit_test(key_rejects_256_byte_segment),
      cmocka_unit_test(key_segment_length_counts_decoded_bytes),
      cmocka_unit_test(key_never_writes_past_a_small_cap),
      cmocka_unit_test(key_rejects_null_input_as_empty),
      cmocka_unit_test(key_status_text_is_distinct_for_every_status),
      cmocka_unit_test(key_status_text_says_what_is_wrong),
      cmocka_unit_test(key_matches_reference_on_random_keys),
  };
  return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}
