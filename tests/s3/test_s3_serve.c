/* resumable-serve --store s3 on the wire: two servers (A and B) on one bucket, driven by libcurl
 * and by resumable-upload, against the Ceph cluster of with_ceph.sh.
 *   argv[1] resumable-serve, argv[2] resumable-upload. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "faultproxy.h"
#include "s3_env.h"
#include "s3_serve.h"
#include "sha256.h"
#include "test_proc.h"

#define MiB ((size_t)1 << 20)

static s3_env env;
static const char *serve_exe, *upload_exe;

typedef struct fx {
  char prefix[64];
  s3_serve a, b;
} fx;

static int setup(void **state)
{
  fx *f = calloc(1, sizeof(*f));
  if (!f)
    return -1;
  s3_env_prefix("wire", f->prefix, sizeof(f->prefix));
  if (s3_serve_start(&f->a, serve_exe, &env, f->prefix, NULL) != 0 ||
      s3_serve_start(&f->b, serve_exe, &env, f->prefix, NULL) != 0)
    return -1;
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

/* ---- a small HTTP client ---- */

typedef struct reply {
  long status;
  char headers[8192];
  size_t hlen;
  uint8_t *body;
  size_t blen, bcap;
  int transport_error;
} reply;

static size_t on_header(char *d, size_t size, size_t n, void *arg)
{
  reply *r = arg;
  size_t k = size * n;
  if (k > 5 && strncmp(d, "HTTP/", 5) == 0)
    r->hlen = 0;
  if (r->hlen + k < sizeof(r->headers)) {
    memcpy(r->headers + r->hlen, d, k);
    r->hlen += k;
    r->headers[r->hlen] = '\0';
  }
  return k;
}

static size_t on_body(char *d, size_t size, size_t n, void *arg)
{
  reply *r = arg;
  size_t k = size * n;
  if (r->blen + k > r->bcap) {
    size_t cap = (r->blen + k) * 2;
    uint8_t *b = realloc(r->body, cap);
    if (!b)
      return 0;
    r->body = b;
    r->bcap = cap;
  }
  memcpy(r->body + r->blen, d, k);
  r->blen += k;
  return k;
}

/* One request; `hdrs` NULL-terminated "Name: value" lines. */
static void http(reply *r, const char *method, const char *url, const char *const *hdrs,
                 const void *body, size_t len)
{
  memset(r, 0, sizeof(*r));
  CURL *c = curl_easy_init();
  struct curl_slist *l = NULL;
  for (size_t i = 0; hdrs && hdrs[i]; i++)
    l = curl_slist_append(l, hdrs[i]);
  l = curl_slist_append(l, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "PUT") == 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  } else if (strcmp(method, "DELETE") == 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  }
  r->transport_error = curl_easy_perform(c) != CURLE_OK;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_slist_free_all(l);
  curl_easy_cleanup(c);
}

static void reply_free(reply *r)
{
  free(r->body);
  r->body = NULL;
}

/* A header's value (first match, case-insensitive name) or "". */
static const char *header(const reply *r, const char *name, char *out, size_t cap)
{
  size_t n = strlen(name);
  out[0] = '\0';
  for (const char *p = r->headers; p && *p;) {
    if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ')
        v++;
      size_t k = strcspn(v, "\r\n");
      snprintf(out, cap, "%.*s", (int)k, v);
      return out;
    }
    p = strchr(p, '\n');
    p = p ? p + 1 : NULL;
  }
  return out;
}

static void url_of(char *out, size_t cap, const s3_serve *s, const char *key)
{
  snprintf(out, cap, "%s%s", s->url, key);
}

static uint8_t *pattern(size_t len, unsigned seed)
{
  uint8_t *p = malloc(len ? len : 1);
  uint32_t x = 0x9e3779b9u ^ seed;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (uint8_t)x;
  }
  return p;
}

static void hex_of(const uint8_t *d, size_t len, char out[65])
{
  uint8_t sha[32];
  rs_sha256_digest(d, len, sha);
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", sha[i]);
}

/* PUT bytes [from, to) of data (total len) with the file's hash. */
static void put_range(reply *r, const char *url, const uint8_t *data, size_t from, size_t to,
                      size_t len, const char *hex)
{
  char cr[96], sh[96];
  snprintf(cr, sizeof(cr), "Content-Range: bytes %zu-%zu/%zu", from, to - 1, len);
  snprintf(sh, sizeof(sh), "X-Content-SHA256: %s", hex);
  const char *h[] = {cr, sh, NULL};
  http(r, "PUT", url, h, data + from, to - from);
}

/* ---- cases ---- */

/* The protocol's states through two servers: whichever server a request reaches, it sees and
 * continues the same partial; HEAD answers from the state record. */
