/* Hostile keys and malformed headers: always 400, nothing created, and the server keeps
 * answering. Keys go through raw sockets so no client normalises "..". */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int raw_put(const it_server *s, const char *raw_key)
{
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "PUT " IT_PREFIX "%s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   "Connection: close\r\n\r\nhello",
                   raw_key);
  assert_true(n > 0 && (size_t)n < sizeof req);
  return it_raw_request(s->port, req, (size_t)n);
}

/* A host with the capability "routes-normalized-target" (nginx, kit_host.h) resolves "..",
 * "." and "%2e" in the target before it chooses a handler: a target that climbs out of the
 * upload prefix is not the handler's at all, and gets the host's answer for that other path (a
 * 404 or 405 here). Nothing is touched either way. */
static int refused(int status)
{
  if (status == 400)
    return 1;
  return kit_active() && kit_has("routes-normalized-target") && (status == 404 || status == 405);
}

static void assert_refused_and_untouched(const it_server *s, const char *raw_key)
{
  char *before = it_tree(s->parent);
  int status = raw_put(s, raw_key);
  if (!refused(status))
    fail_msg("key '%.80s': status %d, want 400", raw_key, status);
  char *after = it_tree(s->parent);
  if (strcmp(before, after) != 0)
    fail_msg("key '%.80s' changed the tree:\n%s---\n%s", raw_key, before, after);
  free(before);
  free(after);
}

