/* RFC 9530 Content-Digest on LocalAI-dialect PUTs, through the real host: a matching chunk
 * counts, a mismatching one is 422 and leaves the offset where it was (durably: a restarted
 * server reports the same), a malformed field is 400, unknown algorithms are ignored. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <mbedtls/version.h>

#if MBEDTLS_VERSION_MAJOR >= 3
#define sha256_ret mbedtls_sha256
#define sha512_ret mbedtls_sha512
#else
#define sha256_ret mbedtls_sha256_ret
#define sha512_ret mbedtls_sha512_ret
#endif

#define FILE_LEN (96 * 1024)
#define CHUNK (32 * 1024)

/* "Content-Digest: sha-256=:<base64>:" (or sha-512) of data into line. */
static const char *digest_line(const void *data, size_t len, int sha512, char *line, size_t cap)
{
  unsigned char d[64], b64[100];
  size_t olen = 0;
  if (sha512)
    assert_int_equal(sha512_ret(data, len, d, 0), 0);
  else
    assert_int_equal(sha256_ret(data, len, d, 0), 0);
  assert_int_equal(mbedtls_base64_encode(b64, sizeof(b64), &olen, d, sha512 ? 64 : 32), 0);
  snprintf(line, cap, "Content-Digest: %s=:%.*s:", sha512 ? "sha-512" : "sha-256", (int)olen,
           (const char *)b64);
  return line;
}

/* PUT bytes [start, start+len) of file with the given extra header lines. */
static long put_chunk(const it_server *s, const char *key, const unsigned char *file, size_t start,
                      size_t len, const char *const *headers, it_resp *out)
{
  char cr[96];
  snprintf(cr, sizeof(cr), "bytes %zu-%zu/%d", start, start + len - 1, FILE_LEN);
  it_req rq = {.method = "PUT",
               .key = key,
               .body = file + start,
               .body_len = len,
               .content_range = cr,
               .headers = headers};
  it_resp r;
  it_request(s, &rq, out ? out : &r);
  long st = out ? out->status : r.status;
  if (!out)
    it_resp_free(&r);
  return st;
}

static void head_advertises_support(void **state)
{
  it_server *s = *state;
  it_resp r;
  char v[128];
  assert_int_equal(it_head(s, "absent", &r), 404);
  assert_non_null(it_header(&r, "Want-Content-Digest", v, sizeof(v)));
  assert_non_null(strstr(v, "sha-256="));
  it_resp_free(&r);
}

static void mismatch_is_422_and_keeps_the_offset(void **state)
{
  it_server *s = *state;
  unsigned char *file = malloc(FILE_LEN);
  assert_non_null(file);
  it_fill(file, FILE_LEN, 7);
  char line[160], hex[65];
  const char *h[2] = {line, NULL};
  it_sha256_hex(file, FILE_LEN, hex);

  digest_line(file, CHUNK, 0, line, sizeof(line));
  assert_int_equal(put_chunk(s, "f", file, 0, CHUNK, h, NULL), 308);
  /* the second chunk's digest is of other bytes: 422, the offset stays at CHUNK */
  digest_line(file, CHUNK, 0, line, sizeof(line));
  it_resp r;
  assert_int_equal(put_chunk(s, "f", file, CHUNK, CHUNK, h, &r), 422);
  assert_int_equal(it_header_num(&r, "X-File-Size"), CHUNK);
  assert_non_null(strstr(r.body, "Content-Digest"));
  it_resp_free(&r);
  assert_int_equal(it_head(s, "f", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), CHUNK);
  it_resp_free(&r);
  /* durably: a restarted server reads the same offset and the same running hash */
  it_server_restart(s);
  assert_int_equal(it_head(s, "f", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), CHUNK);
  it_resp_free(&r);
  /* the chunk resent whole (sha-512 this time), then the last one: the file is right */
  digest_line(file + CHUNK, CHUNK, 1, line, sizeof(line));
  assert_int_equal(put_chunk(s, "f", file, CHUNK, CHUNK, h, NULL), 308);
  digest_line(file + 2 * CHUNK, CHUNK, 0, line, sizeof(line));
  assert_int_equal(put_chunk(s, "f", file, 2 * CHUNK, CHUNK, h, &r), 200);
  char got[96];
  assert_non_null(it_header(&r, "X-Content-SHA256", got, sizeof(got)));
  assert_string_equal(got, hex);
  it_resp_free(&r);
  char path[512];
  size_t n = 0;
  char *stored = it_read_file(it_key_path(s, "f", path, sizeof(path)), &n);
  assert_non_null(stored);
  assert_int_equal(n, FILE_LEN);
  assert_memory_equal(stored, file, FILE_LEN);
  free(stored);
  free(file);
}

