/* POSIX store: keys never leave the root, symlinks are never followed, and the store API's
 * own argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "store_fixture.h"
#include "store_fs.h"
#include "store_internal.h"
#include "resumable/server.h"

static void plant_link(fixture *f, const char *rel, const char *target)
{
  char p[512];
  fx_path(f, rel, p, sizeof(p));
  assert_int_equal(symlink(target, p), 0);
}

/* No upload of `key` may begin (CONFLICT), and the key holds no file: whatever is on disk there
 * (a directory, a link, a file in the way) is not one of the store's files (NOT_FOUND). */
static void assert_refused_everywhere(fixture *f, const char *key)
{
  resumable_partial_info info = fx_info(3);
  resumable_complete_info ci;
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->self, key, RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_E_CONFLICT);
  assert_int_equal(f->ops->partial_open(f->self, key, RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
                   RESUMABLE_E_CONFLICT);
  assert_int_equal(f->ops->complete_stat(f->self, key, &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->complete_open(f->self, key, &h, NULL), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->complete_remove(f->self, key), RESUMABLE_E_NOT_FOUND);
}

static void symlink_segment_is_conflict_and_outside_untouched(void **state)
{
  fixture *f = *state;
  plant_link(f, "link", f->outside);
  assert_refused_everywhere(f, "link/file");
  assert_refused_everywhere(f, "link/deeper/file");
  assert_int_equal(fx_count(f->outside), 0);
}

static void symlink_at_final_name_is_conflict_and_target_untouched(void **state)
{
  fixture *f = *state;
  char target[512], buf[16];
  snprintf(target, sizeof(target), "%s/victim", f->outside);
  FILE *fp = fopen(target, "wb");
  assert_non_null(fp);
  fputs("keep", fp);
  fclose(fp);
  plant_link(f, "name", target);
  assert_refused_everywhere(f, "name");
  assert_true(fx_exists(f, "name")); /* remove did not unlink the link either */
  fp = fopen(target, "rb");
  assert_non_null(fp);
  assert_int_equal(fread(buf, 1, sizeof(buf), fp), 4);
  fclose(fp);
  assert_memory_equal(buf, "keep", 4);
}

/* The link appears after the upload started: the commit itself must refuse it. */
static void symlink_planted_before_commit_is_conflict(void **state)
{
  fixture *f = *state;
  resumable_partial_info info = fx_info(3);
  resumable_complete_info ci = {.size = 3};
  void *h = NULL;
  rs_sha256_digest("abc", 3, ci.sha256);
  assert_int_equal(
      f->ops->partial_open(f->self, "late/file", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
      RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "abc", 3), RESUMABLE_OK);
  plant_link(f, "late", f->outside);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_E_CONFLICT);
  f->ops->partial_close(f->self, h);
  assert_int_equal(fx_count(f->outside), 0);
}

static void file_as_segment_is_conflict(void **state)
{
  fixture *f = *state;
  fx_write(f, "plain", "x", 1);
  assert_refused_everywhere(f, "plain/child");
  assert_int_equal(fx_size(f, "plain"), 1);
}

/* A directory holding something is other keys' place: refused. */
static void directory_at_final_name_is_conflict(void **state)
{
  fixture *f = *state;
  char p[512];
  fx_path(f, "dir", p, sizeof(p));
  assert_int_equal(mkdir(p, 0755), 0);
  fx_write(f, "dir/inside", "i", 1);
  assert_refused_everywhere(f, "dir");
  /* Also at commit, when the directory appears after the upload started. */
  resumable_partial_info info = fx_info(1);
  resumable_complete_info ci = {.size = 1};
  void *h = NULL;
  assert_int_equal(
      f->ops->partial_open(f->self, "dir2", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
      RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "z", 1), RESUMABLE_OK);
  fx_path(f, "dir2", p, sizeof(p));
  assert_int_equal(mkdir(p, 0755), 0);
  fx_write(f, "dir2/inside", "i", 1);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_E_CONFLICT);
  f->ops->partial_close(f->self, h);
  assert_int_equal(fx_count_rel(f, "dir2"), 1);
}

/* An empty directory at the key (left by a crash, or made by hand) holds no key: it is removed
 * when a file takes its place, at the start of the upload or at its commit. */
