/* The decision core against PROTOCOL.md: every PUT step, the HEAD table, the status query,
 * legacy PUT, and the order of checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"

static const uint8_t H1[32] = {0x11, 0x11, 0x11};
static const uint8_t H2[32] = {0x22, 0x22, 0x22};

static rs_request base(rs_method m)
{
  rs_request r;
  memset(&r, 0, sizeof(r));
  r.method = m;
  r.auth_ok = 1;
  r.key = RS_KEY_OK;
  return r;
}

/* PUT bytes s-e/t with a matching Content-Length and hash H1. */
static rs_request chunk(uint64_t s, uint64_t e, uint64_t t)
{
  rs_request r = base(RS_METHOD_PUT);
  r.range = RS_FIELD_OK;
  r.cr.start = s;
  r.cr.end = e;
  r.cr.total = t;
  r.hash = RS_FIELD_OK;
  memcpy(r.sha256, H1, 32);
  r.length = RS_FIELD_OK;
  r.content_length = e - s + 1;
  return r;
}

static rs_request query(uint64_t t)
{
  rs_request r = chunk(0, 0, t);
  r.cr.is_query = 1;
  r.content_length = 0;
  return r;
}

static rs_request whole(uint64_t len)
{
  rs_request r = base(RS_METHOD_PUT);
  r.length = RS_FIELD_OK;
  r.content_length = len;
  return r;
}

static rs_stored absent(void)
{
  rs_stored s;
  memset(&s, 0, sizeof(s));
  return s;
}

static rs_stored with_partial(rs_stored s, uint64_t total, uint64_t held, const uint8_t *target)
{
  s.partial = 1;
  s.total = total;
  s.held = held;
  s.has_target = target != NULL;
  if (target)
    memcpy(s.target, target, 32);
  return s;
}

static rs_stored with_complete(rs_stored s, uint64_t size, const uint8_t *sha)
{
  s.complete = 1;
  s.size = size;
  memcpy(s.sha256, sha, 32);
  return s;
}

static rs_decision judge(const rs_request *r, const rs_stored *s)
{
  rs_decision d;
  rs_decide(r, s, &d);
  return d;
}

/* Decisions from headers alone must not need the state. */
static rs_decision judge_stateless(const rs_request *r)
{
  rs_decision d = judge(r, NULL);
  assert_int_not_equal(d.action, RS_ACT_NEED_STATE);
  return d;
}

/* ---- authentication, key, method ---- */

static void decide_unauthenticated_is_401_before_key(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 10);
  r.auth_ok = 0;
  r.key = RS_KEY_BAD_SEGMENT;
  r.range = RS_FIELD_MALFORMED;
  rs_decision d = judge_stateless(&r);
  assert_int_equal(d.status, 401);
  assert_int_equal(d.kind, RS_REPLY_UNAUTHORIZED);
  assert_int_equal(d.flags, 0);
}

static void decide_unauthenticated_other_method_is_401(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_OTHER);
  r.auth_ok = 0;
  assert_int_equal(judge_stateless(&r).status, 401);
}

static void decide_bad_key_is_400_before_method(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_OTHER);
  r.key = RS_KEY_RESERVED;
  rs_decision d = judge_stateless(&r);
  assert_int_equal(d.status, 400);
  assert_int_equal(d.action, RS_ACT_REPLY);
}

static void decide_other_method_is_405_with_allow(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_OTHER);
  rs_decision d = judge_stateless(&r);
  assert_int_equal(d.status, 405);
  assert_int_equal(d.kind, RS_REPLY_NOT_ALLOWED);
}

static void decide_conflicting_headers_is_400(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 10);
  r.header_conflict = 1;
  r.conflict_reason = "repeated Content-Range";
  rs_decision d = judge_stateless(&r);
  assert_int_equal(d.status, 400);
  assert_string_equal(d.reason, "repeated Content-Range");
}

/* ---- HEAD ---- */

static void decide_head_needs_state(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_HEAD);
  assert_int_equal(judge(&r, NULL).action, RS_ACT_NEED_STATE);
}

static void decide_head_absent_is_404(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_HEAD);
  rs_stored s = absent();
  assert_int_equal(judge(&r, &s).status, 404);
}

static void decide_head_partial_reports_held_and_total(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_HEAD);
  rs_stored s = with_partial(absent(), 100, 40, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.action, RS_ACT_PROBE);
  assert_int_equal(d.kind, RS_REPLY_HEAD_PARTIAL);
  assert_int_equal(d.held, 40);
  assert_int_equal(d.total, 100);
}

static void decide_head_partial_wins_over_complete(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_HEAD);
  rs_stored s = with_partial(with_complete(absent(), 7, H2), 100, 40, NULL);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.kind, RS_REPLY_HEAD_PARTIAL);
  assert_int_equal(d.held, 40);
}

static void decide_head_complete_reports_size(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_HEAD);
  rs_stored s = with_complete(absent(), 77, H2);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.kind, RS_REPLY_HEAD_COMPLETE);
  assert_int_equal(d.size, 77);
}

/* ---- GET, DELETE ---- */

static void decide_get_complete_serves(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_GET);
  rs_stored s = with_complete(absent(), 5, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_SERVE);
  assert_int_equal(d.size, 5);
}

