/* Cut connections, concurrent writers, restarts, and the access log. */
#include "itest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* HEAD until X-File-Size equals `want` (10 s deadline); returns the last size seen. */
static long long wait_for_held(const it_server *s, const char *key, long long want)
{
  long long held = -1;
  long long deadline = now_ms() + 10000;
  while (held != want && now_ms() < deadline) {
    it_resp r;
    it_head(s, key, &r);
    held = r.status == 200 ? it_header_num(&r, "X-File-Size") : -1;
    it_resp_free(&r);
  }
  return held;
}

static int send_put_headers(uint16_t port, const char *key, const char *cr, const char *sha,
                            size_t len, int expect)
{
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "PUT " IT_PREFIX "%s HTTP/1.1\r\nHost: x\r\nContent-Range: %s\r\n"
                   "Content-Length: %zu\r\n%s%s%s%s\r\n",
                   key, cr, len, sha ? "X-Content-SHA256: " : "", sha ? sha : "", sha ? "\r\n" : "",
                   expect ? "Expect: 100-continue\r\n" : "");
  assert_true(n > 0 && (size_t)n < sizeof head);
  int fd = it_raw_connect(port);
  it_raw_send(fd, head, (size_t)n);
  return fd;
}

static void cut_connection_keeps_the_bytes_that_arrived(void **state)
{
  it_server *s = *state;
  enum { T = 128 * 1024, CHUNK = 64 * 1024, SENT = 40000 };
  unsigned char *d = malloc(T);
  assert_non_null(d);
  it_fill(d, T, 1);
  char cr[64];
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", CHUNK - 1, T);
  int fd = send_put_headers(s->port, "cut.bin", cr, NULL, CHUNK, 0);
  it_raw_send(fd, d, SENT);
  close(fd);
  assert_int_equal(wait_for_held(s, "cut.bin", SENT), SENT);
  snprintf(cr, sizeof cr, "bytes %d-%d/%d", SENT, T - 1, T);
  assert_int_equal(it_put(s, "cut.bin", cr, NULL, d + SENT, T - SENT, NULL), 200);
  char path[512];
  size_t len;
  char *f = it_read_file(it_key_path(s, "cut.bin", path, sizeof path), &len);
  assert_non_null(f);
  assert_int_equal(len, T);
  assert_memory_equal(f, d, T);
  free(f);
  free(d);
}

static void concurrent_puts_never_interleave(void **state)
{
  it_server *s = *state;
  enum { A = 64 * 1024, B = 48 * 1024 };
  unsigned char *a = malloc(A), *b = malloc(B);
  assert_true(a != NULL && b != NULL);
  it_fill(a, A, 2);
  it_fill(b, B, 3);
  char ha[65], hb[65], cr[64], buf[8192];
  it_sha256_hex(a, A, ha);
  it_sha256_hex(b, B, hb);
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", A - 1, A);
  int fa = send_put_headers(s->port, "race.bin", cr, ha, A, 1);
  /* "100 Continue" means A's headers were judged: A is the older writer. */
  assert_int_equal(it_raw_read_response(fa, buf, sizeof buf, 10000), 100);
  it_raw_send(fa, a, A / 2);
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", B - 1, B);
  int fb = send_put_headers(s->port, "race.bin", cr, hb, B, 1);
  /* B's "100 Continue": B now owns the key, so A's next body piece must stop. */
  assert_int_equal(it_raw_read_response(fb, buf, sizeof buf, 10000), 100);
  it_raw_send(fb, b, B);
  it_raw_send(fa, a + A / 2, A - A / 2);
  assert_int_equal(it_raw_read_response(fb, buf, sizeof buf, 10000), 200);
  int sa = it_raw_read_response(fa, buf, sizeof buf, 10000);
  assert_int_equal(sa, 423);
  close(fa);
  close(fb);
  char path[512];
  size_t len;
  char *f = it_read_file(it_key_path(s, "race.bin", path, sizeof path), &len);
  assert_non_null(f);
  assert_int_equal(len, B);
  assert_memory_equal(f, b, B);
  free(f);
  it_resp r;
  assert_int_equal(it_head(s, "race.bin", &r), 200);
  assert_string_equal(it_header(&r, "X-Content-SHA256", buf, sizeof buf), hb);
  it_resp_free(&r);
  free(a);
  free(b);
}

