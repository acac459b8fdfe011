/* The S3 store's pure parts, without a cluster: SigV4 percent-encoding, the state and sums
 * record codecs, the XML reader, timestamps, and the configuration setters' checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resumable/error.h"
#include "resumable/store_s3.h"
#include "hex.h"
#include "sha256.h"
#include "store_s3.h"
#include "store_internal.h"

static void encode_keeps_unreserved_and_slash(void **state)
{
  (void)state;
  char out[256];
  const char *in = "a b+c/é~_-.!*'()%?#&=";
  assert_true(s3_encode(in, strlen(in), 1, out, sizeof(out)) > 0);
  assert_string_equal(out, "a%20b%2Bc/%C3%A9~_-.%21%2A%27%28%29%25%3F%23%26%3D");
  assert_true(s3_encode("x/y", 3, 0, out, sizeof(out)) > 0);
  assert_string_equal(out, "x%2Fy");
  /* too small: 0, never a cut encoding */
  assert_int_equal(s3_encode("abc", 3, 1, out, 3), 0);
  assert_int_equal(s3_encode("%", 1, 1, out, 3), 0);
  assert_int_equal(s3_encode("%", 1, 1, out, 4), 3);
}

static s3_state sample(void)
{
  s3_state st;
  s3_state_init(&st);
  st.seq = 42;
  strcpy(st.writer, "0123456789abcdef0123456789abcdef");
  strcpy(st.key, "dir/a key with spaces/é");
  st.info.total = 20000000;
  st.info.has_target = 1;
  memset(st.info.target_sha256, 0xab, 32);
  st.info.hash_state_len = 113;
  for (size_t i = 0; i < st.info.hash_state_len; i++)
    st.info.hash_state[i] = (uint8_t)i;
  st.part_size = 5 << 20;
  strcpy(st.upload, "2~spWa719QmbLuQuJe6oHWd9t4S01SDcv");
  strcpy(st.token, "fedcba9876543210fedcba9876543210");
  strcpy(st.tail, "tail-000000000000002a-0123456789abcdef0123456789abcdef");
  st.tail_len = 1000;
  assert_int_equal(s3_state_add_part(&st, 5 << 20, "6a46ef88e400e97d25f5fa759dfd544a"),
                   RESUMABLE_OK);
  assert_int_equal(s3_state_add_part(&st, 5 << 20, "4eed7ef267c74bdf8dd703f7b3d74674"),
                   RESUMABLE_OK);
  st.info.held = (10 << 20) + 1000;
  return st;
}

static void state_round_trips(void **state)
{
  (void)state;
  s3_state st = sample(), back;
  char *buf = NULL;
  size_t len = 0;
  assert_int_equal(s3_state_encode(&st, &buf, &len), RESUMABLE_OK);
  assert_int_equal(s3_state_decode(buf, len, &back), RESUMABLE_OK);
  assert_int_equal(back.seq, 42);
  assert_string_equal(back.key, st.key);
  assert_string_equal(back.writer, st.writer);
  assert_string_equal(back.upload, st.upload);
  assert_string_equal(back.token, st.token);
  assert_string_equal(back.tail, st.tail);
  assert_int_equal(back.tail_len, 1000);
  assert_int_equal(back.info.total, st.info.total);
  assert_int_equal(back.info.held, st.info.held);
  assert_int_equal(back.info.has_target, 1);
  assert_memory_equal(back.info.target_sha256, st.info.target_sha256, 32);
  assert_int_equal(back.info.hash_state_len, 113);
  assert_memory_equal(back.info.hash_state, st.info.hash_state, 113);
  assert_int_equal(back.nparts, 2);
  assert_int_equal(back.parts[1].number, 2);
  assert_string_equal(back.parts[1].etag, "4eed7ef267c74bdf8dd703f7b3d74674");
  s3_state_free(&back);
  free(buf);
  s3_state_free(&st);
}

/* Any changed byte (a torn or edited record) is refused, never applied. */
static void state_refuses_every_changed_byte(void **state)
{
  (void)state;
  s3_state st = sample(), back;
  char *buf = NULL;
  size_t len = 0;
  assert_int_equal(s3_state_encode(&st, &buf, &len), RESUMABLE_OK);
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    buf[i] = (char)(c ^ 0x01);
    assert_int_equal(s3_state_decode(buf, len, &back), RESUMABLE_E_IO);
    buf[i] = c;
  }
  for (size_t cut = 0; cut < len; cut += 7)
    assert_int_equal(s3_state_decode(buf, cut, &back), RESUMABLE_E_IO);
  free(buf);
  s3_state_free(&st);
}

