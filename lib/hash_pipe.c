/* The hash pool and its pipes; see hash_pipe.h. One mutex guards every queue: it is taken a
 * few times per buffer (1 MiB by default), never while hashing. */
#include "hash_pipe.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"

struct rs_hash_buf {
  rs_hash_buf *next;
  size_t len;
  unsigned char data[];
};

struct rs_hash_pool {
  pthread_mutex_t mu;
  pthread_cond_t work; /* a pipe joined the run list, or stop */
  pthread_t *threads;
  unsigned nthreads;
  size_t buf_size;
  unsigned per_pipe, total;
  unsigned in_use, peak, allocated;
  rs_hash_buf *spare;                /* allocated buffers not in use, kept for reuse */
  rs_hash_pipe *run_head, *run_tail; /* pipes with queued buffers and no thread on them */
  int stop;
};

static void run_push(rs_hash_pool *pool, rs_hash_pipe *p)
{
  p->in_run = 1;
  p->run_next = NULL;
  if (pool->run_tail)
    pool->run_tail->run_next = p;
  else
    pool->run_head = p;
  pool->run_tail = p;
}

static rs_hash_pipe *run_pop(rs_hash_pool *pool)
{
  rs_hash_pipe *p = pool->run_head;
  pool->run_head = p->run_next;
  if (!pool->run_head)
    pool->run_tail = NULL;
  p->in_run = 0;
  p->run_next = NULL;
  return p;
}

static void run_remove(rs_hash_pool *pool, rs_hash_pipe *p)
{
  rs_hash_pipe *prev = NULL;
  for (rs_hash_pipe *q = pool->run_head; q; prev = q, q = q->run_next) {
    if (q != p)
      continue;
    if (prev)
      prev->run_next = p->run_next;
    else
      pool->run_head = p->run_next;
    if (pool->run_tail == p)
      pool->run_tail = prev;
    break;
  }
  p->in_run = 0;
  p->run_next = NULL;
}

/* A buffer goes back to the spare list. Under pool->mu. */
static void buf_put(rs_hash_pool *pool, rs_hash_pipe *p, rs_hash_buf *b)
{
  b->next = pool->spare;
  pool->spare = b;
  pool->in_use--;
  p->nbufs--;
}

/* Hash bytes into p's running hash, and into its tee in the same pass. */
static void hash_bytes(rs_sha256 *sha, rs_sha256 *tee, const void *d, size_t len)
{
  if (tee)
    rs_sha256_update2(sha, tee, d, len);
  else
    rs_sha256_update(sha, d, len);
}

/* Hash p's oldest queued buffer on this thread (a pool thread, or p's owner when no pool
 * thread has started on p). Under pool->mu, released while hashing; p must not be busy. */
static void hash_head(rs_hash_pool *pool, rs_hash_pipe *p)
{
  rs_hash_buf *b = p->head;
  p->head = b->next;
  if (!p->head)
    p->tail = NULL;
  if (p->in_run)
    run_remove(pool, p);
  p->busy = 1;
  rs_sha256 *tee = p->tee; /* read under the mutex: tee and untee change it only when idle */
  pthread_mutex_unlock(&pool->mu);
  hash_bytes(p->sha, tee, b->data, b->len);
  pthread_mutex_lock(&pool->mu);
  p->busy = 0;
  buf_put(pool, p, b);
  if (p->head) { /* at the tail: pipes take turns */
    run_push(pool, p);
    pthread_cond_signal(&pool->work);
  }
  pthread_cond_broadcast(&p->cv);
}

static void *worker(void *arg)
{
  rs_hash_pool *pool = arg;
  pthread_mutex_lock(&pool->mu);
  for (;;) {
    while (!pool->run_head && !pool->stop)
      pthread_cond_wait(&pool->work, &pool->mu);
    if (!pool->run_head)
      break; /* stopping, and nothing is left (pipes are drained before the pool goes) */
    hash_head(pool, run_pop(pool));
  }
  pthread_mutex_unlock(&pool->mu);
  return NULL;
}

static void stop_threads(rs_hash_pool *pool, unsigned started)
{
  pthread_mutex_lock(&pool->mu);
  pool->stop = 1;
  pthread_cond_broadcast(&pool->work);
  pthread_mutex_unlock(&pool->mu);
  for (unsigned i = 0; i < started; i++)
    pthread_join(pool->threads[i], NULL);
}

/* Threads inherit the creator's signal mask: block everything so that signals meant for the
 * host (SIGINT, SIGPIPE...) never land on a hash thread. */
static unsigned start_threads(rs_hash_pool *pool)
{
  sigset_t all, old;
  sigfillset(&all);
  int masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
  unsigned i = 0;
  while (i < pool->nthreads && pthread_create(&pool->threads[i], NULL, worker, pool) == 0)
    i++;
  if (masked)
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  return i;
}

