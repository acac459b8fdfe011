/* The draft dialect as a function (ietf_decide.h). Order: authentication, interop version
 * (400), OPTIONS, the draft's own header rules, then the stored state (offset 409, lengths,
 * a completed upload) and last the tus core for what both dialects share. */
#include "ietf_decide.h"

#include <string.h>

#include "resumable/store.h"

#define UNKNOWN RESUMABLE_LENGTH_UNKNOWN

const char *rs_ietf_problem_type(rs_ietf_problem p)
{
  switch (p) {
  case RS_IETF_PROBLEM_MISMATCHING_OFFSET:
    return "https://iana.org/assignments/http-problem-types#mismatching-upload-offset";
  case RS_IETF_PROBLEM_INCONSISTENT_LENGTH:
    return "https://iana.org/assignments/http-problem-types#inconsistent-upload-length";
  default:
    return "https://iana.org/assignments/http-problem-types#completed-upload";
  }
}

const char *rs_ietf_problem_title(rs_ietf_problem p)
{
  switch (p) {
  case RS_IETF_PROBLEM_MISMATCHING_OFFSET:
    return "offset from request does not match offset of resource";
  case RS_IETF_PROBLEM_INCONSISTENT_LENGTH:
    return "inconsistent length values for upload";
  default:
    return "upload is already completed";
  }
}

static void fail(rs_decision *d, int status, const char *reason)
{
  memset(d, 0, sizeof(*d));
  d->action = RS_ACT_REPLY;
  d->status = status;
  d->kind = RS_REPLY_TEXT;
  d->reason = reason;
}

static void problem(rs_decision *d, int status, rs_ietf_problem p, uint64_t held)
{
  fail(d, status, rs_ietf_problem_title(p));
  d->kind = RS_REPLY_IETF_PROBLEM;
  d->size = (uint64_t)p;
  d->held = held;
}

static int has_body(const rs_tus_request *r)
{
  return r->chunked || (r->body == RS_FIELD_OK && r->body_length > 0);
}

int rs_ietf_map(const rs_ietf_request *ir, rs_tus_request *t)
{
  /* the draft's Integers replace tus's decimal parse of the same header names */
  t->offset = ir->offset;
  t->length = ir->length;
  t->length_value = ir->length_value;
  t->defer = RS_FIELD_ABSENT;
  t->checksum = RS_FIELD_ABSENT; /* Upload-Checksum is tus's */
  t->concat = RS_TUS_CONCAT_NONE;
  t->concat_foreign = 0;
  t->version = RS_FIELD_ABSENT;
  if (t->op == RS_TUS_OP_PATCH)
    t->content_type = ir->content_type_ok ? RS_FIELD_OK : RS_FIELD_MALFORMED;
  else
    t->content_type = RS_FIELD_OK; /* a creation's Content-Type is the representation's */
  if (ir->repr == RS_FIELD_OK && t->hash == RS_FIELD_ABSENT)
    t->hash = RS_FIELD_OK; /* the caller copied the digest into t->sha256 */
  int inconsistent = 0;
  uint64_t start = t->op == RS_TUS_OP_POST ? 0 : t->offset_value;
  /* without Content-Length or chunked framing an HTTP/1.1 request has no content */
  int body_known = t->body == RS_FIELD_OK || (t->body == RS_FIELD_ABSENT && !t->chunked);
  uint64_t body_len = t->body == RS_FIELD_OK ? t->body_length : 0;
  if (ir->complete == RS_FIELD_OK && ir->complete_value && body_known &&
      (t->op == RS_TUS_OP_POST || t->offset == RS_FIELD_OK)) {
    uint64_t implied = start + body_len; /* both < 2^63 */
    if (t->length == RS_FIELD_OK && t->length_value != implied)
      inconsistent = 1;
    t->length = RS_FIELD_OK;
    t->length_value = implied;
  }
  if (t->length == RS_FIELD_OK && t->body == RS_FIELD_OK &&
      (t->op == RS_TUS_OP_POST || t->offset == RS_FIELD_OK) &&
      t->body_length > t->length_value - (start < t->length_value ? start : t->length_value))
    inconsistent = 1; /* the body goes past the length it states */
  if (t->op == RS_TUS_OP_POST && t->length != RS_FIELD_OK)
    t->defer = RS_FIELD_OK;
  return inconsistent;
}