/* A record whose held count disagrees with its parts and tail is refused even with a valid
 * checksum: the codec checks meaning, not only bytes. */
static void state_refuses_inconsistent_held(void **state)
{
  (void)state;
  s3_state st = sample(), back;
  st.info.held += 1;
  char *buf = NULL;
  size_t len = 0;
  assert_int_equal(s3_state_encode(&st, &buf, &len), RESUMABLE_OK);
  assert_int_equal(s3_state_decode(buf, len, &back), RESUMABLE_E_IO);
  free(buf);
  /* a tombstone carries no parts and needs none */
  s3_state t;
  s3_state_init(&t);
  t.seq = 7;
  t.gone = 1;
  strcpy(t.key, "k");
  assert_int_equal(s3_state_encode(&t, &buf, &len), RESUMABLE_OK);
  assert_int_equal(s3_state_decode(buf, len, &back), RESUMABLE_OK);
  assert_int_equal(back.gone, 1);
  assert_int_equal(back.seq, 7);
  s3_state_free(&back);
  free(buf);
  s3_state_free(&st);
}

/* Version 2 keeps what the tus dialect needs: the client's metadata, a total not known yet
 * (creation-defer-length), and the sealed mark of a whole concatenation part. */
static void state_keeps_metadata_unknown_total_and_seal(void **state)
{
  (void)state;
  s3_state st = sample(), back;
  static const char meta[] = "filename ZmlsZS5iaW4=,empty,note IA==";
  memcpy(st.info.metadata, meta, sizeof(meta) - 1);
  st.info.metadata_len = sizeof(meta) - 1;
  st.info.total = RESUMABLE_LENGTH_UNKNOWN;
  char *buf = NULL;
  size_t len = 0;
  assert_int_equal(s3_state_encode(&st, &buf, &len), RESUMABLE_OK);
  assert_non_null(strstr(buf, "resumable-s3-state 2\n"));
  assert_int_equal(s3_state_decode(buf, len, &back), RESUMABLE_OK);
  assert_int_equal(back.info.total, RESUMABLE_LENGTH_UNKNOWN);
  assert_int_equal(back.info.metadata_len, sizeof(meta) - 1);
  assert_memory_equal(back.info.metadata, meta, sizeof(meta) - 1);
  assert_int_equal(back.sealed, 0);
  s3_state_free(&back);
  free(buf);
  /* the largest metadata fits a record */
  memset(st.info.metadata, 'm', RESUMABLE_METADATA_MAX);
  st.info.metadata_len = RESUMABLE_METADATA_MAX;
  assert_int_equal(s3_state_encode(&st, &buf, &len), RESUMABLE_OK);
  assert_int_equal(s3_state_decode(buf, len, &back), RESUMABLE_OK);
  assert_int_equal(back.info.metadata_len, RESUMABLE_METADATA_MAX);
  s3_state_free(&back);
  free(buf);
  /* sealed: every byte in parts, held == total, no tail; anything else is refused */
  st.info.metadata_len = 0;
  st.tail[0] = '\0';
  st.tail_len = 0;
  st.info.held = st.info.total = 10 << 20;
  st.sealed = 1;
  assert_int_equal(s3_state_encode(&st, &buf, &len), RESUMABLE_OK);
  assert_int_equal(s3_state_decode(buf, len, &back), RESUMABLE_OK);
  assert_int_equal(back.sealed, 1);
  s3_state_free(&back);
  free(buf);
  st.info.total += 1;
  assert_int_equal(s3_state_encode(&st, &buf, &len), RESUMABLE_OK);
  assert_int_equal(s3_state_decode(buf, len, &back), RESUMABLE_E_IO);
  free(buf);
  s3_state_free(&st);
}

/* A version 1 record (written before the tus dialect) still loads: no metadata, not sealed. */
static void state_version_1_still_loads(void **state)
{
  (void)state;
  static const char body[] =
      "resumable-s3-state 1\nseq 3\nwriter 0123456789abcdef0123456789abcdef\ngone 0\n"
      "key old/file.bin\ntotal 20000000\nheld 1000\ntarget -\nhash 00ff\npart-size 5242880\n"
      "upload -\ntoken -\ntail tail-0000000000000003-0123456789abcdef0123456789abcdef 1000\n";
  uint8_t d[32];
  char hex[65], buf[1024];
  rs_sha256_digest(body, sizeof(body) - 1, d);
  rs_sha256_hex_format(d, hex);
  int len = snprintf(buf, sizeof(buf), "%send %s\n", body, hex);
  s3_state back;
  assert_int_equal(s3_state_decode(buf, (size_t)len, &back), RESUMABLE_OK);
  assert_string_equal(back.key, "old/file.bin");
  assert_int_equal(back.info.held, 1000);
  assert_int_equal(back.info.hash_state_len, 2);
  assert_int_equal(back.info.metadata_len, 0);
  assert_int_equal(back.sealed, 0);
  assert_int_equal(back.tail_len, 1000);
  s3_state_free(&back);
}

