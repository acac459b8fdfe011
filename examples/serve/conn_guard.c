/* The host's front thread: accepting with a back-off, header deadlines, FINs (conn_guard.h). */
#define _GNU_SOURCE /* accept4 */
#include "conn_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct conn_watch {
  int fd;
  int dead;          /* conn_guard_close was called: fd may be closed, never touch it */
  int fin;           /* the peer's FIN was seen and passed on */
  int in_headers;    /* in the deadline list */
  int waiting;       /* kept alive, waiting for the next request's first byte */
  unsigned begun;    /* requests whose headers completed */
  unsigned armed_at; /* `begun` when the wait for a first byte was armed */
  int64_t deadline_ms;
  int64_t recheck_ms; /* FIN seen, bytes still unread: when to look again */
  unsigned recheck_delay_ms;
  conn_watch *prev, *next;   /* the deadline list, oldest first (one timeout for all) */
  conn_watch *rprev, *rnext; /* the FIN recheck list */
  int in_recheck;
  conn_watch *grave; /* closed, freed by the guard's thread */
};

struct conn_guard {
  conn_guard_config cfg;
  pthread_mutex_t mu;
  pthread_t thread;
  int thread_started;
  int ep;      /* epoll: the listening socket, wake_fd, every connection */
  int wake_fd; /* eventfd: stop, or free the closed watches */
  int stopping;
  int reserve;             /* /dev/null, kept to answer 503 when out of descriptors; -1 if lost */
  int listening;           /* the listening socket is in `ep` (not paused) */
  int64_t resume_ms;       /* while paused: when to try accepting again */
  unsigned backoff_ms;     /* the current pause, 0 while accepting works */
  unsigned long refused;   /* answered 503 during this shortage */
  unsigned open;           /* connections between conn_guard_open and conn_guard_close */
  unsigned pending;        /* handed to the server, conn_guard_open not yet called */
  conn_watch *head, *tail; /* header deadlines */
  conn_watch *rechecks;    /* FINs waiting for the server to read the bytes before them */
  conn_watch *graves;
  unsigned graves_n;
};

/* Markers for epoll_event.data.ptr (a watch pointer otherwise). */
static char listen_marker, wake_marker;

enum {
  GUARD_BACKOFF_MIN_MS = 50,
  GUARD_BACKOFF_MAX_MS = 1000,
  GUARD_LINGER_MS = 100,
  GUARD_ACCEPT_BATCH = 64,
  GUARD_RECHECK_MIN_MS = 2,
  GUARD_RECHECK_MAX_MS = 500,
  GUARD_GRAVES_WAKE = 256 /* closed watches that wake the guard to free them */
};

static void wake(conn_guard *g)
{
  uint64_t one = 1;
  if (write(g->wake_fd, &one, sizeof one) < 0) {
    /* cannot fail below the eventfd's maximum count */
  }
}

static int64_t now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void guard_log(conn_guard *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void guard_log(conn_guard *g, const char *fmt, ...)
{
  if (g->cfg.log == NULL)
    return;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  g->cfg.log(g->cfg.user, line);
}

/* ---- the header deadline list (under mu) ---- */

static void unlist(conn_guard *g, conn_watch *w)
{
  if (!w->in_headers)
    return;
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    g->head = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    g->tail = w->prev;
  w->prev = w->next = NULL;
  w->in_headers = 0;
}

static void start_clock(conn_guard *g, conn_watch *w)
{
  unlist(g, w);
  w->deadline_ms = now_ms() + g->cfg.header_timeout_ms;
  w->prev = g->tail;
  if (g->tail != NULL)
    g->tail->next = w;
  else
    g->head = w;
  g->tail = w;
  w->in_headers = 1;
}

/* "ADDR:PORT" of the peer, for the log. */
static void peer_name(int fd, char *buf, size_t cap)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET) {
      const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
    }
  }
  snprintf(buf, cap, "%s:%u", host, port);
}

static void expire_headers(conn_guard *g, int64_t now)
{
  while (g->head != NULL && g->head->deadline_ms <= now) {
    conn_watch *w = g->head;
    unlist(g, w);
    char peer[64];
    peer_name(w->fd, peer, sizeof peer);
    guard_log(g, "- \"\" 408 0 dropped: headers from %s not complete within %u ms", peer,
              g->cfg.header_timeout_ms);
    shutdown(w->fd, SHUT_RDWR); /* the server sees the end at once and closes */
  }
}

