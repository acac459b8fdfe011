/* Fuzz the whole public handler (include/resumable/server.h) over the POSIX store.
 *
 * The input is a small config byte and then a sequence of request records (format below); each
 * one becomes an exchange: method, path, a few headers, the body in pieces, a complete or dropped
 * end. Bodies are not taken from the input: every request names a content seed and a total, and
 * its body is that content's bytes at the range it names, so a well-formed sequence really
 * finishes uploads (and their X-Content-SHA256 can be right or wrong on purpose). One exchange
 * can be paused half-way while the next request runs (supersede, 423).
 *
 * After every request the harness checks:
 * - nothing exists outside the root: the dedicated parent dir holds only the root;
 * - every regular file at a final path (outside <root>/.resumable) is a complete file whose
 *   size and SHA-256 (hashed here with mbedTLS) equal what complete_stat records; no symlink or
 *   other file type appears;
 * - for every key used so far, a partial has held <= total, and a recorded complete file exists;
 * - the reply: a known status, never 500 (tmpfs does not fail), 401 whenever the token was wrong,
 *   a PUT 200 names the file just committed, a 308's X-File-Size is what the store holds, no
 *   2xx/308 for a range over the maximum size, a GET 200 serves the file's bytes.
 * The store is created once per input in a fresh root and wiped afterwards. Work per input is
 * bounded (MAX_REQUESTS requests, MAX_BODY body bytes in all). */
/* realpath() is an XSI extension in glibc. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "fuzz_check.h"
#include "key.h"
#include "resumable/error.h"
#include "resumable/server.h"
#include "resumable/store.h"

#define MAX_REQUESTS 8
#define MAX_BODY 4096
#define MAX_KEYS MAX_REQUESTS
#define MAX_HEADERS 10
#define TOKEN "s3cret-token"
#define MAX_SIZE 100
#define RESTART_OP 0xf0

/* Input format, one byte each unless said:
 *   config: bit0 token required, bit1 maximum size MAX_SIZE, bit2 prefix "/files/" instead of
 *           "/v1/files/", bit3 expose local paths, bit4 a log callback
 *   per request:
 *     method (% 8: 0-3 PUT, 4 HEAD, 5 GET, 6 DELETE, 7 POST; RESTART_OP and above: no request,
 *             the server and its store are closed and reopened on the same root)
 *     key (% 10: index into key_pool; 9: a length byte then that many raw bytes)
 *     flags: bit0 wrong prefix, bit1 query string, bits2-3 auth (correct, missing, wrong, both),
 *            bit4 Expect: 100-continue, bit5 PUT: a second, different Content-Range; GET: a Range
 *            header (one more byte: % 8 index into get_ranges, 8+ a length byte and raw bytes),
 *            bit6 pause this exchange half-way through its body, bit7 an unrelated header
 *     content seed; total (% 10: index into totals)
 *     range mode (% 8: 0 none, 1-4 a range from two more bytes (start, length choice), 5 status
 *                 query, 6 a length byte and raw bytes, 7 one more byte: index into odd_ranges)
 *     hash mode (% 6: none, right, right in upper case, wrong, malformed, empty)
 *     length mode (% 6: right, absent, chunked, one more, one less, garbage)
 *     body mode (% 4: exact, short, long, empty) and one byte: how much shorter/longer
 *     piece size (1 + b % 97); end (bit0: dropped) */

