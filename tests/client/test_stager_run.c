/* resumable_stager_run against a scripted server: the client half of PROTOCOL.md, answer by
 * answer, through real libcurl on loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "hex.h"
#include "resumable/stager.h"
#include "script_server.h"
#include "sha256.h"

#define SIZE 1000

typedef struct fixture {
  char dir[64];
  char path[96];
  char sha[65];
  uint8_t data[SIZE];
  script_server *srv;
  resumable_stager *s;
  char url[128];
  int hook_done; /* a script_on_body hook did its change (hooks run on the server's thread) */
  /* scan_descriptors: the stager's connections and file, and how many of them an exec keeps */
  int socks, socks_kept, files, files_kept;
} fixture;

static void write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/stager-test-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/file.bin", f->dir);
  for (size_t i = 0; i < SIZE; i++)
    f->data[i] = (uint8_t)(i * 7 + 3);
  write_file(f->path, f->data, SIZE);
  uint8_t d[32];
  rs_sha256_digest(f->data, SIZE, d);
  rs_sha256_hex_format(d, f->sha);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  resumable_stager_free(f->s);
  script_stop(f->srv);
  unlink(f->path);
  rmdir(f->dir);
  free(f);
  return 0;
}

/* Start the script and a stager on it with quick backoff. */
static void start(fixture *f, const script_answer *a, int n)
{
  f->srv = script_start(a, n, f->sha);
  assert_non_null(f->srv);
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/v1/files/k", script_port(f->srv));
  assert_int_equal(resumable_stager_new(&f->s, f->url, f->path), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_backoff_ms(f->s, 1, 5), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(f->s, 20000), RESUMABLE_OK);
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define DONE_HDRS "X-Content-SHA256: $SHA\nX-File-Size: 1000\n"

static void run_fresh_upload_sends_the_file_once(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, "not found", 0}, {200, DONE_HDRS, "{}", 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 2);
  assert_string_equal(script_at(f->srv, 0)->method, "HEAD");
  const script_record *put = script_at(f->srv, 1);
  assert_string_equal(put->method, "PUT");
  assert_string_equal(put->content_range, "bytes 0-999/1000");
  assert_string_equal(put->sha, f->sha);
  assert_int_equal(put->body, SIZE);
  assert_int_equal(resumable_stager_wire_bytes(f->s), SIZE);
  assert_int_equal(resumable_stager_resumed_from(f->s), 0);
  assert_int_equal(resumable_stager_attempts(f->s), 1);
  assert_int_equal(resumable_stager_http_status(f->s), 200);
  assert_string_equal(resumable_stager_sha256(f->s), f->sha);
  assert_string_equal(resumable_stager_response_body(f->s), "{}");
}

