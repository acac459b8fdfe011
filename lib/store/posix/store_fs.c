/* The POSIX store: opens the root and its private .resumable/ tree once, clears what a crash
 * left behind, and exposes the ops table. See store_fs.h for the on-disk layout. */
/* realpath() is an XSI extension in glibc. */
#define _XOPEN_SOURCE 700
#include "store_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errno_error.h"
#include "resumable/error.h"

static void fs_destroy(void *self)
{
  rs_fs *fs = self;
  if (fs == NULL)
    return;
  rs_fs_flusher_free(fs->flusher);
  if (fs->owners_ready)
    rs_fs_owners_fini(fs);
  rs_fs_close(fs->locks_fd);
  rs_fs_close(fs->ns_fd);
  rs_fs_close(fs->claims_fd);
  rs_fs_close(fs->tmp_fd);
  rs_fs_close(fs->sums_fd);
  rs_fs_close(fs->part_fd);
  rs_fs_close(fs->state_fd);
  rs_fs_close(fs->root_fd);
  free(fs->root_path);
  pthread_mutex_destroy(&fs->ns_mu);
  free(fs);
}

static const resumable_store_ops fs_ops = {
    RESUMABLE_STORE_OPS_INIT,
    .complete_stat = rs_fs_complete_stat,
    .complete_open = rs_fs_complete_open,
    .complete_read = rs_fs_complete_read,
    .complete_close = rs_fs_complete_close,
    .complete_path = rs_fs_complete_path,
    .partial_stat = rs_fs_partial_stat,
    .partial_open = rs_fs_partial_open,
    .partial_write = rs_fs_partial_write,
    .partial_read = rs_fs_partial_read,
    .partial_sync = rs_fs_partial_sync,
    .partial_commit = rs_fs_partial_commit,
    .partial_close = rs_fs_partial_close,
    .partial_remove = rs_fs_partial_remove,
    .complete_remove = rs_fs_complete_remove,
    .destroy = fs_destroy,
    .partial_scan = rs_fs_partial_scan,
    .key_lock = rs_fs_key_lock,
    .key_unlock = rs_fs_key_unlock,
    .key_release = rs_fs_key_release,
};

/* mkdir -p for the root path given by the host (a trusted path, so plain mkdir is fine). */
static int make_root(const char *root)
{
  size_t n = strlen(root);
  char *p = malloc(n + 1);
  if (p == NULL)
    return RESUMABLE_E_NOMEM;
  memcpy(p, root, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != '\0')
      continue;
    char c = p[i];
    p[i] = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      int e = errno;
      free(p);
      return rs_errno_error(e, RESUMABLE_E_IO);
    }
    p[i] = c;
  }
  free(p);
  return RESUMABLE_OK;
}

/* Make (if missing) and open a private directory; never through a symlink. */
static int private_dir(int at, const char *name, int *out)
{
  if (mkdirat(at, name, 0700) != 0 && errno != EEXIST)
    return rs_errno_error(errno, RESUMABLE_E_IO);
  int fd;
  do {
    fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return rs_errno_error(errno, RESUMABLE_E_IO);
  *out = fd;
  return RESUMABLE_OK;
}

/* Calls fn for every entry of directory fd except "." and "..". */
static void each_entry(int fd, void (*fn)(int dirfd, const char *name, void *arg), void *arg)
{
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0)
    return;
  DIR *d = fdopendir(dup);
  if (d == NULL) {
    rs_fs_close(dup);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      fn(fd, e->d_name, arg);
  }
  closedir(d);
}

/* A staging file or half-written record is live while its creator holds its lock
 * (rs_fs_tmp_create): whatever process, on whatever host, made it. An unlocked one is a dead
 * process's, and is never resumed. Taken and removed under its lock, so its creator, had it
 * just made it, sees the removal (rs_fs_tmp_create). */
static void drop_stale_temp(int dirfd, const char *name, void *arg)
{
  (void)arg;
  int fd;
  do {
    fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && rs_fs_lock(fd, 0, 1, 1, 0) == RESUMABLE_OK)
    (void)rs_fs_unlink(dirfd, name);
  rs_fs_close(fd);
}

/* A lock file is removed by the last owner of its key; one left by a dead process is removed
 * here, under the same protocol (rs_fs_key_try_name), unless a process holds or wants it. */
static void drop_stale_lock(int dirfd, const char *name, void *arg)
{
  rs_fs *fs = arg;
  int fd = -1;
  (void)dirfd;
  if (strlen(name) == RS_FS_NAME_LEN && rs_fs_key_try_name(fs, name, &fd) == RESUMABLE_OK)
    rs_fs_key_untry(fs, name, fd);
}

/* A data file without its meta (a crash inside partial_open CREATE) or a meta without data
 * (inside a commit or remove) is no partial at all. Another process may be inside such a step
 * right now, so the key is taken first (only if nobody holds or wants it) and the pair looked at
 * again under it. */
