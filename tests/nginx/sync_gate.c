/* LD_PRELOAD shim for the nginx tests: makes fsync and fdatasync wait while a test holds a lock,
 * so that a commit takes as long as the test wants, without sleeps.
 *
 * RS_SYNC_GATE names a lock file: each sync first takes a shared flock() on it, which waits
 * while the test holds an exclusive one. RS_SYNC_NOTIFY names a FIFO: before waiting, a sync
 * writes one byte to it (if the test has it open), so the test knows a sync is blocked. Unset,
 * the shim only forwards to libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

static void wait_at_gate(void)
{
  const char *gate = getenv("RS_SYNC_GATE");
  if (gate == NULL)
    return;
  const char *notify = getenv("RS_SYNC_NOTIFY");
  if (notify != NULL) {
    int n = open(notify, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (n >= 0) {
      (void)!write(n, "s", 1);
      close(n);
    }
  }
  int fd = open(gate, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  flock(fd, LOCK_SH);
  close(fd); /* releases the shared lock */
}

int fsync(int fd)
{
  static int (*real)(int);
  if (real == NULL)
    *(void **)&real = dlsym(RTLD_NEXT, "fsync"); /* POSIX's way round ISO C's cast rule */
  wait_at_gate();
  return real(fd);
}

int fdatasync(int fd)
{
  static int (*real)(int);
  if (real == NULL)
    *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
  wait_at_gate();
  return real(fd);
}