static void run_resumes_an_own_partial_at_x_file_size(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {
      {200, "X-File-Size: 300\nAccept-Ranges: bytes\nX-Upload-Total: 1000\nX-Target-SHA256: $SHA\n",
       NULL, 0},
      {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_string_equal(script_at(f->srv, 1)->content_range, "bytes 300-999/1000");
  assert_int_equal(script_at(f->srv, 1)->body, 700);
  assert_int_equal(resumable_stager_resumed_from(f->s), 300);
  assert_int_equal(resumable_stager_wire_bytes(f->s), 700);
}

static void run_already_there_sends_nothing(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{200, DONE_HDRS "Accept-Ranges: bytes\n", NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 1);
  assert_true(resumable_stager_already_there(f->s));
  assert_int_equal(resumable_stager_wire_bytes(f->s), 0);
  assert_int_equal(resumable_stager_resumed_from(f->s), SIZE);
}

static void run_held_everything_finishes_with_expect_and_no_body(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {
      {200,
       "X-File-Size: 1000\nAccept-Ranges: bytes\nX-Upload-Total: 1000\nX-Target-SHA256: $SHA\n",
       NULL, 0},
      {200, DONE_HDRS, NULL, 1}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  const script_record *put = script_at(f->srv, 1);
  assert_string_equal(put->content_range, "bytes 0-999/1000");
  assert_true(put->expect);
  assert_int_equal(put->body, 0);
  assert_int_equal(resumable_stager_wire_bytes(f->s), 0);
}

static void run_chunked_sends_several_puts(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {308, "Range: bytes=0-399\nX-File-Size: 400\n", NULL, 0},
                             {308, "Range: bytes=0-799\nX-File-Size: 800\n", NULL, 0},
                             {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_chunk_size(f->s, 400), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 4);
  assert_string_equal(script_at(f->srv, 1)->content_range, "bytes 0-399/1000");
  assert_string_equal(script_at(f->srv, 2)->content_range, "bytes 400-799/1000");
  assert_string_equal(script_at(f->srv, 3)->content_range, "bytes 800-999/1000");
  assert_int_equal(script_at(f->srv, 3)->body, 200);
  assert_int_equal(resumable_stager_attempts(f->s), 1);
}

static void run_head_405_sends_a_whole_file_put(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{405, "Allow: PUT\n", NULL, 0}, {201, NULL, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_string_equal(script_at(f->srv, 1)->content_range, "");
  assert_string_equal(script_at(f->srv, 1)->sha, f->sha);
  assert_int_equal(script_at(f->srv, 1)->body, SIZE);
}

static void run_416_resyncs_to_x_file_size(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {416, "X-File-Size: 600\nContent-Range: bytes */1000\n", NULL, 1},
                             {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_string_equal(script_at(f->srv, 2)->content_range, "bytes 600-999/1000");
}

static void run_409_restarts_at_most_twice(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {409, NULL, "drift", 1},
                             {409, NULL, "drift", 1},
                             {409, NULL, "drift again", 1}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_REFUSED);
  assert_int_equal(resumable_stager_restarts(f->s), 2);
  assert_int_equal(script_count(f->srv), 4);
  assert_non_null(strstr(resumable_stager_message(f->s), "drift again"));
}

/* curl asks with Expect: 100-continue before a large body, so a refused chunk costs no bytes. */
static void run_refused_large_chunk_sends_no_body(void **state)
{
  fixture *f = *state;
  const size_t big = 2u << 20;
  uint8_t *data = calloc(1, big);
  assert_non_null(data);
  write_file(f->path, data, big);
  uint8_t d[32];
  rs_sha256_digest(data, big, d);
  rs_sha256_hex_format(d, f->sha);
  free(data);
  const script_answer a[] = {{404, NULL, NULL, 0}, {409, NULL, "drift", 1}, {200, NULL, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_true(script_at(f->srv, 1)->expect);
  assert_int_equal(script_at(f->srv, 1)->body, 0);
  assert_int_equal(script_at(f->srv, 2)->body, big);
  assert_int_equal(resumable_stager_wire_bytes(f->s), big);
  assert_int_equal(resumable_stager_restarts(f->s), 1);
}

static void run_400_on_final_chunk_restarts_then_reports_mismatch(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {400, NULL, "hash mismatch", 0},
                             {400, NULL, "hash mismatch", 0},
                             {400, NULL, "hash mismatch", 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_HASH_MISMATCH);
  assert_int_equal(resumable_stager_restarts(f->s), 2);
  for (int i = 1; i < 4; i++)
    assert_string_equal(script_at(f->srv, i)->content_range, "bytes 0-999/1000");
}

static void run_400_after_restart_then_success(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {
      {404, NULL, NULL, 0}, {400, NULL, "hash mismatch", 0}, {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(resumable_stager_restarts(f->s), 1);
  assert_int_equal(resumable_stager_attempts(f->s), 2);
}

static void run_503_honours_retry_after_then_reprobes(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {503, "Retry-After: 1\n", "busy", 1},
                             {404, NULL, NULL, 0},
                             {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(secs >= 0.99);
  assert_string_equal(script_at(f->srv, 2)->method, "HEAD");
  assert_int_equal(resumable_stager_attempts(f->s), 2);
}

static void run_other_4xx_fails_at_once_with_the_server_text(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {403, NULL, "no uploads here\n", 1}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_REFUSED);
  assert_int_equal(script_count(f->srv), 2);
  assert_int_equal(resumable_stager_http_status(f->s), 403);
  assert_non_null(strstr(resumable_stager_message(f->s), "no uploads here"));
}

static void run_413_is_too_large(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {413, NULL, "max 10 bytes", 1}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_TOO_LARGE);
}

static void run_200_with_another_hash_is_a_protocol_error(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {
      {404, NULL, NULL, 0},
      {200, "X-Content-SHA256: 0000000000000000000000000000000000000000000000000000000000000000\n",
       NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_PROTOCOL);
}

static void run_sends_token_and_extra_headers(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_bearer_token(f->s, "s3cret"), RESUMABLE_OK);
  assert_int_equal(resumable_stager_add_header(f->s, "X-Extra: hello"), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  for (int i = 0; i < 2; i++) {
    assert_string_equal(script_at(f->srv, i)->auth, "Bearer s3cret");
    assert_string_equal(script_at(f->srv, i)->extra, "hello");
  }
}

static void run_given_sha256_is_sent_as_is(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, NULL, NULL, 0}};
  start(f, a, N(a));
  const char *given = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  assert_int_equal(resumable_stager_set_sha256(f->s, given), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_string_equal(script_at(f->srv, 1)->sha,
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

static void run_zero_length_file_puts_an_empty_body_without_range(void **state)
{
  fixture *f = *state;
  write_file(f->path, "", 0);
  uint8_t d[32];
  rs_sha256_digest("", 0, d);
  rs_sha256_hex_format(d, f->sha);
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, NULL, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_string_equal(script_at(f->srv, 1)->method, "PUT");
  assert_string_equal(script_at(f->srv, 1)->content_range, "");
  assert_string_equal(script_at(f->srv, 1)->sha, f->sha);
  assert_int_equal(script_at(f->srv, 1)->body, 0);
}

/* Appends to the file once the probe starts: the upload must not go on with a torn file. */
static int grow_file_on_probe(void *ud, const resumable_progress *p)
{
  fixture *f = ud;
  if (p->phase == RESUMABLE_PHASE_PROBING) {
    FILE *fp = fopen(f->path, "ab");
    if (fp) {
      fputc('x', fp);
      fclose(fp);
    }
  }
  return 0;
}

static void run_file_changed_during_upload_is_a_file_error(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_progress(f->s, grow_file_on_probe, f), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_FILE);
  assert_int_equal(script_count(f->srv), 1); /* no PUT of a torn file */
}

static int cancel_when_waiting(void *ud, const resumable_progress *p)
{
  int *seen_done = ud;
  if (p->phase == RESUMABLE_PHASE_DONE)
    *seen_done = 1;
  return p->phase == RESUMABLE_PHASE_WAITING;
}

static void run_cancel_from_progress_while_waiting(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{503, "Retry-After: 10\n", NULL, 0}};
  start(f, a, N(a));
  int seen_done = 0;
  assert_int_equal(resumable_stager_set_progress(f->s, cancel_when_waiting, &seen_done),
                   RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_CANCELLED);
  assert_int_equal(resumable_stager_error(f->s), RESUMABLE_E_CANCELLED);
  assert_true(seen_done);
  assert_int_equal(script_count(f->srv), 1);
}

static void run_retry_after_beyond_budget_times_out_at_once(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{503, "Retry-After: 3600\n", NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_time_budget_ms(f->s, 5000), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_TIMEOUT);
  assert_int_equal(script_count(f->srv), 1);
}

/* A port that refuses connections: bound (so no other process can take it while the test
 * runs, which a closed port would allow) but not listening, so connects get a reset. */
static unsigned refusing_port(int *fd_out)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t len = sizeof sa;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  *fd_out = fd;
  return ntohs(sa.sin_port);
}

static void run_budget_ends_retries_against_a_closed_port(void **state)
{
  fixture *f = *state;
  int fd;
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/v1/files/k", refusing_port(&fd));
  assert_int_equal(resumable_stager_new(&f->s, f->url, f->path), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_backoff_ms(f->s, 10, 40), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(f->s, 400), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_TIMEOUT);
  assert_true(resumable_stager_attempts(f->s) >= 2);
  assert_non_null(strstr(resumable_stager_message(f->s), "holds 0 of 1000 bytes"));
  close(fd);
}

/* A server that works for a while once it has the whole request (LocalAI hashes the whole file
 * before it answers the final chunk, and may before it answers HEAD) is not stalled: the stall
 * check covers only a body on its way. Each answer is held for twice the stall limit, by the
 * server's clock; the client must wait for it rather than abandon and retry. */
static void run_server_slow_to_answer_a_sent_request_is_not_a_stall(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, "{}", 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_stall(f->s, 1, 1), RESUMABLE_OK);
  script_hold(f->srv, 0, 2000);
  script_hold(f->srv, 1, 2000);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 2); /* one HEAD, exactly one PUT */
  assert_string_equal(script_at(f->srv, 1)->method, "PUT");
  assert_int_equal(script_at(f->srv, 1)->body, SIZE);
  assert_true(script_held_ms(f->srv, 0) >= 2000);
  assert_true(script_held_ms(f->srv, 1) >= 2000);
  assert_int_equal(resumable_stager_attempts(f->s), 1);
  assert_int_equal(resumable_stager_wire_bytes(f->s), SIZE);
}

/* The wait for a sent request's answer is still bounded by the time budget, and the timeout
 * says how much the server holds. */
static void run_budget_ends_the_wait_for_a_slow_answer(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {
      {200, "X-File-Size: 300\nAccept-Ranges: bytes\nX-Upload-Total: 1000\nX-Target-SHA256: $SHA\n",
       NULL, 0},
      {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_time_budget_ms(f->s, 500), RESUMABLE_OK);
  script_hold(f->srv, 1, 60000); /* ended by script_stop in the teardown */
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_TIMEOUT);
  assert_int_equal(script_count(f->srv), 2);
  assert_non_null(strstr(resumable_stager_message(f->s), "holds 300 of 1000 bytes"));
}

/* An older LocalAI answers the finish PUT with 416 and X-File-Size == size while it commits:
 * wait, probe again, and finish when HEAD shows the complete file; more such answers than the
 * re-sync limit are fine while the budget lasts. */
static void run_416_holding_everything_to_the_finish_put_waits_for_the_commit(void **state)
{
  fixture *f = *state;
#define FULL "X-File-Size: 1000\nAccept-Ranges: bytes\nX-Target-SHA256: $SHA\n"
#define COMMITTING                                                           \
  {                                                                          \
    416, "X-File-Size: 1000\nContent-Range: bytes */1000\n", "committing", 1 \
  }
  const script_answer a[] = {{200, FULL, NULL, 0},
                             COMMITTING,
                             {200, FULL, NULL, 0},
                             COMMITTING,
                             {200, FULL, NULL, 0},
                             COMMITTING,
                             {200, DONE_HDRS "Accept-Ranges: bytes\n", NULL, 0}};
#undef FULL
#undef COMMITTING
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 7);
  for (int i = 1; i < 6; i += 2) {
    assert_string_equal(script_at(f->srv, i)->method, "PUT");
    assert_string_equal(script_at(f->srv, i)->content_range, "bytes 0-999/1000");
    assert_true(script_at(f->srv, i)->expect);
    assert_int_equal(script_at(f->srv, i)->body, 0);
    assert_string_equal(script_at(f->srv, i + 1)->method, "HEAD");
  }
  assert_int_equal(resumable_stager_attempts(f->s), 4);
  assert_int_equal(resumable_stager_wire_bytes(f->s), 0);
}

/* The finish PUT to a server that hashes the whole file before it answers (LocalAI), without
 * asking for the body: no stall check applies to it, so the answer held for twice the stall
 * limit is waited for, and exactly one finish PUT is sent, with no body byte. */
static void run_finish_put_waits_for_a_slow_commit(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {
      {200, "X-File-Size: 1000\nAccept-Ranges: bytes\nX-Target-SHA256: $SHA\n", NULL, 0},
      {200, DONE_HDRS, "{}", 1}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_stall(f->s, 1, 1), RESUMABLE_OK);
  script_hold(f->srv, 1, 2000);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 2);
  assert_string_equal(script_at(f->srv, 1)->method, "PUT");
  assert_true(script_at(f->srv, 1)->expect);
  assert_int_equal(script_at(f->srv, 1)->body, 0);
  assert_true(script_held_ms(f->srv, 1) >= 2000);
  assert_int_equal(resumable_stager_attempts(f->s), 1);
}

/* The same answer forever: the budget ends it with a timeout that says the server holds all. */
static void run_finish_put_416_until_the_budget_is_a_timeout(void **state)
{
  fixture *f = *state;
  script_answer a[SCRIPT_MAX];
  for (int i = 0; i < SCRIPT_MAX; i++)
    a[i] = i % 2 == 0
               ? (script_answer){200,
                                 "X-File-Size: 1000\nAccept-Ranges: bytes\nX-Target-SHA256: $SHA\n",
                                 NULL, 0}
               : (script_answer){416, "X-File-Size: 1000\n", "committing", 1};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_backoff_ms(f->s, 50, 100), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(f->s, 300), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_TIMEOUT);
  assert_non_null(strstr(resumable_stager_message(f->s), "holds 1000 of 1000 bytes"));
  assert_non_null(strstr(resumable_stager_message(f->s), "committing"));
}

/* A server that ignores Content-Range (an old LocalAI worker) stores every PUT body as the whole
 * file and answers 200 without X-File-Size. Chunks would overwrite one another: the stager must
 * notice at the first chunk and send the whole file instead. */
static void run_range_ignoring_server_gets_the_whole_file_not_a_truncated_one(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {
      {404, NULL, "not found", 0},
      {200, "Content-Type: application/json\n", "{\"local_path\":\"/m\"}", 0},
      {200, "Content-Type: application/json\n", "{\"local_path\":\"/m\"}", 0},
      {200, NULL, NULL, 0}};
  start(f, a, N(a));
  script_keep_bodies(f->srv);
  assert_int_equal(resumable_stager_set_chunk_size(f->s, 400), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  size_t len = 0;
  const uint8_t *stored = script_stored(f->srv, &len);
  assert_int_equal(len, SIZE);
  assert_memory_equal(stored, f->data, SIZE);
  assert_int_equal(script_count(f->srv), 3);
  assert_string_equal(script_at(f->srv, 1)->content_range, "bytes 0-399/1000");
  assert_string_equal(script_at(f->srv, 2)->content_range, ""); /* whole-file PUT */
  assert_string_equal(script_at(f->srv, 2)->sha, f->sha);
  assert_int_equal(script_at(f->srv, 2)->body, SIZE);
}

/* After a 404 probe the stager still sends ranges (a current server resumes them); a server
 * that acknowledges chunks with 200 and says what it holds gets the next chunk. */
static void run_chunks_acknowledged_by_200_with_x_file_size_continue(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {200, "X-File-Size: 400\n", NULL, 0},
                             {200, "Range: bytes=0-799\n", NULL, 0},
                             {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_chunk_size(f->s, 400), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 4);
  assert_string_equal(script_at(f->srv, 2)->content_range, "bytes 400-799/1000");
  assert_string_equal(script_at(f->srv, 3)->content_range, "bytes 800-999/1000");
  assert_int_equal(resumable_stager_wire_bytes(f->s), SIZE);
}

/* Issue 10 item 8: a server that answers the first chunk with 200 and X-File-Size equal to the
 * size (a Range covering the file for the second), without the file's hash, has not confirmed
 * bytes we never sent. The stager must send every chunk, the end of the file included, and
 * succeed only on the answer to that. */
static void run_200_claiming_the_whole_file_after_one_chunk_is_not_success(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {200, "X-File-Size: 1000\n", NULL, 0},
                             {200, "Range: bytes=0-999\n", NULL, 0},
                             {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_chunk_size(f->s, 400), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 4);
  assert_string_equal(script_at(f->srv, 1)->content_range, "bytes 0-399/1000");
  assert_string_equal(script_at(f->srv, 2)->content_range, "bytes 400-799/1000");
  assert_string_equal(script_at(f->srv, 3)->content_range, "bytes 800-999/1000");
  assert_int_equal(script_at(f->srv, 3)->body, 200);
  assert_int_equal(resumable_stager_wire_bytes(f->s), SIZE);
}

/* The same claim in a 308 must not lead to the finish PUT (which a bare 200 would end). */
static void run_308_claiming_the_whole_file_after_one_chunk_sends_the_rest(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {308, "X-File-Size: 1000\n", NULL, 0},
                             {308, "Range: bytes=0-999\n", NULL, 0},
                             {200, NULL, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_chunk_size(f->s, 400), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 4);
  assert_string_equal(script_at(f->srv, 2)->content_range, "bytes 400-799/1000");
  assert_int_equal(script_at(f->srv, 2)->body, 400); /* a chunk, not the finish PUT */
  assert_string_equal(script_at(f->srv, 3)->content_range, "bytes 800-999/1000");
  assert_int_equal(resumable_stager_wire_bytes(f->s), SIZE);
}

/* The claim with the file's own hash is the server vouching: done after one chunk. */
static void run_200_with_our_hash_after_one_chunk_is_done(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_set_chunk_size(f->s, 400), RESUMABLE_OK);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 2);
  assert_int_equal(resumable_stager_wire_bytes(f->s), 400);
}

