/* The IETF resumable-upload draft on the wire (docs/protocol.md, "Dialects: the IETF draft"):
 * the real handler behind the real libmicrohttpd host (the code of resumable-serve), driven by
 * libcurl. Interop versions 6 and 8, every rule the handler follows, malformed structured fields
 * included: each of those must leave the store as it was. */
#include "it_tus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TTL 3600
#define MAX (1 << 20)
#define V8 "Upload-Draft-Interop-Version: 8"
#define V6 "Upload-Draft-Interop-Version: 6"
#define PU "Content-Type: application/partial-upload"

static int setup(void **state)
{
  it_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return -1;
  s->partial_ttl = TTL;
  s->max_size = MAX;
  it_server_start(s);
  *state = s;
  return 0;
}

/* One request with the given header lines (NULL-terminated); returns the status. */
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

static char *file_of(const it_server *s, const char *key, size_t *len)
{
  char path[512];
  return it_read_file(it_key_path(s, key, path, sizeof path), len);
}

static void assert_file(const it_server *s, const char *key, const void *data, size_t n)
{
  size_t len = 0;
  char *got = file_of(s, key, &len);
  assert_non_null(got);
  assert_int_equal(len, n);
  assert_memory_equal(got, data, n);
  free(got);
}

static void assert_problem(const it_resp *r, const char *type)
{
  char v[128];
  assert_string_equal(it_header(r, "Content-Type", v, sizeof v), "application/problem+json");
  assert_non_null(r->body);
  assert_non_null(strstr(r->body, type));
}

static void options_advertises_limits(void **state)
{
  it_server *s = *state;
  it_resp r;
  char v[256];
  assert_int_equal(req(s, "OPTIONS", "", (const char *const[]){V8, NULL}, NULL, 0, &r), 204);
  assert_non_null(it_header(&r, "Upload-Limit", v, sizeof v));
  assert_non_null(strstr(v, "max-size=1048576"));
  assert_non_null(strstr(v, "max-age=3600"));
  assert_non_null(strstr(it_header(&r, "Accept-Patch", v, sizeof v), "application/partial-upload"));
  assert_null(it_header(&r, "Tus-Resumable", v, sizeof v)); /* not the tus dialect */
  it_resp_free(&r);
}

static void other_interop_versions_are_400(void **state)
{
  it_server *s = *state;
  static const char *const bad[] = {
      "Upload-Draft-Interop-Version: 7",   "Upload-Draft-Interop-Version: 5",
      "Upload-Draft-Interop-Version: 9",   "Upload-Draft-Interop-Version: 6.0",
      "Upload-Draft-Interop-Version: six", "Upload-Draft-Interop-Version: -6"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    it_resp r;
    print_message("# %s\n", bad[i]);
    assert_int_equal(req(s, "POST", "v.bin",
                         (const char *const[]){bad[i], "Upload-Complete: ?1", NULL}, "abc", 3, &r),
                     400);
    assert_non_null(strstr(r.body, "Upload-Draft-Interop-Version"));
    it_resp_free(&r);
  }
  assert_int_equal(it_tus_partial_files(s), 0);
  assert_null(file_of(s, "v.bin", &(size_t){0}));
}

