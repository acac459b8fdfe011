/* Early replies to clients that send no `Expect: 100-continue` (LocalAI's Go client): the host
 * reads and discards the body to its end, however long that takes, and then sends the reply
 * decided from the headers; only a 401 and a chunked body keep the short linger, after which
 * the connection is closed without a reply. The host lingers 100 ms here, and every body
 * stalls for 600 ms after its first bytes, so each one outlasts the linger.
 *
 * In the conformance kit (kit_host.h) the host is a launched process with its default linger
 * (resumable-serve: 5 s), so the bodies that must outlast it stall for 6 s. A host with the
 * capability "reply-mid-body" (nginx) sends every early reply at once instead: the client gets
 * it while its body is still on the way (curl stops sending after a 4xx), and nothing is
 * stored. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { LINGER_MS = 100, PAUSE_MS = 600, N = 1 << 20, BIG = 16 << 20 };

static int setup(void **state)
{
  it_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return -1;
  s->linger_ms = LINGER_MS;
  it_server_start(s);
  *state = s;
  return 0;
}

static unsigned char *filled(size_t len, unsigned seed, char hex[65])
{
  unsigned char *d = malloc(len);
  assert_non_null(d);
  it_fill(d, len, seed);
  it_sha256_hex(d, len, hex);
  return d;
}

static int replies_mid_body(void)
{
  return kit_active() && kit_has("reply-mid-body");
}

/* PUT `body` under `key` with its stall; the reply (CURLE_OK) must come after the whole body,
 * or (reply-mid-body) before it when it refuses. */
static void put_drained(const it_server *s, const it_req *rq, it_resp *r)
{
  int ended_in_pause = 1;
  CURLcode rc = it_put_stalled(s, rq, rq->body_len / 4, PAUSE_MS, r, &ended_in_pause);
  if (rc != CURLE_OK)
    fail_msg("no reply: %s", curl_easy_strerror(rc));
  if (replies_mid_body()) {
    if (r->status >= 400)
      assert_true(r->uploaded < (long long)rq->body_len);
    return;
  }
  assert_false(ended_in_pause);
  assert_int_equal(r->uploaded, (long long)rq->body_len);
}

/* PUT with its stall: the host must close without a reply, before reading the whole body; or
 * (reply-mid-body) reply `early` at once and stop reading. */
static void put_cut(const it_server *s, const it_req *rq, int early)
{
  it_resp r;
  int ended_in_pause = 0;
  int pause = kit_active() && !replies_mid_body() ? 6000 : PAUSE_MS;
  CURLcode rc = it_put_stalled(s, rq, 64 * 1024, pause, &r, &ended_in_pause);
  if (replies_mid_body()) {
    assert_int_equal(rc, CURLE_OK);
    assert_int_equal(r.status, early);
    assert_true(r.uploaded < (long long)rq->body_len);
    it_resp_free(&r);
    return;
  }
  assert_int_not_equal(rc, CURLE_OK);
  assert_int_equal(r.status, 0);
  print_message("# closed after %lld of %zu body bytes: %s\n", r.uploaded, rq->body_len,
                curl_easy_strerror(rc));
  assert_true(r.uploaded < (long long)rq->body_len);
  it_resp_free(&r);
}

static void already_there_reupload_outlasting_the_linger_gets_200_after_the_body(void **state)
{
  it_server *s = *state;
  char hex[65], cr[64], buf[128], path[512];
  unsigned char *d = filled(N, 21, hex);
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", N - 1, N);
  assert_int_equal(it_put(s, "models/big.bin", cr, hex, d, N, NULL), 200);
  struct stat before, after;
  assert_int_equal(stat(it_key_path(s, "models/big.bin", path, sizeof path), &before), 0);
  char *tree = it_tree(s->root);
  /* LocalAI's retry of a file the server holds: the whole file again, same hash, no Expect */
  it_req rq = {.method = "PUT",
               .key = "models/big.bin",
               .body = d,
               .body_len = N,
               .content_range = cr,
               .sha256 = hex};
  it_resp r;
  put_drained(s, &rq, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(it_header(&r, "X-Content-SHA256", buf, sizeof buf), hex);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N);
  assert_non_null(strstr(r.body, hex));
  it_resp_free(&r);
  /* nothing rewritten: the same file (inode, mtime), no staging or partial left */
  assert_int_equal(stat(path, &after), 0);
  assert_int_equal(after.st_ino, before.st_ino);
  assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  char *now = it_tree(s->root);
  assert_string_equal(tree, now);
  free(now);
  free(tree);
  free(d);
}

