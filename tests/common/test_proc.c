/* See test_proc.h. */
#include "test_proc.h"

#include <stddef.h>
#include <sys/resource.h>
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
    close(o[0]);
    close(e[0]);
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
