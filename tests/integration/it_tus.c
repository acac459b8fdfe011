/* tus request helpers for the integration tests (it_tus.h). */
#include "it_tus.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/md5.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"

#define MAX_HEADERS 16

typedef struct hdrs {
  const char *v[MAX_HEADERS + 1];
  size_t n;
  char own[4][96];
  size_t nown;
} hdrs;

static void add(hdrs *h, const char *line)
{
  assert_true(h->n < MAX_HEADERS);
  h->v[h->n++] = line;
  h->v[h->n] = NULL;
}

static void addf(hdrs *h, const char *name, unsigned long long v)
{
  assert_true(h->nown < 4);
  snprintf(h->own[h->nown], sizeof h->own[0], "%s: %llu", name, v);
  add(h, h->own[h->nown++]);
}

static void add_all(hdrs *h, const char *const *more)
{
  for (size_t i = 0; more != NULL && more[i] != NULL; i++)
    add(h, more[i]);
}

static long send_req(const it_server *s, const char *method, const char *path, const hdrs *h,
                     const void *body, size_t len, it_resp *out)
{
  it_req rq = {.method = method, .key = path, .body = body, .body_len = len, .headers = h->v};
  it_resp r;
  it_request(s, &rq, &r);
  long status = r.status;
  if (out != NULL)
    *out = r;
  else
    it_resp_free(&r);
  return status;
}

long it_tus(const it_server *s, const char *method, const char *path, const char *const *headers,
            const void *body, size_t len, it_resp *out)
{
  hdrs h = {.n = 0};
  add(&h, "Tus-Resumable: 1.0.0");
  add_all(&h, headers);
  return send_req(s, method, path, &h, body, len, out);
}

long it_tus_create(const it_server *s, const char *path, long long length,
                   const char *const *headers, const void *body, size_t len, it_resp *out)
{
  hdrs h = {.n = 0};
  add(&h, "Tus-Resumable: 1.0.0");
  if (length >= 0)
    addf(&h, "Upload-Length", (unsigned long long)length);
  if (len > 0)
    add(&h, IT_TUS_CT);
  add_all(&h, headers);
  return send_req(s, "POST", path, &h, body, len, out);
}

long it_tus_patch(const it_server *s, const char *path, uint64_t offset, const char *const *headers,
                  const void *body, size_t len, it_resp *out)
{
  hdrs h = {.n = 0};
  add(&h, "Tus-Resumable: 1.0.0");
  add(&h, IT_TUS_CT);
  addf(&h, "Upload-Offset", (unsigned long long)offset);
  add_all(&h, headers);
  return send_req(s, "PATCH", path, &h, body, len, out);
}

long it_tus_head(const it_server *s, const char *path, long long *offset)
{
  it_resp r;
  long st = it_tus(s, "HEAD", path, NULL, NULL, 0, &r);
  if (offset != NULL)
    *offset = it_header_num(&r, "Upload-Offset");
  it_resp_free(&r);
  return st;
}

const char *it_tus_location(const it_resp *r, char *buf, size_t cap)
{
  char loc[2048];
  assert_non_null(it_header(r, "Location", loc, sizeof loc));
  assert_int_equal(strncmp(loc, IT_PREFIX, strlen(IT_PREFIX)), 0);
  snprintf(buf, cap, "%s", loc + strlen(IT_PREFIX));
  return buf;
}

void it_tus_age_partial(const it_server *s, const char *store_key, long seconds)
{
  char hex[65], path[512];
  it_sha256_hex(store_key, strlen(store_key), hex);
  struct timespec t[2];
  clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= seconds;
  t[1] = t[0];
  static const char *const ext[] = {"meta", "data"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/.resumable/partial/%s.%s", s->root, hex, ext[i]);
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
  }
}

int it_tus_partial_files(const it_server *s)
{
  char path[256];
  snprintf(path, sizeof path, "%s/.resumable/partial", s->root);
  DIR *d = opendir(path);
  if (d == NULL)
    return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

void it_digest(const char *algo, const void *data, size_t n, uint8_t out[32], size_t *len)
{
  if (strcmp(algo, "sha1") == 0) {
    assert_int_equal(mbedtls_sha1_ret(data, n, out), 0);
    *len = 20;
  } else if (strcmp(algo, "md5") == 0) {
    assert_int_equal(mbedtls_md5_ret(data, n, out), 0);
    *len = 16;
  } else {
    assert_int_equal(mbedtls_sha256_ret(data, n, out, 0), 0);
    *len = 32;
  }
}

void it_base64(const uint8_t *in, size_t n, char *out, size_t cap)
{
  size_t olen = 0;
  assert_int_equal(mbedtls_base64_encode((unsigned char *)out, cap, &olen, in, n), 0);
}
