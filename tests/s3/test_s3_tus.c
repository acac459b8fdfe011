/* The tus dialect on resumable-serve --store s3: two servers (A and B) on one bucket with 5 MiB
 * parts, against the Ceph cluster of with_ceph.sh. Creation with its metadata, a PATCH dropped
 * mid-body and resumed through the other server, a deferred length known only at the end, a
 * concatenation whose parts live in S3 (one spans parts: sealed, see lib/store/s3/store_s3_seal.c), and
 * termination. argv[1] is resumable-serve. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "it_tus.h"
#include "s3_env.h"
#include "s3_serve.h"

#define MiB ((size_t)1 << 20)

static s3_env env;
static const char *serve_exe;

typedef struct fx {
  char prefix[64];
  s3_serve a, b;
  it_server ia, ib; /* .port only: for the it_* request helpers */
} fx;

static int setup(void **state)
{
  fx *f = calloc(1, sizeof *f);
  if (f == NULL)
    return -1;
  s3_env_prefix("tus", f->prefix, sizeof f->prefix);
  if (s3_serve_start(&f->a, serve_exe, &env, f->prefix, NULL) != 0 ||
      s3_serve_start(&f->b, serve_exe, &env, f->prefix, NULL) != 0)
    return -1;
  f->ia.port = f->a.port;
  f->ib.port = f->b.port;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  s3_serve_stop(&f->a, SIGTERM);
  s3_serve_stop(&f->b, SIGTERM);
  free(f);
  return 0;
}

/* A response header's value, or "(absent)": compared as a string, an absent header fails. */
static const char *hv(const it_resp *r, const char *name, char *buf, size_t cap)
{
  const char *v = it_header(r, name, buf, cap);
  return v != NULL ? v : "(absent)";
}

static char *filled(size_t n, unsigned seed)
{
  char *d = malloc(n);
  assert_non_null(d);
  it_fill(d, n, seed);
  return d;
}

/* GET through `s` returns `data`, and the LocalAI HEAD names its SHA-256. */
static void assert_object(const it_server *s, const char *key, const char *data, size_t n)
{
  it_req rq = {.method = "GET", .key = key};
  it_resp r;
  it_request(s, &rq, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, n);
  assert_memory_equal(r.body, data, n);
  it_resp_free(&r);
  char hex[65], got[80];
  it_sha256_hex(data, n, hex);
  assert_int_equal(it_head(s, key, &r), 200);
  assert_string_equal(hv(&r, "X-Content-SHA256", got, sizeof got), hex);
  it_resp_free(&r);
}

static void checksum_line(const char *data, size_t n, char *out, size_t cap)
{
  uint8_t d[32];
  size_t dlen = 0;
  char b64[64];
  it_digest("sha256", data, n, d, &dlen);
  it_base64(d, dlen, b64, sizeof b64);
  snprintf(out, cap, "Upload-Checksum: sha256 %s", b64);
}

/* Created through A with metadata and its first MiB; a PATCH through A is dropped after 6 MiB
 * (its bytes are kept: S3 acknowledged them as a part and a tail); B answers the offset and the
 * metadata from the bucket and finishes the upload with checksummed PATCHes. */
