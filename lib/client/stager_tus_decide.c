/* tus decisions of the stager (stager_tus_decide.h). */
#include "stager_tus_decide.h"

#include <string.h>

#include "stager_decide.h"

rs_tus_head_next rs_stager_tus_decide_head(int status, const rs_resp *r, const rs_tus_resp *t,
                                           uint64_t size, const uint8_t sha[32], uint64_t *offset)
{
  if (status == 401 || status == 407)
    return RS_TUSH_REFUSED;
  if (rs_status_transient(status))
    return RS_TUSH_TRANSIENT;
  if (status < 200 || status > 299 || !t->has_offset || !t->has_length || t->length != size ||
      t->offset > size)
    return RS_TUSH_CREATE; /* also a deferred length: we never defer, so it is not ours */
  if ((r->has_target_sha && memcmp(r->target_sha, sha, 32) != 0) ||
      (r->has_content_sha && memcmp(r->content_sha, sha, 32) != 0))
    return RS_TUSH_CREATE; /* resumable-serve says it is another file */
  if (t->offset == size)
    return RS_TUSH_DONE;
  *offset = t->offset;
  return RS_TUSH_RESUME;
}

rs_tus_sent_next rs_stager_tus_decide_sent(int status, const rs_tus_resp *t, int created,
                                           uint64_t start, uint64_t end, uint64_t size,
                                           uint64_t *offset)
{
  if (status >= 200 && status <= 299) {
    if (created && status != 201)
      return RS_TUSS_PROTOCOL;
    uint64_t off = 0;
    if (t->has_offset)
      off = t->offset;
    else if (!created || end > start)
      return RS_TUSS_PROTOCOL; /* a PATCH answer must say where the upload stands */
    if (off > end || (!created && off < start))
      return RS_TUSS_PROTOCOL;
    if (off == size)
      return RS_TUSS_DONE;
    *offset = off;
    return RS_TUSS_CONTINUE;
  }
  switch (status) {
  case 409:
    return RS_TUSS_RESYNC;
  case 460:
    return RS_TUSS_RESEND;
  case 404:
  case 410:
    return created ? RS_TUSS_REFUSED : RS_TUSS_RESTART;
  case 413:
    return RS_TUSS_TOO_LARGE;
  default:
    break;
  }
  if (rs_status_transient(status))
    return RS_TUSS_TRANSIENT;
  if (status >= 400 && status <= 499)
    return RS_TUSS_REFUSED;
  return RS_TUSS_PROTOCOL;
}
