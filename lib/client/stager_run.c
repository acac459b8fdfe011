/* resumable_stager_run: hash, probe, send, and on failure wait, re-probe and continue, as
 * PROTOCOL.md "Client (stager) behaviour" says. Decisions come from stager_decide.c; requests
 * from stager_http.c. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_hash.h"
#include "hex.h"
#include "stager_decide.h"
#include "stager_impl.h"

#define STEP_NEXT 0        /* keep going in this attempt */
#define STEP_DONE 1        /* the server has the file */
#define STEP_TRANSIENT 2   /* wait, then a new attempt that starts with a probe */
#define STEP_RESTART 3     /* a new attempt from byte 0, at once */
#define STEP_CUT 4         /* a new attempt that starts with a probe, at once: the PUT was cut */
#define STEP_BACKOFF 5     /* wait, then probe again, in the same attempt */
#define STEP_SETTLE 6      /* probe again shortly, in the same attempt: a cut is settling */
#define MAX_IN_A_ROW 2     /* restarts / re-syncs allowed in a row before giving up */
#define MAX_DIGEST_FAILS 8 /* 422s (Content-Digest mismatches) in a row before giving up */
#define WAIT_SLICE_MS 100  /* waits are cut into slices so cancel stays prompt */

/* Where the upload stands within a run. */
typedef struct rs_cursor {
  int whole;             /* the server has no range support: whole-file PUTs */
  int need_probe;        /* ask with HEAD before the next PUT */
  uint64_t offset;       /* next byte to send; == size means "finish a held upload" */
  unsigned resyncs;      /* 416s / no-progress answers in a row */
  unsigned conflicts;    /* 409 restarts in a row */
  unsigned mismatches;   /* final-hash restarts in this run */
  uint64_t conn_body;    /* body bytes delivered on the connection kept alive (a relay counts) */
  int cut_pending;       /* the last PUT was cut: the next probes say how much got through */
  rs_settle settle;      /* that PUT, and the probes since */
  unsigned digest_fails; /* 422s to digested chunks in a row */
} rs_cursor;

void rs_run_msg(rs_run *run, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(run->s->r.msg, sizeof run->s->r.msg, fmt, ap);
  va_end(ap);
}

void rs_run_log(rs_run *run, int level, const char *fmt, ...)
{
  if (!run->s->o.log)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  run->s->o.log(run->s->o.log_ud, (resumable_log_level)level, line);
}

int rs_run_progress(rs_run *run)
{
  const rs_stager_opts *o = &run->s->o;
  if (!o->progress)
    return 0;
  resumable_progress p = {0};
  p.phase = run->phase;
  p.total = run->size;
  p.hashed = run->hashed;
  p.held = run->s->r.held;
  p.position = run->phase == RESUMABLE_PHASE_SENDING ? run->body_start + run->req_sent : p.held;
  p.wire_bytes = run->s->r.wire_bytes + run->req_sent;
  p.attempt = run->attempt;
  p.wait_ms = run->phase == RESUMABLE_PHASE_WAITING ? run->wait_ms : 0;
  int rc = o->progress(o->progress_ud, &p);
  if (run->phase == RESUMABLE_PHASE_DONE || rc == 0)
    return 0;
  run->cancelled = 1;
  return 1;
}

/* ---- the local file ---- */

/* What changed in the local file since prepare() measured it; *now gets the descriptor's
 * identity. A file that cannot even be stat'ed counts as changed. */
static rs_file_change file_change(rs_run *run, rs_hc_key *now)
{
  struct stat st;
  if (fstat(run->s->fd, &st) != 0)
    return RS_FILE_MODIFIED;
  rs_hc_key_from_stat(now, &st);
  rs_hc_key at_path;
  const rs_hc_key *path_now = NULL;
  int gone = 0;
  if (run->s->path) {
    if (stat(run->s->path, &st) == 0) {
      rs_hc_key_from_stat(&at_path, &st);
      path_now = &at_path;
    } else {
      gone = errno == ENOENT;
    }
  }
  return rs_stager_decide_file(&run->file, now, path_now, gone);
}

