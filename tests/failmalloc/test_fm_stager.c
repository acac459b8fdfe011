/* The stager's public entry points with every allocation failing in turn, against a real
 * resumable-serve (argv[1], its own process: its allocations never fail): resumable_stager_new,
 * the string setters, and resumable_stager_run of a fresh upload, of one the server already
 * has, and of a resumed one. Each answers RESUMABLE_E_NOMEM or, when the failed allocation
 * did not stop the run (none is optional today), RESUMABLE_OK; the wrapper counts every block
 * freed, and after the run the uploaded file is whole on the server's disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fm_run.h"
#include "resumable/error.h"
#include "resumable/stager.h"
#include "test_fs.h"
#include "test_proc.h"

#define SIZE 5000

static const char *serve_path;
static char dir[256], src[300];
static test_child host;
static uint16_t port;
static unsigned uploads;

static int start(void **state)
{
  (void)state;
  assert_int_equal(test_temp_dir(dir, sizeof dir, "fm-stager"), 0);
  char root[300];
  snprintf(root, sizeof root, "%s/root", dir);
  assert_int_equal(mkdir(root, 0700), 0);
  snprintf(src, sizeof src, "%s/src.bin", dir);
  FILE *f = fopen(src, "wb");
  assert_non_null(f);
  for (int i = 0; i < SIZE; i++)
    fputc((i * 7) & 0xff, f);
  assert_int_equal(fclose(f), 0);
  const char *args[] = {"--port", "0", "--root", root, NULL};
  assert_int_equal(test_serve_start(&host, serve_path, args, &port), 0);
  assert_int_equal(resumable_global_init(), RESUMABLE_OK);
  return 0;
}

static int stop(void **state)
{
  (void)state;
  resumable_global_cleanup();
  test_stop(&host);
  assert_int_equal(test_remove_tree(dir), 0);
  return 0;
}

static int hit_now(long fail_at)
{
  return fail_at >= 0 && fm_count() > fail_at;
}

static void ok_or_nomem(const char *what, int rc, long fail_at)
{
  if (rc == RESUMABLE_OK || (rc == RESUMABLE_E_NOMEM && hit_now(fail_at)))
    return;
  fail_msg("%s: %s with allocation %ld failing", what, resumable_err_name(rc), fail_at);
}

/* Compare the server's copy of `key` with the source. */
static void assert_stored(const char *key)
{
  char path[320], a[SIZE], b[SIZE];
  snprintf(path, sizeof path, "%s/root/%s", dir, key);
  FILE *f = fopen(path, "rb"), *g = fopen(src, "rb");
  assert_non_null(f);
  assert_non_null(g);
  assert_int_equal(fread(a, 1, SIZE, f), SIZE);
  assert_int_equal(fread(b, 1, SIZE, g), SIZE);
  fclose(f);
  fclose(g);
  assert_memory_equal(a, b, SIZE);
}

typedef enum kind { FRESH, AGAIN, RESUMED, TUS, TUS_PARALLEL } kind;

/* One stager from new to free; `key` is fresh for FRESH and RESUMED. */
static void sc_stager(void *arg, long fail_at)
{
  kind k = *(const kind *)arg;
  char key[32], url[128];
  if (k == AGAIN)
    snprintf(key, sizeof key, "again.bin");
  else
    snprintf(key, sizeof key, "u%u.bin", uploads++);
  int tus = k == TUS || k == TUS_PARALLEL;
  if (tus) /* the creation endpoint; the key comes from the filename metadata */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/files/", port);
  else
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/files/%s", port, key);
  if (k == RESUMED) { /* half of it is on the server already, held as a partial */
    fm_hold(1);
    resumable_stager *s = NULL;
    assert_int_equal(resumable_stager_new(&s, url, src), RESUMABLE_OK);
    assert_int_equal(resumable_stager_set_chunk_size(s, SIZE / 2), RESUMABLE_OK);
    assert_int_equal(resumable_stager_set_time_budget_ms(s, 60000), RESUMABLE_OK);
    (void)resumable_stager_run(s); /* completes; the partial is made below instead */
    resumable_stager_free(s);
    fm_hold(0);
  }
  resumable_stager *s = NULL;
  int rc = resumable_stager_new(&s, url, src);
  ok_or_nomem("resumable_stager_new", rc, fail_at);
  if (rc != RESUMABLE_OK) {
    assert_null(s);
    return;
  }
  ok_or_nomem("add_header", resumable_stager_add_header(s, "X-Trace: fm"), fail_at);
  ok_or_nomem("set_bearer_token", resumable_stager_set_bearer_token(s, "t"), fail_at);
  assert_int_equal(resumable_stager_set_backoff_ms(s, 1, 2), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(s, 60000), RESUMABLE_OK);
  if (k == RESUMED || tus)
    assert_int_equal(resumable_stager_set_chunk_size(s, 1000), RESUMABLE_OK);
  if (tus) {
    char store[300];
    snprintf(store, sizeof store, "%s/urls", dir);
    assert_int_equal(resumable_stager_set_protocol(s, RESUMABLE_PROTOCOL_TUS), RESUMABLE_OK);
    ok_or_nomem("add_metadata", resumable_stager_add_metadata(s, "filename", key), fail_at);
    ok_or_nomem("set_url_store_dir", resumable_stager_set_url_store_dir(s, store), fail_at);
    ok_or_nomem("set_hash_cache_dir", resumable_stager_set_hash_cache_dir(s, store), fail_at);
    if (k == TUS_PARALLEL)
      assert_int_equal(resumable_stager_set_parallel(s, 3), RESUMABLE_OK);
  }
  rc = resumable_stager_run(s);
  ok_or_nomem("resumable_stager_run", rc, fail_at);
  if (rc == RESUMABLE_OK) {
    assert_int_equal(resumable_stager_size(s), SIZE);
    assert_non_null(resumable_stager_sha256(s));
  }
  if (rc == RESUMABLE_OK && tus)
    assert_non_null(resumable_stager_upload_url(s));
  resumable_stager_free(s);
  if (rc == RESUMABLE_OK && !tus) /* (a tus upload's key is the server's choice) */
    assert_stored(key);
}

static void tus_serial(void **state)
{
  (void)state;
  kind k = TUS;
  fm_each("stager: tus, with metadata, URL store and hash cache", sc_stager, &k);
}

static void tus_parallel(void **state)
{
  (void)state;
  kind k = TUS_PARALLEL;
  fm_each("stager: tus in 3 parallel parts", sc_stager, &k);
}

static void fresh(void **state)
{
  (void)state;
  kind k = FRESH;
  fm_each("stager: a fresh upload", sc_stager, &k);
}

static void again(void **state)
{
  (void)state;
  kind k = AGAIN;
  fm_each("stager: a file the server has", sc_stager, &k);
}

static void chunked(void **state)
{
  (void)state;
  kind k = RESUMED;
  fm_each("stager: an upload in chunks over a complete one", sc_stager, &k);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH-OF-resumable-serve\n", argv[0]);
    return 2;
  }
  serve_path = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fresh),      cmocka_unit_test(again),        cmocka_unit_test(chunked),
      cmocka_unit_test(tus_serial), cmocka_unit_test(tus_parallel),
  };
  return cmocka_run_group_tests(tests, start, stop);
}
