/* An in-memory store for handler unit tests: one key's worth of state per slot, failure
 * injection, and counters. Durable state changes only at partial_sync / partial_commit, like a
 * real store, so tests can tell what a reply promised. */
#ifndef FAKE_STORE_H
#define FAKE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "resumable/store.h"

#define FAKE_SLOTS 8

typedef struct fake_slot {
  char key[128];
  int has_complete;
  uint8_t *cdata;
  size_t clen;
  resumable_complete_info ci;
  int has_partial;
  uint8_t *pdata; /* durable bytes 0..pi.held-1 */
  resumable_partial_info pi;
} fake_slot;

typedef struct fake_store {
  fake_slot slots[FAKE_SLOTS];
  int fail_write;        /* error returned by partial_write (0: none) */
  int fail_sync;         /* error returned by partial_sync */
  int fail_commit;       /* error returned by partial_commit, once */
  int forget_hash_state; /* partial_stat/open give hash_state_len 0 */
  int syncs, commits, reads;
  int open_handles;
} fake_store;

/* A store wrapping `f` (not owned: destroy does nothing). */
resumable_store *fake_store_new(fake_store *f);
/* Free the slots' buffers. */
void fake_store_clear(fake_store *f);
/* The slot for key, or NULL. */
fake_slot *fake_slot_of(fake_store *f, const char *key);
/* Put a complete file in place. */
void fake_put_complete(fake_store *f, const char *key, const void *data, size_t len);

#endif
