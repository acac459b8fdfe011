#include "scripted.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sink.h"

#define IO_MS 5000

/* recv with a deadline; 0 on EOF/timeout/error. */
static ssize_t recv_wait(int fd, char *buf, size_t cap, int ms)
{
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, ms) <= 0)
    return 0;
  ssize_t r = recv(fd, buf, cap, 0);
  return r < 0 ? 0 : r;
}

/* Value of header `name` in a raw block into out (trimmed), or "" if absent. */
static void header_value(const char *block, const char *name, char *out, size_t cap)
{
  size_t n = strlen(name);
  out[0] = '\0';
  for (const char *l = block; l != NULL && *l != '\0';) {
    if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
      const char *v = l + n + 1;
      while (*v == ' ')
        v++;
      size_t k = strcspn(v, "\r\n");
      if (k >= cap)
        k = cap - 1;
      memcpy(out, v, k);
      out[k] = '\0';
      return;
    }
    l = strstr(l, "\r\n");
    if (l != NULL)
      l += 2;
  }
}

/* Copy `in` to out replacing %SHA% with sha. */
static void substitute(const char *in, const char *sha, char *out, size_t cap)
{
  size_t o = 0;
  for (const char *p = in; p != NULL && *p != '\0' && o + 1 < cap;) {
    if (strncmp(p, "%SHA%", 5) == 0) {
      o += (size_t)snprintf(out + o, cap - o, "%s", sha);
      if (o >= cap)
        o = cap - 1;
      p += 5;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
}

static void send_answer(int fd, const script_answer *a, const char *sha, int is_head)
{
  char hdr[2048], body[2048], msg[4608];
  substitute(a->headers != NULL ? a->headers : "", sha, hdr, sizeof hdr);
  substitute(a->body != NULL ? a->body : "", sha, body, sizeof body);
  int n;
  if (is_head) {
    n = snprintf(msg, sizeof msg, "HTTP/1.1 %d Scripted\r\nConnection: close\r\n%s\r\n", a->status,
                 hdr);
  } else {
    n = snprintf(msg, sizeof msg,
                 "HTTP/1.1 %d Scripted\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                 "%sContent-Length: %zu\r\n\r\n%s",
                 a->status, hdr, strlen(body), body);
  }
  if (n > 0)
    tcp_send_all(fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* Read the request head; returns its length (including the blank line) or 0. `got` is the
 * number of bytes read (some may be body). */
static size_t read_head(int fd, char *buf, size_t cap, size_t *got)
{
  *got = 0;
  while (*got + 1 < cap) {
    ssize_t r = recv_wait(fd, buf + *got, cap - 1 - *got, IO_MS);
    if (r <= 0)
      return 0;
    *got += (size_t)r;
    buf[*got] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (end != NULL)
      return (size_t)(end - buf) + 4;
  }
  return 0;
}

static const script_answer *next_answer(scripted *s, int is_head)
{
  static const script_answer none_head = {404, NULL, NULL}, none_put = {500, NULL, "no script"};
  script_answer *list = is_head ? s->head : s->put;
  size_t n = is_head ? s->nhead : s->nput, *i = is_head ? &s->ihead : &s->iput;
  if (n == 0)
    return is_head ? &none_head : &none_put;
  const script_answer *a = &list[*i < n ? *i : n - 1];
  (*i)++;
  return a;
}

static void drain(int fd)
{
  char junk[65536];
  while (recv_wait(fd, junk, sizeof junk, IO_MS) > 0) {
  }
}

static void serve_one(scripted *s, int fd)
{
  char buf[4096];
  size_t got, hlen = read_head(fd, buf, sizeof buf, &got);
  if (hlen == 0)
    return;
  script_request rq = {.at = mono_now()};
  sscanf(buf, "%7s", rq.method);
  size_t keep = hlen < sizeof rq.headers ? hlen : sizeof rq.headers - 1;
  memcpy(rq.headers, buf, keep);
  rq.headers[keep] = '\0';
  header_value(rq.headers, "Content-Range", rq.content_range, sizeof rq.content_range);
  char sha[80], expect[64], clen[32];
  header_value(rq.headers, "X-Content-SHA256", sha, sizeof sha);
  header_value(rq.headers, "Expect", expect, sizeof expect);
  header_value(rq.headers, "Content-Length", clen, sizeof clen);
  int is_head = strcmp(rq.method, "HEAD") == 0;
  pthread_mutex_lock(&s->mu);
  if (s->nreq < SCRIPT_MAX_REQS)
    s->req[s->nreq++] = rq;
  const script_answer *a = next_answer(s, is_head);
  pthread_mutex_unlock(&s->mu);
  if (!is_head && a->status < 400) { /* take the body, as a server that accepts it would */
    if (strcasecmp(expect, "100-continue") == 0) {
      tcp_send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    unsigned long long want = strtoull(clen, NULL, 10), have = got - hlen;
    char body[65536];
    while (have < want) {
      ssize_t r = recv_wait(fd, body, sizeof body, IO_MS);
      if (r <= 0)
        break;
      have += (unsigned long long)r;
    }
  }
  send_answer(fd, a, sha, is_head);
  shutdown(fd, SHUT_WR);
  drain(fd); /* until the client closes: closing with unread data would reset the answer */
}

static void *scripted_main(void *arg)
{
  scripted *s = arg;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
      break;
    serve_one(s, fd);
    close(fd);
  }
  return NULL;
}

int scripted_start(scripted *s)
{
  memset(s, 0, sizeof *s);
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (s->lfd < 0)
    return -1;
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s->lfd, 16) != 0 ||
      getsockname(s->lfd, (struct sockaddr *)&sa, &len) != 0) {
    close(s->lfd);
    return -1;
  }
  s->port = ntohs(sa.sin_port);
  pthread_mutex_init(&s->mu, NULL);
  if (pthread_create(&s->thread, NULL, scripted_main, s) != 0) {
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    return -1;
  }
  return 0;
}

void scripted_stop(scripted *s)
{
  shutdown(s->lfd, SHUT_RDWR);
  pthread_join(s->thread, NULL);
  close(s->lfd);
  pthread_mutex_destroy(&s->mu);
}

static void add(script_answer *list, size_t *n, int status, const char *h, const char *b)
{
  if (*n < SCRIPT_MAX)
    list[(*n)++] = (script_answer){status, h, b};
}

void scripted_on_head(scripted *s, int status, const char *headers, const char *body)
{
  pthread_mutex_lock(&s->mu);
  add(s->head, &s->nhead, status, headers, body);
  pthread_mutex_unlock(&s->mu);
}

void scripted_on_put(scripted *s, int status, const char *headers, const char *body)
{
  pthread_mutex_lock(&s->mu);
  add(s->put, &s->nput, status, headers, body);
  pthread_mutex_unlock(&s->mu);
}

size_t scripted_count(scripted *s, const char *method)
{
  size_t n = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->nreq; i++)
    n += strcmp(s->req[i].method, method) == 0;
  pthread_mutex_unlock(&s->mu);
  return n;
}

const script_request *scripted_nth(scripted *s, const char *method, size_t i)
{
  const script_request *r = NULL;
  pthread_mutex_lock(&s->mu);
  for (size_t k = 0; k < s->nreq && r == NULL; k++) {
    if (strcmp(s->req[k].method, method) == 0 && i-- == 0)
      r = &s->req[k];
  }
  pthread_mutex_unlock(&s->mu);
  return r;
}
