/* rs_sha256: NIST known answers, split updates, and the portable export/import format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

#include "sha256_kat.h"

static void unhex(const char *hex, uint8_t out[32])
{
  for (int i = 0; i < 32; i++) {
    char b[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
    out[i] = (uint8_t)strtoul(b, NULL, 16);
  }
}

/* A deterministic, non-repeating test message. */
static void fill(uint8_t *buf, size_t len)
{
  uint32_t x = 0x12345678u;
  for (size_t i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (uint8_t)(x >> 16);
  }
}

static void sha256_matches_nist_vectors(void **state)
{
  (void)state;
  for (size_t v = 0; v < sizeof(kat) / sizeof(kat[0]); v++) {
    uint8_t want[32], got[32];
    unhex(kat[v].hex, want);
    rs_sha256 h;
    rs_sha256_init(&h);
    size_t n = strlen(kat[v].text);
    for (size_t r = 0; r < kat[v].repeat; r++)
      rs_sha256_update(&h, kat[v].text, n);
    assert_int_equal(rs_sha256_length(&h), n * kat[v].repeat);
    rs_sha256_finish(&h, got);
    rs_sha256_free(&h);
    assert_memory_equal(got, want, 32);
  }
}

static void sha256_digest_matches_nist_vectors(void **state)
{
  (void)state;
  for (size_t v = 0; v < sizeof(kat) / sizeof(kat[0]); v++) {
    if (kat[v].repeat != 1)
      continue;
    uint8_t want[32], got[32];
    unhex(kat[v].hex, want);
    rs_sha256_digest(kat[v].text, strlen(kat[v].text), got);
    assert_memory_equal(got, want, 32);
  }
}

/* Each vector as one contiguous message in a single update: whole blocks go to the block
 * function in one call (the multi-block path), the tail through the buffer. */
static void sha256_one_update_matches_vectors(void **state)
{
  (void)state;
  for (size_t v = 0; v < sizeof(kat) / sizeof(kat[0]); v++) {
    size_t n = strlen(kat[v].text), total = n * kat[v].repeat;
    uint8_t *msg = malloc(total + 1);
    assert_non_null(msg);
    for (size_t r = 0; r < kat[v].repeat; r++)
      memcpy(msg + r * n, kat[v].text, n);
    uint8_t want[32], got[32];
    unhex(kat[v].hex, want);
    rs_sha256_digest(msg, total, got);
    free(msg);
    assert_memory_equal(got, want, 32);
  }
}

static void sha256_split_updates_match_one_shot(void **state)
{
  (void)state;
  enum { LEN = 300 };
  uint8_t msg[LEN], want[32], got[32];
  fill(msg, LEN);
  rs_sha256_digest(msg, LEN, want);
  for (size_t a = 0; a <= LEN; a++) {
    for (size_t b = a; b <= LEN; b += 37) {
      rs_sha256 h;
      rs_sha256_init(&h);
      rs_sha256_update(&h, msg, a);
      rs_sha256_update(&h, msg + a, b - a);
      rs_sha256_update(&h, msg + b, LEN - b);
      rs_sha256_finish(&h, got);
      assert_memory_equal(got, want, 32);
    }
  }
}

static void sha256_export_import_resumes_mid_stream(void **state)
{
  (void)state;
  enum { LEN = 1000 };
  static const size_t cuts[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 500, 999, 1000};
  uint8_t msg[LEN], want[32], got[32], buf[RS_SHA256_STATE_MAX];
  fill(msg, LEN);
  rs_sha256_digest(msg, LEN, want);
  for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
    rs_sha256 a, b;
    rs_sha256_init(&a);
    rs_sha256_update(&a, msg, cuts[i]);
    size_t n = rs_sha256_export(&a, buf, sizeof(buf));
    assert_int_equal(n, 48 + cuts[i] % 64);
    rs_sha256_free(&a);
    assert_int_equal(rs_sha256_import(&b, buf, n), 0);
    assert_int_equal(rs_sha256_length(&b), cuts[i]);
    rs_sha256_update(&b, msg + cuts[i], LEN - cuts[i]);
    rs_sha256_finish(&b, got);
    rs_sha256_free(&b);
    assert_memory_equal(got, want, 32);
  }
}

/* The format is specified byte for byte so another implementation can read it. */
static void sha256_export_layout_is_portable(void **state)
{
  (void)state;
  uint8_t buf[RS_SHA256_STATE_MAX];
  rs_sha256 h;
  rs_sha256_init(&h);
  rs_sha256_update(&h, "abc", 3);
  size_t n = rs_sha256_export(&h, buf, sizeof(buf));
  assert_int_equal(n, 51);
  assert_memory_equal(buf, "RS256v1\0", 8);
  static const uint8_t count[8] = {0, 0, 0, 0, 0, 0, 0, 3};
  assert_memory_equal(buf + 8, count, 8);
  /* Nothing compressed yet: the chaining words are still the SHA-256 initial value. */
  static const uint8_t h0[8] = {0x6a, 0x09, 0xe6, 0x67, 0xbb, 0x67, 0xae, 0x85};
  assert_memory_equal(buf + 16, h0, 8);
  assert_memory_equal(buf + 48, "abc", 3);
}