static void sums_round_trip_and_bind_the_key(void **state)
{
  (void)state;
  resumable_complete_info ci = {.size = 123456789}, back;
  memset(ci.sha256, 0x5a, 32);
  char buf[512];
  size_t len = 0;
  assert_int_equal(s3_sums_encode("a/b", &ci, buf, sizeof(buf), &len), RESUMABLE_OK);
  assert_int_equal(s3_sums_decode(buf, len, "a/b", &back), RESUMABLE_OK);
  assert_int_equal(back.size, ci.size);
  assert_memory_equal(back.sha256, ci.sha256, 32);
  assert_int_equal(s3_sums_decode(buf, len, "a/c", &back), RESUMABLE_E_IO);
  buf[30] ^= 1;
  assert_int_equal(s3_sums_decode(buf, len, "a/b", &back), RESUMABLE_E_IO);
}

static void xml_reads_tags_in_order_and_decodes_entities(void **state)
{
  (void)state;
  const char *x = "<R><NextUploadIdMarker>m</NextUploadIdMarker><Upload><Key>a &amp; b&#47;"
                  "&lt;c&gt;</Key><UploadId>2~x</UploadId></Upload><Upload><Key>d</Key>"
                  "</Upload></R>";
  char out[64];
  size_t pos = 0, a, b;
  assert_int_equal(s3_xml_element(x, strlen(x), &pos, "Upload", &a, &b), 0);
  size_t p = a;
  assert_int_equal(s3_xml_text(x, b, &p, "Key", out, sizeof(out)), 9);
  assert_string_equal(out, "a & b/<c>");
  p = a;
  assert_int_equal(s3_xml_text(x, b, &p, "UploadId", out, sizeof(out)), 3);
  assert_string_equal(out, "2~x");
  assert_int_equal(s3_xml_element(x, strlen(x), &pos, "Upload", &a, &b), 0);
  p = a;
  assert_int_equal(s3_xml_text(x, b, &p, "UploadId", out, sizeof(out)), -1);
  assert_int_equal(s3_xml_element(x, strlen(x), &pos, "Upload", &a, &b), -1);
  /* too long for the caller's buffer: refused, not cut */
  p = 0;
  assert_int_equal(s3_xml_text(x, strlen(x), &p, "Key", out, 5), -1);
  assert_true(s3_xml_escape("a<b&'\"", out, sizeof(out)) > 0);
  assert_string_equal(out, "a&lt;b&amp;&apos;&quot;");
}

static void iso8601_is_utc_seconds(void **state)
{
  (void)state;
  assert_int_equal(s3_iso8601("1970-01-01T00:00:00.000Z"), 0);
  assert_int_equal(s3_iso8601("2026-12-04T16:40:46.609Z"), 1796402446);
  assert_int_equal(s3_iso8601("2000-02-29T23:59:59Z"), 951868799);
  assert_int_equal(s3_iso8601("2026-13-04T16:40:46Z"), -1);
  assert_int_equal(s3_iso8601("yesterday"), -1);
}

