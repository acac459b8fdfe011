/* partial_scan: list the partial uploads (their keys live in the metas) with the time their
 * files last changed, for the server's sweep of abandoned uploads. Read only. */
#include "store_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "resumable/error.h"

/* The later of the .meta and .data modification times (a write changes the data, a sync
 * rewrites the meta). NOT_FOUND when either file is gone (a remove or commit raced us). */
static int partial_mtime(rs_fs *fs, const char *name, int64_t *mtime)
{
  char file[RS_FS_FILE_MAX];
  struct stat m, d;
  rs_fs_file_name(file, name, "meta");
  if (fstatat(fs->part_fd, file, &m, AT_SYMLINK_NOFOLLOW) != 0)
    return rs_fs_err(errno);
  rs_fs_file_name(file, name, "data");
  if (fstatat(fs->part_fd, file, &d, AT_SYMLINK_NOFOLLOW) != 0)
    return rs_fs_err(errno);
  *mtime = (int64_t)(m.st_mtime > d.st_mtime ? m.st_mtime : d.st_mtime);
  return RESUMABLE_OK;
}

/* Visit the partial named `name` (hex of its key); `want` (may be NULL) must be its key.
 * Returns 1 to stop, 0 to go on (an unreadable or vanished partial is skipped). */
static int visit(rs_fs *fs, const char *name, const char *want, resumable_partial_visit_fn fn,
                 void *arg)
{
  char key[RS_KEY_MAX + 1], check[RS_FS_NAME_LEN + 1];
  int64_t mtime = 0;
  if (rs_fs_meta_key(fs, name, key) != RESUMABLE_OK)
    return 0;
  rs_fs_key_name(key, check);
  if (strcmp(check, name) != 0 || (want != NULL && strcmp(key, want) != 0))
    return 0; /* a meta under a foreign name: not this store's partial of that key */
  if (partial_mtime(fs, name, &mtime) != RESUMABLE_OK)
    return 0;
  return fn(arg, key, mtime) != 0;
}

/* "<64 hex>.meta" -> the hex name in out; 0 for any other file. */
static int meta_name(const char *file, char out[RS_FS_NAME_LEN + 1])
{
  if (strlen(file) != RS_FS_NAME_LEN + 5 || strcmp(file + RS_FS_NAME_LEN, ".meta") != 0)
    return 0;
  memcpy(out, file, RS_FS_NAME_LEN);
  out[RS_FS_NAME_LEN] = '\0';
  return 1;
}

static int scan_all(rs_fs *fs, resumable_partial_visit_fn fn, void *arg)
{
  /* A fresh open file description: a dup of part_fd would share its directory offset with
   * every other scan. */
  int fd;
  do {
    fd = openat(fs->part_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return rs_fs_err(errno);
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    int rc = rs_fs_err(errno);
    rs_fs_close(fd);
    return rc;
  }
  char name[RS_FS_NAME_LEN + 1];
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d)) != NULL) {
    if (meta_name(e->d_name, name) && visit(fs, name, NULL, fn, arg))
      break;
    errno = 0;
  }
  int rc = errno != 0 ? rs_fs_err(errno) : RESUMABLE_OK;
  closedir(d);
  return rc;
}

int rs_fs_partial_scan(void *self, const char *key, resumable_partial_visit_fn fn, void *arg)
{
  rs_fs *fs = self;
  if (fs == NULL || fn == NULL || (key != NULL && !rs_fs_key_ok(key)))
    return RESUMABLE_E_INVALID_ARG;
  if (key == NULL)
    return scan_all(fs, fn, arg);
  char name[RS_FS_NAME_LEN + 1];
  rs_fs_key_name(key, name);
  (void)visit(fs, name, key, fn, arg);
  return RESUMABLE_OK;
}
