/* See s3_serve.h. */
#include "s3_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_proc.h"

/* The ready line, within 30 s. */
static int read_ready(int fd, uint16_t *port)
{
  char line[256];
  return test_read_port(fd, 30000, line, sizeof line, port);
}

int s3_serve_start(s3_serve *s, const char *exe, const s3_env *e, const char *prefix,
                   const char *const *extra)
{
  static int counter;
  int out[2];
  memset(s, 0, sizeof(*s));
  snprintf(s->log, sizeof(s->log), "/tmp/rs-s3-serve-%ld-%d.log", (long)getpid(), counter++);
  int log = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0 || pipe(out) != 0) {
    if (log >= 0)
      close(log);
    return -1;
  }
  const char *argv[40] = {exe,       "--port",        "0",         "--store",
                          "s3",      "--s3-endpoint", e->endpoint, "--s3-bucket",
                          e->bucket, "--s3-prefix",   prefix,      "--s3-part-size",
                          "5M",      "--partial-ttl", "0"};
  size_t n = 15;
  for (size_t i = 0; extra && extra[i] && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  setenv("AWS_ACCESS_KEY_ID", e->access, 1);
  setenv("AWS_SECRET_ACCESS_KEY", e->secret, 1);
  s->pid = fork();
  if (s->pid == 0) {
    dup2(out[1], 1);
    dup2(log, 2);
    execv(exe, (char *const *)argv);
    _exit(127);
  }
  close(out[1]);
  close(log);
  int rc = s->pid > 0 ? read_ready(out[0], &s->port) : -1;
  close(out[0]);
  if (rc != 0) {
    if (s->pid > 0)
      s3_serve_stop(s, SIGKILL);
    return -1;
  }
  snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/v1/files/", (unsigned)s->port);
  return 0;
}

int s3_serve_stop(s3_serve *s, int sig)
{
  if (s->pid <= 0)
    return -1;
  kill(s->pid, sig);
  int st = 0;
  while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
  }
  s->pid = 0;
  if (!getenv("RS_TEST_KEEP"))
    unlink(s->log);
  return st;
}
