/* See s3_env.h. Raw requests go through the store's own request code (tests link the static
 * library), on a store made only for that. */
#include "s3_env.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resumable/error.h"
#include "sha256.h"
#include "store_s3.h"
#include "store_internal.h"

static int copy_env(const char *name, char *out, size_t cap)
{
  const char *v = getenv(name);
  if (!v || !*v || strlen(v) >= cap) {
    fprintf(stderr, "%s is not set: run this program through tests/s3/with_ceph.sh\n", name);
    return -1;
  }
  snprintf(out, cap, "%s", v);
  return 0;
}

/* Raw requests go through a store of the env's bucket, made once per bucket. */
static pthread_mutex_t raw_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char bucket[64];
  resumable_store *store;
} raws[256];
static size_t nraws;

static s3_store *raw(const s3_env *e)
{
  resumable_store *st = NULL;
  pthread_mutex_lock(&raw_mu);
  for (size_t i = 0; i < nraws && !st; i++)
    if (strcmp(raws[i].bucket, e->bucket) == 0)
      st = raws[i].store;
  if (!st && nraws < sizeof(raws) / sizeof(raws[0]) && s3_env_store(e, "", 0, &st) == 0) {
    snprintf(raws[nraws].bucket, sizeof(raws[nraws].bucket), "%s", e->bucket);
    raws[nraws++].store = st;
  }
  pthread_mutex_unlock(&raw_mu);
  return st ? resumable_store_self(st) : NULL;
}

int s3_env_store(const s3_env *e, const char *prefix, uint64_t part_size, resumable_store **out)
{
  resumable_s3_config *c = NULL;
  int rc = resumable_s3_config_new(&c);
  if (rc == RESUMABLE_OK)
    rc = resumable_s3_config_set_endpoint(c, e->endpoint);
  if (rc == RESUMABLE_OK)
    rc = resumable_s3_config_set_bucket(c, e->bucket);
  if (rc == RESUMABLE_OK)
    rc = resumable_s3_config_set_prefix(c, prefix);
  if (rc == RESUMABLE_OK)
    rc = resumable_s3_config_set_credentials(c, e->access, e->secret, NULL);
  if (rc == RESUMABLE_OK && part_size)
    rc = resumable_s3_config_set_part_size(c, part_size);
  if (rc == RESUMABLE_OK)
    rc = resumable_store_s3_new(out, c);
  resumable_s3_config_free(c);
  if (rc != RESUMABLE_OK)
    fprintf(stderr, "cannot make an S3 store: %s\n", resumable_strerror(rc));
  return rc == RESUMABLE_OK ? 0 : -1;
}

int s3_env_init(s3_env *e, const char *tag)
{
  static int counter;
  memset(e, 0, sizeof(*e));
  if (copy_env("RS_S3_ENDPOINT", e->endpoint, sizeof(e->endpoint)) ||
      copy_env("RS_S3_ACCESS", e->access, sizeof(e->access)) ||
      copy_env("RS_S3_SECRET", e->secret, sizeof(e->secret)))
    return -1;
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&mu);
  int n = counter++;
  pthread_mutex_unlock(&mu);
  snprintf(e->bucket, sizeof(e->bucket), "%s-%ld-%d", tag, (long)getpid(), n);
  long st = s3_env_request(e, "PUT", NULL, NULL, NULL, 0, NULL, NULL, 0);
  if (st != 200) {
    fprintf(stderr, "cannot create bucket %s at %s: status %ld\n", e->bucket, e->endpoint, st);
    return -1;
  }
  return 0;
}

void s3_env_prefix(const char *tag, char *out, size_t cap)
{
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  static unsigned n;
  pthread_mutex_lock(&mu);
  unsigned k = n++;
  pthread_mutex_unlock(&mu);
  snprintf(out, cap, "%s-%u/", tag, k);
}

long s3_env_request(const s3_env *e, const char *method, const char *object, const char *query,
                    const void *body, size_t len, const char *extra_header, char *out, size_t cap)
{
  s3_store *s = raw(e);
  if (!s)
    return -1;
  s3_request rq = {.method = method,
                   .object = object,
                   .query = query,
                   .body = body,
                   .body_len = len,
                   .out = out,
                   .out_cap = cap};
  rq.headers[0] = extra_header;
  s3_response rs;
  CURL *c = s3_easy_get(s);
  int rc = c ? s3_perform(s, c, &rq, &rs) : RESUMABLE_E_NOMEM;
  s3_easy_put(s, c);
  return rc == RESUMABLE_OK ? rs.status : -1;
}

