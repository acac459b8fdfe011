/* Chunked PUTs across the wire: offsets, hashes, commits and the legacy whole-file form. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 256 * 1024 };

static unsigned char *payload(unsigned seed, char hex[65])
{
  unsigned char *d = malloc(N);
  assert_non_null(d);
  it_fill(d, N, seed);
  it_sha256_hex(d, N, hex);
  return d;
}

static void assert_file_is(const it_server *s, const char *key, const void *data, size_t len)
{
  char path[512];
  size_t got = 0;
  char *f = it_read_file(it_key_path(s, key, path, sizeof path), &got);
  assert_non_null(f);
  assert_int_equal(got, len);
  assert_memory_equal(f, data, len);
  free(f);
}

static void range(char *buf, size_t cap, size_t a, size_t b, size_t total)
{
  snprintf(buf, cap, "bytes %zu-%zu/%zu", a, b, total);
}

static void upload_first_half(const it_server *s, const char *key, const unsigned char *d,
                              const char *hex)
{
  char cr[64];
  range(cr, sizeof cr, 0, N / 2 - 1, N);
  assert_int_equal(it_put(s, key, cr, hex, d, N / 2, NULL), 308);
}

static void two_chunks_commit_with_hash(void **state)
{
  it_server *s = *state;
  char hex[65], cr[64], buf[128];
  unsigned char *d = payload(1, hex);
  it_resp r;
  range(cr, sizeof cr, 0, N / 2 - 1, N);
  assert_int_equal(it_put(s, "dir/two.bin", cr, hex, d, N / 2, &r), 308);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N / 2);
  snprintf(cr, sizeof cr, "bytes=0-%d", N / 2 - 1);
  assert_string_equal(it_header(&r, "Range", buf, sizeof buf), cr);
  it_resp_free(&r);
  range(cr, sizeof cr, N / 2, N - 1, N);
  assert_int_equal(it_put(s, "dir/two.bin", cr, hex, d + N / 2, N / 2, &r), 200);
  assert_string_equal(it_header(&r, "X-Content-SHA256", buf, sizeof buf), hex);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N);
  assert_non_null(strstr(r.body, "\"key\""));
  assert_non_null(strstr(r.body, "dir/two.bin"));
  assert_non_null(strstr(r.body, hex));
  it_resp_free(&r);
  assert_file_is(s, "dir/two.bin", d, N);
  assert_int_equal(it_head(s, "dir/two.bin", &r), 200);
  assert_string_equal(it_header(&r, "X-Content-SHA256", buf, sizeof buf), hex);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N);
  assert_int_equal(it_header_num(&r, "Content-Length"), N);
  it_resp_free(&r);
  free(d);
}

static void wrong_offset_is_416_and_writes_nothing(void **state)
{
  it_server *s = *state;
  char hex[65], cr[64], buf[128];
  unsigned char *d = payload(2, hex);
  upload_first_half(s, "off.bin", d, hex);
  char *before = it_tree(s->root);
  it_resp r;
  range(cr, sizeof cr, N / 2 + 10, N - 1, N);
  assert_int_equal(it_put(s, "off.bin", cr, hex, d + N / 2 + 10, N / 2 - 10, &r), 416);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N / 2);
  snprintf(cr, sizeof cr, "bytes */%d", N);
  assert_string_equal(it_header(&r, "Content-Range", buf, sizeof buf), cr);
  it_resp_free(&r);
  char *after = it_tree(s->root);
  assert_string_equal(before, after);
  assert_int_equal(it_head(s, "off.bin", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N / 2);
  it_resp_free(&r);
  free(before);
  free(after);
  free(d);
}

static void hash_drift_is_409_and_drops_partial(void **state)
{
  it_server *s = *state;
  char hex[65], other[65], cr[64];
  unsigned char *d = payload(3, hex);
  unsigned char *e = payload(4, other);
  upload_first_half(s, "drift.bin", d, hex);
  range(cr, sizeof cr, N / 2, N - 1, N);
  assert_int_equal(it_put(s, "drift.bin", cr, other, d + N / 2, N / 2, NULL), 409);
  assert_int_equal(it_head(s, "drift.bin", NULL), 404);
  free(d);
  free(e);
}

static void final_hash_mismatch_is_400_and_keeps_old_file(void **state)
{
  it_server *s = *state;
  char hex[65], old_hex[65], cr[64];
  unsigned char *old = payload(5, old_hex);
  assert_int_equal(it_put(s, "keep.bin", NULL, old_hex, old, N, NULL), 200);
  unsigned char *d = payload(6, hex);
  upload_first_half(s, "keep.bin", d, hex);
  d[N - 1] ^= 0x55; /* the last chunk no longer matches the bound hash */
  range(cr, sizeof cr, N / 2, N - 1, N);
  assert_int_equal(it_put(s, "keep.bin", cr, hex, d + N / 2, N / 2, NULL), 400);
  assert_file_is(s, "keep.bin", old, N);
  it_resp r;
  char buf[128];
  assert_int_equal(it_head(s, "keep.bin", &r), 200);
  assert_string_equal(it_header(&r, "X-Content-SHA256", buf, sizeof buf), old_hex);
  assert_null(it_header(&r, "X-Upload-Total", buf, sizeof buf)); /* the partial is gone */
  it_resp_free(&r);
  free(old);
  free(d);
}

