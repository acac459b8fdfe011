/* The memory store's partial and staging uploads. A record's `info` is what its last sync
 * recorded; its buffer may run past info.held (bytes written since), and that tail is cut when
 * the partial is opened again or synced, as the POSIX store cuts an unsynced tail. A handle
 * whose partial was removed or replaced meanwhile is stale: it can still be read and closed,
 * but writes, syncs and commits answer RESUMABLE_E_STATE rather than touch the key's new
 * state. */
#include "store_mem.h"

#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"

typedef struct mem_handle {
  rs_mem_part *part;
  int staging;
  int committed;
  char key[];
} mem_handle;

/* A stale partial handle: its record is no longer the key's partial. */
static int stale(const mem_handle *h)
{
  return !h->staging && h->part->node == NULL;
}

static void set_info(rs_mem_part *p, const resumable_partial_info *info)
{
  p->info = *info;
  if (p->info.hash_state_len > RESUMABLE_HASH_STATE_MAX)
    p->info.hash_state_len = 0; /* cannot be kept: the handler rebuilds it */
}

/* Drop bytes past `len`, giving them back to the budget. */
static void cut(rs_mem *m, rs_mem_buf *b, uint64_t len)
{
  if (b->len <= len)
    return;
  rs_mem_release(m, b->len - len);
  rs_mem_buf_truncate(b, len);
}

int rs_mem_partial_stat(void *self, const char *key, resumable_partial_info *out)
{
  rs_mem *m = self;
  if (!rs_mem_key_ok(key) || out == NULL)
    return RESUMABLE_E_INVALID_ARG;
  pthread_mutex_lock(&m->mu);
  rs_mem_node *n = rs_mem_find(m, key, strlen(key));
  int rc = n != NULL && n->partial != NULL ? RESUMABLE_OK : RESUMABLE_E_NOT_FOUND;
  if (rc == RESUMABLE_OK)
    *out = n->partial->info;
  pthread_mutex_unlock(&m->mu);
  return rc;
}

static int open_existing(rs_mem *m, const char *key, rs_mem_part **out)
{
  rs_mem_node *n = rs_mem_find(m, key, strlen(key));
  if (n == NULL || n->partial == NULL)
    return RESUMABLE_E_NOT_FOUND;
  rs_mem_part *p = n->partial;
  cut(m, &p->buf, p->info.held); /* never synced: not trusted */
  p->refs++;
  *out = p;
  return RESUMABLE_OK;
}

static rs_mem_part *new_part(const resumable_partial_info *info)
{
  rs_mem_part *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  set_info(p, info);
  p->info.held = 0;
  p->mtime = rs_mem_now();
  return p;
}

/* A new empty partial replaces the key's old one (whose handles become stale). */
static int open_create(rs_mem *m, const char *key, const resumable_partial_info *info,
                       rs_mem_part **out)
{
  rs_mem_node *n = NULL;
  int rc = rs_mem_placeable(m, key);
  if (rc == RESUMABLE_OK)
    rc = rs_mem_prepare(m, key, &n);
  if (rc != RESUMABLE_OK)
    return rc;
  int was = n->complete != NULL || n->partial != NULL;
  rs_mem_part *p = new_part(info);
  if (p == NULL) {
    rs_mem_settle(m, n, was); /* frees what rs_mem_prepare made */
    return RESUMABLE_E_NOMEM;
  }
  if (n->partial != NULL) {
    n->partial->node = NULL;
    rs_mem_part_unref(m, n->partial);
  }
  p->refs = 2; /* the node and the handle */
  p->node = n;
  n->partial = p;
  rs_mem_settle(m, n, was);
  *out = p;
  return RESUMABLE_OK;
}

/* A staging upload belongs to its handle alone; its key is checked now (to refuse early) and
 * again at the commit. */
