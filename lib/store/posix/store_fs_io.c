/* The POSIX store's I/O primitives: every syscall retried on EINTR, short transfers looped,
 * errno mapped to resumable_error in one place. Writes, syncs and renames first consult the
 * test-only fault hook (store_fs_fault.h), which is the constant 0 in shipped builds. */
#include "store_fs.h"
#include "store_fs_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resumable/error.h"

void rs_fs_file_name(char out[RS_FS_FILE_MAX], const char *name, const char *ext)
{
  size_t n = strnlen(name, RS_FS_NAME_LEN);
  size_t e = strnlen(ext, RS_FS_FILE_MAX - RS_FS_NAME_LEN - 2);
  memcpy(out, name, n);
  out[n] = '.';
  memcpy(out + n + 1, ext, e);
  out[n + 1 + e] = '\0';
}

int rs_fs_err(int e)
{
  switch (e) {
  case ENOSPC:
#ifdef EDQUOT
  case EDQUOT:
#endif
    return RESUMABLE_E_NOSPACE;
  case ENOENT:
    return RESUMABLE_E_NOT_FOUND;
  case ELOOP:
  case ENOTDIR:
  case EISDIR:
    return RESUMABLE_E_CONFLICT;
  case ENOMEM:
    return RESUMABLE_E_NOMEM;
  case EMFILE:
  case ENFILE:
    return RESUMABLE_E_NOFD;
  default:
    return RESUMABLE_E_IO;
  }
}

/* Offsets beyond off_t cannot be addressed. */
static int off_ok(uint64_t off, size_t len)
{
  return off <= (uint64_t)INT64_MAX && len <= (uint64_t)INT64_MAX - off;
}

int rs_fs_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
  const unsigned char *p = buf;
  if (!off_ok(off, len))
    return RESUMABLE_E_IO;
  while (len > 0) {
    size_t want = len;
    int fault = rs_fs_fault(RS_FAULT_WRITE, &want);
    if (fault != 0)
      return rs_fs_err(fault);
    ssize_t n = pwrite(fd, p, want, (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return rs_fs_err(errno);
    }
    if (n == 0) /* no progress and no errno: treat as full */
      return RESUMABLE_E_NOSPACE;
    p += n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return RESUMABLE_OK;
}

int rs_fs_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
  unsigned char *p = buf;
  size_t done = 0;
  *got = 0;
  if (off > (uint64_t)INT64_MAX)
    return RESUMABLE_OK; /* past any possible end of file */
  if (len > (uint64_t)INT64_MAX - off)
    len = (size_t)((uint64_t)INT64_MAX - off);
  while (done < len) {
    ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return rs_fs_err(errno);
    }
    if (n == 0)
      break;
    done += (size_t)n;
  }
  *got = done;
  return RESUMABLE_OK;
}

int rs_fs_fsync(int fd)
{
  int fault = rs_fs_fault(RS_FAULT_SYNC, NULL);
  if (fault != 0)
    return rs_fs_err(fault);
  while (fsync(fd) != 0) {
    if (errno != EINTR)
      return rs_fs_err(errno);
  }
  return RESUMABLE_OK;
}

int rs_fs_fdatasync(int fd)
{
  int fault = rs_fs_fault(RS_FAULT_SYNC, NULL);
  if (fault != 0)
    return rs_fs_err(fault);
  while (fdatasync(fd) != 0) {
    if (errno != EINTR)
      return rs_fs_err(errno);
  }
  return RESUMABLE_OK;
}

int rs_fs_ftruncate(int fd, uint64_t len)
{
  if (len > (uint64_t)INT64_MAX)
    return RESUMABLE_E_IO;
  while (ftruncate(fd, (off_t)len) != 0) {
    if (errno != EINTR)
      return rs_fs_err(errno);
  }
  return RESUMABLE_OK;
}

void rs_fs_close(int fd)
{
  if (fd >= 0)
    (void)close(fd);
}

