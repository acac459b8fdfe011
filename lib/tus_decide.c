/* The tus dialect as a function (tus_decide.h). Checks run in this order, the first failing
 * one decides: authentication, Tus-Resumable version (412), OPTIONS, method, URL, repeated
 * headers, then the method's own rules (docs/protocol.md, "Dialects: tus"). */
#include "tus_decide.h"

#include <string.h>

#include "resumable/store.h"

#define UNKNOWN RESUMABLE_LENGTH_UNKNOWN

static void reply(rs_decision *d, int status, rs_reply_kind kind, const char *reason)
{
  d->action = RS_ACT_REPLY;
  d->status = status;
  d->kind = kind;
  d->reason = reason;
}

static void fail(rs_decision *d, int status, const char *reason)
{
  reply(d, status, RS_REPLY_TEXT, reason);
}

static void need_state(rs_decision *d)
{
  d->action = RS_ACT_NEED_STATE;
  d->status = 0;
}

static int has_body(const rs_tus_request *r)
{
  return r->chunked || (r->body == RS_FIELD_OK && r->body_length > 0);
}

/* Headers both creation and PATCH read; 0 when all are usable. */
static int common_headers_bad(const rs_tus_request *r, rs_decision *d)
{
  if (r->checksum == RS_FIELD_MALFORMED) {
    fail(d, 400,
         r->checksum_unsupported ? "unsupported Upload-Checksum algorithm (sha1, sha256, md5)"
                                 : "malformed Upload-Checksum");
    return 1;
  }
  if (r->hash == RS_FIELD_MALFORMED) {
    fail(d, 400, "malformed X-Content-SHA256");
    return 1;
  }
  if (r->body == RS_FIELD_MALFORMED) {
    fail(d, 400, "malformed Content-Length");
    return 1;
  }
  if (r->length == RS_FIELD_MALFORMED) {
    fail(d, 400, "malformed Upload-Length");
    return 1;
  }
  return 0;
}

static void decide_final(const rs_tus_request *r, rs_decision *d)
{
  if (r->concat_foreign)
    fail(d, 400, "Upload-Concat names an upload that is not a concatenation part here");
  else if (r->length != RS_FIELD_ABSENT || r->defer != RS_FIELD_ABSENT)
    fail(d, 400, "a final upload takes its length from its parts: no Upload-Length");
  else if (has_body(r))
    fail(d, 400, "a final upload has no body");
  else
    d->action = RS_ACT_CONCAT;
}

static void decide_create(const rs_tus_request *r, rs_decision *d)
{
  if (common_headers_bad(r, d))
    return;
  if (r->metadata == RS_FIELD_MALFORMED) {
    fail(d, 400,
         r->metadata_too_long ? "Upload-Metadata is longer than 4096 bytes"
                              : "malformed Upload-Metadata");
    return;
  }
  if (r->concat == RS_TUS_CONCAT_MALFORMED) {
    fail(d, 400, "malformed Upload-Concat");
    return;
  }
  if (has_body(r) && r->content_type != RS_FIELD_OK) {
    fail(d, 415, "a body needs Content-Type: application/offset+octet-stream");
    return;
  }
  if (r->concat == RS_TUS_CONCAT_FINAL) {
    decide_final(r, d);
    return;
  }
  if (r->defer == RS_FIELD_MALFORMED) {
    fail(d, 400, "Upload-Defer-Length must be 1");
    return;
  }
  if (r->length == RS_FIELD_OK && r->defer == RS_FIELD_OK) {
    fail(d, 400, "both Upload-Length and Upload-Defer-Length");
    return;
  }
  if (r->length != RS_FIELD_OK && r->defer != RS_FIELD_OK) {
    fail(d, 400, "Upload-Length or Upload-Defer-Length: 1 is required");
    return;
  }
  uint64_t total = r->length == RS_FIELD_OK ? r->length_value : UNKNOWN;
  if (r->max_size != 0 && total != UNKNOWN && total > r->max_size) {
    fail(d, 413, "larger than the maximum file size");
    return;
  }
  if (r->body == RS_FIELD_OK &&
      ((total != UNKNOWN && r->body_length > total) ||
       (total == UNKNOWN && r->max_size != 0 && r->body_length > r->max_size))) {
    fail(d, 413, "body goes past Upload-Length");
    return;
  }
  d->action = RS_ACT_APPEND;
  d->flags = RS_DROP_PARTIAL | RS_CREATE_PARTIAL;
  d->held = 0;
  d->total = total;
}

/* PATCH to a key with no partial but a complete file: a finished upload of `size` bytes. */
static void patch_finished(const rs_tus_request *r, const rs_stored *st, rs_decision *d)
{
  if (r->offset_value != st->size)
    fail(d, 409, "Upload-Offset differs from the upload's offset");
  else if (r->length == RS_FIELD_OK && r->length_value != st->size)
    fail(d, 400, "Upload-Length differs from the upload's length");
  else if (has_body(r))
    fail(d, 413, "the upload is complete: body goes past Upload-Length");
  else {
    reply(d, 204, RS_REPLY_TUS_OFFSET, "complete");
    d->held = d->total = st->size;
  }
}

/* A deferred length becomes known (or a known one is restated): 0, or 1 with the reply set. */
static int patch_length(const rs_tus_request *r, const rs_stored *st, rs_decision *d)
{
  d->total = st->total;
  if (r->length != RS_FIELD_OK)
    return 0;
  if (st->total != UNKNOWN) {
    if (r->length_value != st->total) {
      fail(d, 400, "Upload-Length differs from the upload's length");
      return 1;
    }
    return 0;
  }
  if (r->length_value < st->held) {
    fail(d, 400, "Upload-Length is below the bytes already held");
    return 1;
  }
  if (r->max_size != 0 && r->length_value > r->max_size) {
    fail(d, 413, "larger than the maximum file size");
    return 1;
  }
  d->total = r->length_value;
  d->flags |= RS_SET_TOTAL;
  return 0;
}

