/* tus concatenation, the final upload: "Upload-Concat: final;<part URL> ...".
 *
 * The parts are partials of the handler's own keys (RS_TUS_PART_DIR). Their bytes are copied in
 * order into a new partial of the final key through the store's ops (partial_read of a part,
 * partial_write of the final), hashed on the way like any upload, then verified against a bound
 * X-Content-SHA256 and committed by the one commit path (rs_put_commit). Only after the commit
 * are the parts removed; a crash before leaves them to be concatenated again or swept.
 *
 * Locking: the final key's entry mutex is held throughout (so its HEAD waits for the result);
 * each part's entry is taken one at a time inside it. A part's lock is never held while another
 * key's is taken, so two concatenations sharing parts cannot deadlock.
 *
 * Across processes (a store with key_lock) the same order holds with the store's key ownership:
 * the final key is taken (TAKE) at the start and kept locked, without a break, until the
 * commit, as its entry mutex is (a newer request for it, here or in another process, waits
 * for the result: a concatenation has no body to stop at, and a final assembled in part is
 * worth nothing); each part is taken (TAKE) for its copy and for its removal, so that a writer
 * of the part in another process lets go of it (and of its data file) and stops (423) as one
 * in this process does when its generation moves. Its size check before the copy is only a
 * stat (the copy checks it again, owning the part). */
#include <stdlib.h>
#include <string.h>

#include "debugassert.h"
#include "resumable/error.h"
#include "tus_exchange.h"

#define COPY_BLOCK ((size_t)1 << 20)

typedef struct part_list {
  char (*keys)[RS_TUS_PART_KEY_LEN + 1];
  size_t n;
} part_list;

static int parts_of(const resumable_exchange *ex, part_list *l)
{
  const char *urls = NULL, *u;
  size_t urls_len = 0, pos = 0, ulen, n = 0;
  rs_tus_concat_parse(ex->tus.concat, ex->tus.concat_len, &urls, &urls_len);
  while (rs_tus_concat_next(urls, urls_len, &pos, &u, &ulen))
    n++;
  l->keys = calloc(n, sizeof(*l->keys));
  if (!l->keys)
    return RESUMABLE_E_NOMEM;
  pos = 0;
  for (l->n = 0; rs_tus_concat_next(urls, urls_len, &pos, &u, &ulen); l->n++)
    if (rs_tus_part_url(u, ulen, ex->srv->prefix, ex->srv->prefix_len, l->keys[l->n]) != 0) {
      RS_DEBUGASSERT(!"gather checked every part URL");
      return RESUMABLE_E_INVALID_ARG; /* release: refused as a bad request */
    }
  return RESUMABLE_OK;
}

/* Why a part cannot be used (the reply's status and text), or 0. */
typedef struct part_error {
  int status;
  const char *text;
  int rc; /* a store error instead */
} part_error;

/* A part's length under its lock: it must exist and hold every byte, with nothing in flight. */
static int part_size(resumable_server *srv, rs_keylock_entry *p, const char *key, uint64_t *size,
                     part_error *err)
{
  resumable_partial_info pi;
  int rc;
  if (p->handle) {
    if (p->provisional || p->info.held != p->synced) {
      err->status = 409;
      err->text = "a part named in Upload-Concat is still being uploaded";
      return -1;
    }
    pi = p->info;
    rc = RESUMABLE_OK;
  } else {
    rc = srv->ops->partial_stat(srv->self, key, &pi);
  }
  if (rc == RESUMABLE_E_NOT_FOUND) {
    err->status = 404;
    err->text = "a part named in Upload-Concat does not exist";
    return -1;
  }
  if (rc != RESUMABLE_OK) {
    err->rc = rc;
    return -1;
  }
  if (pi.total == RESUMABLE_LENGTH_UNKNOWN || pi.held != pi.total) {
    err->status = 400;
    err->text = "a part named in Upload-Concat is not complete";
    return -1;
  }
  *size = pi.total;
  return 0;
}

/* The first part is the final upload's prefix, so its running SHA-256 (saved with it) is the
 * final's after those bytes: those need no hashing again. 1 when e->sha took it. */
static int take_hash(rs_keylock_entry *e, const resumable_partial_info *pi)
{
  if (e->info.held != 0 || pi->hash_state_len == 0 || pi->hash_state_len > sizeof(pi->hash_state))
    return 0;
  rs_sha256 h;
  if (rs_sha256_import(&h, pi->hash_state, pi->hash_state_len) != 0 ||
      rs_sha256_length(&h) != pi->held) {
    rs_sha256_free(&h);
    return 0;
  }
  rs_hash_pipe_discard(&e->pipe); /* nothing is queued for the empty final: a guard */
  e->sha = h;
  return 1;
}