/* ---- connections (under mu) ---- */

static void arm(conn_guard *g, conn_watch *w, uint32_t events)
{
  struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.ptr = w};
  if (epoll_ctl(g->ep, EPOLL_CTL_MOD, w->fd, &ev) != 0)
    w->fin = 1; /* cannot watch any more: at worst the idle timeout ends it */
}

static void unrecheck(conn_guard *g, conn_watch *w)
{
  if (!w->in_recheck)
    return;
  if (w->rprev != NULL)
    w->rprev->rnext = w->rnext;
  else
    g->rechecks = w->rnext;
  if (w->rnext != NULL)
    w->rnext->rprev = w->rprev;
  w->rprev = w->rnext = NULL;
  w->in_recheck = 0;
}

/* The peer's FIN arrived. Once the server has read every byte before it (the socket holds
 * nothing but the end of the stream), shutting the read side down wakes the server with a new
 * edge, after its last read, so it reads the end. While bytes are unread, the server has an
 * edge of its own to read them, but may take that short read as the last: look again later
 * (the server's reads are what empty the socket; no event says when). */
static void pass_fin(conn_guard *g, conn_watch *w, int64_t now)
{
  char b;
  ssize_t n = recv(w->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) {
    w->recheck_delay_ms = w->recheck_delay_ms == 0 ? GUARD_RECHECK_MIN_MS
                          : w->recheck_delay_ms * 2 > GUARD_RECHECK_MAX_MS
                              ? GUARD_RECHECK_MAX_MS
                              : w->recheck_delay_ms * 2;
    w->recheck_ms = now + w->recheck_delay_ms;
    if (!w->in_recheck) {
      w->rnext = g->rechecks;
      if (g->rechecks != NULL)
        g->rechecks->rprev = w;
      g->rechecks = w;
      w->in_recheck = 1;
    }
    return;
  }
  unrecheck(g, w);
  shutdown(w->fd, SHUT_RD);
}

static void run_rechecks(conn_guard *g, int64_t now)
{
  for (conn_watch *w = g->rechecks, *next; w != NULL; w = next) {
    next = w->rnext;
    if (w->recheck_ms <= now)
      pass_fin(g, w, now);
  }
}

static void on_connection_event(conn_guard *g, conn_watch *w, uint32_t events)
{
  if (w->dead || w->fin)
    return;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    w->fin = 1;
    pass_fin(g, w, now_ms());
    return;
  }
  if ((events & EPOLLIN) && w->waiting && w->armed_at == w->begun) {
    /* The next request's first bytes, if they are still there: an event taken from epoll
     * just before the server read a whole request and re-armed the wait is stale. */
    char b;
    ssize_t n = recv(w->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
      w->fin = 1;
      pass_fin(g, w, now_ms());
      return;
    }
    if (n < 0) {
      arm(g, w, EPOLLIN | EPOLLRDHUP); /* still waiting */
      return;
    }
    start_clock(g, w);
  }
  w->waiting = 0;
  arm(g, w, EPOLLRDHUP);
}

conn_watch *conn_guard_open(conn_guard *g, int fd)
{
  conn_watch *w = calloc(1, sizeof *w);
  if (w == NULL) {
    pthread_mutex_lock(&g->mu);
    if (g->pending > 0)
      g->pending--;
    pthread_mutex_unlock(&g->mu);
    shutdown(fd, SHUT_RDWR);
    guard_log(g, "- \"\" 503 0 dropped: out of memory for a new connection");
    return NULL;
  }
  w->fd = fd;
  struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.ptr = w};
  pthread_mutex_lock(&g->mu);
  if (g->pending > 0)
    g->pending--;
  g->open++;
  if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
    w->fin = 1; /* unwatched for FINs; the deadline still applies */
  start_clock(g, w);
  pthread_mutex_unlock(&g->mu);
  return w;
}

void conn_guard_headers_done(conn_guard *g, conn_watch *w)
{
  if (w == NULL)
    return;
  pthread_mutex_lock(&g->mu);
  unlist(g, w);
  w->begun++;
  w->waiting = 0;
  pthread_mutex_unlock(&g->mu);
}

void conn_guard_reply_done(conn_guard *g, conn_watch *w)
{
  if (w == NULL)
    return;
  pthread_mutex_lock(&g->mu);
  if (!w->fin && !w->dead) {
    w->waiting = 1;
    w->armed_at = w->begun;
    arm(g, w, EPOLLIN | EPOLLRDHUP);
  }
  pthread_mutex_unlock(&g->mu);
}

