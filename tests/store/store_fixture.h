/* Shared fixture for the POSIX store tests: a store on a fresh mkdtemp root, helpers that look
 * at the root from outside (plain paths, as an operator would), and recursive cleanup. */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resumable/error.h"
#include "resumable/store.h"
#include "sha256.h"
#include "store_internal.h"
#include "test_fs.h"

typedef struct fixture {
  char root[64];
  char outside[64]; /* a second temp dir a symlink can point at */
  resumable_store *store;
  const resumable_store_ops *ops;
  void *self;
} fixture;

static inline void fx_open_store(fixture *f)
{
  if (resumable_store_fs_new(&f->store, f->root) != RESUMABLE_OK) {
    fprintf(stderr, "resumable_store_fs_new(%s) failed\n", f->root);
    abort();
  }
  f->ops = resumable_store_ops_of(f->store);
  f->self = resumable_store_self(f->store);
}

/* A process restart: the store is freed and a new one opened on the same root. */
static inline void fx_restart(fixture *f)
{
  resumable_store_free(f->store);
  fx_open_store(f);
}

static inline int fx_setup(void **state)
{
  fixture *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return -1;
  if (test_temp_dir(f->root, sizeof(f->root), "store") != 0 ||
      test_temp_dir(f->outside, sizeof(f->outside), "outside") != 0)
    return -1;
  fx_open_store(f);
  *state = f;
  return 0;
}

static inline int fx_teardown(void **state)
{
  fixture *f = *state;
  resumable_store_free(f->store);
  (void)test_remove_tree(f->root);
  (void)test_remove_tree(f->outside);
  free(f);
  return 0;
}

static inline void fx_path(const fixture *f, const char *rel, char *out, size_t cap)
{
  snprintf(out, cap, "%s/%s", f->root, rel);
}

/* Write a file under the root from outside the store (no sidecar, no metadata). */
static inline void fx_write(const fixture *f, const char *rel, const void *data, size_t len)
{
  char p[512];
  fx_path(f, rel, p, sizeof(p));
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, data, len) != (ssize_t)len)
    abort();
  close(fd);
}

/* Bytes of a file under the root, or -1 if it cannot be opened. */
static inline long fx_read(const fixture *f, const char *rel, void *buf, size_t cap)
{
  char p[512];
  fx_path(f, rel, p, sizeof(p));
  int fd = open(p, O_RDONLY);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, cap);
  close(fd);
  return (long)n;
}

static inline int fx_exists(const fixture *f, const char *rel)
{
  char p[512];
  struct stat st;
  fx_path(f, rel, p, sizeof(p));
  return lstat(p, &st) == 0;
}

static inline long fx_size(const fixture *f, const char *rel)
{
  char p[512];
  struct stat st;
  fx_path(f, rel, p, sizeof(p));
  return lstat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* Number of entries in a directory under the root (or an absolute one), -1 if unreadable. */
static inline int fx_count(const char *dir)
{
  DIR *d = opendir(dir);
  if (d == NULL)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static inline int fx_count_rel(const fixture *f, const char *rel)
{
  char p[512];
  fx_path(f, rel, p, sizeof(p));
  return fx_count(p);
}

/* The store's file name for a key: hex SHA-256 of the key. */
static inline void fx_key_name(const char *key, char out[65])
{
  uint8_t d[32];
  rs_sha256_digest(key, strlen(key), d);
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ".resumable/partial/<hex>.<ext>" */
static inline void fx_partial_file(const char *key, const char *ext, char *out, size_t cap)
{
  char name[65];
  fx_key_name(key, name);
  snprintf(out, cap, ".resumable/partial/%s.%s", name, ext);
}

static inline resumable_partial_info fx_info(uint64_t total)
{
  resumable_partial_info info;
  memset(&info, 0, sizeof(info));
  info.total = total;
  return info;
}

/* Store `data` as the complete file at key, through a staging upload. `sha` NULL means the
 * true digest. */
static inline int fx_put(fixture *f, const char *key, const void *data, size_t len,
                         const uint8_t *sha)
{
  resumable_partial_info info = fx_info(len);
  resumable_complete_info ci;
  void *h = NULL;
  int rc = f->ops->partial_open(f->self, key, RESUMABLE_PARTIAL_STAGING, &info, &h, NULL);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = f->ops->partial_write(f->self, h, 0, data, len);
  ci.size = len;
  if (sha != NULL)
    memcpy(ci.sha256, sha, 32);
  else
    rs_sha256_digest(data, len, ci.sha256);
  if (rc == RESUMABLE_OK)
    rc = f->ops->partial_commit(f->self, h, &ci);
  f->ops->partial_close(f->self, h);
  return rc;
}

#endif
