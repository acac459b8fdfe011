/* PUT: a chunk appended to the key's partial (Content-Range), or a whole-file upload into a
 * staging file. Every store call for the key happens under the key's entry mutex; ownership is
 * the entry generation taken at the start (a newer PUT or DELETE supersedes).
 *
 * Body bytes are written, then handed to the key's hash pipe (hash_pipe.h), which may hash them
 * later on a pool thread. Rule: the running hash (e->sha, ex->stage_sha) is read or reset only
 * after the pipe is drained (bytes kept) or discarded (bytes dropped with the handle). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "debugassert.h"
#include "resumable/error.h"
#include "ietf_exchange.h"
#include "server_internal.h"
#include "tus_exchange.h"

#define RS_REBUILD_BLOCK ((size_t)64 << 10)

/* Copy a running hash (export/import keeps the state opaque) and finish the copy. */
static void digest_of(const rs_sha256 *h, uint8_t out[32])
{
  uint8_t buf[RS_SHA256_STATE_MAX];
  rs_sha256 c;
  size_t n = rs_sha256_export(h, buf, sizeof(buf));
  int rc = rs_sha256_import(&c, buf, n);
  RS_DEBUGASSERT(rc == 0); /* our own export of a live state */
  if (rc != 0)
    rs_sha256_init(&c); /* release: the empty digest, which fails a non-empty upload's check */
  rs_sha256_finish(&c, out);
  rs_sha256_free(&c);
}

static void close_entry_handle(resumable_exchange *ex)
{
  rs_close_partial(ex); /* unsynced bytes are gone with the handle, unverified ones too */
}

/* Make bytes 0..held-1 and the running hash durable. On failure the handle is closed: the
 * store's last synced state is then the truth. */
int rs_put_sync(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  rs_hash_pipe_drain(&e->pipe); /* the state saved must cover exactly info.held bytes */
  e->info.hash_state_len =
      rs_sha256_export(&e->sha, e->info.hash_state, sizeof(e->info.hash_state));
  int rc = ex->srv->ops->partial_sync(ex->srv->self, e->handle, &e->info);
  if (rc == RESUMABLE_OK)
    e->synced = e->info.held;
  else
    close_entry_handle(ex);
  ex->since_sync = 0;
  ex->synced_at = rs_now_ms();
  ex->info_changed = 0;
  return rc;
}

/* Drop the bytes of a request whose checksum is not verified (tus Upload-Checksum): back to
 * the last sync, durably (the partial_sync cuts the data back to `synced`). The hash state
 * saved by that sync is the state after exactly `synced` bytes. */
static int rollback_partial(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  e->provisional = 0;
  rs_hash_pipe_discard(&e->pipe);
  int rc = rs_sha256_import(&e->sha, e->info.hash_state, e->info.hash_state_len);
  RS_DEBUGASSERT(rc == 0); /* the state our own last sync exported */
  if (rc != 0) {
    close_entry_handle(ex); /* release: the store's last synced state stays the truth */
    return RESUMABLE_E_IO;
  }
  e->info.held = e->synced;
  e->info.total = e->provisional_total; /* an Upload-Length sent with them is undone too */
  return rs_put_sync(ex);
}

/* Keep the bytes of an older writer of the key (or drop them when still unverified). */
static int settle_older(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  if (!e->handle)
    return RESUMABLE_OK;
  if (e->provisional)
    return rollback_partial(ex);
  return e->info.held != e->synced ? rs_put_sync(ex) : RESUMABLE_OK;
}

