/* POLLRDHUP: notice a client that gives up while the proxy is stalled, without reading. */
#define _GNU_SOURCE
#include "faultproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FP_BUF (256 * 1024)

/* One direction of a connection: bytes read from src wait in buf until written to dst. */
struct fp_dir {
  char *buf;
  size_t len, off;
  int eof;  /* src said EOF: shut dst down once buf is flushed */
  int shut; /* dst has been shut down for writing (or the direction is dead) */
};

struct fp_conn {
  int cfd, sfd;
  struct fp_dir up, down;
  double tokens, last; /* this connection's own token bucket (fp_set_conn_rate) */
  uint64_t up_bytes;   /* upstream bytes forwarded on this connection */
  /* fp_set_flip: the upstream stream's HTTP/1.1 framing (Content-Length bodies only) */
  char hbuf[8192]; /* the request header block so far (its start, when longer) */
  size_t hlen;
  uint64_t body_left; /* body bytes of the current request still to come (0: in headers) */
  uint64_t flip_left; /* flip the byte when body_left reaches this (0: no flip pending) */
};

struct fp_proxy {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int lfd;
  int wake[2];
  uint16_t port;
  /* Settings and counters, under mu. */
  struct sockaddr_in upstream;
  uint64_t cut_every, cut_left;
  unsigned cut_count;
  uint64_t conn_cap; /* cut every connection after this many upstream bytes (0: off) */
  uint64_t rate;
  uint64_t conn_rate; /* per connection, 0: none */
  int stall;
  uint64_t stall_left;
  unsigned cut_all_asked, cut_all_done; /* fp_cut_all requests, and those carried out */
  int quit;
  uint64_t up_total;
  unsigned accepted, cuts;
  unsigned flip_every, flip_phase; /* fp_set_flip */
  unsigned bodies, flips;
  /* Owned by the proxy thread. */
  struct fp_conn **conns;
  size_t nconns, cap;
  double tokens; /* under mu */
  double last;
};

static double fp_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fp_wake(fp_proxy *p)
{
  char c = 1;
  ssize_t r = write(p->wake[1], &c, 1);
  (void)r; /* a full pipe already means "wake up" */
}

static int fp_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- connections ---- */

static void fp_conn_free(struct fp_conn *c)
{
  if (c->cfd >= 0)
    close(c->cfd);
  if (c->sfd >= 0)
    close(c->sfd);
  free(c->up.buf);
  free(c->down.buf);
  free(c);
}

/* A cut: the server gets a clean EOF after exactly the bytes forwarded so far, the client a
 * reset (as if the network had died). */