static const char *const key_pool[] = {
    "a", "dir/b", "dir", "dir%2Fc", "%2e%2e/x", ".resumable/x", "a/b/../c", "", "caf%C3%A9",
};
static const uint64_t totals[] = {1, 2, 5, 16, 64, 99, 100, 101, 255, 0};
static const char *const get_ranges[] = {
    "bytes=0-0", "bytes=1-", "bytes=-2", "bytes=5-3", "bytes=0-1,3-4", "bytes=99999-",
    "items=0-1", "bytes=2-99999999999999999999999",
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

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t rd_u8(reader *r)
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

typedef struct request {
  const char *method;
  int is_put, is_get;
  char path[160];
  char key[RS_KEY_MAX + 1]; /* decoded, "" if invalid */
  size_t nhdr;
  char names[MAX_HEADERS][32];
  char values[MAX_HEADERS][128];
  int auth_good;
  int has_range;    /* a well-formed, non-query range was sent */
  uint64_t total;   /* the total the request announces */
  uint8_t seed;     /* content seed */
  uint64_t offset;  /* first content byte of the body */
  size_t body_len;  /* bytes actually sent */
  size_t piece;
  int dropped;
  int pause;
  int sent_good_hash;
  int sent_hash;    /* a well-formed X-Content-SHA256 (right or wrong), in `sha` */
  uint8_t sha[32];
} request;

typedef struct fuzz_ctx {
  resumable_server *srv;
  const resumable_store_ops *ops;
  void *self;
  int token;
  uint64_t max_size;
  const char *prefix;
  int expose;
  char keys[MAX_KEYS][RS_KEY_MAX + 1];
  size_t nkeys;
  size_t budget; /* body bytes left for this input */
} fuzz_ctx;

static char parent_dir[256];
static char root_dir[300];
static char real_root[4096]; /* root_dir without symbolic links, as X-Local-Path shows it */
static int trace; /* RESUMABLE_FUZZ_TRACE=1: print every request and its reply (replaying) */

static uint8_t content_byte(uint8_t seed, uint64_t i)
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

static void hex_of(const uint8_t d[32], char out[65], int upper)
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

static void remember_key(fuzz_ctx *c, const char *key)
{
  if (key[0] == '\0')
    return;
  for (size_t i = 0; i < c->nkeys; i++)
    if (strcmp(c->keys[i], key) == 0)
      return;
  if (c->nkeys < MAX_KEYS)
    snprintf(c->keys[c->nkeys++], sizeof c->keys[0], "%s", key);
}

static uint64_t held_of(fuzz_ctx *c, const char *key)
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
    snprintf(v, sizeof v, "%zu", length == 0 ? declared : length == 3 ? declared + 1
                                                                      : declared - (declared > 0));
    add_header(q, "Content-Length", v);
  } else if (length == 2) {
    add_header(q, "Transfer-Encoding", "chunked");
  } else if (length == 5) {
    add_header(q, "Content-Length", "12a");
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

static int plan_request(fuzz_ctx *c, reader *r, request *q)
{
  static const char *const methods[] = {"PUT", "PUT", "PUT", "PUT", "HEAD", "GET", "DELETE",
                                        "POST"};
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
  if (q->is_put) {
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

/* Feed body bytes [*sent, until) in pieces; returns 1 once the reply is decided. */
static int feed(resumable_exchange *ex, const request *q, size_t *sent, size_t until)
{
  uint8_t buf[128];
  while (*sent < until) {
    size_t n = until - *sent;
    if (n > q->piece)
      n = q->piece;
    if (n > sizeof buf)
      n = sizeof buf;
    for (size_t i = 0; i < n; i++)
      buf[i] = content_byte(q->seed, q->offset + *sent + i);
    int rc = resumable_exchange_feed(ex, buf, n);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (trace)
      fprintf(stderr, "  feed %zu at %zu: %d (status %d)\n", n, *sent, rc,
              resumable_exchange_status(ex));
    *sent += n;
    if (rc == 1)
      return 1;
  }
  return 0;
}

static const char *reply_header(resumable_exchange *ex, const char *name)
{
  for (size_t i = 0; i < resumable_exchange_header_count(ex); i++) {
    const char *n, *v;
    FUZZ_CHECK(resumable_exchange_header_at(ex, i, &n, &v) == RESUMABLE_OK);
    if (strcasecmp(n, name) == 0)
      return v;
  }
  return NULL;
}

static uint64_t header_u64(const char *v)
{
  FUZZ_CHECK(v != NULL && v[0] >= '0' && v[0] <= '9');
  return strtoull(v, NULL, 10);
}

static int open_final(const char *key)
{
  char path[sizeof root_dir + RS_KEY_MAX + 2];
  snprintf(path, sizeof path, "%s/%s", root_dir, key);
  return open(path, O_RDONLY | O_NOFOLLOW);
}

/* Size and SHA-256 of an open file, hashed here (not through the library). */
static uint64_t hash_fd(int fd, uint8_t out[32])
{
  mbedtls_sha256_context c;
  uint8_t buf[4096];
  uint64_t size = 0;
  ssize_t n;
  mbedtls_sha256_init(&c);
  FUZZ_CHECK(mbedtls_sha256_starts_ret(&c, 0) == 0);
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    FUZZ_CHECK(mbedtls_sha256_update_ret(&c, buf, (size_t)n) == 0);
    size += (uint64_t)n;
  }
  FUZZ_CHECK(n == 0);
  FUZZ_CHECK(mbedtls_sha256_finish_ret(&c, out) == 0);
  mbedtls_sha256_free(&c);
  return size;
}

/* The whole reply body (bounded: replies here are small, or files of at most MAX_BODY bytes). */
static size_t read_reply(resumable_exchange *ex, uint8_t *buf, size_t cap)
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
static void check_get_body(resumable_exchange *ex, const request *q, int alone, int st)
{
  static uint8_t got[MAX_BODY + 512], want[MAX_BODY + 512];
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
  int fd = open_final(q->key);
  struct stat sb;
  FUZZ_CHECK(fd >= 0 && fstat(fd, &sb) == 0 && (unsigned long long)sb.st_size == size);
  FUZZ_CHECK(pread(fd, want, n, (off_t)first) == (ssize_t)n && memcmp(want, got, n) == 0);
  close(fd);
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
      if (*p == 'u') {
        if (sscanf(p + 1, "%4x", &v) != 1 || v > 0xff)
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
  FUZZ_CHECK(p != NULL && strcmp(text, q->key) == 0);
  snprintf(expect, sizeof expect, ", \"size\": %s, \"sha256\": \"%s\"", size, hex);
  FUZZ_CHECK(strncmp(p, expect, strlen(expect)) == 0);
  p += strlen(expect);
  if (c->expose) {
    FUZZ_CHECK(strncmp(p, ", \"local_path\": \"", 17) == 0);
    p = json_string(p + 17, text, sizeof text);
    snprintf(expect, sizeof expect, "%s/", real_root);
    FUZZ_CHECK(p != NULL && strncmp(text, expect, strlen(expect)) == 0 &&
               strcmp(text + strlen(expect), q->key) == 0);
  }
  FUZZ_CHECK(strcmp(p, "}\n") == 0);
}

static int known_status(int s)
{
  static const int ok[] = {200, 204, 206, 308, 400, 401, 404, 405, 409, 413, 416, 423};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (s == ok[i])
      return 1;
  return 0;
}

static void check_reply(fuzz_ctx *c, const request *q, resumable_exchange *ex, int alone)
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
  if (!known_status(st))
    fprintf(stderr, "unexpected status %d for %s %s\n", st, q->method, q->path);
  FUZZ_CHECK(known_status(st)); /* 500/507 on tmpfs would mean a handler or store bug */
  if (!q->auth_good)
    FUZZ_CHECK(st == 401);
  if (st == 401)
    FUZZ_CHECK(c->token && !q->auth_good);
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
  if (st == 416 && q->is_get)
    FUZZ_CHECK(reply_header(ex, "Content-Range") != NULL);
  const char *lp = reply_header(ex, "X-Local-Path");
  if (lp != NULL) { /* only when exposed, and then inside the root */
    size_t rl = strlen(real_root);
    FUZZ_CHECK(c->expose && strncmp(lp, real_root, rl) == 0 && lp[rl] == '/' &&
               strcmp(lp + rl + 1, q->key) == 0);
  }
  if (q->is_get && (st == 200 || st == 206))
    check_get_body(ex, q, alone, st);
  else if (q->is_put && st == 200)
    check_done_body(c, q, ex);
  else if (strcmp(q->method, "HEAD") != 0)
    read_reply(ex, scratch, sizeof scratch);
}

/* -- state invariants ------------------------------------------------------------------------ */

static void list_parent(void)
{
  DIR *d = opendir(parent_dir);
  struct dirent *e;
  int entries = 0;
  FUZZ_CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (strcmp(e->d_name, "root") != 0)
      fprintf(stderr, "outside the root: %s/%s\n", parent_dir, e->d_name);
    FUZZ_CHECK(strcmp(e->d_name, "root") == 0);
    entries++;
  }
  closedir(d);
  FUZZ_CHECK(entries == 1);
}

/* The parent dir holds only the root. Listed once per input; after that, any change to its
 * entries (even one created and removed again) shows in its mtime, which is cheaper to read. */
static struct stat parent_snapshot;

static void snapshot_parent(void)
{
  list_parent();
  FUZZ_CHECK(stat(parent_dir, &parent_snapshot) == 0);
}

static void check_parent(void)
{
  struct stat sb;
  FUZZ_CHECK(stat(parent_dir, &sb) == 0);
  /* mtime ticks coarsely; a tmpfs directory's size also counts its entries */
  if (sb.st_mtim.tv_sec == parent_snapshot.st_mtim.tv_sec &&
      sb.st_mtim.tv_nsec == parent_snapshot.st_mtim.tv_nsec &&
      sb.st_nlink == parent_snapshot.st_nlink && sb.st_size == parent_snapshot.st_size)
    return;
  list_parent(); /* names what is there */
  fprintf(stderr, "something was created and removed beside the root\n");
  FUZZ_CHECK(0);
}

/* Every regular file under dirfd (a directory at key prefix `rel`) is a recorded complete file. */
static void check_tree(fuzz_ctx *c, int dirfd, char *rel, size_t rel_len, int depth)
{
  DIR *d = fdopendir(dirfd);
  struct dirent *e;
  FUZZ_CHECK(d != NULL && depth < 600);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (depth == 0 && strcmp(e->d_name, ".resumable") == 0)
      continue;
    size_t n = strlen(e->d_name);
    FUZZ_CHECK(rel_len + n + 1 <= RS_KEY_MAX);
    memcpy(rel + rel_len, e->d_name, n + 1);
    struct stat sb;
    FUZZ_CHECK(fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0);
    if (S_ISDIR(sb.st_mode)) {
      int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      FUZZ_CHECK(sub >= 0);
      rel[rel_len + n] = '/';
      check_tree(c, sub, rel, rel_len + n + 1, depth + 1);
      continue;
    }
    if (!S_ISREG(sb.st_mode))
      fprintf(stderr, "not a regular file at a final path: %s\n", rel);
    FUZZ_CHECK(S_ISREG(sb.st_mode));
    resumable_complete_info info;
    uint8_t sha[32];
    int fd = openat(dirfd, e->d_name, O_RDONLY | O_NOFOLLOW);
    FUZZ_CHECK(fd >= 0);
    uint64_t size = hash_fd(fd, sha);
    close(fd);
    int rc = c->ops->complete_stat(c->self, rel, &info);
    if (rc != RESUMABLE_OK || info.size != size || memcmp(info.sha256, sha, 32) != 0)
      fprintf(stderr, "final file %s: stat rc %d, recorded size %llu, file size %llu\n", rel, rc,
              (unsigned long long)info.size, (unsigned long long)size);
    FUZZ_CHECK(rc == RESUMABLE_OK && info.size == size && memcmp(info.sha256, sha, 32) == 0);
  }
  closedir(d);
}

