/* Fuzz the pure decision core (lib/decide.h): rs_decide and rs_decide_end.
 *
 * The input bytes are decoded into request facts and a stored state. Numbers come from a small
 * pool (0..5, the maximum size and its neighbours, 2^63-1) or raw bytes, and hashes from three
 * fixed digests, so that the equalities the protocol turns on (start == held, total == size,
 * same hash) happen often. Facts are shaped as the handler produces them: a parsed range has
 * start <= end < total <= 2^63-1, and a stored partial has held <= total.
 *
 * Invariants, from PROTOCOL.md:
 * - 401 whenever authentication failed, before anything else; then 400 for a bad key, 405 for
 *   another method, 400 for a conflicting header; nothing of these needs the stored state.
 * - rs_decide without a state either asks for it or gives the same answer as with any state.
 * - PUT with a range: 400 for a malformed range/hash/length; 413 (and never 2xx/308/an append)
 *   when total > max; 416 only when start != held (held 0 without a partial), carrying that
 *   held and the request's total; 409 only against an existing partial, which it drops; an
 *   append starts exactly at held, creates a partial only from 0; "already there" 200 only for
 *   a complete file of that size (and that hash, always for a chunk); finish only when the
 *   partial holds every byte.
 * - HEAD/GET/DELETE follow the state tables; only DELETE ever removes a complete file.
 * - rs_decide_end: 400 for a short or long body, 400 and drop on a final hash mismatch, 200
 *   finish when held == total, else 308 with held.
 * - Pure: the same facts give the same decision. */
#include <string.h>

#include "decide.h"
#include "fuzz_check.h"

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t rd_u8(reader *r)
{
  if (r->n == 0)
    return 0;
  r->n--;
  return *r->p++;
}

static uint64_t rd_u64(reader *r)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | rd_u8(r);
  return v;
}

static const uint8_t hashes[3][32] = {{0x01}, {0x02}, {0xff, 0xee}};

static void rd_hash(reader *r, uint8_t out[32])
{
  memcpy(out, hashes[rd_u8(r) % 3], 32);
}

/* A number <= 2^63 biased towards the values the rules compare. */
static uint64_t rd_num(reader *r, uint64_t max_size)
{
  uint8_t sel = rd_u8(r);
  switch (sel % 12) {
  case 6:
    return (uint64_t)INT64_MAX;
  case 7:
    return (uint64_t)INT64_MAX - 1;
  case 8:
    return max_size;
  case 9:
    return max_size + 1;
  case 10:
    return rd_u64(r) & (uint64_t)INT64_MAX;
  case 11:
    return rd_u8(r);
  default:
    return sel % 12; /* 0..5 */
  }
}

static rs_field rd_field(reader *r)
{
  return (rs_field)(rd_u8(r) % 3);
}

static void rd_request(reader *r, rs_request *q)
{
  static const uint64_t maxes[] = {0, 1, 3, 100, (uint64_t)INT64_MAX};
  uint8_t bits = rd_u8(r);

  memset(q, 0, sizeof *q);
  q->method = (rs_method)(rd_u8(r) % 5);
  q->auth_ok = (bits & 0x7) != 0; /* mostly authenticated */
  q->key = (bits & 0x38) == 0 ? (rs_key_status)(rd_u8(r) % 7) : RS_KEY_OK;
  q->header_conflict = (bits & 0xc0) == 0xc0;
  q->conflict_reason = (bits & 0x40) && (bits & 0x8) ? "conflicting Content-Length" : NULL;
  q->max_size = maxes[rd_u8(r) % 5];
  if (q->max_size == 100)
    q->max_size = rd_u64(r) & (uint64_t)INT64_MAX;
  q->range = rd_field(r);
  if (q->range == RS_FIELD_OK) {
    q->cr.is_query = rd_u8(r) % 4 == 0;
    q->cr.total = rd_num(r, q->max_size) & (uint64_t)INT64_MAX;
    if (!q->cr.is_query) {
      if (q->cr.total == 0)
        q->cr.total = 1;
      q->cr.start = rd_num(r, q->max_size) % q->cr.total;
      q->cr.end = q->cr.start + rd_num(r, q->max_size) % (q->cr.total - q->cr.start);
    }
  }
  q->hash = rd_field(r);
  if (q->hash == RS_FIELD_OK)
    rd_hash(r, q->sha256);
  q->length = rd_field(r);
  if (q->length == RS_FIELD_OK) {
    /* usually the length the range announces, so later steps are reached */
    uint8_t how = rd_u8(r);
    if (q->range == RS_FIELD_OK && !q->cr.is_query && how % 4 != 0)
      q->content_length = q->cr.end - q->cr.start + 1;
    else
      q->content_length = rd_num(r, q->max_size);
  } else if (q->length == RS_FIELD_ABSENT) {
    q->chunked = rd_u8(r) % 2;
  }
}

