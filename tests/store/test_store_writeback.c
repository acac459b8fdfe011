/* The write-behind window (lib/store/posix/store_fs_writeback.c): when a background flush is due, and that
 * a write that is not an append starts a new window. The writeback itself is a hint to the
 * kernel; what can be checked is the bookkeeping that decides when to give it. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fs.h"

#define MIB ((size_t)1 << 20)

/* A real file, so the writeback call has something to act on (it must not fail us). */
static int temp_fd(void)
{
  char path[] = "/tmp/rs-writeback-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  return fd;
}

static void flush_is_due_every_window_of_appended_bytes(void **state)
{
  (void)state;
  int fd = temp_fd();
  rs_fs_wb wb = {0, 0, 0};
  size_t per_window = (size_t)(RS_FS_FLUSH_WINDOW / MIB);
  int due = 0;
  for (size_t i = 0; i < 3 * per_window; i++) {
    int d = rs_fs_writeback_note(&wb, fd, (uint64_t)i * MIB, MIB);
    assert_int_equal(d, (i + 1) % per_window == 0);
    due += d;
  }
  assert_int_equal(due, 3);
  close(fd);
}

static void writeback_window_follows_the_appends(void **state)
{
  (void)state;
  int fd = temp_fd();
  rs_fs_wb wb = {0, 0, 0};
  /* Less than a window: nothing started yet. */
  rs_fs_writeback_note(&wb, fd, 0, MIB);
  assert_int_equal(wb.start, 0);
  assert_int_equal(wb.end, MIB);
  /* Completing the window starts its writeback: the next window begins at the end. */
  rs_fs_writeback_note(&wb, fd, MIB, (size_t)RS_FS_WRITEBACK_WINDOW);
  assert_int_equal(wb.start, MIB + RS_FS_WRITEBACK_WINDOW);
  assert_int_equal(wb.end, wb.start);
  /* A write elsewhere (a resumed upload reopened at another offset) starts a new window. */
  rs_fs_writeback_note(&wb, fd, 100 * MIB, 10);
  assert_int_equal(wb.start, 100 * MIB);
  assert_int_equal(wb.end, 100 * MIB + 10);
  rs_fs_writeback_note(&wb, fd, 5, 10);
  assert_int_equal(wb.start, 5);
  close(fd);
}

/* A file descriptor the kernel cannot write back (a pipe): still no error, it is a hint. */
static void writeback_of_an_unsupported_fd_is_harmless(void **state)
{
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  rs_fs_wb wb = {0, 0, 0};
  assert_int_equal(rs_fs_writeback_note(&wb, p[1], 0, (size_t)RS_FS_FLUSH_WINDOW), 1);
  close(p[0]);
  close(p[1]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(flush_is_due_every_window_of_appended_bytes),
      cmocka_unit_test(writeback_window_follows_the_appends),
      cmocka_unit_test(writeback_of_an_unsupported_fd_is_harmless),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
