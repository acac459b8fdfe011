/* Slow and idle clients against the real host: idle timeout, minimum body rate, connection
 * caps, and 200 idle connections beside a real upload (thread per connection and epoll pool).
 * Timeouts use 1 s settings and wait for the server's close with poll() and a deadline. */
#include "hostile.h"
#include "test_proc.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { DEADLINE_MS = 15000 };

static int teardown(void **state)
{
  hs_free(*state);
  return 0;
}

static void idle_connection_is_closed_after_the_idle_timeout(void **state)
{
  mhd_host_config cfg = {.timeout_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  int fd = hs_connect(s->it.port, NULL);
  assert_true(fd >= 0);
  long long t0 = hs_now_ms();
  assert_true(hs_wait_closed(fd, DEADLINE_MS));
  long long waited = hs_now_ms() - t0;
  close(fd);
  print_message("# idle connection closed after %lld ms (idle timeout 1 s)\n", waited);
  assert_true(waited >= 500); /* the timeout closed it, not a refusal */
  assert_int_equal(hs_head(s->it.port, "x"), 404);
}

static void unfinished_headers_are_closed_after_the_idle_timeout(void **state)
{
  mhd_host_config cfg = {.timeout_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  char *before = hs_snapshot(s->it.parent);
  int fd = hs_connect(s->it.port, NULL);
  static const char part[] = "PUT " IT_PREFIX "h.bin HTTP/1.1\r\nHost: t\r\nContent-Len";
  hs_result r;
  hs_roundtrip(fd, part, sizeof part - 1, 1, DEADLINE_MS, &r);
  close(fd);
  assert_true(r.closed);
  assert_int_equal(r.status, 0);
  char *after = hs_snapshot(s->it.parent);
  assert_string_equal(before, after);
  free(before);
  free(after);
}

/* A chunk PUT whose body stops after `sent` of 100 bytes: the idle timeout ends it, and the
 * bytes that arrived are kept. */
static void stalled_chunk_is_closed_and_keeps_its_bytes(void **state)
{
  mhd_host_config cfg = {.timeout_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  char req[512];
  int n = snprintf(req, sizeof req,
                   "PUT " IT_PREFIX "stall.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n"
                   "Content-Range: bytes 0-99/100\r\n\r\n");
  memset(req + n, 'a', 40);
  int fd = hs_connect(s->it.port, NULL);
  hs_result r;
  hs_roundtrip(fd, req, (size_t)n + 40, 1, DEADLINE_MS, &r);
  close(fd);
  assert_true(r.closed);
  assert_true(r.status == 0 || r.status >= 400);
  it_resp head;
  assert_int_equal(it_head(&s->it, "stall.bin", &head), 200);
  assert_int_equal(it_header_num(&head, "X-File-Size"), 40);
  it_resp_free(&head);
  assert_true(hs_log_has(s, "PUT \"stall.bin\" 400 40 dropped"));
}

/* Send `req`, then one byte of body at a time, each after waiting up to `gap_ms` for the
 * server to close. Returns the body bytes sent once the server closed (fails at the deadline). */
static size_t trickle(hs_server *s, const char *req, size_t body_len, int gap_ms)
{
  int fd = hs_connect(s->it.port, NULL);
  hs_result r;
  assert_int_equal(hs_send(fd, req, strlen(req)), 0);
  size_t sent = 0;
  long long deadline = hs_now_ms() + DEADLINE_MS;
  int closed = 0;
  while (!closed && sent < body_len && hs_now_ms() < deadline) {
    hs_roundtrip(fd, "b", 1, 1, gap_ms, &r);
    sent++;
    closed = r.closed;
  }
  close(fd);
  if (!closed)
    fail_msg("the server did not cut a trickled body (%zu bytes sent)", sent);
  return sent;
}

static void trickled_chunk_is_cut_by_the_rate_check_and_keeps_its_bytes(void **state)
{
  /* idle timeout far away: only the rate check (1 KiB/s over 1 s) can cut this body */
  mhd_host_config cfg = {.timeout_s = 60, .body_min_rate = 1024, .body_window_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  long long t0 = hs_now_ms();
  size_t sent = trickle(s,
                        "PUT " IT_PREFIX "slow.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n"
                        "Content-Range: bytes 0-999/1000\r\n\r\n",
                        1000, 100);
  print_message("# trickled body cut after %lld ms, %zu bytes sent\n", hs_now_ms() - t0, sent);
  it_resp head;
  assert_int_equal(it_head(&s->it, "slow.bin", &head), 200);
  long long held = it_header_num(&head, "X-File-Size");
  it_resp_free(&head);
  assert_true(held >= 1 && held <= (long long)sent);
  assert_true(hs_log_has(s, "PUT \"slow.bin\""));
  assert_true(hs_log_has(s, " dropped"));
}

static void trickled_chunked_upload_is_cut_and_never_committed(void **state)
{
  mhd_host_config cfg = {.timeout_s = 60, .body_min_rate = 1024, .body_window_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  char *before = hs_snapshot(s->it.parent);
  /* a chunked whole-file PUT: "1\r\nb\r\n" repeated would be proper; one chunk of 1000 bytes
   * declared, sent a byte at a time, is what a trickle looks like on the wire */
  (void)trickle(s,
                "PUT " IT_PREFIX "chunked.bin HTTP/1.1\r\nHost: t\r\n"
                "Transfer-Encoding: chunked\r\n\r\n3e8\r\n",
                1000, 100);
  assert_int_equal(hs_head(s->it.port, "chunked.bin"), 404);
  char *after = hs_snapshot(s->it.parent);
  assert_string_equal(before, after); /* nothing committed, no staging file left */
  free(before);
  free(after);
}

/* After an early reply the body is drained to its end, but a trickle is still cut: the drain
 * is bounded by the same rate check as any body (and nothing is written meanwhile). */
static void trickled_body_after_an_early_reply_is_cut_by_the_rate_check(void **state)
{
  /* idle timeout and linger far away: only the rate check can cut this body */
  mhd_host_config cfg = {
      .timeout_s = 60, .linger_ms = 60000, .body_min_rate = 1024, .body_window_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  char *before = hs_snapshot(s->it.parent);
  /* 416 from the headers: nothing is held, the chunk starts at 100 */
  (void)trickle(s,
                "PUT " IT_PREFIX "late.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n"
                "Content-Range: bytes 100-1099/2000\r\n\r\n",
                1000, 100);
  char *after = hs_snapshot(s->it.parent);
  assert_string_equal(before, after);
  free(before);
  free(after);
  assert_true(hs_log_has(s, "PUT \"late.bin\" 416 0 dropped"));
}

static void a_fast_body_passes_the_rate_check(void **state)
{
  mhd_host_config cfg = {.body_min_rate = 64 * 1024, .body_window_s = 1};
  hs_server *s = hs_new(&cfg);
  *state = s;
  size_t len = 4u << 20;
  char *data = malloc(len);
  assert_non_null(data);
  it_fill(data, len, 7);
  assert_int_equal(it_put(&s->it, "fast.bin", NULL, NULL, data, len, NULL), 200);
  free(data);
}

/* `n` keep-alive connections that each did one HEAD and now sit idle (all connected and sent
 * first, then all answers read, so the server's threads start in parallel). */
static int *open_idle(hs_server *s, size_t n, const char *src)
{
  int *fds = calloc(n, sizeof *fds);
  assert_non_null(fds);
  static const char head[] = "HEAD " IT_PREFIX "idle HTTP/1.1\r\nHost: t\r\n\r\n";
  for (size_t i = 0; i < n; i++) {
    fds[i] = hs_connect(s->it.port, src);
    assert_true(fds[i] >= 0);
    assert_int_equal(hs_send(fds[i], head, sizeof head - 1), 0);
  }
  for (size_t i = 0; i < n; i++) {
    hs_result r;
    hs_read_head_reply(fds[i], DEADLINE_MS, &r);
    if (r.status != 404)
      fail_msg("idle connection %zu: status %d", i, r.status);
  }
  return fds;
}

static void close_all(int *fds, size_t n)
{
  for (size_t i = 0; i < n; i++)
    close(fds[i]);
  free(fds);
}

/* None of the connections was closed by the server. */
static void assert_all_open(int *fds, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    hs_result r;
    hs_roundtrip(fds[i], "", 0, 1, 0, &r);
    if (r.closed)
      fail_msg("idle connection %zu was closed", i);
  }
}

static void upload_beside_idle_connections(unsigned threads, void **state)
{
  mhd_host_config cfg = {.threads = threads, .body_min_rate = 500, .body_window_s = 60};
  hs_server *s = hs_new(&cfg);
  *state = s;
  long threads0 = hs_threads(), rss0 = hs_rss_kib();
  int *idle = open_idle(s, 200, NULL);
  long threads1 = hs_threads(), rss1 = hs_rss_kib();
  size_t len = 16u << 20;
  char *data = malloc(len);
  assert_non_null(data);
  it_fill(data, len, 9);
  char hex[65], range[64];
  it_sha256_hex(data, len, hex);
  snprintf(range, sizeof range, "bytes 0-%zu/%zu", len - 1, len);
  long long t0 = hs_now_ms();
  assert_int_equal(it_put(&s->it, "real.bin", range, hex, data, len, NULL), 200);
  long long took = hs_now_ms() - t0;
  free(data);
  assert_all_open(idle, 200);
  print_message("# %s: 200 idle connections cost %ld threads and %ld KiB RSS; a 16 MiB "
                "upload beside them took %lld ms\n",
                threads ? "epoll pool of 4" : "thread per connection", threads1 - threads0,
                rss1 - rss0, took);
  close_all(idle, 200);
  assert_true(took < 10000); /* promptly: the idle ones hold no lock and no worker */
}

static void two_hundred_idle_connections_do_not_stop_an_upload(void **state)
{
  upload_beside_idle_connections(0, state);
}

static void two_hundred_idle_connections_do_not_stop_an_upload_in_a_pool(void **state)
{
  upload_beside_idle_connections(4, state);
}

/* A HEAD that may have to wait for a freed slot: retried on a refused or closed connection
 * until the deadline (each try waits for the server's answer or close, no sleeping). */
static int head_when_free(hs_server *s, const char *src)
{
  static const char head[] = "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n\r\n";
  long long deadline = hs_now_ms() + DEADLINE_MS;
  while (hs_now_ms() < deadline) {
    int fd = hs_connect(s->it.port, src);
    if (fd < 0)
      continue;
    hs_result r;
    hs_roundtrip(fd, head, sizeof head - 1, 0, 5000, &r);
    close(fd);
    if (r.status != 0)
      return r.status;
  }
  return 0;
}

static void connections_over_the_cap_are_closed_at_once(void **state)
{
  mhd_host_config cfg = {.max_connections = 8};
  hs_server *s = hs_new(&cfg);
  *state = s;
  int *idle = open_idle(s, 8, NULL);
  int fd = hs_connect(s->it.port, NULL);
  static const char head[] = "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n\r\n";
  hs_result r;
  hs_roundtrip(fd, head, sizeof head - 1, 1, DEADLINE_MS, &r);
  close(fd);
  assert_true(r.closed);
  assert_int_equal(r.status, 0);
  assert_all_open(idle, 8);
  close(idle[0]);
  idle[0] = -1;
  assert_int_equal(head_when_free(s, NULL), 404); /* a freed slot is usable again */
  close_all(idle, 8);
}

static void per_address_cap_spares_other_addresses(void **state)
{
  mhd_host_config cfg = {.max_per_ip = 4};
  hs_server *s = hs_new(&cfg);
  *state = s;
  int *idle = open_idle(s, 4, "127.0.0.1");
  int fd = hs_connect(s->it.port, "127.0.0.1");
  static const char head[] = "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n\r\n";
  hs_result r;
  hs_roundtrip(fd, head, sizeof head - 1, 1, DEADLINE_MS, &r);
  close(fd);
  assert_true(r.closed);
  assert_int_equal(r.status, 0);
  assert_int_equal(head_when_free(s, "127.0.0.2"), 404);
  close_all(idle, 4);
}

static void huge_header_is_431_and_the_server_keeps_answering(void **state)
{
  hs_server *s = hs_new(NULL); /* the default 256 KiB connection memory */
  *state = s;
  size_t big = 1u << 20;
  static const char start[] = "GET " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\nX-Big: ";
  char *req = malloc(sizeof start + big + 8);
  assert_non_null(req);
  memcpy(req, start, sizeof start - 1);
  memset(req + sizeof start - 1, 'a', big);
  memcpy(req + sizeof start - 1 + big, "\r\n\r\n", 4);
  hs_result r;
  hs_raw(s->it.port, req, sizeof start - 1 + big + 4, DEADLINE_MS, &r);
  free(req);
  if (r.status != 431)
    fail_msg("huge header: status %d (%s)", r.status, r.head);
  assert_int_equal(hs_head(s->it.port, "x"), 404);
}

static void a_64_kib_header_is_accepted_under_a_raised_limit(void **state)
{
  mhd_host_config cfg = {.max_header_size = 96 * 1024}; /* the default is 16 KiB */
  hs_server *s = hs_new(&cfg);
  *state = s;
  size_t big = 64u << 10;
  static const char start[] = "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\nX-Big: ";
  char *req = malloc(sizeof start + big + 8);
  assert_non_null(req);
  memcpy(req, start, sizeof start - 1);
  memset(req + sizeof start - 1, 'a', big);
  memcpy(req + sizeof start - 1 + big, "\r\n\r\n", 4);
  hs_result r;
  hs_raw(s->it.port, req, sizeof start - 1 + big + 4, DEADLINE_MS, &r);
  free(req);
  assert_int_equal(r.status, 404);
}

static void many_headers_are_431(void **state)
{
  hs_server *s = hs_new(NULL);
  *state = s;
  size_t n = 100000, cap = n * 32 + 256, len = 0;
  char *req = malloc(cap);
  assert_non_null(req);
  len += (size_t)snprintf(req, cap, "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(req + len, cap - len, "X-H%zu: %zu\r\n", i, i);
  len += (size_t)snprintf(req + len, cap - len, "\r\n");
  hs_result r;
  hs_raw(s->it.port, req, len, DEADLINE_MS, &r);
  free(req);
  if (r.status != 431)
    fail_msg("many headers: status %d (%s)", r.status, r.head);
  assert_int_equal(hs_head(s->it.port, "x"), 404);
}

/* ---- the flags of resumable-serve (argv[1]) ---- */

static const char *tool_path;

typedef test_child tool;

static void tool_spawn(tool *t, const char *const *args)
{
  assert_int_equal(test_spawn(t, tool_path, args), 0);
}

/* Everything on fd until EOF (or the deadline) into buf. */
static void read_all(int fd, char *buf, size_t cap)
{
  size_t len = 0;
  long long deadline = hs_now_ms() + DEADLINE_MS;
  buf[0] = '\0';
  while (len + 1 < cap) {
    long long left = deadline - hs_now_ms();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (left <= 0 || poll(&p, 1, (int)left) <= 0)
      break;
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
  }
}

static int tool_wait(tool *t)
{
  int rc = test_reap(t);
  assert_true(rc >= 0);
  return rc;
}

static void serve_help_documents_the_limits_and_refuses_bad_values(void **state)
{
  (void)state;
  char out[16384];
  tool t;
  const char *help[] = {"--help", NULL};
  tool_spawn(&t, help);
  read_all(t.out, out, sizeof out);
  assert_int_equal(tool_wait(&t), 0);
  static const char *const flags[] = {
      "--idle-timeout",           "--body-timeout",      "--min-body-rate",  "--max-connections",
      "--max-connections-per-ip", "--connection-memory", "--threads",        "--partial-ttl",
      "--hash-threads",           "--header-timeout",    "--max-header-size"};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (strstr(out, flags[i]) == NULL)
      fail_msg("--help does not mention %s", flags[i]);
  static const char *const bad[][3] = {
      {"--idle-timeout", "0", NULL},       {"--body-timeout", "0", NULL},
      {"--min-body-rate", "1X", NULL},     {"--max-connections", "0", NULL},
      {"--threads", "2000", NULL},         {"--partial-ttl", "-1", NULL},
      {"--connection-memory", "1K", NULL}, {"--max-connections-per-ip", NULL, NULL},
      {"--hash-threads", "65", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tool_spawn(&t, bad[i]);
    read_all(t.err, out, sizeof out);
    if (tool_wait(&t) != 2)
      fail_msg("%s %s: exit status is not 2", bad[i][0], bad[i][1] ? bad[i][1] : "");
  }
}

static void serve_flags_reach_the_host(void **state)
{
  (void)state;
  char dir[] = "/tmp/rs-hostile-tool-XXXXXX", root[96], line[256];
  assert_non_null(mkdtemp(dir));
  snprintf(root, sizeof root, "%s/root", dir);
  const char *args[] = {"--port", "0", "--root", root, "--idle-timeout", "1", "--max-connections",
                        "2",      NULL};
  tool t;
  tool_spawn(&t, args);
  size_t len = 0;
  line[0] = '\0';
  while (strchr(line, '\n') == NULL && len + 1 < sizeof line) {
    struct pollfd p = {.fd = t.out, .events = POLLIN};
    if (poll(&p, 1, DEADLINE_MS) <= 0 || read(t.out, line + len, 1) != 1)
      break;
    line[++len] = '\0';
  }
  const char *colon = strrchr(line, ':');
  assert_non_null(colon);
  uint16_t port = (uint16_t)atoi(colon + 1);
  int a = hs_connect(port, NULL), b = hs_connect(port, NULL);
  static const char head[] = "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n\r\n";
  hs_result r;
  hs_roundtrip(a, head, sizeof head - 1, 0, DEADLINE_MS, &r);
  assert_int_equal(r.status, 404);
  hs_roundtrip(b, head, sizeof head - 1, 0, DEADLINE_MS, &r);
  assert_int_equal(r.status, 404);
  int c = hs_connect(port, NULL); /* a third one is over --max-connections */
  hs_roundtrip(c, head, sizeof head - 1, 1, DEADLINE_MS, &r);
  int third_closed = r.closed && r.status == 0;
  long long t0 = hs_now_ms();
  int idle_closed = hs_wait_closed(a, DEADLINE_MS); /* --idle-timeout 1 */
  long long waited = hs_now_ms() - t0;
  close(a);
  close(b);
  close(c);
  kill(t.pid, SIGTERM);
  assert_int_equal(tool_wait(&t), 0);
  it_rm_rf(dir);
  assert_true(third_closed);
  assert_true(idle_closed);
  assert_true(waited < 5000);
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
      T(idle_connection_is_closed_after_the_idle_timeout),
      T(unfinished_headers_are_closed_after_the_idle_timeout),
      T(stalled_chunk_is_closed_and_keeps_its_bytes),
      T(trickled_chunk_is_cut_by_the_rate_check_and_keeps_its_bytes),
      T(trickled_chunked_upload_is_cut_and_never_committed),
      T(trickled_body_after_an_early_reply_is_cut_by_the_rate_check),
      T(a_fast_body_passes_the_rate_check),
      T(two_hundred_idle_connections_do_not_stop_an_upload),
      T(two_hundred_idle_connections_do_not_stop_an_upload_in_a_pool),
      T(connections_over_the_cap_are_closed_at_once),
      T(per_address_cap_spares_other_addresses),
      T(huge_header_is_431_and_the_server_keeps_answering),
      T(a_64_kib_header_is_accepted_under_a_raised_limit),
      T(many_headers_are_431),
      cmocka_unit_test(serve_help_documents_the_limits_and_refuses_bad_values),
      cmocka_unit_test(serve_flags_reach_the_host),
  };
  int rc = cmocka_run_group_tests_name("hostile_slow_clients", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