/* Append the part's `size` bytes to the final partial (ex's entry). Under both locks. */
static int copy_part(resumable_exchange *ex, rs_keylock_entry *p, const char *key, uint64_t size,
                     uint8_t *buf)
{
  const resumable_store_ops *ops = ex->srv->ops;
  void *self = ex->srv->self;
  rs_keylock_entry *e = ex->entry;
  void *h = p->handle;
  resumable_partial_info pi;
  int rc = RESUMABLE_OK;
  if (h)
    pi = p->info; /* settled: part_size refused one with bytes in flight */
  else
    rc = ops->partial_open(self, key, RESUMABLE_PARTIAL_EXISTING, NULL, &h, &pi);
  int hashed = rc == RESUMABLE_OK && pi.held == size && take_hash(e, &pi);
  for (uint64_t off = 0; rc == RESUMABLE_OK && off < size;) {
    size_t want = size - off < COPY_BLOCK ? (size_t)(size - off) : COPY_BLOCK, got = 0;
    rc = ops->partial_read(self, h, off, buf, want, &got);
    if (rc == RESUMABLE_OK && got == 0)
      rc = RESUMABLE_E_IO; /* the part holds fewer bytes than it says */
    if (rc == RESUMABLE_OK)
      rc = ops->partial_write(self, e->handle, e->info.held, buf, got);
    if (rc == RESUMABLE_OK) {
      if (!hashed)
        rs_hash_pipe_update(&e->pipe, buf, got);
      e->info.held += got;
      off += got;
    }
  }
  if (h && h != p->handle)
    ops->partial_close(self, h);
  return rc;
}

typedef enum part_step { STEP_SIZE, STEP_COPY, STEP_REMOVE } part_step;

/* Close the part's open handle in this process (its bytes are settled or not ours). */
static void close_part(resumable_server *srv, rs_keylock_entry *p)
{
  if (p->handle) {
    srv->ops->partial_close(srv->self, p->handle);
    p->handle = NULL;
  }
  rs_hash_pipe_discard(&p->pipe);
  p->provisional = 0;
}

/* Own the part across processes too (the store's key_lock, TAKE): a writer of it elsewhere
 * lets go. Under p->mu; key_unlock (part_unlock) follows whatever this returns. */
static int part_take(resumable_server *srv, rs_keylock_entry *p, const char *key)
{
  if (!srv->ops->key_lock)
    return RESUMABLE_OK;
  int rc = srv->ops->key_lock(srv->self, key, RESUMABLE_KEY_TAKE, &p->owner);
  if (rc == RESUMABLE_E_SUPERSEDED) {
    close_part(srv, p); /* another process had the part meanwhile: what we hold is stale */
    rc = RESUMABLE_OK;
  }
  return rc;
}

static void part_unlock(resumable_server *srv, rs_keylock_entry *p)
{
  if (srv->ops->key_unlock && p->owner)
    srv->ops->key_unlock(srv->self, p->owner);
}

/* Copy the part (owned) if it still has the size found before. 0 or -1 (err says why). */
static int copy_checked(resumable_exchange *ex, rs_keylock_entry *p, const char *key, uint64_t size,
                        uint8_t *buf, part_error *err)
{
  uint64_t now = 0;
  if (part_size(ex->srv, p, key, &now, err) != 0)
    return -1;
  if (now != size) {
    err->status = 409;
    err->text = "a part named in Upload-Concat changed during the concatenation";
    return -1;
  }
  err->rc = copy_part(ex, p, key, now, buf);
  return err->rc == RESUMABLE_OK ? 0 : -1;
}

/* Remove the part (owned); a failure is only logged: the sweep will take it. */
static void remove_part(resumable_exchange *ex, rs_keylock_entry *p, const char *key)
{
  resumable_server *srv = ex->srv;
  close_part(srv, p);
  int r = srv->ops->partial_remove(srv->self, key);
  if (r != RESUMABLE_OK && r != RESUMABLE_E_NOT_FOUND)
    rs_server_log(srv, RESUMABLE_LOG_WARN, "POST /%s: part %s not removed: %s", ex->key, key,
                  resumable_strerror(r));
}

/* One step on part i under its own lock (taken and released here). */
static int on_part(resumable_exchange *ex, const char *key, part_step step, uint64_t *size,
                   uint8_t *buf, part_error *err)
{
  resumable_server *srv = ex->srv;
  rs_keylock_entry *p = rs_keylock_acquire(srv->locks, key);
  if (!p) {
    err->rc = RESUMABLE_E_NOMEM;
    return -1;
  }
  pthread_mutex_lock(&p->mu);
  int rc = 0;
  if (step == STEP_SIZE) {
    rc = part_size(srv, p, key, size, err);
  } else {
    p->generation++;                    /* a late writer of the part in this process stops (423) */
    int taken = part_take(srv, p, key); /* ... and so does one in another process */
    if (taken != RESUMABLE_OK) {
      err->rc = taken;
      rc = -1;
      if (step == STEP_REMOVE)
        rs_server_log(srv, RESUMABLE_LOG_WARN, "POST /%s: part %s not removed: %s", ex->key, key,
                      resumable_strerror(taken));
    } else if (step == STEP_COPY) {
      rc = copy_checked(ex, p, key, *size, buf, err);
    } else {
      remove_part(ex, p, key);
    }
    part_unlock(srv, p);
  }
  pthread_mutex_unlock(&p->mu);
  rs_keylock_release(srv->locks, p);
  return rc;
}

