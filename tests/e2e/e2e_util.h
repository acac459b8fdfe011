#ifndef E2E_UTIL_H
#define E2E_UTIL_H

/* Shared pieces of the end-to-end tests: temp dirs, test files and their hashes, the real
 * server host in-process, a stager run on its own thread, and a progress recorder. */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <resumable/server.h>
#include <resumable/stager.h>

#include "kit_host.h"
#include "mhd_host.h"

/* ---- files ---- */

/* test_temp_dir as a malloc'd path, or NULL (remove it with test_remove_tree). */
char *e2e_tmpdir(void);
/* Write `size` deterministic bytes (different for each seed) to dir/name; returns the malloc'd
 * path or NULL. */
char *e2e_make_file(const char *dir, const char *name, uint64_t size, uint32_t seed);
/* Lower-case hex SHA-256 of a file into out[65]; 0 or -1. */
int e2e_sha256_file(const char *path, char out[65]);
/* Size of a file, or -1. */
int64_t e2e_file_size(const char *path);

/* ---- the real server, in-process (or the conformance kit's host: kit_host.h) ---- */

typedef struct e2e_server {
  resumable_server *srv;
  mhd_host *host;
  kit_host kit; /* RS_KIT_HOST set: the host under test, a child process */
  uint16_t port;
} e2e_server;

/* Serve `root` on 127.0.0.1:`port` (0: ephemeral; a kit host takes only 0). `token` NULL for
 * none. 0 or -1. */
int e2e_server_start(e2e_server *s, const char *root, uint16_t port, const char *token);
void e2e_server_stop(e2e_server *s);

/* "http://127.0.0.1:<port>/v1/files/<key>" into buf. */
void e2e_url(char *buf, size_t cap, uint16_t port, const char *key);

/* ---- progress recording ---- */

typedef struct e2e_progress {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned max_attempt;
  unsigned phases_seen; /* bit (1 << phase) */
  uint64_t max_position;
  uint64_t cancel_at; /* when non-zero: cancel once position >= cancel_at */
  int cancelled;
} e2e_progress;

void e2e_progress_init(e2e_progress *p);
void e2e_progress_destroy(e2e_progress *p);
/* The callback to pass to resumable_stager_set_progress with the recorder as user_data. */
int e2e_progress_cb(void *user_data, const resumable_progress *pr);
/* Wait until an attempt number >= n was reported; 0 or -1 on timeout. */
int e2e_progress_wait_attempt(e2e_progress *p, unsigned n, int timeout_ms);

/* ---- a stager run on its own thread ---- */

typedef struct e2e_job {
  resumable_stager *st;
  pthread_t thread;
  int rc;
  double seconds;
} e2e_job;

/* A stager for url/path with quick test defaults (backoff 10..50 ms, budget 60 s); NULL on
 * failure. */
resumable_stager *e2e_stager(const char *url, const char *path);
void e2e_job_start(e2e_job *j, resumable_stager *st);
int e2e_job_join(e2e_job *j);
/* Run on the calling thread; returns rc and stores the elapsed seconds in *secs if non-NULL. */
int e2e_run(resumable_stager *st, double *secs);

/* A port on 127.0.0.1 that refuses connections: bound and read back but never listening. The
 * socket stays open in *fd (close it after the test) so that no other process can take the
 * port meanwhile, as one could once it was closed. */
uint16_t e2e_refusing_port(int *fd);

#endif
