/* RFC 9530 Content-Digest on IETF-draft requests, through the real host (docs/protocol.md,
 * "Dialects: the IETF draft", per-request digests): a PATCH or a creation whose body matches
 * counts; one that does not is 422 with the digest-mismatching-value problem and the unchanged
 * Upload-Offset (durably: a restarted server says the same), and the upload completes once the
 * bytes are resent; a malformed field is 400 and creates nothing; OPTIONS and HEAD ask for
 * digests with Want-Content-Digest. Interop versions 6 and 8 alike. */
#include "it_tus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/sha512.h>
#include <mbedtls/version.h>

#if MBEDTLS_VERSION_MAJOR >= 3
#define sha512_ret mbedtls_sha512
#else
#define sha512_ret mbedtls_sha512_ret
#endif

#define LEN 6000
#define V8 "Upload-Draft-Interop-Version: 8"
#define V6 "Upload-Draft-Interop-Version: 6"
#define PU "Content-Type: application/partial-upload"
#define MISMATCH "https://iana.org/assignments/http-problem-types#digest-mismatching-value"

static int setup(void **state)
{
  it_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return -1;
  s->partial_ttl = 3600;
  it_server_start(s);
  *state = s;
  return 0;
}

static long req(const it_server *s, const char *method, const char *path,
                const char *const *headers, const void *body, size_t len, it_resp *out)
{
  it_resp r;
  it_req rq = {.method = method, .key = path, .body = body, .body_len = len, .headers = headers};
  it_request(s, &rq, &r);
  long st = r.status;
  if (out)
    *out = r;
  else
    it_resp_free(&r);
  return st;
}

/* "Content-Digest: sha-256=:<b64>:" (sha-512 when `wide`) of data, into line. */
static const char *cd(const void *data, size_t n, int wide, char *line, size_t cap)
{
  uint8_t d[64];
  size_t len = 32;
  char b64[100];
  if (wide)
    assert_int_equal(sha512_ret(data, n, d, 0), 0);
  else
    it_digest("sha256", data, n, d, &len);
  it_base64(d, wide ? 64 : 32, b64, sizeof b64);
  snprintf(line, cap, "Content-Digest: %s=:%s:", wide ? "sha-512" : "sha-256", b64);
  return line;
}

static long head_offset(const it_server *s, const char *path, const char *version)
{
  it_resp r;
  long st = req(s, "HEAD", path, (const char *const[]){version, NULL}, NULL, 0, &r);
  long long off = st == 204 ? it_header_num(&r, "Upload-Offset") : -1;
  it_resp_free(&r);
  return (long)off;
}

static void assert_file(const it_server *s, const char *key, const void *data, size_t n)
{
  char path[512];
  size_t len = 0;
  char *got = it_read_file(it_key_path(s, key, path, sizeof path), &len);
  assert_non_null(got);
  assert_int_equal(len, n);
  assert_memory_equal(got, data, n);
  free(got);
}

static int file_exists(const it_server *s, const char *key)
{
  char path[512];
  size_t len = 0;
  char *got = it_read_file(it_key_path(s, key, path, sizeof path), &len);
  free(got);
  return got != NULL;
}

/* The 422 of a draft digest mismatch: the problem, the offset held, the digest it carried. */
static void assert_mismatch(const it_resp *r, long held, const char *alg, const char *line)
{
  char v[256];
  assert_int_equal(r->status, 422);
  assert_string_equal(it_header(r, "Content-Type", v, sizeof v), "application/problem+json");
  assert_int_equal(it_header_num(r, "Upload-Offset"), held);
  assert_string_equal(it_header(r, "Upload-Complete", v, sizeof v), "?0");
  assert_non_null(it_header(r, "Want-Content-Digest", v, sizeof v));
  assert_non_null(r->body);
  assert_non_null(strstr(r->body, MISMATCH));
  char member[40];
  snprintf(member, sizeof member, "\"algorithm\": \"%s\"", alg);
  assert_non_null(strstr(r->body, member));
  /* provided-digest is the field's byte sequence as sent (":<b64>:") */
  const char *sent = strchr(line, '=');
  assert_non_null(sent);
  assert_non_null(strstr(r->body, sent + 1));
}