static void part_failed(resumable_exchange *ex, const part_error *err)
{
  if (err->rc != RESUMABLE_OK)
    rs_exchange_store_error(ex, "concatenate", err->rc);
  else
    rs_exchange_fail(ex, err->status, err->text);
}

/* Sizes of all parts, their sum checked against the maximum. 0 or -1 (reply decided). */
static int total_of(resumable_exchange *ex, const part_list *l, uint64_t *sizes, uint64_t *total)
{
  part_error err = {0, NULL, RESUMABLE_OK};
  *total = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (on_part(ex, l->keys[i], STEP_SIZE, &sizes[i], NULL, &err) != 0) {
      part_failed(ex, &err);
      return -1;
    }
    if (sizes[i] > UINT64_MAX / 2 - *total ||
        (ex->srv->max_size != 0 && *total + sizes[i] > ex->srv->max_size)) {
      rs_exchange_fail(ex, 413, "larger than the maximum file size");
      return -1;
    }
    *total += sizes[i];
  }
  return 0;
}

/* Under the final key's lock: build, verify and commit the final upload. */
static void assemble(resumable_exchange *ex, const part_list *l, uint64_t *sizes)
{
  rs_keylock_entry *e = ex->entry;
  uint64_t total;
  if (total_of(ex, l, sizes, &total) != 0)
    return;
  int rc = rs_drop_partial(ex); /* a creation replaces the key's partial */
  resumable_partial_info info;
  memset(&info, 0, sizeof(info));
  info.total = total;
  rs_tus_partial_info(ex, &info);
  if (rc == RESUMABLE_OK)
    rc = rs_put_create(ex, &info);
  if (rc != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "open", rc);
    return;
  }
  uint8_t *buf = malloc(COPY_BLOCK);
  part_error err = {0, NULL, buf ? RESUMABLE_OK : RESUMABLE_E_NOMEM};
  for (size_t i = 0; buf && i < l->n; i++)
    if (on_part(ex, l->keys[i], STEP_COPY, &sizes[i], buf, &err) != 0)
      break;
  free(buf);
  uint8_t digest[32];
  rs_put_digest(ex, digest);
  if (err.rc != RESUMABLE_OK || err.status != 0 || e->info.held != total) {
    (void)rs_drop_partial(ex);
    part_failed(ex, &err);
    return;
  }
  if (e->info.has_target && memcmp(digest, e->info.target_sha256, 32) != 0) {
    rc = rs_drop_partial(ex);
    if (rc != RESUMABLE_OK)
      rs_exchange_store_error(ex, "remove", rc);
    else
      rs_exchange_fail(ex, 460,
                       "SHA-256 of the concatenated parts does not match X-Content-SHA256");
    return;
  }
  rs_put_commit(ex, digest);
  if (ex->reply.status != 201)
    return; /* not committed: the parts stay */
  for (size_t i = 0; i < l->n; i++)
    (void)on_part(ex, l->keys[i], STEP_REMOVE, NULL, NULL, &err);
}

void rs_tus_concat_final(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  part_list l = {NULL, 0};
  int rc = parts_of(ex, &l);
  uint64_t *sizes = rc == RESUMABLE_OK ? calloc(l.n, sizeof(*sizes)) : NULL;
  if (!sizes) {
    free(l.keys);
    rs_exchange_fail(ex, 500, "out of memory");
    return;
  }
  pthread_mutex_lock(&e->mu);
  if (!e->pipe.bound)
    rs_hash_pipe_bind(&e->pipe, ex->srv->hash_pool, &e->sha); /* inline if NOMEM */
  ex->generation = ++e->generation;         /* supersedes any writer of the final key */
  rc = rs_key_lock(ex, RESUMABLE_KEY_TAKE); /* ... here and in other processes */
  if (rc == RESUMABLE_E_SUPERSEDED) {
    rs_close_partial(ex); /* another process had the key meanwhile: this is stale */
    rc = RESUMABLE_OK;
  }
  if (rc != RESUMABLE_OK)
    rs_exchange_store_error(ex, "lock", rc);
  else
    assemble(ex, &l, sizes);
  rs_key_unlock(ex);
  pthread_mutex_unlock(&e->mu);
  free(sizes);
  free(l.keys);
}
