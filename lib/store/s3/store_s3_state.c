/* The S3 store's two records, as short text objects that end with the SHA-256 of what precedes
 * them, so a torn or edited record is refused rather than applied. Pure functions.
 *
 * State record (".resumable/up/<hex>/state-<seq>"):
 *   resumable-s3-state 2
 *   seq <n>
 *   writer <hex>
 *   gone 0|1
 *   key <key>               (keys hold no control byte, so a line is enough)
 *   total <n>               (18446744073709551615: not known yet, RESUMABLE_LENGTH_UNKNOWN)
 *   held <n>
 *   target <64 hex>|-
 *   hash <hex>|-            (the handler's running SHA-256 state after `held` bytes)
 *   metadata <hex>|-        (the client's metadata, tus Upload-Metadata)
 *   part-size <n>
 *   upload <id>|-
 *   token <hex>|-
 *   tail <name> <len>|- 0
 *   sealed 0|1              (a whole concatenation part, its upload completed: store_s3_seal.c)
 *   part <number> <size> <etag>     (one per part, numbers 1, 2, 3...)
 *   end <64 hex>
 * Version 1 records (before the tus dialect) have neither `metadata` nor `sealed`: they load
 * with no metadata, not sealed.
 * Sums record (".resumable/sums/<hex>/<token>"):
 *   resumable-s3-sums 1 / key <key> / size <n> / sha256 <64 hex> / end <64 hex> */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "resumable/error.h"
#include "sha256.h"
#include "store_s3.h"

void s3_state_init(s3_state *st)
{
  memset(st, 0, sizeof(*st));
}

void s3_state_free(s3_state *st)
{
  free(st->parts);
  s3_state_init(st);
}

int s3_state_copy(s3_state *dst, const s3_state *src)
{
  s3_part *parts = NULL;
  if (src->nparts > 0) {
    parts = malloc(src->nparts * sizeof(*parts));
    if (!parts)
      return RESUMABLE_E_NOMEM;
    memcpy(parts, src->parts, src->nparts * sizeof(*parts));
  }
  *dst = *src;
  dst->parts = parts;
  dst->parts_cap = src->nparts;
  return RESUMABLE_OK;
}

int s3_state_add_part(s3_state *st, uint64_t size, const char *etag)
{
  if (strlen(etag) >= S3_ETAG_MAX || st->nparts >= S3_MAX_PARTS)
    return RESUMABLE_E_IO;
  if (st->nparts == st->parts_cap) {
    uint32_t cap = st->parts_cap ? st->parts_cap * 2 : 16;
    s3_part *p = realloc(st->parts, cap * sizeof(*p));
    if (!p)
      return RESUMABLE_E_NOMEM;
    st->parts = p;
    st->parts_cap = cap;
  }
  s3_part *p = &st->parts[st->nparts];
  p->number = st->nparts + 1;
  p->size = size;
  strcpy(p->etag, etag);
  st->nparts++;
  return RESUMABLE_OK;
}

uint64_t s3_state_part_bytes(const s3_state *st)
{
  uint64_t n = 0;
  for (uint32_t i = 0; i < st->nparts; i++)
    n += st->parts[i].size;
  return n;
}

/* ---- writing ---- */

typedef struct tbuf {
  char *b;
  size_t n, cap;
  int nomem;
} tbuf;

static void put(tbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(tbuf *t, const char *fmt, ...)
{
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->b ? t->b + t->n : NULL, t->b ? t->cap - t->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      t->nomem = 1;
      return;
    }
    if (t->b && (size_t)k < t->cap - t->n) {
      t->n += (size_t)k;
      return;
    }
    size_t cap = (t->cap ? t->cap : 512) * 2 + (size_t)k;
    char *b = realloc(t->b, cap);
    if (!b) {
      t->nomem = 1;
      return;
    }
    t->b = b;
    t->cap = cap;
  }
}

static void put_hex(tbuf *t, const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n && !t->nomem; i++)
    put(t, "%02x", p[i]);
}

