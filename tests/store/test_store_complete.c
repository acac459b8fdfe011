/* POSIX store: complete files, their recorded hashes, readers and removal. */
/* realpath() is an XSI extension in glibc. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_fixture.h"
#include "store_fs.h"

static const uint8_t fake_sha[32] = {
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};

/* The store trusts the digest recorded at commit: a deliberately wrong one comes back, which
 * proves the file was not re-read. */
static void complete_stat_answers_from_recorded_digest(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  assert_int_equal(fx_put(f, "f.bin", "hello", 5, fake_sha), RESUMABLE_OK);
  fx_restart(f);
  assert_int_equal(f->ops->complete_stat(f->self, "f.bin", &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, 5);
  assert_memory_equal(ci.sha256, fake_sha, 32);
}

static void complete_stat_rehashes_file_replaced_out_of_band(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  uint8_t want[32];
  char from[512], to[512];
  assert_int_equal(fx_put(f, "f.bin", "hello", 5, fake_sha), RESUMABLE_OK);
  /* Same size, new inode (an operator's cp + mv). */
  fx_write(f, "other", "world", 5);
  fx_path(f, "other", from, sizeof(from));
  fx_path(f, "f.bin", to, sizeof(to));
  assert_int_equal(rename(from, to), 0);
  rs_sha256_digest("world", 5, want);
  assert_int_equal(f->ops->complete_stat(f->self, "f.bin", &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, 5);
  assert_memory_equal(ci.sha256, want, 32);
}

static void complete_stat_rehashes_file_changed_in_place(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  uint8_t want[32];
  char p[512];
  assert_int_equal(fx_put(f, "f.bin", "hello", 5, fake_sha), RESUMABLE_OK);
  fx_path(f, "f.bin", p, sizeof(p));
  FILE *fp = fopen(p, "ab");
  assert_non_null(fp);
  assert_int_equal(fwrite("!!", 1, 2, fp), 2);
  fclose(fp);
  rs_sha256_digest("hello!!", 7, want);
  assert_int_equal(f->ops->complete_stat(f->self, "f.bin", &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, 7);
  assert_memory_equal(ci.sha256, want, 32);
}

/* An edit in place that keeps the length and sets the mtime back (touch -d, a careless tool)
 * still changes the ctime: the file is hashed again, never served with its old hash. */
static void complete_stat_rehashes_file_edited_with_mtime_restored(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  uint8_t want[32];
  char p[512];
  struct stat before, after;
  assert_int_equal(fx_put(f, "f.bin", "hello", 5, NULL), RESUMABLE_OK);
  assert_int_equal(f->ops->complete_stat(f->self, "f.bin", &ci), RESUMABLE_OK);
  fx_path(f, "f.bin", p, sizeof(p));
  assert_int_equal(stat(p, &before), 0);
  int fd = open(p, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "j", 1, 0), 1);
  close(fd);
  struct timespec t[2] = {before.st_atim, before.st_mtim};
  assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
  assert_int_equal(stat(p, &after), 0);
  assert_int_equal(after.st_ino, before.st_ino);
  assert_int_equal(after.st_size, before.st_size);
  assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  rs_sha256_digest("jello", 5, want);
  assert_int_equal(f->ops->complete_stat(f->self, "f.bin", &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, 5);
  assert_memory_equal(ci.sha256, want, 32);
  void *r = NULL;
  assert_int_equal(f->ops->complete_open(f->self, "f.bin", &r, &ci), RESUMABLE_OK);
  assert_memory_equal(ci.sha256, want, 32);
  f->ops->complete_close(f->self, r);
}

/* A file placed by hand gets a sidecar on first stat, so later stats need not re-read. */
static void complete_stat_records_sidecar_for_unknown_file(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  uint8_t want[32];
  char name[65], side[128];
  fx_write(f, "manual", "by hand", 7);
  fx_key_name("manual", name);
  snprintf(side, sizeof(side), ".resumable/sums/%s", name);
  assert_false(fx_exists(f, side));
  rs_sha256_digest("by hand", 7, want);
  assert_int_equal(f->ops->complete_stat(f->self, "manual", &ci), RESUMABLE_OK);
  assert_memory_equal(ci.sha256, want, 32);
  assert_true(fx_exists(f, side));
  assert_int_equal(f->ops->complete_stat(f->self, "manual", &ci), RESUMABLE_OK);
  assert_memory_equal(ci.sha256, want, 32);
}

static void commit_replaces_file_while_open_reader_keeps_old_bytes(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  void *r1 = NULL, *r2 = NULL;
  char buf[32];
  size_t n = 0;
  assert_int_equal(fx_put(f, "v", "version-one", 11, NULL), RESUMABLE_OK);
  assert_int_equal(f->ops->complete_open(f->self, "v", &r1, &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, 11);
  assert_int_equal(fx_put(f, "v", "version-2", 9, NULL), RESUMABLE_OK);

  assert_int_equal(f->ops->complete_read(f->self, r1, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 11);
  assert_memory_equal(buf, "version-one", 11);
  f->ops->complete_close(f->self, r1);

  assert_int_equal(f->ops->complete_open(f->self, "v", &r2, &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, 9);
  assert_int_equal(f->ops->complete_read(f->self, r2, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 9);
  assert_memory_equal(buf, "version-2", 9);
  f->ops->complete_close(f->self, r2);
}

static void complete_read_is_short_only_at_end(void **state)
{
  fixture *f = *state;
  void *r = NULL;
  char buf[8];
  size_t n = 99;
  assert_int_equal(fx_put(f, "r", "0123456789", 10, NULL), RESUMABLE_OK);
  assert_int_equal(f->ops->complete_open(f->self, "r", &r, NULL), RESUMABLE_OK);
  assert_int_equal(f->ops->complete_read(f->self, r, 2, buf, 4, &n), RESUMABLE_OK);
  assert_int_equal(n, 4);
  assert_memory_equal(buf, "2345", 4);
  assert_int_equal(f->ops->complete_read(f->self, r, 7, buf, 8, &n), RESUMABLE_OK);
  assert_int_equal(n, 3);
  assert_int_equal(f->ops->complete_read(f->self, r, 10, buf, 8, &n), RESUMABLE_OK);
  assert_int_equal(n, 0);
  assert_int_equal(f->ops->complete_read(f->self, r, UINT64_MAX, buf, 8, &n), RESUMABLE_OK);
  assert_int_equal(n, 0);
  f->ops->complete_close(f->self, r);
}

static void complete_absent_is_not_found(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  void *r = &ci;
  assert_int_equal(f->ops->complete_stat(f->self, "none", &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->complete_stat(f->self, "no/such/dir", &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->complete_open(f->self, "none", &r, NULL), RESUMABLE_E_NOT_FOUND);
  assert_null(r);
  assert_int_equal(f->ops->complete_remove(f->self, "none"), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->complete_remove(f->self, "no/such"), RESUMABLE_E_NOT_FOUND);
}

static void complete_remove_deletes_file_and_sidecar_keeps_partial(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  resumable_partial_info info = fx_info(4), got;
  void *h = NULL;
  assert_int_equal(fx_put(f, "d/k", "data", 4, NULL), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_open(f->self, "d/k", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  f->ops->partial_close(f->self, h);
  assert_int_equal(fx_count_rel(f, ".resumable/sums"), 1);
  assert_int_equal(f->ops->complete_remove(f->self, "d/k"), RESUMABLE_OK);
  assert_false(fx_exists(f, "d/k"));
  assert_int_equal(fx_count_rel(f, ".resumable/sums"), 0);
  assert_int_equal(f->ops->complete_stat(f->self, "d/k", &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->partial_stat(f->self, "d/k", &got), RESUMABLE_OK);
  assert_int_equal(f->ops->complete_remove(f->self, "d/k"), RESUMABLE_E_NOT_FOUND);
}

static void nested_key_creates_directories(void **state)
{
  fixture *f = *state;
  char buf[8];
  struct stat st;
  char p[512];
  assert_int_equal(fx_put(f, "a/b/c/leaf.txt", "leaf", 4, NULL), RESUMABLE_OK);
  assert_int_equal(fx_read(f, "a/b/c/leaf.txt", buf, sizeof(buf)), 4);
  assert_memory_equal(buf, "leaf", 4);
  fx_path(f, "a/b", p, sizeof(p));
  assert_int_equal(lstat(p, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  /* A sibling in an existing directory. */
  assert_int_equal(fx_put(f, "a/b/other", "o", 1, NULL), RESUMABLE_OK);
  assert_int_equal(fx_count_rel(f, "a/b"), 2);
}

static void complete_path_joins_real_root_and_key(void **state)
{
  fixture *f = *state;
  char buf[600], want[600], *real = realpath(f->root, NULL);
  assert_non_null(real);
  snprintf(want, sizeof(want), "%s/x/y.bin", real);
  free(real);
  assert_non_null(f->ops->complete_path);
  assert_int_equal(f->ops->complete_path(f->self, "x/y.bin", buf, sizeof(buf)), RESUMABLE_OK);
  assert_string_equal(buf, want);
  assert_int_equal(f->ops->complete_path(f->self, "x/y.bin", buf, strlen(want)),
                   RESUMABLE_E_INVALID_ARG);
  assert_int_equal(f->ops->complete_path(f->self, "x/y.bin", buf, strlen(want) + 1), RESUMABLE_OK);
}

static void empty_file_commits(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  uint8_t want[32];
  rs_sha256_digest("", 0, want);
  assert_int_equal(fx_put(f, "empty", "", 0, NULL), RESUMABLE_OK);
  assert_int_equal(f->ops->complete_stat(f->self, "empty", &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, 0);
  assert_memory_equal(ci.sha256, want, 32);
}

/* A sidecar with a flipped bit is not trusted: the file is hashed instead. */
static void complete_stat_ignores_corrupt_sidecar(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  uint8_t want[32];
  char name[65], side[128], p[512];
  assert_int_equal(fx_put(f, "f.bin", "hello", 5, fake_sha), RESUMABLE_OK);
  fx_key_name("f.bin", name);
  snprintf(side, sizeof(side), ".resumable/sums/%s", name);
  fx_path(f, side, p, sizeof(p));
  int fd = open(p, O_RDWR);
  assert_true(fd >= 0);
  uint8_t b;
  assert_int_equal(pread(fd, &b, 1, 50), 1); /* inside the recorded digest */
  b ^= 0x01;
  assert_int_equal(pwrite(fd, &b, 1, 50), 1);
  close(fd);
  rs_sha256_digest("hello", 5, want);
  assert_int_equal(f->ops->complete_stat(f->self, "f.bin", &ci), RESUMABLE_OK);
  assert_memory_equal(ci.sha256, want, 32);
}

/* A sidecar is bound to its key: another key's record under this name is not used. */
static void complete_stat_ignores_sidecar_of_another_key(void **state)
{
  fixture *f = *state;
  resumable_complete_info ci;
  uint8_t want[32];
  char na[65], nb[65], from[512], to[512], rel[128];
  assert_int_equal(fx_put(f, "a", "same", 4, fake_sha), RESUMABLE_OK);
  fx_key_name("a", na);
  fx_key_name("b", nb);
  /* b is a hard link to a's inode, so only the key inside the record tells them apart. */
  fx_path(f, "a", from, sizeof(from));
  fx_path(f, "b", to, sizeof(to));
  assert_int_equal(link(from, to), 0);
  /* The link changed the inode's ctime: record a's (deliberately wrong) digest again. */
  struct stat st;
  assert_int_equal(stat(from, &st), 0);
  assert_int_equal(rs_fs_sum_save(f->self, na, "a", &st, fake_sha), RESUMABLE_OK);
  snprintf(rel, sizeof(rel), ".resumable/sums/%s", na);
  fx_path(f, rel, from, sizeof(from));
  snprintf(rel, sizeof(rel), ".resumable/sums/%s", nb);
  fx_path(f, rel, to, sizeof(to));
  assert_int_equal(link(from, to), 0);
  rs_sha256_digest("same", 4, want);
  assert_int_equal(f->ops->complete_stat(f->self, "b", &ci), RESUMABLE_OK);
  assert_memory_equal(ci.sha256, want, 32);
  assert_int_equal(f->ops->complete_stat(f->self, "a", &ci), RESUMABLE_OK);
  assert_memory_equal(ci.sha256, fake_sha, 32);
}

/* A file larger than one read chunk is hashed whole when there is no sidecar. */
static void complete_stat_hashes_large_unknown_file(void **state)
{
  fixture *f = *state;
  enum { LEN = 700 * 1024 + 13 };
  uint8_t *big = malloc(LEN), want[32];
  resumable_complete_info ci;
  assert_non_null(big);
  for (size_t i = 0; i < LEN; i++)
    big[i] = (uint8_t)(i * 7 + (i >> 10));
  fx_write(f, "big", big, LEN);
  rs_sha256_digest(big, LEN, want);
  free(big);
  assert_int_equal(f->ops->complete_stat(f->self, "big", &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, LEN);
  assert_memory_equal(ci.sha256, want, 32);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
  const struct CMUnitTest tests[] = {
      T(complete_stat_answers_from_recorded_digest),
      T(complete_stat_rehashes_file_replaced_out_of_band),
      T(complete_stat_rehashes_file_changed_in_place),
      T(complete_stat_records_sidecar_for_unknown_file),
      T(complete_stat_rehashes_file_edited_with_mtime_restored),
      T(complete_stat_ignores_corrupt_sidecar),
      T(complete_stat_hashes_large_unknown_file),
      T(complete_stat_ignores_sidecar_of_another_key),
      T(commit_replaces_file_while_open_reader_keeps_old_bytes),
      T(complete_read_is_short_only_at_end),
      T(complete_absent_is_not_found),
      T(complete_remove_deletes_file_and_sidecar_keeps_partial),
      T(nested_key_creates_directories),
      T(complete_path_joins_real_root_and_key),
      T(empty_file_commits),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
