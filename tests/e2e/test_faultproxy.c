/* The fault proxy itself, against a tiny sink/echo server: the e2e tests rely on its counts and
 * cut points being exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "faultproxy.h"
#include "sink.h"

#define WAIT_MS 10000

struct fx {
  sink s;
  fp_proxy *p;
};

static int fx_setup(void **state, int echo)
{
  struct fx *f = calloc(1, sizeof *f);
  if (f == NULL || sink_start(&f->s, echo) != 0)
    return -1;
  if (fp_start(&f->p, "127.0.0.1", f->s.port) != 0)
    return -1;
  *state = f;
  return 0;
}
static int setup_sink(void **state)
{
  return fx_setup(state, 0);
}
static int setup_echo(void **state)
{
  return fx_setup(state, 1);
}

static int teardown(void **state)
{
  struct fx *f = *state;
  fp_stop(f->p);
  sink_stop(&f->s);
  free(f);
  return 0;
}

static char *pattern(size_t n)
{
  char *b = malloc(n);
  for (size_t i = 0; i < n; i++)
    b[i] = (char)(i * 7 + 3);
  return b;
}

/* Send `n` bytes on a new connection through the proxy, then close it. */
static void send_conn(struct fx *f, size_t n)
{
  char *b = pattern(n);
  int fd = tcp_connect_local(fp_port(f->p));
  assert_true(fd >= 0);
  tcp_send_all(fd, b, n);
  close(fd);
  free(b);
}

static void faultproxy_forwards_both_ways_and_counts_upstream(void **state)
{
  struct fx *f = *state;
  int fd = tcp_connect_local(fp_port(f->p));
  assert_true(fd >= 0);
  char *b = pattern(4096);
  char back[4096];
  for (int i = 0; i < 16; i++) {
    assert_int_equal(tcp_send_all(fd, b, sizeof back), sizeof back);
    assert_int_equal(tcp_recv_all(fd, back, sizeof back, WAIT_MS), sizeof back);
    assert_memory_equal(back, b, sizeof back);
  }
  close(fd);
  assert_int_equal(sink_wait_done(&f->s, 1, WAIT_MS), 0);
  assert_int_equal(f->s.got[0], 16 * 4096);
  assert_int_equal(fp_upstream_bytes(f->p), 16 * 4096);
  assert_int_equal(fp_accepted(f->p), 1);
  free(b);
}

static void faultproxy_cut_delivers_exactly_n_bytes_then_eof(void **state)
{
  struct fx *f = *state;
  fp_set_cut(f->p, 100000, 1);
  int fd = tcp_connect_local(fp_port(f->p));
  assert_true(fd >= 0);
  char *b = pattern(1 << 20);
  tcp_send_all(fd, b, 1 << 20);
  assert_int_equal(sink_wait_done(&f->s, 1, WAIT_MS), 0);
  assert_int_equal(f->s.got[0], 100000);
  assert_int_equal(fp_cuts(f->p), 1);
  char c;
  assert_true(tcp_recv_all(fd, &c, 1, WAIT_MS) == 0); /* the client side is gone too */
  close(fd);
  free(b);
}

static void faultproxy_cuts_every_n_bytes_k_times(void **state)
{
  struct fx *f = *state;
  fp_set_cut(f->p, 10000, 3);
  for (int i = 0; i < 4; i++) {
    send_conn(f, 25000);
    assert_int_equal(sink_wait_done(&f->s, (size_t)i + 1, WAIT_MS), 0);
  }
  assert_int_equal(f->s.got[0], 10000);
  assert_int_equal(f->s.got[1], 10000);
  assert_int_equal(f->s.got[2], 10000);
  assert_int_equal(f->s.got[3], 25000); /* the cuts ran out */
  assert_int_equal(fp_cuts(f->p), 3);
  assert_int_equal(fp_upstream_bytes(f->p), 55000);
}

/* A per-connection cap: each connection gets its own allowance, whatever came before. */
static void faultproxy_conn_cap_cuts_each_connection_after_n_of_its_own(void **state)
{
  struct fx *f = *state;
  fp_set_conn_cap(f->p, 10000);
  send_conn(f, 25000);
  assert_int_equal(sink_wait_done(&f->s, 1, WAIT_MS), 0);
  send_conn(f, 6000);
  assert_int_equal(sink_wait_done(&f->s, 2, WAIT_MS), 0);
  send_conn(f, 9000);
  assert_int_equal(sink_wait_done(&f->s, 3, WAIT_MS), 0);
  send_conn(f, 12000);
  assert_int_equal(sink_wait_done(&f->s, 4, WAIT_MS), 0);
  assert_int_equal(f->s.got[0], 10000);
  assert_int_equal(f->s.got[1], 6000); /* under the cap: untouched */
  assert_int_equal(f->s.got[2], 9000);
  assert_int_equal(f->s.got[3], 10000);
  assert_int_equal(fp_cuts(f->p), 2);
  assert_int_equal(fp_upstream_bytes(f->p), 35000);
}

