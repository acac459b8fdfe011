/* The handler harness's checks on the store: the tree under the root, the parent dir, and each
 * request's effect on the keys' metadata. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_handler.h"
#include "resumable/error.h"

/* -- state invariants ------------------------------------------------------------------------ */

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

void snapshot_parent(void)
{
  list_parent();
  FUZZ_CHECK(stat(parent_dir, &parent_snapshot) == 0);
}

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

void check_state(fuzz_ctx *c, int full)
{
  char rel[RS_KEY_MAX + 2];
  if (full)
    list_parent();
  check_parent();
  int fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  FUZZ_CHECK(fd >= 0);
  check_tree(c, fd, rel, 0, 0);
  for (size_t i = 0; i < c->nkeys; i++) {
    resumable_partial_info p;
    resumable_complete_info info;
    if (c->ops->partial_stat(c->self, c->keys[i], &p) == RESUMABLE_OK)
      FUZZ_CHECK(p.held <= p.total);
    if (c->ops->complete_stat(c->self, c->keys[i], &info) == RESUMABLE_OK) {
      int f = open_final(c->keys[i]);
      FUZZ_CHECK(f >= 0); /* recorded, so it is at its final path */
      close(f);
    }
  }
}

void snapshot(fuzz_ctx *c, key_state *out)
{
  for (size_t i = 0; i < c->nkeys; i++) {
    resumable_partial_info p;
    resumable_complete_info ci;
    memset(&out[i], 0, sizeof out[i]);
    out[i].partial = c->ops->partial_stat(c->self, c->keys[i], &p) == RESUMABLE_OK;
    if (out[i].partial) {
      out[i].held = p.held;
      out[i].total = p.total;
      out[i].has_target = p.has_target;
      if (p.has_target)
        memcpy(out[i].target, p.target_sha256, 32);
    }
    out[i].complete = c->ops->complete_stat(c->self, c->keys[i], &ci) == RESUMABLE_OK;
    if (out[i].complete) {
      out[i].size = ci.size;
      memcpy(out[i].sha, ci.sha256, 32);
    }
  }
}

static const key_state *state_of(const fuzz_ctx *c, const key_state *snap, const char *key)
{
  for (size_t i = 0; i < c->nkeys; i++)
    if (strcmp(c->keys[i], key) == 0)
      return &snap[i];
  return NULL;
}

/* A request that ran alone, judged against the state before and after it. */
void check_effect(fuzz_ctx *c, const request *q, const key_state *before,
                         const key_state *after, int st, int at_headers,
                         const resumable_exchange *ex)
{
  /* PROTOCOL.md: refused requests touch nothing; HEAD, GET and other methods only read. */
  int untouched = (at_headers && (st == 401 || st == 404 || st == 405 || st == 413 ||
                                  st == 416 || (st == 400 && q->key[0] == '\0'))) ||
                  !(q->is_put || strcmp(q->method, "DELETE") == 0);
  if (untouched && memcmp(before, after, c->nkeys * sizeof *before) != 0)
    fprintf(stderr, "%s %s -> %d changed the store\n", q->method, q->path, st);
  FUZZ_CHECK(!untouched || memcmp(before, after, c->nkeys * sizeof *before) == 0);
  if (q->key[0] == '\0' || st == 401)
    return;
  const key_state *b = state_of(c, before, q->key), *a = state_of(c, after, q->key);
  FUZZ_CHECK(b != NULL && a != NULL);
  if (strcmp(q->method, "HEAD") == 0 && st == 200) {
    const char *size = reply_header((resumable_exchange *)ex, "X-File-Size");
    if (b->partial) { /* the upload's progress, never a prefix hash */
      FUZZ_CHECK(header_u64(size) == b->held);
      FUZZ_CHECK(header_u64(reply_header((resumable_exchange *)ex, "X-Upload-Total")) == b->total);
      FUZZ_CHECK(reply_header((resumable_exchange *)ex, "X-Content-SHA256") == NULL);
    } else {
      char hex[65];
      const char *h = reply_header((resumable_exchange *)ex, "X-Content-SHA256");
      hex_of(b->sha, hex, 0);
      FUZZ_CHECK(b->complete && header_u64(size) == b->size && h && strcmp(h, hex) == 0);
    }
  }
  if (strcmp(q->method, "HEAD") == 0 && st == 404)
    FUZZ_CHECK(!b->partial && !b->complete);
  if (strcmp(q->method, "DELETE") == 0 && st == 204)
    FUZZ_CHECK((b->partial || b->complete) && !a->partial && !a->complete);
  if (strcmp(q->method, "DELETE") == 0 && st == 404)
    FUZZ_CHECK(!b->partial && !b->complete);
  if (q->is_put && st == 308 && q->has_range) { /* a chunk landed: the binding it leaves */
    FUZZ_CHECK(a->partial);
    if (q->sent_hash)
      FUZZ_CHECK(a->has_target && memcmp(a->target, q->sha, 32) == 0);
    else if (b->partial && q->offset > 0) /* continued without the header: binding unchanged */
      FUZZ_CHECK(a->has_target == b->has_target &&
                 (!a->has_target || memcmp(a->target, b->target, 32) == 0));
  }
  if (q->is_put && st == 416)
    FUZZ_CHECK(header_u64(reply_header((resumable_exchange *)ex, "X-File-Size")) ==
               (b->partial ? b->held : 0));
}
