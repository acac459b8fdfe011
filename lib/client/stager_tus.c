/* The stager in the tus 1.0.0 dialect (stager.h, "the tus dialect"): discover the server with
 * OPTIONS, find an upload to resume (the URL store, or the URL itself on resumable-serve), else
 * create one (with the first bytes when creation-with-upload is offered), then PATCH the rest,
 * with HEAD after every failure. The budget, backoff, stall check, rate limit and progress are
 * those of the LocalAI dialect: every request goes through rs_http_perform and every wait
 * through rs_run_wait. Parallel uploads (concatenation) are in stager_tus_parallel.c. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash_cache.h"
#include "stager_decide.h"
#include "stager_tus.h"
#include "stager_tus_decide.h"
#include "tus_checksum.h"
#include "tus_header.h"
#include "url_store.h"

/* PATCH size when checksummed and no chunk size was set: the server keeps none of a
 * checksummed request's bytes unless the whole request arrives (it cannot verify a part), so
 * a cut costs up to this much; a smaller size costs a request (and two syncs) more often. */
#define CHECKSUM_CHUNK ((uint64_t)64 << 20)
/* Bytes sent with a creation (creation-with-upload): enough to save a round trip for a small
 * file, small enough that the upload's URL (known only from the answer) is soon known and
 * stored, so that a cut or a cancel during the first request does not lose the upload. */
#define CREATE_BODY_MAX ((uint64_t)1 << 20)

/* ---- requests ---- */

