/* RFC 9530 Content-Digest: the strict dictionary parser and the per-request verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "req_digest.h"
#include "resumable/error.h"

/* SHA-256 and SHA-512 of "abc" (FIPS 180-2), base64. */
#define ABC256 "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
#define ABC512 \
  "3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="

static int parse(const char *s, rs_rd_algo *algo, uint8_t want[64])
{
  const char *why = NULL;
  int rc = rs_rd_parse(s, strlen(s), algo, want, &why);
  if (rc != 0)
    assert_non_null(why);
  return rc;
}

static void well_formed_fields(void **state)
{
  (void)state;
  rs_rd_algo a;
  uint8_t w[64];
  assert_int_equal(parse("sha-256=:" ABC256 ":", &a, w), 0);
  assert_int_equal(a, RS_RD_SHA256);
  assert_int_equal(w[0], 0xba);
  assert_int_equal(parse("sha-512=:" ABC512 ":", &a, w), 0);
  assert_int_equal(a, RS_RD_SHA512);
  assert_int_equal(w[0], 0xdd);
  /* both: sha-256 is verified; unknown members and parameters are ignored */
  assert_int_equal(parse("  sha-512=:" ABC512 ":,sha-256=:" ABC256 ":;x=1, md5=:AAAA:", &a, w), 0);
  assert_int_equal(a, RS_RD_SHA256);
  /* only unsupported algorithms: well-formed, nothing to verify */
  assert_int_equal(parse("md5=:AAAA:, unixsum=:AAA=:", &a, w), 0);
  assert_int_equal(a, RS_RD_NONE);
  /* padding may be left off */
  assert_int_equal(parse("sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0:", &a, w), 0);
  assert_int_equal(a, RS_RD_SHA256);
}

static void malformed_fields(void **state)
{
  (void)state;
  static const char *bad[] = {
      "",
      "   ",
      "sha-256",                                   /* no value */
      "sha-256=" ABC256,                           /* not a byte sequence */
      "sha-256=:" ABC256,                          /* unterminated */
      "sha-256=\"" ABC256 "\"",                    /* a string */
      "SHA-256=:" ABC256 ":",                      /* keys are lower case */
      "sha-256=:AAAA:",                            /* wrong length */
      "sha-512=:" ABC256 ":",                      /* wrong length */
      "sha-256=:" ABC256 "::",                     /* junk after the item */
      "sha-256=:" ABC256 ":,",                     /* trailing comma */
      "sha-256=:" ABC256 ": sha-512=:" ABC512 ":", /* no comma */
      "sha-256=:u!gW:",                            /* not base64 */
      "sha-256=:" ABC256 ":;",                     /* empty parameter */
      "sha-256=:" ABC256 ":;a=\"x\"",              /* string parameters are not taken */
      "1sha=:AAAA:",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    rs_rd_algo a;
    uint8_t w[64];
    if (parse(bad[i], &a, w) != -1)
      fail_msg("accepted: %s", bad[i]);
  }
}

static void header_lines_combine(void **state)
{
  (void)state;
  rs_rd_hdr h;
  memset(&h, 0, sizeof(h));
  rs_rd_hdr_add(&h, "md5=:AAAA:");
  rs_rd_hdr_add(&h, "sha-256=:" ABC256 ":");
  assert_string_equal(h.value, "md5=:AAAA:, sha-256=:" ABC256 ":");
  rs_rd_algo a;
  uint8_t w[64];
  assert_int_equal(parse(h.value, &a, w), 0);
  assert_int_equal(a, RS_RD_SHA256);
  char big[RS_RD_HDR_MAX];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  rs_rd_hdr_add(&h, big);
  assert_true(h.too_long);
}

static void verify(rs_hash_pool *pool, const char *field, const char *body, int expect)
{
  rs_rd_algo a;
  uint8_t w[64];
  rs_req_digest d;
  memset(&d, 0, sizeof(d));
  assert_int_equal(parse(field, &a, w), 0);
  rs_req_digest_start(&d, a, w, pool);
  for (size_t i = 0; body[i]; i++) /* byte by byte: the digest spans pieces */
    rs_req_digest_update(&d, body + i, 1);
  assert_int_equal(rs_req_digest_matches(&d), expect);
  assert_int_equal(d.algo, RS_RD_NONE);
}

static void verifies_bodies(void **state)
{
  (void)state;
  rs_hash_pool *pool = NULL;
  assert_int_equal(rs_hash_pool_new(&pool, 1, 2, 2, 4), RESUMABLE_OK);
  for (int piped = 0; piped < 2; piped++) {
    rs_hash_pool *p = piped ? pool : NULL;
    verify(p, "sha-256=:" ABC256 ":", "abc", 1);
    verify(p, "sha-256=:" ABC256 ":", "abd", 0);
    verify(p, "sha-512=:" ABC512 ":", "abc", 1);
    verify(p, "sha-512=:" ABC512 ":", "ab", 0);
  }
  /* started and dropped without finishing: no leak, no thread left on it */
  rs_req_digest d;
  memset(&d, 0, sizeof(d));
  uint8_t w[64] = {0};
  rs_req_digest_start(&d, RS_RD_SHA256, w, pool);
  rs_req_digest_update(&d, "abcdef", 6);
  rs_req_digest_free(&d);
  rs_req_digest_free(&d); /* idle: no-op */
  rs_hash_pool_free(pool);
}

/* Tee'd on a host pipe (the key's whole-file hash, 7 bytes in already): the body reaches the
 * digest through the host alone, updates on d are ignored, and a discard of the host (a
 * rollback) makes the digest fail rather than judge a body it did not all see. */
static void tee_on_host_pipe_verifies_and_fails_after_discard(void **state)
{
  (void)state;
  rs_hash_pool *pool = NULL;
  assert_int_equal(rs_hash_pool_new(&pool, 1, 2, 2, 4), RESUMABLE_OK);
  for (int piped = 0; piped < 2; piped++) {
    for (int discard = 0; discard < 2; discard++) {
      rs_sha256 file;
      rs_hash_pipe host;
      rs_sha256_init(&file);
      rs_hash_pipe_bind(&host, piped ? pool : NULL, &file);
      rs_hash_pipe_update(&host, "earlier", 7);
      rs_rd_algo a;
      uint8_t w[64];
      rs_req_digest d;
      memset(&d, 0, sizeof(d));
      assert_int_equal(parse("sha-256=:" ABC256 ":", &a, w), 0);
      rs_req_digest_start(&d, a, w, piped ? pool : NULL);
      rs_req_digest_tee(&d, &host);
      assert_ptr_equal(d.host, &host);
      rs_hash_pipe_update(&host, "abc", 3);
      rs_req_digest_update(&d, "zzz", 3); /* ignored: the host feeds it */
      if (discard)
        rs_hash_pipe_discard(&host);
      assert_int_equal(rs_req_digest_matches(&d), !discard);
      assert_int_equal(d.algo, RS_RD_NONE);
      rs_hash_pipe_drain(&host);
      if (!discard)
        assert_int_equal(rs_sha256_length(&file), 10);
      rs_hash_pipe_fini(&host);
    }
  }
  rs_hash_pool_free(pool);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(well_formed_fields),
      cmocka_unit_test(malformed_fields),
      cmocka_unit_test(header_lines_combine),
      cmocka_unit_test(verifies_bodies),
      cmocka_unit_test(tee_on_host_pipe_verifies_and_fails_after_discard),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