static void rd_stored(reader *r, uint64_t max_size, rs_stored *s)
{
  uint8_t bits = rd_u8(r);

  memset(s, 0, sizeof *s);
  s->complete = bits & 1;
  if (s->complete) {
    s->size = rd_num(r, max_size) & (uint64_t)INT64_MAX;
    rd_hash(r, s->sha256);
  }
  s->partial = (bits >> 1) & 1;
  if (s->partial) {
    s->total = rd_num(r, max_size) & (uint64_t)INT64_MAX;
    s->held = (bits & 4) ? s->total : rd_num(r, max_size) % (s->total + 1);
    s->has_target = (bits >> 3) & 1;
    if (s->has_target)
      rd_hash(r, s->target);
  }
}

static int same_decision(const rs_decision *a, const rs_decision *b)
{
  return a->status == b->status && a->action == b->action && a->kind == b->kind &&
         a->flags == b->flags && a->held == b->held && a->total == b->total && a->size == b->size &&
         (a->reason == NULL) == (b->reason == NULL) &&
         (a->reason == NULL || strcmp(a->reason, b->reason) == 0);
}

static int known_status(int s)
{
  static const int ok[] = {0, 200, 204, 308, 400, 401, 404, 405, 409, 413, 416};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (s == ok[i])
      return 1;
  return 0;
}

static void check_shape(const rs_decision *d)
{
  FUZZ_CHECK(known_status(d->status));
  FUZZ_CHECK(rs_status_text(d->status) != NULL);
  FUZZ_CHECK((d->flags & ~(RS_DROP_PARTIAL | RS_CREATE_PARTIAL)) == 0);
  if (d->action == RS_ACT_REPLY || d->action == RS_ACT_PROBE)
    FUZZ_CHECK(d->status != 0 && d->reason != NULL);
  if (d->action == RS_ACT_APPEND || d->action == RS_ACT_STAGE || d->action == RS_ACT_NEED_STATE)
    FUZZ_CHECK(d->status == 0); /* decided by the body (or by the state) */
  if (d->status == 401)
    FUZZ_CHECK(d->kind == RS_REPLY_UNAUTHORIZED);
  if (d->status == 405)
    FUZZ_CHECK(d->kind == RS_REPLY_NOT_ALLOWED);
  if (d->status == 416)
    FUZZ_CHECK(d->kind == RS_REPLY_RANGE_WRONG);
  if (d->flags & RS_CREATE_PARTIAL)
    FUZZ_CHECK(d->action == RS_ACT_APPEND);
}

