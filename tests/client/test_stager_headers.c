/* lib/client/stager_headers.c: response header lines as libcurl delivers them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stager_headers.h"

static const uint8_t sha_bytes[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};

static void feed(rs_resp *r, const char *line)
{
  rs_resp_feed(r, line, strlen(line), 1000);
}

static void headers_parse_a_partial_probe(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/1.1 200 OK\r\n");
  feed(&r, "X-File-Size: 1024\r\n");
  feed(&r, "Accept-Ranges: bytes\r\n");
  feed(&r, "X-Upload-Total: 4096\r\n");
  feed(&r, "X-Target-SHA256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\r\n");
  feed(&r, "\r\n");
  assert_int_equal(r.status, 200);
  assert_true(r.complete);
  assert_true(r.has_file_size);
  assert_int_equal(r.file_size, 1024);
  assert_true(r.accept_ranges);
  assert_true(r.has_upload_total);
  assert_int_equal(r.upload_total, 4096);
  assert_true(r.has_target_sha);
  assert_memory_equal(r.target_sha, sha_bytes, 32);
  assert_false(r.has_content_sha);
}

static void headers_names_are_case_insensitive_and_values_trimmed(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/2 200\r\n");
  feed(&r, "x-file-size: \t 77 \r\n");
  feed(&r, "ACCEPT-RANGES:bytes\r\n");
  char line[128];
  snprintf(line, sizeof line, "x-content-sha256:   %s  \r\n",
           "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  feed(&r, line);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.file_size, 77);
  assert_true(r.accept_ranges);
  assert_true(r.has_content_sha);
  assert_memory_equal(r.content_sha, sha_bytes, 32);
}

static void headers_status_line_forgets_the_interim_response(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/1.1 100 Continue\r\n");
  feed(&r, "X-File-Size: 5\r\n");
  feed(&r, "\r\n");
  assert_false(r.complete); /* 1xx is not the final answer */
  feed(&r, "HTTP/1.1 308 Permanent Redirect\r\n");
  assert_false(r.has_file_size);
  feed(&r, "Range: bytes=0-99\r\n");
  feed(&r, "\r\n");
  assert_int_equal(r.status, 308);
  assert_true(r.complete);
  uint64_t held = 0;
  assert_int_equal(rs_resp_held(&r, &held), 0);
  assert_int_equal(held, 100);
}

static void headers_file_size_wins_over_range(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/1.1 308 Resume Incomplete\r\n");
  feed(&r, "Range: bytes=0-9\r\n");
  feed(&r, "X-File-Size: 20\r\n");
  uint64_t held = 0;
  assert_int_equal(rs_resp_held(&r, &held), 0);
  assert_int_equal(held, 20);
}

static void headers_malformed_values_count_as_absent(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/1.1 200 OK\r\n");
  feed(&r, "X-File-Size: -1\r\n");
  feed(&r, "X-Upload-Total: 12abc\r\n");
  feed(&r, "Range: bytes=5-9\r\n"); /* not a prefix: meaningless for a resumable upload */
  feed(&r, "X-Target-SHA256: abc\r\n");
  feed(&r, "Retry-After: later\r\n");
  feed(&r, "Accept-Ranges: none\r\n");
  feed(&r, "X-File-Size: 99999999999999999999\r\n");
  assert_false(r.has_file_size);
  assert_false(r.has_upload_total);
  assert_false(r.has_range);
  assert_false(r.has_target_sha);
  assert_false(r.has_retry_after);
  assert_false(r.accept_ranges);
  uint64_t held = 5;
  assert_int_equal(rs_resp_held(&r, &held), -1);
  assert_int_equal(held, 5);
}

static void headers_accept_ranges_finds_bytes_in_a_list(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/1.1 200 OK\r\n");
  feed(&r, "Accept-Ranges: none, Bytes\r\n");
  assert_true(r.accept_ranges);
}

/* RFC 9530: the server asks for Content-Digest with a non-zero sha-256 weight. */
static void headers_want_content_digest_needs_sha256_weight(void **state)
{
  (void)state;
  static const struct {
    const char *v;
    int want;
  } cases[] = {{"sha-256=10, sha-512=3", 1},
               {"sha-512=3,sha-256=1", 1},
               {"sha-256=0", 0},
               {"sha-512=5", 0},
               {"xsha-256=5", 0},
               {"sha-256=", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rs_resp r;
    char line[96];
    rs_resp_reset(&r);
    feed(&r, "HTTP/1.1 200 OK\r\n");
    snprintf(line, sizeof line, "want-content-digest: %s\r\n", cases[i].v);
    feed(&r, line);
    if (r.want_digest != cases[i].want)
      fail_msg("Want-Content-Digest: %s", cases[i].v);
  }
}

static void headers_retry_after_seconds_and_date(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/1.1 503 Service Unavailable\r\n");
  feed(&r, "Retry-After: 3\r\n");
  assert_true(r.has_retry_after);
  assert_int_equal(r.retry_after_ms, 3000);
  /* now = 1000 s after the epoch; the date is 1010 s after it. */
  feed(&r, "Retry-After: Thu, 01 Jan 1970 00:16:50 GMT\r\n");
  assert_int_equal(r.retry_after_ms, 10000);
}

static void headers_survive_lines_without_colon_or_crlf(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/1.1 200 OK");
  feed(&r, "garbage line\r\n");
  feed(&r, ": no name\r\n");
  feed(&r, "X-File-Size: 3");
  rs_resp_feed(&r, "X-File-Size: 4", 0, 0); /* empty line: end of headers */
  assert_int_equal(r.status, 200);
  assert_int_equal(r.file_size, 3);
  assert_true(r.complete);
}

static void headers_bad_status_line_gives_status_zero(void **state)
{
  (void)state;
  rs_resp r;
  rs_resp_reset(&r);
  feed(&r, "HTTP/1.1 2x0 OK\r\n");
  feed(&r, "\r\n");
  assert_int_equal(r.status, 0);
  assert_false(r.complete);
  feed(&r, "HTTP/1.1\r\n");
  assert_int_equal(r.status, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(headers_parse_a_partial_probe),
      cmocka_unit_test(headers_names_are_case_insensitive_and_values_trimmed),
      cmocka_unit_test(headers_status_line_forgets_the_interim_response),
      cmocka_unit_test(headers_file_size_wins_over_range),
      cmocka_unit_test(headers_malformed_values_count_as_absent),
      cmocka_unit_test(headers_accept_ranges_finds_bytes_in_a_list),
      cmocka_unit_test(headers_want_content_digest_needs_sha256_weight),
      cmocka_unit_test(headers_retry_after_seconds_and_date),
      cmocka_unit_test(headers_survive_lines_without_colon_or_crlf),
      cmocka_unit_test(headers_bad_status_line_gives_status_zero),
  };
  return cmocka_run_group_tests_name("stager_headers", tests, NULL, NULL);
}