/* ---- issue 10 item 9: the file changes while the final PUT is in flight ----
 * Each change is made by the scripted server once it has the final PUT's whole body, before it
 * answers 200 with the file's hash: the upload itself succeeds, and only a check after the
 * answer can tell that the local file is no longer what was sent. */

static void grow_file(void *ud)
{
  fixture *f = ud;
  FILE *fp = fopen(f->path, "ab");
  if (fp && fputc('x', fp) == 'x' && fclose(fp) == 0)
    f->hook_done = 1;
}

/* Wait for the clock that stamps inodes to pass `t`, so the next change gets a later ctime.
 * Bounded by one tick of the coarse clock (1-10 ms); without it a change within the same tick as
 * the file's creation would keep its ctime and nothing could tell. */
static void clock_past(const struct timespec *t)
{
  struct timespec now;
  do
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
  while (now.tv_sec < t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec <= t->tv_nsec));
}

/* Rewrite three bytes in place, same size, and put the old mtime back: only ctime tells. */
static void rewrite_keeping_mtime(void *ud)
{
  fixture *f = ud;
  struct stat st;
  if (stat(f->path, &st) != 0)
    return;
  clock_past(&st.st_ctim);
  int fd = open(f->path, O_WRONLY);
  if (fd < 0)
    return;
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (pwrite(fd, "XYZ", 3, 100) == 3 && futimens(fd, times) == 0)
    f->hook_done = 1;
  close(fd);
}

