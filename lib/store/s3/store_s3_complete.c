/* complete_* ops of the S3 store and the sums records that let HEAD answer without reading an
 * object. Each object we publish carries a random token (x-amz-meta-rs-token, set when its
 * upload began); its size and SHA-256 are written to ".resumable/sums/<hex>/<token>" before the
 * object appears, so a published object always has its record. An object without a token (put
 * there by someone else) or whose record is lost is hashed once, by reading it, and the record
 * written under "e-<ETag>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "sha256.h"
#include "store_s3.h"

#define SUMS_MAX 2048
#define HASH_BLOCK ((size_t)256 << 10)

typedef struct s3_open_file {
  s3_reader *r;
} s3_open_file;

static int sums_name(s3_store *s, const char *key, const char *token, char *out, size_t cap)
{
  char hex[S3_HEX_KEY + 1], rest[200];
  s3_key_hex(key, hex);
  snprintf(rest, sizeof(rest), ".resumable/sums/%s/%s", hex, token);
  return s3_object(s, rest, out, cap);
}

int s3_sums_put(s3_store *s, const char *key, const char *token, const resumable_complete_info *ci)
{
  char name[S3_NAME_MAX], buf[SUMS_MAX];
  size_t len = 0;
  if (sums_name(s, key, token, name, sizeof(name)) != 0)
    return RESUMABLE_E_CONFLICT;
  int rc = s3_sums_encode(key, ci, buf, sizeof(buf), &len);
  if (rc == RESUMABLE_OK)
    rc = s3_put_object(s, name, buf, len, NULL, NULL);
  return rc;
}

typedef struct prune {
  s3_store *s;
  const char *keep; /* full name to keep, or NULL */
  char **names;
  size_t n, cap;
} prune;

static int collect(void *arg, const char *name, uint64_t size, int64_t mtime)
{
  prune *p = arg;
  (void)size;
  (void)mtime;
  if (p->keep && strcmp(name, p->keep) == 0)
    return 0;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 8;
    char **b = realloc(p->names, cap * sizeof(*b));
    if (!b)
      return 1;
    p->names = b;
    p->cap = cap;
  }
  size_t k = strlen(name) + 1;
  if (!(p->names[p->n] = malloc(k)))
    return 1;
  memcpy(p->names[p->n++], name, k);
  return 0;
}

void s3_sums_prune(s3_store *s, const char *key, const char *keep)
{
  char dir[S3_NAME_MAX], keep_name[S3_NAME_MAX];
  if (sums_name(s, key, "", dir, sizeof(dir)) != 0)
    return;
  if (keep && sums_name(s, key, keep, keep_name, sizeof(keep_name)) != 0)
    return;
  prune p = {s, keep ? keep_name : NULL, NULL, 0, 0};
  s3_list(s, dir, collect, &p);
  for (size_t i = 0; i < p.n; i++) {
    s3_delete_quiet(s, p.names[i]);
    free(p.names[i]);
  }
  free(p.names);
}

