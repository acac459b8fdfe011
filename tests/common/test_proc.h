/* Child processes for the tests that run the example tools (resumable-serve). */
#ifndef RESUMABLE_TEST_PROC_H
#define RESUMABLE_TEST_PROC_H

#include <stddef.h>
#include <stdint.h>
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

/* Read one line (without its newline) from `fd` within `timeout_ms` in all, a byte at a time
 * (nothing after the newline is consumed). Returns 0, or -1 on timeout, end of file, error or a
 * line longer than cap - 1 (buf then holds what came). */
int test_read_line(int fd, char *buf, size_t cap, int timeout_ms);

/* Read a host launcher's ready line "listening on http://127.0.0.1:PORT/" from `fd` (see
 * test_read_line) into line (cap bytes, for a message) and its port into *port. 0 or -1. */
int test_read_port(int fd, int timeout_ms, char *line, size_t cap, uint16_t *port);

/* Start a host launcher such as resumable-serve (`exe` with `args`, which should ask for port
 * 0) and read its "listening on http://127.0.0.1:PORT/" line (a generous deadline: CI runs
 * loaded and under sanitizers). Returns 0 with *port set, or -1: the child's stderr is printed
 * as TAP comments and the child is stopped and reaped. */
int test_serve_start(test_child *c, const char *exe, const char *const *args, uint16_t *port);

/* SIGTERM to the child, then test_reap. */
int test_stop(test_child *c);

#endif
