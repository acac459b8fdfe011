/* Two resumable-serve processes on one root (two_serve.h). */
#include "two_serve.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *two_serve_tool;

/* Read the child's stdout and stderr to their end (its request log would fill a pipe). */
static void *drain_main(void *arg)
{
  two_server *s = arg;
  struct pollfd p[2] = {{.fd = s->c.out, .events = POLLIN}, {.fd = s->c.err, .events = POLLIN}};
  char buf[4096];
  int open = 2;
  while (open > 0) {
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; i++) {
      if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(p[i].fd, buf, sizeof buf);
        if (n > 0 && getenv("RS_IT_VERBOSE"))
          (void)!write(2, buf, (size_t)n);
        if (n <= 0) {
          p[i].fd = -1;
          open--;
        }
      }
    }
  }
  return NULL;
}

void two_serve_start(two_server *s, const char *root, const char *const *extra)
{
  const char *args[24] = {"--port", "0", "--root", root, "--idle-timeout", "300"};
  size_t n = 6;
  for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
    assert_true(n + 1 < sizeof args / sizeof args[0]);
    args[n++] = extra[i];
  }
  args[n] = NULL;
  memset(s, 0, sizeof *s);
  assert_int_equal(test_spawn(&s->c, two_serve_tool, args), 0);
  char line[256];
  size_t len = 0;
  while (len + 1 < sizeof line && (len == 0 || line[len - 1] != '\n')) {
    struct pollfd p = {.fd = s->c.out, .events = POLLIN};
    assert_true(poll(&p, 1, 10000) > 0);
    assert_int_equal(read(s->c.out, line + len, 1), 1);
    len++;
  }
  line[len] = '\0';
  unsigned port = 0;
  const char *colon = strrchr(line, ':');
  assert_non_null(colon);
  assert_int_equal(sscanf(colon + 1, "%u", &port), 1);
  s->it.port = (uint16_t)port;
  snprintf(s->it.root, sizeof s->it.root, "%s", root);
  assert_int_equal(pthread_create(&s->drain, NULL, drain_main, s), 0);
  s->draining = 1;
}

void two_serve_stop(two_server *s)
{
  if (!s->draining)
    return;
  kill(s->c.pid, SIGTERM);
  pthread_join(s->drain, NULL);
  s->draining = 0;
  assert_int_equal(test_reap(&s->c), 0); /* a clean stop */
}

int two_setup_args(void **state, const char *const *extra)
{
  two_pair *p = calloc(1, sizeof *p);
  assert_non_null(p);
  snprintf(p->parent, sizeof p->parent, "/tmp/rs-two-XXXXXX");
  assert_non_null(mkdtemp(p->parent));
  snprintf(p->root, sizeof p->root, "%s/root", p->parent);
  two_serve_start(&p->a, p->root, extra);
  two_serve_start(&p->b, p->root, extra);
  *state = p;
  return 0;
}

int two_setup(void **state)
{
  return two_setup_args(state, NULL);
}

int two_teardown(void **state)
{
  two_pair *p = *state;
  two_serve_stop(&p->a);
  two_serve_stop(&p->b);
  it_rm_rf(p->parent);
  free(p);
  return 0;
}