void conn_guard_close(conn_guard *g, conn_watch *w)
{
  if (w == NULL)
    return;
  pthread_mutex_lock(&g->mu);
  unlist(g, w);
  unrecheck(g, w);
  epoll_ctl(g->ep, EPOLL_CTL_DEL, w->fd, NULL);
  w->dead = 1;
  g->open--;
  /* An event for it may already sit in the guard's hands: freed only by that thread, after
   * the batch. */
  w->grave = g->graves;
  g->graves = w;
  if (++g->graves_n == GUARD_GRAVES_WAKE)
    wake(g); /* else they wait for its next round: at most a header timeout */
  pthread_mutex_unlock(&g->mu);
}

static void free_graves(conn_guard *g)
{
  while (g->graves != NULL) {
    conn_watch *w = g->graves;
    g->graves = w->grave;
    free(w);
  }
  g->graves_n = 0;
}

/* ---- accepting ---- */

static void set_listening(conn_guard *g, int on)
{
  if (on == g->listening)
    return;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_marker};
  if (epoll_ctl(g->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, g->cfg.listen_fd, &ev) == 0)
    g->listening = on;
}

/* Before closing a refused connection: read what the client sends, until it closes or a short
 * while passes. A request that arrives after our close() would make the kernel answer it with a
 * reset, and a reset can cost the client the 503 it has not read yet. Bounded: the guard waits
 * here only while out of descriptors, and at most GUARD_LINGER_MS per refused connection. */
static void linger_drain(int fd)
{
  char sink[4096];
  int64_t until = now_ms() + GUARD_LINGER_MS;
  for (int i = 0; i < 64; i++) {
    int64_t left = until - now_ms();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (left <= 0 || poll(&p, 1, (int)left) <= 0)
      return;
    ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
      return; /* the client closed (or reset): nothing more can arrive */
  }
}

/* Out of descriptors: take one waiting connection with the reserve descriptor, answer it 503,
 * and get the reserve back. */
static void refuse_one(conn_guard *g)
{
  if (g->reserve < 0)
    g->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (g->reserve < 0)
    return;
  close(g->reserve);
  g->reserve = -1;
  int fd = accept4(g->cfg.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    static const char body[] = "server out of file descriptors, retry later\n";
    char reply[256];
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %u\r\n"
                     "Content-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n"
                     "\r\n%s",
                     g->cfg.retry_after_s, sizeof body - 1, body);
    if (n > 0 && (size_t)n < sizeof reply)
      send(fd, reply, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL); /* best effort */
    shutdown(fd, SHUT_WR);
    linger_drain(fd);
    close(fd);
    g->refused++;
  }
  g->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void pause_accepting(conn_guard *g, int err)
{
  if (g->backoff_ms == 0)
    guard_log(g, "out of file descriptors (%s): accepting paused, new connections get 503",
              strerror(err));
  refuse_one(g);
  g->backoff_ms = g->backoff_ms == 0                         ? GUARD_BACKOFF_MIN_MS
                  : g->backoff_ms * 2 > GUARD_BACKOFF_MAX_MS ? GUARD_BACKOFF_MAX_MS
                                                             : g->backoff_ms * 2;
  g->resume_ms = now_ms() + g->backoff_ms;
  set_listening(g, 0);
}

/* Over the cap: closed at once. Otherwise counted as pending until the server opens it. */
static void admit(conn_guard *g, int fd, const struct sockaddr *addr, socklen_t len)
{
  pthread_mutex_lock(&g->mu);
  int full = g->cfg.max_connections != 0 && g->open + g->pending >= g->cfg.max_connections;
  if (!full)
    g->pending++;
  pthread_mutex_unlock(&g->mu);
  if (full) {
    close(fd);
    return;
  }
  if (!g->cfg.admit(g->cfg.user, fd, addr, len)) {
    pthread_mutex_lock(&g->mu);
    if (g->pending > 0)
      g->pending--;
    pthread_mutex_unlock(&g->mu);
  }
}

