/* The tus header parsers and formatters (lib/tus_header.c): base64, Upload-Metadata,
 * Upload-Checksum, Upload-Concat and part URLs, keys from metadata, Content-Type, dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tus_header.h"

static int md_ok(const char *s)
{
  return rs_tus_metadata_check(s, strlen(s)) == 0;
}

static void base64_decodes_rfc4648_vectors(void **state)
{
  (void)state;
  static const struct {
    const char *in, *out;
  } v[] = {{"", ""},
           {"Zg==", "f"},
           {"Zm8=", "fo"},
           {"Zm9v", "foo"},
           {"Zm9vYg==", "foob"},
           {"Zm9vYmE=", "fooba"},
           {"Zm9vYmFy", "foobar"},
           {"Zg", "f"},
           {"Zm8", "fo"}}; /* unpadded forms are accepted */
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    uint8_t out[16];
    size_t n = 99;
    assert_int_equal(rs_base64_decode(v[i].in, strlen(v[i].in), out, sizeof(out), &n), 0);
    assert_int_equal(n, strlen(v[i].out));
    assert_memory_equal(out, v[i].out, n);
  }
}

static void base64_rejects_malformed_input(void **state)
{
  (void)state;
  static const char *bad[] = {"Z",     "Zm9v=", "Zg=",  "Z===",     "Zm9*",
                              "Zm 9v", "=Zm9",  "Zh==", "Zm9vYg=a", "Zm-v"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint8_t out[16];
    size_t n;
    assert_int_equal(rs_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n), -1);
  }
  uint8_t small[2];
  size_t n;
  assert_int_equal(rs_base64_decode("Zm9v", 4, small, sizeof(small), &n), -1); /* over cap */
}

