/* The memory store beyond the common contract (tests/store/conformance_*.c has that): the byte
 * budget and its accounting, partials that take their key's place at creation, stale handles,
 * a scan visitor that calls back into the store, and the block buffer's edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resumable/error.h"
#include "resumable/server.h"
#include "resumable/store.h"
#include "sha256.h"
#include "store_mem.h"
#include "test_fs.h"
#include "store_internal.h"

typedef struct fixture {
  resumable_store *store;
  const resumable_store_ops *ops;
  void *self;
} fixture;

static void open_store(fixture *f, uint64_t max_bytes)
{
  assert_int_equal(resumable_store_mem_new(&f->store, max_bytes), RESUMABLE_OK);
  f->ops = resumable_store_ops_of(f->store);
  f->self = resumable_store_self(f->store);
}

static uint64_t usage(const fixture *f)
{
  uint64_t n = 12345;
  assert_int_equal(resumable_store_mem_usage(f->store, &n), RESUMABLE_OK);
  return n;
}

static resumable_partial_info info_of(uint64_t total)
{
  resumable_partial_info info;
  memset(&info, 0, sizeof(info));
  info.total = total;
  return info;
}

static void *open_mode(fixture *f, const char *key, resumable_partial_mode mode, uint64_t total)
{
  resumable_partial_info info = info_of(total);
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->self, key, mode, &info, &h, NULL), RESUMABLE_OK);
  return h;
}

static int commit(fixture *f, void *h, const void *data, size_t len)
{
  resumable_complete_info ci = {.size = len};
  rs_sha256_digest(data, len, ci.sha256);
  return f->ops->partial_commit(f->self, h, &ci);
}

static int put(fixture *f, const char *key, const char *data)
{
  size_t len = strlen(data);
  resumable_partial_info info = info_of(len);
  void *h = NULL;
  int rc = f->ops->partial_open(f->self, key, RESUMABLE_PARTIAL_STAGING, &info, &h, NULL);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = f->ops->partial_write(f->self, h, 0, data, len);
  if (rc == RESUMABLE_OK)
    rc = commit(f, h, data, len);
  f->ops->partial_close(f->self, h);
  return rc;
}

static int try_create(fixture *f, const char *key, resumable_partial_mode mode)
{
  resumable_partial_info info = info_of(1);
  void *h = NULL;
  int rc = f->ops->partial_open(f->self, key, mode, &info, &h, NULL);
  if (h != NULL)
    f->ops->partial_close(f->self, h);
  return rc;
}

/* A write past the budget fails whole and leaves room for a smaller one. */
static void write_past_budget_is_nospace_and_writes_nothing(void **state)
{
  (void)state;
  fixture f;
  uint8_t data[100] = {0};
  open_store(&f, 100);
  void *h = open_mode(&f, "a", RESUMABLE_PARTIAL_STAGING, UINT64_MAX);
  assert_int_equal(f.ops->partial_write(f.self, h, 0, data, 60), RESUMABLE_OK);
  assert_int_equal(f.ops->partial_write(f.self, h, 60, data, 41), RESUMABLE_E_NOSPACE);
  assert_int_equal(usage(&f), 60);
  assert_int_equal(f.ops->partial_write(f.self, h, 60, data, 40), RESUMABLE_OK);
  assert_int_equal(usage(&f), 100);
  /* Overwriting held bytes costs nothing. */
  assert_int_equal(f.ops->partial_write(f.self, h, 10, data, 50), RESUMABLE_OK);
  void *p = open_mode(&f, "b", RESUMABLE_PARTIAL_CREATE, 10);
  assert_int_equal(f.ops->partial_write(f.self, p, 0, data, 1), RESUMABLE_E_NOSPACE);
  assert_int_equal(commit(&f, h, data, 100), RESUMABLE_OK);
  f.ops->partial_close(f.self, h);
  assert_int_equal(usage(&f), 100);
  f.ops->partial_close(f.self, p);
  assert_int_equal(f.ops->complete_remove(f.self, "a"), RESUMABLE_OK);
  assert_int_equal(usage(&f), 0);
  resumable_store_free(f.store);
}

/* Every byte held is counted until it is let go: a staging upload closed uncommitted, a tail
 * cut by a sync, a removed partial, a replaced version once its last reader closes. */
