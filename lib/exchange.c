/* The exchange lifecycle: request line and headers in, judged, reply out. PUT bodies are in
 * exchange_put.c; HEAD, GET and DELETE here. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "hex.h"
#include "range.h"
#include "resumable/error.h"
#include "server_internal.h"
#include "ietf_exchange.h"
#include "tus_exchange.h"

static rs_method method_of(const char *m)
{
  static const struct {
    const char *name;
    rs_method m;
  } known[] = {{"HEAD", RS_METHOD_HEAD},
               {"GET", RS_METHOD_GET},
               {"PUT", RS_METHOD_PUT},
               {"DELETE", RS_METHOD_DELETE}};
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strcmp(m, known[i].name) == 0)
      return known[i].m;
  return RS_METHOD_OTHER;
}

static const char *method_name(rs_method m)
{
  switch (m) {
  case RS_METHOD_HEAD:
    return "HEAD";
  case RS_METHOD_GET:
    return "GET";
  case RS_METHOD_PUT:
    return "PUT";
  case RS_METHOD_DELETE:
    return "DELETE";
  default:
    return "OTHER";
  }
}

int resumable_exchange_begin(resumable_server *srv, const char *method, const char *raw_path,
                             resumable_exchange **out)
{
  if (!out)
    return RESUMABLE_E_INVALID_ARG;
  *out = NULL;
  if (!srv || !method || !raw_path)
    return RESUMABLE_E_INVALID_ARG;
  resumable_exchange *ex = calloc(1, sizeof(*ex));
  if (!ex)
    return RESUMABLE_E_NOMEM;
  ex->srv = srv;
  atomic_fetch_add(&srv->live, 1); /* until resumable_exchange_free */
  ex->method = method_of(method);
  ex->method_name = method_name(ex->method);
  size_t len = strcspn(raw_path, "?#");
  ex->in_prefix = len >= srv->prefix_len && memcmp(raw_path, srv->prefix, srv->prefix_len) == 0;
  if (ex->in_prefix) {
    ex->key_status =
        rs_key_decode(raw_path + srv->prefix_len, len - srv->prefix_len, ex->key, sizeof(ex->key));
    if (ex->key_status != RS_KEY_OK)
      ex->key[0] = '\0';
  }
  rs_tus_begin(ex, method, raw_path + srv->prefix_len, ex->in_prefix ? len - srv->prefix_len : 0);
  rs_sha256_init(&ex->stage_sha);
  *out = ex;
  return RESUMABLE_OK;
}

/* Keep a bounded copy; a repeat is a conflict when `strict` or when the value differs. */
static void keep(resumable_exchange *ex, rs_hdr *h, const char *value, int strict, const char *why)
{
  size_t n = strlen(value);
  if (h->seen) {
    if (strict || h->too_long || n >= sizeof(h->value) || strcasecmp(h->value, value) != 0) {
      ex->conflict = 1;
      if (!ex->conflict_reason)
        ex->conflict_reason = why;
    }
    return;
  }
  h->seen = 1;
  if (n >= sizeof(h->value)) {
    h->too_long = 1;
    return;
  }
  memcpy(h->value, value, n + 1);
}

static int keep_auth(resumable_exchange *ex, const char *value)
{
  size_t n = strlen(value);
  if (ex->auth) {
    if (strcmp(ex->auth, value) != 0)
      ex->auth_bad = 1;
    return RESUMABLE_OK;
  }
  if (n > RS_HDR_AUTH_MAX) {
    ex->auth_bad = 1;
    return RESUMABLE_OK;
  }
  ex->auth = malloc(n + 1);
  if (!ex->auth)
    return RESUMABLE_E_NOMEM;
  memcpy(ex->auth, value, n + 1);
  return RESUMABLE_OK;
}

int resumable_exchange_add_header(resumable_exchange *ex, const char *name, const char *value)
{
  if (!ex || !name || !value)
    return RESUMABLE_E_INVALID_ARG;
  if (ex->phase != RS_PHASE_HEADERS)
    return RESUMABLE_E_STATE;
  if (strcasecmp(name, "Authorization") == 0)
    return ex->srv->token ? keep_auth(ex, value) : RESUMABLE_OK;
  if (strcasecmp(name, "Content-Range") == 0)
    keep(ex, &ex->content_range, value, 1, "repeated Content-Range");
  else if (strcasecmp(name, "X-Content-SHA256") == 0)
    keep(ex, &ex->sha256, value, 0, "conflicting X-Content-SHA256 headers");
  else if (strcasecmp(name, "Content-Length") == 0)
    keep(ex, &ex->content_length, value, 0, "conflicting Content-Length headers");
  else if (strcasecmp(name, "Range") == 0)
    keep(ex, &ex->range, value, 0, NULL);
  else if (strcasecmp(name, "Transfer-Encoding") == 0)
    ex->te_seen = 1;
  else if (strcasecmp(name, "Content-Digest") == 0)
    rs_rd_hdr_add(&ex->content_digest, value);
  else
    return rs_tus_add_header(ex, name, value);
  /* Expect needs nothing from us: every early reply is decided from the headers. */
  return RESUMABLE_OK;
}

static rs_field parse_field(const rs_hdr *h, int ok)
{
  if (!h->seen)
    return RS_FIELD_ABSENT;
  return !h->too_long && ok ? RS_FIELD_OK : RS_FIELD_MALFORMED;
}

