/* The resumable-serve child: fork/exec, its ready line read from a pipe, reaping. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tt.h"

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line from fd, waiting with poll() until the deadline. 0, or -1 on EOF/timeout/error. */
static int read_line(int fd, char *line, size_t cap, int timeout_ms)
{
  int64_t deadline = now_ms() + timeout_ms;
  size_t len = 0;
  while (len + 1 < cap) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return -1;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, (int)left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    ssize_t got = read(fd, line + len, 1);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return -1;
    if (line[len] == '\n') {
      line[len] = '\0';
      return 0;
    }
    len++;
  }
  return -1;
}

int tt_serve_start(tt_serve *s, int timeout_ms)
{
  int p[2];
  if (pipe(p) != 0)
    return -1;
  (void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
  (void)fcntl(p[1], F_SETFD, FD_CLOEXEC); /* dup2 onto 1 clears it in the child */
  char *argv[40] = {(char *)s->exe, "--port", "0", "--root", (char *)s->root, NULL};
  for (size_t i = 0, n = 5; s->extra && s->extra[i] && n + 1 < sizeof argv / sizeof argv[0];)
    argv[n++] = (char *)s->extra[i++];
  /* Processes a multi-process host leaves when its leader dies become ours to reap. */
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) { /* only async-signal-safe calls until exec */
    if (setpgid(0, 0) != 0 || dup2(p[1], 1) < 0 || dup2(s->log_fd, 2) < 0)
      _exit(126);
    execv(s->exe, argv);
    _exit(127);
  }
  close(p[1]);
  (void)setpgid(pid, pid); /* whichever of parent and child gets there first */
  s->pid = pid;
  char line[256];
  int rc = read_line(p[0], line, sizeof line, timeout_ms);
  close(p[0]); /* it prints nothing else; it ignores SIGPIPE */
  unsigned port = 0;
  if (rc == 0 && sscanf(line, "listening on http://127.0.0.1:%u/", &port) == 1 && port > 0 &&
      port < 65536) {
    snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%u/v1/files/", port);
    return 0;
  }
  (void)tt_serve_kill(s, SIGKILL);
  (void)tt_serve_reap(s);
  return -1;
}

int tt_serve_kill(const tt_serve *s, int sig)
{
  return s->pid > 0 ? kill(-s->pid, sig) : 0;
}

int tt_serve_reap(tt_serve *s)
{
  int st = 0;
  if (s->pid <= 0)
    return 0;
  while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
  }
  /* The rest of its group (an nginx worker): gone before the root is looked at. */
  int other = 0;
  while (waitpid(-s->pid, &other, 0) > 0 || errno == EINTR) {
  }
  s->pid = 0;
  return st;
}