/* Hash the held prefix once: the stored state was missing or unreadable. */
static int rebuild_hash(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  rs_server_log(ex->srv, RESUMABLE_LOG_INFO, "PUT /%s: rebuilding the SHA-256 of %llu held bytes",
                ex->key, (unsigned long long)e->info.held);
  uint8_t *buf = malloc(RS_REBUILD_BLOCK);
  if (!buf)
    return RESUMABLE_E_NOMEM;
  rs_sha256_init(&e->sha);
  int rc = RESUMABLE_OK;
  for (uint64_t off = 0; off < e->info.held && rc == RESUMABLE_OK;) {
    uint64_t left = e->info.held - off;
    size_t want = left < RS_REBUILD_BLOCK ? (size_t)left : RS_REBUILD_BLOCK, got = 0;
    rc = ex->srv->ops->partial_read(ex->srv->self, e->handle, off, buf, want, &got);
    if (rc == RESUMABLE_OK && got == 0)
      rc = RESUMABLE_E_IO; /* the store holds fewer bytes than it says */
    rs_sha256_update(&e->sha, buf, got);
    off += got;
  }
  free(buf);
  return rc;
}

/* Open the key's existing partial into the entry (if not open yet) with its running hash. */
static int open_existing(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  if (e->handle)
    return RESUMABLE_OK;
  rs_hash_pipe_discard(&e->pipe); /* idle already (no handle, no queued bytes): a guard */
  void *h = NULL;
  int rc = ex->srv->ops->partial_open(ex->srv->self, ex->key, RESUMABLE_PARTIAL_EXISTING, NULL, &h,
                                      &e->info);
  if (rc != RESUMABLE_OK)
    return rc;
  e->handle = h;
  e->synced = e->info.held;
  e->provisional = 0; /* a handle just opened holds no unverified bytes */
  if (e->info.hash_state_len == 0 || e->info.hash_state_len > sizeof(e->info.hash_state) ||
      rs_sha256_import(&e->sha, e->info.hash_state, e->info.hash_state_len) != 0 ||
      rs_sha256_length(&e->sha) != e->info.held) {
    rc = rebuild_hash(ex);
    /* Record the rebuilt state (the store ties it to the file as it is now), so that the next
     * request does not read the prefix again. rs_put_sync closes the handle on failure. */
    if (rc == RESUMABLE_OK)
      return rs_put_sync(ex);
  }
  if (rc != RESUMABLE_OK)
    close_entry_handle(ex);
  return rc;
}

int rs_put_create(resumable_exchange *ex, resumable_partial_info *info)
{
  rs_keylock_entry *e = ex->entry;
  rs_hash_pipe_discard(&e->pipe);
  rs_sha256_init(&e->sha);
  info->hash_state_len = rs_sha256_export(&e->sha, info->hash_state, sizeof(info->hash_state));
  close_entry_handle(ex);
  e->provisional = 0;
  void *h = NULL;
  int rc =
      ex->srv->ops->partial_open(ex->srv->self, ex->key, RESUMABLE_PARTIAL_CREATE, info, &h, NULL);
  if (rc != RESUMABLE_OK)
    return rc;
  e->handle = h;
  e->info = *info;
  e->info.held = 0;
  e->synced = 0;
  return RESUMABLE_OK;
}

/* A new, empty partial of d->total bytes bound to the request's hash (if any). */
static int create_partial(resumable_exchange *ex, const rs_decision *d)
{
  resumable_partial_info info;
  memset(&info, 0, sizeof(info));
  info.total = d->total;
  if (ex->dialect == RS_DIALECT_TUS) {
    rs_tus_partial_info(ex, &info);
  } else {
    info.has_target = ex->req.hash == RS_FIELD_OK;
    if (info.has_target)
      memcpy(info.target_sha256, ex->req.sha256, 32);
  }
  return rs_put_create(ex, &info);
}

/* Commit the full partial as the complete file, then 200. */
void rs_put_commit(resumable_exchange *ex, const uint8_t digest[32])
{
  rs_keylock_entry *e = ex->entry;
  resumable_complete_info ci;
  ci.size = e->info.total;
  memcpy(ci.sha256, digest, 32);
  int rc = ex->srv->ops->partial_commit(ex->srv->self, e->handle, &ci);
  if (rc != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "commit", rc);
    if (e->handle && e->info.held != e->synced)
      rs_put_sync(ex); /* best effort: keep the bytes as a partial */
    close_entry_handle(ex);
    return;
  }
  close_entry_handle(ex);
  rs_exchange_reply_done(ex, ci.size, digest);
}

