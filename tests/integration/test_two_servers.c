/* Two resumable-serve processes on one root (issue 14, part 1): a resume through B while A's
 * request stalls, two versions of a key through A and B at once, a DELETE through one during an
 * upload through the other. After each: no final file ever differs from a hash that some 200
 * certified, and no torn file is ever visible. argv[1] is the path of the built tool. */
#include "two_serve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef two_server server;
typedef two_pair pair;

/* ---- hashing without cmocka (also used from threads) ---- */

static void hex_of(const void *data, size_t len, char out[65])
{
  unsigned char d[32];
#if MBEDTLS_VERSION_MAJOR >= 3
  mbedtls_sha256(data, len, d, 0);
#else
  mbedtls_sha256_ret(data, len, d, 0);
#endif
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* SHA-256 of the file at path into out; 0 if there is none. */
static int hash_path(const char *path, char out[65])
{
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return 0;
  struct stat st;
  char *buf = NULL;
  int ok = fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1)) != NULL;
  size_t got = 0;
  while (ok && got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (ok)
    hex_of(buf, got, out);
  free(buf);
  return ok;
}

static void final_path(const pair *p, const char *key, char *out, size_t cap)
{
  snprintf(out, cap, "%s/%s", p->root, key);
}

/* HEAD through both servers names the hash the file at the final path has. */
static void assert_heads_agree_with_disk(const pair *p, const char *key, const char *want)
{
  char path[256], disk[65], got[80];
  final_path(p, key, path, sizeof path);
  assert_true(hash_path(path, disk));
  assert_string_equal(disk, want);
  const server *both[] = {&p->a, &p->b};
  for (int i = 0; i < 2; i++) {
    it_resp r;
    assert_int_equal(it_head(&both[i]->it, key, &r), 200);
    assert_non_null(it_header(&r, "X-Content-SHA256", got, sizeof got));
    assert_string_equal(got, disk);
    it_resp_free(&r);
  }
}

/* The raw headers of a Content-Range PUT of bytes [from, n) of n with hash. */
static int put_head(char *buf, size_t cap, const char *key, size_t from, size_t n, const char *hash)
{
  return snprintf(buf, cap,
                  "PUT " IT_PREFIX "%s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
                  "Content-Range: bytes %zu-%zu/%zu\r\nX-Content-SHA256: %s\r\n\r\n",
                  key, n - from, from, n - 1, n, hash);
}

/* Poll HEAD through `s` until the key has a partial (X-Upload-Total): a request elsewhere has
 * begun its upload. Bounded: 20 s. */
static void wait_for_partial(const server *s, const char *key)
{
  for (int i = 0; i < 2000; i++) {
    it_resp r;
    long st = it_head(&s->it, key, &r);
    long long total = it_header_num(&r, "X-Upload-Total");
    it_resp_free(&r);
    if (st == 200 && total > 0)
      return;
    poll(NULL, 0, 10);
  }
  fail_msg("no partial of %s appeared", key);
}

/* A's request sends part of its body and stalls with its connection open; the client resumes
 * through B, which must take the key over at once (not after A's idle timeout of 300 s) and
 * finish with the right hash. A's request, when its client sends again, is answered 423. */