/* RESUMABLE_OK while the file is the one that was hashed; else RESUMABLE_E_FILE with a message
 * that says what changed, `when` ("while being hashed", "during the upload"). */
static int check_file(rs_run *run, const char *when, int server_has_it)
{
  rs_hc_key now;
  char what[256];
  const char *path = run->s->path ? run->s->path : "its path";
  switch (file_change(run, &now)) {
  case RS_FILE_SAME:
    return RESUMABLE_OK;
  case RS_FILE_REPLACED:
    snprintf(what, sizeof what, "was replaced %s: %.180s now names another file", when, path);
    break;
  case RS_FILE_GONE:
    snprintf(what, sizeof what, "was removed %s: %.180s no longer exists", when, path);
    break;
  case RS_FILE_RESIZED:
    snprintf(what, sizeof what, "changed %s: its size went from %" PRIu64 " to %" PRIu64 " bytes",
             when, run->size, now.size);
    break;
  case RS_FILE_MODIFIED:
    snprintf(what, sizeof what, "changed %s: it was modified (new mtime)", when);
    break;
  case RS_FILE_STATUS:
    snprintf(what, sizeof what,
             "changed %s: its ctime moved (rewritten with its mtime put back, renamed, relinked "
             "or its mode changed)",
             when);
    break;
  }
  if (server_has_it)
    rs_run_msg(run,
               "the local file %s; the server holds the version that was hashed (sha256 %s): "
               "upload again to send the current one",
               what, run->sha_hex);
  else
    rs_run_msg(run, "the local file %s", what);
  return RESUMABLE_E_FILE;
}

static int on_hash_progress(void *ud, uint64_t done)
{
  rs_run *run = ud;
  run->hashed = done;
  if (rs_now_ms() >= run->deadline_ms)
    return RESUMABLE_E_TIMEOUT;
  return rs_run_progress(run) ? RESUMABLE_E_CANCELLED : RESUMABLE_OK;
}

/* The hash of this version of the file from this handle's last run or the cache directory. */
static int cached_hash(rs_run *run, const rs_hc_key *key)
{
  resumable_stager *s = run->s;
  if (s->mem_valid && rs_hc_key_equal(&s->mem_key, key)) {
    memcpy(run->sha, s->mem_sha, 32);
    rs_run_log(run, RESUMABLE_LOG_INFO, "SHA-256 from the previous run (file unchanged)");
    return 1;
  }
  if (!s->o.hash_cache_dir || !rs_hc_lookup(s->o.hash_cache_dir, key, run->sha))
    return 0;
  rs_run_log(run, RESUMABLE_LOG_INFO, "SHA-256 from the hash cache in %s", s->o.hash_cache_dir);
  s->mem_key = *key;
  memcpy(s->mem_sha, run->sha, 32);
  s->mem_valid = 1;
  return 1;
}

/* Keep a fresh hash for later runs, unless the file moved while it was read or its timestamps
 * are too recent for a later edit to be told apart (hash_cache.h). Never fails the run. */
static void remember_hash(rs_run *run, const rs_hc_key *before, const struct timespec *t0)
{
  resumable_stager *s = run->s;
  struct stat st;
  rs_hc_key after;
  if (fstat(s->fd, &st) != 0)
    return;
  rs_hc_key_from_stat(&after, &st);
  if (!rs_hc_key_equal(before, &after) || rs_hc_racy(before, t0, s->o.hc_margin_ns)) {
    rs_run_log(run, RESUMABLE_LOG_DEBUG, "SHA-256 not cached: the file changed too recently");
    return;
  }
  s->mem_key = *before;
  memcpy(s->mem_sha, run->sha, 32);
  s->mem_valid = 1;
  if (!s->o.hash_cache_dir)
    return;
  int err = rs_hc_store(s->o.hash_cache_dir, before, run->sha, RS_HC_MAX_ENTRIES);
  if (err) {
    char eb[128] = "error";
    (void)strerror_r(err, eb, sizeof eb);
    rs_run_log(run, RESUMABLE_LOG_WARN, "cannot write the hash cache in %s: %s",
               s->o.hash_cache_dir, eb);
  }
}

