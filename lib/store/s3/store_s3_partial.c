/* partial_* ops of the S3 store but the commit (store_s3_commit.c); the writing handle is in
 * store_s3.h. Opening for writing creates the next record (the claim); partial_sync writes the bytes of the part in progress as a tail object and then the next
 * record naming them; the record before it and its tail are deleted afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "store_s3.h"

#define MiB ((uint64_t)1 << 20)
#define CLAIM_TRIES 8

/* Parts big enough that `total` needs at most 10000 of them. 0 if it cannot be stored. */
static uint64_t choose_part(const s3_store *s, uint64_t total)
{
  uint64_t p = s->part_size;
  if (total != UINT64_MAX && total / S3_MAX_PARTS >= p) {
    uint64_t need = total / S3_MAX_PARTS + 1;
    p = (need + MiB - 1) / MiB * MiB;
  }
  return p <= S3_MAX_PART ? p : 0;
}

static size_t part_len(const s3_handle *h)
{
  uint64_t left = h->total == UINT64_MAX ? h->st.part_size : h->total - h->base;
  return (size_t)(left < h->st.part_size ? left : h->st.part_size);
}

size_t s3_handle_fill(const s3_handle *h)
{
  return h->pipe ? s3_pipe_fill(h->pipe) : 0;
}

static void set_guard(s3_handle *h)
{
  char name[S3_NAME_MAX];
  if (h->pipe && s3_state_name(h->s, h->hex, h->rec.seq + 1, name, sizeof(name)) == 0)
    s3_pipe_guard(h->pipe, name);
}

static int ensure_pipe(s3_handle *h)
{
  if (h->pipe)
    return RESUMABLE_OK;
  size_t cap = part_len(h);
  int rc = s3_pipe_new(&h->pipe, h->s, cap);
  if (rc != RESUMABLE_OK)
    return rc;
  s3_pipe_writer(h->pipe, h->writer);
  if (!h->staging)
    set_guard(h);
  return RESUMABLE_OK;
}

static s3_handle *handle_new(s3_store *s, const char *key, int staging)
{
  s3_handle *h = calloc(1, sizeof(*h));
  if (!h)
    return NULL;
  h->s = s;
  h->staging = staging;
  snprintf(h->key, sizeof(h->key), "%s", key);
  s3_key_hex(key, h->hex);
  s3_state_init(&h->rec);
  s3_state_init(&h->st);
  if (s3_random_hex(h->writer, 16) != 0 || s3_object(s, key, h->object, sizeof(h->object)) != 0) {
    free(h);
    return NULL;
  }
  return h;
}

static void handle_free(s3_handle *h)
{
  s3_reader_close(h->reader);
  s3_pipe_free(h->pipe);
  s3_state_free(&h->rec);
  s3_state_free(&h->st);
  free(h);
}

/* ---- records ---- */

void s3_delete_record(s3_store *s, const char *hex, uint64_t seq)
{
  char name[S3_NAME_MAX];
  if (s3_state_name(s, hex, seq, name, sizeof(name)) == 0)
    s3_delete_quiet(s, name);
}

void s3_delete_tail(s3_store *s, const char *hex, const char *tail)
{
  char name[S3_NAME_MAX];
  if (tail[0] && s3_tail_name(s, hex, tail, name, sizeof(name)) == 0)
    s3_delete_quiet(s, name);
}

int s3_handle_adopt(s3_handle *h, s3_state *next)
{
  s3_state work;
  int rc = s3_state_copy(&work, next);
  if (rc != RESUMABLE_OK)
    return rc;
  uint64_t old_seq = h->rec.seq;
  char old_tail[sizeof(h->rec.tail)];
  snprintf(old_tail, sizeof(old_tail), "%s", h->rec.tail);
  s3_state_free(&h->rec);
  s3_state_free(&h->st);
  h->rec = *next;
  h->st = work;
  s3_state_init(next);
  if (h->rec.upload[0])
    h->upload_recorded = 1;
  set_guard(h);
  if (old_seq > 0 && old_seq != h->rec.seq)
    s3_delete_record(h->s, h->hex, old_seq);
  if (strcmp(old_tail, h->rec.tail) != 0)
    s3_delete_tail(h->s, h->hex, old_tail);
  return RESUMABLE_OK;
}

