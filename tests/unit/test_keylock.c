/* The per-key table calls the store's partial_close outside its table-wide lock: while one key's
 * handle is being closed (a close that blocks), other keys are taken and released freely, and
 * only a new user of that key waits for the close to finish. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "keylock.h"
#include "resumable/error.h"

typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int in_close; /* the close of "a" has begun */
  int go;       /* main lets it finish */
  int closed;   /* it has finished */
  rs_keylock_table *t;
  rs_keylock_entry *e;
  int waiter_saw_closed;
} gate;

static void blocking_close(void *ctx, void *handle)
{
  gate *g = ctx;
  (void)handle;
  pthread_mutex_lock(&g->mu);
  g->in_close = 1;
  pthread_cond_broadcast(&g->cv);
  while (!g->go)
    pthread_cond_wait(&g->cv, &g->mu);
  g->closed = 1;
  pthread_mutex_unlock(&g->mu);
}

static void *releaser(void *arg)
{
  gate *g = arg;
  rs_keylock_release(g->t, g->e); /* last reference: closes the handle */
  return NULL;
}

static void *waiter(void *arg)
{
  gate *g = arg;
  rs_keylock_entry *e = rs_keylock_acquire(g->t, "a");
  pthread_mutex_lock(&g->mu);
  g->waiter_saw_closed = g->closed;
  pthread_mutex_unlock(&g->mu);
  if (e)
    rs_keylock_release(g->t, e);
  return e ? NULL : (void *)1;
}

static void close_runs_outside_the_table_lock(void **state)
{
  (void)state;
  gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  assert_int_equal(rs_keylock_table_new(&g.t, blocking_close, NULL, &g), RESUMABLE_OK);
  g.e = rs_keylock_acquire(g.t, "a");
  assert_non_null(g.e);
  g.e->handle = &g; /* an open partial to close */
  pthread_t rel, wait;
  assert_int_equal(pthread_create(&rel, NULL, releaser, &g), 0);
  pthread_mutex_lock(&g.mu);
  while (!g.in_close)
    pthread_cond_wait(&g.cv, &g.mu);
  pthread_mutex_unlock(&g.mu);

  /* "a" is being closed: other keys are not held up (under a table-wide lock this would hang
   * until the test's timeout). */
  rs_keylock_entry *b = rs_keylock_acquire(g.t, "b");
  assert_non_null(b);
  rs_keylock_release(g.t, b);
  rs_keylock_entry *c = NULL;
  assert_int_equal(rs_keylock_acquire_unused(g.t, "c", &c), RESUMABLE_OK);
  rs_keylock_release(g.t, c);
  /* "a" itself counts as in use until its close is done. */
  rs_keylock_entry *a = NULL;
  assert_int_equal(rs_keylock_acquire_unused(g.t, "a", &a), RESUMABLE_E_STATE);
  assert_null(a);

  /* A new user of "a" gets its entry only after the close has finished. */
  assert_int_equal(pthread_create(&wait, NULL, waiter, &g), 0);
  pthread_mutex_lock(&g.mu);
  g.go = 1;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
  void *wrc = (void *)1;
  assert_int_equal(pthread_join(rel, NULL), 0);
  assert_int_equal(pthread_join(wait, &wrc), 0);
  assert_null(wrc);
  assert_int_equal(g.waiter_saw_closed, 1);

  /* Afterwards "a" is a fresh entry: no handle. */
  a = rs_keylock_acquire(g.t, "a");
  assert_non_null(a);
  assert_null(a->handle);
  rs_keylock_release(g.t, a);
  rs_keylock_table_free(g.t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(close_runs_outside_the_table_lock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