static void decide_get_only_partial_is_404(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_GET);
  rs_stored s = with_partial(absent(), 10, 5, H1);
  assert_int_equal(judge(&r, &s).status, 404);
}

static void decide_delete_existing_is_204_and_drops(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_DELETE);
  rs_stored s = with_partial(absent(), 10, 5, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 204);
  assert_int_equal(d.action, RS_ACT_DELETE);
  assert_true(d.flags & RS_DROP_PARTIAL);
}

static void decide_delete_absent_is_404(void **st)
{
  (void)st;
  rs_request r = base(RS_METHOD_DELETE);
  rs_stored s = absent();
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 404);
  assert_int_equal(d.action, RS_ACT_REPLY);
}

/* ---- PUT with Content-Range: the numbered steps ---- */

static void decide_malformed_range_is_400(void **st) /* 1 */
{
  (void)st;
  rs_request r = chunk(0, 9, 10);
  r.range = RS_FIELD_MALFORMED;
  rs_decision d = judge_stateless(&r);
  assert_int_equal(d.status, 400);
  assert_string_equal(d.reason, "malformed Content-Range");
}

static void decide_malformed_hash_is_400(void **st) /* 1 */
{
  (void)st;
  rs_request r = chunk(0, 9, 10);
  r.hash = RS_FIELD_MALFORMED;
  assert_int_equal(judge_stateless(&r).status, 400);
}

static void decide_malformed_range_beats_413(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 1000);
  r.range = RS_FIELD_MALFORMED;
  r.max_size = 10;
  assert_int_equal(judge_stateless(&r).status, 400);
}

static void decide_total_over_max_is_413(void **st) /* 2 */
{
  (void)st;
  rs_request r = chunk(0, 9, 1000);
  r.max_size = 999;
  assert_int_equal(judge_stateless(&r).status, 413);
}

static void decide_total_at_max_is_accepted(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 1000);
  r.max_size = 1000;
  rs_stored s = absent();
  assert_int_equal(judge(&r, &s).action, RS_ACT_APPEND);
}

static void decide_413_beats_length_mismatch(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 1000);
  r.max_size = 100;
  r.content_length = 3;
  assert_int_equal(judge_stateless(&r).status, 413);
}

static void decide_length_mismatch_is_400(void **st) /* 3 */
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  r.content_length = 11;
  rs_decision d = judge_stateless(&r);
  assert_int_equal(d.status, 400);
  assert_string_equal(d.reason, "body length differs from Content-Range");
}

static void decide_chunked_body_skips_length_check(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  r.length = RS_FIELD_ABSENT;
  r.chunked = 1;
  rs_stored s = absent();
  assert_int_equal(judge(&r, &s).action, RS_ACT_APPEND);
}

static void decide_malformed_content_length_is_400(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  r.length = RS_FIELD_MALFORMED;
  assert_int_equal(judge_stateless(&r).status, 400);
}

static void decide_length_mismatch_beats_state(void **st)
{
  (void)st;
  rs_request r = chunk(5, 9, 100);
  r.content_length = 1;
  assert_int_equal(judge_stateless(&r).status, 400);
}

static void decide_new_upload_creates_partial(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  rs_stored s = absent();
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.status, 0);
  assert_int_equal(d.flags, RS_CREATE_PARTIAL);
  assert_int_equal(d.held, 0);
  assert_int_equal(d.total, 100);
}

static void decide_restart_with_other_hash_drops_partial(void **st) /* 4 */
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  rs_stored s = with_partial(absent(), 100, 50, H2);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.flags, RS_DROP_PARTIAL | RS_CREATE_PARTIAL);
  assert_int_equal(d.held, 0);
}

static void decide_restart_with_other_total_drops_partial(void **st) /* 4 */
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  rs_stored s = with_partial(absent(), 200, 50, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_true(d.flags & RS_DROP_PARTIAL);
}

static void decide_restart_without_hashes_drops_partial(void **st) /* 4 */
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  r.hash = RS_FIELD_ABSENT;
  rs_stored s = with_partial(absent(), 100, 50, NULL);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.flags, RS_DROP_PARTIAL | RS_CREATE_PARTIAL);
}

static void decide_restart_at_0_beats_416(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  r.hash = RS_FIELD_ABSENT;
  rs_stored s = with_partial(absent(), 100, 50, H1);
  assert_int_equal(judge(&r, &s).action, RS_ACT_APPEND);
}

static void decide_same_upload_at_0_with_bytes_held_is_416(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  rs_stored s = with_partial(absent(), 100, 50, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 416);
  assert_int_equal(d.kind, RS_REPLY_RANGE_WRONG);
  assert_int_equal(d.held, 50);
  assert_int_equal(d.flags, 0);
}

static void decide_same_upload_at_0_with_nothing_held_appends(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  rs_stored s = with_partial(absent(), 100, 0, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.flags, 0);
}

static void decide_restart_keeps_complete_file(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 100);
  rs_stored s = with_partial(with_complete(absent(), 5, H2), 100, 50, H2);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.flags, RS_DROP_PARTIAL | RS_CREATE_PARTIAL);
}

static void decide_already_there_is_200_without_writing(void **st) /* 5 */
{
  (void)st;
  rs_request r = chunk(0, 99, 100);
  rs_stored s = with_complete(absent(), 100, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.action, RS_ACT_REPLY);
  assert_int_equal(d.kind, RS_REPLY_DONE);
  assert_int_equal(d.size, 100);
  assert_int_equal(d.flags, 0);
}