static int hash_file(rs_run *run)
{
  run->phase = RESUMABLE_PHASE_HASHING;
  rs_digest_grid_alloc(run); /* per-chunk digests in the same pass, when they will be sent */
  int rc = rs_file_hash(run->s->fd, run->size, run->sha, run->grid.digest ? &run->grid : NULL,
                        on_hash_progress, run);
  if (rc != RESUMABLE_OK)
    rs_digest_free(run); /* a grid half filled is no grid */
  if (rc == RESUMABLE_OK)
    return check_file(run, "while being hashed", 0);
  if (rc == RESUMABLE_E_FILE)
    rs_run_msg(run, "cannot read the local file");
  return rc;
}

/* The file's size, mtime and SHA-256 (given, cached, or computed). */
static int prepare(rs_run *run)
{
  resumable_stager *s = run->s;
  struct timespec t0;
  struct stat st;
  clock_gettime(CLOCK_REALTIME, &t0); /* before the stat: see rs_hc_racy */
  if (fstat(s->fd, &st) != 0 || st.st_size < 0) {
    rs_run_msg(run, "cannot stat the local file");
    return RESUMABLE_E_FILE;
  }
  run->size = s->r.size = (uint64_t)st.st_size;
  rs_hc_key_from_stat(&run->file, &st);
  rs_hc_key key = run->file;
  if (s->o.have_sha) {
    memcpy(run->sha, s->o.sha, 32);
  } else if (cached_hash(run, &key)) {
    s->r.hash_cached = 1;
  } else {
    int rc = hash_file(run);
    if (rc != RESUMABLE_OK)
      return rc;
    remember_hash(run, &key, &t0);
  }
  run->hashed = run->size;
  rs_sha256_hex_format(run->sha, run->sha_hex);
  memcpy(s->r.sha_hex, run->sha_hex, sizeof s->r.sha_hex);
  s->r.sha_known = 1;
  return RESUMABLE_OK;
}

/* ---- probe ---- */

/* A HEAD answer has no body to quote, so say what the usual refusals mean. */
static const char *head_hint(int status)
{
  switch (status) {
  case 400:
    return " (the server rejects this URL's key)";
  case 401:
    return " (a bearer token is required, or it is wrong)";
  case 403:
    return " (forbidden)";
  default:
    return "";
  }
}

/* Where a probe left the cursor: send from `off`. */
static void moved_to(rs_run *run, rs_cursor *cur, uint64_t off)
{
  if (off > run->s->r.held) {
    /* The attempt that failed still moved bytes (a cut mid-body): that is progress, so the
     * wait starts again from its minimum and earlier re-syncs no longer count as "in a row".
     * Without this, cuts that each race a 416 (the server had not yet seen the drop when
     * HEAD asked) would add up to a false "no progress" failure. */
    rs_backoff_reset(&run->backoff);
    cur->resyncs = 0;
  }
  cur->offset = run->s->r.held = off;
}

/* A probe after a cut. Until the server's count settles (stager_decide.h) the cut request may
 * still be arriving: probe again shortly. Then what the connection carried says whether a relay
 * caps connections, and a settled count whether going on at once is safe; otherwise wait as
 * after any failure, and probe again. */
