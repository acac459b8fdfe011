/* The pure decision core: PROTOCOL.md as a function. See decide.h. */
#include "decide.h"

#include <string.h>

static void reply(rs_decision *d, int status, rs_reply_kind kind, const char *reason)
{
  d->action = RS_ACT_REPLY;
  d->status = status;
  d->kind = kind;
  d->reason = reason;
}

static void need_state(rs_decision *d)
{
  d->action = RS_ACT_NEED_STATE;
  d->status = 0;
}

static void done(rs_decision *d, const rs_stored *st)
{
  reply(d, 200, RS_REPLY_DONE, "already complete");
  d->size = st->size;
}

static int same_hash(const uint8_t a[32], const uint8_t b[32])
{
  return memcmp(a, b, 32) == 0;
}

/* Step 4: the same upload needs a hash on both sides, equal, and the same total. */
static int same_upload(const rs_request *req, const rs_stored *st)
{
  return req->hash == RS_FIELD_OK && st->has_target && same_hash(req->sha256, st->target) &&
         req->cr.total == st->total;
}

/* Step 6: a chunk without a hash continues a bound partial; with one it must match. */
static int drifted(const rs_request *req, const rs_stored *st)
{
  if (req->cr.total != st->total)
    return 1;
  return req->hash == RS_FIELD_OK && (!st->has_target || !same_hash(req->sha256, st->target));
}

/* A complete file that is exactly what the request describes (the hash, when sent). */
static int complete_matches(const rs_request *req, const rs_stored *st, int hash_required)
{
  if (!st->complete || st->size != req->cr.total)
    return 0;
  if (req->hash != RS_FIELD_OK)
    return !hash_required;
  return same_hash(req->sha256, st->sha256);
}

/* `PUT` with `bytes * /total`: the upload's status, from the headers alone. */
static void decide_query(const rs_request *req, const rs_stored *st, rs_decision *d)
{
  if (req->length == RS_FIELD_OK && req->content_length != 0) {
    reply(d, 400, RS_REPLY_TEXT, "a status query must have an empty body");
    return;
  }
  if (!st) {
    need_state(d);
    return;
  }
  d->total = req->cr.total;
  if (st->partial) {
    if (drifted(req, st)) {
      reply(d, 409, RS_REPLY_TEXT, "upload differs from the stored partial; restart from 0");
      d->flags |= RS_DROP_PARTIAL;
    } else if (st->held == st->total) {
      d->action = RS_ACT_FINISH;
      d->held = st->held;
    } else {
      reply(d, 308, RS_REPLY_INCOMPLETE, "incomplete");
      d->held = st->held;
    }
    return;
  }
  if (complete_matches(req, st, 0))
    done(d, st);
  else
    reply(d, 308, RS_REPLY_INCOMPLETE, "nothing held");
}

/* Steps 4-7 against the stored state. */
static void decide_chunk(const rs_request *req, const rs_stored *st, rs_decision *d)
{
  const rs_content_range *cr = &req->cr;
  int partial = st->partial;

  d->total = cr->total;
  if (cr->start == 0 && partial && !same_upload(req, st)) { /* 4: restart */
    d->flags |= RS_DROP_PARTIAL;
    partial = 0;
  }
  if (cr->start == 0 && !partial && complete_matches(req, st, 1)) { /* 5: already there */
    done(d, st);
    return;
  }
  if (cr->start == 0 && partial && st->held == st->total) { /* 5: finish an interrupted commit */
    d->action = RS_ACT_FINISH;
    d->held = st->held;
    return;
  }
  if (cr->start > 0 && partial && drifted(req, st)) { /* 6: drift */
    reply(d, 409, RS_REPLY_TEXT, "upload differs from the stored partial; restart from 0");
    d->flags |= RS_DROP_PARTIAL;
    return;
  }
  d->held = partial ? st->held : 0;
  if (cr->start != d->held) { /* 7: offset */
    reply(d, 416, RS_REPLY_RANGE_WRONG, "Content-Range does not start at the bytes held");
    return;
  }
  d->action = RS_ACT_APPEND;
  d->status = 0;
  if (!partial)
    d->flags |= RS_CREATE_PARTIAL;
}

static void decide_put_range(const rs_request *req, const rs_stored *st, rs_decision *d)
{
  if (req->range == RS_FIELD_MALFORMED) { /* 1 */
    reply(d, 400, RS_REPLY_TEXT, "malformed Content-Range");
    return;
  }
  if (req->hash == RS_FIELD_MALFORMED) {
    reply(d, 400, RS_REPLY_TEXT, "malformed X-Content-SHA256");
    return;
  }
  if (req->length == RS_FIELD_MALFORMED) {
    reply(d, 400, RS_REPLY_TEXT, "malformed Content-Length");
    return;
  }
  if (req->max_size != 0 && req->cr.total > req->max_size) { /* 2 */
    reply(d, 413, RS_REPLY_TEXT, "larger than the maximum file size");
    return;
  }
  if (req->cr.is_query) {
    decide_query(req, st, d);
    return;
  }
  if (req->length == RS_FIELD_OK &&
      req->content_length != req->cr.end - req->cr.start + 1) { /* 3 */
    reply(d, 400, RS_REPLY_TEXT, "body length differs from Content-Range");
    return;
  }
  if (!st) {
    need_state(d);
    return;
  }
  decide_chunk(req, st, d);
}

