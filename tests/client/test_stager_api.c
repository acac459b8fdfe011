/* The stager's public surface without the network: creation, options checked at set time,
 * results before a run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "resumable/stager.h"

typedef struct fixture {
  char dir[64];
  char path[96];
  resumable_stager *s;
} fixture;

static const char url[] = "http://127.0.0.1:1/v1/files/k";

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/stager-api-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/f", f->dir);
  FILE *fp = fopen(f->path, "wb");
  assert_non_null(fp);
  fputs("hello", fp);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(resumable_stager_new(&f->s, url, f->path), RESUMABLE_OK);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  resumable_stager_free(f->s);
  unlink(f->path);
  rmdir(f->dir);
  free(f);
  return 0;
}

static void new_rejects_bad_urls(void **state)
{
  fixture *f = *state;
  resumable_stager *s = (resumable_stager *)1;
  const char *bad[] = {
      "", "ftp://h/x", "http//h/x", "http://h/a b", "http://h/\r\nX: y", "file:///etc/passwd"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(resumable_stager_new(&s, bad[i], f->path), RESUMABLE_E_INVALID_ARG);
    assert_null(s);
  }
  assert_int_equal(resumable_stager_new(&s, NULL, f->path), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_new(NULL, url, f->path), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_new(&s, "HTTPS://h/x", f->path), RESUMABLE_OK);
  resumable_stager_free(s);
}

static void new_rejects_missing_file_and_directory(void **state)
{
  fixture *f = *state;
  resumable_stager *s = (resumable_stager *)1;
  char missing[128];
  snprintf(missing, sizeof missing, "%s/nope", f->dir);
  assert_int_equal(resumable_stager_new(&s, url, missing), RESUMABLE_E_FILE);
  assert_null(s);
  assert_int_equal(resumable_stager_new(&s, url, f->dir), RESUMABLE_E_FILE);
  assert_null(s);
}

static void new_fd_dups_so_the_caller_may_close(void **state)
{
  fixture *f = *state;
  int fd = open(f->path, O_RDONLY);
  assert_true(fd >= 0);
  resumable_stager *s = NULL;
  assert_int_equal(resumable_stager_new_fd(&s, url, fd), RESUMABLE_OK);
  assert_int_equal(close(fd), 0); /* ours to close; the stager keeps its duplicate */
  resumable_stager_free(s);
  assert_int_equal(resumable_stager_new_fd(&s, url, -1), RESUMABLE_E_FILE);
  assert_int_equal(resumable_stager_new_fd(&s, url, fd), RESUMABLE_E_FILE); /* closed */
}

static void new_fd_rejects_write_only_fd(void **state)
{
  fixture *f = *state;
  int fd = open(f->path, O_WRONLY);
  assert_true(fd >= 0);
  resumable_stager *s = (resumable_stager *)1;
  assert_int_equal(resumable_stager_new_fd(&s, url, fd), RESUMABLE_E_FILE);
  assert_null(s);
  close(fd);
}

static void free_null_is_a_no_op(void **state)
{
  (void)state;
  resumable_stager_free(NULL);
  assert_int_equal(resumable_stager_run(NULL), RESUMABLE_E_INVALID_ARG);
}

static void setters_reject_out_of_range_values(void **state)
{
  fixture *f = *state;
  resumable_stager *s = f->s;
  assert_int_equal(resumable_stager_set_time_budget_ms(s, 0), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_time_budget_ms(s, 1), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_backoff_ms(s, 0, 10), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_backoff_ms(s, 20, 10), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_backoff_ms(s, 1, 86400001), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_backoff_ms(s, 10, 10), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_jitter(s, (resumable_jitter)3), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_jitter(s, RESUMABLE_JITTER_FULL), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_size(s, UINT64_MAX), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_chunk_size(s, 0), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_digest(s, 2), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_chunk_digest(s, -2), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_chunk_digest(s, 1), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_digest(s, -1), RESUMABLE_OK);
  assert_int_equal(resumable_stager_chunk_resends(NULL), 0);
  assert_int_equal(resumable_stager_set_stall(s, 1, 0), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_stall(s, 0, 0), RESUMABLE_OK); /* disabled */
  assert_int_equal(resumable_stager_set_connect_timeout_ms(s, 0), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_max_send_speed(s, UINT64_MAX), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_time_budget_ms(NULL, 5), RESUMABLE_E_INVALID_ARG);
}

