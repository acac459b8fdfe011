/* The tus decision core (lib/tus_decide.c): order of checks, creation, PATCH against every
 * stored state, HEAD, termination, concatenation, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resumable/store.h"
#include "tus_decide.h"

#define UNKNOWN RESUMABLE_LENGTH_UNKNOWN
static const uint8_t H1[32] = {0x11, 0x11};
static const uint8_t H2[32] = {0x22, 0x22};

static rs_tus_request req(rs_tus_op op)
{
  rs_tus_request r;
  memset(&r, 0, sizeof(r));
  r.op = op;
  r.auth_ok = 1;
  r.version = RS_FIELD_OK;
  r.at = RS_TUS_AT_KEY;
  r.key = RS_KEY_OK;
  return r;
}

static rs_tus_request create(uint64_t length)
{
  rs_tus_request r = req(RS_TUS_OP_POST);
  r.length = RS_FIELD_OK;
  r.length_value = length;
  return r;
}

static rs_tus_request patch(uint64_t offset, uint64_t body)
{
  rs_tus_request r = req(RS_TUS_OP_PATCH);
  r.offset = RS_FIELD_OK;
  r.offset_value = offset;
  r.content_type = RS_FIELD_OK;
  r.body = RS_FIELD_OK;
  r.body_length = body;
  return r;
}

static rs_stored none(void)
{
  rs_stored s;
  memset(&s, 0, sizeof(s));
  return s;
}

static rs_stored partial(uint64_t held, uint64_t total)
{
  rs_stored s = none();
  s.partial = 1;
  s.held = held;
  s.total = total;
  return s;
}

static rs_stored complete(uint64_t size)
{
  rs_stored s = none();
  s.complete = 1;
  s.size = size;
  return s;
}

static rs_decision judge(const rs_tus_request *r, const rs_stored *s)
{
  rs_decision d;
  rs_tus_decide(r, s, &d);
  return d;
}

static void auth_then_version_then_options(void **state)
{
  (void)state;
  rs_tus_request r = patch(0, 1);
  r.auth_ok = 0;
  r.version = RS_FIELD_MALFORMED;
  assert_int_equal(judge(&r, NULL).status, 401);
  r.auth_ok = 1;
  rs_decision d = judge(&r, NULL);
  assert_int_equal(d.status, 412);
  assert_int_equal(d.kind, RS_REPLY_TUS_VERSION);
  r = req(RS_TUS_OP_OPTIONS);
  r.version = RS_FIELD_MALFORMED; /* ignored on OPTIONS */
  r.key = RS_KEY_BAD_SEGMENT;     /* and the URL does not matter */
  d = judge(&r, NULL);
  assert_int_equal(d.status, 204);
  assert_int_equal(d.kind, RS_REPLY_TUS_OPTIONS);
}

static void methods_and_urls(void **state)
{
  (void)state;
  rs_tus_request r = req(RS_TUS_OP_OTHER);
  assert_int_equal(judge(&r, NULL).status, 405);
  r = req(RS_TUS_OP_HEAD);
  r.at = RS_TUS_AT_PREFIX;
  assert_int_equal(judge(&r, NULL).status, 405);
  r = req(RS_TUS_OP_HEAD);
  r.key = RS_KEY_BAD_SEGMENT;
  assert_int_equal(judge(&r, NULL).status, 400);
  r = create(5);
  r.at = RS_TUS_AT_PART;
  assert_int_equal(judge(&r, NULL).status, 400);
  r = req(RS_TUS_OP_GET);
  r.at = RS_TUS_AT_PART;
  assert_int_equal(judge(&r, NULL).status, 404);
  r = patch(0, 1);
  r.header_conflict = 1;
  assert_int_equal(judge(&r, NULL).status, 400);
}

static void creation_needs_exactly_one_length(void **state)
{
  (void)state;
  rs_tus_request r = req(RS_TUS_OP_POST);
  assert_int_equal(judge(&r, NULL).status, 400); /* neither */
  r.defer = RS_FIELD_MALFORMED;
  assert_int_equal(judge(&r, NULL).status, 400); /* "Upload-Defer-Length: 2" */
  r.defer = RS_FIELD_OK;
  rs_decision d = judge(&r, NULL);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.total, UNKNOWN);
  r.length = RS_FIELD_OK;
  assert_int_equal(judge(&r, NULL).status, 400); /* both */
  r = create(5);
  r.length = RS_FIELD_MALFORMED;
  assert_int_equal(judge(&r, NULL).status, 400);
}