static void check_state(fuzz_ctx *c, int full)
{
  char rel[RS_KEY_MAX + 2];
  if (full)
    list_parent();
  check_parent();
  int fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  FUZZ_CHECK(fd >= 0);
  check_tree(c, fd, rel, 0, 0);
  for (size_t i = 0; i < c->nkeys; i++) {
    resumable_partial_info p;
    resumable_complete_info info;
    if (c->ops->partial_stat(c->self, c->keys[i], &p) == RESUMABLE_OK)
      FUZZ_CHECK(p.held <= p.total);
    if (c->ops->complete_stat(c->self, c->keys[i], &info) == RESUMABLE_OK) {
      int f = open_final(c->keys[i]);
      FUZZ_CHECK(f >= 0); /* recorded, so it is at its final path */
      close(f);
    }
  }
}

/* What the store holds for each key used so far. */
typedef struct key_state {
  int partial, complete, has_target, pad;
  uint64_t held, total, size;
  uint8_t sha[32], target[32];
} key_state;

static void snapshot(fuzz_ctx *c, key_state *out)
{
  for (size_t i = 0; i < c->nkeys; i++) {
    resumable_partial_info p;
    resumable_complete_info ci;
    memset(&out[i], 0, sizeof out[i]);
    out[i].partial = c->ops->partial_stat(c->self, c->keys[i], &p) == RESUMABLE_OK;
    if (out[i].partial) {
      out[i].held = p.held;
      out[i].total = p.total;
      out[i].has_target = p.has_target;
      if (p.has_target)
        memcpy(out[i].target, p.target_sha256, 32);
    }
    out[i].complete = c->ops->complete_stat(c->self, c->keys[i], &ci) == RESUMABLE_OK;
    if (out[i].complete) {
      out[i].size = ci.size;
      memcpy(out[i].sha, ci.sha256, 32);
    }
  }
}

