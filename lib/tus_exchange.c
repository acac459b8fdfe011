/* The tus dialect of an exchange: headers in, the request judged by rs_tus_decide, then the
 * same executors as the LocalAI dialect (exchange_put.c for PATCH and creation, exchange_meta.c
 * for HEAD, GET and DELETE, tus_concat.c for a final concatenation). */
#include "tus_exchange.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "debugassert.h"
#include "hex.h"
#include "ietf_exchange.h"
#include "range.h"
#include "resumable/error.h"

void rs_tus_begin(resumable_exchange *ex, const char *method, const char *raw, size_t len)
{
  size_t n = strlen(method);
  if (n < sizeof(ex->tus.method))
    memcpy(ex->tus.method, method, n + 1);
  ex->tus.path_part = ex->in_prefix && rs_tus_part_path(raw, len, ex->tus.path_key) == 0;
}

/* Keep a long header value (Upload-Metadata, Upload-Concat) up to `max` bytes; a repeat with
 * another value or an overlong one marks it bad. */
static int keep_long(char **dst, size_t *dst_len, int *bad, int *too_long, const char *value,
                     size_t max)
{
  size_t n = strlen(value);
  if (*dst || *bad || (too_long && *too_long)) {
    if (!*dst || *dst_len != n || memcmp(*dst, value, n) != 0)
      *bad = 1;
    return RESUMABLE_OK;
  }
  if (n > max) {
    if (too_long)
      *too_long = 1;
    else
      *bad = 1;
    return RESUMABLE_OK;
  }
  *dst = malloc(n + 1);
  if (!*dst)
    return RESUMABLE_E_NOMEM;
  memcpy(*dst, value, n + 1);
  *dst_len = n;
  return RESUMABLE_OK;
}

