/* The resumable-serve executable: flags, the ready line, IPv6, the access log, clean stop.
 * argv[1] is the path of the built tool. */
#include "itest.h"
#include "test_proc.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *tool_path;
static pid_t live_child;   /* killed by the teardown if a test failed while it ran */
static char live_root[64]; /* removed by the teardown */

typedef test_child child;

static void spawn(child *c, const char *const *args)
{
  assert_int_equal(test_spawn(c, tool_path, args), 0);
  live_child = c->pid;
}

/* Everything `fd` gives until EOF, or until a newline when `one_line` (10 s deadline). */
static void read_fd(int fd, char *buf, size_t cap, int one_line)
{
  size_t len = 0;
  buf[0] = '\0';
  while (len + 1 < cap && !(one_line && strchr(buf, '\n') != NULL)) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 10000) <= 0)
      break;
    ssize_t n = read(fd, buf + len, one_line ? 1 : cap - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
  }
}

static int finish(child *c, char *err, size_t cap)
{
  read_fd(c->err, err, cap, 0);
  int rc = test_reap(c);
  live_child = 0;
  assert_true(rc >= 0);
  return rc;
}

static int run(const char *const *args, char *out, size_t cap)
{
  child c;
  char err[4096];
  spawn(&c, args);
  read_fd(c.out, out, cap, 0);
  return finish(&c, err, sizeof err);
}

static void help_documents_every_flag(void **state)
{
  (void)state;
  char out[8192];
  const char *args[] = {"--help", NULL};
  assert_int_equal(run(args, out, sizeof out), 0);
  static const char *const flags[] = {"--listen",
                                      "--port",
                                      "--root",
                                      "--prefix",
                                      "--max-size",
                                      "--token",
                                      "--expose-paths",
                                      "default",
                                      "LocalAI's client REQUIRES",
                                      "Expect: 100-continue"};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (strstr(out, flags[i]) == NULL)
      fail_msg("--help does not mention %s", flags[i]);
}

static void bad_values_are_usage_errors_with_exit_2(void **state)
{
  (void)state;
  static const char *const bad[][3] = {
      {"--max-size", "12X", NULL}, {"--max-size", "-1", NULL},
      {"--max-size", "", NULL},    {"--max-size", "99999999999T", NULL},
      {"--port", "70000", NULL},   {"--port", "8o", NULL},
      {"--bogus", NULL, NULL},     {"--port", NULL, NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char out[1024];
    if (run(bad[i], out, sizeof out) != 2)
      fail_msg("%s %s: exit status is not 2", bad[i][0], bad[i][1] ? bad[i][1] : "");
  }
}

/* Start the tool on `listen`, check the ready line, HEAD through it, SIGTERM, exit 0. */
static void serve_once(const char *listen, const char *url_host)
{
  char sub[96], line[256], err[8192];
  snprintf(live_root, sizeof live_root, "/tmp/rs-tool-XXXXXX");
  assert_non_null(mkdtemp(live_root));
  snprintf(sub, sizeof sub, "%s/store", live_root);
  const char *args[] = {"--listen", listen, "--port", "0", "--root", sub, "--max-size", "1M", NULL};
  child c;
  spawn(&c, args);
  read_fd(c.out, line, sizeof line, 1);
  unsigned port = 0;
  char want[128];
  assert_true(sscanf(strchr(line, ':') ? strrchr(line, ':') + 1 : "", "%u", &port) == 1);
  snprintf(want, sizeof want, "listening on http://%s:%u/\n", url_host, port);
  assert_string_equal(line, want);
  char url[160];
  snprintf(url, sizeof url, "http://%s:%u/v1/files/some/key", url_host, port);
  CURL *h = curl_easy_init();
  assert_non_null(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
  assert_int_equal(curl_easy_perform(h), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  assert_int_equal(status, 404);
  assert_int_equal(kill(c.pid, SIGTERM), 0);
  assert_int_equal(finish(&c, err, sizeof err), 0);
  assert_non_null(strstr(err, "HEAD \"some/key\" 404 0")); /* the access log line */
}

static void ready_line_then_clean_stop_on_sigterm(void **state)
{
  (void)state;
  serve_once("127.0.0.1", "127.0.0.1");
}

static void listens_on_ipv6_loopback(void **state)
{
  (void)state;
  serve_once("::1", "[::1]");
}

static int reap_child(void **state)
{
  (void)state;
  if (live_child > 0) {
    kill(live_child, SIGKILL);
    waitpid(live_child, NULL, 0);
    live_child = 0;
  }
  if (live_root[0] != '\0')
    it_rm_rf(live_root);
  live_root[0] = '\0';
  return 0;
}

#define T(f) cmocka_unit_test_teardown(f, reap_child)

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
      T(help_documents_every_flag),
      T(bad_values_are_usage_errors_with_exit_2),
      T(ready_line_then_clean_stop_on_sigterm),
      T(listens_on_ipv6_loopback),
  };
  int rc = cmocka_run_group_tests_name("serve_tool", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
