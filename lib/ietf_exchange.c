/* The draft dialect of an exchange (ietf_exchange.h): its headers, their strict structured-
 * field parse (sfv.c), the mapping onto the tus request, and the draft's replies. */
#include "ietf_exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hex.h"
#include "resumable/error.h"
#include "sfv.h"
#include "tus_exchange.h"

/* Repr-Digest may list several algorithms (sha-512's value alone is 90 bytes). */
#define RS_IETF_REPR_MAX 1024

int rs_ietf_add_header(resumable_exchange *ex, const char *name, const char *value)
{
  rs_tus_exchange *t = &ex->tus;
  if (strcasecmp(name, "Upload-Draft-Interop-Version") == 0)
    rs_tus_keep_short(ex, &t->interop, value, "repeated Upload-Draft-Interop-Version");
  else if (strcasecmp(name, "Upload-Complete") == 0)
    rs_tus_keep_short(ex, &t->complete, value, "repeated Upload-Complete");
  else if (strcasecmp(name, "Want-Repr-Digest") == 0)
    rs_tus_keep_short(ex, &t->want_repr, value, "repeated Want-Repr-Digest");
  else if (strcasecmp(name, "Repr-Digest") == 0) {
    size_t n = strlen(value);
    if (t->repr) {
      if (t->repr_len != n || memcmp(t->repr, value, n) != 0)
        t->repr_bad = 1;
    } else if (n > RS_IETF_REPR_MAX) {
      t->repr_bad = 1;
    } else if (!t->repr_bad) {
      t->repr = malloc(n + 1);
      if (!t->repr)
        return RESUMABLE_E_NOMEM;
      memcpy(t->repr, value, n + 1);
      t->repr_len = n;
    }
  }
  return RESUMABLE_OK;
}

int rs_ietf_wanted(const resumable_exchange *ex)
{
  return ex->tus.interop.seen;
}

int rs_ietf_headers_done(resumable_exchange *ex)
{
  ex->tus.ietf = 1;
  return rs_tus_headers_done(ex);
}

static rs_field uint_field(const rs_hdr *h, uint64_t *out)
{
  if (!h->seen)
    return RS_FIELD_ABSENT;
  return !h->too_long && rs_sfv_uint(h->value, strlen(h->value), out) == 0 ? RS_FIELD_OK
                                                                           : RS_FIELD_MALFORMED;
}

/* Content-Type of a PATCH: the media type application/partial-upload (parameters ignored). */
static int partial_upload_type(const rs_hdr *h)
{
  static const char want[] = "application/partial-upload";
  if (h->too_long)
    return 0;
  const char *v = h->value;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t n = strlen(want);
  if (strncasecmp(v, want, n) != 0)
    return 0;
  v += n;
  while (*v == ' ' || *v == '\t')
    v++;
  return *v == '\0' || *v == ';';
}

static int want_member(void *arg, const char *key, const rs_sfv_value *v)
{
  if (strcmp(key, "sha-256") == 0)
    *(int *)arg = v->type == RS_SFV_INTEGER && v->i > 0;
  return 0;
}

void rs_ietf_gather(resumable_exchange *ex)
{
  rs_tus_exchange *t = &ex->tus;
  rs_ietf_request *ir = &t->ireq;
  rs_tus_request *r = &t->req;
  memset(ir, 0, sizeof(*ir));
  ir->version = uint_field(&t->interop, &ir->version_value);
  if (ir->version == RS_FIELD_OK && ir->version_value != RS_IETF_VERSION_05 &&
      ir->version_value != RS_IETF_VERSION_LATEST)
    ir->version = RS_FIELD_MALFORMED;
  if (t->complete.seen)
    ir->complete =
        !t->complete.too_long &&
                rs_sfv_bool(t->complete.value, strlen(t->complete.value), &ir->complete_value) == 0
            ? RS_FIELD_OK
            : RS_FIELD_MALFORMED;
  ir->offset = uint_field(&t->offset, &r->offset_value);
  ir->length = uint_field(&t->length, &ir->length_value);
  if (t->repr || t->repr_bad) {
    uint8_t d[32];
    int got = t->repr_bad ? -1 : rs_sfv_digest(t->repr, "sha-256", d);
    ir->repr = got == 1 ? RS_FIELD_OK : got == 0 ? RS_FIELD_ABSENT : RS_FIELD_MALFORMED;
    if (got == 1) {
      if (r->hash == RS_FIELD_OK && memcmp(r->sha256, d, 32) != 0)
        ir->repr_conflict = 1;
      memcpy(r->sha256, d, 32);
    }
  }
  if (t->want_repr.seen && !t->want_repr.too_long)
    (void)rs_sfv_dict(t->want_repr.value, strlen(t->want_repr.value), want_member, &t->want_digest);
  /* version 8 requires the media type; version 6 (drafts -04/-05) takes it or none */
  if (t->content_type.seen)
    ir->content_type_ok = partial_upload_type(&t->content_type);
  else
    ir->content_type_ok = ir->version_value != RS_IETF_VERSION_LATEST;
  ir->inconsistent = rs_ietf_map(ir, r);
}

