/* resumable_stager_run in the tus dialect against the scripted server, answer by answer:
 * discovery, creation with and without the first bytes, Upload-Checksum and the one resend
 * after 460, 409 re-asked with HEAD, a vanished upload created again, Tus-Max-Size, transient
 * failures, and AUTO falling back to the LocalAI protocol. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

#include "mbedtls_compat.h"

#include "hex.h"
#include "resumable/stager.h"
#include "script_server.h"
#include "sha256.h"
#include "test_fs.h"

#define SIZE 1000
#define OPTIONS_ALL                                                                         \
  "Tus-Resumable: 1.0.0\nTus-Version: 1.0.0\nTus-Extension: creation,creation-with-upload," \
  "checksum,termination\nTus-Checksum-Algorithm: md5,sha1,sha256\n"
#define OPTIONS_SHA1                                                             \
  "Tus-Resumable: 1.0.0\nTus-Version: 1.0.0\nTus-Extension: creation,checksum\n" \
  "Tus-Checksum-Algorithm: sha1\n"
#define OPTIONS_PLAIN "Tus-Resumable: 1.0.0\nTus-Version: 1.0.0\nTus-Extension: creation\n"

typedef struct fixture {
  char dir[64];
  char path[96];
  char sha[65];
  uint8_t data[SIZE];
  script_server *srv;
  resumable_stager *s;
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/stager-tus-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/file.bin", f->dir);
  for (size_t i = 0; i < SIZE; i++)
    f->data[i] = (uint8_t)(i * 13 + 1);
  FILE *fp = fopen(f->path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(f->data, 1, SIZE, fp), SIZE);
  assert_int_equal(fclose(fp), 0);
  uint8_t d[32];
  rs_sha256_digest(f->data, SIZE, d);
  rs_sha256_hex_format(d, f->sha);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  resumable_stager_free(f->s);
  script_stop(f->srv);
  assert_int_equal(test_remove_tree(f->dir), 0);
  free(f);
  return 0;
}

static void start(fixture *f, const script_answer *a, int n, resumable_protocol p)
{
  char url[128];
  f->srv = script_start(a, n, f->sha);
  assert_non_null(f->srv);
  snprintf(url, sizeof url, "http://127.0.0.1:%u/files/", script_port(f->srv));
  assert_int_equal(resumable_stager_new(&f->s, url, f->path), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_backoff_ms(f->s, 1, 5), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(f->s, 20000), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_protocol(f->s, p), RESUMABLE_OK);
}

static void expect_methods(const fixture *f, const char *const *methods)
{
  int n = 0;
  for (; methods[n]; n++) {
    assert_true(n < script_count(f->srv));
    assert_string_equal(script_at(f->srv, n)->method, methods[n]);
  }
  assert_int_equal(script_count(f->srv), n);
}

/* "sha1 <base64>" of data[start, end). */
static void sha1_header(const fixture *f, size_t start, size_t end, char *out, size_t cap)
{
  unsigned char d[20];
  size_t n = 0;
  assert_int_equal(mbedtls_sha1_ret(f->data + start, end - start, d), 0);
  int k = snprintf(out, cap, "sha1 ");
  assert_int_equal(mbedtls_base64_encode((unsigned char *)out + k, cap - (size_t)k, &n, d, 20), 0);
}

static void creation_with_upload_carries_the_file_and_its_checksum(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, OPTIONS_ALL, NULL, 0},
      {201, "Location: /files/abc\nUpload-Offset: 1000\n", NULL, 0},
  };
  start(f, a, 2, RESUMABLE_PROTOCOL_TUS);
  assert_int_equal(resumable_stager_add_metadata(f->s, "filename", "file.bin"), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", NULL});
  const script_record *post = script_at(f->srv, 1);
  assert_int_equal(post->body, SIZE);
  assert_string_equal(post->sha, f->sha); /* X-Content-SHA256 binds on resumable-serve */
  assert_int_equal(strncmp(post->upload_checksum, "sha256 ", 7), 0); /* sha256 when listed */
  assert_int_equal(resumable_stager_protocol_used(f->s), RESUMABLE_PROTOCOL_TUS);
  char want[128];
  snprintf(want, sizeof want, "http://127.0.0.1:%u/files/abc", script_port(f->srv));
  assert_string_equal(resumable_stager_upload_url(f->s), want);
  assert_int_equal(resumable_stager_resumed_from(f->s), 0);
}