/* See tus_exchange.h. */
void rs_tus_keep_short(resumable_exchange *ex, rs_hdr *h, const char *value, const char *why)
{
  size_t n = strlen(value);
  if (h->seen) {
    if (h->too_long || n >= sizeof(h->value) || strcmp(h->value, value) != 0) {
      ex->tus.conflict = 1;
      if (!ex->tus.conflict_reason)
        ex->tus.conflict_reason = why;
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

int rs_tus_add_header(resumable_exchange *ex, const char *name, const char *value)
{
  rs_tus_exchange *t = &ex->tus;
  static const struct {
    const char *name;
    size_t offset;
    const char *why;
  } shorts[] = {
      {"Tus-Resumable", offsetof(rs_tus_exchange, resumable), "repeated Tus-Resumable"},
      {"Upload-Offset", offsetof(rs_tus_exchange, offset), "repeated Upload-Offset"},
      {"Upload-Length", offsetof(rs_tus_exchange, length), "repeated Upload-Length"},
      {"Upload-Defer-Length", offsetof(rs_tus_exchange, defer), "repeated Upload-Defer-Length"},
      {"Upload-Checksum", offsetof(rs_tus_exchange, checksum), "repeated Upload-Checksum"},
      {"Content-Type", offsetof(rs_tus_exchange, content_type), "repeated Content-Type"},
      {"X-HTTP-Method-Override", offsetof(rs_tus_exchange, override),
       "repeated X-HTTP-Method-Override"},
  };
  for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
    if (strcasecmp(name, shorts[i].name) == 0) {
      rs_tus_keep_short(ex, (rs_hdr *)(void *)((char *)t + shorts[i].offset), value, shorts[i].why);
      return RESUMABLE_OK;
    }
  if (strcasecmp(name, "Upload-Metadata") == 0)
    return keep_long(&t->metadata, &t->metadata_len, &t->metadata_bad, &t->metadata_long, value,
                     RESUMABLE_METADATA_MAX);
  if (strcasecmp(name, "Upload-Concat") == 0)
    return keep_long(&t->concat, &t->concat_len, &t->concat_bad, NULL, value, RS_TUS_CONCAT_MAX);
  return rs_ietf_add_header(ex, name, value);
}

int rs_tus_wanted(const resumable_exchange *ex)
{
  return ex->tus.resumable.seen || strcmp(ex->tus.method, "OPTIONS") == 0;
}

/* The tus method of a method name, and its static name for log lines. */
static rs_tus_op op_of(const char *m, const char **name)
{
  static const struct {
    const char *name;
    rs_tus_op op;
  } ops[] = {{"OPTIONS", RS_TUS_OP_OPTIONS}, {"HEAD", RS_TUS_OP_HEAD},
             {"GET", RS_TUS_OP_GET},         {"POST", RS_TUS_OP_POST},
             {"PATCH", RS_TUS_OP_PATCH},     {"DELETE", RS_TUS_OP_DELETE}};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (strcmp(m, ops[i].name) == 0) {
      *name = ops[i].name;
      return ops[i].op;
    }
  *name = "OTHER";
  return RS_TUS_OP_OTHER;
}

/* Random lower-case hex (new keys and part ids). getrandom() never fails for small sizes once
 * the pool is ready; /dev/urandom covers kernels without it. */
static int random_hex(char *out, size_t nbytes)
{
  uint8_t b[32];
  size_t got = 0;
  while (got < nbytes) {
    ssize_t r = getrandom(b + got, nbytes - got, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  if (got < nbytes) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return -1;
    ssize_t r = read(fd, b, nbytes);
    close(fd);
    if (r != (ssize_t)nbytes)
      return -1;
  }
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < nbytes; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * nbytes] = '\0';
  return 0;
}

static rs_field u63_field(const rs_hdr *h, uint64_t *out)
{
  if (!h->seen)
    return RS_FIELD_ABSENT;
  return !h->too_long && rs_parse_u63(h->value, strlen(h->value), out) == 0 ? RS_FIELD_OK
                                                                            : RS_FIELD_MALFORMED;
}

/* Upload-Concat: final;... names only parts of this server, at most this many. */
#define RS_TUS_PARTS_MAX 256u

static void gather_concat(resumable_exchange *ex, rs_tus_request *r)
{
  rs_tus_exchange *t = &ex->tus;
  if (!t->concat && !t->concat_bad)
    return;
  const char *urls = NULL;
  size_t urls_len = 0;
  r->concat = t->concat_bad ? RS_TUS_CONCAT_MALFORMED
                            : rs_tus_concat_parse(t->concat, t->concat_len, &urls, &urls_len);
  if (r->concat != RS_TUS_CONCAT_FINAL)
    return;
  size_t pos = 0, n = 0, ulen;
  const char *u;
  char key[RS_TUS_PART_KEY_LEN + 1];
  while (rs_tus_concat_next(urls, urls_len, &pos, &u, &ulen)) {
    if (++n > RS_TUS_PARTS_MAX ||
        rs_tus_part_url(u, ulen, ex->srv->prefix, ex->srv->prefix_len, key) != 0)
      r->concat_foreign = 1;
  }
}

/* The key of a creation at the prefix: Upload-Metadata "key", else "filename", else new. */
static void derive_key(resumable_exchange *ex, rs_tus_request *r)
{
  rs_tus_exchange *t = &ex->tus;
  uint8_t v[RS_KEY_MAX + 1];
  size_t n = 0;
  int found = 0;
  if (t->metadata && r->metadata == RS_FIELD_OK) {
    found = rs_tus_metadata_get(t->metadata, t->metadata_len, "key", v, sizeof(v), &n);
    if (found == 0)
      found = rs_tus_metadata_get(t->metadata, t->metadata_len, "filename", v, sizeof(v), &n);
  }
  if (found != 0) {
    r->key_from_metadata = 1;
    r->key = found < 0 ? RS_KEY_TOO_LONG : rs_tus_key_from_bytes(v, n, ex->key, sizeof(ex->key));
    return;
  }
  r->key = random_hex(ex->key, 16) == 0 ? RS_KEY_OK : RS_KEY_EMPTY;
}

static void gather_headers(resumable_exchange *ex, rs_tus_request *r)
{
  rs_tus_exchange *t = &ex->tus;
  r->offset = u63_field(&t->offset, &r->offset_value);
  r->length = u63_field(&t->length, &r->length_value);
  if (t->defer.seen)
    r->defer =
        !t->defer.too_long && strcmp(t->defer.value, "1") == 0 ? RS_FIELD_OK : RS_FIELD_MALFORMED;
  if (t->metadata || t->metadata_bad || t->metadata_long) {
    r->metadata_too_long = t->metadata_long;
    r->metadata = !t->metadata_bad && !t->metadata_long &&
                          rs_tus_metadata_check(t->metadata, t->metadata_len) == 0
                      ? RS_FIELD_OK
                      : RS_FIELD_MALFORMED;
  }
  if (t->checksum.seen) {
    int rc = t->checksum.too_long
                 ? -1
                 : rs_tus_checksum_parse(t->checksum.value, strlen(t->checksum.value), &t->ck_algo,
                                         t->ck_digest);
    r->checksum = rc == 0 ? RS_FIELD_OK : RS_FIELD_MALFORMED;
    r->checksum_unsupported = rc == -2;
  }
  if (t->content_type.seen)
    r->content_type =
        !t->content_type.too_long &&
                rs_tus_content_type_ok(t->content_type.value, strlen(t->content_type.value))
            ? RS_FIELD_OK
            : RS_FIELD_MALFORMED;
  r->hash = ex->req.hash;
  memcpy(r->sha256, ex->req.sha256, 32);
  r->body = ex->req.length;
  r->body_length = ex->req.content_length;
  r->chunked = ex->req.chunked;
  r->header_conflict = ex->req.header_conflict || t->conflict;
  r->conflict_reason = ex->req.header_conflict ? ex->req.conflict_reason : t->conflict_reason;
  r->max_size = ex->srv->max_size;
  gather_concat(ex, r);
}

/* The URL's target, and the key of the upload the request works on (into ex->key). */
static void gather_target(resumable_exchange *ex, rs_tus_request *r)
{
  rs_tus_exchange *t = &ex->tus;
  r->key = ex->key_status;
  if (t->path_part) {
    r->at = RS_TUS_AT_PART;
    memcpy(ex->key, t->path_key, sizeof(t->path_key));
    t->part = 1;
  } else {
    r->at = ex->key_status == RS_KEY_EMPTY ? RS_TUS_AT_PREFIX : RS_TUS_AT_KEY;
  }
  if (r->op != RS_TUS_OP_POST || r->at == RS_TUS_AT_PART)
    return;
  if (r->concat == RS_TUS_CONCAT_PARTIAL) { /* a part never has a key: a new id, whatever URL */
    memcpy(ex->key, RS_TUS_PART_DIR, sizeof(RS_TUS_PART_DIR) - 1);
    r->key = random_hex(ex->key + sizeof(RS_TUS_PART_DIR) - 1, RS_TUS_PART_ID_LEN / 2) == 0
                 ? RS_KEY_OK
                 : RS_KEY_EMPTY;
    t->part = 1;
    r->at = RS_TUS_AT_KEY; /* created like a key, at its own URL */
  } else if (r->at == RS_TUS_AT_PREFIX) {
    derive_key(ex, r);
    r->at = RS_TUS_AT_KEY;
  }
  if (r->key != RS_KEY_OK)
    ex->key[0] = '\0';
  ex->key_status = r->key;
}

static void gather(resumable_exchange *ex)
{
  rs_tus_exchange *t = &ex->tus;
  rs_tus_request *r = &t->req;
  memset(r, 0, sizeof(*r));
  const char *m = t->method;
  if (t->override.seen && !t->override.too_long)
    m = t->override.value;
  r->op = op_of(m, &ex->method_name);
  if (t->ietf && r->op == RS_TUS_OP_OTHER && strcmp(m, "PUT") == 0) {
    r->op = RS_TUS_OP_POST; /* the draft creates an upload from any request with content */
    ex->method_name = "PUT";
  }
  r->auth_ok = ex->req.auth_ok;
  if (t->resumable.seen)
    r->version = !t->resumable.too_long && strcmp(t->resumable.value, RS_TUS_VERSION) == 0
                     ? RS_FIELD_OK
                     : RS_FIELD_MALFORMED;
  gather_headers(ex, r);
  gather_target(ex, r);
}

/* The executors of the LocalAI dialect read ex->method (and ex->req.method). */
static void set_method(resumable_exchange *ex, rs_method m, const char *name)
{
  ex->method = m;
  ex->req.method = m;
  ex->method_name = name;
}

static char *dup_n(const char *s, size_t n)
{
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

int rs_tus_headers_done(resumable_exchange *ex)
{
  rs_tus_exchange *t = &ex->tus;
  ex->dialect = RS_DIALECT_TUS;
  gather(ex);
  if (t->ietf)
    rs_ietf_gather(ex);
  if (ex->req.auth_ok && !ex->in_prefix) {
    rs_exchange_fail(ex, 404, "not found");
    return 1;
  }
  rs_decision d;
  rs_tus_judge_state(ex, NULL, &d);
  if (d.action == RS_ACT_REPLY) {
    rs_exchange_reply_decision(ex, &d);
    return 1;
  }
  /* The draft's per-request digest, parsed before anything is touched (tus has Upload-Checksum
   * and does not read Content-Digest). */
  if (t->ietf && (t->req.op == RS_TUS_OP_POST || t->req.op == RS_TUS_OP_PATCH) &&
      rs_put_content_digest(ex))
    return 1;
  if (t->req.op == RS_TUS_OP_POST && t->metadata) {
    t->upload_metadata = dup_n(t->metadata, t->metadata_len);
    t->created = 1;
  } else if (t->req.op == RS_TUS_OP_POST) {
    t->created = 1;
  }
  ex->entry = rs_keylock_acquire(ex->srv->locks, ex->key);
  if (!ex->entry || (t->metadata && t->created && !t->upload_metadata)) {
    rs_exchange_fail(ex, 500, "out of memory");
    return 1;
  }
  switch (t->req.op) {
  case RS_TUS_OP_POST:
    set_method(ex, RS_METHOD_PUT, ex->method_name);
    if (d.action == RS_ACT_CONCAT) {
      rs_tus_concat_final(ex);
      return 1;
    }
    rs_put_begin(ex, &d);
    return ex->phase == RS_PHASE_BODY ? 0 : 1;
  case RS_TUS_OP_PATCH:
    set_method(ex, RS_METHOD_PUT, "PATCH");
    rs_put_begin(ex, &d);
    return ex->phase == RS_PHASE_BODY ? 0 : 1;
  case RS_TUS_OP_HEAD:
    set_method(ex, RS_METHOD_HEAD, "HEAD");
    break;
  case RS_TUS_OP_GET:
    set_method(ex, RS_METHOD_GET, "GET");
    break;
  default:
    set_method(ex, RS_METHOD_DELETE, "DELETE");
    break;
  }
  rs_meta_begin(ex);
  return 1;
}

void rs_tus_partial_info(const resumable_exchange *ex, resumable_partial_info *info)
{
  const rs_tus_exchange *t = &ex->tus;
  info->has_target = !t->part && t->req.hash == RS_FIELD_OK;
  if (info->has_target)
    memcpy(info->target_sha256, t->req.sha256, 32);
  if (t->metadata && t->req.metadata == RS_FIELD_OK) {
    memcpy(info->metadata, t->metadata, t->metadata_len);
    info->metadata_len = t->metadata_len;
  }
}

/* Is the entry's durable state current: all bytes synced, and the saved hash state the state
 * after exactly those bytes (rollback_partial in exchange_put.c falls back to it)? */
static int rs_tus_state_saved(rs_keylock_entry *e)
{
  if (e->info.held != e->synced || e->info.hash_state_len == 0 ||
      e->info.hash_state_len > sizeof(e->info.hash_state))
    return 0;
  rs_sha256 h;
  int ok = rs_sha256_import(&h, e->info.hash_state, e->info.hash_state_len) == 0 &&
           rs_sha256_length(&h) == e->info.held;
  rs_sha256_free(&h);
  return ok;
}

int rs_tus_body_begin(resumable_exchange *ex)
{
  rs_tus_exchange *t = &ex->tus;
  rs_keylock_entry *e = ex->entry;
  const rs_tus_request *r = &t->req;
  if (r->body == RS_FIELD_OK) {
    ex->expected_known = 1;
    ex->expected = r->body_length;
  } else if (r->chunked) {
    /* No declared length: accept up to the upload's end (or the maximum size). */
    uint64_t end = e->info.total != RESUMABLE_LENGTH_UNKNOWN ? e->info.total
                   : ex->srv->max_size != 0                  ? ex->srv->max_size
                                                             : UINT64_MAX;
    ex->expected_known = 0;
    ex->expected = end - e->info.held;
  } else {
    ex->expected_known = 1;
    ex->expected = 0;
  }
  if (ex->rd.algo != RS_RD_NONE) /* the draft's Content-Digest (RFC 9530), as on a LocalAI PUT */
    return rs_put_digest_begin(ex);
  if (r->checksum != RS_FIELD_OK)
    return RESUMABLE_OK;
  /* The bytes of a checksummed request stay provisional until verified: the partial's durable
   * state (and the hash state saved with it) is the point to fall back to. A sync makes it so,
   * unless the last one already did (nothing written since, and e->info's hash state is the
   * state after exactly `held` bytes): then another would only rewrite the same meta. */
  int rc = RESUMABLE_OK;
  if (!rs_tus_state_saved(e))
    rc = rs_put_sync(ex);
  if (rc != RESUMABLE_OK) {
    rs_exchange_store_error(ex, "sync", rc);
    return rc;
  }
  e->provisional = 1;
  rs_tus_checksum_start(&t->ck, t->ck_algo, t->ck_digest);
  /* sha256 rides on the key's pipe: one copy, and one pool pass hashes both (a pipe that has a
   * tee already leaves it to be hashed inline) */
  if (t->ck_algo == RS_TUS_ALGO_SHA256)
    t->ck_teed = rs_hash_pipe_tee(&e->pipe, &t->ck.u.sha256) == 0;
  return RESUMABLE_OK;
}

typedef struct mtime_of {
  int found;
  int64_t mtime;
} mtime_of;

static int got_mtime(void *arg, const char *key, int64_t mtime)
{
  mtime_of *m = arg;
  (void)key;
  m->found = 1;
  m->mtime = mtime;
  return 1;
}

static int64_t wall_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts); /* as the sweep: the file times are on this clock */
  return (int64_t)ts.tv_sec;
}

void rs_tus_note_state(resumable_exchange *ex, const resumable_partial_info *pi, rs_stored *st)
{
  rs_tus_exchange *t = &ex->tus;
  resumable_server *srv = ex->srv;
  if (!pi)
    return;
  if (!t->created) {
    free(t->upload_metadata);
    t->upload_metadata = pi->metadata_len > 0 && pi->metadata_len <= RESUMABLE_METADATA_MAX
                             ? dup_n(pi->metadata, pi->metadata_len)
                             : NULL;
  }
  if (srv->partial_ttl == 0)
    return;
  int64_t now = wall_now();
  if (ex->entry->handle) { /* open: an exchange is at work on it right now */
    t->expires = now + (int64_t)srv->partial_ttl;
    return;
  }
  mtime_of m = {0, 0};
  if (!srv->ops->partial_scan ||
      srv->ops->partial_scan(srv->self, ex->key, got_mtime, &m) != RESUMABLE_OK || !m.found)
    return;
  t->expires = m.mtime + (int64_t)srv->partial_ttl;
  st->expired = t->expires <= now;
}

void rs_tus_in_use(resumable_exchange *ex, rs_stored *st, rs_decision *d)
{
  ex->tus.expires = wall_now() + (int64_t)ex->srv->partial_ttl;
  st->expired = 0;
  rs_tus_judge_state(ex, st, d);
}

void rs_tus_judge_state(resumable_exchange *ex, const rs_stored *st, rs_decision *d)
{
  if (ex->tus.ietf)
    rs_ietf_decide(&ex->tus.ireq, &ex->tus.req, st, d);
  else
    rs_tus_decide(&ex->tus.req, st, d);
}

/* ---- replies ---- */

static void location(resumable_exchange *ex, rs_reply *r)
{
  char enc[3 * RS_KEY_MAX + 1];
  if (rs_tus_key_encode(ex->key, enc, sizeof(enc)) < 0)
    return;
  rs_reply_header(r, "Location", "%s%s", ex->srv->prefix, enc);
}

static void expires(resumable_exchange *ex, rs_reply *r, int64_t when)
{
  char date[RS_HTTP_DATE_LEN + 1];
  if (ex->srv->partial_ttl != 0 && rs_http_date(when, date) == 0)
    rs_reply_header(r, "Upload-Expires", "%s", date);
}

/* 204 to a PATCH or 201 to a creation, with the offset now held. */
static void reply_offset(resumable_exchange *ex, uint64_t offset, int still_partial)
{
  rs_reply *r = &ex->reply;
  rs_reply_clear(r);
  r->status = ex->tus.created ? 201 : 204;
  if (ex->tus.created)
    location(ex, r);
  if (r->status != 500)
    rs_reply_header(r, "Upload-Offset", "%llu", (unsigned long long)offset);
  if (r->status != 500 && still_partial)
    expires(ex, r, wall_now() + (int64_t)ex->srv->partial_ttl);
  rs_exchange_decided(ex);
}

void rs_tus_reply_done(resumable_exchange *ex, uint64_t size, const uint8_t sha[32])
{
  if (ex->tus.ietf) {
    rs_ietf_reply_done(ex, size, sha);
    return;
  }
  reply_offset(ex, size, 0);
}

static void options(resumable_exchange *ex)
{
  rs_reply *r = &ex->reply;
  rs_reply_clear(r);
  r->status = 204;
  if (rs_reply_header(r, "Tus-Version", RS_TUS_VERSION) == RESUMABLE_OK &&
      rs_reply_header(r, "Tus-Extension", RS_TUS_EXTENSIONS) == RESUMABLE_OK &&
      rs_reply_header(r, "Tus-Checksum-Algorithm", RS_TUS_CHECKSUM_ALGORITHMS) == RESUMABLE_OK &&
      ex->srv->max_size != 0)
    rs_reply_header(r, "Tus-Max-Size", "%llu", (unsigned long long)ex->srv->max_size);
  rs_exchange_decided(ex);
}

void rs_tus_reply_decision(resumable_exchange *ex, const rs_decision *d)
{
  if (ex->tus.ietf) {
    rs_ietf_reply_decision(ex, d);
    return;
  }
  rs_reply *r = &ex->reply;
  const char *why = d->reason ? d->reason : rs_status_text(d->status);
  switch (d->kind) {
  case RS_REPLY_INCOMPLETE: /* the LocalAI 308 after a body: tus says 204 (201) + offset */
  case RS_REPLY_TUS_OFFSET:
    reply_offset(ex, d->held, d->kind == RS_REPLY_INCOMPLETE);
    return;
  case RS_REPLY_TUS_OPTIONS:
    options(ex);
    return;
  case RS_REPLY_NO_CONTENT:
    rs_reply_clear(r);
    r->status = d->status;
    break;
  default:
    if (d->status == 400 && ex->tus.req.key != RS_KEY_OK && ex->tus.req.at != RS_TUS_AT_PART &&
        ex->tus.req.op != RS_TUS_OP_OPTIONS) {
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
    rs_reply_header(r, "Allow", "OPTIONS, HEAD, GET, POST, PATCH, DELETE");
  else if (d->kind == RS_REPLY_TUS_VERSION)
    rs_reply_header(r, "Tus-Version", RS_TUS_VERSION);
  rs_exchange_decided(ex);
}

void rs_tus_probe(resumable_exchange *ex, const rs_stored *st, const rs_decision *d)
{
  if (ex->tus.ietf) {
    rs_ietf_probe(ex, st, d);
    return;
  }
  rs_reply *r = &ex->reply;
  rs_tus_exchange *t = &ex->tus;
  rs_reply_clear(r);
  r->status = 200;
  r->no_body = 1;
  int partial = d->kind == RS_REPLY_HEAD_PARTIAL;
  unsigned long long offset = partial ? d->held : d->size;
  int rc = rs_reply_header(r, "Upload-Offset", "%llu", offset);
  if (rc == RESUMABLE_OK && partial && d->total == RESUMABLE_LENGTH_UNKNOWN)
    rc = rs_reply_header(r, "Upload-Defer-Length", "1");
  else if (rc == RESUMABLE_OK)
    rc = rs_reply_header(r, "Upload-Length", "%llu",
                         (unsigned long long)(partial ? d->total : d->size));
  if (rc == RESUMABLE_OK && partial && t->upload_metadata)
    rc = rs_reply_header(r, "Upload-Metadata", "%s", t->upload_metadata);
  if (rc == RESUMABLE_OK && partial && t->part)
    rc = rs_reply_header(r, "Upload-Concat", "partial");
  if (rc == RESUMABLE_OK && partial && t->expires != 0)
    expires(ex, r, t->expires);
  /* The whole-file hash, as the LocalAI HEAD says it: a client that binds uploads with
   * X-Content-SHA256 (the stager) can tell its own upload, or its file already there. */
  char hex[65];
  if (rc == RESUMABLE_OK && (partial ? st->has_target : 1)) {
    rs_sha256_hex_format(partial ? st->target : st->sha256, hex);
    rc = rs_reply_header(r, partial ? "X-Target-SHA256" : "X-Content-SHA256", "%s", hex);
  }
  if (r->status != 500)
    rs_reply_header(r, "Cache-Control", "no-store");
  rs_exchange_decided(ex);
}

void rs_tus_decorate(resumable_exchange *ex)
{
  rs_reply *r = &ex->reply;
  if (ex->tus.ietf) { /* the draft has no version header in replies */
    rs_tus_op op = ex->tus.req.op;
    if (op == RS_TUS_OP_OPTIONS || op == RS_TUS_OP_HEAD || r->status == RS_CONTENT_DIGEST_MISMATCH)
      rs_reply_header(r, "Want-Content-Digest", RS_WANT_CONTENT_DIGEST);
    return;
  }
  for (size_t i = 0; i < r->count; i++)
    if (strcmp(r->names[i], "Tus-Resumable") == 0)
      return;
  rs_reply_header(r, "Tus-Resumable", RS_TUS_VERSION);
}

void rs_tus_free(resumable_exchange *ex)
{
  rs_tus_exchange *t = &ex->tus;
  RS_DEBUGASSERT(!t->ck_teed); /* rs_put_release detached it, with the entry still held */
  rs_tus_checksum_free(&t->ck);
  rs_ietf_free(ex);
  free(t->metadata);
  free(t->concat);
  free(t->upload_metadata);
  t->metadata = t->concat = t->upload_metadata = NULL;
}