void rs_put_digest(resumable_exchange *ex, uint8_t digest[32])
{
  rs_hash_pipe_drain(&ex->entry->pipe);
  digest_of(&ex->entry->sha, digest);
}

/* A request's Content-Digest did not match its body: 422, with the (unchanged) offset so that
 * the client can resend that chunk without a HEAD (LocalAI: X-File-Size and a text; the draft:
 * Upload-Offset and a problem). */
static void fail_content_digest(resumable_exchange *ex, uint64_t held, rs_rd_algo algo,
                                const uint8_t want[64])
{
  if (ex->dialect == RS_DIALECT_TUS && ex->tus.ietf) {
    rs_ietf_reply_digest_mismatch(ex, held, algo, want);
    return;
  }
  rs_exchange_fail(ex, RS_CONTENT_DIGEST_MISMATCH,
                   "Content-Digest does not match the request body; its bytes were discarded, "
                   "resend them");
  rs_reply_header(&ex->reply, "X-File-Size", "%llu", (unsigned long long)held);
}

/* A checksummed request (tus Upload-Checksum, Content-Digest) ended: 1 when its bytes stand
 * (verified), 0 when they were dropped (mismatch, short or cut body) and the reply is decided. */
static int verify_request(resumable_exchange *ex, resumable_body_end how)
{
  rs_keylock_entry *e = ex->entry;
  int whole =
      how == RESUMABLE_BODY_COMPLETE && (!ex->expected_known || ex->received == ex->expected);
  int cd = ex->rd.algo != RS_RD_NONE;
  rs_rd_algo algo = ex->rd.algo; /* the problem of a draft 422 names them */
  uint8_t want[64];
  memcpy(want, ex->rd.want, sizeof(want));
  int match;
  if (cd) {
    match = rs_req_digest_matches(&ex->rd);
  } else {
    int teed_whole = 1;
    if (ex->tus.ck_teed) /* drained: every byte hashed before the digest is read */
      teed_whole = rs_hash_pipe_untee(&e->pipe, &ex->tus.ck.u.sha256);
    ex->tus.ck_teed = 0;
    match = rs_tus_checksum_matches(&ex->tus.ck) && teed_whole;
  }
  if (whole && match) {
    e->provisional = 0;
    return 1;
  }
  int rc = rollback_partial(ex);
  if (rc != RESUMABLE_OK)
    rs_exchange_store_error(ex, "sync", rc);
  else if (!whole)
    rs_exchange_fail(ex, 400,
                     cd ? "body ended early; with Content-Digest its bytes are discarded"
                        : "body ended early; with Upload-Checksum its bytes are discarded");
  else if (cd)
    fail_content_digest(ex, e->info.held, algo, want);
  else
    rs_exchange_fail(ex, 460, "Upload-Checksum does not match the body; its bytes were discarded");
  return 0;
}

int rs_put_content_digest(resumable_exchange *ex)
{
  const rs_rd_hdr *h = &ex->content_digest;
  rs_rd_algo algo = RS_RD_NONE;
  uint8_t want[64];
  const char *why = "Content-Digest too long";
  if (!h->seen)
    return 0;
  if (h->too_long || rs_rd_parse(h->value, h->len, &algo, want, &why) != 0) {
    rs_exchange_fail(ex, 400, why);
    return 1;
  }
  /* Only listed algorithms we do not support: ignored (RFC 9530 section 2), unverified. */
  rs_req_digest_start(&ex->rd, algo, want, ex->srv->hash_pool);
  return 0;
}

int rs_put_digest_begin(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  int rc = e->info.held != e->synced ? rs_put_sync(ex) : RESUMABLE_OK;
  if (rc != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "sync", rc);
    return rc;
  }
  e->provisional = 1;
  rs_req_digest_tee(&ex->rd, &e->pipe); /* sha-256: one pool pass hashes the chunk and the file */
  return RESUMABLE_OK;
}