static int count_upload(void *arg, const char *name, const char *upload, int64_t initiated)
{
  (void)name;
  (void)upload;
  (void)initiated;
  (*(int *)arg)++;
  return 0;
}

int s3_env_count_uploads(const s3_env *e, const char *prefix)
{
  s3_store *s = raw(e);
  int n = 0;
  return s && s3_mpu_list(s, prefix, count_upload, &n) == RESUMABLE_OK ? n : -1;
}

static int count_object(void *arg, const char *name, uint64_t size, int64_t mtime)
{
  (void)name;
  (void)size;
  (void)mtime;
  (*(int *)arg)++;
  return 0;
}

int s3_env_count_objects(const s3_env *e, const char *prefix)
{
  s3_store *s = raw(e);
  int n = 0;
  return s && s3_list(s, prefix, count_object, &n) == RESUMABLE_OK ? n : -1;
}

typedef struct hashing {
  rs_sha256 h;
  uint64_t n;
} hashing;

static size_t hash_body(char *data, size_t size, size_t nmemb, void *arg)
{
  hashing *x = arg;
  rs_sha256_update(&x->h, data, size * nmemb);
  x->n += size * nmemb;
  return size * nmemb;
}

int s3_env_hash_object(const s3_env *e, const char *object, uint8_t sha[32], uint64_t *size)
{
  s3_store *s = raw(e);
  if (!s)
    return -1;
  hashing x;
  rs_sha256_init(&x.h);
  x.n = 0;
  s3_request rq = {.method = "GET", .object = object, .sink_fn = hash_body, .sink_arg = &x};
  s3_response rs;
  CURL *c = s3_easy_get(s);
  int rc = c ? s3_perform(s, c, &rq, &rs) : RESUMABLE_E_NOMEM;
  s3_easy_put(s, c);
  rs_sha256_finish(&x.h, sha);
  *size = x.n;
  if (rc != RESUMABLE_OK)
    return -1;
  return rs.status == 200 ? 1 : rs.status == 404 ? 0 : -1;
}

typedef struct lister {
  void (*fn)(void *arg, const char *name);
  void *arg;
} lister;

static int list_one(void *arg, const char *name, uint64_t size, int64_t mtime)
{
  lister *l = arg;
  (void)size;
  (void)mtime;
  l->fn(l->arg, name);
  return 0;
}

int s3_env_list(const s3_env *e, const char *prefix, void (*fn)(void *arg, const char *name),
                void *arg)
{
  s3_store *s = raw(e);
  lister l = {fn, arg};
  return s && s3_list(s, prefix, list_one, &l) == RESUMABLE_OK ? 0 : -1;
}

typedef struct grow {
  char *b;
  size_t n, cap;
  int nomem;
} grow;

static size_t grow_body(char *data, size_t size, size_t nmemb, void *arg)
{
  grow *g = arg;
  size_t k = size * nmemb;
  if (g->n + k + 1 > g->cap) {
    size_t cap = (g->n + k + 1) * 2;
    char *b = realloc(g->b, cap);
    if (!b) {
      g->nomem = 1;
      return 0;
    }
    g->b = b;
    g->cap = cap;
  }
  memcpy(g->b + g->n, data, k);
  g->n += k;
  return k;
}

char *s3_env_get_object(const s3_env *e, const char *object, size_t *len)
{
  s3_store *s = raw(e);
  if (!s)
    return NULL;
  grow g = {malloc(1), 0, 1, 0};
  s3_request rq = {.method = "GET", .object = object, .sink_fn = grow_body, .sink_arg = &g};
  s3_response rs;
  CURL *c = s3_easy_get(s);
  int rc = c && g.b ? s3_perform(s, c, &rq, &rs) : RESUMABLE_E_NOMEM;
  s3_easy_put(s, c);
  if (rc != RESUMABLE_OK || rs.status != 200 || g.nomem) {
    free(g.b);
    return NULL;
  }
  g.b[g.n] = '\0';
  *len = g.n;
  return g.b;
}
