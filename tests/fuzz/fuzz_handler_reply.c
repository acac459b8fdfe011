/* The handler harness's checks on each reply (statuses, headers, bodies). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"

#include "fuzz_handler.h"
#include "resumable/error.h"

const char *reply_header(resumable_exchange *ex, const char *name)
{
  for (size_t i = 0; i < resumable_exchange_header_count(ex); i++) {
    const char *n, *v;
    FUZZ_CHECK(resumable_exchange_header_at(ex, i, &n, &v) == RESUMABLE_OK);
    if (strcasecmp(n, name) == 0)
      return v;
  }
  return NULL;
}

uint64_t header_u64(const char *v)
{
  FUZZ_CHECK(v != NULL && v[0] >= '0' && v[0] <= '9');
  return strtoull(v, NULL, 10);
}

/* The whole reply body (bounded: replies here are small, or files of at most MAX_BODY bytes). */
size_t read_reply(resumable_exchange *ex, uint8_t *buf, size_t cap)
{
  size_t total = 0;
  for (;;) {
    size_t n = 0;
    FUZZ_CHECK(total < cap);
    FUZZ_CHECK(resumable_exchange_read_body(ex, buf + total, cap - total, &n) == RESUMABLE_OK);
    FUZZ_CHECK(n <= cap - total);
    if (n == 0)
      break;
    total += n;
  }
  FUZZ_CHECK(total == resumable_exchange_body_length(ex));
  return total;
}

/* A GET 200 streams a whole version of the file (its announced length and X-Content-SHA256), a
 * 206 a slice [first, last] of one. Unless another request ran while this one was open (a reader
 * keeps the version it opened, even if replaced meanwhile), that version is the final file. */
static void check_get_body(fuzz_ctx *c, resumable_exchange *ex, const request *q, int alone, int st)
{
  static uint8_t got[MAX_FILE], want[MAX_FILE];
  unsigned long long first = 0, last = 0, size = 0;
  uint8_t sha[32];
  char hex[65];

  size_t n = read_reply(ex, got, sizeof got);
  const char *h = reply_header(ex, "X-Content-SHA256");
  FUZZ_CHECK(h != NULL);
  if (st == 206) {
    const char *cr = reply_header(ex, "Content-Range");
    FUZZ_CHECK(cr != NULL && sscanf(cr, "bytes %llu-%llu/%llu", &first, &last, &size) == 3);
    FUZZ_CHECK(first <= last && last < size && n == last - first + 1);
  } else {
    mbedtls_sha256_ret(got, n, sha, 0);
    hex_of(sha, hex, 0);
    if (strcmp(h, hex) != 0)
      fprintf(stderr, "GET %s served %zu bytes, sha256 %s, announced %s\n", q->key, n, hex, h);
    FUZZ_CHECK(strcmp(h, hex) == 0);
    size = n;
  }
  if (!alone)
    return;
  resumable_complete_info info;
  size_t len = 0;
  FUZZ_CHECK(read_complete(c, q->key, want, &len, &info));
  FUZZ_CHECK(len == size && first + n <= len && memcmp(want + first, got, n) == 0);
}

/* Undo one JSON string (after its opening quote) into out; returns the text after the closing
 * quote, or NULL if malformed. */
static const char *json_string(const char *p, char *out, size_t cap)
{
  size_t n = 0;
  for (; *p != '"'; p++) {
    unsigned v = (unsigned char)*p;
    if (v == '\0' || v < 0x20 || n + 1 >= cap)
      return NULL;
    if (v == '\\') {
      p++;
      if (*p == 'u') { /* only control bytes need it: keys are UTF-8 and pass unchanged */
        if (sscanf(p + 1, "%4x", &v) != 1 || v >= 0x20)
          return NULL;
        p += 4;
      } else if (*p == '"' || *p == '\\' || *p == '/') {
        v = (unsigned char)*p;
      } else {
        return NULL;
      }
    }
    out[n++] = (char)v;
  }
  out[n] = '\0';
  return p + 1;
}

/* Is the key valid UTF-8? Decodes code points (a second, independent reading of the rules
 * that lib/key.c enforces): the shortest form, no surrogate, nothing above U+10FFFF. */