/* The chunk's bytes are in (or the partial already held everything): judge and act. */
static void conclude(resumable_exchange *ex, resumable_body_end how)
{
  rs_keylock_entry *e = ex->entry;
  uint8_t digest[32];
  rs_digest dg = RS_DIGEST_NONE;
  if (e->provisional && !verify_request(ex, how))
    return;
  rs_hash_pipe_drain(&e->pipe); /* every byte hashed before the digest is judged */
  int part = ex->dialect == RS_DIALECT_TUS && ex->tus.part; /* a part is never committed */
  if (e->info.held == e->info.total && !part) {
    digest_of(&e->sha, digest);
    if (e->info.has_target)
      dg = memcmp(digest, e->info.target_sha256, 32) == 0 ? RS_DIGEST_MATCH : RS_DIGEST_MISMATCH;
  }
  rs_decision d;
  rs_decide_end(ex->received, ex->expected_known, ex->expected, e->info.held,
                part ? RESUMABLE_LENGTH_UNKNOWN : e->info.total, dg, &d);
  d.total = e->info.total;
  int rc = RESUMABLE_OK;
  if (d.status == 200) {
    rs_put_commit(ex, digest);
    return;
  }
  if (d.flags & RS_DROP_PARTIAL)
    rc = rs_drop_partial(ex);
  else if (e->info.held != e->synced || ex->info_changed)
    rc = rs_put_sync(ex); /* a 308 is readable only once its bytes are durable */
  if (rc != RESUMABLE_OK)
    rs_exchange_store_error(ex, d.flags & RS_DROP_PARTIAL ? "remove" : "sync", rc);
  else if ((d.flags & RS_DROP_PARTIAL) && ex->dialect == RS_DIALECT_TUS)
    rs_exchange_fail(ex, ex->tus.ietf ? 400 : 460, /* the IETF draft: the whole-file 400 */
                     "SHA-256 of the uploaded bytes does not match X-Content-SHA256");
  else
    rs_exchange_reply_decision(ex, &d);
}

/* Steps 4-7 (and the status query) against the current state; under e->mu. */
static void begin_chunk(resumable_exchange *ex)
{
  rs_stored st;
  rs_decision d;
  int rc = rs_judge(ex, &st, &d);
  if (rc != RESUMABLE_OK)
    return;
  if ((d.flags & RS_DROP_PARTIAL) && (rc = rs_drop_partial(ex)) != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "remove", rc);
    return;
  }
  if (d.action == RS_ACT_REPLY) {
    if (d.kind == RS_REPLY_DONE)
      rs_exchange_reply_done(ex, st.size, st.sha256);
    else
      rs_exchange_reply_decision(ex, &d);
    return;
  }
  rc = (d.flags & RS_CREATE_PARTIAL) ? create_partial(ex, &d) : open_existing(ex);
  if (rc == RESUMABLE_OK && ex->entry->info.held != d.held)
    rc = RESUMABLE_E_IO; /* the store changed under us: a store (or writer) that breaks the
                            key_lock contract, not an invariant of ours: an error, no assert */
  if (rc != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "open", rc);
    return;
  }
  ex->entry->provisional_total = ex->entry->info.total;
  if (d.flags & RS_SET_TOTAL) { /* tus: a deferred length is known now */
    ex->entry->info.total = d.total;
    ex->info_changed = 1;
  }
  if (d.action == RS_ACT_FINISH) {
    conclude(ex, RESUMABLE_BODY_COMPLETE); /* received == expected == 0 */
    return;
  }
  ex->mode = RS_BODY_APPEND;
  ex->synced_at = rs_now_ms();
  ex->expected_known = 1;
  if (ex->dialect == RS_DIALECT_TUS) {
    if (rs_tus_body_begin(ex) != RESUMABLE_OK)
      return; /* decided */
    if (ex->expected_known && ex->expected == 0) {
      conclude(ex, RESUMABLE_BODY_COMPLETE); /* a creation or PATCH without a body */
      return;
    }
  } else {
    ex->expected = ex->req.cr.end - ex->req.cr.start + 1;
    if (ex->rd.algo != RS_RD_NONE && rs_put_digest_begin(ex) != RESUMABLE_OK)
      return; /* decided */
  }
  ex->phase = RS_PHASE_BODY;
}

