/* One partial, two dialects: an upload begun with tus is probed and finished in the LocalAI
 * dialect (by hand and by the real stager), one begun with LocalAI PUTs is finished with tus
 * PATCHes, X-Content-SHA256 binds in both, and a newer request of one dialect supersedes an
 * older one of the other (an unverified checksummed body is dropped, not kept). */
#include "it_tus.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <resumable/stager.h>

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void check_file(const it_server *s, const char *key, const void *data, size_t n)
{
  char path[512];
  size_t len = 0;
  char *got = it_read_file(it_key_path(s, key, path, sizeof path), &len);
  assert_non_null(got);
  assert_int_equal(len, n);
  assert_memory_equal(got, data, n);
  free(got);
}

static void tus_begun_localai_probes_and_finishes(void **state)
{
  it_server *s = *state;
  enum { T = 20000, H = 7000 };
  char data[T], hex[65], hdr[128], v[128], cr[64];
  it_fill(data, T, 11);
  it_sha256_hex(data, T, hex);
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  assert_int_equal(it_tus_create(s, "x1", T, (const char *const[]){hdr, NULL}, data, H, NULL), 201);
  it_resp h;
  assert_int_equal(it_head(s, "x1", &h), 200);
  assert_int_equal(it_header_num(&h, "X-File-Size"), H);
  assert_int_equal(it_header_num(&h, "X-Upload-Total"), T);
  assert_string_equal(it_header(&h, "X-Target-SHA256", v, sizeof v), hex);
  it_resp_free(&h);
  snprintf(cr, sizeof cr, "bytes %d-%d/%d", H, T - 1, T);
  it_resp r;
  assert_int_equal(it_put(s, "x1", cr, hex, data + H, T - H, &r), 200);
  assert_non_null(strstr(r.body, hex));
  it_resp_free(&r);
  check_file(s, "x1", data, T);
}

static void tus_begun_stager_resumes_it(void **state)
{
  it_server *s = *state;
  enum { T = 300000, H = 123456 };
  char *data = malloc(T), hex[65], hdr[128], path[128], url[256];
  assert_non_null(data);
  it_fill(data, T, 12);
  it_sha256_hex(data, T, hex);
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", hex);
  assert_int_equal(it_tus_create(s, "x2", T, (const char *const[]){hdr, NULL}, data, H, NULL), 201);
  snprintf(path, sizeof path, "%s/x2.local", s->parent);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, T, f), T);
  fclose(f);
  snprintf(url, sizeof url, "http://127.0.0.1:%u" IT_PREFIX "x2", (unsigned)s->port);
  resumable_stager *st = NULL;
  assert_int_equal(resumable_stager_new(&st, url, path), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(st, 60000), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(st), RESUMABLE_OK);
  assert_int_equal(resumable_stager_resumed_from(st), H); /* it continued, not restarted */
  resumable_stager_free(st);
  check_file(s, "x2", data, T);
  unlink(path);
  free(data);
}

static void localai_begun_tus_probes_and_finishes(void **state)
{
  it_server *s = *state;
  enum { T = 9000, H = 4000 };
  char data[T], hex[65], cr[64], hdr[128], v[128];
  it_fill(data, T, 13);
  it_sha256_hex(data, T, hex);
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", H - 1, T);
  assert_int_equal(it_put(s, "x3", cr, hex, data, H, NULL), 308);
  it_resp h;
  assert_int_equal(it_tus(s, "HEAD", "x3", NULL, NULL, 0, &h), 200);
  assert_int_equal(it_header_num(&h, "Upload-Offset"), H);
  assert_int_equal(it_header_num(&h, "Upload-Length"), T);
  it_resp_free(&h);
  /* X-Content-SHA256 binds in every dialect: another hash is a conflict that drops it */
  char other[65];
  memset(other, 'a', 64);
  other[64] = '\0';
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s", other);
  it_resp r;
  assert_int_equal(it_tus_patch(s, "x3", H, (const char *const[]){hdr, NULL}, data + H, 10, &r),
                   409);
  it_resp_free(&r);
  assert_int_equal(it_tus_head(s, "x3", NULL), 404);
  /* again, finished with tus; the final check uses the hash bound by the LocalAI PUT */
  assert_int_equal(it_put(s, "x3", cr, hex, data, H, NULL), 308);
  assert_int_equal(it_tus_patch(s, "x3", H, NULL, data + H, T - H, &r), 204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), T);
  it_resp_free(&r);
  check_file(s, "x3", data, T);
  assert_int_equal(it_head(s, "x3", &h), 200);
  assert_string_equal(it_header(&h, "X-Content-SHA256", v, sizeof v), hex);
  it_resp_free(&h);
  /* a wrong bound hash is 460 at the end of a tus PATCH, and the old file stays */
  char d2[T];
  it_fill(d2, T, 14);
  assert_int_equal(it_put(s, "x3", cr, other, d2, H, NULL), 308);
  assert_int_equal(it_tus_patch(s, "x3", H, NULL, d2 + H, T - H, NULL), 460);
  check_file(s, "x3", data, T);
}

static int raw_request(uint16_t port, const char *method, const char *key, const char *headers,
                       size_t len)
{
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "%s " IT_PREFIX "%s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
                   "Expect: 100-continue\r\n%s\r\n",
                   method, key, len, headers);
  assert_true(n > 0 && (size_t)n < sizeof head);
  int fd = it_raw_connect(port);
  it_raw_send(fd, head, (size_t)n);
  char buf[4096];
  assert_int_equal(it_raw_read_response(fd, buf, sizeof buf, 10000), 100); /* judged: owner */
  return fd;
}

