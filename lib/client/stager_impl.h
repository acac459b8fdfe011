/* The stager handle's insides, shared by the stager_*.c files. Not installed. */
#ifndef RESUMABLE_STAGER_IMPL_H
#define RESUMABLE_STAGER_IMPL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "backoff.h"
#include "file_hash.h"
#include "clock.h"
#include "hash_cache.h"
#include "resumable/stager.h"
#include "stager_decide.h"
#include "stager_headers.h"
#include "stager_tus_resp.h"

#define RS_STAGER_MSG_MAX 512
#define RS_STAGER_BODY_MAX 4096
/* A reply's header section (status lines and header lines, interim responses included) may be
 * this large; more fails the run with RESUMABLE_E_PROTOCOL. Ours and LocalAI's are under 1 KiB. */
#define RS_REPLY_HEADER_MAX (64u << 10)
/* libcurl refuses one header line above this (CURL_MAX_HTTP_HEADER) with CURLE_OUT_OF_MEMORY. */
#define RS_CURL_HEADER_LINE_MAX (100u << 10)

struct curl_slist;

typedef struct rs_stager_opts {
  uint64_t budget_ms;
  uint64_t backoff_min_ms;
  uint64_t backoff_max_ms;
  resumable_jitter jitter;
  uint64_t chunk_size;
  int have_sha;
  uint8_t sha[32];
  struct curl_slist *headers; /* extra "Name: value" lines, in order */
  char *token;
  char *ca_file;
  char *ca_path;
  char *cert;
  char *key;
  int insecure;
  int verbose;
  uint64_t stall_bytes;
  uint64_t stall_secs;
  uint64_t connect_ms;
  uint64_t max_speed;
  resumable_progress_fn progress;
  void *progress_ud;
  resumable_log_fn log;
  void *log_ud;
  char *hash_cache_dir; /* NULL: no persistent hash cache */
  int64_t hc_margin_ns; /* rs_hc_racy's margin; -1 (default) picks one. Tests set 0. */
  /* the tus dialect (stager_tus_opts.c) */
  resumable_protocol protocol;
  char *tus_metadata;  /* Upload-Metadata value built by add_metadata, or NULL */
  char *url_store_dir; /* NULL: no URL store */
  unsigned parallel;   /* connections, 1..16 */
  int cancel_remote;
  int chunk_digest; /* resumable_stager_set_chunk_digest: 1, 0, -1 (auto) */
} rs_stager_opts;

/* What one run reports through the getters. */
typedef struct rs_stager_result {
  int error;
  char msg[RS_STAGER_MSG_MAX];
  int http_status;
  int sha_known;
  char sha_hex[65];
  uint64_t size;
  uint64_t resumed_from;
  int resumed_set;
  uint64_t held;
  uint64_t wire_bytes;
  unsigned attempts;
  unsigned restarts;
  unsigned requests;
  unsigned chunk_resends; /* chunks resent after a per-request digest mismatch */
  int already_there;
  int hash_cached; /* the SHA-256 came from a cache, not from reading the file */
  char body[RS_STAGER_BODY_MAX + 1];
  resumable_protocol protocol;         /* spoken by the run */
  char upload_url[RS_TUS_URL_MAX + 1]; /* tus: the upload's absolute URL, or "" */
} rs_stager_result;

struct resumable_stager {
  char *url;
  char *path; /* as given to resumable_stager_new (checked for replacement); NULL for _new_fd */
  int fd;
  int running;
  void *curl;       /* CURL *, created at the first request and reused (keep-alive) */
  int sock;         /* the socket of the connection in use or kept alive, -1 if unknown */
  char errbuf[256]; /* CURLOPT_ERRORBUFFER (CURL_ERROR_SIZE) */
  rs_stager_opts o;
  rs_stager_result r;
  /* The hash of an earlier run, reused while the file's key stays the same. */
  int mem_valid;
  rs_hc_key mem_key;
  uint8_t mem_sha[32];
};