static void resume_through_b_while_a_request_stalls(void **state)
{
  pair *p = *state;
  const size_t n = 8u << 20, sent = 3u << 20;
  char *data = malloc(n), hash[65], head[512], got[80], reply[4096];
  assert_non_null(data);
  it_fill(data, n, 11);
  hex_of(data, n, hash);
  int fd = it_raw_connect(p->a.it.port);
  int hl = put_head(head, sizeof head, "r/big.bin", 0, n, hash);
  it_raw_send(fd, head, (size_t)hl);
  it_raw_send(fd, data, sent);
  wait_for_partial(&p->b, "r/big.bin");

  it_resp r;
  assert_int_equal(it_head(&p->b.it, "r/big.bin", &r), 200);
  long long held = it_header_num(&r, "X-File-Size");
  assert_non_null(it_header(&r, "X-Target-SHA256", got, sizeof got));
  assert_string_equal(got, hash);
  it_resp_free(&r);
  assert_true(held >= 0 && (size_t)held <= sent);
  char range[96];
  snprintf(range, sizeof range, "bytes %lld-%zu/%zu", held, n - 1, n);
  long st = it_put(&p->b.it, "r/big.bin", range, hash, data + held, n - (size_t)held, &r);
  if (st == 416) {
    /* A kept the bytes it had read when B took the key over (PROTOCOL.md step 8): more than
     * the HEAD saw when A's server is slow (TSan). The client resyncs from the 416, once. */
    held = it_header_num(&r, "X-File-Size");
    it_resp_free(&r);
    assert_true(held >= 0 && (size_t)held <= sent);
    snprintf(range, sizeof range, "bytes %lld-%zu/%zu", held, n - 1, n);
    st = it_put(&p->b.it, "r/big.bin", range, hash, data + held, n - (size_t)held, &r);
  }
  assert_int_equal(st, 200);
  assert_non_null(it_header(&r, "X-Content-SHA256", got, sizeof got));
  assert_string_equal(got, hash);
  it_resp_free(&r);

  it_raw_send(fd, data + sent, n - sent); /* A's client sends again */
  assert_int_equal(it_raw_read_response(fd, reply, sizeof reply, 30000), 423);
  close(fd);
  assert_heads_agree_with_disk(p, "r/big.bin", hash);
  free(data);
}

/* ---- two clients, two versions, two servers ---- */

typedef struct racer {
  const server *via;
  const char *key;
  const char *data;
  size_t n;
  char hash[65];
  unsigned seed;
  int done;           /* got a 200 */
  char certified[65]; /* the X-Content-SHA256 of that 200 */
  int attempts;
} racer;

typedef struct feed {
  const char *data;
  size_t len, pos;
} feed;

/* 64 KiB per call, so that two uploads are mid-body together. */
static size_t feed_cb(char *buf, size_t size, size_t nmemb, void *user)
{
  feed *f = user;
  size_t n = size * nmemb;
  if (n > 65536)
    n = 65536;
  if (n > f->len - f->pos)
    n = f->len - f->pos;
  memcpy(buf, f->data + f->pos, n);
  f->pos += n;
  return n;
}

static size_t keep_header(char *buf, size_t size, size_t nmemb, void *user)
{
  char *h = user;
  size_t n = size * nmemb, have = strlen(h);
  if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0)
    have = 0, h[0] = '\0';
  if (have + n < 4096) {
    memcpy(h + have, buf, n);
    h[have + n] = '\0';
  }
  return n;
}

static size_t ignore_body(char *buf, size_t size, size_t nmemb, void *user)
{
  (void)buf, (void)user;
  return size * nmemb;
}

/* One request with libcurl, no cmocka (threads): its status and header block. */
static long request(const racer *r, const char *method, const char *range, size_t from,
                    char headers[4096])
{
  char url[512], line[160];
  CURL *c = curl_easy_init();
  if (c == NULL)
    return -1;
  struct curl_slist *h = NULL;
  feed f = {r->data + from, r->n - from, 0};
  snprintf(url, sizeof url, "http://127.0.0.1:%u" IT_PREFIX "%s", (unsigned)r->via->it.port,
           r->key);
  headers[0] = '\0';
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ignore_body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    snprintf(line, sizeof line, "Content-Range: %s", range);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Content-SHA256: %s", r->hash);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, feed_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &f);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(r->n - from));
  }
  long status = -1;
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

static int header_value(const char *headers, const char *name, char *out, size_t cap)
{
  it_resp fake;
  memset(&fake, 0, sizeof fake);
  snprintf(fake.headers, sizeof fake.headers, "%s", headers);
  return it_header(&fake, name, out, cap) != NULL;
}

/* A client as a user would run one: probe, send from what the server holds (of our upload),
 * and on anything but 200 wait a little (random, growing) and go again. */
