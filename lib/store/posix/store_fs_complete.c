/* Complete files at <root>/<key>. Size and SHA-256 come from the sidecar when it describes the
 * very version found (dev, ino, size, mtime and ctime to the ns); otherwise (a crash between
 * rename and sidecar, or an out-of-band change, even one that restored the mtime) the file is
 * hashed once and the sidecar rewritten. */
#include "store_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "sha256.h"

#define HASH_CHUNK (256 * 1024)

typedef struct fs_reader {
  int fd;
} fs_reader;

/* Open the complete file read-only. Only a regular file at the key is one: a directory (of
 * other keys), a symbolic link, a parent segment that is a file or a link, anything else on disk
 * there means that this key holds no file (NOT_FOUND), whatever placing one would meet. */
static int open_complete(rs_fs *fs, const char *key, int *fd, struct stat *st)
{
  int dirfd = -1;
  const char *leaf = NULL;
  int rc = rs_fs_walk(fs, key, 0, &dirfd, &leaf);
  if (rc == RESUMABLE_E_CONFLICT)
    return RESUMABLE_E_NOT_FOUND;
  if (rc != RESUMABLE_OK)
    return rc;
  int f;
  /* O_NONBLOCK: a FIFO planted at the key must not block the open. */
  do {
    f = openat(dirfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  } while (f < 0 && errno == EINTR);
  rc = f < 0 ? rs_fs_err(errno) : RESUMABLE_OK;
  rs_fs_close(dirfd);
  if (rc == RESUMABLE_E_CONFLICT) /* ELOOP: a symbolic link at the key */
    return RESUMABLE_E_NOT_FOUND;
  if (rc != RESUMABLE_OK)
    return rc;
  if (fstat(f, st) != 0)
    rc = rs_fs_err(errno);
  else if (!S_ISREG(st->st_mode))
    rc = RESUMABLE_E_NOT_FOUND;
  if (rc != RESUMABLE_OK) {
    rs_fs_close(f);
    return rc;
  }
  *fd = f;
  return RESUMABLE_OK;
}

/* Hash the whole file; record it if it did not change meanwhile. */
static int rehash(rs_fs *fs, const char *key, const char *name, int fd, const struct stat *st,
                  resumable_complete_info *out)
{
  unsigned char *buf = malloc(HASH_CHUNK);
  if (buf == NULL)
    return RESUMABLE_E_NOMEM;
  rs_sha256 h;
  rs_sha256_init(&h);
  uint64_t off = 0;
  size_t got = 0;
  int rc;
  while ((rc = rs_fs_pread_full(fd, buf, HASH_CHUNK, off, &got)) == RESUMABLE_OK && got > 0) {
    rs_sha256_update(&h, buf, got);
    off += got;
  }
  free(buf);
  rs_sha256_finish(&h, out->sha256);
  rs_sha256_free(&h);
  if (rc != RESUMABLE_OK)
    return rc;
  out->size = off;
  struct stat after;
  rs_fs_ident before;
  rs_fs_ident_of(st, &before);
  if (off == (uint64_t)st->st_size && fstat(fd, &after) == 0 &&
      rs_fs_ident_matches(&before, &after))
    (void)rs_fs_sum_save(fs, name, key, st, out->sha256); /* best effort: a cache */
  return RESUMABLE_OK;
}

static int info_of(rs_fs *fs, const char *key, int fd, const struct stat *st,
                   resumable_complete_info *out)
{
  char name[RS_FS_NAME_LEN + 1];
  rs_fs_key_name(key, name);
  if (rs_fs_sum_load(fs, name, key, st, out->sha256) == RESUMABLE_OK) {
    out->size = (uint64_t)st->st_size;
    return RESUMABLE_OK;
  }
  return rehash(fs, key, name, fd, st, out);
}

int rs_fs_complete_stat(void *self, const char *key, resumable_complete_info *out)
{
  int fd = -1;
  struct stat st;
  if (!rs_fs_key_ok(key) || out == NULL)
    return RESUMABLE_E_INVALID_ARG;
  int rc = open_complete(self, key, &fd, &st);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = info_of(self, key, fd, &st, out);
  rs_fs_close(fd);
  return rc;
}

int rs_fs_complete_open(void *self, const char *key, void **reader, resumable_complete_info *out)
{
  int fd = -1;
  struct stat st;
  if (!rs_fs_key_ok(key) || reader == NULL)
    return RESUMABLE_E_INVALID_ARG;
  *reader = NULL;
  int rc = open_complete(self, key, &fd, &st);
  if (rc != RESUMABLE_OK)
    return rc;
  if (out != NULL)
    rc = info_of(self, key, fd, &st, out);
  fs_reader *r = rc == RESUMABLE_OK ? malloc(sizeof(*r)) : NULL;
  if (r == NULL) {
    rs_fs_close(fd);
    return rc == RESUMABLE_OK ? RESUMABLE_E_NOMEM : rc;
  }
  r->fd = fd;
  *reader = r;
  return RESUMABLE_OK;
}

int rs_fs_complete_read(void *self, void *reader, uint64_t offset, void *buf, size_t len,
                        size_t *got)
{
  (void)self;
  fs_reader *r = reader;
  if (r == NULL || got == NULL || (buf == NULL && len > 0))
    return RESUMABLE_E_INVALID_ARG;
  return rs_fs_pread_full(r->fd, buf, len, offset, got);
}

void rs_fs_complete_close(void *self, void *reader)
{
  (void)self;
  fs_reader *r = reader;
  if (r == NULL)
    return;
  rs_fs_close(r->fd);
  free(r);
}

int rs_fs_complete_path(void *self, const char *key, char *buf, size_t cap)
{
  rs_fs *fs = self;
  if (!rs_fs_key_ok(key) || buf == NULL)
    return RESUMABLE_E_INVALID_ARG;
  size_t klen = strlen(key);
  if (cap < fs->root_len + 1 + klen + 1)
    return RESUMABLE_E_INVALID_ARG;
  memcpy(buf, fs->root_path, fs->root_len);
  buf[fs->root_len] = '/';
  memcpy(buf + fs->root_len + 1, key, klen + 1);
  return RESUMABLE_OK;
}

/* The file goes, then the directories its removal emptied (under the namespace lock, so that
 * no commit is placing a file in them meanwhile). */
int rs_fs_complete_remove(void *self, const char *key)
{
  rs_fs *fs = self;
  char name[RS_FS_NAME_LEN + 1];
  int dirfd = -1;
  const char *leaf = NULL;
  struct stat st;
  if (!rs_fs_key_ok(key))
    return RESUMABLE_E_INVALID_ARG;
  int rc = rs_fs_ns_lock(fs);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = rs_fs_walk(fs, key, 0, &dirfd, &leaf);
  if (rc == RESUMABLE_OK) {
    rc = rs_fs_leaf_stat(dirfd, leaf, &st);
    if (rc == RESUMABLE_OK)
      rc = rs_fs_unlink(dirfd, leaf); /* never follows a link, even if one appeared meanwhile */
    if (rc == RESUMABLE_OK)
      rs_fs_ns_prune(fs, key);
  }
  rs_fs_ns_unlock(fs);
  if (rc == RESUMABLE_E_CONFLICT)
    rc = RESUMABLE_E_NOT_FOUND; /* not a file: nothing of this key's to remove */
  if (rc == RESUMABLE_OK) {
    rs_fs_key_name(key, name);
    (void)rs_fs_unlink(fs->sums_fd, name);
    (void)rs_fs_fsync(dirfd);
  }
  rs_fs_close(dirfd);
  return rc;
}