static void usage_counts_bytes_until_let_go(void **state)
{
  (void)state;
  fixture f;
  uint8_t data[1000];
  memset(data, 7, sizeof(data));
  open_store(&f, 0);
  void *s = open_mode(&f, "s", RESUMABLE_PARTIAL_STAGING, 1000);
  assert_int_equal(f.ops->partial_write(f.self, s, 0, data, 1000), RESUMABLE_OK);
  assert_int_equal(usage(&f), 1000);
  f.ops->partial_close(f.self, s);
  assert_int_equal(usage(&f), 0);

  void *p = open_mode(&f, "p", RESUMABLE_PARTIAL_CREATE, 1000);
  assert_int_equal(f.ops->partial_write(f.self, p, 0, data, 500), RESUMABLE_OK);
  resumable_partial_info info = info_of(1000);
  info.held = 300;
  assert_int_equal(f.ops->partial_sync(f.self, p, &info), RESUMABLE_OK);
  assert_int_equal(usage(&f), 300);
  assert_int_equal(f.ops->partial_write(f.self, p, 300, data, 100), RESUMABLE_OK);
  f.ops->partial_close(f.self, p);
  assert_int_equal(usage(&f), 400); /* the unsynced tail stays until the partial is opened */
  assert_int_equal(f.ops->partial_open(f.self, "p", RESUMABLE_PARTIAL_EXISTING, NULL, &p, NULL),
                   RESUMABLE_OK);
  assert_int_equal(usage(&f), 300);
  f.ops->partial_close(f.self, p);
  assert_int_equal(f.ops->partial_remove(f.self, "p"), RESUMABLE_OK);
  assert_int_equal(usage(&f), 0);

  void *r = NULL;
  assert_int_equal(put(&f, "v", "first version"), RESUMABLE_OK);
  assert_int_equal(f.ops->complete_open(f.self, "v", &r, NULL), RESUMABLE_OK);
  assert_int_equal(put(&f, "v", "second"), RESUMABLE_OK);
  assert_int_equal(usage(&f), 13 + 6);
  f.ops->complete_close(f.self, r);
  assert_int_equal(usage(&f), 6);
  resumable_store_free(f.store);
}

static void usage_of_other_stores_is_invalid(void **state)
{
  (void)state;
  char root[] = "/tmp/rs-memusage-XXXXXX";
  resumable_store *fs = NULL;
  uint64_t n = 0;
  assert_int_equal(resumable_store_mem_new(NULL, 0), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_store_mem_usage(NULL, &n), RESUMABLE_E_INVALID_ARG);
  assert_non_null(mkdtemp(root));
  assert_int_equal(resumable_store_fs_new(&fs, root), RESUMABLE_OK);
  assert_int_equal(resumable_store_mem_usage(fs, &n), RESUMABLE_E_INVALID_ARG);
  resumable_store_free(fs);
  fixture f;
  open_store(&f, 0);
  assert_int_equal(resumable_store_mem_usage(f.store, NULL), RESUMABLE_E_INVALID_ARG);
  resumable_store_free(f.store);
  assert_int_equal(test_remove_tree(root), 0);
}

/* A partial holds its key's place from its creation: uploads that could not both land are
 * refused before any byte, and the place is free again once the partial is gone. */