static void set_sha256_accepts_only_64_hex_digits(void **state)
{
  fixture *f = *state;
  const char *ok = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015ad";
  assert_int_equal(resumable_stager_set_sha256(f->s, ok), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_sha256(f->s, "abc"), RESUMABLE_E_INVALID_ARG);
  char bad[65];
  memcpy(bad, ok, 65);
  bad[10] = 'g';
  assert_int_equal(resumable_stager_set_sha256(f->s, bad), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_sha256(f->s, NULL), RESUMABLE_OK);
}

static void add_header_refuses_malformed_and_reserved_headers(void **state)
{
  fixture *f = *state;
  const char *bad[] = {"NoColon",
                       ": empty name",
                       "Bad Name: x",
                       "X-A: b\r\nX-B: c",
                       "content-range: bytes 0-1/2",
                       "Content-Length: 3",
                       "Expect: nothing",
                       "X-Content-SHA256: 00",
                       "Transfer-Encoding: chunked"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(resumable_stager_add_header(f->s, bad[i]), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_add_header(f->s, "X-Trace: 1"), RESUMABLE_OK);
  assert_int_equal(resumable_stager_add_header(f->s, "X-Empty:"), RESUMABLE_OK);
}

static void bearer_token_must_be_visible_ascii(void **state)
{
  fixture *f = *state;
  assert_int_equal(resumable_stager_set_bearer_token(f->s, ""), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_bearer_token(f->s, "a b"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_bearer_token(f->s, "a\nb"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_bearer_token(f->s, "tok-123_=="), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_bearer_token(f->s, NULL), RESUMABLE_OK);
}

static void client_key_without_cert_is_refused(void **state)
{
  fixture *f = *state;
  assert_int_equal(resumable_stager_set_client_cert(f->s, NULL, "k.pem"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_client_cert(f->s, "c.pem", "k.pem"), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_client_cert(f->s, NULL, NULL), RESUMABLE_OK);
}

static void results_before_a_run_are_empty(void **state)
{
  fixture *f = *state;
  assert_int_equal(resumable_stager_error(f->s), RESUMABLE_OK);
  assert_string_equal(resumable_stager_message(f->s), "");
  assert_null(resumable_stager_sha256(f->s));
  assert_int_equal(resumable_stager_attempts(f->s), 0);
  assert_int_equal(resumable_stager_wire_bytes(f->s), 0);
  assert_string_equal(resumable_stager_response_body(f->s), "");
  assert_string_equal(resumable_stager_message(NULL), "");
}

static int calls_setter(void *ud, const resumable_progress *p)
{
  resumable_stager **s = ud;
  if (p->phase == RESUMABLE_PHASE_HASHING) {
    assert_int_equal(resumable_stager_set_chunk_size(*s, 5), RESUMABLE_E_STATE);
    assert_int_equal(resumable_stager_run(*s), RESUMABLE_E_STATE);
    return 1; /* and cancel */
  }
  return 0;
}

static void setters_and_run_inside_a_callback_are_refused(void **state)
{
  fixture *f = *state;
  assert_int_equal(resumable_stager_set_progress(f->s, calls_setter, &f->s), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_CANCELLED);
  assert_int_equal(resumable_stager_requests(f->s), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(new_rejects_bad_urls),
      T(new_rejects_missing_file_and_directory),
      T(new_fd_dups_so_the_caller_may_close),
      T(new_fd_rejects_write_only_fd),
      T(free_null_is_a_no_op),
      T(setters_reject_out_of_range_values),
      T(set_sha256_accepts_only_64_hex_digits),
      T(add_header_refuses_malformed_and_reserved_headers),
      T(bearer_token_must_be_visible_ascii),
      T(client_key_without_cert_is_refused),
      T(results_before_a_run_are_empty),
      T(setters_and_run_inside_a_callback_are_refused),
#undef T
  };
  return cmocka_run_group_tests_name("stager_api", tests, NULL, NULL);
}
