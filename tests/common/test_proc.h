/* Child processes for the tests that run the example tools (resumable-serve). */
#ifndef RESUMABLE_TEST_PROC_H
#define RESUMABLE_TEST_PROC_H

#include <sys/types.h>

typedef struct test_child {
  pid_t pid;
  int out, err; /* read ends of its stdout and stderr */
} test_child;

/* Run `path` with the NULL-terminated `args` (after argv[0]; at most 30 are passed), its stdout
 * and stderr on pipes. Returns 0, or -1 if the pipes or the fork failed (nothing is left open).
 * A child that cannot exec exits with 127. */
int test_spawn(test_child *c, const char *path, const char *const *args);

/* test_spawn with the child's RLIMIT_NOFILE (soft and hard) lowered to `nofile` before exec. */
int test_spawn_nofile(test_child *c, const char *path, const char *const *args, long nofile);

/* Wait for the child and close its pipes. Returns its exit status, or 128 + the signal that
 * ended it, or -1 if waiting failed. */
int test_reap(test_child *c);

#endif