int rs_hash_pool_new(rs_hash_pool **out, unsigned threads, size_t buf_size, unsigned per_pipe,
                     unsigned total)
{
  *out = NULL;
  if (threads == 0 || buf_size == 0 || per_pipe == 0 || total < per_pipe)
    return RESUMABLE_E_INVALID_ARG;
  rs_hash_pool *pool = calloc(1, sizeof(*pool));
  if (!pool)
    return RESUMABLE_E_NOMEM;
  pool->threads = calloc(threads, sizeof(pthread_t));
  int mu_ok = pool->threads && pthread_mutex_init(&pool->mu, NULL) == 0;
  int cv_ok = mu_ok && pthread_cond_init(&pool->work, NULL) == 0;
  if (!cv_ok) {
    if (mu_ok)
      pthread_mutex_destroy(&pool->mu);
    free(pool->threads);
    free(pool);
    return RESUMABLE_E_NOMEM;
  }
  pool->nthreads = threads;
  pool->buf_size = buf_size;
  pool->per_pipe = per_pipe;
  pool->total = total;
  unsigned started = start_threads(pool);
  if (started < threads) {
    stop_threads(pool, started);
    pool->nthreads = 0;
    rs_hash_pool_free(pool);
    return RESUMABLE_E_NOMEM;
  }
  *out = pool;
  return RESUMABLE_OK;
}

void rs_hash_pool_free(rs_hash_pool *pool)
{
  if (!pool)
    return;
  if (pool->nthreads)
    stop_threads(pool, pool->nthreads);
  while (pool->spare) {
    rs_hash_buf *b = pool->spare;
    pool->spare = b->next;
    free(b);
  }
  pthread_cond_destroy(&pool->work);
  pthread_mutex_destroy(&pool->mu);
  free(pool->threads);
  free(pool);
}

void rs_hash_pool_stats_get(rs_hash_pool *pool, rs_hash_pool_stats *out)
{
  memset(out, 0, sizeof(*out));
  if (!pool)
    return;
  pthread_mutex_lock(&pool->mu);
  out->threads = pool->nthreads;
  out->in_use = pool->in_use;
  out->peak = pool->peak;
  out->allocated = pool->allocated;
  pthread_mutex_unlock(&pool->mu);
}

int rs_hash_pipe_bind(rs_hash_pipe *p, rs_hash_pool *pool, rs_sha256 *sha)
{
  memset(p, 0, sizeof(*p));
  p->sha = sha;
  p->bound = 1;
  if (pool && pthread_cond_init(&p->cv, NULL) != 0)
    return RESUMABLE_E_NOMEM; /* stays inline */
  p->pool = pool;
  return RESUMABLE_OK;
}

/* Wait until no byte of `p` is being hashed; queued ones are dropped by the caller. */
static void wait_not_busy(rs_hash_pipe *p)
{
  while (p->busy)
    pthread_cond_wait(&p->cv, &p->pool->mu);
}

/* Until no byte of `p` is queued or being hashed: the owner hashes queued buffers itself when
 * no pool thread is on them (all busy elsewhere, or not scheduled yet), else waits. Under
 * pool->mu. */
static void help_until_idle(rs_hash_pipe *p)
{
  while (p->head || p->busy) {
    if (!p->busy)
      hash_head(p->pool, p);
    else
      pthread_cond_wait(&p->cv, &p->pool->mu);
  }
}

/* A buffer for `p` within both bounds, waiting for p's own queue to move if needed; NULL when
 * p has nothing in flight and the pool has nothing to give (or malloc failed). */
static rs_hash_buf *take_buf(rs_hash_pipe *p)
{
  rs_hash_pool *pool = p->pool;
  pthread_mutex_lock(&pool->mu);
  while (p->nbufs >= pool->per_pipe || pool->in_use >= pool->total) {
    if (!p->head && !p->busy) {
      pthread_mutex_unlock(&pool->mu);
      return NULL;
    }
    if (!p->busy)
      hash_head(pool, p); /* no pool thread on it: backpressure would only wait */
    else
      pthread_cond_wait(&p->cv, &pool->mu);
  }
  p->nbufs++;
  if (p->nbufs > p->peak)
    p->peak = p->nbufs;
  if (++pool->in_use > pool->peak)
    pool->peak = pool->in_use;
  rs_hash_buf *b = pool->spare;
  if (b)
    pool->spare = b->next;
  else
    pool->allocated++; /* counted now, allocated below without the lock */
  pthread_mutex_unlock(&pool->mu);
  if (!b && !(b = malloc(sizeof(*b) + pool->buf_size))) {
    pthread_mutex_lock(&pool->mu);
    pool->allocated--;
    pool->in_use--;
    p->nbufs--;
    pthread_mutex_unlock(&pool->mu);
    return NULL;
  }
  b->len = 0;
  b->next = NULL;
  return b;
}

