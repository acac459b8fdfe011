/* The resumable-upload tool as a user runs it: against the built resumable-serve (a child
 * process on an ephemeral port), and against the scripted fake server where the request headers
 * must be seen. Paths to both binaries come from meson (RESUMABLE_UPLOAD, RESUMABLE_SERVE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_util.h"
#include "test_fs.h"
#include "test_proc.h"
#include "scripted.h"
#include "sink.h"

extern char **environ;

struct fx {
  char *dir, *file, sha[65], url[256], out[512], err[512];
  test_child serve;
  uint16_t port;
};

/* Start resumable-serve (optionally with a token) and read its "listening on" line. */
static int serve_start(struct fx *f, const char *token)
{
  const char *bin = getenv("RESUMABLE_SERVE");
  char root[600];
  snprintf(root, sizeof root, "%s/root", f->dir);
  const char *args[] = {"--root", root, "--port", "0", token ? "--token" : NULL, token, NULL};
  if (bin == NULL || test_serve_start(&f->serve, bin, args, &f->port) != 0)
    return -1;
  e2e_url(f->url, sizeof f->url, f->port, "cli/f.bin");
  return 0;
}

static int setup(void **state)
{
  struct fx *f = calloc(1, sizeof *f);
  if (f == NULL || (f->dir = e2e_tmpdir()) == NULL)
    return -1;
  f->file = e2e_make_file(f->dir, "f.bin", 300000, 31);
  if (f->file == NULL || e2e_sha256_file(f->file, f->sha) != 0)
    return -1;
  snprintf(f->out, sizeof f->out, "%s/stdout", f->dir);
  snprintf(f->err, sizeof f->err, "%s/stderr", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fx *f = *state;
  if (f->serve.pid > 0) {
    test_stop(&f->serve);
  }
  (void)test_remove_tree(f->dir);
  free(f->file);
  free(f->dir);
  free(f);
  return 0;
}

/* Run resumable-upload with the given arguments (NULL-terminated); returns its exit code. */
static int upload(struct fx *f, ...)
{
  const char *bin = getenv("RESUMABLE_UPLOAD");
  assert_non_null(bin);
  char *argv[32] = {(char *)bin};
  int n = 1;
  va_list ap;
  va_start(ap, f);
  for (const char *a; n < 31 && (a = va_arg(ap, const char *)) != NULL;)
    argv[n++] = (char *)a;
  va_end(ap);
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, f->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, f->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  return WEXITSTATUS(st);
}

/* Contents of a captured output file (static buffer). */
static const char *slurp(const char *path)
{
  static char buf[16384];
  FILE *in = fopen(path, "r");
  size_t n = in != NULL ? fread(buf, 1, sizeof buf - 1, in) : 0;
  if (in != NULL)
    fclose(in);
  buf[n] = '\0';
  return buf;
}

/* meson passes both paths and builds both tools before this test runs. */
static void need(const char *var)
{
  const char *p = getenv(var);
  assert_non_null(p);
  assert_int_equal(access(p, X_OK), 0);
}

static void need_serve(struct fx *f, const char *token)
{
  need("RESUMABLE_SERVE");
  need("RESUMABLE_UPLOAD");
  assert_int_equal(serve_start(f, token), 0);
}

static void cli_success_exits_0_with_json_result(void **state)
{
  struct fx *f = *state;
  need_serve(f, NULL);
  assert_int_equal(upload(f, "--json", "--quiet", f->file, f->url, NULL), 0);
  const char *json = slurp(f->out);
  assert_non_null(strstr(json, f->sha));
  assert_non_null(strstr(json, "\"sha256\""));
  assert_non_null(strstr(json, "\"resumed_from\""));
  assert_non_null(strstr(json, "\"wire_bytes\""));
  assert_non_null(strstr(json, "\"attempts\""));
  assert_non_null(strstr(json, "300000"));
  assert_string_equal(slurp(f->err), ""); /* --quiet: no summary line */
}

static void cli_server_already_has_the_file_exits_0(void **state)
{
  struct fx *f = *state;
  need_serve(f, NULL);
  assert_int_equal(upload(f, "--quiet", f->file, f->url, NULL), 0);
  assert_int_equal(upload(f, f->file, f->url, NULL), 0);
  assert_true(strlen(slurp(f->err)) > 0); /* the summary line */
  assert_non_null(strstr(slurp(f->err), f->sha));
}

static void cli_refused_by_the_server_exits_1(void **state)
{
  struct fx *f = *state;
  need_serve(f, "tok-123");
  assert_int_equal(upload(f, "--quiet", f->file, f->url, NULL), 1);
}

static void cli_token_is_accepted_by_a_token_server(void **state)
{
  struct fx *f = *state;
  need_serve(f, "tok-123");
  assert_int_equal(upload(f, "--quiet", "--token", "tok-123", f->file, f->url, NULL), 0);
}

static void cli_usage_error_exits_2(void **state)
{
  struct fx *f = *state;
  need("RESUMABLE_UPLOAD");
  assert_int_equal(upload(f, NULL), 2);
  assert_int_equal(upload(f, "--no-such-option", f->file, "http://127.0.0.1:1/v1/files/x", NULL),
                   2);
  assert_int_equal(
      upload(f, "--chunk-size", "lots", f->file, "http://127.0.0.1:1/v1/files/x", NULL), 2);
}

static void cli_budget_exhausted_exits_3(void **state)
{
  struct fx *f = *state;
  need("RESUMABLE_UPLOAD");
  char url[256];
  int fd;
  e2e_url(url, sizeof url, e2e_refusing_port(&fd), "x");
  assert_int_equal(upload(f, "--quiet", "--budget", "1", "--backoff-min", "50", "--backoff-max",
                          "100", f->file, url, NULL),
                   3);
  close(fd);
}

static void cli_missing_local_file_exits_4(void **state)
{
  struct fx *f = *state;
  need_serve(f, NULL);
  char missing[600];
  snprintf(missing, sizeof missing, "%s/does-not-exist", f->dir);
  assert_int_equal(upload(f, "--quiet", missing, f->url, NULL), 4);
}

static void cli_given_sha256_is_used_instead_of_hashing(void **state)
{
  struct fx *f = *state;
  need_serve(f, NULL);
  /* A well-formed but wrong hash is sent as is: the server's final check refuses it. */
  const char *wrong = "00000000000000000000000000000000000000000000000000000000000000ff";
  assert_int_equal(upload(f, "--quiet", "--backoff-min", "10", "--backoff-max", "50", "--sha256",
                          wrong, f->file, f->url, NULL),
                   1);
  assert_int_equal(upload(f, "--json", "--quiet", "--sha256", f->sha, f->file, f->url, NULL), 0);
  assert_non_null(strstr(slurp(f->out), f->sha));
}

static void cli_chunk_size_with_suffix_uploads_in_chunks(void **state)
{
  struct fx *f = *state;
  need_serve(f, NULL);
  assert_int_equal(upload(f, "--quiet", "--chunk-size", "64K", f->file, f->url, NULL), 0);
  char stored[700], got[65];
  snprintf(stored, sizeof stored, "%s/root/cli/f.bin", f->dir);
  assert_int_equal(e2e_sha256_file(stored, got), 0);
  assert_string_equal(got, f->sha);
}

static void cli_header_option_is_sent_on_requests(void **state)
{
  struct fx *f = *state;
  need("RESUMABLE_UPLOAD");
  /* The scripted fake server (not the real one) records the request headers. */
  scripted srv;
  assert_int_equal(scripted_start(&srv), 0);
  char hdr[256], url[256];
  snprintf(hdr, sizeof hdr, "X-Content-SHA256: %s\r\nX-File-Size: 300000\r\n", f->sha);
  scripted_on_put(&srv, 200, hdr, "{}");
  e2e_url(url, sizeof url, srv.port, "f.bin");
  int rc = upload(f, "--quiet", "--header", "X-Trace-Id: cli-7", f->file, url, NULL);
  const script_request *put = scripted_nth(&srv, "PUT", 0);
  int seen = put != NULL && strstr(put->headers, "X-Trace-Id: cli-7\r\n") != NULL;
  scripted_stop(&srv);
  assert_int_equal(rc, 0);
  assert_true(seen);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(cli_success_exits_0_with_json_result),
      T(cli_server_already_has_the_file_exits_0),
      T(cli_refused_by_the_server_exits_1),
      T(cli_token_is_accepted_by_a_token_server),
      T(cli_usage_error_exits_2),
      T(cli_budget_exhausted_exits_3),
      T(cli_missing_local_file_exits_4),
      T(cli_given_sha256_is_used_instead_of_hashing),
      T(cli_chunk_size_with_suffix_uploads_in_chunks),
      T(cli_header_option_is_sent_on_requests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
