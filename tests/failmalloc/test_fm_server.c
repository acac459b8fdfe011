/* The server's public entry points with every allocation failing in turn: resumable_server_new,
 * the two stores' constructors, and the exchanges of a chunked upload (PUT, HEAD, PUT, GET,
 * DELETE) on the POSIX store and on the memory store, inline and with hash threads, then a
 * sweep. A call answers RESUMABLE_E_NOMEM, or (headers_done, feed, end: no error code by
 * contract) the reply becomes a 500/503/507; a call whose failed allocation was optional answers
 * as if nothing had failed (documented below per entry point). Afterwards every block is freed
 * (counted by the wrapper; the ASan build checks the rest) and the server still works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fm_run.h"
#include "hex.h"
#include "resumable/error.h"
#include "resumable/server.h"
#include "resumable/store.h"
#include "sha256.h"
#include "test_fs.h"

static const char DATA[] = "0123456789abcdefghij";
#define DATA_LEN 20

static char root[64];

static int make_root(void **state)
{
  (void)state;
  assert_int_equal(test_temp_dir(root, sizeof root, "fm"), 0);
  return 0;
}

static int drop_root(void **state)
{
  (void)state;
  assert_int_equal(test_remove_tree(root), 0);
  return 0;
}

/* Empty the root between runs (the store recreates what it needs). */
static void clear_root(void)
{
  assert_int_equal(test_remove_tree(root), 0);
  assert_int_equal(mkdir(root, 0700), 0);
}

static void expect_nomem(const char *what, int rc, long fail_at)
{
  if (fail_at >= 0 && fm_count() > fail_at) {
    if (rc != RESUMABLE_E_NOMEM)
      fail_msg("%s: %s with allocation %ld failing", what, resumable_err_name(rc), fail_at);
  } else if (rc != RESUMABLE_OK) {
    fail_msg("%s: %s with no allocation failing", what, resumable_err_name(rc));
  }
}

/* ---- constructors ------------------------------------------------------------------------ */

static void sc_server_new(void *arg, long fail_at)
{
  (void)arg;
  resumable_server *srv = NULL;
  int rc = resumable_server_new(&srv, root);
  fm_disarm();
  expect_nomem("resumable_server_new", rc, fail_at);
  assert_true((rc == RESUMABLE_OK) == (srv != NULL));
  resumable_server_free(srv);
  clear_root();
}

static void sc_store_fs_new(void *arg, long fail_at)
{
  (void)arg;
  resumable_store *st = NULL;
  int rc = resumable_store_fs_new(&st, root);
  fm_disarm();
  expect_nomem("resumable_store_fs_new", rc, fail_at);
  assert_true((rc == RESUMABLE_OK) == (st != NULL));
  resumable_store_free(st);
  clear_root();
}

static void sc_store_mem_new(void *arg, long fail_at)
{
  (void)arg;
  resumable_store *st = NULL;
  resumable_server *srv = NULL;
  int rc = resumable_store_mem_new(&st, 1 << 20);
  if (rc == RESUMABLE_OK && (rc = resumable_server_new_with_store(&srv, st)) != RESUMABLE_OK)
    resumable_store_free(st); /* taken only on success */
  fm_disarm();
  expect_nomem("resumable_store_mem_new + resumable_server_new_with_store", rc, fail_at);
  resumable_server_free(srv);
}

static void constructors(void **state)
{
  (void)state;
  fm_each("resumable_server_new", sc_server_new, NULL);
  fm_each("resumable_store_fs_new", sc_store_fs_new, NULL);
  fm_each("resumable_store_mem_new", sc_store_mem_new, NULL);
}

/* ---- exchanges --------------------------------------------------------------------------- */

typedef struct setup {
  int mem;          /* the memory store instead of the POSIX one */
  unsigned threads; /* hash threads */
} setup;

static resumable_server *server_for(const setup *s)
{
  resumable_server *srv = NULL;
  if (s->mem) {
    resumable_store *st = NULL;
    assert_int_equal(resumable_store_mem_new(&st, 1 << 20), RESUMABLE_OK);
    assert_int_equal(resumable_server_new_with_store(&srv, st), RESUMABLE_OK);
  } else {
    assert_int_equal(resumable_server_new(&srv, root), RESUMABLE_OK);
  }
  assert_int_equal(resumable_server_set_hash_threads(srv, s->threads), RESUMABLE_OK);
  return srv;
}

static int failed_5xx(int status)
{
  return status == 500 || status == 503 || status == 507;
}

/* One request. Before the failing allocation is reached the reply must be `want`; the request
 * that reaches it answers RESUMABLE_E_NOMEM from begin/add_header or a 500/503/507 (or `want`
 * when the allocation was optional); after it, the state may differ (an earlier step failed) and
 * any reply is allowed but the calls must keep their contracts. Returns the status (0: begin or
 * add_header failed). */
