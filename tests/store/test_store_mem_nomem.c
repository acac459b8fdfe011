/* The memory store when allocations fail: every allocation of a scenario is made to fail in
 * turn (the store's sources are compiled for this test with malloc, calloc and realloc routed
 * here). Each op then answers RESUMABLE_E_NOMEM or as if it had not failed, never anything
 * else, and the store stays whole: its table and byte count agree, a later op works, and
 * freeing it leaks nothing (the ASan build checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resumable/error.h"
#include "resumable/store.h"
#include "sha256.h"
#include "store_mem.h"
#include "store_internal.h"

static long fail_at = -1; /* the allocation number that fails; -1: none */
static long count;        /* allocations so far */

static int should_fail(void)
{
  return count++ == fail_at;
}

void *fail_malloc(size_t n);
void *fail_calloc(size_t k, size_t n);
void *fail_realloc(void *p, size_t n);

void *fail_malloc(size_t n)
{
  return should_fail() ? NULL : malloc(n);
}

void *fail_calloc(size_t k, size_t n)
{
  return should_fail() ? NULL : calloc(k, n);
}

void *fail_realloc(void *p, size_t n)
{
  return should_fail() ? NULL : realloc(p, n);
}

/* An op (or chain of ops) either worked or ran out of memory: nothing else. */
#define OK_OR_NOMEM(expr)                                                                  \
  do {                                                                                     \
    int rc_ = (expr);                                                                      \
    if (rc_ != RESUMABLE_OK && rc_ != RESUMABLE_E_NOMEM)                                   \
      fail_msg("%s: %s (allocation %ld failed)", #expr, resumable_err_name(rc_), fail_at); \
  } while (0)

static int counter(void *arg, const char *key, int64_t mtime)
{
  (void)key, (void)mtime;
  (*(int *)arg)++;
  return 0;
}

/* Bytes in the table equal the count, and each node is needed. */
static void assert_whole(resumable_store *store)
{
  rs_mem *m = resumable_store_self(store);
  uint64_t bytes = 0;
  size_t nodes = 0;
  for (size_t i = 0; i < m->nbuckets; i++)
    for (const rs_mem_node *n = m->buckets[i]; n != NULL; n = n->next, nodes++) {
      assert_true(n->complete != NULL || n->partial != NULL || n->below > 0);
      bytes += n->complete ? n->complete->buf.len : 0;
      bytes += n->partial ? n->partial->buf.len : 0;
    }
  assert_int_equal(nodes, m->nodes);
  assert_int_equal(bytes, m->used);
}

/* A partial (or staging upload) of all of data at key: open, write, sync, write the rest,
 * commit, close. Stops at the first failure and returns its code. */
static int upload(const resumable_store_ops *ops, void *self, const char *key,
                  resumable_partial_mode mode, const uint8_t *data, size_t len)
{
  resumable_partial_info info;
  resumable_complete_info ci = {.size = len};
  void *h = NULL;
  memset(&info, 0, sizeof(info));
  info.total = len;
  rs_sha256_digest(data, len, ci.sha256);
  int rc = ops->partial_open(self, key, mode, &info, &h, NULL);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = ops->partial_write(self, h, 0, data, 100);
  info.held = 100;
  if (rc == RESUMABLE_OK && mode == RESUMABLE_PARTIAL_CREATE)
    rc = ops->partial_sync(self, h, &info);
  if (rc == RESUMABLE_OK)
    rc = ops->partial_write(self, h, 100, data + 100, len - 100);
  if (rc == RESUMABLE_OK)
    rc = ops->partial_commit(self, h, &ci);
  ops->partial_close(self, h);
  return rc;
}

/* Everything the store allocates for: keys and directories, partials, staging uploads, block
 * growth past one block, versions, a reader across a commit, a scan. */
static void scenario(void)
{
  static uint8_t data[300000];
  resumable_store *store = NULL;
  resumable_partial_info info;
  void *h = NULL, *r = NULL;
  int visits = 0;
  memset(&info, 0, sizeof(info));
  info.total = 1;
  if (resumable_store_mem_new(&store, 0) != RESUMABLE_OK)
    return;
  const resumable_store_ops *ops = resumable_store_ops_of(store);
  void *self = resumable_store_self(store);
  int first = upload(ops, self, "d/e/p", RESUMABLE_PARTIAL_CREATE, data, sizeof(data));
  OK_OR_NOMEM(first);
  int rc = ops->complete_open(self, "d/e/p", &r, NULL);
  assert_int_equal(rc, first == RESUMABLE_OK ? RESUMABLE_OK : RESUMABLE_E_NOT_FOUND);
  OK_OR_NOMEM(upload(ops, self, "d/e/p", RESUMABLE_PARTIAL_STAGING, data, sizeof(data)));
  rc = ops->partial_open(self, "d/f", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL);
  OK_OR_NOMEM(rc);
  if (rc == RESUMABLE_OK)
    ops->partial_close(self, h);
  OK_OR_NOMEM(ops->partial_scan(self, NULL, counter, &visits));
  if (r != NULL)
    ops->complete_close(self, r);
  assert_whole(store);
  fail_at = -1; /* the store works on */
  OK_OR_NOMEM(upload(ops, self, "d/g", RESUMABLE_PARTIAL_CREATE, data, 200));
  assert_int_equal(ops->complete_remove(self, "d/g"), RESUMABLE_OK);
  rc = ops->complete_remove(self, "d/e/p");
  assert_true(rc == RESUMABLE_OK || rc == RESUMABLE_E_NOT_FOUND);
  rc = ops->partial_remove(self, "d/e/p"); /* left by a failed commit */
  assert_true(rc == RESUMABLE_OK || rc == RESUMABLE_E_NOT_FOUND);
  rc = ops->partial_remove(self, "d/f");
  assert_true(rc == RESUMABLE_OK || rc == RESUMABLE_E_NOT_FOUND);
  assert_whole(store);
  assert_int_equal(((rs_mem *)self)->nodes, 0);
  assert_int_equal(((rs_mem *)self)->used, 0);
  resumable_store_free(store);
}

static void every_allocation_may_fail(void **state)
{
  (void)state;
  fail_at = -1;
  count = 0;
  scenario();
  long total = count;
  assert_true(total > 10);
  for (long k = 0; k < total; k++) {
    fail_at = k;
    count = 0;
    scenario();
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_allocation_may_fail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
