/* Fuzz the whole public handler (include/resumable/server.h) over a store: the memory store
 * (fuzz_handler, fast: see fuzz_handler_mem.c) or the POSIX store (fuzz_handler_fs, see
 * fuzz_handler_fs.c).
 *
 * The input is a small config byte and then a sequence of request records (format below); each
 * one becomes an exchange: method, path, a few headers, the body in pieces, a complete or dropped
 * end. Bodies are not taken from the input: every request names a content seed and a total, and
 * its body is that content's bytes at the range it names, so a well-formed sequence really
 * finishes uploads (and their X-Content-SHA256 can be right or wrong on purpose). One exchange
 * can be paused half-way while the next request runs (supersede, 423).
 *
 * After every request the harness checks:
 * - for every key used so far, a partial has held <= total, and a complete file read through
 *   the store has the size and SHA-256 (hashed here with mbedTLS) that it records;
 * - the backend's own invariants (nothing outside the root; nothing the requests did not name);
 * - the reply: a known status, never 500 (neither store fails here; 507 only when the memory
 *   store has a budget), 401 whenever the token was wrong, a PUT 200 names the file just
 *   committed, a 308's X-File-Size is what the store holds, no 2xx/308 for a range over the
 *   maximum size, a GET 200 serves the file's bytes.
 * The storage is fresh for every input and dropped afterwards. Work per input is bounded
 * (MAX_REQUESTS requests, MAX_BODY body bytes in all). */
#include <string.h>
#include <time.h>

#include "fuzz_handler.h"
#include "resumable/error.h"

int trace;

/* Feed body bytes [*sent, until) in pieces; returns 1 once the reply is decided. */
static int feed(resumable_exchange *ex, const request *q, size_t *sent, size_t until)
{
  uint8_t buf[128];
  while (*sent < until) {
    size_t n = until - *sent;
    if (n > q->piece)
      n = q->piece;
    if (n > sizeof buf)
      n = sizeof buf;
    for (size_t i = 0; i < n; i++)
      buf[i] = content_byte(q->seed, q->offset + *sent + i);
    int rc = resumable_exchange_feed(ex, buf, n);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (trace)
      fprintf(stderr, "  feed %zu at %zu: %d (status %d)\n", n, *sent, rc,
              resumable_exchange_status(ex));
    *sent += n;
    if (rc == 1)
      return 1;
  }
  return 0;
}

/* -- driving --------------------------------------------------------------------------------- */

typedef struct live {
  request q;
  resumable_exchange *ex;
  size_t sent;
  int decided;
  int decided_early; /* decided before it was paused: its reply predates what ran meanwhile */
  int at_headers;    /* decided by headers_done */
} live;

/* Begin an exchange and feed its body up to `stop`. */
static void start(fuzz_ctx *c, live *l, size_t stop)
{
  FUZZ_CHECK(resumable_exchange_begin(c->srv, l->q.method, l->q.path, &l->ex) == RESUMABLE_OK);
  for (size_t i = 0; i < l->q.nhdr; i++)
    FUZZ_CHECK(resumable_exchange_add_header(l->ex, l->q.names[i], l->q.values[i]) == RESUMABLE_OK);
  int rc = resumable_exchange_headers_done(l->ex);
  FUZZ_CHECK(rc == 0 || rc == 1);
  if (l->q.is_draft) /* a creation at the prefix names its own key: follow it from now on */
    remember_key(c, resumable_exchange_key(l->ex));
  l->sent = 0;
  l->decided = rc == 1;
  l->at_headers = rc == 1;
  if (trace)
    fprintf(stderr, "  begin %s %s: headers_done %d (status %d)%s\n", l->q.method, l->q.path, rc,
            resumable_exchange_status(l->ex), stop < l->q.body_len ? ", paused" : "");
  if (rc == 1)
    FUZZ_CHECK(resumable_exchange_status(l->ex) != 0);
  if (!l->decided)
    l->decided = feed(l->ex, &l->q, &l->sent, stop);
  l->decided_early = l->decided;
}