static void corrupted_last_chunk_never_completes(void **state)
{
  it_server *s = *state;
  unsigned char *file = malloc(FILE_LEN);
  assert_non_null(file);
  it_fill(file, FILE_LEN, 9);
  char line[160];
  const char *h[2] = {line, NULL};
  assert_int_equal(put_chunk(s, "g", file, 0, 2 * CHUNK, NULL, NULL), 308);
  digest_line(file, CHUNK, 0, line, sizeof(line)); /* wrong bytes */
  assert_int_equal(put_chunk(s, "g", file, 2 * CHUNK, CHUNK, h, NULL), 422);
  it_resp r;
  assert_int_equal(it_head(s, "g", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), 2 * CHUNK);
  assert_null(it_header(&r, "X-Content-SHA256", line, sizeof(line))); /* still partial */
  it_resp_free(&r);
  free(file);
}

static void malformed_is_400_and_touches_nothing(void **state)
{
  it_server *s = *state;
  unsigned char buf[64];
  it_fill(buf, sizeof(buf), 3);
  static const char *bad[] = {
      "Content-Digest: sha-256=:AAAA:", /* wrong length */
      "Content-Digest: sha-256=abc",    /* not a byte sequence */
      "Content-Digest: sha-256=:@@@@:", /* not base64 */
      "Content-Digest;",                /* empty (curl sends "Name;" as an empty value) */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *h[2] = {bad[i], NULL};
    it_req rq = {.method = "PUT",
                 .key = "m",
                 .body = buf,
                 .body_len = 16,
                 .content_range = "bytes 0-15/64",
                 .headers = h};
    it_resp r;
    it_request(s, &rq, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "Content-Digest"));
    it_resp_free(&r);
    assert_int_equal(it_head(s, "m", NULL), 404);
  }
}

static void unknown_algorithms_are_ignored(void **state)
{
  it_server *s = *state;
  unsigned char buf[64];
  it_fill(buf, sizeof(buf), 4);
  const char *h[2] = {"Content-Digest: md5=:AAAAAAAAAAAAAAAAAAAAAA==:", NULL};
  it_req rq = {.method = "PUT", .key = "u", .body = buf, .body_len = 64, .headers = h};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 200);
  it_resp_free(&r);
}

static void whole_file_put_is_verified(void **state)
{
  it_server *s = *state;
  unsigned char buf[4096];
  it_fill(buf, sizeof(buf), 5);
  char line[160];
  const char *h[2] = {line, NULL};
  digest_line(buf, sizeof(buf) - 1, 0, line, sizeof(line));
  it_req rq = {.method = "PUT", .key = "w", .body = buf, .body_len = sizeof(buf), .headers = h};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 422);
  it_resp_free(&r);
  assert_int_equal(it_head(s, "w", NULL), 404);
  digest_line(buf, sizeof(buf), 1, line, sizeof(line));
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 200);
  it_resp_free(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(head_advertises_support, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(mismatch_is_422_and_keeps_the_offset, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(corrupted_last_chunk_never_completes, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(malformed_is_400_and_touches_nothing, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(unknown_algorithms_are_ignored, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(whole_file_put_is_verified, it_setup, it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