/* Replace the path by rename with a new file of the same bytes: the open descriptor still reads
 * the old file, so only the path shows it. */
static void replace_by_rename(void *ud)
{
  fixture *f = ud;
  char tmp[128];
  snprintf(tmp, sizeof tmp, "%s.new", f->path);
  FILE *fp = fopen(tmp, "wb");
  if (!fp)
    return;
  int ok = fwrite(f->data, 1, SIZE, fp) == SIZE;
  if (fclose(fp) == 0 && ok && rename(tmp, f->path) == 0)
    f->hook_done = 1;
}

static void run_file_changed_during_final_put(fixture *f, script_hook_fn change, const char *what)
{
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, "{}", 0}};
  start(f, a, N(a));
  script_on_body(f->srv, 1, change, f);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_FILE);
  assert_true(f->hook_done);
  assert_int_equal(script_count(f->srv), 2); /* the final PUT was answered 200 */
  assert_int_equal(script_at(f->srv, 1)->body, SIZE);
  const char *msg = resumable_stager_message(f->s);
  assert_non_null(strstr(msg, what));
  assert_non_null(strstr(msg, "the server holds the version that was hashed"));
  assert_non_null(strstr(msg, f->sha));
}

static void run_file_grown_during_final_put_is_a_file_error(void **state)
{
  run_file_changed_during_final_put(*state, grow_file, "size went from 1000 to 1001 bytes");
}

