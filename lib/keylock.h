/* Per-key ownership: one entry per key that some exchange is using.
 *
 * The entry's mutex serialises every store call for its key (the store is never called
 * concurrently for one key) and guards the key's open partial and its running SHA-256. A writer
 * takes ownership by bumping `generation`; an older writer sees the change at its next body
 * piece and stops (423). Nobody waits on an idle client: the mutex is held only around store
 * calls, never across body callbacks. */
#ifndef RESUMABLE_KEYLOCK_H
#define RESUMABLE_KEYLOCK_H

#include <pthread.h>
#include <stdint.h>

#include "hash_pipe.h"
#include "resumable/store.h"
#include "sha256.h"

typedef struct rs_keylock_entry {
  pthread_mutex_t mu;
  uint64_t generation;         /* bumped by every PUT/DELETE that takes the key */
  void *handle;                /* the key's open partial, or NULL (state is in the store) */
  resumable_partial_info info; /* with handle: metadata; info.held = bytes written so far */
  uint64_t synced;             /* with handle: info.held at the last partial_sync */
  rs_sha256 sha;               /* with handle: running hash over info.held bytes, once `pipe`
                                 * is drained (hash_pipe.h: bytes may still be queued) */
  rs_hash_pipe pipe;           /* feeds `sha`; bound by the first PUT (exchange_put.c) */
  int provisional;             /* with handle: the bytes past `synced` belong to a request whose
                                 * checksum is not verified yet (tus Upload-Checksum): a newer
                                 * request drops them instead of syncing them */
  uint64_t provisional_total;  /* with provisional: info.total when that request began (an
                                 * Upload-Length it set is undone with its bytes) */
  void *owner;                 /* the store's key owner across processes (key_lock), or NULL */
  /* table bookkeeping, under the table lock */
  char *key;
  size_t refs;
  int closing; /* refs reached 0: the handle is being closed, outside the table
                                 * lock; acquirers of the key wait for the entry to go */
  struct rs_keylock_entry *next;
} rs_keylock_entry;

typedef struct rs_keylock_table rs_keylock_table;

/* Called on an entry's open handle when its last user leaves: not under the table lock (other
 * keys go on), but before any new user of the key gets an entry. */
typedef void (*rs_keylock_close_fn)(void *ctx, void *handle);
/* Called after that (outside the table lock) on the entry's store owner, if it has one. */
typedef void (*rs_keylock_owner_fn)(void *ctx, void *owner);

/* Returns RESUMABLE_OK or RESUMABLE_E_NOMEM. */
int rs_keylock_table_new(rs_keylock_table **out, rs_keylock_close_fn close_fn,
                         rs_keylock_owner_fn owner_fn, void *ctx);
/* No entry may be in use. NULL is a no-op. */
void rs_keylock_table_free(rs_keylock_table *t);

/* The entry for `key` (created if needed), with one more reference; NULL when out of memory. */
rs_keylock_entry *rs_keylock_acquire(rs_keylock_table *t, const char *key);
/* Take `key`'s entry only if nobody else holds it (for housekeeping that must not disturb an
 * exchange). RESUMABLE_OK with one reference in *out, RESUMABLE_E_STATE when the key is in use
 * (nothing taken), RESUMABLE_E_NOMEM. */
int rs_keylock_acquire_unused(rs_keylock_table *t, const char *key, rs_keylock_entry **out);
/* Drop a reference taken by rs_keylock_acquire (not holding e->mu). The last one closes the
 * entry's handle (its bytes must have been synced) and frees the entry; it holds no lock shared
 * with other keys while it calls the store. */
void rs_keylock_release(rs_keylock_table *t, rs_keylock_entry *e);

#endif
