/* The handler on the real POSIX store (no wire): restart survival through the saved hash state,
 * conflict mapping, and threads racing on one key and on many. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
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

#include "hex.h"
#include "resumable/error.h"
#include "resumable/server.h"
#include "sha256.h"
#include "test_fs.h"

typedef struct fsfix {
  char root[64];
  resumable_server *srv;
} fsfix;

static int setup(void **state)
{
  fsfix *fx = calloc(1, sizeof(*fx));
  assert_int_equal(test_temp_dir(fx->root, sizeof(fx->root), "handler"), 0);
  assert_int_equal(resumable_server_new(&fx->srv, fx->root), RESUMABLE_OK);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fsfix *fx = *state;
  resumable_server_free(fx->srv);
  (void)test_remove_tree(fx->root);
  free(fx);
  return 0;
}

typedef struct result {
  int status;
  char size[32];
  char sha[80];
} result;

static void copy_header(resumable_exchange *ex, const char *name, char *out, size_t cap)
{
  out[0] = '\0';
  for (size_t i = 0; i < resumable_exchange_header_count(ex); i++) {
    const char *n, *v;
    resumable_exchange_header_at(ex, i, &n, &v);
    if (strcmp(n, name) == 0)
      snprintf(out, cap, "%s", v);
  }
}

/* One request; the body is fed in `piece`-byte parts. */
static result run(resumable_server *srv, const char *method, const char *path, const char *range,
                  const char *hash, const uint8_t *body, size_t len, size_t piece)
{
  resumable_exchange *ex = NULL;
  result r;
  char cl[32];
  assert_int_equal(resumable_exchange_begin(srv, method, path, &ex), RESUMABLE_OK);
  if (range)
    resumable_exchange_add_header(ex, "Content-Range", range);
  if (hash)
    resumable_exchange_add_header(ex, "X-Content-SHA256", hash);
  if (strcmp(method, "PUT") == 0) {
    snprintf(cl, sizeof(cl), "%zu", len);
    resumable_exchange_add_header(ex, "Content-Length", cl);
  }
  if (resumable_exchange_headers_done(ex) == 0) {
    size_t off = 0;
    while (off < len) {
      size_t n = len - off < piece ? len - off : piece;
      if (resumable_exchange_feed(ex, body + off, n) != 0)
        break;
      off += n;
    }
    resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE);
  }
  r.status = resumable_exchange_status(ex);
  copy_header(ex, "X-File-Size", r.size, sizeof(r.size));
  copy_header(ex, "X-Content-SHA256", r.sha, sizeof(r.sha));
  resumable_exchange_free(ex);
  return r;
}

static void hex_of(const uint8_t *d, size_t n, char out[65])
{
  uint8_t dig[32];
  rs_sha256_digest(d, n, dig);
  rs_sha256_hex_format(dig, out);
}

static void fs_upload_resumes_after_server_restart(void **state)
{
  fsfix *fx = *state;
  const uint8_t *data = (const uint8_t *)"helloworld";
  char hash[65];
  hex_of(data, 10, hash);
  result r = run(fx->srv, "PUT", "/v1/files/dir/f", "bytes 0-4/10", hash, data, 5, 2);
  assert_int_equal(r.status, 308);
  resumable_server_free(fx->srv);
  assert_int_equal(resumable_server_new(&fx->srv, fx->root), RESUMABLE_OK);
  r = run(fx->srv, "HEAD", "/v1/files/dir/f", NULL, NULL, NULL, 0, 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.size, "5");
  assert_string_equal(r.sha, "");
  r = run(fx->srv, "PUT", "/v1/files/dir/f", "bytes 5-9/10", hash, data + 5, 5, 3);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.sha, hash);
  char path[128], buf[16] = "";
  snprintf(path, sizeof(path), "%s/dir/f", fx->root);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fread(buf, 1, sizeof(buf), f), 10);
  fclose(f);
  assert_memory_equal(buf, "helloworld", 10);
  r = run(fx->srv, "HEAD", "/v1/files/dir/f", NULL, NULL, NULL, 0, 1);
  assert_string_equal(r.sha, hash);
}