static const key_state *state_of(const fuzz_ctx *c, const key_state *snap, const char *key)
{
  for (size_t i = 0; i < c->nkeys; i++)
    if (strcmp(c->keys[i], key) == 0)
      return &snap[i];
  return NULL;
}

/* A request that ran alone, judged against the state before and after it. */
static void check_effect(fuzz_ctx *c, const request *q, const key_state *before,
                         const key_state *after, int st, int at_headers,
                         const resumable_exchange *ex)
{
  /* PROTOCOL.md: refused requests touch nothing; HEAD, GET and other methods only read. */
  int untouched = (at_headers && (st == 401 || st == 404 || st == 405 || st == 413 ||
                                  st == 416 || (st == 400 && q->key[0] == '\0'))) ||
                  !(q->is_put || strcmp(q->method, "DELETE") == 0);
  if (untouched && memcmp(before, after, c->nkeys * sizeof *before) != 0)
    fprintf(stderr, "%s %s -> %d changed the store\n", q->method, q->path, st);
  FUZZ_CHECK(!untouched || memcmp(before, after, c->nkeys * sizeof *before) == 0);
  if (q->key[0] == '\0' || st == 401)
    return;
  const key_state *b = state_of(c, before, q->key), *a = state_of(c, after, q->key);
  FUZZ_CHECK(b != NULL && a != NULL);
  if (strcmp(q->method, "HEAD") == 0 && st == 200) {
    const char *size = reply_header((resumable_exchange *)ex, "X-File-Size");
    if (b->partial) { /* the upload's progress, never a prefix hash */
      FUZZ_CHECK(header_u64(size) == b->held);
      FUZZ_CHECK(header_u64(reply_header((resumable_exchange *)ex, "X-Upload-Total")) == b->total);
      FUZZ_CHECK(reply_header((resumable_exchange *)ex, "X-Content-SHA256") == NULL);
    } else {
      char hex[65];
      const char *h = reply_header((resumable_exchange *)ex, "X-Content-SHA256");
      hex_of(b->sha, hex, 0);
      FUZZ_CHECK(b->complete && header_u64(size) == b->size && h && strcmp(h, hex) == 0);
    }
  }
  if (strcmp(q->method, "HEAD") == 0 && st == 404)
    FUZZ_CHECK(!b->partial && !b->complete);
  if (strcmp(q->method, "DELETE") == 0 && st == 204)
    FUZZ_CHECK((b->partial || b->complete) && !a->partial && !a->complete);
  if (strcmp(q->method, "DELETE") == 0 && st == 404)
    FUZZ_CHECK(!b->partial && !b->complete);
  if (q->is_put && st == 308 && q->has_range) { /* a chunk landed: the binding it leaves */
    FUZZ_CHECK(a->partial);
    if (q->sent_hash)
      FUZZ_CHECK(a->has_target && memcmp(a->target, q->sha, 32) == 0);
    else if (b->partial && q->offset > 0) /* continued without the header: binding unchanged */
      FUZZ_CHECK(a->has_target == b->has_target &&
                 (!a->has_target || memcmp(a->target, b->target, 32) == 0));
  }
  if (q->is_put && st == 416)
    FUZZ_CHECK(header_u64(reply_header((resumable_exchange *)ex, "X-File-Size")) ==
               (b->partial ? b->held : 0));
}

