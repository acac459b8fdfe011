/* Per-key ownership table: a mutex-protected hash map of reference-counted entries. */
#include "keylock.h"

#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"

#define RS_KEYLOCK_BUCKETS 256u

struct rs_keylock_table {
  pthread_mutex_t mu;
  pthread_cond_t closed; /* an entry left the table after its handle was closed */
  rs_keylock_close_fn close_fn;
  rs_keylock_owner_fn owner_fn;
  void *ctx;
  rs_keylock_entry *buckets[RS_KEYLOCK_BUCKETS];
};

/* FNV-1a: keys are short and the table small; spread is all we need. */
static size_t bucket_of(const char *key)
{
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    h ^= *p;
    h *= 16777619u;
  }
  return h % RS_KEYLOCK_BUCKETS;
}

int rs_keylock_table_new(rs_keylock_table **out, rs_keylock_close_fn close_fn,
                         rs_keylock_owner_fn owner_fn, void *ctx)
{
  rs_keylock_table *t = calloc(1, sizeof(*t));
  if (!t)
    return RESUMABLE_E_NOMEM;
  if (pthread_mutex_init(&t->mu, NULL) != 0) {
    free(t);
    return RESUMABLE_E_NOMEM;
  }
  if (pthread_cond_init(&t->closed, NULL) != 0) {
    pthread_mutex_destroy(&t->mu);
    free(t);
    return RESUMABLE_E_NOMEM;
  }
  t->close_fn = close_fn;
  t->owner_fn = owner_fn;
  t->ctx = ctx;
  *out = t;
  return RESUMABLE_OK;
}

static void entry_free(rs_keylock_entry *e)
{
  rs_hash_pipe_fini(&e->pipe); /* nobody uses the entry: whatever is still queued is moot */
  pthread_mutex_destroy(&e->mu);
  rs_sha256_free(&e->sha);
  free(e->key);
  free(e);
}

void rs_keylock_table_free(rs_keylock_table *t)
{
  if (!t)
    return;
  for (size_t i = 0; i < RS_KEYLOCK_BUCKETS; i++) {
    while (t->buckets[i]) { /* only if a caller leaked a reference */
      rs_keylock_entry *e = t->buckets[i];
      t->buckets[i] = e->next;
      if (e->handle && t->close_fn)
        t->close_fn(t->ctx, e->handle);
      if (e->owner && t->owner_fn)
        t->owner_fn(t->ctx, e->owner);
      entry_free(e);
    }
  }
  pthread_cond_destroy(&t->closed);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

static rs_keylock_entry *entry_new(const char *key)
{
  rs_keylock_entry *e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  size_t n = strlen(key);
  e->key = malloc(n + 1);
  if (!e->key || pthread_mutex_init(&e->mu, NULL) != 0) {
    free(e->key);
    free(e);
    return NULL;
  }
  memcpy(e->key, key, n + 1);
  rs_sha256_init(&e->sha);
  return e;
}

/* The entry for `key` in bucket b, or NULL. Under t->mu. */
static rs_keylock_entry *find(rs_keylock_table *t, size_t b, const char *key)
{
  rs_keylock_entry *e = t->buckets[b];
  while (e && strcmp(e->key, key) != 0)
    e = e->next;
  return e;
}

rs_keylock_entry *rs_keylock_acquire(rs_keylock_table *t, const char *key)
{
  size_t b = bucket_of(key);
  pthread_mutex_lock(&t->mu);
  rs_keylock_entry *e;
  /* A key's last user is closing its handle: wait for that entry to go (only this key waits). */
  while ((e = find(t, b, key)) != NULL && e->closing)
    pthread_cond_wait(&t->closed, &t->mu);
  if (!e) {
    e = entry_new(key);
    if (e) {
      e->next = t->buckets[b];
      t->buckets[b] = e;
    }
  }
  if (e)
    e->refs++;
  pthread_mutex_unlock(&t->mu);
  return e;
}

int rs_keylock_acquire_unused(rs_keylock_table *t, const char *key, rs_keylock_entry **out)
{
  size_t b = bucket_of(key);
  int rc = RESUMABLE_OK;
  *out = NULL;
  pthread_mutex_lock(&t->mu);
  rs_keylock_entry *e = find(t, b, key);
  if (e) {
    rc = RESUMABLE_E_STATE; /* an entry exists only while someone holds it (or closes it) */
  } else if ((e = entry_new(key)) == NULL) {
    rc = RESUMABLE_E_NOMEM;
  } else {
    e->next = t->buckets[b];
    t->buckets[b] = e;
    e->refs = 1;
    *out = e;
  }
  pthread_mutex_unlock(&t->mu);
  return rc;
}

void rs_keylock_release(rs_keylock_table *t, rs_keylock_entry *e)
{
  if (!e)
    return;
  pthread_mutex_lock(&t->mu);
  if (--e->refs > 0) {
    pthread_mutex_unlock(&t->mu);
    return;
  }
  /* The handle is closed outside the table lock (no store op runs under a lock shared by all
   * keys), while the entry stays in the table marked closing, so that a new user of the key
   * waits for the close instead of using the store beside it. */
  e->closing = 1;
  pthread_mutex_unlock(&t->mu);
  if (e->handle && t->close_fn)
    t->close_fn(t->ctx, e->handle);
  pthread_mutex_lock(&t->mu);
  rs_keylock_entry **pp = &t->buckets[bucket_of(e->key)];
  while (*pp != e)
    pp = &(*pp)->next;
  *pp = e->next;
  pthread_cond_broadcast(&t->closed);
  pthread_mutex_unlock(&t->mu);
  /* The key's owner goes after the handle (which flushes and unlocks the data); outside the
   * table lock, since it may wait for storage (on NFS, a round trip or two). A new entry for
   * the key meanwhile makes a new owner, which waits for this one to let go. */
  if (e->owner && t->owner_fn)
    t->owner_fn(t->ctx, e->owner);
  entry_free(e);
}