static void drop_orphan(int dirfd, const char *name, void *arg)
{
  rs_fs *fs = arg;
  size_t n = strlen(name);
  char other[RS_FS_FILE_MAX], key[RS_FS_NAME_LEN + 1];
  struct stat st;
  if (n != RS_FS_NAME_LEN + 5 || name[RS_FS_NAME_LEN] != '.') {
    (void)rs_fs_unlink(dirfd, name); /* not ours */
    return;
  }
  const char *ext = name + RS_FS_NAME_LEN + 1;
  const char *want = strcmp(ext, "data") == 0 ? "meta" : strcmp(ext, "meta") == 0 ? "data" : "";
  memcpy(other, name, RS_FS_NAME_LEN + 1);
  memcpy(other + RS_FS_NAME_LEN + 1, want, strlen(want) + 1);
  if (*want == '\0') {
    (void)rs_fs_unlink(dirfd, name);
    return;
  }
  if (fstatat(dirfd, other, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return; /* a pair: a partial */
  memcpy(key, name, RS_FS_NAME_LEN);
  key[RS_FS_NAME_LEN] = '\0';
  int fd = -1;
  if (rs_fs_key_try_name(fs, key, &fd) != RESUMABLE_OK)
    return; /* in use: its owner completes or cleans it */
  if (fstatat(dirfd, other, &st, AT_SYMLINK_NOFOLLOW) != 0)
    (void)rs_fs_unlink(dirfd, name);
  rs_fs_key_untry(fs, key, fd);
}

static int fs_open(rs_fs *fs, const char *root)
{
  int rc = make_root(root);
  if (rc != RESUMABLE_OK)
    return rc;
  do {
    fs->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fs->root_fd < 0 && errno == EINTR);
  if (fs->root_fd < 0)
    return rs_errno_error(errno, RESUMABLE_E_IO);
  fs->root_path = realpath(root, NULL);
  if (fs->root_path == NULL)
    return rs_errno_error(errno, RESUMABLE_E_IO);
  fs->root_len = strlen(fs->root_path);
  if (fs->root_len == 1) /* "/" : avoid "//key" */
    fs->root_len = 0;
  rc = private_dir(fs->root_fd, ".resumable", &fs->state_fd);
  if (rc == RESUMABLE_OK)
    rc = private_dir(fs->state_fd, "partial", &fs->part_fd);
  if (rc == RESUMABLE_OK)
    rc = private_dir(fs->state_fd, "sums", &fs->sums_fd);
  if (rc == RESUMABLE_OK)
    rc = private_dir(fs->state_fd, "tmp", &fs->tmp_fd);
  if (rc == RESUMABLE_OK)
    rc = private_dir(fs->state_fd, "claims", &fs->claims_fd);
  if (rc == RESUMABLE_OK)
    rc = private_dir(fs->state_fd, "locks", &fs->locks_fd);
  if (rc == RESUMABLE_OK) {
    do {
      fs->ns_fd = openat(fs->state_fd, "ns.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    } while (fs->ns_fd < 0 && errno == EINTR);
    if (fs->ns_fd < 0)
      rc = rs_errno_error(errno, RESUMABLE_E_IO);
  }
  return rc;
}

int resumable_store_fs_new(resumable_store **out, const char *root)
{
  if (out == NULL)
    return RESUMABLE_E_INVALID_ARG;
  *out = NULL;
  if (root == NULL || root[0] == '\0')
    return RESUMABLE_E_INVALID_ARG;
  rs_fs *fs = calloc(1, sizeof(*fs));
  if (fs == NULL)
    return RESUMABLE_E_NOMEM;
  fs->root_fd = fs->state_fd = fs->part_fd = fs->sums_fd = fs->tmp_fd = -1;
  fs->claims_fd = fs->ns_fd = fs->locks_fd = -1;
  atomic_init(&fs->seq, 0);
  if (pthread_mutex_init(&fs->ns_mu, NULL) != 0) {
    free(fs);
    return RESUMABLE_E_NOMEM;
  }
  int rc = rs_fs_owners_init(fs);
  fs->owners_ready = rc == RESUMABLE_OK;
  if (rc == RESUMABLE_OK)
    rc = fs_open(fs, root);
  if (rc == RESUMABLE_OK)
    rc = rs_fs_flusher_new(&fs->flusher);
  if (rc == RESUMABLE_OK) {
    each_entry(fs->tmp_fd, drop_stale_temp, NULL);
    each_entry(fs->part_fd, drop_orphan, fs);
    each_entry(fs->locks_fd, drop_stale_lock, fs);
    rc = rs_fs_ns_lock(fs);
  }
  if (rc == RESUMABLE_OK) {
    rs_fs_claims_rebuild(fs);
    rs_fs_ns_unlock(fs);
    rc = resumable_store_new(out, &fs_ops, fs);
  }
  if (rc != RESUMABLE_OK)
    fs_destroy(fs);
  return rc;
}
