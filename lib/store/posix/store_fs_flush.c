/* Background flushing of long uploads (see store_fs.h, "store_fs_flush.c").
 *
 * Why: on virtual disks an fsync pays for every byte written since the last one (the host
 * flushes its own cache), about 0.5 s per GiB here, and the commit's fsync used to pay it all
 * while the client waited. A thread that fdatasyncs each upload every RS_FS_FLUSH_WINDOW bytes
 * spreads that cost over the transfer, so the commit only flushes the tail.
 *
 * Errors: the flusher syncs a dup() of the handle's descriptor, which shares the open file
 * description and so its writeback-error cursor: an error the flusher sees would be hidden
 * from the owner's own fsync. So the flusher records it (`failed`), and the owner settles
 * (waits for any running flush) before its own sync and then reads that record; either way a
 * lost write is reported once to the owner, who then never promises those bytes. */
#include "store_fs.h"
#include "store_fs_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "resumable/error.h"

struct rs_fs_flushed {
  int fd;           /* the flusher's dup of the handle's descriptor */
  int refs;         /* the handle's and, while queued or running, the flusher's */
  int queued;       /* on the flusher's list */
  int failed;       /* a background sync failed */
  uint64_t upto;    /* every byte below was written before the last request */
  uint64_t dropped; /* bytes below were synced and dropped from the page cache */
  struct rs_fs_flushed *next;
};

struct rs_fs_flusher {
  pthread_mutex_t mu;
  pthread_cond_t work; /* a record was queued, or stop */
  pthread_cond_t idle; /* a record's sync finished */
  rs_fs_flushed *head, *tail;
  pthread_t thread;
  int started;            /* 1: running, -1: could not start (flushing stays off) */
  rs_fs_flushed *running; /* the record being synced now, or NULL */
  int stop;
};

static void unref(rs_fs_flushed *r)
{
  if (--r->refs == 0) {
    rs_fs_close(r->fd);
    free(r);
  }
}

static int sync_one(int fd)
{
  int fault = rs_fs_fault(RS_FAULT_FLUSH, NULL);
  if (fault != 0)
    return fault;
  while (fdatasync(fd) != 0) {
    if (errno != EINTR)
      return errno;
  }
  return 0;
}

/* The bytes are on disk: let their pages go. An upload then holds about one flush window of
 * page cache instead of its whole size, so a multi-GiB upload does not evict what the host
 * caches for itself, and the next writes reuse the pages just freed (on a VM whose host takes
 * back free guest memory, fresh pages cost a host fault each). Pages written again meanwhile
 * are dirty and stay: it is advice, never a loss. */
