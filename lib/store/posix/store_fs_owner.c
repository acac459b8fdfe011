/* Ownership of a key across processes: the POSIX store's key_lock / key_unlock / key_release
 * (include/resumable/store.h; docs/storage.md, "One root, many processes").
 *
 * Each key has a lock file, .resumable/locks/<hex of the key>, and two OFD locks on it: byte 0
 * (exclusive) is held by the key's owner, byte 1 (shared) by every process waiting to take the
 * key. An owner keeps byte 0 across the pieces of its requests (a lease), so a body piece costs
 * no system call: KEEP is a mutex and a clock read, and every RS_FS_OWNER_CHECK_MS it asks the
 * kernel once whether byte 1 is held elsewhere. A TAKE in another process holds byte 1 while it
 * waits for byte 0, so the owner lets go after its next piece (KEEP answers SUPERSEDED, and the
 * caller may still sync its bytes before key_unlock) or, if its client has been idle for as
 * long, from this file's thread, which looks at every idle owner as often.
 *
 * Letting go, the owner cuts the partial it opened back to its last sync (recording the file's
 * new identity with the synced state, so the next owner need not hash the prefix again),
 * fdatasyncs it and releases that file's own lock (store_fs_partial.c locks every partial's data
 * file while open): on NFS the next owner, maybe on another host, must not write a range that
 * this host's page cache could still write back later. Should the process die instead, its
 * descriptors close one by one, and closing the data file flushes it before its lock goes, so
 * the next owner, who takes that lock before writing, waits for the flush.
 *
 * Lock files come and go: the last owner unlinks it while holding byte 0, and whoever then gets
 * byte 0 of the unlinked file sees that the name leads elsewhere (or nowhere) and starts again
 * with the file now at the name. */
#include "store_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "resumable/error.h"

#define OWN_BYTE 0
#define WAIT_BYTE 1

struct rs_fs_owner {
  rs_fs *fs;
  char name[RS_FS_NAME_LEN + 1];
  pthread_mutex_t mu;  /* the fields below, against the thread */
  int fd;              /* locks/<name>, or -1 */
  int held;            /* byte 0 is ours */
  int pinned;          /* between key_lock and key_unlock */
  int interrupted;     /* let go since the last TAKE: the next TAKE says so */
  int yield_pending;   /* a KEEP saw a waiter: let go at key_unlock (the caller may sync first) */
  void *partial;       /* the partial opened under this owner (store_fs_partial.c), or NULL */
  uint64_t checked_ms; /* when byte 1 was last looked at */
  uint64_t used_ms;    /* the last key_lock: an owner used more recently looks for itself */
  rs_fs_owner *prev, *next; /* fs->owners, under fs->owners_mu */
};