static void partial_takes_its_place_at_creation(void **state)
{
  (void)state;
  fixture f;
  open_store(&f, 0);
  void *h = open_mode(&f, "e/f", RESUMABLE_PARTIAL_CREATE, 10);
  f.ops->partial_close(f.self, h);
  assert_int_equal(try_create(&f, "e", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(&f, "e", RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(&f, "e/f/g", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(&f, "e/g", RESUMABLE_PARTIAL_CREATE), RESUMABLE_OK);
  assert_int_equal(f.ops->partial_remove(f.self, "e/f"), RESUMABLE_OK);
  assert_int_equal(try_create(&f, "e", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT); /* e/g */
  assert_int_equal(f.ops->partial_remove(f.self, "e/g"), RESUMABLE_OK);
  assert_int_equal(put(&f, "e", "now a file"), RESUMABLE_OK);
  resumable_store_free(f.store);
}

/* No directory outlives its last key: after DELETE a/b, "a" can be a file. */
static void removed_keys_leave_no_directories(void **state)
{
  (void)state;
  fixture f;
  resumable_complete_info ci;
  open_store(&f, 0);
  assert_int_equal(put(&f, "a/b/c", "deep"), RESUMABLE_OK);
  assert_int_equal(f.ops->complete_stat(f.self, "a/b", &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f.ops->complete_remove(f.self, "a/b"), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f.ops->complete_remove(f.self, "a/b/c"), RESUMABLE_OK);
  assert_int_equal(put(&f, "a/b", "file now"), RESUMABLE_OK);
  assert_int_equal(put(&f, "a/b/c", "x"), RESUMABLE_E_CONFLICT);
  assert_int_equal(f.ops->complete_remove(f.self, "a/b"), RESUMABLE_OK);
  assert_int_equal(put(&f, "a", "file too"), RESUMABLE_OK);
  rs_mem *m = f.self;
  assert_int_equal(m->nodes, 1); /* only "a" */
  resumable_store_free(f.store);
}

/* A handle whose partial was replaced or removed never touches the key's new state. */
static void stale_handles_are_refused(void **state)
{
  (void)state;
  fixture f;
  resumable_partial_info info = info_of(4), got;
  open_store(&f, 0);
  void *old = open_mode(&f, "k", RESUMABLE_PARTIAL_CREATE, 4);
  assert_int_equal(f.ops->partial_write(f.self, old, 0, "ab", 2), RESUMABLE_OK);
  void *now = open_mode(&f, "k", RESUMABLE_PARTIAL_CREATE, 4);
  assert_int_equal(f.ops->partial_write(f.self, old, 2, "cd", 2), RESUMABLE_E_STATE);
  info.held = 2;
  assert_int_equal(f.ops->partial_sync(f.self, old, &info), RESUMABLE_E_STATE);
  assert_int_equal(commit(&f, old, "ab", 2), RESUMABLE_E_STATE);
  assert_int_equal(f.ops->partial_stat(f.self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 0);
  f.ops->partial_close(f.self, old);
  assert_int_equal(f.ops->partial_remove(f.self, "k"), RESUMABLE_OK);
  assert_int_equal(f.ops->partial_write(f.self, now, 0, "x", 1), RESUMABLE_E_STATE);
  assert_int_equal(f.ops->complete_stat(f.self, "k", &(resumable_complete_info){0}),
                   RESUMABLE_E_NOT_FOUND);
  f.ops->partial_close(f.self, now);
  assert_int_equal(usage(&f), 0);
  resumable_store_free(f.store);
}

typedef struct remover {
  fixture *f;
  size_t visits;
} remover;

static int remove_visited(void *arg, const char *key, int64_t mtime)
{
  remover *r = arg;
  (void)mtime;
  r->visits++;
  assert_int_equal(r->f->ops->partial_remove(r->f->self, key), RESUMABLE_OK);
  return 0;
}

/* The visitor runs outside the store's lock: it may call any op, even one that removes. */
static void scan_visitor_may_call_the_store(void **state)
{
  (void)state;
  fixture f;
  char key[16];
  open_store(&f, 0);
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    f.ops->partial_close(f.self, open_mode(&f, key, RESUMABLE_PARTIAL_CREATE, 1));
  }
  remover r = {&f, 0};
  assert_int_equal(f.ops->partial_scan(f.self, NULL, remove_visited, &r), RESUMABLE_OK);
  assert_int_equal(r.visits, 100);
  r.visits = 0;
  assert_int_equal(f.ops->partial_scan(f.self, NULL, remove_visited, &r), RESUMABLE_OK);
  assert_int_equal(r.visits, 0);
  rs_mem *m = f.self;
  assert_int_equal(m->nodes, 0);
  resumable_store_free(f.store);
}

/* The block buffer: writes across block edges, a cut inside a block, growth after a cut. */
static void buffer_survives_cuts_across_blocks(void **state)
{
  (void)state;
  enum { BIG = 3 * (256 << 10) + 77 };
  rs_mem_buf b = {0};
  uint8_t *src = malloc(BIG), *got = malloc(BIG);
  assert_non_null(src);
  assert_non_null(got);
  for (size_t i = 0; i < BIG; i++)
    src[i] = (uint8_t)(i * 7 + (i >> 8));
  assert_int_equal(rs_mem_buf_write(&b, 0, src, 10), RESUMABLE_OK);
  assert_int_equal(rs_mem_buf_write(&b, 11, src, 1), RESUMABLE_E_INVALID_ARG); /* no holes */
  assert_int_equal(rs_mem_buf_write(&b, 10, src + 10, BIG - 10), RESUMABLE_OK);
  assert_int_equal(b.len, BIG);
  assert_int_equal(rs_mem_buf_read(&b, 0, got, BIG), BIG);
  assert_memory_equal(got, src, BIG);
  rs_mem_buf_truncate(&b, RS_MEM_BLOCK + 5);
  assert_int_equal(b.nblocks, 2);
  assert_int_equal(rs_mem_buf_read(&b, RS_MEM_BLOCK, got, 100), 5);
  memset(src + RS_MEM_BLOCK + 5, 0xee, 1000);
  assert_int_equal(
      rs_mem_buf_write(&b, RS_MEM_BLOCK + 5, src + RS_MEM_BLOCK + 5, BIG - RS_MEM_BLOCK - 5),
      RESUMABLE_OK);
  assert_int_equal(rs_mem_buf_read(&b, 1, got, BIG), BIG - 1);
  assert_memory_equal(got, src + 1, BIG - 1);
  assert_int_equal(rs_mem_buf_read(&b, BIG, got, 1), 0);
  rs_mem_buf_truncate(&b, 0);
  assert_int_equal(b.nblocks, 0);
  assert_int_equal(rs_mem_buf_write(&b, 0, src, 3), RESUMABLE_OK);
  assert_int_equal(rs_mem_buf_read(&b, 0, got, 10), 3);
  rs_mem_buf_free(&b);
  free(src);
  free(got);
}

/* One request through the handler, its body fed in pieces of 50 bytes; the reply body (if any)
 * lands in body. */
static int request(resumable_server *srv, const char *method, const char *path, const char *range,
                   const void *data, size_t len, char *body, size_t cap)
{
  resumable_exchange *ex = NULL;
  char clen[32];
  size_t got = 0;
  snprintf(clen, sizeof(clen), "%zu", len);
  assert_int_equal(resumable_exchange_begin(srv, method, path, &ex), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_add_header(ex, "Content-Length", clen), RESUMABLE_OK);
  if (range != NULL)
    assert_int_equal(resumable_exchange_add_header(ex, "Content-Range", range), RESUMABLE_OK);
  int decided = resumable_exchange_headers_done(ex);
  for (size_t at = 0; !decided && at < len; at += 50) {
    size_t n = len - at < 50 ? len - at : 50;
    decided = resumable_exchange_feed(ex, (const uint8_t *)data + at, n);
  }
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE), RESUMABLE_OK);
  int st = resumable_exchange_status(ex);
  assert_int_equal(resumable_exchange_read_body(ex, body, cap - 1, &got), RESUMABLE_OK);
  body[got] = '\0';
  resumable_exchange_free(ex);
  return st;
}

/* Through the handler: a PUT past the budget is 507 and keeps nothing; a chunk that runs out
 * keeps what fitted (308 to the resume probe); a DELETE makes room again. No local path is
 * ever named: there is no file. */
static void handler_answers_507_past_the_budget(void **state)
{
  (void)state;
  resumable_store *store = NULL;
  resumable_server *srv = NULL;
  char body[512];
  uint8_t data[200];
  uint64_t used = 0;
  memset(data, 'x', sizeof(data));
  assert_int_equal(resumable_store_mem_new(&store, 300), RESUMABLE_OK);
  assert_int_equal(resumable_server_new_with_store(&srv, store), RESUMABLE_OK);
  assert_int_equal(resumable_server_set_expose_paths(srv, 1), RESUMABLE_OK);
  assert_int_equal(request(srv, "PUT", "/v1/files/one", NULL, data, 200, body, sizeof(body)), 200);
  assert_null(strstr(body, "local_path"));
  assert_int_equal(request(srv, "PUT", "/v1/files/two", NULL, data, 200, body, sizeof(body)), 507);
  assert_int_equal(request(srv, "HEAD", "/v1/files/two", NULL, NULL, 0, body, sizeof(body)), 404);
  assert_int_equal(
      request(srv, "PUT", "/v1/files/big", "bytes 0-199/400", data, 200, body, sizeof(body)), 507);
  assert_int_equal(resumable_store_mem_usage(store, &used), RESUMABLE_OK);
  assert_int_equal(used, 300); /* the chunk kept the pieces that fitted */
  assert_int_equal(request(srv, "DELETE", "/v1/files/one", NULL, NULL, 0, body, sizeof(body)), 204);
  assert_int_equal(
      request(srv, "PUT", "/v1/files/big", "bytes 101-199/400", data, 99, body, sizeof(body)),
      416); /* it holds 100 */
  assert_int_equal(
      request(srv, "PUT", "/v1/files/big", "bytes 100-199/400", data, 100, body, sizeof(body)),
      308);
  assert_int_equal(resumable_store_mem_usage(store, &used), RESUMABLE_OK);
  assert_int_equal(used, 200);
  resumable_server_free(srv); /* frees the store */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(write_past_budget_is_nospace_and_writes_nothing),
      cmocka_unit_test(usage_counts_bytes_until_let_go),
      cmocka_unit_test(usage_of_other_stores_is_invalid),
      cmocka_unit_test(partial_takes_its_place_at_creation),
      cmocka_unit_test(removed_keys_leave_no_directories),
      cmocka_unit_test(stale_handles_are_refused),
      cmocka_unit_test(scan_visitor_may_call_the_store),
      cmocka_unit_test(buffer_survives_cuts_across_blocks),
      cmocka_unit_test(handler_answers_507_past_the_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
