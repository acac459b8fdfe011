/* SHA-256 of a local file, read with pread in large blocks, with progress and cancel. */
#ifndef RESUMABLE_FILE_HASH_H
#define RESUMABLE_FILE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Called with 0 before the first read, about every RS_FILE_HASH_STEP bytes after, and once with
 * `size` when every byte is hashed. Return 0 to go on,
 * or a negative resumable error code (e.g. RESUMABLE_E_CANCELLED) to stop with that code. */
typedef int (*rs_hash_progress_fn)(void *user_data, uint64_t done);

#define RS_FILE_HASH_BLOCK (1u << 20) /* read size */
#define RS_FILE_HASH_STEP (8u << 20)  /* progress granularity */

/* Per-chunk SHA-256 digests taken in the same pass as the whole file's (two states fed from one
 * read, rs_sha256_update2), so that a client sending per-request digests reads and hashes each
 * byte once: digest[i] covers bytes [i * chunk, min((i + 1) * chunk, size)). The caller sets
 * `chunk` (> 0) and gives `count` (at least ceil(size / chunk)) entries. */
typedef struct rs_hash_grid {
  uint64_t chunk;
  size_t count;
  uint8_t (*digest)[32];
} rs_hash_grid;

/* Hash bytes [0, size) of fd, and fill `grid` when it is not NULL. Returns RESUMABLE_OK;
 * RESUMABLE_E_FILE if a read fails or the file ends before `size` bytes; RESUMABLE_E_NOMEM;
 * RESUMABLE_E_INVALID_ARG for a grid with chunk 0 or too few entries; or the progress
 * callback's code. `fn` may be NULL. */
int rs_file_hash(int fd, uint64_t size, uint8_t digest[32], rs_hash_grid *grid,
                 rs_hash_progress_fn fn, void *user_data);

#endif
