/* tus header parsers and formatters (tus_header.h). Every parser takes an explicit length and
 * never reads past it: header values reach us NUL-terminated, but metadata values decoded from
 * base64 do not. */
#include "tus_header.h"

#include <string.h>

#include "hex.h"

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int rs_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
  size_t pad = 0;
  while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
    pad++;
  if (pad > 0 && len % 4 != 0)
    return -1; /* padding promises whole quads */
  size_t body = len - pad;
  if (body % 4 == 1)
    return -1; /* one character cannot carry a byte */
  size_t n = body / 4 * 3 + (body % 4 == 0 ? 0 : body % 4 - 1);
  if (n > cap)
    return -1;
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < body; i++) {
    int v = b64_value((unsigned char)s[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0)
    return -1; /* non-canonical: leftover bits must be zero */
  *out_len = o;
  return 0;
}

int rs_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t need = (len + 2) / 3 * 4;
  if (cap < need + 1)
    return -1;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < len)
      v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < len)
      v |= in[i + 2];
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
  }
  out[o] = '\0';
  return (int)o;
}

/* ---- Upload-Metadata ---- */

static int is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* One pair at s[0..len) without surrounding blanks: its key and base64 value. */
typedef struct md_pair {
  const char *key, *value;
  size_t key_len, value_len;
} md_pair;

static int split_pair(const char *s, size_t len, md_pair *p)
{
  size_t k = 0;
  while (k < len && s[k] != ' ')
    k++;
  if (k == 0)
    return -1;
  for (size_t i = 0; i < k; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ',')
      return -1;
  p->key = s;
  p->key_len = k;
  p->value = k < len ? s + k + 1 : s + k;
  p->value_len = k < len ? len - k - 1 : 0;
  return 0;
}

/* Iterate pairs: the next one at *pos (advanced past its comma). 1 found, 0 end, -1 bad. */
static int next_pair(const char *s, size_t len, size_t *pos, md_pair *p)
{
  size_t i = *pos;
  if (i > len)
    return 0;
  size_t end = i;
  while (end < len && s[end] != ',')
    end++;
  size_t a = i, b = end;
  while (a < b && is_blank(s[a]))
    a++;
  while (b > a && is_blank(s[b - 1]))
    b--;
  *pos = end + 1;
  if (a == b) /* an empty element: only "" as the whole header */
    return (i == 0 && end == len) ? 0 : -1;
  return split_pair(s + a, b - a, p) == 0 ? 1 : -1;
}

static int value_ok(const md_pair *p)
{
  /* Decode quad by quad into a tiny buffer: validating needs no buffer of the value's size.
   * Padding may only end the value. */
  uint8_t scratch[3];
  size_t n, v = p->value_len;
  for (size_t i = 0; i < v; i += 4) {
    size_t take = v - i < 4 ? v - i : 4;
    if (i + take < v && memchr(p->value + i, '=', take))
      return 0;
    if (rs_base64_decode(p->value + i, take, scratch, sizeof(scratch), &n) != 0)
      return 0;
  }
  return 1;
}

int rs_tus_metadata_check(const char *s, size_t len)
{
  size_t pos = 0;
  md_pair p;
  int r;
  while ((r = next_pair(s, len, &pos, &p)) == 1) {
    if (!value_ok(&p))
      return -1;
    size_t pos2 = 0;
    md_pair q;
    /* keys must be unique: compare with every earlier pair (headers are small and bounded) */
    while (pos2 < pos && next_pair(s, len, &pos2, &q) == 1 && q.key != p.key)
      if (q.key_len == p.key_len && memcmp(q.key, p.key, p.key_len) == 0)
        return -1;
  }
  return r;
}

int rs_tus_metadata_get(const char *s, size_t len, const char *name, uint8_t *out, size_t cap,
                        size_t *out_len)
{
  size_t pos = 0, nlen = strlen(name);
  md_pair p;
  while (next_pair(s, len, &pos, &p) == 1) {
    if (p.key_len != nlen || memcmp(p.key, name, nlen) != 0)
      continue;
    return rs_base64_decode(p.value, p.value_len, out, cap, out_len) == 0 ? 1 : -1;
  }
  return 0;
}

