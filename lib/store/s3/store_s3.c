/* The S3 store: its configuration (checked at set time), creation, the ops table and a small
 * pool of curl handles so that requests reuse kept-alive connections. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "resumable/error.h"
#include "store_s3.h"

#define MiB ((uint64_t)1 << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_once_rc;

static void curl_init_once(void)
{
  curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s)
{
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* Replace *slot by a copy of v. */
static int set_string(char **slot, const char *v)
{
  char *d = dup_or_null(v);
  if (v && !d)
    return RESUMABLE_E_NOMEM;
  free(*slot);
  *slot = d;
  return RESUMABLE_OK;
}

int resumable_s3_config_new(resumable_s3_config **out)
{
  if (!out)
    return RESUMABLE_E_INVALID_ARG;
  resumable_s3_config *c = calloc(1, sizeof(*c));
  *out = c;
  if (!c)
    return RESUMABLE_E_NOMEM;
  c->part_size = 8 * MiB;
  c->orphan_age = 86400;
  c->addressing = RESUMABLE_S3_PATH_STYLE;
  if (set_string(&c->region, "us-east-1") != RESUMABLE_OK ||
      set_string(&c->prefix, "") != RESUMABLE_OK) {
    resumable_s3_config_free(c);
    *out = NULL;
    return RESUMABLE_E_NOMEM;
  }
  return RESUMABLE_OK;
}

static void free_secret(char *s)
{
  if (s) {
    volatile char *v = s;
    while (*v)
      *v++ = '\0';
    free(s);
  }
}

void resumable_s3_config_free(resumable_s3_config *c)
{
  if (!c)
    return;
  free(c->endpoint);
  free(c->bucket);
  free(c->region);
  free(c->prefix);
  free(c->access);
  free_secret(c->secret);
  free_secret(c->token);
  free(c);
}

static int host_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == ':' || c == '[' || c == ']';
}

int resumable_s3_config_set_endpoint(resumable_s3_config *c, const char *url)
{
  if (!c || !url)
    return RESUMABLE_E_INVALID_ARG;
  size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                : strncasecmp(url, "https://", 8) == 0 ? 8
                                                       : 0;
  size_t n = strlen(url);
  if (skip == 0 || n == skip || n > 512)
    return RESUMABLE_E_INVALID_ARG;
  if (url[n - 1] == '/')
    n--;
  if (n == skip)
    return RESUMABLE_E_INVALID_ARG;
  for (size_t i = skip; i < n; i++)
    if (!host_char((unsigned char)url[i]))
      return RESUMABLE_E_INVALID_ARG; /* a path, a user, a query... */
  char *d = malloc(n + 1);
  if (!d)
    return RESUMABLE_E_NOMEM;
  memcpy(d, url, n);
  d[n] = '\0';
  free(c->endpoint);
  c->endpoint = d;
  return RESUMABLE_OK;
}

int resumable_s3_config_set_bucket(resumable_s3_config *c, const char *b)
{
  if (!c || !b)
    return RESUMABLE_E_INVALID_ARG;
  size_t n = strlen(b);
  if (n < 3 || n > 63)
    return RESUMABLE_E_INVALID_ARG;
  for (size_t i = 0; i < n; i++)
    if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
          b[i] == '-'))
      return RESUMABLE_E_INVALID_ARG;
  return set_string(&c->bucket, b);
}

int resumable_s3_config_set_region(resumable_s3_config *c, const char *r)
{
  if (!c || !r)
    return RESUMABLE_E_INVALID_ARG;
  size_t n = strlen(r);
  if (n < 1 || n > 63)
    return RESUMABLE_E_INVALID_ARG;
  for (size_t i = 0; i < n; i++)
    if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z') ||
          (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
      return RESUMABLE_E_INVALID_ARG;
  return set_string(&c->region, r);
}

/* No control byte or backslash; no empty, "." or ".." segment before the last '/'. */
static int prefix_ok(const char *p)
{
  size_t n = strlen(p);
  if (n > 512)
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')
      return 0;
  const char *seg = p;
  for (const char *s = strchr(p, '/'); s; seg = s + 1, s = strchr(seg, '/')) {
    size_t k = (size_t)(s - seg);
    if (k == 0 || (k == 1 && seg[0] == '.') || (k == 2 && seg[0] == '.' && seg[1] == '.'))
      return 0;
  }
  return 1;
}

int resumable_s3_config_set_prefix(resumable_s3_config *c, const char *p)
{
  if (!c)
    return RESUMABLE_E_INVALID_ARG;
  if (!p)
    p = "";
  if (!prefix_ok(p))
    return RESUMABLE_E_INVALID_ARG;
  return set_string(&c->prefix, p);
}

int resumable_s3_config_set_addressing(resumable_s3_config *c, resumable_s3_addressing a)
{
  if (!c || (a != RESUMABLE_S3_PATH_STYLE && a != RESUMABLE_S3_VIRTUAL_HOST))
    return RESUMABLE_E_INVALID_ARG;
  c->addressing = a;
  return RESUMABLE_OK;
}

static int printable(const char *s, int colon_ok)
{
  if (!s || !*s)
    return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || (!colon_ok && *s == ':'))
      return 0;
  return 1;
}

