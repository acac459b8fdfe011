/* Slow and large headers (issue 10, item 2): the whole header phase of a request has a
 * deadline however steadily its bytes trickle, the header section has a size limit (16 KiB by
 * default, 431 past it), and clients that trickle headers on every slot keep legitimate
 * requests out only until their deadline. The idle timeout is set far away (60 s) so that only
 * the header deadline can cut a trickle. */
#include "hostile.h"
#include "test_proc.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { DEADLINE_MS = 10000, GAP_MS = 100 };

static const char trickle_start[] = "GET " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\nX-Slow: ";

static int teardown(void **state)
{
  hs_free(*state);
  return 0;
}

/* Send one byte every GAP_MS on fd until the server closes it: the ms that took, or -1 at the
 * deadline. */
static long long trickle_until_closed(int fd)
{
  long long t0 = hs_now_ms();
  while (hs_now_ms() - t0 < DEADLINE_MS) {
    hs_result r;
    hs_roundtrip(fd, "a", 1, 1, GAP_MS, &r);
    if (r.closed)
      return hs_now_ms() - t0;
  }
  return -1;
}

static void trickled_headers_are_cut_at_the_header_timeout(unsigned threads, void **state)
{
  mhd_host_config cfg = {.threads = threads, .timeout_s = 60, .header_timeout_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  int fd = hs_connect(s->it.port, NULL);
  assert_true(fd >= 0);
  assert_int_equal(hs_send(fd, trickle_start, sizeof trickle_start - 1), 0);
  long long took = trickle_until_closed(fd);
  close(fd);
  print_message("# %s: a header trickle (a byte every %d ms) was cut after %lld ms\n",
                threads ? "epoll pool" : "thread per connection", GAP_MS, took);
  if (took < 0)
    fail_msg("a header trickle was still open after %d ms (header timeout 1 s)", DEADLINE_MS);
  assert_true(hs_log_has(s, "408"));
  assert_int_equal(hs_head(s->it.port, "x"), 404); /* the server goes on */
}

static void trickled_headers_are_cut_with_a_thread_per_connection(void **state)
{
  trickled_headers_are_cut_at_the_header_timeout(0, state);
}

static void trickled_headers_are_cut_in_an_epoll_pool(void **state)
{
  trickled_headers_are_cut_at_the_header_timeout(2, state);
}

/* Every slot held by a header trickler: a legitimate HEAD (retried while the server turns it
 * away) must be answered within the deadline, after the tricklers' header timeout. */
static void header_tricklers_on_every_slot_do_not_keep_requests_out(void **state)
{
  enum { SLOTS = 4 };
  mhd_host_config cfg = {.max_connections = SLOTS, .timeout_s = 60, .header_timeout_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  int fds[SLOTS];
  for (int i = 0; i < SLOTS; i++) {
    fds[i] = hs_connect(s->it.port, NULL);
    assert_true(fds[i] >= 0);
    assert_int_equal(hs_send(fds[i], trickle_start, sizeof trickle_start - 1), 0);
  }
  static const char head[] = "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n\r\n";
  long long t0 = hs_now_ms();
  int status = 0, tricklers_cut = 0;
  while (status == 0 && hs_now_ms() - t0 < DEADLINE_MS) {
    for (int i = 0; i < SLOTS; i++) { /* one more byte each; notice the ones closed */
      if (fds[i] < 0)
        continue;
      hs_result r;
      hs_roundtrip(fds[i], "a", 1, 1, GAP_MS / SLOTS, &r);
      if (r.closed) {
        close(fds[i]);
        fds[i] = -1;
        tricklers_cut++;
      }
    }
    int fd = hs_connect(s->it.port, NULL);
    if (fd < 0)
      continue;
    hs_result r;
    hs_roundtrip(fd, head, sizeof head - 1, 0, GAP_MS, &r);
    close(fd);
    status = r.status;
  }
  long long answered = hs_now_ms() - t0;
  /* A trickler may be cut after this loop looked at it and before the HEAD was answered: the
   * header deadline holds whether or not it still trickles, so every one of them closes. */
  for (int i = 0; i < SLOTS; i++)
    if (fds[i] >= 0) {
      tricklers_cut += hs_wait_closed(fds[i], DEADLINE_MS);
      close(fds[i]);
    }
  print_message("# %d header tricklers on %d slots: a HEAD was answered after %lld ms\n", SLOTS,
                SLOTS, answered);
  if (status == 0)
    fail_msg("no answer for %d ms while %d clients trickled headers", DEADLINE_MS, SLOTS);
  assert_int_equal(status, 404);
  assert_int_equal(tricklers_cut, SLOTS);
}

/* A request of `header_len` bytes in all (request line + header section), with one padding
 * header. */
static char *request_of(const char *method, size_t header_len, const char *extra, size_t *len)
{
  char *req = malloc(header_len + 1);
  assert_non_null(req);
  int n = snprintf(req, header_len + 1,
                   "%s " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n%sX-Pad: ", method, extra);
  assert_true(n > 0 && (size_t)n + 4 < header_len);
  memset(req + n, 'p', header_len - (size_t)n - 4);
  memcpy(req + header_len - 4, "\r\n\r\n", 4);
  *len = header_len;
  return req;
}

static int status_of_header(uint16_t port, const char *method, size_t header_len, const char *extra,
                            const char *body, int *closed)
{
  size_t len;
  char *req = request_of(method, header_len, extra, &len);
  size_t blen = body != NULL ? strlen(body) : 0;
  req = realloc(req, len + blen);
  assert_non_null(req);
  if (blen > 0)
    memcpy(req + len, body, blen);
  int fd = hs_connect(port, NULL);
  assert_true(fd >= 0);
  hs_result r;
  hs_roundtrip(fd, req, len + blen, 0, DEADLINE_MS, &r);
  if (closed != NULL)
    *closed = hs_wait_closed(fd, DEADLINE_MS);
  close(fd);
  free(req);
  return r.status;
}

static void header_section_over_16_kib_is_431_and_closed(void **state)
{
  hs_server *s = hs_new(NULL); /* defaults: 16 KiB */
  *state = s;
  int closed = 0;
  int st = status_of_header(s->it.port, "HEAD", 16 * 1024 + 1, "", NULL, &closed);
  if (st != 431)
    fail_msg("a 16 KiB + 1 header section: status %d", st);
  assert_true(closed);
  assert_true(hs_log_has(s, "HEAD \"\" 431"));
  /* with a body that is never read */
  st = status_of_header(s->it.port, "PUT", 20 * 1024, "Content-Length: 5\r\n", "hello", &closed);
  assert_int_equal(st, 431);
  assert_true(closed);
  assert_int_equal(status_of_header(s->it.port, "HEAD", 16 * 1024, "", NULL, NULL), 404);
  assert_int_equal(hs_head(s->it.port, "x"), 404);
}

static void header_size_limit_is_configurable(void **state)
{
  mhd_host_config cfg = {.max_header_size = 80 * 1024};
  hs_server *s = hs_new(&cfg);
  *state = s;
  assert_int_equal(status_of_header(s->it.port, "HEAD", 64 * 1024, "", NULL, NULL), 404);
  assert_int_equal(status_of_header(s->it.port, "HEAD", 80 * 1024 + 1, "", NULL, NULL), 431);
}

/* The deadline of a later request on a kept-alive connection starts with its first byte: an
 * idle kept-alive connection lives by the idle timeout, as before; but once the next request
 * starts, its headers must complete in time. */
static void kept_alive_connection_waits_but_its_next_headers_have_a_deadline(void **state)
{
  mhd_host_config cfg = {.timeout_s = 60, .header_timeout_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  static const char head[] = "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n\r\n";
  int fd = hs_connect(s->it.port, NULL);
  assert_true(fd >= 0);
  hs_result r;
  hs_roundtrip(fd, head, sizeof head - 1, 0, DEADLINE_MS, &r);
  assert_int_equal(r.status, 404);
  /* twice the header timeout without a byte: still open (the idle timeout is 60 s) */
  assert_false(hs_wait_closed(fd, 2500));
  hs_roundtrip(fd, head, sizeof head - 1, 0, DEADLINE_MS, &r);
  assert_int_equal(r.status, 404);
  assert_int_equal(hs_send(fd, trickle_start, sizeof trickle_start - 1), 0);
  long long took = trickle_until_closed(fd);
  close(fd);
  if (took < 0)
    fail_msg("the next request's header trickle was still open after %d ms", DEADLINE_MS);
}

/* ---- the flags of resumable-serve (argv[1]) ---- */

static const char *tool_path;

/* Start resumable-serve with `args` and read its port from the "listening on" line. */
static uint16_t serve_start(test_child *t, const char *const *args)
{
  uint16_t port = 0;
  assert_int_equal(test_serve_start(t, tool_path, args, &port), 0);
  return port;
}

static void serve_header_flags_reach_the_host(void **state)
{
  (void)state;
  char dir[] = "/tmp/rs-hostile-hdr-XXXXXX", root[96];
  assert_non_null(mkdtemp(dir));
  snprintf(root, sizeof root, "%s/root", dir);
  const char *args[] = {"--port", "0", "--root", root, "--header-timeout", "1", "--max-header-size",
                        "2K",     NULL};
  test_child t;
  uint16_t port = serve_start(&t, args);
  int st_big = status_of_header(port, "HEAD", 2049, "", NULL, NULL);
  int st_fits = status_of_header(port, "HEAD", 2048, "", NULL, NULL);
  int fd = hs_connect(port, NULL);
  assert_true(fd >= 0);
  assert_int_equal(hs_send(fd, trickle_start, sizeof trickle_start - 1), 0);
  long long took = trickle_until_closed(fd);
  close(fd);
  kill(t.pid, SIGTERM);
  assert_int_equal(test_reap(&t), 0);
  it_rm_rf(dir);
  assert_int_equal(st_big, 431);
  assert_int_equal(st_fits, 404);
  assert_true(took >= 0);
}

static int run_tool(const char *const *args, char *out, size_t cap)
{
  test_child t;
  assert_int_equal(test_spawn(&t, tool_path, args), 0);
  size_t len = 0;
  out[0] = '\0';
  for (;;) {
    struct pollfd p = {.fd = t.out, .events = POLLIN};
    if (len + 1 >= cap || poll(&p, 1, DEADLINE_MS) <= 0)
      break;
    ssize_t n = read(t.out, out + len, cap - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    out[len] = '\0';
  }
  return test_reap(&t);
}

static void serve_documents_and_checks_the_header_flags(void **state)
{
  (void)state;
  char out[16384];
  const char *help[] = {"--help", NULL};
  assert_int_equal(run_tool(help, out, sizeof out), 0);
  assert_non_null(strstr(out, "--header-timeout"));
  assert_non_null(strstr(out, "--max-header-size"));
  assert_non_null(strstr(out, "431"));
  static const char *const bad[][5] = {
      {"--header-timeout", "0", NULL},
      {"--header-timeout", "3601", NULL},
      {"--max-header-size", "100", NULL},
      {"--max-header-size", "200K", NULL}, /* over half of the default 256K memory */
      {"--max-header-size", "40K", "--connection-memory", "64K", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (run_tool(bad[i], out, sizeof out) != 2)
      fail_msg("%s %s: exit status is not 2", bad[i][0], bad[i][1]);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH-TO-resumable-serve\n", argv[0]);
    return 2;
  }
  tool_path = argv[1];
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(trickled_headers_are_cut_with_a_thread_per_connection),
      T(trickled_headers_are_cut_in_an_epoll_pool),
      T(header_tricklers_on_every_slot_do_not_keep_requests_out),
      T(header_section_over_16_kib_is_431_and_closed),
      T(header_size_limit_is_configurable),
      T(kept_alive_connection_waits_but_its_next_headers_have_a_deadline),
      cmocka_unit_test(serve_header_flags_reach_the_host),
      cmocka_unit_test(serve_documents_and_checks_the_header_flags),
  };
  int rc = cmocka_run_group_tests_name("hostile_slow_headers", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