static int after_cut(rs_run *run, rs_cursor *cur, uint64_t off)
{
  uint64_t carried;
  rs_settle_next settle = rs_settle_probe(&cur->settle, off, &carried);
  moved_to(run, cur, off);
  if (settle == RS_SETTLE_PROBE) {
    cur->need_probe = 1;
    return STEP_SETTLE;
  }
  cur->cut_pending = 0;
  int at_once, fresh;
  rs_cut_next next = rs_cap_cut(&run->cap, carried, settle == RS_SETTLE_JUDGE, &at_once);
  uint64_t limit = rs_put_limit(&run->cap, &fresh);
  uint64_t reached = off > cur->settle.start ? off - cur->settle.start : 0;
  uint64_t missing = cur->settle.sent > reached ? cur->settle.sent - reached : 0;
  const char *how = at_once ? "at once" : "after a wait";
  char settled[96];
  snprintf(settled, sizeof settled, "%s after %u probe%s",
           settle == RS_SETTLE_JUDGE ? "settled" : "still moving", cur->settle.probes,
           cur->settle.probes == 1 ? "" : "s");
  if (next == RS_CUT_TEST)
    rs_run_log(
        run, RESUMABLE_LOG_INFO,
        "connection cut after it carried %" PRIu64 " body bytes (%" PRIu64
        " more were written but did not arrive; the count %s); going on %s with at most %" PRIu64
        " bytes on a new connection: a relay that caps connections would cut it near the "
        "same count",
        carried, missing, settled, how, limit);
  else if (next == RS_CUT_FIT)
    rs_run_log(run, RESUMABLE_LOG_WARN,
               "connection cut after it carried %" PRIu64 " body bytes: a relay cuts each "
               "connection near %" PRIu64 " bytes; going on %s with at most %" PRIu64
               " bytes per request, each on a new connection",
               carried, run->cap.cap, how, limit);
  if (at_once)
    return STEP_NEXT;
  cur->need_probe = 1;
  return STEP_BACKOFF;
}

static int probe(rs_run *run, rs_cursor *cur)
{
  resumable_stager *s = run->s;
  run->phase = RESUMABLE_PHASE_PROBING;
  rs_http_req req = {.head = 1};
  int rc = rs_http_perform(run, &req);
  if (run->new_conn)
    cur->conn_body = 0;
  if (rc < 0)
    return rc;
  if (rc == RS_HTTP_TRANSIENT)
    return STEP_TRANSIENT;
  int st = run->resp.status;
  uint64_t off = 0;
  rs_probe_next next = rs_stager_decide_probe(st, &run->resp, run->size, run->sha, &off);
  cur->need_probe = 0;
  if (next != RS_PROBE_SEND)
    cur->cut_pending = 0;
  /* Per-chunk digests: asked for, or offered by the server while chunks are bounded anyway. */
  int mode = s->o.chunk_digest;
  run->digest_on = mode == 1 || (mode == -1 && run->resp.want_digest && s->o.chunk_size);
  switch (next) {
  case RS_PROBE_SEND:
    rs_run_log(run, RESUMABLE_LOG_INFO, "HEAD %d: sending from byte %" PRIu64, st, off);
    if (cur->cut_pending && !cur->whole)
      return after_cut(run, cur, off);
    moved_to(run, cur, off);
    return STEP_NEXT;
  case RS_PROBE_DONE:
    rs_run_log(run, RESUMABLE_LOG_INFO, "HEAD %d: the server already has the file", st);
    s->r.already_there = 1;
    return STEP_DONE;
  case RS_PROBE_WHOLE:
    rs_run_log(run, RESUMABLE_LOG_INFO, "HEAD %d: no range support, whole-file PUT", st);
    cur->whole = 1;
    cur->offset = s->r.held = 0;
    return STEP_NEXT;
  case RS_PROBE_TRANSIENT:
    snprintf(run->last_problem, sizeof run->last_problem, "HEAD answered %d", st);
    cur->need_probe = 1;
    return STEP_TRANSIENT;
  case RS_PROBE_REFUSED:
    rs_run_msg(run, "server refused the probe: HEAD answered %d%s", st, head_hint(st));
    return RESUMABLE_E_REFUSED;
  case RS_PROBE_PROTOCOL:
    break;
  }
  rs_run_msg(run, "unexpected answer to HEAD: %d", st);
  return RESUMABLE_E_PROTOCOL;
}

