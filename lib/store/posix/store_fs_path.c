/* Safe key resolution: a key is walked one segment at a time with openat(O_NOFOLLOW) from the
 * root's directory fd, so no path string is ever resolved by the kernel as a whole and no
 * symbolic link is ever followed. */
#include "store_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "resumable/error.h"
#include "hex.h"
#include "key.h"
#include "sha256.h"

void rs_fs_key_name(const char *key, char out[RS_FS_NAME_LEN + 1])
{
  uint8_t d[32];
  rs_sha256_digest(key, strlen(key), d);
  rs_sha256_hex_format(d, out);
}

int rs_fs_key_ok(const char *key)
{
  if (key == NULL)
    return 0;
  size_t n = strlen(key);
  return n >= 1 && n <= RS_KEY_MAX;
}

int rs_fs_is_part(const char *key)
{
  return strncmp(key, RESUMABLE_PART_PREFIX, sizeof(RESUMABLE_PART_PREFIX) - 1) == 0;
}

/* The handler validates keys; this repeats the rules that matter for escaping the root or
 * reaching the store's own state, so a bad key can never do harm. */
static int segment_ok(const char *s, size_t n)
{
  if (n == 0 || n > 255)
    return 0;
  if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
    return 0;
  if (n >= 10 && memcmp(s, ".resumable", 10) == 0)
    return 0;
  return 1;
}

static int open_dir(int at, const char *seg, int *out)
{
  int fd;
  do {
    fd = openat(at, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return rs_fs_err(errno);
  *out = fd;
  return RESUMABLE_OK;
}

/* Open (and with `create`, make) directory `seg` under `at`. */
static int step(int at, const char *seg, int create, int *out)
{
  int rc = open_dir(at, seg, out);
  if (rc != RESUMABLE_E_NOT_FOUND || !create)
    return rc;
  if (mkdirat(at, seg, 0755) == 0) {
    /* Make the new entry durable: a later commit only syncs the leaf's directory. If that
     * fails, take the directory back: a retry would find it and never sync its entry. */
    rc = rs_fs_fsync(at);
    if (rc != RESUMABLE_OK) {
      (void)unlinkat(at, seg, AT_REMOVEDIR);
      return rc;
    }
  } else if (errno != EEXIST) { /* EEXIST: a parallel commit made it */
    return rs_fs_err(errno);
  }
  rc = open_dir(at, seg, out);
  return rc == RESUMABLE_E_NOT_FOUND ? RESUMABLE_E_IO : rc;
}

/* Every segment checked before any is opened, so no answer depends on what exists. */
static int segments_ok(const char *key)
{
  const char *p = key, *slash;
  while ((slash = strchr(p, '/')) != NULL) {
    if (!segment_ok(p, (size_t)(slash - p)))
      return 0;
    p = slash + 1;
  }
  return segment_ok(p, strlen(p));
}

int rs_fs_walk(const rs_fs *fs, const char *key, int create, int *dirfd, const char **leaf)
{
  char seg[256];
  if (!segments_ok(key))
    return RESUMABLE_E_CONFLICT;
  int cur = fcntl(fs->root_fd, F_DUPFD_CLOEXEC, 0);
  if (cur < 0)
    return rs_fs_err(errno);
  const char *p = key;
  const char *slash;
  while ((slash = strchr(p, '/')) != NULL) {
    size_t n = (size_t)(slash - p);
    memcpy(seg, p, n);
    seg[n] = '\0';
    int next = -1;
    int rc = step(cur, seg, create, &next);
    rs_fs_close(cur);
    if (rc != RESUMABLE_OK)
      return rc;
    cur = next;
    p = slash + 1;
  }
  *dirfd = cur;
  *leaf = p;
  return RESUMABLE_OK;
}

int rs_fs_leaf_stat(int dirfd, const char *leaf, struct stat *st)
{
  int r;
  do {
    r = fstatat(dirfd, leaf, st, AT_SYMLINK_NOFOLLOW);
  } while (r != 0 && errno == EINTR);
  if (r != 0)
    return rs_fs_err(errno);
  return S_ISREG(st->st_mode) ? RESUMABLE_OK : RESUMABLE_E_CONFLICT;
}
