/* The real stager against a SCRIPTED FAKE server (tests/e2e/scripted.c): answers the real
 * server would not give on demand (416 with a chosen offset, 409, a failed final hash check,
 * 503 + Retry-After, other refusals), to pin how the stager reacts to each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_util.h"
#include "test_fs.h"
#include "scripted.h"
#include "sink.h"

#define SIZE 65536

struct fx {
  char *dir, *path, sha[65], url[256];
  char final_hdr[256], final_body[256], partial_hdr[512];
  scripted srv;
  resumable_stager *st;
};

static int setup(void **state)
{
  struct fx *f = calloc(1, sizeof *f);
  if (f == NULL || (f->dir = e2e_tmpdir()) == NULL)
    return -1;
  f->path = e2e_make_file(f->dir, "f.bin", SIZE, 77);
  if (f->path == NULL || e2e_sha256_file(f->path, f->sha) != 0)
    return -1;
  if (scripted_start(&f->srv) != 0)
    return -1;
  e2e_url(f->url, sizeof f->url, f->srv.port, "f.bin");
  snprintf(f->final_hdr, sizeof f->final_hdr, "X-Content-SHA256: %s\r\nX-File-Size: %d\r\n", f->sha,
           SIZE);
  snprintf(f->final_body, sizeof f->final_body,
           "{\"key\": \"f.bin\", \"size\": %d, \"sha256\": \"%s\"}", SIZE, f->sha);
  snprintf(f->partial_hdr, sizeof f->partial_hdr,
           "X-File-Size: 1000\r\nContent-Length: 1000\r\nAccept-Ranges: bytes\r\n"
           "X-Upload-Total: %d\r\nX-Target-SHA256: %s\r\n",
           SIZE, f->sha);
  f->st = e2e_stager(f->url, f->path);
  if (f->st == NULL)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fx *f = *state;
  resumable_stager_free(f->st);
  scripted_stop(&f->srv);
  (void)test_remove_tree(f->dir);
  free(f->path);
  free(f->dir);
  free(f);
  return 0;
}

static void on_put_final_ok(struct fx *f)
{
  scripted_on_put(&f->srv, 200, f->final_hdr, f->final_body);
}

static const char *put_range(struct fx *f, size_t i)
{
  const script_request *r = scripted_nth(&f->srv, "PUT", i);
  assert_non_null(r);
  return r->content_range;
}

static void resync_416_continues_from_its_x_file_size(void **state)
{
  struct fx *f = *state;
  scripted_on_put(&f->srv, 416, "Content-Range: bytes */65536\r\nX-File-Size: 1000\r\n",
                  "offset mismatch");
  on_put_final_ok(f);
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_OK);
  assert_string_equal(put_range(f, 0), "bytes 0-65535/65536");
  assert_string_equal(put_range(f, 1), "bytes 1000-65535/65536");
  assert_int_equal(scripted_count(&f->srv, "PUT"), 2);
}

static void resync_416_three_times_in_a_row_fails(void **state)
{
  struct fx *f = *state;
  scripted_on_put(&f->srv, 416, "Content-Range: bytes */65536\r\nX-File-Size: 1000\r\n",
                  "offset mismatch");
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_E_PROTOCOL);
  assert_int_equal(scripted_count(&f->srv, "PUT"), 3);
}

static void conflict_409_restarts_from_zero(void **state)
{
  struct fx *f = *state;
  scripted_on_head(&f->srv, 200, f->partial_hdr, NULL);
  scripted_on_head(&f->srv, 404, NULL, NULL); /* a re-probe after the 409 finds nothing */
  scripted_on_put(&f->srv, 409, NULL, "upload changed: restart from 0");
  on_put_final_ok(f);
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_OK);
  assert_string_equal(put_range(f, 0), "bytes 1000-65535/65536");
  assert_string_equal(put_range(f, 1), "bytes 0-65535/65536");
  assert_int_equal(resumable_stager_restarts(f->st), 1);
}

static void conflict_409_three_times_in_a_row_fails(void **state)
{
  struct fx *f = *state;
  scripted_on_put(&f->srv, 409, NULL, "upload changed: restart from 0");
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_E_REFUSED);
  assert_int_equal(scripted_count(&f->srv, "PUT"), 3);
}