static void protocol_across_two_servers(void **state)
{
  fx *f = *state;
  size_t len = 12 * MiB + 12345, first = 6 * MiB + 7;
  uint8_t *d = pattern(len, 1);
  char hex[65], ua[256], ub[256], v[128];
  hex_of(d, len, hex);
  url_of(ua, sizeof(ua), &f->a, "dir/file%20one.bin");
  url_of(ub, sizeof(ub), &f->b, "dir/file%20one.bin");
  reply r;
  http(&r, "HEAD", ua, NULL, NULL, 0);
  assert_int_equal(r.status, 404);
  put_range(&r, ua, d, 0, first, len, hex);
  assert_int_equal(r.status, 308);
  assert_string_equal(header(&r, "X-File-Size", v, sizeof(v)), "6291463");
  reply_free(&r);
  /* B sees A's partial */
  http(&r, "HEAD", ub, NULL, NULL, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(header(&r, "X-File-Size", v, sizeof(v)), "6291463");
  assert_int_equal(atoll(header(&r, "X-Upload-Total", v, sizeof(v))), (long long)len);
  assert_string_equal(header(&r, "X-Target-SHA256", v, sizeof(v)), hex);
  assert_string_equal(header(&r, "X-Content-SHA256", v, sizeof(v)), "");
  http(&r, "GET", ub, NULL, NULL, 0);
  assert_int_equal(r.status, 404);
  reply_free(&r);
  /* a wrong offset through B: 416 with what the bucket holds */
  put_range(&r, ub, d, first + 10, len, len, hex);
  assert_int_equal(r.status, 416);
  assert_string_equal(header(&r, "X-File-Size", v, sizeof(v)), "6291463");
  reply_free(&r);
  put_range(&r, ub, d, first, len, len, hex);
  assert_int_equal(r.status, 200);
  assert_string_equal(header(&r, "X-Content-SHA256", v, sizeof(v)), hex);
  assert_non_null(strstr((const char *)r.body, hex));
  reply_free(&r);
  /* both serve it, whole and by range */
  http(&r, "GET", ua, NULL, NULL, 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.blen, len);
  assert_memory_equal(r.body, d, len);
  reply_free(&r);
  const char *range[] = {"Range: bytes=5242870-5242889", NULL};
  http(&r, "GET", ub, range, NULL, 0);
  assert_int_equal(r.status, 206);
  assert_int_equal(r.blen, 20);
  assert_memory_equal(r.body, d + 5242870, 20);
  reply_free(&r);
  http(&r, "HEAD", ub, NULL, NULL, 0);
  assert_string_equal(header(&r, "X-Content-SHA256", v, sizeof(v)), hex);
  /* a replacement whose hash does not match is refused; the old object stays */
  uint8_t *bad = pattern(3000, 2);
  put_range(&r, ua, bad, 0, 3000, 3000, hex);
  assert_int_equal(r.status, 400);
  reply_free(&r);
  http(&r, "HEAD", ub, NULL, NULL, 0);
  assert_string_equal(header(&r, "X-Content-SHA256", v, sizeof(v)), hex);
  http(&r, "DELETE", ub, NULL, NULL, 0);
  assert_int_equal(r.status, 204);
  http(&r, "HEAD", ua, NULL, NULL, 0);
  assert_int_equal(r.status, 404);
  free(bad);
  free(d);
}

/* resumable-upload through a proxy: the connection to A is cut after 7 MiB, the retry reaches
 * B, which resumes where the bucket stood (the bytes A received, made durable when the body
 * was cut) and commits the right file. */
static void cut_upload_resumes_on_the_other_server(void **state)
{
  fx *f = *state;
  size_t len = 16 * MiB + 999;
  uint8_t *d = pattern(len, 3);
  char hex[65], path[128], url[256];
  hex_of(d, len, hex);
  snprintf(path, sizeof(path), "/tmp/rs-s3-up-%ld.bin", (long)getpid());
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(d, 1, len, fp), len);
  fclose(fp);
  fp_proxy *p = NULL;
  assert_int_equal(fp_start(&p, "127.0.0.1", f->a.port), 0);
  fp_set_cut(p, 7 * MiB, 1);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/files/cut/big.bin", (unsigned)fp_port(p));
  /* the LocalAI dialect keeps a cut request's bytes (tus discards a checksummed one whole) */
  const char *args[] = {"--json",     "--quiet",  "--no-hash-cache",
                        "--protocol", "localai",  "--backoff-min",
                        "200",        "--budget", "120",
                        path,         url,        NULL};
  test_child c;
  assert_int_equal(test_spawn(&c, upload_exe, args), 0);
  /* once the body flows to A, every new connection goes to B */
  assert_int_equal(fp_wait_upstream_bytes(p, 1 * MiB, 60000), 0);
  fp_set_upstream(p, "127.0.0.1", f->b.port);
  char out[4096] = "";
  size_t n = 0;
  ssize_t k;
  while (n + 1 < sizeof(out) && (k = read(c.out, out + n, sizeof(out) - 1 - n)) > 0)
    n += (size_t)k;
  out[n] = '\0';
  assert_int_equal(test_reap(&c), 0);
  assert_int_equal(fp_cuts(p), 1);
  /* B resumed exactly where A was cut (A kept every byte it received): what reached the
   * servers is the file once, plus request headers */
  uint64_t through = fp_upstream_bytes(p);
  fp_stop(p);
  assert_non_null(strstr(out, hex));
  if (!(through >= len && through < len + 64 * 1024))
    fail_msg("%llu bytes reached the servers for a file of %zu: %s", (unsigned long long)through,
             len, out);
  reply r;
  url_of(url, sizeof(url), &f->a, "cut/big.bin");
  http(&r, "GET", url, NULL, NULL, 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.blen, len);
  assert_memory_equal(r.body, d, len);
  reply_free(&r);
  unlink(path);
  free(d);
}

