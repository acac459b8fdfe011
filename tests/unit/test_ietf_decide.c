/* The IETF draft decision core (lib/ietf_decide.c): the mapping of the draft's fields onto the
 * tus request (implied and deferred lengths, inconsistencies within a request), the order of
 * the checks, and PATCH against every stored state (409 with the offset held, the problem
 * types, a complete upload). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ietf_decide.h"
#include "resumable/store.h"

#define UNKNOWN RESUMABLE_LENGTH_UNKNOWN

typedef struct draft {
  rs_ietf_request ir;
  rs_tus_request t;
} draft;

/* A request of `op` at a key, interop version 8, Upload-Complete `complete` (-1: absent), with
 * a body of `body` bytes (Content-Length). */
static draft make(rs_tus_op op, int complete, uint64_t body)
{
  draft q;
  memset(&q, 0, sizeof q);
  q.ir.version = RS_FIELD_OK;
  q.ir.version_value = RS_IETF_VERSION_LATEST;
  q.ir.content_type_ok = 1;
  if (complete >= 0) {
    q.ir.complete = RS_FIELD_OK;
    q.ir.complete_value = complete;
  }
  q.t.op = op;
  q.t.auth_ok = 1;
  q.t.at = RS_TUS_AT_KEY;
  q.t.key = RS_KEY_OK;
  q.t.body = RS_FIELD_OK;
  q.t.body_length = body;
  return q;
}

static void set_offset(draft *q, uint64_t off)
{
  q->ir.offset = RS_FIELD_OK;
  q->t.offset_value = off;
}

static void set_length(draft *q, uint64_t len)
{
  q->ir.length = RS_FIELD_OK;
  q->ir.length_value = len;
}

static void judge(draft *q, const rs_stored *st, rs_decision *d)
{
  q->ir.inconsistent = rs_ietf_map(&q->ir, &q->t);
  rs_ietf_decide(&q->ir, &q->t, st, d);
}

static rs_stored partial(uint64_t held, uint64_t total)
{
  rs_stored s;
  memset(&s, 0, sizeof s);
  s.partial = 1;
  s.held = held;
  s.total = total;
  return s;
}

static rs_stored complete(uint64_t size)
{
  rs_stored s;
  memset(&s, 0, sizeof s);
  s.complete = 1;
  s.size = size;
  return s;
}

static void creation_lengths(void **state)
{
  (void)state;
  rs_decision d;
  draft q = make(RS_TUS_OP_POST, 1, 10); /* ?1: the content is the file */
  judge(&q, NULL, &d);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_true(d.total == 10);
  q = make(RS_TUS_OP_POST, 0, 10); /* ?0 without a length: deferred */
  judge(&q, NULL, &d);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_true(d.total == UNKNOWN);
  q = make(RS_TUS_OP_POST, 0, 10);
  set_length(&q, 100);
  judge(&q, NULL, &d);
  assert_true(d.action == RS_ACT_APPEND && d.total == 100);
  q = make(RS_TUS_OP_POST, 1, 10); /* ?1 and a length that disagrees */
  set_length(&q, 100);
  judge(&q, NULL, &d);
  assert_int_equal(d.status, 400);
  assert_int_equal(d.kind, RS_REPLY_IETF_PROBLEM);
  assert_true(d.size == RS_IETF_PROBLEM_INCONSISTENT_LENGTH);
  q = make(RS_TUS_OP_POST, 0, 10); /* content past the length */
  set_length(&q, 5);
  judge(&q, NULL, &d);
  assert_true(d.status == 400 && d.size == RS_IETF_PROBLEM_INCONSISTENT_LENGTH);
  q = make(RS_TUS_OP_POST, 1, 0); /* ?1, chunked, no length: where does it end? */
  q.t.body = RS_FIELD_ABSENT;
  q.t.chunked = 1;
  judge(&q, NULL, &d);
  assert_int_equal(d.status, 400);
  q = make(RS_TUS_OP_POST, 1, 0); /* no framing header at all: empty */
  q.t.body = RS_FIELD_ABSENT;
  judge(&q, NULL, &d);
  assert_true(d.action == RS_ACT_APPEND && d.total == 0);
}