static void discard_staging(resumable_exchange *ex)
{
  rs_hash_pipe_discard(&ex->stage_pipe);
  if (ex->staging) {
    ex->srv->ops->partial_close(ex->srv->self, ex->staging);
    ex->staging = NULL;
  }
}

static void begin_stage(resumable_exchange *ex)
{
  int rc = rs_drop_partial(ex);
  if (rc != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "remove", rc);
    return;
  }
  resumable_partial_info info;
  memset(&info, 0, sizeof(info));
  ex->expected_known = ex->req.length == RS_FIELD_OK;
  ex->expected = ex->expected_known ? ex->req.content_length : 0;
  info.total = ex->expected_known ? ex->expected : UINT64_MAX;
  info.has_target = ex->req.hash == RS_FIELD_OK;
  if (info.has_target)
    memcpy(info.target_sha256, ex->req.sha256, 32);
  rc = ex->srv->ops->partial_open(ex->srv->self, ex->key, RESUMABLE_PARTIAL_STAGING, &info,
                                  &ex->staging, NULL);
  if (rc != RESUMABLE_OK) {
    ex->staging = NULL;
    rs_exchange_store_error(ex, "open", rc);
    return;
  }
  rs_hash_pipe_fini(&ex->stage_pipe);
  rs_sha256_init(&ex->stage_sha);
  rs_hash_pipe_bind(&ex->stage_pipe, ex->srv->hash_pool, &ex->stage_sha); /* inline if NOMEM */
  rs_req_digest_tee(&ex->rd, &ex->stage_pipe); /* Content-Digest sha-256: in the same pass */
  ex->mode = RS_BODY_STAGE;
  ex->phase = RS_PHASE_BODY;
}

void rs_put_begin(resumable_exchange *ex, const rs_decision *d)
{
  rs_keylock_entry *e = ex->entry;
  pthread_mutex_lock(&e->mu);
  if (!e->pipe.bound)
    rs_hash_pipe_bind(&e->pipe, ex->srv->hash_pool, &e->sha); /* inline if NOMEM */
  ex->generation = ++e->generation; /* supersedes any older writer of the key */
  /* ... and any in another process (store key_lock), waiting for it to let go. */
  int rc = rs_key_lock(ex, RESUMABLE_KEY_TAKE);
  if (rc == RESUMABLE_E_SUPERSEDED) {
    close_entry_handle(ex); /* another process had the key meanwhile: this is stale */
    rc = RESUMABLE_OK;
  }
  /* The older writer's bytes are kept (once verified) before this request is judged. */
  if (rc != RESUMABLE_OK)
    rs_exchange_store_error(ex, "lock", rc);
  else if ((rc = settle_older(ex)) != RESUMABLE_OK)
    rs_exchange_store_error(ex, "sync", rc);
  else if (d->action == RS_ACT_STAGE)
    begin_stage(ex);
  else
    begin_chunk(ex);
  rs_key_unlock(ex);
  pthread_mutex_unlock(&e->mu);
}

