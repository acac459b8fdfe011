/* The handler harness over the POSIX store (fuzz_handler_fs): a root in a dedicated parent
 * directory, made fresh for every input. Its own invariants, beyond the store-agnostic ones:
 * - nothing exists outside the root: the parent directory holds only the root;
 * - every regular file at a final path (outside <root>/.resumable) is a complete file whose
 *   size and SHA-256 (hashed here from the file, with mbedTLS) equal what complete_stat
 *   records, no symlink or other file type appears, and every recorded complete file is at its
 *   final path;
 * - X-Local-Path and "local_path" name <real root>/<key> (see backend_local_root). */
/* realpath() is an XSI extension in glibc. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"

#include "fuzz_handler.h"
#include "resumable/error.h"
#include "store_internal.h"
#include "test_fs.h"

static char parent_dir[256];
static char root_dir[300];
static char real_root[4096]; /* root_dir without symbolic links, as X-Local-Path shows it */

static void cleanup(void)
{
  (void)test_remove_tree(parent_dir);
}

static void setup_once(void)
{
  if (parent_dir[0] != '\0')
    return;
  FUZZ_CHECK(test_temp_dir(parent_dir, sizeof parent_dir, "fuzz") == 0);
  snprintf(root_dir, sizeof root_dir, "%s/root", parent_dir);
  FUZZ_CHECK(realpath(parent_dir, real_root) != NULL);
  FUZZ_CHECK(strlen(real_root) + 5 < sizeof real_root);
  strcat(real_root, "/root");
  atexit(cleanup);
}

/* -- the parent directory -------------------------------------------------------------------- */

static void list_parent(void)
{
  DIR *d = opendir(parent_dir);
  struct dirent *e;
  int entries = 0;
  FUZZ_CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (strcmp(e->d_name, "root") != 0)
      fprintf(stderr, "outside the root: %s/%s\n", parent_dir, e->d_name);
    FUZZ_CHECK(strcmp(e->d_name, "root") == 0);
    entries++;
  }
  closedir(d);
  FUZZ_CHECK(entries == 1);
}

/* The parent dir holds only the root. Listed once per input; after that, any change to its
 * entries (even one created and removed again) shows in its mtime, which is cheaper to read. */
static struct stat parent_snapshot;

static void check_parent(void)
{
  struct stat sb;
  FUZZ_CHECK(stat(parent_dir, &sb) == 0);
  /* mtime ticks coarsely; a tmpfs directory's size also counts its entries */
  if (sb.st_mtim.tv_sec == parent_snapshot.st_mtim.tv_sec &&
      sb.st_mtim.tv_nsec == parent_snapshot.st_mtim.tv_nsec &&
      sb.st_nlink == parent_snapshot.st_nlink && sb.st_size == parent_snapshot.st_size)
    return;
  list_parent(); /* names what is there */
  fprintf(stderr, "something was created and removed beside the root\n");
  FUZZ_CHECK(0);
}

/* -- the tree under the root ----------------------------------------------------------------- */

/* Size and SHA-256 of an open file, hashed here (not through the library). */
static uint64_t hash_fd(int fd, uint8_t out[32])
{
  mbedtls_sha256_context c;
  uint8_t buf[4096];
  uint64_t size = 0;
  ssize_t n;
  mbedtls_sha256_init(&c);
  FUZZ_CHECK(mbedtls_sha256_starts_ret(&c, 0) == 0);
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    FUZZ_CHECK(mbedtls_sha256_update_ret(&c, buf, (size_t)n) == 0);
    size += (uint64_t)n;
  }
  FUZZ_CHECK(n == 0);
  FUZZ_CHECK(mbedtls_sha256_finish_ret(&c, out) == 0);
  mbedtls_sha256_free(&c);
  return size;
}

/* Every regular file under dirfd (a directory at key prefix `rel`) is a recorded complete file. */
static void check_tree(fuzz_ctx *c, int dirfd, char *rel, size_t rel_len, int depth)
{
  DIR *d = fdopendir(dirfd);
  struct dirent *e;
  FUZZ_CHECK(d != NULL && depth < 600);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (depth == 0 && strcmp(e->d_name, ".resumable") == 0)
      continue;
    size_t n = strlen(e->d_name);
    FUZZ_CHECK(rel_len + n + 1 <= RS_KEY_MAX);
    memcpy(rel + rel_len, e->d_name, n + 1);
    struct stat sb;
    FUZZ_CHECK(fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0);
    if (S_ISDIR(sb.st_mode)) {
      int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      FUZZ_CHECK(sub >= 0);
      rel[rel_len + n] = '/';
      check_tree(c, sub, rel, rel_len + n + 1, depth + 1);
      continue;
    }
    if (!S_ISREG(sb.st_mode))
      fprintf(stderr, "not a regular file at a final path: %s\n", rel);
    FUZZ_CHECK(S_ISREG(sb.st_mode));
    resumable_complete_info info;
    uint8_t sha[32];
    int fd = openat(dirfd, e->d_name, O_RDONLY | O_NOFOLLOW);
    FUZZ_CHECK(fd >= 0);
    uint64_t size = hash_fd(fd, sha);
    close(fd);
    int rc = c->ops->complete_stat(c->self, rel, &info);
    if (rc != RESUMABLE_OK || info.size != size || memcmp(info.sha256, sha, 32) != 0)
      fprintf(stderr, "final file %s: stat rc %d, recorded size %llu, file size %llu\n", rel, rc,
              (unsigned long long)info.size, (unsigned long long)size);
    FUZZ_CHECK(rc == RESUMABLE_OK && info.size == size && memcmp(info.sha256, sha, 32) == 0);
  }
  closedir(d);
}

/* -- the backend interface ------------------------------------------------------------------- */

void backend_begin(fuzz_ctx *c, uint8_t config)
{
  (void)c, (void)config;
  setup_once();
}

int backend_keeps_server(void)
{
  return 0; /* a store holds descriptors of the root, which is made again for every input */
}

void backend_started(fuzz_ctx *c)
{
  (void)c;
  list_parent();
  FUZZ_CHECK(stat(parent_dir, &parent_snapshot) == 0);
}

resumable_store *backend_store(fuzz_ctx *c)
{
  resumable_store *store = NULL;
  FUZZ_CHECK(resumable_store_fs_new(&store, root_dir) == RESUMABLE_OK);
  c->ops = resumable_store_ops_of(store);
  c->self = resumable_store_self(store);
  return store;
}

void backend_check(fuzz_ctx *c, int full)
{
  char rel[RS_KEY_MAX + 2];
  if (full)
    list_parent();
  check_parent();
  int fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  FUZZ_CHECK(fd >= 0);
  check_tree(c, fd, rel, 0, 0);
  for (size_t i = 0; i < c->nkeys; i++) {
    resumable_complete_info info;
    if (c->ops->complete_stat(c->self, c->keys[i], &info) != RESUMABLE_OK)
      continue;
    char path[sizeof root_dir + RS_KEY_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", root_dir, c->keys[i]);
    int f = open(path, O_RDONLY | O_NOFOLLOW);
    FUZZ_CHECK(f >= 0); /* recorded, so it is at its final path */
    close(f);
  }
}

void backend_end(fuzz_ctx *c)
{
  (void)c;
  FUZZ_CHECK(test_remove_tree(root_dir) == 0);
}

const char *backend_local_root(void)
{
  return real_root;
}

int backend_may_run_out(const fuzz_ctx *c)
{
  (void)c;
  return 0; /* tmpfs in practice: a 507 would be a bug */
}