static void run_file_rewritten_with_mtime_restored_during_final_put_is_a_file_error(void **state)
{
  run_file_changed_during_final_put(*state, rewrite_keeping_mtime, "ctime moved");
}

static void run_file_replaced_by_rename_during_final_put_is_a_file_error(void **state)
{
  run_file_changed_during_final_put(*state, replace_by_rename, "was replaced");
}

/* ---- descriptors an exec would keep ----
 * An application that forks and execs while an upload runs must not hand the child the
 * stager's connection: the child would keep it open after the stager closes it, and a server
 * (or proxy) would wait for an end that never comes. */

/* Called on the server's thread with the PUT's whole body in: count the client ends of
 * connections to the script's port, and the descriptors open on the stager's file. */
static void scan_descriptors(void *ud)
{
  fixture *f = ud;
  unsigned port = script_port(f->srv);
  for (int fd = 3; fd < 1024; fd++) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0)
      continue;
    int kept = !(flags & FD_CLOEXEC);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && peer.sin_family == AF_INET &&
        ntohs(peer.sin_port) == port) {
      f->socks++;
      f->socks_kept += kept;
    } else if (n > 0 && (size_t)n == strlen(f->path) && memcmp(target, f->path, (size_t)n) == 0) {
      f->files++;
      f->files_kept += kept;
    }
  }
}