/* A chunk of the file in memory with its SHA-256 (per-chunk digests, stager_digest.c). */
typedef struct rs_dbuf {
  uint8_t *data;
  size_t cap;
  uint64_t start, end; /* file bytes [start, end) */
  int valid;
  char b64[48]; /* their SHA-256 in base64 */
} rs_dbuf;

/* One run's working state (stager_run.c), shared with the libcurl request code (stager_http.c). */
typedef struct rs_run {
  resumable_stager *s;
  uint64_t size;
  uint8_t sha[32];
  char sha_hex[65];
  rs_hc_key file;       /* the file's identity when it was measured (fstat in prepare) */
  uint64_t deadline_ms; /* on rs_now_ms's clock */
  rs_backoff backoff;
  uint64_t rng_state;
  resumable_phase phase;
  uint64_t hashed;
  uint64_t wait_ms;
  unsigned attempt;
  /* The request in flight. */
  uint64_t body_pos; /* next file offset the read callback hands over */
  uint64_t body_end; /* one past its last byte */
  uint64_t body_start;
  uint64_t req_sent;    /* body bytes libcurl has sent in this request so far */
  int req_put;          /* the request has a body (PUT), so the stall check applies */
  int req_finish;       /* the finish PUT: the server may commit (and hash) before answering */
  uint64_t stall_t0;    /* stall window: when it began (rs_now_ms) */
  uint64_t stall_b0;    /* and the bytes moved (up + down) by then */
  int stalled;          /* the stall check abandoned the request */
  int cancelled;        /* the progress callback said stop */
  int file_error;       /* the read callback failed */
  int cut;              /* the last PUT broke while its body was going out, with no answer */
  uint64_t cut_sent;    /* body bytes libcurl had written to the connection by then */
  int new_conn;         /* the last request opened a connection (did not reuse one) */
  rs_cap cap;           /* what the cuts so far say about a relay's cap per connection */
  size_t body_len;      /* bytes captured into s->r.body */
  size_t header_bytes;  /* of the reply's header section so far */
  int header_too_large; /* it went over RS_REPLY_HEADER_MAX: the transfer was stopped */
  rs_resp resp;
  char last_problem[320]; /* the last transient failure, for the timeout message */
  rs_tus_resp tresp;      /* the tus headers of the same response */
  int quiet;              /* no progress callback, no cancel (tus termination after a cancel) */
  /* Per-chunk Content-Digest (stager_digest.c). */
  int digest_on;          /* chunks carry Content-Digest */
  const uint8_t *mem;     /* the body of the request in flight, from memory (or NULL: pread) */
  const uint8_t *tus_mem; /* tus: the next request's body from memory (set around the call) */
  rs_dbuf dcur;           /* the chunk being sent (or last sent) */
  rs_dbuf dnext;          /* the next one, read ahead on a helper thread */
  pthread_t ahead_thread;
  int ahead_running;
  uint64_t ahead_start, ahead_end;
  int ahead_rc;
  rs_hash_grid grid;    /* per-chunk digests from the hash pass (grid.digest NULL: none) */
  unsigned grid_used;   /* chunks whose digest came from it */
  unsigned grid_missed; /* digested chunks off the grid, hashed when read */
  int ietf;             /* the tus machinery speaks the IETF draft (stager_ietf.c) */
} rs_run;

/* Report progress; returns non-zero (and sets run->cancelled) when the caller cancels. The DONE
 * phase ignores the answer. */
int rs_run_progress(rs_run *run);