static void *race_main(void *arg)
{
  racer *r = arg;
  char headers[4096], v[80], range[96];
  unsigned x = r->seed;
  for (r->attempts = 0; r->attempts < 400 && !r->done; r->attempts++) {
    size_t from = 0;
    if (request(r, "HEAD", NULL, 0, headers) == 200 &&
        header_value(headers, "X-Target-SHA256", v, sizeof v) && strcmp(v, r->hash) == 0 &&
        header_value(headers, "X-Upload-Total", v, sizeof v) && strtoull(v, NULL, 10) == r->n &&
        header_value(headers, "X-File-Size", v, sizeof v))
      from = (size_t)strtoull(v, NULL, 10);
    if (from >= r->n)
      snprintf(range, sizeof range, "bytes */%zu", r->n);
    else
      snprintf(range, sizeof range, "bytes %zu-%zu/%zu", from, r->n - 1, r->n);
    if (request(r, "PUT", range, from >= r->n ? r->n : from, headers) == 200) {
      r->done = header_value(headers, "X-Content-SHA256", r->certified, sizeof r->certified);
      break;
    }
    x = x * 1103515245u + 12345u;
    int cap = 1 << (r->attempts < 6 ? r->attempts : 6);
    poll(NULL, 0, (int)((x >> 8) % (unsigned)cap)); /* backoff, as clients do */
  }
  return NULL;
}

typedef struct watcher {
  const char *path;
  const char *allowed[3]; /* the two versions racing, and the one there before (or "") */
  atomic_int stop;
  int seen, torn;
} watcher;

/* While the clients race: every read of the final path is one whole version, never a mix. */
static void *watch_main(void *arg)
{
  watcher *w = arg;
  char h[65];
  while (!atomic_load(&w->stop)) {
    if (!hash_path(w->path, h))
      continue;
    w->seen++;
    if (strcmp(h, w->allowed[0]) != 0 && strcmp(h, w->allowed[1]) != 0 &&
        strcmp(h, w->allowed[2]) != 0)
      w->torn++;
  }
  return NULL;
}

/* Two clients upload two versions of one key (same size, so a torn mix has the right size)
 * through A and B at once, in several rounds. Fails on a root shared without cross-process
 * exclusion: both servers write one partial's data file, and a 200 certifies a hash that the
 * bytes at the final path do not have. */
