#include "size_arg.h"

#include <stddef.h>

/* Digits of s[0..len): 0 and the value, or -1. */
static int parse_digits(const char *s, size_t len, uint64_t *out) {
  uint64_t v = 0;
  if (len == 0)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static size_t length(const char *s) {
  size_t n = 0;
  while (s[n] != '\0')
    n++;
  return n;
}

int size_arg_parse_plain(const char *s, uint64_t *out) {
  return s == NULL ? -1 : parse_digits(s, length(s), out);
}

static unsigned suffix_shift(char c) {
  switch (c) {
  case 'k': case 'K': return 10;
  case 'm': case 'M': return 20;
  case 'g': case 'G': return 30;
  case 't': case 'T': return 40;
  default: return 0;
  }
}

int size_arg_parse(const char *s, uint64_t *out) {
  if (s == NULL)
    return -1;
  size_t n = length(s);
  unsigned shift = n > 0 ? suffix_shift(s[n - 1]) : 0;
  uint64_t v;
  if (parse_digits(s, shift != 0 ? n - 1 : n, &v) != 0)
    return -1;
  if (shift != 0 && v > (UINT64_MAX >> shift))
    return -1;
  *out = v << shift;
  return 0;
}