typedef struct racer {
  const char *url;
  const uint8_t *data;
  size_t len;
  const char *hex; /* NULL: no X-Content-SHA256 */
  int whole;       /* a PUT without Content-Range */
  pthread_barrier_t *go;
  long status;
} racer;

static void *race(void *arg)
{
  racer *x = arg;
  reply r;
  char cr[96], sh[96];
  const char *h[3] = {NULL, NULL, NULL};
  size_t k = 0;
  if (!x->whole) {
    snprintf(cr, sizeof(cr), "Content-Range: bytes 0-%zu/%zu", x->len - 1, x->len);
    h[k++] = cr;
  }
  if (x->hex) {
    snprintf(sh, sizeof(sh), "X-Content-SHA256: %s", x->hex);
    h[k++] = sh;
  }
  pthread_barrier_wait(x->go);
  http(&r, "PUT", x->url, h, x->data, x->len);
  x->status = r.transport_error ? -1 : r.status;
  reply_free(&r);
  return NULL;
}

/* Two clients write one key at the same instant, one through A and one through B, round after
 * round in several forms (chunk vs chunk, unbound chunks, whole-file PUTs, mixed). Whatever
 * each is answered, the object afterwards is whole and is a version that some 200 certified
 * (or the one before), and HEAD's hash is the object's. */
static void two_servers_write_one_key_at_once(void **state)
{
  fx *f = *state;
  enum { ROUNDS = 8 };
  size_t len = 11 * MiB + 4321;
  char ua[256], ub[256], prev[65] = "", v[128];
  url_of(ua, sizeof(ua), &f->a, "race/key");
  url_of(ub, sizeof(ub), &f->b, "race/key");
  unsigned ok_both = 0, refused = 0;
  for (unsigned round = 0; round < ROUNDS; round++) {
    uint8_t *dx = pattern(len, 100 + round), *dy = pattern(len, 200 + round);
    char hx[65], hy[65];
    hex_of(dx, len, hx);
    hex_of(dy, len, hy);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    int form = (int)(round % 4);
    racer x = {ua, dx, len, form == 1 ? NULL : hx, form == 2, &go, 0};
    racer y = {ub, dy, len, form == 1 ? NULL : hy, form >= 2, &go, 0};
    pthread_t tx, ty;
    pthread_create(&tx, NULL, race, &x);
    pthread_create(&ty, NULL, race, &y);
    pthread_join(tx, NULL);
    pthread_join(ty, NULL);
    pthread_barrier_destroy(&go);
    ok_both += x.status == 200 && y.status == 200;
    refused += (x.status != 200) + (y.status != 200);
    /* what the bucket holds now, read straight from S3 */
    char name[128], got[65] = "";
    uint8_t sha[32];
    uint64_t size = 0;
    snprintf(name, sizeof(name), "%srace/key", f->prefix);
    int present = s3_env_hash_object(&env, name, sha, &size);
    assert_true(present >= 0);
    if (present)
      for (int i = 0; i < 32; i++)
        snprintf(got + 2 * i, 3, "%02x", sha[i]);
    int is_x = strcmp(got, hx) == 0, is_y = strcmp(got, hy) == 0;
    if (!(present ? (is_x && x.status == 200) || (is_y && y.status == 200) || strcmp(got, prev) == 0
                  : prev[0] == '\0'))
      fail_msg("round %u (form %d): statuses %ld/%ld, the object (%s) is %s", round, form, x.status,
               y.status, present ? "present" : "absent",
               is_x                     ? "X"
               : is_y                   ? "Y"
               : strcmp(got, prev) == 0 ? "the previous"
                                        : "torn");
    reply r;
    http(&r, "HEAD", round % 2 ? ua : ub, NULL, NULL, 0);
    if (present)
      assert_string_equal(header(&r, "X-Content-SHA256", v, sizeof(v)), got);
    snprintf(prev, sizeof(prev), "%s", got);
    free(dx);
    free(dy);
  }
  /* the race is real: not every request can have won */
  print_message("# %u rounds: both answered 200 in %u, %u requests refused\n", ROUNDS, ok_both,
                refused);
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: %s RESUMABLE-SERVE RESUMABLE-UPLOAD\n", argv[0]);
    return 2;
  }
  serve_exe = argv[1];
  upload_exe = argv[2];
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (s3_env_init(&env, "rs-wire") != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(protocol_across_two_servers, setup, teardown),
      cmocka_unit_test_setup_teardown(cut_upload_resumes_on_the_other_server, setup, teardown),
      cmocka_unit_test_setup_teardown(two_servers_write_one_key_at_once, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
