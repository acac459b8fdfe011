/* Write-behind for long uploads. Left alone, Linux keeps a fresh upload's pages dirty until the
 * commit's fsync, which then waits for the whole file to reach the disk (about 0.9 s per GiB
 * here) while the connection sits idle. Starting writeback for each window as soon as it is
 * written overlaps the disk with the network, so the final fsync only waits for the tail.
 *
 * Only SYNC_FILE_RANGE_WRITE is used: it starts I/O and returns. The WAIT flags would consume
 * the file's writeback error (errseq), hiding it from the fsync that must report it; WRITE
 * alone leaves it for that fsync. So errors here are ignored: it is a hint, never a promise. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sync_file_range */
#endif
#include "store_fs.h"

#include <fcntl.h>

int rs_fs_writeback_note(rs_fs_wb *wb, int fd, uint64_t offset, size_t len)
{
  uint64_t end = offset + len;
  if (offset < wb->start || offset > wb->end)
    wb->start = offset; /* not an append: start a new window here */
  wb->end = end;
  wb->flush += len;
  int flush_due = wb->flush >= RS_FS_FLUSH_WINDOW;
  if (flush_due)
    wb->flush = 0;
  if (end - wb->start < RS_FS_WRITEBACK_WINDOW)
    return flush_due;
#if defined(__linux__)
  if (wb->start <= (uint64_t)INT64_MAX && end <= (uint64_t)INT64_MAX)
    (void)sync_file_range(fd, (off_t)wb->start, (off_t)(end - wb->start), SYNC_FILE_RANGE_WRITE);
#else
  (void)fd;
#endif
  wb->start = end;
  return flush_due;
}