static void gather(resumable_exchange *ex, rs_request *r)
{
  resumable_server *srv = ex->srv;
  memset(r, 0, sizeof(*r));
  r->method = ex->method;
  r->auth_ok =
      !srv->token || (!ex->auth_bad && rs_auth_bearer_ok(ex->auth, srv->token, srv->token_len));
  r->key = ex->key_status;
  r->header_conflict = ex->conflict;
  r->conflict_reason = ex->conflict_reason;
  const rs_hdr *cr = &ex->content_range, *sh = &ex->sha256, *cl = &ex->content_length;
  r->range = parse_field(cr, rs_content_range_parse(cr->value, strlen(cr->value), &r->cr) == 0);
  r->hash = parse_field(sh, rs_sha256_hex_parse(sh->value, strlen(sh->value), r->sha256) == 0);
  r->length = parse_field(cl, rs_parse_u63(cl->value, strlen(cl->value), &r->content_length) == 0);
  r->chunked = ex->te_seen;
  if (ex->te_seen && cl->seen && !r->header_conflict) { /* request smuggling shape */
    r->header_conflict = 1;
    r->conflict_reason = "both Content-Length and Transfer-Encoding";
  }
  r->max_size = srv->max_size;
}

int resumable_exchange_headers_done(resumable_exchange *ex)
{
  if (!ex)
    return RESUMABLE_E_INVALID_ARG;
  if (ex->phase != RS_PHASE_HEADERS)
    return RESUMABLE_E_STATE;
  gather(ex, &ex->req);
  if (rs_ietf_wanted(ex))
    return rs_ietf_headers_done(ex);
  if (rs_tus_wanted(ex))
    return rs_tus_headers_done(ex);
  if (ex->req.auth_ok && !ex->in_prefix) {
    rs_exchange_fail(ex, 404, "not found");
    return 1;
  }
  rs_decision d;
  rs_decide(&ex->req, NULL, &d);
  if (d.action == RS_ACT_REPLY) {
    rs_exchange_reply_decision(ex, &d);
    return 1;
  }
  if (ex->method == RS_METHOD_PUT && rs_put_content_digest(ex))
    return 1;
  ex->entry = rs_keylock_acquire(ex->srv->locks, ex->key);
  if (!ex->entry) {
    rs_exchange_fail(ex, 500, "out of memory");
    return 1;
  }
  if (ex->method == RS_METHOD_PUT)
    rs_put_begin(ex, &d);
  else
    rs_meta_begin(ex);
  return ex->phase == RS_PHASE_BODY ? 0 : 1;
}

int resumable_exchange_feed(resumable_exchange *ex, const void *data, size_t len)
{
  if (!ex || (!data && len > 0))
    return RESUMABLE_E_INVALID_ARG;
  if (ex->phase == RS_PHASE_DECIDED)
    return 1;
  if (ex->phase != RS_PHASE_BODY)
    return RESUMABLE_E_STATE;
  if (len == 0)
    return 0;
  return rs_put_feed(ex, data, len);
}

int resumable_exchange_end(resumable_exchange *ex, resumable_body_end how)
{
  if (!ex)
    return RESUMABLE_E_INVALID_ARG;
  if (ex->phase == RS_PHASE_BODY)
    rs_put_end(ex, how);
  if (ex->phase == RS_PHASE_HEADERS) /* ended before judging: nothing to answer */
    rs_reply_text(&ex->reply, 400, "request ended before its headers");
  rs_put_release(ex);
  ex->phase = RS_PHASE_ENDED;
  return RESUMABLE_OK;
}

int resumable_exchange_status(const resumable_exchange *ex)
{
  if (!ex || ex->phase == RS_PHASE_HEADERS || ex->phase == RS_PHASE_BODY)
    return 0;
  return ex->reply.status;
}

size_t resumable_exchange_header_count(const resumable_exchange *ex)
{
  return resumable_exchange_status(ex) ? ex->reply.count : 0;
}

int resumable_exchange_header_at(const resumable_exchange *ex, size_t i, const char **name,
                                 const char **value)
{
  if (!name || !value || i >= resumable_exchange_header_count(ex))
    return RESUMABLE_E_INVALID_ARG;
  *name = ex->reply.names[i];
  *value = ex->reply.values[i];
  return RESUMABLE_OK;
}

uint64_t resumable_exchange_body_length(const resumable_exchange *ex)
{
  return resumable_exchange_status(ex) ? ex->reply.length : 0;
}

int resumable_exchange_read_body(resumable_exchange *ex, void *buf, size_t cap, size_t *got)
{
  if (!ex || !got || (!buf && cap > 0))
    return RESUMABLE_E_INVALID_ARG;
  *got = 0;
  if (!resumable_exchange_status(ex))
    return RESUMABLE_E_INVALID_ARG;
  return rs_reply_read(&ex->reply, buf, cap, got);
}

const char *resumable_exchange_key(const resumable_exchange *ex)
{
  return ex ? ex->key : "";
}

uint64_t resumable_exchange_bytes_received(const resumable_exchange *ex)
{
  return ex ? ex->received : 0;
}

const char *resumable_exchange_upload_metadata(const resumable_exchange *ex)
{
  if (!ex || ex->phase == RS_PHASE_HEADERS || !ex->tus.upload_metadata)
    return "";
  return ex->tus.upload_metadata;
}

void resumable_exchange_free(resumable_exchange *ex)
{
  if (!ex)
    return;
  if (ex->phase != RS_PHASE_ENDED)
    resumable_exchange_end(ex, RESUMABLE_BODY_DROPPED);
  rs_reply_clear(&ex->reply);
  rs_tus_free(ex);
  rs_req_digest_free(&ex->rd);
  rs_sha256_free(&ex->stage_sha);
  free(ex->auth);
  atomic_fetch_sub(&ex->srv->live, 1); /* last: nothing below touches the server */
  free(ex);
}
