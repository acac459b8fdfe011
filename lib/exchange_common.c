/* Helpers shared by the exchange files: error replies, logging, stored state, the final 200. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"
#include "resumable/error.h"
#include "server_internal.h"
#include "tus_exchange.h"

void rs_exchange_decided(resumable_exchange *ex)
{
  ex->phase = RS_PHASE_DECIDED;
  if (ex->dialect == RS_DIALECT_TUS)
    rs_tus_decorate(ex);
  else if (ex->method == RS_METHOD_HEAD) /* advertise per-request digests (RFC 9530 4) */
    rs_reply_header(&ex->reply, "Want-Content-Digest", RS_WANT_CONTENT_DIGEST);
  int st = ex->reply.status;
  if (st >= 400) {
    const char *text = ex->reply.text ? ex->reply.text : "";
    size_t n = strlen(text);
    if (n > 0 && text[n - 1] == '\n')
      n--;
    /* 404 and 416 are ordinary protocol flow (a probe, a resume offset); others are refusals */
    resumable_log_level lvl = st >= 500                ? RESUMABLE_LOG_ERROR
                              : st == 404 || st == 416 ? RESUMABLE_LOG_INFO
                                                       : RESUMABLE_LOG_WARN;
    rs_server_log(ex->srv, lvl, "%s /%s: %d %.*s", ex->method_name, ex->key, st, (int)n, text);
  }
}

void rs_exchange_fail(resumable_exchange *ex, int status, const char *text)
{
  rs_reply_text(&ex->reply, status, text);
  rs_exchange_decided(ex);
}

void rs_exchange_store_error(resumable_exchange *ex, const char *what, int rc)
{
  if (rc == RESUMABLE_E_SUPERSEDED) { /* another process took the key: protocol flow */
    rs_exchange_fail(ex, 423, "superseded by a newer request for this key");
    return;
  }
  rs_server_log(ex->srv, RESUMABLE_LOG_ERROR, "%s /%s: store %s failed: %s", ex->method_name,
                ex->key, what, resumable_strerror(rc));
  if (rc == RESUMABLE_E_NOSPACE)
    rs_exchange_fail(ex, 507, "no space left on the server's storage");
  else if (rc == RESUMABLE_E_CONFLICT)
    rs_exchange_fail(ex, 409,
                     "key conflicts with another key: a file or an upload at one of its parent "
                     "paths, or files or uploads below it");
  else if (rc == RESUMABLE_E_NOFD) {
    /* a passing shortage (too many connections or uploads at once), not a storage fault */
    rs_exchange_fail(ex, 503, "server out of file descriptors, retry later");
    rs_reply_header(&ex->reply, "Retry-After", "%d", RS_RETRY_AFTER_NOFD_S);
  } else if (rc ==
             RESUMABLE_E_SUPERSEDED) /* a store shared by several servers: another took over */
    rs_exchange_fail(ex, 423, "superseded by a newer request for this key");
  else
    rs_exchange_fail(ex, 500, "storage error");
}

static int load_state(resumable_exchange *ex, rs_stored *st)
{
  const resumable_store_ops *ops = ex->srv->ops;
  void *self = ex->srv->self;
  rs_keylock_entry *e = ex->entry;
  resumable_complete_info ci;
  resumable_partial_info pi;
  memset(st, 0, sizeof(*st));
  int part = ex->dialect == RS_DIALECT_TUS && ex->tus.part; /* never complete: not asked */
  int rc = part ? RESUMABLE_E_NOT_FOUND : ops->complete_stat(self, ex->key, &ci);
  if (rc == RESUMABLE_OK) {
    st->complete = 1;
    st->size = ci.size;
    memcpy(st->sha256, ci.sha256, 32);
  } else if (rc != RESUMABLE_E_NOT_FOUND) {
    return rc;
  }
  if (e->handle) {
    pi = e->info; /* the open partial's live state is newer than the store's */
    if (e->provisional)
      pi.held = e->synced; /* unverified bytes (tus Upload-Checksum) may yet be dropped */
  } else {
    rc = ops->partial_stat(self, ex->key, &pi);
    if (rc == RESUMABLE_E_NOT_FOUND)
      return RESUMABLE_OK;
    if (rc != RESUMABLE_OK)
      return rc;
  }
  st->partial = 1;
  st->total = pi.total;
  st->held = pi.held;
  st->has_target = pi.has_target;
  memcpy(st->target, pi.target_sha256, 32);
  if (ex->dialect == RS_DIALECT_TUS)
    rs_tus_note_state(ex, &pi, st);
  return RESUMABLE_OK;
}

int rs_judge(resumable_exchange *ex, rs_stored *st, rs_decision *d)
{
  int rc = load_state(ex, st);
  if (rc != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "stat", rc);
    return rc;
  }
  if (ex->dialect == RS_DIALECT_TUS)
    rs_tus_judge_state(ex, st, d);
  else
    rs_decide(&ex->req, st, d);
  return RESUMABLE_OK;
}