/* The size of key's partial data file, polled until it reaches `want` (10 s). */
static long long wait_for_data(const it_server *s, const char *key, long long want)
{
  char hex[65], path[512];
  struct stat st;
  it_sha256_hex(key, strlen(key), hex);
  snprintf(path, sizeof path, "%s/.resumable/partial/%s.data", s->root, hex);
  long long size = -1, deadline = now_ms() + 10000;
  while (size != want && now_ms() < deadline) {
    size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    if (size != want)
      poll(NULL, 0, 1); /* the condition is polled, with a deadline; no fixed wait */
  }
  return size;
}

static void tus_patch_superseded_by_localai_put(void **state)
{
  it_server *s = *state;
  enum { T = 64 * 1024, A = 16 * 1024 };
  char *data = malloc(T), hdr[256], buf[4096], cr[64];
  assert_non_null(data);
  it_fill(data, T, 15);
  assert_int_equal(it_tus_create(s, "sup", T, NULL, NULL, 0, NULL), 201);
  snprintf(hdr, sizeof hdr, "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n" IT_TUS_CT "\r\n");
  int fa = raw_request(s->port, "PATCH", "sup", hdr, T);
  it_raw_send(fa, data, A);
  assert_int_equal(wait_for_data(s, "sup", A), A);
  /* the LocalAI writer takes over at the bytes held: the tus writer's bytes are kept */
  snprintf(cr, sizeof cr, "Content-Range: bytes %d-%d/%d\r\n", A, T - 1, T);
  int fb = raw_request(s->port, "PUT", "sup", cr, T - A);
  it_raw_send(fb, data + A, T - A);
  assert_int_equal(it_raw_read_response(fb, buf, sizeof buf, 10000), 200);
  it_raw_send(fa, data + A, T - A);
  assert_int_equal(it_raw_read_response(fa, buf, sizeof buf, 10000), 423);
  close(fa);
  close(fb);
  check_file(s, "sup", data, T);
  free(data);
}

static void localai_put_superseded_by_tus_patch(void **state)
{
  it_server *s = *state;
  enum { T = 64 * 1024, A = 20 * 1024 };
  char *data = malloc(T), hdr[256], buf[4096];
  assert_non_null(data);
  it_fill(data, T, 16);
  char cr[96];
  snprintf(cr, sizeof cr, "Content-Range: bytes 0-%d/%d\r\n", T - 1, T);
  int fa = raw_request(s->port, "PUT", "sup2", cr, T);
  it_raw_send(fa, data, A);
  assert_int_equal(wait_for_data(s, "sup2", A), A);
  snprintf(hdr, sizeof hdr, "Tus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\n" IT_TUS_CT "\r\n", A);
  int fb = raw_request(s->port, "PATCH", "sup2", hdr, T - A);
  it_raw_send(fb, data + A, T - A);
  assert_int_equal(it_raw_read_response(fb, buf, sizeof buf, 10000), 204);
  it_raw_send(fa, data + A, T - A);
  assert_int_equal(it_raw_read_response(fa, buf, sizeof buf, 10000), 423);
  close(fa);
  close(fb);
  check_file(s, "sup2", data, T);
  free(data);
}

static void unverified_bytes_are_dropped_when_superseded(void **state)
{
  it_server *s = *state;
  enum { T = 64 * 1024, A = 16 * 1024 };
  char *data = malloc(T), *junk = malloc(T), hdr[256], buf[4096];
  assert_true(data != NULL && junk != NULL);
  it_fill(data, T, 17);
  it_fill(junk, T, 18);
  assert_int_equal(it_tus_create(s, "ck", T, NULL, NULL, 0, NULL), 201);
  /* a checksummed PATCH (of the real bytes' sha1) whose first bytes are junk */
  uint8_t dg[32];
  size_t dlen;
  char b64[64];
  it_digest("sha1", data, T, dg, &dlen);
  it_base64(dg, dlen, b64, sizeof b64);
  snprintf(hdr, sizeof hdr,
           "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n" IT_TUS_CT "\r\nUpload-Checksum: sha1 "
           "%s\r\n",
           b64);
  int fa = raw_request(s->port, "PATCH", "ck", hdr, T);
  it_raw_send(fa, junk, A);
  assert_int_equal(wait_for_data(s, "ck", A), A);
  long long off = -1;
  assert_int_equal(it_tus_head(s, "ck", &off), 200);
  assert_int_equal(off, 0); /* unverified bytes are not reported */
  /* a newer PATCH at 0 takes over: the junk is dropped, not kept as a prefix */
  snprintf(hdr, sizeof hdr, "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n" IT_TUS_CT "\r\n");
  int fb = raw_request(s->port, "PATCH", "ck", hdr, T);
  it_raw_send(fb, data, T);
  assert_int_equal(it_raw_read_response(fb, buf, sizeof buf, 10000), 204);
  it_raw_send(fa, junk + A, T - A);
  assert_int_equal(it_raw_read_response(fa, buf, sizeof buf, 10000), 423);
  close(fa);
  close(fb);
  check_file(s, "ck", data, T);
  free(data);
  free(junk);
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_ALL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(tus_begun_localai_probes_and_finishes, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(tus_begun_stager_resumes_it, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(localai_begun_tus_probes_and_finishes, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(tus_patch_superseded_by_localai_put, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(localai_put_superseded_by_tus_patch, it_setup, it_teardown),
      cmocka_unit_test_setup_teardown(unverified_bytes_are_dropped_when_superseded, it_setup,
                                      it_teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
