#include "script_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct script_server {
  struct MHD_Daemon *d;
  const script_answer *answers;
  int n;
  char sha_hex[65];
  pthread_mutex_t mu;
  pthread_cond_t stop_cv; /* signalled by script_stop: ends a hold */
  int stopping;
  int count;
  script_record rec[SCRIPT_MAX];
  unsigned hold_ms[SCRIPT_MAX];
  uint64_t held_ms[SCRIPT_MAX];
  size_t pad[SCRIPT_MAX], pad_line[SCRIPT_MAX];
  script_hook_fn hook[SCRIPT_MAX];
  void *hook_ud[SCRIPT_MAX];
  int keep_bodies;
  uint8_t *stored;
  size_t stored_len;
};

typedef struct conn_state {
  int idx;
  int put;
  uint8_t *buf; /* the body so far, when bodies are kept */
  size_t len, cap;
  int oom;
} conn_state;

static uint64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait (on the server's thread) until the hold for request idx is over or the server stops. */
static void hold_answer(script_server *s, int idx)
{
  pthread_mutex_lock(&s->mu);
  unsigned ms = s->hold_ms[idx];
  uint64_t t0 = mono_ms();
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += (time_t)(ms / 1000);
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  while (ms && !s->stopping && mono_ms() - t0 < ms)
    if (pthread_cond_timedwait(&s->stop_cv, &s->mu, &until) == ETIMEDOUT)
      break;
  s->held_ms[idx] = mono_ms() - t0;
  pthread_mutex_unlock(&s->mu);
}

static void keep_data(conn_state *cs, const char *data, size_t n)
{
  if (cs->oom)
    return;
  if (cs->len + n > cs->cap) {
    size_t cap = (cs->len + n) * 2;
    uint8_t *b = realloc(cs->buf, cap);
    if (!b) {
      cs->oom = 1;
      return;
    }
    cs->buf = b;
    cs->cap = cap;
  }
  memcpy(cs->buf + cs->len, data, n);
  cs->len += n;
}

/* A completed PUT replaces the stored file (when bodies are kept). */
static void store_body(script_server *s, conn_state *cs)
{
  pthread_mutex_lock(&s->mu);
  if (s->keep_bodies && cs->put && !cs->oom) {
    free(s->stored);
    s->stored = cs->buf;
    s->stored_len = cs->len;
    cs->buf = NULL;
  }
  pthread_mutex_unlock(&s->mu);
}

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t cap)
{
  const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  snprintf(out, cap, "%s", v ? v : "");
}

/* Add "Name: value\n" lines, with $SHA replaced. */
static void add_headers(struct MHD_Response *r, const char *lines, const char *sha)
{
  char buf[256];
  while (lines && *lines) {
    const char *nl = strchr(lines, '\n');
    size_t len = nl ? (size_t)(nl - lines) : strlen(lines);
    if (len < sizeof buf) {
      memcpy(buf, lines, len);
      buf[len] = '\0';
      char *colon = strchr(buf, ':');
      if (colon) {
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
          v++;
        MHD_add_response_header(r, buf, strcmp(v, "$SHA") == 0 ? sha : v);
      }
    }
    lines += len + (nl ? 1 : 0);
  }
}

/* Header lines of `pad` bytes in all (names, values, CRLFs), to make a reply header that large. */
static int add_padding(struct MHD_Response *r, size_t pad, size_t line)
{
  if (!line)
    line = pad;
  char *v = malloc(line + 1);
  if (!v)
    return -1;
  char name[32];
  for (size_t done = 0, n = 0; done < pad; n++) {
    size_t len = pad - done < line ? pad - done : line;
    int nl = snprintf(name, sizeof name, "X-Pad-%zu", n);
    size_t vlen = len > (size_t)nl + 4 ? len - (size_t)nl - 4 : 1; /* ": " and CRLF */
    memset(v, 'a', vlen);
    v[vlen] = '\0';
    if (MHD_add_response_header(r, name, v) != MHD_YES) {
      free(v);
      return -1;
    }
    done += len;
  }
  free(v);
  return 0;
}