/* ---- PUT ---- */

static void plan_put(const rs_run *run, const rs_cursor *cur, rs_http_req *req)
{
  memset(req, 0, sizeof *req);
  req->end = run->size;
  if (cur->whole || run->size == 0) {
    req->whole = 1;
  } else if (cur->offset >= run->size) {
    req->force_expect = 1; /* every byte is held: the server commits without reading ours */
  } else {
    req->start = cur->offset;
    uint64_t chunk = run->s->o.chunk_size;
    if (run->digest_on && (!chunk || chunk > RS_DIGEST_CHUNK_MAX)) /* held in memory */
      chunk = chunk ? RS_DIGEST_CHUNK_MAX : RS_DIGEST_CHUNK_DEFAULT;
    uint64_t limit = rs_put_limit(&run->cap, &req->fresh);
    if (limit && (!chunk || limit < chunk))
      chunk = limit;
    if (chunk && run->size - req->start > chunk)
      req->end = req->start + chunk;
  }
}

/* A short, printable first line of the server's answer for messages. */
static const char *server_text(rs_run *run, char *buf, size_t cap)
{
  size_t i = 0;
  for (const char *p = run->s->r.body; *p && *p != '\n' && i + 1 < cap; p++)
    buf[i++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
  while (i > 0 && buf[i - 1] == ' ')
    i--;
  buf[i] = '\0';
  return i ? buf : "(no text)";
}

static int on_restart(rs_run *run, rs_cursor *cur, int st)
{
  char t[200];
  if (check_file(run, "during the upload", 0) != RESUMABLE_OK)
    return RESUMABLE_E_FILE;
  if (st == 409 && ++cur->conflicts > MAX_IN_A_ROW) {
    rs_run_msg(run, "server asked to restart (409) three times in a row: %s",
               server_text(run, t, sizeof t));
    return RESUMABLE_E_REFUSED;
  }
  if (st != 409 && ++cur->mismatches > MAX_IN_A_ROW) {
    rs_run_msg(run, "the server's SHA-256 check failed three times (%d): %s", st,
               server_text(run, t, sizeof t));
    return RESUMABLE_E_HASH_MISMATCH;
  }
  rs_run_log(run, RESUMABLE_LOG_WARN, "PUT %d: restarting from byte 0", st);
  run->s->r.restarts++;
  cur->offset = run->s->r.held = 0;
  cur->need_probe = 0;
  return STEP_RESTART;
}

/* 308/416/2xx-to-a-chunk: move to `off`; answers that move nothing are bounded. */
static int on_continue(rs_run *run, rs_cursor *cur, uint64_t off, int resync)
{
  if (off > run->s->r.held && !resync) {
    rs_backoff_reset(&run->backoff);
    cur->resyncs = 0;
    cur->conflicts = 0;
  } else if (++cur->resyncs > MAX_IN_A_ROW) {
    rs_run_msg(run, "server keeps answering %d without progress (holds %" PRIu64 " bytes)",
               run->resp.status, off);
    return RESUMABLE_E_PROTOCOL;
  }
  cur->offset = run->s->r.held = off;
  return STEP_NEXT;
}

/* A bare 2xx to a chunk: the server stored it as the whole file (it ignores Content-Range), so
 * chunks would overwrite each other. From here on, whole-file PUTs from byte 0. */
static int on_no_ranges(rs_run *run, rs_cursor *cur, int st)
{
  rs_run_log(run, RESUMABLE_LOG_WARN,
             "PUT %d to a chunk without X-File-Size or Range: the server ignores Content-Range; "
             "sending the whole file from byte 0",
             st);
  cur->whole = 1;
  cur->offset = run->s->r.held = 0;
  return STEP_NEXT;
}

static int judge_put(rs_run *run, rs_cursor *cur, const rs_http_req *req)
{
  char t[200];
  int st = run->resp.status;
  rs_put_req pr = {req->whole, req->start, req->end, req->force_expect};
  uint64_t off = 0;
  rs_put_next next = rs_stager_decide_put(st, &run->resp, &pr, run->size, run->sha, &off);
  rs_run_log(run, RESUMABLE_LOG_DEBUG, "PUT %" PRIu64 "-%" PRIu64 ": %d", req->start, req->end, st);
  if (next == RS_PUT_DONE || next == RS_PUT_CONTINUE || next == RS_PUT_UNCONFIRMED)
    cur->conn_body += off > req->start ? off - req->start : 0;
  rs_cap_delivered(&run->cap, cur->conn_body);
  switch (next) {
  case RS_PUT_DONE:
    run->s->r.held = run->size;
    return STEP_DONE;
  case RS_PUT_CONTINUE:
    return on_continue(run, cur, off, 0);
  case RS_PUT_UNCONFIRMED:
    rs_run_log(run, RESUMABLE_LOG_WARN,
               "PUT %d to bytes %" PRIu64 "-%" PRIu64 " claims all %" PRIu64
               " bytes without the file's SHA-256: not a success; sending the rest",
               st, req->start, req->end - 1, run->size);
    return on_continue(run, cur, off, 0);
  case RS_PUT_RESYNC:
    return on_continue(run, cur, off, 1);
  case RS_PUT_WHOLE:
    return on_no_ranges(run, cur, st);
  case RS_PUT_COMMITTING:
    snprintf(run->last_problem, sizeof run->last_problem,
             "PUT answered 416 holding all %" PRIu64 " bytes: the server is committing", run->size);
    cur->need_probe = 1;
    return STEP_TRANSIENT;
  case RS_PUT_REPROBE:
    cur->need_probe = 1;
    return on_continue(run, cur, run->s->r.held, 1);
  case RS_PUT_RESTART:
    return on_restart(run, cur, st);
  case RS_PUT_TRANSIENT:
    snprintf(run->last_problem, sizeof run->last_problem, "PUT answered %d: %s", st,
             server_text(run, t, sizeof t));
    cur->need_probe = 1;
    return STEP_TRANSIENT;
  case RS_PUT_REFUSED:
    rs_run_msg(run, "server refused (%d): %s", st, server_text(run, t, sizeof t));
    return RESUMABLE_E_REFUSED;
  case RS_PUT_TOO_LARGE:
    rs_run_msg(run, "server refused (413, too large): %s", server_text(run, t, sizeof t));
    return RESUMABLE_E_TOO_LARGE;
  case RS_PUT_PROTOCOL:
    break;
  }
  rs_run_msg(run, "unexpected answer to PUT (%d): %s", st, server_text(run, t, sizeof t));
  return RESUMABLE_E_PROTOCOL;
}

/* 422 to a chunk that carried Content-Digest: the server dropped exactly those bytes (they
 * arrived damaged) and kept its offset. Send the chunk again, from memory. */
static int on_digest_mismatch(rs_run *run, rs_cursor *cur, const rs_http_req *req)
{
  char t[200];
  if (check_file(run, "during the upload", 0) != RESUMABLE_OK)
    return RESUMABLE_E_FILE;
  if (++cur->digest_fails > MAX_DIGEST_FAILS) {
    rs_run_msg(run,
               "the server found bytes %" PRIu64 "-%" PRIu64 " damaged (422) %u times in "
               "a row: %s",
               req->start, req->end - 1, cur->digest_fails, server_text(run, t, sizeof t));
    return RESUMABLE_E_HASH_MISMATCH;
  }
  uint64_t off = req->start;
  if (rs_resp_held(&run->resp, &off) != 0 || off > run->size)
    off = req->start;
  run->s->r.chunk_resends++;
  rs_run_log(run, RESUMABLE_LOG_WARN,
             "PUT 422: bytes %" PRIu64 "-%" PRIu64 " arrived damaged (Content-Digest); "
             "sending them again from byte %" PRIu64,
             req->start, req->end - 1, off);
  cur->offset = run->s->r.held = off;
  return STEP_NEXT;
}

static int put(rs_run *run, rs_cursor *cur)
{
  resumable_stager *s = run->s;
  if (check_file(run, "during the upload", 0) != RESUMABLE_OK)
    return RESUMABLE_E_FILE;
  rs_http_req req;
  plan_put(run, cur, &req);
  if (!s->r.resumed_set) {
    s->r.resumed_from = req.force_expect ? run->size : req.start;
    s->r.resumed_set = 1;
  }
  struct curl_slist *extra = NULL;
  int digested = run->digest_on && !req.whole && !req.force_expect && req.end > req.start;
  if (digested) {
    int drc = rs_digest_chunk(run, req.start, req.end, &extra);
    if (drc != RESUMABLE_OK)
      return drc;
    req.extra = extra;
    req.mem = run->dcur.data;
  }
  run->phase = RESUMABLE_PHASE_SENDING;
  int rc = rs_http_perform(run, &req);
  curl_slist_free_all(extra);
  if (run->new_conn)
    cur->conn_body = 0;
  if (rc < 0)
    return rc;
  if (digested && rc == RS_HTTP_RESPONSE) {
    if (run->resp.status == 422)
      return on_digest_mismatch(run, cur, &req);
    cur->digest_fails = 0;
  }
  if (rc == RS_HTTP_TRANSIENT) {
    cur->need_probe = 1;
    if (!run->cut || cur->whole || req.force_expect)
      return STEP_TRANSIENT;
    cur->cut_pending = 1;
    cur->settle = (rs_settle){.start = req.start, .base = cur->conn_body, .sent = run->cut_sent};
    rs_run_log(run, RESUMABLE_LOG_DEBUG,
               "PUT %" PRIu64 "-%" PRIu64 " cut after %" PRIu64 " body bytes were written",
               req.start, req.end, run->cut_sent);
    return STEP_CUT;
  }
  return judge_put(run, cur, &req);
}

/* ---- waiting ---- */

static void sleep_ms(uint64_t ms)
{
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) /* only a signal: sleep the rest */
    ;
}

