/* resumable_stager_run in the IETF draft dialect against the scripted server, answer by answer:
 * auto-detection from the OPTIONS answer, Content-Digest (RFC 9530) sent when the server asks
 * (Want-Content-Digest on OPTIONS or HEAD) or when set to 1 and never when set to 0, the resend
 * of a request answered 422 (alone, from memory, the same digest), and eight 422s in a row ending
 * the run as a hash mismatch. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"
#include "resumable/stager.h"
#include "script_server.h"
#include "sha256.h"
#include "test_fs.h"
#include "tus_header.h" /* rs_base64_encode */

#define SIZE 3000
#define CHUNK 1000
#define DRAFT "Accept-Patch: application/partial-upload\nUpload-Limit: max-size=1000000\n"
#define WANT "Want-Content-Digest: sha-256=10, sha-512=3\n"

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
  snprintf(f->dir, sizeof f->dir, "/tmp/stager-ietf-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/file.bin", f->dir);
  for (size_t i = 0; i < SIZE; i++)
    f->data[i] = (uint8_t)(i * 7 + 3);
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

/* The stager at <server>/files/k.bin (a URL that names an upload: HEAD first). */
static void start(fixture *f, const script_answer *a, int n, resumable_protocol p, int digest)
{
  char url[128];
  f->srv = script_start(a, n, f->sha);
  assert_non_null(f->srv);
  snprintf(url, sizeof url, "http://127.0.0.1:%u/files/", script_port(f->srv));
  assert_int_equal(resumable_stager_new(&f->s, url, f->path), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_backoff_ms(f->s, 1, 5), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(f->s, 20000), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_protocol(f->s, p), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_size(f->s, CHUNK), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_digest(f->s, digest), RESUMABLE_OK);
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

/* "sha-256=:<base64>:" of data[start, end). */
static void cd_of(const fixture *f, size_t start, size_t end, char *out, size_t cap)
{
  uint8_t d[32];
  char b64[48];
  rs_sha256_digest(f->data + start, end - start, d);
  assert_true(rs_base64_encode(d, 32, b64, sizeof b64) > 0);
  snprintf(out, cap, "sha-256=:%s:", b64);
}

static void assert_digest(const fixture *f, int idx, size_t start, size_t end)
{
  char want[80];
  cd_of(f, start, end, want, sizeof want);
  assert_string_equal(script_at(f->srv, idx)->content_digest, want);
  assert_int_equal(script_at(f->srv, idx)->body, end - start);
}

/* AUTO: an OPTIONS answer with the draft's Accept-Patch (and no Tus-Version) is the draft; its
 * Want-Content-Digest makes the default (-1) send Content-Digest on every request. */
static void auto_finds_the_draft_and_digests_when_asked(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, DRAFT WANT, NULL, 0},
      {201, "Location: /files/k.bin\nUpload-Complete: ?0\nUpload-Offset: 1000\n", NULL, 0},
      {204, "Upload-Complete: ?0\nUpload-Offset: 2000\n", NULL, 0},
      {200, "Upload-Complete: ?1\nUpload-Offset: 3000\n", NULL, 0},
  };
  start(f, a, 4, RESUMABLE_PROTOCOL_AUTO, -1);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", "PATCH", "PATCH", NULL});
  assert_int_equal(resumable_stager_protocol_used(f->s), RESUMABLE_PROTOCOL_IETF);
  assert_string_equal(script_at(f->srv, 0)->interop, ""); /* AUTO asks in tus terms */
  for (int i = 1; i < 4; i++)
    assert_string_equal(script_at(f->srv, i)->interop, "8");
  assert_digest(f, 1, 0, 1000);
  assert_digest(f, 2, 1000, 2000);
  assert_digest(f, 3, 2000, 3000);
  assert_string_equal(script_at(f->srv, 2)->upload_offset, "1000");
  assert_string_equal(script_at(f->srv, 3)->upload_complete, "?1");
  assert_int_equal(resumable_stager_chunk_resends(f->s), 0);
}

/* A 422 to a digested PATCH: that request alone again, at once, with the same digest; the HEAD
 * that asks for digests is enough (the OPTIONS did not). */