static int step(resumable_server *srv, long fail_at, const char *method, const char *path,
                const char *range, const char *body, size_t len, int want)
{
  int before = fail_at >= 0 && fm_count() > fail_at; /* an earlier step hit it */
  char hash[65], cl[24];
  uint8_t dig[32];
  rs_sha256_digest(DATA, DATA_LEN, dig);
  rs_sha256_hex_format(dig, hash);
  resumable_exchange *ex = NULL;
  int rc = resumable_exchange_begin(srv, method, path, &ex);
  if (rc == RESUMABLE_OK && range) {
    snprintf(cl, sizeof cl, "%zu", len);
    if ((rc = resumable_exchange_add_header(ex, "Content-Range", range)) == RESUMABLE_OK &&
        (rc = resumable_exchange_add_header(ex, "X-Content-SHA256", hash)) == RESUMABLE_OK)
      rc = resumable_exchange_add_header(ex, "Content-Length", cl);
  }
  if (rc != RESUMABLE_OK) {
    if (rc != RESUMABLE_E_NOMEM || fail_at < 0 || fm_count() <= fail_at)
      fail_msg("%s %s: %s (allocation %ld failing)", method, path, resumable_err_name(rc), fail_at);
    resumable_exchange_free(ex);
    return 0;
  }
  int d = resumable_exchange_headers_done(ex);
  assert_true(d == 0 || d == 1);
  for (size_t off = 0; d == 0 && off < len; off += 7) {
    d = resumable_exchange_feed(ex, body + off, len - off < 7 ? len - off : 7);
    assert_true(d == 0 || d == 1);
  }
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  int status = resumable_exchange_status(ex);
  char buf[64];
  size_t got = 1;
  for (int i = 0; got > 0 && i < 100; i++) {
    rc = resumable_exchange_read_body(ex, buf, sizeof buf, &got);
    if (rc != RESUMABLE_OK)
      break; /* E_IO: a GET whose file read failed; the status is sent already */
  }
  resumable_exchange_free(ex);
  int now = fail_at >= 0 && fm_count() > fail_at;
  if (!now && status != want)
    fail_msg("%s %s: %d, expected %d with no allocation failing", method, path, status, want);
  if (now && !before && status != want && !failed_5xx(status))
    fail_msg("%s %s: %d with allocation %ld failing (expected %d or 500/503/507)", method, path,
             status, fail_at, want);
  assert_true(status >= 200 && status <= 599);
  return status;
}

/* The chunked upload, its probe, its download and its removal. */
static void upload_cycle(resumable_server *srv, long fail_at, const char *path)
{
  step(srv, fail_at, "PUT", path, "bytes 0-9/20", DATA, 10, 308);
  step(srv, fail_at, "HEAD", path, NULL, NULL, 0, 200);
  step(srv, fail_at, "PUT", path, "bytes 10-19/20", DATA + 10, 10, 200);
  step(srv, fail_at, "GET", path, NULL, NULL, 0, 200);
  step(srv, fail_at, "DELETE", path, NULL, NULL, 0, 204);
  size_t removed = 0;
  int rc = resumable_server_sweep(srv, 0, &removed);
  if (!(rc == RESUMABLE_OK || (rc == RESUMABLE_E_NOMEM && fail_at >= 0 && fm_count() > fail_at)))
    fail_msg("sweep: %s with allocation %ld failing", resumable_err_name(rc), fail_at);
}

static void sc_exchanges(void *arg, long fail_at)
{
  const setup *s = arg;
  fm_hold(1); /* the server itself is the constructors' test */
  resumable_server *srv = server_for(s);
  fm_hold(0);
  upload_cycle(srv, fail_at, "/v1/files/dir/f.bin");
  fm_hold(1);
  /* Whatever failed, the same server serves a new upload in full. */
  upload_cycle(srv, -1, "/v1/files/dir/g.bin");
  resumable_server_free(srv);
  if (!s->mem)
    clear_root();
  fm_hold(0);
}

static void exchanges_fs(void **state)
{
  (void)state;
  setup s = {0, 0};
  fm_each("exchanges on the POSIX store", sc_exchanges, &s);
}

static void exchanges_fs_threads(void **state)
{
  (void)state;
  setup s = {0, 2};
  fm_each("exchanges on the POSIX store, 2 hash threads", sc_exchanges, &s);
}

static void exchanges_mem(void **state)
{
  (void)state;
  setup s = {1, 0};
  fm_each("exchanges on the memory store", sc_exchanges, &s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(constructors),
      cmocka_unit_test(exchanges_fs),
      cmocka_unit_test(exchanges_fs_threads),
      cmocka_unit_test(exchanges_mem),
  };
  return cmocka_run_group_tests(tests, make_root, drop_root);
}