static void fs_key_below_a_file_is_409(void **state)
{
  fsfix *fx = *state;
  result r = run(fx->srv, "PUT", "/v1/files/a", NULL, NULL, (const uint8_t *)"x", 1, 1);
  assert_int_equal(r.status, 200);
  r = run(fx->srv, "PUT", "/v1/files/a/b", NULL, NULL, (const uint8_t *)"y", 1, 1);
  assert_int_equal(r.status, 409);
}

/* "<root>/.resumable/partial/<hex of key>.data" */
static void data_path(const fsfix *fx, const char *key, char *out, size_t cap)
{
  uint8_t d[32];
  char hex[65];
  rs_sha256_digest(key, strlen(key), d);
  rs_sha256_hex_format(d, hex);
  snprintf(out, cap, "%s/.resumable/partial/%s.data", fx->root, hex);
}

/* Write `c` at `at` of the file in place, then set its mtime back: same length, same mtime. */
static void overwrite_keeping_mtime(const char *path, long at, char c)
{
  struct stat before;
  assert_int_equal(stat(path, &before), 0);
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, &c, 1, at), 1);
  close(fd);
  struct timespec t[2] = {before.st_atim, before.st_mtim};
  assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* A held byte of a partial flipped behind the server's back: finishing the upload must not be
 * answered 200 with the client's hash (the stored bytes do not have it). */
static void fs_damaged_partial_is_never_certified(void **state)
{
  fsfix *fx = *state;
  const uint8_t *data = (const uint8_t *)"helloworld";
  char hash[65], path[256], final[256];
  hex_of(data, 10, hash);
  result r = run(fx->srv, "PUT", "/v1/files/dmg", "bytes 0-4/10", hash, data, 5, 5);
  assert_int_equal(r.status, 308);
  data_path(fx, "dmg", path, sizeof(path));
  overwrite_keeping_mtime(path, 1, 'a'); /* "hallo" */
  r = run(fx->srv, "PUT", "/v1/files/dmg", "bytes 5-9/10", hash, data + 5, 5, 5);
  assert_int_equal(r.status, 400); /* the bytes' SHA-256 is not the bound one */
  snprintf(final, sizeof(final), "%s/dmg", fx->root);
  assert_int_equal(access(final, F_OK), -1);
  assert_int_equal(run(fx->srv, "HEAD", "/v1/files/dmg", NULL, NULL, NULL, 0, 1).status, 404);
  /* The client starts again from 0 and succeeds. */
  r = run(fx->srv, "PUT", "/v1/files/dmg", "bytes 0-9/10", hash, data, 10, 3);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.sha, hash);
}

/* A complete file edited in place with its mtime set back is answered with its new hash. */
static void fs_complete_file_edited_keeping_mtime_gets_its_new_hash(void **state)
{
  fsfix *fx = *state;
  const uint8_t *data = (const uint8_t *)"helloworld";
  char hash[65], edited[65], path[256];
  hex_of(data, 10, hash);
  hex_of((const uint8_t *)"jelloworld", 10, edited);
  assert_int_equal(run(fx->srv, "PUT", "/v1/files/c", NULL, hash, data, 10, 10).status, 200);
  assert_string_equal(run(fx->srv, "HEAD", "/v1/files/c", NULL, NULL, NULL, 0, 1).sha, hash);
  snprintf(path, sizeof(path), "%s/c", fx->root);
  overwrite_keeping_mtime(path, 0, 'j');
  result r = run(fx->srv, "HEAD", "/v1/files/c", NULL, NULL, NULL, 0, 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.sha, edited);
  r = run(fx->srv, "GET", "/v1/files/c", NULL, NULL, NULL, 0, 1);
  assert_string_equal(r.sha, edited);
  /* "Already there" is judged against the real bytes too: the old hash uploads again. */
  r = run(fx->srv, "PUT", "/v1/files/c", "bytes 0-9/10", hash, data, 10, 10);
  assert_int_equal(r.status, 200);
  assert_string_equal(run(fx->srv, "HEAD", "/v1/files/c", NULL, NULL, NULL, 0, 1).sha, hash);
}