static void faultproxy_stall_forwards_nothing_until_resumed(void **state)
{
  struct fx *f = *state;
  fp_set_stall(f->p, 1);
  int fd = tcp_connect_local(fp_port(f->p));
  assert_true(fd >= 0);
  char *b = pattern(5000);
  assert_int_equal(tcp_send_all(fd, b, 5000), 5000);
  /* A bounded wait that must time out: nothing moves while stalled. */
  assert_int_equal(fp_wait_upstream_bytes(f->p, 1, 300), -1);
  fp_set_stall(f->p, 0);
  assert_int_equal(fp_wait_upstream_bytes(f->p, 5000, WAIT_MS), 0);
  close(fd);
  assert_int_equal(sink_wait_done(&f->s, 1, WAIT_MS), 0);
  assert_int_equal(f->s.got[0], 5000);
  free(b);
}

static void faultproxy_stall_after_n_stops_at_exactly_n(void **state)
{
  struct fx *f = *state;
  fp_set_stall_after(f->p, 3000);
  int fd = tcp_connect_local(fp_port(f->p));
  assert_true(fd >= 0);
  char *b = pattern(8000);
  assert_int_equal(tcp_send_all(fd, b, 8000), 8000);
  assert_int_equal(fp_wait_stalled(f->p, WAIT_MS), 0);
  assert_int_equal(fp_wait_upstream_bytes(f->p, 3001, 300), -1);
  assert_int_equal(fp_upstream_bytes(f->p), 3000);
  fp_set_stall(f->p, 0);
  assert_int_equal(fp_wait_upstream_bytes(f->p, 8000, WAIT_MS), 0);
  close(fd);
  free(b);
}

static void faultproxy_stall_lets_a_giving_up_client_go(void **state)
{
  struct fx *f = *state;
  fp_set_stall(f->p, 1);
  int fd = tcp_connect_local(fp_port(f->p));
  assert_true(fd >= 0);
  assert_int_equal(fp_wait_accepted(f->p, 1, WAIT_MS), 0);
  close(fd);
  /* The proxy closes its upstream side, so the server sees the connection end mid-stall. */
  assert_int_equal(sink_wait_done(&f->s, 1, WAIT_MS), 0);
  assert_int_equal(f->s.got[0], 0);
}

static void faultproxy_throttle_limits_upstream_rate(void **state)
{
  struct fx *f = *state;
  fp_set_rate(f->p, 200000);
  double t0 = mono_now();
  send_conn(f, 100000);
  assert_int_equal(sink_wait_done(&f->s, 1, WAIT_MS), 0);
  double dt = mono_now() - t0;
  assert_int_equal(f->s.got[0], 100000);
  /* 100 kB at 200 kB/s with at most a 20 kB burst: at least 0.4 s. */
  assert_true(dt >= 0.35);
}

static void faultproxy_unreachable_upstream_resets_client(void **state)
{
  struct fx *f = *state;
  sink other;
  assert_int_equal(sink_start(&other, 0), 0);
  uint16_t dead = other.port;
  sink_stop(&other); /* its port is now closed */
  fp_set_upstream(f->p, "127.0.0.1", dead);
  int fd = tcp_connect_local(fp_port(f->p));
  assert_true(fd >= 0);
  char c;
  assert_int_equal(tcp_recv_all(fd, &c, 1, WAIT_MS), 0);
  close(fd);
}

static void faultproxy_repointed_upstream_takes_new_connections(void **state)
{
  struct fx *f = *state;
  sink other;
  assert_int_equal(sink_start(&other, 0), 0);
  fp_set_upstream(f->p, "127.0.0.1", other.port);
  send_conn(f, 1234);
  assert_int_equal(sink_wait_done(&other, 1, WAIT_MS), 0);
  assert_int_equal(other.got[0], 1234);
  assert_int_equal(f->s.done, 0);
  sink_stop(&other);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(faultproxy_forwards_both_ways_and_counts_upstream, setup_echo,
                                      teardown),
      cmocka_unit_test_setup_teardown(faultproxy_cut_delivers_exactly_n_bytes_then_eof, setup_sink,
                                      teardown),
      cmocka_unit_test_setup_teardown(faultproxy_cuts_every_n_bytes_k_times, setup_sink, teardown),
      cmocka_unit_test_setup_teardown(faultproxy_conn_cap_cuts_each_connection_after_n_of_its_own,
                                      setup_sink, teardown),
      cmocka_unit_test_setup_teardown(faultproxy_stall_forwards_nothing_until_resumed, setup_sink,
                                      teardown),
      cmocka_unit_test_setup_teardown(faultproxy_stall_after_n_stops_at_exactly_n, setup_sink,
                                      teardown),
      cmocka_unit_test_setup_teardown(faultproxy_stall_lets_a_giving_up_client_go, setup_sink,
                                      teardown),
      cmocka_unit_test_setup_teardown(faultproxy_throttle_limits_upstream_rate, setup_sink,
                                      teardown),
      cmocka_unit_test_setup_teardown(faultproxy_unreachable_upstream_resets_client, setup_sink,
                                      teardown),
      cmocka_unit_test_setup_teardown(faultproxy_repointed_upstream_takes_new_connections,
                                      setup_sink, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