/* The draft's rules for a request's own headers; 0 when usable. */
static int headers_bad(const rs_ietf_request *ir, const rs_tus_request *t, rs_decision *d)
{
  if (t->op != RS_TUS_OP_POST && t->op != RS_TUS_OP_PATCH)
    return 0;
  if (ir->complete != RS_FIELD_OK) {
    fail(d, 400,
         ir->complete == RS_FIELD_ABSENT ? "Upload-Complete is required"
                                         : "malformed Upload-Complete (?0 or ?1)");
    return 1;
  }
  if (ir->length == RS_FIELD_MALFORMED) {
    fail(d, 400, "malformed Upload-Length (a non-negative Integer)");
    return 1;
  }
  if (t->op == RS_TUS_OP_PATCH && ir->offset != RS_FIELD_OK) {
    fail(d, 400,
         ir->offset == RS_FIELD_ABSENT ? "Upload-Offset is required"
                                       : "malformed Upload-Offset (a non-negative Integer)");
    return 1;
  }
  if (ir->repr == RS_FIELD_MALFORMED) {
    fail(d, 400, "malformed Repr-Digest (sha-256=:<base64 of 32 bytes>:)");
    return 1;
  }
  if (ir->repr_conflict) {
    fail(d, 400, "Repr-Digest and X-Content-SHA256 differ");
    return 1;
  }
  if (t->op == RS_TUS_OP_PATCH && !ir->content_type_ok) {
    fail(d, 415,
         ir->version_value == RS_IETF_VERSION_LATEST
             ? "PATCH needs Content-Type: application/partial-upload"
             : "PATCH takes Content-Type: application/partial-upload (or none)");
    return 1;
  }
  if (ir->inconsistent) {
    problem(d, 400, RS_IETF_PROBLEM_INCONSISTENT_LENGTH, 0);
    return 1;
  }
  if (ir->complete_value && t->length != RS_FIELD_OK && t->op == RS_TUS_OP_POST) {
    fail(d, 400, "Upload-Complete: ?1 needs Content-Length or Upload-Length");
    return 1;
  }
  return 0;
}

/* A PATCH against the stored state, where the draft's answers differ from tus's; 1 when
 * decided here. */
static int patch_state(const rs_ietf_request *ir, const rs_tus_request *t, const rs_stored *st,
                       rs_decision *d)
{
  if (!st->partial && st->complete) { /* the offset first, as for a partial */
    if (t->offset_value != st->size)
      problem(d, 409, RS_IETF_PROBLEM_MISMATCHING_OFFSET, st->size);
    else if (has_body(t) || (t->length == RS_FIELD_OK && t->length_value != st->size))
      problem(d, 400, RS_IETF_PROBLEM_INCONSISTENT_LENGTH, st->size);
    else
      problem(d, 400, RS_IETF_PROBLEM_COMPLETED_UPLOAD, st->size);
    return 1;
  }
  if (!st->partial || st->expired)
    return 0; /* 404 / 410 as tus says */
  if (t->hash == RS_FIELD_OK && (!st->has_target || memcmp(t->sha256, st->target, 32) != 0))
    return 0; /* the binding rule is the tus one (409, the partial dropped) */
  if (t->offset_value != st->held) {
    problem(d, 409, RS_IETF_PROBLEM_MISMATCHING_OFFSET, st->held);
    return 1;
  }
  if (t->length == RS_FIELD_OK && st->total != UNKNOWN && t->length_value != st->total) {
    problem(d, 400, RS_IETF_PROBLEM_INCONSISTENT_LENGTH, st->held);
    return 1;
  }
  if (t->length == RS_FIELD_OK && t->length_value < st->held) {
    problem(d, 400, RS_IETF_PROBLEM_INCONSISTENT_LENGTH, st->held);
    return 1;
  }
  uint64_t total = t->length == RS_FIELD_OK ? t->length_value : st->total;
  if (total != UNKNOWN && t->body == RS_FIELD_OK && t->body_length > total - st->held) {
    problem(d, 400, RS_IETF_PROBLEM_INCONSISTENT_LENGTH, st->held);
    return 1;
  }
  if (ir->complete_value && total == UNKNOWN) {
    fail(d, 400, "Upload-Complete: ?1 needs Content-Length or Upload-Length");
    return 1;
  }
  return 0;
}

void rs_ietf_decide(const rs_ietf_request *ir, const rs_tus_request *t, const rs_stored *st,
                    rs_decision *d)
{
  memset(d, 0, sizeof(*d));
  if (!t->auth_ok) {
    rs_tus_decide(t, st, d); /* 401 */
    return;
  }
  if (ir->version != RS_FIELD_OK) {
    fail(d, 400, "unsupported Upload-Draft-Interop-Version (6 and 8 are spoken)");
    return;
  }
  if (t->op == RS_TUS_OP_OPTIONS) {
    rs_tus_decide(t, st, d); /* the limits */
    return;
  }
  /* method, URL, key and repeated headers first, as tus judges them */
  rs_tus_decide(t, NULL, d);
  if (d->action == RS_ACT_REPLY &&
      (d->status == 401 || d->status == 405 || d->status == 404 ||
       (d->status == 400 && (t->key != RS_KEY_OK || t->header_conflict))))
    return;
  if (headers_bad(ir, t, d))
    return;
  if (st && t->op == RS_TUS_OP_PATCH && patch_state(ir, t, st, d))
    return;
  rs_tus_decide(t, st, d);
}