static int rebuilds;
static void count_rebuilds(void *user, resumable_log_level level, const char *msg)
{
  (void)user;
  (void)level;
  rebuilds += strstr(msg, "rebuilding the SHA-256") != NULL;
}

/* A partial whose hash state had to be rebuilt (its file changed) records the rebuilt state:
 * the next request does not read the prefix again. */
static void fs_rebuilt_hash_state_is_recorded(void **state)
{
  fsfix *fx = *state;
  const uint8_t *data = (const uint8_t *)"helloworld";
  char hash[65], path[256];
  hex_of(data, 10, hash);
  rebuilds = 0;
  resumable_server_set_log(fx->srv, count_rebuilds, NULL);
  assert_int_equal(run(fx->srv, "PUT", "/v1/files/rb", "bytes 0-3/10", hash, data, 4, 4).status,
                   308);
  data_path(fx, "rb", path, sizeof(path));
  assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0); /* same bytes, new times */
  assert_int_equal(run(fx->srv, "PUT", "/v1/files/rb", "bytes 4-5/10", hash, data + 4, 2, 2).status,
                   308);
  assert_int_equal(rebuilds, 1);
  assert_int_equal(run(fx->srv, "PUT", "/v1/files/rb", "bytes 6-6/10", hash, data + 6, 1, 1).status,
                   308);
  result r = run(fx->srv, "PUT", "/v1/files/rb", "bytes 7-9/10", hash, data + 7, 3, 3);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.sha, hash);
  assert_int_equal(rebuilds, 1);
}

/* The reply body of an exchange that was refused with a text. */
static int body_has(resumable_exchange *ex, const char *needle)
{
  char buf[512];
  size_t got = 0;
  assert_int_equal(resumable_exchange_read_body(ex, buf, sizeof(buf) - 1, &got), RESUMABLE_OK);
  buf[got] = '\0';
  return strstr(buf, needle) != NULL;
}

/* After DELETE a/b, the directory a (emptied) goes, and a is an ordinary key again. */
static void fs_delete_removes_emptied_directories(void **state)
{
  fsfix *fx = *state;
  char path[256];
  assert_int_equal(
      run(fx->srv, "PUT", "/v1/files/a/b", NULL, NULL, (const uint8_t *)"x", 1, 1).status, 200);
  assert_int_equal(run(fx->srv, "DELETE", "/v1/files/a/b", NULL, NULL, NULL, 0, 1).status, 204);
  snprintf(path, sizeof(path), "%s/a", fx->root);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(run(fx->srv, "HEAD", "/v1/files/a", NULL, NULL, NULL, 0, 1).status, 404);
  assert_int_equal(
      run(fx->srv, "PUT", "/v1/files/a", NULL, NULL, (const uint8_t *)"y", 1, 1).status, 200);
  assert_int_equal(run(fx->srv, "HEAD", "/v1/files/a", NULL, NULL, NULL, 0, 1).status, 200);
}

/* A directory at the key, or a file where a parent directory would be: the key holds no file,
 * so HEAD, GET and DELETE answer 404 whatever is on disk there. */
static void fs_absent_key_is_404_whatever_is_on_disk(void **state)
{
  fsfix *fx = *state;
  char path[256];
  assert_int_equal(
      run(fx->srv, "PUT", "/v1/files/d/x", NULL, NULL, (const uint8_t *)"x", 1, 1).status, 200);
  snprintf(path, sizeof(path), "%s/empty", fx->root);
  assert_int_equal(mkdir(path, 0755), 0);
  static const char *const absent[] = {"/v1/files/d", "/v1/files/d/x/y", "/v1/files/empty"};
  static const char *const methods[] = {"HEAD", "GET", "DELETE"};
  for (size_t k = 0; k < 3; k++)
    for (size_t m = 0; m < 3; m++)
      assert_int_equal(run(fx->srv, methods[m], absent[k], NULL, NULL, NULL, 0, 1).status, 404);
  assert_int_equal(run(fx->srv, "HEAD", "/v1/files/d/x", NULL, NULL, NULL, 0, 1).status, 200);
}

