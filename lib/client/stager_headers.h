/* The response headers the stager acts on, parsed line by line as libcurl hands them over.
 * Pure: the clock for Retry-After dates is injected. */
#ifndef RESUMABLE_STAGER_HEADERS_H
#define RESUMABLE_STAGER_HEADERS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct rs_resp {
  int status;        /* of the last status line seen, 0 before one */
  int complete;      /* the blank line after a final (>= 200) status line was seen */
  int has_file_size; /* X-File-Size */
  uint64_t file_size;
  int has_range; /* Range: bytes=0-<n>  ->  range_held = n + 1 */
  uint64_t range_held;
  int has_retry_after; /* Retry-After, as a delay from the moment it was parsed */
  uint64_t retry_after_ms;
  int has_target_sha; /* X-Target-SHA256 */
  uint8_t target_sha[32];
  int has_upload_total; /* X-Upload-Total */
  uint64_t upload_total;
  int has_content_sha; /* X-Content-SHA256 */
  uint8_t content_sha[32];
  int accept_ranges; /* Accept-Ranges lists "bytes" */
  int want_digest;   /* Want-Content-Digest lists sha-256 (RFC 9530): send Content-Digest */
} rs_resp;

void rs_resp_reset(rs_resp *r);

/* Feed one header line as libcurl delivers it (CRLF or LF included or not). A status line
 * ("HTTP/...") starts a new response: everything parsed before is forgotten, so interim 100
 * responses leave nothing behind. Names are matched case-insensitively and values trimmed; a
 * malformed value counts as absent; a repeated header keeps its last valid value. `now` is used
 * for Retry-After HTTP-dates. Never fails. */
void rs_resp_feed(rs_resp *r, const char *line, size_t len, time_t now);

/* The held byte count a response reports: X-File-Size, else Range, else -1 (unknown). Returns 0
 * and sets *held, or -1. */
int rs_resp_held(const rs_resp *r, uint64_t *held);

#endif
