/* A libmicrohttpd host for the resumable_server handler: it owns the sockets and threads, and
 * drives one resumable_exchange per HTTP request. Used by resumable-serve and by the in-process
 * integration tests. */
#ifndef MHD_HOST_H
#define MHD_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <resumable/error.h>
#include <resumable/server.h>

typedef struct mhd_host mhd_host;

/* One access-log line per finished request (no trailing newline): method, key, status, bytes
 * received. `line` lives only during the call. Called from connection threads, concurrently:
 * it must be thread-safe. */
typedef void (*mhd_host_log_fn)(void *user_data, const char *line);

typedef struct mhd_host_config {
  const char *listen_addr;   /* numeric IPv4 or IPv6 address; NULL means 127.0.0.1 */
  uint16_t port;             /* 0 picks an ephemeral port (see mhd_host_port) */
  resumable_server *server;  /* the handler; not owned, must outlive the host */
  size_t memory_limit;       /* per-connection memory (the request line and headers must
                                   fit in it; larger are refused with 431); MHD 0.9.75 clears
                                   all of it after each request, so a kept-alive connection
                                   costs this much resident memory; 0 means 256 KiB */
  unsigned timeout_s;        /* idle timeout: a connection that moves no byte either way for
                                   this long is closed (an upload in progress ends as dropped,
                                   keeping its bytes); 0 means 60 s */
  unsigned linger_ms;        /* a reply decided before the body ended, to a client without
                                   Expect: 100-continue, waits for the body's end (bounded by
                                   the idle timeout and body_min_rate) and is then sent; but a
                                   401, or a chunked body, is read only this long after the
                                   decision and then closed without a reply; 0 means 5000 */
  unsigned max_connections;  /* concurrent connections; more are accepted and closed at
                                   once; 0 means 256 */
  unsigned max_per_ip;       /* concurrent connections from one client address; 0: no cap */
  unsigned threads;          /* 0: one thread per connection (default); N > 0: a pool of N
                                   epoll worker threads shared by all connections */
  uint64_t body_min_rate;    /* bytes/s a request body must average over each window, or
                                   the connection is closed (the bytes that arrived are kept,
                                   the upload ends as dropped); 0 means no rate check */
  unsigned body_window_s;    /* the rate window in seconds; 0 means 60 */
  unsigned header_timeout_s; /* the whole header phase of a request (from the accept, or on a
                                   kept-alive connection from the request's first byte, to the
                                   end of its header section) must end within this; otherwise
                                   the connection is closed without a reply; 0 means 20 s */
  size_t max_header_size;    /* largest request line + header section; a larger one gets 431
                                   and the connection is closed (beyond memory_limit libmicro-
                                   httpd answers 431 itself); 0 means 16 KiB */
  int verbose;               /* libmicrohttpd's own error log to stderr */
  mhd_host_log_fn log;       /* access log; NULL for none */
  void *log_user;
} mhd_host_config;

/* Bind and start serving (one thread per connection, or the configured pool). Connections are
 * accepted by a thread of the host (conn_guard.h): out of file descriptors it pauses accepting
 * and answers waiting connections 503 with Retry-After. Returns 0, or -1 with a reason written
 * into err (at most err_cap bytes, NUL-terminated) when the address is bad or the bind fails. */
int mhd_host_start(const mhd_host_config *cfg, mhd_host **out, char *err, size_t err_cap);

/* The port actually bound (the ephemeral one when the config said 0). */
uint16_t mhd_host_port(const mhd_host *h);

/* The address as given (or the default), for building URLs. */
const char *mhd_host_address(const mhd_host *h);

/* Seconds a client is told to wait (Retry-After) when the host refuses it for lack of file
 * descriptors. */
#define MHD_HOST_RETRY_AFTER_S 5

/* Close the listening socket and every connection, wait for their threads, free the host.
 * Exchanges cut off by the stop end as dropped (their bytes are kept). NULL is a no-op. */
void mhd_host_stop(mhd_host *h);

#endif
