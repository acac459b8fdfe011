/* The handler harness's checks on the store, through its ops: what each key holds, and each
 * request's effect on the keys' metadata. */
#include <string.h>

#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"

#include "fuzz_handler.h"
#include "resumable/error.h"

/* -- state invariants ------------------------------------------------------------------------ */

int read_complete(fuzz_ctx *c, const char *key, uint8_t *buf, size_t *len,
                  resumable_complete_info *info)
{
  void *r = NULL;
  size_t n = 0;
  *len = 0;
  int rc = c->ops->complete_open(c->self, key, &r, info);
  if (rc == RESUMABLE_E_NOT_FOUND || rc == RESUMABLE_E_CONFLICT)
    return 0;
  FUZZ_CHECK(rc == RESUMABLE_OK && info->size <= MAX_FILE);
  do { /* in odd pieces, so that a short read anywhere but the end would show */
    FUZZ_CHECK(c->ops->complete_read(c->self, r, *len, buf + *len, 7, &n) == RESUMABLE_OK);
    FUZZ_CHECK(n <= 7 && *len + n <= MAX_FILE);
    *len += n;
  } while (n == 7);
  c->ops->complete_close(c->self, r);
  return 1;
}

void check_state(fuzz_ctx *c, int full)
{
  static uint8_t buf[MAX_FILE];
  for (size_t i = 0; i < c->nkeys; i++) {
    resumable_partial_info p;
    resumable_complete_info info, again;
    size_t len = 0;
    uint8_t sha[32];
    if (c->ops->partial_stat(c->self, c->keys[i], &p) == RESUMABLE_OK)
      FUZZ_CHECK(p.held <= p.total);
    if (!read_complete(c, c->keys[i], buf, &len, &info))
      continue;
    mbedtls_sha256_ret(buf, len, sha, 0);
    if (len != info.size || memcmp(sha, info.sha256, 32) != 0)
      fprintf(stderr, "complete %s: %zu bytes stored, %llu recorded\n", c->keys[i], len,
              (unsigned long long)info.size);
    FUZZ_CHECK(len == info.size && memcmp(sha, info.sha256, 32) == 0);
    FUZZ_CHECK(c->ops->complete_stat(c->self, c->keys[i], &again) == RESUMABLE_OK);
    FUZZ_CHECK(again.size == info.size && memcmp(again.sha256, info.sha256, 32) == 0);
  }
  backend_check(c, full);
}

void snapshot(fuzz_ctx *c, key_state *out)
{
  /* keys learnt later (a draft creation at the prefix) held nothing before: zeros */
  memset(out, 0, MAX_KEYS * sizeof *out);
  for (size_t i = 0; i < c->nkeys; i++) {
    resumable_partial_info p;
    resumable_complete_info ci;
    memset(&out[i], 0, sizeof out[i]);
    out[i].partial = c->ops->partial_stat(c->self, c->keys[i], &p) == RESUMABLE_OK;
    if (out[i].partial) {
      out[i].held = p.held;
      out[i].total = p.total;
      out[i].has_target = p.has_target;
      if (p.has_target)
        memcpy(out[i].target, p.target_sha256, 32);
    }
    out[i].complete = c->ops->complete_stat(c->self, c->keys[i], &ci) == RESUMABLE_OK;
    if (out[i].complete) {
      out[i].size = ci.size;
      memcpy(out[i].sha, ci.sha256, 32);
    }
  }
}

static const key_state *state_of(const fuzz_ctx *c, const key_state *snap, const char *key)
{
  for (size_t i = 0; i < c->nkeys; i++)
    if (strcmp(c->keys[i], key) == 0)
      return &snap[i];
  return NULL;
}

/* A request that ran alone, judged against the state before and after it. */
void check_effect(fuzz_ctx *c, const request *q, const key_state *before, const key_state *after,
                  int st, int at_headers, const resumable_exchange *ex)
{
  if (q->is_draft) { /* refusals before the state, and offset retrievals, touch nothing */
    int same = memcmp(before, after, c->nkeys * sizeof *before) == 0;
    int reads = strcmp(q->method, "HEAD") == 0 || strcmp(q->method, "OPTIONS") == 0;
    if (((at_headers && (st == 401 || st == 405 || st == 413 || st == 415)) ||
         (reads && st != 410)) &&
        !same)
      fprintf(stderr, "draft %s %s -> %d changed the store\n", q->method, q->path, st);
    FUZZ_CHECK(same || !((at_headers && (st == 401 || st == 405 || st == 413 || st == 415)) ||
                         (reads && st != 410)));
    return;
  }
  /* PROTOCOL.md: refused requests touch nothing; HEAD, GET and other methods only read. */
  int untouched = (at_headers && (st == 401 || st == 404 || st == 405 || st == 413 || st == 416 ||
                                  (st == 400 && q->key[0] == '\0'))) ||
                  !(q->is_put || strcmp(q->method, "DELETE") == 0);
  if (untouched && memcmp(before, after, c->nkeys * sizeof *before) != 0)
    fprintf(stderr, "%s %s -> %d changed the store\n", q->method, q->path, st);
  FUZZ_CHECK(!untouched || memcmp(before, after, c->nkeys * sizeof *before) == 0);
  if (q->key[0] == '\0' || st == 401)
    return;
  const key_state *b = state_of(c, before, q->key), *a = state_of(c, after, q->key);
  FUZZ_CHECK(b != NULL && a != NULL);
  if (strcmp(q->method, "HEAD") == 0 && st == 200) {
    const char *size = reply_header((resumable_exchange *)ex, "X-File-Size");
    if (b->partial) { /* the upload's progress, never a prefix hash */
      FUZZ_CHECK(header_u64(size) == b->held);
      const char *total = reply_header((resumable_exchange *)ex, "X-Upload-Total");
      if (b->total == RESUMABLE_LENGTH_UNKNOWN) /* a draft upload of unknown length */
        FUZZ_CHECK(total == NULL);
      else
        FUZZ_CHECK(header_u64(total) == b->total);
      FUZZ_CHECK(reply_header((resumable_exchange *)ex, "X-Content-SHA256") == NULL);
    } else {
      char hex[65];
      const char *h = reply_header((resumable_exchange *)ex, "X-Content-SHA256");
      hex_of(b->sha, hex, 0);
      FUZZ_CHECK(b->complete && header_u64(size) == b->size && h && strcmp(h, hex) == 0);
    }
  }
  if (strcmp(q->method, "HEAD") == 0 && st == 404)
    FUZZ_CHECK(!b->partial && !b->complete);
  if (strcmp(q->method, "DELETE") == 0 && st == 204)
    FUZZ_CHECK((b->partial || b->complete) && !a->partial && !a->complete);
  if (strcmp(q->method, "DELETE") == 0 && st == 404)
    FUZZ_CHECK(!b->partial && !b->complete);
  if (q->is_put && st == 308 && q->has_range) { /* a chunk landed: the binding it leaves */
    FUZZ_CHECK(a->partial);
    if (q->sent_hash)
      FUZZ_CHECK(a->has_target && memcmp(a->target, q->sha, 32) == 0);
    else if (b->partial && q->offset > 0) /* continued without the header: binding unchanged */
      FUZZ_CHECK(a->has_target == b->has_target &&
                 (!a->has_target || memcmp(a->target, b->target, 32) == 0));
  }
  if (q->is_put && st == 416)
    FUZZ_CHECK(header_u64(reply_header((resumable_exchange *)ex, "X-File-Size")) ==
               (b->partial ? b->held : 0));
}