/* `alone`: no other request ran since this one began; `before` is the store's state then. */
static void finish(fuzz_ctx *c, live *l, int alone, const key_state *before)
{
  key_state after[MAX_KEYS];
  if (!l->decided)
    feed(l->ex, &l->q, &l->sent, l->q.body_len);
  FUZZ_CHECK(resumable_exchange_end(l->ex, l->q.dropped ? RESUMABLE_BODY_DROPPED
                                                        : RESUMABLE_BODY_COMPLETE) == RESUMABLE_OK);
  check_reply(c, &l->q, l->ex, alone || !l->decided_early);
  if (alone && before != NULL) {
    snapshot(c, after);
    check_effect(c, &l->q, before, after, resumable_exchange_status(l->ex), l->at_headers, l->ex);
  }
  if (l->q.is_draft) /* a creation at the prefix names its own key, whatever its answer */
    remember_key(c, resumable_exchange_key(l->ex));
  resumable_exchange_free(l->ex);
  l->ex = NULL;
  if (l->q.is_put || strcmp(l->q.method, "DELETE") == 0)
    check_state(c, 0); /* the others only read (checked again after the last request) */
}

static int log_lines;

static void log_line(void *user_data, resumable_log_level level, const char *msg)
{
  FUZZ_CHECK(user_data == &log_lines && msg != NULL);
  FUZZ_CHECK(level >= RESUMABLE_LOG_ERROR && level <= RESUMABLE_LOG_DEBUG);
  FUZZ_CHECK(strlen(msg) < 16384 && strchr(msg, '\n') == NULL); /* one line */
  log_lines++;
  if (trace)
    fprintf(stderr, "  log %d: %s\n", (int)level, msg);
}

/* A server left idle by the last input, for a backend whose storage outlives servers: starting
 * one costs two hash threads, which under the sanitizers cost more than the rest of an input. */
static resumable_server *kept;

/* A server on the backend's storage (the kept one, if any), configured by the input's first
 * byte. Every setting is set, so nothing carries over from an earlier input. */
static void open_server(fuzz_ctx *c, uint8_t config)
{
  c->token = config & 1;
  c->max_size = (config & 2) ? MAX_SIZE : 0;
  if (kept != NULL) {
    c->srv = kept;
    kept = NULL;
  } else {
    FUZZ_CHECK(resumable_server_new_with_store(&c->srv, backend_store(c)) == RESUMABLE_OK);
  }
  FUZZ_CHECK(resumable_server_set_token(c->srv, c->token ? TOKEN : NULL) == RESUMABLE_OK);
  FUZZ_CHECK(resumable_server_set_max_size(c->srv, c->max_size) == RESUMABLE_OK);
  c->prefix = (config & 4) ? "/files/" : "/v1/files/";
  FUZZ_CHECK(resumable_server_set_prefix(c->srv, c->prefix) == RESUMABLE_OK);
  c->expose = (config & 8) != 0;
  FUZZ_CHECK(resumable_server_set_expose_paths(c->srv, c->expose) == RESUMABLE_OK);
  FUZZ_CHECK(resumable_server_set_log(c->srv, (config & 16) ? log_line : NULL, &log_lines) ==
             RESUMABLE_OK);
  /* Checkpoints after every few body bytes (bit 6), or the defaults (64 MiB, 1 s: never here). */
  FUZZ_CHECK(resumable_server_set_checkpoint(c->srv, (config & 64) ? 16 : (uint64_t)64 << 20,
                                             (config & 64) ? 0 : 1000) == RESUMABLE_OK);
}

/* A clean restart on the same storage keeps every partial (held, total) and complete file. */
static void restart(fuzz_ctx *c, uint8_t config)
{
  key_state before[MAX_KEYS], after[MAX_KEYS];
  snapshot(c, before);
  resumable_server_free(c->srv);
  open_server(c, config);
  snapshot(c, after);
  if (trace)
    fprintf(stderr, "RESTART\n");
  FUZZ_CHECK(memcmp(before, after, c->nkeys * sizeof *before) == 0);
  check_state(c, 1);
}

static int mtime_of(void *arg, const char *key, int64_t mtime)
{
  (void)key;
  *(int64_t *)arg = mtime;
  return 1;
}