/* ---- Upload-Checksum ---- */

size_t rs_tus_algo_len(rs_tus_algo a)
{
  switch (a) {
  case RS_TUS_ALGO_SHA1:
    return 20;
  case RS_TUS_ALGO_SHA256:
    return 32;
  case RS_TUS_ALGO_MD5:
    return 16;
  default:
    return 0;
  }
}

int rs_tus_checksum_parse(const char *s, size_t len, rs_tus_algo *algo, uint8_t digest[32])
{
  const char *sp = memchr(s, ' ', len);
  if (!sp || sp == s)
    return -1;
  size_t alen = (size_t)(sp - s);
  const char *b = sp + 1;
  size_t blen = len - alen - 1;
  if (blen == 0 || memchr(b, ' ', blen))
    return -1;
  rs_tus_algo a = RS_TUS_ALGO_NONE;
  if (alen == 4 && memcmp(s, "sha1", 4) == 0)
    a = RS_TUS_ALGO_SHA1;
  else if (alen == 6 && memcmp(s, "sha256", 6) == 0)
    a = RS_TUS_ALGO_SHA256;
  else if (alen == 3 && memcmp(s, "md5", 3) == 0)
    a = RS_TUS_ALGO_MD5;
  uint8_t d[33];
  size_t n = 0;
  if (rs_base64_decode(b, blen, d, sizeof(d), &n) != 0)
    return -1;
  if (a == RS_TUS_ALGO_NONE)
    return -2;
  if (n != rs_tus_algo_len(a))
    return -1;
  memcpy(digest, d, n);
  *algo = a;
  return 0;
}

/* ---- Upload-Concat ---- */

rs_tus_concat rs_tus_concat_parse(const char *s, size_t len, const char **urls, size_t *urls_len)
{
  if (len == 7 && memcmp(s, "partial", 7) == 0)
    return RS_TUS_CONCAT_PARTIAL;
  if (len < 6 || memcmp(s, "final;", 6) != 0)
    return RS_TUS_CONCAT_MALFORMED;
  *urls = s + 6;
  *urls_len = len - 6;
  size_t pos = 0;
  const char *u;
  size_t ul;
  if (!rs_tus_concat_next(*urls, *urls_len, &pos, &u, &ul))
    return RS_TUS_CONCAT_MALFORMED;
  return RS_TUS_CONCAT_FINAL;
}

int rs_tus_concat_next(const char *urls, size_t len, size_t *pos, const char **url, size_t *url_len)
{
  size_t i = *pos;
  while (i < len && urls[i] == ' ')
    i++;
  if (i >= len) {
    *pos = len;
    return 0;
  }
  size_t j = i;
  while (j < len && urls[j] != ' ')
    j++;
  *url = urls + i;
  *url_len = j - i;
  *pos = j;
  return 1;
}

int rs_tus_part_path(const char *raw, size_t len, char key[RS_TUS_PART_KEY_LEN + 1])
{
  const size_t dlen = sizeof(RS_TUS_PART_DIR) - 1;
  if (len != RS_TUS_PART_KEY_LEN || memcmp(raw, RS_TUS_PART_DIR, dlen) != 0)
    return -1;
  for (size_t i = dlen; i < len; i++) {
    unsigned char c = (unsigned char)raw[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return -1;
  }
  memcpy(key, raw, len);
  key[len] = '\0';
  return 0;
}

int rs_tus_part_url(const char *url, size_t len, const char *prefix, size_t prefix_len,
                    char key[RS_TUS_PART_KEY_LEN + 1])
{
  const char *p = url;
  size_t n = len;
  const char *scheme_end = NULL;
  for (size_t i = 0; i + 2 < n; i++) { /* "scheme://" before any '/' */
    if (p[i] == '/')
      break;
    if (p[i] == ':' && p[i + 1] == '/' && p[i + 2] == '/') {
      scheme_end = p + i + 3;
      break;
    }
  }
  if (scheme_end) {
    const char *slash = memchr(scheme_end, '/', (size_t)(p + n - scheme_end));
    if (!slash)
      return -1;
    n -= (size_t)(slash - p);
    p = slash;
  }
  size_t path_len = 0;
  while (path_len < n && p[path_len] != '?' && p[path_len] != '#')
    path_len++;
  if (path_len < prefix_len || memcmp(p, prefix, prefix_len) != 0)
    return -1;
  return rs_tus_part_path(p + prefix_len, path_len - prefix_len, key);
}

/* ---- keys ---- */

int rs_tus_key_encode(const char *key, char *out, size_t cap)
{
  static const char digits[] = "0123456789ABCDEF";
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    unsigned c = *p;
    int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (o + (plain ? 1 : 3) >= cap)
      return -1;
    if (plain) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = digits[c >> 4];
      out[o++] = digits[c & 15];
    }
  }
  if (o >= cap)
    return -1;
  out[o] = '\0';
  return (int)o;
}

