/* A superseded upload whose client stalled (issue 10, item 7): a newer request takes the key
 * over while the older one's client sends nothing; when that client sends again, its request
 * must end promptly (423, or the connection closed, within a few seconds), not be drained until
 * its body ends or the idle timeout (60 s here, and no minimum body rate). */
#include "hostile.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TOTAL = 4 << 20, PART = 64 * 1024, NEWER = 1024, DEADLINE_MS = 10000, PROMPT_MS = 5000 };

static int teardown(void **state)
{
  hs_free(*state);
  return 0;
}

/* Whether "HTTP/1.1 100 Continue" arrived on fd. */
static int got_continue(int fd)
{
  char buf[64];
  size_t got = 0;
  long long deadline = hs_now_ms() + DEADLINE_MS;
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

/* X-File-Size of the key, -1 if none. */
static long long held(hs_server *s, const char *key)
{
  it_resp r;
  long long n = it_head(&s->it, key, &r) == 200 ? it_header_num(&r, "X-File-Size") : -1;
  it_resp_free(&r);
  return n;
}

static void stalled_superseded_upload_ends_when_its_client_sends_again(unsigned threads,
                                                                       void **state)
{
  mhd_host_config cfg = {.threads = threads, .timeout_s = 60, .body_min_rate = 0};
  hs_server *s = hs_new(&cfg);
  *state = s;
  char *data = malloc(TOTAL);
  assert_non_null(data);
  it_fill(data, TOTAL, 11);
  /* The older upload: all of the file announced, 64 KiB sent, then its client stalls. */
  char req[512];
  int n = snprintf(req, sizeof req,
                   "PUT " IT_PREFIX "taken.bin HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                   "Content-Range: bytes 0-%d/%d\r\nExpect: 100-continue\r\n\r\n",
                   TOTAL, TOTAL - 1, TOTAL);
  int old = hs_connect(s->it.port, NULL);
  assert_true(old >= 0);
  assert_int_equal(hs_send(old, req, (size_t)n), 0);
  assert_true(got_continue(old));
  assert_int_equal(hs_send(old, data, PART), 0);
  long long t0 = hs_now_ms();
  while (held(s, "taken.bin") != PART && hs_now_ms() - t0 < DEADLINE_MS) {
  } /* the server has taken in all of it */
  assert_int_equal(held(s, "taken.bin"), PART);
  /* The newer request continues the upload and takes the key over. */
  char range[64];
  snprintf(range, sizeof range, "bytes %d-%d/%d", PART, PART + NEWER - 1, TOTAL);
  assert_int_equal(it_put(&s->it, "taken.bin", range, NULL, data + PART, NEWER, NULL), 308);
  /* The older client sends again. */
  long long t1 = hs_now_ms();
  hs_result r;
  hs_roundtrip(old, data + PART, PART, 1, PROMPT_MS, &r);
  long long took = hs_now_ms() - t1;
  close(old);
  print_message("# %s: the superseded upload ended %lld ms after its client sent again "
                "(status %d, closed %d)\n",
                threads ? "epoll pool" : "thread per connection", took, r.status, r.closed);
  if (!r.closed && r.status != 423)
    fail_msg("the superseded upload was still being read %d ms after its client sent again",
             PROMPT_MS);
  assert_true(r.status == 0 || r.status == 423);
  /* Its late bytes went nowhere: the key holds the older prefix and the newer chunk. */
  assert_int_equal(held(s, "taken.bin"), PART + NEWER);
  free(data);
}

static void stalled_superseded_upload_ends_with_a_thread_per_connection(void **state)
{
  stalled_superseded_upload_ends_when_its_client_sends_again(0, state);
}

static void stalled_superseded_upload_ends_in_an_epoll_pool(void **state)
{
  stalled_superseded_upload_ends_when_its_client_sends_again(2, state);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(stalled_superseded_upload_ends_with_a_thread_per_connection),
      T(stalled_superseded_upload_ends_in_an_epoll_pool),
  };
  int rc = cmocka_run_group_tests_name("hostile_superseded", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