/* A sweep with max age 0 removes every partial but the one a paused exchange is using; with a
 * huge age it removes nothing. Complete files are never touched (server.h). Ages are whole
 * seconds of a clock that may lag the file times by a tick, so a partial written in the current
 * second may survive a sweep with age 0 (unchanged). */
static void sweep(fuzz_ctx *c, uint8_t op, const live *paused)
{
  key_state before[MAX_KEYS], after[MAX_KEYS];
  size_t removed = 99, gone = 0;
  int all = op & 1;
  /* only an exchange still reading its body holds its key; a decided one holds nothing */
  const char *busy = paused->ex != NULL && !paused->decided ? paused->q.key : "";
  int64_t t0 = (int64_t)time(NULL);

  snapshot(c, before);
  FUZZ_CHECK(resumable_server_sweep(c->srv, all ? 0 : 1000000000u, &removed) == RESUMABLE_OK);
  snapshot(c, after);
  if (trace)
    fprintf(stderr, "SWEEP %s: %zu removed\n", all ? "all" : "none", removed);
  for (size_t i = 0; i < c->nkeys; i++) {
    const key_state *b = &before[i], *a = &after[i];
    int keep = !all || strcmp(c->keys[i], busy) == 0;
    FUZZ_CHECK(a->complete == b->complete && a->size == b->size && memcmp(a->sha, b->sha, 32) == 0);
    if ((keep || a->partial) && memcmp(a, b, sizeof *a) != 0)
      fprintf(stderr, "sweep changed %s: partial %d->%d held %llu->%llu total %llu->%llu\n",
              c->keys[i], b->partial, a->partial, (unsigned long long)b->held,
              (unsigned long long)a->held, (unsigned long long)b->total,
              (unsigned long long)a->total);
    if (keep || a->partial)
      FUZZ_CHECK(memcmp(a, b, sizeof *a) == 0);
    if (!keep && a->partial) {
      int64_t mtime = -1;
      FUZZ_CHECK(c->ops->partial_scan(c->self, c->keys[i], mtime_of, &mtime) == RESUMABLE_OK);
      FUZZ_CHECK(mtime >= t0); /* too recent for the sweep's clock, not forgotten */
    }
    gone += b->partial && !a->partial;
  }
  FUZZ_CHECK(removed == gone);
  check_state(c, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  reader r = {data, size};
  fuzz_ctx c;
  live paused = {0}, now;
  key_state before[MAX_KEYS];

  trace = getenv("RESUMABLE_FUZZ_TRACE") != NULL;
  memset(&c, 0, sizeof c);
  uint8_t config = rd_u8(&r);
  c.budget = MAX_BODY;
  backend_begin(&c, config);
  open_server(&c, config);
  backend_started(&c);

  for (int i = 0; i < MAX_REQUESTS && r.n > 0; i++) {
    if (r.p[0] >= SWEEP_OP && r.p[0] < RESTART_OP) {
      sweep(&c, rd_u8(&r), &paused);
      continue;
    }
    if (r.p[0] >= RESTART_OP) {
      rd_u8(&r);
      if (paused.ex != NULL)
        finish(&c, &paused, 1, NULL);
      restart(&c, config);
      continue;
    }
    if (!plan_request(&c, &r, &now.q))
      break;
    if (now.q.pause && paused.ex == NULL) {
      paused.q = now.q;
      start(&c, &paused, paused.q.body_len / 2);
      continue;
    }
    /* with a paused exchange on the same key, that key's state is in flux */
    int judge = paused.ex == NULL || strcmp(paused.q.key, now.q.key) != 0;
    if (judge)
      snapshot(&c, before);
    start(&c, &now, now.q.body_len);
    finish(&c, &now, 1, judge ? before : NULL);
    if (paused.ex != NULL)
      finish(&c, &paused, 0, NULL);
  }
  if (paused.ex != NULL)
    finish(&c, &paused, 1, NULL);
  check_state(&c, 1);

  if (backend_keeps_server())
    kept = c.srv;
  else
    resumable_server_free(c.srv);
  backend_end(&c);
  return 0;
}
