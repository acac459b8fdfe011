#include "sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double mono_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void deadline_in(struct timespec *ts, int timeout_ms)
{
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += timeout_ms / 1000;
  ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static void sink_serve(sink *s, int fd)
{
  char buf[16384];
  uint64_t got = 0;
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r <= 0)
      break;
    got += (uint64_t)r;
    pthread_mutex_lock(&s->mu);
    s->total += (uint64_t)r;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->echo && tcp_send_all(fd, buf, (size_t)r) != (size_t)r)
      break;
  }
  close(fd);
  pthread_mutex_lock(&s->mu);
  if (s->done < SINK_MAX_CONNS)
    s->got[s->done] = got;
  s->done++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void *sink_main(void *arg)
{
  sink *s = arg;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
      break; /* the listening socket was shut down */
    sink_serve(s, fd);
  }
  return NULL;
}

int sink_start(sink *s, int echo)
{
  memset(s, 0, sizeof *s);
  s->echo = echo;
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
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&s->mu, NULL);
  if (pthread_create(&s->thread, NULL, sink_main, s) != 0) {
    close(s->lfd);
    return -1;
  }
  return 0;
}

void sink_stop(sink *s)
{
  shutdown(s->lfd, SHUT_RDWR); /* wakes the blocked accept() */
  pthread_join(s->thread, NULL);
  close(s->lfd);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
}

int sink_wait_done(sink *s, size_t n, int timeout_ms)
{
  struct timespec dl;
  deadline_in(&dl, timeout_ms);
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  while (s->done < n) {
    if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
      rc = s->done >= n ? 0 : -1;
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int tcp_connect_local(uint16_t port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

size_t tcp_send_all(int fd, const void *buf, size_t len)
{
  size_t off = 0;
  while (off < len) {
    ssize_t w = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  return off;
}

size_t tcp_recv_all(int fd, void *buf, size_t len, int timeout_ms)
{
  size_t off = 0;
  double end = mono_now() + timeout_ms / 1000.0;
  while (off < len) {
    int left = (int)((end - mono_now()) * 1000.0);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (left <= 0 || poll(&pfd, 1, left) <= 0)
      break;
    ssize_t r = recv(fd, (char *)buf + off, len - off, 0);
    if (r <= 0)
      break;
    off += (size_t)r;
  }
  return off;
}
