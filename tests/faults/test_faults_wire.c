/* Storage faults over the wire: the real libmicrohttpd host on loopback (port 0), requests from
 * libcurl and uploads by the stager, against a store whose writes, syncs or renames fail on
 * command. The client sees 507 or 500, the store keeps what was durable, and once the fault is
 * lifted the upload resumes and completes with the right hash. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_fixture.h"
#include "itest.h"
#include "resumable/stager.h"

#define SIZE (4u << 20)
#define CHUNK (1u << 20)

typedef struct wfix {
  it_server *s;
  uint8_t *v1, *v2;
  char h1[65], h2[65];
  char file[96]; /* the local file the stager uploads (v2) */
} wfix;

static int setup(void **state)
{
  wfix *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  rs_fault_lift();
  ff_log_reset();
  assert_int_equal(it_setup((void **)&f->s), 0);
  /* before any request: connection threads start after this */
  assert_int_equal(resumable_server_set_log(f->s->srv, ff_log_fn, NULL), RESUMABLE_OK);
  f->v1 = malloc(SIZE);
  f->v2 = malloc(SIZE);
  assert_non_null(f->v1);
  assert_non_null(f->v2);
  ff_fill(f->v1, SIZE, 11);
  ff_fill(f->v2, SIZE, 12);
  ff_sha_hex(f->v1, SIZE, f->h1);
  ff_sha_hex(f->v2, SIZE, f->h2);
  snprintf(f->file, sizeof(f->file), "%s/upload.bin", f->s->parent);
  FILE *out = fopen(f->file, "wb");
  assert_non_null(out);
  assert_int_equal(fwrite(f->v2, 1, SIZE, out), SIZE);
  assert_int_equal(fclose(out), 0);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  wfix *f = *state;
  rs_fault_lift();
  it_teardown((void **)&f->s);
  free(f->v1);
  free(f->v2);
  free(f);
  return 0;
}

static long put_range(wfix *f, const char *key, const uint8_t *data, const char *hash,
                      uint64_t start, uint64_t end, it_resp *out)
{
  char range[96];
  snprintf(range, sizeof(range), "bytes %llu-%llu/%u", (unsigned long long)start,
           (unsigned long long)end, SIZE);
  return it_put(f->s, key, range, hash, data + start, (size_t)(end - start + 1), out);
}

/* The final path holds exactly `data`. */
static void assert_final(wfix *f, const char *key, const uint8_t *data)
{
  size_t len = 0;
  uint8_t *got = ff_read(f->s->root, key, &len);
  assert_non_null(got);
  assert_int_equal(len, SIZE);
  assert_memory_equal(got, data, SIZE);
  free(got);
}

static void wire_full_disk_mid_chunk_is_507_and_curl_resumes(void **state)
{
  wfix *f = *state;
  it_resp r;
  char rel[128];
  size_t len = 0;
  assert_int_equal(put_range(f, "m", f->v1, f->h1, 0, CHUNK - 1, NULL), 308);
  rs_fault_fail_after_bytes(CHUNK / 2, ENOSPC);
  assert_int_equal(put_range(f, "m", f->v1, f->h1, CHUNK, SIZE - 1, &r), 507);
  assert_non_null(strstr(r.body, "no space"));
  it_resp_free(&r);
  assert_int_equal(it_head(f->s, "m", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), CHUNK); /* the last 308 */
  assert_int_equal(it_header_num(&r, "X-Upload-Total"), SIZE);
  it_resp_free(&r);
  ff_partial_data("m", rel, sizeof(rel));
  uint8_t *got = ff_read(f->s->root, rel, &len);
  assert_non_null(got);
  assert_true(len >= CHUNK);
  assert_memory_equal(got, f->v1, CHUNK);
  free(got);
  assert_false(ff_exists(f->s->root, "m"));
  rs_fault_lift();
  assert_int_equal(put_range(f, "m", f->v1, f->h1, CHUNK, SIZE - 1, &r), 200);
  char sha[80];
  assert_non_null(it_header(&r, "X-Content-SHA256", sha, sizeof(sha)));
  assert_string_equal(sha, f->h1);
  it_resp_free(&r);
  assert_final(f, "m", f->v1);
}

static void wire_eio_on_sync_is_500_with_a_log_line(void **state)
{
  wfix *f = *state;
  it_resp r;
  assert_int_equal(put_range(f, "e", f->v1, f->h1, 0, CHUNK - 1, NULL), 308);
  rs_fault_fail_call(RS_FAULT_SYNC, 1, 0, EIO);
  assert_int_equal(put_range(f, "e", f->v1, f->h1, CHUNK, 2 * CHUNK - 1, &r), 500);
  assert_non_null(strstr(r.body, "storage error"));
  it_resp_free(&r);
  assert_true(ff_log_has_error("PUT /e: store sync failed: storage I/O error"));
  assert_int_equal(it_head(f->s, "e", &r), 200);
  assert_int_equal(it_header_num(&r, "X-File-Size"), CHUNK);
  it_resp_free(&r);
  rs_fault_lift();
  assert_int_equal(put_range(f, "e", f->v1, f->h1, CHUNK, SIZE - 1, NULL), 200);
  assert_final(f, "e", f->v1);
}