static void creation_head_append_complete(void **state)
{
  it_server *s = *state;
  char data[3000], v[256], hex[65];
  it_fill(data, sizeof data, 7);
  it_resp r;
  assert_int_equal(
      req(s, "POST", "dir/a.bin",
          (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 3000", NULL}, data, 1000,
          &r),
      201);
  assert_string_equal(it_header(&r, "Location", v, sizeof v), IT_PREFIX "dir/a.bin");
  assert_string_equal(it_header(&r, "Upload-Complete", v, sizeof v), "?0");
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 1000);
  assert_non_null(strstr(it_header(&r, "Upload-Limit", v, sizeof v), "max-size=1048576"));
  it_resp_free(&r);
  /* offset retrieval */
  assert_int_equal(req(s, "HEAD", "dir/a.bin", (const char *const[]){V8, NULL}, NULL, 0, &r), 204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 1000);
  assert_string_equal(it_header(&r, "Upload-Complete", v, sizeof v), "?0");
  assert_int_equal(it_header_num(&r, "Upload-Length"), 3000);
  assert_string_equal(it_header(&r, "Cache-Control", v, sizeof v), "no-store");
  assert_non_null(strstr(it_header(&r, "Upload-Limit", v, sizeof v), "max-age="));
  it_resp_free(&r);
  /* append, incomplete */
  assert_int_equal(
      req(s, "PATCH", "dir/a.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 1000", "Upload-Complete: ?0", NULL},
          data + 1000, 1000, &r),
      204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 2000);
  assert_string_equal(it_header(&r, "Upload-Complete", v, sizeof v), "?0");
  it_resp_free(&r);
  /* the last append completes, and asks for the digest */
  assert_int_equal(req(s, "PATCH", "dir/a.bin",
                       (const char *const[]){V8, PU, "Upload-Offset: 2000", "Upload-Complete: ?1",
                                             "Want-Repr-Digest: sha-256=5", NULL},
                       data + 2000, 1000, &r),
                   200);
  assert_string_equal(it_header(&r, "Upload-Complete", v, sizeof v), "?1");
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 3000);
  uint8_t d[32];
  size_t dl = 0;
  char b64[64], want[96];
  it_digest("sha256", data, sizeof data, d, &dl);
  it_base64(d, dl, b64, sizeof b64);
  snprintf(want, sizeof want, "sha-256=:%s:", b64);
  assert_string_equal(it_header(&r, "Repr-Digest", v, sizeof v), want);
  it_sha256_hex(data, sizeof data, hex);
  assert_string_equal(it_header(&r, "X-Content-SHA256", v, sizeof v), hex);
  it_resp_free(&r);
  assert_file(s, "dir/a.bin", data, sizeof data);
  assert_int_equal(req(s, "HEAD", "dir/a.bin", (const char *const[]){V8, NULL}, NULL, 0, &r), 204);
  assert_string_equal(it_header(&r, "Upload-Complete", v, sizeof v), "?1");
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 3000);
  it_resp_free(&r);
  /* appending to a completed upload: with bytes an inconsistent length, without a completed
   * upload; the file stays */
  assert_int_equal(
      req(s, "PATCH", "dir/a.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 3000", "Upload-Complete: ?1", NULL}, "x", 1,
          &r),
      400);
  assert_problem(&r, "#inconsistent-upload-length");
  it_resp_free(&r);
  assert_int_equal(
      req(s, "PATCH", "dir/a.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 3000", "Upload-Complete: ?1", NULL}, NULL,
          0, &r),
      400);
  assert_problem(&r, "#completed-upload");
  it_resp_free(&r);
  assert_file(s, "dir/a.bin", data, sizeof data);
}

static void whole_upload_in_one_request_and_with_put(void **state)
{
  it_server *s = *state;
  char data[500], v[128];
  it_fill(data, sizeof data, 3);
  it_resp r;
  assert_int_equal(req(s, "POST", "one.bin", (const char *const[]){V8, "Upload-Complete: ?1", NULL},
                       data, sizeof data, &r),
                   201);
  assert_string_equal(it_header(&r, "Upload-Complete", v, sizeof v), "?1");
  assert_string_equal(it_header(&r, "Location", v, sizeof v), IT_PREFIX "one.bin");
  it_resp_free(&r);
  assert_file(s, "one.bin", data, sizeof data);
  /* any request with content creates an upload: PUT too */
  assert_int_equal(req(s, "PUT", "two.bin", (const char *const[]){V6, "Upload-Complete: ?1", NULL},
                       data, 100, NULL),
                   201);
  assert_file(s, "two.bin", data, 100);
  /* an empty representation */
  assert_int_equal(req(s, "POST", "empty", (const char *const[]){V8, "Upload-Complete: ?1", NULL},
                       NULL, 0, NULL),
                   201);
  assert_file(s, "empty", "", 0);
}