/* The headers of a PATCH, before any state: 0 when usable. */
static int patch_headers_bad(const rs_tus_request *r, rs_decision *d)
{
  if (r->content_type != RS_FIELD_OK) {
    fail(d, 415, "PATCH needs Content-Type: application/offset+octet-stream");
    return 1;
  }
  if (r->offset != RS_FIELD_OK) {
    fail(d, 400,
         r->offset == RS_FIELD_ABSENT ? "Upload-Offset is required" : "malformed Upload-Offset");
    return 1;
  }
  return common_headers_bad(r, d);
}

static void decide_patch(const rs_tus_request *r, const rs_stored *st, rs_decision *d)
{
  if (!st->partial) {
    if (st->complete)
      patch_finished(r, st, d);
    else
      fail(d, 404, "no such upload");
    return;
  }
  /* X-Content-SHA256 binds the upload as in the LocalAI dialect (step 6); on a part it binds
   * the final upload, not the part, so it is not compared there. */
  if (r->at != RS_TUS_AT_PART && r->hash == RS_FIELD_OK &&
      (!st->has_target || memcmp(r->sha256, st->target, 32) != 0)) {
    fail(d, 409, "X-Content-SHA256 differs from the upload's; create it again");
    d->flags |= RS_DROP_PARTIAL;
    return;
  }
  if (patch_length(r, st, d))
    return;
  if (r->offset_value != st->held) {
    fail(d, 409, "Upload-Offset differs from the upload's offset");
    d->flags &= ~RS_SET_TOTAL;
    return;
  }
  uint64_t total = d->total;
  if (r->body == RS_FIELD_OK &&
      ((total != UNKNOWN && r->body_length > total - st->held) ||
       (total == UNKNOWN && r->max_size != 0 && r->body_length > r->max_size - st->held))) {
    fail(d, 413, "body goes past Upload-Length");
    d->flags &= ~RS_SET_TOTAL;
    return;
  }
  d->held = st->held;
  d->status = 0;
  d->action = total != UNKNOWN && st->held == total && !has_body(r) ? RS_ACT_FINISH : RS_ACT_APPEND;
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
    fail(d, 404, "no such upload");
  }
}

static void decide_state(const rs_tus_request *r, const rs_stored *st, rs_decision *d)
{
  if (st->partial && st->expired && r->op != RS_TUS_OP_DELETE && r->op != RS_TUS_OP_GET) {
    fail(d, 410, "the upload expired");
    d->flags |= RS_DROP_PARTIAL;
    return;
  }
  switch (r->op) {
  case RS_TUS_OP_HEAD:
    decide_head(st, d);
    return;
  case RS_TUS_OP_PATCH:
    decide_patch(r, st, d);
    return;
  case RS_TUS_OP_GET:
    if (!st->complete) {
      fail(d, 404, "not found");
      return;
    }
    d->action = RS_ACT_SERVE;
    d->status = 200;
    d->size = st->size;
    return;
  default: /* DELETE */
    if (st->partial) {
      reply(d, 204, RS_REPLY_NO_CONTENT, "terminated");
      d->action = RS_ACT_TERMINATE;
      d->flags |= RS_DROP_PARTIAL;
    } else if (st->complete) {
      fail(d, 403,
           "termination does not delete a complete file (a DELETE without "
           "Tus-Resumable does)");
    } else {
      fail(d, 404, "no such upload");
    }
    return;
  }
}

void rs_tus_decide(const rs_tus_request *r, const rs_stored *st, rs_decision *d)
{
  memset(d, 0, sizeof(*d));
  if (!r->auth_ok) {
    reply(d, 401, RS_REPLY_UNAUTHORIZED, "missing or wrong bearer token");
    return;
  }
  if (r->op == RS_TUS_OP_OPTIONS) { /* the server ignores Tus-Resumable on OPTIONS */
    reply(d, 204, RS_REPLY_TUS_OPTIONS, "tus discovery");
    return;
  }
  if (r->version == RS_FIELD_MALFORMED) {
    reply(d, 412, RS_REPLY_TUS_VERSION, "unsupported Tus-Resumable version (1.0.0 is spoken)");
    return;
  }
  if (r->op == RS_TUS_OP_OTHER) {
    reply(d, 405, RS_REPLY_NOT_ALLOWED, "method not allowed");
    return;
  }
  if (r->at == RS_TUS_AT_PREFIX && r->op != RS_TUS_OP_POST) {
    reply(d, 405, RS_REPLY_NOT_ALLOWED, "the creation URL takes POST (and OPTIONS) only");
    return;
  }
  if (r->at == RS_TUS_AT_PART && r->op == RS_TUS_OP_GET) {
    fail(d, 404, "an upload part has no file to get");
    return;
  }
  if (r->at == RS_TUS_AT_PART && r->op == RS_TUS_OP_POST) {
    fail(d, 400, "an upload part's URL takes no creation: POST to the prefix");
    return;
  }
  if (r->key != RS_KEY_OK && r->at != RS_TUS_AT_PART) {
    fail(d, 400, r->key_from_metadata ? "invalid key in Upload-Metadata" : "invalid key");
    return;
  }
  if (r->header_conflict) {
    fail(d, 400, r->conflict_reason ? r->conflict_reason : "repeated or conflicting header");
    return;
  }
  if (r->op == RS_TUS_OP_POST) {
    decide_create(r, d);
    return;
  }
  if (r->op == RS_TUS_OP_PATCH && patch_headers_bad(r, d))
    return;
  if (!st) {
    need_state(d);
    return;
  }
  decide_state(r, st, d);
}