static void drifted_chunk_outlasting_the_linger_gets_409_after_the_body(void **state)
{
  it_server *s = *state;
  char hex[65], other[65], cr[64];
  unsigned char *d = filled(N, 22, hex);
  it_sha256_hex(d, N / 2, other); /* some other file's hash */
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", N / 2 - 1, N);
  assert_int_equal(it_put(s, "drift.bin", cr, hex, d, N / 2, NULL), 308);
  snprintf(cr, sizeof cr, "bytes %d-%d/%d", N / 2, N - 1, N);
  it_req rq = {.method = "PUT",
               .key = "drift.bin",
               .body = d + N / 2,
               .body_len = N / 2,
               .content_range = cr,
               .sha256 = other};
  it_resp r;
  put_drained(s, &rq, &r);
  assert_int_equal(r.status, 409);
  it_resp_free(&r);
  assert_int_equal(it_head(s, "drift.bin", NULL), 404); /* the decision dropped the partial */
  free(d);
}

static void misplaced_chunk_outlasting_the_linger_gets_416_after_the_body(void **state)
{
  it_server *s = *state;
  char hex[65], cr[64];
  unsigned char *d = filled(N, 23, hex);
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", N / 2 - 1, N);
  assert_int_equal(it_put(s, "gap.bin", cr, hex, d, N / 2, NULL), 308);
  char *tree = it_tree(s->root);
  snprintf(cr, sizeof cr, "bytes %d-%d/%d", N / 4, N - 1, N);
  it_req rq = {.method = "PUT",
               .key = "gap.bin",
               .body = d + N / 4,
               .body_len = N - N / 4,
               .content_range = cr,
               .sha256 = hex};
  it_resp r;
  put_drained(s, &rq, &r);
  assert_int_equal(r.status, 416);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N / 2);
  it_resp_free(&r);
  char *now = it_tree(s->root);
  assert_string_equal(tree, now); /* nothing written while draining */
  assert_int_equal(it_head(s, "gap.bin", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), N / 2);
  it_resp_free(&r);
  free(now);
  free(tree);
  free(d);
}

static void oversized_upload_outlasting_the_linger_gets_413_after_the_body(void **state)
{
  it_server *s = *state;
  s->max_size = 64 * 1024;
  it_server_restart(s);
  char hex[65], cr[64];
  unsigned char *d = filled(N, 24, hex);
  char *tree = it_tree(s->root);
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", N - 1, N);
  it_req rq = {.method = "PUT",
               .key = "huge.bin",
               .body = d,
               .body_len = N,
               .content_range = cr,
               .sha256 = hex};
  it_resp r;
  put_drained(s, &rq, &r);
  assert_int_equal(r.status, 413);
  it_resp_free(&r);
  rq.content_range = NULL; /* the whole-file form too */
  put_drained(s, &rq, &r);
  assert_int_equal(r.status, 413);
  it_resp_free(&r);
  char *now = it_tree(s->root);
  assert_string_equal(tree, now);
  free(now);
  free(tree);
  free(d);
}

static void unauthenticated_body_outlasting_the_linger_is_closed_without_a_reply(void **state)
{
  it_server *s = *state;
  s->token = "s3cret";
  it_server_restart(s);
  char hex[65];
  unsigned char *d = filled(BIG, 25, hex);
  char *tree = it_tree(s->root);
  it_req rq = {.method = "PUT", .key = "t.bin", .body = d, .body_len = BIG, .sha256 = hex};
  put_cut(s, &rq, 401);
  rq.token = "wrong";
  put_cut(s, &rq, 401);
  char *now = it_tree(s->root);
  assert_string_equal(tree, now);
  free(now);
  free(tree);
  free(d);
}

static void chunked_body_after_an_early_reply_lingers_and_is_closed(void **state)
{
  it_server *s = *state;
  char hex[65], cr[64];
  unsigned char *d = filled(BIG, 26, hex);
  char *tree = it_tree(s->root);
  /* 416 (nothing held) decided from the headers; the body has no declared end */
  snprintf(cr, sizeof cr, "bytes 100-%d/%d", BIG + 99, BIG + 100);
  it_req rq = {.method = "PUT",
               .key = "c.bin",
               .body = d,
               .body_len = BIG,
               .content_range = cr,
               .sha256 = hex,
               .chunked = 1};
  put_cut(s, &rq, 416);
  char *now = it_tree(s->root);
  assert_string_equal(tree, now);
  free(now);
  free(tree);
  free(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, it_teardown)

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(already_there_reupload_outlasting_the_linger_gets_200_after_the_body),
      T(drifted_chunk_outlasting_the_linger_gets_409_after_the_body),
      T(misplaced_chunk_outlasting_the_linger_gets_416_after_the_body),
      T(oversized_upload_outlasting_the_linger_gets_413_after_the_body),
      T(unauthenticated_body_outlasting_the_linger_is_closed_without_a_reply),
      T(chunked_body_after_an_early_reply_lingers_and_is_closed),
  };
  int rc = cmocka_run_group_tests_name("early_drain", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
