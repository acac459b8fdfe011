/* Helpers shared by the conformance cases (see conformance.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conformance.h"
#include "sha256.h"
#include "store_internal.h"

void cf_reopen(cf *c)
{
  resumable_store_free(c->store);
  c->store = NULL;
  assert_int_equal(c->kind->reopen(c->ctx, &c->store), 0);
  c->ops = resumable_store_ops_of(c->store);
  c->self = resumable_store_self(c->store);
}

resumable_partial_info cf_info(uint64_t total)
{
  resumable_partial_info info;
  memset(&info, 0, sizeof(info));
  info.total = total;
  return info;
}

void cf_fill(uint8_t *buf, size_t len, unsigned seed, uint64_t offset)
{
  for (size_t i = 0; i < len; i++) {
    uint64_t at = offset + i;
    buf[i] = (uint8_t)(seed * 131u + at * 7u + (at >> 9) + (at >> 17));
  }
}

int cf_put(cf *c, const char *key, const void *data, size_t len)
{
  resumable_partial_info info = cf_info(len);
  resumable_complete_info ci;
  void *h = NULL;
  int rc = c->ops->partial_open(c->self, key, RESUMABLE_PARTIAL_STAGING, &info, &h, NULL);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = c->ops->partial_write(c->self, h, 0, data, len);
  ci.size = len;
  rs_sha256_digest(data, len, ci.sha256);
  if (rc == RESUMABLE_OK)
    rc = c->ops->partial_commit(c->self, h, &ci);
  c->ops->partial_close(c->self, h);
  return rc;
}

void cf_assert_complete(cf *c, const char *key, const void *data, size_t len, size_t piece)
{
  resumable_complete_info ci, co;
  uint8_t sha[32];
  void *r = NULL;
  rs_sha256_digest(data, len, sha);
  assert_int_equal(c->ops->complete_stat(c->self, key, &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, len);
  assert_memory_equal(ci.sha256, sha, 32);
  assert_int_equal(c->ops->complete_open(c->self, key, &r, &co), RESUMABLE_OK);
  assert_int_equal(co.size, len);
  assert_memory_equal(co.sha256, sha, 32);
  uint8_t *got = malloc(len + piece + 1);
  assert_non_null(got);
  size_t at = 0, n = 0;
  do {
    assert_int_equal(c->ops->complete_read(c->self, r, at, got + at, piece, &n), RESUMABLE_OK);
    assert_true(n <= piece);
    if (n < piece)
      assert_int_equal(at + n, len); /* short only at the end */
    at += n;
  } while (n == piece);
  assert_int_equal(at, len);
  assert_memory_equal(got, data, len);
  free(got);
  c->ops->complete_close(c->self, r);
}

typedef struct scan_acc {
  size_t n;
  char *first;
  size_t cap;
} scan_acc;

static int count_visit(void *arg, const char *key, int64_t mtime)
{
  scan_acc *a = arg;
  (void)mtime;
  if (a->n++ == 0 && a->first != NULL) {
    assert_true(strlen(key) < a->cap);
    strcpy(a->first, key);
  }
  return 0;
}

size_t cf_scan_count(cf *c, const char *key, char *first, size_t cap)
{
  scan_acc a = {0, first, cap};
  if (first != NULL && cap > 0)
    first[0] = '\0';
  assert_non_null(c->ops->partial_scan);
  assert_int_equal(c->ops->partial_scan(c->self, key, count_visit, &a), RESUMABLE_OK);
  return a.n;
}

int64_t cf_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}