static void decide_already_there_after_restart_drops_partial(void **st) /* 4 then 5 */
{
  (void)st;
  rs_request r = chunk(0, 99, 100);
  rs_stored s = with_partial(with_complete(absent(), 100, H1), 300, 5, H2);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.kind, RS_REPLY_DONE);
  assert_int_equal(d.flags, RS_DROP_PARTIAL);
}

static void decide_complete_with_other_hash_is_replaced(void **st)
{
  (void)st;
  rs_request r = chunk(0, 99, 100);
  rs_stored s = with_complete(absent(), 100, H2);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.flags, RS_CREATE_PARTIAL);
}

static void decide_complete_without_request_hash_is_replaced(void **st)
{
  (void)st;
  rs_request r = chunk(0, 99, 100);
  r.hash = RS_FIELD_ABSENT;
  rs_stored s = with_complete(absent(), 100, H1);
  assert_int_equal(judge(&r, &s).action, RS_ACT_APPEND);
}

static void decide_full_partial_at_0_finishes_without_body(void **st) /* 5 */
{
  (void)st;
  rs_request r = chunk(0, 99, 100);
  rs_stored s = with_partial(absent(), 100, 100, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_FINISH);
  assert_int_equal(d.flags, 0);
  assert_int_equal(d.held, 100);
}

static void decide_drift_on_hash_at_nonzero_start_is_409_and_drops_partial(void **st) /* 6 */
{
  (void)st;
  rs_request r = chunk(50, 59, 100);
  rs_stored s = with_partial(absent(), 100, 50, H2);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 409);
  assert_int_equal(d.flags, RS_DROP_PARTIAL);
}

static void decide_drift_on_total_is_409(void **st) /* 6 */
{
  (void)st;
  rs_request r = chunk(50, 59, 200);
  rs_stored s = with_partial(absent(), 100, 50, H1);
  assert_int_equal(judge(&r, &s).status, 409);
}

static void decide_hash_on_unbound_partial_is_drift(void **st) /* 6 */
{
  (void)st;
  rs_request r = chunk(50, 59, 100);
  rs_stored s = with_partial(absent(), 100, 50, NULL);
  assert_int_equal(judge(&r, &s).status, 409);
}

static void decide_chunk_without_hash_continues_bound_partial(void **st)
{
  (void)st;
  rs_request r = chunk(50, 59, 100);
  r.hash = RS_FIELD_ABSENT;
  rs_stored s = with_partial(absent(), 100, 50, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.flags, 0);
  assert_int_equal(d.held, 50);
}

static void decide_drift_409_beats_416(void **st)
{
  (void)st;
  rs_request r = chunk(70, 79, 100);
  rs_stored s = with_partial(absent(), 100, 50, H2);
  assert_int_equal(judge(&r, &s).status, 409);
}

static void decide_start_past_held_is_416(void **st) /* 7 */
{
  (void)st;
  rs_request r = chunk(60, 69, 100);
  rs_stored s = with_partial(absent(), 100, 50, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 416);
  assert_int_equal(d.kind, RS_REPLY_RANGE_WRONG);
  assert_int_equal(d.held, 50);
  assert_int_equal(d.total, 100);
  assert_int_equal(d.flags, 0);
}

static void decide_start_before_held_is_416(void **st) /* 7 */
{
  (void)st;
  rs_request r = chunk(10, 19, 100);
  rs_stored s = with_partial(absent(), 100, 50, H1);
  assert_int_equal(judge(&r, &s).status, 416);
}

static void decide_nonzero_start_without_partial_is_416_held_0(void **st) /* 7 */
{
  (void)st;
  rs_request r = chunk(10, 19, 100);
  rs_stored s = with_complete(absent(), 100, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 416);
  assert_int_equal(d.held, 0);
}

static void decide_start_at_held_appends(void **st) /* 9 */
{
  (void)st;
  rs_request r = chunk(50, 59, 100);
  rs_stored s = with_partial(absent(), 100, 50, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.status, 0);
  assert_int_equal(d.flags, 0);
  assert_int_equal(d.held, 50);
}

static void decide_chunk_needs_state(void **st)
{
  (void)st;
  rs_request r = chunk(0, 9, 10);
  assert_int_equal(judge(&r, NULL).action, RS_ACT_NEED_STATE);
}

/* ---- the status query ---- */

static void decide_query_with_body_is_400(void **st)
{
  (void)st;
  rs_request r = query(100);
  r.content_length = 3;
  assert_int_equal(judge_stateless(&r).status, 400);
}

static void decide_query_over_max_is_413(void **st)
{
  (void)st;
  rs_request r = query(100);
  r.max_size = 50;
  assert_int_equal(judge_stateless(&r).status, 413);
}

static void decide_query_partial_is_308_with_held(void **st)
{
  (void)st;
  rs_request r = query(100);
  rs_stored s = with_partial(absent(), 100, 30, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 308);
  assert_int_equal(d.kind, RS_REPLY_INCOMPLETE);
  assert_int_equal(d.held, 30);
}

