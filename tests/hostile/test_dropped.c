/* Dropped uploads free their connection slots at once, in both connection modes (issue 10,
 * item 1). A drop is a client that sends the headers and part of the body and then its last
 * bytes and its FIN together (TCP_CORK holds them back so they leave in one segment): in
 * libmicrohttpd's edge-triggered epoll mode that FIN used to go unnoticed, the socket stayed in
 * CLOSE-WAIT until the idle timeout, and a few such drops filled every slot. */
#include "hostile.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { DEADLINE_MS = 10000, SLOTS = 4, DROPS = 40, DECLARED = 100000, PART = 3000 };

static int teardown(void **state)
{
  hs_free(*state);
  return 0;
}

/* Hold back what is sent until uncorked (or closed): the bytes and the FIN leave together. */
static void cork(int fd)
{
  int on = 1;
  assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on), 0);
}

/* Whether "HTTP/1.1 100 Continue" arrived by `deadline` (rather than a close, or nothing: every
 * slot taken). */
static int got_continue(int fd, long long deadline)
{
  char buf[64];
  size_t got = 0;
  while (got < 25 && hs_now_ms() < deadline) { /* "HTTP/1.1 100 Continue\r\n\r\n" */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)(deadline - hs_now_ms())) <= 0)
      break;
    ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  buf[got] = '\0';
  return strncmp(buf, "HTTP/1.1 100", 12) == 0;
}

/* One dropped upload of `key`. With `handshake`, the client waits for "100 Continue" (the
 * server read the headers), sends part of the body, then the rest of its part and the FIN
 * together; without, headers, part of the body and the FIN all arrive at once. A drop refused
 * because every slot is taken (the server closes at once, or leaves it waiting past
 * `deadline`) is not an error. */
static void drop(uint16_t port, const char *key, int handshake, long long deadline)
{
  int fd = hs_connect(port, NULL);
  if (fd < 0)
    return;
  char req[512];
  int n =
      snprintf(req, sizeof req,
               "PUT " IT_PREFIX "%s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
               "Content-Range: bytes 0-%d/%d\r\n%s\r\n",
               key, DECLARED, DECLARED - 1, DECLARED, handshake ? "Expect: 100-continue\r\n" : "");
  assert_true(n > 0 && (size_t)n < sizeof req);
  static char body[PART];
  memset(body, 'd', sizeof body);
  if (!handshake)
    cork(fd);
  if (hs_send(fd, req, (size_t)n) == 0 && handshake) {
    if (got_continue(fd, deadline) && hs_send(fd, body, PART / 2) == 0) {
      cork(fd);
      hs_send(fd, body, PART - PART / 2);
    }
  } else if (!handshake) {
    hs_send(fd, body, PART);
  }
  close(fd); /* with unsent corked bytes: they go out, then the FIN, in one segment */
}

/* A HEAD answered within the deadline, retried while the server refuses the connection (all
 * slots taken); the ms it took, or -1 if it never was. Each try waits for an answer or a close;
 * no sleeping. */
static long long head_answered_ms(uint16_t port, int *status)
{
  static const char head[] = "HEAD " IT_PREFIX "probe HTTP/1.1\r\nHost: t\r\n\r\n";
  long long t0 = hs_now_ms();
  while (hs_now_ms() - t0 < DEADLINE_MS) {
    int fd = hs_connect(port, NULL);
    if (fd < 0)
      continue;
    hs_result r;
    hs_roundtrip(fd, head, sizeof head - 1, 0, 2000, &r);
    close(fd);
    if (r.status != 0) {
      *status = r.status;
      return hs_now_ms() - t0;
    }
  }
  return -1;
}

static void drops_free_their_slots(unsigned threads, void **state)
{
  /* the idle timeout (60 s) is far beyond the deadline: only noticing the FIN frees a slot */
  mhd_host_config cfg = {
      .threads = threads, .max_connections = SLOTS, .timeout_s = 60, .body_min_rate = 0};
  hs_server *s = hs_new(&cfg);
  *state = s;
  long long t0 = hs_now_ms();
  for (int i = 0; i < DROPS && hs_now_ms() - t0 < DEADLINE_MS; i++) {
    char key[32];
    snprintf(key, sizeof key, "drop%d.bin", i);
    long long wait = hs_now_ms() + 1000; /* an answer comes at once, or the slots are full */
    drop(s->it.port, key, i % 2, wait);
  }
  long long dropping = hs_now_ms() - t0;
  int status = 0;
  long long took = head_answered_ms(s->it.port, &status);
  print_message("# %s: %d drops in %lld ms, then a HEAD answered after %lld ms\n",
                threads ? "epoll pool" : "thread per connection", DROPS, dropping, took);
  if (took < 0)
    fail_msg("after %d dropped uploads no slot was free for %d ms (%d slots)", DROPS, DEADLINE_MS,
             SLOTS);
  assert_int_equal(status, 404);
  assert_true(hs_log_has(s, "dropped"));
}

static void dropped_uploads_free_their_slots_in_an_epoll_pool(void **state)
{
  drops_free_their_slots(2, state);
}

static void dropped_uploads_free_their_slots_with_a_thread_per_connection(void **state)
{
  drops_free_their_slots(0, state);
}

/* Passing the FIN on must not cost a client its answer: one that sends a whole request and
 * shuts its sending side at once (the FIN in the request's last segment) still gets the reply. */
static void half_closed_request_is_still_answered(unsigned threads, void **state)
{
  mhd_host_config cfg = {.threads = threads, .timeout_s = 60};
  hs_server *s = hs_new(&cfg);
  *state = s;
  static const char put[] = "PUT " IT_PREFIX "half.bin HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: 5\r\nContent-Range: bytes 0-4/5\r\n\r\nhello";
  int fd = hs_connect(s->it.port, NULL);
  assert_true(fd >= 0);
  cork(fd);
  assert_int_equal(hs_send(fd, put, sizeof put - 1), 0);
  assert_int_equal(shutdown(fd, SHUT_WR), 0);
  hs_result r;
  hs_roundtrip(fd, "", 0, 0, DEADLINE_MS, &r);
  close(fd);
  if (r.status != 200)
    fail_msg("half-closed PUT: status %d (%s)", r.status, r.head);
  assert_int_equal(hs_head(s->it.port, "half.bin"), 200);
}

static void half_closed_request_is_still_answered_in_an_epoll_pool(void **state)
{
  half_closed_request_is_still_answered(2, state);
}

static void half_closed_request_is_still_answered_with_a_thread_per_connection(void **state)
{
  half_closed_request_is_still_answered(0, state);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(dropped_uploads_free_their_slots_in_an_epoll_pool),
      T(dropped_uploads_free_their_slots_with_a_thread_per_connection),
      T(half_closed_request_is_still_answered_in_an_epoll_pool),
      T(half_closed_request_is_still_answered_with_a_thread_per_connection),
  };
  int rc = cmocka_run_group_tests_name("hostile_dropped", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