static void creation_replaces_and_needs_no_state(void **state)
{
  (void)state;
  rs_tus_request r = create(100);
  rs_decision d = judge(&r, NULL);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.flags, RS_DROP_PARTIAL | RS_CREATE_PARTIAL);
  assert_int_equal(d.held, 0);
  assert_int_equal(d.total, 100);
  rs_stored s = partial(40, 100);
  rs_decision d2 = judge(&r, &s);
  assert_memory_equal(&d, &d2, sizeof(d));
}

static void creation_limits_and_body_rules(void **state)
{
  (void)state;
  rs_tus_request r = create(100);
  r.max_size = 99;
  assert_int_equal(judge(&r, NULL).status, 413);
  r = create(10);
  r.body = RS_FIELD_OK;
  r.body_length = 5;
  assert_int_equal(judge(&r, NULL).status, 415); /* a body without the tus Content-Type */
  r.content_type = RS_FIELD_OK;
  assert_int_equal(judge(&r, NULL).action, RS_ACT_APPEND);
  r.body_length = 11;
  assert_int_equal(judge(&r, NULL).status, 413);
  r = create(10);
  r.metadata = RS_FIELD_MALFORMED;
  assert_int_equal(judge(&r, NULL).status, 400);
  r = create(10);
  r.checksum = RS_FIELD_MALFORMED;
  r.checksum_unsupported = 1;
  rs_decision d = judge(&r, NULL);
  assert_int_equal(d.status, 400);
  assert_non_null(strstr(d.reason, "unsupported"));
  r = create(10);
  r.concat = RS_TUS_CONCAT_MALFORMED;
  assert_int_equal(judge(&r, NULL).status, 400);
  r = create(10);
  r.key = RS_KEY_BAD_BYTE;
  r.key_from_metadata = 1;
  d = judge(&r, NULL);
  assert_int_equal(d.status, 400);
  assert_non_null(strstr(d.reason, "Upload-Metadata"));
}

static void final_concatenation_rules(void **state)
{
  (void)state;
  rs_tus_request r = req(RS_TUS_OP_POST);
  r.concat = RS_TUS_CONCAT_FINAL;
  assert_int_equal(judge(&r, NULL).action, RS_ACT_CONCAT);
  r.concat_foreign = 1;
  assert_int_equal(judge(&r, NULL).status, 400);
  r.concat_foreign = 0;
  r.length = RS_FIELD_OK;
  assert_int_equal(judge(&r, NULL).status, 400);
  r.length = RS_FIELD_ABSENT;
  r.body = RS_FIELD_OK;
  r.body_length = 3;
  r.content_type = RS_FIELD_OK;
  assert_int_equal(judge(&r, NULL).status, 400);
}

static void patch_header_rules_touch_nothing(void **state)
{
  (void)state;
  rs_tus_request r = patch(0, 5);
  r.content_type = RS_FIELD_ABSENT;
  assert_int_equal(judge(&r, NULL).status, 415);
  r = patch(0, 5);
  r.offset = RS_FIELD_ABSENT;
  assert_int_equal(judge(&r, NULL).status, 400);
  r.offset = RS_FIELD_MALFORMED;
  assert_int_equal(judge(&r, NULL).status, 400);
  r = patch(0, 5);
  r.hash = RS_FIELD_MALFORMED;
  assert_int_equal(judge(&r, NULL).status, 400);
  r = patch(0, 5);
  assert_int_equal(judge(&r, NULL).action, RS_ACT_NEED_STATE);
}

static void patch_against_each_state(void **state)
{
  (void)state;
  rs_tus_request r = patch(40, 10);
  rs_stored s = none();
  assert_int_equal(judge(&r, &s).status, 404);
  s = partial(30, 100);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 409); /* offset mismatch */
  assert_int_equal(d.flags, 0);
  s = partial(40, 100);
  d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.held, 40);
  assert_int_equal(d.total, 100);
  s = partial(40, 45);
  assert_int_equal(judge(&r, &s).status, 413); /* past Upload-Length */
  s = partial(40, 40);
  r = patch(40, 0);
  assert_int_equal(judge(&r, &s).action, RS_ACT_FINISH);
  s = complete(40);
  d = judge(&r, &s);
  assert_int_equal(d.status, 204);
  assert_int_equal(d.kind, RS_REPLY_TUS_OFFSET);
  assert_int_equal(d.held, 40);
  r = patch(39, 0);
  assert_int_equal(judge(&r, &s).status, 409);
  r = patch(40, 1);
  assert_int_equal(judge(&r, &s).status, 413);
}