static void options_and_head_ask_for_digests(void **state)
{
  it_server *s = *state;
  it_resp r;
  char v[128];
  assert_int_equal(req(s, "OPTIONS", "", (const char *const[]){V8, NULL}, NULL, 0, &r), 204);
  assert_string_equal(it_header(&r, "Want-Content-Digest", v, sizeof v), "sha-256=10, sha-512=3");
  it_resp_free(&r);
  assert_int_equal(req(s, "HEAD", "none.bin", (const char *const[]){V6, NULL}, NULL, 0, &r), 404);
  assert_string_equal(it_header(&r, "Want-Content-Digest", v, sizeof v), "sha-256=10, sha-512=3");
  it_resp_free(&r);
  /* tus answers stay as they were: tus has Upload-Checksum */
  assert_int_equal(it_tus(s, "OPTIONS", "", NULL, NULL, 0, &r), 204);
  assert_null(it_header(&r, "Want-Content-Digest", v, sizeof v));
  it_resp_free(&r);
}

/* One version's whole story: creation with a right digest, a corrupted PATCH (422, nothing
 * counted, durably), the same PATCH resent (counts), the completing PATCH corrupted (nothing
 * committed), resent (the file, verified). */
static void run_story(it_server *s, const char *version, const char *key, int wide)
{
  char data[LEN], bad[LEN], line[200], good[200];
  it_fill(data, LEN, 11);
  const char *alg = wide ? "sha-512" : "sha-256";
  it_resp r;
  assert_int_equal(req(s, "POST", key,
                       (const char *const[]){version, "Upload-Complete: ?0", "Upload-Length: 6000",
                                             cd(data, 2000, wide, line, sizeof line), NULL},
                       data, 2000, NULL),
                   201);
  assert_int_equal(head_offset(s, key, version), 2000);
  /* bytes 2000-3999 flipped on the way: the digest is of the right bytes */
  memcpy(bad, data, LEN);
  bad[2500] ^= 0x20;
  cd(data + 2000, 2000, wide, good, sizeof good);
  const char *const patch[] = {version, "Upload-Offset: 2000", "Upload-Complete: ?0", PU, good,
                               NULL};
  assert_int_equal(req(s, "PATCH", key, patch, bad + 2000, 2000, &r), 422);
  assert_mismatch(&r, 2000, alg, good);
  it_resp_free(&r);
  assert_int_equal(head_offset(s, key, version), 2000);
  it_server_restart(s); /* the rollback is on disk, not only in memory */
  assert_int_equal(head_offset(s, key, version), 2000);
  /* resent intact: counts */
  assert_int_equal(req(s, "PATCH", key, patch, data + 2000, 2000, &r), 204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 4000);
  it_resp_free(&r);
  /* the completing request corrupted: no file, offset kept */
  bad[4100] ^= 0x01;
  cd(data + 4000, 2000, wide, good, sizeof good);
  const char *const last[] = {version, "Upload-Offset: 4000", "Upload-Complete: ?1", PU, good,
                              NULL};
  assert_int_equal(req(s, "PATCH", key, last, bad + 4000, 2000, &r), 422);
  assert_mismatch(&r, 4000, alg, good);
  it_resp_free(&r);
  assert_false(file_exists(s, key));
  assert_int_equal(head_offset(s, key, version), 4000);
  assert_int_equal(req(s, "PATCH", key, last, data + 4000, 2000, &r), 200);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 6000);
  it_resp_free(&r);
  assert_file(s, key, data, LEN);
}

static void v8_sha256_mismatch_resend_complete(void **state)
{
  run_story(*state, V8, "v8.bin", 0);
}

static void v6_sha512_mismatch_resend_complete(void **state)
{
  run_story(*state, V6, "v6.bin", 1);
}

/* A creation with content whose digest does not match: 422 at offset 0; the upload URL (the
 * key's URL) still takes the bytes. */
static void creation_with_corrupted_content(void **state)
{
  it_server *s = *state;
  char data[LEN], bad[LEN], line[200];
  it_fill(data, LEN, 5);
  memcpy(bad, data, LEN);
  bad[10] ^= 0x40;
  cd(data, LEN, 0, line, sizeof line);
  it_resp r;
  assert_int_equal(
      req(s, "POST", "c.bin",
          (const char *const[]){V8, "Upload-Complete: ?1", "Upload-Length: 6000", line, NULL}, bad,
          LEN, &r),
      422);
  assert_mismatch(&r, 0, "sha-256", line);
  it_resp_free(&r);
  assert_false(file_exists(s, "c.bin"));
  assert_int_equal(head_offset(s, "c.bin", V8), 0);
  assert_int_equal(
      req(s, "PATCH", "c.bin",
          (const char *const[]){V8, "Upload-Offset: 0", "Upload-Complete: ?1", PU, line, NULL},
          data, LEN, NULL),
      200);
  assert_file(s, "c.bin", data, LEN);
}