/* -- driving --------------------------------------------------------------------------------- */

typedef struct live {
  request q;
  resumable_exchange *ex;
  size_t sent;
  int decided;
  int decided_early; /* decided before it was paused: its reply predates what ran meanwhile */
  int at_headers;    /* decided by headers_done */
} live;

/* Begin an exchange and feed its body up to `stop`. */
static void start(fuzz_ctx *c, live *l, size_t stop)
{
  (void)c;
  FUZZ_CHECK(resumable_exchange_begin(c->srv, l->q.method, l->q.path, &l->ex) == RESUMABLE_OK);
  for (size_t i = 0; i < l->q.nhdr; i++)
    FUZZ_CHECK(resumable_exchange_add_header(l->ex, l->q.names[i], l->q.values[i]) ==
               RESUMABLE_OK);
  int rc = resumable_exchange_headers_done(l->ex);
  FUZZ_CHECK(rc == 0 || rc == 1);
  l->sent = 0;
  l->decided = rc == 1;
  l->at_headers = rc == 1;
  if (trace)
    fprintf(stderr, "  begin %s %s: headers_done %d (status %d)%s\n", l->q.method, l->q.path, rc,
            resumable_exchange_status(l->ex), stop < l->q.body_len ? ", paused" : "");
  if (rc == 1)
    FUZZ_CHECK(resumable_exchange_status(l->ex) != 0);
  if (!l->decided)
    l->decided = feed(l->ex, &l->q, &l->sent, stop);
  l->decided_early = l->decided;
}

