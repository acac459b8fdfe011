#include "stager_decide.h"

#include <string.h>

int rs_status_transient(int status)
{
  return status == 408 || status == 423 || status == 429 || (status >= 500 && status <= 599);
}

/* A partial bound to our hash and size (X-Upload-Total is optional: LocalAI omits it). */
static int partial_is_ours(const rs_resp *r, uint64_t size, const uint8_t sha[32])
{
  return r->has_target_sha && memcmp(r->target_sha, sha, 32) == 0 &&
         (!r->has_upload_total || r->upload_total == size) && r->has_file_size &&
         r->file_size <= size;
}

static int complete_is_ours(const rs_resp *r, uint64_t size, const uint8_t sha[32])
{
  return r->has_content_sha && memcmp(r->content_sha, sha, 32) == 0 && r->has_file_size &&
         r->file_size == size;
}

rs_probe_next rs_stager_decide_probe(int status, const rs_resp *r, uint64_t size,
                                     const uint8_t sha[32], uint64_t *offset)
{
  *offset = 0;
  if (status == 404)
    return RS_PROBE_SEND;
  if (status == 405)
    return RS_PROBE_WHOLE;
  if (rs_status_transient(status))
    return RS_PROBE_TRANSIENT;
  if (status >= 400 && status <= 499)
    return RS_PROBE_REFUSED;
  if (status < 200 || status > 299)
    return RS_PROBE_PROTOCOL;
  if (complete_is_ours(r, size, sha) && !r->has_upload_total)
    return RS_PROBE_DONE;
  if (!r->accept_ranges)
    return RS_PROBE_WHOLE;
  if (partial_is_ours(r, size, sha))
    *offset = r->file_size;
  return RS_PROBE_SEND;
}

static int middle_chunk(const rs_put_req *req, uint64_t size)
{
  return !req->whole && req->end < size;
}

/* An answer to a middle chunk that claims every byte of the file. Success needs the end of the
 * file sent, or the server's X-Content-SHA256 equal to ours: only then did the server vouch for
 * bytes we never sent. A bare claim (e.g. a server that takes the size from Content-Range's
 * total) is read as "holds what you sent": carry on from the chunk's end. Returns 1 when it
 * decided. */
static int claims_all_unconfirmed(const rs_resp *r, const rs_put_req *req, uint64_t size,
                                  const uint8_t sha[32], uint64_t held, uint64_t *offset)
{
  if (!middle_chunk(req, size) || held != size ||
      (r->has_content_sha && memcmp(r->content_sha, sha, 32) == 0))
    return 0;
  *offset = req->end;
  return 1;
}

static rs_put_next put_2xx(const rs_resp *r, const rs_put_req *req, uint64_t size,
                           const uint8_t sha[32], uint64_t *offset)
{
  if (r->has_content_sha && memcmp(r->content_sha, sha, 32) != 0)
    return RS_PUT_PROTOCOL;
  uint64_t held;
  int known = rs_resp_held(r, &held) == 0;
  if (middle_chunk(req, size)) {
    /* A 2xx to a middle chunk: a server that acknowledges chunks with 200 rather than 308 is
     * fine when it says what it holds. One that does not most likely ignored Content-Range and
     * stored this chunk as the whole file: taking it as progress would end in a truncated
     * "success". */
    if (!known)
      return RS_PUT_WHOLE;
    if (held > size)
      return RS_PUT_PROTOCOL;
    if (claims_all_unconfirmed(r, req, size, sha, held, offset))
      return RS_PUT_UNCONFIRMED;
    if (held < size) {
      *offset = held;
      return RS_PUT_CONTINUE;
    }
  }
  if (known && held != size)
    return RS_PUT_PROTOCOL;
  *offset = size;
  return RS_PUT_DONE;
}

rs_put_next rs_stager_decide_put(int status, const rs_resp *r, const rs_put_req *req, uint64_t size,
                                 const uint8_t sha[32], uint64_t *offset)
{
  uint64_t held = 0;
  *offset = 0;
  if (status >= 200 && status <= 299)
    return put_2xx(r, req, size, sha, offset);
  if (status == 308) {
    if (rs_resp_held(r, &held) != 0)
      held = 0; /* a 308 without Range or X-File-Size holds nothing */
    if (held > size)
      return RS_PUT_PROTOCOL;
    if (claims_all_unconfirmed(r, req, size, sha, held, offset))
      return RS_PUT_UNCONFIRMED; /* else the finish PUT would end it with one chunk sent */
    *offset = held;
    return RS_PUT_CONTINUE;
  }
  if (status == 416) {
    if (!r->has_file_size)
      return RS_PUT_REPROBE;
    if (r->file_size > size)
      return RS_PUT_PROTOCOL;
    if (req->finish && r->file_size == size)
      return RS_PUT_COMMITTING; /* re-syncing would only send the same finish PUT again */
    *offset = r->file_size;
    return RS_PUT_RESYNC;
  }
  if (status == 409)
    return RS_PUT_RESTART;
  if (status == 400)
    return req->whole || req->end == size ? RS_PUT_RESTART : RS_PUT_REFUSED;
  if (status == 413)
    return RS_PUT_TOO_LARGE;
  if (rs_status_transient(status))
    return RS_PUT_TRANSIENT;
  if (status >= 400 && status <= 499)
    return RS_PUT_REFUSED;
  return RS_PUT_PROTOCOL;
}