static void drop_cached(int fd, uint64_t from, uint64_t to)
{
  (void)posix_fadvise(fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
}

static void *flusher_main(void *arg)
{
  rs_fs_flusher *f = arg;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (!f->head && !f->stop)
      pthread_cond_wait(&f->work, &f->mu);
    rs_fs_flushed *r = f->head;
    if (!r)
      break; /* stop, and nothing queued */
    f->head = r->next;
    if (!f->head)
      f->tail = NULL;
    r->queued = 0;
    int err = 0;
    if (!f->stop && r->refs > 1) { /* its handle is gone: nothing left to promise */
      uint64_t from = r->dropped, to = r->upto;
      f->running = r;
      pthread_mutex_unlock(&f->mu);
      err = sync_one(r->fd);
      if (err == 0 && to > from && to <= (uint64_t)INT64_MAX)
        drop_cached(r->fd, from, to);
      pthread_mutex_lock(&f->mu);
      if (err == 0 && to > r->dropped)
        r->dropped = to;
      f->running = NULL;
    }
    if (err != 0)
      r->failed = 1;
    pthread_cond_broadcast(&f->idle);
    unref(r);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

int rs_fs_flusher_new(rs_fs_flusher **out)
{
  rs_fs_flusher *f = calloc(1, sizeof(*f));
  *out = NULL;
  if (!f)
    return RESUMABLE_E_NOMEM;
  if (pthread_mutex_init(&f->mu, NULL) != 0) {
    free(f);
    return RESUMABLE_E_NOMEM;
  }
  if (pthread_cond_init(&f->work, NULL) != 0) {
    pthread_mutex_destroy(&f->mu);
    free(f);
    return RESUMABLE_E_NOMEM;
  }
  if (pthread_cond_init(&f->idle, NULL) != 0) {
    pthread_cond_destroy(&f->work);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return RESUMABLE_E_NOMEM;
  }
  *out = f;
  return RESUMABLE_OK;
}

void rs_fs_flusher_free(rs_fs_flusher *f)
{
  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  f->stop = 1;
  pthread_cond_broadcast(&f->work);
  int started = f->started == 1;
  pthread_mutex_unlock(&f->mu);
  if (started)
    pthread_join(f->thread, NULL);
  pthread_cond_destroy(&f->idle);
  pthread_cond_destroy(&f->work);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

/* Under f->mu. The thread starts on first use: a store that never sees a long upload never
 * has one. It blocks every signal, which belong to the host. */
static int ensure_started(rs_fs_flusher *f)
{
  if (f->started == 0) {
    sigset_t all, old;
    sigfillset(&all);
    int masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
    f->started = pthread_create(&f->thread, NULL, flusher_main, f) == 0 ? 1 : -1;
    if (masked)
      pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  return f->started == 1;
}

void rs_fs_flush_async(rs_fs_flusher *f, rs_fs_flushed **slot, int fd, uint64_t upto)
{
  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  rs_fs_flushed *r = *slot;
  if (r && upto > r->upto)
    r->upto = upto; /* a running sync covers it or the next one will */
  if (f->stop || !ensure_started(f) || (r && (r->queued || f->running == r))) {
    /* One flush per upload at a time: the next window asks again. */
    pthread_mutex_unlock(&f->mu);
    return;
  }
  if (!r) {
    r = calloc(1, sizeof(*r));
    int dfd = r ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (dfd < 0) {
      free(r);
      pthread_mutex_unlock(&f->mu); /* no memory or descriptors: flushing is only a speed-up */
      return;
    }
    r->fd = dfd;
    r->refs = 1;
    r->upto = upto;
    *slot = r;
  }
  r->queued = 1;
  r->refs++;
  r->next = NULL;
  if (f->tail)
    f->tail->next = r;
  else
    f->head = r;
  f->tail = r;
  pthread_cond_signal(&f->work);
  pthread_mutex_unlock(&f->mu);
}

/* Take a queued record off the list (the caller's own sync will cover it). Under f->mu. */
static void dequeue(rs_fs_flusher *f, rs_fs_flushed *r)
{
  rs_fs_flushed **pp = &f->head, *prev = NULL;
  while (*pp && *pp != r) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (!*pp)
    return;
  *pp = r->next;
  if (f->tail == r)
    f->tail = prev;
  r->queued = 0;
  unref(r); /* the flusher's reference; the handle still holds one */
}

int rs_fs_flush_settle(rs_fs_flusher *f, rs_fs_flushed *r)
{
  if (!f || !r)
    return 0;
  pthread_mutex_lock(&f->mu);
  /* A flush still waiting behind other uploads' is dropped rather than waited for: the owner
   * is about to sync itself. Only one already running is waited out. */
  if (r->queued)
    dequeue(f, r);
  while (f->running == r)
    pthread_cond_wait(&f->idle, &f->mu);
  int failed = r->failed;
  pthread_mutex_unlock(&f->mu);
  return failed;
}

void rs_fs_flusher_idle(rs_fs_flusher *f)
{
  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  while (f->head || f->running)
    pthread_cond_wait(&f->idle, &f->mu);
  pthread_mutex_unlock(&f->mu);
}

void rs_fs_flush_release(rs_fs_flusher *f, rs_fs_flushed *r)
{
  if (!f || !r)
    return;
  pthread_mutex_lock(&f->mu);
  unref(r);
  pthread_mutex_unlock(&f->mu);
}
