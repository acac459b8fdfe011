/* Uploader threads: each key's versions one after another, each attempt a fresh stager against
 * the server's current URL (what a user does after the server came back), and the event
 * triggers that SIGKILL the server from inside the stager's progress callback. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <resumable/error.h>
#include <resumable/stager.h>

#include "tt.h"
#include "tt_legacy.h"

typedef struct attempt {
  tt_run *t;
  tt_key *k;
  unsigned epoch;
  int have_start;
  uint64_t start; /* what the server held when this run began sending */
} attempt;

void tt_kill_locked(tt_run *t, tt_trigger why)
{
  if (!t->alive)
    return;
  if (tt_serve_kill(&t->srv, SIGKILL) != 0) /* not reaped yet by main: the pid is ours */
    tt_fail(t, "kill(%ld): %s", (long)t->srv.pid, strerror(errno));
  t->alive = 0;
  t->fired_by = why;
  t->armed = TT_TRIG_NONE;
  char b = 'k';
  ssize_t w = write(t->wake[1], &b, 1); /* non-blocking; a full pipe already wakes main */
  (void)w;
}

/* mu held: does this SENDING report fire the armed trigger? */
static int trigger_hit(tt_run *t, attempt *a, const resumable_progress *p)
{
  if (!a->have_start) {
    a->have_start = 1;
    a->start = p->held;
  }
  if (t->armed == TT_TRIG_PROGRESS && p->total > a->start) {
    uint64_t goal = a->start + (uint64_t)(t->frac * (double)(p->total - a->start));
    return p->position > a->start && p->position >= goal;
  }
  if (t->armed == TT_TRIG_FINAL)
    return p->total > 0 && p->position + t->slack >= p->total;
  return 0;
}

static int on_progress(void *ud, const resumable_progress *p)
{
  attempt *a = ud;
  tt_run *t = a->t;
  if (p->phase == RESUMABLE_PHASE_DONE)
    return 0;
  pthread_mutex_lock(&t->mu);
  int live = t->alive && t->epoch == a->epoch;
  if (live && p->phase == RESUMABLE_PHASE_SENDING && !t->final_seen && trigger_hit(t, a, p)) {
    if (t->armed == TT_TRIG_FINAL && t->post_ms > 0) {
      /* Let the server get further into its commit: main kills post_ms from now. */
      t->final_seen = 1;
      char b = 'f';
      ssize_t w = write(t->wake[1], &b, 1);
      (void)w;
    } else {
      tt_kill_locked(t, t->armed);
    }
  }
  live = t->alive && t->epoch == a->epoch;
  pthread_mutex_unlock(&t->mu);
  return live ? 0 : 1; /* the server is gone: stop this run, the next one gets the new URL */
}

static int configure(resumable_stager *s, const tt_version *v, attempt *a)
{
  char hex[65];
  tt_hex(v->sha, hex);
  int rc = resumable_stager_set_sha256(s, hex);
  if (rc == RESUMABLE_OK)
    rc = resumable_stager_set_chunk_size(s, v->chunk);
  if (rc == RESUMABLE_OK)
    rc = resumable_stager_set_backoff_ms(s, 5, 100);
  if (rc == RESUMABLE_OK)
    rc = resumable_stager_set_time_budget_ms(s, 120000);
  if (rc == RESUMABLE_OK)
    rc = resumable_stager_set_connect_timeout_ms(s, 5000);
  if (rc == RESUMABLE_OK)
    rc = resumable_stager_set_progress(s, on_progress, a);
  return rc;
}

/* mu held: the current version was answered 200 with `got` as its hash. */
static void acknowledge(tt_run *t, tt_key *k, const char *got, const char *body,
                        unsigned epoch)
{
  char hex[65];
  tt_hex(k->cur.sha, hex);
  if (got == NULL || strcmp(got, hex) != 0)
    tt_fail(t, "%s v%u: 200 with sha %s, want %s", k->name, k->cur.number,
            got ? got : "(none)", hex);
  if (body[0] != '\0' && strstr(body, hex) == NULL)
    tt_fail(t, "%s v%u: final reply lacks the hash: %s", k->name, k->cur.number, body);
  if (k->have_acked)
    (void)unlink(k->acked.path);
  k->acked = k->cur;
  k->have_acked = 1;
  k->have_cur = 0;
  k->cur_started = 0;
  k->versions_done++;
  k->bytes_acked += k->acked.size;
  t->uploads_acked++;
  t->bytes_acked += k->acked.size;
  if (t->armed == TT_TRIG_AFTER_200 && t->alive && t->epoch == epoch)
    tt_kill_locked(t, TT_TRIG_AFTER_200);
}

