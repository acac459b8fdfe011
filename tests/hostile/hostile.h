/* Helpers of the hostile-client tests: an in-process mhd_host with any host configuration
 * (reusing the integration helpers for requests), raw sockets that tolerate a server that
 * resets or closes, store snapshots, and a captured access log. */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <pthread.h>

#include "itest.h"

typedef struct hs_log {
  pthread_mutex_t mu;
  char text[65536]; /* the access log lines so far, newline-separated (the tail is cut) */
  size_t len;
} hs_log;

typedef struct hs_server {
  it_server it;        /* parent, root, srv, host, port: usable with it_put / it_head */
  mhd_host_config cfg; /* set before hs_start; server, log and listen_addr are filled in */
  hs_log log;
} hs_server;

/* Make the directories (first time), start handler and host with s->cfg. */
void hs_start(hs_server *s);
void hs_stop(hs_server *s);
/* cmocka fixture helpers: calloc + start with `cfg`; stop + remove everything + free. */
hs_server *hs_new(const mhd_host_config *cfg);
void hs_free(hs_server *s);
/* Whether the access log holds a line containing `needle`. */
int hs_log_has(hs_server *s, const char *needle);

long long hs_now_ms(void);

/* A TCP connection to 127.0.0.1:port, from local address `src` (NULL: any). -1 if refused. */
int hs_connect(uint16_t port, const char *src);

/* The outcome of a raw exchange. */
typedef struct hs_result {
  int status;     /* of the first response, 0 if none arrived */
  int closed;     /* the server closed (EOF or reset) */
  int timed_out;  /* the deadline passed with the connection still open */
  char head[512]; /* the first bytes received, for messages */
} hs_result;

/* Send `len` bytes while reading what comes back (so a reply sent before the server stops
 * reading is not lost to a reset), until a whole response arrived and, with `until_close`,
 * the server closed; or until timeout_ms. Send errors just stop the sending. */
void hs_roundtrip(int fd, const void *req, size_t len, int until_close, int timeout_ms,
                  hs_result *out);
/* Read the reply to a HEAD sent earlier. */
void hs_read_head_reply(int fd, int timeout_ms, hs_result *out);
/* Send all of it (blocking); 0, or -1 if the server closed or reset. */
int hs_send(int fd, const void *data, size_t len);
/* Connect, hs_roundtrip, close. */
void hs_raw(uint16_t port, const void *req, size_t len, int timeout_ms, hs_result *out);
/* Wait until the server closes `fd` (discarding whatever it sends): 1, or 0 at the deadline. */
int hs_wait_closed(int fd, int timeout_ms);

/* A HEAD over a fresh raw connection: the status, or 0 if none. */
int hs_head(uint16_t port, const char *key);

/* Malloc'd snapshot of everything under dir: path, type, size, mtime and SHA-256 of files. */
char *hs_snapshot(const char *dir);

/* Set the modification times of `key`'s partial files (meta and data) `age_s` into the past. */
void hs_age_partial(const hs_server *s, const char *key, long age_s);
/* Whether the store holds partial files for `key`. */
int hs_partial_files_exist(const hs_server *s, const char *key);

/* Threads and resident memory of this process, from /proc/self/status (-1 if unknown). */
long hs_threads(void);
long hs_rss_kib(void);

#endif