static void a_corrupted_request_is_resent_once(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, OPTIONS_SHA1, NULL, 0},
      {201, "Location: abc\n", NULL, 0}, /* relative to the endpoint */
      {460, NULL, "checksum mismatch", 0},
      {204, "Upload-Offset: 1000\n", NULL, 0},
  };
  start(f, a, 4, RESUMABLE_PROTOCOL_TUS);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", "PATCH", "PATCH", NULL});
  assert_int_equal(script_at(f->srv, 1)->body, 0); /* no creation-with-upload offered */
  char want[96];
  sha1_header(f, 0, SIZE, want, sizeof want);
  for (int i = 2; i < 4; i++) {
    assert_string_equal(script_at(f->srv, i)->upload_offset, "0");
    assert_string_equal(script_at(f->srv, i)->upload_checksum, want);
    assert_int_equal(script_at(f->srv, i)->body, SIZE);
  }
  assert_int_equal(resumable_stager_attempts(f->s), 1); /* a resend is not a new attempt */
}

static void repeated_460_ends_as_a_hash_mismatch(void **state)
{
  fixture *f = *state;
  /* resumable-serve answers 460 when the whole-file SHA-256 fails (the upload is dropped): a
   * wrong hash must end the run, not loop until the budget does */
  static const script_answer a[] = {
      {204, OPTIONS_ALL, NULL, 0}, {460, NULL, "sha", 0}, {460, NULL, "sha", 0},
      {460, NULL, "sha", 0},       {460, NULL, "sha", 0}, {460, NULL, "sha", 0},
      {460, NULL, "sha", 0},
  };
  start(f, a, 7, RESUMABLE_PROTOCOL_TUS);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_HASH_MISMATCH);
  assert_int_equal(script_count(f->srv), 7);
  assert_int_equal(resumable_stager_restarts(f->s), 2);
}

static void chunks_each_carry_their_checksum_and_offset(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, OPTIONS_SHA1, NULL, 0},
      {201, "Location: /files/abc\n", NULL, 0},
      {204, "Upload-Offset: 400\n", NULL, 0},
      {204, "Upload-Offset: 800\n", NULL, 0},
      {204, "Upload-Offset: 1000\n", NULL, 0},
  };
  start(f, a, 5, RESUMABLE_PROTOCOL_TUS);
  assert_int_equal(resumable_stager_set_chunk_size(f->s, 400), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  char want[96];
  static const size_t at[] = {0, 400, 800, 1000};
  for (int i = 0; i < 3; i++) {
    const script_record *r = script_at(f->srv, 2 + i);
    char off[32];
    snprintf(off, sizeof off, "%zu", at[i]);
    assert_string_equal(r->upload_offset, off);
    assert_int_equal(r->body, at[i + 1] - at[i]);
    sha1_header(f, at[i], at[i + 1], want, sizeof want);
    assert_string_equal(r->upload_checksum, want);
  }
}

static void a_conflict_is_resolved_with_head(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, OPTIONS_PLAIN, NULL, 0},
      {201, "Location: /files/abc\n", NULL, 0},
      {409, NULL, "offset mismatch", 0},
      {200, "Upload-Offset: 300\nUpload-Length: 1000\n", NULL, 0},
      {204, "Upload-Offset: 1000\n", NULL, 0},
  };
  start(f, a, 5, RESUMABLE_PROTOCOL_TUS);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", "PATCH", "HEAD", "PATCH", NULL});
  assert_string_equal(script_at(f->srv, 4)->upload_offset, "300");
  assert_int_equal(script_at(f->srv, 4)->body, SIZE - 300);
  assert_string_equal(script_at(f->srv, 4)->upload_checksum, ""); /* not offered */
}