static enum MHD_Result answer(script_server *s, struct MHD_Connection *c, int idx)
{
  static const script_answer exhausted = {500, NULL, "script exhausted", 0};
  const script_answer *a = idx < s->n ? &s->answers[idx] : &exhausted;
  const char *body = a->body ? a->body : "";
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  add_headers(r, a->headers, s->sha_hex);
  pthread_mutex_lock(&s->mu);
  size_t pad = idx < SCRIPT_MAX ? s->pad[idx] : 0,
         pad_line = idx < SCRIPT_MAX ? s->pad_line[idx] : 0;
  pthread_mutex_unlock(&s->mu);
  if (pad && add_padding(r, pad, pad_line) != 0) {
    MHD_destroy_response(r);
    return MHD_NO;
  }
  enum MHD_Result rc = MHD_queue_response(c, (unsigned)a->status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *data_size, void **con_cls)
{
  (void)url, (void)version;
  script_server *s = cls;
  conn_state *cs = *con_cls;
  if (!cs) {
    if (!(cs = calloc(1, sizeof *cs)))
      return MHD_NO;
    pthread_mutex_lock(&s->mu);
    cs->idx = s->count < SCRIPT_MAX ? s->count++ : SCRIPT_MAX - 1;
    script_record *r = &s->rec[cs->idx];
    memset(r, 0, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", method);
    copy_header(c, "Content-Range", r->content_range, sizeof r->content_range);
    copy_header(c, "X-Content-SHA256", r->sha, sizeof r->sha);
    copy_header(c, "Authorization", r->auth, sizeof r->auth);
    copy_header(c, "X-Extra", r->extra, sizeof r->extra);
    copy_header(c, "Upload-Offset", r->upload_offset, sizeof r->upload_offset);
    copy_header(c, "Upload-Checksum", r->upload_checksum, sizeof r->upload_checksum);
    copy_header(c, "Content-Digest", r->content_digest, sizeof r->content_digest);
    copy_header(c, "Upload-Draft-Interop-Version", r->interop, sizeof r->interop);
    copy_header(c, "Upload-Complete", r->upload_complete, sizeof r->upload_complete);
    const char *e = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    r->expect = e && strcmp(e, "100-continue") == 0;
    cs->put = strcmp(method, "PUT") == 0;
    pthread_mutex_unlock(&s->mu);
    *con_cls = cs;
    int early = cs->idx >= s->n || s->answers[cs->idx].early;
    if (early || strcmp(method, "HEAD") == 0) {
      hold_answer(s, cs->idx);
      return answer(s, c, cs->idx);
    }
    return MHD_YES;
  }
  if (*data_size) {
    pthread_mutex_lock(&s->mu);
    s->rec[cs->idx].body += *data_size;
    int keep = s->keep_bodies;
    pthread_mutex_unlock(&s->mu);
    if (keep)
      keep_data(cs, data, *data_size);
    *data_size = 0;
    return MHD_YES;
  }
  store_body(s, cs);
  pthread_mutex_lock(&s->mu);
  script_hook_fn hook = s->hook[cs->idx];
  void *hook_ud = s->hook_ud[cs->idx];
  s->hook[cs->idx] = NULL; /* once */
  pthread_mutex_unlock(&s->mu);
  if (hook)
    hook(hook_ud);
  hold_answer(s, cs->idx);
  return answer(s, c, cs->idx);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
  (void)cls, (void)c, (void)toe;
  conn_state *cs = *con_cls;
  if (cs)
    free(cs->buf);
  free(cs);
  *con_cls = NULL;
}

script_server *script_start(const script_answer *answers, int n, const char *sha_hex)
{
  script_server *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->answers = answers;
  s->n = n;
  snprintf(s->sha_hex, sizeof s->sha_hex, "%s", sha_hex ? sha_hex : "");
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->stop_cv, &ca);
  pthread_condattr_destroy(&ca);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                          handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                          /* room for padded reply headers (script_answer.pad) */
                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(4u << 20),
                          MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
  if (!s->d) {
    pthread_cond_destroy(&s->stop_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
  }
  return s;
}

unsigned script_port(const script_server *s)
{
  const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  return i ? i->port : 0;
}

int script_count(const script_server *s)
{
  /* Requests are recorded on the server's threads: read under the same lock. */
  script_server *m = (script_server *)s;
  pthread_mutex_lock(&m->mu);
  int n = m->count;
  pthread_mutex_unlock(&m->mu);
  return n;
}

const script_record *script_at(const script_server *s, int i)
{
  return &s->rec[i];
}

void script_stop(script_server *s)
{
  if (!s)
    return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_cond_broadcast(&s->stop_cv);
  pthread_mutex_unlock(&s->mu);
  MHD_stop_daemon(s->d);
  pthread_cond_destroy(&s->stop_cv);
  pthread_mutex_destroy(&s->mu);
  free(s->stored);
  free(s);
}

void script_hold(script_server *s, int idx, unsigned ms)
{
  if (idx < 0 || idx >= SCRIPT_MAX)
    return;
  pthread_mutex_lock(&s->mu);
  s->hold_ms[idx] = ms;
  pthread_mutex_unlock(&s->mu);
}

uint64_t script_held_ms(const script_server *s, int idx)
{
  script_server *m = (script_server *)s;
  pthread_mutex_lock(&m->mu);
  uint64_t ms = idx >= 0 && idx < SCRIPT_MAX ? m->held_ms[idx] : 0;
  pthread_mutex_unlock(&m->mu);
  return ms;
}

void script_pad(script_server *s, int idx, size_t bytes, size_t line)
{
  if (idx < 0 || idx >= SCRIPT_MAX)
    return;
  pthread_mutex_lock(&s->mu);
  s->pad[idx] = bytes;
  s->pad_line[idx] = line;
  pthread_mutex_unlock(&s->mu);
}

void script_on_body(script_server *s, int idx, script_hook_fn fn, void *ud)
{
  if (idx < 0 || idx >= SCRIPT_MAX)
    return;
  pthread_mutex_lock(&s->mu);
  s->hook[idx] = fn;
  s->hook_ud[idx] = ud;
  pthread_mutex_unlock(&s->mu);
}

void script_keep_bodies(script_server *s)
{
  pthread_mutex_lock(&s->mu);
  s->keep_bodies = 1;
  pthread_mutex_unlock(&s->mu);
}

const uint8_t *script_stored(const script_server *s, size_t *len)
{
  script_server *m = (script_server *)s;
  pthread_mutex_lock(&m->mu);
  const uint8_t *p = m->stored;
  *len = m->stored_len;
  pthread_mutex_unlock(&m->mu);
  return p;
}
