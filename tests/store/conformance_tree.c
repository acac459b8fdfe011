/* Conformance: keys. Malformed keys never reach storage. On stores whose keys form a tree, a
 * key cannot be placed under a file or a partial, nor over other keys (RESUMABLE_E_CONFLICT):
 * a partial takes its place when it is created, so of two uploads that cannot both land the
 * second is refused before any byte; a key that cannot be placed holds no bytes; a place is free
 * again once its last key is gone; and a key that is only a directory reads as absent. */
#include <string.h>

#include "conformance.h"
#include "sha256.h"

static int try_create(cf *c, const char *key, resumable_partial_mode mode)
{
  resumable_partial_info info = cf_info(1);
  void *h = NULL;
  int rc = c->ops->partial_open(c->self, key, mode, &info, &h, NULL);
  if (rc == RESUMABLE_OK)
    c->ops->partial_close(c->self, h);
  else
    assert_null(h);
  return rc;
}

static void assert_absent(cf *c, const char *key)
{
  resumable_complete_info ci;
  resumable_partial_info pi;
  void *r = &ci;
  assert_int_equal(c->ops->partial_stat(c->self, key, &pi), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_stat(c->self, key, &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->complete_open(c->self, key, &r, NULL), RESUMABLE_E_NOT_FOUND);
  assert_null(r);
  assert_int_equal(c->ops->complete_remove(c->self, key), RESUMABLE_E_NOT_FOUND);
}

/* The handler never passes these; a store refuses them anyway and stores nothing. */
static void malformed_keys_are_refused(cf *c)
{
  static const char *bad[] = {"..",   "../x", "a/../../x",        "./x",           "a//b",
                              "/abs", "a/",   ".resumable/tmp/x", "d/.resumable-x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(try_create(c, bad[i], RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
    assert_int_equal(try_create(c, bad[i], RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
    assert_absent(c, bad[i]);
  }
  char seg[300];
  memset(seg, 's', sizeof(seg));
  memcpy(seg, "d/", 2);
  seg[2 + 256] = '\0'; /* one segment of 256 bytes */
  assert_int_equal(try_create(c, seg, RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(c, seg, RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
  seg[2 + 255] = '\0'; /* 255 is the most */
  assert_int_equal(try_create(c, seg, RESUMABLE_PARTIAL_STAGING), RESUMABLE_OK);
  if (c->ops->partial_scan != NULL)
    assert_int_equal(cf_scan_count(c, NULL, NULL, 0), 0);
}

static void empty_null_and_overlong_keys_are_invalid(cf *c)
{
  char longkey[1026];
  resumable_complete_info ci;
  resumable_partial_info pi = cf_info(1);
  void *h = NULL;
  memset(longkey, 'k', 1025);
  longkey[1025] = '\0';
  const char *bad[] = {"", NULL, longkey};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(c->ops->complete_stat(c->self, bad[i], &ci), RESUMABLE_E_INVALID_ARG);
    assert_int_equal(c->ops->partial_stat(c->self, bad[i], &pi), RESUMABLE_E_INVALID_ARG);
    assert_int_equal(c->ops->partial_open(c->self, bad[i], RESUMABLE_PARTIAL_CREATE, &pi, &h, NULL),
                     RESUMABLE_E_INVALID_ARG);
    assert_null(h);
    assert_int_equal(c->ops->partial_remove(c->self, bad[i]), RESUMABLE_E_INVALID_ARG);
    assert_int_equal(c->ops->complete_remove(c->self, bad[i]), RESUMABLE_E_INVALID_ARG);
  }
  longkey[1024] = '\0';          /* 1024 bytes is the longest key */
  memset(longkey + 100, '/', 1); /* segments stay under 256 bytes */
  memset(longkey + 350, '/', 1);
  memset(longkey + 600, '/', 1);
  memset(longkey + 850, '/', 1);
  assert_int_equal(cf_put(c, longkey, "long", 4), RESUMABLE_OK);
  cf_assert_complete(c, longkey, "long", 4, 4);
}

static void file_blocks_keys_below_it(cf *c)
{
  assert_int_equal(cf_put(c, "e", "file", 4), RESUMABLE_OK);
  assert_int_equal(try_create(c, "e/f", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(c, "e/f", RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(c, "e/f/g", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
  assert_int_equal(cf_put(c, "e/f", "no", 2), RESUMABLE_E_CONFLICT);
  assert_absent(c, "e/f");
  cf_assert_complete(c, "e", "file", 4, 8);
  /* The file's own partial is not below it. */
  assert_int_equal(try_create(c, "e", RESUMABLE_PARTIAL_CREATE), RESUMABLE_OK);
}

static void keys_below_block_a_file(cf *c)
{
  assert_int_equal(cf_put(c, "a/b/c", "deep", 4), RESUMABLE_OK);
  assert_int_equal(try_create(c, "a", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(c, "a", RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(c, "a/b", RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
  assert_absent(c, "a");
  assert_absent(c, "a/b");
  /* Siblings are fine. */
  assert_int_equal(cf_put(c, "a/b/d", "sib", 3), RESUMABLE_OK);
  assert_int_equal(cf_put(c, "a/x", "sib", 3), RESUMABLE_OK);
  cf_assert_complete(c, "a/b/c", "deep", 4, 8);
}

/* The place is checked again at the commit: a file that appeared above the key meanwhile
 * wins, and the staging upload publishes nothing. */
static void staging_commit_under_a_new_file_conflicts(cf *c)
{
  resumable_partial_info info = cf_info(1);
  resumable_complete_info ci = {.size = 1};
  void *h = NULL;
  assert_int_equal(c->ops->partial_open(c->self, "d/x", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "z", 1), RESUMABLE_OK);
  assert_int_equal(cf_put(c, "d", "file", 4), RESUMABLE_OK);
  rs_sha256_digest("z", 1, ci.sha256);
  assert_int_equal(c->ops->partial_commit(c->self, h, &ci), RESUMABLE_E_CONFLICT);
  c->ops->partial_close(c->self, h);
  assert_absent(c, "d/x");
  cf_assert_complete(c, "d", "file", 4, 8);
}

static void *begin(cf *c, const char *key, resumable_partial_mode mode)
{
  resumable_partial_info info = cf_info(1);
  void *h = NULL;
  assert_int_equal(c->ops->partial_open(c->self, key, mode, &info, &h, NULL), RESUMABLE_OK);
  return h;
}

static int finish(cf *c, void *h)
{
  resumable_complete_info ci = {.size = 1};
  rs_sha256_digest("z", 1, ci.sha256);
  int rc = c->ops->partial_write(c->self, h, 0, "z", 1);
  if (rc == RESUMABLE_OK)
    rc = c->ops->partial_commit(c->self, h, &ci);
  c->ops->partial_close(c->self, h);
  return rc;
}

/* A partial of e/f will need e as a directory: no upload of e may begin meanwhile. */
static void partial_below_blocks_its_parent(cf *c)
{
  void *ef = begin(c, "e/f", RESUMABLE_PARTIAL_CREATE);
  assert_int_equal(try_create(c, "e", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(c, "e", RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
  assert_absent(c, "e");
  assert_int_equal(try_create(c, "e/g", RESUMABLE_PARTIAL_STAGING), RESUMABLE_OK); /* sibling */
  assert_int_equal(finish(c, ef), RESUMABLE_OK);
  cf_assert_complete(c, "e/f", "z", 1, 4);
}

/* A partial of e will be a file e: nothing may begin below it meanwhile. */
static void partial_blocks_keys_below_it(cf *c)
{
  void *e = begin(c, "e", RESUMABLE_PARTIAL_CREATE);
  assert_int_equal(try_create(c, "e/f", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
  assert_int_equal(try_create(c, "e/f/g", RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
  /* "e" is a prefix of "ee", not a parent */
  assert_int_equal(try_create(c, "ee/f", RESUMABLE_PARTIAL_STAGING), RESUMABLE_OK);
  assert_int_equal(finish(c, e), RESUMABLE_OK);
  assert_int_equal(try_create(c, "e/f", RESUMABLE_PARTIAL_CREATE), RESUMABLE_E_CONFLICT);
}

/* A staging upload holds no place: a partial begun below its key meanwhile wins. */
static void staging_commit_loses_to_a_partial_begun_below_it(cf *c)
{
  void *e = begin(c, "e", RESUMABLE_PARTIAL_STAGING);
  void *ef = begin(c, "e/f", RESUMABLE_PARTIAL_CREATE);
  assert_int_equal(finish(c, e), RESUMABLE_E_CONFLICT);
  assert_absent(c, "e");
  assert_int_equal(finish(c, ef), RESUMABLE_OK);
  cf_assert_complete(c, "e/f", "z", 1, 4);
}

/* No directory outlives its last key, file or partial. */
static void removed_keys_free_their_place(cf *c)
{
  assert_int_equal(cf_put(c, "a/b/c", "abc", 3), RESUMABLE_OK);
  assert_int_equal(cf_put(c, "a/x", "xyz", 3), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_remove(c->self, "a/b/c"), RESUMABLE_OK);
  assert_int_equal(cf_put(c, "a/b", "now a file", 10), RESUMABLE_OK);
  assert_int_equal(try_create(c, "a", RESUMABLE_PARTIAL_STAGING), RESUMABLE_E_CONFLICT);
  assert_int_equal(c->ops->complete_remove(c->self, "a/b"), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_remove(c->self, "a/x"), RESUMABLE_OK);
  assert_int_equal(cf_put(c, "a", "a file too", 10), RESUMABLE_OK);
  c->ops->partial_close(c->self, begin(c, "p/q", RESUMABLE_PARTIAL_CREATE));
  assert_int_equal(c->ops->partial_remove(c->self, "p/q"), RESUMABLE_OK);
  assert_int_equal(cf_put(c, "p", "free", 4), RESUMABLE_OK);
  cf_assert_complete(c, "p", "free", 4, 4);
}

#define CASE(name, needs) \
  {                       \
#name, name, needs    \
  }
const cf_case cf_tree_cases[] = {
    CASE(malformed_keys_are_refused, 0),
    CASE(empty_null_and_overlong_keys_are_invalid, 0),
    CASE(file_blocks_keys_below_it, CF_TREE),
    CASE(keys_below_block_a_file, CF_TREE),
    CASE(staging_commit_under_a_new_file_conflicts, CF_TREE),
    CASE(partial_below_blocks_its_parent, CF_TREE),
    CASE(partial_blocks_keys_below_it, CF_TREE),
    CASE(staging_commit_loses_to_a_partial_begun_below_it, CF_TREE),
    CASE(removed_keys_free_their_place, CF_TREE),
};
const size_t cf_tree_count = sizeof(cf_tree_cases) / sizeof(cf_tree_cases[0]);