static void run_connection_and_file_are_closed_on_exec(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, "{}", 0}};
  start(f, a, N(a));
  script_on_body(f->srv, 1, scan_descriptors, f);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(f->socks, 1);
  assert_int_equal(f->socks_kept, 0);
  assert_true(f->files >= 1);
  assert_int_equal(f->files_kept, 0);
}

/* ---- issue 10 item 10: a reply header too large ----
 * libcurl 7.88 turns one header line over 100 KiB into "out of memory", and a header section
 * over 300 KiB into a receive error that was retried until the budget ended. Either is the
 * server's doing: a protocol error, said as such, and not retried. */

static void huge_reply_header(fixture *f, int idx, size_t pad, size_t line, const char *what)
{
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  script_pad(f->srv, idx, pad, line);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_E_PROTOCOL);
  assert_int_equal(script_count(f->srv), idx + 1); /* not retried */
  assert_non_null(strstr(resumable_stager_message(f->s), what));
}

static void run_one_huge_reply_header_line_is_a_protocol_error(void **state)
{
  huge_reply_header(*state, 0, 300 * 1024, 0,
                    "the answer to HEAD has a header line over libcurl's limit of 100 KiB");
}

static void run_a_huge_reply_header_section_is_a_protocol_error(void **state)
{
  huge_reply_header(*state, 0, 1024 * 1024, 1000,
                    "the answer to HEAD has a header section over 64 KiB");
}

