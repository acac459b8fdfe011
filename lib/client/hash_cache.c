/* The hash cache on disk: lookup, atomic replace, bounded size (see hash_cache.h). */
#include "hash_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX "." RS_HC_FILE ".tmp."
#define TMP_STALE_SEC 3600 /* a temporary file this old was left by a crashed writer */

void rs_hc_key_from_stat(rs_hc_key *k, const struct stat *st)
{
  memset(k, 0, sizeof *k);
  k->dev = (uint64_t)st->st_dev;
  k->ino = (uint64_t)st->st_ino;
  k->size = (uint64_t)st->st_size;
  k->mtime_sec = (int64_t)st->st_mtim.tv_sec;
  k->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
  k->ctime_sec = (int64_t)st->st_ctim.tv_sec;
  k->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
}

int rs_hc_key_equal(const rs_hc_key *a, const rs_hc_key *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
         a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

/* a >= b on (seconds, nanoseconds). */
static int ts_ge(int64_t as, int64_t an, int64_t bs, int64_t bn)
{
  return as > bs || (as == bs && an >= bn);
}

int rs_hc_racy(const rs_hc_key *k, const struct timespec *now, int64_t margin_ns)
{
  if (margin_ns < 0)
    margin_ns =
        (k->mtime_nsec == 0 || k->ctime_nsec == 0) ? RS_HC_MARGIN_COARSE_NS : RS_HC_MARGIN_FINE_NS;
  if (margin_ns > INT64_C(10000000000))
    margin_ns = INT64_C(10000000000);
  /* limit = now - margin, normalised; now is a sane clock value, so nothing overflows. */
  int64_t ls = (int64_t)now->tv_sec - margin_ns / 1000000000;
  int64_t ln = (int64_t)now->tv_nsec - margin_ns % 1000000000;
  if (ln < 0) {
    ln += 1000000000;
    ls--;
  }
  return ts_ge(k->mtime_sec, k->mtime_nsec, ls, ln) || ts_ge(k->ctime_sec, k->ctime_nsec, ls, ln);
}

static int join(char *out, size_t cap, const char *dir, const char *name)
{
  int n = snprintf(out, cap, "%s/%s", dir, name);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The whole cache file if it checks out, else NULL. */
static uint8_t *read_cache(const char *dir, size_t *count)
{
  char path[PATH_MAX];
  if (join(path, sizeof path, dir, RS_HC_FILE) != 0)
    return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return NULL;
  struct stat st;
  uint8_t *buf = NULL;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (uint64_t)st.st_size <= rs_hc_file_size(RS_HC_LIMIT))
    buf = malloc((size_t)st.st_size);
  size_t len = buf ? (size_t)st.st_size : 0, got = 0;
  while (buf && got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (buf && (got != len || rs_hc_check(buf, len, count) != 0)) {
    free(buf);
    buf = NULL;
  }
  return buf;
}

int rs_hc_lookup(const char *dir, const rs_hc_key *k, uint8_t sha[32])
{
  size_t n = 0;
  uint8_t *buf = read_cache(dir, &n);
  int hit = 0;
  for (size_t i = 0; buf && i < n && !hit; i++) {
    rs_hc_key e;
    uint8_t d[32];
    rs_hc_record_get(buf, i, &e, d);
    if (rs_hc_key_equal(&e, k)) {
      memcpy(sha, d, 32);
      hit = 1;
    }
  }
  free(buf);
  return hit;
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir)
{
  struct stat st;
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
    return 0;
  char p[PATH_MAX];
  size_t len = strlen(dir);
  if (len == 0 || len >= sizeof p)
    return EINVAL;
  memcpy(p, dir, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (p[i] != '/' && p[i] != '\0')
      continue;
    char c = p[i];
    p[i] = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
      int e = errno; /* e.g. EACCES on a parent that exists but is not ours */
      if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
        return e;
    }
    p[i] = c;
  }
  if (stat(dir, &st) != 0)
    return errno;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* The new file: (k, sha) first, then the old records for other files, newest first. */
static uint8_t *build(const uint8_t *old, size_t n_old, const rs_hc_key *k, const uint8_t sha[32],
                      size_t max, size_t *len)
{
  size_t cap = n_old + 1 < max ? n_old + 1 : max;
  uint8_t *buf = malloc(rs_hc_file_size(cap));
  if (!buf)
    return NULL;
  rs_hc_record_put(buf + RS_HC_HEADER, k, sha, (uint64_t)time(NULL));
  size_t n = 1;
  for (size_t i = 0; i < n_old && n < cap; i++) {
    rs_hc_key e;
    uint8_t d[32];
    rs_hc_record_get(old, i, &e, d);
    if (e.dev == k->dev && e.ino == k->ino)
      continue; /* an older version of the same file */
    memcpy(buf + RS_HC_HEADER + n * RS_HC_RECORD, old + RS_HC_HEADER + i * RS_HC_RECORD,
           RS_HC_RECORD);
    n++;
  }
  rs_hc_seal(buf, n);
  *len = rs_hc_file_size(n);
  return buf;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, buf + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    done += (size_t)n;
  }
  return 0;
}

/* A fresh temporary file in dir, named apart from every other writer's. */
static int open_temp(const char *dir, char *path, size_t cap)
{
  static atomic_ulong seq;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  for (int tries = 0; tries < 8; tries++) {
    char name[96];
    snprintf(name, sizeof name, TMP_PREFIX "%ld.%lu.%ld", (long)getpid(), atomic_fetch_add(&seq, 1),
             (long)ts.tv_nsec);
    if (join(path, cap, dir, name) != 0) {
      errno = ENAMETOOLONG;
      return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 || errno != EEXIST)
      return fd;
  }
  return -1;
}

/* Temporary files of writers that died before their rename. */
static void sweep_stale(const char *dir)
{
  DIR *d = opendir(dir);
  if (!d)
    return;
  time_t now = time(NULL);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char path[PATH_MAX];
    struct stat st;
    if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 ||
        join(path, sizeof path, dir, e->d_name) != 0 || lstat(path, &st) != 0)
      continue;
    if (S_ISREG(st.st_mode) && now - st.st_mtim.tv_sec > TMP_STALE_SEC)
      (void)unlink(path);
  }
  closedir(d);
}

