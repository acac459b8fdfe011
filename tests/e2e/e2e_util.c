#include "e2e_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"
#include <netinet/in.h>

#include "sink.h"
#include "test_fs.h"

/* ---- files ---- */

char *e2e_tmpdir(void)
{
  char buf[4096];
  return test_temp_dir(buf, sizeof buf, "e2e") == 0 ? strdup(buf) : NULL;
}

char *e2e_make_file(const char *dir, const char *name, uint64_t size, uint32_t seed)
{
  size_t n = strlen(dir) + strlen(name) + 2;
  char *path = malloc(n);
  uint64_t *buf = malloc(1 << 20);
  FILE *f = NULL;
  if (path == NULL || buf == NULL)
    goto fail;
  snprintf(path, n, "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (f == NULL)
    goto fail;
  uint64_t x = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed << 17 | seed);
  for (uint64_t left = size; left > 0;) {
    for (size_t i = 0; i < (1 << 20) / 8; i++) { /* xorshift64: fast, not compressible */
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      buf[i] = x;
    }
    size_t chunk = left < (1 << 20) ? (size_t)left : (size_t)(1 << 20);
    if (fwrite(buf, 1, chunk, f) != chunk)
      goto fail;
    left -= chunk;
  }
  if (fclose(f) != 0) {
    f = NULL;
    goto fail;
  }
  free(buf);
  return path;
fail:
  if (f != NULL)
    fclose(f);
  free(buf);
  free(path);
  return NULL;
}

#ifdef E2E_S3
/* tests/s3 builds these programs again on the S3 store (in the cluster of with_ceph.sh): one
 * bucket per program; a root "<dir>/root" becomes the key prefix "<dir's name>/", kept across
 * restarts, and a file under it is that prefix's object. */
#include "s3_env.h"

static s3_env s3env;
static int s3env_ready;

static int s3_prefix_of(const char *root, char *out, size_t cap)
{
  const char *end = strstr(root, "/root");
  const char *start = end;
  while (start > root && start[-1] != '/')
    start--;
  if (end == NULL)
    return -1;
  snprintf(out, cap, "%.*s/", (int)(end - start), start);
  return 0;
}

static int new_server(e2e_server *s, const char *root)
{
  char prefix[256];
  resumable_store *st = NULL;
  if (!s3env_ready && s3_env_init(&s3env, "rs-e2e") != 0)
    return -1;
  s3env_ready = 1;
  if (s3_prefix_of(root, prefix, sizeof prefix) != 0 || s3_env_store(&s3env, prefix, 0, &st) != 0)
    return -1;
  return resumable_server_new_with_store(&s->srv, st) == RESUMABLE_OK ? 0 : -1;
}

/* The relay case measures the stager's timing against a POSIX server (cuts and waits counted
 * tightly); it runs in tests/e2e, not here. */
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
__attribute__((constructor)) static void s3_skip_timing_cases(void)
{
  cmocka_set_skip_filter("relay_capping_*");
}

/* The object's hash for a path "<dir>/root/<key>"; 1 if the path is of that form. */
static int s3_sha256(const char *path, char out[65], int *rc)
{
  char prefix[256], object[1400];
  const char *key = strstr(path, "/root/");
  uint8_t sha[32];
  uint64_t size = 0;
  if (!s3env_ready || key == NULL || s3_prefix_of(path, prefix, sizeof prefix) != 0)
    return 0;
  snprintf(object, sizeof object, "%s%s", prefix, key + strlen("/root/"));
  *rc = s3_env_hash_object(&s3env, object, sha, &size) == 1 ? 0 : -1;
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", sha[i]);
  return 1;
}

/* The object's size for a path "<dir>/root/<key>"; 1 if the path is of that form. */
static int s3_size(const char *path, uint64_t *size, int *rc)
{
  uint8_t sha[32];
  char prefix[256], object[1400];
  const char *key = strstr(path, "/root/");
  if (!s3env_ready || key == NULL || s3_prefix_of(path, prefix, sizeof prefix) != 0)
    return 0;
  snprintf(object, sizeof object, "%s%s", prefix, key + strlen("/root/"));
  *rc = s3_env_hash_object(&s3env, object, sha, size) == 1 ? 0 : -1;
  return 1;
}
#else
static int new_server(e2e_server *s, const char *root)
{
  return resumable_server_new(&s->srv, root) == RESUMABLE_OK ? 0 : -1;
}
#endif

