/* The tus dialect on one root served by two resumable-serve processes: a PATCH through B takes
 * the upload over from a PATCH through A that stalls (with and without Upload-Checksum), the
 * upload's metadata crosses over, a concatenation takes its final key and its parts from the
 * other server, and a HEAD never expires an upload that the other server is receiving. After
 * each: the final file is the one uploaded, and both servers name its hash. argv[1] is the
 * path of the built resumable-serve. */
#include "it_tus.h"
#include "two_serve.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A response header's value, or "(absent)": compared as a string, an absent header fails. */
static const char *hv(const it_resp *r, const char *name, char *buf, size_t cap)
{
  const char *v = it_header(r, name, buf, cap);
  return v != NULL ? v : "(absent)";
}

/* Bytes of the key's partial data file (0 if there is none). */
static long long data_size(const two_pair *p, const char *key)
{
  char hex[65], path[512];
  struct stat st;
  it_sha256_hex(key, strlen(key), hex);
  snprintf(path, sizeof path, "%s/.resumable/partial/%s.data", p->root, hex);
  return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* Poll until a server wrote more than `bytes` into the key's partial: its request holds the
 * key now. Bounded: 20 s. */
static void wait_for_data(const two_pair *p, const char *key, long long bytes)
{
  for (int i = 0; i < 2000 && data_size(p, key) <= bytes; i++)
    poll(NULL, 0, 10);
  assert_true(data_size(p, key) > bytes);
}

/* A raw PATCH through `s` of `len` bytes at `offset` of which only `send` are sent: the
 * connection stays open (the client stalls). `checksum` is an Upload-Checksum line or NULL. */
static int stalled_patch(const two_server *s, const char *key, size_t offset, const char *body,
                         size_t len, size_t send, const char *checksum)
{
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "PATCH " IT_PREFIX "%s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                   "Upload-Offset: %zu\r\n" IT_TUS_CT "\r\nContent-Length: %zu\r\n%s%s\r\n",
                   key, offset, len, checksum ? checksum : "", checksum ? "\r\n" : "");
  int fd = it_raw_connect(s->it.port);
  it_raw_send(fd, head, (size_t)n);
  it_raw_send(fd, body, send);
  return fd;
}

/* The stalled client sends a little more: its server, which lost the key, ends the request at
 * once: a 423, or the connection closed (a reply mid-body may not reach the client). Never a
 * wait for the rest of the body (20 s is far below the servers' idle timeout of 300 s). */
static void assert_superseded(int fd, const char *more)
{
  char reply[4096];
  size_t len = 0;
  (void)!send(fd, more, 65536, MSG_NOSIGNAL); /* may fail: the server may have closed */
  for (;;) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    assert_true(poll(&pf, 1, 20000) > 0); /* else the request still waits for its body */
    ssize_t n = recv(fd, reply + len, sizeof reply - 1 - len, 0);
    if (n <= 0)
      break; /* closed */
    len += (size_t)n;
    reply[len] = '\0';
    if (len >= 12 || len + 1 == sizeof reply)
      break;
  }
  if (len > 0)
    assert_int_equal(strncmp(reply, "HTTP/1.1 423", 12), 0);
  close(fd);
}

/* The file at the key is `data`, and HEAD through both servers names its hash. */
static void assert_final(const two_pair *p, const char *key, const char *data, size_t n)
{
  char path[512], hex[65], got[80];
  size_t len = 0;
  snprintf(path, sizeof path, "%s/%s", p->root, key);
  char *disk = it_read_file(path, &len);
  assert_non_null(disk);
  assert_int_equal(len, n);
  assert_memory_equal(disk, data, n);
  free(disk);
  it_sha256_hex(data, n, hex);
  const two_server *both[] = {&p->a, &p->b};
  for (int i = 0; i < 2; i++) {
    it_resp r;
    assert_int_equal(it_head(&both[i]->it, key, &r), 200);
    assert_string_equal(hv(&r, "X-Content-SHA256", got, sizeof got), hex);
    it_resp_free(&r);
    long long off = -1;
    assert_int_equal(it_tus_head(&both[i]->it, key, &off), 200);
    assert_int_equal(off, (long long)n);
  }
}

/* Created through A with its first MiB; A's PATCH of the rest stalls after 2 MiB more; the
 * client probes B (the offset and the metadata given to A) and sends the rest there. B takes
 * the upload at once (not after A's idle timeout), and A's PATCH is answered 423 when its
 * client sends again. With `checksum`, A's PATCH carries an Upload-Checksum of its body. */