int s3_partial_drop(s3_store *s, const s3_state *newest)
{
  s3_state t;
  s3_state_init(&t);
  t.seq = newest->seq + 1;
  t.gone = 1;
  snprintf(t.key, sizeof(t.key), "%s", newest->key);
  if (s3_random_hex(t.writer, 16) != 0)
    return RESUMABLE_E_IO;
  int rc = s3_chain_create(s, &t);
  if (rc != RESUMABLE_OK)
    return rc;
  char hex[S3_HEX_KEY + 1], object[S3_NAME_MAX];
  s3_key_hex(newest->key, hex);
  if (newest->upload[0] && s3_object(s, newest->key, object, sizeof(object)) == 0)
    s3_mpu_abort(s, object, newest->upload);
  s3_delete_tail(s, hex, newest->tail);
  s3_delete_record(s, hex, newest->seq);
  if (s3_part_key(newest->key) && s3_object(s, newest->key, object, sizeof(object)) == 0)
    s3_delete_quiet(s, object); /* a sealed part's object (store_s3_seal.c) */
  return RESUMABLE_OK;
}

/* ---- stat, remove ---- */

int s3_partial_stat(void *self, const char *key, resumable_partial_info *out)
{
  s3_state st;
  int rc = s3_partial_key_check(key, 1);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = s3_chain_newest(self, key, &st);
  if (rc == RESUMABLE_OK && st.gone)
    rc = RESUMABLE_E_NOT_FOUND;
  if (rc == RESUMABLE_OK && out)
    *out = st.info;
  s3_state_free(&st);
  return rc;
}

int s3_partial_remove(void *self, const char *key)
{
  int kc = s3_partial_key_check(key, 1);
  if (kc != RESUMABLE_OK)
    return kc;
  for (int attempt = 0; attempt < CLAIM_TRIES; attempt++) {
    s3_state st;
    int rc = s3_chain_newest(self, key, &st);
    if (rc == RESUMABLE_OK && st.gone)
      rc = RESUMABLE_E_NOT_FOUND;
    if (rc == RESUMABLE_OK)
      rc = s3_partial_drop(self, &st);
    s3_state_free(&st);
    if (rc != RESUMABLE_E_SUPERSEDED)
      return rc;
  }
  return RESUMABLE_E_IO;
}

/* ---- open ---- */

typedef struct buf_sink {
  uint8_t *buf;
  size_t cap, n;
} buf_sink;

static size_t into_buf(char *data, size_t size, size_t nmemb, void *arg)
{
  buf_sink *b = arg;
  size_t n = size * nmemb;
  if (n > b->cap - b->n)
    return 0; /* longer than recorded: abort, the record does not match */
  memcpy(b->buf + b->n, data, n);
  b->n += n;
  return n;
}

/* The recorded tail back into the buffer: the start of the part in progress. */
static int load_tail(s3_handle *h)
{
  if (h->rec.tail_len == 0)
    return RESUMABLE_OK;
  int rc = ensure_pipe(h);
  if (rc != RESUMABLE_OK)
    return rc;
  char name[S3_NAME_MAX];
  if (h->rec.tail_len > part_len(h) ||
      s3_tail_name(h->s, h->hex, h->rec.tail, name, sizeof(name)) != 0)
    return RESUMABLE_E_IO;
  for (int attempt = 0; attempt < 3; attempt++) {
    buf_sink b = {s3_pipe_buf(h->pipe), (size_t)h->rec.tail_len, 0};
    s3_request rq = {.method = "GET", .object = name, .sink_fn = into_buf, .sink_arg = &b};
    s3_response rs;
    CURL *e = s3_easy_get(h->s);
    if (!e)
      return RESUMABLE_E_NOMEM;
    rc = s3_perform(h->s, e, &rq, &rs);
    s3_easy_put(h->s, e);
    if (rc == RESUMABLE_OK)
      rc = s3_status_code(&rs);
    if (rc == RESUMABLE_OK && b.n != h->rec.tail_len)
      rc = RESUMABLE_E_IO;
    if (rc == RESUMABLE_OK) {
      s3_pipe_reset(h->pipe, b.n);
      return RESUMABLE_OK;
    }
    if (rc == RESUMABLE_E_NOT_FOUND)
      return RESUMABLE_E_SUPERSEDED; /* deleted by a newer writer */
  }
  return rc;
}