static void accept_some(conn_guard *g)
{
  for (int i = 0; i < GUARD_ACCEPT_BATCH; i++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(g->cfg.listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (g->backoff_ms != 0)
        guard_log(g, "file descriptors available again (%lu connection(s) answered 503)",
                  g->refused);
      g->backoff_ms = 0;
      g->refused = 0;
      admit(g, fd, (struct sockaddr *)&ss, len);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
      pause_accepting(g, errno);
    else
      guard_log(g, "accept: %s", strerror(errno));
    return;
  }
}

/* ---- the thread ---- */

static int next_timeout(conn_guard *g, int64_t now)
{
  int64_t until = now + g->cfg.header_timeout_ms; /* a watch added meanwhile expires no sooner */
  if (g->head != NULL && g->head->deadline_ms < until)
    until = g->head->deadline_ms;
  if (!g->listening && g->resume_ms < until)
    until = g->resume_ms;
  for (const conn_watch *w = g->rechecks; w != NULL; w = w->rnext)
    if (w->recheck_ms < until)
      until = w->recheck_ms;
  return until <= now ? 0 : (int)(until - now);
}

static void *guard_main(void *arg)
{
  conn_guard *g = arg;
  struct epoll_event evs[64];
  int timeout = 0;
  for (;;) {
    int n = epoll_wait(g->ep, evs, 64, timeout);
    if (n < 0 && errno != EINTR)
      break;
    int stop = 0, accept_now = 0;
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;
      if (p == &wake_marker) {
        uint64_t count;
        if (read(g->wake_fd, &count, sizeof count) < 0) {
          /* already read: nothing to do */
        }
        stop = g->stopping;
      } else if (p == &listen_marker) {
        accept_now = 1;
      } else {
        on_connection_event(g, p, evs[i].events);
      }
    }
    free_graves(g);
    int64_t now = now_ms();
    run_rechecks(g, now);
    expire_headers(g, now);
    if (!stop && !g->listening && now >= g->resume_ms) {
      set_listening(g, 1);
      accept_now = 1;
    }
    pthread_mutex_unlock(&g->mu);
    if (stop)
      break;
    if (accept_now)
      accept_some(g); /* without mu: the server may call conn_guard_open meanwhile */
    pthread_mutex_lock(&g->mu);
    timeout = next_timeout(g, now_ms());
    pthread_mutex_unlock(&g->mu);
  }
  return NULL;
}

int conn_guard_start(const conn_guard_config *cfg, conn_guard **out)
{
  *out = NULL;
  conn_guard *g = calloc(1, sizeof *g);
  if (g == NULL) {
    close(cfg->listen_fd);
    errno = ENOMEM;
    return -1;
  }
  if (pthread_mutex_init(&g->mu, NULL) != 0) {
    close(cfg->listen_fd);
    free(g);
    errno = ENOMEM;
    return -1;
  }
  g->cfg = *cfg;
  g->ep = epoll_create1(EPOLL_CLOEXEC);
  g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  g->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wake_marker};
  int err = 0;
  if (g->ep < 0 || g->wake_fd < 0 || g->reserve < 0 ||
      epoll_ctl(g->ep, EPOLL_CTL_ADD, g->wake_fd, &ev) != 0)
    err = errno;
  if (err == 0) {
    set_listening(g, 1);
    if (!g->listening)
      err = errno;
  }
  if (err == 0) {
    *out = g; /* the server's callbacks need it as soon as a connection is admitted */
    err = pthread_create(&g->thread, NULL, guard_main, g);
    g->thread_started = err == 0;
  }
  if (err != 0) {
    *out = NULL;
    conn_guard_free(g);
    errno = err;
    return -1;
  }
  return 0;
}

void conn_guard_stop(conn_guard *g)
{
  if (g == NULL || !g->thread_started)
    return;
  pthread_mutex_lock(&g->mu);
  g->stopping = 1;
  wake(g);
  pthread_mutex_unlock(&g->mu);
  pthread_join(g->thread, NULL);
  g->thread_started = 0;
  pthread_mutex_lock(&g->mu);
  set_listening(g, 0);
  pthread_mutex_unlock(&g->mu);
  close(g->cfg.listen_fd);
  g->cfg.listen_fd = -1;
}

void conn_guard_free(conn_guard *g)
{
  if (g == NULL)
    return;
  conn_guard_stop(g);
  free_graves(g);
  if (g->cfg.listen_fd >= 0)
    close(g->cfg.listen_fd);
  if (g->ep >= 0)
    close(g->ep);
  if (g->wake_fd >= 0)
    close(g->wake_fd);
  if (g->reserve >= 0)
    close(g->reserve);
  pthread_mutex_destroy(&g->mu);
  free(g);
}
