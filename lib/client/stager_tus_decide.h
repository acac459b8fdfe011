/* What the stager does next in the tus dialect: pure functions of a response's status and
 * headers and of what we know of the file (docs/protocol.md, "Dialects: tus 1.0.0"). */
#ifndef RESUMABLE_STAGER_TUS_DECIDE_H
#define RESUMABLE_STAGER_TUS_DECIDE_H

#include <stdint.h>

#include "stager_headers.h"
#include "stager_tus_resp.h"

typedef enum rs_tus_head_next {
  RS_TUSH_RESUME,    /* PATCH from *offset */
  RS_TUSH_DONE,      /* the upload holds every byte of our file */
  RS_TUSH_CREATE,    /* no usable upload at this URL (gone, another file, not an upload) */
  RS_TUSH_TRANSIENT, /* 408, 423, 429, 5xx: wait and ask again */
  RS_TUSH_REFUSED    /* 401, 407: the server will not talk to us */
} rs_tus_head_next;

/* A HEAD of an upload URL (`r` the LocalAI headers of the same answer: resumable-serve adds
 * X-Target-SHA256 / X-Content-SHA256, which must then be ours). */
rs_tus_head_next rs_stager_tus_decide_head(int status, const rs_resp *r, const rs_tus_resp *t,
                                           uint64_t size, const uint8_t sha[32], uint64_t *offset);

typedef enum rs_tus_sent_next {
  RS_TUSS_CONTINUE,  /* PATCH from *offset */
  RS_TUSS_DONE,      /* the server holds every byte */
  RS_TUSS_RESYNC,    /* 409 (offsets disagree): ask with HEAD */
  RS_TUSS_RESEND,    /* 460: the request arrived corrupted (or the final check failed): send it
                        again */
  RS_TUSS_RESTART,   /* 404, 410: the upload is gone; create a new one */
  RS_TUSS_TRANSIENT, /* 408, 423, 429, 5xx */
  RS_TUSS_REFUSED,   /* any other 4xx */
  RS_TUSS_TOO_LARGE, /* 413 */
  RS_TUSS_PROTOCOL   /* an offset outside what was sent, a 2xx without one, or nonsense */
} rs_tus_sent_next;

/* The answer to a creation (`created` 1: POST, with the body [start, end) when end > start) or
 * a PATCH of [start, end), for a file of `size` bytes (or a part of that size). */
rs_tus_sent_next rs_stager_tus_decide_sent(int status, const rs_tus_resp *t, int created,
                                           uint64_t start, uint64_t end, uint64_t size,
                                           uint64_t *offset);

#endif