static void restart_resumes_from_head(void **state)
{
  it_server *s = *state;
  enum { T = 200 * 1000 };
  unsigned char *d = malloc(T);
  assert_non_null(d);
  it_fill(d, T, 4);
  char hex[65], cr[64], buf[128];
  it_sha256_hex(d, T, hex);
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", T / 4 - 1, T);
  assert_int_equal(it_put(s, "rs.bin", cr, hex, d, T / 4, NULL), 308);
  it_server_restart(s);
  it_resp r;
  assert_int_equal(it_head(s, "rs.bin", &r), 200);
  long long held = it_header_num(&r, "X-File-Size");
  assert_int_equal(held, T / 4);
  assert_string_equal(it_header(&r, "X-Target-SHA256", buf, sizeof buf), hex);
  it_resp_free(&r);
  snprintf(cr, sizeof cr, "bytes %lld-%d/%d", held, T - 1, T);
  assert_int_equal(it_put(s, "rs.bin", cr, hex, d + held, (size_t)(T - held), &r), 200);
  assert_string_equal(it_header(&r, "X-Content-SHA256", buf, sizeof buf), hex);
  it_resp_free(&r);
  free(d);
}

static void stop_mid_body_keeps_a_prefix(void **state)
{
  it_server *s = *state;
  enum { T = 100 * 1000, SENT = 30000 };
  unsigned char *d = malloc(T);
  assert_non_null(d);
  it_fill(d, T, 5);
  char hex[65], cr[64], buf[256];
  it_sha256_hex(d, T, hex);
  snprintf(cr, sizeof cr, "bytes 0-%d/%d", T - 1, T);
  int fd = send_put_headers(s->port, "stop.bin", cr, hex, T, 1);
  assert_int_equal(it_raw_read_response(fd, buf, sizeof buf, 10000), 100);
  it_raw_send(fd, d, SENT);
  it_server_restart(s); /* the open upload is cut off by the stop, not by the client */
  close(fd);
  it_resp r;
  long long held = 0;
  if (it_head(s, "stop.bin", &r) == 200)
    held = it_header_num(&r, "X-File-Size");
  it_resp_free(&r);
  assert_true(held >= 0 && held <= SENT);
  snprintf(cr, sizeof cr, "bytes %lld-%d/%d", held, T - 1, T);
  assert_int_equal(it_put(s, "stop.bin", cr, hex, d + held, (size_t)(T - held), NULL), 200);
  free(d);
}

typedef struct captured {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char lines[4096];
} captured;

static void capture(void *user, const char *line)
{
  captured *c = user;
  pthread_mutex_lock(&c->mu);
  strncat(c->lines, line, sizeof c->lines - strlen(c->lines) - 2);
  strcat(c->lines, "\n");
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void access_log_names_method_key_status_and_bytes(void **state)
{
  it_server *s = *state;
  static captured c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, ""};
  s->log = capture;
  s->log_user = &c;
  it_server_restart(s);
  unsigned char d[100];
  it_fill(d, sizeof d, 6);
  assert_int_equal(it_put(s, "logged.bin", "bytes 0-99/300", NULL, d, sizeof d, NULL), 308);
  /* The line is written when MHD completes the request, maybe after curl returned. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&c.mu);
  while (strstr(c.lines, "logged.bin") == NULL)
    if (pthread_cond_timedwait(&c.cv, &c.mu, &until) != 0)
      break;
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", c.lines);
  pthread_mutex_unlock(&c.mu);
  assert_non_null(strstr(copy, "PUT \"logged.bin\" 308 100"));
  it_server_stop(s); /* no more log lines into `c` */
  s->log = NULL;
  it_server_start(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(cut_connection_keeps_the_bytes_that_arrived),
      T(concurrent_puts_never_interleave),
      T(restart_resumes_from_head),
      T(stop_mid_body_keeps_a_prefix),
      /* last: the in-process host's access-log callback, which the conformance kit's hosts
       * (processes with logs of their own) do not have; not run there */
      T(access_log_names_method_key_status_and_bytes),
  };
  size_t n = sizeof tests / sizeof tests[0] - (kit_active() ? 1 : 0);
  int rc = _cmocka_run_group_tests("concurrency_restart", tests, n, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