int rs_run_wait(rs_run *run)
{
  uint64_t wait = rs_backoff_next(&run->backoff);
  if (run->resp.complete && run->resp.has_retry_after && run->resp.retry_after_ms > wait)
    wait = run->resp.retry_after_ms; /* the server knows better, even beyond max_ms */
  uint64_t now = rs_now_ms();
  if (now >= run->deadline_ms || wait >= run->deadline_ms - now)
    return RESUMABLE_E_TIMEOUT; /* no attempt would fit in what is left */
  rs_run_log(run, RESUMABLE_LOG_INFO, "%s; retrying in %" PRIu64 " ms", run->last_problem, wait);
  uint64_t until = now + wait;
  run->phase = RESUMABLE_PHASE_WAITING;
  while ((now = rs_now_ms()) < until) {
    run->wait_ms = until - now;
    if (rs_run_progress(run))
      return RESUMABLE_E_CANCELLED;
    sleep_ms(run->wait_ms < WAIT_SLICE_MS ? run->wait_ms : WAIT_SLICE_MS);
  }
  run->wait_ms = 0;
  return RESUMABLE_OK;
}

/* The pause between the probes that wait for a cut to settle: short and within the budget (the
 * progress callback, which may cancel, runs with each probe). */
static int settle_gap(rs_run *run)
{
  uint64_t now = rs_now_ms();
  if (now >= run->deadline_ms || RS_SETTLE_GAP_MS >= run->deadline_ms - now)
    return RESUMABLE_E_TIMEOUT;
  sleep_ms(RS_SETTLE_GAP_MS);
  return RESUMABLE_OK;
}

