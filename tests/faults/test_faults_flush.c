/* The POSIX store's background flusher (lib/store/posix/store_fs_flush.c): long uploads are fdatasynced
 * while they arrive, short ones never; a background sync that fails is reported to the owner's
 * next sync or commit, which then never promises the bytes. */
#define _DEFAULT_SOURCE /* mincore */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_fixture.h"
#include "test_fs.h"
#include "resumable/error.h"
#include "resumable/store.h"
#include "store_fs.h"
#include "store_internal.h"

#define MIB ((size_t)1 << 20)
/* Past RS_FS_FLUSH_WINDOW (32 MiB): at least one background flush is asked for. */
#define LONG_UPLOAD (40 * MIB)

typedef struct sfix {
  char root[64];
  resumable_store *store;
  const resumable_store_ops *ops;
  void *self;
  uint8_t *piece;
} sfix;

static int setup(void **state)
{
  sfix *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  ff_mkroot(f->root, sizeof(f->root));
  assert_int_equal(resumable_store_fs_new(&f->store, f->root), RESUMABLE_OK);
  f->ops = resumable_store_ops_of(f->store);
  f->self = resumable_store_self(f->store);
  f->piece = malloc(MIB);
  assert_non_null(f->piece);
  ff_fill(f->piece, MIB, 3);
  rs_fault_lift();
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  sfix *f = *state;
  rs_fault_lift();
  resumable_store_free(f->store);
  (void)test_remove_tree(f->root);
  free(f->piece);
  free(f);
  return 0;
}

static void *open_mode(sfix *f, resumable_partial_mode mode, uint64_t total)
{
  resumable_partial_info info;
  memset(&info, 0, sizeof(info));
  info.total = total;
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->self, "k", mode, &info, &h, NULL), RESUMABLE_OK);
  return h;
}

/* Write `bytes`, then let every background flush asked for meanwhile finish: a sync or commit
 * drops a flush still queued (it syncs itself), so without this whether one ran would be a
 * race. */
static void write_mib(sfix *f, void *h, size_t bytes)
{
  for (size_t off = 0; off < bytes; off += MIB)
    assert_int_equal(f->ops->partial_write(f->self, h, off, f->piece, MIB), RESUMABLE_OK);
  rs_fs_flusher_idle(((rs_fs *)f->self)->flusher);
}

static void long_upload_is_flushed_in_the_background(void **state)
{
  sfix *f = *state;
  resumable_partial_info info, got;
  void *h = open_mode(f, RESUMABLE_PARTIAL_CREATE, LONG_UPLOAD);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &info), RESUMABLE_OK);
  write_mib(f, h, LONG_UPLOAD);
  info.held = LONG_UPLOAD;
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_OK);
  assert_true(rs_fault_calls(RS_FAULT_FLUSH) >= 1);
  assert_int_equal(rs_fault_fired(RS_FAULT_FLUSH), 0);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, LONG_UPLOAD);
  f->ops->partial_close(f->self, h);
}

static void short_upload_starts_no_flush(void **state)
{
  sfix *f = *state;
  resumable_complete_info ci = {.size = 4 * MIB};
  void *h = open_mode(f, RESUMABLE_PARTIAL_STAGING, 4 * MIB);
  write_mib(f, h, 4 * MIB);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->self, h);
  assert_int_equal(rs_fault_calls(RS_FAULT_FLUSH), 0);
  assert_true(ff_exists(f->root, "k"));
}

/* The flusher's fdatasync shares the file's error cursor with the owner's: the error it saw
 * must reach the owner, or a later fsync would succeed over lost bytes. */
static void failed_flush_fails_the_partial_sync(void **state)
{
  sfix *f = *state;
  resumable_partial_info info, got;
  void *h = open_mode(f, RESUMABLE_PARTIAL_CREATE, LONG_UPLOAD);
  assert_int_equal(f->ops->partial_stat(f->self, "k", &info), RESUMABLE_OK);
  rs_fault_fail_call(RS_FAULT_FLUSH, 1, 1, EIO); /* the first background sync only */
  write_mib(f, h, LONG_UPLOAD);
  info.held = LONG_UPLOAD;
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_E_IO);
  assert_int_equal(rs_fault_fired(RS_FAULT_FLUSH), 1);
  assert_int_equal(f->ops->partial_sync(f->self, h, &info), RESUMABLE_E_IO); /* for good */
  assert_int_equal(f->ops->partial_stat(f->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 0); /* nothing was promised */
  f->ops->partial_close(f->self, h);
}