static void head_of_partial_shows_target_not_content_hash(void **state)
{
  it_server *s = *state;
  char hex[65], buf[128];
  unsigned char *d = payload(7, hex);
  upload_first_half(s, "part.bin", d, hex);
  it_resp r;
  assert_int_equal(it_head(s, "part.bin", &r), 200);
  assert_string_equal(it_header(&r, "X-Target-SHA256", buf, sizeof buf), hex);
  assert_int_equal(it_header_num(&r, "X-Upload-Total"), N);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N / 2);
  assert_null(it_header(&r, "X-Content-SHA256", buf, sizeof buf));
  it_resp_free(&r);
  free(d);
}

static void get_body_is(const it_server *s, const char *key, const void *data, size_t len)
{
  it_req rq = {.method = "GET", .key = key};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, len);
  assert_memory_equal(r.body, data, len);
  it_resp_free(&r);
}

static void replacement_serves_old_file_until_commit(void **state)
{
  it_server *s = *state;
  char hex[65], old_hex[65], cr[64];
  unsigned char *old = payload(8, old_hex);
  assert_int_equal(it_put(s, "swap.bin", NULL, old_hex, old, N, NULL), 200);
  unsigned char *d = payload(9, hex);
  upload_first_half(s, "swap.bin", d, hex);
  get_body_is(s, "swap.bin", old, N);
  range(cr, sizeof cr, N / 2, N - 1, N);
  assert_int_equal(it_put(s, "swap.bin", cr, hex, d + N / 2, N / 2, NULL), 200);
  get_body_is(s, "swap.bin", d, N);
  assert_file_is(s, "swap.bin", d, N);
  free(old);
  free(d);
}

static void legacy_put_without_hash_commits(void **state)
{
  it_server *s = *state;
  char hex[65], buf[128];
  unsigned char *d = payload(10, hex);
  it_resp r;
  assert_int_equal(it_put(s, "legacy/a", NULL, NULL, d, N, &r), 200);
  assert_string_equal(it_header(&r, "X-Content-SHA256", buf, sizeof buf), hex);
  it_resp_free(&r);
  assert_file_is(s, "legacy/a", d, N);
  free(d);
}

static void legacy_put_with_right_hash_commits(void **state)
{
  it_server *s = *state;
  char hex[65];
  unsigned char *d = payload(11, hex);
  assert_int_equal(it_put(s, "legacy/b", NULL, hex, d, N, NULL), 200);
  assert_file_is(s, "legacy/b", d, N);
  free(d);
}

static void legacy_put_with_wrong_hash_is_400_and_commits_nothing(void **state)
{
  it_server *s = *state;
  char hex[65], other[65];
  unsigned char *d = payload(12, hex);
  unsigned char *e = payload(13, other);
  assert_int_equal(it_put(s, "legacy/c", NULL, other, d, N, NULL), 400);
  assert_int_equal(it_head(s, "legacy/c", NULL), 404);
  char path[512];
  size_t len;
  assert_null(it_read_file(it_key_path(s, "legacy/c", path, sizeof path), &len));
  free(d);
  free(e);
}

static void status_query_reports_partial_then_complete(void **state)
{
  it_server *s = *state;
  char hex[65], cr[64], q[64];
  unsigned char *d = payload(14, hex);
  snprintf(q, sizeof q, "bytes */%d", N);
  it_resp r;
  assert_int_equal(it_put(s, "q.bin", q, hex, NULL, 0, &r), 308);
  assert_int_equal(it_header_num(&r, "X-File-Size"), 0);
  it_resp_free(&r);
  upload_first_half(s, "q.bin", d, hex);
  assert_int_equal(it_put(s, "q.bin", q, hex, NULL, 0, &r), 308);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N / 2);
  it_resp_free(&r);
  range(cr, sizeof cr, N / 2, N - 1, N);
  assert_int_equal(it_put(s, "q.bin", cr, hex, d + N / 2, N / 2, NULL), 200);
  assert_int_equal(it_put(s, "q.bin", q, hex, NULL, 0, &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N);
  it_resp_free(&r);
  free(d);
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(two_chunks_commit_with_hash, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(wrong_offset_is_416_and_writes_nothing, it_setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(hash_drift_is_409_and_drops_partial, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(final_hash_mismatch_is_400_and_keeps_old_file, it_setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(head_of_partial_shows_target_not_content_hash, it_setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(replacement_serves_old_file_until_commit, it_setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(legacy_put_without_hash_commits, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(legacy_put_with_right_hash_commits, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(legacy_put_with_wrong_hash_is_400_and_commits_nothing,
                                      it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(status_query_reports_partial_then_complete, it_setup,
                                      it_teardown),
  };
  int rc = cmocka_run_group_tests_name("put_chunks", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