static int open_existing(s3_handle *h)
{
  for (int attempt = 0; attempt < CLAIM_TRIES; attempt++) {
    s3_state newest, claim;
    int rc = s3_chain_newest(h->s, h->key, &newest);
    if (rc == RESUMABLE_OK && newest.gone)
      rc = RESUMABLE_E_NOT_FOUND;
    if (rc == RESUMABLE_OK)
      rc = s3_state_copy(&claim, &newest);
    if (rc != RESUMABLE_OK) {
      s3_state_free(&newest);
      return rc;
    }
    claim.seq = newest.seq + 1;
    memcpy(claim.writer, h->writer, sizeof(claim.writer));
    rc = s3_chain_create(h->s, &claim);
    if (rc == RESUMABLE_OK) {
      h->total = claim.info.total;
      h->base = s3_state_part_bytes(&claim);
      rc = s3_handle_adopt(h, &claim);
      if (rc == RESUMABLE_OK)
        s3_delete_record(h->s, h->hex, newest.seq); /* superseded by our claim */
    }
    s3_state_free(&claim);
    s3_state_free(&newest);
    if (rc == RESUMABLE_E_SUPERSEDED)
      continue; /* another writer claimed it first: read again */
    return rc == RESUMABLE_OK ? load_tail(h) : rc;
  }
  return RESUMABLE_E_IO;
}

static int open_create(s3_handle *h, const resumable_partial_info *info)
{
  uint64_t psize = choose_part(h->s, info->total);
  if (psize == 0)
    return RESUMABLE_E_NOSPACE;
  for (int attempt = 0; attempt < CLAIM_TRIES; attempt++) {
    s3_state newest, fresh;
    int rc = s3_chain_newest(h->s, h->key, &newest);
    if (rc == RESUMABLE_E_NOT_FOUND) {
      rc = RESUMABLE_OK;
      s3_state_init(&newest);
      newest.gone = 1;
    }
    if (rc != RESUMABLE_OK)
      return rc;
    s3_state_init(&fresh);
    fresh.seq = newest.seq + 1;
    memcpy(fresh.writer, h->writer, sizeof(fresh.writer));
    snprintf(fresh.key, sizeof(fresh.key), "%s", h->key);
    fresh.info = *info;
    fresh.info.held = 0;
    fresh.part_size = psize;
    rc = s3_chain_create(h->s, &fresh);
    if (rc == RESUMABLE_OK) {
      h->total = info->total;
      h->base = 0;
      rc = s3_handle_adopt(h, &fresh);
      /* the upload it replaces: its writer (if any) is superseded and its parts go */
      if (!newest.gone && newest.upload[0])
        s3_mpu_abort(h->s, h->object, newest.upload);
      if (!newest.gone)
        s3_delete_tail(h->s, h->hex, newest.tail);
      if (newest.seq > 0)
        s3_delete_record(h->s, h->hex, newest.seq);
    }
    s3_state_free(&fresh);
    s3_state_free(&newest);
    if (rc != RESUMABLE_E_SUPERSEDED)
      return rc;
  }
  return RESUMABLE_E_IO;
}

static int open_staging(s3_handle *h, const resumable_partial_info *info)
{
  h->total = info->total;
  h->st.part_size = choose_part(h->s, info->total);
  snprintf(h->st.key, sizeof(h->st.key), "%s", h->key);
  h->st.info = *info;
  h->st.info.held = 0;
  return h->st.part_size ? RESUMABLE_OK : RESUMABLE_E_NOSPACE;
}