/* The token of an object: its rs-token, or "e-<ETag>" for an object that has none. */
static void object_token(const s3_response *rs, char *out, size_t cap)
{
  if (rs->token[0]) {
    snprintf(out, cap, "%s", rs->token);
    return;
  }
  size_t n = (size_t)snprintf(out, cap, "e-");
  for (const char *e = rs->etag; *e && n + 1 < cap; e++)
    if ((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
        *e == '-')
      out[n++] = *e;
  out[n] = '\0';
}

/* Read the whole object once (the same version: If-Match) and hash it. */
static int rehash(s3_store *s, const char *name, const char *etag, resumable_complete_info *ci)
{
  s3_reader *r = NULL;
  s3_response rs;
  int rc = s3_reader_open(s, name, etag, &r, &rs);
  if (rc != RESUMABLE_OK)
    return rc == RESUMABLE_E_NOT_FOUND ? rc : RESUMABLE_E_IO;
  uint8_t *buf = malloc(HASH_BLOCK);
  rs_sha256 h;
  rs_sha256_init(&h);
  uint64_t off = 0;
  while (rc == RESUMABLE_OK && buf && off < rs.length) {
    size_t got = 0;
    rc = s3_reader_read(r, off, buf, HASH_BLOCK, &got);
    if (rc == RESUMABLE_OK && got == 0)
      rc = RESUMABLE_E_IO;
    rs_sha256_update(&h, buf, got);
    off += got;
  }
  if (!buf)
    rc = RESUMABLE_E_NOMEM;
  ci->size = rs.length;
  rs_sha256_finish(&h, ci->sha256);
  rs_sha256_free(&h);
  free(buf);
  s3_reader_close(r);
  return rc;
}

/* Size and SHA-256 of an object whose answer (HEAD or GET) is rs. */
static int lookup(s3_store *s, const char *key, const char *name, const s3_response *rs,
                  resumable_complete_info *ci)
{
  char token[S3_ETAG_MAX + 8], sname[S3_NAME_MAX], buf[SUMS_MAX];
  object_token(rs, token, sizeof(token));
  if (sums_name(s, key, token, sname, sizeof(sname)) != 0)
    return RESUMABLE_E_IO;
  s3_request rq = {.method = "GET", .object = sname, .out = buf, .out_cap = sizeof(buf)};
  s3_response sr;
  int rc = s3_call(s, &rq, &sr);
  if (rc == RESUMABLE_OK)
    rc = s3_status_code(&sr);
  if (rc == RESUMABLE_OK && s3_sums_decode(buf, sr.out_len, key, ci) == RESUMABLE_OK &&
      ci->size == rs->length)
    return RESUMABLE_OK;
  if (rc != RESUMABLE_OK && rc != RESUMABLE_E_NOT_FOUND)
    return rc;
  /* no usable record: a foreign object, or a record lost to a crash or a race */
  rc = rehash(s, name, rs->etag, ci);
  if (rc == RESUMABLE_OK)
    (void)s3_sums_put(s, key, token, ci);
  return rc;
}

int s3_complete_stat(void *self, const char *key, resumable_complete_info *out)
{
  s3_store *s = self;
  char name[S3_NAME_MAX];
  int kc = s3_key_check_read(key);
  if (kc != RESUMABLE_OK)
    return kc;
  if (s3_object(s, key, name, sizeof(name)) != 0)
    return RESUMABLE_E_NOT_FOUND;
  s3_request rq = {.method = "HEAD", .object = name};
  s3_response rs;
  int rc = s3_call(s, &rq, &rs);
  if (rc == RESUMABLE_OK)
    rc = s3_status_code(&rs);
  if (rc == RESUMABLE_OK && !rs.has_length)
    rc = RESUMABLE_E_IO;
  if (rc != RESUMABLE_OK)
    return rc;
  resumable_complete_info ci;
  rc = lookup(s, key, name, &rs, &ci);
  if (rc == RESUMABLE_OK && out)
    *out = ci;
  return rc;
}

int s3_complete_open(void *self, const char *key, void **reader, resumable_complete_info *out)
{
  s3_store *s = self;
  char name[S3_NAME_MAX];
  *reader = NULL;
  int kc = s3_key_check_read(key);
  if (kc != RESUMABLE_OK)
    return kc;
  if (s3_object(s, key, name, sizeof(name)) != 0)
    return RESUMABLE_E_NOT_FOUND;
  s3_open_file *f = calloc(1, sizeof(*f));
  if (!f)
    return RESUMABLE_E_NOMEM;
  s3_response rs;
  int rc = s3_reader_open(s, name, NULL, &f->r, &rs);
  resumable_complete_info ci;
  if (rc == RESUMABLE_OK)
    rc = lookup(s, key, name, &rs, &ci);
  if (rc != RESUMABLE_OK) {
    s3_complete_close(self, f);
    return rc;
  }
  if (out)
    *out = ci;
  *reader = f;
  return RESUMABLE_OK;
}

int s3_complete_read(void *self, void *reader, uint64_t offset, void *buf, size_t len, size_t *got)
{
  s3_open_file *f = reader;
  (void)self;
  return s3_reader_read(f->r, offset, buf, len, got);
}

void s3_complete_close(void *self, void *reader)
{
  s3_open_file *f = reader;
  (void)self;
  if (!f)
    return;
  s3_reader_close(f->r);
  free(f);
}

int s3_complete_remove(void *self, const char *key)
{
  s3_store *s = self;
  char name[S3_NAME_MAX];
  int kc = s3_key_check_read(key);
  if (kc != RESUMABLE_OK)
    return kc;
  if (s3_object(s, key, name, sizeof(name)) != 0)
    return RESUMABLE_E_NOT_FOUND;
  s3_request head = {.method = "HEAD", .object = name};
  s3_response rs;
  int rc = s3_call(s, &head, &rs);
  if (rc == RESUMABLE_OK)
    rc = s3_status_code(&rs);
  if (rc != RESUMABLE_OK)
    return rc;
  s3_request del = {.method = "DELETE", .object = name};
  rc = s3_call(s, &del, &rs);
  if (rc == RESUMABLE_OK)
    rc = s3_status_code(&rs);
  if (rc == RESUMABLE_E_NOT_FOUND)
    rc = RESUMABLE_OK; /* removed meanwhile by another server */
  if (rc == RESUMABLE_OK)
    s3_sums_prune(s, key, NULL);
  return rc;
}