static void decide_query_full_partial_finishes(void **st)
{
  (void)st;
  rs_request r = query(100);
  rs_stored s = with_partial(absent(), 100, 100, H1);
  assert_int_equal(judge(&r, &s).action, RS_ACT_FINISH);
}

static void decide_query_other_total_is_409_and_drops_partial(void **st)
{
  (void)st;
  rs_request r = query(101);
  rs_stored s = with_partial(absent(), 100, 30, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 409);
  assert_int_equal(d.flags, RS_DROP_PARTIAL);
}

static void decide_query_without_hash_on_bound_partial_is_308(void **st)
{
  (void)st;
  rs_request r = query(100);
  r.hash = RS_FIELD_ABSENT;
  rs_stored s = with_partial(absent(), 100, 30, H1);
  assert_int_equal(judge(&r, &s).status, 308);
}

static void decide_query_matching_complete_is_200(void **st)
{
  (void)st;
  rs_request r = query(100);
  rs_stored s = with_complete(absent(), 100, H1);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.kind, RS_REPLY_DONE);
}

static void decide_query_complete_without_hash_is_200_when_size_matches(void **st)
{
  (void)st;
  rs_request r = query(100);
  r.hash = RS_FIELD_ABSENT;
  rs_stored s = with_complete(absent(), 100, H2);
  assert_int_equal(judge(&r, &s).status, 200);
}

static void decide_query_other_complete_is_308_held_0(void **st)
{
  (void)st;
  rs_request r = query(100);
  rs_stored s = with_complete(absent(), 100, H2);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 308);
  assert_int_equal(d.held, 0);
}

static void decide_query_absent_is_308_held_0(void **st)
{
  (void)st;
  rs_request r = query(100);
  rs_stored s = absent();
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 308);
  assert_int_equal(d.held, 0);
}

/* ---- whole-file PUT ---- */

static void decide_whole_put_stages_and_drops_partial(void **st)
{
  (void)st;
  rs_request r = whole(10);
  rs_decision d = judge_stateless(&r);
  assert_int_equal(d.action, RS_ACT_STAGE);
  assert_true(d.flags & RS_DROP_PARTIAL);
  assert_int_equal(d.total, 10);
}

static void decide_whole_put_over_max_is_413_before_body(void **st)
{
  (void)st;
  rs_request r = whole(11);
  r.max_size = 10;
  assert_int_equal(judge_stateless(&r).status, 413);
}

static void decide_whole_put_chunked_stages_despite_max(void **st)
{
  (void)st;
  rs_request r = whole(0);
  r.length = RS_FIELD_ABSENT;
  r.chunked = 1;
  r.max_size = 10;
  assert_int_equal(judge_stateless(&r).action, RS_ACT_STAGE);
}

static void decide_zero_length_whole_put_stages(void **st)
{
  (void)st;
  rs_request r = whole(0);
  r.max_size = 10;
  assert_int_equal(judge_stateless(&r).action, RS_ACT_STAGE);
}

static void decide_whole_put_malformed_hash_is_400(void **st)
{
  (void)st;
  rs_request r = whole(3);
  r.hash = RS_FIELD_MALFORMED;
  assert_int_equal(judge_stateless(&r).status, 400);
}

static void decide_whole_put_malformed_length_is_400(void **st)
{
  (void)st;
  rs_request r = whole(3);
  r.length = RS_FIELD_MALFORMED;
  assert_int_equal(judge_stateless(&r).status, 400);
}

/* ---- end of a body ---- */

static void decide_end_mid_upload_is_308(void **st)
{
  (void)st;
  rs_decision d;
  rs_decide_end(10, 1, 10, 60, 100, RS_DIGEST_NONE, &d);
  assert_int_equal(d.status, 308);
  assert_int_equal(d.kind, RS_REPLY_INCOMPLETE);
  assert_int_equal(d.held, 60);
}

static void decide_end_short_body_is_400_even_if_final(void **st)
{
  (void)st;
  rs_decision d;
  rs_decide_end(9, 1, 10, 59, 60, RS_DIGEST_NONE, &d);
  assert_int_equal(d.status, 400);
  assert_int_equal(d.flags, 0);
}

static void decide_end_long_body_is_400(void **st)
{
  (void)st;
  rs_decision d;
  rs_decide_end(11, 1, 10, 60, 100, RS_DIGEST_NONE, &d);
  assert_int_equal(d.status, 400);
}

static void decide_end_final_match_commits_200(void **st)
{
  (void)st;
  rs_decision d;
  rs_decide_end(10, 1, 10, 100, 100, RS_DIGEST_MATCH, &d);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.action, RS_ACT_FINISH);
  assert_int_equal(d.kind, RS_REPLY_DONE);
  assert_int_equal(d.size, 100);
}

static void decide_end_final_unbound_commits_200(void **st)
{
  (void)st;
  rs_decision d;
  rs_decide_end(10, 1, 10, 100, 100, RS_DIGEST_NONE, &d);
  assert_int_equal(d.status, 200);
}

static void decide_end_digest_mismatch_is_400_and_drops(void **st)
{
  (void)st;
  rs_decision d;
  rs_decide_end(10, 1, 10, 100, 100, RS_DIGEST_MISMATCH, &d);
  assert_int_equal(d.status, 400);
  assert_int_equal(d.flags, RS_DROP_PARTIAL);
}

