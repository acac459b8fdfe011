/* Parallel tus uploads (concatenation): the file is cut into N parts, each a tus upload of its
 * own ("Upload-Concat: partial") created, sent and resumed on its own connection, all driven
 * by one libcurl multi handle on the caller's thread (so the progress and log callbacks run
 * where the API says); then one "Upload-Concat: final;..." creation asks the server to join
 * them. Each part follows the one-connection rules (stager_tus_decide.c): HEAD after a failure,
 * its own backoff, one resend after 460, 409 re-asked, 404 created again. The part URLs are
 * kept in the URL store, so an interrupted run resumes every part. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "curl_setopt.h"
#include "stager_decide.h"
#include "stager_tus.h"
#include "stager_tus_decide.h"
#include "url_store.h"

#define MAX_PARTS RS_US_MAX_URLS
#define MAX_IN_A_ROW 2
#define POLL_MS 100
#define BODY_TEXT 256

typedef enum part_req { REQ_NONE = 0, REQ_CREATE, REQ_HEAD, REQ_PATCH } part_req;

typedef struct part {
  struct par *par;
  unsigned idx;
  uint64_t start, len;          /* the file bytes of this part */
  char url[RS_TUS_URL_MAX + 1]; /* its upload, "" before one exists */
  int need_head, done;
  uint64_t held;       /* bytes of the part the server holds */
  uint64_t wait_until; /* rs_now_ms of the end of its backoff, 0 for none */
  rs_backoff backoff;
  uint64_t rng;
  unsigned resyncs, restarts, resends;
  int sent_once;       /* a body byte of this part went out in this run */
  uint64_t first_from; /* the part's held bytes then */
  /* the request in flight */
  CURL *c;
  part_req req;
  struct curl_slist *hdrs;
  uint64_t body_start, body_end, body_pos, sent;
  uint64_t stall_t0, stall_b0;
  int stalled;
  rs_resp resp;
  rs_tus_resp tresp;
  char text[BODY_TEXT + 1];
  size_t text_len;
} part;

typedef struct par {
  rs_run *run;
  const rs_tus_server *srv;
  rs_tus_algo algo;
  unsigned n;
  part parts[MAX_PARTS];
  CURLM *multi;
  uint8_t key[32];    /* URL store entry of the parts */
  uint64_t wire_done; /* body bytes of finished requests */
  int error;          /* the first permanent failure */
} par;

/* ---- one request of one part ---- */

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
  part *p = ud;
  uint64_t left = p->body_end - p->body_pos;
  size_t want = size * nitems < left ? size * nitems : (size_t)left;
  if (want == 0)
    return 0;
  ssize_t n;
  do
    n = pread(p->par->run->s->fd, buf, want, (off_t)p->body_pos);
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    p->par->run->file_error = 1;
    return CURL_READFUNC_ABORT;
  }
  p->body_pos += (uint64_t)n;
  return (size_t)n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
  part *p = ud;
  size_t n = size * nitems;
  if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0)
    p->text_len = 0;
  rs_resp_feed(&p->resp, buf, n, time(NULL));
  rs_tus_resp_feed(&p->tresp, buf, n);
  return n;
}

static size_t on_write(char *buf, size_t size, size_t nitems, void *ud)
{
  part *p = ud;
  size_t n = size * nitems, room = BODY_TEXT - p->text_len, take = n < room ? n : room;
  memcpy(p->text + p->text_len, buf, take);
  p->text_len += take;
  p->text[p->text_len] = '\0';
  return n;
}

/* The stall check of the one-connection stager, per part: while its body is on its way. */
static int on_xfer(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
  (void)dlt, (void)ult;
  part *p = ud;
  const rs_stager_opts *o = &p->par->run->s->o;
  uint64_t now = rs_now_ms(), moved = (uint64_t)(uln > 0 ? uln : 0) + (uint64_t)(dln > 0 ? dln : 0);
  if (uln > 0)
    p->sent = (uint64_t)uln;
  int pending = p->resp.status < 200 && p->sent < p->body_end - p->body_start;
  if (!o->stall_bytes || !pending || moved - p->stall_b0 >= o->stall_bytes * o->stall_secs) {
    p->stall_t0 = now;
    p->stall_b0 = moved;
    return 0;
  }
  if (now - p->stall_t0 >= o->stall_secs * 1000) {
    p->stalled = 1;
    return 1;
  }
  return 0;
}

