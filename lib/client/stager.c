/* The stager handle: creation, options (checked at set time) and result getters. The upload
 * itself lives in stager_run.c. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errno_error.h"
#include "hex.h"
#include "stager_impl.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_once_rc = CURLE_OK;

static void curl_init_once(void)
{
  curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int resumable_global_init(void)
{
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? RESUMABLE_OK : RESUMABLE_E_NOMEM;
}

void resumable_global_cleanup(void)
{
  curl_global_cleanup();
}

static int url_ok(const char *url)
{
  if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
    return 0;
  for (const unsigned char *p = (const unsigned char *)url; *p; p++)
    if (*p <= 0x20 || *p == 0x7f)
      return 0;
  return 1;
}

static char *dup_str(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static void opts_defaults(rs_stager_opts *o)
{
  memset(o, 0, sizeof *o);
  o->budget_ms = 3600000;
  o->backoff_min_ms = 1000;
  o->backoff_max_ms = 30000;
  o->jitter = RESUMABLE_JITTER_EQUAL;
  o->stall_bytes = 1;
  o->stall_secs = 30;
  o->connect_ms = 30000;
  o->hc_margin_ns = -1;
  o->chunk_digest = -1;
}

/* Takes ownership of fd (closed on error). `path` may be NULL. */
static int stager_make(resumable_stager **out, const char *url, const char *path, int fd)
{
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return RESUMABLE_E_FILE;
  }
  if (pthread_once(&curl_once, curl_init_once) != 0 || curl_once_rc != CURLE_OK) {
    close(fd);
    return RESUMABLE_E_NOMEM;
  }
  resumable_stager *s = calloc(1, sizeof *s);
  char *u = dup_str(url);
  char *p = path ? dup_str(path) : NULL;
  if (!s || !u || (path && !p)) {
    free(s);
    free(u);
    free(p);
    close(fd);
    return RESUMABLE_E_NOMEM;
  }
  s->url = u;
  s->path = p;
  s->fd = fd;
  s->sock = -1;
  opts_defaults(&s->o);
  *out = s;
  return RESUMABLE_OK;
}

int resumable_stager_new(resumable_stager **out, const char *url, const char *path)
{
  if (out)
    *out = NULL;
  if (!out || !url || !path || !url_ok(url))
    return RESUMABLE_E_INVALID_ARG;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return rs_errno_error(errno, RESUMABLE_E_FILE);
  return stager_make(out, url, path, fd);
}

int resumable_stager_new_fd(resumable_stager **out, const char *url, int fd)
{
  if (out)
    *out = NULL;
  if (!out || !url || !url_ok(url))
    return RESUMABLE_E_INVALID_ARG;
  if (fd < 0)
    return RESUMABLE_E_FILE;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) == O_WRONLY)
    return RESUMABLE_E_FILE;
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0)
    return rs_errno_error(errno, RESUMABLE_E_FILE);
  return stager_make(out, url, NULL, dup_fd);
}

void resumable_stager_free(resumable_stager *s)
{
  if (!s)
    return;
  if (s->curl)
    curl_easy_cleanup(s->curl);
  curl_slist_free_all(s->o.headers);
  free(s->o.token);
  free(s->o.ca_file);
  free(s->o.ca_path);
  free(s->o.cert);
  free(s->o.key);
  free(s->url);
  free(s->path);
  if (s->fd >= 0)
    close(s->fd);
  free(s->o.hash_cache_dir);
  rs_tus_opts_free(&s->o);
  memset(s->mem_sha, 0, sizeof s->mem_sha);
  free(s);
}

/* ---- setters ---- */

#define SETTER_GUARD(s)               \
  do {                                \
    if (!(s))                         \
      return RESUMABLE_E_INVALID_ARG; \
    if ((s)->running)                 \
      return RESUMABLE_E_STATE;       \
  } while (0)

int resumable_stager_set_time_budget_ms(resumable_stager *s, uint64_t ms)
{
  SETTER_GUARD(s);
  if (ms < 1 || ms > (UINT64_C(1) << 53))
    return RESUMABLE_E_INVALID_ARG;
  s->o.budget_ms = ms;
  return RESUMABLE_OK;
}

int resumable_stager_set_backoff_ms(resumable_stager *s, uint64_t min_ms, uint64_t max_ms)
{
  SETTER_GUARD(s);
  if (min_ms < 1 || min_ms > max_ms || max_ms > 86400000)
    return RESUMABLE_E_INVALID_ARG;
  s->o.backoff_min_ms = min_ms;
  s->o.backoff_max_ms = max_ms;
  return RESUMABLE_OK;
}