static void takeover(two_pair *p, const char *key, int checksum)
{
  const size_t n = 8u << 20, first = 1u << 20, sent = 2u << 20;
  char *data = malloc(n), ck[160] = "", meta[128], got[256];
  assert_non_null(data);
  it_fill(data, n, checksum ? 41 : 40);
  snprintf(meta, sizeof meta, "Upload-Metadata: filename %s,owner YQ==", "dGFrZW92ZXI=");
  assert_int_equal(it_tus_create(&p->a.it, key, (long long)n, (const char *const[]){meta, NULL},
                                 data, first, NULL),
                   201);
  if (checksum) {
    uint8_t d[32];
    size_t dlen = 0;
    char b64[64];
    it_digest("sha256", data + first, n - first, d, &dlen);
    it_base64(d, dlen, b64, sizeof b64);
    snprintf(ck, sizeof ck, "Upload-Checksum: sha256 %s", b64);
  }
  int fd = stalled_patch(&p->a, key, first, data + first, n - first, sent, ck[0] ? ck : NULL);
  /* Every byte sent is written: A's request is idle, waiting for its client. (Caught mid-piece,
   * A would sync what it wrote before letting go, PROTOCOL.md step 8, and B's PATCH from the
   * offset of its HEAD would be a 409: right, but not the case this test is about.) */
  wait_for_data(p, key, (long long)(first + sent) - 1);

  it_resp r;
  assert_int_equal(it_tus(&p->b.it, "HEAD", key, NULL, NULL, 0, &r), 200);
  long long off = it_header_num(&r, "Upload-Offset");
  assert_string_equal(hv(&r, "Upload-Metadata", got, sizeof got),
                      meta + strlen("Upload-Metadata: "));
  assert_int_equal(it_header_num(&r, "Upload-Length"), (long long)n);
  it_resp_free(&r);
  /* what B finds is what A made durable: the creation's bytes (A's PATCH synced nothing yet) */
  assert_int_equal(off, (long long)first);
  assert_int_equal(
      it_tus_patch(&p->b.it, key, (uint64_t)off, NULL, data + off, n - (size_t)off, &r), 204);
  assert_int_equal(it_header_num(&r, "Upload-Offset"), (long long)n);
  it_resp_free(&r);

  assert_superseded(fd, data + first + sent);
  assert_final(p, key, data, n);
  free(data);
}

static void patch_through_b_takes_over_a_stalled_patch_through_a(void **state)
{
  takeover(*state, "t/plain.bin", 0);
}

static void checksummed_patch_through_a_is_dropped_when_b_takes_over(void **state)
{
  takeover(*state, "t/checksum.bin", 1);
}

/* Create a part of `len` bytes through `s`, sending `send` of them; its path into loc. */
static void make_part(const two_server *s, const char *data, size_t len, size_t send, char *loc,
                      size_t cap)
{
  it_resp r;
  assert_int_equal(it_tus_create(&s->it, "", (long long)len,
                                 (const char *const[]){"Upload-Concat: partial", NULL}, data, send,
                                 &r),
                   201);
  it_tus_location(&r, loc, cap);
  it_resp_free(&r);
}

static long final(const two_server *s, const char *key, const char *p1, const char *p2)
{
  char h[512];
  snprintf(h, sizeof h, "Upload-Concat: final;" IT_PREFIX "%s " IT_PREFIX "%s", p1, p2);
  return it_tus(&s->it, "POST", key, (const char *const[]){h, NULL}, NULL, 0, NULL);
}

/* Parts uploaded through both servers (one begun on B and finished on A) are concatenated
 * through B: the final file is whole, and the parts are gone for both servers. */
static void concatenation_of_parts_uploaded_through_both_servers(void **state)
{
  two_pair *p = *state;
  const size_t n = 3u << 20, half = n / 2;
  char *data = malloc(n), p1[64], p2[64];
  assert_non_null(data);
  it_fill(data, n, 42);
  make_part(&p->a, data, half, half, p1, sizeof p1);
  make_part(&p->b, data + half, n - half, 1000, p2, sizeof p2);
  assert_int_equal(
      it_tus_patch(&p->a.it, p2, 1000, NULL, data + half + 1000, n - half - 1000, NULL), 204);
  assert_int_equal(final(&p->b, "c/final.bin", p1, p2), 201);
  assert_final(p, "c/final.bin", data, n);
  assert_int_equal(it_tus_head(&p->a.it, p1, NULL), 404);
  assert_int_equal(it_tus_head(&p->b.it, p2, NULL), 404);
  assert_int_equal(it_tus_partial_files(&p->a.it), 0);
  free(data);
}

