/* Advisory locks for the POSIX store: open-file-description (OFD) locks, never PIDs.
 *
 * An OFD lock belongs to the open file description, not to the process: it excludes other
 * processes (and other hosts, through NFSv4 and CephFS, which forward fcntl locks to the
 * server), it is released when the description's last descriptor closes (so a process that dies
 * leaves no lock behind), and closing some other descriptor of the same file does not drop it
 * (the trap of classic POSIX locks). Threads of one process share a description, so an OFD lock
 * does not exclude them from each other: the store pairs each lock with a mutex of its own. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* F_OFD_SETLK, F_OFD_SETLKW, F_OFD_GETLK */
#endif
#include "store_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "resumable/error.h"

#ifdef F_OFD_SETLK
#define RS_SETLK F_OFD_SETLK
#define RS_SETLKW F_OFD_SETLKW
#define RS_GETLK F_OFD_GETLK
#else
/* Without OFD locks (not Linux): process-associated locks. Still exclusive across processes;
 * the store opens each lock file once per process, so no other descriptor can drop them. */
#define RS_SETLK F_SETLK
#define RS_SETLKW F_SETLKW
#define RS_GETLK F_GETLK
#endif

static void range(struct flock *fl, short type, uint64_t off, uint64_t len)
{
  memset(fl, 0, sizeof(*fl));
  fl->l_type = type;
  fl->l_whence = SEEK_SET;
  fl->l_start = (off_t)off;
  fl->l_len = (off_t)len;
}

int rs_fs_lock(int fd, uint64_t off, uint64_t len, int exclusive, int wait)
{
  struct flock fl;
  range(&fl, exclusive ? F_WRLCK : F_RDLCK, off, len);
  while (fcntl(fd, wait ? RS_SETLKW : RS_SETLK, &fl) != 0) {
    if (errno == EINTR)
      continue;
    if (!wait && (errno == EAGAIN || errno == EACCES))
      return RESUMABLE_E_STATE; /* held by someone else */
    return errno == ENOLCK ? RESUMABLE_E_NOMEM : RESUMABLE_E_IO;
  }
  return RESUMABLE_OK;
}

void rs_fs_unlock(int fd, uint64_t off, uint64_t len)
{
  struct flock fl;
  range(&fl, F_UNLCK, off, len);
  while (fcntl(fd, RS_SETLK, &fl) != 0 && errno == EINTR)
    ;
}

int rs_fs_lock_held_elsewhere(int fd, uint64_t off, uint64_t len)
{
  struct flock fl;
  range(&fl, F_WRLCK, off, len);
  if (fcntl(fd, RS_GETLK, &fl) != 0)
    return 0; /* cannot tell: nobody is seen waiting */
  return fl.l_type != F_UNLCK;
}