/* ---- the run ---- */

static void next_attempt(rs_run *run)
{
  run->attempt++;
  run->s->r.attempts = run->attempt;
}

static int upload(rs_run *run)
{
  rs_cursor cur = {.need_probe = 1};
  run->attempt = 0;
  next_attempt(run);
  for (;;) {
    int rc = cur.need_probe ? probe(run, &cur) : put(run, &cur);
    if (rc < 0)
      return rc;
    if (rc == STEP_DONE) /* the last request may have been answered from a changed file */
      return check_file(run, "during the upload", 1);
    if (rc == STEP_TRANSIENT || rc == STEP_BACKOFF) {
      int w = rs_run_wait(run);
      if (w != RESUMABLE_OK)
        return w;
    }
    if (rc == STEP_SETTLE && settle_gap(run) != RESUMABLE_OK)
      return RESUMABLE_E_TIMEOUT;
    if (rc == STEP_TRANSIENT || rc == STEP_RESTART || rc == STEP_CUT)
      next_attempt(run);
  }
}

static void describe_end(rs_run *run, int rc)
{
  resumable_stager *s = run->s;
  rs_stager_result *r = &s->r;
  if (rc == RESUMABLE_OK && r->already_there)
    rs_run_msg(run, "the server already had the file (%" PRIu64 " bytes)", run->size);
  else if (rc == RESUMABLE_OK)
    rs_run_msg(run,
               "uploaded %" PRIu64 " bytes (resumed from %" PRIu64 ", %" PRIu64
               " bytes on the wire, %u attempts)",
               run->size, r->resumed_from, r->wire_bytes, r->attempts);
  else if (rc == RESUMABLE_E_TIMEOUT)
    rs_run_msg(run,
               "time budget of %" PRIu64
               " ms exhausted after %u attempts; the server holds %" PRIu64 " of %" PRIu64
               " bytes%s%s",
               s->o.budget_ms, r->attempts, r->held, run->size,
               run->last_problem[0] ? "; last problem: " : "", run->last_problem);
  else if (rc == RESUMABLE_E_CANCELLED)
    rs_run_msg(run,
               "cancelled after sending %" PRIu64 " bytes; the server held %" PRIu64 " of %" PRIu64
               " bytes when last asked",
               r->wire_bytes, r->held, run->size);
  else if (r->msg[0] == '\0')
    rs_run_msg(run, "%s", resumable_strerror(rc));
}