static int is_utf8(const char *key)
{
  static const unsigned long min_of_len[5] = {0, 0, 0x80, 0x800, 0x10000};
  const unsigned char *p = (const unsigned char *)key;
  while (*p) {
    size_t len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
    unsigned long cp = len == 1   ? *p
                       : len == 2 ? (*p & 0x1fu)
                       : len == 3 ? (*p & 0x0fu)
                                  : (*p & 0x07u);
    size_t i = 1;
    for (; i < len && (p[i] & 0xc0) == 0x80; i++)
      cp = cp << 6 | (p[i] & 0x3fu);
    if (len == 0 || i != len || cp < min_of_len[len] || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    p += len;
  }
  return 1;
}

/* A PUT 200 body: {"key": "<key>", "size": N, "sha256": "<hex>"[, "local_path": "<path>"]}\n
 * agreeing with the headers, and local_path exactly when paths are exposed. */
static void check_done_body(fuzz_ctx *c, const request *q, resumable_exchange *ex)
{
  static char body[20000], text[8192];
  size_t n = read_reply(ex, (uint8_t *)body, sizeof body - 1);
  const char *hex = reply_header(ex, "X-Content-SHA256"), *size = reply_header(ex, "X-File-Size");
  char expect[200];

  body[n] = '\0';
  FUZZ_CHECK(strlen(body) == n && hex != NULL && size != NULL);
  FUZZ_CHECK(strncmp(body, "{\"key\": \"", 9) == 0);
  const char *p = json_string(body + 9, text, sizeof text);
  /* A stored key is UTF-8 (others are 400) and comes back byte for byte. */
  FUZZ_CHECK(is_utf8(q->key));
  FUZZ_CHECK(p != NULL && strcmp(text, q->key) == 0);
  snprintf(expect, sizeof expect, ", \"size\": %s, \"sha256\": \"%s\"", size, hex);
  FUZZ_CHECK(strncmp(p, expect, strlen(expect)) == 0);
  p += strlen(expect);
  if (c->expose && backend_local_root() != NULL) {
    FUZZ_CHECK(strncmp(p, ", \"local_path\": \"", 17) == 0);
    p = json_string(p + 17, text, sizeof text);
    snprintf(expect, sizeof expect, "%s/", backend_local_root());
    FUZZ_CHECK(p != NULL && strncmp(text, expect, strlen(expect)) == 0 &&
               strcmp(text + strlen(expect), q->key) == 0);
  }
  FUZZ_CHECK(strcmp(p, "}\n") == 0);
}

static int known_status(const fuzz_ctx *c, const request *q, int s)
{
  static const int ok[] = {200, 204, 206, 308, 400, 401, 404, 405, 409, 413, 416, 422, 423};
  static const int draft[] = {201, 403, 410, 415};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (s == ok[i])
      return 1;
  for (size_t i = 0; q->is_draft && i < sizeof draft / sizeof draft[0]; i++)
    if (s == draft[i])
      return 1;
  return s == 507 && backend_may_run_out(c);
}

/* The draft's replies: what each success, the 409 and the 422 must carry. */
static void check_draft_reply(fuzz_ctx *c, const request *q, resumable_exchange *ex, int st,
                              int alone)
{
  const char *ct = reply_header(ex, "Content-Type");
  int body = strcmp(q->method, "POST") == 0 || strcmp(q->method, "PATCH") == 0 ||
             strcmp(q->method, "PUT") == 0;
  /* 422: Content-Digest did not match what arrived; its bytes were dropped, the offset kept */
  if (st == 422) {
    FUZZ_CHECK(body && (q->digest == 1 || q->digest == 2));
    FUZZ_CHECK(ct && strcmp(ct, "application/problem+json") == 0);
    FUZZ_CHECK(reply_header(ex, "Upload-Offset") != NULL);
    if (alone)
      FUZZ_CHECK(header_u64(reply_header(ex, "Upload-Offset")) == held_of(c, q->key));
  }
  /* a wrong digest never counts a whole body; a malformed one is refused */
  if (body && q->digest == 2 && q->body_len > 0 && !q->dropped)
    FUZZ_CHECK(st < 200 || st > 299);
  if (body && q->digest == 3 && q->auth_good)
    FUZZ_CHECK(st >= 400 && st != 422);
  if (strcmp(q->method, "HEAD") == 0 && st == 204) {
    const char *cc = reply_header(ex, "Cache-Control");
    const char *uc = reply_header(ex, "Upload-Complete");
    FUZZ_CHECK(reply_header(ex, "Upload-Offset") != NULL && cc && strcmp(cc, "no-store") == 0);
    FUZZ_CHECK(uc && (strcmp(uc, "?0") == 0 || strcmp(uc, "?1") == 0));
  }
  if (st == 409 && strcmp(q->method, "PATCH") == 0 && reply_header(ex, "Content-Type") &&
      strcmp(reply_header(ex, "Content-Type"), "application/problem+json") == 0)
    FUZZ_CHECK(reply_header(ex, "Upload-Offset") != NULL);
  if (st == 201)
    FUZZ_CHECK(reply_header(ex, "Location") != NULL);
  if ((st == 200 || st == 201) && strcmp(q->method, "PATCH") != 0 &&
      reply_header(ex, "Upload-Complete"))
    FUZZ_CHECK(reply_header(ex, "Upload-Offset") != NULL);
  FUZZ_CHECK(reply_header(ex, "Tus-Resumable") == NULL);
}

void check_reply(fuzz_ctx *c, const request *q, resumable_exchange *ex, int alone)
{
  static uint8_t scratch[4096];
  int st = resumable_exchange_status(ex);
  if (trace) {
    fprintf(stderr, "%s %s", q->method, q->path);
    for (size_t i = 0; i < q->nhdr; i++)
      fprintf(stderr, " [%s: %s]", q->names[i], q->values[i]);
    fprintf(stderr, " body %zu%s -> %d (held %llu)\n", q->body_len, q->dropped ? " dropped" : "",
            st, (unsigned long long)held_of(c, q->key));
  }
  if (!known_status(c, q, st))
    fprintf(stderr, "unexpected status %d for %s %s\n", st, q->method, q->path);
  FUZZ_CHECK(known_status(c, q, st)); /* 500 (or 507 with room) would be a handler or store bug */
  if (!q->auth_good)
    FUZZ_CHECK(st == 401);
  if (st == 401)
    FUZZ_CHECK(c->token && !q->auth_good);
  if (q->is_draft) {
    check_draft_reply(c, q, ex, st, alone);
    if (strcmp(q->method, "HEAD") != 0)
      read_reply(ex, scratch, sizeof scratch);
    return;
  }
  if (q->is_put && q->has_range && c->max_size && q->total > c->max_size)
    FUZZ_CHECK(st >= 400);
  /* A paused exchange's reply may have been decided before the request that ran meanwhile:
   * compare it with the store only when nothing ran in between. */
  if (q->is_put && st == 200 && !alone && q->sent_good_hash) {
    char hex[65];
    const char *h = reply_header(ex, "X-Content-SHA256");
    hex_of(q->sha, hex, 0);
    FUZZ_CHECK(h != NULL && strcmp(h, hex) == 0);
  }
  if (q->is_put && st == 200 && alone) {
    resumable_complete_info info;
    char hex[65];
    FUZZ_CHECK(q->key[0] != '\0');
    FUZZ_CHECK(c->ops->complete_stat(c->self, q->key, &info) == RESUMABLE_OK);
    hex_of(info.sha256, hex, 0);
    const char *h = reply_header(ex, "X-Content-SHA256");
    if (h == NULL || strcmp(h, hex) != 0)
      fprintf(stderr, "PUT 200 for %s: X-Content-SHA256 %s, recorded %s\n", q->key,
              h ? h : "(none)", hex);
    FUZZ_CHECK(h != NULL && strcmp(h, hex) == 0); /* lower case, the committed file's */
    FUZZ_CHECK(header_u64(reply_header(ex, "X-File-Size")) == info.size);
    if (q->sent_good_hash)
      FUZZ_CHECK(memcmp(info.sha256, q->sha, 32) == 0);
    if (q->has_range)
      FUZZ_CHECK(info.size == q->total);
  }
  if (st == 308)
    FUZZ_CHECK(q->is_put && q->key[0] != '\0');
  if (st == 308 && alone) {
    FUZZ_CHECK(header_u64(reply_header(ex, "X-File-Size")) == held_of(c, q->key));
  }
  /* 422: a Content-Digest that did not match what arrived; the chunk's bytes were dropped. The
   * digest of the bytes sent can fail only when fewer were taken (the budget trimmed the body). */
  if (st == 422)
    FUZZ_CHECK(q->is_put && (q->digest == 2 || q->digest == 1));
  if (st == 422 && alone && q->has_range)
    FUZZ_CHECK(header_u64(reply_header(ex, "X-File-Size")) == held_of(c, q->key));
  if (q->digest == 3 && q->auth_good && st != 401)
    FUZZ_CHECK(st >= 400 && st != 422); /* malformed: refused from the headers */
  if (st == 416 && q->is_get)
    FUZZ_CHECK(reply_header(ex, "Content-Range") != NULL);
  const char *lp = reply_header(ex, "X-Local-Path");
  const char *root = backend_local_root();
  if (lp != NULL) { /* only when exposed, and then inside the root */
    size_t rl = root ? strlen(root) : 0;
    FUZZ_CHECK(c->expose && root && strncmp(lp, root, rl) == 0 && lp[rl] == '/' &&
               strcmp(lp + rl + 1, q->key) == 0);
  }
  if (q->is_get && (st == 200 || st == 206))
    check_get_body(c, ex, q, alone, st);
  else if (q->is_put && st == 200)
    check_done_body(c, q, ex);
  else if (strcmp(q->method, "HEAD") != 0)
    read_reply(ex, scratch, sizeof scratch);
}