static void put_end(tbuf *t)
{
  uint8_t d[32];
  char hex[RS_SHA256_HEX_LEN + 1];
  rs_sha256_digest(t->b, t->n, d);
  rs_sha256_hex_format(d, hex);
  put(t, "end %s\n", hex);
}

int s3_state_encode(const s3_state *st, char **out, size_t *len)
{
  tbuf t = {0};
  const resumable_partial_info *in = &st->info;
  put(&t, "resumable-s3-state 2\nseq %llu\nwriter %s\ngone %d\nkey %s\ntotal %llu\nheld %llu\n",
      (unsigned long long)st->seq, st->writer[0] ? st->writer : "-", st->gone ? 1 : 0, st->key,
      (unsigned long long)in->total, (unsigned long long)in->held);
  put(&t, "target ");
  if (in->has_target)
    put_hex(&t, in->target_sha256, 32);
  else
    put(&t, "-");
  put(&t, "\nhash ");
  if (in->hash_state_len > 0)
    put_hex(&t, in->hash_state, in->hash_state_len);
  else
    put(&t, "-");
  put(&t, "\nmetadata ");
  if (in->metadata_len > 0 && in->metadata_len <= RESUMABLE_METADATA_MAX)
    put_hex(&t, (const uint8_t *)in->metadata, in->metadata_len);
  else
    put(&t, "-");
  put(&t, "\npart-size %llu\nupload %s\ntoken %s\ntail %s %llu\nsealed %d\n",
      (unsigned long long)st->part_size, st->upload[0] ? st->upload : "-",
      st->token[0] ? st->token : "-", st->tail[0] ? st->tail : "-",
      (unsigned long long)st->tail_len, st->sealed ? 1 : 0);
  for (uint32_t i = 0; i < st->nparts && !t.nomem; i++)
    put(&t, "part %u %llu %s\n", (unsigned)st->parts[i].number,
        (unsigned long long)st->parts[i].size, st->parts[i].etag);
  if (!t.nomem)
    put_end(&t);
  if (t.nomem) {
    free(t.b);
    return RESUMABLE_E_NOMEM;
  }
  *out = t.b;
  *len = t.n;
  return RESUMABLE_OK;
}

/* ---- reading ---- */

typedef struct lines {
  const char *b;
  size_t n, pos;
} lines;

/* The next line without its '\n' (into a NUL-terminated copy); -1 at the end or if too long. */
static int next_line(lines *l, char *out, size_t cap)
{
  const char *nl = memchr(l->b + l->pos, '\n', l->n - l->pos);
  if (!nl)
    return -1;
  size_t k = (size_t)(nl - (l->b + l->pos));
  if (k >= cap)
    return -1;
  memcpy(out, l->b + l->pos, k);
  out[k] = '\0';
  l->pos += k + 1;
  return 0;
}

/* "name <rest>": the rest, or NULL if the line does not start with name + ' '. */
static const char *field(const char *line, const char *name)
{
  size_t k = strlen(name);
  return strncmp(line, name, k) == 0 && line[k] == ' ' ? line + k + 1 : NULL;
}

static int parse_u64(const char *s, uint64_t *out)
{
  if (*s < '0' || *s > '9')
    return -1;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end != '\0')
    return -1;
  *out = v;
  return 0;
}

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
  size_t len = strlen(s);
  if (len % 2 || len / 2 > cap)
    return -1;
  for (size_t i = 0; i < len / 2; i++) {
    int hi = rs_hex_digit((unsigned char)s[2 * i]), lo = rs_hex_digit((unsigned char)s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *n = len / 2;
  return 0;
}

/* Printable ASCII without space or quote: what upload ids, ETags, names and writers use. */
static int plain(const char *s, size_t cap)
{
  size_t n = strlen(s);
  if (n == 0 || n >= cap)
    return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == '<' ||
        *s == '&')
      return 0;
  return 1;
}