rs_file_change rs_stager_decide_file(const rs_hc_key *then, const rs_hc_key *fd_now,
                                     const rs_hc_key *path_now, int path_gone)
{
  if (path_gone)
    return RS_FILE_GONE;
  if (path_now && (path_now->dev != then->dev || path_now->ino != then->ino))
    return RS_FILE_REPLACED;
  if (fd_now->size != then->size)
    return RS_FILE_RESIZED;
  if (fd_now->mtime_sec != then->mtime_sec || fd_now->mtime_nsec != then->mtime_nsec)
    return RS_FILE_MODIFIED;
  if (fd_now->ctime_sec != then->ctime_sec || fd_now->ctime_nsec != then->ctime_nsec)
    return RS_FILE_STATUS;
  return RS_FILE_SAME;
}

/* Two cuts "near the same count": within a quarter of each other. Counts differ by the request
 * headers that shared the connection, and HEAD may ask a moment before the server has taken
 * the last bytes of the cut request. */
static int near(uint64_t a, uint64_t b)
{
  uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
  return lo >= hi - hi / 4;
}

static rs_cut_next cap_cut(rs_cap *c, uint64_t carried)
{
  if (carried < RS_CAP_MIN && c->testing && !c->retested) {
    /* A test that delivered (almost) nothing says nothing about a cap: the server dropped or
     * never saw it (it may have been finishing the cut request). Test once more. */
    c->retested = 1;
    return RS_CUT_TEST;
  }
  c->retested = 0;
  if (carried < RS_CAP_MIN) {
    c->suspect = c->cap = 0;
    c->testing = 0;
    return RS_CUT_WAIT;
  }
  uint64_t ref = c->cap ? c->cap : c->suspect;
  if (ref && near(carried, ref)) {
    c->cap = carried < ref ? carried : ref;
    c->suspect = 0;
    c->testing = 0;
    return RS_CUT_FIT;
  }
  /* A new count: test it at once, unless this cut was itself the test of another count (cuts
   * at scattered counts are no relay's cap; retrying each at once would be a busy loop). */
  int was_test = c->testing;
  c->cap = 0;
  c->suspect = carried;
  c->testing = !was_test;
  return was_test ? RS_CUT_WAIT : RS_CUT_TEST;
}

rs_cut_next rs_cap_cut(rs_cap *c, uint64_t carried, int settled, int *at_once)
{
  c->refuted = 0;
  rs_cut_next next = cap_cut(c, carried);
  *at_once = next != RS_CUT_WAIT && settled;
  return next;
}

void rs_cap_delivered(rs_cap *c, uint64_t carried)
{
  c->refuted = 0;
  if (c->suspect && carried > c->suspect) {
    c->suspect = 0;
    c->testing = 0;
    c->retested = 0;
    c->refuted = 1; /* the count was wrong (e.g. the server kept less than the relay passed) */
  }
}

uint64_t rs_put_limit(const rs_cap *c, int *fresh)
{
  *fresh = c->cap || c->testing || c->refuted;
  if (c->cap)
    return c->cap - c->cap / 16; /* room for the relay's own count of headers and framing */
  if (c->testing)                /* cut near `suspect` if that is a cap, with little in flight */
    return c->suspect + (c->suspect / 8 < RS_CAP_TEST_OVER ? c->suspect / 8 : RS_CAP_TEST_OVER);
  return 0;
}

/* Settled: the count did not move between two probes (the server has read all it will get of
 * the cut request), or every byte of the request arrived. Anything else may still be in the
 * server's socket. */
rs_settle_next rs_settle_probe(rs_settle *s, uint64_t held, uint64_t *carried)
{
  uint64_t delivered = held > s->start ? held - s->start : 0;
  *carried = s->base + delivered;
  int same = s->probes > 0 && held == s->last;
  s->last = held;
  s->probes++;
  if (same || delivered >= s->sent)
    return RS_SETTLE_JUDGE;
  return s->probes < RS_SETTLE_PROBES ? RS_SETTLE_PROBE : RS_SETTLE_UNSURE;
}
