/* See peer_util.h. posix_spawn_file_actions_addclosefrom_np is a GNU extension. */
#define _GNU_SOURCE
#include "peer_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"

#include "test_fs.h"

extern char **environ;

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Read from fd until `until` says stop or the deadline passes; appends to *buf. 0 at EOF. */
static int read_some(int fd, char **buf, size_t *len, size_t *cap, long long deadline)
{
  long long left = deadline - now_ms();
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (left <= 0 || poll(&p, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
    return 1;
  if (*len + 4097 > *cap) {
    *cap = (*cap + 4097) * 2;
    *buf = realloc(*buf, *cap);
    assert_non_null(*buf);
  }
  ssize_t n = read(fd, *buf + *len, 4096);
  if (n < 0 && errno == EINTR)
    return 1;
  if (n <= 0)
    return 0;
  *len += (size_t)n;
  (*buf)[*len] = '\0';
  return 1;
}

void peer_start(peer_proc *p, const char *const *argv, const char *log, const char *prefix)
{
  int o[2];
  assert_int_equal(pipe(o), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, o[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addclose(&fa, o[0]);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* see test_proc.c */
  int rc = posix_spawn(&p->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(o[1]);
  if (rc != 0)
    fail_msg("cannot start %s: %s", argv[0], strerror(rc));
  snprintf(p->log, sizeof p->log, "%s", log);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  long long deadline = now_ms() + 30000;
  while (now_ms() < deadline && (buf == NULL || strchr(buf, '\n') == NULL))
    if (!read_some(o[0], &buf, &len, &cap, deadline))
      break;
  close(o[0]); /* later stdout lines go nowhere: a peer must not block on them (EPIPE) */
  const char *at = buf != NULL ? strstr(buf, prefix) : NULL;
  if (at == NULL)
    fail_msg("%s did not announce its port (got: %s; see %s)", argv[0], buf ? buf : "", log);
  p->port = (uint16_t)atoi(at + strlen(prefix));
  assert_int_not_equal(p->port, 0);
  free(buf);
}

void peer_stop(peer_proc *p)
{
  if (p->pid <= 0)
    return;
  kill(p->pid, SIGTERM);
  long long deadline = now_ms() + 10000;
  int st;
  while (waitpid(p->pid, &st, WNOHANG) == 0) {
    if (now_ms() > deadline) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, &st, 0);
      break;
    }
    poll(NULL, 0, 10);
  }
  p->pid = 0;
}

pid_t peer_spawn(const char *const *argv, const char *out_path)
{
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* see test_proc.c */
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    fail_msg("cannot start %s: %s", argv[0], strerror(rc));
  return pid;
}

void peer_kill(pid_t pid)
{
  int st;
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(waitpid(pid, &st, 0), pid);
}

void peer_wait_line(const char *path, const char *prefix, char *line, size_t cap, int timeout_ms)
{
  long long deadline = now_ms() + timeout_ms;
  size_t plen = strlen(prefix);
  for (;;) {
    FILE *f = fopen(path, "r");
    char buf[2048];
    while (f != NULL && fgets(buf, sizeof buf, f) != NULL) {
      /* only a whole line: the writer may be part-way through it */
      char *nl = strchr(buf, '\n');
      if (nl != NULL && strncmp(buf, prefix, plen) == 0) {
        *nl = '\0';
        snprintf(line, cap, "%s", buf);
        fclose(f);
        return;
      }
    }
    if (f != NULL)
      fclose(f);
    if (now_ms() > deadline)
      fail_msg("no line \"%s...\" in %s within %d ms", prefix, path, timeout_ms);
    poll(NULL, 0, 10); /* the log has no other signal to wait on */
  }
}

int peer_run(const char *const *argv, int timeout_s, char **out)
{
  int o[2];
  assert_int_equal(pipe(o), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, o[1], 1);
  posix_spawn_file_actions_adddup2(&fa, o[1], 2);
  posix_spawn_file_actions_addclose(&fa, o[0]);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* see test_proc.c */
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(o[1]);
  if (rc != 0)
    fail_msg("cannot start %s: %s", argv[0], strerror(rc));
  char *buf = calloc(1, 1);
  size_t len = 0, cap = 1;
  long long deadline = now_ms() + (long long)timeout_s * 1000;
  while (now_ms() < deadline && read_some(o[0], &buf, &len, &cap, deadline)) {
  }
  close(o[0]);
  int st = 0, killed = 0;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (now_ms() > deadline) {
      kill(pid, SIGKILL);
      killed = 1;
      waitpid(pid, &st, 0);
      break;
    }
    poll(NULL, 0, 10);
  }
  *out = buf;
  if (killed)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *peer_env(const char *name)
{
  const char *v = getenv(name);
  if (v == NULL || *v == '\0')
    fail_msg("%s is not set (run this test through meson)", name);
  return v;
}

void peer_fill_file(const char *path, uint64_t size, unsigned seed)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
  unsigned char block[65536];
  for (uint64_t done = 0; done < size;) {
    for (size_t i = 0; i < sizeof block; i += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy(block + i, &x, 8);
    }
    size_t n = size - done < sizeof block ? (size_t)(size - done) : sizeof block;
    assert_int_equal(fwrite(block, 1, n, f), n);
    done += n;
  }
  assert_int_equal(fclose(f), 0);
}

int peer_sha256_file(const char *path, char hex[65])
{
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -1;
  mbedtls_sha256_context c;
  mbedtls_sha256_init(&c);
  mbedtls_sha256_starts_ret(&c, 0);
  unsigned char buf[65536], d[32];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    mbedtls_sha256_update_ret(&c, buf, n);
  fclose(f);
  mbedtls_sha256_finish_ret(&c, d);
  mbedtls_sha256_free(&c);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
  return 0;
}

void peer_assert_same_file(const char *a, const char *b)
{
  char ha[65], hb[65];
  if (peer_sha256_file(a, ha) != 0)
    fail_msg("cannot read %s", a);
  if (peer_sha256_file(b, hb) != 0)
    fail_msg("cannot read %s", b);
  assert_string_equal(ha, hb);
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  assert_true(fa != NULL && fb != NULL);
  unsigned char x[65536], y[65536];
  size_t n, m;
  do {
    n = fread(x, 1, sizeof x, fa);
    m = fread(y, 1, sizeof y, fb);
    assert_int_equal(n, m);
    assert_memory_equal(x, y, n);
  } while (n > 0);
  fclose(fa);
  fclose(fb);
}

int peer_count_lines(const char *text, const char *prefix)
{
  int n = 0;
  size_t plen = strlen(prefix);
  for (const char *p = text; p != NULL && *p != '\0';) {
    if (strncmp(p, prefix, plen) == 0)
      n++;
    p = strchr(p, '\n');
    if (p != NULL)
      p++;
  }
  return n;
}

static size_t header_cb(char *buf, size_t size, size_t nmemb, void *user)
{
  char *hex = user;
  size_t n = size * nmemb;
  if (n > 18 && strncasecmp(buf, "X-Content-SHA256:", 17) == 0) {
    const char *v = buf + 17;
    while (*v == ' ')
      v++;
    if (strlen(v) >= 64) {
      memcpy(hex, v, 64);
      hex[64] = '\0';
    }
  }
  return n;
}

long peer_head_sha256(const char *url, char hex[65])
{
  hex[0] = '\0';
  CURL *c = curl_easy_init();
  assert_non_null(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, hex);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  return status;
}

void peer_tmpdir(char *buf, size_t cap)
{
  snprintf(buf, cap, "/tmp/rs-peers-XXXXXX");
  assert_non_null(mkdtemp(buf));
}

void peer_rmdir(const char *path)
{
  assert_int_equal(test_remove_tree(path), 0);
}