static int open_staging(rs_mem *m, const char *key, const resumable_partial_info *info,
                        rs_mem_part **out)
{
  int rc = rs_mem_placeable(m, key);
  if (rc != RESUMABLE_OK)
    return rc;
  rs_mem_part *p = new_part(info);
  if (p == NULL)
    return RESUMABLE_E_NOMEM;
  p->refs = 1;
  *out = p;
  return RESUMABLE_OK;
}

int rs_mem_partial_open(void *self, const char *key, resumable_partial_mode mode,
                        const resumable_partial_info *info, void **handle,
                        resumable_partial_info *out)
{
  rs_mem *m = self;
  if (!rs_mem_key_ok(key) || handle == NULL || (mode != RESUMABLE_PARTIAL_EXISTING && !info))
    return RESUMABLE_E_INVALID_ARG;
  *handle = NULL;
  if (mode != RESUMABLE_PARTIAL_EXISTING && mode != RESUMABLE_PARTIAL_CREATE &&
      mode != RESUMABLE_PARTIAL_STAGING)
    return RESUMABLE_E_INVALID_ARG;
  size_t klen = strlen(key);
  mem_handle *h = malloc(sizeof(*h) + klen + 1);
  if (h == NULL)
    return RESUMABLE_E_NOMEM;
  memcpy(h->key, key, klen + 1);
  h->staging = mode == RESUMABLE_PARTIAL_STAGING;
  h->committed = 0;
  pthread_mutex_lock(&m->mu);
  int rc = mode == RESUMABLE_PARTIAL_EXISTING ? open_existing(m, key, &h->part)
           : mode == RESUMABLE_PARTIAL_CREATE ? open_create(m, key, info, &h->part)
                                              : open_staging(m, key, info, &h->part);
  if (rc == RESUMABLE_OK && out != NULL)
    *out = h->part->info;
  pthread_mutex_unlock(&m->mu);
  if (rc != RESUMABLE_OK) {
    free(h);
    return rc;
  }
  *handle = h;
  return RESUMABLE_OK;
}

int rs_mem_partial_write(void *self, void *handle, uint64_t offset, const void *buf, size_t len)
{
  rs_mem *m = self;
  mem_handle *h = handle;
  if (h == NULL || (buf == NULL && len > 0))
    return RESUMABLE_E_INVALID_ARG;
  if (h->committed)
    return RESUMABLE_E_STATE;
  rs_mem_part *p = h->part;
  uint64_t grow = 0;
  int rc = RESUMABLE_OK;
  pthread_mutex_lock(&m->mu);
  if (stale(h))
    rc = RESUMABLE_E_STATE;
  else if (offset > p->buf.len || len > UINT64_MAX - offset)
    rc = RESUMABLE_E_INVALID_ARG; /* appends only: a hole would be bytes nobody sent */
  if (rc == RESUMABLE_OK) {
    grow = offset + len > p->buf.len ? offset + len - p->buf.len : 0;
    rc = rs_mem_reserve(m, grow);
  }
  if (rc == RESUMABLE_OK && !h->staging)
    p->mtime = rs_mem_now();
  pthread_mutex_unlock(&m->mu);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = rs_mem_buf_write(&p->buf, offset, buf, len);
  if (rc != RESUMABLE_OK) {
    pthread_mutex_lock(&m->mu);
    rs_mem_release(m, grow);
    pthread_mutex_unlock(&m->mu);
  }
  return rc;
}

int rs_mem_partial_read(void *self, void *handle, uint64_t offset, void *buf, size_t len,
                        size_t *got)
{
  (void)self;
  mem_handle *h = handle;
  if (h == NULL || got == NULL || (buf == NULL && len > 0))
    return RESUMABLE_E_INVALID_ARG;
  *got = rs_mem_buf_read(&h->part->buf, offset, buf, len);
  return RESUMABLE_OK;
}

