/* The stager with a hash cache directory: a later handle (as a later process would) reuses the
 * SHA-256 without reading the file, and never a stale one; hashing reports progress and can be
 * cancelled. Uploads go through real libcurl to the scripted server on loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hash_cache.h"
#include "hex.h"
#include "resumable/stager.h"
#include "script_server.h"
#include "sha256.h"
#include "stager_impl.h"
#include "test_fs.h"

#define SIZE 1000
#define DONE_HDRS "X-Content-SHA256: $SHA\nX-File-Size: 1000\n"

typedef struct fixture {
  char root[64];
  char path[96];  /* the file to upload */
  char cache[96]; /* the cache directory (not created in advance) */
  uint8_t data[SIZE];
  char sha[65];
} fixture;

/* What one run showed through its callbacks and getters. */
typedef struct seen {
  int hashing_calls;
  uint64_t max_hashed;
  int cached;
  int warned_cache; /* a log line said the cache could not be written */
} seen;

static void write_file(const char *path, const void *data, size_t len)
{
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static void sha_hex_of(const void *data, size_t len, char out[65])
{
  uint8_t d[32];
  rs_sha256_digest(data, len, d);
  rs_sha256_hex_format(d, out);
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->root, sizeof f->root, "/tmp/stager-hc-XXXXXX");
  assert_non_null(mkdtemp(f->root));
  snprintf(f->path, sizeof f->path, "%s/file.bin", f->root);
  snprintf(f->cache, sizeof f->cache, "%s/cache/libresumable", f->root);
  for (size_t i = 0; i < SIZE; i++)
    f->data[i] = (uint8_t)(i * 13 + 5);
  write_file(f->path, f->data, SIZE);
  sha_hex_of(f->data, SIZE, f->sha);
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

static int count_hashing(void *ud, const resumable_progress *p)
{
  seen *sn = ud;
  if (p->phase == RESUMABLE_PHASE_HASHING) {
    sn->hashing_calls++;
    if (p->hashed > sn->max_hashed)
      sn->max_hashed = p->hashed;
  }
  return 0;
}

static void note_log(void *ud, resumable_log_level level, const char *msg)
{
  seen *sn = ud;
  if (level == RESUMABLE_LOG_WARN && strstr(msg, "cannot write the hash cache"))
    sn->warned_cache = 1;
}

/* One upload of f->path on a fresh handle, as a new process would make it, to a server that
 * expects `sha`. margin_ns is the racy-timestamp margin (0: cache even a file written just now;
 * -1: the library's default). cache_dir NULL: no cache. Returns the run's result. */
static int upload_once(fixture *f, const char *sha, const char *cache_dir, int64_t margin_ns,
                       seen *sn)
{
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, NULL, 0}};
  script_server *srv = script_start(a, 2, sha);
  assert_non_null(srv);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/files/k", script_port(srv));
  resumable_stager *s = NULL;
  assert_int_equal(resumable_stager_new(&s, url, f->path), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(s, 20000), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_hash_cache_dir(s, cache_dir), RESUMABLE_OK);
  memset(sn, 0, sizeof *sn);
  assert_int_equal(resumable_stager_set_progress(s, count_hashing, sn), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_log(s, note_log, sn), RESUMABLE_OK);
  s->o.hc_margin_ns = margin_ns;
  int rc = resumable_stager_run(s);
  if (rc == RESUMABLE_OK) {
    assert_int_equal(script_count(srv), 2);
    assert_string_equal(script_at(srv, 1)->sha, sha);
    assert_string_equal(resumable_stager_sha256(s), sha);
  }
  sn->cached = resumable_stager_hash_cached(s);
  resumable_stager_free(s);
  script_stop(srv);
  return rc;
}

/* Records in the cache file, or -1 when it is missing or does not check out. */
static long cache_records(const fixture *f)
{
  char p[160];
  snprintf(p, sizeof p, "%s/" RS_HC_FILE, f->cache);
  FILE *fp = fopen(p, "rb");
  if (!fp)
    return -1;
  static uint8_t buf[1 << 18];
  size_t len = fread(buf, 1, sizeof buf, fp), n = 0;
  fclose(fp);
  return rs_hc_check(buf, len, &n) == 0 ? (long)n : -1;
}