static int add(struct curl_slist **l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add(struct curl_slist **l, const char *fmt, ...)
{
  char line[RS_TUS_URL_MAX + 4200];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  struct curl_slist *x = n > 0 && (size_t)n < sizeof(line) ? curl_slist_append(*l, line) : NULL;
  if (!x)
    return -1;
  *l = x;
  return 0;
}

int rs_tus_request(rs_run *run, const char *method, const char *url, struct curl_slist *extra,
                   uint64_t start, uint64_t end)
{
  struct curl_slist *h = NULL;
  int bad =
      run->ietf ? add(&h, "Upload-Draft-Interop-Version: 8") : add(&h, "Tus-Resumable: 1.0.0");
  if (!bad && strcmp(method, "OPTIONS") != 0)
    bad = add(&h, "X-Content-SHA256: %s", run->sha_hex); /* binds on resumable-serve */
  for (const struct curl_slist *e = extra; e && !bad; e = e->next)
    bad = add(&h, "%s", e->data);
  if (bad) {
    curl_slist_free_all(h);
    return RESUMABLE_E_NOMEM;
  }
  rs_http_req req = {
      .method = method, .url = url, .extra = h, .start = start, .end = end, .mem = run->tus_mem};
  int rc = rs_http_perform(run, &req);
  curl_slist_free_all(h);
  return rc;
}

/* The server's tus features, from one OPTIONS (retried through transient failures). */
int rs_tus_discover(rs_run *run, rs_tus_server *srv)
{
  memset(srv, 0, sizeof(*srv));
  run->phase = RESUMABLE_PHASE_PROBING;
  for (;;) {
    int rc = rs_tus_request(run, "OPTIONS", NULL, NULL, 0, 0);
    if (rc < 0)
      return rc;
    int st = run->resp.status;
    if (rc == RS_HTTP_RESPONSE && !rs_status_transient(st)) {
      if (st == 401 || st == 407) {
        rs_run_msg(run,
                   "server refused the probe: OPTIONS answered %d (a bearer token is "
                   "required, or it is wrong)",
                   st);
        return RESUMABLE_E_REFUSED;
      }
      srv->tus = st >= 200 && st <= 299 && run->tresp.version_1;
      srv->ietf =
          !srv->tus && st >= 200 && st <= 299 && (run->tresp.draft_accept || run->tresp.has_limit);
      srv->has_max = srv->ietf && run->tresp.has_limit_max;
      srv->max = run->tresp.limit_max;
      srv->want_digest = srv->ietf && run->resp.want_digest;
      if (srv->ietf) {
        rs_run_log(run, RESUMABLE_LOG_INFO, "OPTIONS %d: the server speaks the IETF draft", st);
        return RESUMABLE_OK;
      }
      srv->ext = srv->tus ? run->tresp.ext : RS_TUSX_CREATION;
      srv->algos = run->tresp.algos;
      srv->has_max = srv->tus && run->tresp.has_max_size;
      srv->max = run->tresp.max_size;
      rs_run_log(run, RESUMABLE_LOG_INFO, "OPTIONS %d: %s", st,
                 srv->tus ? "the server speaks tus 1.0.0" : "no tus");
      return RESUMABLE_OK;
    }
    if (rc == RS_HTTP_RESPONSE)
      snprintf(run->last_problem, sizeof run->last_problem, "OPTIONS answered %d", st);
    rc = rs_run_wait(run);
    if (rc != RESUMABLE_OK)
      return rc;
  }
}

rs_tus_algo rs_tus_pick_algo(const rs_tus_server *srv)
{
  if (!(srv->ext & RS_TUSX_CHECKSUM))
    return RS_TUS_ALGO_NONE;
  return (srv->algos & RS_TUSA_SHA256) ? RS_TUS_ALGO_SHA256 : RS_TUS_ALGO_SHA1;
}

/* "Upload-Checksum: <algo> <base64>" of file bytes [start, end) of fd into line. */
static int checksum_line(int fd, rs_tus_algo algo, uint64_t start, uint64_t end, char *line,
                         size_t cap)
{
  enum { BLOCK = 1 << 20 };
  rs_tus_checksum c;
  uint8_t none[32] = {0}, d[32];
  char b64[64];
  uint8_t *buf = malloc(BLOCK);
  if (!buf)
    return RESUMABLE_E_NOMEM;
  rs_tus_checksum_start(&c, algo, none);
  for (uint64_t off = start; off < end;) {
    size_t want = end - off < BLOCK ? (size_t)(end - off) : BLOCK;
    ssize_t n = pread(fd, buf, want, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      free(buf);
      rs_tus_checksum_free(&c);
      return RESUMABLE_E_FILE;
    }
    rs_tus_checksum_update(&c, buf, (size_t)n);
    off += (uint64_t)n;
  }
  free(buf);
  size_t dl = rs_tus_checksum_finish(&c, d);
  rs_base64_encode(d, dl, b64, sizeof(b64));
  snprintf(line, cap, "Upload-Checksum: %s %s", algo == RS_TUS_ALGO_SHA256 ? "sha256" : "sha1",
           b64);
  return RESUMABLE_OK;
}

/* The sha256 of [start, end) from the hash pass's grid (no read, no hash), or NULL; counts
 * where a sha256 came from while there is a grid. */
static const uint8_t *grid_sha256(rs_run *run, rs_tus_algo algo, uint64_t start, uint64_t end)
{
  if (algo != RS_TUS_ALGO_SHA256 || !run->grid.digest)
    return NULL;
  const uint8_t *d = rs_digest_on_grid(run, start, end);
  if (d)
    run->grid_used++;
  else
    run->grid_missed++;
  return d;
}

int rs_tus_add_checksum(rs_run *run, rs_tus_algo algo, uint64_t start, uint64_t end,
                        struct curl_slist **l)
{
  char line[128];
  if (algo == RS_TUS_ALGO_NONE)
    return RESUMABLE_OK;
  const uint8_t *known = grid_sha256(run, algo, start, end);
  if (known) {
    char b64[64];
    rs_base64_encode(known, 32, b64, sizeof b64);
    return add(l, "Upload-Checksum: sha256 %s", b64) ? RESUMABLE_E_NOMEM : RESUMABLE_OK;
  }
  int rc = checksum_line(run->s->fd, algo, start, end, line, sizeof(line));
  if (rc == RESUMABLE_E_FILE)
    rs_run_msg(run, "cannot read the local file");
  if (rc == RESUMABLE_OK && add(l, "%s", line))
    rc = RESUMABLE_E_NOMEM;
  return rc;
}

/* The checksum of the next request, computed on a helper thread while this one is sent (on two
 * cores that takes the hashing off the sending path). */
typedef struct ck_job {
  pthread_t thread;
  int running;
  int fd;
  rs_tus_algo algo;
  uint64_t start, end;
  int rc;
  char line[128];
} ck_job;

static void *ck_main(void *arg)
{
  ck_job *j = arg;
  j->rc = checksum_line(j->fd, j->algo, j->start, j->end, j->line, sizeof(j->line));
  return NULL;
}

static void job_stop(ck_job *j)
{
  if (j->running)
    pthread_join(j->thread, NULL);
  j->running = 0;
}

static void job_start(ck_job *j, int fd, rs_tus_algo algo, uint64_t start, uint64_t end)
{
  job_stop(j);
  j->fd = fd;
  j->algo = algo;
  j->start = start;
  j->end = end;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* no signal of the caller's lands on it */
  j->running = pthread_create(&j->thread, NULL, ck_main, j) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The checksum header of [start, end): the prefetched one when it is that range. */
static int take_checksum(rs_run *run, ck_job *j, rs_tus_algo algo, uint64_t start, uint64_t end,
                         struct curl_slist **l)
{
  if (j->running && j->algo == algo && j->start == start && j->end == end) {
    job_stop(j);
    if (j->rc == RESUMABLE_OK) {
      if (algo == RS_TUS_ALGO_SHA256 && run->grid.digest)
        run->grid_missed++; /* a job runs only for ranges off the grid */
      return add(l, "%s", j->line) ? RESUMABLE_E_NOMEM : RESUMABLE_OK;
    }
  }
  job_stop(j);
  return rs_tus_add_checksum(run, algo, start, end, l);
}

/* ---- the URL store ---- */

void rs_tus_store_key(rs_run *run, const char *what, uint8_t key[32])
{
  struct stat st;
  rs_hc_key k;
  memset(&k, 0, sizeof(k));
  if (fstat(run->s->fd, &st) == 0)
    rs_hc_key_from_stat(&k, &st);
  char endpoint[RS_TUS_URL_MAX + 64];
  snprintf(endpoint, sizeof(endpoint), "%s%s", run->s->url, what);
  rs_us_key(endpoint, k.dev, k.ino, k.size, k.mtime_sec, k.mtime_nsec, k.ctime_sec, k.ctime_nsec,
            run->sha, key);
}

void rs_tus_store_put(rs_run *run, const uint8_t key[32], const char *const *urls, size_t n)
{
  const char *dir = run->s->o.url_store_dir;
  int err = dir ? rs_us_store(dir, key, urls, n) : 0;
  if (err)
    rs_run_log(run, RESUMABLE_LOG_WARN, "cannot write the URL store in %s: %s", dir, strerror(err));
}

void rs_tus_store_drop(rs_run *run, const uint8_t key[32])
{
  const char *dir = run->s->o.url_store_dir;
  int err = dir ? rs_us_remove(dir, key) : 0;
  if (err)
    rs_run_log(run, RESUMABLE_LOG_WARN, "cannot write the URL store in %s: %s", dir, strerror(err));
}

/* ---- one upload over one connection ---- */

#define STEP_NEXT 0
#define STEP_DONE 1
#define STEP_TRANSIENT 2
#define STEP_RESTART 3
#define STEP_FOUND 4 /* drive(probe_only): an upload to resume is at cur->url */
#define STEP_NONE 5  /* drive(probe_only): nothing to resume */
#define MAX_IN_A_ROW 2
#define MAX_DIGEST_FAILS 8 /* IETF: 422s (Content-Digest mismatches) in a row before giving up */

typedef struct tus_cur {
  char url[RS_TUS_URL_MAX + 1]; /* the upload, or "" before one exists */
  int need_head;
  int from_store; /* url came from the URL store (or the URL itself): may not be ours */
  uint64_t offset;
  unsigned resyncs, restarts, resends;
  int mismatch;          /* the last restart followed a 460 */
  int want_digest;       /* IETF: the server asked for Content-Digest (OPTIONS or HEAD) */
  int digested;          /* IETF: the request being judged carried Content-Digest */
  unsigned digest_fails; /* IETF: 422s to digested requests in a row */
  int create_lost;       /* a creation with bytes failed: the next one secures the URL first */
  uint8_t key[32];       /* URL store key */
  ck_job job;            /* the next request's checksum, being computed */
} tus_cur;

static const char *server_text(rs_run *run, char *buf, size_t cap)
{
  size_t i = 0;
  for (const char *p = run->s->r.body; *p && *p != '\n' && i + 1 < cap; p++)
    buf[i++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
  buf[i] = '\0';
  return i ? buf : "(no text)";
}

static void set_url(rs_run *run, tus_cur *cur, const char *url)
{
  snprintf(cur->url, sizeof(cur->url), "%s", url);
  snprintf(run->s->r.upload_url, sizeof(run->s->r.upload_url), "%s", url);
}

/* Move to `off` after an answer; answers that move nothing are bounded. */
static int advance(rs_run *run, tus_cur *cur, uint64_t off)
{
  if (off > run->s->r.held) {
    rs_backoff_reset(&run->backoff);
    cur->resyncs = 0;
    cur->resends = 0;
    cur->digest_fails = 0;
  } else if (++cur->resyncs > MAX_IN_A_ROW + 1) {
    rs_run_msg(run, "server keeps answering without progress (holds %" PRIu64 " bytes)", off);
    return RESUMABLE_E_PROTOCOL;
  }
  cur->offset = run->s->r.held = off;
  return STEP_NEXT;
}

static int restart(rs_run *run, tus_cur *cur, const char *why)
{
  if (++cur->restarts > MAX_IN_A_ROW) {
    rs_run_msg(run, "%s three times in a row", why);
    return cur->mismatch ? RESUMABLE_E_HASH_MISMATCH : RESUMABLE_E_REFUSED;
  }
  rs_run_log(run, RESUMABLE_LOG_WARN, "%s: creating a new upload", why);
  rs_tus_store_drop(run, cur->key);
  run->s->r.restarts++;
  cur->url[0] = '\0';
  cur->offset = run->s->r.held = 0;
  return STEP_RESTART;
}

static int head(rs_run *run, tus_cur *cur)
{
  run->phase = RESUMABLE_PHASE_PROBING;
  int rc = rs_tus_request(run, "HEAD", cur->url, NULL, 0, 0);
  if (rc < 0)
    return rc;
  if (rc == RS_HTTP_TRANSIENT)
    return STEP_TRANSIENT;
  int st = run->resp.status;
  uint64_t off = 0;
  cur->want_digest |= run->ietf && run->resp.want_digest;
  switch (rs_stager_tus_decide_head(st, &run->resp, &run->tresp, run->size, run->sha, &off)) {
  case RS_TUSH_RESUME:
    rs_run_log(run, RESUMABLE_LOG_INFO, "HEAD %d: resuming at byte %" PRIu64, st, off);
    cur->need_head = 0;
    if (off > run->s->r.held) {
      rs_backoff_reset(&run->backoff);
      cur->resyncs = 0;
    }
    cur->offset = run->s->r.held = off;
    cur->from_store = 0;
    return STEP_NEXT;
  case RS_TUSH_DONE:
    rs_run_log(run, RESUMABLE_LOG_INFO, "HEAD %d: the upload is complete", st);
    run->s->r.already_there = !run->s->r.resumed_set;
    run->s->r.held = run->size;
    return STEP_DONE;
  case RS_TUSH_CREATE:
    rs_run_log(run, RESUMABLE_LOG_INFO, "HEAD %d: no upload of this file at %s", st, cur->url);
    if (cur->from_store)
      rs_tus_store_drop(run, cur->key);
    cur->url[0] = '\0';
    cur->need_head = 0;
    cur->offset = run->s->r.held = 0;
    return STEP_NEXT;
  case RS_TUSH_TRANSIENT:
    snprintf(run->last_problem, sizeof run->last_problem, "HEAD answered %d", st);
    return STEP_TRANSIENT;
  case RS_TUSH_REFUSED:
    break;
  }
  rs_run_msg(run, "server refused the probe: HEAD answered %d", st);
  return RESUMABLE_E_REFUSED;
}

/* The body of the next request: [start, end) with its checksum, or none. */
static uint64_t plan_end(const rs_run *run, uint64_t start, rs_tus_algo algo)
{
  uint64_t chunk = run->s->o.chunk_size;
  if (!chunk && algo != RS_TUS_ALGO_NONE)
    chunk = CHECKSUM_CHUNK; /* a corrupted request is resent alone: keep it bounded */
  return chunk && run->size - start > chunk ? start + chunk : run->size;
}

/* 422 to an IETF request that carried Content-Digest: the server dropped exactly its bytes
 * (they arrived damaged). Send them again at once, from memory; eight in a row end the run. A
 * 422 to a creation leaves no URL known (none was answered): HEAD the URL, if it names one. */
static int digest_failed(rs_run *run, tus_cur *cur, int created, uint64_t start, uint64_t end)
{
  if (++cur->digest_fails > MAX_DIGEST_FAILS) {
    rs_run_msg(run,
               "the server found bytes %" PRIu64 "-%" PRIu64 " damaged (422) %u times in a row",
               start, end, MAX_DIGEST_FAILS);
    return RESUMABLE_E_HASH_MISMATCH;
  }
  run->s->r.chunk_resends++;
  rs_run_log(run, RESUMABLE_LOG_WARN,
             "%s 422: bytes %" PRIu64 "-%" PRIu64
             " arrived damaged (Content-Digest); sending them again",
             created ? "POST" : "PATCH", start, end);
  if (!created && (!run->tresp.has_offset || run->tresp.offset != start))
    cur->need_head = 1; /* not where we thought: ask */
  return STEP_NEXT;
}

/* Judge the answer to a creation or a PATCH of [start, end). */
static int judge(rs_run *run, tus_cur *cur, int created, uint64_t start, uint64_t end)
{
  char t[200], abs[RS_TUS_URL_MAX + 1];
  int st = run->resp.status;
  uint64_t off = 0;
  if (st == 422 && cur->digested)
    return digest_failed(run, cur, created, start, end);
  rs_tus_sent_next next =
      rs_stager_tus_decide_sent(st, &run->tresp, created, start, end, run->size, &off);
  if (created && (next == RS_TUSS_CONTINUE || next == RS_TUSS_DONE)) {
    if (!run->tresp.has_location ||
        rs_tus_resolve(run->s->url, run->tresp.location, abs, sizeof(abs)) != 0) {
      rs_run_msg(run, "the server created an upload without a usable Location");
      return RESUMABLE_E_PROTOCOL;
    }
    set_url(run, cur, abs);
    const char *one = cur->url;
    rs_tus_store_put(run, cur->key, &one, 1);
    rs_run_log(run, RESUMABLE_LOG_INFO, "POST %d: upload created at %s", st, cur->url);
  }
  switch (next) {
  case RS_TUSS_DONE:
    run->s->r.held = run->size;
    return STEP_DONE;
  case RS_TUSS_CONTINUE:
    return advance(run, cur, off);
  case RS_TUSS_RESYNC:
    rs_run_log(run, RESUMABLE_LOG_INFO, "%s 409: asking where the upload stands",
               created ? "POST" : "PATCH");
    cur->need_head = 1;
    return advance(run, cur, run->s->r.held);
  case RS_TUSS_RESEND:
    if (++cur->resends <= 1) { /* the request alone, once, at once */
      run->s->r.chunk_resends++;
      rs_run_log(run, RESUMABLE_LOG_WARN,
                 "460: the server found the request corrupted; "
                 "sending it again");
      return STEP_NEXT;
    }
    /* Twice: the bytes are not what the server expects (on resumable-serve, the whole-file
     * SHA-256 failed and the upload is gone): a new upload, counted like a restart. */
    cur->mismatch = 1;
    cur->resends = 0;
    return restart(run, cur, "the server's checksum failed twice (460)");
  case RS_TUSS_RESTART:
    return restart(run, cur, "the upload is gone (404/410)");
  case RS_TUSS_TRANSIENT:
    snprintf(run->last_problem, sizeof run->last_problem, "%s answered %d: %s",
             created ? "POST" : "PATCH", st, server_text(run, t, sizeof t));
    cur->need_head = cur->url[0] != '\0';
    return STEP_TRANSIENT;
  case RS_TUSS_REFUSED:
    rs_run_msg(run, "server refused (%d): %s", st, server_text(run, t, sizeof t));
    return RESUMABLE_E_REFUSED;
  case RS_TUSS_TOO_LARGE:
    rs_run_msg(run, "server refused (413, too large): %s", server_text(run, t, sizeof t));
    return RESUMABLE_E_TOO_LARGE;
  case RS_TUSS_PROTOCOL:
    break;
  }
  rs_run_msg(run, "unexpected answer to %s (%d): %s", created ? "POST" : "PATCH", st,
             server_text(run, t, sizeof t));
  return RESUMABLE_E_PROTOCOL;
}

/* POST (creation, with the first bytes when offered) or PATCH from cur->offset. */
static int send_bytes(rs_run *run, tus_cur *cur, const rs_tus_server *srv)
{
  resumable_stager *s = run->s;
  int create = cur->url[0] == '\0';
  int with_body = !create || ((srv->ext & RS_TUSX_WITH_UPLOAD) && !cur->create_lost);
  rs_tus_algo algo = s->o.chunk_digest == 0 ? RS_TUS_ALGO_NONE : rs_tus_pick_algo(srv);
  /* IETF: Content-Digest when set to, or when the server asks and a chunk size is set (as in
   * the LocalAI dialect: a cut costs a digested request all its bytes, so keep them bounded). */
  int cd = run->ietf && (s->o.chunk_digest == 1 ||
                         (s->o.chunk_digest == -1 && cur->want_digest && s->o.chunk_size));
  /* Asked for per-chunk digests, with sha256: the chunk is read once, hashed as it is read and
   * sent from memory (stager_digest.c) instead of hashed ahead on a helper thread. */
  int in_mem = s->o.chunk_digest == 1 && algo == RS_TUS_ALGO_SHA256;
  if (cd)
    algo = RS_TUS_ALGO_SHA256; /* bounds the chunk (plan_end) */
  uint64_t start = create ? 0 : cur->offset;
  uint64_t end = with_body ? plan_end(run, start, algo) : start;
  if (create && end - start > CREATE_BODY_MAX)
    end = start + CREATE_BODY_MAX;
  struct curl_slist *h = NULL;
  int rc = RESUMABLE_OK;
  if (run->ietf) {
    rc = rs_ietf_add_headers(run, create, start, end, &h);
  } else if (create) {
    if (add(&h, "Upload-Length: %" PRIu64, run->size) ||
        (s->o.tus_metadata && add(&h, "Upload-Metadata: %s", s->o.tus_metadata)))
      rc = RESUMABLE_E_NOMEM;
  } else if (add(&h, "Upload-Offset: %" PRIu64, start)) {
    rc = RESUMABLE_E_NOMEM;
  }
  if (rc == RESUMABLE_OK && !run->ietf && (end > start || !create) &&
      add(&h, "Content-Type: " RS_TUS_CONTENT_TYPE))
    rc = RESUMABLE_E_NOMEM;
  cur->digested = cd && end > start;
  if (rc == RESUMABLE_OK && cur->digested) {
    rc = rs_digest_chunk(run, start, end, &h);
    run->tus_mem = run->dcur.data;
  } else if (rc == RESUMABLE_OK && end > start && in_mem) {
    rc = rs_digest_chunk_tus(run, start, end, &h);
    run->tus_mem = run->dcur.data;
  } else if (rc == RESUMABLE_OK && end > start && algo != RS_TUS_ALGO_NONE) {
    rc = take_checksum(run, &cur->job, algo, start, end, &h);
    uint64_t next_end = plan_end(run, end, algo);
    /* A range on the hash pass's grid needs no job: its sha256 is known. */
    if (rc == RESUMABLE_OK && next_end > end &&
        !(algo == RS_TUS_ALGO_SHA256 && rs_digest_on_grid(run, end, next_end)))
      job_start(&cur->job, s->fd, algo, end, next_end);
  }
  if (rc == RESUMABLE_OK && !s->r.resumed_set && end > start) {
    s->r.resumed_from = start;
    s->r.resumed_set = 1;
  }
  if (rc == RESUMABLE_OK) {
    run->phase = RESUMABLE_PHASE_SENDING;
    rc = rs_tus_request(run, create ? "POST" : "PATCH", create ? NULL : cur->url, h, start, end);
  }
  run->tus_mem = NULL;
  curl_slist_free_all(h);
  if (rc < 0)
    return rc;
  if (rc == RS_HTTP_TRANSIENT) {
    cur->need_head = !create;
    cur->create_lost |= create && end > start;
    return STEP_TRANSIENT;
  }
  return judge(run, cur, create, start, end);
}

/* Where to begin: an upload of this file the URL store knows, or the URL itself when it can
 * name an upload (resumable-serve's <prefix><key>: a path that does not end with '/'). */
static void begin(rs_run *run, tus_cur *cur)
{
  char urls[1][RS_TUS_URL_MAX + 1];
  rs_tus_store_key(run, "", cur->key);
  const char *dir = run->s->o.url_store_dir;
  if (dir && rs_us_lookup(dir, cur->key, urls, 1) == 1) {
    rs_run_log(run, RESUMABLE_LOG_INFO, "URL store: resuming %s", urls[0]);
    set_url(run, cur, urls[0]);
  } else {
    const char *u = run->s->url;
    size_t n = strcspn(u, "?#");
    if (n == 0 || u[n - 1] == '/')
      return;
    set_url(run, cur, u);
    run->s->r.upload_url[0] = '\0'; /* not known to be an upload yet */
  }
  cur->from_store = 1;
  cur->need_head = 1;
}

/* Delete the upload after a cancel (tus termination), quietly: the caller cancelled. */
static void terminate(rs_run *run, const tus_cur *cur, const rs_tus_server *srv)
{
  if (!run->s->o.cancel_remote || !cur->url[0] || !(srv->ext & RS_TUSX_TERMINATION))
    return;
  run->quiet = 1;
  run->cancelled = 0;
  int rc = rs_tus_request(run, "DELETE", cur->url, NULL, 0, 0);
  run->quiet = 0;
  run->cancelled = 1;
  int st = rc == RS_HTTP_RESPONSE ? run->resp.status : 0;
  rs_run_log(run, st == 204 ? RESUMABLE_LOG_INFO : RESUMABLE_LOG_WARN,
             "cancelled: DELETE %s answered %d", cur->url, st);
  if (st == 204 || st == 404 || st == 410)
    rs_tus_store_drop(run, cur->key);
}

/* One step at a time until the upload is complete or the run ends. With `probe_only`, stop
 * once the probes are over: STEP_FOUND (resume cur->url) or STEP_NONE. */
static int drive(rs_run *run, tus_cur *cur, const rs_tus_server *srv, int probe_only)
{
  for (;;) {
    if (probe_only && !cur->need_head)
      return cur->url[0] ? STEP_FOUND : STEP_NONE;
    int rc = cur->need_head ? head(run, cur) : send_bytes(run, cur, srv);
    if (rc == RESUMABLE_E_CANCELLED)
      terminate(run, cur, srv);
    if (rc < 0)
      return rc;
    if (rc == STEP_DONE)
      return RESUMABLE_OK;
    int w = rc == STEP_TRANSIENT ? rs_run_wait(run) : RESUMABLE_OK;
    if (w == RESUMABLE_E_CANCELLED)
      terminate(run, cur, srv);
    if (w != RESUMABLE_OK)
      return w;
    if (rc != STEP_NEXT)
      run->s->r.attempts = ++run->attempt;
  }
}

int rs_tus_single(rs_run *run, const rs_tus_server *srv)
{
  tus_cur cur;
  memset(&cur, 0, sizeof(cur));
  cur.want_digest = srv->want_digest;
  begin(run, &cur);
  int rc = drive(run, &cur, srv, 0);
  job_stop(&cur.job);
  return rc;
}

/* Parallel: an upload of this file in one piece (the URL store, or the URL itself) is finished
 * on one connection (or found complete); only when there is none do the parts start. */
static int parallel_or_existing(rs_run *run, const rs_tus_server *srv)
{
  tus_cur cur;
  memset(&cur, 0, sizeof(cur));
  begin(run, &cur);
  int rc = drive(run, &cur, srv, 1);
  if (rc != STEP_FOUND && rc != STEP_NONE)
    return rc; /* complete, or an error */
  if (rc == STEP_FOUND) {
    rs_run_log(run, RESUMABLE_LOG_INFO, "an upload in one piece is under way: one connection");
    rc = drive(run, &cur, srv, 0);
    job_stop(&cur.job);
    return rc;
  }
  return rs_tus_parallel(run, srv);
}

int rs_tus_upload(rs_run *run)
{
  resumable_stager *s = run->s;
  rs_tus_server srv;
  run->attempt = 1;
  s->r.attempts = 1;
  run->ietf = s->o.protocol == RESUMABLE_PROTOCOL_IETF; /* its OPTIONS speaks the draft */
  int rc = rs_tus_discover(run, &srv);
  if (rc != RESUMABLE_OK)
    return rc;
  if (run->ietf || (srv.ietf && s->o.protocol == RESUMABLE_PROTOCOL_AUTO))
    return rs_ietf_upload(run, &srv);
  if (!srv.tus && s->o.protocol == RESUMABLE_PROTOCOL_AUTO) {
    rs_run_log(run, RESUMABLE_LOG_INFO, "speaking the LocalAI protocol");
    return RS_TUS_NOT_TUS;
  }
  s->r.protocol = RESUMABLE_PROTOCOL_TUS;
  if (srv.has_max && run->size > srv.max) {
    rs_run_msg(run, "the file is larger than the server's Tus-Max-Size (%" PRIu64 " bytes)",
               srv.max);
    return RESUMABLE_E_TOO_LARGE;
  }
  if (s->o.parallel > 1 && (srv.ext & RS_TUSX_CONCATENATION) && run->size >= s->o.parallel)
    return parallel_or_existing(run, &srv);
  if (s->o.parallel > 1)
    rs_run_log(run, RESUMABLE_LOG_INFO, "no concatenation: one connection");
  return rs_tus_single(run, &srv);
}