/* Is the file we locked still the one at the name? (A last owner may have unlinked it.) */
static int still_linked(rs_fs_owner *o)
{
  struct stat a, b;
  return fstat(o->fd, &a) == 0 && fstatat(o->fs->locks_fd, o->name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int open_lock_file(rs_fs_owner *o)
{
  if (o->fd >= 0)
    return RESUMABLE_OK;
  do {
    o->fd = openat(o->fs->locks_fd, o->name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  } while (o->fd < 0 && errno == EINTR);
  return o->fd < 0 ? rs_fs_err(errno) : RESUMABLE_OK;
}

/* Take byte 0: waiting (and showing it on byte 1), or only if nobody holds or wants the key. */
static int acquire(rs_fs_owner *o, int wait)
{
  for (int attempt = 0; attempt < 1000; attempt++) {
    int rc = open_lock_file(o);
    if (rc != RESUMABLE_OK)
      return rc;
    if (wait) {
      rc = rs_fs_lock(o->fd, WAIT_BYTE, 1, 0, 1);
      if (rc == RESUMABLE_OK) {
        rc = rs_fs_lock(o->fd, OWN_BYTE, 1, 1, 1);
        rs_fs_unlock(o->fd, WAIT_BYTE, 1);
      }
    } else if (rs_fs_lock_held_elsewhere(o->fd, WAIT_BYTE, 1)) {
      rc = RESUMABLE_E_STATE;
    } else {
      rc = rs_fs_lock(o->fd, OWN_BYTE, 1, 1, 0);
    }
    if (rc != RESUMABLE_OK)
      return rc;
    if (still_linked(o)) {
      o->held = 1;
      o->checked_ms = rs_now_ms();
      return RESUMABLE_OK;
    }
    rs_fs_unlock(o->fd, OWN_BYTE, 1);
    rs_fs_close(o->fd);
    o->fd = -1;
  }
  return RESUMABLE_E_IO;
}

/* Under o->mu, holding byte 0. */
static void let_go(rs_fs_owner *o, int unlink_file)
{
  if (o->partial != NULL)
    rs_fs_partial_yield(o->partial); /* flush, unlock the data; its unsynced tail goes */
  if (unlink_file)
    (void)unlinkat(o->fs->locks_fd, o->name, 0);
  rs_fs_unlock(o->fd, OWN_BYTE, 1);
  o->held = 0;
}

/* Under o->mu: does another process wait for the key? Then let it have it. */
static int yield_if_wanted(rs_fs_owner *o, uint64_t now)
{
  o->checked_ms = now;
  if (!rs_fs_lock_held_elsewhere(o->fd, WAIT_BYTE, 1))
    return 0;
  let_go(o, 0);
  o->interrupted = 1;
  return 1;
}

/* ---- the thread: idle owners let go when someone waits ---- */

static void *watch_main(void *arg)
{
  rs_fs *fs = arg;
  pthread_mutex_lock(&fs->owners_mu);
  while (!fs->owners_stop) {
    if (fs->owners == NULL) {
      pthread_cond_wait(&fs->owners_cv, &fs->owners_mu);
      continue;
    }
    uint64_t now = rs_now_ms();
    for (rs_fs_owner *o = fs->owners; o != NULL; o = o->next) {
      if (pthread_mutex_trylock(&o->mu) != 0)
        continue; /* busy in a key_lock: it looks for itself */
      /* Only idle owners: a busy one sees the waiter at its next piece itself, and can then
       * keep the bytes it wrote (KEEP's yield). */
      if (o->held && !o->pinned && now - o->checked_ms >= RS_FS_OWNER_CHECK_MS &&
          now - o->used_ms >= RS_FS_OWNER_CHECK_MS)
        (void)yield_if_wanted(o, now);
      pthread_mutex_unlock(&o->mu);
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)RS_FS_OWNER_CHECK_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(&fs->owners_cv, &fs->owners_mu, &until);
  }
  pthread_mutex_unlock(&fs->owners_mu);
  return NULL;
}

int rs_fs_owners_init(rs_fs *fs)
{
  pthread_condattr_t ca;
  if (pthread_mutex_init(&fs->owners_mu, NULL) != 0)
    return RESUMABLE_E_NOMEM;
  int ok = pthread_condattr_init(&ca) == 0;
  if (ok) {
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&fs->owners_cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
  }
  if (!ok) {
    pthread_mutex_destroy(&fs->owners_mu);
    return RESUMABLE_E_NOMEM;
  }
  fs->owners = NULL;
  fs->owners_thread_started = 0;
  fs->owners_stop = 0;
  return RESUMABLE_OK;
}

void rs_fs_owners_fini(rs_fs *fs)
{
  pthread_mutex_lock(&fs->owners_mu);
  fs->owners_stop = 1;
  pthread_cond_broadcast(&fs->owners_cv);
  int started = fs->owners_thread_started == 1;
  pthread_mutex_unlock(&fs->owners_mu);
  if (started)
    pthread_join(fs->owners_thread, NULL);
  pthread_cond_destroy(&fs->owners_cv);
  pthread_mutex_destroy(&fs->owners_mu);
}

/* Under owners_mu. Started with the first owner; it blocks every signal (they are the host's). */
static int ensure_thread(rs_fs *fs)
{
  if (fs->owners_thread_started == 0) {
    sigset_t all, old;
    sigfillset(&all);
    int masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
    fs->owners_thread_started =
        pthread_create(&fs->owners_thread, NULL, watch_main, fs) == 0 ? 1 : -1;
    if (masked)
      pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  return fs->owners_thread_started == 1;
}

static int owner_new(rs_fs *fs, const char *key, rs_fs_owner **out)
{
  rs_fs_owner *o = calloc(1, sizeof(*o));
  if (o == NULL)
    return RESUMABLE_E_NOMEM;
  if (pthread_mutex_init(&o->mu, NULL) != 0) {
    free(o);
    return RESUMABLE_E_NOMEM;
  }
  o->fs = fs;
  o->fd = -1;
  rs_fs_key_name(key, o->name);
  pthread_mutex_lock(&fs->owners_mu);
  if (!ensure_thread(fs)) {
    /* Without the thread an idle owner would keep its key from every other process. */
    pthread_mutex_unlock(&fs->owners_mu);
    pthread_mutex_destroy(&o->mu);
    free(o);
    return RESUMABLE_E_NOMEM;
  }
  o->next = fs->owners;
  if (fs->owners)
    fs->owners->prev = o;
  fs->owners = o;
  pthread_cond_signal(&fs->owners_cv);
  pthread_mutex_unlock(&fs->owners_mu);
  *out = o;
  return RESUMABLE_OK;
}

int rs_fs_key_lock(void *self, const char *key, resumable_key_lock_mode mode, void **owner)
{
  rs_fs *fs = self;
  if (owner == NULL || (*owner == NULL && !rs_fs_key_ok(key)) ||
      (mode != RESUMABLE_KEY_TAKE && mode != RESUMABLE_KEY_KEEP && mode != RESUMABLE_KEY_TRY))
    return RESUMABLE_E_INVALID_ARG;
  if (*owner == NULL) {
    rs_fs_owner *fresh = NULL;
    int rc = owner_new(fs, key, &fresh);
    if (rc != RESUMABLE_OK)
      return rc;
    *owner = fresh;
  }
  rs_fs_owner *o = *owner;
  int rc = RESUMABLE_OK;
  pthread_mutex_lock(&o->mu);
  o->pinned = 1;
  uint64_t now = rs_now_ms();
  o->used_ms = now;
  if (mode == RESUMABLE_KEY_KEEP) {
    if (!o->held) {
      rc = RESUMABLE_E_SUPERSEDED;
    } else if (now - o->checked_ms >= RS_FS_OWNER_CHECK_MS) {
      o->checked_ms = now;
      if (rs_fs_lock_held_elsewhere(o->fd, WAIT_BYTE, 1)) {
        /* Still ours until key_unlock: the caller may sync what it wrote (partial_sync
         * accepts it), so its bytes stay, as when the newer request is in this process. */
        o->yield_pending = 1;
        rc = RESUMABLE_E_SUPERSEDED;
      }
    }
  } else if (!o->held) {
    rc = acquire(o, mode == RESUMABLE_KEY_TAKE);
    if (rc == RESUMABLE_OK && o->interrupted)
      rc = RESUMABLE_E_SUPERSEDED; /* taken, after a break */
    if (o->held)
      o->interrupted = 0;
  }
  pthread_mutex_unlock(&o->mu);
  return rc;
}

void rs_fs_key_unlock(void *self, void *owner)
{
  (void)self;
  rs_fs_owner *o = owner;
  if (o == NULL)
    return;
  pthread_mutex_lock(&o->mu);
  o->pinned = 0;
  if (o->yield_pending && o->held) {
    let_go(o, 0);
    o->interrupted = 1;
  }
  o->yield_pending = 0;
  pthread_mutex_unlock(&o->mu);
}

void rs_fs_key_release(void *self, void *owner)
{
  rs_fs *fs = self;
  rs_fs_owner *o = owner;
  if (o == NULL)
    return;
  pthread_mutex_lock(&fs->owners_mu);
  if (o->prev)
    o->prev->next = o->next;
  else
    fs->owners = o->next;
  if (o->next)
    o->next->prev = o->prev;
  pthread_mutex_unlock(&fs->owners_mu);
  pthread_mutex_lock(&o->mu);
  if (o->held)
    let_go(o, 1);
  pthread_mutex_unlock(&o->mu);
  rs_fs_close(o->fd);
  pthread_mutex_destroy(&o->mu);
  free(o);
}

void rs_fs_owner_attach(rs_fs *fs, const char *name, void *partial)
{
  pthread_mutex_lock(&fs->owners_mu);
  for (rs_fs_owner *o = fs->owners; o != NULL; o = o->next) {
    if (strcmp(o->name, name) != 0)
      continue;
    pthread_mutex_lock(&o->mu);
    if (o->held) /* the one in a key_lock of this key now */
      o->partial = partial;
    pthread_mutex_unlock(&o->mu);
  }
  pthread_mutex_unlock(&fs->owners_mu);
}

int rs_fs_owner_allows(rs_fs *fs, const char *name, void *partial)
{
  int ok = 1;
  pthread_mutex_lock(&fs->owners_mu);
  for (rs_fs_owner *o = fs->owners; o != NULL; o = o->next) {
    if (strcmp(o->name, name) != 0)
      continue;
    pthread_mutex_lock(&o->mu);
    if (o->partial == partial && !o->held)
      ok = 0;
    pthread_mutex_unlock(&o->mu);
  }
  pthread_mutex_unlock(&fs->owners_mu);
  return ok;
}

void rs_fs_owner_detach(rs_fs *fs, const char *name, void *partial)
{
  pthread_mutex_lock(&fs->owners_mu);
  for (rs_fs_owner *o = fs->owners; o != NULL; o = o->next) {
    if (strcmp(o->name, name) != 0)
      continue;
    pthread_mutex_lock(&o->mu);
    if (o->partial == partial)
      o->partial = NULL;
    pthread_mutex_unlock(&o->mu);
  }
  pthread_mutex_unlock(&fs->owners_mu);
}

int rs_fs_key_try_name(rs_fs *fs, const char *name, int *fd)
{
  rs_fs_owner o;
  memset(&o, 0, sizeof(o));
  o.fs = fs;
  o.fd = -1;
  snprintf(o.name, sizeof(o.name), "%s", name);
  int rc = acquire(&o, 0);
  if (rc != RESUMABLE_OK) {
    rs_fs_close(o.fd);
    return rc;
  }
  *fd = o.fd;
  return RESUMABLE_OK;
}

void rs_fs_key_untry(rs_fs *fs, const char *name, int fd)
{
  (void)unlinkat(fs->locks_fd, name, 0); /* held: whoever waits starts again at the name */
  rs_fs_unlock(fd, OWN_BYTE, 1);
  rs_fs_close(fd);
}
