/* Shared helpers of the integration tests: a real mhd_host on 127.0.0.1 (ephemeral port) over a
 * temporary root, requests through libcurl or raw sockets, files and SHA-256. Every helper
 * asserts (cmocka) on failures of the test machinery itself. */
#ifndef ITEST_H
#define ITEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "kit_host.h"
#include "mhd_host.h"

#define IT_PREFIX "/v1/files/"

typedef struct it_server {
  char parent[64]; /* mkdtemp directory; only `root` lives in it */
  char root[96];   /* the store's root */
  uint64_t max_size;
  const char *token;
  unsigned linger_ms;   /* the host's linger after an early reply; 0: its default */
  uint64_t partial_ttl; /* resumable_server_set_partial_ttl (tus Upload-Expires, 410) */
  mhd_host_log_fn log;  /* access log; NULL for none (or stderr with RS_IT_VERBOSE) */
  void *log_user;
  resumable_server *srv;
  mhd_host *host;
  kit_host kit; /* RS_KIT_HOST set (the conformance kit): the host under test, a child; then
                   srv and host stay NULL, and only max_size and token are passed on */
  uint16_t port;
} it_server;

/* Create the directories (first time) and start handler + host with the options set in s. */
void it_server_start(it_server *s);
/* Stop host and handler; the files stay. */
void it_server_stop(it_server *s);
/* Stop, then start again on the same root (e.g. after changing max_size or token). */
void it_server_restart(it_server *s);

/* cmocka fixtures: *state is a started it_server; teardown stops it and removes its files. */
int it_setup(void **state);
int it_teardown(void **state);

typedef struct it_req {
  const char *method; /* "PUT", "HEAD", "GET", "DELETE" or any other */
  const char *key;    /* raw path after IT_PREFIX */
  const void *body;   /* PUT body (may be NULL with body_len 0) */
  size_t body_len;
  const char *content_range;  /* "bytes 0-9/20"; NULL for none */
  const char *sha256;         /* X-Content-SHA256; NULL for none */
  const char *range;          /* Range for GET; NULL for none */
  const char *token;          /* sent as Authorization: Bearer; NULL for none */
  int expect_100;             /* PUT: 1 sends Expect: 100-continue and waits long for it */
  int chunked;                /* PUT: 1 sends the body chunked, without Content-Length */
  const char *const *headers; /* more "Name: value" lines, NULL-terminated (NULL for none);
                                 POST and PATCH send `body` like PUT */
} it_req;

typedef struct it_resp {
  long status;
  char headers[8192]; /* the final response's header block */
  size_t headers_len;
  char *body; /* NUL-terminated */
  size_t body_len;
  long long uploaded; /* body bytes curl sent */
} it_resp;

/* Perform the request with libcurl; fills *out (free with it_resp_free). */
void it_request(const it_server *s, const it_req *rq, it_resp *out);
void it_resp_free(it_resp *r);
/* A PUT (rq, without Expect) whose body stalls, as on a bursty link: the first `pause_at` body
 * bytes (0 < pause_at < body_len), then nothing for `pause_ms` (curl paused; the wait is on the
 * transfer's socket, so a reply or a close ends it at once), then the rest. Unlike it_request a
 * transport error is no test failure: it is returned (CURLE_OK when a reply arrived; status 0
 * when none). *ended_in_pause is 1 if the exchange ended (reply or close) during the pause. */
CURLcode it_put_stalled(const it_server *s, const it_req *rq, size_t pause_at, int pause_ms,
                        it_resp *out, int *ended_in_pause);
/* The value of response header `name` copied into buf, or NULL if absent. */
const char *it_header(const it_resp *r, const char *name, char *buf, size_t cap);
/* it_header parsed as an unsigned number; -1 if absent or not a number. */
long long it_header_num(const it_resp *r, const char *name);

/* Shorthands; they return the status and free the response unless out is given. */
long it_put(const it_server *s, const char *key, const char *content_range, const char *sha256,
            const void *data, size_t len, it_resp *out);
long it_head(const it_server *s, const char *key, it_resp *out);

/* Raw sockets, for requests curl would not send as written. */
int it_raw_connect(uint16_t port);
void it_raw_send(int fd, const void *data, size_t len);
/* Read one response (headers and a Content-Length body) within timeout_ms into buf
 * (NUL-terminated). Returns its status, or -1 on EOF/timeout before a status line. */
int it_raw_read_response(int fd, char *buf, size_t cap, int timeout_ms);
/* Connect, send `req` as is, read the response, close. Returns the status or -1. */
int it_raw_request(uint16_t port, const char *req, size_t len);

/* Data and files. */
void it_fill(void *buf, size_t len, unsigned seed);
void it_sha256_hex(const void *data, size_t len, char out[65]);
/* Malloc'd contents of `path` (NULL if it cannot be read); *len gets its size. */
char *it_read_file(const char *path, size_t *len);
/* Path of `key`'s complete file under the root, into buf. */
const char *it_key_path(const it_server *s, const char *key, char *buf, size_t cap);
/* Malloc'd sorted listing (path, type, size) of everything under dir, but for the files in a
 * store's .resumable/locks/ (they come and go with the requests that hold a key). */
char *it_tree(const char *dir);
void it_rm_rf(const char *path);

#endif
