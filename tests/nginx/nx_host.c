/* See nx_host.h. */
#include "nx_host.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_fs.h"

void nx_paths_from_args(nx_paths *p, int argc, char **argv)
{
  if (argc < 4) {
    fprintf(stderr, "usage: %s NGINX_HOST NGINX MODULE\n", argv[0]);
    exit(2);
  }
  p->launcher = argv[1];
  p->nginx = argv[2];
  p->module = argv[3];
}

int nx_start(const nx_paths *p, nx_host *h, const char *const *extra)
{
  memset(h, 0, sizeof *h);
  snprintf(h->dir, sizeof h->dir, "/tmp/rs-nx-XXXXXX");
  if (mkdtemp(h->dir) == NULL)
    return -1;
  snprintf(h->root, sizeof h->root, "%s/root", h->dir);
  if (mkdir(h->root, 0700) != 0)
    return -1;
  const char *args[40] = {"--nginx", p->nginx, "--module", p->module,
                          "--dir",   h->dir,   "--root",   h->root};
  size_t n = 8;
  for (size_t i = 0; extra != NULL && extra[i] != NULL && n + 1 < 40; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  if (test_spawn(&h->child, p->launcher, args) != 0)
    return -1;
  char line[256];
  uint16_t port = 0;
  if (test_read_port(h->child.out, 60000, line, sizeof line, &port) != 0) {
    ssize_t got = read(h->child.err, h->err, sizeof h->err - 1);
    h->err[got > 0 ? got : 0] = '\0';
    test_reap(&h->child);
    h->child.pid = 0;
    return -1;
  }
  h->port = port;
  return 0;
}

/* Print the sanitizer reports nginx left in the scratch directory; returns how many. */
static int sanitizer_reports(const nx_host *h)
{
  DIR *d = opendir(h->dir);
  int found = 0;
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "sanitizer-", 10) != 0)
      continue;
    found++;
    char *text = nx_read(h, e->d_name);
    fprintf(stderr, "# %s:\n%s\n", e->d_name, text);
    free(text);
  }
  if (d != NULL)
    closedir(d);
  return found;
}

int nx_stop(nx_host *h)
{
  if (h->child.pid > 0) {
    kill(-h->child.pid, SIGTERM);
    test_reap(&h->child);
    h->child.pid = 0;
  }
  int rc = 0;
  if (h->dir[0] != '\0') {
    rc = sanitizer_reports(h) > 0 ? -1 : 0;
    test_remove_tree(h->dir);
  }
  return rc;
}

char *nx_read(const nx_host *h, const char *name)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", h->dir, name);
  FILE *f = fopen(path, "r");
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL)
    abort();
  while (f != NULL) {
    if (len + 1 == cap && (buf = realloc(buf, cap *= 2)) == NULL)
      abort();
    size_t got = fread(buf + len, 1, cap - 1 - len, f);
    if (got == 0)
      break;
    len += got;
  }
  if (f != NULL)
    fclose(f);
  buf[len] = '\0';
  return buf;
}
