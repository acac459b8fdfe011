/* The handler harness's input decoding: bytes -> request records (see the format below). */
#include <string.h>

#include <mbedtls/sha256.h>

#include "mbedtls_compat.h"

#include "fuzz_handler.h"
#include "resumable/error.h"
#include "tus_header.h" /* rs_base64_encode */

/* Input format, one byte each unless said:
 *   config: bit0 token required, bit1 maximum size MAX_SIZE, bit2 prefix "/files/" instead of
 *           "/v1/files/", bit3 expose local paths, bit4 a log callback, bit5 (memory store) a
 *           small byte budget, bit6 a checkpoint (sync) every 16 body bytes
 *   per request:
 *     method (% 8: 0-3 PUT, 4 HEAD, 5 GET, 6 DELETE, 7 the IETF draft dialect: see plan_draft);
 *             or, with no request record after
 *             it: SWEEP_OP..RESTART_OP-1 a sweep of partials (odd: max age 0, even: 10^9 s),
 *             RESTART_OP and above the server and its store closed and reopened on the root
 *     key (% 10: index into key_pool; 9: a length byte then that many raw bytes)
 *     flags: bit0 wrong prefix, bit1 query string, bits2-3 auth (correct, missing, wrong, both),
 *            bit4 Expect: 100-continue, bit5 PUT: a second, different Content-Range; GET: a Range
 *            header (one more byte: below 8 an index into get_ranges, else raw as for keys),
 *            bit6 pause this exchange half-way through its body, bit7 an unrelated header
 *     content seed; total (% 10: index into totals)
 *     range mode (% 8: 0 none, 1-4 a range from two more bytes (start, length choice), 5 status
 *                 query, 6 a length byte and raw bytes, 7 one more byte: index into odd_ranges)
 *     hash mode (% 6: none, right, right in upper case, wrong, malformed, empty)
 *     length mode (% 6: right, absent, chunked, one more, one less, garbage)
 *     body mode (% 4: exact, short, long, empty) and one byte: bits 0-2 how much shorter/longer,
 *           bits 3-4 a Content-Digest (none, of the bytes sent, wrong, malformed)
 *   draft requests (plan_draft): their own bytes, a Content-Digest chosen last (% 5: none, of
 *     the bytes sent, wrong, malformed, a raw string)
 *     piece size (1 + b % 97); end (bit0: dropped) */

static const char *const key_pool[] = {
    "a", "dir/b", "dir", "dir%2Fc", "%2e%2e/x", ".resumable/x", "a/b/../c", "", "caf%C3%A9",
};
static const uint64_t totals[] = {1, 2, 5, 16, 64, 99, 100, 101, 255, 0};
static const char *const get_ranges[] = {
    "bytes=0-0",     "bytes=1-",     "bytes=-2",  "bytes=5-3",
    "bytes=0-1,3-4", "bytes=99999-", "items=0-1", "bytes=2-99999999999999999999999",
};
static const char *const odd_ranges[] = {
    "bytes 0-0/0",
    "bytes 1-0/5",
    "bytes 0-9223372036854775806/9223372036854775807",
    "bytes 9223372036854775806-9223372036854775806/9223372036854775807",
    "bytes=0-1/2",
    "bytes 0-1/18446744073709551616",
    "bytes */0",
    "bytes -1-2/3",
};

uint8_t rd_u8(reader *r)
{
  if (r->n == 0)
    return 0;
  r->n--;
  return *r->p++;
}

/* A NUL-free C string of up to max raw bytes (length byte first). */
static void rd_str(reader *r, char *out, size_t max)
{
  size_t len = rd_u8(r) % (max + 1);
  for (size_t i = 0; i < len; i++) {
    uint8_t c = rd_u8(r);
    out[i] = c ? (char)c : 'x';
  }
  out[len] = '\0';
}

uint8_t content_byte(uint8_t seed, uint64_t i)
{
  return (uint8_t)(seed * 131u + i * 7u + (i >> 3));
}

static void content_sha(uint8_t seed, uint64_t total, uint8_t out[32])
{
  mbedtls_sha256_context c;
  uint8_t buf[256];
  mbedtls_sha256_init(&c);
  FUZZ_CHECK(mbedtls_sha256_starts_ret(&c, 0) == 0);
  for (uint64_t off = 0; off < total;) {
    size_t n = total - off < sizeof buf ? (size_t)(total - off) : sizeof buf;
    for (size_t i = 0; i < n; i++)
      buf[i] = content_byte(seed, off + i);
    FUZZ_CHECK(mbedtls_sha256_update_ret(&c, buf, n) == 0);
    off += n;
  }
  FUZZ_CHECK(mbedtls_sha256_finish_ret(&c, out) == 0);
  mbedtls_sha256_free(&c);
}

