#include "script_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct script_server {
  struct MHD_Daemon *d;
  const script_answer *answers;
  int n;
  char sha_hex[65];
  pthread_mutex_t mu;
  int count;
  script_record rec[SCRIPT_MAX];
};

typedef struct conn_state {
  int idx;
} conn_state;

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
  enum MHD_Result rc = MHD_queue_response(c, (unsigned)a->status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *data_size, void **con_cls)
{
  (void)url, (void)version, (void)data;
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
    const char *e = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    r->expect = e && strcmp(e, "100-continue") == 0;
    pthread_mutex_unlock(&s->mu);
    *con_cls = cs;
    int early = cs->idx >= s->n || s->answers[cs->idx].early;
    if (early || strcmp(method, "HEAD") == 0)
      return answer(s, c, cs->idx);
    return MHD_YES;
  }
  if (*data_size) {
    pthread_mutex_lock(&s->mu);
    s->rec[cs->idx].body += *data_size;
    pthread_mutex_unlock(&s->mu);
    *data_size = 0;
    return MHD_YES;
  }
  return answer(s, c, cs->idx);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
  (void)cls, (void)c, (void)toe;
  free(*con_cls);
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
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                          handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                          MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
  if (!s->d) {
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
  MHD_stop_daemon(s->d);
  pthread_mutex_destroy(&s->mu);
  free(s);
}