static void creation_patch_resume_and_metadata_across_servers(void **state)
{
  fx *f = *state;
  const size_t n = 13 * MiB + 4321, first = MiB, cut = 6 * MiB;
  char *data = filled(n, 61), meta[96], got[128], head[512], ck[160];
  snprintf(meta, sizeof meta, "Upload-Metadata: filename Y3V0LmJpbg==,kind czM=");
  it_resp r;
  assert_int_equal(it_tus_create(&f->ia, "tus/cut.bin", (long long)n,
                                 (const char *const[]){meta, NULL}, data, first, &r),
                   201);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), (long long)first);
  it_resp_free(&r);
  int fd = it_raw_connect(f->a.port);
  int hl = snprintf(head, sizeof head,
                    "PATCH " IT_PREFIX "tus/cut.bin HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                    "Upload-Offset: %zu\r\n" IT_TUS_CT "\r\nContent-Length: %zu\r\n\r\n",
                    first, n - first);
  it_raw_send(fd, head, (size_t)hl);
  it_raw_send(fd, data + first, cut);
  close(fd); /* dropped mid-body */
  long long off = -1;
  for (int i = 0; i < 3000 && off != (long long)(first + cut); i++) {
    if (it_tus_head(&f->ib, "tus/cut.bin", &off) != 200)
      off = -1;
    poll(NULL, 0, 10); /* until A has judged the drop (bounded: 30 s) */
  }
  assert_int_equal(off, (long long)(first + cut));
  assert_int_equal(it_tus(&f->ib, "HEAD", "tus/cut.bin", NULL, NULL, 0, &r), 200);
  assert_string_equal(hv(&r, "Upload-Metadata", got, sizeof got),
                      "filename Y3V0LmJpbg==,kind czM=");
  assert_int_equal(it_header_num(&r, "Upload-Length"), (long long)n);
  it_resp_free(&r);
  size_t mid = (size_t)off + 3 * MiB;
  checksum_line(data + off, mid - (size_t)off, ck, sizeof ck);
  assert_int_equal(it_tus_patch(&f->ib, "tus/cut.bin", (uint64_t)off,
                                (const char *const[]){ck, NULL}, data + off, mid - (size_t)off,
                                NULL),
                   204);
  /* a checksum that does not match: 460, the offset stays */
  checksum_line(data, 10, ck, sizeof ck);
  assert_int_equal(it_tus_patch(&f->ia, "tus/cut.bin", mid, (const char *const[]){ck, NULL},
                                data + mid, n - mid, NULL),
                   460);
  assert_int_equal(it_tus_head(&f->ia, "tus/cut.bin", &off), 200);
  assert_int_equal(off, (long long)mid);
  checksum_line(data + mid, n - mid, ck, sizeof ck);
  assert_int_equal(it_tus_patch(&f->ia, "tus/cut.bin", mid, (const char *const[]){ck, NULL},
                                data + mid, n - mid, &r),
                   204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), (long long)n);
  it_resp_free(&r);
  assert_object(&f->ib, "tus/cut.bin", data, n);
  free(data);
}

/* Upload-Defer-Length: the total is unknown while bytes span a part (the state record keeps
 * it unknown), and known with the last PATCH, through the other server. */
static void deferred_length_across_servers(void **state)
{
  fx *f = *state;
  const size_t n = 7 * MiB + 99, first = 2 * MiB, mid = 6 * MiB;
  char *data = filled(n, 62), len[64], v[32];
  assert_int_equal(it_tus_create(&f->ia, "tus/deferred.bin", -1,
                                 (const char *const[]){"Upload-Defer-Length: 1", NULL}, data, first,
                                 NULL),
                   201);
  it_resp r;
  assert_int_equal(it_tus(&f->ib, "HEAD", "tus/deferred.bin", NULL, NULL, 0, &r), 200);
  assert_string_equal(hv(&r, "Upload-Defer-Length", v, sizeof v), "1");
  assert_null(it_header(&r, "Upload-Length", v, sizeof v));
  assert_int_equal(it_header_num(&r, "Upload-Offset"), (long long)first);
  it_resp_free(&r);
  assert_int_equal(
      it_tus_patch(&f->ib, "tus/deferred.bin", first, NULL, data + first, mid - first, NULL), 204);
  long long off = -1;
  assert_int_equal(it_tus_head(&f->ia, "tus/deferred.bin", &off), 200);
  assert_int_equal(off, (long long)mid);
  snprintf(len, sizeof len, "Upload-Length: %zu", n);
  assert_int_equal(it_tus_patch(&f->ia, "tus/deferred.bin", mid, (const char *const[]){len, NULL},
                                data + mid, n - mid, &r),
                   204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), (long long)n);
  it_resp_free(&r);
  assert_object(&f->ib, "tus/deferred.bin", data, n);
  free(data);
}

