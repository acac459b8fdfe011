/* The main thread's loop: arm a kill, wait for it (poll() on the wake pipe with the seeded
 * timeout), SIGKILL, let the uploaders park, check the dead root, restart, check again. */
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
  t->armed = c < 25 ? TT_TRIG_TIMED : c < 55 ? TT_TRIG_PROGRESS : c < 85 ? TT_TRIG_FINAL
                                                                         : TT_TRIG_AFTER_200;
  t->frac = (double)tt_range(plan, 5, 95) / 100.0;
  t->slack = tt_range(plan, 0, 1) ? 0 : tt_range(plan, 1, 256 * 1024);
  t->post_ms = tt_range(plan, 0, 1) ? 0 : (unsigned)tt_range(plan, 1, 80);
  t->final_seen = 0;
  unsigned delay = (unsigned)tt_range(plan, 0, t->o.max_delay_ms);
  return t->armed == TT_TRIG_TIMED ? delay : t->o.fallback_ms;
}

/* Wait until the server is killed by an uploader, every uploader ended, or timeout_ms passed;
 * a delayed final-bytes event kills post_ms after it came. poll() on the wake pipe is the only
 * blocking point. mu held on entry and exit. */
static void wait_for_kill(tt_run *t, unsigned timeout_ms)
{
  int64_t deadline = now_ms() + timeout_ms;
  int post = 0;
  while (t->alive && t->threads_done < t->o.files) {
    if (t->final_seen && !post) { /* an upload's last bytes are out: kill a bit later */
      post = 1;
      deadline = now_ms() + t->post_ms;
    }
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      if (post)
        tt_kill_locked(t, TT_TRIG_FINAL);
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
static void reap_killed(tt_run *t, tt_stats *st)
{
  int ws = tt_serve_reap(&t->srv);
  if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL) {
    st->bad_exits++;
    tt_fail(t, "server ended by itself (wait status %#x) before our SIGKILL", (unsigned)ws);
  }
}

/* mu held, server reaped, uploaders parked: check, restart, check, release. 0 or -1. */
static int restart(tt_run *t, tt_stats *st)
{
  tt_check_root(t, &st->checks);
  if (tt_serve_start(&t->srv, (int)t->o.ready_ms) != 0) {
    st->restart_failures++;
    tt_fail(t, "server did not restart on %s (see %s/serve.log)", t->root, t->work);
    return -1;
  }
  tt_check_restarted(t, &st->checks);
  t->epoch++;
  t->alive = 1;
  pthread_cond_broadcast(&t->cv);
  return 0;
}

/* One kill. mu held. 0, or -1 when the run cannot go on. */
static int one_kill(tt_run *t, tt_rng *plan, tt_stats *st)
{
  unsigned timeout = arm(t, plan);
  tt_trigger planned = t->armed;
  wait_for_kill(t, timeout);
  if (t->alive)
    tt_kill_locked(t, TT_TRIG_TIMED); /* the delay ran out (or the armed event never came) */
  tt_trigger why = t->fired_by;
  if (planned != TT_TRIG_TIMED && why == TT_TRIG_TIMED)
    st->fallbacks++;
  st->by_trigger[why]++;
  while (t->running > 0)
    pthread_cond_wait(&t->cv, &t->mu);
  reap_killed(t, st);
  tt_commit_evidence e = {0};
  tt_classify_kill(t, &e);
  e.after_200 = why == TT_TRIG_AFTER_200;
  int in_commit = e.landed + e.renamed + e.unacked + e.after_200 > 0;
  st->kills++;
  st->commit_kills += in_commit;
  st->ev.landed += e.landed;
  st->ev.renamed += e.renamed;
  st->ev.unacked += e.unacked;
  st->ev.after_200 += e.after_200;
  st->ev.staged += e.staged;
  tt_note(t, "kill %u: %s%s (all bytes landed %u, renamed before meta removed %u, committed "
          "unacked %u, right after 200 %u; tmp files left %u)", st->kills, trig_names[why],
          planned != why ? " (fallback)" : "", e.landed, e.renamed, e.unacked, e.after_200,
          e.staged);
  if (st->kills >= t->o.iterations)
    t->no_new_versions = 1;
  return restart(t, st);
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
  tt_kill_locked(t, TT_TRIG_NONE);
  reap_killed(t, st);
  int rc = restart(t, st);
  if (rc == 0)
    tt_check_no_partials(t, &st->checks);
  for (unsigned i = 0; i < t->o.files; i++) {
    tt_key *k = &t->keys[i];
    if (!k->have_acked || k->have_cur || k->versions_done < t->o.min_versions) {
      st->unfinished++;
      tt_fail(t, "%s: %u versions acknowledged, one still pending: %d", k->name,
              k->versions_done, k->have_cur);
    }
  }
  pthread_mutex_unlock(&t->mu);
  if (rc == 0 && tt_serve_kill(&t->srv, SIGTERM) == 0) {
    int ws = tt_serve_reap(&t->srv);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
      st->bad_exits++;
      tt_fail(t, "server did not stop cleanly on SIGTERM (wait status %#x)", (unsigned)ws);
    }
  }
  return rc;
}