static void submit(rs_hash_pipe *p)
{
  rs_hash_pool *pool = p->pool;
  rs_hash_buf *b = p->fill;
  p->fill = NULL;
  pthread_mutex_lock(&pool->mu);
  if (p->tail)
    p->tail->next = b;
  else
    p->head = b;
  p->tail = b;
  if (!p->busy && !p->in_run) {
    run_push(pool, p);
    pthread_cond_signal(&pool->work);
  }
  pthread_mutex_unlock(&pool->mu);
}

/* Hash on the caller's thread, after whatever is still queued (order matters). */
static void hash_inline(rs_hash_pipe *p, const unsigned char *d, size_t len)
{
  pthread_mutex_lock(&p->pool->mu);
  help_until_idle(p);
  pthread_mutex_unlock(&p->pool->mu);
  hash_bytes(p->sha, p->tee, d, len);
}

void rs_hash_pipe_update(rs_hash_pipe *p, const void *data, size_t len)
{
  const unsigned char *d = data;
  if (!p->pool) {
    hash_bytes(p->sha, p->tee, d, len);
    return;
  }
  size_t size = p->pool->buf_size;
  while (len > 0) {
    if (!p->fill && !(p->fill = take_buf(p))) {
      hash_inline(p, d, len);
      return;
    }
    size_t n = size - p->fill->len < len ? size - p->fill->len : len;
    memcpy(p->fill->data + p->fill->len, d, n);
    p->fill->len += n;
    d += n;
    len -= n;
    if (p->fill->len == size)
      submit(p);
  }
}

static void release_fill(rs_hash_pipe *p)
{
  if (p->fill)
    buf_put(p->pool, p, p->fill);
  p->fill = NULL;
}

void rs_hash_pipe_drain(rs_hash_pipe *p)
{
  if (!p->pool)
    return;
  pthread_mutex_lock(&p->pool->mu);
  help_until_idle(p);
  pthread_mutex_unlock(&p->pool->mu);
  if (!p->fill)
    return;
  /* The last, partly filled buffer: cheaper to hash here than to hand over and wait. */
  hash_bytes(p->sha, p->tee, p->fill->data, p->fill->len);
  pthread_mutex_lock(&p->pool->mu);
  release_fill(p);
  pthread_mutex_unlock(&p->pool->mu);
}

void rs_hash_pipe_discard(rs_hash_pipe *p)
{
  if (!p->pool) {
    p->tee = NULL; /* inline: nothing queued, but the tee misses whatever the owner drops */
    return;
  }
  rs_hash_pool *pool = p->pool;
  pthread_mutex_lock(&pool->mu);
  if (p->in_run)
    run_remove(pool, p);
  while (p->head) {
    rs_hash_buf *b = p->head;
    p->head = b->next;
    buf_put(pool, p, b);
  }
  p->tail = NULL;
  wait_not_busy(p); /* the buffer a thread is hashing now */
  release_fill(p);
  p->tee = NULL; /* it misses the dropped bytes: untee will say so */
  pthread_mutex_unlock(&pool->mu);
}

/* The tee changes only while no byte is queued or being hashed, under the mutex as well, so a
 * pool thread (which reads it under the mutex in hash_head) sees one tee per buffer. */
static void set_tee(rs_hash_pipe *p, rs_sha256 *tee)
{
  if (!p->pool) {
    p->tee = tee;
    return;
  }
  pthread_mutex_lock(&p->pool->mu);
  p->tee = tee;
  pthread_mutex_unlock(&p->pool->mu);
}

int rs_hash_pipe_tee(rs_hash_pipe *p, rs_sha256 *tee)
{
  if (p->tee != NULL || tee == NULL || tee == p->sha)
    return -1;
  rs_hash_pipe_drain(p); /* bytes given before the tee stay out of it */
  set_tee(p, tee);
  return 0;
}

int rs_hash_pipe_untee(rs_hash_pipe *p, const rs_sha256 *tee)
{
  if (!p->bound || tee == NULL || p->tee != tee)
    return 0;
  rs_hash_pipe_drain(p); /* every byte given has reached the tee */
  set_tee(p, NULL);
  return 1;
}

void rs_hash_pipe_fini(rs_hash_pipe *p)
{
  if (!p->bound)
    return;
  rs_hash_pipe_discard(p);
  if (p->pool)
    pthread_cond_destroy(&p->cv);
  memset(p, 0, sizeof(*p));
}