/* `alone`: no other request ran since this one began; `before` is the store's state then. */
static void finish(fuzz_ctx *c, live *l, int alone, const key_state *before)
{
  key_state after[MAX_KEYS];
  if (!l->decided)
    feed(l->ex, &l->q, &l->sent, l->q.body_len);
  FUZZ_CHECK(resumable_exchange_end(l->ex, l->q.dropped ? RESUMABLE_BODY_DROPPED
                                                        : RESUMABLE_BODY_COMPLETE) ==
             RESUMABLE_OK);
  check_reply(c, &l->q, l->ex, alone || !l->decided_early);
  if (alone && before != NULL) {
    snapshot(c, after);
    check_effect(c, &l->q, before, after, resumable_exchange_status(l->ex), l->at_headers, l->ex);
  }
  resumable_exchange_free(l->ex);
  l->ex = NULL;
  if (l->q.is_put || strcmp(l->q.method, "DELETE") == 0)
    check_state(c, 0); /* the others only read (checked again after the last request) */
}

static void remove_tree(int dirfd)
{
  DIR *d = fdopendir(dirfd);
  struct dirent *e;
  FUZZ_CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (unlinkat(dirfd, e->d_name, 0) == 0)
      continue;
    int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    FUZZ_CHECK(sub >= 0);
    remove_tree(sub);
    FUZZ_CHECK(unlinkat(dirfd, e->d_name, AT_REMOVEDIR) == 0);
  }
  closedir(d);
}

static int log_lines;

static void log_line(void *user_data, resumable_log_level level, const char *msg)
{
  FUZZ_CHECK(user_data == &log_lines && msg != NULL);
  FUZZ_CHECK(level >= RESUMABLE_LOG_ERROR && level <= RESUMABLE_LOG_DEBUG);
  FUZZ_CHECK(strlen(msg) < 16384 && strchr(msg, '\n') == NULL); /* one line */
  log_lines++;
  if (trace)
    fprintf(stderr, "  log %d: %s\n", (int)level, msg);
}

static void cleanup(void)
{
  int fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd >= 0) {
    remove_tree(fd);
    rmdir(root_dir);
  }
  rmdir(parent_dir);
}

