/* partial_commit of the S3 store: send the last part, re-claim the chain (the guard against
 * another writer), write the sums record, and publish: CompleteMultipartUpload with exactly the
 * parts and ETags this handle recorded, or one PUT for a file that fits a part. */
#include <stdio.h>
#include <string.h>

#include "resumable/error.h"
#include "store_s3.h"

/* Lock the chain before publishing: a copy of our last record as the next one. Any writer that
 * took over since makes this fail, and no older one can record anything after it. */
static int reclaim(s3_handle *h)
{
  s3_state r;
  int rc = s3_state_copy(&r, &h->rec);
  if (rc != RESUMABLE_OK)
    return rc;
  r.seq = h->rec.seq + 1;
  rc = s3_chain_create(h->s, &r);
  if (rc == RESUMABLE_OK) {
    uint64_t old = h->rec.seq;
    s3_state_free(&h->rec);
    h->rec = r;
    s3_state_init(&r);
    s3_delete_record(h->s, h->hex, old);
  }
  s3_state_free(&r);
  return rc;
}

/* After the publish: a tombstone ends the chain; the records and tail before it go. */
static void retire(s3_handle *h)
{
  s3_state t;
  s3_state_init(&t);
  t.seq = h->rec.seq + 1;
  t.gone = 1;
  memcpy(t.writer, h->writer, sizeof(t.writer));
  snprintf(t.key, sizeof(t.key), "%s", h->key);
  if (s3_chain_create(h->s, &t) == RESUMABLE_OK) {
    s3_delete_record(h->s, h->hex, h->rec.seq);
    s3_delete_tail(h->s, h->hex, h->rec.tail);
  }
}

/* The last part (whatever the buffer holds) up, or the whole file in one PUT. */
static int publish(s3_handle *h, const resumable_complete_info *ci)
{
  int rc;
  if (!h->st.upload[0]) {
    rc = s3_sums_put(h->s, h->key, h->st.token, ci);
    if (rc == RESUMABLE_OK)
      rc = s3_put_object(h->s, h->object, h->pipe ? s3_pipe_buf(h->pipe) : (const uint8_t *)"",
                         s3_handle_fill(h), h->st.token, NULL);
    return rc;
  }
  rc = s3_sums_put(h->s, h->key, h->st.token, ci);
  if (rc == RESUMABLE_OK)
    rc = s3_mpu_complete(h->s, h->object, h->st.upload, h->st.parts, h->st.nparts);
  if (rc == RESUMABLE_E_NOT_FOUND) {
    /* no such upload: finished by an earlier try of ours whose answer was lost, or removed */
    s3_request rq = {.method = "HEAD", .object = h->object};
    s3_response rs;
    rc = s3_call(h->s, &rq, &rs);
    if (rc == RESUMABLE_OK)
      rc = rs.status == 200 && strcmp(rs.token, h->st.token) == 0 && rs.length == ci->size
               ? RESUMABLE_OK
               : RESUMABLE_E_SUPERSEDED;
  }
  return rc;
}

int s3_partial_commit(void *self, void *handle, const resumable_complete_info *ci)
{
  s3_handle *h = handle;
  s3_store *s = self;
  if (h->committed)
    return RESUMABLE_E_STATE;
  if (h->failed)
    return h->failed;
  /* exactly ci->size bytes are published: never more than were written, nor fewer than S3
   * acknowledged as parts */
  uint64_t end = h->base + s3_handle_fill(h);
  if (ci->size > end || ci->size < h->base)
    return RESUMABLE_E_IO;
  if (ci->size < end)
    s3_pipe_reset(h->pipe, (size_t)(ci->size - h->base));
  end = ci->size;
  if (!h->st.token[0] && s3_random_hex(h->st.token, 16) != 0)
    return RESUMABLE_E_IO;
  int rc = RESUMABLE_OK;
  if (h->st.upload[0] && (s3_handle_fill(h) > 0 || h->st.nparts == 0)) {
    char etag[S3_ETAG_MAX];
    rc = s3_pipe_flush_part(h->pipe, h->object, h->st.upload, h->st.nparts + 1, etag);
    if (rc == RESUMABLE_OK)
      rc = s3_state_add_part(&h->st, end - h->base, etag);
    if (rc == RESUMABLE_OK)
      h->base = end;
  }
  if (rc == RESUMABLE_OK && !h->staging)
    rc = reclaim(h);
  if (rc == RESUMABLE_OK)
    rc = publish(h, ci);
  if (rc == RESUMABLE_E_CONFLICT) {
    /* S3 holds other bytes than ours under a part number: a superseded writer's part landed
     * after ours. This upload cannot be completed as verified; drop it (the client starts
     * again) rather than publish anything. */
    if (!h->staging)
      s3_partial_drop(s, &h->rec);
    s3_mpu_abort(s, h->object, h->st.upload); /* recorded or not */
    h->committed = 1;                         /* nothing left for close to abort */
    return RESUMABLE_E_IO;
  }
  if (rc != RESUMABLE_OK)
    return s3_handle_fail(h, rc);
  h->committed = 1;
  if (!h->staging)
    retire(h);
  s3_sums_prune(s, h->key, h->st.token);
  return RESUMABLE_OK;
}
