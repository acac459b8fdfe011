/* The resumable-serve child: fork/exec, its ready line read from a pipe, reaping. */
#define _GNU_SOURCE /* close_range */
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

#include "test_proc.h"
#include "tt.h"

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
    close_range(3, ~0U, 0); /* see test_proc.c: no test socket lives on in the host */
    execv(s->exe, argv);
    _exit(127);
  }
  close(p[1]);
  (void)setpgid(pid, pid); /* whichever of parent and child gets there first */
  s->pid = pid;
  char line[256];
  uint16_t port = 0;
  int rc = test_read_port(p[0], timeout_ms, line, sizeof line, &port);
  close(p[0]); /* it prints nothing else; it ignores SIGPIPE */
  if (rc == 0) {
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