static void make_part(const it_server *s, const char *data, size_t len, size_t send, char *loc,
                      size_t cap)
{
  it_resp r;
  assert_int_equal(it_tus_create(s, "", (long long)len,
                                 (const char *const[]){"Upload-Concat: partial", NULL}, data, send,
                                 &r),
                   201);
  it_tus_location(&r, loc, cap);
  it_resp_free(&r);
}

/* Parts in S3: one spanning parts of a multipart upload (sealed when whole, so that it can be
 * read back), one in a tail object only, one finished through the other server. The final
 * upload through A is verified against X-Content-SHA256 and committed; the parts' records,
 * uploads and objects are gone afterwards. */
static void concatenation_of_parts_in_the_bucket(void **state)
{
  fx *f = *state;
  const size_t l1 = 7 * MiB + 11, l2 = MiB / 2, l3 = 6 * MiB, n = l1 + l2 + l3;
  char *data = filled(n, 63), p1[64], p2[64], p3[64], concat[512], hdr[128], hex[65], prefix[128];
  make_part(&f->ia, data, l1, MiB, p1, sizeof p1);
  assert_int_equal(it_tus_patch(&f->ib, p1, MiB, NULL, data + MiB, l1 - MiB, NULL), 204);
  make_part(&f->ib, data + l1, l2, l2, p2, sizeof p2);
  make_part(&f->ib, data + l1 + l2, l3, 0, p3, sizeof p3);
  assert_int_equal(it_tus_patch(&f->ia, p3, 0, NULL, data + l1 + l2, l3, NULL), 204);
  it_sha256_hex(data, n, hex);
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  snprintf(concat, sizeof concat,
           "Upload-Concat: final;" IT_PREFIX "%s " IT_PREFIX "%s " IT_PREFIX "%s", p1, p2, p3);
  /* a wrong bound hash first: 460, the parts stay and can be used again */
  char wrong[128];
  snprintf(wrong, sizeof wrong, "X-Content-SHA256: %064d", 0);
  assert_int_equal(it_tus(&f->ib, "POST", "tus/final.bin",
                          (const char *const[]){concat, wrong, NULL}, NULL, 0, NULL),
                   460);
  assert_int_equal(it_tus(&f->ia, "POST", "tus/final.bin", (const char *const[]){concat, hdr, NULL},
                          NULL, 0, NULL),
                   201);
  assert_object(&f->ib, "tus/final.bin", data, n);
  assert_int_equal(it_tus_head(&f->ib, p1, NULL), 404);
  assert_int_equal(it_tus_head(&f->ia, p3, NULL), 404);
  snprintf(prefix, sizeof prefix, "%s%s", f->prefix, RESUMABLE_PART_PREFIX);
  assert_int_equal(s3_env_count_objects(&env, prefix), 0);
  assert_int_equal(s3_env_count_uploads(&env, prefix), 0);
  free(data);
}

/* Termination through B of an upload created through A: gone for both, its upload aborted. */
static void termination_across_servers(void **state)
{
  fx *f = *state;
  const size_t n = 6 * MiB;
  char *data = filled(n, 64), prefix[128];
  assert_int_equal(it_tus_create(&f->ia, "tus/gone.bin", (long long)n, NULL, data, n - 10, NULL),
                   201);
  assert_int_equal(it_tus(&f->ib, "DELETE", "tus/gone.bin", NULL, NULL, 0, NULL), 204);
  assert_int_equal(it_tus_head(&f->ia, "tus/gone.bin", NULL), 404);
  snprintf(prefix, sizeof prefix, "%stus/gone.bin", f->prefix);
  assert_int_equal(s3_env_count_uploads(&env, prefix), 0);
  free(data);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s resumable-serve\n", argv[0]);
    return 2;
  }
  serve_exe = argv[1];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (s3_env_init(&env, "rs-tus") != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(creation_patch_resume_and_metadata_across_servers, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(deferred_length_across_servers, setup, teardown),
      cmocka_unit_test_setup_teardown(concatenation_of_parts_in_the_bucket, setup, teardown),
      cmocka_unit_test_setup_teardown(termination_across_servers, setup, teardown),
  };
  int rc = cmocka_run_group_tests_name("s3_tus", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
