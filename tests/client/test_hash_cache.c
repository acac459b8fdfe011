/* lib/client/hash_cache*.c: the persistent SHA-256 cache, on real files in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hash_cache.h"
#include "sha256.h"
#include "test_fs.h"

typedef struct fixture {
  char root[64];
  char dir[96]; /* the cache directory, <root>/cache */
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->root, sizeof f->root, "/tmp/hash-cache-test-XXXXXX");
  assert_non_null(mkdtemp(f->root));
  snprintf(f->dir, sizeof f->dir, "%s/cache", f->root);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  test_remove_tree(f->root);
  free(f);
  return 0;
}

static rs_hc_key key_n(uint64_t n)
{
  rs_hc_key k = {.dev = 2049,
                 .ino = 1000 + n,
                 .size = 4096 * n,
                 .mtime_sec = 1700000000,
                 .mtime_nsec = 123456789,
                 .ctime_nsec = 987654321,
                 .ctime_sec = 1700000001};
  return k;
}

static void sha_n(uint64_t n, uint8_t sha[32])
{
  rs_sha256_digest(&n, sizeof n, sha);
}

static void write_file(const char *path, const char *text)
{
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  fputs(text, fp);
  assert_int_equal(fclose(fp), 0);
}

static void path_of(const fixture *f, const char *name, char *out, size_t cap)
{
  snprintf(out, cap, "%s/%s", f->dir, name);
}

/* The cache file's bytes; *len 0 when it does not exist. */
static uint8_t *slurp(const fixture *f, size_t *len)
{
  char p[160];
  path_of(f, RS_HC_FILE, p, sizeof p);
  *len = 0;
  FILE *fp = fopen(p, "rb");
  if (!fp)
    return NULL;
  uint8_t *buf = malloc(1 << 20);
  assert_non_null(buf);
  *len = fread(buf, 1, 1 << 20, fp);
  fclose(fp);
  return buf;
}