int resumable_stager_set_jitter(resumable_stager *s, resumable_jitter mode)
{
  SETTER_GUARD(s);
  if (mode != RESUMABLE_JITTER_NONE && mode != RESUMABLE_JITTER_FULL &&
      mode != RESUMABLE_JITTER_EQUAL)
    return RESUMABLE_E_INVALID_ARG;
  s->o.jitter = mode;
  return RESUMABLE_OK;
}

int resumable_stager_set_chunk_size(resumable_stager *s, uint64_t bytes)
{
  SETTER_GUARD(s);
  if (bytes > (uint64_t)INT64_MAX)
    return RESUMABLE_E_INVALID_ARG;
  s->o.chunk_size = bytes;
  return RESUMABLE_OK;
}

int resumable_stager_set_chunk_digest(resumable_stager *s, int mode)
{
  SETTER_GUARD(s);
  if (mode < -1 || mode > 1)
    return RESUMABLE_E_INVALID_ARG;
  s->o.chunk_digest = mode;
  return RESUMABLE_OK;
}

int resumable_stager_set_sha256(resumable_stager *s, const char *hex)
{
  SETTER_GUARD(s);
  if (!hex) {
    s->o.have_sha = 0;
    return RESUMABLE_OK;
  }
  uint8_t d[32];
  if (rs_sha256_hex_parse(hex, strlen(hex), d) != 0)
    return RESUMABLE_E_INVALID_ARG;
  memcpy(s->o.sha, d, sizeof d);
  s->o.have_sha = 1;
  return RESUMABLE_OK;
}

