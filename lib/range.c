/* Content-Range (PUT) and Range (GET) parsing; see PROTOCOL.md "PUT ... Content-Range" step 1.
 *
 * Choices beyond the header's contract:
 * - The unit "bytes" is matched case-insensitively in both headers: RFC 9110 section 14.1 makes
 *   range unit names case-insensitive and accepting "Bytes" costs no strictness elsewhere.
 * - Leading zeros are allowed ("007" is 7; RFC 9110 numbers are 1*DIGIT), but a number has at
 *   most 19 digits, zeros included, which bounds the work and keeps the sum below 2^64.
 * - Everything else is exact: one space after the unit, digits only, no whitespace anywhere. */
#include "range.h"

#define U63_MAX_DIGITS 19 /* 2^63-1 = 9223372036854775807 has 19 digits */

static int is_digit(char c)
{
  return c >= '0' && c <= '9'; /* not isdigit(): that one follows the locale */
}

static char ascii_lower(char c)
{
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* True if s[0..len) starts with the lower-case ASCII word w, in any case. */
static int starts_with_nocase(const char *s, size_t len, const char *w, size_t wlen)
{
  if (len < wlen)
    return 0;
  for (size_t i = 0; i < wlen; i++)
    if (ascii_lower(s[i]) != w[i])
      return 0;
  return 1;
}

int rs_parse_u63(const char *s, size_t len, uint64_t *out)
{
  uint64_t v = 0;

  if (s == NULL || len == 0 || len > U63_MAX_DIGITS)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (!is_digit(s[i]))
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits < 10^19 < 2^64: cannot wrap */
  }
  if (v > (uint64_t)RS_RANGE_MAX_VALUE)
    return -1;
  *out = v;
  return 0;
}

/* Index of the first c in s[0..len), or len if absent. */
static size_t find_char(const char *s, size_t len, char c)
{
  size_t i = 0;
  while (i < len && s[i] != c)
    i++;
  return i;
}

int rs_content_range_parse(const char *s, size_t len, rs_content_range *out)
{
  static const char unit[] = "bytes ";
  const size_t ulen = sizeof unit - 1;
  rs_content_range r = {0};

  if (s == NULL || out == NULL || !starts_with_nocase(s, len, unit, ulen))
    return -1;
  s += ulen;
  len -= ulen;
  size_t slash = find_char(s, len, '/');
  if (slash == len || rs_parse_u63(s + slash + 1, len - slash - 1, &r.total) != 0)
    return -1;
  if (slash == 1 && s[0] == '*') {
    r.is_query = 1; /* "bytes *\/0" is a valid status query for an empty total */
    *out = r;
    return 0;
  }
  size_t dash = find_char(s, slash, '-');
  if (dash == slash || rs_parse_u63(s, dash, &r.start) != 0 ||
      rs_parse_u63(s + dash + 1, slash - dash - 1, &r.end) != 0)
    return -1;
  if (r.start > r.end || r.end >= r.total) /* also rejects total 0 */
    return -1;
  *out = r;
  return 0;
}

/* Append the decimal form of v at buf[*pos], if it fits below cap. Returns 0 or -1. */
static int put_u64(char *buf, size_t cap, size_t *pos, uint64_t v)
{
  char tmp[20]; /* 2^64-1 has 20 digits */
  size_t n = 0;

  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (cap - *pos < n)
    return -1;
  while (n > 0)
    buf[(*pos)++] = tmp[--n];
  return 0;
}

static int put_char(char *buf, size_t cap, size_t *pos, char c)
{
  if (cap - *pos < 1)
    return -1;
  buf[(*pos)++] = c;
  return 0;
}

int rs_content_range_format(const rs_content_range *r, char *buf, size_t cap)
{
  static const char unit[] = "bytes ";
  size_t pos = 0;

  if (r == NULL || buf == NULL || cap == 0)
    return -1;
  cap--; /* keep room for the NUL */
  for (size_t i = 0; unit[i] != '\0'; i++)
    if (put_char(buf, cap, &pos, unit[i]) != 0)
      return -1;
  if (r->is_query) {
    if (put_char(buf, cap, &pos, '*') != 0)
      return -1;
  } else if (put_u64(buf, cap, &pos, r->start) != 0 || put_char(buf, cap, &pos, '-') != 0 ||
             put_u64(buf, cap, &pos, r->end) != 0) {
    return -1;
  }
  if (put_char(buf, cap, &pos, '/') != 0 || put_u64(buf, cap, &pos, r->total) != 0)
    return -1;
  buf[pos] = '\0';
  return (int)pos; /* at most 6 + 20 + 1 + 20 + 1 + 20 bytes */
}

/* GET positions may be any length (RFC 9110 has no limit): saturate instead of failing, since a
 * value past 2^63-1 is past every file's end anyway. Returns 0, or -1 if empty or not digits. */
static int parse_digits_saturating(const char *s, size_t len, uint64_t *out)
{
  uint64_t v = 0;

  if (len == 0)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (!is_digit(s[i]))
      return -1;
    uint64_t d = (uint64_t)(s[i] - '0');
    v = (v > (UINT64_MAX - d) / 10) ? UINT64_MAX : v * 10 + d;
  }
  *out = v;
  return 0;
}

int rs_get_range_parse(const char *s, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
  static const char unit[] = "bytes=";
  const size_t ulen = sizeof unit - 1;
  uint64_t a = 0, b = 0;

  if (s == NULL || first == NULL || last == NULL || !starts_with_nocase(s, len, unit, ulen))
    return 0; /* another unit, or not a range at all: serve the whole file */
  s += ulen;
  len -= ulen;
  if (find_char(s, len, ',') != len)
    return 0; /* several ranges: we only serve one, and may ignore the header (RFC 9110 14.2) */
  size_t dash = find_char(s, len, '-');
  if (dash == len)
    return 0;
  int has_a = dash > 0, has_b = dash + 1 < len;
  if ((has_a && parse_digits_saturating(s, dash, &a) != 0) ||
      (has_b && parse_digits_saturating(s + dash + 1, len - dash - 1, &b) != 0) ||
      (!has_a && !has_b) || (has_a && has_b && b < a))
    return 0;
  if (!has_a) { /* suffix "-n": the last n bytes */
    if (b == 0 || size == 0)
      return -1;
    *first = size - (b < size ? b : size);
    *last = size - 1;
    return 1;
  }
  if (a >= size)
    return -1;
  *first = a;
  *last = (has_b && b < size - 1) ? b : size - 1;
  return 1;
}