/* One log line through the stager's log callback, printf-style. */
void rs_run_log(rs_run *run, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* What rs_http_perform did. */
typedef struct rs_http_req {
  int head;         /* HEAD probe (no body) */
  int whole;        /* PUT without Content-Range */
  int force_expect; /* send Expect: 100-continue whatever the size */
  int fresh;        /* on a new connection, closed after it (a relay counts per connection) */
  uint64_t start;   /* body: file bytes [start, end) */
  uint64_t end;
  /* The tus dialect: a method other than the LocalAI HEAD/PUT, with its own headers. */
  const char *method;       /* NULL: HEAD or PUT above; else "OPTIONS", "HEAD", "POST",
                               "PATCH" (with the body [start, end), maybe empty), "DELETE" */
  const char *url;          /* NULL: the stager's URL */
  struct curl_slist *extra; /* header lines sent after the caller's own (owned by the caller);
                               with `method` nothing else is added */
  const uint8_t *mem;       /* the body's bytes in memory (end - start of them), or NULL */
} rs_http_req;

#define RS_HTTP_RESPONSE 1  /* a complete response: run->resp.status and headers */
#define RS_HTTP_TRANSIENT 2 /* no usable response; worth retrying (run->last_problem says why) */

/* Send one request on the stager's (reused) easy handle. Returns RS_HTTP_RESPONSE,
 * RS_HTTP_TRANSIENT, or a negative code: RESUMABLE_E_CANCELLED, RESUMABLE_E_FILE,
 * RESUMABLE_E_TIMEOUT (budget over), RESUMABLE_E_NOMEM, RESUMABLE_E_NETWORK (permanent; message
 * set), RESUMABLE_E_IO (this libcurl refused an option: rs_setopt_error). */
int rs_http_perform(rs_run *run, const rs_http_req *req);

/* The options every request of the stager shares (timeouts, TLS, verbose; not the rate) on a
 * libcurl easy handle (stager_http.c). `c` is a CURL *. Returns RESUMABLE_OK, or
 * RESUMABLE_E_NOMEM / RESUMABLE_E_IO when libcurl refuses one (curl_setopt.h). */
int rs_http_options(void *c, const rs_stager_opts *o, uint64_t left_ms);

/* Wait before the next attempt (backoff, Retry-After, the budget), reporting WAITING progress.
 * RESUMABLE_OK, RESUMABLE_E_TIMEOUT or RESUMABLE_E_CANCELLED. (stager_run.c) */
int rs_run_wait(rs_run *run);

/* The tus dialect (stager_tus.c): the upload after prepare(). RS_TUS_NOT_TUS when AUTO found a
 * server without tus (the caller then speaks LocalAI), else a run result. */
#define RS_TUS_NOT_TUS 1
int rs_tus_upload(rs_run *run);
/* Free the tus options. */
void rs_tus_opts_free(rs_stager_opts *o);

/* Per-chunk digests (stager_digest.c). Most bytes one digested request carries, and the default
 * when no chunk size is set. */
#define RS_DIGEST_CHUNK_MAX ((uint64_t)64 << 20)
#define RS_DIGEST_CHUNK_DEFAULT ((uint64_t)16 << 20)
/* Have file bytes [start, end) in run->dcur.data, read once and hashed as they were read (a
 * resend reuses them; the next chunk of the same size is read ahead on a helper thread while
 * this one is sent), and append their Content-Digest line to *extra (the caller frees it).
 * RESUMABLE_OK, RESUMABLE_E_NOMEM, RESUMABLE_E_FILE (message set). */
int rs_digest_chunk(rs_run *run, uint64_t start, uint64_t end, struct curl_slist **extra);
/* The same for a tus PATCH: an `Upload-Checksum: sha256 <base64>` line. */
int rs_digest_chunk_tus(rs_run *run, uint64_t start, uint64_t end, struct curl_slist **extra);
/* Stop the read-ahead and free the run's chunk buffers and grid. */
void rs_digest_free(rs_run *run);
/* Before the hash pass: allocate run->grid when requests will likely carry digests (asked for,
 * or left to the server with a chunk size set), on the chunk size the request planners use for
 * the dialect asked for. Leaves no grid when that is unlikely, when it would need more than
 * RS_DIGEST_GRID_MAX entries, or when memory is short (requests are then hashed when read). */
#define RS_DIGEST_GRID_MAX ((uint64_t)1 << 17) /* 4 MiB of digests */
void rs_digest_grid_alloc(rs_run *run);
/* The SHA-256 of file bytes [start, end) from run->grid, or NULL when the range is not one of
 * its cells (or there is no grid). Reads only: safe on a helper thread once sending began. */
const uint8_t *rs_digest_on_grid(const rs_run *run, uint64_t start, uint64_t end);

/* Set the run's message (s->r.msg), printf-style. */
void rs_run_msg(rs_run *run, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