static void creation_at_the_prefix_takes_the_metadata_key(void **state)
{
  it_server *s = *state;
  it_resp r;
  char v[256];
  /* tus-js-client in 'ietf-draft-05' mode: Upload-Metadata, Upload-Length, Upload-Complete ?0 */
  assert_int_equal(req(s, "POST", "",
                       (const char *const[]){V6, "Upload-Complete: ?0", "Upload-Length: 4",
                                             "Upload-Metadata: key bXkvZmlsZQ==", NULL},
                       NULL, 0, &r),
                   201);
  assert_string_equal(it_header(&r, "Location", v, sizeof v), IT_PREFIX "my/file");
  it_resp_free(&r);
  /* version 6: PATCH with the media type, as tus-js-client sends it, and Upload-Complete ?0
   * that still completes at Upload-Length */
  assert_int_equal(
      req(s, "PATCH", "my/file",
          (const char *const[]){V6, PU, "Upload-Offset: 0", "Upload-Complete: ?0", NULL}, "abcd", 4,
          &r),
      200);
  assert_string_equal(it_header(&r, "Upload-Complete", v, sizeof v), "?1");
  it_resp_free(&r);
  assert_file(s, "my/file", "abcd", 4);
}

static void wrong_offset_is_409_with_the_offset(void **state)
{
  it_server *s = *state;
  it_resp r;
  assert_int_equal(req(s, "POST", "o.bin",
                       (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 10", NULL},
                       "01234", 5, NULL),
                   201);
  assert_int_equal(
      req(s, "PATCH", "o.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 3", "Upload-Complete: ?1", NULL}, "3456789",
          7, &r),
      409);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 5);
  assert_problem(&r, "#mismatching-upload-offset");
  assert_non_null(strstr(r.body, "\"expected-offset\": 5"));
  assert_non_null(strstr(r.body, "\"provided-offset\": 3"));
  it_resp_free(&r);
  /* nothing changed: the right offset goes on */
  assert_int_equal(req(s, "PATCH", "o.bin",
                       (const char *const[]){V6, "Upload-Offset: 5", "Upload-Complete: ?1", NULL},
                       "56789", 5, NULL),
                   200);
  assert_file(s, "o.bin", "0123456789", 10);
}

static void inconsistent_lengths_are_400(void **state)
{
  it_server *s = *state;
  it_resp r;
  /* within one request: Upload-Length against the body of a completing request */
  assert_int_equal(req(s, "POST", "l.bin",
                       (const char *const[]){V8, "Upload-Complete: ?1", "Upload-Length: 3", NULL},
                       "abcdef", 6, &r),
                   400);
  assert_problem(&r, "#inconsistent-upload-length");
  it_resp_free(&r);
  /* a body past the stated length */
  assert_int_equal(req(s, "POST", "l.bin",
                       (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 3", NULL},
                       "abcdef", 6, &r),
                   400);
  assert_problem(&r, "#inconsistent-upload-length");
  it_resp_free(&r);
  assert_int_equal(it_tus_partial_files(s), 0);
  /* across requests */
  assert_int_equal(req(s, "POST", "l.bin",
                       (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 8", NULL},
                       "ab", 2, NULL),
                   201);
  assert_int_equal(req(s, "PATCH", "l.bin",
                       (const char *const[]){V8, PU, "Upload-Offset: 2", "Upload-Complete: ?0",
                                             "Upload-Length: 9", NULL},
                       "cd", 2, &r),
                   400);
  assert_problem(&r, "#inconsistent-upload-length");
  it_resp_free(&r);
  assert_int_equal(
      req(s, "PATCH", "l.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 2", "Upload-Complete: ?1", NULL}, "cd", 2,
          &r),
      400); /* completing at 4 of 8 */
  assert_problem(&r, "#inconsistent-upload-length");
  it_resp_free(&r);
  assert_int_equal(
      req(s, "PATCH", "l.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 2", "Upload-Complete: ?0", NULL},
          "cdefghijk", 9, &r),
      400); /* past the length */
  assert_problem(&r, "#inconsistent-upload-length");
  it_resp_free(&r);
  long long off = -1;
  it_resp h;
  assert_int_equal(req(s, "HEAD", "l.bin", (const char *const[]){V8, NULL}, NULL, 0, &h), 204);
  off = it_header_num(&h, "Upload-Offset");
  it_resp_free(&h);
  assert_int_equal(off, 2);
}

