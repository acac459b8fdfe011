/* A tus concatenation part, once whole, made readable: the final upload is assembled by reading
 * its parts through partial_read, but S3 cannot read the parts of an unfinished multipart
 * upload. So the sync that makes a part whole (held == total: the handler never commits a part)
 * seals it instead: the last part goes up, a record marks the partial sealed, and its upload is
 * completed as the object P<key> (P.resumable-part/<id>, a name no client key can reach, which
 * complete ops refuse). Reads of a sealed part are ranged GETs of that object.
 *
 * The record comes first: a crash before the completion leaves a sealed record whose upload
 * still exists, and the first read completes it (the record names every part and ETag). A
 * part whose bytes never left the buffer (no upload: smaller than a part) needs no seal: its
 * tail object holds them, and an open reads it back. Removing a part deletes its object too
 * (s3_partial_drop; the scan does the same for a removed part's leftover chain). */
#include <string.h>

#include "resumable/error.h"
#include "store_s3.h"

int s3_seal_due(const s3_handle *h, const resumable_partial_info *info)
{
  return !h->staging && !h->st.sealed && h->st.upload[0] && s3_part_key(h->key) &&
         info->total != RESUMABLE_LENGTH_UNKNOWN && info->held == info->total;
}

/* Complete the sealed part's upload as its object, or find it completed already (by an earlier
 * try whose answer was lost): the object must carry the upload's token and length. */
static int complete_object(s3_handle *h)
{
  int rc = s3_mpu_complete(h->s, h->object, h->st.upload, h->st.parts, h->st.nparts);
  if (rc != RESUMABLE_E_NOT_FOUND)
    return rc == RESUMABLE_E_CONFLICT ? RESUMABLE_E_IO : rc;
  s3_request rq = {.method = "HEAD", .object = h->object};
  s3_response rs;
  rc = s3_call(h->s, &rq, &rs);
  if (rc != RESUMABLE_OK)
    return rc;
  return rs.status == 200 && strcmp(rs.token, h->st.token) == 0 && rs.length == h->base
             ? RESUMABLE_OK
             : RESUMABLE_E_SUPERSEDED; /* removed, or another writer's */
}

int s3_seal(s3_handle *h, const resumable_partial_info *info)
{
  if (info->held < h->base || info->held > h->base + s3_handle_fill(h))
    return RESUMABLE_E_IO; /* cannot take back bytes S3 acknowledged as parts */
  size_t cut = (size_t)(info->held - h->base);
  int rc = RESUMABLE_OK;
  if (cut > 0) { /* the last part: whatever the buffer holds up to `held` */
    char etag[S3_ETAG_MAX];
    if (cut < s3_handle_fill(h))
      s3_pipe_reset(h->pipe, cut);
    rc = s3_pipe_flush_part(h->pipe, h->object, h->st.upload, h->st.nparts + 1, etag);
    if (rc == RESUMABLE_OK)
      rc = s3_state_add_part(&h->st, cut, etag);
    if (rc != RESUMABLE_OK)
      return s3_handle_fail(h, rc);
    h->base += cut;
  }
  s3_state next;
  rc = s3_state_copy(&next, &h->st);
  if (rc != RESUMABLE_OK)
    return rc;
  next.seq = h->rec.seq + 1;
  next.info = *info;
  next.tail[0] = '\0';
  next.tail_len = 0;
  next.sealed = 1;
  rc = s3_chain_create(h->s, &next);
  if (rc == RESUMABLE_OK)
    rc = s3_handle_adopt(h, &next);
  s3_state_free(&next);
  if (rc == RESUMABLE_OK)
    rc = complete_object(h);
  return s3_handle_fail(h, rc);
}

int s3_sealed_read(s3_handle *h, uint64_t offset, void *buf, size_t len, size_t *got)
{
  *got = 0;
  if (!h->reader) {
    s3_response rs;
    int rc = s3_reader_open(h->s, h->object, NULL, &h->reader, &rs);
    if (rc == RESUMABLE_E_NOT_FOUND) { /* sealed by a writer that stopped before completing */
      rc = complete_object(h);
      if (rc == RESUMABLE_OK)
        rc = s3_reader_open(h->s, h->object, NULL, &h->reader, &rs);
    }
    if (rc != RESUMABLE_OK) {
      h->reader = NULL;
      return rc == RESUMABLE_E_NOT_FOUND ? RESUMABLE_E_IO : rc;
    }
    if (strcmp(rs.token, h->st.token) != 0 || rs.length != h->base) {
      s3_reader_close(h->reader); /* not this upload's bytes */
      h->reader = NULL;
      return RESUMABLE_E_IO;
    }
  }
  return s3_reader_read(h->reader, offset, buf, len, got);
}
