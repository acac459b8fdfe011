/* Shared helpers of the fault tests: temp roots, looking at the store's files from outside,
 * driving the real handler through the exchange API, and capturing its log lines. */
#ifndef FAULT_FIXTURE_H
#define FAULT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "resumable/server.h"
#include "store_fs_fault.h"

/* mkdtemp under /tmp into buf (cap >= 32); aborts the test on failure. */
void ff_mkroot(char *buf, size_t cap);

/* Malloc'd contents of root/rel (NULL if it cannot be read); *len its size. */
uint8_t *ff_read(const char *root, const char *rel, size_t *len);
/* 1 if root/rel exists (lstat). */
int ff_exists(const char *root, const char *rel);
/* Entries in root/.resumable/tmp (staging files and records being written). */
int ff_tmp_count(const char *root);
/* ".resumable/partial/<hex of key>.data" into buf. */
void ff_partial_data(const char *key, char *buf, size_t cap);

/* Deterministic test bytes and their lower-case hex SHA-256. */
void ff_fill(uint8_t *buf, size_t len, unsigned seed);
void ff_sha_hex(const uint8_t *data, size_t len, char out[65]);

/* One request's outcome through the exchange API. */
typedef struct ff_result {
  int status;
  long long file_size; /* X-File-Size, -1 if absent */
  char sha[80];        /* X-Content-SHA256, "" if absent */
  uint64_t received;   /* body bytes the handler consumed */
} ff_result;

/* One request on the handler; the body is fed in `piece`-byte parts until the handler stops
 * reading. `range` / `hash` may be NULL. A PUT gets a Content-Length of `len`. */
ff_result ff_run(resumable_server *srv, const char *method, const char *key, const char *range,
                 const char *hash, const uint8_t *body, size_t len, size_t piece);

/* A thread-safe log capture for resumable_server_set_log. */
void ff_log_fn(void *user_data, resumable_log_level level, const char *msg);
void ff_log_reset(void);
/* 1 if a captured line at ERROR level contains `needle`. */
int ff_log_has_error(const char *needle);

#endif