/* Steps 1-7 of PUT with a Content-Range. */
static void check_put_range(const rs_request *q, const rs_stored *s, const rs_decision *d)
{
  const rs_content_range *cr = &q->cr;
  int over = q->range == RS_FIELD_OK && q->max_size != 0 && cr->total > q->max_size;
  int same = q->hash == RS_FIELD_OK && s->has_target && memcmp(q->sha256, s->target, 32) == 0 &&
             cr->total == s->total;

  if (q->range == RS_FIELD_MALFORMED || q->hash == RS_FIELD_MALFORMED ||
      q->length == RS_FIELD_MALFORMED) {
    FUZZ_CHECK(d->status == 400 && d->action == RS_ACT_REPLY);
    return;
  }
  if (over) {
    FUZZ_CHECK(d->status == 413 && d->action == RS_ACT_REPLY && d->flags == 0);
    return;
  }
  FUZZ_CHECK(d->action != RS_ACT_STAGE && d->action != RS_ACT_SERVE && d->action != RS_ACT_DELETE &&
             d->action != RS_ACT_PROBE);
  if (d->status == 409) {
    FUZZ_CHECK(s->partial && (d->flags & RS_DROP_PARTIAL));
    FUZZ_CHECK(cr->is_query || cr->start > 0);
    FUZZ_CHECK(cr->total != s->total || q->hash == RS_FIELD_OK);
  }
  if (d->flags & RS_DROP_PARTIAL)
    FUZZ_CHECK(s->partial && d->status != 416 && d->action != RS_ACT_FINISH);
  if (cr->is_query) {
    FUZZ_CHECK(d->status != 416 && d->action != RS_ACT_APPEND);
    if (d->status == 308)
      FUZZ_CHECK(d->held == (s->partial ? s->held : 0) && d->kind == RS_REPLY_INCOMPLETE);
    if (q->length == RS_FIELD_OK && q->content_length != 0)
      FUZZ_CHECK(d->status == 400);
  } else {
    FUZZ_CHECK(d->status != 308);
    if (q->length == RS_FIELD_OK && q->content_length != cr->end - cr->start + 1)
      FUZZ_CHECK(d->status == 400); /* step 3 */
  }
  int partial_kept = s->partial && !(d->flags & RS_DROP_PARTIAL);
  if (d->status == 416) {
    uint64_t held = partial_kept ? s->held : 0;
    FUZZ_CHECK(cr->start != held && d->held == held && d->total == cr->total);
  }
  if (d->action == RS_ACT_APPEND) {
    FUZZ_CHECK(!cr->is_query && d->held == cr->start);
    FUZZ_CHECK(cr->end < cr->total); /* so held stays <= total after the chunk */
    if (partial_kept) /* continuing: same total, a hash only if it is the bound one */
      FUZZ_CHECK(cr->total == s->total && s->held == cr->start && s->held < s->total &&
                 !(d->flags & RS_CREATE_PARTIAL));
    else
      FUZZ_CHECK(cr->start == 0 && (d->flags & RS_CREATE_PARTIAL));
    if (partial_kept && q->hash == RS_FIELD_OK)
      FUZZ_CHECK(s->has_target && memcmp(q->sha256, s->target, 32) == 0);
  }
  if (d->action == RS_ACT_FINISH) {
    FUZZ_CHECK(s->partial && s->held == s->total && d->held == s->held);
    FUZZ_CHECK(cr->is_query ? cr->total == s->total : (cr->start == 0 && same));
  }
  if (d->status == 200 && d->action == RS_ACT_REPLY) { /* already there */
    FUZZ_CHECK(d->kind == RS_REPLY_DONE && s->complete && s->size == cr->total);
    FUZZ_CHECK(d->size == s->size && !partial_kept);
    if (!cr->is_query)
      FUZZ_CHECK(cr->start == 0 && q->hash == RS_FIELD_OK);
    if (q->hash == RS_FIELD_OK)
      FUZZ_CHECK(memcmp(q->sha256, s->sha256, 32) == 0);
  }
}