static void two_versions_through_a_and_b_at_once(void **state)
{
  pair *p = *state;
  const size_t n = 3u << 20;
  char *v1 = malloc(n), *v2 = malloc(n);
  assert_non_null(v1);
  assert_non_null(v2);
  for (unsigned round = 0; round < 6; round++) {
    char key[32], path[256];
    snprintf(key, sizeof key, "v/k%u", round % 2); /* rounds replace earlier versions too */
    it_fill(v1, n, 100 + round);
    memcpy(v2, v1, n);
    v2[n / 2] ^= 0x5a; /* one byte apart: only the hash tells them apart */
    racer r[2] = {{.via = &p->a, .key = key, .data = v1, .n = n, .seed = 7 + round},
                  {.via = &p->b, .key = key, .data = v2, .n = n, .seed = 1001 + round}};
    hex_of(v1, n, r[0].hash);
    hex_of(v2, n, r[1].hash);
    final_path(p, key, path, sizeof path);
    char before[65] = "";
    (void)hash_path(path, before); /* an earlier round's version stays visible until replaced */
    watcher w = {.path = path, .allowed = {r[0].hash, r[1].hash, before}};
    atomic_init(&w.stop, 0);
    pthread_t t[2], wt;
    assert_int_equal(pthread_create(&wt, NULL, watch_main, &w), 0);
    for (int i = 0; i < 2; i++)
      assert_int_equal(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
    for (int i = 0; i < 2; i++)
      pthread_join(t[i], NULL);
    atomic_store(&w.stop, 1);
    pthread_join(wt, NULL);
    for (int i = 0; i < 2; i++) {
      if (!r[i].done)
        fail_msg("round %u: client %d got no 200 in %d attempts", round, i, r[i].attempts);
      assert_string_equal(r[i].certified, r[i].hash); /* a 200 certifies its own upload */
    }
    char disk[65];
    assert_true(hash_path(path, disk));
    if (strcmp(disk, r[0].hash) != 0 && strcmp(disk, r[1].hash) != 0)
      fail_msg("round %u: the final file is neither version: a torn file certified by a 200",
               round);
    assert_int_equal(w.torn, 0);
    assert_heads_agree_with_disk(p, key, disk);
  }
  free(v1);
  free(v2);
}

/* ---- DELETE through one server during an upload through the other ---- */

/* A chunked upload stalls in A; DELETE through B takes the key over at once: the partial is
 * gone (204), A's request is answered 423 when its client sends again, nothing is left. */
static void delete_through_b_during_chunked_upload_through_a(void **state)
{
  pair *p = *state;
  const size_t n = 4u << 20;
  char *data = malloc(n), hash[65], head[512], reply[4096], path[256];
  assert_non_null(data);
  it_fill(data, n, 21);
  hex_of(data, n, hash);
  int fd = it_raw_connect(p->a.it.port);
  int hl = put_head(head, sizeof head, "d/chunked", 0, n, hash);
  it_raw_send(fd, head, (size_t)hl);
  it_raw_send(fd, data, n / 4);
  wait_for_partial(&p->b, "d/chunked");
  it_req del = {.method = "DELETE", .key = "d/chunked"};
  it_resp r;
  it_request(&p->b.it, &del, &r);
  assert_int_equal(r.status, 204);
  it_resp_free(&r);
  it_raw_send(fd, data + n / 4, n - n / 4);
  assert_int_equal(it_raw_read_response(fd, reply, sizeof reply, 30000), 423);
  close(fd);
  assert_int_equal(it_head(&p->a.it, "d/chunked", NULL), 404);
  assert_int_equal(it_head(&p->b.it, "d/chunked", NULL), 404);
  final_path(p, "d/chunked", path, sizeof path);
  assert_int_equal(access(path, F_OK), -1);
  free(data);
}

/* Whether A's whole-file upload has begun: its staging file exists. */
static int staging_exists(const pair *p)
{
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s/.resumable/tmp", p->root);
  DIR *d = opendir(tmp);
  int found = 0;
  for (struct dirent *e; d != NULL && !found && (e = readdir(d)) != NULL;)
    found = strncmp(e->d_name, "stage-", 6) == 0;
  if (d != NULL)
    closedir(d);
  return found;
}

/* A whole-file upload (no Content-Range) stalls in A; a DELETE through B removes the older
 * version and supersedes A's upload: no file may appear after the DELETE. */
static void delete_through_b_during_whole_file_upload_through_a(void **state)
{
  pair *p = *state;
  const size_t n = 4u << 20;
  char *data = malloc(n), head[512], reply[4096], path[256], hash[65];
  assert_non_null(data);
  it_fill(data, n, 31);
  hex_of(data, n, hash);
  /* A version is there before: the DELETE removes it, and A's upload must not bring one. */
  assert_int_equal(it_put(&p->b.it, "d/whole", NULL, NULL, "old", 3, NULL), 200);
  int fd = it_raw_connect(p->a.it.port);
  int hl = snprintf(head, sizeof head,
                    "PUT " IT_PREFIX "d/whole HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
                    "X-Content-SHA256: %s\r\n\r\n",
                    n, hash);
  it_raw_send(fd, head, (size_t)hl);
  it_raw_send(fd, data, n / 4);
  /* A DELETE that came before A's request began would rightly let A's upload land: wait
   * until A's staging file exists (bounded: 20 s). */
  for (int i = 0; i < 2000 && !staging_exists(p); i++)
    poll(NULL, 0, 10);
  assert_true(staging_exists(p));
  it_req del = {.method = "DELETE", .key = "d/whole"};
  it_resp r;
  it_request(&p->b.it, &del, &r);
  assert_int_equal(r.status, 204);
  it_resp_free(&r);
  it_raw_send(fd, data + n / 4, n - n / 4);
  assert_int_equal(it_raw_read_response(fd, reply, sizeof reply, 30000), 423);
  close(fd);
  final_path(p, "d/whole", path, sizeof path);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(it_head(&p->a.it, "d/whole", NULL), 404);
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
      T(resume_through_b_while_a_request_stalls),
      T(two_versions_through_a_and_b_at_once),
      T(delete_through_b_during_chunked_upload_through_a),
      T(delete_through_b_during_whole_file_upload_through_a),
  };
  int rc = cmocka_run_group_tests_name("two_servers", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
