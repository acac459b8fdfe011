/* HEAD (probe from metadata), GET (serve a complete file, one range), DELETE. */
#include <string.h>

#include "hex.h"
#include "range.h"
#include "resumable/error.h"
#include "server_internal.h"
#include "tus_exchange.h"

static void probe(resumable_exchange *ex, const rs_stored *st, const rs_decision *d)
{
  rs_reply *r = &ex->reply;
  char hex[RS_SHA256_HEX_LEN + 1];
  rs_reply_clear(r);
  r->status = 200;
  r->no_body = 1;
  int rc = RESUMABLE_OK;
  if (d->kind == RS_REPLY_HEAD_PARTIAL) {
    r->length = d->held;
    rc = rs_reply_header(r, "X-File-Size", "%llu", (unsigned long long)d->held);
    if (rc == RESUMABLE_OK && d->total != RESUMABLE_LENGTH_UNKNOWN) /* tus: deferred length */
      rc = rs_reply_header(r, "X-Upload-Total", "%llu", (unsigned long long)d->total);
    if (rc == RESUMABLE_OK && st->has_target) {
      rs_sha256_hex_format(st->target, hex);
      rc = rs_reply_header(r, "X-Target-SHA256", "%s", hex);
    }
  } else {
    char path[4096] = "";
    r->length = d->size;
    rs_sha256_hex_format(st->sha256, hex);
    rc = rs_reply_header(r, "X-File-Size", "%llu", (unsigned long long)d->size);
    if (rc == RESUMABLE_OK)
      rc = rs_reply_header(r, "X-Content-SHA256", "%s", hex);
    if (ex->srv->expose_paths && ex->srv->ops->complete_path &&
        ex->srv->ops->complete_path(ex->srv->self, ex->key, path, sizeof(path)) != RESUMABLE_OK)
      path[0] = '\0';
    if (rc == RESUMABLE_OK && path[0])
      rc = rs_reply_header(r, "X-Local-Path", "%s", path);
  }
  if (rc == RESUMABLE_OK)
    rs_reply_header(r, "Accept-Ranges", "bytes");
  rs_exchange_decided(ex);
}

/* tus: a HEAD found the key's partial expired (its files unchanged for the TTL). It goes,
 * unless another process holds the key or waits for it (KEY_TRY, the sweep's rule): then it is
 * in use there, as an open partial is here, and is judged live. */
static int drop_expired(resumable_exchange *ex, rs_stored *st, rs_decision *d)
{
  int rc = rs_key_lock(ex, RESUMABLE_KEY_TRY);
  if (rc == RESUMABLE_E_SUPERSEDED)
    rc = RESUMABLE_OK; /* taken; what the entry held is dropped with the partial anyway */
  if (rc == RESUMABLE_OK) {
    rc = rs_drop_partial(ex);
  } else if (rc == RESUMABLE_E_STATE) {
    rs_tus_in_use(ex, st, d);
    rc = RESUMABLE_OK;
  }
  rs_key_unlock(ex);
  return rc;
}

static void head(resumable_exchange *ex)
{
  rs_stored st;
  rs_decision d;
  int rc = rs_judge(ex, &st, &d);
  if (rc != RESUMABLE_OK)
    return;
  if ((d.flags & RS_DROP_PARTIAL) && (rc = drop_expired(ex, &st, &d)) != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "remove", rc);
    return;
  }
  if (d.action == RS_ACT_PROBE && ex->dialect == RS_DIALECT_TUS)
    rs_tus_probe(ex, &st, &d);
  else if (d.action == RS_ACT_PROBE)
    probe(ex, &st, &d);
  else
    rs_exchange_reply_decision(ex, &d);
}