static int copy_plain(const char *v, char *out, size_t cap)
{
  if (strcmp(v, "-") == 0) {
    out[0] = '\0';
    return 0;
  }
  if (!plain(v, cap))
    return -1;
  strcpy(out, v);
  return 0;
}

/* Checks the trailing "end <hex>" line against the rest; returns the length before it. */
static long checked_length(const char *buf, size_t len)
{
  if (len < 69 || buf[len - 1] != '\n')
    return -1;
  size_t start = len - 69; /* "end " + 64 hex + '\n' */
  if (memcmp(buf + start, "end ", 4) != 0 || (start > 0 && buf[start - 1] != '\n'))
    return -1;
  uint8_t want[32], got[32];
  if (rs_sha256_hex_parse(buf + start + 4, 64, want) != 0)
    return -1;
  rs_sha256_digest(buf, start, got);
  return memcmp(want, got, 32) == 0 ? (long)start : -1;
}

/* The record's version (1 or 2) into *version. */
static int decode_head(lines *l, s3_state *st, int *version)
{
  char line[1200];
  const char *v;
  uint64_t gone;
  if (next_line(l, line, sizeof(line)))
    return -1;
  if (strcmp(line, "resumable-s3-state 2") == 0)
    *version = 2;
  else if (strcmp(line, "resumable-s3-state 1") == 0)
    *version = 1;
  else
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "seq")) || parse_u64(v, &st->seq))
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "writer")) ||
      copy_plain(v, st->writer, sizeof(st->writer)))
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "gone")) || parse_u64(v, &gone) ||
      gone > 1)
    return -1;
  st->gone = (int)gone;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "key")) || strlen(v) == 0 ||
      strlen(v) > S3_KEY_MAX)
    return -1;
  strcpy(st->key, v);
  return 0;
}

static int decode_metadata(lines *l, resumable_partial_info *in)
{
  char line[sizeof("metadata ") + 2 * RESUMABLE_METADATA_MAX];
  const char *v;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "metadata")))
    return -1;
  in->metadata_len = 0;
  return strcmp(v, "-") == 0 ||
                 parse_hex(v, (uint8_t *)in->metadata, sizeof(in->metadata), &in->metadata_len) == 0
             ? 0
             : -1;
}

static int decode_info(lines *l, s3_state *st, int version)
{
  char line[1200];
  const char *v;
  size_t n;
  resumable_partial_info *in = &st->info;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "total")) || parse_u64(v, &in->total))
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "held")) || parse_u64(v, &in->held))
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "target")))
    return -1;
  in->has_target = strcmp(v, "-") != 0;
  if (in->has_target && (parse_hex(v, in->target_sha256, 32, &n) || n != 32))
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "hash")))
    return -1;
  in->hash_state_len = 0;
  if (strcmp(v, "-") != 0 &&
      parse_hex(v, in->hash_state, sizeof(in->hash_state), &in->hash_state_len))
    return -1;
  return version >= 2 ? decode_metadata(l, in) : 0;
}

static int decode_upload(lines *l, s3_state *st, int version)
{
  char line[1200];
  const char *v;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "part-size")) ||
      parse_u64(v, &st->part_size))
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "upload")) ||
      copy_plain(v, st->upload, sizeof(st->upload)))
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "token")) ||
      copy_plain(v, st->token, sizeof(st->token)))
    return -1;
  if (next_line(l, line, sizeof(line)) || !(v = field(line, "tail")))
    return -1;
  const char *sp = strchr(v, ' ');
  if (!sp || (size_t)(sp - v) >= sizeof(st->tail))
    return -1;
  char name[sizeof(st->tail)];
  memcpy(name, v, (size_t)(sp - v));
  name[sp - v] = '\0';
  if (copy_plain(name, st->tail, sizeof(st->tail)) || parse_u64(sp + 1, &st->tail_len))
    return -1;
  if ((st->tail[0] == '\0') != (st->tail_len == 0))
    return -1;
  uint64_t sealed = 0;
  if (version >= 2 && (next_line(l, line, sizeof(line)) || !(v = field(line, "sealed")) ||
                       parse_u64(v, &sealed) || sealed > 1))
    return -1;
  st->sealed = (int)sealed;
  return 0;
}