static void failed_flush_fails_the_commit(void **state)
{
  sfix *f = *state;
  resumable_complete_info ci = {.size = LONG_UPLOAD};
  void *h = open_mode(f, RESUMABLE_PARTIAL_STAGING, LONG_UPLOAD);
  rs_fault_fail_call(RS_FAULT_FLUSH, 1, 1, EIO);
  write_mib(f, h, LONG_UPLOAD);
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_E_IO);
  assert_int_equal(rs_fault_fired(RS_FAULT_FLUSH), 1);
  assert_false(ff_exists(f->root, "k")); /* never placed */
  f->ops->partial_close(f->self, h);
}

/* A handle closed with a flush queued or running: the flusher finishes or drops it and frees
 * its record (the sanitizer build checks for leaks and use after free). */
static void closing_with_a_flush_in_flight_is_safe(void **state)
{
  sfix *f = *state;
  for (int i = 0; i < 4; i++) {
    void *h = open_mode(f, RESUMABLE_PARTIAL_STAGING, LONG_UPLOAD);
    for (size_t off = 0; off < LONG_UPLOAD; off += MIB) /* no waiting: close races the flush */
      assert_int_equal(f->ops->partial_write(f->self, h, off, f->piece, MIB), RESUMABLE_OK);
    f->ops->partial_close(f->self, h);
  }
  assert_true(rs_fault_calls(RS_FAULT_FLUSH) <= 4);
  assert_false(ff_exists(f->root, "k"));
}

/* A commit does not queue behind other uploads' flushes: its own queued flush is dropped and
 * its own fsync covers the bytes (the file is complete and the hook saw no flush for it). */
static void sync_drops_its_own_queued_flush(void **state)
{
  sfix *f = *state;
  resumable_complete_info ci = {.size = LONG_UPLOAD};
  void *h = open_mode(f, RESUMABLE_PARTIAL_STAGING, LONG_UPLOAD);
  for (size_t off = 0; off < LONG_UPLOAD; off += MIB)
    assert_int_equal(f->ops->partial_write(f->self, h, off, f->piece, MIB), RESUMABLE_OK);
  /* Whether the flusher got to it first or not, the commit succeeds and nothing leaks. */
  assert_int_equal(f->ops->partial_commit(f->self, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->self, h);
  rs_fs_flusher_idle(((rs_fs *)f->self)->flusher);
  assert_true(rs_fault_calls(RS_FAULT_FLUSH) <= 1);
  assert_true(ff_exists(f->root, "k"));
}

/* Pages of the first `len` bytes of root/rel that are in the page cache. */
static size_t resident_pages(const char *root, const char *rel, size_t len)
{
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", root, rel);
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  assert_true(m != MAP_FAILED);
  long pg = sysconf(_SC_PAGESIZE);
  size_t n = (len + (size_t)pg - 1) / (size_t)pg, in = 0;
  unsigned char *vec = malloc(n);
  assert_non_null(vec);
  assert_int_equal(mincore(m, len, vec), 0);
  for (size_t i = 0; i < n; i++)
    in += vec[i] & 1;
  free(vec);
  munmap(m, len);
  close(fd);
  return in;
}

/* Synced bytes leave the page cache: a long upload holds about one flush window of it, not its
 * whole size. */
static void flushed_bytes_leave_the_page_cache(void **state)
{
  sfix *f = *state;
  char rel[128];
  void *h = open_mode(f, RESUMABLE_PARTIAL_CREATE, LONG_UPLOAD);
  write_mib(f, h, LONG_UPLOAD); /* one flush of the first 32 MiB has run */
  ff_partial_data("k", rel, sizeof(rel));
  size_t window = 32 * MIB, pages = window / (size_t)sysconf(_SC_PAGESIZE);
  assert_true(rs_fault_calls(RS_FAULT_FLUSH) >= 1);
  assert_true(resident_pages(f->root, rel, window) < pages / 4);
  f->ops->partial_close(f->self, h);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(long_upload_is_flushed_in_the_background, setup, teardown),
      cmocka_unit_test_setup_teardown(short_upload_starts_no_flush, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_flush_fails_the_partial_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_flush_fails_the_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(closing_with_a_flush_in_flight_is_safe, setup, teardown),
      cmocka_unit_test_setup_teardown(sync_drops_its_own_queued_flush, setup, teardown),
      cmocka_unit_test_setup_teardown(flushed_bytes_leave_the_page_cache, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
