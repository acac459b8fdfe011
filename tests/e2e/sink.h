#ifndef E2E_SINK_H
#define E2E_SINK_H

/* A tiny TCP server for testing the fault proxy: one thread, one connection at a time; it reads
 * each connection to EOF (echoing what it reads when asked) and records how many bytes came. */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SINK_MAX_CONNS 32

typedef struct sink {
  int lfd;
  uint16_t port;
  int echo;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t done;                  /* connections finished */
  uint64_t got[SINK_MAX_CONNS]; /* bytes received per finished connection */
  uint64_t total;               /* bytes received so far, all connections */
} sink;

/* Start on 127.0.0.1 port 0. Returns 0 or -1. */
int sink_start(sink *s, int echo);
/* Stop (closes the listening socket and joins). */
void sink_stop(sink *s);
/* Wait until `n` connections have finished; 0 or -1 on timeout. */
int sink_wait_done(sink *s, size_t n, int timeout_ms);

/* Client helpers: a blocking connection to 127.0.0.1:port (-1 on error), and a send of the
 * whole buffer that returns the bytes accepted by the kernel before an error. */
int tcp_connect_local(uint16_t port);
size_t tcp_send_all(int fd, const void *buf, size_t len);
/* Read exactly len bytes within timeout_ms; returns bytes read (short on EOF/error/timeout). */
size_t tcp_recv_all(int fd, void *buf, size_t len, int timeout_ms);

/* Monotonic clock in seconds, and a deadline helper for condition waits. */
double mono_now(void);
void deadline_in(struct timespec *ts, int timeout_ms);

#endif