int rs_fs_unlink(int dirfd, const char *name)
{
  while (unlinkat(dirfd, name, 0) != 0) {
    if (errno != EINTR)
      return rs_fs_err(errno);
  }
  return RESUMABLE_OK;
}

int rs_fs_rename(int fromdir, const char *from, int todir, const char *to)
{
  int fault = rs_fs_fault(RS_FAULT_RENAME, NULL);
  if (fault != 0)
    return rs_fs_err(fault);
  while (renameat(fromdir, from, todir, to) != 0) {
    if (errno == EINTR)
      continue;
    /* Our own source vanished or a directory went away meanwhile: not "no such key". */
    return errno == ENOENT ? RESUMABLE_E_IO : rs_fs_err(errno);
  }
  return RESUMABLE_OK;
}

/* A temp file is live while its creator holds an OFD lock on it (until it closes it, after
 * the rename that puts it in place, or its death): a store opening on the root removes the
 * unlocked ones (store_fs.c). The lock is taken right after the create; if a cleaner got in
 * between (and removed the file), the lock is on an unlinked file, which the check below sees:
 * then another name is tried. */
static int lock_new_temp(rs_fs *fs, const char *name, int fd)
{
  struct stat a, b;
  if (rs_fs_lock(fd, 0, 1, 1, 0) != RESUMABLE_OK)
    return 0;
  return fstat(fd, &a) == 0 && fstatat(fs->tmp_fd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int rs_fs_tmp_create(rs_fs *fs, const char *prefix, char name[RS_FS_FILE_MAX], int *fd)
{
  /* pid + process-wide counter + clock: unique unless another process shares the pid (another
   * host, or a pid reused), which O_EXCL catches and the loop retries. */
  for (int attempt = 0; attempt < 100; attempt++) {
    struct timespec ts = {0, 0};
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long seq = atomic_fetch_add(&fs->seq, 1);
    snprintf(name, RS_FS_FILE_MAX, "%s-%lx-%lx-%lx", prefix, (unsigned long)getpid(), seq,
             (unsigned long)ts.tv_nsec);
    int f = openat(fs->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f >= 0) {
      if (lock_new_temp(fs, name, f)) {
        *fd = f;
        return RESUMABLE_OK;
      }
      rs_fs_close(f);
      continue;
    }
    if (errno != EEXIST && errno != EINTR)
      return rs_fs_err(errno);
  }
  return RESUMABLE_E_IO;
}

/* The temp file stays open (so locked) until renamed into place: unlocked, a store opening on
 * the root meanwhile would take it for a dead process's. */
int rs_fs_write_atomic(rs_fs *fs, int dirfd, const char *name, const void *buf, size_t len)
{
  char tmp[RS_FS_FILE_MAX];
  int fd = -1;
  int rc = rs_fs_tmp_create(fs, "meta", tmp, &fd);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = rs_fs_pwrite_all(fd, buf, len, 0);
  if (rc == RESUMABLE_OK)
    rc = rs_fs_fsync(fd);
  if (rc == RESUMABLE_OK)
    rc = rs_fs_rename(fs->tmp_fd, tmp, dirfd, name);
  if (rc != RESUMABLE_OK)
    (void)rs_fs_unlink(fs->tmp_fd, tmp);
  rs_fs_close(fd);
  if (rc != RESUMABLE_OK)
    return rc;
  return rs_fs_fsync(dirfd);
}

int rs_fs_read_small(int dirfd, const char *name, uint8_t *buf, size_t cap, size_t *len)
{
  int fd;
  do {
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return rs_fs_err(errno);
  struct stat st;
  int rc = RESUMABLE_OK;
  if (fstat(fd, &st) != 0)
    rc = rs_fs_err(errno);
  else if (!S_ISREG(st.st_mode))
    rc = RESUMABLE_E_IO;
  else
    rc = rs_fs_pread_full(fd, buf, cap, 0, len);
  rs_fs_close(fd);
  return rc;
}
