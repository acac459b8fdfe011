/* Integration helpers: test data, SHA-256 (mbedTLS directly), files and directory trees. */
#include "itest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

void it_fill(void *buf, size_t len, unsigned seed)
{
  uint32_t x = 2463534242u ^ (seed * 2654435761u);
  unsigned char *p = buf;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13; /* xorshift: cheap bytes that differ per seed and per offset */
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (unsigned char)x;
  }
}

void it_sha256_hex(const void *data, size_t len, char out[65])
{
  unsigned char d[32];
#if MBEDTLS_VERSION_MAJOR >= 3
  assert_int_equal(mbedtls_sha256(data, len, d, 0), 0);
#else
  assert_int_equal(mbedtls_sha256_ret(data, len, d, 0), 0);
#endif
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

#ifdef IT_S3
#include "s3_env.h"
const s3_env *it_s3_env(void);

/* On the S3 store (tests/s3), a server's final paths are objects "<temp dir name>/<key>". */
static char *read_object(const char *path, size_t *len)
{
  const char *dir = path + strlen("/tmp/"), *root = strstr(dir, "/root/");
  char object[1100];
  if (it_s3_env() == NULL || root == NULL)
    return NULL;
  snprintf(object, sizeof object, "%.*s/%s", (int)(root - dir), dir, root + strlen("/root/"));
  return s3_env_get_object(it_s3_env(), object, len);
}
#endif

char *it_read_file(const char *path, size_t *len)
{
#ifdef IT_S3
  if (strncmp(path, "/tmp/rs-it-", 11) == 0)
    return read_object(path, len);
#endif
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    char *bigger = realloc(buf, cap * 2);
    if (bigger == NULL) {
      free(buf);
      buf = NULL;
    } else {
      buf = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

const char *it_key_path(const it_server *s, const char *key, char *buf, size_t cap)
{
  int n = snprintf(buf, cap, "%s/%s", s->root, key);
  assert_true(n > 0 && (size_t)n < cap);
  return buf;
}

typedef struct it_lines {
  char **v;
  size_t n, cap;
} it_lines;

static void lines_add(it_lines *l, const char *line)
{
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    assert_non_null(l->v);
  }
  l->v[l->n] = strdup(line);
  assert_non_null(l->v[l->n]);
  l->n++;
}

static void walk(const char *dir, const char *rel, it_lines *out)
{
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char path[4096], sub[4096], line[4200];
    size_t rl = strlen(rel);
    if (rl >= 17 && strcmp(rel + rl - 17, ".resumable/locks/") == 0)
      continue; /* a key's lock file lives while a request holds the key: not stored state */
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    snprintf(sub, sizeof sub, "%s%s", rel, e->d_name);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    char type = S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f';
    snprintf(line, sizeof line, "%c %s %lld", type, sub, (long long)st.st_size);
    lines_add(out, line);
    if (type == 'd') {
      strncat(sub, "/", sizeof sub - strlen(sub) - 1);
      walk(path, sub, out);
    }
  }
  closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char *it_tree(const char *dir)
{
  it_lines l = {0};
  walk(dir, "", &l);
  qsort(l.v, l.n, sizeof *l.v, cmp_str);
  size_t total = 1;
  for (size_t i = 0; i < l.n; i++)
    total += strlen(l.v[i]) + 1;
  char *s = malloc(total);
  assert_non_null(s);
  s[0] = '\0';
  for (size_t i = 0; i < l.n; i++) {
    strcat(s, l.v[i]);
    strcat(s, "\n");
    free(l.v[i]);
  }
  free(l.v);
  return s;
}

void it_rm_rf(const char *path)
{
  struct stat st;
  if (lstat(path, &st) != 0)
    return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d != NULL) {
      struct dirent *e;
      while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
          continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        it_rm_rf(sub);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}