int rs_mem_partial_sync(void *self, void *handle, const resumable_partial_info *info)
{
  rs_mem *m = self;
  mem_handle *h = handle;
  if (h == NULL || info == NULL)
    return RESUMABLE_E_INVALID_ARG;
  if (h->staging || h->committed)
    return RESUMABLE_E_STATE;
  rs_mem_part *p = h->part;
  int rc = RESUMABLE_OK;
  pthread_mutex_lock(&m->mu);
  if (stale(h))
    rc = RESUMABLE_E_STATE;
  else if (p->buf.len < info->held)
    rc = RESUMABLE_E_IO; /* cannot promise bytes that were never written */
  if (rc == RESUMABLE_OK) {
    cut(m, &p->buf, info->held);
    set_info(p, info);
    p->mtime = rs_mem_now();
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

/* Under mu: the node the committed version goes to. */
static int commit_target(rs_mem *m, mem_handle *h, rs_mem_node **out)
{
  if (!h->staging) {
    *out = h->part->node;
    return RESUMABLE_OK; /* a partial holds its key's place already */
  }
  int rc = rs_mem_placeable(m, h->key); /* may have changed since the staging upload began */
  return rc == RESUMABLE_OK ? rs_mem_prepare(m, h->key, out) : rc;
}

int rs_mem_partial_commit(void *self, void *handle, const resumable_complete_info *info)
{
  rs_mem *m = self;
  mem_handle *h = handle;
  if (h == NULL || info == NULL)
    return RESUMABLE_E_INVALID_ARG;
  if (h->committed)
    return RESUMABLE_E_STATE;
  rs_mem_part *p = h->part;
  rs_mem_node *n = NULL;
  pthread_mutex_lock(&m->mu);
  int rc = stale(h)                  ? RESUMABLE_E_STATE
           : p->buf.len < info->size ? RESUMABLE_E_IO
                                     : commit_target(m, h, &n);
  rs_mem_file *f = rc == RESUMABLE_OK ? calloc(1, sizeof(*f)) : NULL;
  if (rc == RESUMABLE_OK && f == NULL) {
    rs_mem_settle(m, n, n->complete != NULL || n->partial != NULL);
    rc = RESUMABLE_E_NOMEM;
  }
  if (rc == RESUMABLE_OK) {
    cut(m, &p->buf, info->size);
    f->buf = p->buf; /* the bytes move: nothing is copied */
    memset(&p->buf, 0, sizeof(p->buf));
    f->info = *info;
    f->refs = 1;
    int was = n->complete != NULL || n->partial != NULL;
    rs_mem_file *old = n->complete;
    n->complete = f;
    if (!h->staging) {
      n->partial = NULL;
      p->node = NULL;
      rs_mem_part_unref(m, p); /* the node's reference; the handle keeps its own */
    }
    rs_mem_settle(m, n, was);
    if (old != NULL)
      rs_mem_file_unref(m, old); /* open readers keep it until they close */
    h->committed = 1;
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

void rs_mem_partial_close(void *self, void *handle)
{
  rs_mem *m = self;
  mem_handle *h = handle;
  if (h == NULL)
    return;
  pthread_mutex_lock(&m->mu);
  rs_mem_part_unref(m, h->part); /* an uncommitted staging upload goes with its handle */
  pthread_mutex_unlock(&m->mu);
  free(h);
}

int rs_mem_partial_remove(void *self, const char *key)
{
  rs_mem *m = self;
  if (!rs_mem_key_ok(key))
    return RESUMABLE_E_INVALID_ARG;
  pthread_mutex_lock(&m->mu);
  rs_mem_node *n = rs_mem_find(m, key, strlen(key));
  int rc = n != NULL && n->partial != NULL ? RESUMABLE_OK : RESUMABLE_E_NOT_FOUND;
  if (rc == RESUMABLE_OK) {
    rs_mem_part *p = n->partial;
    n->partial = NULL;
    p->node = NULL;
    rs_mem_settle(m, n, 1);
    rs_mem_part_unref(m, p);
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}
