/* Out of file descriptors (issue 10, item 6): resumable-serve (argv[1]) runs in a child whose
 * RLIMIT_NOFILE is 64, with the default --max-connections 256. Idle keep-alive connections use
 * the descriptors up; then the server must say so at start, answer what it cannot serve with
 * 503 and Retry-After (a new connection, and an upload whose file cannot be opened), not burn a
 * core retrying accept(), log EMFILE as what it is, and serve again once descriptors free up. */
#include "hostile.h"
#include "test_proc.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NOFILE = 64, MAX_IDLE = 200, DEADLINE_MS = 10000, CPU_WINDOW_MS = 2000 };

static const char *tool_path;

typedef struct child_server {
  test_child t;
  uint16_t port;
  char dir[64];
  char err[65536]; /* its stderr, read at the end */
} child_server;

static void start(child_server *c, const char *threads)
{
  snprintf(c->dir, sizeof c->dir, "/tmp/rs-hostile-fd-XXXXXX");
  assert_non_null(mkdtemp(c->dir));
  char root[96];
  snprintf(root, sizeof root, "%s/root", c->dir);
  const char *args[] = {"--port", "0",         "--root", root, "--idle-timeout",
                        "60",     "--threads", threads,  NULL};
  assert_int_equal(test_spawn_nofile(&c->t, tool_path, args, NOFILE), 0);
  char line[256];
  size_t len = 0;
  line[0] = '\0';
  while (strchr(line, '\n') == NULL && len + 1 < sizeof line) {
    struct pollfd p = {.fd = c->t.out, .events = POLLIN};
    if (poll(&p, 1, DEADLINE_MS) <= 0 || read(c->t.out, line + len, 1) != 1)
      break;
    line[++len] = '\0';
  }
  const char *colon = strrchr(line, ':');
  assert_non_null(colon);
  c->port = (uint16_t)atoi(colon + 1);
}