static void deferred_length_becomes_known_at_completion(void **state)
{
  it_server *s = *state;
  it_resp r;
  char v[64];
  assert_int_equal(req(s, "POST", "d.bin", (const char *const[]){V8, "Upload-Complete: ?0", NULL},
                       "abc", 3, NULL),
                   201);
  assert_int_equal(req(s, "HEAD", "d.bin", (const char *const[]){V8, NULL}, NULL, 0, &r), 204);
  assert_null(it_header(&r, "Upload-Length", v, sizeof v));
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 3);
  it_resp_free(&r);
  assert_int_equal(
      req(s, "PATCH", "d.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 3", "Upload-Complete: ?0", NULL}, "def", 3,
          NULL),
      204);
  assert_int_equal(
      req(s, "PATCH", "d.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 6", "Upload-Complete: ?1", NULL}, "gh", 2,
          NULL),
      200);
  assert_file(s, "d.bin", "abcdefgh", 8);
}

static void patch_media_type_by_version(void **state)
{
  it_server *s = *state;
  assert_int_equal(req(s, "POST", "t.bin",
                       (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 4", NULL},
                       NULL, 0, NULL),
                   201);
  /* version 8: application/partial-upload is required */
  assert_int_equal(req(s, "PATCH", "t.bin",
                       (const char *const[]){V8, "Upload-Offset: 0", "Upload-Complete: ?0", NULL},
                       "ab", 2, NULL),
                   415);
  assert_int_equal(req(s, "PATCH", "t.bin",
                       (const char *const[]){V8, "Content-Type: application/offset+octet-stream",
                                             "Upload-Offset: 0", "Upload-Complete: ?0", NULL},
                       "ab", 2, NULL),
                   415);
  assert_int_equal(req(s, "PATCH", "t.bin",
                       (const char *const[]){V8, "Content-Type: application/partial-upload; x=1",
                                             "Upload-Offset: 0", "Upload-Complete: ?0", NULL},
                       "ab", 2, NULL),
                   204);
  /* version 6 takes it without one */
  assert_int_equal(req(s, "PATCH", "t.bin",
                       (const char *const[]){V6, "Upload-Offset: 2", "Upload-Complete: ?1", NULL},
                       "cd", 2, NULL),
                   200);
  assert_file(s, "t.bin", "abcd", 4);
}

static void malformed_structured_fields_are_400(void **state)
{
  it_server *s = *state;
  static const char *const creation[] = {
      "Upload-Complete: true", "Upload-Complete: ?2",     "Upload-Complete: ?1, ?0",
      "Upload-Complete: 1",    "Upload-Complete: \"?1\"", "Upload-Complete: ?1;",
  };
  for (size_t i = 0; i < sizeof creation / sizeof creation[0]; i++) {
    print_message("# creation with %s\n", creation[i]);
    assert_int_equal(
        req(s, "POST", "m.bin", (const char *const[]){V8, creation[i], NULL}, "ab", 2, NULL), 400);
  }
  static const char *const lengths[] = {"Upload-Length: -1", "Upload-Length: 1.0",
                                        "Upload-Length: 0x10", "Upload-Length: 1000000000000000",
                                        "Upload-Length: ten"};
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    print_message("# creation with %s\n", lengths[i]);
    assert_int_equal(req(s, "POST", "m.bin",
                         (const char *const[]){V8, "Upload-Complete: ?0", lengths[i], NULL}, "ab",
                         2, NULL),
                     400);
  }
  static const char *const digests[] = {
      "Repr-Digest: sha-256=abc",
      "Repr-Digest: sha-256=:AQ==:", "Repr-Digest: sha-256=:@@@@:", "Repr-Digest: sha-256",
      "Repr-Digest: sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:,"};
  for (size_t i = 0; i < sizeof digests / sizeof digests[0]; i++) {
    print_message("# creation with %s\n", digests[i]);
    assert_int_equal(req(s, "POST", "m.bin",
                         (const char *const[]){V8, "Upload-Complete: ?1", digests[i], NULL}, "ab",
                         2, NULL),
                     400);
  }
  assert_int_equal(req(s, "POST", "m.bin", (const char *const[]){V8, "Upload-Complete: ?0", NULL},
                       NULL, 0, NULL),
                   201);
  static const char *const offsets[] = {"Upload-Offset: -1", "Upload-Offset: 0.0",
                                        "Upload-Offset: abc", "Upload-Offset: 0, 1",
                                        "Upload-Offset: ?0"};
  for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    print_message("# append with %s\n", offsets[i]);
    assert_int_equal(req(s, "PATCH", "m.bin",
                         (const char *const[]){V8, PU, "Upload-Complete: ?0", offsets[i], NULL},
                         "ab", 2, NULL),
                     400);
  }
  /* Upload-Complete is required on creation and append */
  assert_int_equal(req(s, "PATCH", "m.bin", (const char *const[]){V8, PU, "Upload-Offset: 0", NULL},
                       "ab", 2, NULL),
                   400);
  assert_int_equal(req(s, "POST", "n.bin", (const char *const[]){V8, NULL}, "ab", 2, NULL), 400);
  /* none of these changed anything: m.bin holds 0 bytes, n.bin does not exist */
  it_resp r;
  assert_int_equal(req(s, "HEAD", "m.bin", (const char *const[]){V8, NULL}, NULL, 0, &r), 204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 0);
  it_resp_free(&r);
  assert_int_equal(req(s, "HEAD", "n.bin", (const char *const[]){V8, NULL}, NULL, 0, NULL), 404);
}

