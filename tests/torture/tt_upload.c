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
  unsigned via;   /* the server this run goes through */
  unsigned epoch; /* its epoch when the run began */
  int have_start;
  uint64_t start; /* what the server held when this run began sending */
} attempt;

void tt_kill_locked(tt_run *t, unsigned which, tt_trigger why)
{
  for (unsigned i = 0; i < t->o.servers; i++) {
    tt_serve *s = &t->srv[i];
    if ((i != which && !t->kill_both) || !s->alive)
      continue;
    if (tt_serve_kill(s, SIGKILL) != 0) /* not reaped yet by main: the pid is ours */
      tt_fail(t, "kill(%ld): %s", (long)s->pid, strerror(errno));
    s->alive = 0;
    t->killed |= 1u << i;
  }
  t->fired_by = why;
  t->armed = TT_TRIG_NONE;
  char b = 'k';
  ssize_t w = write(t->wake[1], &b, 1); /* non-blocking; a full pipe already wakes main */
  (void)w;
}

unsigned tt_dead_mask(const tt_run *t)
{
  unsigned m = 0;
  for (unsigned i = 0; i < t->o.servers; i++)
    m |= t->srv[i].alive ? 0 : 1u << i;
  return m;
}

/* mu held: is the run's server still the one it started with? */
static int run_live(const tt_run *t, const attempt *a)
{
  return t->srv[a->via].alive && t->srv[a->via].epoch == a->epoch;
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
  int live = run_live(t, a);
  if (live && p->phase == RESUMABLE_PHASE_SENDING && !t->final_seen && trigger_hit(t, a, p)) {
    if (t->armed == TT_TRIG_FINAL && t->post_ms > 0) {
      /* Let the server get further into its commit: main kills post_ms from now. */
      t->final_seen = 1;
      t->victim = a->via;
      char b = 'f';
      ssize_t w = write(t->wake[1], &b, 1);
      (void)w;
    } else {
      tt_kill_locked(t, a->via, t->armed);
    }
  }
  live = run_live(t, a);
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
static void acknowledge(tt_run *t, tt_key *k, const char *got, const char *body, const attempt *a)
{
  char hex[65];
  tt_hex(k->cur.sha, hex);
  if (got == NULL || strcmp(got, hex) != 0)
    tt_fail(t, "%s v%u: 200 with sha %s, want %s", k->name, k->cur.number, got ? got : "(none)",
            hex);
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
  if (t->armed == TT_TRIG_AFTER_200 && run_live(t, a))
    tt_kill_locked(t, a->via, TT_TRIG_AFTER_200);
}

/* One stager run; *sent gets its wire bytes. */
static int stager_once(const char *url, const tt_version *v, attempt *a, uint64_t *sent, char *msg,
                       size_t cap, char *body, size_t body_cap, char got[65])
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

/* One run of a version through one server: what it sent and got. */
typedef struct run_job {
  attempt a;
  tt_version v;
  char url[sizeof((tt_serve *)0)->base_url + 64];
  int rc;
  long status; /* the legacy PUT's HTTP status (0: none) */
  uint64_t sent;
  char got[65], msg[512], body[4200];
} run_job;

/* mu held: a run of k->cur through server `via` is about to start. */
static void job_begin(tt_run *t, tt_key *k, unsigned via, run_job *j)
{
  memset(j, 0, sizeof *j);
  j->a = (attempt){.t = t, .k = k, .via = via, .epoch = t->srv[via].epoch};
  j->v = k->cur;
  snprintf(j->url, sizeof j->url, "%s%s", t->srv[via].base_url, k->name);
  t->srv[via].running++;
}

/* The transfer (mu not held). */
static void job_send(run_job *j)
{
  char hex[65];
  tt_hex(j->v.sha, hex);
  if (j->v.legacy) {
    j->rc =
        tt_legacy_put(j->url, j->v.path, j->v.size, hex, on_progress, &j->a, &j->sent, &j->status);
    snprintf(j->msg, sizeof j->msg, "whole-file PUT: %s %ld",
             j->rc == RESUMABLE_E_NETWORK ? "transport error, status" : "HTTP", j->status);
    snprintf(j->got, sizeof j->got, "%s", hex); /* tt_legacy_put compared the reply's hash */
  } else {
    j->rc = stager_once(j->url, &j->v, &j->a, &j->sent, j->msg, sizeof j->msg, j->body,
                        sizeof j->body, j->got);
  }
}

static void *twin_main(void *arg)
{
  job_send(arg);
  return NULL;
}

/* mu held: the run ended. 1 answered 200, 0 cut short by a kill, -1 any other failure (a
 * finding, unless it is a twin's: two clients sending one file at once may keep taking the key
 * from each other until one gives up, which is theirs to sort out, not the server's). The same
 * holds for a main run that had a twin and lost the key to it the way the protocol says a
 * superseded request ends: a one-shot whole-file PUT (it does not retry) answered 423, or its
 * connection closed after the 423's linger. */
static int job_end(tt_run *t, tt_key *k, run_job *j, int is_twin, int had_twin)
{
  t->srv[j->a.via].running--;
  t->upload_runs++;
  k->wire_bytes += j->sent;
  t->wire_bytes += j->sent;
  int killed = !run_live(t, &j->a);
  int result = j->rc == RESUMABLE_OK ? 1 : j->rc == RESUMABLE_E_CANCELLED || killed ? 0 : -1;
  char hex[65];
  tt_hex(j->v.sha, hex);
  if (j->rc == RESUMABLE_OK && k->have_cur && k->cur.number == j->v.number)
    acknowledge(t, k, j->got, j->body, &j->a);
  else if (j->rc == RESUMABLE_OK && strcmp(j->got, hex) != 0) /* its twin acknowledged it */
    tt_fail(t, "%s v%u: a twin's 200 carries sha %s, want %s", k->name, j->v.number, j->got, hex);
  int superseded =
      had_twin && j->v.legacy &&
      ((j->rc == RESUMABLE_E_REFUSED && j->status == 423) || j->rc == RESUMABLE_E_NETWORK);
  if (result < 0 && !is_twin && superseded) {
    if (t->o.verbose)
      tt_note(t, "%s v%u: through server %u, superseded by its twin: %s", k->name, j->v.number,
              j->a.via, j->msg);
    result = 0;
  } else if (result < 0 && is_twin) {
    if (t->o.verbose)
      tt_note(t, "%s v%u: twin through server %u gave up: %s: %s", k->name, j->v.number, j->a.via,
              resumable_err_name(j->rc), j->msg);
    result = 0;
  } else if (result < 0) {
    t->upload_failures++;
    tt_fail(t, "%s v%u (%llu bytes, chunk %llu%s) through server %u: %s: %s", k->name, j->v.number,
            (unsigned long long)j->v.size, (unsigned long long)j->v.chunk,
            j->v.legacy ? ", whole-file" : "", j->a.via, resumable_err_name(j->rc), j->msg);
  }
  return result;
}

/* One attempt at k->cur through server `via`; with --servers 2, some attempts (seeded) get a
 * twin: the same version sent at the same time through the other server, as a client that
 * gave up on one server and retried through the other while its first request still ran.
 * mu held on entry and exit. Returns 1 when answered 200, 0 when cut short by a kill, -1 on
 * any other failure. */
static int run_once(tt_run *t, tt_key *k, unsigned via)
{
  static run_job jobs[64][2]; /* one pair per key thread (--files is at most 64) */
  run_job *main_job = &jobs[k->index][0], *twin = &jobs[k->index][1];
  unsigned other = (via + 1) % t->o.servers;
  /* Twins send the rest in one request each (no chunks: chunked twins only steal each other's
   * offsets, a client's own affair). */
  int with_twin = t->o.servers > 1 && tt_range(&k->twin_rng, 0, 3) != 0 && t->srv[other].alive &&
                  (k->cur.chunk == 0 || k->cur.legacy);
  k->cur_started = 1;
  k->via = (int)via;
  job_begin(t, k, via, main_job);
  if (with_twin) {
    k->twin_via = (int)other;
    job_begin(t, k, other, twin);
  }
  pthread_mutex_unlock(&t->mu);
  pthread_t tid;
  if (with_twin && pthread_create(&tid, NULL, twin_main, twin) != 0)
    job_send(twin); /* no thread: one after the other */
  else if (with_twin)
    with_twin = 2;
  job_send(main_job);
  if (with_twin == 2)
    pthread_join(tid, NULL);
  pthread_mutex_lock(&t->mu);
  k->via = k->twin_via = -1;
  k->runs++;
  int result = job_end(t, k, main_job, 0, with_twin != 0);
  if (with_twin) {
    int r2 = job_end(t, k, twin, 1, 1);
    result = result > r2 ? result : r2;
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
    /* Runs alternate between the servers, so resumes cross from one to the other; a dead
     * server's turn goes to a live one, and with none alive the run waits. */
    unsigned via = k->runs % t->o.servers;
    while (tt_dead_mask(t) == (1u << t->o.servers) - 1)
      pthread_cond_wait(&t->cv, &t->mu);
    if (!t->srv[via].alive)
      via = (via + 1) % t->o.servers;
    /* A run that fails for reasons other than a kill is a finding; do not spin on it. */
    failures_in_a_row = run_once(t, k, via) >= 0 ? 0 : failures_in_a_row + 1;
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