int resumable_stager_run(resumable_stager *s)
{
  if (!s)
    return RESUMABLE_E_INVALID_ARG;
  if (s->running)
    return RESUMABLE_E_STATE;
  memset(&s->r, 0, sizeof s->r);
  s->running = 1;
  rs_run run;
  memset(&run, 0, sizeof run);
  run.s = s;
  uint64_t t0 = rs_now_ms();
  run.deadline_ms = t0 + s->o.budget_ms;
  run.rng_state = t0 ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
  rs_backoff_init(&run.backoff, s->o.backoff_min_ms, s->o.backoff_max_ms, (int)s->o.jitter,
                  rs_splitmix64, &run.rng_state);
  int rc = prepare(&run);
  if (rc == RESUMABLE_OK) /* AUTO asks the server first; tus is in stager_tus.c */
    rc = s->o.protocol != RESUMABLE_PROTOCOL_LOCALAI ? rs_tus_upload(&run) : RS_TUS_NOT_TUS;
  if (rc == RS_TUS_NOT_TUS)
    rc = upload(&run);
  if (rc == RESUMABLE_OK) {
    s->r.held = run.size;
    if (!s->r.resumed_set)
      s->r.resumed_from = run.size;
  }
  if (run.grid_used || run.grid_missed)
    rs_run_log(&run, RESUMABLE_LOG_DEBUG,
               "per-request digests: %u from the hash pass, %u hashed when read", run.grid_used,
               run.grid_missed);
  rs_digest_free(&run);
  describe_end(&run, rc);
  s->r.error = rc;
  rs_run_log(&run, rc ? RESUMABLE_LOG_ERROR : RESUMABLE_LOG_INFO, "%s", s->r.msg);
  run.phase = RESUMABLE_PHASE_DONE;
  rs_run_progress(&run);
  s->running = 0;
  return rc;
}