static void traversal_and_reserved_keys_are_400_and_touch_nothing(void **state)
{
  it_server *s = *state;
  static const char *const keys[] = {
      "..",
      "../escape",
      "a/../../escape",
      "%2e%2e/escape",
      "%2E%2E",
      "a%2F..%2F..%2Fx",
      "%2F..%2Fx",
      "./x",
      "a/./b",
      ".resumable/x",
      ".resumable",
      "a/.resumable-tmp",
      "%2eresumable/x",
      "a%00b",
      "a%5Cb",
      "a\\b",
      "a%0Ab",
      "a%7Fb",
      "a//b",
      "a/",
      "%zz",
      "a%2",
      "",
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    assert_refused_and_untouched(s, keys[i]);
}

/* `n` bytes of key made of 200-byte segments, so only the total length can be wrong. */
static char *long_key(size_t n)
{
  char *k = malloc(n + 1);
  assert_non_null(k);
  for (size_t i = 0; i < n; i++)
    k[i] = (i % 201 == 200) ? '/' : 'k';
  if (k[n - 1] == '/')
    k[n - 1] = 'k';
  k[n] = '\0';
  return k;
}

static void key_over_1024_bytes_is_400(void **state)
{
  it_server *s = *state;
  char *k = long_key(1025);
  assert_refused_and_untouched(s, k);
  free(k);
  k = long_key(1024); /* the limit itself is fine */
  assert_int_equal(raw_put(s, k), 200);
  free(k);
}

static void encoded_slash_is_decoded_once(void **state)
{
  it_server *s = *state;
  char path[512];
  size_t len;
  assert_int_equal(raw_put(s, "sub%2Ffile"), 200);
  char *f = it_read_file(it_key_path(s, "sub/file", path, sizeof path), &len);
  assert_non_null(f);
  assert_int_equal(len, 5);
  free(f);
  /* "%252F" is "%2F" after one decoding: a literal name, so the host passed the path raw. */
  assert_int_equal(raw_put(s, "lit%252Fname"), 200);
  f = it_read_file(it_key_path(s, "lit%2Fname", path, sizeof path), &len);
  assert_non_null(f);
  free(f);
}

/* A key is a name clients read back in JSON: bytes that are not UTF-8 would be stored under
 * their raw bytes but come back as U+FFFD, naming a file that does not exist. */
static void non_utf8_keys_are_400_and_touch_nothing(void **state)
{
  it_server *s = *state;
  static const char *const keys[] = {
      "caf%E9.bin", "caf\xe9.bin", "%ff%fe",    "a%80",         "a%C3",
      "%C3/%A9",    "a%C0%AFb",    "%ED%A0%80", "%F4%90%80%80",
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    assert_refused_and_untouched(s, keys[i]);
}

/* UTF-8 keys are stored under their bytes and come back unchanged in the JSON reply. */
static void utf8_key_is_stored_and_named_as_sent(void **state)
{
  it_server *s = *state;
  it_resp r;
  char path[512];
  size_t len;
  assert_int_equal(it_put(s, "caf%C3%A9/%E6%97%A5.bin", NULL, NULL, "hello", 5, &r), 200);
  assert_non_null(strstr(r.body, "\"key\": \"caf\xc3\xa9/\xe6\x97\xa5.bin\""));
  assert_null(strstr(r.body, "\\u"));
  it_resp_free(&r);
  char *f = it_read_file(it_key_path(s, "caf\xc3\xa9/\xe6\x97\xa5.bin", path, sizeof path), &len);
  assert_non_null(f);
  assert_int_equal(len, 5);
  free(f);
}

static void malformed_content_range_is_400_and_server_still_answers(void **state)
{
  it_server *s = *state;
  static const char *const ranges[] = {
      "bytes 0-9",
      "bytes 0-9/",
      "bytes=0-9/10",
      "bytes 9-0/10",
      "bytes 0-10/10",
      "bytes +0-9/10",
      "bytes -0-9/10",
      "bytes 0 -9/10",
      "bytes 0-9/1 0",
      "items 0-9/10",
      "bytes 0x0-9/10",
      "bytes  0-9/10",
      "bytes 0-9/10x",
      "bytes 0-9/99999999999999999999",
      "bytes 0-9/9223372036854775808",
      "bytes -/10",
  };
  unsigned char d[10];
  it_fill(d, sizeof d, 1);
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    char *before = it_tree(s->parent);
    long status = it_put(s, "cr.bin", ranges[i], NULL, d, sizeof d, NULL);
    if (status != 400)
      fail_msg("Content-Range '%s': status %ld, want 400", ranges[i], status);
    char *after = it_tree(s->parent);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(it_head(s, "cr.bin", NULL), 404);
  }
}

static void malformed_sha256_is_400(void **state)
{
  it_server *s = *state;
  unsigned char d[10];
  it_fill(d, sizeof d, 2);
  char hex[65];
  it_sha256_hex(d, sizeof d, hex);
  hex[63] = '\0';
  assert_int_equal(it_put(s, "h.bin", "bytes 0-9/10", hex, d, sizeof d, NULL), 400);
  hex[63] = 'g';
  assert_int_equal(it_put(s, "h.bin", "bytes 0-9/10", hex, d, sizeof d, NULL), 400);
  assert_int_equal(it_put(s, "h.bin", NULL, "not-a-hash", d, sizeof d, NULL), 400);
  assert_int_equal(it_head(s, "h.bin", NULL), 404);
}

static void body_length_mismatch_is_400(void **state)
{
  it_server *s = *state;
  unsigned char d[15];
  it_fill(d, sizeof d, 3);
  assert_int_equal(it_put(s, "len.bin", "bytes 0-9/20", NULL, d, 5, NULL), 400);
  assert_int_equal(it_head(s, "len.bin", NULL), 404);
  assert_int_equal(it_put(s, "len.bin", "bytes 0-9/20", NULL, d, 15, NULL), 400);
  assert_int_equal(it_head(s, "len.bin", NULL), 404);
  assert_int_equal(it_put(s, "len.bin", "bytes 0-9/20", NULL, d, 10, NULL), 308);
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(traversal_and_reserved_keys_are_400_and_touch_nothing),
      T(key_over_1024_bytes_is_400),
      T(encoded_slash_is_decoded_once),
      T(non_utf8_keys_are_400_and_touch_nothing),
      T(utf8_key_is_stored_and_named_as_sent),
      T(malformed_content_range_is_400_and_server_still_answers),
      T(malformed_sha256_is_400),
      T(body_length_mismatch_is_400),
  };
  int rc = cmocka_run_group_tests_name("hostile_keys", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