static int add(struct curl_slist **l, const char *line)
{
  struct curl_slist *x = curl_slist_append(*l, line);
  if (!x)
    return -1;
  *l = x;
  return 0;
}

static int addf(struct curl_slist **l, const char *name, uint64_t v)
{
  char line[96];
  snprintf(line, sizeof(line), "%s: %" PRIu64, name, v);
  return add(l, line);
}

/* Headers of the part's next request (the stager's own first). */
static int part_headers(part *p, part_req req, struct curl_slist **out)
{
  const rs_stager_opts *o = &p->par->run->s->o;
  struct curl_slist *l = NULL;
  int bad = add(&l, "Tus-Resumable: 1.0.0");
  for (const struct curl_slist *h = o->headers; h && !bad; h = h->next)
    bad = add(&l, h->data);
  if (!bad && o->token) {
    char auth[600];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
    bad = add(&l, auth);
  }
  if (!bad && req == REQ_CREATE)
    bad = add(&l, "Upload-Concat: partial") || addf(&l, "Upload-Length", p->len);
  if (!bad && req == REQ_PATCH)
    bad = addf(&l, "Upload-Offset", p->held);
  if (!bad && p->body_end > p->body_start)
    bad = add(&l, "Content-Type: " RS_TUS_CONTENT_TYPE);
  if (!bad && req == REQ_PATCH && p->body_end == p->body_start)
    bad = add(&l, "Content-Type: " RS_TUS_CONTENT_TYPE);
  if (bad) {
    curl_slist_free_all(l);
    return RESUMABLE_E_NOMEM;
  }
  *out = l;
  return RESUMABLE_OK;
}

/* The bytes of the part's next POST or PATCH: [body_start, body_end) of the file. */
static void plan_body(part *p, part_req req)
{
  const par *pa = p->par;
  uint64_t from = req == REQ_PATCH ? p->held : 0;
  uint64_t to = p->len;
  /* Parts are created empty: every part URL is known (and stored) before any byte goes out,
   * so an interrupted run loses none of them. */
  int body = req == REQ_PATCH;
  uint64_t chunk = pa->run->s->o.chunk_size;
  if (!chunk && pa->algo != RS_TUS_ALGO_NONE)
    chunk = (uint64_t)64 << 20; /* as stager_tus.c's CHECKSUM_CHUNK */
  if (chunk && to - from > chunk)
    to = from + chunk;
  p->body_start = p->body_pos = p->start + from;
  p->body_end = body ? p->start + to : p->body_start;
}