static void order_of_checks(void **state)
{
  (void)state;
  rs_decision d;
  draft q = make(RS_TUS_OP_POST, -1, 10);
  q.t.auth_ok = 0;
  q.ir.version = RS_FIELD_MALFORMED;
  judge(&q, NULL, &d);
  assert_int_equal(d.status, 401); /* authentication first */
  q = make(RS_TUS_OP_OPTIONS, -1, 0);
  q.ir.version = RS_FIELD_MALFORMED;
  judge(&q, NULL, &d);
  assert_int_equal(d.status, 400); /* then the version, OPTIONS included */
  q = make(RS_TUS_OP_OPTIONS, -1, 0);
  judge(&q, NULL, &d);
  assert_int_equal(d.kind, RS_REPLY_TUS_OPTIONS);
  q = make(RS_TUS_OP_POST, -1, 10);
  judge(&q, NULL, &d);
  assert_int_equal(d.status, 400); /* Upload-Complete is required */
  q = make(RS_TUS_OP_PATCH, 0, 10);
  judge(&q, NULL, &d);
  assert_int_equal(d.status, 400); /* so is Upload-Offset */
  q = make(RS_TUS_OP_PATCH, 0, 10);
  set_offset(&q, 0);
  q.ir.content_type_ok = 0;
  judge(&q, NULL, &d);
  assert_int_equal(d.status, 415);
  q = make(RS_TUS_OP_POST, 1, 10);
  q.ir.repr = RS_FIELD_MALFORMED;
  judge(&q, NULL, &d);
  assert_int_equal(d.status, 400);
  q = make(RS_TUS_OP_PATCH, 0, 10);
  set_offset(&q, 0);
  judge(&q, NULL, &d);
  assert_int_equal(d.action, RS_ACT_NEED_STATE); /* nothing is wrong without the state */
}

static void patch_against_the_state(void **state)
{
  (void)state;
  rs_decision d;
  rs_stored st = partial(5, 10);
  draft q = make(RS_TUS_OP_PATCH, 1, 7);
  set_offset(&q, 3); /* wrong offset: 409 with the offset held, before the lengths */
  judge(&q, &st, &d);
  assert_int_equal(d.status, 409);
  assert_true(d.size == RS_IETF_PROBLEM_MISMATCHING_OFFSET && d.held == 5);
  q = make(RS_TUS_OP_PATCH, 1, 3); /* completes at 8 of 10 */
  set_offset(&q, 5);
  judge(&q, &st, &d);
  assert_true(d.status == 400 && d.size == RS_IETF_PROBLEM_INCONSISTENT_LENGTH);
  q = make(RS_TUS_OP_PATCH, 0, 6); /* past the length */
  set_offset(&q, 5);
  judge(&q, &st, &d);
  assert_true(d.status == 400 && d.size == RS_IETF_PROBLEM_INCONSISTENT_LENGTH);
  q = make(RS_TUS_OP_PATCH, 0, 5); /* ?0 that reaches the length: appended, it completes */
  set_offset(&q, 5);
  judge(&q, &st, &d);
  assert_true(d.action == RS_ACT_APPEND && d.held == 5 && d.total == 10);
  rs_stored deferred = partial(5, UNKNOWN);
  q = make(RS_TUS_OP_PATCH, 1, 2); /* a deferred length becomes known */
  set_offset(&q, 5);
  judge(&q, &deferred, &d);
  assert_true(d.action == RS_ACT_APPEND && d.total == 7 && (d.flags & RS_SET_TOTAL));
  q = make(RS_TUS_OP_PATCH, 1, 0); /* ?1, chunked, length still unknown */
  q.t.body = RS_FIELD_ABSENT;
  q.t.chunked = 1;
  set_offset(&q, 5);
  judge(&q, &deferred, &d);
  assert_int_equal(d.status, 400);
}

static void patch_to_a_complete_upload(void **state)
{
  (void)state;
  rs_decision d;
  rs_stored st = complete(10);
  draft q = make(RS_TUS_OP_PATCH, 1, 1);
  set_offset(&q, 10);
  judge(&q, &st, &d);
  assert_true(d.status == 400 && d.size == RS_IETF_PROBLEM_INCONSISTENT_LENGTH);
  q = make(RS_TUS_OP_PATCH, 1, 0);
  set_offset(&q, 4);
  judge(&q, &st, &d);
  assert_true(d.status == 409 && d.held == 10);
  q = make(RS_TUS_OP_PATCH, 1, 0);
  set_offset(&q, 10);
  judge(&q, &st, &d);
  assert_true(d.status == 400 && d.size == RS_IETF_PROBLEM_COMPLETED_UPLOAD);
  rs_stored nothing;
  memset(&nothing, 0, sizeof nothing);
  judge(&q, &nothing, &d);
  assert_int_equal(d.status, 404);
}

static void problem_types_are_the_registered_ones(void **state)
{
  (void)state;
  assert_string_equal(rs_ietf_problem_type(RS_IETF_PROBLEM_MISMATCHING_OFFSET),
                      "https://iana.org/assignments/http-problem-types#mismatching-upload-offset");
  assert_string_equal(rs_ietf_problem_type(RS_IETF_PROBLEM_INCONSISTENT_LENGTH),
                      "https://iana.org/assignments/http-problem-types#inconsistent-upload-length");
  assert_string_equal(rs_ietf_problem_type(RS_IETF_PROBLEM_COMPLETED_UPLOAD),
                      "https://iana.org/assignments/http-problem-types#completed-upload");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(creation_lengths),
      cmocka_unit_test(order_of_checks),
      cmocka_unit_test(patch_against_the_state),
      cmocka_unit_test(patch_to_a_complete_upload),
      cmocka_unit_test(problem_types_are_the_registered_ones),
  };
  return cmocka_run_group_tests_name("ietf_decide", tests, NULL, NULL);
}