/* Append to the partial; returns with the reply decided on any stop. Under e->mu. */
static void feed_append(resumable_exchange *ex, const uint8_t *data, size_t len)
{
  rs_keylock_entry *e = ex->entry;
  uint64_t left = ex->expected - ex->received;
  size_t n = len < left ? len : (size_t)left;
  if (n > 0) {
    int rc = ex->srv->ops->partial_write(ex->srv->self, e->handle, e->info.held, data, n);
    if (rc != RESUMABLE_OK) {
      if (e->handle) /* keep what was durable-able before; drops the torn write */
        (void)(e->provisional ? rollback_partial(ex) : rs_put_sync(ex));
      rs_exchange_store_error(ex, "write", rc);
      return;
    }
    /* A request digest tee'd on the key's pipe gets these bytes from it (same copy, same pass) */
    rs_hash_pipe_update(&e->pipe, data, n);
    if (ex->rd.algo != RS_RD_NONE)
      rs_req_digest_update(&ex->rd, data, n); /* no-op when tee'd */
    else if (e->provisional && !ex->tus.ck_teed)
      rs_tus_checksum_update(&ex->tus.ck, data, n);
    e->info.held += n;
    ex->received += n;
    ex->since_sync += n;
  }
  if (len > n) {
    ex->received += len - n;
    int rc = e->provisional              ? rollback_partial(ex)
             : e->info.held != e->synced ? rs_put_sync(ex)
                                         : RESUMABLE_OK;
    if (rc != RESUMABLE_OK)
      rs_exchange_store_error(ex, "sync", rc);
    else if (!ex->expected_known) /* tus: a chunked body past Upload-Length */
      rs_exchange_fail(ex, 413, "body goes past Upload-Length");
    else
      rs_exchange_fail(ex, 400, "body longer than Content-Range");
    return;
  }
  /* Checkpoints (resumable_server_set_checkpoint) have a time floor as well as a size: each
   * waits for the hash to catch up and for the disk, and one every 64 MiB cost a quarter of
   * the throughput of a 1 GB/s upload. */
  if (!e->provisional && ex->since_sync >= ex->srv->checkpoint_bytes &&
      rs_now_ms() - ex->synced_at >= ex->srv->checkpoint_ms) {
    int rc = rs_put_sync(ex);
    if (rc != RESUMABLE_OK)
      rs_exchange_store_error(ex, "sync", rc);
  }
}

static void feed_stage(resumable_exchange *ex, const uint8_t *data, size_t len)
{
  size_t n = len;
  if (ex->expected_known && ex->expected - ex->received < n)
    n = (size_t)(ex->expected - ex->received);
  uint64_t max = ex->srv->max_size;
  if (max && (ex->received > max || n > max - ex->received)) {
    discard_staging(ex);
    rs_exchange_fail(ex, 413, "larger than the maximum file size");
    return;
  }
  int rc = ex->srv->ops->partial_write(ex->srv->self, ex->staging, ex->received, data, n);
  if (rc != RESUMABLE_OK) {
    discard_staging(ex);
    rs_exchange_store_error(ex, "write", rc);
    return;
  }
  rs_hash_pipe_update(&ex->stage_pipe, data, n);
  rs_req_digest_update(&ex->rd, data, n); /* no-op without Content-Digest, or tee'd */
  ex->received += n;
  if (len > n) {
    ex->received += len - n;
    discard_staging(ex);
    rs_exchange_fail(ex, 400, "body longer than Content-Length");
  }
}

/* Still the owner of the key, in this process (the entry generation) and across processes (the
 * store's key_lock, KEEP: cheap enough for every body piece)? Then the key is locked until
 * rs_key_unlock; otherwise the reply is decided (423). Under e->mu. */
static int still_owner(resumable_exchange *ex)
{
  if (ex->generation == ex->entry->generation && (ex->mode == RS_BODY_STAGE || ex->entry->handle)) {
    int rc = rs_key_lock(ex, RESUMABLE_KEY_KEEP);
    if (rc == RESUMABLE_OK)
      return 1;
    /* Another process takes the key. If the store still lets this request sync, its bytes
     * stay, as when the newer request is in this process (PROTOCOL.md step 8); a store that
     * let the key go already refuses (then they are dropped with the handle, unpromised).
     * Bytes not verified yet (tus Upload-Checksum) are dropped with the handle, as a newer
     * request in this process drops them (settle_older). */
    if (rc == RESUMABLE_E_SUPERSEDED && ex->mode == RS_BODY_APPEND && ex->entry->handle &&
        !ex->entry->provisional && ex->entry->info.held != ex->entry->synced)
      (void)rs_put_sync(ex);
    rs_key_unlock(ex);
    close_entry_handle(ex);
    discard_staging(ex);
    rs_exchange_store_error(ex, "lock", rc); /* 423 for RESUMABLE_E_SUPERSEDED */
    return 0;
  }
  discard_staging(ex);
  rs_exchange_fail(ex, 423, "superseded by a newer request for this key");
  return 0;
}

