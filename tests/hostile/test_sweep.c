/* Abandoned partials: resumable_server_sweep (age, the key lock, complete files untouched),
 * DELETE, and resumable-serve's --partial-ttl sweep. argv[1] is the resumable-serve path. */
#include "hostile.h"
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

static int setup(void **state)
{
  *state = hs_new(NULL);
  return 0;
}

static int teardown(void **state)
{
  hs_free(*state);
  return 0;
}

static const unsigned char ten[10] = "0123456789";

static void sweep_removes_only_partials_older_than_the_age(void **state)
{
  hs_server *s = *state;
  assert_int_equal(it_put(&s->it, "old.bin", "bytes 0-9/100", NULL, ten, 10, NULL), 308);
  assert_int_equal(it_put(&s->it, "young.bin", "bytes 0-9/100", NULL, ten, 10, NULL), 308);
  assert_int_equal(it_put(&s->it, "done.bin", NULL, NULL, ten, 10, NULL), 200);
  hs_age_partial(s, "old.bin", 7200);
  size_t removed = 99;
  assert_int_equal(resumable_server_sweep(s->it.srv, 3600, &removed), RESUMABLE_OK);
  assert_int_equal(removed, 1);
  assert_false(hs_partial_files_exist(s, "old.bin"));
  assert_int_equal(hs_head(s->it.port, "old.bin"), 404);
  it_resp r;
  assert_int_equal(it_head(&s->it, "young.bin", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), 10);
  it_resp_free(&r);
  assert_int_equal(hs_head(s->it.port, "done.bin"), 200);
  /* an age no partial can reach removes nothing */
  assert_int_equal(resumable_server_sweep(s->it.srv, UINT64_MAX, &removed), RESUMABLE_OK);
  assert_int_equal(removed, 0);
  assert_true(hs_partial_files_exist(s, "young.bin"));
}

static void sweep_keeps_a_partial_that_an_exchange_is_writing(void **state)
{
  hs_server *s = *state;
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(s->it.srv, "PUT", IT_PREFIX "busy.bin", &ex),
                   RESUMABLE_OK);
  assert_int_equal(resumable_exchange_add_header(ex, "Content-Range", "bytes 0-99/100"),
                   RESUMABLE_OK);
  assert_int_equal(resumable_exchange_add_header(ex, "Content-Length", "100"), RESUMABLE_OK);
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, ten, 10), 0);
  hs_age_partial(s, "busy.bin", 7200);
  size_t removed = 99;
  assert_int_equal(resumable_server_sweep(s->it.srv, 0, &removed), RESUMABLE_OK);
  assert_int_equal(removed, 0);
  assert_int_equal(resumable_exchange_feed(ex, ten, 10), 0); /* still the owner */
  assert_int_equal(resumable_exchange_end(ex, RESUMABLE_BODY_DROPPED), RESUMABLE_OK);
  resumable_exchange_free(ex);
  it_resp r;
  assert_int_equal(it_head(&s->it, "busy.bin", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), 20);
  it_resp_free(&r);
  /* once nobody holds it, an old enough partial goes */
  hs_age_partial(s, "busy.bin", 7200);
  assert_int_equal(resumable_server_sweep(s->it.srv, 3600, &removed), RESUMABLE_OK);
  assert_int_equal(removed, 1);
  assert_int_equal(hs_head(s->it.port, "busy.bin"), 404);
}

static void delete_frees_a_partial_and_its_files(void **state)
{
  hs_server *s = *state;
  assert_int_equal(it_put(&s->it, "del.bin", "bytes 0-9/100", NULL, ten, 10, NULL), 308);
  assert_true(hs_partial_files_exist(s, "del.bin"));
  it_req rq = {.method = "DELETE", .key = "del.bin"};
  it_resp r;
  it_request(&s->it, &rq, &r);
  assert_int_equal(r.status, 204);
  it_resp_free(&r);
  assert_false(hs_partial_files_exist(s, "del.bin"));
  assert_int_equal(hs_head(s->it.port, "del.bin"), 404);
  char *tree = it_tree(s->it.root);
  assert_null(strstr(tree, ".data"));
  assert_null(strstr(tree, ".meta"));
  free(tree);
}

/* Read `fd` until `needle` shows up or the deadline passes; 1 if it did. */
static int wait_for_text(int fd, const char *needle, char *buf, size_t cap, int timeout_ms)
{
  size_t len = 0;
  long long deadline = hs_now_ms() + timeout_ms;
  buf[0] = '\0';
  while (strstr(buf, needle) == NULL && len + 1 < cap) {
    long long left = deadline - hs_now_ms();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (left <= 0 || poll(&p, 1, (int)left) <= 0)
      return 0;
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n <= 0)
      return 0;
    len += (size_t)n;
    buf[len] = '\0';
  }
  return strstr(buf, needle) != NULL;
}

static void serve_tool_sweeps_abandoned_partials_after_the_ttl(void **state)
{
  hs_server *s = *state; /* only for its temporary directory */
  char root[160];
  snprintf(root, sizeof root, "%s/tool", s->it.parent);
  const char *args[] = {"--port", "0", "--root", root, "--partial-ttl", "1", NULL};
  test_child c;
  assert_int_equal(test_spawn(&c, tool_path, args), 0);
  char buf[8192];
  assert_true(wait_for_text(c.out, "/\n", buf, sizeof buf, 10000));
  it_server tool;
  memset(&tool, 0, sizeof tool);
  const char *colon = strrchr(buf, ':');
  assert_non_null(colon);
  tool.port = (uint16_t)atoi(colon + 1);
  assert_int_equal(it_put(&tool, "gone.bin", "bytes 0-9/100", NULL, ten, 10, NULL), 308);
  /* the TTL is 1 s and the sweep runs every second: the removal is logged within a few */
  int swept = wait_for_text(c.err, "sweep removed 1 abandoned partial", buf, sizeof buf, 15000);
  int status = hs_head(tool.port, "gone.bin");
  kill(c.pid, SIGTERM);
  int exit_code = test_reap(&c);
  if (!swept)
    fail_msg("no sweep logged; stderr:\n%s", buf);
  assert_true(strstr(buf, "info: sweep /gone.bin: abandoned partial removed") != NULL);
  assert_int_equal(status, 404);
  assert_int_equal(exit_code, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

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
      T(sweep_removes_only_partials_older_than_the_age),
      T(sweep_keeps_a_partial_that_an_exchange_is_writing),
      T(delete_frees_a_partial_and_its_files),
      T(serve_tool_sweeps_abandoned_partials_after_the_ttl),
  };
  int rc = cmocka_run_group_tests_name("hostile_sweep", tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
