/* See cli.h. */
#include "cli.h"

#include <string.h>

#define U63_MAX UINT64_C(9223372036854775807)

int cli_value(int argc, char **argv, int *i, const char *name, const char **value)
{
  size_t n = strlen(name);
  const char *arg = argv[*i];
  if (strncmp(arg, name, n) != 0 || (arg[n] != '=' && arg[n] != '\0'))
    return 0;
  if (arg[n] == '=') {
    *value = arg + n + 1;
    return 1;
  }
  if (*i + 1 >= argc)
    return -1;
  *i += 1;
  *value = argv[*i];
  return 1;
}

/* Digits at s: their count (0 if none) and value, or -1 past `max`. */
static int digits(const char *s, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;
  int n = 0;
  for (; s[n] >= '0' && s[n] <= '9'; n++) {
    unsigned d = (unsigned)(s[n] - '0');
    if (v > (max - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return n;
}

int cli_parse_count(const char *s, uint64_t *out)
{
  uint64_t v;
  int n = s ? digits(s, UINT64_MAX, &v) : -1;
  if (n <= 0 || s[n] != '\0')
    return -1;
  *out = v;
  return 0;
}

static int lower(int c)
{
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int cli_parse_size(const char *s, uint64_t *out)
{
  uint64_t v;
  int n = s ? digits(s, U63_MAX, &v) : -1;
  if (n <= 0)
    return -1;
  const char *p = s + n;
  unsigned shift = 0;
  if (*p != '\0') {
    const char *units = "kmgt", *u = strchr(units, lower(*p));
    if (u == NULL || *u == '\0')
      return -1;
    shift = 10 * (unsigned)(u - units + 1);
    p++;
    if (lower(p[0]) == 'i' && lower(p[1]) == 'b')
      p += 2;
    else if (lower(p[0]) == 'b')
      p++;
    if (*p != '\0')
      return -1;
  }
  if (shift != 0 && v > (U63_MAX >> shift))
    return -1;
  *out = v << shift;
  return 0;
}

int cli_parse_seconds(const char *s, uint64_t *ms)
{
  uint64_t whole;
  int n = s ? digits(s, UINT64_C(1) << 40, &whole) : -1;
  if (n <= 0)
    return -1;
  const char *p = s + n;
  uint64_t frac = 0;
  if (*p == '.') {
    unsigned k = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, k++)
      if (k < 3)
        frac = frac * 10 + (uint64_t)(*p - '0');
    if (k == 0 || k > 3)
      return -1;
    for (; k < 3; k++)
      frac *= 10;
  }
  if (*p != '\0')
    return -1;
  *ms = whole * 1000 + frac;
  return 0;
}
