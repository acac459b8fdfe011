/* See test_proc.h. close_range is a GNU extension (glibc 2.34). */
#define _GNU_SOURCE
#include "test_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARGS_MAX 30

static int spawn(test_child *c, const char *path, const char *const *args, long nofile)
{
  int o[2], e[2];
  if (pipe(o) != 0)
    return -1;
  if (pipe(e) != 0) {
    close(o[0]);
    close(o[1]);
    return -1;
  }
  c->pid = fork();
  if (c->pid == 0) {
    dup2(o[1], 1);
    dup2(e[1], 2);
    /* Nothing else of ours: a socket of a live test connection (a proxy's, a stager's) copied
     * into the child would stay open there after we close it, and its peer would wait for an
     * end that never comes. */
    close_range(3, ~0U, 0);
    if (nofile > 0) {
      struct rlimit rl = {.rlim_cur = (rlim_t)nofile, .rlim_max = (rlim_t)nofile};
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        _exit(126);
    }
    char *argv[ARGS_MAX + 2];
    size_t n = 0;
    argv[n++] = (char *)path;
    for (; args[n - 1] != NULL && n <= ARGS_MAX; n++)
      argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    execv(path, argv);
    _exit(127);
  }
  close(o[1]);
  close(e[1]);
  if (c->pid < 0) {
    close(o[0]);
    close(e[0]);
    return -1;
  }
  c->out = o[0];
  c->err = e[0];
  return 0;
}

int test_spawn(test_child *c, const char *path, const char *const *args)
{
  return spawn(c, path, args, 0);
}

int test_spawn_nofile(test_child *c, const char *path, const char *const *args, long nofile)
{
  return spawn(c, path, args, nofile);
}

int test_reap(test_child *c)
{
  int st = 0;
  pid_t got = waitpid(c->pid, &st, 0);
  close(c->out);
  close(c->err);
  if (got != c->pid)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int test_read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
  long long deadline = now_ms() + timeout_ms;
  size_t n = 0;
  int rc = -1;
  while (n + 1 < cap) {
    long long left = deadline - now_ms();
    if (left <= 0)
      break;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR)
      continue;
    char ch;
    ssize_t got = r > 0 ? read(fd, &ch, 1) : -1;
    if (got < 0 && errno == EINTR)
      continue;
    if (got != 1)
      break;
    if (ch == '\n') {
      rc = 0;
      break;
    }
    buf[n++] = ch;
  }
  if (cap > 0)
    buf[n] = '\0';
  return rc;
}

int test_read_port(int fd, int timeout_ms, char *line, size_t cap, uint16_t *port)
{
  unsigned p = 0;
  if (test_read_line(fd, line, cap, timeout_ms) != 0 ||
      sscanf(line, "listening on http://127.0.0.1:%u/", &p) != 1 || p == 0 || p > 65535)
    return -1;
  *port = (uint16_t)p;
  return 0;
}

int test_serve_start(test_child *c, const char *exe, const char *const *args, uint16_t *port)
{
  if (test_spawn(c, exe, args) != 0)
    return -1;
  char line[256];
  if (test_read_port(c->out, 60000, line, sizeof line, port) == 0)
    return 0;
  fprintf(stderr, "# %s did not start (stdout: \"%s\")\n", exe, line);
  kill(c->pid, SIGTERM);
  for (char err[256]; test_read_line(c->err, err, sizeof err, 1000) == 0;)
    fprintf(stderr, "# %s\n", err);
  test_reap(c);
  return -1;
}

int test_stop(test_child *c)
{
  kill(c->pid, SIGTERM);
  return test_reap(c);
}