int rs_put_feed(resumable_exchange *ex, const uint8_t *data, size_t len)
{
  rs_keylock_entry *e = ex->entry;
  pthread_mutex_lock(&e->mu);
  if (still_owner(ex)) {
    if (ex->mode == RS_BODY_APPEND)
      feed_append(ex, data, len);
    else
      feed_stage(ex, data, len);
    rs_key_unlock(ex);
  }
  pthread_mutex_unlock(&e->mu);
  return ex->phase == RS_PHASE_DECIDED ? 1 : 0;
}

static void end_stage(resumable_exchange *ex, resumable_body_end how)
{
  uint8_t digest[32];
  if (how == RESUMABLE_BODY_DROPPED && !ex->expected_known) {
    /* A chunked body cut off (dropped connection, bad chunk framing, a timeout): no length
     * says whether it was whole, so it is never committed. */
    discard_staging(ex);
    rs_exchange_fail(ex, 400, "body ended before its end was announced");
    return;
  }
  int whole =
      how == RESUMABLE_BODY_COMPLETE && (!ex->expected_known || ex->received == ex->expected);
  if (ex->rd.algo != RS_RD_NONE && !rs_req_digest_matches(&ex->rd) && whole) {
    discard_staging(ex);                                  /* a corrupted body is never committed */
    fail_content_digest(ex, 0, ex->rd.algo, ex->rd.want); /* LocalAI: the draft stages none */
    return;
  }
  rs_digest dg = RS_DIGEST_NONE;
  rs_hash_pipe_drain(&ex->stage_pipe);
  rs_sha256_finish(&ex->stage_sha, digest);
  rs_sha256_init(&ex->stage_sha);
  if (ex->req.hash == RS_FIELD_OK)
    dg = memcmp(digest, ex->req.sha256, 32) == 0 ? RS_DIGEST_MATCH : RS_DIGEST_MISMATCH;
  rs_decision d;
  rs_decide_end(ex->received, ex->expected_known, ex->expected, ex->received, ex->received, dg, &d);
  if (d.status != 200) {
    discard_staging(ex);
    rs_exchange_reply_decision(ex, &d);
    return;
  }
  resumable_complete_info ci;
  ci.size = ex->received;
  memcpy(ci.sha256, digest, 32);
  int rc = ex->srv->ops->partial_commit(ex->srv->self, ex->staging, &ci);
  discard_staging(ex); /* after a commit this only releases the handle */
  if (rc != RESUMABLE_OK)
    rs_exchange_store_error(ex, "commit", rc);
  else
    rs_exchange_reply_done(ex, ci.size, digest);
}

void rs_put_end(resumable_exchange *ex, resumable_body_end how)
{
  /* A dropped chunk is judged like a short one: its bytes are kept. */
  rs_keylock_entry *e = ex->entry;
  pthread_mutex_lock(&e->mu);
  if (still_owner(ex)) {
    if (ex->mode == RS_BODY_APPEND)
      conclude(ex, how);
    else
      end_stage(ex, how);
    rs_key_unlock(ex);
  }
  pthread_mutex_unlock(&e->mu);
}

/* A request digest still tee'd on the key's pipe (the request ended without being judged)
 * comes off it now, while the entry is held: the pipe outlives the exchange. Under e->mu. */
static void detach_request_digests(resumable_exchange *ex)
{
  rs_req_digest_free(&ex->rd);
  if (ex->tus.ck_teed)
    (void)rs_hash_pipe_untee(&ex->entry->pipe, &ex->tus.ck.u.sha256);
  ex->tus.ck_teed = 0;
}

void rs_put_release(resumable_exchange *ex)
{
  rs_keylock_entry *e = ex->entry;
  if (!e)
    return;
  if (ex->staging || ex->rd.host || ex->tus.ck_teed) {
    pthread_mutex_lock(&e->mu);
    discard_staging(ex);
    detach_request_digests(ex);
    pthread_mutex_unlock(&e->mu);
  }
  rs_hash_pipe_fini(&ex->stage_pipe); /* the key's own pipe lives on with the entry */
  ex->entry = NULL;
  rs_keylock_release(ex->srv->locks, e);
}
