/* Conformance: ops on different keys run in parallel, and readers of a key run in parallel
 * with commits to it (the handler serves a GET outside the key's lock). Worker threads only
 * record what went wrong; the asserts run on the test's thread. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "sha256.h"

enum { WORKERS = 4, KEYS_EACH = 12, VERSIONS = 40 };

typedef struct worker {
  cf *c;
  int id;
  int rc;   /* first failing code, or RESUMABLE_OK */
  int line; /* where it failed */
  atomic_int *done;
  size_t reads;
} worker;

#define CHECK(w, expr)                                    \
  do {                                                    \
    int rc_ = (expr);                                     \
    if (rc_ != RESUMABLE_OK && (w)->rc == RESUMABLE_OK) { \
      (w)->rc = rc_;                                      \
      (w)->line = __LINE__;                               \
    }                                                     \
  } while (0)

static void content(int id, int i, uint8_t *buf, size_t *len)
{
  *len = 100 + (size_t)(id * 37 + i * 211) % 5000;
  cf_fill(buf, *len, (unsigned)(id * 16 + i), 0);
}

/* Half through a partial (two writes, a sync between), half through a staging upload. */
static int upload(cf *c, const char *key, const uint8_t *data, size_t len, int as_partial)
{
  resumable_partial_info info = cf_info(len);
  resumable_complete_info ci = {.size = len};
  void *h = NULL;
  rs_sha256_digest(data, len, ci.sha256);
  int rc = c->ops->partial_open(c->self, key,
                                as_partial ? RESUMABLE_PARTIAL_CREATE : RESUMABLE_PARTIAL_STAGING,
                                &info, &h, NULL);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = c->ops->partial_write(c->self, h, 0, data, len / 2);
  if (rc == RESUMABLE_OK && as_partial) {
    info.held = len / 2;
    rc = c->ops->partial_sync(c->self, h, &info);
  }
  if (rc == RESUMABLE_OK)
    rc = c->ops->partial_write(c->self, h, len / 2, data + len / 2, len - len / 2);
  if (rc == RESUMABLE_OK)
    rc = c->ops->partial_commit(c->self, h, &ci);
  c->ops->partial_close(c->self, h);
  return rc;
}

static void *uploader(void *arg)
{
  worker *w = arg;
  uint8_t buf[6000];
  char key[64];
  size_t len = 0;
  for (int i = 0; i < KEYS_EACH; i++) {
    snprintf(key, sizeof(key), "shared/t%d/k%d", w->id, i);
    content(w->id, i, buf, &len);
    CHECK(w, upload(w->c, key, buf, len, i % 2));
  }
  return NULL;
}

static int count_visit(void *arg, const char *key, int64_t mtime)
{
  (void)key, (void)mtime;
  (*(size_t *)arg)++;
  return 0;
}

static void *scanner(void *arg)
{
  worker *w = arg;
  while (!atomic_load(w->done)) {
    size_t n = 0;
    CHECK(w, w->c->ops->partial_scan(w->c->self, NULL, count_visit, &n));
    w->reads++;
  }
  return NULL;
}

static void parallel_uploads_of_different_keys_all_land(cf *c)
{
  pthread_t t[WORKERS + 1];
  worker w[WORKERS + 1];
  atomic_int done;
  atomic_init(&done, 0);
  int scan = c->ops->partial_scan != NULL;
  for (int i = 0; i <= WORKERS; i++)
    w[i] = (worker){c, i, RESUMABLE_OK, 0, &done, 0};
  for (int i = 0; i < WORKERS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, uploader, &w[i]), 0);
  if (scan)
    assert_int_equal(pthread_create(&t[WORKERS], NULL, scanner, &w[WORKERS]), 0);
  for (int i = 0; i < WORKERS; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  atomic_store(&done, 1);
  if (scan)
    assert_int_equal(pthread_join(t[WORKERS], NULL), 0);
  for (int i = 0; i <= WORKERS; i++) {
    if (w[i].rc != RESUMABLE_OK)
      fprintf(stderr, "worker %d: %s at line %d\n", i, resumable_err_name(w[i].rc), w[i].line);
    assert_int_equal(w[i].rc, RESUMABLE_OK);
  }
  uint8_t buf[6000];
  char key[64];
  size_t len = 0;
  for (int id = 0; id < WORKERS; id++)
    for (int i = 0; i < KEYS_EACH; i++) {
      snprintf(key, sizeof(key), "shared/t%d/k%d", id, i);
      content(id, i, buf, &len);
      cf_assert_complete(c, key, buf, len, 4096);
    }
  if (scan)
    assert_int_equal(cf_scan_count(c, NULL, NULL, 0), 0);
}

/* Open the key, read the whole version, check it against the info it was opened with. */
static int read_whole(cf *c, const char *key)
{
  resumable_complete_info ci;
  void *r = NULL;
  uint8_t buf[8192], sha[32];
  size_t n = 0;
  int rc = c->ops->complete_open(c->self, key, &r, &ci);
  if (rc != RESUMABLE_OK)
    return rc;
  rs_sha256 h;
  rs_sha256_init(&h);
  uint64_t at = 0;
  do {
    rc = c->ops->complete_read(c->self, r, at, buf, 1000 + at % 777, &n);
    rs_sha256_update(&h, buf, n);
    at += n;
  } while (rc == RESUMABLE_OK && n > 0);
  rs_sha256_finish(&h, sha);
  c->ops->complete_close(c->self, r);
  if (rc == RESUMABLE_OK && (at != ci.size || memcmp(sha, ci.sha256, 32) != 0))
    rc = RESUMABLE_E_HASH_MISMATCH; /* a torn or mixed version */
  return rc;
}

static void *reader(void *arg)
{
  worker *w = arg;
  while (!atomic_load(w->done) || w->reads < 10) {
    CHECK(w, read_whole(w->c, "hot"));
    w->reads++;
  }
  return NULL;
}

static void readers_see_whole_versions_during_commits(cf *c)
{
  pthread_t t[2];
  worker w[3];
  uint8_t buf[6000];
  size_t len = 0;
  atomic_int done;
  atomic_init(&done, 0);
  content(9, 0, buf, &len);
  assert_int_equal(upload(c, "hot", buf, len, 0), RESUMABLE_OK);
  for (int i = 0; i < 3; i++)
    w[i] = (worker){c, i, RESUMABLE_OK, 0, &done, 0};
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i], NULL, reader, &w[i]), 0);
  for (int v = 1; v <= VERSIONS; v++) {
    content(9, v, buf, &len);
    CHECK(&w[2], upload(c, "hot", buf, len, v % 2));
  }
  atomic_store(&done, 1);
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  for (int i = 0; i < 3; i++) {
    if (w[i].rc != RESUMABLE_OK)
      fprintf(stderr, "thread %d: %s at line %d\n", i, resumable_err_name(w[i].rc), w[i].line);
    assert_int_equal(w[i].rc, RESUMABLE_OK);
  }
  content(9, VERSIONS, buf, &len);
  cf_assert_complete(c, "hot", buf, len, 1000);
}

#define CASE(name, needs) \
  {                       \
#name, name, needs    \
  }
const cf_case cf_thread_cases[] = {
    CASE(parallel_uploads_of_different_keys_all_land, 0),
    CASE(readers_see_whole_versions_during_commits, 0),
};
const size_t cf_thread_count = sizeof(cf_thread_cases) / sizeof(cf_thread_cases[0]);
