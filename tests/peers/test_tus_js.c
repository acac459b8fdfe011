/* tus-js-client (the real one, from npm, pinned in package-lock.json) uploads to resumable-serve
 * through the fault proxy, which cuts its connections: it must resume (HEAD, then PATCH from the
 * offset held) and the stored file must be the source byte for byte, with its SHA-256; in one
 * request per file, in chunks with creation-with-upload, with parallelUploads (concatenation),
 * and across a crash of the client process (killed mid-upload; it resumes from its URL storage).
 * The same client in its 'ietf-draft-05' mode speaks the IETF resumable-upload draft (interop
 * version 6) to the same server: one request, chunks, and a crash. */
#include "peer_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "faultproxy.h"

#define SIZE (8u << 20)
#define CUT_EVERY (1500u * 1024)
#define STOP_AT 3000000u /* upstream bytes before the first client of a restart dies */

typedef struct fx {
  char dir[64];
  char root[128], src[128], log[160];
  peer_proc serve;
  fp_proxy *proxy;
  char endpoint[128];
} fx;

static int setup(void **state)
{
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  peer_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->root, sizeof f->root, "%s/root", f->dir);
  snprintf(f->src, sizeof f->src, "%s/source.bin", f->dir);
  snprintf(f->log, sizeof f->log, "%s/serve.log", f->dir);
  peer_fill_file(f->src, SIZE, 42);
  const char *argv[] = {peer_env("RESUMABLE_SERVE"), "--root", f->root, "--port", "0", NULL};
  peer_start(&f->serve, argv, f->log, "listening on http://127.0.0.1:");
  assert_int_equal(fp_start(&f->proxy, "127.0.0.1", f->serve.port), 0);
  snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%u/v1/files/",
           (unsigned)fp_port(f->proxy));
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  fp_stop(f->proxy);
  peer_stop(&f->serve);
  peer_rmdir(f->dir);
  free(f);
  return 0;
}

/* Run the tus-js-client driver with extra arguments; returns its exit status, output in *out. */
static int tus_js(fx *f, const char *name, const char *const *more, char **out)
{
  char script[512];
  snprintf(script, sizeof script, "%s/tus_js_upload.mjs", peer_env("PEERS_DIR"));
  const char *argv[24] = {peer_env("NODE"), script, f->endpoint, f->src, "--name", name};
  size_t n = 6;
  for (size_t i = 0; more != NULL && more[i] != NULL && n < 23; i++)
    argv[n++] = more[i];
  argv[n] = NULL;
  int rc = peer_run(argv, 300, out);
  if (rc != 0 || getenv("PEERS_VERBOSE") != NULL)
    print_message("# tus-js-client said:\n%s\n", *out);
  return rc;
}

