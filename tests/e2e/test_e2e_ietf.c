/* End to end in the IETF draft dialect (RESUMABLE_PROTOCOL_IETF): the real stager against the
 * real server (libmicrohttpd host in-process), through the fault proxy: resume through cuts
 * (HEAD on the upload URL, PATCH from the offset held), the URL store across runs, cancellation
 * on cancel, and the key from the filename metadata. */
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

#include "e2e_fixture.h"
#include "e2e_util.h"
#include "test_fs.h"
#include "faultproxy.h"

#define MIB (1024ULL * 1024ULL)

static resumable_stager *ietf_stager(e2e_fx *f, const char *url, const char *path, const char *name)
{
  resumable_stager *st = e2e_stager(url ? url : f->endpoint, path);
  assert_non_null(st);
  assert_int_equal(resumable_stager_set_protocol(st, RESUMABLE_PROTOCOL_IETF), RESUMABLE_OK);
  assert_int_equal(resumable_stager_add_metadata(st, "filename", name), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_url_store_dir(st, f->store), RESUMABLE_OK);
  return st;
}

static void check_stored(e2e_fx *f, const char *key, const char *sha)
{
  char path[700], got[65];
  snprintf(path, sizeof path, "%s/%s", f->root, key);
  assert_int_equal(e2e_sha256_file(path, got), 0);
  assert_string_equal(got, sha);
}

static int partial_files(e2e_fx *f)
{
  char cmd[700];
  snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s/.resumable/partial)\"", f->root);
  return system(cmd) == 0 ? 0 : 1;
}

/* Chunks through three cuts, with or without Content-Digest: `digest` 0 (a cut keeps the bytes
 * that arrived, so no request is sent twice whole) or 1 (a cut request's bytes are provisional
 * and dropped, so each cut costs at most that one request, and a whole request can be lost when
 * the client had written all of it before the cut). */
static void chunks_through_cuts(e2e_fx *f, int digest)
{
  char sha[65];
  char *path = e2e_fx_file(f, "cut.bin", 12 * MIB, 1, sha);
  resumable_stager *st = ietf_stager(f, NULL, path, "cut.bin");
  assert_int_equal(resumable_stager_set_chunk_size(st, 2 * MIB), RESUMABLE_OK);
  assert_int_equal(resumable_stager_set_chunk_digest(st, digest), RESUMABLE_OK);
  fp_set_cut(f->proxy, 3 * MIB, 3);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(fp_cuts(f->proxy), 3);
  assert_int_equal(resumable_stager_protocol_used(st), RESUMABLE_PROTOCOL_IETF);
  print_message("# wire bytes %llu\n", (unsigned long long)resumable_stager_wire_bytes(st));
  if (digest)
    assert_true(resumable_stager_wire_bytes(st) <= 12 * MIB + 3 * 2 * MIB);
  else
    assert_true(resumable_stager_wire_bytes(st) < 12 * MIB + 3 * 2 * MIB);
  assert_int_equal(resumable_stager_restarts(st), 0);
  assert_true(resumable_stager_attempts(st) >= 4);
  check_stored(f, "cut.bin", sha);
  assert_int_equal(partial_files(f), 0);
  resumable_stager_free(st);
  free(path);
}

static void chunks_resume_through_cuts(void **state)
{
  chunks_through_cuts(*state, 0);
}

static void digested_chunks_resume_through_cuts(void **state)
{
  chunks_through_cuts(*state, 1);
}

static void one_request_resumes_through_cuts_at_a_key(void **state)
{
  e2e_fx *f = *state;
  char sha[65], url[300];
  char *path = e2e_fx_file(f, "one.bin", 8 * MIB, 4, sha);
  snprintf(url, sizeof url, "%sdir/one.bin", f->endpoint);
  resumable_stager *st = ietf_stager(f, url, path, "ignored-at-a-key");
  fp_set_cut(f->proxy, 3 * MIB, 2);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(fp_cuts(f->proxy), 2);
  print_message("# wire bytes %llu\n", (unsigned long long)resumable_stager_wire_bytes(st));
  /* no new upload: each cut costs at most the bytes in flight of its request (socket buffers
   * on a loaded machine can hold megabytes, so the bound is the request, not the cut point) */
  assert_int_equal(resumable_stager_restarts(st), 0);
  assert_true(resumable_stager_attempts(st) >= 3);
  assert_true(resumable_stager_wire_bytes(st) < 8 * MIB + 2 * 8 * MIB);
  check_stored(f, "dir/one.bin", sha);
  resumable_stager_free(st);
  free(path);
}

static void a_later_run_resumes_the_stored_upload(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = e2e_fx_file(f, "again.bin", 16 * MIB, 2, sha);
  resumable_stager *st = ietf_stager(f, NULL, path, "again.bin");
  e2e_progress prog;
  e2e_progress_init(&prog);
  prog.cancel_at = 6 * MIB;
  assert_int_equal(resumable_stager_set_progress(st, e2e_progress_cb, &prog), RESUMABLE_OK);
  fp_set_rate(f->proxy, 16 * MIB);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_E_CANCELLED);
  char url[2100];
  snprintf(url, sizeof url, "%s", resumable_stager_upload_url(st));
  assert_true(strlen(url) > 0);
  resumable_stager_free(st);
  e2e_progress_destroy(&prog);
  fp_set_rate(f->proxy, 0);
  st = ietf_stager(f, NULL, path, "again.bin");
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_true(resumable_stager_resumed_from(st) > 0);
  assert_true(resumable_stager_resumed_from(st) < 16 * MIB);
  assert_string_equal(resumable_stager_upload_url(st), url);
  check_stored(f, "again.bin", sha);
  resumable_stager_free(st);
  st = ietf_stager(f, NULL, path, "again.bin");
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_true(resumable_stager_already_there(st));
  assert_int_equal(resumable_stager_wire_bytes(st), 0);
  resumable_stager_free(st);
  free(path);
}

static void cancel_remote_cancels_the_upload(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = e2e_fx_file(f, "gone.bin", 16 * MIB, 3, sha);
  resumable_stager *st = ietf_stager(f, NULL, path, "gone.bin");
  assert_int_equal(resumable_stager_set_cancel_remote(st, 1), RESUMABLE_OK);
  e2e_progress prog;
  e2e_progress_init(&prog);
  prog.cancel_at = 6 * MIB;
  assert_int_equal(resumable_stager_set_progress(st, e2e_progress_cb, &prog), RESUMABLE_OK);
  fp_set_rate(f->proxy, 16 * MIB);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_E_CANCELLED);
  resumable_stager_free(st);
  e2e_progress_destroy(&prog);
  fp_set_rate(f->proxy, 0);
  assert_int_equal(partial_files(f), 0);
  st = ietf_stager(f, NULL, path, "gone.bin");
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(resumable_stager_resumed_from(st), 0);
  check_stored(f, "gone.bin", sha);
  resumable_stager_free(st);
  free(path);
}

#define T(name) cmocka_unit_test_setup_teardown(name, e2e_fx_setup, e2e_fx_teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(chunks_resume_through_cuts),
      T(digested_chunks_resume_through_cuts),
      T(one_request_resumes_through_cuts_at_a_key),
      T(a_later_run_resumes_the_stored_upload),
      T(cancel_remote_cancels_the_upload),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