static void wire_whole_file_put_enospc_leaves_nothing_behind(void **state)
{
  wfix *f = *state;
  it_resp r;
  rs_fault_fail_after_bytes(CHUNK, ENOSPC);
  assert_int_equal(it_put(f->s, "w", NULL, f->h1, f->v1, SIZE, &r), 507);
  it_resp_free(&r);
  assert_int_equal(ff_tmp_count(f->s->root), 0);
  assert_false(ff_exists(f->s->root, "w"));
  assert_int_equal(it_head(f->s, "w", NULL), 404);
  rs_fault_lift();
  assert_int_equal(it_put(f->s, "w", NULL, f->h1, f->v1, SIZE, NULL), 200);
  assert_final(f, "w", f->v1);
}

/* The stager's view: what happened while it ran. */
typedef struct watch {
  wfix *f;
  const char *key;
  int waits;    /* WAITING callbacks seen */
  int lifted;   /* the fault was lifted (at the first wait) */
  int old_kept; /* while waiting, the final path still held v1 exactly */
} watch;

/* Lift the fault once the stager backs off after the server's 5xx. */
static int on_progress(void *user_data, const resumable_progress *p)
{
  watch *w = user_data;
  if (p->phase != RESUMABLE_PHASE_WAITING || w->lifted)
    return 0;
  w->waits++;
  size_t len = 0;
  uint8_t *got = ff_read(w->f->s->root, w->key, &len);
  w->old_kept = got && len == SIZE && memcmp(got, w->f->v1, SIZE) == 0;
  free(got);
  rs_fault_lift();
  w->lifted = 1;
  return 0;
}

static resumable_stager *stager_for(wfix *f, const char *key, watch *w)
{
  char url[256];
  resumable_stager *st = NULL;
  snprintf(url, sizeof(url), "http://127.0.0.1:%u%s%s", (unsigned)f->s->port, IT_PREFIX, key);
  assert_int_equal(resumable_stager_new(&st, url, f->file), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_backoff_ms(st, 1, 10), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_jitter(st, RESUMABLE_JITTER_NONE), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_time_budget_ms(st, 60000), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_progress(st, on_progress, w), RESUMABLE_OK);
  return st;
}

static void wire_stager_rides_out_a_full_disk(void **state)
{
  wfix *f = *state;
  watch w = {.f = f, .key = "s"};
  resumable_stager *st = stager_for(f, "s", &w);
  assert_int_equal(resumable_stager_set_chunk_size(st, CHUNK), RESUMABLE_OK);
  rs_fault_fail_after_bytes(CHUNK + CHUNK / 2, ENOSPC); /* fills during the second chunk */
  assert_int_equal(resumable_stager_run(st), RESUMABLE_OK);
  assert_true(w.lifted);
  assert_string_equal(resumable_stager_sha256(st), f->h2);
  /* it resumed from the bytes the server kept (the first chunk), it did not restart */
  assert_int_equal(resumable_stager_restarts(st), 0);
  assert_true(resumable_stager_attempts(st) >= 2);
  assert_true(resumable_stager_wire_bytes(st) <= SIZE + CHUNK);
  resumable_stager_free(st);
  assert_final(f, "s", f->v2);
  assert_true(ff_log_has_error("PUT /s: store write failed"));
}

/* The last chunk's commit fails once (the rename into place): the old complete file is served
 * meanwhile, the handler keeps every byte as a partial, and the stager's retry finishes the
 * commit without sending the body again. */
static void wire_stager_finishes_a_commit_that_failed(void **state)
{
  wfix *f = *state;
  watch w = {.f = f, .key = "c"};
  assert_int_equal(it_put(f->s, "c", NULL, f->h1, f->v1, SIZE, NULL), 200);
  resumable_stager *st = stager_for(f, "c", &w);
  /* 1: the partial's record when it is created, 2: the file itself, 3: its sidecar (written
   * after the rename, which changes the file's ctime) */
  rs_fault_fail_call(RS_FAULT_RENAME, 2, 1, ENOSPC);
  assert_int_equal(resumable_stager_run(st), RESUMABLE_OK);
  assert_true(w.lifted);
  assert_true(w.old_kept);
  assert_int_equal(resumable_stager_wire_bytes(st), SIZE);
  assert_int_equal(resumable_stager_restarts(st), 0);
  resumable_stager_free(st);
  assert_final(f, "c", f->v2);
  assert_true(ff_log_has_error("PUT /c: store commit failed"));
  it_resp r;
  assert_int_equal(it_head(f->s, "c", &r), 200);
  char sha[80];
  assert_non_null(it_header(&r, "X-Content-SHA256", sha, sizeof(sha)));
  assert_string_equal(sha, f->h2);
  it_resp_free(&r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(wire_full_disk_mid_chunk_is_507_and_curl_resumes),
      T(wire_eio_on_sync_is_500_with_a_log_line),
      T(wire_whole_file_put_enospc_leaves_nothing_behind),
      T(wire_stager_rides_out_a_full_disk),
      T(wire_stager_finishes_a_commit_that_failed),
  };
  assert_int_equal(resumable_global_init(), RESUMABLE_OK);
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  resumable_global_cleanup();
  return rc;
}