static void patch_upload_length_rules(void **state)
{
  (void)state;
  rs_tus_request r = patch(10, 5);
  r.length = RS_FIELD_OK;
  r.length_value = 20;
  rs_stored s = partial(10, 30);
  assert_int_equal(judge(&r, &s).status, 400); /* a known length cannot change */
  s.total = 20;
  assert_int_equal(judge(&r, &s).action, RS_ACT_APPEND);
  s.total = UNKNOWN;
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_APPEND);
  assert_int_equal(d.flags, RS_SET_TOTAL);
  assert_int_equal(d.total, 20);
  r.length_value = 9;
  assert_int_equal(judge(&r, &s).status, 400); /* below held */
  r.length_value = 14;
  assert_int_equal(judge(&r, &s).status, 413); /* the body goes past it */
  r.length_value = 20;
  r.max_size = 19;
  assert_int_equal(judge(&r, &s).status, 413);
  r = patch(10, 0);
  r.length = RS_FIELD_OK;
  r.length_value = 10;
  d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_FINISH); /* the length arrives after the last byte */
  assert_int_equal(d.flags, RS_SET_TOTAL);
}

static void patch_whole_file_hash_binds(void **state)
{
  (void)state;
  rs_tus_request r = patch(10, 5);
  r.hash = RS_FIELD_OK;
  memcpy(r.sha256, H1, 32);
  rs_stored s = partial(10, 20);
  s.has_target = 1;
  memcpy(s.target, H1, 32);
  assert_int_equal(judge(&r, &s).action, RS_ACT_APPEND);
  memcpy(s.target, H2, 32);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.status, 409);
  assert_int_equal(d.flags, RS_DROP_PARTIAL);
  r.at = RS_TUS_AT_PART; /* on a part it binds the final upload, not the part */
  assert_int_equal(judge(&r, &s).action, RS_ACT_APPEND);
}

static void head_delete_get_and_expiry(void **state)
{
  (void)state;
  rs_tus_request r = req(RS_TUS_OP_HEAD);
  rs_stored s = partial(3, UNKNOWN);
  rs_decision d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_PROBE);
  assert_int_equal(d.kind, RS_REPLY_HEAD_PARTIAL);
  assert_int_equal(d.total, UNKNOWN);
  s.complete = 1; /* a partial shows over a complete file */
  assert_int_equal(judge(&r, &s).kind, RS_REPLY_HEAD_PARTIAL);
  s = complete(9);
  d = judge(&r, &s);
  assert_int_equal(d.kind, RS_REPLY_HEAD_COMPLETE);
  assert_int_equal(d.size, 9);
  s = none();
  assert_int_equal(judge(&r, &s).status, 404);
  s = partial(3, 9);
  s.expired = 1;
  d = judge(&r, &s);
  assert_int_equal(d.status, 410);
  assert_int_equal(d.flags, RS_DROP_PARTIAL);
  rs_tus_request p = patch(3, 1);
  assert_int_equal(judge(&p, &s).status, 410);
  r = req(RS_TUS_OP_DELETE);
  d = judge(&r, &s);
  assert_int_equal(d.action, RS_ACT_TERMINATE);
  assert_int_equal(d.status, 204);
  s = complete(9);
  assert_int_equal(judge(&r, &s).status, 403); /* termination never deletes a file */
  s = none();
  assert_int_equal(judge(&r, &s).status, 404);
  r = req(RS_TUS_OP_GET);
  s = complete(9);
  assert_int_equal(judge(&r, &s).action, RS_ACT_SERVE);
  s = partial(1, 9);
  assert_int_equal(judge(&r, &s).status, 404);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(auth_then_version_then_options),
      cmocka_unit_test(methods_and_urls),
      cmocka_unit_test(creation_needs_exactly_one_length),
      cmocka_unit_test(creation_replaces_and_needs_no_state),
      cmocka_unit_test(creation_limits_and_body_rules),
      cmocka_unit_test(final_concatenation_rules),
      cmocka_unit_test(patch_header_rules_touch_nothing),
      cmocka_unit_test(patch_against_each_state),
      cmocka_unit_test(patch_upload_length_rules),
      cmocka_unit_test(patch_whole_file_hash_binds),
      cmocka_unit_test(head_delete_get_and_expiry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