/* One stager run; *sent gets its wire bytes. */
static int stager_once(const char *url, const tt_version *v, attempt *a, uint64_t *sent,
                       char *msg, size_t cap, char *body, size_t body_cap, char got[65])
{
  resumable_stager *s = NULL;
  int rc = resumable_stager_new(&s, url, v->path);
  if (rc == RESUMABLE_OK)
    rc = configure(s, v, a);
  if (rc == RESUMABLE_OK)
    rc = resumable_stager_run(s);
  *sent = resumable_stager_wire_bytes(s);
  const char *sha = resumable_stager_sha256(s);
  snprintf(got, 65, "%s", sha != NULL ? sha : "");
  snprintf(msg, cap, "%s", s != NULL ? resumable_stager_message(s) : "");
  /* Already there: nothing was sent and the last reply is a HEAD's. */
  snprintf(body, body_cap, "%s",
           s != NULL && !resumable_stager_already_there(s) ? resumable_stager_response_body(s)
                                                           : "");
  resumable_stager_free(s);
  return rc;
}

/* One attempt at k->cur against the current server. mu held on entry and exit.
 * Returns 1 when answered 200, 0 when cut short by a kill, -1 on any other failure. */
static int run_once(tt_run *t, tt_key *k)
{
  attempt a = {.t = t, .k = k, .epoch = t->epoch};
  char url[sizeof t->srv.base_url + sizeof k->name], hex[65], got[65], msg[512], body[4200];
  snprintf(url, sizeof url, "%s%s", t->srv.base_url, k->name);
  k->cur_started = 1;
  t->running++;
  tt_version v = k->cur;
  pthread_mutex_unlock(&t->mu);
  uint64_t sent = 0;
  tt_hex(v.sha, hex);
  int rc;
  if (v.legacy) {
    rc = tt_legacy_put(url, v.path, v.size, hex, on_progress, &a, &sent);
    snprintf(msg, sizeof msg, "whole-file PUT");
    snprintf(got, sizeof got, "%s", hex); /* tt_legacy_put compared the reply's hash */
    body[0] = '\0';
  } else {
    rc = stager_once(url, &v, &a, &sent, msg, sizeof msg, body, sizeof body, got);
  }
  pthread_mutex_lock(&t->mu);
  t->running--;
  t->upload_runs++;
  k->runs++;
  k->wire_bytes += sent;
  t->wire_bytes += sent;
  int killed = !t->alive || t->epoch != a.epoch;
  int result = rc == RESUMABLE_OK ? 1 : rc == RESUMABLE_E_CANCELLED || killed ? 0 : -1;
  if (rc == RESUMABLE_OK)
    acknowledge(t, k, got, body, a.epoch);
  if (result < 0) {
    t->upload_failures++;
    tt_fail(t, "%s v%u (%llu bytes, chunk %llu%s): %s: %s", k->name, v.number,
            (unsigned long long)v.size, (unsigned long long)v.chunk,
            v.legacy ? ", whole-file" : "", resumable_err_name(rc), msg);
  }
  pthread_cond_broadcast(&t->cv);
  return result;
}

/* mu held. 0 with k->cur set, or -1 when this key is done (or its file cannot be made). */
static int next_version(tt_run *t, tt_key *k)
{
  if (k->have_cur)
    return 0;
  if (t->no_new_versions && k->versions_done >= t->o.min_versions)
    return -1;
  tt_version v;
  const tt_version *prev = k->have_acked ? &k->acked : NULL;
  pthread_mutex_unlock(&t->mu);
  int rc = tt_version_make(t->o.seed, k->index, prev, t->o.size, t->src, &v);
  int err = errno;
  pthread_mutex_lock(&t->mu);
  if (rc != 0) {
    t->upload_failures++;
    tt_fail(t, "cannot write %s: %s", v.path, strerror(err));
    return -1;
  }
  k->cur = v;
  k->have_cur = 1;
  k->cur_started = 0;
  k->cur_seen_placed = 0;
  return 0;
}

static void *uploader(void *arg)
{
  tt_key *k = arg;
  tt_run *t = k->run;
  pthread_mutex_lock(&t->mu);
  unsigned failures_in_a_row = 0;
  while (next_version(t, k) == 0) {
    while (!t->alive)
      pthread_cond_wait(&t->cv, &t->mu);
    /* A run that fails for reasons other than a kill is a finding; do not spin on it. */
    failures_in_a_row = run_once(t, k) >= 0 ? 0 : failures_in_a_row + 1;
    if (failures_in_a_row >= 3) {
      t->upload_failures++;
      tt_fail(t, "%s: giving up after 3 failed runs in a row", k->name);
      break;
    }
  }
  k->finished = 1;
  t->threads_done++;
  char b = 't';
  ssize_t w = write(t->wake[1], &b, 1);
  (void)w;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

int tt_uploaders_start(tt_run *t, pthread_t *ids, unsigned *started)
{
  *started = 0;
  for (unsigned i = 0; i < t->o.files; i++) {
    if (pthread_create(&ids[i], NULL, uploader, &t->keys[i]) != 0)
      return -1;
    *started = i + 1;
  }
  return 0;
}