/* Stop it and keep its stderr. */
static void stop(child_server *c)
{
  kill(c->t.pid, SIGTERM);
  size_t len = 0;
  for (;;) {
    struct pollfd p = {.fd = c->t.err, .events = POLLIN};
    if (len + 1 >= sizeof c->err || poll(&p, 1, DEADLINE_MS) <= 0)
      break;
    ssize_t n = read(c->t.err, c->err + len, sizeof c->err - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  c->err[len] = '\0';
  assert_int_equal(test_reap(&c->t), 0);
  it_rm_rf(c->dir);
}

/* CPU time (user + system) the child used so far, in ms. */
static long long cpu_ms(pid_t pid)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  assert_true(n > 0);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* fields after the command name */
  assert_non_null(p);
  unsigned long long utime = 0, stime = 0;
  /* ") state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime" */
  assert_int_equal(
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime), 2);
  return (long long)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

static int has_retry_after(const hs_result *r)
{
  return strstr(r->head, "Retry-After: ") != NULL;
}

static void out_of_descriptors(const char *threads)
{
  child_server c;
  start(&c, threads);
  static const char head[] = "HEAD " IT_PREFIX "x HTTP/1.1\r\nHost: t\r\n\r\n";
  int first = hs_connect(c.port, NULL);
  assert_true(first >= 0);
  hs_result r;
  hs_roundtrip(first, head, sizeof head - 1, 0, DEADLINE_MS, &r);
  assert_int_equal(r.status, 404);
  /* Kept-alive connections until one is closed or gets no answer at all: the server could not
   * accept it. Before that, HEADs whose store lookup found no descriptor get an answer too. */
  int idle[MAX_IDLE];
  size_t n_idle = 0;
  hs_result refused, other;
  memset(&other, 0, sizeof other);
  while (n_idle < MAX_IDLE) {
    int fd = hs_connect(c.port, NULL);
    assert_true(fd >= 0); /* the kernel's backlog accepts it whatever the server does */
    /* Every connection gets an answer (404, or 503 from the handler or from the guard's
     * reserve descriptor): the deadline is only for a loaded machine. */
    hs_roundtrip(fd, head, sizeof head - 1, 0, DEADLINE_MS, &refused);
    if (refused.status == 0 || refused.closed) {
      close(fd);
      break;
    }
    if (refused.status != 404 && (refused.status != 503 || !has_retry_after(&refused)))
      other = refused; /* an answer other than 404 or 503 + Retry-After */
    idle[n_idle++] = fd;
  }
  /* An upload on the first connection: its file cannot be opened. */
  static const char put[] = "PUT " IT_PREFIX "nofd.bin HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: 5\r\nContent-Range: bytes 0-4/5\r\n\r\nhello";
  hs_result upload;
  hs_roundtrip(first, put, sizeof put - 1, 0, DEADLINE_MS, &upload);
  /* One more connection waits while we watch the server's CPU time. */
  int waiting = hs_connect(c.port, NULL);
  assert_true(waiting >= 0);
  assert_int_equal(hs_send(waiting, head, sizeof head - 1), 0);
  long long cpu0 = cpu_ms(c.t.pid), t0 = hs_now_ms();
  struct pollfd none = {.fd = -1};
  poll(&none, 1, CPU_WINDOW_MS); /* a measuring window, not a synchronisation */
  long long cpu = cpu_ms(c.t.pid) - cpu0, wall = hs_now_ms() - t0;
  close(waiting);
  /* Free the descriptors: the server serves again (after its pause, within a second). */
  for (size_t i = 0; i < n_idle; i++)
    close(idle[i]);
  close(first);
  int again = 0;
  long long t1 = hs_now_ms();
  while (again != 200 && hs_now_ms() - t1 < DEADLINE_MS) {
    int fd = hs_connect(c.port, NULL);
    assert_true(fd >= 0);
    hs_roundtrip(fd, put, sizeof put - 1, 0, 2000, &r);
    close(fd);
    again = r.status;
  }
  stop(&c);
  print_message("# %s threads: %zu idle connections used the %d descriptors; then the server "
                "used %lld ms of CPU in %lld ms; a new connection got %d, an upload %d\n",
                threads, n_idle + 1, NOFILE, cpu, wall, refused.status, upload.status);
  if (strstr(c.err, "warning: --max-connections 256") == NULL)
    fail_msg("no warning at start about the descriptor limit:\n%.2000s", c.err);
  if (cpu * 4 > wall)
    fail_msg("the server spun while out of descriptors: %lld ms of CPU in %lld ms", cpu, wall);
  if (other.status != 0)
    fail_msg("a request while descriptors ran out: status %d (%s); the server said:\n%.3000s",
             other.status, other.head, c.err);
  if (refused.status != 503 || !has_retry_after(&refused))
    fail_msg("a connection beyond the descriptors (after %zu idle): status %d%s%s (%s); "
             "the server said:\n%.3000s",
             n_idle, refused.status, refused.closed ? ", closed" : "",
             refused.timed_out ? ", timed out" : "", refused.head, c.err);
  if (upload.status != 503 || !has_retry_after(&upload))
    fail_msg("an upload without a descriptor for its file: status %d (%s); the server "
             "said:\n%.3000s",
             upload.status, upload.head, c.err);
  if (again != 200)
    fail_msg("after the descriptors were freed: status %d; the server said:\n%.3000s", again,
             c.err);
  assert_non_null(strstr(c.err, "out of file descriptors"));
  assert_null(strstr(c.err, "storage I/O error"));
}

static void out_of_descriptors_with_a_thread_per_connection(void **state)
{
  (void)state;
  out_of_descriptors("0");
}

static void out_of_descriptors_in_an_epoll_pool(void **state)
{
  (void)state;
  out_of_descriptors("2");
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH-TO-resumable-serve\n", argv[0]);
    return 2;
  }
  tool_path = argv[1];
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(out_of_descriptors_with_a_thread_per_connection),
      cmocka_unit_test(out_of_descriptors_in_an_epoll_pool),
  };
  return cmocka_run_group_tests_name("hostile_out_of_fds", tests, NULL, NULL);
}