static int decode_parts(lines *l, s3_state *st)
{
  char line[256];
  while (l->pos < l->n) {
    unsigned number;
    unsigned long long size;
    char etag[S3_ETAG_MAX + 1];
    if (next_line(l, line, sizeof(line)) || strncmp(line, "part ", 5) != 0)
      return -1;
    int used = 0;
    if (sscanf(line + 5, "%u %llu %80s%n", &number, &size, etag, &used) != 3 ||
        line[5 + used] != '\0' || number != st->nparts + 1 || !plain(etag, S3_ETAG_MAX))
      return -1;
    int rc = s3_state_add_part(st, size, etag);
    if (rc != RESUMABLE_OK)
      return rc == RESUMABLE_E_NOMEM ? -2 : -1;
  }
  return 0;
}

int s3_state_decode(const char *buf, size_t len, s3_state *st)
{
  s3_state_init(st);
  long body = checked_length(buf, len);
  if (body < 0)
    return RESUMABLE_E_IO;
  lines l = {buf, (size_t)body, 0};
  int version = 0;
  int rc = decode_head(&l, st, &version);
  if (rc == 0)
    rc = decode_info(&l, st, version);
  if (rc == 0)
    rc = decode_upload(&l, st, version);
  if (rc == 0)
    rc = decode_parts(&l, st);
  if (rc == 0 && !st->gone &&
      (s3_state_part_bytes(st) + st->tail_len != st->info.held || st->info.held > st->info.total ||
       (st->nparts > 0 && st->upload[0] == '\0') ||
       (st->sealed && (st->tail_len != 0 || st->nparts == 0 || st->info.held != st->info.total))))
    rc = -1;
  if (rc != 0) {
    s3_state_free(st);
    return rc == -2 ? RESUMABLE_E_NOMEM : RESUMABLE_E_IO;
  }
  return RESUMABLE_OK;
}

/* ---- sums ---- */

int s3_sums_encode(const char *key, const resumable_complete_info *ci, char *out, size_t cap,
                   size_t *len)
{
  tbuf t = {0};
  char hex[RS_SHA256_HEX_LEN + 1];
  rs_sha256_hex_format(ci->sha256, hex);
  put(&t, "resumable-s3-sums 1\nkey %s\nsize %llu\nsha256 %s\n", key, (unsigned long long)ci->size,
      hex);
  if (!t.nomem)
    put_end(&t);
  int rc = RESUMABLE_OK;
  if (t.nomem)
    rc = RESUMABLE_E_NOMEM;
  else if (t.n >= cap)
    rc = RESUMABLE_E_INVALID_ARG;
  else {
    memcpy(out, t.b, t.n + 1);
    *len = t.n;
  }
  free(t.b);
  return rc;
}

int s3_sums_decode(const char *buf, size_t len, const char *key, resumable_complete_info *ci)
{
  long body = checked_length(buf, len);
  if (body < 0)
    return RESUMABLE_E_IO;
  lines l = {buf, (size_t)body, 0};
  char line[1200];
  const char *v;
  if (next_line(&l, line, sizeof(line)) || strcmp(line, "resumable-s3-sums 1") != 0)
    return RESUMABLE_E_IO;
  if (next_line(&l, line, sizeof(line)) || !(v = field(line, "key")) || strcmp(v, key) != 0)
    return RESUMABLE_E_IO;
  if (next_line(&l, line, sizeof(line)) || !(v = field(line, "size")) || parse_u64(v, &ci->size))
    return RESUMABLE_E_IO;
  if (next_line(&l, line, sizeof(line)) || !(v = field(line, "sha256")) ||
      rs_sha256_hex_parse(v, strlen(v), ci->sha256) != 0 || l.pos != l.n)
    return RESUMABLE_E_IO;
  return RESUMABLE_OK;
}
