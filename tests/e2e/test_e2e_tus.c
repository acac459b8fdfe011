/* End to end in the tus dialect: the real stager against the real server (libmicrohttpd host
 * in-process), through the fault proxy: resume through cuts with per-request checksums, the URL
 * store across runs, termination on cancel, the key from the filename metadata, and parallel
 * connections (concatenation), cut and resumed. */
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

/* A tus stager to the proxy's endpoint, with the file name as metadata and the URL store. */
static resumable_stager *tus_stager(e2e_fx *f, const char *path, const char *name)
{
  resumable_stager *st = e2e_stager(f->endpoint, path);
  assert_non_null(st);
  assert_int_equal(resumable_stager_set_protocol(st, RESUMABLE_PROTOCOL_TUS), RESUMABLE_OK);
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

static void checksummed_chunks_resume_through_cuts(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = e2e_fx_file(f, "cut.bin", 12 * MIB, 1, sha);
  resumable_stager *st = tus_stager(f, path, "cut.bin");
  assert_int_equal(resumable_stager_set_chunk_size(st, 2 * MIB), RESUMABLE_OK);
  fp_set_cut(f->proxy, 3 * MIB, 3);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(fp_cuts(f->proxy), 3);
  assert_int_equal(resumable_stager_protocol_used(st), RESUMABLE_PROTOCOL_TUS);
  /* each cut loses at most the request in flight: far less than starting over */
  assert_true(resumable_stager_wire_bytes(st) < 12 * MIB + 3 * 2 * MIB + MIB);
  assert_true(resumable_stager_attempts(st) >= 4);
  check_stored(f, "cut.bin", sha); /* the key came from the filename metadata */
  resumable_stager_free(st);
  free(path);
}

static void a_later_run_resumes_the_stored_upload(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = e2e_fx_file(f, "again.bin", 16 * MIB, 2, sha);
  resumable_stager *st = tus_stager(f, path, "again.bin");
  e2e_progress prog;
  e2e_progress_init(&prog);
  prog.cancel_at = 6 * MIB;
  assert_int_equal(resumable_stager_set_progress(st, e2e_progress_cb, &prog), RESUMABLE_OK);
  fp_set_rate(f->proxy, 16 * MIB); /* so that the cancel lands mid-way */
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_E_CANCELLED);
  char url[2100];
  snprintf(url, sizeof url, "%s", resumable_stager_upload_url(st));
  assert_true(strlen(url) > 0);
  resumable_stager_free(st);
  e2e_progress_destroy(&prog);
  fp_set_rate(f->proxy, 0);
  st = tus_stager(f, path, "again.bin");
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_true(resumable_stager_resumed_from(st) > 0);
  assert_true(resumable_stager_resumed_from(st) < 16 * MIB);
  assert_string_equal(resumable_stager_upload_url(st), url); /* the same upload */
  check_stored(f, "again.bin", sha);
  resumable_stager_free(st);
  /* and once more: found complete through the store, nothing sent */
  st = tus_stager(f, path, "again.bin");
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_true(resumable_stager_already_there(st));
  assert_int_equal(resumable_stager_wire_bytes(st), 0);
  resumable_stager_free(st);
  free(path);
}

static void cancel_remote_terminates_the_upload(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = e2e_fx_file(f, "gone.bin", 16 * MIB, 3, sha);
  resumable_stager *st = tus_stager(f, path, "gone.bin");
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
  assert_int_equal(partial_files(f), 0); /* deleted on the server */
  st = tus_stager(f, path, "gone.bin");
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(resumable_stager_resumed_from(st), 0); /* and forgotten by the store */
  check_stored(f, "gone.bin", sha);
  resumable_stager_free(st);
  free(path);
}

static void parallel_parts_through_cuts_are_concatenated(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = e2e_fx_file(f, "par.bin", 24 * MIB, 4, sha);
  resumable_stager *st = tus_stager(f, path, "par.bin");
  assert_int_equal(resumable_stager_set_parallel(st, 4), RESUMABLE_OK);
  fp_set_cut(f->proxy, 5 * MIB, 3);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_int_equal(fp_cuts(f->proxy), 3);
  assert_true(fp_accepted(f->proxy) >= 4); /* (connections are reused across parts) */
  /* a checksummed request counts only once whole: each cut costs at most one part's request
   * (6 MiB here), not the upload */
  assert_true(resumable_stager_wire_bytes(st) < 24 * MIB + 4 * 6 * MIB);
  check_stored(f, "par.bin", sha);
  assert_int_equal(partial_files(f), 0); /* the parts are gone after the commit */
  char want[300];
  snprintf(want, sizeof want, "%spar.bin", f->endpoint);
  assert_string_equal(resumable_stager_upload_url(st), want);
  resumable_stager_free(st);
  free(path);
}

static void parallel_parts_resume_in_a_later_run(void **state)
{
  e2e_fx *f = *state;
  char sha[65];
  char *path = e2e_fx_file(f, "parr.bin", 24 * MIB, 5, sha);
  resumable_stager *st = tus_stager(f, path, "parr.bin");
  assert_int_equal(resumable_stager_set_parallel(st, 4), RESUMABLE_OK);
  /* a checksummed request counts only once whole: small ones, so that the cancel keeps most */
  assert_int_equal(resumable_stager_set_chunk_size(st, MIB), RESUMABLE_OK);
  e2e_progress prog;
  e2e_progress_init(&prog);
  prog.cancel_at = 10 * MIB;
  assert_int_equal(resumable_stager_set_progress(st, e2e_progress_cb, &prog), RESUMABLE_OK);
  fp_set_rate(f->proxy, 16 * MIB);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_E_CANCELLED);
  resumable_stager_free(st);
  e2e_progress_destroy(&prog);
  fp_set_rate(f->proxy, 0);
  assert_int_equal(partial_files(f), 1); /* the parts wait on the server */
  st = tus_stager(f, path, "parr.bin");
  assert_int_equal(resumable_stager_set_parallel(st, 4), RESUMABLE_OK);
  assert_int_equal(e2e_run(st, NULL), RESUMABLE_OK);
  assert_true(resumable_stager_resumed_from(st) > 0); /* the parts went on where they stood */
  assert_true(resumable_stager_wire_bytes(st) < 24 * MIB);
  check_stored(f, "parr.bin", sha);
  assert_int_equal(partial_files(f), 0);
  resumable_stager_free(st);
  free(path);
}

#define T(name) cmocka_unit_test_setup_teardown(name, e2e_fx_setup, e2e_fx_teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(checksummed_chunks_resume_through_cuts), T(a_later_run_resumes_the_stored_upload),
      T(cancel_remote_terminates_the_upload),    T(parallel_parts_through_cuts_are_concatenated),
      T(parallel_parts_resume_in_a_later_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
