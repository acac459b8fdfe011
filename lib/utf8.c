/* UTF-8 validity, by the table of RFC 3629 section 4: the second byte's range depends on the
 * first (that is what excludes overlong forms, surrogates and code points past U+10FFFF), every
 * later byte is 0x80..0xbf. */
#include "utf8.h"

size_t rs_utf8_len(const unsigned char *p, size_t avail)
{
  if (avail == 0)
    return 0;
  unsigned c = p[0];
  if (c < 0x80)
    return 1;
  if (c < 0xc2 || c > 0xf4)
    return 0;
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
  if (c == 0xe0)
    lo = 0xa0;
  else if (c == 0xed)
    hi = 0x9f;
  else if (c == 0xf0)
    lo = 0x90;
  else if (c == 0xf4)
    hi = 0x8f;
  if (avail < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

int rs_utf8_valid(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    size_t n = rs_utf8_len(p + i, len - i);
    if (n == 0)
      return 0;
    i += n;
  }
  return 1;
}