static void sha256_export_refuses_small_buffer(void **state)
{
  (void)state;
  uint8_t buf[RS_SHA256_STATE_MAX];
  rs_sha256 h;
  rs_sha256_init(&h);
  rs_sha256_update(&h, "0123456789", 10);
  assert_int_equal(rs_sha256_export(&h, buf, 57), 0);
  assert_int_equal(rs_sha256_export(&h, buf, 58), 58);
}

static size_t exported(uint8_t buf[RS_SHA256_STATE_MAX], size_t len)
{
  uint8_t msg[200];
  fill(msg, sizeof(msg));
  rs_sha256 h;
  rs_sha256_init(&h);
  rs_sha256_update(&h, msg, len);
  return rs_sha256_export(&h, buf, RS_SHA256_STATE_MAX);
}

/* After a rejected import the context is fresh: hashing "abc" gives the known answer. */
static void assert_fresh(rs_sha256 *h)
{
  uint8_t want[32], got[32];
  unhex(kat[1].hex, want);
  rs_sha256_update(h, "abc", 3);
  rs_sha256_finish(h, got);
  assert_memory_equal(got, want, 32);
}

static void sha256_import_rejects_truncated_or_extended(void **state)
{
  (void)state;
  uint8_t buf[RS_SHA256_STATE_MAX];
  size_t n = exported(buf, 100);
  rs_sha256 h;
  for (size_t len = 0; len < n; len++)
    assert_int_equal(rs_sha256_import(&h, buf, len), -1);
  assert_int_equal(rs_sha256_import(&h, buf, n + 1), -1);
  assert_fresh(&h);
  assert_int_equal(rs_sha256_import(&h, NULL, n), -1);
}

static void sha256_import_rejects_bad_magic(void **state)
{
  (void)state;
  uint8_t buf[RS_SHA256_STATE_MAX];
  size_t n = exported(buf, 70);
  rs_sha256 h;
  for (size_t i = 0; i < 8; i++) {
    buf[i] ^= 0x01;
    assert_int_equal(rs_sha256_import(&h, buf, n), -1);
    buf[i] ^= 0x01;
  }
  assert_int_equal(rs_sha256_import(&h, buf, n), 0);
  buf[6] = '2'; /* "RS256v2": a future version is not silently misread */
  assert_int_equal(rs_sha256_import(&h, buf, n), -1);
  assert_fresh(&h);
}

static void sha256_import_rejects_count_disagreeing_with_tail(void **state)
{
  (void)state;
  uint8_t buf[RS_SHA256_STATE_MAX];
  size_t n = exported(buf, 70); /* tail of 6 bytes */
  rs_sha256 h;
  buf[15] = 71; /* count says tail of 7 */
  assert_int_equal(rs_sha256_import(&h, buf, n), -1);
  buf[15] = 64 + 6; /* consistent again */
  assert_int_equal(rs_sha256_import(&h, buf, n), 0);
}

static void sha256_import_rejects_impossible_count(void **state)
{
  (void)state;
  uint8_t buf[RS_SHA256_STATE_MAX];
  size_t n = exported(buf, 70);
  rs_sha256 h;
  buf[8] = 0x20; /* 2^61 + 70 bytes: more than SHA-256 can count in bits */
  assert_int_equal(rs_sha256_import(&h, buf, n), -1);
  buf[8] = 0x1f;
  assert_int_equal(rs_sha256_import(&h, buf, n), 0);
  assert_int_equal(rs_sha256_length(&h), (UINT64_C(0x1f) << 56) + 70);
}

static void sha256_free_zeroizes(void **state)
{
  (void)state;
  rs_sha256 h;
  static const rs_sha256 zero;
  rs_sha256_init(&h);
  rs_sha256_update(&h, "secret", 6);
  rs_sha256_free(&h);
  assert_memory_equal(&h, &zero, sizeof(h));
  rs_sha256_free(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sha256_matches_nist_vectors),
      cmocka_unit_test(sha256_digest_matches_nist_vectors),
      cmocka_unit_test(sha256_one_update_matches_vectors),
      cmocka_unit_test(sha256_split_updates_match_one_shot),
      cmocka_unit_test(sha256_export_import_resumes_mid_stream),
      cmocka_unit_test(sha256_export_layout_is_portable),
      cmocka_unit_test(sha256_export_refuses_small_buffer),
      cmocka_unit_test(sha256_import_rejects_truncated_or_extended),
      cmocka_unit_test(sha256_import_rejects_bad_magic),
      cmocka_unit_test(sha256_import_rejects_count_disagreeing_with_tail),
      cmocka_unit_test(sha256_import_rejects_impossible_count),
      cmocka_unit_test(sha256_free_zeroizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