/* Malformed, or a supported algorithm of the wrong length: 400 before anything is touched.
 * Only unknown algorithms: ignored (RFC 9530 lets a recipient ignore any digest). */
static void malformed_is_400_unknown_is_ignored(void **state)
{
  it_server *s = *state;
  static const char *const bad[] = {
      "Content-Digest: sha-256=:AAAA:", "Content-Digest: sha-256=abc",
      "Content-Digest: sha-256=:###:",  "Content-Digest: sha-256",
      "Content-Digest: sha-512=:AAAA:", "Content-Digest: sha-256=:AAAA:,"};
  char data[100];
  it_fill(data, sizeof data, 3);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("# %s\n", bad[i]);
    assert_int_equal(req(s, "POST", "m.bin",
                         (const char *const[]){V8, "Upload-Complete: ?1", bad[i], NULL}, data,
                         sizeof data, NULL),
                     400);
    assert_int_equal(head_offset(s, "m.bin", V8), -1);
  }
  assert_int_equal(it_tus_partial_files(s), 0);
  assert_int_equal(
      req(s, "POST", "m.bin",
          (const char *const[]){V8, "Upload-Complete: ?1",
                                "Content-Digest: md5=:AAAAAAAAAAAAAAAAAAAAAA==:", NULL},
          data, sizeof data, NULL),
      201);
  assert_file(s, "m.bin", data, sizeof data);
}

/* A PATCH cut short with a digest: its bytes cannot be verified, so none count. The next PATCH
 * from offset 0 proves it: had the cut bytes counted, it would be 409 (offset 1000). */
static void cut_body_counts_nothing(void **state)
{
  it_server *s = *state;
  char data[LEN], line[200], head[512];
  it_fill(data, LEN, 9);
  assert_int_equal(
      req(s, "POST", "s.bin",
          (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 6000", NULL}, NULL, 0,
          NULL),
      201);
  cd(data, 3000, 0, line, sizeof line);
  int fd = it_raw_connect(s->port);
  int n = snprintf(head, sizeof head,
                   "PATCH " IT_PREFIX "s.bin HTTP/1.1\r\nHost: x\r\n" V8 "\r\n"
                   "Upload-Offset: 0\r\nUpload-Complete: ?0\r\n" PU "\r\n%s\r\n"
                   "Content-Length: 3000\r\n\r\n",
                   line);
  it_raw_send(fd, head, (size_t)n);
  it_raw_send(fd, data, 1000);
  /* The server must end the cut request before the next one arrives: were the next one first,
   * the cut one would be the newer request and supersede it (423). The end is its 400 (short
   * body) or its closing the connection. */
  assert_int_equal(shutdown(fd, SHUT_WR), 0);
  char reply[1024];
  int st = it_raw_read_response(fd, reply, sizeof reply, 30000);
  assert_true(st == 400 || st == -1);
  close(fd);
  it_resp r;
  assert_int_equal(
      req(s, "PATCH", "s.bin",
          (const char *const[]){V8, "Upload-Offset: 0", "Upload-Complete: ?0", PU, line, NULL},
          data, 3000, &r),
      204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 3000);
  it_resp_free(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(options_and_head_ask_for_digests, setup, it_teardown),
      cmocka_unit_test_setup_teardown(v8_sha256_mismatch_resend_complete, setup, it_teardown),
      cmocka_unit_test_setup_teardown(v6_sha512_mismatch_resend_complete, setup, it_teardown),
      cmocka_unit_test_setup_teardown(creation_with_corrupted_content, setup, it_teardown),
      cmocka_unit_test_setup_teardown(malformed_is_400_unknown_is_ignored, setup, it_teardown),
      cmocka_unit_test_setup_teardown(cut_body_counts_nothing, setup, it_teardown),
  };
  cmocka_set_message_output(CM_OUTPUT_TAP);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
