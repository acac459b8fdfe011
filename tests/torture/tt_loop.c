/* The main thread's loop: arm a kill, wait for it (poll() on the wake pipe with the seeded
 * timeout), SIGKILL, let the uploaders of the dead server(s) park, check the root, restart,
 * check again. With --servers 2 a kill takes down one server (the other keeps serving, and
 * uploads move to it) or, planned from the seed, both. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tt.h"
#include "tt_loop.h"

static const char *const trig_names[TT_TRIG_COUNT] = {"none", "timed", "progress", "final-bytes",
                                                      "after-200"};

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mu held: choose the next kill from the plan's stream; returns how long main waits. */
static unsigned arm(tt_run *t, tt_rng *plan)
{
  unsigned c = (unsigned)tt_range(plan, 0, 99);
  t->armed = c < 25   ? TT_TRIG_TIMED
             : c < 55 ? TT_TRIG_PROGRESS
             : c < 85 ? TT_TRIG_FINAL
                      : TT_TRIG_AFTER_200;
  t->frac = (double)tt_range(plan, 5, 95) / 100.0;
  t->slack = tt_range(plan, 0, 1) ? 0 : tt_range(plan, 1, 256 * 1024);
  t->post_ms = tt_range(plan, 0, 1) ? 0 : (unsigned)tt_range(plan, 1, 80);
  t->final_seen = 0;
  unsigned delay = (unsigned)tt_range(plan, 0, t->o.max_delay_ms);
  t->killed = 0;
  t->kill_both = 0;
  t->victim = 0;
  if (t->o.servers > 1) { /* drawn only then: single-server plans replay as before */
    t->kill_both = tt_range(plan, 0, 2) == 2;
    t->victim = (unsigned)tt_range(plan, 0, t->o.servers - 1);
  }
  return t->armed == TT_TRIG_TIMED ? delay : t->o.fallback_ms;
}

/* Wait until the server is killed by an uploader, every uploader ended, or timeout_ms passed;
 * a delayed final-bytes event kills post_ms after it came. poll() on the wake pipe is the only
 * blocking point. mu held on entry and exit. */
static void wait_for_kill(tt_run *t, unsigned timeout_ms)
{
  int64_t deadline = now_ms() + timeout_ms;
  int post = 0;
  while (t->killed == 0 && t->threads_done < t->o.files) {
    if (t->final_seen && !post) { /* an upload's last bytes are out: kill a bit later */
      post = 1;
      deadline = now_ms() + t->post_ms;
    }
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      if (post)
        tt_kill_locked(t, t->victim, TT_TRIG_FINAL);
      break;
    }
    pthread_mutex_unlock(&t->mu);
    struct pollfd p = {.fd = t->wake[0], .events = POLLIN};
    if (poll(&p, 1, (int)left) > 0) {
      char buf[64];
      while (read(t->wake[0], buf, sizeof buf) > 0) {
      }
    }
    pthread_mutex_lock(&t->mu);
  }
}

/* The child must have died from our SIGKILL, never on its own. */
static void reap_killed(tt_run *t, tt_stats *st, unsigned i)
{
  t->srv[i].last_pid = t->srv[i].pid;
  int ws = tt_serve_reap(&t->srv[i]);
  if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL) {
    st->bad_exits++;
    tt_fail(t, "server %u ended by itself (wait status %#x) before our SIGKILL", i, (unsigned)ws);
  }
}

/* mu held, the servers in `dead` reaped, their uploaders parked: check, restart them, check,
 * release. 0 or -1. */
static int restart(tt_run *t, tt_stats *st, unsigned dead)
{
  tt_check_root(t, &st->checks);
  for (unsigned i = 0; i < t->o.servers; i++) {
    if (!(dead & (1u << i)))
      continue;
    if (tt_serve_start(&t->srv[i], (int)t->o.ready_ms) != 0) {
      st->restart_failures++;
      tt_fail(t, "server %u did not restart on %s (see %s/serve.log)", i, t->root, t->work);
      return -1;
    }
  }
  tt_check_restarted(t, dead, &st->checks);
  for (unsigned i = 0; i < t->o.servers; i++) {
    if (dead & (1u << i)) {
      t->srv[i].epoch++;
      t->srv[i].alive = 1;
    }
  }
  pthread_cond_broadcast(&t->cv);
  return 0;
}

