/* The stager's pure tus parts: response headers, Location resolution, HEAD and PATCH/POST
 * decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stager_tus_decide.h"

static const uint8_t SHA[32] = {1, 2, 3};
static const uint8_t OTHER[32] = {9, 9, 9};

static void feed(rs_tus_resp *t, const char *line)
{
  rs_tus_resp_feed(t, line, strlen(line));
}

static void headers_are_parsed(void **state)
{
  (void)state;
  rs_tus_resp t;
  rs_tus_resp_reset(&t);
  feed(&t, "HTTP/1.1 204 No Content\r\n");
  feed(&t, "Tus-Version: 1.0.0,0.2.2\r\n");
  feed(&t, "tus-extension: creation , checksum,concatenation,expiration\r\n");
  feed(&t, "Tus-Checksum-Algorithm: md5,sha1\r\n");
  feed(&t, "Tus-Max-Size: 1073741824\r\n");
  feed(&t, "Upload-Offset: 12\r\n");
  feed(&t, "Upload-Length: 99\r\n");
  feed(&t, "Location: /files/abc\r\n");
  assert_true(t.version_1);
  assert_int_equal(t.ext, RS_TUSX_CREATION | RS_TUSX_CHECKSUM | RS_TUSX_CONCATENATION);
  assert_int_equal(t.algos, RS_TUSA_SHA1);
  assert_true(t.has_max_size && t.max_size == 1073741824);
  assert_true(t.has_offset && t.offset == 12);
  assert_true(t.has_length && t.length == 99);
  assert_string_equal(t.location, "/files/abc");
  feed(&t, "HTTP/1.1 200 OK\r\n"); /* a new response forgets the old one */
  assert_false(t.has_offset || t.version_1 || t.has_location);
  feed(&t, "Upload-Offset: -1\r\n");
  feed(&t, "Tus-Version: 0.2.2\r\n");
  assert_false(t.has_offset || t.version_1);
}

/* The IETF draft's discovery answer: Accept-Patch and Upload-Limit (an RFC 8941 Dictionary). */
static void draft_discovery_headers_are_parsed(void **state)
{
  (void)state;
  rs_tus_resp t;
  rs_tus_resp_reset(&t);
  feed(&t, "HTTP/1.1 204 No Content\r\n");
  feed(&t, "Accept-Patch: application/json, application/partial-upload\r\n");
  feed(&t, "Upload-Limit: max-age=3600, max-size=1048576;x, min-size=1\r\n");
  assert_false(t.version_1);
  assert_true(t.draft_accept);
  assert_true(t.has_limit);
  assert_true(t.has_limit_max && t.limit_max == 1048576);
  /* a malformed Upload-Limit is ignored whole */
  feed(&t, "HTTP/1.1 204 No Content\r\n");
  feed(&t, "Upload-Limit: max-size=10,\r\n");
  assert_false(t.has_limit);
  assert_false(t.has_limit_max);
  assert_false(t.draft_accept);
  /* max-size of the wrong type is not a limit */
  feed(&t, "Upload-Limit: max-size=\"10\"\r\n");
  assert_true(t.has_limit);
  assert_false(t.has_limit_max);
}