static void fp_conn_cut(struct fp_conn *c)
{
  char junk[4096];
  while (recv(c->sfd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
  }
  shutdown(c->sfd, SHUT_WR);
  struct linger lg = {1, 0};
  setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static int fp_connect_upstream(fp_proxy *p)
{
  pthread_mutex_lock(&p->mu);
  struct sockaddr_in sa = p->upstream;
  pthread_mutex_unlock(&p->mu);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  /* Loopback connects finish (or fail) at once, so a blocking connect is fine here. */
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || fp_nonblock(fd) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void fp_accept(fp_proxy *p)
{
  int cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
  if (cfd < 0)
    return;
  pthread_mutex_lock(&p->mu);
  p->accepted++;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  struct fp_conn *c = calloc(1, sizeof *c);
  int sfd = fp_connect_upstream(p);
  if (c == NULL || sfd < 0 || fp_nonblock(cfd) != 0 || p->nconns == p->cap) {
    goto refuse;
  }
  c->cfd = cfd;
  c->sfd = sfd;
  c->last = fp_now();
  c->up.buf = malloc(FP_BUF);
  c->down.buf = malloc(FP_BUF);
  if (c->up.buf == NULL || c->down.buf == NULL) {
    fp_conn_free(c);
    return;
  }
  p->conns[p->nconns++] = c;
  return;
refuse : {
  /* Upstream unreachable: reset the client, like a refused connection would. */
  struct linger lg = {1, 0};
  setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(cfd);
  if (sfd >= 0)
    close(sfd);
  free(c);
}
}

/* ---- forwarding ---- */

/* Read into an empty buffer. Returns -1 on a socket error. */
static int fp_fill(struct fp_dir *d, int src)
{
  ssize_t r = recv(src, d->buf, FP_BUF, 0);
  if (r < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
  if (r == 0) {
    d->eof = 1;
  } else {
    d->len = (size_t)r;
    d->off = 0;
  }
  return 0;
}

/* The Content-Length of a request header block, 0 when absent (or malformed). */
static uint64_t fp_content_length(const char *h, size_t n)
{
  static const char name[] = "\ncontent-length:";
  size_t k = sizeof name - 1;
  for (size_t i = 0; i + k <= n; i++) {
    size_t j = 0;
    while (j < k && (h[i + j] | (name[j] >= 'a' ? 0x20 : 0)) == name[j])
      j++;
    if (j < k)
      continue;
    uint64_t v = 0;
    for (i += k; i < n && h[i] == ' '; i++)
      ;
    for (; i < n && h[i] >= '0' && h[i] <= '9'; i++)
      v = v * 10 + (uint64_t)(h[i] - '0');
    return v;
  }
  return 0;
}

/* fp_set_flip: follow the requests in the `n` upstream bytes just read into buf, and flip one
 * byte in the middle of every flip_every-th request body (counted across connections). */
static void fp_scan_up(fp_proxy *p, struct fp_conn *c, char *buf, size_t n)
{
  for (size_t i = 0; i < n;) {
    if (c->body_left > 0) {
      uint64_t take = n - i < c->body_left ? n - i : c->body_left;
      if (c->flip_left > 0 && c->body_left - take < c->flip_left) {
        buf[i + (size_t)(c->body_left - c->flip_left)] ^= 0x5a;
        c->flip_left = 0;
      }
      c->body_left -= take;
      i += (size_t)take;
      continue;
    }
    char ch = buf[i++];
    if (c->hlen < sizeof c->hbuf)
      c->hbuf[c->hlen++] = ch;
    size_t m = c->hlen;
    if (m < 4 || memcmp(c->hbuf + m - 4, "\r\n\r\n", 4) != 0)
      continue;
    c->body_left = fp_content_length(c->hbuf, m);
    c->hlen = 0;
    if (c->body_left == 0)
      continue;
    pthread_mutex_lock(&p->mu);
    p->bodies++;
    if (p->flip_every && p->bodies % p->flip_every == p->flip_phase) {
      c->flip_left = c->body_left / 2 + 1;
      p->flips++;
    }
    pthread_mutex_unlock(&p->mu);
  }
}

/* Write up to `limit` buffered bytes. Returns bytes written, or -1 on a socket error. */
static ssize_t fp_flush(struct fp_dir *d, int dst, size_t limit)
{
  size_t n = d->len - d->off;
  if (n > limit)
    n = limit;
  if (n == 0)
    return 0;
  ssize_t w = send(dst, d->buf + d->off, n, MSG_NOSIGNAL);
  if (w < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
  d->off += (size_t)w;
  if (d->off == d->len)
    d->off = d->len = 0;
  return w;
}

static void fp_shut_if_done(struct fp_dir *d, int dst)
{
  if (d->eof && d->len == 0 && !d->shut) {
    shutdown(dst, SHUT_WR);
    d->shut = 1;
  }
}

/* Token bucket for the rate limit. Returns the poll timeout in ms until one byte may go
 * (-1: no wait needed). */
static int fp_refill_tokens(fp_proxy *p)
{
  double now = fp_now();
  int timeout = -1;
  pthread_mutex_lock(&p->mu);
  if (p->rate != 0) {
    double cap = (double)p->rate / 10.0 < 1.0 ? 1.0 : (double)p->rate / 10.0;
    p->tokens += (now - p->last) * (double)p->rate;
    if (p->tokens > cap)
      p->tokens = cap;
    if (p->tokens < 1.0)
      timeout = (int)((1.0 - p->tokens) * 1000.0 / (double)p->rate) + 1;
  }
  p->last = now;
  pthread_mutex_unlock(&p->mu);
  return timeout;
}

/* The per-connection bucket of c (same rules as the shared one): the poll timeout in ms until
 * one byte may go, -1 for none needed. */
static int fp_refill_conn(fp_proxy *p, struct fp_conn *c)
{
  pthread_mutex_lock(&p->mu);
  uint64_t rate = p->conn_rate;
  pthread_mutex_unlock(&p->mu);
  double now = fp_now();
  int timeout = -1;
  if (rate != 0) {
    double cap = (double)rate / 10.0 < 1.0 ? 1.0 : (double)rate / 10.0;
    c->tokens += (now - c->last) * (double)rate;
    if (c->tokens > cap)
      c->tokens = cap;
    if (c->tokens < 1.0)
      timeout = (int)((1.0 - c->tokens) * 1000.0 / (double)rate) + 1;
  }
  c->last = now;
  return timeout;
}

/* How many upstream bytes may go now on connection c (rates, cut points, stall point). */
static size_t fp_up_allowance(fp_proxy *p, const struct fp_conn *c)
{
  uint64_t lim = FP_BUF;
  pthread_mutex_lock(&p->mu);
  if (p->conn_rate != 0 && (uint64_t)(c->tokens > 0 ? c->tokens : 0) < lim)
    lim = (uint64_t)(c->tokens > 0 ? c->tokens : 0);
  if (p->conn_cap > 0 && p->conn_cap - c->up_bytes < lim)
    lim = p->conn_cap - c->up_bytes;
  if (p->rate != 0 && (uint64_t)p->tokens < lim)
    lim = (uint64_t)p->tokens;
  if (p->cut_count > 0 && p->cut_left < lim)
    lim = p->cut_left;
  if (p->stall_left > 0 && p->stall_left < lim)
    lim = p->stall_left;
  if (p->stall)
    lim = 0;
  pthread_mutex_unlock(&p->mu);
  return (size_t)lim;
}

/* Account `w` upstream bytes forwarded on c. Returns 1 if the connection must be cut now. */
static int fp_account_up(fp_proxy *p, struct fp_conn *c, uint64_t w)
{
  int cut = 0;
  pthread_mutex_lock(&p->mu);
  p->up_total += w;
  c->up_bytes += w;
  if (p->conn_cap > 0 && c->up_bytes >= p->conn_cap) {
    cut = 1;
    p->cuts++;
  }
  if (p->rate != 0)
    p->tokens -= (double)w;
  if (p->cut_count > 0) {
    p->cut_left -= w;
    if (p->cut_left == 0) {
      if (cut)
        p->cuts--; /* one cut, whichever rule asked for it */
      cut = 1;
      p->cuts++;
      p->cut_count--;
      p->cut_left = p->cut_every;
    }
  }
  if (p->stall_left > 0) {
    p->stall_left -= w;
    if (p->stall_left == 0)
      p->stall = 1;
  }
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return cut;
}

/* Handle poll results for one connection. Returns 1 when it is finished. */
static int fp_conn_step(fp_proxy *p, struct fp_conn *c, short crev, short srev, int stalled)
{
  if ((crev | srev) & POLLNVAL)
    return 1;
  if (stalled)
    return (crev & (POLLRDHUP | POLLHUP | POLLERR)) ? 1 : 0;
  /* Server -> client first, so an early answer reaches the client even if the server then
   * refuses the rest of the body. */
  if ((srev & (POLLIN | POLLHUP | POLLERR)) && c->down.len == 0 && !c->down.eof) {
    if (fp_fill(&c->down, c->sfd) != 0)
      c->down.eof = 1;
  }
  if (c->down.len > 0 && fp_flush(&c->down, c->cfd, FP_BUF) < 0)
    return 1;
  fp_shut_if_done(&c->down, c->cfd);
  if ((crev & (POLLIN | POLLHUP | POLLERR)) && c->up.len == 0 && !c->up.eof) {
    if (fp_fill(&c->up, c->cfd) != 0)
      return 1;
    pthread_mutex_lock(&p->mu);
    int flipping = p->flip_every != 0;
    pthread_mutex_unlock(&p->mu);
    if (flipping && c->up.len > 0)
      fp_scan_up(p, c, c->up.buf, c->up.len);
  }
  if (c->up.shut) {
    c->up.len = c->up.off = 0; /* the server stopped listening: drop what the client sends */
  } else if (c->up.len > 0) {
    ssize_t w = fp_flush(&c->up, c->sfd, fp_up_allowance(p, c));
    if (w > 0)
      c->tokens -= (double)w;
    if (w < 0) {
      c->up.shut = 1;
      c->up.len = c->up.off = 0;
    } else if (w > 0 && fp_account_up(p, c, (uint64_t)w)) {
      fp_conn_cut(c);
      return 1;
    }
  }
  fp_shut_if_done(&c->up, c->sfd);
  return c->up.shut && c->down.shut && c->down.len == 0;
}

/* Poll events for one connection; -1 fd means "nothing wanted" (poll then ignores it). */
static void fp_conn_events(const struct fp_conn *c, int stalled, int up_ok, struct pollfd *pc,
                           struct pollfd *ps)
{
  pc->fd = c->cfd;
  ps->fd = c->sfd;
  pc->events = ps->events = 0;
  pc->revents = ps->revents = 0;
  if (stalled) {
    pc->events = POLLRDHUP;
    ps->fd = -1;
    return;
  }
  if (c->up.len == 0 && !c->up.eof)
    pc->events |= POLLIN;
  if (c->up.len > 0 && !c->up.shut && up_ok)
    ps->events |= POLLOUT;
  if (c->down.len == 0 && !c->down.eof)
    ps->events |= POLLIN;
  if (c->down.len > 0)
    pc->events |= POLLOUT;
  if (pc->events == 0)
    pc->fd = -1;
  if (ps->events == 0)
    ps->fd = -1;
}

static void fp_drain_wake(fp_proxy *p)
{
  char junk[64];
  while (read(p->wake[0], junk, sizeof junk) > 0) {
  }
}

/* Carry out fp_cut_all: the thread owns the connections. */
static void fp_serve_cut_all(fp_proxy *p)
{
  pthread_mutex_lock(&p->mu);
  unsigned asked = p->cut_all_asked;
  int todo = asked != p->cut_all_done;
  pthread_mutex_unlock(&p->mu);
  if (!todo)
    return;
  size_t n = p->nconns;
  for (size_t i = 0; i < n; i++) {
    fp_conn_cut(p->conns[i]);
    fp_conn_free(p->conns[i]);
  }
  p->nconns = 0;
  pthread_mutex_lock(&p->mu);
  p->cuts += (unsigned)n;
  p->cut_all_done = asked;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

static void *fp_main(void *arg)
{
  fp_proxy *p = arg;
  struct pollfd *pfd = calloc(2 + 2 * p->cap, sizeof *pfd);
  if (pfd == NULL)
    return NULL;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    int quit = p->quit, stalled = p->stall;
    pthread_mutex_unlock(&p->mu);
    if (quit)
      break;
    int timeout = fp_refill_tokens(p);
    int up_ok = timeout < 0;
    pfd[0] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
    pfd[1] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
    for (size_t i = 0; i < p->nconns; i++) {
      int ct = fp_refill_conn(p, p->conns[i]);
      if (ct >= 0 && p->conns[i]->up.len > 0 && (timeout < 0 || ct < timeout))
        timeout = ct;
      fp_conn_events(p->conns[i], stalled, up_ok && ct < 0, &pfd[2 + 2 * i], &pfd[3 + 2 * i]);
    }
    size_t n = p->nconns;
    if (poll(pfd, 2 + 2 * n, timeout) < 0 && errno != EINTR)
      break;
    if (pfd[0].revents)
      fp_drain_wake(p);
    fp_refill_tokens(p);
    for (size_t i = n; i-- > 0;) {
      struct fp_conn *c = p->conns[i];
      fp_refill_conn(p, c);
      if (fp_conn_step(p, c, pfd[2 + 2 * i].revents, pfd[3 + 2 * i].revents, stalled)) {
        fp_conn_free(c);
        p->conns[i] = p->conns[--p->nconns];
      }
    }
    if (pfd[1].revents & POLLIN)
      fp_accept(p);
    fp_serve_cut_all(p);
  }
  free(pfd);
  return NULL;
}

/* ---- public API ---- */

static int fp_listen(fp_proxy *p)
{
  p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->lfd < 0)
    return -1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(p->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(p->lfd, 64) != 0 ||
      getsockname(p->lfd, (struct sockaddr *)&sa, &len) != 0 || fp_nonblock(p->lfd) != 0) {
    return -1;
  }
  p->port = ntohs(sa.sin_port);
  return 0;
}

static int fp_sync_init(fp_proxy *p)
{
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0)
    return -1;
  int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (rc == 0)
    rc = pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc != 0)
    return -1;
  if (pthread_mutex_init(&p->mu, NULL) != 0) {
    pthread_cond_destroy(&p->cv);
    return -1;
  }
  return 0;
}

int fp_start(fp_proxy **out, const char *host, uint16_t port)
{
  *out = NULL;
  fp_proxy *p = calloc(1, sizeof *p);
  if (p == NULL)
    return -1;
  p->lfd = p->wake[0] = p->wake[1] = -1;
  p->cap = 256;
  p->conns = calloc(p->cap, sizeof *p->conns);
  p->upstream.sin_family = AF_INET;
  p->upstream.sin_port = htons(port);
  p->last = fp_now();
  if (p->conns == NULL || inet_pton(AF_INET, host, &p->upstream.sin_addr) != 1)
    goto fail;
  if (pipe(p->wake) != 0 || fp_nonblock(p->wake[0]) != 0 || fp_nonblock(p->wake[1]) != 0) {
    goto fail;
  }
  if (fp_listen(p) != 0 || fp_sync_init(p) != 0)
    goto fail;
  if (pthread_create(&p->thread, NULL, fp_main, p) != 0) {
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    goto fail;
  }
  *out = p;
  return 0;
fail:
  if (p->lfd >= 0)
    close(p->lfd);
  if (p->wake[0] >= 0)
    close(p->wake[0]);
  if (p->wake[1] >= 0)
    close(p->wake[1]);
  free(p->conns);
  free(p);
  return -1;
}

void fp_stop(fp_proxy *p)
{
  if (p == NULL)
    return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
  pthread_join(p->thread, NULL);
  for (size_t i = 0; i < p->nconns; i++)
    fp_conn_free(p->conns[i]);
  free(p->conns);
  close(p->lfd);
  close(p->wake[0]);
  close(p->wake[1]);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

uint16_t fp_port(const fp_proxy *p)
{
  return p->port;
}

void fp_set_upstream(fp_proxy *p, const char *host, uint16_t port)
{
  struct in_addr a;
  if (inet_pton(AF_INET, host, &a) != 1)
    return;
  pthread_mutex_lock(&p->mu);
  p->upstream.sin_addr = a;
  p->upstream.sin_port = htons(port);
  pthread_mutex_unlock(&p->mu);
}

void fp_set_cut(fp_proxy *p, uint64_t n, unsigned count)
{
  pthread_mutex_lock(&p->mu);
  p->cut_every = p->cut_left = n;
  p->cut_count = n == 0 ? 0 : count;
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
}

void fp_set_flip(fp_proxy *p, unsigned every, unsigned phase)
{
  pthread_mutex_lock(&p->mu);
  p->flip_every = every;
  p->flip_phase = every ? phase % every : 0;
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
}

void fp_set_conn_rate(fp_proxy *p, uint64_t bytes_per_sec)
{
  pthread_mutex_lock(&p->mu);
  p->conn_rate = bytes_per_sec;
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
}

void fp_set_conn_cap(fp_proxy *p, uint64_t n)
{
  pthread_mutex_lock(&p->mu);
  p->conn_cap = n;
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
}

void fp_set_rate(fp_proxy *p, uint64_t bytes_per_sec)
{
  pthread_mutex_lock(&p->mu);
  p->rate = bytes_per_sec;
  p->tokens = 0;
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
}

void fp_set_stall(fp_proxy *p, int on)
{
  pthread_mutex_lock(&p->mu);
  p->stall = on != 0;
  if (!on)
    p->stall_left = 0;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
}

void fp_set_stall_after(fp_proxy *p, uint64_t n)
{
  pthread_mutex_lock(&p->mu);
  p->stall_left = n;
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
}

void fp_cut_all(fp_proxy *p)
{
  pthread_mutex_lock(&p->mu);
  unsigned ticket = ++p->cut_all_asked;
  pthread_mutex_unlock(&p->mu);
  fp_wake(p);
  pthread_mutex_lock(&p->mu);
  while ((int)(p->cut_all_done - ticket) < 0 && !p->quit)
    pthread_cond_wait(&p->cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

#define FP_GETTER(type, name, expr) \
  type name(fp_proxy *p)            \
  {                                 \
    pthread_mutex_lock(&p->mu);     \
    type v = (expr);                \
    pthread_mutex_unlock(&p->mu);   \
    return v;                       \
  }
FP_GETTER(uint64_t, fp_upstream_bytes, p->up_total)
FP_GETTER(unsigned, fp_accepted, p->accepted)
FP_GETTER(unsigned, fp_cuts, p->cuts)
FP_GETTER(unsigned, fp_flips, p->flips)
FP_GETTER(unsigned, fp_bodies, p->bodies)
FP_GETTER(int, fp_stalled, p->stall)

/* Wait on the condition variable until `reached(p, arg)` or the deadline. */
static int fp_wait(fp_proxy *p, int (*reached)(fp_proxy *, uint64_t), uint64_t arg, int timeout_ms)
{
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += timeout_ms / 1000;
  dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  int rc = 0;
  pthread_mutex_lock(&p->mu);
  while (!reached(p, arg)) {
    if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT) {
      rc = reached(p, arg) ? 0 : -1;
      break;
    }
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

static int fp_up_reached(fp_proxy *p, uint64_t n)
{
  return p->up_total >= n;
}
static int fp_acc_reached(fp_proxy *p, uint64_t n)
{
  return p->accepted >= n;
}
static int fp_cuts_reached(fp_proxy *p, uint64_t n)
{
  return p->cuts >= n;
}
static int fp_stall_reached(fp_proxy *p, uint64_t n)
{
  return (uint64_t)p->stall >= n;
}

int fp_wait_upstream_bytes(fp_proxy *p, uint64_t n, int timeout_ms)
{
  return fp_wait(p, fp_up_reached, n, timeout_ms);
}
int fp_wait_accepted(fp_proxy *p, unsigned n, int timeout_ms)
{
  return fp_wait(p, fp_acc_reached, n, timeout_ms);
}
int fp_wait_cuts(fp_proxy *p, unsigned n, int timeout_ms)
{
  return fp_wait(p, fp_cuts_reached, n, timeout_ms);
}
int fp_wait_stalled(fp_proxy *p, int timeout_ms)
{
  return fp_wait(p, fp_stall_reached, 1, timeout_ms);
}