int s3_partial_open(void *self, const char *key, resumable_partial_mode mode,
                    const resumable_partial_info *info, void **handle, resumable_partial_info *out)
{
  s3_store *s = self;
  *handle = NULL;
  if (mode != RESUMABLE_PARTIAL_EXISTING && !info)
    return RESUMABLE_E_INVALID_ARG;
  /* a tus concatenation part is a partial, never staged (include/resumable/store.h, "Keys") */
  int kc = mode == RESUMABLE_PARTIAL_EXISTING ? s3_partial_key_check(key, 1)
           : mode == RESUMABLE_PARTIAL_CREATE ? s3_partial_key_check(key, 0)
                                              : s3_key_check(key);
  if (kc != RESUMABLE_OK)
    return kc;
  char object[S3_NAME_MAX];
  if (s3_object(s, key, object, sizeof(object)) != 0)
    return mode == RESUMABLE_PARTIAL_EXISTING ? RESUMABLE_E_NOT_FOUND : RESUMABLE_E_CONFLICT;
  s3_handle *h = handle_new(s, key, mode == RESUMABLE_PARTIAL_STAGING);
  if (!h)
    return RESUMABLE_E_NOMEM;
  int rc = mode == RESUMABLE_PARTIAL_EXISTING ? open_existing(h)
           : mode == RESUMABLE_PARTIAL_CREATE ? open_create(h, info)
                                              : open_staging(h, info);
  if (rc != RESUMABLE_OK) {
    handle_free(h);
    return rc;
  }
  if (out)
    *out = h->staging ? h->st.info : h->rec.info;
  *handle = h;
  return RESUMABLE_OK;
}

/* ---- write, read ---- */

static int ensure_upload(s3_handle *h)
{
  if (h->st.upload[0])
    return RESUMABLE_OK;
  if (!h->st.token[0] && s3_random_hex(h->st.token, 16) != 0)
    return RESUMABLE_E_IO;
  int rc = s3_mpu_create(h->s, h->object, h->st.token, h->st.upload, sizeof(h->st.upload));
  if (rc == RESUMABLE_OK)
    h->upload_mine = 1;
  return rc;
}

/* No multipart upload yet, and none needed for these bytes: a file that fits one part is kept
 * in the buffer and PUT whole at the commit; so is the start of a body of unknown length until
 * it fills a part. */
static int single_part(const s3_handle *h, size_t after)
{
  if (h->base != 0 || h->st.upload[0])
    return 0;
  if (h->total == UINT64_MAX)
    return after < h->st.part_size;
  return h->total <= h->st.part_size;
}

int s3_handle_fail(s3_handle *h, int rc)
{
  if (rc == RESUMABLE_E_SUPERSEDED)
    h->failed = rc;
  return rc;
}

int s3_partial_write(void *self, void *handle, uint64_t offset, const void *buf, size_t len)
{
  s3_handle *h = handle;
  (void)self;
  if (h->committed)
    return RESUMABLE_E_STATE;
  if (h->failed)
    return h->failed;
  int rc = ensure_pipe(h);
  if (rc != RESUMABLE_OK)
    return rc;
  if (offset != h->base + s3_handle_fill(h))
    return RESUMABLE_E_IO;
  const uint8_t *p = buf;
  while (len > 0) {
    if (h->total != UINT64_MAX && h->base + s3_handle_fill(h) >= h->total)
      return RESUMABLE_E_IO; /* more bytes than the declared total */
    if (h->total == UINT64_MAX && h->st.nparts >= S3_MAX_PARTS)
      return RESUMABLE_E_NOSPACE;
    size_t plen = part_len(h), fill = s3_handle_fill(h);
    size_t n = len < plen - fill ? len : plen - fill;
    const char *upload = NULL;
    if (!single_part(h, fill + n)) {
      if ((rc = ensure_upload(h)) != RESUMABLE_OK)
        return s3_handle_fail(h, rc);
      upload = h->st.upload;
    }
    rc = s3_pipe_write(h->pipe, h->object, upload, h->st.nparts + 1, plen, p, n);
    if (rc != RESUMABLE_OK)
      return s3_handle_fail(h, rc);
    p += n;
    len -= n;
    if (upload && fill + n == plen) {
      char etag[S3_ETAG_MAX];
      rc = s3_pipe_finish(h->pipe, etag);
      if (rc == RESUMABLE_OK)
        rc = s3_state_add_part(&h->st, plen, etag);
      if (rc != RESUMABLE_OK)
        return s3_handle_fail(h, rc);
      h->base += plen;
    }
  }
  return RESUMABLE_OK;
}