static void stat_path(const char *path, struct stat *st)
{
  assert_int_equal(stat(path, st), 0);
}

/* New bytes of the same size. */
static void rewrite_in_place(fixture *f, uint8_t salt)
{
  for (size_t i = 0; i < SIZE; i++)
    f->data[i] = (uint8_t)(i * 13 + 5 + salt);
  int fd = open(f->path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, f->data, SIZE, 0), SIZE);
  assert_int_equal(close(fd), 0);
  sha_hex_of(f->data, SIZE, f->sha);
}

static void set_mtime(const char *path, struct timespec mtime)
{
  struct timespec t[2] = {mtime, mtime};
  assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void sc_a_later_handle_takes_the_hash_from_the_cache_without_reading(void **state)
{
  fixture *f = *state;
  seen sn;
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_int_equal(sn.max_hashed, SIZE);
  assert_false(sn.cached);
  assert_int_equal(cache_records(f), 1);
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  assert_int_equal(sn.hashing_calls, 0); /* not a byte read for hashing */
  assert_true(sn.cached);
}

static void sc_no_cache_directory_is_the_default(void **state)
{
  fixture *f = *state;
  seen sn;
  assert_int_equal(upload_once(f, f->sha, NULL, 0, &sn), RESUMABLE_OK);
  assert_int_equal(upload_once(f, f->sha, NULL, 0, &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_false(sn.cached);
  char parent[128];
  snprintf(parent, sizeof parent, "%s/cache", f->root);
  assert_int_equal(access(parent, F_OK), -1);
}

static void sc_edit_with_a_new_mtime_is_hashed_again(void **state)
{
  fixture *f = *state;
  seen sn;
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  struct stat st;
  stat_path(f->path, &st);
  rewrite_in_place(f, 1);
  struct timespec later = st.st_mtim;
  later.tv_sec += 1;
  set_mtime(f->path, later);
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_false(sn.cached);
}

static void sc_edit_that_restores_size_and_mtime_is_hashed_again(void **state)
{
  fixture *f = *state;
  seen sn;
  struct stat before, after;
  stat_path(f->path, &before);
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  assert_int_equal(cache_records(f), 1);
  /* With the margin at 0 the entry was cached however fresh the file was; an edit that lands
   * in the same file-system clock tick would keep ctime too (that case is
   * sc_fresh_edit_is_never_served_stale). Edit until ctime moves: at most one tick. */
  uint8_t salt = 0;
  do {
    rewrite_in_place(f, ++salt);
    set_mtime(f->path, before.st_mtim);
    stat_path(f->path, &after);
  } while (after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
           after.st_ctim.tv_nsec == before.st_ctim.tv_nsec && salt < 250);
  assert_int_equal(after.st_size, before.st_size);
  assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  assert_int_equal(after.st_ino, before.st_ino);
  assert_true(after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
              after.st_ctim.tv_nsec != before.st_ctim.tv_nsec);
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_false(sn.cached);
}

/* With the library's own margin, a file edited moments ago is never cached, so an immediate
 * edit that keeps size and mtime (even within one clock tick) is still seen. */
static void sc_fresh_edit_is_never_served_stale(void **state)
{
  fixture *f = *state;
  seen sn;
  struct stat before;
  stat_path(f->path, &before);
  assert_int_equal(upload_once(f, f->sha, f->cache, -1, &sn), RESUMABLE_OK);
  rewrite_in_place(f, 7);
  set_mtime(f->path, before.st_mtim);
  assert_int_equal(upload_once(f, f->sha, f->cache, -1, &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_false(sn.cached);
}

/* The stager applies the rule itself: with a 10 s margin, a file written by setup just now is
 * hashed and uploaded but not cached. */
static void sc_file_changed_within_the_margin_is_not_cached(void **state)
{
  fixture *f = *state;
  seen sn;
  assert_int_equal(upload_once(f, f->sha, f->cache, INT64_C(10000000000), &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_int_equal(cache_records(f), -1);
  assert_int_equal(upload_once(f, f->sha, f->cache, INT64_C(10000000000), &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_false(sn.cached);
}

static void sc_replaced_file_is_hashed_again(void **state)
{
  fixture *f = *state;
  seen sn;
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  struct stat st;
  stat_path(f->path, &st);
  char tmp[128];
  snprintf(tmp, sizeof tmp, "%s.new", f->path);
  write_file(tmp, f->data, SIZE); /* same bytes, same size, same mtime, another inode */
  set_mtime(tmp, st.st_mtim);
  assert_int_equal(rename(tmp, f->path), 0);
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_false(sn.cached);
}

static void sc_corrupt_cache_file_is_ignored_and_rewritten(void **state)
{
  fixture *f = *state;
  char parent[128], file[160];
  snprintf(parent, sizeof parent, "%s/cache", f->root);
  assert_int_equal(mkdir(parent, 0700), 0);
  assert_int_equal(mkdir(f->cache, 0700), 0);
  snprintf(file, sizeof file, "%s/" RS_HC_FILE, f->cache);
  uint8_t junk[RS_HC_HEADER + RS_HC_RECORD + RS_HC_TRAILER];
  memset(junk, 0xA5, sizeof junk);
  memcpy(junk, "RSHCACHE", 8);
  write_file(file, junk, sizeof junk);
  seen sn;
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  assert_true(sn.hashing_calls >= 1);
  assert_int_equal(cache_records(f), 1);
  assert_int_equal(upload_once(f, f->sha, f->cache, 0, &sn), RESUMABLE_OK);
  assert_true(sn.cached);
}

static void sc_unwritable_cache_does_not_fail_the_upload(void **state)
{
  fixture *f = *state;
  char blocker[128];
  snprintf(blocker, sizeof blocker, "%s/not-a-dir", f->root);
  write_file(blocker, "x", 1);
  seen sn;
  assert_int_equal(upload_once(f, f->sha, blocker, 0, &sn), RESUMABLE_OK);
  assert_true(sn.warned_cache);
  assert_false(sn.cached);
}

static void sc_given_sha256_neither_reads_nor_writes_the_cache(void **state)
{
  fixture *f = *state;
  resumable_stager *s = NULL;
  assert_int_equal(resumable_stager_new(&s, "http://127.0.0.1:9/v1/files/k", f->path),
                   RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_hash_cache_dir(s, ""), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_hash_cache_dir(s, f->cache), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_hash_cache_dir(NULL, f->cache), RESUMABLE_E_INVALID_ARG);
  resumable_stager_free(s);
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, NULL, 0}};
  script_server *srv = script_start(a, 2, f->sha);
  assert_non_null(srv);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/files/k", script_port(srv));
  assert_int_equal(resumable_stager_new(&s, url, f->path), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_hash_cache_dir(s, f->cache), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_sha256(s, f->sha), RESUMABLE_OK);
  s->o.hc_margin_ns = 0;
  assert_int_equal(resumable_stager_run(s), RESUMABLE_OK);
  assert_false(resumable_stager_hash_cached(s));
  assert_int_equal(cache_records(f), -1);
  resumable_stager_free(s);
  script_stop(srv);
}

/* ---- hashing progress and cancel ---- */

typedef struct hash_watch {
  uint64_t cancel_after; /* cancel at the first HASHING report past this many bytes */
  int cancelled;
  int calls_after_cancel; /* HASHING reports after the cancel: must stay 0 */
  int calls;
  uint64_t last;
  int monotonic;
  uint64_t total;
  int probed;
} hash_watch;

static int watch_hashing(void *ud, const resumable_progress *p)
{
  hash_watch *w = ud;
  if (p->phase == RESUMABLE_PHASE_DONE)
    return 0;
  if (p->phase != RESUMABLE_PHASE_HASHING) {
    w->probed = 1;
    return 1; /* these runs stop once hashing is over */
  }
  if (w->cancelled)
    w->calls_after_cancel++;
  if (w->calls > 0 && p->hashed < w->last)
    w->monotonic = 0;
  w->calls++;
  w->last = p->hashed;
  w->total = p->total;
  if (p->hashed > w->cancel_after) {
    w->cancelled = 1;
    return 1;
  }
  return 0;
}

/* A sparse file: big, yet nothing to write. */
static void make_sparse(const char *path, uint64_t size)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)size), 0);
  assert_int_equal(close(fd), 0);
}

static void sc_cancel_while_hashing_stops_at_once(void **state)
{
  fixture *f = *state;
  const uint64_t big = UINT64_C(1) << 30;
  make_sparse(f->path, big);
  resumable_stager *s = NULL;
  assert_int_equal(resumable_stager_new(&s, "http://127.0.0.1:9/v1/files/k", f->path),
                   RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_hash_cache_dir(s, f->cache), RESUMABLE_OK);
  hash_watch w = {.cancel_after = 0, .monotonic = 1};
  assert_int_equal(resumable_stager_set_progress(s, watch_hashing, &w), RESUMABLE_OK);
  s->o.hc_margin_ns = 0;
  assert_int_equal(resumable_stager_run(s), RESUMABLE_E_CANCELLED);
  assert_true(w.cancelled);
  assert_int_equal(w.calls_after_cancel, 0);
  assert_true(w.last <= UINT64_C(16) << 20); /* stopped at the first report after byte 0 */
  assert_false(w.probed);
  assert_int_equal(resumable_stager_requests(s), 0);
  assert_null(resumable_stager_sha256(s));
  assert_int_equal(cache_records(f), -1); /* nothing cached from a partial read */
  resumable_stager_free(s);
}

static void sc_hashing_progress_counts_up_to_the_total(void **state)
{
  fixture *f = *state;
  const uint64_t size = (UINT64_C(20) << 20) + 123;
  make_sparse(f->path, size);
  resumable_stager *s = NULL;
  assert_int_equal(resumable_stager_new(&s, "http://127.0.0.1:9/v1/files/k", f->path),
                   RESUMABLE_OK);
  hash_watch w = {.cancel_after = UINT64_MAX, .monotonic = 1};
  assert_int_equal(resumable_stager_set_progress(s, watch_hashing, &w), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(s), RESUMABLE_E_CANCELLED); /* after hashing */
  assert_true(w.probed);
  assert_true(w.monotonic);
  assert_true(w.calls >= 4); /* 0, 8 MiB, 16 MiB, the end */
  assert_int_equal(w.last, size);
  assert_int_equal(w.total, size);
  uint8_t zeros[4096] = {0}, d[32];
  rs_sha256 h;
  rs_sha256_init(&h);
  for (uint64_t left = size; left > 0;) {
    size_t n = left < sizeof zeros ? (size_t)left : sizeof zeros;
    rs_sha256_update(&h, zeros, n);
    left -= n;
  }
  rs_sha256_finish(&h, d);
  rs_sha256_free(&h);
  char hex[65];
  rs_sha256_hex_format(d, hex);
  assert_string_equal(resumable_stager_sha256(s), hex);
  resumable_stager_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(sc_a_later_handle_takes_the_hash_from_the_cache_without_reading),
      T(sc_no_cache_directory_is_the_default),
      T(sc_edit_with_a_new_mtime_is_hashed_again),
      T(sc_edit_that_restores_size_and_mtime_is_hashed_again),
      T(sc_fresh_edit_is_never_served_stale),
      T(sc_file_changed_within_the_margin_is_not_cached),
      T(sc_replaced_file_is_hashed_again),
      T(sc_corrupt_cache_file_is_ignored_and_rewritten),
      T(sc_unwritable_cache_does_not_fail_the_upload),
      T(sc_given_sha256_neither_reads_nor_writes_the_cache),
      T(sc_cancel_while_hashing_stops_at_once),
      T(sc_hashing_progress_counts_up_to_the_total),
#undef T
  };
  return cmocka_run_group_tests_name("stager_hash_cache", tests, NULL, NULL);
}