/* Uploader runs still going through the servers in `mask`. */
static unsigned running_through(const tt_run *t, unsigned mask)
{
  unsigned n = 0;
  for (unsigned i = 0; i < t->o.servers; i++)
    n += (mask & (1u << i)) ? t->srv[i].running : 0;
  return n;
}

/* One kill. mu held. 0, or -1 when the run cannot go on. */
static int one_kill(tt_run *t, tt_rng *plan, tt_stats *st)
{
  unsigned timeout = arm(t, plan);
  tt_trigger planned = t->armed;
  wait_for_kill(t, timeout);
  if (t->killed == 0) /* the delay ran out (or the armed event never came) */
    tt_kill_locked(t, t->victim, TT_TRIG_TIMED);
  tt_trigger why = t->fired_by;
  if (planned != TT_TRIG_TIMED && why == TT_TRIG_TIMED)
    st->fallbacks++;
  st->by_trigger[why]++;
  unsigned dead = tt_dead_mask(t);
  while (running_through(t, dead) > 0)
    pthread_cond_wait(&t->cv, &t->mu);
  for (unsigned i = 0; i < t->o.servers; i++)
    if (dead & (1u << i))
      reap_killed(t, st, i);
  tt_commit_evidence e = {0};
  tt_classify_kill(t, &e);
  e.after_200 = why == TT_TRIG_AFTER_200;
  int in_commit = e.landed + e.renamed + e.unacked + e.after_200 > 0;
  st->kills++;
  st->both_kills += dead == (1u << t->o.servers) - 1 && t->o.servers > 1;
  st->commit_kills += in_commit;
  st->ev.landed += e.landed;
  st->ev.renamed += e.renamed;
  st->ev.unacked += e.unacked;
  st->ev.after_200 += e.after_200;
  st->ev.staged += e.staged;
  tt_note(t,
          "kill %u: %s%s, server mask %#x (all bytes landed %u, renamed before meta removed "
          "%u, committed unacked %u, right after 200 %u; tmp files left %u)",
          st->kills, trig_names[why], planned != why ? " (fallback)" : "", dead, e.landed,
          e.renamed, e.unacked, e.after_200, e.staged);
  if (st->kills >= t->o.iterations)
    t->no_new_versions = 1;
  return restart(t, st, dead);
}

int tt_kill_loop(tt_run *t, tt_stats *st)
{
  tt_rng plan = tt_derive(t->o.seed, 0, 0);
  int rc = 0;
  pthread_mutex_lock(&t->mu);
  while (rc == 0 && st->kills < t->o.iterations && t->threads_done < t->o.files)
    rc = one_kill(t, &plan, st);
  t->no_new_versions = 1;
  t->armed = TT_TRIG_NONE;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
  return rc;
}

int tt_final_checks(tt_run *t, tt_stats *st)
{
  pthread_mutex_lock(&t->mu);
  /* One more kill and restart with everything finished: the restart must sweep what is left. */
  t->kill_both = 1;
  tt_kill_locked(t, 0, TT_TRIG_NONE);
  unsigned all = (1u << t->o.servers) - 1;
  for (unsigned i = 0; i < t->o.servers; i++)
    reap_killed(t, st, i);
  int rc = restart(t, st, all);
  if (rc == 0)
    tt_check_no_partials(t, &st->checks);
  for (unsigned i = 0; i < t->o.files; i++) {
    tt_key *k = &t->keys[i];
    if (!k->have_acked || k->have_cur || k->versions_done < t->o.min_versions) {
      st->unfinished++;
      tt_fail(t, "%s: %u versions acknowledged, one still pending: %d", k->name, k->versions_done,
              k->have_cur);
    }
  }
  pthread_mutex_unlock(&t->mu);
  for (unsigned i = 0; rc == 0 && i < t->o.servers; i++) {
    if (tt_serve_kill(&t->srv[i], SIGTERM) != 0)
      continue;
    int ws = tt_serve_reap(&t->srv[i]);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
      st->bad_exits++;
      tt_fail(t, "server %u did not stop cleanly on SIGTERM (wait status %#x)", i, (unsigned)ws);
    }
  }
  return rc;
}
