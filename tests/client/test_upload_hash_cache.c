/* resumable-upload (the real binary) and its hash cache: where it writes, that a second run
 * reuses it, and that --no-hash-cache writes nothing. HOME and XDG_CACHE_HOME always point into
 * a temporary directory: the test never touches the real ~/.cache.
 *
 * argv[1]: the resumable-upload binary. argv[2]: a file to upload, from the source tree (its
 * timestamps are old, so the cache's fresh-file rule does not keep it out of the cache). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hex.h"
#include "script_server.h"
#include "sha256.h"
#include "test_fs.h"

extern char **environ;

static const char *g_upload;
static const char *g_file;

typedef struct fixture {
  char root[64];
  char xdg[96];
  char home[96];
  char sha[65];
  char url[128];
  char size_hdrs[160];
  script_answer answers[4];
  script_server *srv;
} fixture;

static void file_sha(const char *path, char hex[65], uint64_t *size)
{
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  rs_sha256 h;
  rs_sha256_init(&h);
  unsigned char buf[4096];
  size_t n;
  *size = 0;
  while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
    rs_sha256_update(&h, buf, n);
    *size += n;
  }
  fclose(fp);
  uint8_t d[32];
  rs_sha256_finish(&h, d);
  rs_sha256_free(&h);
  rs_sha256_hex_format(d, hex);
}

/* A server for two uploads: each gets a 404 to its probe and a 200 to its PUT. */
static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->root, sizeof f->root, "/tmp/upload-hc-XXXXXX");
  assert_non_null(mkdtemp(f->root));
  snprintf(f->xdg, sizeof f->xdg, "%s/xdg", f->root);
  snprintf(f->home, sizeof f->home, "%s/home", f->root);
  assert_int_equal(mkdir(f->home, 0700), 0);
  uint64_t size = 0;
  file_sha(g_file, f->sha, &size);
  snprintf(f->size_hdrs, sizeof f->size_hdrs, "X-Content-SHA256: $SHA\nX-File-Size: %llu\n",
           (unsigned long long)size);
  for (int i = 0; i < 4; i += 2) {
    f->answers[i] = (script_answer){404, NULL, NULL, 0};
    f->answers[i + 1] = (script_answer){200, f->size_hdrs, NULL, 0};
  }
  f->srv = script_start(f->answers, 4, f->sha);
  assert_non_null(f->srv);
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/v1/files/k", script_port(f->srv));
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  script_stop(f->srv);
  test_remove_tree(f->root);
  free(f);
  return 0;
}

/* Run resumable-upload --json --quiet [extra] FILE URL with HOME (and XDG_CACHE_HOME unless
 * NULL) pointing into the temporary directory, the rest of the environment kept (sanitizer
 * options). Captures stdout; returns the exit status. */
static int spawn_upload(fixture *f, const char *xdg, const char *extra, char *out, size_t cap)
{
  char *envp[256];
  int n = 0;
  for (char **e = environ; *e && n < 250; e++)
    if (strncmp(*e, "HOME=", 5) != 0 && strncmp(*e, "XDG_CACHE_HOME=", 15) != 0)
      envp[n++] = *e;
  char h[160], x[160];
  snprintf(h, sizeof h, "HOME=%s", f->home);
  envp[n++] = h;
  if (xdg) {
    snprintf(x, sizeof x, "XDG_CACHE_HOME=%s", xdg);
    envp[n++] = x;
  }
  envp[n] = NULL;
  char *argv[10];
  int a = 0;
  argv[a++] = (char *)g_upload;
  argv[a++] = "--json";
  argv[a++] = "--quiet";
  argv[a++] = "--protocol=localai"; /* the scripted server speaks only LocalAI's protocol */
  if (extra)
    argv[a++] = (char *)extra;
  argv[a++] = (char *)g_file;
  argv[a++] = f->url;
  argv[a] = NULL;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
  assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO), 0);
  assert_int_equal(posix_spawn_file_actions_addclose(&fa, fds[0]), 0);
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, g_upload, &fa, NULL, argv, envp), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  size_t used = 0;
  ssize_t r;
  while ((r = read(fds[0], out + used, cap - 1 - used)) > 0)
    used += (size_t)r;
  out[used] = '\0';
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static int exists(const char *dir, const char *rel)
{
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  return access(p, F_OK) == 0;
}

static void cli_caches_under_xdg_cache_home_and_reuses_it(void **state)
{
  fixture *f = *state;
  char out[4096];
  assert_int_equal(spawn_upload(f, f->xdg, NULL, out, sizeof out), 0);
  assert_non_null(strstr(out, "\"hash_cached\": false"));
  assert_non_null(strstr(out, f->sha));
  assert_true(exists(f->xdg, "libresumable/hashes-v1"));
  assert_false(exists(f->home, ".cache"));
  assert_int_equal(spawn_upload(f, f->xdg, NULL, out, sizeof out), 0);
  assert_non_null(strstr(out, "\"hash_cached\": true"));
  assert_int_equal(script_count(f->srv), 4);
}

static void cli_without_xdg_uses_the_home_cache(void **state)
{
  fixture *f = *state;
  char out[4096];
  assert_int_equal(spawn_upload(f, NULL, NULL, out, sizeof out), 0);
  assert_true(exists(f->home, ".cache/libresumable/hashes-v1"));
  struct stat st;
  char p[160];
  snprintf(p, sizeof p, "%s/.cache/libresumable", f->home);
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  assert_false(exists(f->root, "xdg"));
}

static void cli_no_hash_cache_writes_nothing(void **state)
{
  fixture *f = *state;
  char out[4096];
  assert_int_equal(spawn_upload(f, f->xdg, "--no-hash-cache", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"hash_cached\": false"));
  assert_int_equal(spawn_upload(f, f->xdg, "--no-hash-cache", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"hash_cached\": false")); /* hashed again */
  assert_false(exists(f->root, "xdg"));
  assert_false(exists(f->home, ".cache"));
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: %s RESUMABLE-UPLOAD FILE\n", argv[0]);
    return 2;
  }
  g_upload = argv[1];
  g_file = argv[2];
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(cli_caches_under_xdg_cache_home_and_reuses_it),
      T(cli_without_xdg_uses_the_home_cache),
      T(cli_no_hash_cache_writes_nothing),
#undef T
  };
  return cmocka_run_group_tests_name("upload_hash_cache", tests, NULL, NULL);
}
