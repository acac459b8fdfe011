/* The host's front thread: it accepts connections (and backs off when the process is out of
 * file descriptors), bounds the header phase of every request in time, and makes the HTTP
 * server see a client's FIN that it would otherwise miss. Independent of libmicrohttpd: the
 * server is reached through the admit callback and the conn_guard_* calls below.
 *
 * Why each job is here (libmicrohttpd 0.9.75, Debian 12):
 *  - Accepting: MHD's own accept loop, in the thread-per-connection mode, polls the listening
 *    socket again at once after accept() failed with EMFILE: a core spins while the process
 *    is out of descriptors. Here, out of descriptors, accepting pauses (50 ms, doubling up to
 *    1 s) and one waiting connection per pause is answered 503 with Retry-After through a
 *    descriptor kept in reserve for that.
 *  - Header deadline: MHD's timeout restarts with every byte, so a client sending one header
 *    byte now and then holds its connection for ever. Here the header phase (from the accept
 *    for a connection's first request, from the first byte of the next request on a kept-alive
 *    connection) has a deadline; past it the connection is shut down.
 *  - FIN: MHD's epoll mode is edge-triggered and takes a short read as "nothing more to read",
 *    so when a client's last bytes and its FIN arrive together MHD reads the bytes and never
 *    reads again: the connection stays in CLOSE-WAIT until the idle timeout. Here every
 *    connection is watched for the peer's FIN (EPOLLRDHUP); when it comes, the read side is
 *    shut down, which wakes MHD once more (a new edge), and MHD reads the end of the stream.
 *    Bytes already received stay readable (Linux keeps the receive queue on SHUT_RD).
 *  - The connection cap: MHD 0.9.75 checks its limit for a handed-over connection twice, once
 *    when it is handed over and again, under a lock, when its thread takes it; a connection
 *    that passes the first check and fails the second leaves that lock held, and the daemon
 *    deadlocks. So the guard keeps the cap itself (connections open + handed over but not yet
 *    started) and closes the ones over it at once; the server's own limit must be set so high
 *    that it is never reached (see mhd_host.c).
 *
 * Thread-safety: conn_guard_open/_headers_done/_reply_done/_close may be called from any
 * thread, concurrently; a socket is shut down only between its conn_guard_open and its
 * conn_guard_close (so never after the server closed it and the number was reused). */
#ifndef CONN_GUARD_H
#define CONN_GUARD_H

#include <sys/socket.h>

typedef struct conn_guard conn_guard;
typedef struct conn_watch conn_watch;

/* Hand an accepted socket (non-blocking, close-on-exec) to the HTTP server, which owns it from
 * then on (closes it if it refuses it). Returns 1 if taken (conn_guard_open follows, or
 * nothing if the server fails to set it up for lack of memory), 0 if refused. Called on the
 * guard's thread. */
typedef int (*conn_guard_admit_fn)(void *user, int fd, const struct sockaddr *addr, socklen_t len);
/* One log line, no trailing newline; called on the guard's thread (and from conn_guard_open). */
typedef void (*conn_guard_log_fn)(void *user, const char *line);

typedef struct conn_guard_config {
  int listen_fd;              /* listening and non-blocking; the guard closes it */
  unsigned header_timeout_ms; /* deadline of a request's header phase, > 0 */
  unsigned retry_after_s;     /* the Retry-After of the 503 sent while out of descriptors */
  unsigned max_connections;   /* more are closed at once after the accept; 0: no cap */
  conn_guard_admit_fn admit;
  conn_guard_log_fn log; /* may be NULL */
  void *user;
} conn_guard_config;

/* Start the thread; *out is set before it starts accepting. Returns 0, or -1 (errno set, the
 * listening socket closed, *out NULL). */
int conn_guard_start(const conn_guard_config *cfg, conn_guard **out);

/* Stop accepting and join the thread (the listening socket is closed). Sockets still open stay
 * registered: their conn_guard_close may come later. NULL is a no-op. */
void conn_guard_stop(conn_guard *g);

/* Free the guard after conn_guard_stop and after every watch was closed. NULL is a no-op. */
void conn_guard_free(conn_guard *g);

/* A connection the server took over: its first request's header deadline starts now. Returns
 * its watch; NULL if out of memory (the socket has then been shut down: unwatched, it could
 * hold a slot without a deadline). */
conn_watch *conn_guard_open(conn_guard *g, int fd);

/* The request's header section is complete: its deadline no longer applies. */
void conn_guard_headers_done(conn_guard *g, conn_watch *w);

/* The reply was sent and the connection is kept alive: the next request's deadline starts with
 * its first byte. */
void conn_guard_reply_done(conn_guard *g, conn_watch *w);

/* The server is about to close the socket; the watch is freed later by the guard. NULL is a
 * no-op. */
void conn_guard_close(conn_guard *g, conn_watch *w);

#endif