static void run_huge_header_in_the_answer_to_a_put_is_a_protocol_error(void **state)
{
  huge_reply_header(*state, 1, 200 * 1024, 0,
                    "the answer to PUT has a header line over libcurl's limit of 100 KiB");
}

static void run_reply_header_under_the_bound_is_accepted(void **state)
{
  fixture *f = *state;
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, DONE_HDRS, NULL, 0}};
  start(f, a, N(a));
  script_pad(f->srv, 0, 60 * 1024, 1000);
  script_pad(f->srv, 1, 60 * 1024, 1000);
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 2);
}

/* A large file (SIZE is too small to tell) of `size` bytes with the fixture's hash. */
static void large_file(fixture *f, size_t size)
{
  uint8_t *data = malloc(size);
  assert_non_null(data);
  for (size_t i = 0; i < size; i++)
    data[i] = (uint8_t)(i * 31 + (i >> 12));
  write_file(f->path, data, size);
  uint8_t d[32];
  rs_sha256_digest(data, size, d);
  rs_sha256_hex_format(d, f->sha);
  free(data);
}

/* PROTOCOL.md: without a chunk size, a PUT carries "the rest of the file": the first PUT after
 * a probe, fresh or resumed, is bytes <held>-<size-1>/<size>, however large the rest. */
