/* HEAD, GET, DELETE, other methods, size limit, authentication, Expect: 100-continue. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 100 * 1000 };

static unsigned char *stored(const it_server *s, const char *key, unsigned seed, char hex[65])
{
  unsigned char *d = malloc(N);
  assert_non_null(d);
  it_fill(d, N, seed);
  it_sha256_hex(d, N, hex);
  assert_int_equal(it_put(s, key, NULL, hex, d, N, NULL), 200);
  return d;
}

static void get_serves_whole_file_with_hash(void **state)
{
  it_server *s = *state;
  char hex[65], buf[128];
  unsigned char *d = stored(s, "g.bin", 1, hex);
  it_req rq = {.method = "GET", .key = "g.bin"};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, N);
  assert_memory_equal(r.body, d, N);
  assert_string_equal(it_header(&r, "X-Content-SHA256", buf, sizeof buf), hex);
  it_resp_free(&r);
  free(d);
}

static void get_range_is_206_with_content_range(void **state)
{
  it_server *s = *state;
  char hex[65], buf[128];
  unsigned char *d = stored(s, "r.bin", 2, hex);
  it_req rq = {.method = "GET", .key = "r.bin", .range = "bytes=100-199"};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 206);
  assert_int_equal(r.body_len, 100);
  assert_memory_equal(r.body, d + 100, 100);
  snprintf(hex, sizeof hex, "bytes 100-199/%d", N);
  assert_string_equal(it_header(&r, "Content-Range", buf, sizeof buf), hex);
  it_resp_free(&r);
  free(d);
}

static void get_unsatisfiable_range_is_416(void **state)
{
  it_server *s = *state;
  char hex[65];
  unsigned char *d = stored(s, "u.bin", 3, hex);
  char range[64];
  snprintf(range, sizeof range, "bytes=%d-%d", N + 10, N + 20);
  it_req rq = {.method = "GET", .key = "u.bin", .range = range};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 416);
  it_resp_free(&r);
  free(d);
}

static void get_of_absent_or_partial_is_404(void **state)
{
  it_server *s = *state;
  unsigned char d[100];
  it_fill(d, sizeof d, 4);
  assert_int_equal(it_put(s, "p.bin", "bytes 0-99/200", NULL, d, sizeof d, NULL), 308);
  it_req rq = {.method = "GET", .key = "p.bin"};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 404);
  it_resp_free(&r);
  rq.key = "nothing.bin";
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 404);
  it_resp_free(&r);
}

static void delete_is_204_then_404(void **state)
{
  it_server *s = *state;
  char hex[65];
  unsigned char *d = stored(s, "d.bin", 5, hex);
  it_req rq = {.method = "DELETE", .key = "d.bin"};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 204);
  it_resp_free(&r);
  assert_int_equal(it_head(s, "d.bin", NULL), 404);
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 404);
  it_resp_free(&r);
  free(d);
}

static void other_method_is_405_with_allow(void **state)
{
  it_server *s = *state;
  it_req rq = {.method = "PATCH", .key = "m.bin"};
  it_resp r;
  char buf[128];
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 405);
  const char *allow = it_header(&r, "Allow", buf, sizeof buf);
  assert_non_null(allow);
  assert_non_null(strstr(allow, "PUT"));
  assert_non_null(strstr(allow, "HEAD"));
  it_resp_free(&r);
}

static void head_sends_length_without_body(void **state)
{
  it_server *s = *state;
  char hex[65];
  unsigned char *d = stored(s, "h.bin", 6, hex);
  /* Pipelined: if HEAD carried a body, the second status line would not follow at once. */
  const char req[] = "HEAD " IT_PREFIX "h.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                     "DELETE " IT_PREFIX "nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  int fd = it_raw_connect(s->port);
  it_raw_send(fd, req, sizeof req - 1);
  char buf[8192];
  assert_int_equal(it_raw_read_response(fd, buf, sizeof buf, 10000), 200);
  close(fd);
  char cl[64];
  snprintf(cl, sizeof cl, "Content-Length: %d\r\n", N);
  assert_non_null(strstr(buf, cl));
  const char *end = strstr(buf, "\r\n\r\n");
  assert_non_null(end);
  assert_memory_equal(end + 4, "HTTP/1.1 404", 12);
  free(d);
}

