/* See kit_host.h. */
#include "kit_host.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIT_ARGS 32

int kit_active(void)
{
  const char *h = getenv("RS_KIT_HOST");
  return h != NULL && h[0] != '\0';
}

int kit_has(const char *capability)
{
  const char *caps = getenv("RS_KIT_CAPS");
  size_t n = strlen(capability);
  for (const char *p = caps; p != NULL && *p != '\0';) {
    const char *end = strchr(p, ',');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, capability, n) == 0)
      return 1;
    p = end != NULL ? end + 1 : NULL;
  }
  return 0;
}

int kit_host_start(kit_host *h, const char *root, const kit_opts *o)
{
  memset(h, 0, sizeof *h);
  static char command[4096];
  snprintf(command, sizeof command, "%s", getenv("RS_KIT_HOST") ? getenv("RS_KIT_HOST") : "");
  const char *args[KIT_ARGS + 1];
  size_t n = 0;
  char *save = NULL;
  char *exe = strtok_r(command, "\n", &save);
  for (char *a = strtok_r(NULL, "\n", &save); a != NULL && n + 8 < KIT_ARGS;
       a = strtok_r(NULL, "\n", &save))
    args[n++] = a;
  static char max[32];
  args[n++] = "--root";
  args[n++] = root;
  if (o != NULL && o->token != NULL) {
    args[n++] = "--token";
    args[n++] = o->token;
  }
  if (o != NULL && o->max_size > 0) {
    snprintf(max, sizeof max, "%" PRIu64, o->max_size);
    args[n++] = "--max-size";
    args[n++] = max;
  }
  args[n] = NULL;
  if (exe == NULL || test_spawn(&h->child, exe, args) != 0)
    return -1;
  char line[256];
  uint16_t port = 0;
  if (test_read_port(h->child.out, 60000, line, sizeof line, &port) != 0) {
    char err[4096];
    struct pollfd p = {.fd = h->child.err, .events = POLLIN};
    ssize_t got = poll(&p, 1, 1000) == 1 ? read(h->child.err, err, sizeof err - 1) : 0;
    fprintf(stderr, "# host launcher %s did not start: %.*s\n", exe, got > 0 ? (int)got : 0, err);
    kit_host_stop(h);
    return -1;
  }
  h->port = port;
  return 0;
}

void kit_host_stop(kit_host *h)
{
  if (h->child.pid <= 0)
    return;
  if (kill(-h->child.pid, SIGTERM) != 0) /* not a group leader (resumable-serve) */
    kill(h->child.pid, SIGTERM);
  test_reap(&h->child);
  h->child.pid = 0;
}