int s3_partial_read(void *self, void *handle, uint64_t offset, void *buf, size_t len, size_t *got)
{
  s3_handle *h = handle;
  (void)self;
  *got = 0;
  /* bytes in parts cannot be read back from an unfinished multipart upload, only from the
   * object of a sealed concatenation part */
  if (offset < h->base)
    return h->st.sealed ? s3_sealed_read(h, offset, buf, len, got) : RESUMABLE_E_IO;
  size_t fill = s3_handle_fill(h);
  if (offset >= h->base + fill)
    return RESUMABLE_OK;
  size_t at = (size_t)(offset - h->base), n = fill - at < len ? fill - at : len;
  memcpy(buf, s3_pipe_buf(h->pipe) + at, n);
  *got = n;
  return RESUMABLE_OK;
}

/* ---- sync ---- */

/* Back to the handle's last record: a sync that takes back bytes past it (a tus request whose
 * checksum failed: PROTOCOL.md, "Dialects") may find some of them acknowledged as parts already,
 * which S3 cannot cut. The record's parts and tail hold exactly what it promised: the buffer is
 * reloaded from that tail, later parts are left to be overwritten (a commit names its parts and
 * ETags), and an upload begun since the record is aborted. */
static int revert_to_record(s3_handle *h)
{
  s3_state back;
  int rc = s3_state_copy(&back, &h->rec);
  if (rc != RESUMABLE_OK)
    return rc;
  if (h->pipe)
    s3_pipe_reset(h->pipe, 0);
  if (h->st.upload[0] && strcmp(h->st.upload, h->rec.upload) != 0)
    s3_mpu_abort(h->s, h->object, h->st.upload);
  s3_state_free(&h->st);
  h->st = back;
  h->base = s3_state_part_bytes(&h->st);
  h->upload_mine = 0;
  set_guard(h);
  return load_tail(h);
}

int s3_partial_sync(void *self, void *handle, const resumable_partial_info *info)
{
  s3_handle *h = handle;
  s3_store *s = self;
  if (!info)
    return RESUMABLE_E_INVALID_ARG;
  if (h->staging || h->committed)
    return RESUMABLE_E_STATE; /* staging uploads are committed or dropped, never synced */
  if (h->failed)
    return h->failed;
  if (info->held < h->base && info->held <= h->rec.info.held && !h->rec.sealed) {
    int rc = revert_to_record(h);
    if (rc != RESUMABLE_OK)
      return s3_handle_fail(h, rc);
  }
  if (s3_seal_due(h, info))
    return s3_seal(h, info);
  size_t fill = s3_handle_fill(h);
  if (info->held < h->base || info->held > h->base + fill)
    return RESUMABLE_E_IO; /* cannot take back bytes S3 acknowledged as parts */
  size_t cut = (size_t)(info->held - h->base);
  if (cut < fill)
    s3_pipe_reset(h->pipe, cut);
  s3_state next;
  int rc = s3_state_copy(&next, &h->st);
  if (rc != RESUMABLE_OK)
    return rc;
  next.seq = h->rec.seq + 1;
  next.info = *info;
  next.tail[0] = '\0';
  next.tail_len = 0;
  if (cut > 0) {
    char name[S3_NAME_MAX];
    snprintf(next.tail, sizeof(next.tail), "tail-%016llx-%s", (unsigned long long)next.seq,
             h->writer);
    next.tail_len = cut;
    rc = s3_tail_name(s, h->hex, next.tail, name, sizeof(name));
    if (rc == 0)
      rc = s3_put_object(s, name, s3_pipe_buf(h->pipe), cut, NULL, NULL);
    else
      rc = RESUMABLE_E_IO;
  }
  if (rc == RESUMABLE_OK)
    rc = s3_chain_create(s, &next);
  if (rc == RESUMABLE_OK)
    rc = s3_handle_adopt(h, &next);
  else if (rc == RESUMABLE_E_SUPERSEDED)
    s3_delete_tail(s, h->hex, next.tail); /* ours, and named by no record */
  s3_state_free(&next);
  return s3_handle_fail(h, rc);
}

void s3_partial_close(void *self, void *handle)
{
  s3_handle *h = handle;
  if (!h)
    return;
  s3_pipe_free(h->pipe);
  h->pipe = NULL;
  /* an upload that no record names would only be found by the orphan sweep */
  if (!h->committed && h->upload_mine && !h->upload_recorded && h->st.upload[0])
    s3_mpu_abort(self, h->object, h->st.upload);
  handle_free(h);
}
