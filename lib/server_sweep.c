/* resumable_server_sweep: expire abandoned partial uploads. Candidates come from one scan of
 * the store; each is then taken under its key lock (skipped if an exchange holds the key) and
 * its age checked again there, so an upload that moved since the scan is kept. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resumable/error.h"
#include "server_internal.h"

typedef struct sweep_list {
  char **keys;
  size_t n, cap;
  int64_t cutoff; /* partials with mtime <= cutoff are old enough */
  int nomem;
} sweep_list;

static int collect(void *arg, const char *key, int64_t mtime)
{
  sweep_list *l = arg;
  if (mtime > l->cutoff)
    return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    char **bigger = realloc(l->keys, cap * sizeof(*bigger));
    if (!bigger) {
      l->nomem = 1;
      return 1;
    }
    l->keys = bigger;
    l->cap = cap;
  }
  size_t len = strlen(key);
  char *k = malloc(len + 1);
  if (!k) {
    l->nomem = 1;
    return 1;
  }
  memcpy(k, key, len + 1);
  l->keys[l->n++] = k;
  return 0;
}

typedef struct age_check {
  int64_t cutoff;
  int old;
} age_check;

static int still_old(void *arg, const char *key, int64_t mtime)
{
  age_check *a = arg;
  (void)key;
  a->old = mtime <= a->cutoff;
  return 1;
}

/* Remove `key`'s partial if nobody holds the key and it is still old: 1 removed, 0 kept, or a
 * negative store error. */
static int expire_one(resumable_server *srv, const char *key, int64_t cutoff)
{
  rs_keylock_entry *e = NULL;
  int rc = rs_keylock_acquire_unused(srv->locks, key, &e);
  if (rc == RESUMABLE_E_STATE)
    return 0; /* an exchange is using it */
  if (rc != RESUMABLE_OK)
    return rc;
  pthread_mutex_lock(&e->mu);
  /* Across processes too: only a key nobody holds or waits for (a lease of an idle upload in
   * another process counts as held: its partial is not abandoned). */
  if (srv->ops->key_lock) {
    rc = srv->ops->key_lock(srv->self, key, RESUMABLE_KEY_TRY, &e->owner);
    if (rc == RESUMABLE_E_SUPERSEDED)
      rc = RESUMABLE_OK; /* taken; a fresh owner has nothing stale */
    if (rc != RESUMABLE_OK) {
      if (e->owner)
        srv->ops->key_unlock(srv->self, e->owner);
      pthread_mutex_unlock(&e->mu);
      rs_keylock_release(srv->locks, e);
      return rc == RESUMABLE_E_STATE ? 0 : rc;
    }
  }
  age_check a = {cutoff, 0};
  rc = srv->ops->partial_scan(srv->self, key, still_old, &a);
  if (rc == RESUMABLE_OK && a.old) {
    rc = srv->ops->partial_remove(srv->self, key);
    if (rc == RESUMABLE_OK) {
      rs_server_log(srv, RESUMABLE_LOG_INFO, "sweep /%s: abandoned partial removed", key);
      rc = 1;
    } else if (rc == RESUMABLE_E_NOT_FOUND) {
      rc = 0;
    }
  }
  if (srv->ops->key_unlock && e->owner)
    srv->ops->key_unlock(srv->self, e->owner);
  pthread_mutex_unlock(&e->mu);
  rs_keylock_release(srv->locks, e);
  return rc;
}

int resumable_server_sweep(resumable_server *srv, uint64_t max_age_seconds, size_t *removed)
{
  if (removed)
    *removed = 0;
  if (!srv)
    return RESUMABLE_E_INVALID_ARG;
  if (!srv->ops->partial_scan)
    return RESUMABLE_E_STATE;
  /* Not time(): glibc reads the coarse clock, which can lag the file timestamps it is compared
   * with by a tick, so a partial written "now" would look newer than now. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec;
  if (max_age_seconds > (uint64_t)now)
    return RESUMABLE_OK; /* nothing can be that old */
  sweep_list l = {.cutoff = now - (int64_t)max_age_seconds};
  int rc = srv->ops->partial_scan(srv->self, NULL, collect, &l);
  if (rc == RESUMABLE_OK && l.nomem)
    rc = RESUMABLE_E_NOMEM;
  size_t count = 0;
  for (size_t i = 0; i < l.n; i++) {
    int r = expire_one(srv, l.keys[i], l.cutoff);
    if (r > 0)
      count++;
    else if (r < 0 && rc == RESUMABLE_OK)
      rc = r;
    free(l.keys[i]);
  }
  free(l.keys);
  if (removed)
    *removed = count;
  return rc;
}