static void over_max_size_is_413_before_the_body(void **state)
{
  it_server *s = *state;
  s->max_size = 1000;
  it_server_restart(s);
  unsigned char d[4000];
  it_fill(d, sizeof d, 7);
  it_req rq = {.method = "PUT",
               .key = "big.bin",
               .body = d,
               .body_len = sizeof d,
               .content_range = "bytes 0-3999/4000",
               .expect_100 = 1};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 413);
  assert_int_equal(r.uploaded, 0);
  it_resp_free(&r);
  rq.content_range = NULL; /* the whole-file form is refused the same way */
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 413);
  assert_int_equal(r.uploaded, 0);
  it_resp_free(&r);
  assert_int_equal(it_put(s, "small.bin", NULL, NULL, d, 1000, NULL), 200);
}

static void token_required_is_401_with_bearer_challenge(void **state)
{
  it_server *s = *state;
  s->token = "s3cret";
  it_server_restart(s);
  unsigned char d[100];
  it_fill(d, sizeof d, 8);
  char *before = it_tree(s->root);
  it_req rq = {.method = "PUT", .key = "t.bin", .body = d, .body_len = sizeof d};
  it_resp r;
  char buf[128];
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 401);
  assert_string_equal(it_header(&r, "WWW-Authenticate", buf, sizeof buf), "Bearer");
  it_resp_free(&r);
  rq.token = "wrong";
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 401);
  it_resp_free(&r);
  char *after = it_tree(s->root);
  assert_string_equal(before, after);
  rq.token = "s3cret";
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 200);
  it_resp_free(&r);
  free(before);
  free(after);
}

static void refused_chunk_with_expect_sends_no_body(void **state)
{
  it_server *s = *state;
  unsigned char d[50000];
  it_fill(d, sizeof d, 9);
  it_req rq = {.method = "PUT",
               .key = "e.bin",
               .body = d,
               .body_len = sizeof d,
               .content_range = "bytes 50000-99999/100000",
               .expect_100 = 1};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 416);
  assert_int_equal(r.uploaded, 0);
  assert_int_equal(it_header_num(&r, "X-File-Size"), 0);
  it_resp_free(&r);
  rq.content_range = "bytes 0-49999/100000"; /* an accepted chunk does send its body */
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 308);
  assert_int_equal(r.uploaded, (long long)sizeof d);
  it_resp_free(&r);
}

static void refused_chunk_without_expect_still_gets_its_answer(void **state)
{
  it_server *s = *state;
  size_t len = 1024 * 1024;
  unsigned char *d = malloc(len);
  assert_non_null(d);
  it_fill(d, len, 10);
  char cr[64];
  snprintf(cr, sizeof cr, "bytes 100-%zu/%zu", len + 99, 2 * len);
  /* The host drains the body it does not want, so the client reads the 416, not a reset. */
  assert_int_equal(it_put(s, "x.bin", cr, NULL, d, len, NULL), 416);
  assert_int_equal(it_head(s, "x.bin", NULL), 404);
  free(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(get_serves_whole_file_with_hash),
      T(get_range_is_206_with_content_range),
      T(get_unsatisfiable_range_is_416),
      T(get_of_absent_or_partial_is_404),
      T(delete_is_204_then_404),
      T(other_method_is_405_with_allow),
      T(head_sends_length_without_body),
      T(over_max_size_is_413_before_the_body),
      T(token_required_is_401_with_bearer_challenge),
      T(refused_chunk_with_expect_sends_no_body),
      T(refused_chunk_without_expect_still_gets_its_answer),
  };
  int rc = cmocka_run_group_tests_name("probe_get_delete", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