static void spill(const fixture *f, const void *data, size_t len)
{
  char p[160];
  path_of(f, RS_HC_FILE, p, sizeof p);
  FILE *fp = fopen(p, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

/* Records in a valid cache file, or -1 if it is missing or does not check out. */
static long cache_count(const fixture *f)
{
  size_t len, n = 0;
  uint8_t *buf = slurp(f, &len);
  long r = buf && rs_hc_check(buf, len, &n) == 0 ? (long)n : -1;
  free(buf);
  return r;
}

static void hc_empty_dir_misses_then_a_stored_key_hits(void **state)
{
  fixture *f = *state;
  rs_hc_key k = key_n(1);
  uint8_t sha[32], got[32];
  sha_n(1, sha);
  assert_int_equal(rs_hc_lookup(f->dir, &k, got), 0);
  assert_int_equal(rs_hc_store(f->dir, &k, sha, 16), 0);
  memset(got, 0, sizeof got);
  assert_int_equal(rs_hc_lookup(f->dir, &k, got), 1);
  assert_memory_equal(got, sha, 32);
  assert_int_equal(cache_count(f), 1);
}

static void hc_any_changed_key_field_misses(void **state)
{
  fixture *f = *state;
  rs_hc_key k = key_n(1);
  uint8_t sha[32], got[32];
  sha_n(1, sha);
  assert_int_equal(rs_hc_store(f->dir, &k, sha, 16), 0);
  for (int field = 0; field < 7; field++) {
    rs_hc_key m = k;
    switch (field) {
    case 0:
      m.dev++;
      break;
    case 1:
      m.ino++;
      break;
    case 2:
      m.size++;
      break;
    case 3:
      m.mtime_sec++;
      break;
    case 4:
      m.mtime_nsec++;
      break;
    case 5:
      m.ctime_sec++;
      break; /* an edit that put mtime back */
    default:
      m.ctime_nsec++;
      break;
    }
    assert_int_equal(rs_hc_lookup(f->dir, &m, got), 0);
  }
  assert_int_equal(rs_hc_lookup(f->dir, &k, got), 1);
}

static void hc_new_version_of_a_file_replaces_its_entry(void **state)
{
  fixture *f = *state;
  rs_hc_key old = key_n(1), now = key_n(1);
  now.mtime_sec += 60;
  uint8_t a[32], b[32], got[32];
  sha_n(1, a);
  sha_n(2, b);
  assert_int_equal(rs_hc_store(f->dir, &old, a, 16), 0);
  assert_int_equal(rs_hc_store(f->dir, &now, b, 16), 0);
  assert_int_equal(cache_count(f), 1);
  assert_int_equal(rs_hc_lookup(f->dir, &old, got), 0);
  assert_int_equal(rs_hc_lookup(f->dir, &now, got), 1);
  assert_memory_equal(got, b, 32);
}

static void hc_keeps_at_most_max_entries_evicting_the_oldest(void **state)
{
  fixture *f = *state;
  uint8_t sha[32], got[32];
  for (uint64_t i = 0; i < 20; i++) {
    rs_hc_key k = key_n(i);
    sha_n(i, sha);
    assert_int_equal(rs_hc_store(f->dir, &k, sha, 8), 0);
    assert_true(cache_count(f) <= 8);
  }
  assert_int_equal(cache_count(f), 8);
  for (uint64_t i = 0; i < 20; i++) {
    rs_hc_key k = key_n(i);
    assert_int_equal(rs_hc_lookup(f->dir, &k, got), i >= 12);
  }
  size_t len;
  uint8_t *buf = slurp(f, &len);
  assert_int_equal(len, rs_hc_file_size(8));
  free(buf);
  rs_hc_key k = key_n(99);
  assert_int_equal(rs_hc_store(f->dir, &k, sha, 0), EINVAL);
}

/* Damage the stored file in one way; the cache must then act empty and heal at the next store. */
static void check_ignored_and_rewritten(fixture *f, const void *bytes, size_t len)
{
  rs_hc_key k = key_n(1), other = key_n(2);
  uint8_t sha[32], got[32];
  sha_n(1, sha);
  spill(f, bytes, len);
  assert_int_equal(rs_hc_lookup(f->dir, &k, got), 0);
  assert_int_equal(rs_hc_store(f->dir, &other, sha, 16), 0);
  assert_int_equal(cache_count(f), 1);
  assert_int_equal(rs_hc_lookup(f->dir, &other, got), 1);
}

static void hc_corrupt_cache_is_ignored_and_rewritten(void **state)
{
  fixture *f = *state;
  rs_hc_key k = key_n(1);
  uint8_t sha[32];
  sha_n(1, sha);
  assert_int_equal(rs_hc_store(f->dir, &k, sha, 16), 0);
  size_t len;
  uint8_t *good = slurp(f, &len);
  assert_int_equal(len, rs_hc_file_size(1));
  uint8_t *bad = malloc(len);
  assert_non_null(bad);
  for (size_t at = 0; at < len; at += 7) { /* any flipped byte, header, record or checksum */
    memcpy(bad, good, len);
    bad[at] ^= 0x40;
    check_ignored_and_rewritten(f, bad, len);
  }
  check_ignored_and_rewritten(f, good, len - 1); /* torn */
  check_ignored_and_rewritten(f, "", 0);
  check_ignored_and_rewritten(f, "not a cache at all, just text\n", 30);
  memcpy(bad, good, len); /* a future version, properly sealed: still not ours to read */
  bad[8] = 2;
  rs_sha256_digest(bad, len - RS_HC_TRAILER, bad + len - RS_HC_TRAILER);
  check_ignored_and_rewritten(f, bad, len);
  free(bad);
  free(good);
}

static void hc_record_round_trips_negative_and_extreme_values(void **state)
{
  (void)state;
  rs_hc_key k = {.dev = UINT64_MAX,
                 .ino = 1,
                 .size = UINT64_MAX - 1,
                 .mtime_sec = INT64_MIN,
                 .mtime_nsec = 999999999,
                 .ctime_nsec = 0,
                 .ctime_sec = -1};
  uint8_t sha[32], got_sha[32], buf[RS_HC_HEADER + RS_HC_RECORD + RS_HC_TRAILER];
  sha_n(7, sha);
  rs_hc_record_put(buf + RS_HC_HEADER, &k, sha, 42);
  rs_hc_seal(buf, 1);
  size_t n = 0;
  assert_int_equal(rs_hc_check(buf, sizeof buf, &n), 0);
  assert_int_equal(n, 1);
  rs_hc_key got;
  rs_hc_record_get(buf, 0, &got, got_sha);
  assert_true(rs_hc_key_equal(&got, &k));
  assert_memory_equal(got_sha, sha, 32);
  assert_int_equal(rs_hc_check(buf, sizeof buf - 1, &n), -1);
}

static void hc_creates_missing_parents_with_private_mode(void **state)
{
  fixture *f = *state;
  snprintf(f->dir, sizeof f->dir, "%s/a/b/libresumable", f->root);
  rs_hc_key k = key_n(1);
  uint8_t sha[32];
  sha_n(1, sha);
  assert_int_equal(rs_hc_store(f->dir, &k, sha, 16), 0);
  struct stat st;
  assert_int_equal(stat(f->dir, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0700);
  char p[160];
  path_of(f, RS_HC_FILE, p, sizeof p);
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
}

static void hc_store_into_a_file_path_fails_without_crashing(void **state)
{
  fixture *f = *state;
  snprintf(f->dir, sizeof f->dir, "%s/plain", f->root);
  FILE *fp = fopen(f->dir, "w");
  assert_non_null(fp);
  fclose(fp);
  rs_hc_key k = key_n(1);
  uint8_t sha[32], got[32];
  sha_n(1, sha);
  assert_int_equal(rs_hc_store(f->dir, &k, sha, 16), ENOTDIR);
  assert_int_equal(rs_hc_lookup(f->dir, &k, got), 0);
}

static int count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static void hc_store_leaves_no_temporary_files_and_sweeps_stale_ones(void **state)
{
  fixture *f = *state;
  assert_int_equal(mkdir(f->dir, 0700), 0);
  char stale[160], young[160];
  path_of(f, "." RS_HC_FILE ".tmp.1.1.1", stale, sizeof stale);
  path_of(f, "." RS_HC_FILE ".tmp.2.2.2", young, sizeof young);
  write_file(stale, "");
  write_file(young, ""); /* maybe another writer's, in progress: left alone */
  struct timespec old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
  assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
  uint8_t sha[32];
  sha_n(1, sha);
  for (uint64_t i = 0; i < 5; i++) {
    rs_hc_key k = key_n(i);
    assert_int_equal(rs_hc_store(f->dir, &k, sha, 16), 0);
  }
  assert_int_equal(access(stale, F_OK), -1);
  assert_int_equal(access(young, F_OK), 0);
  assert_int_equal(count_entries(f->dir), 2); /* hashes-v1 and the young temporary file */
}

static void hc_symlinked_cache_file_is_not_followed(void **state)
{
  fixture *f = *state;
  assert_int_equal(mkdir(f->dir, 0700), 0);
  char target[160], link[160];
  snprintf(target, sizeof target, "%s/victim", f->root);
  path_of(f, RS_HC_FILE, link, sizeof link);
  FILE *fp = fopen(target, "w");
  assert_non_null(fp);
  fputs("keep", fp);
  fclose(fp);
  assert_int_equal(symlink(target, link), 0);
  rs_hc_key k = key_n(1);
  uint8_t sha[32], got[32];
  sha_n(1, sha);
  assert_int_equal(rs_hc_lookup(f->dir, &k, got), 0);
  assert_int_equal(rs_hc_store(f->dir, &k, sha, 16), 0);
  struct stat st;
  assert_int_equal(lstat(link, &st), 0);
  assert_true(S_ISREG(st.st_mode)); /* the link itself was replaced */
  assert_int_equal(stat(target, &st), 0);
  assert_int_equal(st.st_size, 4);
}

static void hc_racy_timestamps_are_not_cacheable(void **state)
{
  (void)state;
  struct timespec now = {1700000100, 500000000};
  rs_hc_key k = key_n(1); /* mtime ...000.123, ctime ...001.987: 98.5 s old */
  assert_false(rs_hc_racy(&k, &now, -1));
  assert_false(rs_hc_racy(&k, &now, 0));
  k.ctime_sec = 1700000100;
  k.ctime_nsec = 450000000; /* 50 ms before now */
  assert_true(rs_hc_racy(&k, &now, -1));
  assert_false(rs_hc_racy(&k, &now, 40000000));
  k.ctime_nsec = 600000000; /* in the future: a skewed clock */
  assert_true(rs_hc_racy(&k, &now, 0));
  k = key_n(1);
  k.mtime_sec = 1700000099;
  k.mtime_nsec = 0; /* whole-second timestamps: 2 s margin */
  assert_true(rs_hc_racy(&k, &now, -1));
  k.mtime_sec = 1700000098;
  assert_false(rs_hc_racy(&k, &now, -1));
  k = key_n(1);
  k.mtime_sec = 1700000100;
  k.mtime_nsec = 400000001; /* 99.99 ms before now, under the 100 ms margin */
  assert_true(rs_hc_racy(&k, &now, -1));
}

static void key_of(const char *path, rs_hc_key *k)
{
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  rs_hc_key_from_stat(k, &st);
}

static void hc_replaced_file_misses_even_with_equal_size_and_mtime(void **state)
{
  fixture *f = *state;
  char path[160], tmp[160];
  snprintf(path, sizeof path, "%s/data", f->root);
  snprintf(tmp, sizeof tmp, "%s/data.new", f->root);
  write_file(path, "version one");
  rs_hc_key before, after;
  key_of(path, &before);
  uint8_t sha[32], got[32];
  sha_n(1, sha);
  assert_int_equal(rs_hc_store(f->dir, &before, sha, 16), 0);
  write_file(tmp, "version two"); /* same size; then the same mtime, and renamed over */
  struct timespec t[2] = {{before.mtime_sec, before.mtime_nsec},
                          {before.mtime_sec, before.mtime_nsec}};
  assert_int_equal(utimensat(AT_FDCWD, tmp, t, 0), 0);
  assert_int_equal(rename(tmp, path), 0);
  key_of(path, &after);
  assert_int_equal(after.size, before.size);
  assert_int_equal(after.mtime_nsec, before.mtime_nsec);
  assert_true(after.ino != before.ino);
  assert_int_equal(rs_hc_lookup(f->dir, &after, got), 0);
}

/* Several processes storing at once: the file always checks out and stays within its bound. */
static void hc_concurrent_writers_never_corrupt_the_file(void **state)
{
  fixture *f = *state;
  enum { WRITERS = 3, EACH = 25, MAX = 32 };
  pid_t pids[WRITERS];
  for (int w = 0; w < WRITERS; w++) {
    pids[w] = fork();
    assert_true(pids[w] >= 0);
    if (pids[w] == 0) {
      int bad = 0;
      for (uint64_t i = 0; i < EACH; i++) {
        rs_hc_key k = key_n((uint64_t)w * 1000 + i);
        uint8_t sha[32];
        sha_n(i, sha);
        bad |= rs_hc_store(f->dir, &k, sha, MAX) != 0;
        bad |= cache_count(f) < 1; /* a reader never sees a torn file */
      }
      _exit(bad);
    }
  }
  for (int w = 0; w < WRITERS; w++) {
    int status = 0;
    assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  long n = cache_count(f);
  assert_true(n >= 1 && n <= MAX);
  assert_int_equal(count_entries(f->dir), 1); /* no temporary file left behind */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(hc_empty_dir_misses_then_a_stored_key_hits),
      T(hc_any_changed_key_field_misses),
      T(hc_new_version_of_a_file_replaces_its_entry),
      T(hc_keeps_at_most_max_entries_evicting_the_oldest),
      T(hc_corrupt_cache_is_ignored_and_rewritten),
      T(hc_record_round_trips_negative_and_extreme_values),
      T(hc_creates_missing_parents_with_private_mode),
      T(hc_store_into_a_file_path_fails_without_crashing),
      T(hc_store_leaves_no_temporary_files_and_sweeps_stale_ones),
      T(hc_symlinked_cache_file_is_not_followed),
      T(hc_racy_timestamps_are_not_cacheable),
      T(hc_replaced_file_misses_even_with_equal_size_and_mtime),
      T(hc_concurrent_writers_never_corrupt_the_file),
#undef T
  };
  return cmocka_run_group_tests_name("hash_cache", tests, NULL, NULL);
}