/* X-Local-Path / "local_path": the store's absolute path of the complete file, or "". */
static void local_path(resumable_exchange *ex, char *buf, size_t cap)
{
  buf[0] = '\0';
  const resumable_store_ops *ops = ex->srv->ops;
  if (!ex->srv->expose_paths || !ops->complete_path)
    return;
  if (ops->complete_path(ex->srv->self, ex->key, buf, cap) != RESUMABLE_OK)
    buf[0] = '\0';
}

/* printf into buf at *n; on overflow *n becomes cap (checked once at the end). */
static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
  if (*n >= cap)
    return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
  va_end(ap);
  *n = k < 0 || (size_t)k >= cap - *n ? cap : *n + (size_t)k;
}

static void escape(const char *s, char *buf, size_t cap, size_t *n)
{
  if (*n >= cap || rs_json_escape(s, buf, cap, n) != 0)
    *n = cap;
}

void rs_exchange_reply_done(resumable_exchange *ex, uint64_t size, const uint8_t sha[32])
{
  if (ex->dialect == RS_DIALECT_TUS) {
    rs_tus_reply_done(ex, size, sha);
    return;
  }
  char hex[RS_SHA256_HEX_LEN + 1];
  char json[16384];
  char path[4096];
  size_t n = 0, cap = sizeof(json);
  rs_sha256_hex_format(sha, hex);
  local_path(ex, path, sizeof(path));
  append(json, cap, &n, "{\"key\": \"");
  escape(ex->key, json, cap, &n);
  append(json, cap, &n, "\", \"size\": %llu, \"sha256\": \"%s\"", (unsigned long long)size, hex);
  if (path[0]) {
    append(json, cap, &n, ", \"local_path\": \"");
    escape(path, json, cap, &n);
    append(json, cap, &n, "\"");
  }
  append(json, cap, &n, "}\n");
  rs_reply_clear(&ex->reply);
  ex->reply.status = 200;
  if (n >= cap)
    rs_reply_oom(&ex->reply);
  else if (rs_reply_header(&ex->reply, "X-Content-SHA256", "%s", hex) == RESUMABLE_OK &&
           rs_reply_header(&ex->reply, "X-File-Size", "%llu", (unsigned long long)size) ==
               RESUMABLE_OK)
    rs_reply_body(&ex->reply, "application/json", json, n);
  rs_exchange_decided(ex);
}

void rs_exchange_reply_decision(resumable_exchange *ex, const rs_decision *d)
{
  if (ex->dialect == RS_DIALECT_TUS) {
    rs_tus_reply_decision(ex, d);
    return;
  }
  rs_reply *r = &ex->reply;
  char text[128];
  const char *why = d->reason ? d->reason : rs_status_text(d->status);
  if (d->status == 400 && ex->req.key != RS_KEY_OK) {
    snprintf(text, sizeof(text), "invalid key: %s", rs_key_status_text(ex->req.key));
    why = text;
  }
  if (d->kind == RS_REPLY_NO_CONTENT) {
    rs_reply_clear(r);
    r->status = d->status;
  } else {
    rs_reply_text(r, d->status, why);
  }
  unsigned long long held = d->held, total = d->total;
  switch (d->kind) {
  case RS_REPLY_UNAUTHORIZED:
    rs_reply_header(r, "WWW-Authenticate", "Bearer");
    break;
  case RS_REPLY_NOT_ALLOWED:
    rs_reply_header(r, "Allow", "HEAD, GET, PUT, DELETE");
    break;
  case RS_REPLY_RANGE_WRONG:
    if (rs_reply_header(r, "Content-Range", "bytes */%llu", total) == RESUMABLE_OK)
      rs_reply_header(r, "X-File-Size", "%llu", held);
    break;
  case RS_REPLY_INCOMPLETE:
    if (rs_reply_header(r, "X-File-Size", "%llu", held) == RESUMABLE_OK && held > 0)
      rs_reply_header(r, "Range", "bytes=0-%llu", held - 1);
    break;
  default:
    break;
  }
  rs_exchange_decided(ex);
}

void rs_close_partial(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  if (e->handle) {
    ex->srv->ops->partial_close(ex->srv->self, e->handle);
    e->handle = NULL;
  }
  rs_hash_pipe_discard(&e->pipe); /* bytes still queued for the hash are dropped too */
  e->provisional = 0;             /* unverified bytes went with the handle */
}

int rs_drop_partial(resumable_exchange *ex)
{
  rs_close_partial(ex);
  int rc = ex->srv->ops->partial_remove(ex->srv->self, ex->key);
  return rc == RESUMABLE_E_NOT_FOUND ? RESUMABLE_OK : rc;
}

int rs_key_lock(resumable_exchange *ex, resumable_key_lock_mode mode)
{
  const resumable_store_ops *ops = ex->srv->ops;
  if (!ops->key_lock)
    return RESUMABLE_OK;
  return ops->key_lock(ex->srv->self, ex->key, mode, &ex->entry->owner);
}

void rs_key_unlock(resumable_exchange *ex)
{
  const resumable_store_ops *ops = ex->srv->ops;
  if (ops->key_unlock && ex->entry->owner)
    ops->key_unlock(ex->srv->self, ex->entry->owner);
}