/* A PATCH of key K stalls in B; a concatenation into K through A takes K at once (the final
 * replaces K's upload), and B's PATCH is answered 423 as soon as its client sends again, not
 * at the end of its body. */
static void concatenation_takes_its_final_key_from_the_other_server(void **state)
{
  two_pair *p = *state;
  const size_t n = 4u << 20, old = 8u << 20;
  char *data = malloc(n), *other = malloc(old), p1[64], p2[64];
  assert_non_null(data);
  assert_non_null(other);
  it_fill(data, n, 43);
  it_fill(other, old, 44);
  assert_int_equal(it_tus_create(&p->b.it, "k/final.bin", (long long)old, NULL, NULL, 0, NULL),
                   201);
  int fd = stalled_patch(&p->b, "k/final.bin", 0, other, old, 1u << 20, NULL);
  wait_for_data(p, "k/final.bin", 0);
  make_part(&p->a, data, n / 2, n / 2, p1, sizeof p1);
  make_part(&p->a, data + n / 2, n - n / 2, n - n / 2, p2, sizeof p2);
  assert_int_equal(final(&p->a, "k/final.bin", p1, p2), 201);
  assert_superseded(fd, other + (1u << 20));
  assert_final(p, "k/final.bin", data, n);
  free(data);
  free(other);
}

static int setup_ttl(void **state)
{
  return two_setup_args(state, (const char *const[]){"--partial-ttl", "30", NULL});
}

/* A PATCH through A stalls on an upload whose files look older than the partial TTL. A tus
 * HEAD through B must not expire it (A holds the key: it is in use there): it answers the
 * upload's offset, and A's request finishes it when its client goes on. */
static void head_does_not_expire_an_upload_the_other_server_receives(void **state)
{
  two_pair *p = *state;
  const size_t n = 2u << 20, first = 1000, sent = 4096;
  char *data = malloc(n), reply[4096];
  assert_non_null(data);
  it_fill(data, n, 45);
  assert_int_equal(it_tus_create(&p->a.it, "e/held.bin", (long long)n, NULL, data, first, NULL),
                   201);
  int fd = stalled_patch(&p->a, "e/held.bin", first, data + first, n - first, sent, NULL);
  wait_for_data(p, "e/held.bin", (long long)first);
  it_tus_age_partial(&p->a.it, "e/held.bin", 3600);
  long long off = -1;
  assert_int_equal(it_tus_head(&p->b.it, "e/held.bin", &off), 200);
  assert_int_equal(off, (long long)first);
  assert_int_equal(it_tus_partial_files(&p->a.it), 2); /* its meta and data are still there */
  it_raw_send(fd, data + first + sent, n - first - sent);
  assert_int_equal(it_raw_read_response(fd, reply, sizeof reply, 20000), 204);
  close(fd);
  assert_final(p, "e/held.bin", data, n);
  /* an upload nobody holds does expire */
  assert_int_equal(it_tus_create(&p->a.it, "e/idle.bin", 100, NULL, data, 10, NULL), 201);
  it_tus_age_partial(&p->a.it, "e/idle.bin", 3600);
  assert_int_equal(it_tus_head(&p->b.it, "e/idle.bin", NULL), 410);
  assert_int_equal(it_tus_head(&p->a.it, "e/idle.bin", NULL), 404);
  free(data);
}

#define T(f) cmocka_unit_test_setup_teardown(f, two_setup, two_teardown)

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s path/to/resumable-serve\n", argv[0]);
    return 2;
  }
  two_serve_tool = argv[1];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(patch_through_b_takes_over_a_stalled_patch_through_a),
      T(checksummed_patch_through_a_is_dropped_when_b_takes_over),
      T(concatenation_of_parts_uploaded_through_both_servers),
      T(concatenation_takes_its_final_key_from_the_other_server),
      cmocka_unit_test_setup_teardown(head_does_not_expire_an_upload_the_other_server_receives,
                                      setup_ttl, two_teardown),
  };
  int rc = cmocka_run_group_tests_name("tus_two_servers", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
