/* The nginx tests' host: nginx with the module, started through nginx-host (nginx_host.c) on a
 * free port, over a fresh scratch directory and root. */
#ifndef NX_HOST_H
#define NX_HOST_H

#include <stdint.h>

#include "test_proc.h"

typedef struct nx_paths {
  const char *launcher; /* nginx-host */
  const char *nginx;    /* /usr/sbin/nginx */
  const char *module;   /* ngx_http_resumable_module.so */
} nx_paths;

typedef struct nx_host {
  char dir[64];  /* scratch: nginx.conf, error.log, access.log */
  char root[96]; /* the upload root, inside dir */
  test_child child;
  uint16_t port;
  char err[4096]; /* the launcher's stderr when it failed to start */
} nx_host;

/* Paths from argv[1..3]; exits with a message if they are missing. */
void nx_paths_from_args(nx_paths *p, int argc, char **argv);

/* Start nginx with `extra` launcher options (NULL-terminated, may be NULL). Returns 0 and
 * fills h->port, or -1 if the launcher exited without printing its URL (its stderr in h->err). */
int nx_start(const nx_paths *p, nx_host *h, const char *const *extra);
/* Stop nginx (SIGTERM to its process group), wait for it and remove the scratch directory.
 * Returns 0, or -1 if a sanitizer reported something (printed to stderr first). */
int nx_stop(nx_host *h);

/* Contents of a file in the scratch directory (malloc'd, NUL-terminated; "" when absent). */
char *nx_read(const nx_host *h, const char *name);

#endif