/* ---- replies ---- */

static int64_t wall_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts); /* the partial sweep's clock */
  return (int64_t)ts.tv_sec;
}

/* Upload-Limit: max-size from --max-size, max-age the partial's remaining lifetime (`age` < 0:
 * a whole TTL from now). Nothing when neither applies. */
static void upload_limit(resumable_exchange *ex, rs_reply *r, int64_t age)
{
  resumable_server *srv = ex->srv;
  char v[80];
  int n = 0;
  if (srv->max_size != 0)
    n = snprintf(v, sizeof(v), "max-size=%llu", (unsigned long long)srv->max_size);
  if (srv->partial_ttl != 0) {
    unsigned long long a = age < 0 ? (unsigned long long)srv->partial_ttl : (unsigned long long)age;
    n += snprintf(v + n, sizeof(v) - (size_t)n, "%smax-age=%llu", n ? ", " : "", a);
  }
  if (n > 0)
    rs_reply_header(r, "Upload-Limit", "%s", v);
}

static void location(resumable_exchange *ex, rs_reply *r)
{
  char enc[3 * RS_KEY_MAX + 1];
  if (rs_tus_key_encode(ex->key, enc, sizeof(enc)) >= 0)
    rs_reply_header(r, "Location", "%s%s", ex->srv->prefix, enc);
}

/* 201 to a creation, 204 to an append that leaves the upload incomplete. */
static void reply_offset(resumable_exchange *ex, uint64_t offset)
{
  rs_reply *r = &ex->reply;
  rs_reply_clear(r);
  r->status = ex->tus.created ? 201 : 204;
  if (ex->tus.created)
    location(ex, r);
  rs_reply_header(r, "Upload-Complete", "?0");
  rs_reply_header(r, "Upload-Offset", "%llu", (unsigned long long)offset);
  upload_limit(ex, r, -1);
  rs_exchange_decided(ex);
}

static void reply_problem(resumable_exchange *ex, const rs_decision *d)
{
  rs_reply *r = &ex->reply;
  rs_ietf_problem p = (rs_ietf_problem)d->size;
  char json[512];
  int n;
  if (p == RS_IETF_PROBLEM_MISMATCHING_OFFSET)
    n = snprintf(json, sizeof(json),
                 "{\"type\": \"%s\", \"title\": \"%s\", \"expected-offset\": %llu, "
                 "\"provided-offset\": %llu}\n",
                 rs_ietf_problem_type(p), rs_ietf_problem_title(p), (unsigned long long)d->held,
                 (unsigned long long)ex->tus.req.offset_value);
  else
    n = snprintf(json, sizeof(json), "{\"type\": \"%s\", \"title\": \"%s\"}\n",
                 rs_ietf_problem_type(p), rs_ietf_problem_title(p));
  rs_reply_clear(r);
  r->status = d->status;
  if (rs_reply_body(r, "application/problem+json", json, (size_t)n) == RESUMABLE_OK &&
      p == RS_IETF_PROBLEM_MISMATCHING_OFFSET)
    rs_reply_header(r, "Upload-Offset", "%llu", (unsigned long long)d->held);
  if (r->status != 500 && p == RS_IETF_PROBLEM_COMPLETED_UPLOAD)
    rs_reply_header(r, "Upload-Complete", "?1");
  rs_exchange_decided(ex);
}

void rs_ietf_reply_digest_mismatch(resumable_exchange *ex, uint64_t held, rs_rd_algo algo,
                                   const uint8_t want[64])
{
  rs_reply *r = &ex->reply;
  char b64[96], json[400];
  size_t len = rs_rd_algo_len(algo);
  if (len == 0 || rs_base64_encode(want, len, b64, sizeof(b64)) <= 0)
    b64[0] = '\0';
  /* draft-ietf-httpapi-digest-fields-problem-types, "Mismatching Digest Value"; 422, not its
   * suggested 400, so that "resend this request" stays apart from the whole-file 400 */
  int n = snprintf(json, sizeof(json),
                   "{\"type\": \"%s\", \"title\": \"%s\", \"algorithm\": \"%s\", "
                   "\"provided-digest\": \":%s:\"}\n",
                   RS_IETF_DIGEST_MISMATCH_TYPE,
                   "digest value from request does not match the request content; its bytes were "
                   "discarded, resend them",
                   algo == RS_RD_SHA512 ? "sha-512" : "sha-256", b64);
  rs_reply_clear(r);
  r->status = RS_CONTENT_DIGEST_MISMATCH;
  if (rs_reply_body(r, "application/problem+json", json, (size_t)n) == RESUMABLE_OK &&
      rs_reply_header(r, "Upload-Complete", "?0") == RESUMABLE_OK)
    rs_reply_header(r, "Upload-Offset", "%llu", (unsigned long long)held);
  rs_exchange_decided(ex);
}