/* Write buf to a temporary file, make it durable, rename it over the cache. */
static int replace(const char *dir, const uint8_t *buf, size_t len)
{
  char tmp[PATH_MAX], dst[PATH_MAX];
  if (join(dst, sizeof dst, dir, RS_HC_FILE) != 0)
    return ENAMETOOLONG;
  int fd = open_temp(dir, tmp, sizeof tmp);
  if (fd < 0)
    return errno;
  int err = write_all(fd, buf, len);
  if (!err && fsync(fd) != 0)
    err = errno;
  if (close(fd) != 0 && !err)
    err = errno;
  if (!err && rename(tmp, dst) != 0)
    err = errno;
  if (err) {
    (void)unlink(tmp);
    return err;
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) { /* the rename's durability; losing it would only cost a re-hash */
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;
}

int rs_hc_store(const char *dir, const rs_hc_key *k, const uint8_t sha[32], size_t max_entries)
{
  if (max_entries == 0 || max_entries > RS_HC_LIMIT)
    return EINVAL;
  int err = make_dirs(dir);
  if (err)
    return err;
  size_t n_old = 0, len = 0;
  uint8_t *old = read_cache(dir, &n_old);
  uint8_t *buf = build(old, old ? n_old : 0, k, sha, max_entries, &len);
  free(old);
  if (!buf)
    return ENOMEM;
  err = replace(dir, buf, len);
  free(buf);
  sweep_stale(dir);
  return err;
}