rs_key_status rs_tus_key_from_bytes(const uint8_t *b, size_t len, char *out, size_t cap)
{
  /* Percent-encode every byte, then decode once with the one key validator: the same rules
   * and the same order as a key in a URL, without a second implementation. */
  char raw[3 * RS_KEY_MAX + 4];
  static const char digits[] = "0123456789ABCDEF";
  if (cap > 0)
    out[0] = '\0';
  if (len == 0)
    return RS_KEY_EMPTY;
  if (len > RS_KEY_MAX)
    return RS_KEY_TOO_LONG;
  for (size_t i = 0; i < len; i++) {
    raw[3 * i] = '%';
    raw[3 * i + 1] = digits[b[i] >> 4];
    raw[3 * i + 2] = digits[b[i] & 15];
  }
  return rs_key_decode(raw, 3 * len, out, cap);
}

/* ---- Content-Type ---- */

static char lower(char c)
{
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int rs_tus_content_type_ok(const char *s, size_t len)
{
  const char want[] = RS_TUS_CONTENT_TYPE;
  size_t n = 0;
  while (n < len && s[n] != ';')
    n++;
  while (n > 0 && is_blank(s[n - 1]))
    n--;
  size_t a = 0;
  while (a < n && is_blank(s[a]))
    a++;
  if (n - a != sizeof(want) - 1)
    return 0;
  for (size_t i = 0; i < n - a; i++)
    if (lower(s[a + i]) != want[i])
      return 0;
  return 1;
}

/* ---- dates ---- */

/* Days since 1970-01-01 -> civil date (proleptic Gregorian; H. Hinnant's algorithm). */
static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  unsigned doe = (unsigned)(days - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

int rs_http_date(int64_t t, char out[RS_HTTP_DATE_LEN + 1])
{
  static const char wd[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (t < 0 || t > 253402300799) /* 9999-12-31T23:59:59Z */
    return -1;
  int64_t days = t / 86400, secs = t % 86400;
  int y;
  unsigned m, d;
  civil(days, &y, &m, &d);
  const char *w = wd[days % 7];
  const char *mo = mon[m - 1];
  unsigned hh = (unsigned)(secs / 3600), mm = (unsigned)(secs / 60 % 60),
           ss = (unsigned)(secs % 60);
  char *o = out;
  memcpy(o, w, 3);
  o += 3;
  *o++ = ',';
  *o++ = ' ';
  *o++ = (char)('0' + d / 10);
  *o++ = (char)('0' + d % 10);
  *o++ = ' ';
  memcpy(o, mo, 3);
  o += 3;
  *o++ = ' ';
  *o++ = (char)('0' + y / 1000);
  *o++ = (char)('0' + y / 100 % 10);
  *o++ = (char)('0' + y / 10 % 10);
  *o++ = (char)('0' + y % 10);
  *o++ = ' ';
  *o++ = (char)('0' + hh / 10);
  *o++ = (char)('0' + hh % 10);
  *o++ = ':';
  *o++ = (char)('0' + mm / 10);
  *o++ = (char)('0' + mm % 10);
  *o++ = ':';
  *o++ = (char)('0' + ss / 10);
  *o++ = (char)('0' + ss % 10);
  memcpy(o, " GMT", 5);
  return 0;
}