int resumable_s3_config_set_credentials(resumable_s3_config *c, const char *access,
                                        const char *secret, const char *token)
{
  if (!c || !printable(access, 0) || !printable(secret, 1) ||
      (token && *token && !printable(token, 1)))
    return RESUMABLE_E_INVALID_ARG;
  char *a = dup_or_null(access), *s = dup_or_null(secret);
  char *t = token && *token ? dup_or_null(token) : NULL;
  if (!a || !s || (token && *token && !t)) {
    free(a);
    free_secret(s);
    free_secret(t);
    return RESUMABLE_E_NOMEM;
  }
  free(c->access);
  free_secret(c->secret);
  free_secret(c->token);
  c->access = a;
  c->secret = s;
  c->token = t;
  c->have_credentials = 1;
  return RESUMABLE_OK;
}

int resumable_s3_config_set_part_size(resumable_s3_config *c, uint64_t bytes)
{
  if (!c || bytes < S3_MIN_PART || bytes > S3_MAX_PART)
    return RESUMABLE_E_INVALID_ARG;
  c->part_size = bytes;
  return RESUMABLE_OK;
}

int resumable_s3_config_set_orphan_age(resumable_s3_config *c, uint64_t seconds)
{
  if (!c || seconds > (uint64_t)100 * 365 * 86400)
    return RESUMABLE_E_INVALID_ARG;
  c->orphan_age = seconds;
  return RESUMABLE_OK;
}

/* ---- the store ---- */

static void destroy(void *self)
{
  s3_store *s = self;
  if (!s)
    return;
  for (size_t i = 0; i < s->pooled; i++)
    curl_easy_cleanup(s->pool[i]);
  pthread_mutex_destroy(&s->pool_mu);
  free(s->base);
  free(s->bucket);
  free(s->prefix);
  free(s->sigv4);
  free(s->access);
  free_secret(s->secret);
  free_secret(s->token);
  free(s);
}

static const resumable_store_ops s3_ops = {
    RESUMABLE_STORE_OPS_INIT,
    .complete_stat = s3_complete_stat,
    .complete_open = s3_complete_open,
    .complete_read = s3_complete_read,
    .complete_close = s3_complete_close,
    .complete_path = NULL,
    .partial_stat = s3_partial_stat,
    .partial_open = s3_partial_open,
    .partial_write = s3_partial_write,
    .partial_read = s3_partial_read,
    .partial_sync = s3_partial_sync,
    .partial_commit = s3_partial_commit,
    .partial_close = s3_partial_close,
    .partial_remove = s3_partial_remove,
    .complete_remove = s3_complete_remove,
    .destroy = destroy,
    .partial_scan = s3_partial_scan,
};

/* base URL: path style keeps the endpoint; virtual host puts the bucket before the host. */
static char *make_base(const resumable_s3_config *c)
{
  const char *e = c->endpoint;
  size_t skip = strstr(e, "://") ? (size_t)(strstr(e, "://") - e) + 3 : 0;
  size_t n = strlen(e) + strlen(c->bucket) + 2;
  char *b = malloc(n);
  if (!b)
    return NULL;
  if (c->addressing == RESUMABLE_S3_PATH_STYLE)
    snprintf(b, n, "%s", e);
  else
    snprintf(b, n, "%.*s%s.%s", (int)skip, e, c->bucket, e + skip);
  return b;
}

static int take_credentials(const resumable_s3_config *c, s3_store *s)
{
  const char *a = c->have_credentials ? c->access : getenv("AWS_ACCESS_KEY_ID");
  const char *k = c->have_credentials ? c->secret : getenv("AWS_SECRET_ACCESS_KEY");
  const char *t = c->have_credentials ? c->token : getenv("AWS_SESSION_TOKEN");
  if (!printable(a, 0) || !printable(k, 1))
    return RESUMABLE_E_INVALID_ARG;
  if (t && !*t)
    t = NULL;
  if (t && !printable(t, 1))
    return RESUMABLE_E_INVALID_ARG;
  s->access = dup_or_null(a);
  s->secret = dup_or_null(k);
  s->token = dup_or_null(t);
  return s->access && s->secret && (!t || s->token) ? RESUMABLE_OK : RESUMABLE_E_NOMEM;
}

