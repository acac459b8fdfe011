/* The stager handle's insides, shared by the stager_*.c files. Not installed. */
#ifndef RESUMABLE_STAGER_IMPL_H
#define RESUMABLE_STAGER_IMPL_H

#include <stdint.h>
#include <time.h>

#include "resumable/stager.h"

#define RS_STAGER_MSG_MAX 512
#define RS_STAGER_BODY_MAX 4096

struct curl_slist;

typedef struct rs_stager_opts {
  uint64_t budget_ms;
  uint64_t backoff_min_ms;
  uint64_t backoff_max_ms;
  resumable_jitter jitter;
  uint64_t chunk_size;
  int have_sha;
  uint8_t sha[32];
  struct curl_slist *headers; /* extra "Name: value" lines, in order */
  char *token;
  char *ca_file;
  char *ca_path;
  char *cert;
  char *key;
  int insecure;
  int verbose;
  uint64_t stall_bytes;
  uint64_t stall_secs;
  uint64_t connect_ms;
  uint64_t max_speed;
  resumable_progress_fn progress;
  void *progress_ud;
  resumable_log_fn log;
  void *log_ud;
} rs_stager_opts;

/* What one run reports through the getters. */
typedef struct rs_stager_result {
  int error;
  char msg[RS_STAGER_MSG_MAX];
  int http_status;
  int sha_known;
  char sha_hex[65];
  uint64_t size;
  uint64_t resumed_from;
  int resumed_set;
  uint64_t held;
  uint64_t wire_bytes;
  unsigned attempts;
  unsigned restarts;
  unsigned requests;
  int already_there;
  char body[RS_STAGER_BODY_MAX + 1];
} rs_stager_result;

struct resumable_stager {
  char *url;
  int fd;
  int running;
  void *curl; /* CURL *, created at the first run and reused (keep-alive) */
  rs_stager_opts o;
  rs_stager_result r;
  /* The hash of an earlier run, reused while size and mtime stay the same. */
  int cache_valid;
  uint8_t cache_sha[32];
  uint64_t cache_size;
  struct timespec cache_mtime;
};

#endif