static void repr_digest_binds_the_upload(void **state)
{
  it_server *s = *state;
  char data[1000], b64[64], hdr[128], v[96];
  it_fill(data, sizeof data, 11);
  uint8_t d[32];
  size_t dl = 0;
  it_digest("sha256", data, sizeof data, d, &dl);
  it_base64(d, dl, b64, sizeof b64);
  snprintf(hdr, sizeof hdr, "Repr-Digest: sha-512=:AQ==:, sha-256=:%s:", b64);
  /* the right digest: completes */
  assert_int_equal(
      req(s, "POST", "r.bin",
          (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 1000", hdr, NULL}, data,
          400, NULL),
      201);
  it_resp r;
  assert_int_equal(req(s, "HEAD", "r.bin", (const char *const[]){V8, NULL}, NULL, 0, &r), 204);
  char hex[65];
  it_sha256_hex(data, sizeof data, hex);
  assert_string_equal(it_header(&r, "X-Target-SHA256", v, sizeof v), hex);
  it_resp_free(&r);
  assert_int_equal(
      req(s, "PATCH", "r.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 400", "Upload-Complete: ?1", NULL},
          data + 400, 600, NULL),
      200);
  assert_file(s, "r.bin", data, sizeof data);
  /* a wrong one: the completing request fails with 400, the old file stays */
  char other[1000];
  memcpy(other, data, sizeof other);
  other[999] ^= 1;
  assert_int_equal(
      req(s, "POST", "r.bin",
          (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 1000", hdr, NULL}, other,
          400, NULL),
      201);
  assert_int_equal(
      req(s, "PATCH", "r.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 400", "Upload-Complete: ?1", NULL},
          other + 400, 600, &r),
      400);
  it_resp_free(&r);
  assert_file(s, "r.bin", data, sizeof data);
  assert_int_equal(it_tus_partial_files(s), 0);
  /* Repr-Digest and X-Content-SHA256 that disagree */
  char xh[96];
  memset(hex, 'a', 64);
  snprintf(xh, sizeof xh, "X-Content-SHA256: %.64s", hex);
  assert_int_equal(req(s, "POST", "r2.bin",
                       (const char *const[]){V8, "Upload-Complete: ?1", hdr, xh, NULL}, data,
                       sizeof data, NULL),
                   400);
}

