#include "file_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "resumable/error.h"
#include "sha256.h"

/* Reads of up to `want` bytes at `off`, retrying EINTR. Returns bytes read, 0 at EOF, -1. */
static ssize_t read_at(int fd, void *buf, size_t want, uint64_t off)
{
  ssize_t n;
  do
    n = pread(fd, buf, want, (off_t)off);
  while (n < 0 && errno == EINTR);
  return n;
}

int rs_file_hash(int fd, uint64_t size, uint8_t digest[32], rs_hash_grid *grid,
                 rs_hash_progress_fn fn, void *user_data)
{
  if (grid && (grid->chunk == 0 || grid->count < (size + grid->chunk - 1) / grid->chunk))
    return RESUMABLE_E_INVALID_ARG;
  unsigned char *buf = malloc(RS_FILE_HASH_BLOCK);
  if (!buf)
    return RESUMABLE_E_NOMEM;
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint; failure is harmless */
  rs_sha256 h, c; /* the file's, and the current grid chunk's */
  rs_sha256_init(&h);
  rs_sha256_init(&c);
  uint64_t done = 0, next_report = 0;
  int rc = RESUMABLE_OK;
  while (rc == RESUMABLE_OK) {
    if (fn && (done >= next_report || done == size)) { /* and once at the end: 100% */
      rc = fn(user_data, done);
      next_report = done + RS_FILE_HASH_STEP;
      if (rc != RESUMABLE_OK)
        break;
    }
    if (done == size)
      break;
    uint64_t left = size - done;
    if (grid && grid->chunk - done % grid->chunk < left) /* a read never spans two chunks */
      left = grid->chunk - done % grid->chunk;
    size_t want = left < RS_FILE_HASH_BLOCK ? (size_t)left : RS_FILE_HASH_BLOCK;
    ssize_t n = read_at(fd, buf, want, done);
    if (n <= 0) {
      rc = RESUMABLE_E_FILE; /* read error, or the file shrank under us */
      break;
    }
    if (grid)
      rs_sha256_update2(&h, &c, buf, (size_t)n);
    else
      rs_sha256_update(&h, buf, (size_t)n);
    done += (uint64_t)n;
    if (grid && (done % grid->chunk == 0 || done == size)) {
      rs_sha256_finish(&c, grid->digest[(done - 1) / grid->chunk]);
      rs_sha256_init(&c);
    }
  }
  if (rc == RESUMABLE_OK)
    rs_sha256_finish(&h, digest);
  rs_sha256_free(&h);
  rs_sha256_free(&c);
  free(buf);
  return rc;
}
