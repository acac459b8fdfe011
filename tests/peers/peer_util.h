/* Helpers of the tests against peers the project did not write (tus-js-client, @tus/server):
 * child processes (resumable-serve, node), files and their SHA-256. Each helper fails the
 * running cmocka test on a failure of the test machinery itself. */
#ifndef PEER_UTIL_H
#define PEER_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

/* A background process whose stdout's first line announced where it listens. */
typedef struct peer_proc {
  pid_t pid;
  uint16_t port;
  char log[512]; /* its stderr (and stdout after the first line) */
} peer_proc;

/* Start `argv` (argv[0] a full path) with stderr to `log`, read its first stdout line and
 * take the port from `prefix` followed by the port number (e.g. "listening on
 * http://127.0.0.1:"). Fails the test if the line does not come within 30 s. */
void peer_start(peer_proc *p, const char *const *argv, const char *log, const char *prefix);
/* SIGTERM, then wait (SIGKILL after 10 s). */
void peer_stop(peer_proc *p);

/* Start `argv` (argv[0] a full path) in the background, stdout and stderr to `out_path`;
 * returns its pid. */
pid_t peer_spawn(const char *const *argv, const char *out_path);
/* SIGKILL `pid` (a crash: no handler runs, the kernel closes its sockets) and reap it. */
void peer_kill(pid_t pid);
/* Wait up to `timeout_ms` for a line starting with `prefix` in the file `path` (a log another
 * process appends to) and copy it, without its newline, to line[cap]; fails the test if none
 * comes. */
void peer_wait_line(const char *path, const char *prefix, char *line, size_t cap, int timeout_ms);

/* Run `argv` to its end (at most `timeout_s`), collecting stdout and stderr into a malloc'd,
 * NUL-terminated *out. Returns the exit status (128 + signal; -1 if it had to be killed). */
int peer_run(const char *const *argv, int timeout_s, char **out);

/* An environment variable the test needs (set by meson), or the test fails. */
const char *peer_env(const char *name);

/* A file of `size` pseudo-random bytes. */
void peer_fill_file(const char *path, uint64_t size, unsigned seed);
/* Lower-case hex SHA-256 of a file; -1 if unreadable. */
int peer_sha256_file(const char *path, char hex[65]);
/* Fail unless both files exist with equal bytes. */
void peer_assert_same_file(const char *a, const char *b);
/* Number of lines of `text` that start with `prefix`. */
int peer_count_lines(const char *text, const char *prefix);
/* The X-Content-SHA256 (LocalAI HEAD) of url into hex, or "" if none; returns the status. */
long peer_head_sha256(const char *url, char hex[65]);
/* A temporary directory (mkdtemp) and its removal. */
void peer_tmpdir(char *buf, size_t cap);
void peer_rmdir(const char *path);

#endif
