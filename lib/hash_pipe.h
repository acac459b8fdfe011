/* Hashing off the receive path: a server-wide pool of hash threads fed through bounded queues.
 *
 * A *pipe* feeds one running SHA-256 (a key's partial, or a whole-file upload's staging hash).
 * Its owner copies body bytes into fixed-size buffers (small pieces coalesce) and queues full
 * ones; a pool thread hashes them in order. Memory is bounded twice: a pipe holds at most
 * `per_pipe` buffers (the one being filled included), the pool at most `total`. When no buffer
 * can be had the owner waits for one of its own queued buffers to be hashed (backpressure), or,
 * when it has none in flight (the other pipes hold them all), hashes the bytes itself: an owner
 * never waits on another pipe's owner, so a stalled connection cannot stall the rest. An owner
 * that would wait while no pool thread has started on its queue (they are all busy, or not
 * scheduled) hashes its oldest queued buffer itself instead, so a saturated pool degrades to
 * inline hashing rather than to waiting.
 *
 * The running hash belongs to the pool while bytes are queued: its owner must call
 * rs_hash_pipe_drain (every byte hashed) or rs_hash_pipe_discard (queued bytes dropped) before
 * reading, exporting or resetting it. Calls on one pipe are serialised by its owner (the key's
 * entry mutex, or the exchange's one thread). A pipe of a NULL pool hashes inline: the behaviour
 * without threads.
 *
 * A *tee* is a second running SHA-256 fed the same bytes in the same pass (rs_sha256_update2):
 * one request's digest (Content-Digest, tus Upload-Checksum) riding on the key's pipe, so its
 * bytes are copied once and hashed by one pool pass that costs little more than one hash. It
 * covers exactly the bytes given between rs_hash_pipe_tee and rs_hash_pipe_untee. The same rule
 * holds for it: it belongs to the pool while bytes are queued; rs_hash_pipe_untee drains before
 * handing it back. rs_hash_pipe_discard (and fini) detach it along with the bytes they drop: it
 * then misses bytes, and rs_hash_pipe_untee says so (0) rather than let it be read as whole.
 * Tee and untee are owner calls, serialised like the rest. */
#ifndef RESUMABLE_HASH_PIPE_H
#define RESUMABLE_HASH_PIPE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

typedef struct rs_hash_pool rs_hash_pool;
typedef struct rs_hash_buf rs_hash_buf;

typedef struct rs_hash_pipe {
  rs_hash_pool *pool; /* NULL: hash inline */
  rs_sha256 *sha;
  rs_sha256 *tee; /* fed the same bytes as sha (rs_hash_pipe_tee), or NULL */
  int bound;
  rs_hash_buf *fill; /* owner side: the buffer being filled, or NULL */
  /* under the pool mutex */
  pthread_cond_t cv;        /* signalled when one of this pipe's buffers has been hashed */
  rs_hash_buf *head, *tail; /* queued, oldest first */
  unsigned nbufs;           /* buffers held: fill + queued + being hashed */
  unsigned peak;            /* most buffers ever held (tests) */
  int busy;                 /* a pool thread is hashing this pipe's head */
  int in_run;               /* on the pool's run list */
  struct rs_hash_pipe *run_next;
} rs_hash_pipe;

/* Defaults used by the server: 1 MiB buffers, 4 per pipe, 8 per hash thread in all. */
#define RS_HASH_BUF_SIZE ((size_t)1 << 20)
#define RS_HASH_PER_PIPE 4u
#define RS_HASH_PER_THREAD 8u

/* Start `threads` (>= 1) hash threads, with every signal blocked in them. Returns
 * RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (a zero argument, total < per_pipe) or
 * RESUMABLE_E_NOMEM (allocation or thread creation failed; nothing is left running). */
int rs_hash_pool_new(rs_hash_pool **out, unsigned threads, size_t buf_size, unsigned per_pipe,
                     unsigned total);
/* Stop and join the threads, free the buffers. Every pipe must have been finished. NULL ok. */
void rs_hash_pool_free(rs_hash_pool *pool);

typedef struct rs_hash_pool_stats {
  unsigned threads;
  unsigned in_use;    /* buffers held by pipes now */
  unsigned peak;      /* most ever held at once */
  unsigned allocated; /* buffers allocated (in use + kept for reuse) */
} rs_hash_pool_stats;
void rs_hash_pool_stats_get(rs_hash_pool *pool, rs_hash_pool_stats *out);

/* Bind a zeroed (or finished) pipe to `pool` (NULL: inline) and the hash it feeds. Returns
 * RESUMABLE_OK, or RESUMABLE_E_NOMEM (the pipe then hashes inline: still correct). */
int rs_hash_pipe_bind(rs_hash_pipe *p, rs_hash_pool *pool, rs_sha256 *sha);
/* Hash `len` more bytes (copied; the caller's buffer is free on return). Never fails. */
void rs_hash_pipe_update(rs_hash_pipe *p, const void *data, size_t len);
/* Return when every byte given has been hashed into *sha; the pipe then holds no buffer. */
void rs_hash_pipe_drain(rs_hash_pipe *p);
/* Drop bytes not yet hashed and return when no thread touches *sha (nor the tee, which is
 * detached); the hash is then meaningless until the owner resets it. The pipe then holds no
 * buffer. */
void rs_hash_pipe_discard(rs_hash_pipe *p);
/* From now on also hash every byte given into *tee (any state: it need not be at the same
 * length as *sha), until rs_hash_pipe_untee. Bytes given before are drained first, so they stay
 * out of it. p must be bound. Returns 0, or -1 when p has a tee already (nothing changes: the
 * caller hashes *tee itself). */
int rs_hash_pipe_tee(rs_hash_pipe *p, rs_sha256 *tee);
/* Hand *tee back to its owner. Returns 1 when it is still attached (after draining: it then
 * holds every byte given since rs_hash_pipe_tee), 0 when a discard or fini detached it (or
 * another tee is attached): bytes are missing from it, and p is left untouched. An unbound or
 * zeroed pipe: 0. */
int rs_hash_pipe_untee(rs_hash_pipe *p, const rs_sha256 *tee);
/* Discard, and release the pipe (it may be bound again). An unbound pipe is a no-op. */
void rs_hash_pipe_fini(rs_hash_pipe *p);

#endif