int resumable_store_s3_new(resumable_store **out, const resumable_s3_config *c)
{
  if (!out)
    return RESUMABLE_E_INVALID_ARG;
  *out = NULL;
  if (!c || !c->endpoint || !c->bucket)
    return RESUMABLE_E_INVALID_ARG;
  pthread_once(&curl_once, curl_init_once);
  if (curl_once_rc != CURLE_OK)
    return RESUMABLE_E_NOMEM;
  s3_store *s = calloc(1, sizeof(*s));
  if (!s)
    return RESUMABLE_E_NOMEM;
  pthread_mutex_init(&s->pool_mu, NULL);
  int rc = take_credentials(c, s);
  if (rc == RESUMABLE_OK) {
    size_t n = strlen(c->region) + 16;
    s->path_style = c->addressing == RESUMABLE_S3_PATH_STYLE;
    s->base = make_base(c);
    s->bucket = dup_or_null(c->bucket);
    s->prefix = dup_or_null(c->prefix);
    s->prefix_len = strlen(c->prefix);
    s->sigv4 = malloc(n);
    if (s->sigv4)
      snprintf(s->sigv4, n, "aws:amz:%s:s3", c->region);
    s->part_size = c->part_size;
    s->orphan_age = c->orphan_age;
    if (!s->base || !s->bucket || !s->prefix || !s->sigv4)
      rc = RESUMABLE_E_NOMEM;
  }
  if (rc == RESUMABLE_OK)
    rc = resumable_store_new(out, &s3_ops, s);
  if (rc != RESUMABLE_OK)
    destroy(s);
  return rc;
}

int s3_key_check(const char *key)
{
  if (!key || !*key || strlen(key) > S3_KEY_MAX)
    return RESUMABLE_E_INVALID_ARG;
  for (const char *seg = key;; seg++) {
    size_t n = strcspn(seg, "/");
    if (n == 0 || n > 255 || (n == 1 && seg[0] == '.') ||
        (n == 2 && seg[0] == '.' && seg[1] == '.') || strncmp(seg, ".resumable", 10) == 0)
      return RESUMABLE_E_CONFLICT;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f || seg[i] == '\\')
        return RESUMABLE_E_CONFLICT;
    seg += n;
    if (*seg == '\0')
      return RESUMABLE_OK;
  }
}

int s3_key_check_read(const char *key)
{
  int rc = s3_key_check(key);
  return rc == RESUMABLE_E_CONFLICT ? RESUMABLE_E_NOT_FOUND : rc;
}

int s3_part_key(const char *key)
{
  size_t pre = sizeof(RESUMABLE_PART_PREFIX) - 1;
  if (!key || strncmp(key, RESUMABLE_PART_PREFIX, pre) != 0)
    return 0;
  size_t n = strlen(key + pre);
  if (n == 0 || n > 64)
    return 0;
  for (const char *p = key + pre; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return 0;
  return 1;
}

int s3_partial_key_check(const char *key, int read)
{
  if (s3_part_key(key))
    return RESUMABLE_OK;
  return read ? s3_key_check_read(key) : s3_key_check(key);
}

CURL *s3_easy_get(s3_store *s)
{
  CURL *e = NULL;
  pthread_mutex_lock(&s->pool_mu);
  if (s->pooled > 0)
    e = s->pool[--s->pooled];
  pthread_mutex_unlock(&s->pool_mu);
  return e ? e : curl_easy_init();
}

void s3_easy_put(s3_store *s, CURL *e)
{
  if (!e)
    return;
  pthread_mutex_lock(&s->pool_mu);
  if (s->pooled < sizeof(s->pool) / sizeof(s->pool[0])) {
    s->pool[s->pooled++] = e;
    e = NULL;
  }
  pthread_mutex_unlock(&s->pool_mu);
  if (e)
    curl_easy_cleanup(e);
}

int s3_random_hex(char *out, size_t nbytes)
{
  uint8_t buf[32];
  if (nbytes > sizeof(buf))
    return -1;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t got = 0;
  while (got < nbytes) {
    ssize_t k = read(fd, buf + got, nbytes - got);
    if (k <= 0) {
      close(fd);
      return -1;
    }
    got += (size_t)k;
  }
  close(fd);
  for (size_t i = 0; i < nbytes; i++)
    snprintf(out + 2 * i, 3, "%02x", buf[i]);
  return 0;
}

int64_t s3_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}