static int is_tchar(unsigned char c)
{
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return 1;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Headers the stager sets itself; a caller's copy would corrupt the protocol. */
static int header_reserved(const char *name, size_t len)
{
  static const char *const reserved[] = {"Content-Range", "Content-Length", "Transfer-Encoding",
                                         "X-Content-SHA256", "Expect"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (strlen(reserved[i]) == len && strncasecmp(reserved[i], name, len) == 0)
      return 1;
  return 0;
}

int resumable_stager_add_header(resumable_stager *s, const char *header)
{
  SETTER_GUARD(s);
  if (!header)
    return RESUMABLE_E_INVALID_ARG;
  const char *colon = strchr(header, ':');
  if (!colon || colon == header)
    return RESUMABLE_E_INVALID_ARG;
  for (const char *p = header; p < colon; p++)
    if (!is_tchar((unsigned char)*p))
      return RESUMABLE_E_INVALID_ARG;
  if (strpbrk(header, "\r\n"))
    return RESUMABLE_E_INVALID_ARG;
  if (header_reserved(header, (size_t)(colon - header)))
    return RESUMABLE_E_INVALID_ARG;
  struct curl_slist *n = curl_slist_append(s->o.headers, header);
  if (!n)
    return RESUMABLE_E_NOMEM;
  s->o.headers = n;
  return RESUMABLE_OK;
}

/* Replace *slot with a copy of v (NULL clears). */
static int set_str(char **slot, const char *v)
{
  char *c = NULL;
  if (v && !(c = dup_str(v)))
    return RESUMABLE_E_NOMEM;
  free(*slot);
  *slot = c;
  return RESUMABLE_OK;
}

int resumable_stager_set_bearer_token(resumable_stager *s, const char *token)
{
  SETTER_GUARD(s);
  if (token) {
    if (!*token)
      return RESUMABLE_E_INVALID_ARG;
    for (const unsigned char *p = (const unsigned char *)token; *p; p++)
      if (*p < 0x21 || *p > 0x7e)
        return RESUMABLE_E_INVALID_ARG;
  }
  return set_str(&s->o.token, token);
}

int resumable_stager_set_ca_file(resumable_stager *s, const char *path)
{
  SETTER_GUARD(s);
  return set_str(&s->o.ca_file, path);
}

int resumable_stager_set_ca_path(resumable_stager *s, const char *dir)
{
  SETTER_GUARD(s);
  return set_str(&s->o.ca_path, dir);
}

int resumable_stager_set_client_cert(resumable_stager *s, const char *cert, const char *key)
{
  SETTER_GUARD(s);
  if (!cert && key)
    return RESUMABLE_E_INVALID_ARG;
  char *c = NULL, *k = NULL;
  if ((cert && !(c = dup_str(cert))) || (key && !(k = dup_str(key)))) {
    free(c);
    return RESUMABLE_E_NOMEM;
  }
  free(s->o.cert);
  free(s->o.key);
  s->o.cert = c;
  s->o.key = k;
  return RESUMABLE_OK;
}

int resumable_stager_set_insecure(resumable_stager *s, int insecure)
{
  SETTER_GUARD(s);
  s->o.insecure = insecure != 0;
  return RESUMABLE_OK;
}

int resumable_stager_set_stall(resumable_stager *s, uint64_t min_bytes_per_sec, uint64_t seconds)
{
  SETTER_GUARD(s);
  if (min_bytes_per_sec != 0 &&
      (min_bytes_per_sec > INT32_MAX || seconds < 1 || seconds > INT32_MAX))
    return RESUMABLE_E_INVALID_ARG;
  s->o.stall_bytes = min_bytes_per_sec;
  s->o.stall_secs = min_bytes_per_sec ? seconds : 0;
  return RESUMABLE_OK;
}

int resumable_stager_set_connect_timeout_ms(resumable_stager *s, uint64_t ms)
{
  SETTER_GUARD(s);
  if (ms < 1 || ms > INT32_MAX)
    return RESUMABLE_E_INVALID_ARG;
  s->o.connect_ms = ms;
  return RESUMABLE_OK;
}

int resumable_stager_set_max_send_speed(resumable_stager *s, uint64_t bytes_per_sec)
{
  SETTER_GUARD(s);
  if (bytes_per_sec > (uint64_t)INT64_MAX)
    return RESUMABLE_E_INVALID_ARG;
  s->o.max_speed = bytes_per_sec;
  return RESUMABLE_OK;
}

int resumable_stager_set_verbose(resumable_stager *s, int on)
{
  SETTER_GUARD(s);
  s->o.verbose = on != 0;
  return RESUMABLE_OK;
}

int resumable_stager_set_progress(resumable_stager *s, resumable_progress_fn fn, void *user_data)
{
  SETTER_GUARD(s);
  s->o.progress = fn;
  s->o.progress_ud = fn ? user_data : NULL;
  return RESUMABLE_OK;
}

int resumable_stager_set_hash_cache_dir(resumable_stager *s, const char *dir)
{
  SETTER_GUARD(s);
  if (dir && !*dir)
    return RESUMABLE_E_INVALID_ARG;
  return set_str(&s->o.hash_cache_dir, dir);
}

int resumable_stager_set_log(resumable_stager *s, resumable_log_fn fn, void *user_data)
{
  SETTER_GUARD(s);
  s->o.log = fn;
  s->o.log_ud = fn ? user_data : NULL;
  return RESUMABLE_OK;
}

/* ---- getters ---- */

int resumable_stager_error(const resumable_stager *s)
{
  return s ? s->r.error : RESUMABLE_E_INVALID_ARG;
}

const char *resumable_stager_message(const resumable_stager *s)
{
  return s ? s->r.msg : "";
}

int resumable_stager_http_status(const resumable_stager *s)
{
  return s ? s->r.http_status : 0;
}

const char *resumable_stager_sha256(const resumable_stager *s)
{
  return s && s->r.sha_known ? s->r.sha_hex : NULL;
}

uint64_t resumable_stager_size(const resumable_stager *s)
{
  return s ? s->r.size : 0;
}

uint64_t resumable_stager_resumed_from(const resumable_stager *s)
{
  return s ? s->r.resumed_from : 0;
}

uint64_t resumable_stager_held(const resumable_stager *s)
{
  return s ? s->r.held : 0;
}

uint64_t resumable_stager_wire_bytes(const resumable_stager *s)
{
  return s ? s->r.wire_bytes : 0;
}

unsigned resumable_stager_attempts(const resumable_stager *s)
{
  return s ? s->r.attempts : 0;
}

unsigned resumable_stager_restarts(const resumable_stager *s)
{
  return s ? s->r.restarts : 0;
}

unsigned resumable_stager_chunk_resends(const resumable_stager *s)
{
  return s ? s->r.chunk_resends : 0;
}

unsigned resumable_stager_requests(const resumable_stager *s)
{
  return s ? s->r.requests : 0;
}

int resumable_stager_already_there(const resumable_stager *s)
{
  return s ? s->r.already_there : 0;
}

int resumable_stager_hash_cached(const resumable_stager *s)
{
  return s ? s->r.hash_cached : 0;
}

const char *resumable_stager_response_body(const resumable_stager *s)
{
  return s ? s->r.body : "";
}