/* The stored file is the source, and the server's SHA-256 of it is the source's. */
static void check_stored(fx *f, const char *name)
{
  char path[256], url[256], want[65], got[65];
  snprintf(path, sizeof path, "%s/%s", f->root, name);
  peer_assert_same_file(f->src, path);
  assert_int_equal(peer_sha256_file(f->src, want), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/files/%s", (unsigned)f->serve.port, name);
  assert_int_equal(peer_head_sha256(url, got), 200);
  assert_string_equal(got, want);
}

static void one_request_resumes_after_cuts(void **state)
{
  fx *f = *state;
  fp_set_cut(f->proxy, CUT_EVERY, 3);
  char *out = NULL;
  assert_int_equal(tus_js(f, "single.bin", NULL, &out), 0);
  assert_int_equal(fp_cuts(f->proxy), 3);
  /* every cut was followed by a HEAD and a PATCH from a non-zero offset: no restart */
  assert_true(peer_count_lines(out, "head-offset ") >= 3);
  assert_int_equal(peer_count_lines(out, "head-offset 0\n"), 0);
  assert_int_equal(peer_count_lines(out, "request POST"), 1);
  check_stored(f, "single.bin");
  free(out);
}

static void chunks_with_creation_upload_resume_after_cuts(void **state)
{
  fx *f = *state;
  fp_set_cut(f->proxy, CUT_EVERY, 3);
  char *out = NULL;
  const char *more[] = {"--chunk-size", "1048576", "--with-upload", "--override-patch", NULL};
  assert_int_equal(tus_js(f, "chunks.bin", more, &out), 0);
  assert_int_equal(fp_cuts(f->proxy), 3);
  assert_true(peer_count_lines(out, "request POST") >= 8); /* PATCH as POST + override */
  check_stored(f, "chunks.bin");
  free(out);
}

static void parallel_uploads_concatenate_after_cuts(void **state)
{
  fx *f = *state;
  fp_set_cut(f->proxy, CUT_EVERY, 3);
  char *out = NULL;
  const char *more[] = {"--parallel", "4", NULL};
  assert_int_equal(tus_js(f, "parallel.bin", more, &out), 0);
  assert_int_equal(fp_cuts(f->proxy), 3);
  assert_int_equal(peer_count_lines(out, "request POST"), 5); /* 4 parts + the final */
  check_stored(f, "parallel.bin");
  /* the parts are gone once the final upload is committed */
  char parts[256];
  snprintf(parts, sizeof parts, "%s/.resumable/partial", f->root);
  char *cmd_out = NULL;
  const char *ls[] = {"/bin/ls", "-A", parts, NULL};
  assert_int_equal(peer_run(ls, 30, &cmd_out), 0);
  assert_string_equal(cmd_out, "");
  free(cmd_out);
  free(out);
}

/* The client dies part-way, as a crash does: the proxy stalls once STOP_AT bytes have gone to
 * the server, the client is killed (SIGKILL) with its URL saved in `store`, the proxy cuts the
 * connection, and the server keeps what its PATCH read. Returns that count, from the
 * server's log line for the PATCH, once the server has ended it. */
static long long crash_client_midway(fx *f, const char *name, const char *store,
                                     const char *protocol)
{
  char script[512], out[192], prefix[160], line[512];
  snprintf(script, sizeof script, "%s/tus_js_upload.mjs", peer_env("PEERS_DIR"));
  snprintf(out, sizeof out, "%s/first-client.out", f->dir);
  const char *argv[] = {peer_env("NODE"), script, f->endpoint,  f->src,   "--name", name,
                        "--store",        store,  "--protocol", protocol, NULL};
  fp_set_stall_after(f->proxy, STOP_AT);
  pid_t pid = peer_spawn(argv, out);
  if (fp_wait_stalled(f->proxy, 60000) != 0) {
    peer_kill(pid);
    fail_msg("the first client did not send %u bytes (see %s)", STOP_AT, out);
  }
  peer_kill(pid);
  fp_cut_all(f->proxy); /* the dead client's unsent bytes would hold its FIN back */
  snprintf(prefix, sizeof prefix, "PATCH \"%s\" ", name);
  peer_wait_line(f->log, prefix, line, sizeof line, 30000);
  fp_set_stall(f->proxy, 0);
  int status = 0;
  long long got = -1;
  assert_int_equal(sscanf(line + strlen(prefix), "%d %lld", &status, &got), 2);
  return got;
}

/* A second client process finds the upload in its URL storage and finishes it from the offset
 * the server holds: no new upload, no byte sent twice. */
static void restarted_client_resumes(fx *f, const char *name, const char *protocol)
{
  char store[160], *out = NULL;
  snprintf(store, sizeof store, "%s/tus-url-storage.json", f->dir);
  long long held = crash_client_midway(f, name, store, protocol);
  assert_true(held > 0 && held < STOP_AT);
  const char *second[] = {"--store", store, "--protocol", protocol, NULL};
  assert_int_equal(tus_js(f, name, second, &out), 0);
  assert_int_equal(peer_count_lines(out, "resuming "), 1);
  assert_int_equal(peer_count_lines(out, "request POST"), 0); /* no new upload */
  const char *h = strstr(out, "head-offset ");
  assert_non_null(h);
  assert_int_equal(atoll(h + 12), held); /* it continued where the server stopped */
  char from[64];
  snprintf(from, sizeof from, "request PATCH %lld\n", held);
  assert_int_equal(peer_count_lines(out, from), 1);
  assert_int_equal(peer_count_lines(out, "request PATCH 0\n"), 0);
  check_stored(f, name);
  free(out);
}

static void a_restarted_client_resumes_from_its_url_storage(void **state)
{
  restarted_client_resumes(*state, "restart.bin", "tus-v1");
}

static const char *const ietf[] = {"--protocol", "ietf-draft-05", NULL};

static void ietf_draft_one_request_resumes_after_cuts(void **state)
{
  fx *f = *state;
  fp_set_cut(f->proxy, CUT_EVERY, 3);
  char *out = NULL;
  assert_int_equal(tus_js(f, "ietf-single.bin", ietf, &out), 0);
  assert_int_equal(fp_cuts(f->proxy), 3);
  assert_true(peer_count_lines(out, "head-offset ") >= 3);
  assert_int_equal(peer_count_lines(out, "head-offset 0\n"), 0);
  assert_int_equal(peer_count_lines(out, "request POST"), 1);
  check_stored(f, "ietf-single.bin");
  free(out);
}

static void ietf_draft_chunks_with_creation_upload_resume_after_cuts(void **state)
{
  fx *f = *state;
  fp_set_cut(f->proxy, CUT_EVERY, 3);
  char *out = NULL;
  const char *more[] = {"--protocol", "ietf-draft-05", "--chunk-size",
                        "1048576",    "--with-upload", NULL};
  assert_int_equal(tus_js(f, "ietf-chunks.bin", more, &out), 0);
  assert_int_equal(fp_cuts(f->proxy), 3);
  assert_true(peer_count_lines(out, "request PATCH") >= 7);
  check_stored(f, "ietf-chunks.bin");
  free(out);
}

static void ietf_draft_restarted_client_resumes(void **state)
{
  restarted_client_resumes(*state, "ietf-restart.bin", "ietf-draft-05");
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_ALL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(one_request_resumes_after_cuts, setup, teardown),
      cmocka_unit_test_setup_teardown(chunks_with_creation_upload_resume_after_cuts, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(parallel_uploads_concatenate_after_cuts, setup, teardown),
      cmocka_unit_test_setup_teardown(a_restarted_client_resumes_from_its_url_storage, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(ietf_draft_one_request_resumes_after_cuts, setup, teardown),
      cmocka_unit_test_setup_teardown(ietf_draft_chunks_with_creation_upload_resume_after_cuts,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(ietf_draft_restarted_client_resumes, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
