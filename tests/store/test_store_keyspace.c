/* POSIX store: the shape of the key space. Directories emptied by a removal go, keys that nest
 * ("e" and "e/f") are refused at the start of the second upload rather than stranded at its
 * end, and commits and removals racing in one directory never fail each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "store_fixture.h"

static void *begin(fixture *f, const char *key, resumable_partial_mode mode, int want)
{
  resumable_partial_info info = fx_info(3);
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->self, key, mode, &info, &h, NULL), want);
  return h;
}

static int commit(fixture *f, void *h, const char *data)
{
  resumable_complete_info ci = {.size = 3};
  rs_sha256_digest(data, 3, ci.sha256);
  int rc = f->ops->partial_write(f->self, h, 0, data, 3);
  if (rc == RESUMABLE_OK)
    rc = f->ops->partial_commit(f->self, h, &ci);
  f->ops->partial_close(f->self, h);
  return rc;
}

static void complete_remove_prunes_emptied_directories(void **state)
{
  fixture *f = *state;
  assert_int_equal(fx_put(f, "a/b/c", "abc", 3, NULL), RESUMABLE_OK);
  assert_int_equal(fx_put(f, "a/x", "xyz", 3, NULL), RESUMABLE_OK);
  assert_int_equal(f->ops->complete_remove(f->self, "a/b/c"), RESUMABLE_OK);
  assert_false(fx_exists(f, "a/b"));
  assert_true(fx_exists(f, "a/x")); /* a still holds a file: it stays */
  assert_int_equal(f->ops->complete_remove(f->self, "a/x"), RESUMABLE_OK);
  assert_false(fx_exists(f, "a"));
  assert_int_equal(fx_count_rel(f, ""), 1); /* only .resumable */
  /* "a" is a plain key again. */
  assert_int_equal(fx_put(f, "a", "new", 3, NULL), RESUMABLE_OK);
  assert_int_equal(fx_size(f, "a"), 3);
}

static void removal_of_an_absent_key_touches_no_directory(void **state)
{
  fixture *f = *state;
  char p[512];
  fx_path(f, "keep", p, sizeof(p));
  assert_int_equal(mkdir(p, 0755), 0);
  assert_int_equal(f->ops->complete_remove(f->self, "keep/none"), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->complete_remove(f->self, "keep"), RESUMABLE_E_NOT_FOUND);
  assert_true(fx_exists(f, "keep"));
}

/* A partial of e/f will need e as a directory: no file may take e meanwhile. */
static void partial_below_refuses_an_upload_of_its_parent(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  void *ef = begin(f, "e/f", RESUMABLE_PARTIAL_CREATE, RESUMABLE_OK);
  begin(f, "e", RESUMABLE_PARTIAL_CREATE, RESUMABLE_E_CONFLICT);
  begin(f, "e", RESUMABLE_PARTIAL_STAGING, RESUMABLE_E_CONFLICT);
  assert_int_equal(f->ops->complete_stat(f->self, "e", &ci), RESUMABLE_E_NOT_FOUND);
  void *deep = begin(f, "g/h/i", RESUMABLE_PARTIAL_CREATE, RESUMABLE_OK);
  begin(f, "g", RESUMABLE_PARTIAL_STAGING, RESUMABLE_E_CONFLICT);
  begin(f, "g/h", RESUMABLE_PARTIAL_STAGING, RESUMABLE_E_CONFLICT);
  /* a sibling is fine */
  f->ops->partial_close(f->self, begin(f, "g/other", RESUMABLE_PARTIAL_STAGING, RESUMABLE_OK));
  assert_int_equal(commit(f, ef, "eef"), RESUMABLE_OK);
  assert_int_equal(commit(f, deep, "ghi"), RESUMABLE_OK);
  assert_int_equal(fx_size(f, "e/f"), 3);
  assert_int_equal(fx_size(f, "g/h/i"), 3);
}

/* A partial of e will be a file e: nothing may be begun below it meanwhile. */
static void partial_refuses_uploads_below_it(void **state)
{
  fixture *f = *state;
  void *e = begin(f, "e", RESUMABLE_PARTIAL_CREATE, RESUMABLE_OK);
  begin(f, "e/f", RESUMABLE_PARTIAL_CREATE, RESUMABLE_E_CONFLICT);
  begin(f, "e/f/g", RESUMABLE_PARTIAL_STAGING, RESUMABLE_E_CONFLICT);
  /* a prefix of bytes, not a parent */
  f->ops->partial_close(f->self, begin(f, "ee/f", RESUMABLE_PARTIAL_STAGING, RESUMABLE_OK));
  assert_int_equal(commit(f, e, "eee"), RESUMABLE_OK);
  begin(f, "e/f", RESUMABLE_PARTIAL_CREATE, RESUMABLE_E_CONFLICT); /* now a file is in the way */
}