static void final_hash_mismatch_400_restarts_from_zero(void **state)
{
  struct fx *f = *state;
  scripted_on_put(&f->srv, 400, NULL, "SHA-256 mismatch");
  on_put_final_ok(f);
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_OK);
  assert_string_equal(put_range(f, 0), "bytes 0-65535/65536");
  assert_string_equal(put_range(f, 1), "bytes 0-65535/65536");
  assert_int_equal(resumable_stager_restarts(f->st), 1);
}

static void final_hash_mismatch_400_three_times_in_a_row_fails(void **state)
{
  struct fx *f = *state;
  scripted_on_put(&f->srv, 400, NULL, "SHA-256 mismatch");
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_E_HASH_MISMATCH);
  assert_int_equal(scripted_count(&f->srv, "PUT"), 3);
}

static void retry_after_1_on_503_is_honoured(void **state)
{
  struct fx *f = *state;
  scripted_on_put(&f->srv, 503, "Retry-After: 1\r\n", "busy");
  on_put_final_ok(f);
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_OK);
  /* The backoff is 10..50 ms: only the Retry-After explains a gap of a second. */
  const script_request *put0 = scripted_nth(&f->srv, "PUT", 0);
  const script_request *head1 = scripted_nth(&f->srv, "HEAD", 1);
  const script_request *put1 = scripted_nth(&f->srv, "PUT", 1);
  assert_non_null(put0);
  assert_non_null(put1);
  double next = head1 != NULL && head1->at < put1->at ? head1->at : put1->at;
  assert_true(next - put0->at >= 0.95);
}

static void other_4xx_fails_at_once_with_the_server_message(void **state)
{
  struct fx *f = *state;
  scripted_on_put(&f->srv, 403, NULL, "quota exceeded for this tenant");
  double secs;
  assert_int_equal(e2e_run(f->st, &secs), RESUMABLE_E_REFUSED);
  assert_int_equal(scripted_count(&f->srv, "PUT"), 1);
  assert_int_equal(resumable_stager_http_status(f->st), 403);
  assert_non_null(strstr(resumable_stager_message(f->st), "quota exceeded for this tenant"));
  assert_true(secs < 5.0);
}

static void extra_header_and_bearer_token_go_with_every_request(void **state)
{
  struct fx *f = *state;
  on_put_final_ok(f);
  assert_int_equal(resumable_stager_add_header(f->st, "X-Trace-Id: e2e-42"), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_bearer_token(f->st, "s3cret"), RESUMABLE_OK);
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_OK);
  assert_int_equal(scripted_count(&f->srv, "HEAD"), 1);
  assert_int_equal(scripted_count(&f->srv, "PUT"), 1);
  const char *methods[] = {"HEAD", "PUT"};
  for (int i = 0; i < 2; i++) {
    const script_request *r = scripted_nth(&f->srv, methods[i], 0);
    assert_non_null(r);
    assert_non_null(strstr(r->headers, "X-Trace-Id: e2e-42\r\n"));
    assert_non_null(strstr(r->headers, "Authorization: Bearer s3cret\r\n"));
  }
}

static void head_405_falls_back_to_one_whole_file_put(void **state)
{
  struct fx *f = *state;
  scripted_on_head(&f->srv, 405, "Allow: PUT\r\n", NULL);
  on_put_final_ok(f);
  assert_int_equal(e2e_run(f->st, NULL), RESUMABLE_OK);
  assert_int_equal(scripted_count(&f->srv, "PUT"), 1);
  assert_string_equal(put_range(f, 0), "");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(resync_416_continues_from_its_x_file_size),
      T(resync_416_three_times_in_a_row_fails),
      T(conflict_409_restarts_from_zero),
      T(conflict_409_three_times_in_a_row_fails),
      T(final_hash_mismatch_400_restarts_from_zero),
      T(final_hash_mismatch_400_three_times_in_a_row_fails),
      T(retry_after_1_on_503_is_honoured),
      T(other_4xx_fails_at_once_with_the_server_message),
      T(extra_header_and_bearer_token_go_with_every_request),
      T(head_405_falls_back_to_one_whole_file_put),
  };
  resumable_global_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  resumable_global_cleanup();
  return rc;
}
