/* Malformed requests over raw sockets (the table is malformed_cases.h): each gets its 4xx (or,
 * where libmicrohttpd or the host refuses the framing, a close without any reply), leaves the
 * store exactly as it was (paths, sizes, file contents and mtimes, .resumable/ included), and
 * the server answers a normal HEAD afterwards. */
#include "hostile.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mcase {
  const char *name;
  const char *req;
  size_t len;
  int want;
} mcase;

#define C(n, r, w) {n, r, sizeof(r) - 1, w},
static const mcase cases[] = {
#include "malformed_cases.h"
};
#undef C

enum { TIMEOUT_MS = 10000 };

static unsigned char file[1000];

/* A store with a complete file and a bound partial, behind a host with short timeouts. */
static int setup(void **state)
{
  mhd_host_config cfg = {.timeout_s = 1, .linger_ms = 300};
  hs_server *s = calloc(1, sizeof *s);
  assert_non_null(s);
  assert_int_equal(pthread_mutex_init(&s->log.mu, NULL), 0);
  s->cfg = cfg;
  s->it.max_size = 1u << 20;
  hs_start(s);
  char hex[65];
  it_fill(file, sizeof file, 42);
  it_sha256_hex(file, sizeof file, hex);
  assert_int_equal(it_put(&s->it, "done.bin", NULL, hex, file, sizeof file, NULL), 200);
  assert_int_equal(it_put(&s->it, "part.bin", "bytes 0-499/1000", hex, file, 500, NULL), 308);
  *state = s;
  return 0;
}

static int teardown(void **state)
{
  hs_free(*state);
  return 0;
}

/* The two requests too big to write out: one 300 KiB header, 20000 small headers. */
static char *built(const char *name, size_t *len)
{
  size_t cap = 512 * 1024;
  char *r = malloc(cap);
  assert_non_null(r);
  size_t n = (size_t)snprintf(r, cap, "HEAD " IT_PREFIX "done.bin HTTP/1.1\r\nHost: t\r\n");
  if (strcmp(name, "header of 300 KiB") == 0) {
    n += (size_t)snprintf(r + n, cap - n, "X-Big: ");
    memset(r + n, 'a', 300 * 1024);
    n += 300 * 1024;
    n += (size_t)snprintf(r + n, cap - n, "\r\n");
  } else {
    for (int i = 0; i < 20000; i++)
      n += (size_t)snprintf(r + n, cap - n, "X-%d: %d\r\n", i, i);
  }
  n += (size_t)snprintf(r + n, cap - n, "\r\n");
  *len = n;
  return r;
}

static const char *describe(int status, char *buf, size_t cap)
{
  if (status == 0)
    snprintf(buf, cap, "closed without a reply");
  else
    snprintf(buf, cap, "%d", status);
  return buf;
}

/* Runs case c; returns 0 or writes why it failed into why. */
static int run_case(hs_server *s, const mcase *c, const char *before, char *why, size_t cap)
{
  size_t len = c->len;
  char *own = c->len == 0 ? built(c->name, &len) : NULL;
  hs_result r;
  hs_raw(s->it.port, own != NULL ? own : c->req, len, TIMEOUT_MS, &r);
  free(own);
  char got[64], want[64];
  int ok = c->want == CLOSED ? r.status == 0 && r.closed : r.status == c->want;
  int rc = 0;
  if (!ok) {
    snprintf(why, cap, "got %s%s, want %s: %.80s", describe(r.status, got, sizeof got),
             r.timed_out ? " (timed out)" : "", describe(c->want, want, sizeof want), r.head);
    rc = -1;
  }
  char *after = hs_snapshot(s->it.parent);
  if (rc == 0 && strcmp(before, after) != 0) {
    snprintf(why, cap, "the store changed:\n%s---\n%s", before, after);
    rc = -1;
  }
  free(after);
  int head = hs_head(s->it.port, "part.bin");
  if (rc == 0 && head != 200) {
    snprintf(why, cap, "a HEAD afterwards got %d", head);
    rc = -1;
  }
  return rc;
}

static void every_malformed_request_is_refused_and_changes_nothing(void **state)
{
  hs_server *s = *state;
  size_t n = sizeof cases / sizeof cases[0], failed = 0, closed = 0;
  assert_true(n >= 100);
  char *before = hs_snapshot(s->it.parent);
  for (size_t i = 0; i < n; i++) {
    char why[4096];
    assert_true(cases[i].want == CLOSED || (cases[i].want >= 400 && cases[i].want < 600));
    closed += cases[i].want == CLOSED;
    if (run_case(s, &cases[i], before, why, sizeof why) != 0) {
      print_error("case %zu \"%s\": %s\n", i, cases[i].name, why);
      failed++;
    }
  }
  free(before);
  print_message("# %zu malformed requests: %zu answered with an error status, %zu closed "
                "without a reply\n",
                n, n - closed, closed);
  assert_int_equal(failed, 0);
  assert_false(hs_log_has(s, "\"smuggled\"")); /* nothing after a framing conflict was run */
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(every_malformed_request_is_refused_and_changes_nothing, setup,
                                      teardown),
  };
  int rc = cmocka_run_group_tests_name("hostile_malformed", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