static void decide_end_unknown_length_commits(void **st)
{
  (void)st;
  rs_decision d;
  rs_decide_end(7, 0, 0, 7, 7, RS_DIGEST_MATCH, &d);
  assert_int_equal(d.status, 200);
}

/* ---- the rules as a table: one row per rule of PROTOCOL.md, every status path ----
 * A failing row names its rule (cmocka prints the message as a TAP comment). */

/* Small edits of a request or a state, so that a row reads as "this rule's case". */
static rs_request unauth(rs_request r)
{
  r.auth_ok = 0;
  r.key = RS_KEY_BAD_SEGMENT;
  return r;
}
static rs_request bad_key(rs_request r)
{
  r.key = RS_KEY_BAD_SEGMENT;
  return r;
}
static rs_request conflict(rs_request r)
{
  r.header_conflict = 1;
  return r;
}
static rs_request hash_of(rs_request r, const uint8_t *h)
{
  r.hash = h ? RS_FIELD_OK : RS_FIELD_ABSENT;
  if (h)
    memcpy(r.sha256, h, 32);
  return r;
}
static rs_request bad_range(rs_request r)
{
  r.range = RS_FIELD_MALFORMED;
  return r;
}
static rs_request bad_hash(rs_request r)
{
  r.hash = RS_FIELD_MALFORMED;
  return r;
}
static rs_request bad_length(rs_request r)
{
  r.length = RS_FIELD_MALFORMED;
  return r;
}
static rs_request max_size(rs_request r, uint64_t m)
{
  r.max_size = m;
  return r;
}
static rs_request length(rs_request r, uint64_t n)
{
  r.content_length = n;
  return r;
}
static rs_request chunked(rs_request r)
{
  r.length = RS_FIELD_ABSENT;
  r.chunked = 1;
  return r;
}
static rs_request method(rs_method m)
{
  return base(m);
}

typedef struct decide_row {
  const char *rule; /* PROTOCOL.md's section and step */
  rs_request req;
  int stateless; /* judged without the stored state (NULL) */
  rs_stored st;
  int status;
  rs_action action;
  rs_reply_kind kind;
  unsigned flags;
  uint64_t held; /* checked for 308, 416, HEAD partial, APPEND, FINISH */
} decide_row;

static void check_row(const decide_row *row, const rs_decision *d)
{
  int ok = d->status == row->status && d->action == row->action &&
           (row->status == 0 || d->kind == row->kind) && d->flags == row->flags &&
           (!(row->status == 308 || row->status == 416 || row->action == RS_ACT_APPEND ||
              row->action == RS_ACT_FINISH || row->kind == RS_REPLY_HEAD_PARTIAL) ||
            d->held == row->held) &&
           (d->reason != NULL || row->status == 0 || row->action == RS_ACT_SERVE);
  if (!ok)
    fail_msg("%s: status %d action %d kind %d flags %#x held %llu; expected %d %d %d %#x %llu",
             row->rule, d->status, (int)d->action, (int)d->kind, d->flags,
             (unsigned long long)d->held, row->status, (int)row->action, (int)row->kind, row->flags,
             (unsigned long long)row->held);
}

