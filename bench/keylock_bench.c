/* The cost of cross-process key ownership (store key_lock, docs/storage.md "One root, many
 * processes") on the POSIX store, in CPU time of the calling thread (so a busy machine changes
 * little):
 *   - per body piece: key_lock(KEEP) + key_unlock, as the handler calls them for every feed;
 *   - per request: key_lock(TAKE) + key_unlock + key_release (lock file made, locked, removed);
 *   - for comparison, the scheme the lease avoids: an OFD lock, a pread of a generation and an
 *     unlock around every body piece.
 * Usage: keylock_bench [dir (default $TMPDIR or /tmp)]. Best of RUNS. */
#define _GNU_SOURCE /* F_OFD_SETLKW */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resumable/error.h"
#include "resumable/store.h"
#include "store_internal.h"

enum { RUNS = 5, PIECES = 1000000, REQUESTS = 20000 };

static double cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double per_piece(const resumable_store_ops *ops, void *self)
{
  void *owner = NULL;
  if (ops->key_lock(self, "bench/key", RESUMABLE_KEY_TAKE, &owner) != RESUMABLE_OK)
    return -1;
  ops->key_unlock(self, owner);
  double t0 = cpu_ns();
  for (int i = 0; i < PIECES; i++) {
    if (ops->key_lock(self, "bench/key", RESUMABLE_KEY_KEEP, &owner) != RESUMABLE_OK)
      return -1;
    ops->key_unlock(self, owner);
  }
  double ns = (cpu_ns() - t0) / PIECES;
  ops->key_release(self, owner);
  return ns;
}

static double per_request(const resumable_store_ops *ops, void *self)
{
  double t0 = cpu_ns();
  for (int i = 0; i < REQUESTS; i++) {
    void *owner = NULL;
    if (ops->key_lock(self, "bench/key", RESUMABLE_KEY_TAKE, &owner) != RESUMABLE_OK)
      return -1;
    ops->key_unlock(self, owner);
    ops->key_release(self, owner);
  }
  return (cpu_ns() - t0) / REQUESTS;
}

static double lock_per_piece(const char *dir)
{
  char path[4200];
  if (snprintf(path, sizeof(path), "%s/keylock-bench-lock", dir) >= (int)sizeof(path))
    return -1;
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  if (fd < 0)
    return -1;
  uint64_t gen = 0;
  if (pwrite(fd, &gen, sizeof(gen), 0) != (ssize_t)sizeof(gen))
    return -1;
  double t0 = cpu_ns();
  for (int i = 0; i < PIECES; i++) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(fd, F_OFD_SETLKW, &fl) != 0 || pread(fd, &gen, sizeof(gen), 0) != sizeof(gen))
      return -1;
    fl.l_type = F_UNLCK;
    (void)fcntl(fd, F_OFD_SETLK, &fl);
  }
  double ns = (cpu_ns() - t0) / PIECES;
  close(fd);
  unlink(path);
  return ns;
}

int main(int argc, char **argv)
{
  const char *tmp = getenv("TMPDIR");
  const char *dir = argc > 1 ? argv[1] : tmp && *tmp ? tmp : "/tmp";
  char root[4096];
  if (snprintf(root, sizeof(root), "%s/keylock-bench-XXXXXX", dir) >= (int)sizeof(root))
    return 2;
  if (mkdtemp(root) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  resumable_store *store = NULL;
  if (resumable_store_fs_new(&store, root) != RESUMABLE_OK) {
    fprintf(stderr, "cannot open a store on %s\n", root);
    return 1;
  }
  const resumable_store_ops *ops = resumable_store_ops_of(store);
  void *self = resumable_store_self(store);
  double piece = -1, request = -1, naive = -1;
  for (int r = 0; r < RUNS; r++) {
    double a = per_piece(ops, self), b = per_request(ops, self), c = lock_per_piece(root);
    if (a < 0 || b < 0 || c < 0) {
      fprintf(stderr, "a lock call failed\n");
      return 1;
    }
    piece = piece < 0 || a < piece ? a : piece;
    request = request < 0 || b < request ? b : request;
    naive = naive < 0 || c < naive ? c : naive;
  }
  resumable_store_free(store);
  char cmd[4300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", root);
  printf("key ownership, per body piece (KEEP + unlock)           %8.1f ns CPU\n", piece);
  printf("key ownership, per request (TAKE, unlock, release)      %8.1f us CPU\n", request / 1e3);
  printf("for comparison: OFD lock + pread + unlock per body piece %8.1f ns CPU\n", naive);
  return 0;
}