static void setup_once(void)
{
  if (parent_dir[0] != '\0')
    return;
  trace = getenv("RESUMABLE_FUZZ_TRACE") != NULL;
  const char *tmp = getenv("TMPDIR");
  snprintf(parent_dir, sizeof parent_dir, "%s/resumable-fuzz-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  FUZZ_CHECK(mkdtemp(parent_dir) != NULL);
  snprintf(root_dir, sizeof root_dir, "%s/root", parent_dir);
  FUZZ_CHECK(realpath(parent_dir, real_root) != NULL);
  FUZZ_CHECK(strlen(real_root) + 5 < sizeof real_root);
  strcat(real_root, "/root");
  atexit(cleanup);
}

/* A server and its POSIX store on the root, configured by the input's first byte. */
static void open_server(fuzz_ctx *c, uint8_t config)
{
  resumable_store *store = NULL;
  c->token = config & 1;
  c->max_size = (config & 2) ? MAX_SIZE : 0;
  FUZZ_CHECK(resumable_store_fs_new(&store, root_dir) == RESUMABLE_OK);
  c->ops = resumable_store_ops_of(store);
  c->self = resumable_store_self(store);
  FUZZ_CHECK(resumable_server_new_with_store(&c->srv, store) == RESUMABLE_OK);
  if (c->token)
    FUZZ_CHECK(resumable_server_set_token(c->srv, TOKEN) == RESUMABLE_OK);
  FUZZ_CHECK(resumable_server_set_max_size(c->srv, c->max_size) == RESUMABLE_OK);
  c->prefix = (config & 4) ? "/files/" : "/v1/files/";
  FUZZ_CHECK(resumable_server_set_prefix(c->srv, c->prefix) == RESUMABLE_OK);
  c->expose = (config & 8) != 0;
  FUZZ_CHECK(resumable_server_set_expose_paths(c->srv, c->expose) == RESUMABLE_OK);
  if (config & 16)
    FUZZ_CHECK(resumable_server_set_log(c->srv, log_line, &log_lines) == RESUMABLE_OK);
}

/* A clean restart on the same root keeps every partial (held, total) and complete file. */
static void restart(fuzz_ctx *c, uint8_t config)
{
  key_state before[MAX_KEYS], after[MAX_KEYS];
  snapshot(c, before);
  resumable_server_free(c->srv);
  open_server(c, config);
  snapshot(c, after);
  if (trace)
    fprintf(stderr, "RESTART\n");
  FUZZ_CHECK(memcmp(before, after, c->nkeys * sizeof *before) == 0);
  check_state(c, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  reader r = {data, size};
  fuzz_ctx c;
  live paused = {0}, now;
  key_state before[MAX_KEYS];

  setup_once();
  memset(&c, 0, sizeof c);
  uint8_t config = rd_u8(&r);
  c.budget = MAX_BODY;
  open_server(&c, config);
  snapshot_parent();

  for (int i = 0; i < MAX_REQUESTS && r.n > 0; i++) {
    if (r.p[0] >= RESTART_OP) {
      rd_u8(&r);
      if (paused.ex != NULL)
        finish(&c, &paused, 1, NULL);
      restart(&c, config);
      continue;
    }
    if (!plan_request(&c, &r, &now.q))
      break;
    if (now.q.pause && paused.ex == NULL) {
      paused.q = now.q;
      start(&c, &paused, paused.q.body_len / 2);
      continue;
    }
    /* with a paused exchange on the same key, that key's state is in flux */
    int judge = paused.ex == NULL || strcmp(paused.q.key, now.q.key) != 0;
    if (judge)
      snapshot(&c, before);
    start(&c, &now, now.q.body_len);
    finish(&c, &now, 1, judge ? before : NULL);
    if (paused.ex != NULL)
      finish(&c, &paused, 0, NULL);
  }
  if (paused.ex != NULL)
    finish(&c, &paused, 1, NULL);
  check_state(&c, 1);

  resumable_server_free(c.srv);
  int fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  FUZZ_CHECK(fd >= 0);
  remove_tree(fd);
  FUZZ_CHECK(rmdir(root_dir) == 0);
  return 0;
}
