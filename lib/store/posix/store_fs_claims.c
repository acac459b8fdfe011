/* Claims: which directories of the key space partial uploads are going to need.
 *
 * A partial of "e/f/g" will, at its commit, need "e" and "e/f" to be directories. Until then
 * nothing under the root says so (directories are made at commit), so a file committed as "e"
 * would strand the partial: all its bytes received, and no way to place them. So each partial
 * claims its key's proper prefixes: an empty file named <hex of the key> in
 * .resumable/claims/<hex of the prefix>/. An upload of a key with a live claim below it is then
 * refused at its start (store_fs_ns.c).
 *
 * A claim is live while its partial's .data or .meta exists; a stale one (a crash between the
 * claim and the partial's files, or between their removal and the claim's) is removed when met.
 * Claims are an index, not a record: they are not fsynced, and a store rebuilds them from the
 * metas when it opens (rs_fs_claims_rebuild), which also covers partials of older versions.
 * Every function here runs under the namespace lock (rs_fs_ns_lock). */
#include "store_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "resumable/error.h"
#include "hex.h"
#include "sha256.h"

/* Hex SHA-256 of key[0..len): the claims directory of that prefix. */
static void prefix_name(const char *key, size_t len, char out[RS_FS_NAME_LEN + 1])
{
  uint8_t d[32];
  rs_sha256_digest(key, len, d);
  rs_sha256_hex_format(d, out);
}

int rs_fs_partial_exists(rs_fs *fs, const char *name)
{
  char file[RS_FS_FILE_MAX];
  struct stat st;
  rs_fs_file_name(file, name, "meta");
  if (fstatat(fs->part_fd, file, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return 1;
  rs_fs_file_name(file, name, "data");
  return fstatat(fs->part_fd, file, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int rs_fs_claims_add(rs_fs *fs, const char *key, const char *name)
{
  char dir[RS_FS_NAME_LEN + 1];
  for (const char *slash = strchr(key, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    prefix_name(key, (size_t)(slash - key), dir);
    if (mkdirat(fs->claims_fd, dir, 0700) != 0 && errno != EEXIST)
      return rs_fs_err(errno);
    int d = openat(fs->claims_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0)
      return rs_fs_err(errno) == RESUMABLE_E_NOT_FOUND ? RESUMABLE_E_IO : rs_fs_err(errno);
    int f = openat(d, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = f < 0 ? rs_fs_err(errno) : RESUMABLE_OK;
    rs_fs_close(f);
    rs_fs_close(d);
    if (rc != RESUMABLE_OK)
      return rc;
  }
  return RESUMABLE_OK;
}

void rs_fs_claims_drop(rs_fs *fs, const char *key, const char *name)
{
  char dir[RS_FS_NAME_LEN + 1];
  for (const char *slash = strchr(key, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    prefix_name(key, (size_t)(slash - key), dir);
    int d = openat(fs->claims_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0)
      continue;
    (void)unlinkat(d, name, 0);
    rs_fs_close(d);
    (void)unlinkat(fs->claims_fd, dir, AT_REMOVEDIR); /* fails while other claims remain */
  }
}

/* A claim's file name is the 64-hex name of its partial. */
static int claim_name(const char *s)
{
  if (strlen(s) != RS_FS_NAME_LEN)
    return 0;
  for (const char *p = s; *p; p++)
    if (rs_hex_digit((unsigned char)*p) < 0)
      return 0;
  return 1;
}

int rs_fs_claims_below(rs_fs *fs, const char *key)
{
  char dir[RS_FS_NAME_LEN + 1];
  prefix_name(key, strlen(key), dir);
  int d = openat(fs->claims_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0)
    return errno == ENOENT ? 0 : rs_fs_err(errno);
  int scan = fcntl(d, F_DUPFD_CLOEXEC, 0);
  DIR *it = scan >= 0 ? fdopendir(scan) : NULL;
  if (it == NULL) {
    rs_fs_close(scan);
    rs_fs_close(d);
    return RESUMABLE_E_IO;
  }
  int live = 0;
  struct dirent *e;
  while (!live && (e = readdir(it)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (claim_name(e->d_name) && rs_fs_partial_exists(fs, e->d_name))
      live = 1;
    else
      (void)unlinkat(d, e->d_name, 0); /* stale, or not ours */
  }
  closedir(it);
  rs_fs_close(d);
  if (!live)
    (void)unlinkat(fs->claims_fd, dir, AT_REMOVEDIR);
  return live;
}

void rs_fs_claims_rebuild(rs_fs *fs)
{
  int fd = openat(fs->part_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    rs_fs_close(fd);
    return;
  }
  char name[RS_FS_NAME_LEN + 1], key[RS_KEY_MAX + 1], check[RS_FS_NAME_LEN + 1];
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n != RS_FS_NAME_LEN + 5 || strcmp(e->d_name + RS_FS_NAME_LEN, ".meta") != 0)
      continue;
    memcpy(name, e->d_name, RS_FS_NAME_LEN);
    name[RS_FS_NAME_LEN] = '\0';
    if (rs_fs_meta_key(fs, name, key) != RESUMABLE_OK)
      continue;
    rs_fs_key_name(key, check);
    if (strcmp(check, name) == 0 && !rs_fs_is_part(key))
      (void)rs_fs_claims_add(fs, key, name); /* best effort: an index */
  }
  closedir(d);
}
