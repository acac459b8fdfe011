/* A complete object read through one GET that the reader pulls from: the transfer runs on a
 * curl multi handle driven by the reads themselves, and pauses (CURL_WRITEFUNC_PAUSE) whenever
 * the small stash is full, so a slow client costs a paused connection, not memory. One GET also
 * means one version: RGW resolves the object when the GET starts and keeps reading that version
 * even if it is replaced meanwhile. A read at another offset, or after the connection broke,
 * starts a ranged GET with If-Match on the ETag seen first; if the object was replaced by then,
 * the read fails rather than mix versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "store_s3.h"

#define STASH ((size_t)256 << 10)

struct s3_reader {
  s3_store *s;
  char name[S3_NAME_MAX];
  char etag[S3_ETAG_MAX];
  char hdr_range[64], hdr_match[S3_ETAG_MAX + 16];
  CURLM *multi;
  CURL *easy;
  int attached;
  s3_request rq;
  s3_response rs;
  s3_xfer x;
  uint8_t *stash;
  size_t len, off; /* stash holds [off, len) */
  uint64_t pos;    /* object offset of stash[off] */
  uint64_t size;
  int paused, done;
  CURLcode result;
  int restarts;
};

static size_t sink(char *data, size_t size, size_t nmemb, void *arg)
{
  s3_reader *r = arg;
  size_t n = size * nmemb;
  if (r->len + n > STASH && r->off > 0) {
    memmove(r->stash, r->stash + r->off, r->len - r->off);
    r->len -= r->off;
    r->off = 0;
  }
  if (r->len + n > STASH) {
    r->paused = 1;
    return CURL_WRITEFUNC_PAUSE; /* curl delivers the same bytes again after unpausing */
  }
  memcpy(r->stash + r->len, data, n);
  r->len += n;
  return n;
}

static void detach(s3_reader *r)
{
  if (r->attached) {
    curl_multi_remove_handle(r->multi, r->easy);
    s3_xfer_done(&r->x);
    r->attached = 0;
  }
}

/* Start a GET from `offset` (ranged, If-Match, unless it is the first one from 0). */
static int start(s3_reader *r, uint64_t offset)
{
  detach(r);
  memset(&r->rq, 0, sizeof(r->rq));
  r->rq.method = "GET";
  r->rq.object = r->name;
  r->rq.sink_fn = sink;
  r->rq.sink_arg = r;
  r->rq.quiet_timeouts = 1; /* the client may read slowly; the GET waits paused */
  size_t h = 0;
  if (offset > 0) {
    snprintf(r->hdr_range, sizeof(r->hdr_range), "Range: bytes=%llu-", (unsigned long long)offset);
    r->rq.headers[h++] = r->hdr_range;
  }
  if (r->etag[0]) {
    snprintf(r->hdr_match, sizeof(r->hdr_match), "If-Match: \"%s\"", r->etag);
    r->rq.headers[h++] = r->hdr_match;
  }
  int rc = s3_xfer_setup(r->s, r->easy, &r->rq, &r->rs, &r->x);
  if (rc != RESUMABLE_OK)
    return rc;
  if (curl_multi_add_handle(r->multi, r->easy) != CURLM_OK) {
    s3_xfer_done(&r->x);
    return RESUMABLE_E_NOMEM;
  }
  r->attached = 1;
  r->len = r->off = 0;
  r->pos = offset;
  r->paused = r->done = 0;
  r->result = CURLE_OK;
  return RESUMABLE_OK;
}

/* Move the transfer on once: unpause, perform, note the end, wait a little if nothing came. */
static void pump(s3_reader *r)
{
  int running = 0;
  if (r->paused) {
    r->paused = 0;
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
  }
  curl_multi_perform(r->multi, &running);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(r->multi, &left)) != NULL)
    if (m->msg == CURLMSG_DONE) {
      r->done = 1;
      r->result = m->data.result;
    }
  if (!r->done && !r->paused && r->len == r->off)
    curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
}

static int answer_ok(const s3_reader *r)
{
  return r->rs.status == 200 || r->rs.status == 206;
}

int s3_reader_open(s3_store *s, const char *name, const char *etag, s3_reader **out,
                   s3_response *rs)
{
  s3_reader *r = calloc(1, sizeof(*r));
  if (!r)
    return RESUMABLE_E_NOMEM;
  r->s = s;
  snprintf(r->name, sizeof(r->name), "%s", name);
  snprintf(r->etag, sizeof(r->etag), "%s", etag ? etag : "");
  r->stash = malloc(STASH);
  r->multi = curl_multi_init();
  r->easy = curl_easy_init();
  int rc = r->stash && r->multi && r->easy ? start(r, 0) : RESUMABLE_E_NOMEM;
  while (rc == RESUMABLE_OK && !r->rs.headers_done && !r->done)
    pump(r);
  if (rc == RESUMABLE_OK) {
    if (r->rs.headers_done && answer_ok(r) && r->rs.has_length)
      rc = RESUMABLE_OK;
    else if (r->rs.status == 404)
      rc = RESUMABLE_E_NOT_FOUND;
    else
      rc = RESUMABLE_E_IO;
  }
  if (rc != RESUMABLE_OK) {
    s3_reader_close(r);
    return rc;
  }
  r->size = r->rs.length;
  if (!r->etag[0])
    snprintf(r->etag, sizeof(r->etag), "%s", r->rs.etag);
  *rs = r->rs;
  *out = r;
  return RESUMABLE_OK;
}

int s3_reader_read(s3_reader *r, uint64_t offset, void *buf, size_t len, size_t *got)
{
  *got = 0;
  if (offset >= r->size || len == 0)
    return RESUMABLE_OK;
  if (offset != r->pos) {
    int rc = start(r, offset);
    if (rc != RESUMABLE_OK)
      return rc;
  }
  uint8_t *dst = buf;
  while (*got < len && r->pos < r->size) {
    if (r->len > r->off) {
      size_t n = r->len - r->off < len - *got ? r->len - r->off : len - *got;
      memcpy(dst + *got, r->stash + r->off, n);
      r->off += n;
      r->pos += n;
      *got += n;
      continue;
    }
    if (r->done || (r->rs.headers_done && !answer_ok(r))) {
      /* ended before the object did: the connection broke, or S3 refused the range (412: the
       * object was replaced) */
      if (r->rs.status == 412 || r->restarts >= 3)
        return RESUMABLE_E_IO;
      r->restarts++;
      int rc = start(r, r->pos);
      if (rc != RESUMABLE_OK)
        return rc;
      continue;
    }
    pump(r);
  }
  return RESUMABLE_OK;
}

void s3_reader_close(s3_reader *r)
{
  if (!r)
    return;
  detach(r);
  if (r->easy)
    curl_easy_cleanup(r->easy);
  if (r->multi)
    curl_multi_cleanup(r->multi);
  free(r->stash);
  free(r);
}
