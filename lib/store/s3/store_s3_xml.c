/* The few XML answers of S3 (errors, CreateMultipartUpload, ListObjectsV2,
 * ListMultipartUploads) read by tag: their shape is fixed and flat enough that finding
 * <Tag>text</Tag> in order is all a client needs. Pure functions. */
#include <stdlib.h>
#include <string.h>

#include "store_s3.h"

static const char *find(const char *hay, size_t len, size_t from, const char *needle)
{
  size_t n = strlen(needle);
  for (size_t i = from; i + n <= len; i++)
    if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
      return hay + i;
  return NULL;
}

int s3_xml_element(const char *xml, size_t len, size_t *pos, const char *tag, size_t *start,
                   size_t *end)
{
  char open[72], close[72];
  size_t t = strlen(tag);
  if (t + 4 > sizeof(open))
    return -1;
  open[0] = '<';
  memcpy(open + 1, tag, t);
  open[t + 1] = '>';
  open[t + 2] = '\0';
  close[0] = '<';
  close[1] = '/';
  memcpy(close + 2, tag, t);
  close[t + 2] = '>';
  close[t + 3] = '\0';
  const char *a = find(xml, len, *pos, open);
  if (!a)
    return -1;
  size_t s = (size_t)(a - xml) + t + 2;
  const char *b = find(xml, len, s, close);
  if (!b)
    return -1;
  *start = s;
  *end = (size_t)(b - xml);
  *pos = *end + t + 3;
  return 0;
}

/* Decode the five predefined entities and numeric ones below 0x80; others are kept as-is. */
static long unescape(const char *in, size_t n, char *out, size_t cap)
{
  static const struct {
    const char *name;
    char c;
  } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    char c = in[i];
    size_t used = 1;
    if (c == '&') {
      for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]); e++) {
        size_t el = strlen(ents[e].name);
        if (i + el <= n && memcmp(in + i, ents[e].name, el) == 0) {
          c = ents[e].c;
          used = el;
          break;
        }
      }
      if (used == 1 && i + 3 < n && in[i + 1] == '#') {
        const char *semi = memchr(in + i, ';', n - i);
        if (semi) {
          char num[16];
          size_t dl = (size_t)(semi - (in + i + 2));
          if (dl > 0 && dl < sizeof(num)) {
            memcpy(num, in + i + 2, dl);
            num[dl] = '\0';
            char *end = NULL;
            long v = num[0] == 'x' ? strtol(num + 1, &end, 16) : strtol(num, &end, 10);
            if (end && *end == '\0' && v > 0 && v < 0x80) {
              c = (char)v;
              used = dl + 3;
            }
          }
        }
      }
    }
    if (k + 1 >= cap)
      return -1;
    out[k++] = c;
    i += used;
  }
  out[k] = '\0';
  return (long)k;
}

long s3_xml_text(const char *xml, size_t len, size_t *pos, const char *tag, char *out, size_t cap)
{
  size_t s, e, p = *pos;
  if (cap == 0 || s3_xml_element(xml, len, &p, tag, &s, &e) != 0)
    return -1;
  long n = unescape(xml + s, e - s, out, cap);
  if (n >= 0)
    *pos = p;
  return n;
}

size_t s3_xml_escape(const char *in, char *out, size_t cap)
{
  size_t k = 0;
  for (; *in; in++) {
    const char *rep = NULL;
    switch (*in) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    case '\'':
      rep = "&apos;";
      break;
    default:
      break;
    }
    size_t n = rep ? strlen(rep) : 1;
    if (k + n >= cap)
      return 0;
    if (rep)
      memcpy(out + k, rep, n);
    else
      out[k] = *in;
    k += n;
  }
  if (k >= cap)
    return 0;
  out[k] = '\0';
  return k;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), without the C library's time zones. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int64_t *out)
{
  int64_t v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int64_t s3_iso8601(const char *s)
{
  int64_t y, mo, d, h, mi, se;
  if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
    return -1;
  if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
      digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
    return -1;
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
}