static void run_first_put_after_a_probe_carries_the_rest_of_a_large_file(void **state)
{
  fixture *f = *state;
  large_file(f, 5u << 20);
  const script_answer a[] = {{404, NULL, NULL, 0},
                             {200, "X-Content-SHA256: $SHA\nX-File-Size: 5242880\n", NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 2);
  assert_string_equal(script_at(f->srv, 1)->content_range, "bytes 0-5242879/5242880");
  assert_int_equal(script_at(f->srv, 1)->body, 5u << 20);
  assert_int_equal(resumable_stager_wire_bytes(f->s), 5u << 20);
}

static void run_resumed_large_upload_sends_the_rest_in_its_first_put(void **state)
{
  fixture *f = *state;
  large_file(f, 5u << 20);
  const script_answer a[] = {{200,
                              "X-File-Size: 1048576\nAccept-Ranges: bytes\nX-Upload-Total: "
                              "5242880\nX-Target-SHA256: $SHA\n",
                              NULL, 0},
                             {200, "X-Content-SHA256: $SHA\nX-File-Size: 5242880\n", NULL, 0}};
  start(f, a, N(a));
  assert_int_equal(resumable_stager_run(f->s), RESUMABLE_OK);
  assert_int_equal(script_count(f->srv), 2);
  assert_string_equal(script_at(f->srv, 1)->content_range, "bytes 1048576-5242879/5242880");
  assert_int_equal(script_at(f->srv, 1)->body, 4u << 20);
  assert_int_equal(resumable_stager_resumed_from(f->s), 1u << 20);
  assert_int_equal(resumable_stager_wire_bytes(f->s), 4u << 20);
  assert_int_equal(resumable_stager_attempts(f->s), 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(run_fresh_upload_sends_the_file_once),
      T(run_resumes_an_own_partial_at_x_file_size),
      T(run_already_there_sends_nothing),
      T(run_held_everything_finishes_with_expect_and_no_body),
      T(run_chunked_sends_several_puts),
      T(run_head_405_sends_a_whole_file_put),
      T(run_416_resyncs_to_x_file_size),
      T(run_409_restarts_at_most_twice),
      T(run_refused_large_chunk_sends_no_body),
      T(run_400_on_final_chunk_restarts_then_reports_mismatch),
      T(run_400_after_restart_then_success),
      T(run_503_honours_retry_after_then_reprobes),
      T(run_other_4xx_fails_at_once_with_the_server_text),
      T(run_413_is_too_large),
      T(run_200_with_another_hash_is_a_protocol_error),
      T(run_sends_token_and_extra_headers),
      T(run_given_sha256_is_sent_as_is),
      T(run_zero_length_file_puts_an_empty_body_without_range),
      T(run_file_changed_during_upload_is_a_file_error),
      T(run_cancel_from_progress_while_waiting),
      T(run_retry_after_beyond_budget_times_out_at_once),
      T(run_budget_ends_retries_against_a_closed_port),
      T(run_server_slow_to_answer_a_sent_request_is_not_a_stall),
      T(run_budget_ends_the_wait_for_a_slow_answer),
      T(run_416_holding_everything_to_the_finish_put_waits_for_the_commit),
      T(run_finish_put_waits_for_a_slow_commit),
      T(run_finish_put_416_until_the_budget_is_a_timeout),
      T(run_range_ignoring_server_gets_the_whole_file_not_a_truncated_one),
      T(run_chunks_acknowledged_by_200_with_x_file_size_continue),
      T(run_200_claiming_the_whole_file_after_one_chunk_is_not_success),
      T(run_308_claiming_the_whole_file_after_one_chunk_sends_the_rest),
      T(run_200_with_our_hash_after_one_chunk_is_done),
      T(run_file_grown_during_final_put_is_a_file_error),
      T(run_file_rewritten_with_mtime_restored_during_final_put_is_a_file_error),
      T(run_file_replaced_by_rename_during_final_put_is_a_file_error),
      T(run_connection_and_file_are_closed_on_exec),
      T(run_one_huge_reply_header_line_is_a_protocol_error),
      T(run_a_huge_reply_header_section_is_a_protocol_error),
      T(run_huge_header_in_the_answer_to_a_put_is_a_protocol_error),
      T(run_reply_header_under_the_bound_is_accepted),
      T(run_first_put_after_a_probe_carries_the_rest_of_a_large_file),
      T(run_resumed_large_upload_sends_the_rest_in_its_first_put),
#undef T
  };
  return cmocka_run_group_tests_name("stager_run", tests, NULL, NULL);
}