/* A whole-file upload claims nothing (its staging file is anonymous): if a partial below its
 * key begins meanwhile, the whole-file upload loses at its commit, and the partial is intact. */
static void staging_commit_loses_to_a_partial_begun_below_it(void **state)
{
  fixture *f = *state;
  void *e = begin(f, "e", RESUMABLE_PARTIAL_STAGING, RESUMABLE_OK);
  void *ef = begin(f, "e/f", RESUMABLE_PARTIAL_CREATE, RESUMABLE_OK);
  assert_int_equal(commit(f, e, "eee"), RESUMABLE_E_CONFLICT);
  assert_false(fx_exists(f, "e"));
  assert_int_equal(commit(f, ef, "eef"), RESUMABLE_OK);
  assert_int_equal(fx_size(f, "e/f"), 3);
}

static void removed_partial_releases_its_parent(void **state)
{
  fixture *f = *state;
  void *ef = begin(f, "e/f", RESUMABLE_PARTIAL_CREATE, RESUMABLE_OK);
  f->ops->partial_close(f->self, ef);
  assert_int_equal(f->ops->partial_remove(f->self, "e/f"), RESUMABLE_OK);
  assert_int_equal(fx_count_rel(f, ".resumable/claims"), 0);
  assert_int_equal(fx_put(f, "e", "eee", 3, NULL), RESUMABLE_OK);
}

/* A claim whose partial is gone (a crash between the two, files removed by hand) is stale:
 * it is dropped when met, and blocks nothing. */
static void stale_claim_blocks_nothing(void **state)
{
  fixture *f = *state;
  char rel[256], p[512];
  void *ef = begin(f, "e/f", RESUMABLE_PARTIAL_CREATE, RESUMABLE_OK);
  f->ops->partial_close(f->self, ef);
  fx_partial_file("e/f", "data", rel, sizeof(rel));
  fx_path(f, rel, p, sizeof(p));
  assert_int_equal(unlink(p), 0);
  fx_partial_file("e/f", "meta", rel, sizeof(rel));
  fx_path(f, rel, p, sizeof(p));
  assert_int_equal(unlink(p), 0);
  assert_int_equal(fx_count_rel(f, ".resumable/claims"), 1);
  assert_int_equal(fx_put(f, "e", "eee", 3, NULL), RESUMABLE_OK);
  assert_int_equal(fx_count_rel(f, ".resumable/claims"), 0);
}

/* Claims are an index rebuilt from the partials when a store opens: lost ones come back. */
static void claims_are_rebuilt_when_the_store_opens(void **state)
{
  fixture *f = *state;
  char p[512];
  void *ef = begin(f, "e/f", RESUMABLE_PARTIAL_CREATE, RESUMABLE_OK);
  resumable_partial_info info = fx_info(3);
  assert_int_equal(f->ops->partial_sync(f->self, ef, &info), RESUMABLE_OK);
  f->ops->partial_close(f->self, ef);
  fx_path(f, ".resumable/claims", p, sizeof(p));
  (void)test_remove_tree(p);
  fx_restart(f);
  begin(f, "e", RESUMABLE_PARTIAL_STAGING, RESUMABLE_E_CONFLICT);
}

typedef struct churner {
  fixture *f;
  const char *key;
  int failures;
} churner;

/* Put and remove one key in a shared directory, over and over: each removal may empty the
 * directory (and remove it) just as the other thread's commit needs it. */
static void *churn(void *arg)
{
  churner *c = arg;
  for (int i = 0; i < 300; i++) {
    if (fx_put(c->f, c->key, "abc", 3, NULL) != RESUMABLE_OK)
      c->failures++;
    if (c->f->ops->complete_remove(c->f->self, c->key) != RESUMABLE_OK)
      c->failures++;
  }
  return NULL;
}

static void commits_and_removals_in_one_directory_never_fail_each_other(void **state)
{
  fixture *f = *state;
  churner c[3] = {{f, "shared/dir/a", 0}, {f, "shared/dir/b", 0}, {f, "shared/c", 0}};
  pthread_t t[3];
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&t[i], NULL, churn, &c[i]), 0);
  for (int i = 0; i < 3; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(c[i].failures, 0);
  }
  assert_false(fx_exists(f, "shared"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(complete_remove_prunes_emptied_directories),
      T(removal_of_an_absent_key_touches_no_directory),
      T(partial_below_refuses_an_upload_of_its_parent),
      T(partial_refuses_uploads_below_it),
      T(staging_commit_loses_to_a_partial_begun_below_it),
      T(removed_partial_releases_its_parent),
      T(stale_claim_blocks_nothing),
      T(claims_are_rebuilt_when_the_store_opens),
      T(commits_and_removals_in_one_directory_never_fail_each_other),
  };
  return cmocka_run_group_tests_name("store_keyspace", tests, NULL, NULL);
}