/* Whole-file upload (no Content-Range); a zero-length file is an empty body. */
static void decide_put_whole(const rs_request *req, rs_decision *d)
{
  if (req->hash == RS_FIELD_MALFORMED) {
    reply(d, 400, RS_REPLY_TEXT, "malformed X-Content-SHA256");
    return;
  }
  if (req->length == RS_FIELD_MALFORMED) {
    reply(d, 400, RS_REPLY_TEXT, "malformed Content-Length");
    return;
  }
  if (req->max_size != 0 && req->length == RS_FIELD_OK && req->content_length > req->max_size) {
    reply(d, 413, RS_REPLY_TEXT, "larger than the maximum file size");
    return;
  }
  d->action = RS_ACT_STAGE;
  d->status = 0;
  d->flags |= RS_DROP_PARTIAL;
  d->total = req->length == RS_FIELD_OK ? req->content_length : 0;
}

static void decide_head(const rs_stored *st, rs_decision *d)
{
  if (st->partial) {
    reply(d, 200, RS_REPLY_HEAD_PARTIAL, "partial");
    d->action = RS_ACT_PROBE;
    d->held = st->held;
    d->total = st->total;
  } else if (st->complete) {
    reply(d, 200, RS_REPLY_HEAD_COMPLETE, "complete");
    d->action = RS_ACT_PROBE;
    d->size = st->size;
  } else {
    reply(d, 404, RS_REPLY_TEXT, "not found");
  }
}

static void decide_state(const rs_request *req, const rs_stored *st, rs_decision *d)
{
  switch (req->method) {
  case RS_METHOD_HEAD:
    decide_head(st, d);
    return;
  case RS_METHOD_GET:
    if (!st->complete) {
      reply(d, 404, RS_REPLY_TEXT, "not found");
      return;
    }
    d->action = RS_ACT_SERVE;
    d->status = 200;
    d->size = st->size;
    return;
  case RS_METHOD_DELETE:
    if (!st->complete && !st->partial) {
      reply(d, 404, RS_REPLY_TEXT, "not found");
      return;
    }
    reply(d, 204, RS_REPLY_NO_CONTENT, "deleted");
    d->action = RS_ACT_DELETE;
    d->flags |= RS_DROP_PARTIAL;
    return;
  default:
    reply(d, 405, RS_REPLY_NOT_ALLOWED, "method not allowed");
    return;
  }
}

void rs_decide(const rs_request *req, const rs_stored *st, rs_decision *d)
{
  memset(d, 0, sizeof(*d));
  if (!req->auth_ok) {
    reply(d, 401, RS_REPLY_UNAUTHORIZED, "missing or wrong bearer token");
    return;
  }
  if (req->key != RS_KEY_OK) {
    reply(d, 400, RS_REPLY_TEXT, "invalid key"); /* the handler adds the rule broken */
    return;
  }
  if (req->method == RS_METHOD_OTHER) {
    reply(d, 405, RS_REPLY_NOT_ALLOWED, "method not allowed");
    return;
  }
  if (req->header_conflict) {
    reply(d, 400, RS_REPLY_TEXT,
          req->conflict_reason ? req->conflict_reason : "repeated or conflicting header");
    return;
  }
  if (req->method == RS_METHOD_PUT) {
    if (req->range != RS_FIELD_ABSENT)
      decide_put_range(req, st, d);
    else
      decide_put_whole(req, d);
    return;
  }
  if (!st) {
    need_state(d);
    return;
  }
  decide_state(req, st, d);
}

void rs_decide_end(uint64_t received, int expected_known, uint64_t expected, uint64_t held,
                   uint64_t total, rs_digest digest, rs_decision *d)
{
  memset(d, 0, sizeof(*d));
  d->held = held;
  d->total = total;
  if (expected_known && received < expected) {
    reply(d, 400, RS_REPLY_TEXT, "body shorter than announced");
    return;
  }
  if (expected_known && received > expected) {
    reply(d, 400, RS_REPLY_TEXT, "body longer than announced");
    return;
  }
  if (held == total) {
    if (digest == RS_DIGEST_MISMATCH) {
      reply(d, 400, RS_REPLY_TEXT, "SHA-256 of the uploaded bytes does not match X-Content-SHA256");
      d->flags |= RS_DROP_PARTIAL;
      return;
    }
    d->action = RS_ACT_FINISH;
    d->status = 200;
    d->kind = RS_REPLY_DONE;
    d->reason = "complete";
    d->size = total;
    return;
  }
  reply(d, 308, RS_REPLY_INCOMPLETE, "incomplete");
}

const char *rs_status_text(int status)
{
  switch (status) {
  case 400:
    return "bad request";
  case 401:
    return "unauthorized";
  case 404:
    return "not found";
  case 405:
    return "method not allowed";
  case 409:
    return "conflict";
  case 413:
    return "too large";
  case 416:
    return "range not satisfiable";
  case 423:
    return "superseded by a newer request for this key";
  case 500:
    return "storage error";
  case 507:
    return "insufficient storage";
  default:
    return "error";
  }
}
