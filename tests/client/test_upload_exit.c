/* resumable-upload (the real binary) against the scripted server: the exit status --help
 * promises for what a run meets. argv[1]: the resumable-upload binary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hex.h"
#include "script_server.h"
#include "sha256.h"
#include "test_fs.h"
#include "test_proc.h"

#define SIZE 5000

static const char *g_upload;

typedef struct fixture {
  char dir[64];
  char path[96];
  char sha[65];
  char url[128];
  script_server *srv;
  atomic_int grown; /* set on the scripted server's thread */
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/upload-exit-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/file.bin", f->dir);
  uint8_t data[SIZE];
  for (size_t i = 0; i < SIZE; i++)
    data[i] = (uint8_t)(i * 13 + 1);
  FILE *fp = fopen(f->path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, SIZE, fp), SIZE);
  assert_int_equal(fclose(fp), 0);
  uint8_t d[32];
  rs_sha256_digest(data, SIZE, d);
  rs_sha256_hex_format(d, f->sha);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  script_stop(f->srv);
  test_remove_tree(f->dir);
  free(f);
  return 0;
}

/* Read a pipe to its end into buf (NUL-terminated, truncated to cap - 1). */
static void slurp(int fd, char *buf, size_t cap)
{
  size_t used = 0;
  ssize_t r;
  char junk[512];
  while ((r = read(fd, used + 1 < cap ? buf + used : junk,
                   used + 1 < cap ? cap - 1 - used : sizeof junk)) > 0)
    if (used + 1 < cap)
      used += (size_t)r;
  buf[used] = '\0';
}

/* resumable-upload --json --no-hash-cache FILE URL; returns its exit status. */
static int run_upload(fixture *f, char *out, size_t out_cap, char *err, size_t err_cap)
{
  /* the scripted server speaks only LocalAI's protocol: no OPTIONS probe */
  const char *args[] = {"--json", "--no-hash-cache", "--protocol=localai", f->path, f->url, NULL};
  test_child c;
  assert_int_equal(test_spawn(&c, g_upload, args), 0);
  slurp(c.out, out, out_cap);
  slurp(c.err, err, err_cap);
  return test_reap(&c);
}

/* Appends to the file once the server has the final PUT's body (before it answers). */
static void grow_file(void *ud)
{
  fixture *f = ud;
  FILE *fp = fopen(f->path, "ab");
  if (fp && fputc('x', fp) == 'x' && fclose(fp) == 0)
    atomic_store(&f->grown, 1);
}

/* Issue 10 item 9: a file that grows while the final PUT is in flight ends in exit 4 (local
 * file error), not 0, although the server answered 200 with the hash. */
static void cli_file_grown_during_the_final_put_exits_4(void **state)
{
  fixture *f = *state;
  char hdrs[160];
  snprintf(hdrs, sizeof hdrs, "X-Content-SHA256: $SHA\nX-File-Size: %d\n", SIZE);
  const script_answer a[] = {{404, NULL, NULL, 0}, {200, hdrs, "{}", 0}};
  f->srv = script_start(a, 2, f->sha);
  assert_non_null(f->srv);
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/v1/files/k", script_port(f->srv));
  script_on_body(f->srv, 1, grow_file, f);
  char out[4096], err[4096];
  assert_int_equal(run_upload(f, out, sizeof out, err, sizeof err), 4);
  assert_true(atomic_load(&f->grown));
  assert_int_equal(script_count(f->srv), 2);
  assert_non_null(strstr(out, "\"error\": \"E_FILE\""));
  assert_non_null(strstr(out, "size went from 5000 to 5001 bytes"));
  assert_non_null(strstr(err, "E_FILE"));
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s RESUMABLE-UPLOAD\n", argv[0]);
    return 2;
  }
  g_upload = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(cli_file_grown_during_the_final_put_exits_4, setup, teardown),
  };
  return cmocka_run_group_tests_name("upload_exit", tests, NULL, NULL);
}
