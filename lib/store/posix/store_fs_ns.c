/* The shape of the key space: which uploads may begin, and where directories come and go.
 *
 * Keys nest: "e" and "e/f" cannot both be files. Whether a key may be placed depends on other
 * keys (files at its parent paths, files or uploads below it), and directories are made by
 * commits and removed when a removal empties them, so every operation that changes or relies on
 * that shape runs under one namespace lock: in-process a mutex, across processes an OFD lock on
 * .resumable/ns.lock. It is held only around a few directory operations (no data, no fsync of
 * a file), per upload start, commit and removal; never per body piece.
 *
 * Under it, a commit's walk that makes directories and a removal's rmdir of an emptied one
 * cannot interleave (the rmdir could otherwise take a directory a commit has just opened, and
 * the commit's rename would fail). Readers (HEAD, GET) do not take it: a directory removed under
 * them was empty, so the key they looked for was absent anyway. */
#include "store_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "resumable/error.h"

int rs_fs_ns_lock(rs_fs *fs)
{
  pthread_mutex_lock(&fs->ns_mu);
  int rc = rs_fs_lock(fs->ns_fd, 0, 0, 1, 1);
  if (rc != RESUMABLE_OK)
    pthread_mutex_unlock(&fs->ns_mu);
  return rc;
}

void rs_fs_ns_unlock(rs_fs *fs)
{
  rs_fs_unlock(fs->ns_fd, 0, 0);
  pthread_mutex_unlock(&fs->ns_mu);
}

/* A partial upload of any proper prefix of key ("e" for "e/f")? */
static int partial_above(rs_fs *fs, const char *key)
{
  char prefix[RS_KEY_MAX + 1], name[RS_FS_NAME_LEN + 1];
  for (const char *slash = strchr(key, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    size_t n = (size_t)(slash - key);
    memcpy(prefix, key, n);
    prefix[n] = '\0';
    rs_fs_key_name(prefix, name);
    if (rs_fs_partial_exists(fs, name))
      return 1;
  }
  return 0;
}

/* The leaf is absent, a regular file, or an empty directory that nothing needs (a leftover: it
 * is removed). Anything else cannot be replaced by a file. */
static int leaf_free(int dirfd, const char *leaf)
{
  struct stat st;
  int rc = rs_fs_leaf_stat(dirfd, leaf, &st);
  if (rc != RESUMABLE_E_CONFLICT)
    return rc == RESUMABLE_E_NOT_FOUND ? RESUMABLE_OK : rc;
  if (!S_ISDIR(st.st_mode))
    return RESUMABLE_E_CONFLICT;
  if (unlinkat(dirfd, leaf, AT_REMOVEDIR) == 0)
    return RESUMABLE_OK;
  return errno == ENOTEMPTY || errno == EEXIST ? RESUMABLE_E_CONFLICT : rs_fs_err(errno);
}

int rs_fs_ns_check(rs_fs *fs, const char *key)
{
  if (partial_above(fs, key))
    return RESUMABLE_E_CONFLICT;
  int below = rs_fs_claims_below(fs, key);
  if (below != 0)
    return below > 0 ? RESUMABLE_E_CONFLICT : below;
  int dirfd = -1;
  const char *leaf = NULL;
  int rc = rs_fs_walk(fs, key, 0, &dirfd, &leaf);
  if (rc == RESUMABLE_E_NOT_FOUND)
    return RESUMABLE_OK; /* missing directories are made at commit */
  if (rc != RESUMABLE_OK)
    return rc;
  rc = leaf_free(dirfd, leaf);
  rs_fs_close(dirfd);
  return rc;
}

void rs_fs_ns_prune(rs_fs *fs, const char *key)
{
  char dir[RS_KEY_MAX + 1];
  size_t n = strlen(key);
  memcpy(dir, key, n + 1);
  for (char *slash; (slash = strrchr(dir, '/')) != NULL;) {
    *slash = '\0';
    int dirfd = -1;
    const char *leaf = NULL;
    if (rs_fs_walk(fs, dir, 0, &dirfd, &leaf) != RESUMABLE_OK)
      return;
    int gone = unlinkat(dirfd, leaf, AT_REMOVEDIR) == 0; /* fails unless empty */
    rs_fs_close(dirfd);
    if (!gone)
      return;
  }
}