static void a_vanished_upload_is_created_again(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, OPTIONS_PLAIN, NULL, 0},
      {201, "Location: /files/a\n", NULL, 0},
      {404, NULL, "gone", 0},
      {201, "Location: /files/b\n", NULL, 0},
      {204, "Upload-Offset: 1000\n", NULL, 0},
  };
  start(f, a, 5, RESUMABLE_PROTOCOL_TUS);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", "PATCH", "POST", "PATCH", NULL});
  assert_int_equal(resumable_stager_restarts(f->s), 1);
  assert_non_null(strstr(resumable_stager_upload_url(f->s), "/files/b"));
}

static void transient_failures_wait_and_ask_again(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {503, NULL, "busy", 0},
      {204, OPTIONS_PLAIN, NULL, 0},
      {201, "Location: /files/a\n", NULL, 0},
      {503, "Retry-After: 0\n", "busy", 0},
      {200, "Upload-Offset: 0\nUpload-Length: 1000\n", NULL, 0},
      {204, "Upload-Offset: 1000\n", NULL, 0},
  };
  start(f, a, 6, RESUMABLE_PROTOCOL_TUS);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(
      f, (const char *const[]){"OPTIONS", "OPTIONS", "POST", "PATCH", "HEAD", "PATCH", NULL});
}

static void refusals_and_limits_end_the_run(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, "Tus-Version: 1.0.0\nTus-Extension: creation\nTus-Max-Size: 999\n", NULL, 0},
  };
  start(f, a, 1, RESUMABLE_PROTOCOL_TUS);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_TOO_LARGE);
  expect_methods(f, (const char *const[]){"OPTIONS", NULL}); /* nothing created */
}

static void a_refused_creation_is_permanent(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, OPTIONS_PLAIN, NULL, 0},
      {403, NULL, "no uploads for you", 0},
  };
  start(f, a, 2, RESUMABLE_PROTOCOL_AUTO);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_REFUSED);
  assert_non_null(strstr(resumable_stager_message(f->s), "no uploads for you"));
}

static void auto_speaks_localai_to_a_server_without_tus(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {405, "Allow: HEAD, GET, PUT, DELETE\n", "method not allowed", 0},
      {404, NULL, NULL, 0},
      {200, "X-Content-SHA256: $SHA\nX-File-Size: 1000\n", "{}", 0},
  };
  start(f, a, 3, RESUMABLE_PROTOCOL_AUTO);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "HEAD", "PUT", NULL});
  assert_int_equal(resumable_stager_protocol_used(f->s), RESUMABLE_PROTOCOL_LOCALAI);
  assert_string_equal(resumable_stager_upload_url(f->s), "");
}

static void options_are_checked(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {{500, NULL, NULL, 0}};
  start(f, a, 1, RESUMABLE_PROTOCOL_LOCALAI);
  assert_int_equal(resumable_stager_set_protocol(f->s, (resumable_protocol)7),
                   RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_parallel(f->s, 0), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_parallel(f->s, 17), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_set_parallel(f->s, 16), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_url_store_dir(f->s, ""), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_add_metadata(f->s, "a b", "x"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_add_metadata(f->s, "a,b", "x"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_add_metadata(f->s, "", "x"), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_add_metadata(f->s, "k", "v"), RESUMABLE_OK);
  assert_int_equal(resumable_stager_add_metadata(f->s, "k", "w"), RESUMABLE_E_INVALID_ARG);
  char big[3100];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(resumable_stager_add_metadata(f->s, "big", big), RESUMABLE_E_INVALID_ARG);
  assert_int_equal(resumable_stager_protocol_used(NULL), RESUMABLE_PROTOCOL_LOCALAI);
  assert_string_equal(resumable_stager_upload_url(NULL), "");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(creation_with_upload_carries_the_file_and_its_checksum),
      T(a_corrupted_request_is_resent_once),
      T(repeated_460_ends_as_a_hash_mismatch),
      T(chunks_each_carry_their_checksum_and_offset),
      T(a_conflict_is_resolved_with_head),
      T(a_vanished_upload_is_created_again),
      T(transient_failures_wait_and_ask_again),
      T(refusals_and_limits_end_the_run),
      T(a_refused_creation_is_permanent),
      T(auto_speaks_localai_to_a_server_without_tus),
      T(options_are_checked),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
