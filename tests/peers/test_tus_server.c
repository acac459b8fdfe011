/* resumable-upload (the stager, in the tus dialect) against @tus/server + @tus/file-store (the
 * real ones, from npm, pinned in package-lock.json), through the fault proxy: it must resume
 * through cuts and across runs (its URL store), find the server's dialect by itself, send the
 * filename metadata, and fall back to one connection for --parallel without concatenation; the
 * stored file must be the source byte for byte. */
#include "peer_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultproxy.h"

#define SIZE (8u << 20)

typedef struct fx {
  char dir[64];
  char store[128], src[128], log[160];
  peer_proc node;
  fp_proxy *proxy;
  char endpoint[128];
} fx;

static int setup(void **state)
{
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  peer_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->store, sizeof f->store, "%s/store", f->dir);
  snprintf(f->src, sizeof f->src, "%s/source.bin", f->dir);
  snprintf(f->log, sizeof f->log, "%s/tus-server.log", f->dir);
  peer_fill_file(f->src, SIZE, 7);
  char script[512];
  snprintf(script, sizeof script, "%s/tus_server.mjs", peer_env("PEERS_DIR"));
  const char *argv[] = {peer_env("NODE"), script, f->store, NULL};
  peer_start(&f->node, argv, f->log, "listening on http://127.0.0.1:");
  assert_int_equal(fp_start(&f->proxy, "127.0.0.1", f->node.port), 0);
  snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%u/files/",
           (unsigned)fp_port(f->proxy));
  /* the stager's URL store and hash cache go to this test's own directory */
  assert_int_equal(setenv("HOME", f->dir, 1), 0);
  unsetenv("XDG_STATE_HOME");
  unsetenv("XDG_CACHE_HOME");
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  fp_stop(f->proxy);
  peer_stop(&f->node);
  peer_rmdir(f->dir);
  free(f);
  return 0;
}

/* resumable-upload --json --quiet [more...] SOURCE ENDPOINT; its exit status, JSON in *out. */
static int upload(fx *f, const char *const *more, char **out)
{
  const char *argv[24] = {peer_env("RESUMABLE_UPLOAD"),
                          "--json",
                          "--quiet",
                          "--backoff-min",
                          "50",
                          "--backoff-max",
                          "200"};
  size_t n = 7;
  if (getenv("PEERS_VERBOSE") != NULL)
    argv[n++] = "--verbose";
  for (size_t i = 0; more != NULL && more[i] != NULL && n < 21; i++)
    argv[n++] = more[i];
  argv[n++] = f->src;
  argv[n++] = f->endpoint;
  argv[n] = NULL;
  int rc = peer_run(argv, 300, out);
  if (getenv("PEERS_VERBOSE") != NULL || (rc != 0 && rc != 3))
    print_message("# resumable-upload said:\n%s\n", *out);
  return rc;
}

/* A string field of the JSON result into buf ("" if absent). */
static const char *json_str(const char *json, const char *name, char *buf, size_t cap)
{
  char key[64];
  snprintf(key, sizeof key, "\"%s\": \"", name);
  const char *p = strstr(json, key);
  buf[0] = '\0';
  if (p != NULL) {
    p += strlen(key);
    size_t n = strcspn(p, "\"");
    snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
  }
  return buf;
}

static long long json_num(const char *json, const char *name)
{
  char key[64];
  snprintf(key, sizeof key, "\"%s\": ", name);
  const char *p = strstr(json, key);
  return p != NULL ? atoll(p + strlen(key)) : -1;
}

/* The file @tus/file-store wrote for the upload at `url` (its id is the last segment). */
static void check_stored(fx *f, const char *url)
{
  const char *id = strrchr(url, '/');
  assert_non_null(id);
  char path[300];
  snprintf(path, sizeof path, "%s%s", f->store, id);
  peer_assert_same_file(f->src, path);
}

static void uploads_through_cuts(void **state)
{
  fx *f = *state;
  fp_set_cut(f->proxy, 1500u * 1024, 3);
  char *out = NULL, url[512], proto[16];
  const char *more[] = {"--protocol", "tus", NULL};
  assert_int_equal(upload(f, more, &out), 0);
  assert_int_equal(fp_cuts(f->proxy), 3);
  assert_string_equal(json_str(out, "protocol", proto, sizeof proto), "tus");
  assert_true(json_num(out, "attempts") >= 4);
  /* resumed, not restarted: what reached the server is the file and little more (starting
   * over after each cut would have forwarded the 3 x 1.5 MiB before the cuts again) */
  if (getenv("PEERS_VERBOSE") != NULL)
    print_message("# upstream %llu\n", (unsigned long long)fp_upstream_bytes(f->proxy));
  assert_true(fp_upstream_bytes(f->proxy) < SIZE + (1u << 20));
  check_stored(f, json_str(out, "upload_url", url, sizeof url));
  free(out);
}

static void a_later_run_resumes_from_the_url_store(void **state)
{
  fx *f = *state;
  char *out = NULL, url[512], url2[512];
  /* the budget ends mid-way (the client's own rate limit: nothing waits in buffers) */
  const char *first[] = {"--budget", "1.2", "--limit-rate", "3M", NULL};
  assert_int_equal(upload(f, first, &out), 3);
  json_str(out, "upload_url", url, sizeof url);
  assert_true(strlen(url) > 0);
  free(out);
  assert_int_equal(upload(f, NULL, &out), 0); /* --protocol auto: OPTIONS finds tus */
  assert_true(json_num(out, "resumed_from") > 0);
  assert_true(json_num(out, "resumed_from") < SIZE);
  assert_string_equal(json_str(out, "upload_url", url2, sizeof url2), url); /* same upload */
  check_stored(f, url);
  free(out);
  /* the metadata went along: @tus/file-store keeps it in <id>.json */
  char meta[300], *cat = NULL;
  snprintf(meta, sizeof meta, "%s%s.json", f->store, strrchr(url, '/'));
  const char *argv[] = {"/bin/cat", meta, NULL};
  assert_int_equal(peer_run(argv, 30, &cat), 0);
  assert_non_null(strstr(cat, "source.bin"));
  free(cat);
}

static void parallel_without_concatenation_uses_one_connection(void **state)
{
  fx *f = *state;
  char *out = NULL, url[512];
  const char *more[] = {"--parallel", "4", "--no-url-store", NULL};
  assert_int_equal(upload(f, more, &out), 0);
  assert_int_equal(fp_accepted(f->proxy), 1); /* @tus/file-store lists no concatenation */
  check_stored(f, json_str(out, "upload_url", url, sizeof url));
  free(out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(uploads_through_cuts, setup, teardown),
      cmocka_unit_test_setup_teardown(a_later_run_resumes_from_the_url_store, setup, teardown),
      cmocka_unit_test_setup_teardown(parallel_without_concatenation_uses_one_connection, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