/* A refused PUT of `path`: 409 with a text that says why. */
static void assert_conflict(fsfix *fx, const char *path, const char *range)
{
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "PUT", path, &ex), RESUMABLE_OK);
  if (range)
    resumable_exchange_add_header(ex, "Content-Range", range);
  resumable_exchange_add_header(ex, "Content-Length", "5");
  assert_int_equal(resumable_exchange_headers_done(ex), 1); /* answered before any body */
  assert_int_equal(resumable_exchange_status(ex), 409);
  assert_true(body_has(ex, "conflicts with another key"));
  resumable_exchange_free(ex);
}

/* While e/f is partial, e may not become a file (that would strand e/f): refused at its start,
 * and e/f still finishes. */
static void fs_partial_below_refuses_a_file_at_its_parent(void **state)
{
  fsfix *fx = *state;
  const uint8_t *data = (const uint8_t *)"helloworld";
  char hash[65];
  hex_of(data, 10, hash);
  assert_int_equal(run(fx->srv, "PUT", "/v1/files/e/f", "bytes 0-4/10", hash, data, 5, 5).status,
                   308);
  assert_conflict(fx, "/v1/files/e", NULL);
  assert_conflict(fx, "/v1/files/e", "bytes 0-4/5");
  result r = run(fx->srv, "PUT", "/v1/files/e/f", "bytes 5-9/10", hash, data + 5, 5, 5);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.sha, hash);
}

/* While e is partial, nothing may begin below it (e will be a file). */
static void fs_partial_refuses_keys_below_it(void **state)
{
  fsfix *fx = *state;
  const uint8_t *data = (const uint8_t *)"helloworld";
  char hash[65];
  hex_of(data, 10, hash);
  assert_int_equal(run(fx->srv, "PUT", "/v1/files/e", "bytes 0-4/10", hash, data, 5, 5).status,
                   308);
  assert_conflict(fx, "/v1/files/e/f", NULL);
  assert_conflict(fx, "/v1/files/e/f/g", "bytes 0-4/5");
  result r = run(fx->srv, "PUT", "/v1/files/e", "bytes 5-9/10", hash, data + 5, 5, 5);
  assert_int_equal(r.status, 200);
}

/* A whole-file PUT of e whose body is on its way when a chunked upload of e/f begins: e loses
 * at its end (409), e/f is not stranded. */
static void fs_whole_file_put_loses_to_a_partial_begun_below_it(void **state)
{
  fsfix *fx = *state;
  const uint8_t *data = (const uint8_t *)"helloworld";
  char hash[65];
  hex_of(data, 10, hash);
  resumable_exchange *ex = NULL;
  assert_int_equal(resumable_exchange_begin(fx->srv, "PUT", "/v1/files/e", &ex), RESUMABLE_OK);
  resumable_exchange_add_header(ex, "Content-Length", "4");
  assert_int_equal(resumable_exchange_headers_done(ex), 0);
  assert_int_equal(resumable_exchange_feed(ex, "ab", 2), 0);
  assert_int_equal(run(fx->srv, "PUT", "/v1/files/e/f", "bytes 0-4/10", hash, data, 5, 5).status,
                   308);
  assert_int_equal(resumable_exchange_feed(ex, "cd", 2), 0);
  resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE);
  assert_int_equal(resumable_exchange_status(ex), 409);
  resumable_exchange_free(ex);
  result r = run(fx->srv, "PUT", "/v1/files/e/f", "bytes 5-9/10", hash, data + 5, 5, 5);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.sha, hash);
}

#define RACE_SIZE (1024u * 1024u)

typedef struct racer {
  resumable_server *srv;
  const char *path;
  const uint8_t *data;
  const char *hash;
  pthread_barrier_t *start; /* racers begin together */
  int done;
  int puts;
} racer;