static void delete_cancels_and_limits(void **state)
{
  it_server *s = *state;
  it_resp r;
  char v[128];
  assert_int_equal(req(s, "POST", "c.bin",
                       (const char *const[]){V8, "Upload-Complete: ?0", "Upload-Length: 10", NULL},
                       "abc", 3, NULL),
                   201);
  assert_int_equal(req(s, "DELETE", "c.bin", (const char *const[]){V8, NULL}, NULL, 0, NULL), 204);
  assert_int_equal(req(s, "HEAD", "c.bin", (const char *const[]){V8, NULL}, NULL, 0, NULL), 404);
  assert_int_equal(it_tus_partial_files(s), 0);
  /* over --max-size: 413 with the limits */
  char big[64];
  snprintf(big, sizeof big, "Upload-Length: %d", MAX + 1);
  assert_int_equal(req(s, "POST", "big.bin",
                       (const char *const[]){V8, "Upload-Complete: ?0", big, NULL}, NULL, 0, &r),
                   413);
  assert_non_null(strstr(it_header(&r, "Upload-Limit", v, sizeof v), "max-size=1048576"));
  it_resp_free(&r);
  /* a DELETE of the draft cancels an upload; it does not delete a complete file */
  assert_int_equal(req(s, "POST", "keep.bin",
                       (const char *const[]){V8, "Upload-Complete: ?1", NULL}, "k", 1, NULL),
                   201);
  assert_int_equal(req(s, "DELETE", "keep.bin", (const char *const[]){V8, NULL}, NULL, 0, NULL),
                   403);
  assert_file(s, "keep.bin", "k", 1);
}

static void continues_an_upload_begun_in_another_dialect(void **state)
{
  it_server *s = *state;
  /* a LocalAI-dialect partial, continued with the draft */
  assert_int_equal(it_put(s, "x.bin", "bytes 0-2/6", NULL, "abc", 3, NULL), 308);
  it_resp r;
  assert_int_equal(req(s, "HEAD", "x.bin", (const char *const[]){V8, NULL}, NULL, 0, &r), 204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), 3);
  assert_int_equal(it_header_num(&r, "Upload-Length"), 6);
  it_resp_free(&r);
  assert_int_equal(
      req(s, "PATCH", "x.bin",
          (const char *const[]){V8, PU, "Upload-Offset: 3", "Upload-Complete: ?1", NULL}, "def", 3,
          NULL),
      200);
  assert_file(s, "x.bin", "abcdef", 6);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(options_advertises_limits, setup, it_teardown),
      cmocka_unit_test_setup_teardown(other_interop_versions_are_400, setup, it_teardown),
      cmocka_unit_test_setup_teardown(creation_head_append_complete, setup, it_teardown),
      cmocka_unit_test_setup_teardown(whole_upload_in_one_request_and_with_put, setup, it_teardown),
      cmocka_unit_test_setup_teardown(creation_at_the_prefix_takes_the_metadata_key, setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(wrong_offset_is_409_with_the_offset, setup, it_teardown),
      cmocka_unit_test_setup_teardown(inconsistent_lengths_are_400, setup, it_teardown),
      cmocka_unit_test_setup_teardown(deferred_length_becomes_known_at_completion, setup,
                                      it_teardown),
      cmocka_unit_test_setup_teardown(patch_media_type_by_version, setup, it_teardown),
      cmocka_unit_test_setup_teardown(malformed_structured_fields_are_400, setup, it_teardown),
      cmocka_unit_test_setup_teardown(repr_digest_binds_the_upload, setup, it_teardown),
      cmocka_unit_test_setup_teardown(delete_cancels_and_limits, setup, it_teardown),
      cmocka_unit_test_setup_teardown(continues_an_upload_begun_in_another_dialect, setup,
                                      it_teardown),
  };
  return cmocka_run_group_tests_name("ietf_wire", tests, NULL, NULL);
}
