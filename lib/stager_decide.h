/* What the stager does next, given a response: pure functions of the status, the parsed headers
 * (stager_headers.h) and what we know of the file. PROTOCOL.md, "Client (stager) behaviour". */
#ifndef RESUMABLE_STAGER_DECIDE_H
#define RESUMABLE_STAGER_DECIDE_H

#include <stdint.h>

#include "hash_cache.h" /* rs_hc_key: what identifies one version of one file */
#include "stager_headers.h"

typedef enum rs_probe_next {
  RS_PROBE_SEND,      /* PUT from *offset (0: start over; == size: finish a held upload) */
  RS_PROBE_DONE,      /* the complete file with our hash is there: nothing to send */
  RS_PROBE_WHOLE,     /* no range support (405, no Accept-Ranges: bytes): one whole-file PUT */
  RS_PROBE_TRANSIENT, /* 408, 423, 429, 5xx: wait and probe again */
  RS_PROBE_REFUSED,   /* any other 4xx (401, 403, ...) */
  RS_PROBE_PROTOCOL   /* a status that makes no sense for HEAD (1xx, 3xx, ...) */
} rs_probe_next;

/* Decide from a HEAD answer. `size` and `sha` describe the local file. */
rs_probe_next rs_decide_probe(int status, const rs_resp *r, uint64_t size, const uint8_t sha[32],
                              uint64_t *offset);

/* The PUT whose answer is being judged. */
typedef struct rs_put_req {
  int whole;      /* no Content-Range (whole file, or an empty file) */
  uint64_t start; /* first byte sent (0 for whole) */
  uint64_t end;   /* one past the last byte sent (size for whole) */
  int finish;     /* the finish PUT: every byte is held, the server commits without our body */
} rs_put_req;

typedef enum rs_put_next {
  RS_PUT_DONE,      /* the server has the complete file */
  RS_PUT_CONTINUE,  /* send from *offset (308, a 2xx to a middle chunk that says what it holds) */
  RS_PUT_UNCONFIRMED, /* a 2xx or 308 to a chunk that did not reach the end of the file claims
                         the whole file without our X-Content-SHA256: not a success (nothing
                         vouches for bytes we never sent); send from *offset, the chunk's end */
  RS_PUT_WHOLE,     /* a 2xx to a middle chunk that does not say what it holds: the server
                       ignores Content-Range (each PUT replaced the file), so send the whole file
                       without Content-Range from byte 0 */
  RS_PUT_COMMITTING, /* 416 with X-File-Size == size to the finish PUT: the server holds every
                        byte and is committing (an older LocalAI): wait, then probe again */
  RS_PUT_RESYNC,    /* 416: like CONTINUE from *offset, but counted against re-sync loops */
  RS_PUT_REPROBE,   /* 416 without X-File-Size: ask with HEAD */
  RS_PUT_RESTART,   /* 409, or 400 to a chunk that ended at the total: start over from 0 */
  RS_PUT_TRANSIENT, /* 408, 423, 429, 5xx */
  RS_PUT_REFUSED,   /* any other 4xx (and 400 to a middle chunk) */
  RS_PUT_TOO_LARGE, /* 413 */
  RS_PUT_PROTOCOL   /* a 2xx that contradicts us (other hash or size), offsets past the file,
                       or a status that makes no sense */
} rs_put_next;

rs_put_next rs_decide_put(int status, const rs_resp *r, const rs_put_req *req, uint64_t size,
                          const uint8_t sha[32], uint64_t *offset);

/* Did the local file change since it was hashed? `then` and `fd_now` come from fstat of the
 * stager's descriptor; `path_now` from stat of the path it was opened by (NULL when there is no
 * path, e.g. resumable_stager_new_fd, or stat failed other than with ENOENT), `path_gone` set
 * when stat said ENOENT. ctime moves on every write and on chmod, link, unlink and rename, and no
 * unprivileged program can set it back, so it catches an edit whose mtime was restored. */
typedef enum rs_file_change {
  RS_FILE_SAME,
  RS_FILE_REPLACED, /* the path names another file (replaced by rename, or recreated) */
  RS_FILE_GONE,     /* the path names nothing */
  RS_FILE_RESIZED,  /* it grew or shrank */
  RS_FILE_MODIFIED, /* same size, another mtime */
  RS_FILE_STATUS    /* only ctime moved: rewritten with its mtime put back, renamed, chmod... */
} rs_file_change;

rs_file_change rs_decide_file(const rs_hc_key *then, const rs_hc_key *fd_now,
                              const rs_hc_key *path_now, int path_gone);

/* 408, 423, 429 and 5xx: worth retrying after a wait. */
int rs_status_transient(int status);

#endif