static void empty_directory_at_final_name_gives_way(void **state)
{
  fixture *f = *state;
  char p[512];
  resumable_complete_info ci;
  fx_path(f, "dir", p, sizeof(p));
  assert_int_equal(mkdir(p, 0755), 0);
  assert_int_equal(f->ops->complete_stat(f->self, "dir", &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(fx_put(f, "dir", "abc", 3, NULL), RESUMABLE_OK);
  assert_int_equal(fx_size(f, "dir"), 3);
  resumable_partial_info info = fx_info(1);
  void *h = NULL;
  ci.size = 1;
  rs_sha256_digest("z", 1, ci.sha256);
  assert_int_equal(
      f->ops->partial_open(f->self, "dir2", RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
      RESUMABLE_OK);
  assert_int_equal(f->ops->partial_write(f->self, h, 0, "z", 1), RESUMABLE_OK);
  fx_path(f, "dir2", p, sizeof(p));
  assert_int_equal(mkdir(p, 0755), 0);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->self, h);
  assert_int_equal(fx_size(f, "dir2"), 1);
}

/* The handler rejects these keys; the store refuses them anyway. */
static void escaping_and_reserved_keys_are_refused(void **state)
{
  fixture *f = *state;
  static const char *bad[] = {"..",   "../x", "a/../../x",        "./x",           "a//b",
                              "/abs", "a/",   ".resumable/tmp/x", "d/.resumable-x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    resumable_partial_info info = fx_info(1);
    void *h = NULL;
    assert_int_equal(
        f->ops->partial_open(f->self, bad[i], RESUMABLE_PARTIAL_STAGING, &info, &h, NULL),
        RESUMABLE_E_CONFLICT);
  }
  assert_int_equal(fx_count_rel(f, ""), 1); /* only .resumable */
}

typedef struct worker {
  fixture *f;
  int id;
  int rc;
} worker;

static void *put_many(void *arg)
{
  worker *w = arg;
  char key[64], data[64];
  w->rc = RESUMABLE_OK;
  for (int i = 0; i < 20 && w->rc == RESUMABLE_OK; i++) {
    snprintf(key, sizeof(key), "shared/t%d/k%d", w->id, i);
    snprintf(data, sizeof(data), "thread %d item %d", w->id, i);
    w->rc = fx_put(w->f, key, data, strlen(data), NULL);
  }
  return NULL;
}

/* Different keys in parallel, racing to create the same directories. */
static void parallel_commits_of_different_keys_all_land(void **state)
{
  fixture *f = *state;
  enum { N = 4 };
  pthread_t t[N];
  worker w[N];
  for (int i = 0; i < N; i++) {
    w[i] = (worker){f, i, -100};
    assert_int_equal(pthread_create(&t[i], NULL, put_many, &w[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(w[i].rc, RESUMABLE_OK);
  }
  assert_int_equal(fx_count_rel(f, "shared"), N);
  assert_int_equal(fx_count_rel(f, "shared/t3"), 20);
  assert_int_equal(fx_count_rel(f, ".resumable/sums"), N * 20);
}

static int dummy_stat(void *s, const char *k, resumable_complete_info *o)
{
  (void)s, (void)k, (void)o;
  return RESUMABLE_E_NOT_FOUND;
}
static int dummy_open(void *s, const char *k, void **r, resumable_complete_info *o)
{
  (void)s, (void)k, (void)r, (void)o;
  return RESUMABLE_E_NOT_FOUND;
}
static int dummy_read(void *s, void *r, uint64_t off, void *b, size_t l, size_t *g)
{
  (void)s, (void)r, (void)off, (void)b, (void)l, (void)g;
  return RESUMABLE_E_IO;
}
static void dummy_close(void *s, void *r)
{
  (void)s, (void)r;
}
static int dummy_pstat(void *s, const char *k, resumable_partial_info *o)
{
  (void)s, (void)k, (void)o;
  return RESUMABLE_E_NOT_FOUND;
}
static int dummy_popen(void *s, const char *k, resumable_partial_mode m,
                       const resumable_partial_info *i, void **h, resumable_partial_info *o)
{
  (void)s, (void)k, (void)m, (void)i, (void)h, (void)o;
  return RESUMABLE_E_IO;
}
static int dummy_write(void *s, void *h, uint64_t off, const void *b, size_t l)
{
  (void)s, (void)h, (void)off, (void)b, (void)l;
  return RESUMABLE_E_IO;
}
static int dummy_sync(void *s, void *h, const resumable_partial_info *i)
{
  (void)s, (void)h, (void)i;
  return RESUMABLE_E_IO;
}
static int dummy_commit(void *s, void *h, const resumable_complete_info *i)
{
  (void)s, (void)h, (void)i;
  return RESUMABLE_E_IO;
}
static int dummy_remove(void *s, const char *k)
{
  (void)s, (void)k;
  return RESUMABLE_E_NOT_FOUND;
}
static int destroyed;
static void dummy_destroy(void *s)
{
  (void)s;
  destroyed++;
}

static const resumable_store_ops full_ops = {
    RESUMABLE_STORE_OPS_INIT,        .complete_stat = dummy_stat,
    .complete_open = dummy_open,     .complete_read = dummy_read,
    .complete_close = dummy_close,   .complete_path = NULL, /* optional */
    .partial_stat = dummy_pstat,     .partial_open = dummy_popen,
    .partial_write = dummy_write,    .partial_read = dummy_read,
    .partial_sync = dummy_sync,      .partial_commit = dummy_commit,
    .partial_close = dummy_close,    .partial_remove = dummy_remove,
    .complete_remove = dummy_remove, .destroy = dummy_destroy,
};

static void store_new_rejects_ops_with_a_missing_member(void **state)
{
  resumable_store *s = (resumable_store *)&s;
  int self = 0;
  destroyed = 0;
#define WITHOUT(member)                                                            \
  do {                                                                             \
    resumable_store_ops o = full_ops;                                              \
    o.member = NULL;                                                               \
    assert_int_equal(resumable_store_new(&s, &o, &self), RESUMABLE_E_INVALID_ARG); \
    assert_null(s);                                                                \
  } while (0)
  WITHOUT(complete_stat);
  WITHOUT(complete_open);
  WITHOUT(complete_read);
  WITHOUT(complete_close);
  WITHOUT(partial_stat);
  WITHOUT(partial_open);
  WITHOUT(partial_write);
  WITHOUT(partial_read);
  WITHOUT(partial_sync);
  WITHOUT(partial_commit);
  WITHOUT(partial_close);
  WITHOUT(partial_remove);
  WITHOUT(complete_remove);
  WITHOUT(destroy);
#undef WITHOUT
  /* The key_* ops come as a group: a part of it is refused, none at all is fine. */
  const resumable_store_ops *fs_ops = resumable_store_ops_of(((fixture *)*state)->store);
  resumable_store_ops partial_keys = full_ops;
  partial_keys.key_lock = fs_ops->key_lock;
  assert_int_equal(resumable_store_new(&s, &partial_keys, &self), RESUMABLE_E_INVALID_ARG);
  partial_keys.key_unlock = fs_ops->key_unlock;
  assert_int_equal(resumable_store_new(&s, &partial_keys, &self), RESUMABLE_E_INVALID_ARG);
  partial_keys.key_release = fs_ops->key_release;
  assert_int_equal(resumable_store_new(&s, &partial_keys, &self), RESUMABLE_OK);
  resumable_store_free(s);
  assert_int_equal(destroyed, 1);
  destroyed = 0;
  assert_int_equal(resumable_store_new(&s, NULL, &self), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_store_new(NULL, &full_ops, &self), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(destroyed, 0);
}

static void store_new_wraps_and_free_destroys_once(void **state)
{
  (void)state;
  resumable_store *s = NULL;
  int self = 0;
  destroyed = 0;
  assert_int_equal(resumable_store_new(&s, &full_ops, &self), RESUMABLE_OK);
  /* The table is copied: the store keeps its own. */
  const resumable_store_ops *kept = resumable_store_ops_of(s);
  assert_ptr_not_equal(kept, &full_ops);
  assert_int_equal(kept->struct_size, sizeof(resumable_store_ops));
  assert_ptr_equal(kept->complete_stat, full_ops.complete_stat);
  assert_ptr_equal(kept->destroy, full_ops.destroy);
  assert_ptr_equal(resumable_store_self(s), &self);
  resumable_store_free(s);
  assert_int_equal(destroyed, 1);
  resumable_store_free(NULL);
}

/* An "old binary": `table` cut at `size` bytes, in a heap block of exactly that size (so that
 * ASan catches a read past its end), with struct_size saying so. Handed over as the pointer an
 * old binary passes; written through memcpy since the block is smaller than the struct. */
static void *old_table(const resumable_store_ops *table, size_t size)
{
  unsigned char *o = malloc(size);
  assert_non_null(o);
  memcpy(o, table, size);
  memcpy(o + offsetof(resumable_store_ops, struct_size), &size, sizeof(size));
  return o;
}

static void store_new_treats_ops_past_an_old_tables_end_as_absent(void **state)
{
  fixture *f = *state;
  int self = 0;
  resumable_store *s = NULL;
  destroyed = 0;
  /* The table of 1.0's required ops alone: no partial_scan, no key_* group. */
  assert_int_equal(RESUMABLE_STORE_OPS_MIN_SIZE, offsetof(resumable_store_ops, partial_scan));
  void *o = old_table(&full_ops, RESUMABLE_STORE_OPS_MIN_SIZE);
  assert_int_equal(resumable_store_new(&s, o, &self), RESUMABLE_OK);
  free(o); /* copied: the store no longer needs the caller's table */
  const resumable_store_ops *kept = resumable_store_ops_of(s);
  assert_int_equal(kept->struct_size, sizeof(resumable_store_ops));
  assert_ptr_equal(kept->partial_stat, full_ops.partial_stat);
  assert_ptr_equal(kept->destroy, full_ops.destroy);
  assert_null(kept->partial_scan);
  assert_null(kept->key_lock);
  assert_null(kept->key_unlock);
  assert_null(kept->key_release);
  /* The handler copes with what is absent: the sweep reports it cannot scan. */
  resumable_server *srv = NULL;
  assert_int_equal(resumable_server_new_with_store(&srv, s), RESUMABLE_OK);
  size_t removed = 99;
  assert_int_equal(resumable_server_sweep(srv, 0, &removed), RESUMABLE_E_STATE);
  assert_int_equal(removed, 0);
  resumable_server_free(srv);
  assert_int_equal(destroyed, 1);

  /* Whatever lies past the caller's struct_size is never read as an op. */
  const resumable_store_ops *fs_ops = resumable_store_ops_of(f->store);
  resumable_store_ops full = full_ops;
  full.partial_scan = fs_ops->partial_scan;
  full.key_lock = fs_ops->key_lock;
  full.key_unlock = fs_ops->key_unlock;
  full.key_release = fs_ops->key_release;
  /* A table that ends inside the key_* group gives a part of the group: refused. */
  o = old_table(&full, offsetof(resumable_store_ops, key_unlock));
  assert_int_equal(resumable_store_new(&s, o, &self), RESUMABLE_E_INVALID_ARG);
  assert_null(s);
  free(o);
  /* One that ends after partial_scan keeps it and has no key_* ops. */
  o = old_table(&full, offsetof(resumable_store_ops, key_lock));
  assert_int_equal(resumable_store_new(&s, o, &self), RESUMABLE_OK);
  free(o);
  assert_ptr_equal(resumable_store_ops_of(s)->partial_scan, fs_ops->partial_scan);
  assert_null(resumable_store_ops_of(s)->key_lock);
  resumable_store_free(s);
  assert_int_equal(destroyed, 2);
}

static void store_new_refuses_a_table_without_a_size(void **state)
{
  (void)state;
  int self = 0;
  resumable_store *s = (resumable_store *)&s;
  destroyed = 0;
  resumable_store_ops o = full_ops;
  o.struct_size = 0;
  assert_int_equal(resumable_store_new(&s, &o, &self), RESUMABLE_E_INVALID_ARG);
  assert_null(s);
  o.struct_size = RESUMABLE_STORE_OPS_MIN_SIZE - 1;
  assert_int_equal(resumable_store_new(&s, &o, &self), RESUMABLE_E_INVALID_ARG);
  o.struct_size = sizeof(void *);
  assert_int_equal(resumable_store_new(&s, &o, &self), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(destroyed, 0);
}

/* A newer binary's longer table: the ops this library does not know are ignored. */
static void store_new_accepts_a_newer_longer_table(void **state)
{
  (void)state;
  int self = 0;
  resumable_store *s = NULL;
  destroyed = 0;
  size_t size = sizeof(resumable_store_ops) + 4 * sizeof(void (*)(void));
  unsigned char *o = malloc(size);
  assert_non_null(o);
  memcpy(o, &full_ops, sizeof(full_ops));
  memset(o + sizeof(full_ops), 0xA5, size - sizeof(full_ops));
  memcpy(o + offsetof(resumable_store_ops, struct_size), &size, sizeof(size));
  assert_int_equal(resumable_store_new(&s, (const resumable_store_ops *)(void *)o, &self),
                   RESUMABLE_OK);
  free(o);
  assert_int_equal(resumable_store_ops_of(s)->struct_size, sizeof(resumable_store_ops));
  assert_ptr_equal(resumable_store_ops_of(s)->partial_commit, full_ops.partial_commit);
  resumable_store_free(s);
  assert_int_equal(destroyed, 1);
}

static void store_fs_new_makes_missing_root_and_rejects_bad_ones(void **state)
{
  fixture *f = *state;
  char deep[512];
  resumable_store *s = (resumable_store *)&s;
  snprintf(deep, sizeof(deep), "%s/new/root", f->outside);
  assert_int_equal(resumable_store_fs_new(&s, deep), RESUMABLE_OK);
  resumable_store_free(s);
  snprintf(deep, sizeof(deep), "%s/new/root/.resumable/partial", f->outside);
  assert_int_equal(fx_count(deep), 0);

  fx_write(f, "afile", "x", 1);
  fx_path(f, "afile", deep, sizeof(deep));
  assert_int_equal(resumable_store_fs_new(&s, deep), RESUMABLE_E_IO);
  assert_null(s);
  assert_int_equal(resumable_store_fs_new(&s, ""), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_store_fs_new(&s, NULL), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_store_fs_new(NULL, f->root), RESUMABLE_E_INVALID_ARG);
}

static void errno_maps_to_store_errors(void **state)
{
  (void)state;
  assert_int_equal(rs_fs_err(ENOSPC), RESUMABLE_E_NOSPACE);
  assert_int_equal(rs_fs_err(EDQUOT), RESUMABLE_E_NOSPACE);
  assert_int_equal(rs_fs_err(ENOENT), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(rs_fs_err(ELOOP), RESUMABLE_E_CONFLICT);
  assert_int_equal(rs_fs_err(ENOTDIR), RESUMABLE_E_CONFLICT);
  assert_int_equal(rs_fs_err(EISDIR), RESUMABLE_E_CONFLICT);
  assert_int_equal(rs_fs_err(ENOMEM), RESUMABLE_E_NOMEM);
  assert_int_equal(rs_fs_err(EIO), RESUMABLE_E_IO);
  assert_int_equal(rs_fs_err(EACCES), RESUMABLE_E_IO);
}

static int open_fds(void)
{
  int n = 0;
  for (int fd = 0; fd < 1024; fd++)
    n += fcntl(fd, F_GETFD) != -1;
  return n;
}

/* Every path, successful or refused, gives back the descriptors it opened. */
static void store_ops_leak_no_descriptors(void **state)
{
  fixture *f = *state;
  resumable_partial_info info = fx_info(3), got;
  resumable_complete_info ci;
  void *h = NULL;
  char buf[8];
  size_t n;
  plant_link(f, "link", f->outside);
  int before = open_fds();
  for (int round = 0; round < 3; round++) {
    assert_int_equal(fx_put(f, "x/y/z", "abc", 3, NULL), RESUMABLE_OK);
    assert_int_equal(f->ops->complete_stat(f->self, "x/y/z", &ci), RESUMABLE_OK);
    assert_int_equal(f->ops->complete_open(f->self, "x/y/z", &h, &ci), RESUMABLE_OK);
    assert_int_equal(f->ops->complete_read(f->self, h, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
    f->ops->complete_close(f->self, h);
    assert_int_equal(f->ops->complete_stat(f->self, "link/a", &ci), RESUMABLE_E_NOT_FOUND);
    assert_int_equal(
        f->ops->partial_open(f->self, "link/a", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
        RESUMABLE_E_CONFLICT);
    assert_int_equal(f->ops->complete_stat(f->self, "x/none", &ci), RESUMABLE_E_NOT_FOUND);
    assert_int_equal(f->ops->partial_open(f->self, "p", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                     RESUMABLE_OK);
    assert_int_equal(f->ops->partial_write(f->self, h, 0, "abc", 3), RESUMABLE_OK);
    info.held = 3;
    assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_OK);
    f->ops->partial_close(f->self, h);
    assert_int_equal(f->ops->partial_stat(f->self, "p", &got), RESUMABLE_OK);
    assert_int_equal(f->ops->partial_remove(f->self, "p"), RESUMABLE_OK);
    assert_int_equal(f->ops->complete_remove(f->self, "x/y/z"), RESUMABLE_OK);
    info.held = 0;
  }
  assert_int_equal(open_fds(), before);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
  const struct CMUnitTest tests[] = {
      T(symlink_segment_is_conflict_and_outside_untouched),
      T(symlink_at_final_name_is_conflict_and_target_untouched),
      T(symlink_planted_before_commit_is_conflict),
      T(file_as_segment_is_conflict),
      T(directory_at_final_name_is_conflict),
      T(empty_directory_at_final_name_gives_way),
      T(escaping_and_reserved_keys_are_refused),
      T(parallel_commits_of_different_keys_all_land),
      T(store_ops_leak_no_descriptors),
      cmocka_unit_test(errno_maps_to_store_errors),
      T(store_new_rejects_ops_with_a_missing_member),
      cmocka_unit_test(store_new_wraps_and_free_destroys_once),
      T(store_fs_new_makes_missing_root_and_rejects_bad_ones),
      T(store_new_treats_ops_past_an_old_tables_end_as_absent),
      cmocka_unit_test(store_new_refuses_a_table_without_a_size),
      cmocka_unit_test(store_new_accepts_a_newer_longer_table),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