/* "sha-256=:<base64>:" of content bytes [off, off + len), or of other bytes when `wrong`. */
static void content_digest(uint8_t seed, uint64_t off, size_t len, int wrong, char *v, size_t cap)
{
  mbedtls_sha256_context c;
  uint8_t d[32], b;
  char b64[48];
  mbedtls_sha256_init(&c);
  FUZZ_CHECK(mbedtls_sha256_starts_ret(&c, 0) == 0);
  for (size_t i = 0; i < len; i++) {
    b = content_byte(seed, off + i);
    FUZZ_CHECK(mbedtls_sha256_update_ret(&c, &b, 1) == 0);
  }
  FUZZ_CHECK(mbedtls_sha256_finish_ret(&c, d) == 0);
  mbedtls_sha256_free(&c);
  d[0] ^= (uint8_t)(wrong != 0);
  FUZZ_CHECK(rs_base64_encode(d, 32, b64, sizeof b64) > 0);
  snprintf(v, cap, "sha-256=:%s:", b64);
}

void hex_of(const uint8_t d[32], char out[65], int upper)
{
  static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
  const char *digits = upper ? up : lo;
  for (int i = 0; i < 32; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[64] = '\0';
}

static void add_header(request *q, const char *name, const char *value)
{
  if (q->nhdr == MAX_HEADERS)
    return;
  snprintf(q->names[q->nhdr], sizeof q->names[0], "%s", name);
  snprintf(q->values[q->nhdr], sizeof q->values[0], "%s", value);
  q->nhdr++;
}

void remember_key(fuzz_ctx *c, const char *key)
{
  if (key[0] == '\0')
    return;
  for (size_t i = 0; i < c->nkeys; i++)
    if (strcmp(c->keys[i], key) == 0)
      return;
  if (c->nkeys < MAX_KEYS)
    snprintf(c->keys[c->nkeys++], sizeof c->keys[0], "%s", key);
}

uint64_t held_of(fuzz_ctx *c, const char *key)
{
  resumable_partial_info info;
  if (key[0] == '\0' || c->ops->partial_stat(c->self, key, &info) != RESUMABLE_OK)
    return 0;
  return info.held;
}

/* The range header and the body's place in the content. */
static void plan_range(fuzz_ctx *c, reader *r, request *q)
{
  uint8_t mode = rd_u8(r) % 8;
  char v[128];

  q->offset = 0;
  q->body_len = (size_t)q->total;
  if (mode == 0)
    return; /* whole-file PUT */
  if (mode <= 4) {
    uint64_t held = held_of(c, q->key);
    uint8_t s = rd_u8(r), l = rd_u8(r);
    uint64_t start = s % 4 == 0 ? 0 : s % 4 == 1 ? held : s % 4 == 2 ? held + 1 : s / 4;
    uint64_t left = q->total > start ? q->total - start : 1;
    uint64_t len = l % 3 == 0 ? left : l % 3 == 1 ? 1 + l / 3 % left : 1 + l / 3;
    snprintf(v, sizeof v, "bytes %llu-%llu/%llu", (unsigned long long)start,
             (unsigned long long)(start + len - 1), (unsigned long long)q->total);
    q->has_range = start + len <= q->total;
    q->offset = start;
    q->body_len = (size_t)len;
  } else if (mode == 5) {
    snprintf(v, sizeof v, "bytes */%llu", (unsigned long long)q->total);
    q->body_len = 0;
  } else if (mode == 6) {
    rd_str(r, v, 40);
    q->body_len = rd_u8(r) % 8;
  } else {
    snprintf(v, sizeof v, "%s", odd_ranges[rd_u8(r) % 8]);
    q->body_len = 1;
  }
  add_header(q, "Content-Range", v);
}

static void plan_headers(reader *r, request *q, uint8_t flags)
{
  char v[128];
  uint8_t hash = rd_u8(r) % 6, length = rd_u8(r) % 6, body = rd_u8(r) % 4, by = rd_u8(r);
  uint8_t sha[32];

  content_sha(q->seed, q->total, sha);
  if (hash == 1 || hash == 2) {
    memcpy(q->sha, sha, 32);
    q->sent_good_hash = 1;
    q->sent_hash = 1;
    hex_of(sha, v, hash == 2);
    add_header(q, "X-Content-SHA256", v);
  } else if (hash == 3) {
    sha[0] ^= 1;
    memcpy(q->sha, sha, 32);
    q->sent_hash = 1;
    hex_of(sha, v, 0);
    add_header(q, "X-Content-SHA256", v);
  } else if (hash == 4) {
    add_header(q, "X-Content-SHA256", "zz");
  } else if (hash == 5) {
    add_header(q, "X-Content-SHA256", "");
  }
  size_t declared = q->body_len;
  if (body == 1)
    q->body_len -= q->body_len < 1u + by % 8 ? q->body_len : 1u + by % 8;
  else if (body == 2)
    q->body_len += 1u + by % 8;
  else if (body == 3)
    q->body_len = 0;
  if (length == 0 || length == 3 || length == 4) {
    snprintf(v, sizeof v, "%zu",
             length == 0   ? declared
             : length == 3 ? declared + 1
                           : declared - (declared > 0));
    add_header(q, "Content-Length", v);
  } else if (length == 2) {
    add_header(q, "Transfer-Encoding", "chunked");
  } else if (length == 5) {
    add_header(q, "Content-Length", "12a");
  }
  q->digest = (by >> 3) % 4;
  if (q->digest == 1 || q->digest == 2) {
    content_digest(q->seed, q->offset, q->body_len, q->digest == 2, v, sizeof v);
    add_header(q, "Content-Digest", v);
  } else if (q->digest == 3) {
    add_header(q, "Content-Digest", "sha-256=:AAAA:");
  }
  if (flags & 0x10)
    add_header(q, "Expect", "100-continue");
  if (flags & 0x20)
    add_header(q, "Content-Range", "bytes 0-0/1");
  if (flags & 0x80)
    add_header(q, "X-Unrelated", "x");
}

static void plan_path(reader *r, request *q, uint8_t flags, const char *prefix)
{
  char raw[64];
  uint8_t k = rd_u8(r) % 10;

  if (k < 9)
    snprintf(raw, sizeof raw, "%s", key_pool[k]);
  else
    rd_str(r, raw, 32);
  snprintf(q->path, sizeof q->path, "%s%s%s", (flags & 1) ? "/v2/files/" : prefix, raw,
           (flags & 2) ? "?x=1" : "");
  if (!(flags & 1) && rs_key_decode(raw, strcspn(raw, "?#"), q->key, sizeof q->key) != RS_KEY_OK)
    q->key[0] = '\0';
}

static void plan_auth(fuzz_ctx *c, request *q, uint8_t flags)
{
  uint8_t mode = (flags >> 2) & 3;
  q->auth_good = !c->token || mode == 0;
  if (mode == 0 || mode == 3)
    add_header(q, "Authorization", "Bearer " TOKEN);
  if (mode == 2 || mode == 3)
    add_header(q, "Authorization", "Bearer wrong");
  if (mode == 3)
    q->auth_good = !c->token; /* a repeated, different credential is not a valid one */
}

/* An IETF draft request (docs/protocol.md, "Dialects: the IETF draft"): the method, then one
 * byte per header choosing a well-formed, a wrong or a raw value, then the body length. */
static void plan_draft(reader *r, request *q)
{
  static const char *const methods[] = {"POST",   "PATCH",   "PATCH", "HEAD",
                                        "DELETE", "OPTIONS", "PUT",   "POST"};
  static const char *const versions[] = {"8", "6", "8", "6", "7", "6;a=1", "x", "08"};
  static const char *const completes[] = {NULL, "?0", "?1", "?0", "?1", "?2", "?1, ?0", "true"};
  static const char *const types[] = {"application/partial-upload", NULL,
                                      "application/partial-upload; x=1",
                                      "application/offset+octet-stream"};
  char v[128];
  uint8_t m = rd_u8(r);
  q->method = methods[m % 8];
  q->is_draft = 1;
  add_header(q, "Upload-Draft-Interop-Version", versions[rd_u8(r) % 8]);
  uint8_t b = rd_u8(r);
  if (b % 8 == 7) {
    rd_str(r, v, 24);
    add_header(q, "Upload-Complete", v);
  } else if (completes[b % 8]) {
    add_header(q, "Upload-Complete", completes[b % 8]);
  }
  b = rd_u8(r);
  q->offset = 0;
  if (b % 4 == 1 || b % 4 == 2) {
    q->offset = b % 4 == 1 ? 0 : rd_u8(r) % (q->total + 1);
    snprintf(v, sizeof v, "%llu", (unsigned long long)q->offset);
    add_header(q, "Upload-Offset", v);
  } else if (b % 4 == 3) {
    rd_str(r, v, 24);
    add_header(q, "Upload-Offset", v);
  }
  b = rd_u8(r);
  if (b % 4 == 1 || b % 4 == 2) {
    snprintf(v, sizeof v, "%llu", (unsigned long long)(b % 4 == 1 ? q->total : rd_u8(r)));
    add_header(q, "Upload-Length", v);
  } else if (b % 4 == 3) {
    rd_str(r, v, 24);
    add_header(q, "Upload-Length", v);
  }
  b = rd_u8(r);
  if (types[b % 4])
    add_header(q, "Content-Type", types[b % 4]);
  b = rd_u8(r);
  if (b % 5 == 1 || b % 5 == 2) { /* the right or a wrong whole-file digest */
    uint8_t sha[32];
    char b64[48];
    content_sha(q->seed, q->total, sha);
    sha[0] ^= (uint8_t)(b % 5 == 2);
    FUZZ_CHECK(rs_base64_encode(sha, 32, b64, sizeof b64) > 0);
    snprintf(v, sizeof v, "sha-256=:%s:", b64);
    add_header(q, "Repr-Digest", v);
  } else if (b % 5 == 3) {
    rd_str(r, v, 60);
    add_header(q, "Repr-Digest", v);
  } else if (b % 5 == 4) {
    add_header(q, "Want-Repr-Digest", "sha-256=1");
  }
  int has_body = strcmp(q->method, "POST") == 0 || strcmp(q->method, "PATCH") == 0 ||
                 strcmp(q->method, "PUT") == 0;
  q->body_len = has_body ? rd_u8(r) % 48 : 0;
  snprintf(v, sizeof v, "%zu", q->body_len);
  if (has_body)
    add_header(q, "Content-Length", v);
  b = rd_u8(r); /* Content-Digest: none, of the bytes sent, wrong, malformed, raw */
  q->digest = b % 5 == 4 ? 0 : b % 5;
  if (q->digest == 1 || q->digest == 2) {
    content_digest(q->seed, q->offset, q->body_len, q->digest == 2, v, sizeof v);
    add_header(q, "Content-Digest", v);
  } else if (q->digest == 3) {
    add_header(q, "Content-Digest", "sha-256=:AAAA:");
  } else if (b % 5 == 4) {
    rd_str(r, v, 60);
    add_header(q, "Content-Digest", v);
  }
}

int plan_request(fuzz_ctx *c, reader *r, request *q)
{
  static const char *const methods[] = {"PUT",  "PUT", "PUT",    "PUT",
                                        "HEAD", "GET", "DELETE", "POST"};
  if (r->n == 0)
    return 0;
  memset(q, 0, sizeof *q);
  q->method = methods[rd_u8(r) % 8];
  q->is_put = strcmp(q->method, "PUT") == 0;
  q->is_get = strcmp(q->method, "GET") == 0;
  uint8_t flags = rd_u8(r);
  plan_path(r, q, flags, c->prefix);
  plan_auth(c, q, flags);
  q->seed = rd_u8(r);
  q->total = totals[rd_u8(r) % 10];
  if (strcmp(q->method, "POST") == 0) {
    plan_draft(r, q);
  } else if (q->is_put) {
    plan_range(c, r, q);
    plan_headers(r, q, flags);
  } else if (q->is_get && (flags & 0x20)) {
    char v[64];
    uint8_t which = rd_u8(r);
    if (which < 8)
      snprintf(v, sizeof v, "%s", get_ranges[which]);
    else
      rd_str(r, v, 40);
    add_header(q, "Range", v);
    q->body_len = 0;
  } else {
    q->body_len = 0;
  }
  if (q->body_len > c->budget)
    q->body_len = c->budget;
  c->budget -= q->body_len;
  q->piece = 1 + rd_u8(r) % 97;
  q->dropped = rd_u8(r) & 1;
  q->pause = (flags & 0x40) != 0;
  remember_key(c, q->key);
  return 1;
}