/* Probe, resume from what the server holds, repeat until the file is complete. */
static void *race(void *arg)
{
  racer *rc = arg;
  pthread_barrier_wait(rc->start);
  for (int round = 0; round < 10000 && !rc->done; round++) {
    result h = run(rc->srv, "HEAD", rc->path, NULL, NULL, NULL, 0, 1);
    if (h.status == 200 && strcmp(h.sha, rc->hash) == 0) {
      rc->done = 1;
      break;
    }
    uint64_t held = h.status == 200 ? strtoull(h.size, NULL, 10) : 0;
    if (held >= RACE_SIZE)
      held = 0;
    char range[64];
    snprintf(range, sizeof(range), "bytes %llu-%u/%u", (unsigned long long)held, RACE_SIZE - 1,
             RACE_SIZE);
    result p = run(rc->srv, "PUT", rc->path, range, rc->hash, rc->data + held,
                   RACE_SIZE - (size_t)held, 1024);
    rc->puts++;
    if (p.status == 200)
      rc->done = 1;
  }
  return NULL;
}

static void fs_racing_writers_on_one_key_produce_the_exact_file(void **state)
{
  fsfix *fx = *state;
  uint8_t *data = malloc(RACE_SIZE);
  for (size_t i = 0; i < RACE_SIZE; i++)
    data[i] = (uint8_t)(i * 7 + i / 251);
  char hash[65];
  hex_of(data, RACE_SIZE, hash);
  racer rc[3];
  pthread_t t[3];
  pthread_barrier_t start;
  assert_int_equal(pthread_barrier_init(&start, NULL, 3), 0);
  for (int i = 0; i < 3; i++) {
    rc[i] = (racer){fx->srv, "/v1/files/race", data, hash, &start, 0, 0};
    assert_int_equal(pthread_create(&t[i], NULL, race, &rc[i]), 0);
  }
  int puts = 0;
  for (int i = 0; i < 3; i++) {
    pthread_join(t[i], NULL);
    assert_true(rc[i].done);
    puts += rc[i].puts;
  }
  pthread_barrier_destroy(&start);
  assert_true(puts >= 1);
  result h = run(fx->srv, "HEAD", "/v1/files/race", NULL, NULL, NULL, 0, 1);
  assert_int_equal(h.status, 200);
  assert_string_equal(h.sha, hash);
  free(data);
}

static void *upload_own_key(void *arg)
{
  racer *rc = arg;
  result r = run(rc->srv, "PUT", rc->path, NULL, rc->hash, rc->data, 1000, 100);
  rc->done = r.status == 200;
  return NULL;
}

static void fs_parallel_keys_upload_independently(void **state)
{
  fsfix *fx = *state;
  uint8_t data[1000];
  memset(data, 'k', sizeof(data));
  char hash[65], paths[8][32];
  hex_of(data, sizeof(data), hash);
  racer rc[8];
  pthread_t t[8];
  for (int i = 0; i < 8; i++) {
    snprintf(paths[i], sizeof(paths[i]), "/v1/files/p/%d", i);
    rc[i] = (racer){fx->srv, paths[i], data, hash, NULL, 0, 0};
    assert_int_equal(pthread_create(&t[i], NULL, upload_own_key, &rc[i]), 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    assert_true(rc[i].done);
  }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(fs_upload_resumes_after_server_restart),
      T(fs_key_below_a_file_is_409),
      T(fs_damaged_partial_is_never_certified),
      T(fs_complete_file_edited_keeping_mtime_gets_its_new_hash),
      T(fs_rebuilt_hash_state_is_recorded),
      T(fs_delete_removes_emptied_directories),
      T(fs_absent_key_is_404_whatever_is_on_disk),
      T(fs_partial_below_refuses_a_file_at_its_parent),
      T(fs_partial_refuses_keys_below_it),
      T(fs_whole_file_put_loses_to_a_partial_begun_below_it),
      T(fs_racing_writers_on_one_key_produce_the_exact_file),
      T(fs_parallel_keys_upload_independently),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