static void options(resumable_exchange *ex)
{
  rs_reply *r = &ex->reply;
  rs_reply_clear(r);
  r->status = 204;
  rs_reply_header(r, "Accept-Patch", "application/partial-upload");
  rs_reply_header(r, "Allow", "OPTIONS, HEAD, POST, PUT, PATCH, DELETE");
  upload_limit(ex, r, -1);
  rs_exchange_decided(ex);
}

void rs_ietf_reply_decision(resumable_exchange *ex, const rs_decision *d)
{
  rs_reply *r = &ex->reply;
  const char *why = d->reason ? d->reason : rs_status_text(d->status);
  switch (d->kind) {
  case RS_REPLY_INCOMPLETE:
  case RS_REPLY_TUS_OFFSET:
    reply_offset(ex, d->held);
    return;
  case RS_REPLY_TUS_OPTIONS:
    options(ex);
    return;
  case RS_REPLY_IETF_PROBLEM:
    reply_problem(ex, d);
    return;
  case RS_REPLY_NO_CONTENT:
    rs_reply_clear(r);
    r->status = d->status;
    break;
  default:
    if (d->status == 400 && ex->tus.req.key != RS_KEY_OK) {
      char text[160];
      snprintf(text, sizeof(text), "%s: %s", why, rs_key_status_text(ex->tus.req.key));
      rs_reply_text(r, d->status, text);
    } else {
      rs_reply_text(r, d->status, why);
    }
    break;
  }
  if (d->kind == RS_REPLY_UNAUTHORIZED)
    rs_reply_header(r, "WWW-Authenticate", "Bearer");
  else if (d->kind == RS_REPLY_NOT_ALLOWED)
    rs_reply_header(r, "Allow", "OPTIONS, HEAD, GET, POST, PUT, PATCH, DELETE");
  else if (d->status == 413)
    upload_limit(ex, r, -1);
  rs_exchange_decided(ex);
}

void rs_ietf_reply_done(resumable_exchange *ex, uint64_t size, const uint8_t sha[32])
{
  rs_reply *r = &ex->reply;
  rs_reply_clear(r);
  r->status = ex->tus.created ? 201 : 200;
  if (ex->tus.created)
    location(ex, r);
  char hex[RS_SHA256_HEX_LEN + 1];
  rs_sha256_hex_format(sha, hex);
  rs_reply_header(r, "Upload-Complete", "?1");
  rs_reply_header(r, "Upload-Offset", "%llu", (unsigned long long)size);
  rs_reply_header(r, "Upload-Length", "%llu", (unsigned long long)size);
  rs_reply_header(r, "X-Content-SHA256", "%s", hex);
  char b64[48];
  if (ex->tus.want_digest && rs_base64_encode(sha, 32, b64, sizeof(b64)) > 0)
    rs_reply_header(r, "Repr-Digest", "sha-256=:%s:", b64);
  rs_exchange_decided(ex);
}

void rs_ietf_probe(resumable_exchange *ex, const rs_stored *st, const rs_decision *d)
{
  rs_reply *r = &ex->reply;
  rs_tus_exchange *t = &ex->tus;
  rs_reply_clear(r);
  r->status = 204;
  int partial = d->kind == RS_REPLY_HEAD_PARTIAL;
  unsigned long long offset = partial ? d->held : d->size;
  rs_reply_header(r, "Upload-Complete", partial ? "?0" : "?1");
  rs_reply_header(r, "Upload-Offset", "%llu", offset);
  if (!partial || d->total != RESUMABLE_LENGTH_UNKNOWN)
    rs_reply_header(r, "Upload-Length", "%llu", (unsigned long long)(partial ? d->total : d->size));
  if (partial) {
    int64_t left = t->expires - wall_now();
    upload_limit(ex, r, t->expires == 0 ? -1 : left < 0 ? 0 : left);
  }
  char hex[65];
  if (partial ? st->has_target : 1) {
    rs_sha256_hex_format(partial ? st->target : st->sha256, hex);
    rs_reply_header(r, partial ? "X-Target-SHA256" : "X-Content-SHA256", "%s", hex);
  }
  char b64[48];
  if (!partial && t->want_digest && rs_base64_encode(st->sha256, 32, b64, sizeof(b64)) > 0)
    rs_reply_header(r, "Repr-Digest", "sha-256=:%s:", b64);
  rs_reply_header(r, "Cache-Control", "no-store");
  rs_exchange_decided(ex);
}

void rs_ietf_free(resumable_exchange *ex)
{
  free(ex->tus.repr);
  ex->tus.repr = NULL;
}