static void base64_encode_round_trips(void **state)
{
  (void)state;
  uint8_t in[70];
  for (size_t i = 0; i < sizeof(in); i++)
    in[i] = (uint8_t)(i * 37 + 11);
  for (size_t len = 0; len <= sizeof(in); len++) {
    char enc[100];
    uint8_t dec[70];
    size_t n;
    int k = rs_base64_encode(in, len, enc, sizeof(enc));
    assert_true(k >= 0 && (size_t)k == (len + 2) / 3 * 4);
    assert_int_equal(rs_base64_decode(enc, (size_t)k, dec, sizeof(dec), &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(dec, in, len);
  }
  char tiny[4];
  assert_int_equal(rs_base64_encode(in, 3, tiny, sizeof(tiny)), -1); /* no room for the NUL */
}

static void metadata_accepts_the_specs_forms(void **state)
{
  (void)state;
  assert_true(md_ok(""));
  assert_true(md_ok("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential"));
  assert_true(md_ok("a YQ==,b,c "));         /* a key without value, with or without space */
  assert_true(md_ok("a YQ==, b Yg== ,\tc")); /* blanks around pairs */
  assert_true(md_ok("k"));
}

static void metadata_rejects_malformed_values(void **state)
{
  (void)state;
  assert_false(md_ok("a YQ==,"));   /* trailing comma */
  assert_false(md_ok(",a YQ=="));   /* empty first pair */
  assert_false(md_ok("a YQ==,,b")); /* empty pair */
  assert_false(md_ok("a !!!!"));    /* not base64 */
  assert_false(md_ok("a YQ"
                     "=x"));            /* '=' inside */
  assert_false(md_ok("a YQ== Yg=="));   /* two values */
  assert_false(md_ok("a YQ==,a Yg==")); /* duplicate key */
  assert_false(md_ok("a,b,a"));         /* duplicate key without values */
  assert_false(md_ok("\xc3\xa9 YQ==")); /* non-ASCII key */
  assert_false(md_ok("a\x01 YQ=="));    /* control byte in the key */
  assert_true(md_ok(" "));              /* only blanks: no pair, like "" */
}

static void metadata_get_finds_and_decodes_one_pair(void **state)
{
  (void)state;
  const char *m = "filename aGVsbG8udHh0,key ZGlyL2YuYmlu,empty";
  uint8_t out[64];
  size_t n = 0;
  assert_int_equal(rs_tus_metadata_get(m, strlen(m), "key", out, sizeof(out), &n), 1);
  assert_int_equal(n, 9);
  assert_memory_equal(out, "dir/f.bin", 9);
  assert_int_equal(rs_tus_metadata_get(m, strlen(m), "filename", out, sizeof(out), &n), 1);
  assert_memory_equal(out, "hello.txt", 9);
  assert_int_equal(rs_tus_metadata_get(m, strlen(m), "empty", out, sizeof(out), &n), 1);
  assert_int_equal(n, 0);
  assert_int_equal(rs_tus_metadata_get(m, strlen(m), "file", out, sizeof(out), &n), 0);
  assert_int_equal(rs_tus_metadata_get(m, strlen(m), "key", out, 4, &n), -1); /* too long */
}

static void checksum_parses_the_offered_algorithms(void **state)
{
  (void)state;
  rs_tus_algo a = RS_TUS_ALGO_NONE;
  uint8_t d[32];
  /* sha1("hello world"), the spec's example */
  const char *sha1 = "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=";
  assert_int_equal(rs_tus_checksum_parse(sha1, strlen(sha1), &a, d), 0);
  assert_int_equal(a, RS_TUS_ALGO_SHA1);
  assert_int_equal(d[0], 0x2a);
  const char *md5 = "md5 XrY7u+Ae7tCTyyK7j1rNww==";
  assert_int_equal(rs_tus_checksum_parse(md5, strlen(md5), &a, d), 0);
  assert_int_equal(a, RS_TUS_ALGO_MD5);
  const char *s256 = "sha256 uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";
  assert_int_equal(rs_tus_checksum_parse(s256, strlen(s256), &a, d), 0);
  assert_int_equal(a, RS_TUS_ALGO_SHA256);
  assert_int_equal(rs_tus_algo_len(a), 32);
}

static void checksum_rejects_unknown_algorithms_and_bad_digests(void **state)
{
  (void)state;
  rs_tus_algo a;
  uint8_t d[32];
  static const struct {
    const char *v;
    int want;
  } v[] = {{"crc32 AAAAAA==", -2},
           {"SHA1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", -2}, /* names are lower-case only */
           {"sha1 Kq5sNclPz7QV2+lfQIuc6R7oRg==", -1}, /* 19 bytes */
           {"sha1 Kq5s!clPz7QV2+lfQIuc6R7oRu0=", -1},
           {"sha1", -1},
           {"sha1 ", -1},
           {" Kq5sNclPz7QV2+lfQIuc6R7oRu0=", -1},
           {"sha1  Kq5sNclPz7QV2+lfQIuc6R7oRu0=", -1},
           {"sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0= x", -1}};
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    assert_int_equal(rs_tus_checksum_parse(v[i].v, strlen(v[i].v), &a, d), v[i].want);
}

static void concat_parses_partial_and_final_lists(void **state)
{
  (void)state;
  const char *urls;
  size_t ulen, pos = 0, n;
  const char *u;
  assert_int_equal(rs_tus_concat_parse("partial", 7, &urls, &ulen), RS_TUS_CONCAT_PARTIAL);
  const char *f = "final;/a  http://h/b";
  assert_int_equal(rs_tus_concat_parse(f, strlen(f), &urls, &ulen), RS_TUS_CONCAT_FINAL);
  assert_int_equal(rs_tus_concat_next(urls, ulen, &pos, &u, &n), 1);
  assert_int_equal(n, 2);
  assert_memory_equal(u, "/a", 2);
  assert_int_equal(rs_tus_concat_next(urls, ulen, &pos, &u, &n), 1);
  assert_memory_equal(u, "http://h/b", n);
  assert_int_equal(rs_tus_concat_next(urls, ulen, &pos, &u, &n), 0);
  static const char *bad[] = {"final;", "final; ", "final", "Partial", "partial ", "whole"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(rs_tus_concat_parse(bad[i], strlen(bad[i]), &urls, &ulen),
                     RS_TUS_CONCAT_MALFORMED);
}

static void part_urls_match_by_path_only(void **state)
{
  (void)state;
  char key[RS_TUS_PART_KEY_LEN + 1];
  const char *p = "/v1/files/";
  static const char *good[] = {
      "/v1/files/.resumable-part/0123456789abcdef0123456789abcdef",
      "http://127.0.0.1:9/v1/files/.resumable-part/0123456789abcdef0123456789abcdef",
      "https://proxy.example/v1/files/.resumable-part/0123456789abcdef0123456789abcdef?x=1",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_int_equal(rs_tus_part_url(good[i], strlen(good[i]), p, strlen(p), key), 0);
    assert_string_equal(key, ".resumable-part/0123456789abcdef0123456789abcdef");
  }
  static const char *bad[] = {
      "/v1/files/big.img",
      "/v2/files/.resumable-part/0123456789abcdef0123456789abcdef",
      "/v1/files/.resumable-part/0123456789ABCDEF0123456789abcdef", /* upper case */
      "/v1/files/.resumable-part/0123456789abcdef0123456789abcde",  /* short */
      "/v1/files/.resumable-part/0123456789abcdef0123456789abcdef0",
      "/v1/files/.resumable-part/../0123456789abcdef0123456789abcd",
      "http://h",
      "",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(rs_tus_part_url(bad[i], strlen(bad[i]), p, strlen(p), key), -1);
}

static void keys_from_metadata_obey_the_key_rules(void **state)
{
  (void)state;
  char key[RS_KEY_MAX + 1];
  assert_int_equal(rs_tus_key_from_bytes((const uint8_t *)"dir/a b%.bin", 12, key, sizeof(key)),
                   RS_KEY_OK);
  assert_string_equal(key, "dir/a b%.bin"); /* no percent-decoding of a metadata value */
  assert_int_equal(rs_tus_key_from_bytes((const uint8_t *)"a\0b", 3, key, sizeof(key)),
                   RS_KEY_BAD_BYTE);
  assert_string_equal(key, "");
  assert_int_equal(rs_tus_key_from_bytes((const uint8_t *)"../x", 4, key, sizeof(key)),
                   RS_KEY_BAD_SEGMENT);
  assert_int_equal(rs_tus_key_from_bytes((const uint8_t *)".resumable/x", 12, key, sizeof(key)),
                   RS_KEY_RESERVED);
  assert_int_equal(rs_tus_key_from_bytes((const uint8_t *)"", 0, key, sizeof(key)), RS_KEY_EMPTY);
  uint8_t big[RS_KEY_MAX + 1];
  memset(big, 'a', sizeof(big));
  assert_int_equal(rs_tus_key_from_bytes(big, sizeof(big), key, sizeof(key)), RS_KEY_TOO_LONG);
}

static void key_encode_escapes_all_but_unreserved_and_slash(void **state)
{
  (void)state;
  char out[64];
  assert_int_equal(rs_tus_key_encode("d/a b%\xc3\xa9~.bin", out, sizeof(out)), 21);
  assert_string_equal(out, "d/a%20b%25%C3%A9~.bin");
  assert_int_equal(rs_tus_key_encode("abc", out, 3), -1);
}

static void content_type_is_offset_octet_stream_only(void **state)
{
  (void)state;
  static const char *good[] = {"application/offset+octet-stream", "Application/Offset+Octet-Stream",
                               "application/offset+octet-stream; charset=x"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_true(rs_tus_content_type_ok(good[i], strlen(good[i])));
  static const char *bad[] = {"application/octet-stream", "application/offset+octet-streamx", "",
                              "text/plain"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_false(rs_tus_content_type_ok(bad[i], strlen(bad[i])));
}

static void http_dates_are_imf_fixdates(void **state)
{
  (void)state;
  char d[RS_HTTP_DATE_LEN + 1];
  assert_int_equal(rs_http_date(784111777, d), 0);
  assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
  assert_int_equal(rs_http_date(0, d), 0);
  assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
  assert_int_equal(rs_http_date(951782400, d), 0); /* a leap day */
  assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 GMT");
  assert_int_equal(rs_http_date(-1, d), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(base64_decodes_rfc4648_vectors),
      cmocka_unit_test(base64_rejects_malformed_input),
      cmocka_unit_test(base64_encode_round_trips),
      cmocka_unit_test(metadata_accepts_the_specs_forms),
      cmocka_unit_test(metadata_rejects_malformed_values),
      cmocka_unit_test(metadata_get_finds_and_decodes_one_pair),
      cmocka_unit_test(checksum_parses_the_offered_algorithms),
      cmocka_unit_test(checksum_rejects_unknown_algorithms_and_bad_digests),
      cmocka_unit_test(concat_parses_partial_and_final_lists),
      cmocka_unit_test(part_urls_match_by_path_only),
      cmocka_unit_test(keys_from_metadata_obey_the_key_rules),
      cmocka_unit_test(key_encode_escapes_all_but_unreserved_and_slash),
      cmocka_unit_test(content_type_is_offset_octet_stream_only),
      cmocka_unit_test(http_dates_are_imf_fixdates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