static void decide_rules_table(void **st)
{
  (void)st;
  const rs_stored none = absent();
  const rs_stored part_h1 = with_partial(absent(), 20, 10, H1);
  const rs_stored part_unbound = with_partial(absent(), 20, 10, NULL);
  const rs_stored part_full = with_partial(absent(), 20, 20, H1);
  const rs_stored done_h1 = with_complete(absent(), 20, H1);
  const rs_stored both = with_partial(with_complete(absent(), 20, H2), 20, 10, H1);
  const decide_row rows[] = {
      /* the order of checks (PROTOCOL.md "Authentication", "Resources", "Other methods") */
      {"Authentication: a wrong or missing token is 401 before any other check",
       unauth(chunk(0, 9, 20)),
       1,
       {0},
       401,
       RS_ACT_REPLY,
       RS_REPLY_UNAUTHORIZED,
       0,
       0},
      {"Resources: an invalid key is 400",
       bad_key(chunk(0, 9, 20)),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"Other methods: 405 with Allow",
       method(RS_METHOD_OTHER),
       1,
       {0},
       405,
       RS_ACT_REPLY,
       RS_REPLY_NOT_ALLOWED,
       0,
       0},
      {"Limits on requests: a repeated or contradictory header is 400",
       conflict(chunk(0, 9, 20)),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      /* PUT with Content-Range, steps 1-3: from the headers alone */
      {"PUT step 1: a malformed Content-Range is 400",
       bad_range(chunk(0, 9, 20)),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"PUT step 1: a malformed X-Content-SHA256 is 400",
       bad_hash(chunk(0, 9, 20)),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"PUT step 1: a malformed Content-Length is 400",
       bad_length(chunk(0, 9, 20)),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"PUT steps 1-3 come before the stored state",
       chunk(0, 9, 20),
       1,
       {0},
       0,
       RS_ACT_NEED_STATE,
       RS_REPLY_TEXT,
       0,
       0},
      {"PUT step 2: total above the maximum size is 413",
       max_size(chunk(0, 9, 20), 19),
       1,
       {0},
       413,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"PUT step 2: total equal to the maximum size is allowed",
       max_size(chunk(0, 9, 20), 20),
       1,
       {0},
       0,
       RS_ACT_NEED_STATE,
       RS_REPLY_TEXT,
       0,
       0},
      {"PUT step 3: a known body length other than end-start+1 is 400",
       length(chunk(0, 9, 20), 9),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      /* steps 4-7: against the stored state */
      {"PUT step 4: start 0 over a partial of another hash restarts it",
       hash_of(chunk(0, 9, 20), H2), 0, part_h1, 0, RS_ACT_APPEND, RS_REPLY_TEXT,
       RS_DROP_PARTIAL | RS_CREATE_PARTIAL, 0},
      {"PUT step 4: start 0 without a hash is never the same upload",
       hash_of(chunk(0, 9, 20), NULL), 0, part_h1, 0, RS_ACT_APPEND, RS_REPLY_TEXT,
       RS_DROP_PARTIAL | RS_CREATE_PARTIAL, 0},
      {"PUT step 4: start 0 over an unbound partial restarts it", chunk(0, 9, 20), 0, part_unbound,
       0, RS_ACT_APPEND, RS_REPLY_TEXT, RS_DROP_PARTIAL | RS_CREATE_PARTIAL, 0},
      {"PUT step 5: the complete file with this hash and size is 200, nothing written",
       chunk(0, 9, 20), 0, done_h1, 200, RS_ACT_REPLY, RS_REPLY_DONE, 0, 0},
      {"PUT step 5: a complete file of another hash is replaced", hash_of(chunk(0, 9, 20), H2), 0,
       done_h1, 0, RS_ACT_APPEND, RS_REPLY_TEXT, RS_CREATE_PARTIAL, 0},
      {"PUT step 5: a hashless chunk never matches a complete file", hash_of(chunk(0, 9, 20), NULL),
       0, done_h1, 0, RS_ACT_APPEND, RS_REPLY_TEXT, RS_CREATE_PARTIAL, 0},
      {"PUT step 5: a partial holding every byte is finished without its body", chunk(0, 9, 20), 0,
       part_full, 0, RS_ACT_FINISH, RS_REPLY_TEXT, 0, 20},
      {"PUT step 6: start > 0 with another hash is 409 and drops the partial",
       hash_of(chunk(10, 19, 20), H2), 0, part_h1, 409, RS_ACT_REPLY, RS_REPLY_TEXT,
       RS_DROP_PARTIAL, 0},
      {"PUT step 6: start > 0 with another total is 409 and drops the partial", chunk(10, 20, 21),
       0, part_h1, 409, RS_ACT_REPLY, RS_REPLY_TEXT, RS_DROP_PARTIAL, 0},
      {"PUT step 6: a hashed chunk over an unbound partial is drift", chunk(10, 19, 20), 0,
       part_unbound, 409, RS_ACT_REPLY, RS_REPLY_TEXT, RS_DROP_PARTIAL, 0},
      {"PUT step 6: a hashless chunk continues a bound partial", hash_of(chunk(10, 19, 20), NULL),
       0, part_h1, 0, RS_ACT_APPEND, RS_REPLY_TEXT, 0, 10},
      {"PUT step 7: start other than held is 416 with the bytes held", chunk(5, 9, 20), 0, part_h1,
       416, RS_ACT_REPLY, RS_REPLY_RANGE_WRONG, 0, 10},
      {"PUT step 7: start > 0 with nothing held is 416 with held 0", chunk(10, 19, 20), 0, none,
       416, RS_ACT_REPLY, RS_REPLY_RANGE_WRONG, 0, 0},
      {"PUT step 9: the next chunk is appended at held", chunk(10, 19, 20), 0, part_h1, 0,
       RS_ACT_APPEND, RS_REPLY_TEXT, 0, 10},
      {"PUT step 9: the first chunk creates the partial", chunk(0, 9, 20), 0, none, 0,
       RS_ACT_APPEND, RS_REPLY_TEXT, RS_CREATE_PARTIAL, 0},
      /* PUT bytes * /total: the status query */
      {"Status query: without a body it needs the stored state",
       query(20),
       1,
       {0},
       0,
       RS_ACT_NEED_STATE,
       RS_REPLY_TEXT,
       0,
       0},
      {"Status query: a body is 400",
       length(query(20), 1),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"Status query: a partial of another total is 409 as in step 6", query(21), 0, part_h1, 409,
       RS_ACT_REPLY, RS_REPLY_TEXT, RS_DROP_PARTIAL, 0},
      {"Status query: a partial is 308 with the bytes held", query(20), 0, part_h1, 308,
       RS_ACT_REPLY, RS_REPLY_INCOMPLETE, 0, 10},
      {"Status query: a partial holding every byte is finished as in step 10", query(20), 0,
       part_full, 0, RS_ACT_FINISH, RS_REPLY_TEXT, 0, 20},
      {"Status query: the matching complete file is 200 as in step 10", query(20), 0, done_h1, 200,
       RS_ACT_REPLY, RS_REPLY_DONE, 0, 0},
      {"Status query: nothing held is 308 with held 0", query(20), 0, none, 308, RS_ACT_REPLY,
       RS_REPLY_INCOMPLETE, 0, 0},
      /* PUT without Content-Range: whole-file upload */
      {"Whole-file PUT: a malformed X-Content-SHA256 is 400",
       bad_hash(whole(5)),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"Whole-file PUT: a malformed Content-Length is 400",
       bad_length(whole(5)),
       1,
       {0},
       400,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"Whole-file PUT: a Content-Length above the maximum is 413",
       max_size(whole(5), 4),
       1,
       {0},
       413,
       RS_ACT_REPLY,
       RS_REPLY_TEXT,
       0,
       0},
      {"Whole-file PUT: staged, and any partial dropped",
       whole(5),
       1,
       {0},
       0,
       RS_ACT_STAGE,
       RS_REPLY_TEXT,
       RS_DROP_PARTIAL,
       0},
      {"Whole-file PUT: a chunked body is staged whatever the maximum",
       max_size(chunked(whole(0)), 4),
       1,
       {0},
       0,
       RS_ACT_STAGE,
       RS_REPLY_TEXT,
       RS_DROP_PARTIAL,
       0},
      /* HEAD, GET, DELETE */
      {"HEAD: a partial is 200 with X-File-Size held", method(RS_METHOD_HEAD), 0, part_h1, 200,
       RS_ACT_PROBE, RS_REPLY_HEAD_PARTIAL, 0, 10},
      {"HEAD: a partial wins over a complete file", method(RS_METHOD_HEAD), 0, both, 200,
       RS_ACT_PROBE, RS_REPLY_HEAD_PARTIAL, 0, 10},
      {"HEAD: a complete file is 200 with its size and hash", method(RS_METHOD_HEAD), 0, done_h1,
       200, RS_ACT_PROBE, RS_REPLY_HEAD_COMPLETE, 0, 0},
      {"HEAD: nothing is 404", method(RS_METHOD_HEAD), 0, none, 404, RS_ACT_REPLY, RS_REPLY_TEXT, 0,
       0},
      {"HEAD: needs the stored state",
       method(RS_METHOD_HEAD),
       1,
       {0},
       0,
       RS_ACT_NEED_STATE,
       RS_REPLY_TEXT,
       0,
       0},
      {"GET: the complete file is served", method(RS_METHOD_GET), 0, done_h1, 200, RS_ACT_SERVE,
       RS_REPLY_TEXT, 0, 0},
      {"GET: a partial alone is 404", method(RS_METHOD_GET), 0, part_h1, 404, RS_ACT_REPLY,
       RS_REPLY_TEXT, 0, 0},
      {"DELETE: a partial is dropped, 204", method(RS_METHOD_DELETE), 0, part_h1, 204,
       RS_ACT_DELETE, RS_REPLY_NO_CONTENT, RS_DROP_PARTIAL, 0},
      {"DELETE: a complete file is removed, 204", method(RS_METHOD_DELETE), 0, done_h1, 204,
       RS_ACT_DELETE, RS_REPLY_NO_CONTENT, RS_DROP_PARTIAL, 0},
      {"DELETE: nothing is 404", method(RS_METHOD_DELETE), 0, none, 404, RS_ACT_REPLY,
       RS_REPLY_TEXT, 0, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    rs_decision d;
    rs_decide(&rows[i].req, rows[i].stateless ? NULL : &rows[i].st, &d);
    check_row(&rows[i], &d);
  }
}

typedef struct end_row {
  const char *rule;
  uint64_t received;
  int expected_known;
  uint64_t expected, held, total;
  rs_digest digest;
  int status;
  rs_action action;
  unsigned flags;
} end_row;

static void decide_end_rules_table(void **st)
{
  (void)st;
  const end_row rows[] = {
      {"PUT step 9: a body shorter than announced is 400 (its bytes are kept)", 5, 1, 10, 15, 20,
       RS_DIGEST_NONE, 400, RS_ACT_REPLY, 0},
      {"PUT step 9: a short body is 400 even when it filled the upload", 5, 1, 10, 20, 20,
       RS_DIGEST_MATCH, 400, RS_ACT_REPLY, 0},
      {"PUT step 3: a body longer than announced is 400", 11, 1, 10, 20, 20, RS_DIGEST_MATCH, 400,
       RS_ACT_REPLY, 0},
      {"PUT step 10: a final digest mismatch is 400 and drops the partial", 10, 1, 10, 20, 20,
       RS_DIGEST_MISMATCH, 400, RS_ACT_REPLY, RS_DROP_PARTIAL},
      {"PUT step 10: the final chunk with a matching digest commits, 200", 10, 1, 10, 20, 20,
       RS_DIGEST_MATCH, 200, RS_ACT_FINISH, 0},
      {"PUT step 10: an unbound upload commits, 200", 10, 1, 10, 20, 20, RS_DIGEST_NONE, 200,
       RS_ACT_FINISH, 0},
      {"PUT step 9: a chunk short of the total is 308", 10, 1, 10, 10, 20, RS_DIGEST_NONE, 308,
       RS_ACT_REPLY, 0},
      {"Whole-file PUT: a chunked body of unknown length commits", 7, 0, 0, 7, 7, RS_DIGEST_NONE,
       200, RS_ACT_FINISH, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const end_row *row = &rows[i];
    rs_decision d;
    rs_decide_end(row->received, row->expected_known, row->expected, row->held, row->total,
                  row->digest, &d);
    if (d.status != row->status || d.action != row->action || d.flags != row->flags ||
        d.reason == NULL || d.held != row->held)
      fail_msg("%s: status %d action %d flags %#x; expected %d %d %#x", row->rule, d.status,
               (int)d.action, d.flags, row->status, (int)row->action, row->flags);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(decide_unauthenticated_is_401_before_key),
      cmocka_unit_test(decide_unauthenticated_other_method_is_401),
      cmocka_unit_test(decide_bad_key_is_400_before_method),
      cmocka_unit_test(decide_other_method_is_405_with_allow),
      cmocka_unit_test(decide_conflicting_headers_is_400),
      cmocka_unit_test(decide_head_needs_state),
      cmocka_unit_test(decide_head_absent_is_404),
      cmocka_unit_test(decide_head_partial_reports_held_and_total),
      cmocka_unit_test(decide_head_partial_wins_over_complete),
      cmocka_unit_test(decide_head_complete_reports_size),
      cmocka_unit_test(decide_get_complete_serves),
      cmocka_unit_test(decide_get_only_partial_is_404),
      cmocka_unit_test(decide_delete_existing_is_204_and_drops),
      cmocka_unit_test(decide_delete_absent_is_404),
      cmocka_unit_test(decide_malformed_range_is_400),
      cmocka_unit_test(decide_malformed_hash_is_400),
      cmocka_unit_test(decide_malformed_range_beats_413),
      cmocka_unit_test(decide_total_over_max_is_413),
      cmocka_unit_test(decide_total_at_max_is_accepted),
      cmocka_unit_test(decide_413_beats_length_mismatch),
      cmocka_unit_test(decide_length_mismatch_is_400),
      cmocka_unit_test(decide_chunked_body_skips_length_check),
      cmocka_unit_test(decide_malformed_content_length_is_400),
      cmocka_unit_test(decide_length_mismatch_beats_state),
      cmocka_unit_test(decide_new_upload_creates_partial),
      cmocka_unit_test(decide_restart_with_other_hash_drops_partial),
      cmocka_unit_test(decide_restart_with_other_total_drops_partial),
      cmocka_unit_test(decide_restart_without_hashes_drops_partial),
      cmocka_unit_test(decide_restart_at_0_beats_416),
      cmocka_unit_test(decide_same_upload_at_0_with_bytes_held_is_416),
      cmocka_unit_test(decide_same_upload_at_0_with_nothing_held_appends),
      cmocka_unit_test(decide_restart_keeps_complete_file),
      cmocka_unit_test(decide_already_there_is_200_without_writing),
      cmocka_unit_test(decide_already_there_after_restart_drops_partial),
      cmocka_unit_test(decide_complete_with_other_hash_is_replaced),
      cmocka_unit_test(decide_complete_without_request_hash_is_replaced),
      cmocka_unit_test(decide_full_partial_at_0_finishes_without_body),
      cmocka_unit_test(decide_drift_on_hash_at_nonzero_start_is_409_and_drops_partial),
      cmocka_unit_test(decide_drift_on_total_is_409),
      cmocka_unit_test(decide_hash_on_unbound_partial_is_drift),
      cmocka_unit_test(decide_chunk_without_hash_continues_bound_partial),
      cmocka_unit_test(decide_drift_409_beats_416),
      cmocka_unit_test(decide_start_past_held_is_416),
      cmocka_unit_test(decide_start_before_held_is_416),
      cmocka_unit_test(decide_nonzero_start_without_partial_is_416_held_0),
      cmocka_unit_test(decide_start_at_held_appends),
      cmocka_unit_test(decide_chunk_needs_state),
      cmocka_unit_test(decide_query_with_body_is_400),
      cmocka_unit_test(decide_query_over_max_is_413),
      cmocka_unit_test(decide_query_partial_is_308_with_held),
      cmocka_unit_test(decide_query_full_partial_finishes),
      cmocka_unit_test(decide_query_other_total_is_409_and_drops_partial),
      cmocka_unit_test(decide_query_without_hash_on_bound_partial_is_308),
      cmocka_unit_test(decide_query_matching_complete_is_200),
      cmocka_unit_test(decide_query_complete_without_hash_is_200_when_size_matches),
      cmocka_unit_test(decide_query_other_complete_is_308_held_0),
      cmocka_unit_test(decide_query_absent_is_308_held_0),
      cmocka_unit_test(decide_whole_put_stages_and_drops_partial),
      cmocka_unit_test(decide_whole_put_over_max_is_413_before_body),
      cmocka_unit_test(decide_whole_put_chunked_stages_despite_max),
      cmocka_unit_test(decide_zero_length_whole_put_stages),
      cmocka_unit_test(decide_whole_put_malformed_hash_is_400),
      cmocka_unit_test(decide_whole_put_malformed_length_is_400),
      cmocka_unit_test(decide_end_mid_upload_is_308),
      cmocka_unit_test(decide_end_short_body_is_400_even_if_final),
      cmocka_unit_test(decide_end_long_body_is_400),
      cmocka_unit_test(decide_end_final_match_commits_200),
      cmocka_unit_test(decide_end_final_unbound_commits_200),
      cmocka_unit_test(decide_end_digest_mismatch_is_400_and_drops),
      cmocka_unit_test(decide_end_unknown_length_commits),
      cmocka_unit_test(decide_rules_table),
      cmocka_unit_test(decide_end_rules_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