static void config_setters_check_their_values(void **state)
{
  (void)state;
  resumable_s3_config *c = NULL;
  assert_int_equal(resumable_s3_config_new(NULL), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_new(&c), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_endpoint(c, "ftp://x"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_endpoint(c, "http://h/path"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_endpoint(c, "http://u@h"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_endpoint(c, "http://"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_endpoint(c, "https://s3.example.com:9000/"),
                   RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_bucket(c, "ab"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_bucket(c, "Upper"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_bucket(c, "my-bucket.1"), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_region(c, "eu west"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_region(c, "eu-west-3"), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_prefix(c, "a//b"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_prefix(c, "a/../b/"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_prefix(c, "/a"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_prefix(c, "a\\b"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_prefix(c, "uploads/v1/"), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_prefix(c, NULL), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_addressing(c, (resumable_s3_addressing)7),
                   RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_part_size(c, (5u << 20) - 1), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_part_size(c, (uint64_t)2 << 30),
                   RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_part_size(c, 16u << 20), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_credentials(c, "a:b", "s", NULL),
                   RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_credentials(c, "", "s", NULL), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_s3_config_set_credentials(c, "AK", "s e", NULL),
                   RESUMABLE_E_INVALID_ARG);
  /* without credentials set, the environment is read when the store is made */
  resumable_store *st = NULL;
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  assert_int_equal(resumable_store_s3_new(&st, c), RESUMABLE_E_INVALID_ARG);
  assert_null(st);
  setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  assert_int_equal(resumable_store_s3_new(&st, c), RESUMABLE_OK);
  resumable_store_free(st);
  assert_int_equal(resumable_s3_config_set_credentials(c, "AK", "SK", "tok"), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_addressing(c, RESUMABLE_S3_VIRTUAL_HOST), RESUMABLE_OK);
  assert_int_equal(resumable_store_s3_new(&st, c), RESUMABLE_OK);
  s3_store *s = resumable_store_self(st);
  assert_string_equal(s->base, "https://my-bucket.1.s3.example.com:9000");
  assert_int_equal(s->path_style, 0);
  assert_string_equal(s->sigv4, "aws:amz:eu-west-3:s3");
  resumable_store_free(st);
  resumable_s3_config_free(c);
  resumable_s3_config_free(NULL);
  /* no endpoint or bucket */
  assert_int_equal(resumable_s3_config_new(&c), RESUMABLE_OK);
  assert_int_equal(resumable_store_s3_new(&st, c), RESUMABLE_E_INVALID_ARG);
  resumable_s3_config_free(c);
}

/* The store refuses keys the handler would never pass, rather than place objects for them. */
static void key_check_refuses_malformed_keys(void **state)
{
  (void)state;
  char seg[300], longkey[1100];
  assert_int_equal(s3_key_check("a/b c/é.bin"), RESUMABLE_OK);
  assert_int_equal(s3_key_check(".hidden/x..y"), RESUMABLE_OK);
  assert_int_equal(s3_key_check(NULL), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(s3_key_check(""), RESUMABLE_E_INVALID_ARG);
  memset(longkey, 'a', 1025);
  longkey[1025] = '\0';
  assert_int_equal(s3_key_check(longkey), RESUMABLE_E_INVALID_ARG);
  const char *bad[] = {
      "a//b", "/a",     "a/",   ".", "a/./b", "..", "a/../b", ".resumable", "a/.resumable-x/b",
      "a\\b", "a\x01b", "a\x7f"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(s3_key_check(bad[i]), RESUMABLE_E_CONFLICT);
    assert_int_equal(s3_key_check_read(bad[i]), RESUMABLE_E_NOT_FOUND);
  }
  memset(seg, 'b', 256);
  seg[256] = '\0';
  assert_int_equal(s3_key_check(seg), RESUMABLE_E_CONFLICT);
  seg[255] = '\0';
  assert_int_equal(s3_key_check(seg), RESUMABLE_OK);
  /* a tus concatenation part's key passes the partial ops' check only */
  const char *part = RESUMABLE_PART_PREFIX "0123456789abcdef0123456789abcdef";
  assert_true(s3_part_key(part));
  assert_int_equal(s3_partial_key_check(part, 0), RESUMABLE_OK);
  assert_int_equal(s3_partial_key_check(part, 1), RESUMABLE_OK);
  assert_int_equal(s3_key_check(part), RESUMABLE_E_CONFLICT);
  assert_int_equal(s3_key_check_read(part), RESUMABLE_E_NOT_FOUND);
  const char *not_parts[] = {RESUMABLE_PART_PREFIX, RESUMABLE_PART_PREFIX "0123ABCD",
                             RESUMABLE_PART_PREFIX "01/23", RESUMABLE_PART_PREFIX "../x",
                             ".resumable-partx/0123"};
  for (size_t i = 0; i < sizeof(not_parts) / sizeof(not_parts[0]); i++) {
    assert_false(s3_part_key(not_parts[i]));
    assert_int_equal(s3_partial_key_check(not_parts[i], 0), RESUMABLE_E_CONFLICT);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encode_keeps_unreserved_and_slash),
      cmocka_unit_test(state_round_trips),
      cmocka_unit_test(state_refuses_every_changed_byte),
      cmocka_unit_test(state_refuses_inconsistent_held),
      cmocka_unit_test(state_keeps_metadata_unknown_total_and_seal),
      cmocka_unit_test(state_version_1_still_loads),
      cmocka_unit_test(sums_round_trip_and_bind_the_key),
      cmocka_unit_test(xml_reads_tags_in_order_and_decodes_entities),
      cmocka_unit_test(iso8601_is_utc_seconds),
      cmocka_unit_test(config_setters_check_their_values),
      cmocka_unit_test(key_check_refuses_malformed_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