static int start_request(part *p, part_req req)
{
  par *pa = p->par;
  rs_run *run = pa->run;
  const rs_stager_opts *o = &run->s->o;
  uint64_t now = rs_now_ms();
  if (now >= run->deadline_ms)
    return RESUMABLE_E_TIMEOUT;
  if (!p->c && !(p->c = curl_easy_init()))
    return RESUMABLE_E_NOMEM;
  plan_body(p, req == REQ_HEAD ? REQ_NONE : req);
  if (req == REQ_HEAD)
    p->body_end = p->body_start;
  struct curl_slist *h = NULL;
  int rc = part_headers(p, req, &h);
  if (rc == RESUMABLE_OK && p->body_end > p->body_start)
    rc = rs_tus_add_checksum(run, pa->algo, p->body_start, p->body_end, &h);
  if (rc != RESUMABLE_OK) {
    curl_slist_free_all(h);
    return rc;
  }
  CURL *c = p->c;
  curl_easy_reset(c);
  rs_resp_reset(&p->resp);
  rs_tus_resp_reset(&p->tresp);
  p->text_len = 0;
  p->text[0] = '\0';
  p->sent = 0;
  p->stalled = 0;
  p->stall_t0 = now;
  p->stall_b0 = 0;
  p->req = req;
  p->hdrs = h;
  CURLcode cc = CURLE_OK;
  rc = rs_http_options(c, o, run->deadline_ms - now);
  RS_SETOPT(&cc, c, CURLOPT_URL, req == REQ_CREATE ? run->s->url : p->url);
  RS_SETOPT(&cc, c, CURLOPT_HTTPHEADER, h);
  RS_SETOPT(&cc, c, CURLOPT_HEADERFUNCTION, on_header);
  RS_SETOPT(&cc, c, CURLOPT_HEADERDATA, p);
  RS_SETOPT(&cc, c, CURLOPT_WRITEFUNCTION, on_write);
  RS_SETOPT(&cc, c, CURLOPT_WRITEDATA, p);
  RS_SETOPT(&cc, c, CURLOPT_NOPROGRESS, 0L);
  RS_SETOPT(&cc, c, CURLOPT_XFERINFOFUNCTION, on_xfer);
  RS_SETOPT(&cc, c, CURLOPT_XFERINFODATA, p);
  RS_SETOPT(&cc, c, CURLOPT_PRIVATE, p);
  if (o->max_speed) /* the stager's rate is the total: shared by the connections */
    RS_SETOPT(&cc, c, CURLOPT_MAX_SEND_SPEED_LARGE,
              (curl_off_t)(o->max_speed / pa->n ? o->max_speed / pa->n : 1));
  if (req == REQ_HEAD) {
    RS_SETOPT(&cc, c, CURLOPT_NOBODY, 1L);
  } else {
    RS_SETOPT(&cc, c, CURLOPT_CUSTOMREQUEST, req == REQ_CREATE ? "POST" : "PATCH");
    RS_SETOPT(&cc, c, CURLOPT_UPLOAD, 1L);
    RS_SETOPT(&cc, c, CURLOPT_READFUNCTION, on_read);
    RS_SETOPT(&cc, c, CURLOPT_READDATA, p);
    RS_SETOPT(&cc, c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(p->body_end - p->body_start));
    RS_SETOPT(&cc, c, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
  }
  if (rc == RESUMABLE_OK)
    rc = rs_setopt_error(cc);
  if (rc != RESUMABLE_OK)
    return rc; /* p->hdrs is freed with the part, as after a failed add below */
  if (curl_multi_add_handle(pa->multi, c) != CURLM_OK)
    return RESUMABLE_E_NOMEM;
  rs_run_log(run, RESUMABLE_LOG_DEBUG, "part %u: %s %" PRIu64 "-%" PRIu64, p->idx,
             req == REQ_CREATE ? "POST"
             : req == REQ_HEAD ? "HEAD"
                               : "PATCH",
             p->body_start - p->start, p->body_end - p->start);
  if (!p->sent_once && p->body_end > p->body_start) {
    p->sent_once = 1;
    p->first_from = p->body_start - p->start;
  }
  run->s->r.requests++;
  return RESUMABLE_OK;
}

/* ---- judging a part's answer ---- */

static void part_wait(part *p, const char *fmt, int st)
{
  uint64_t w = rs_backoff_next(&p->backoff);
  if (p->resp.complete && p->resp.has_retry_after && p->resp.retry_after_ms > w)
    w = p->resp.retry_after_ms;
  p->wait_until = rs_now_ms() + w;
  p->need_head = p->url[0] != '\0';
  snprintf(p->par->run->last_problem, sizeof p->par->run->last_problem, fmt, p->idx, st);
  rs_run_log(p->par->run, RESUMABLE_LOG_INFO, "%s; part %u retries in %" PRIu64 " ms",
             p->par->run->last_problem, p->idx, w);
}

static void store_parts(par *pa)
{
  const char *urls[MAX_PARTS];
  for (unsigned i = 0; i < pa->n; i++) {
    if (!pa->parts[i].url[0])
      return; /* stored once every part has its URL */
    urls[i] = pa->parts[i].url;
  }
  rs_tus_store_put(pa->run, pa->key, urls, pa->n);
}

/* A permanent failure of part `idx`: "part <idx>: <why> (<status>): <server's text>". */
static int fail(par *pa, int rc, unsigned idx, const char *why, int st, const char *text)
{
  rs_run_msg(pa->run, "part %u: %s (%d): %s", idx, why, st, text && *text ? text : "(no text)");
  pa->error = rc;
  return rc;
}

static void advance(part *p, uint64_t off)
{
  if (off > p->held) {
    rs_backoff_reset(&p->backoff);
    p->resyncs = p->resends = 0;
  } else {
    p->resyncs++;
  }
  p->held = off;
}

static int judge_head(part *p)
{
  par *pa = p->par;
  int st = p->resp.status;
  uint64_t off = 0;
  uint8_t none[32] = {0};
  rs_resp plain = p->resp; /* a part is never bound to a whole-file hash */
  plain.has_target_sha = plain.has_content_sha = 0;
  switch (rs_stager_tus_decide_head(st, &plain, &p->tresp, p->len, none, &off)) {
  case RS_TUSH_RESUME:
    p->need_head = 0;
    advance(p, off);
    return RESUMABLE_OK;
  case RS_TUSH_DONE:
    p->need_head = 0;
    p->held = p->len;
    p->done = 1;
    return RESUMABLE_OK;
  case RS_TUSH_CREATE:
    p->url[0] = '\0';
    p->need_head = 0;
    p->held = 0;
    return RESUMABLE_OK;
  case RS_TUSH_TRANSIENT:
    part_wait(p, "part %u: HEAD answered %d", st);
    return RESUMABLE_OK;
  case RS_TUSH_REFUSED:
    break;
  }
  return fail(pa, RESUMABLE_E_REFUSED, p->idx, "the server refused HEAD", st, "");
}

static int judge_sent(part *p, part_req req)
{
  par *pa = p->par;
  int st = p->resp.status, created = req == REQ_CREATE;
  uint64_t off = 0, s = p->body_start - p->start, e = p->body_end - p->start;
  rs_tus_sent_next next = rs_stager_tus_decide_sent(st, &p->tresp, created, s, e, p->len, &off);
  if (created && (next == RS_TUSS_CONTINUE || next == RS_TUSS_DONE)) {
    char abs[RS_TUS_URL_MAX + 1];
    if (!p->tresp.has_location ||
        rs_tus_resolve(pa->run->s->url, p->tresp.location, abs, sizeof(abs)) != 0)
      return fail(pa, RESUMABLE_E_PROTOCOL, p->idx, "created without a usable Location", st, "");
    snprintf(p->url, sizeof(p->url), "%s", abs);
    store_parts(pa);
  }
  if (next == RS_TUSS_RESEND && ++p->resends <= 1)
    return RESUMABLE_OK; /* the same request again, at once; twice is not a glitch: restart */
  switch (next) {
  case RS_TUSS_DONE:
    p->held = p->len;
    p->done = 1;
    return RESUMABLE_OK;
  case RS_TUSS_CONTINUE:
    advance(p, off);
    if (p->resyncs > MAX_IN_A_ROW + 1)
      return fail(pa, RESUMABLE_E_PROTOCOL, p->idx, "no progress", st, p->text);
    return RESUMABLE_OK;
  case RS_TUSS_RESYNC:
    p->need_head = 1;
    advance(p, p->held);
    return p->resyncs > MAX_IN_A_ROW + 1
               ? fail(pa, RESUMABLE_E_PROTOCOL, p->idx, "no progress", st, p->text)
               : RESUMABLE_OK;
  case RS_TUSS_RESEND:
  case RS_TUSS_RESTART:
    if (++p->restarts > MAX_IN_A_ROW)
      return fail(pa, st == 460 ? RESUMABLE_E_HASH_MISMATCH : RESUMABLE_E_REFUSED, p->idx,
                  "the upload failed three times", st, p->text);
    pa->run->s->r.restarts++;
    p->url[0] = '\0';
    p->held = 0;
    p->resends = 0;
    p->need_head = 0;
    return RESUMABLE_OK;
  case RS_TUSS_TRANSIENT:
    part_wait(p, "part %u: answered %d", st);
    return RESUMABLE_OK;
  case RS_TUSS_REFUSED:
    return fail(pa, RESUMABLE_E_REFUSED, p->idx, "server refused", st, p->text);
  case RS_TUSS_TOO_LARGE:
    return fail(pa, RESUMABLE_E_TOO_LARGE, p->idx, "server refused: too large", st, p->text);
  case RS_TUSS_PROTOCOL:
    break;
  }
  return fail(pa, RESUMABLE_E_PROTOCOL, p->idx, "unexpected answer", st, p->text);
}

/* A request of part p ended with libcurl's `cc`. */
static int finished(part *p, CURLcode cc)
{
  par *pa = p->par;
  rs_run *run = pa->run;
  curl_off_t up = 0;
  if (p->req != REQ_HEAD && curl_easy_getinfo(p->c, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK &&
      up > 0) {
    run->s->r.wire_bytes += (uint64_t)up;
  }
  curl_multi_remove_handle(pa->multi, p->c);
  curl_slist_free_all(p->hdrs);
  p->hdrs = NULL;
  p->sent = 0;
  part_req req = p->req;
  p->req = REQ_NONE;
  if (run->file_error)
    return fail(pa, RESUMABLE_E_FILE, p->idx, "cannot read the local file", 0, "");
  if (p->resp.complete && p->resp.status >= 200) {
    run->s->r.http_status = p->resp.status;
    return req == REQ_HEAD ? judge_head(p) : judge_sent(p, req);
  }
  if (cc == CURLE_OPERATION_TIMEDOUT && rs_now_ms() >= run->deadline_ms)
    return RESUMABLE_E_TIMEOUT;
  part_wait(p,
            p->stalled ? "part %u: stalled while sending (%d)"
                       : "part %u: connection failed "
                         "(curl %d)",
            (int)cc);
  return RESUMABLE_OK;
}

/* ---- the loop ---- */

static int report(par *pa)
{
  rs_run *run = pa->run;
  uint64_t held = 0, inflight = 0;
  for (unsigned i = 0; i < pa->n; i++) {
    held += pa->parts[i].held;
    inflight += pa->parts[i].sent;
  }
  run->s->r.held = held;
  run->body_start = held;
  run->req_sent = inflight;
  run->phase = RESUMABLE_PHASE_SENDING;
  return rs_run_progress(run);
}

/* Start whatever can start; returns the number of parts still to finish, or an error. */
static int kick(par *pa)
{
  int left = 0;
  uint64_t now = rs_now_ms();
  for (unsigned i = 0; i < pa->n; i++) {
    part *p = &pa->parts[i];
    if (p->done)
      continue;
    left++;
    if (p->req != REQ_NONE || (p->wait_until && now < p->wait_until))
      continue;
    p->wait_until = 0;
    part_req req = !p->url[0] ? REQ_CREATE : p->need_head ? REQ_HEAD : REQ_PATCH;
    int rc = start_request(p, req);
    if (rc != RESUMABLE_OK)
      return rc;
  }
  return left;
}

static int pump(par *pa)
{
  rs_run *run = pa->run;
  for (;;) {
    int left = kick(pa);
    if (left <= 0)
      return left;
    int running = 0;
    if (curl_multi_perform(pa->multi, &running) != CURLM_OK)
      return RESUMABLE_E_NOMEM;
    CURLMsg *m;
    int q;
    while ((m = curl_multi_info_read(pa->multi, &q)) != NULL) {
      if (m->msg != CURLMSG_DONE)
        continue;
      part *p = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
      CURLcode cc = m->data.result;
      int rc = finished(p, cc);
      if (rc != RESUMABLE_OK)
        return rc;
    }
    if (report(pa))
      return RESUMABLE_E_CANCELLED;
    if (rs_now_ms() >= run->deadline_ms)
      return RESUMABLE_E_TIMEOUT;
    curl_multi_poll(pa->multi, NULL, 0, POLL_MS, NULL);
  }
}

/* ---- the final upload ---- */

static int concatenate(par *pa)
{
  rs_run *run = pa->run;
  resumable_stager *s = run->s;
  size_t cap = 32 + pa->n * (RS_TUS_URL_MAX + 1);
  char *line = malloc(cap);
  if (!line)
    return RESUMABLE_E_NOMEM;
  size_t n = (size_t)snprintf(line, cap, "Upload-Concat: final;");
  for (unsigned i = 0; i < pa->n; i++)
    n += (size_t)snprintf(line + n, cap - n, "%s%s", i ? " " : "", pa->parts[i].url);
  struct curl_slist *h = NULL;
  int bad = add(&h, line);
  free(line);
  if (!bad && s->o.tus_metadata) {
    char *md = malloc(strlen(s->o.tus_metadata) + 32);
    bad = !md || (sprintf(md, "Upload-Metadata: %s", s->o.tus_metadata), add(&h, md));
    free(md);
  }
  if (bad) {
    curl_slist_free_all(h);
    return RESUMABLE_E_NOMEM;
  }
  run->phase = RESUMABLE_PHASE_SENDING;
  run->body_start = run->size;
  int rc = rs_tus_request(run, "POST", NULL, h, 0, 0);
  curl_slist_free_all(h);
  return rc;
}

/* After the parts: ask for the final upload until it exists (or the parts must be redone). */
static int finish(par *pa, int *redo)
{
  rs_run *run = pa->run;
  char t[200];
  *redo = 0;
  for (;;) {
    int rc = concatenate(pa);
    if (rc < 0)
      return rc;
    int st = run->resp.status;
    if (rc == RS_HTTP_RESPONSE && st == 201) {
      char abs[RS_TUS_URL_MAX + 1];
      if (run->tresp.has_location &&
          rs_tus_resolve(run->s->url, run->tresp.location, abs, sizeof(abs)) == 0) {
        snprintf(run->s->r.upload_url, sizeof(run->s->r.upload_url), "%s", abs);
        uint8_t one[32];
        const char *u = abs;
        rs_tus_store_key(run, "", one); /* a later run finds it complete */
        rs_tus_store_put(run, one, &u, 1);
      }
      rs_tus_store_drop(run, pa->key);
      run->s->r.held = run->size;
      rs_run_log(run, RESUMABLE_LOG_INFO, "POST 201: %u parts concatenated at %s", pa->n,
                 run->s->r.upload_url);
      return RESUMABLE_OK;
    }
    snprintf(t, sizeof t, "%.150s", run->s->r.body);
    if (rc == RS_HTTP_RESPONSE && (st == 400 || st == 404 || st == 409 || st == 460)) {
      rs_run_log(run, RESUMABLE_LOG_WARN,
                 "concatenation answered %d (%s): sending the parts "
                 "again",
                 st, t);
      *redo = st;
      return RESUMABLE_OK;
    }
    if (rc == RS_HTTP_RESPONSE && !rs_status_transient(st)) {
      rs_run_msg(run, "server refused the concatenation (%d): %s", st, t);
      return st == 413 ? RESUMABLE_E_TOO_LARGE : RESUMABLE_E_REFUSED;
    }
    if (rc == RS_HTTP_RESPONSE)
      snprintf(run->last_problem, sizeof run->last_problem, "concatenation answered %d", st);
    rc = rs_run_wait(run);
    if (rc != RESUMABLE_OK)
      return rc;
  }
}

static void setup(par *pa, rs_run *run, const rs_tus_server *srv)
{
  memset(pa, 0, sizeof(*pa));
  pa->run = run;
  pa->srv = srv;
  pa->algo = run->s->o.chunk_digest == 0 ? RS_TUS_ALGO_NONE : rs_tus_pick_algo(srv);
  pa->n = run->s->o.parallel > MAX_PARTS ? MAX_PARTS : run->s->o.parallel;
  uint64_t each = run->size / pa->n;
  for (unsigned i = 0; i < pa->n; i++) {
    part *p = &pa->parts[i];
    p->par = pa;
    p->idx = i;
    p->start = each * i;
    p->len = i + 1 == pa->n ? run->size - p->start : each;
    p->rng = rs_now_ms() ^ ((uint64_t)i << 40) ^ (uint64_t)(uintptr_t)p;
    rs_backoff_init(&p->backoff, run->s->o.backoff_min_ms, run->s->o.backoff_max_ms,
                    (int)run->s->o.jitter, rs_splitmix64, &p->rng);
  }
  char what[16];
  snprintf(what, sizeof(what), "#parts%u", pa->n);
  rs_tus_store_key(run, what, pa->key);
  char urls[MAX_PARTS][RS_TUS_URL_MAX + 1];
  const char *dir = run->s->o.url_store_dir;
  if (dir && rs_us_lookup(dir, pa->key, urls, MAX_PARTS) == pa->n) {
    rs_run_log(run, RESUMABLE_LOG_INFO, "URL store: resuming %u parts", pa->n);
    for (unsigned i = 0; i < pa->n; i++) {
      memcpy(pa->parts[i].url, urls[i], sizeof(pa->parts[i].url));
      pa->parts[i].need_head = 1;
    }
  }
}

static void teardown(par *pa)
{
  for (unsigned i = 0; i < pa->n; i++) {
    part *p = &pa->parts[i];
    if (p->c) {
      if (p->req != REQ_NONE) {
        curl_off_t up = 0;
        if (curl_easy_getinfo(p->c, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0)
          pa->run->s->r.wire_bytes += (uint64_t)up;
        curl_multi_remove_handle(pa->multi, p->c);
      }
      curl_easy_cleanup(p->c);
    }
    curl_slist_free_all(p->hdrs);
  }
  curl_multi_cleanup(pa->multi);
  pa->run->req_sent = 0;
}

/* After a cancel: delete every part (tus termination), quietly, and forget them. */
static void terminate(par *pa)
{
  rs_run *run = pa->run;
  if (!run->s->o.cancel_remote || !(pa->srv->ext & RS_TUSX_TERMINATION))
    return;
  run->quiet = 1;
  run->cancelled = 0;
  for (unsigned i = 0; i < pa->n; i++)
    if (pa->parts[i].url[0])
      (void)rs_tus_request(run, "DELETE", pa->parts[i].url, NULL, 0, 0);
  run->quiet = 0;
  run->cancelled = 1;
  rs_tus_store_drop(run, pa->key);
  rs_run_log(run, RESUMABLE_LOG_INFO, "cancelled: the parts were deleted");
}

int rs_tus_parallel(rs_run *run, const rs_tus_server *srv)
{
  par *pa = calloc(1, sizeof(*pa)); /* 16 parts with their URLs: too large for the stack */
  if (!pa)
    return RESUMABLE_E_NOMEM;
  int rc = RESUMABLE_OK, redo = 1;
  setup(pa, run, srv);
  rs_run_log(run, RESUMABLE_LOG_INFO, "%u parts over %u connections", pa->n, pa->n);
  for (unsigned round = 0; redo && rc == RESUMABLE_OK; round++) {
    if (round > 0) { /* the parts were refused at concatenation: new ones */
      if (round > MAX_IN_A_ROW) {
        rs_run_msg(run, "the concatenation failed three times");
        rc = redo == 460 ? RESUMABLE_E_HASH_MISMATCH : RESUMABLE_E_REFUSED;
        break;
      }
      run->s->r.restarts++;
      rs_tus_store_drop(run, pa->key);
      for (unsigned i = 0; i < pa->n; i++) {
        pa->parts[i].url[0] = '\0';
        pa->parts[i].done = 0;
        pa->parts[i].held = 0;
        pa->parts[i].need_head = 0;
      }
    }
    pa->multi = pa->multi ? pa->multi : curl_multi_init();
    if (!pa->multi) {
      rc = RESUMABLE_E_NOMEM;
      break;
    }
    rc = pump(pa);
    if (rc == RESUMABLE_OK && pa->error)
      rc = pa->error;
    if (rc == RESUMABLE_OK)
      rc = finish(pa, &redo);
  }
  uint64_t before = 0; /* what the server held before this run sent a byte */
  for (unsigned i = 0; i < pa->n; i++)
    before += pa->parts[i].sent_once ? pa->parts[i].first_from : pa->parts[i].len;
  if (!run->s->r.resumed_set) {
    run->s->r.resumed_from = before;
    run->s->r.resumed_set = 1;
  }
  teardown(pa);
  if (rc == RESUMABLE_E_CANCELLED)
    terminate(pa);
  free(pa);
  return rc;
}