int e2e_sha256_file(const char *path, char out[65])
{
#ifdef E2E_S3
  int s3rc;
  if (s3_sha256(path, out, &s3rc))
    return s3rc;
#endif
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -1;
  unsigned char *buf = malloc(1 << 20), dg[32];
  if (buf == NULL) {
    fclose(f);
    return -1;
  }
  mbedtls_sha256_context c;
  mbedtls_sha256_init(&c);
  mbedtls_sha256_starts_ret(&c, 0);
  size_t r;
  while ((r = fread(buf, 1, 1 << 20, f)) > 0)
    mbedtls_sha256_update_ret(&c, buf, r);
  int rc = ferror(f) ? -1 : 0;
  mbedtls_sha256_finish_ret(&c, dg);
  mbedtls_sha256_free(&c);
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", dg[i]);
  free(buf);
  fclose(f);
  return rc;
}

int64_t e2e_file_size(const char *path)
{
#ifdef E2E_S3
  int s3rc;
  uint64_t size = 0;
  if (s3_size(path, &size, &s3rc))
    return s3rc == 0 ? (int64_t)size : -1;
#endif
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* ---- the real server ---- */

int e2e_server_start(e2e_server *s, const char *root, uint16_t port, const char *token)
{
  memset(s, 0, sizeof *s);
  if (kit_active()) {
    kit_opts o = {.token = token};
    if (port != 0 || kit_host_start(&s->kit, root, &o) != 0)
      return -1;
    s->port = s->kit.port;
    return 0;
  }
  if (new_server(s, root) != 0)
    return -1;
  if (token != NULL && resumable_server_set_token(s->srv, token) != RESUMABLE_OK)
    goto fail;
  mhd_host_config cfg = {.port = port, .server = s->srv, .linger_ms = 1000};
  char err[256];
  if (mhd_host_start(&cfg, &s->host, err, sizeof err) != 0)
    goto fail;
  s->port = mhd_host_port(s->host);
  return 0;
fail:
  resumable_server_free(s->srv);
  s->srv = NULL;
  return -1;
}

void e2e_server_stop(e2e_server *s)
{
  kit_host_stop(&s->kit);
  mhd_host_stop(s->host);
  resumable_server_free(s->srv);
  s->host = NULL;
  s->srv = NULL;
}

void e2e_url(char *buf, size_t cap, uint16_t port, const char *key)
{
  snprintf(buf, cap, "http://127.0.0.1:%u/v1/files/%s", (unsigned)port, key);
}

/* ---- progress ---- */

void e2e_progress_init(e2e_progress *p)
{
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
}

void e2e_progress_destroy(e2e_progress *p)
{
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
}

int e2e_progress_cb(void *user_data, const resumable_progress *pr)
{
  e2e_progress *p = user_data;
  int stop = 0;
  pthread_mutex_lock(&p->mu);
  if (pr->attempt > p->max_attempt)
    p->max_attempt = pr->attempt;
  if ((unsigned)pr->phase < 16)
    p->phases_seen |= 1u << (unsigned)pr->phase;
  if (pr->position > p->max_position)
    p->max_position = pr->position;
  if (p->cancel_at != 0 && pr->position >= p->cancel_at)
    stop = p->cancelled = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return stop;
}

int e2e_progress_wait_attempt(e2e_progress *p, unsigned n, int timeout_ms)
{
  struct timespec dl;
  deadline_in(&dl, timeout_ms);
  int rc = 0;
  pthread_mutex_lock(&p->mu);
  while (p->max_attempt < n) {
    if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT) {
      rc = p->max_attempt >= n ? 0 : -1;
      break;
    }
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

/* ---- stager runs ---- */

resumable_stager *e2e_stager(const char *url, const char *path)
{
  resumable_stager *st = NULL;
  if (resumable_stager_new(&st, url, path) != RESUMABLE_OK)
    return NULL;
  if (resumable_stager_set_backoff_ms(st, 10, 50) != RESUMABLE_OK ||
      resumable_stager_set_time_budget_ms(st, 60000) != RESUMABLE_OK) {
    resumable_stager_free(st);
    return NULL;
  }
  return st;
}

int e2e_run(resumable_stager *st, double *secs)
{
  double t0 = mono_now();
  int rc = resumable_stager_run(st);
  if (secs != NULL)
    *secs = mono_now() - t0;
  return rc;
}

static void *e2e_job_main(void *arg)
{
  e2e_job *j = arg;
  j->rc = e2e_run(j->st, &j->seconds);
  return NULL;
}

void e2e_job_start(e2e_job *j, resumable_stager *st)
{
  j->st = st;
  j->rc = -999;
  if (pthread_create(&j->thread, NULL, e2e_job_main, j) != 0)
    abort();
}

int e2e_job_join(e2e_job *j)
{
  pthread_join(j->thread, NULL);
  return j->rc;
}

uint16_t e2e_refusing_port(int *fd_out)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  *fd_out = -1;
  if (fd < 0)
    return 0;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    close(fd);
    return 0;
  }
  *fd_out = fd; /* bound, never listening: connects are refused, and no one else can take it */
  return ntohs(sa.sin_port);
}