static void a_damaged_request_is_resent_alone(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, DRAFT, NULL, 0},
      {201, "Location: /files/k.bin\nUpload-Complete: ?0\nUpload-Offset: 1000\n", NULL, 0},
      {422, "Content-Type: application/problem+json\nUpload-Offset: 1000\n" WANT,
       "{\"type\": \"https://iana.org/assignments/http-problem-types#digest-mismatching-value\"}",
       0},
      {204, "Upload-Complete: ?0\nUpload-Offset: 2000\n", NULL, 0},
      {200, "Upload-Complete: ?1\nUpload-Offset: 3000\n", NULL, 0},
  };
  start(f, a, 5, RESUMABLE_PROTOCOL_IETF, 1);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", "PATCH", "PATCH", "PATCH", NULL});
  assert_digest(f, 2, 1000, 2000);
  assert_digest(f, 3, 1000, 2000); /* the same bytes, the same digest */
  assert_string_equal(script_at(f->srv, 3)->upload_offset, "1000");
  assert_digest(f, 4, 2000, 3000);
  assert_int_equal(resumable_stager_chunk_resends(f->s), 1);
  assert_int_equal(resumable_stager_restarts(f->s), 0);
}

/* Eight resends, all 422: the bytes never arrive intact; the run ends, a hash mismatch. */
static void nine_422s_in_a_row_end_the_run(void **state)
{
  fixture *f = *state;
  script_answer a[11] = {{204, DRAFT WANT, NULL, 0}};
  for (int i = 1; i < 10; i++)
    a[i] = (script_answer){422, "Upload-Offset: 0\n", NULL, 0};
  start(f, a, 10, RESUMABLE_PROTOCOL_IETF, -1);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_HASH_MISMATCH);
  assert_int_equal(script_count(f->srv), 10); /* OPTIONS, then 1 + 8 creations */
  assert_int_equal(resumable_stager_chunk_resends(f->s), 8);
  assert_non_null(strstr(resumable_stager_message(f->s), "422"));
}

/* Set to 0: no Content-Digest even when the server asks; a 422 then is only a refusal. */
static void never_when_set_to_zero(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, DRAFT WANT, NULL, 0},
      {422, "Upload-Offset: 0\n", "unprocessable", 0},
  };
  start(f, a, 2, RESUMABLE_PROTOCOL_IETF, 0);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_REFUSED);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", NULL});
  assert_string_equal(script_at(f->srv, 1)->content_digest, "");
  assert_int_equal(resumable_stager_chunk_resends(f->s), 0);
}

/* The default: none when the server does not ask, nor when no chunk size is set (a cut would
 * cost a digested request all of its bytes). */
static void none_by_default_when_not_asked(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, DRAFT, NULL, 0},
      {201, "Location: /files/k.bin\nUpload-Complete: ?0\nUpload-Offset: 1000\n", NULL, 0},
      {204, "Upload-Complete: ?0\nUpload-Offset: 2000\n", NULL, 0},
      {200, "Upload-Complete: ?1\nUpload-Offset: 3000\n", NULL, 0},
  };
  start(f, a, 4, RESUMABLE_PROTOCOL_IETF, -1);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", "PATCH", "PATCH", NULL});
  for (int i = 1; i < 4; i++)
    assert_string_equal(script_at(f->srv, i)->content_digest, "");
}

static void none_by_default_without_a_chunk_size(void **state)
{
  fixture *f = *state;
  static const script_answer a[] = {
      {204, DRAFT WANT, NULL, 0},
      {201, "Location: /files/k.bin\nUpload-Complete: ?1\nUpload-Offset: 3000\n", NULL, 0},
  };
  start(f, a, 2, RESUMABLE_PROTOCOL_IETF, -1);
  assert_int_equal(resumable_stager_set_chunk_size(f->s, 0), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  expect_methods(f, (const char *const[]){"OPTIONS", "POST", NULL});
  assert_string_equal(script_at(f->srv, 1)->content_digest, "");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(auto_finds_the_draft_and_digests_when_asked),
      T(a_damaged_request_is_resent_alone),
      T(nine_422s_in_a_row_end_the_run),
      T(never_when_set_to_zero),
      T(none_by_default_when_not_asked),
      T(none_by_default_without_a_chunk_size),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