static void locations_resolve_against_the_request_url(void **state)
{
  (void)state;
  char out[256];
  static const struct {
    const char *base, *loc, *want;
  } v[] = {
      {"http://h:1/files/", "/files/a", "http://h:1/files/a"},
      {"http://h:1/files/", "a", "http://h:1/files/a"},
      {"http://h:1/files", "a", "http://h:1/a"},
      {"http://h:1", "a", "http://h:1/a"},
      {"https://h/v1/files/k?x=1", "/v1/files/k", "https://h/v1/files/k"},
      {"http://h/files/", "https://other:9/x", "https://other:9/x"},
      {"https://h/files/", "//cdn/x", "https://cdn/x"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    assert_int_equal(rs_tus_resolve(v[i].base, v[i].loc, out, sizeof out), 0);
    assert_string_equal(out, v[i].want);
  }
  assert_int_equal(rs_tus_resolve("http://h/", "a b", out, sizeof out), -1);
  assert_int_equal(rs_tus_resolve("ftp://h/", "a", out, sizeof out), -1);
  assert_int_equal(rs_tus_resolve("http://h/", "/abc", out, 10), -1);
}

static rs_tus_resp upload_at(uint64_t off, uint64_t len)
{
  rs_tus_resp t;
  rs_tus_resp_reset(&t);
  t.has_offset = t.has_length = 1;
  t.offset = off;
  t.length = len;
  return t;
}

static void head_decisions(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  uint64_t off = 0;
  rs_tus_resp t = upload_at(40, 100);
  assert_int_equal(rs_stager_tus_decide_head(200, &r, &t, 100, SHA, &off), RS_TUSH_RESUME);
  assert_int_equal(off, 40);
  t = upload_at(100, 100);
  assert_int_equal(rs_stager_tus_decide_head(204, &r, &t, 100, SHA, &off), RS_TUSH_DONE);
  t = upload_at(40, 99); /* another length: not this file */
  assert_int_equal(rs_stager_tus_decide_head(200, &r, &t, 100, SHA, &off), RS_TUSH_CREATE);
  t = upload_at(40, 100);
  t.has_length = 0; /* deferred: we never defer */
  assert_int_equal(rs_stager_tus_decide_head(200, &r, &t, 100, SHA, &off), RS_TUSH_CREATE);
  t = upload_at(40, 100);
  r.has_target_sha = 1; /* resumable-serve names the hash the upload is bound to */
  memcpy(r.target_sha, OTHER, 32);
  assert_int_equal(rs_stager_tus_decide_head(200, &r, &t, 100, SHA, &off), RS_TUSH_CREATE);
  memcpy(r.target_sha, SHA, 32);
  assert_int_equal(rs_stager_tus_decide_head(200, &r, &t, 100, SHA, &off), RS_TUSH_RESUME);
  rs_resp_reset(&r);
  rs_tus_resp none;
  rs_tus_resp_reset(&none);
  assert_int_equal(rs_stager_tus_decide_head(404, &r, &none, 100, SHA, &off), RS_TUSH_CREATE);
  assert_int_equal(rs_stager_tus_decide_head(410, &r, &none, 100, SHA, &off), RS_TUSH_CREATE);
  assert_int_equal(rs_stager_tus_decide_head(405, &r, &none, 100, SHA, &off), RS_TUSH_CREATE);
  assert_int_equal(rs_stager_tus_decide_head(200, &r, &none, 100, SHA, &off), RS_TUSH_CREATE);
  assert_int_equal(rs_stager_tus_decide_head(423, &r, &none, 100, SHA, &off), RS_TUSH_TRANSIENT);
  assert_int_equal(rs_stager_tus_decide_head(503, &r, &none, 100, SHA, &off), RS_TUSH_TRANSIENT);
  assert_int_equal(rs_stager_tus_decide_head(401, &r, &none, 100, SHA, &off), RS_TUSH_REFUSED);
}

static void sent_decisions(void **state)
{
  (void)state;
  uint64_t off = 0;
  rs_tus_resp t = upload_at(60, 100);
  assert_int_equal(rs_stager_tus_decide_sent(204, &t, 0, 40, 70, 100, &off), RS_TUSS_CONTINUE);
  assert_int_equal(off, 60); /* the server kept less than was sent: go on from there */
  t.offset = 100;
  assert_int_equal(rs_stager_tus_decide_sent(204, &t, 0, 40, 100, 100, &off), RS_TUSS_DONE);
  t.offset = 101;
  assert_int_equal(rs_stager_tus_decide_sent(204, &t, 0, 40, 100, 100, &off), RS_TUSS_PROTOCOL);
  t.offset = 39; /* backwards */
  assert_int_equal(rs_stager_tus_decide_sent(204, &t, 0, 40, 100, 100, &off), RS_TUSS_PROTOCOL);
  rs_tus_resp none;
  rs_tus_resp_reset(&none);
  assert_int_equal(rs_stager_tus_decide_sent(204, &none, 0, 40, 100, 100, &off), RS_TUSS_PROTOCOL);
  /* creation: 201, without a body no offset is needed */
  assert_int_equal(rs_stager_tus_decide_sent(201, &none, 1, 0, 0, 100, &off), RS_TUSS_CONTINUE);
  assert_int_equal(off, 0);
  assert_int_equal(rs_stager_tus_decide_sent(200, &none, 1, 0, 0, 100, &off), RS_TUSS_PROTOCOL);
  t = upload_at(100, 100);
  assert_int_equal(rs_stager_tus_decide_sent(201, &t, 1, 0, 100, 100, &off), RS_TUSS_DONE);
  assert_int_equal(rs_stager_tus_decide_sent(201, &none, 1, 0, 0, 0, &off),
                   RS_TUSS_DONE); /* empty */
  assert_int_equal(rs_stager_tus_decide_sent(409, &none, 0, 0, 10, 100, &off), RS_TUSS_RESYNC);
  assert_int_equal(rs_stager_tus_decide_sent(460, &none, 0, 0, 10, 100, &off), RS_TUSS_RESEND);
  assert_int_equal(rs_stager_tus_decide_sent(404, &none, 0, 0, 10, 100, &off), RS_TUSS_RESTART);
  assert_int_equal(rs_stager_tus_decide_sent(410, &none, 0, 0, 10, 100, &off), RS_TUSS_RESTART);
  assert_int_equal(rs_stager_tus_decide_sent(404, &none, 1, 0, 10, 100, &off), RS_TUSS_REFUSED);
  assert_int_equal(rs_stager_tus_decide_sent(413, &none, 1, 0, 10, 100, &off), RS_TUSS_TOO_LARGE);
  assert_int_equal(rs_stager_tus_decide_sent(423, &none, 0, 0, 10, 100, &off), RS_TUSS_TRANSIENT);
  assert_int_equal(rs_stager_tus_decide_sent(502, &none, 0, 0, 10, 100, &off), RS_TUSS_TRANSIENT);
  assert_int_equal(rs_stager_tus_decide_sent(415, &none, 0, 0, 10, 100, &off), RS_TUSS_REFUSED);
  assert_int_equal(rs_stager_tus_decide_sent(302, &none, 0, 0, 10, 100, &off), RS_TUSS_PROTOCOL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(headers_are_parsed),
      cmocka_unit_test(draft_discovery_headers_are_parsed),
      cmocka_unit_test(locations_resolve_against_the_request_url),
      cmocka_unit_test(head_decisions),
      cmocka_unit_test(sent_decisions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
