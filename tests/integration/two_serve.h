/* Two resumable-serve processes on one root, for the tests of one root shared by several
 * processes (test_two_servers.c, test_tus_two_servers.c). */
#ifndef TWO_SERVE_H
#define TWO_SERVE_H

#include <pthread.h>

#include "itest.h"
#include "test_proc.h"

typedef struct two_server {
  test_child c;
  it_server it; /* .port and .root only: enough for the it_* request helpers */
  pthread_t drain;
  int draining;
} two_server;

typedef struct two_pair {
  char parent[64];
  char root[96];
  two_server a, b;
} two_pair;

/* The resumable-serve to run (argv[1] of the test programs). */
extern const char *two_serve_tool;

/* Start resumable-serve on `root` (port 0, read back from its first line) with `extra`
 * arguments (NULL-terminated, may be NULL); its output is drained by a thread. */
void two_serve_start(two_server *s, const char *root, const char *const *extra);
/* SIGTERM, and assert a clean stop. */
void two_serve_stop(two_server *s);

/* cmocka fixtures: *state is a two_pair whose servers run on one fresh root; a test's own setup
 * may call two_setup_args to give both servers `extra` arguments. */
int two_setup(void **state);
int two_setup_args(void **state, const char *const *extra);
int two_teardown(void **state);

#endif