/* The body is bytes [first, last] of the open reader. */
static void serve(resumable_exchange *ex, void *reader, const resumable_complete_info *ci)
{
  rs_reply *r = &ex->reply;
  uint64_t first = 0, last = ci->size ? ci->size - 1 : 0;
  int ranged = 0;
  unsigned long long size = ci->size;
  if (ex->range.seen && !ex->range.too_long)
    ranged = rs_get_range_parse(ex->range.value, strlen(ex->range.value), ci->size, &first, &last);
  if (ranged < 0) {
    ex->srv->ops->complete_close(ex->srv->self, reader);
    rs_reply_text(r, 416, "Range not satisfiable");
    rs_reply_header(r, "Content-Range", "bytes */%llu", size);
    rs_exchange_decided(ex);
    return;
  }
  char hex[RS_SHA256_HEX_LEN + 1];
  rs_sha256_hex_format(ci->sha256, hex);
  rs_reply_clear(r);
  r->status = ranged ? 206 : 200;
  r->ops = ex->srv->ops;
  r->self = ex->srv->self;
  r->reader = reader;
  r->first = first;
  r->length = ci->size ? last - first + 1 : 0;
  int rc = rs_reply_header(r, "Content-Type", "application/octet-stream");
  if (rc == RESUMABLE_OK)
    rc = rs_reply_header(r, "X-Content-SHA256", "%s", hex);
  if (rc == RESUMABLE_OK)
    rc = rs_reply_header(r, "Accept-Ranges", "bytes");
  if (rc == RESUMABLE_OK && ranged)
    rs_reply_header(r, "Content-Range", "bytes %llu-%llu/%llu", (unsigned long long)first,
                    (unsigned long long)last, size);
  rs_exchange_decided(ex);
}

static void get(resumable_exchange *ex)
{
  rs_stored st;
  rs_decision d;
  resumable_complete_info ci;
  void *reader = NULL;
  memset(&st, 0, sizeof(st));
  memset(&ci, 0, sizeof(ci));
  int rc = ex->srv->ops->complete_open(ex->srv->self, ex->key, &reader, &ci);
  if (rc != RESUMABLE_OK && rc != RESUMABLE_E_NOT_FOUND) {
    rs_exchange_store_error(ex, "open", rc);
    return;
  }
  st.complete = rc == RESUMABLE_OK;
  st.size = ci.size;
  rs_decide(&ex->req, &st, &d);
  if (d.action == RS_ACT_SERVE) {
    serve(ex, reader, &ci);
    return;
  }
  if (reader)
    ex->srv->ops->complete_close(ex->srv->self, reader);
  rs_exchange_reply_decision(ex, &d);
}

static void delete_locked(resumable_exchange *ex)
{
  rs_stored st;
  rs_decision d;
  int rc = rs_judge(ex, &st, &d);
  if (rc != RESUMABLE_OK)
    return;
  if (d.action == RS_ACT_TERMINATE) { /* tus: the partial only */
    rc = rs_drop_partial(ex);
    if (rc != RESUMABLE_OK) {
      rs_exchange_store_error(ex, "remove", rc);
      return;
    }
  }
  if (d.action == RS_ACT_DELETE) {
    rc = rs_drop_partial(ex);
    if (rc == RESUMABLE_OK) {
      rc = ex->srv->ops->complete_remove(ex->srv->self, ex->key);
      if (rc == RESUMABLE_E_NOT_FOUND)
        rc = RESUMABLE_OK;
    }
    if (rc != RESUMABLE_OK) {
      rs_exchange_store_error(ex, "remove", rc);
      return;
    }
  }
  rs_exchange_reply_decision(ex, &d);
}

static void delete (resumable_exchange *ex)
{
  ex->entry->generation++; /* any writer of this key stops at its next body piece */
  int rc = rs_key_lock(ex, RESUMABLE_KEY_TAKE); /* so does one in another process */
  if (rc == RESUMABLE_E_SUPERSEDED) {
    rs_close_partial(ex); /* another process had the key meanwhile: this is stale */
    rc = RESUMABLE_OK;
  }
  if (rc == RESUMABLE_OK)
    delete_locked(ex);
  else
    rs_exchange_store_error(ex, "lock", rc);
  rs_key_unlock(ex);
}

void rs_meta_begin(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  pthread_mutex_lock(&e->mu);
  if (ex->method == RS_METHOD_HEAD)
    head(ex);
  else if (ex->method == RS_METHOD_GET)
    get(ex);
  else
    delete (ex);
  pthread_mutex_unlock(&e->mu);
  rs_keylock_release(ex->srv->locks, e);
  ex->entry = NULL;
}