static void check_with_state(const rs_request *q, const rs_stored *s, const rs_decision *d)
{
  check_shape(d);
  FUZZ_CHECK(d->action != RS_ACT_NEED_STATE);
  if (!q->auth_ok) {
    FUZZ_CHECK(d->status == 401 && d->action == RS_ACT_REPLY && d->flags == 0);
    return;
  }
  if (q->key != RS_KEY_OK) {
    FUZZ_CHECK(d->status == 400 && d->action == RS_ACT_REPLY && d->flags == 0);
    return;
  }
  if (q->method == RS_METHOD_OTHER) {
    FUZZ_CHECK(d->status == 405 && d->action == RS_ACT_REPLY);
    return;
  }
  if (q->header_conflict) {
    FUZZ_CHECK(d->status == 400 && d->action == RS_ACT_REPLY && d->flags == 0);
    if (q->conflict_reason)
      FUZZ_CHECK(strcmp(d->reason, q->conflict_reason) == 0);
    return;
  }
  FUZZ_CHECK(d->status != 401 && d->status != 405);
  FUZZ_CHECK(d->action != RS_ACT_DELETE || q->method == RS_METHOD_DELETE);
  switch (q->method) {
  case RS_METHOD_HEAD:
    if (s->partial)
      FUZZ_CHECK(d->status == 200 && d->kind == RS_REPLY_HEAD_PARTIAL && d->held == s->held &&
                 d->total == s->total);
    else if (s->complete)
      FUZZ_CHECK(d->status == 200 && d->kind == RS_REPLY_HEAD_COMPLETE && d->size == s->size);
    else
      FUZZ_CHECK(d->status == 404);
    FUZZ_CHECK(d->flags == 0);
    break;
  case RS_METHOD_GET:
    FUZZ_CHECK(s->complete ? (d->action == RS_ACT_SERVE && d->size == s->size)
                           : d->status == 404); /* 404 even while a partial exists */
    FUZZ_CHECK(d->flags == 0);
    break;
  case RS_METHOD_DELETE:
    FUZZ_CHECK((s->complete || s->partial) ? (d->status == 204 && d->action == RS_ACT_DELETE)
                                           : d->status == 404);
    break;
  case RS_METHOD_PUT:
    if (q->range != RS_FIELD_ABSENT) {
      check_put_range(q, s, d);
    } else if (q->hash == RS_FIELD_MALFORMED || q->length == RS_FIELD_MALFORMED) {
      FUZZ_CHECK(d->status == 400);
    } else if (q->max_size && q->length == RS_FIELD_OK && q->content_length > q->max_size) {
      FUZZ_CHECK(d->status == 413 && d->flags == 0);
    } else {
      FUZZ_CHECK(d->action == RS_ACT_STAGE && (d->flags & RS_DROP_PARTIAL));
    }
    break;
  default:
    FUZZ_CHECK(0);
  }
}

/* Without a state: ask for it, or answer exactly as with any state. */
static void check_without_state(const rs_request *q, const rs_decision *none,
                                const rs_decision *with)
{
  check_shape(none);
  if (none->action == RS_ACT_NEED_STATE)
    return;
  FUZZ_CHECK(same_decision(none, with));
  FUZZ_CHECK(none->status == 401 || none->status == 400 || none->status == 405 ||
             none->status == 413 || none->action == RS_ACT_STAGE);
  if (!q->auth_ok || q->key != RS_KEY_OK || q->method == RS_METHOD_OTHER || q->header_conflict)
    return;
  FUZZ_CHECK(q->method == RS_METHOD_PUT); /* HEAD/GET/DELETE always need the state */
}

static void fuzz_end(reader *r)
{
  uint64_t received = rd_num(r, 10), expected = rd_num(r, 10);
  uint64_t total = rd_num(r, 10) & (uint64_t)INT64_MAX;
  uint64_t held = (rd_u8(r) & 1) ? total : rd_num(r, 10) % (total + 1);
  int known = rd_u8(r) & 1;
  rs_digest digest = (rs_digest)(rd_u8(r) % 3);
  rs_decision d, again;

  rs_decide_end(received, known, expected, held, total, digest, &d);
  rs_decide_end(received, known, expected, held, total, digest, &again);
  FUZZ_CHECK(same_decision(&d, &again));
  check_shape(&d);
  if (known && received != expected) {
    FUZZ_CHECK(d.status == 400 && d.action == RS_ACT_REPLY);
  } else if (held == total && digest == RS_DIGEST_MISMATCH) {
    FUZZ_CHECK(d.status == 400 && (d.flags & RS_DROP_PARTIAL));
  } else if (held == total) {
    FUZZ_CHECK(d.status == 200 && d.action == RS_ACT_FINISH && d.kind == RS_REPLY_DONE &&
               d.size == total);
  } else {
    FUZZ_CHECK(d.status == 308 && d.held == held && d.kind == RS_REPLY_INCOMPLETE);
  }
  if (d.status != 400)
    FUZZ_CHECK(!(d.flags & RS_DROP_PARTIAL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  reader r = {data, size};
  rs_request q;
  rs_stored s;
  rs_decision none, with, again;

  rd_request(&r, &q);
  rd_stored(&r, q.max_size, &s);
  rs_decide(&q, NULL, &none);
  rs_decide(&q, &s, &with);
  rs_decide(&q, &s, &again);
  FUZZ_CHECK(same_decision(&with, &again)); /* pure */
  check_with_state(&q, &s, &with);
  check_without_state(&q, &none, &with);
  fuzz_end(&r);
  return 0;
}
