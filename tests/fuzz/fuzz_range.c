/* Fuzz the Content-Range, Range and number parsers of lib/range.h on arbitrary bytes.
 *
 * Each parser sees the whole input as an exact-length value (libFuzzer hands over a heap copy of
 * exactly `size` bytes, so ASan catches any read past it). Acceptance is compared against a
 * small reference grammar written here from PROTOCOL.md step 1, and every accepted value must
 * survive format -> parse unchanged. */
#include <string.h>

#include "fuzz_check.h"
#include "range.h"

#define U63_MAX_TEXT "9223372036854775807"

static int ref_digit(uint8_t c)
{
  return c >= '0' && c <= '9';
}

/* Reference for rs_parse_u63: 1..19 digits, value <= 2^63-1 (compared as text, no arithmetic). */
static int ref_u63(const uint8_t *s, size_t len, uint64_t *v)
{
  size_t lead = 0;

  if (len == 0 || len > 19)
    return -1;
  for (size_t i = 0; i < len; i++)
    if (!ref_digit(s[i]))
      return -1;
  if (len == 19 && memcmp(s, U63_MAX_TEXT, 19) > 0)
    return -1;
  while (lead + 1 < len && s[lead] == '0')
    lead++;
  *v = 0;
  for (size_t i = lead; i < len; i++)
    *v = *v * 10 + (uint64_t)(s[i] - '0');
  return 0;
}

static int ref_lower(uint8_t c)
{
  return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Reference for rs_content_range_parse. */
static int ref_content_range(const uint8_t *s, size_t len, rs_content_range *r)
{
  static const char unit[] = "bytes ";
  size_t slash = 0, dash = 0;

  memset(r, 0, sizeof *r);
  if (len < 6)
    return -1;
  for (size_t i = 0; i < 6; i++)
    if (ref_lower(s[i]) != unit[i])
      return -1;
  s += 6;
  len -= 6;
  while (slash < len && s[slash] != '/')
    slash++;
  if (slash == len || ref_u63(s + slash + 1, len - slash - 1, &r->total) != 0)
    return -1;
  if (slash == 1 && s[0] == '*') {
    r->is_query = 1;
    return 0;
  }
  while (dash < slash && s[dash] != '-')
    dash++;
  if (dash == slash || ref_u63(s, dash, &r->start) != 0 ||
      ref_u63(s + dash + 1, slash - dash - 1, &r->end) != 0)
    return -1;
  return (r->start <= r->end && r->end < r->total) ? 0 : -1;
}

static int same_range(const rs_content_range *a, const rs_content_range *b)
{
  return a->is_query == b->is_query && a->total == b->total &&
         (a->is_query || (a->start == b->start && a->end == b->end));
}

/* format(r) must fit exactly when cap > length, fail below, and never write past cap. */
static void check_format(const rs_content_range *r)
{
  char big[128];
  int n = rs_content_range_format(r, big, sizeof big);
  FUZZ_CHECK(n > 0 && (size_t)n < sizeof big && big[n] == '\0');
  FUZZ_CHECK(strlen(big) == (size_t)n);

  rs_content_range again;
  FUZZ_CHECK(rs_content_range_parse(big, (size_t)n, &again) == 0);
  FUZZ_CHECK(same_range(r, &again));

  for (size_t cap = 0; cap <= (size_t)n + 1; cap++) {
    char *buf = malloc(cap ? cap : 1); /* exact size: ASan flags any write past cap */
    FUZZ_CHECK(buf != NULL);
    int m = rs_content_range_format(r, buf, cap);
    if (cap > (size_t)n)
      FUZZ_CHECK(m == n && memcmp(buf, big, (size_t)n + 1) == 0);
    else
      FUZZ_CHECK(m == -1);
    free(buf);
  }
}

static void fuzz_content_range(const uint8_t *data, size_t size)
{
  rs_content_range got, want, sentinel;

  memset(&sentinel, 0x5a, sizeof sentinel);
  got = sentinel;
  int rc = rs_content_range_parse((const char *)data, size, &got);
  int ref = ref_content_range(data, size, &want);
  FUZZ_CHECK(rc == 0 || rc == -1);
  FUZZ_CHECK(rc == ref);
  if (rc != 0) {
    FUZZ_CHECK(memcmp(&got, &sentinel, sizeof got) == 0); /* out untouched on error */
    return;
  }
  FUZZ_CHECK(same_range(&got, &want));
  FUZZ_CHECK(got.total <= (uint64_t)INT64_MAX);
  if (!got.is_query)
    FUZZ_CHECK(got.start <= got.end && got.end < got.total);
  check_format(&got);
}

static void fuzz_get_range(const uint8_t *data, size_t size)
{
  static const uint64_t sizes[] = {0, 1, 2, 10, 1000, (uint64_t)INT64_MAX, UINT64_MAX};

  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint64_t first = 7, last = 9;
    int rc = rs_get_range_parse((const char *)data, size, sizes[i], &first, &last);
    FUZZ_CHECK(rc == -1 || rc == 0 || rc == 1);
    if (rc == 1)
      FUZZ_CHECK(first <= last && last < sizes[i]);
    else
      FUZZ_CHECK(first == 7 && last == 9); /* untouched unless satisfiable */
    if (sizes[i] == 0)
      FUZZ_CHECK(rc != 1); /* nothing to serve from an empty file */
  }
}

static void fuzz_u63(const uint8_t *data, size_t size)
{
  uint64_t got = 42, want = 0;
  int rc = rs_parse_u63((const char *)data, size, &got);
  FUZZ_CHECK(rc == ref_u63(data, size, &want));
  if (rc != 0) {
    FUZZ_CHECK(got == 42);
    return;
  }
  FUZZ_CHECK(got == want && got <= (uint64_t)INT64_MAX);
  char text[24];
  int n = snprintf(text, sizeof text, "%llu", (unsigned long long)got);
  uint64_t again = 0;
  FUZZ_CHECK(n > 0 && rs_parse_u63(text, (size_t)n, &again) == 0 && again == got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_content_range(data, size);
  fuzz_get_range(data, size);
  fuzz_u63(data, size);
  /* Also behind a unit, so that the number grammar is reached without a prefix to guess. */
  if (size <= 64) {
    uint8_t buf[6 + 64 + 2];
    memcpy(buf, "bytes ", 6);
    if (size > 0)
      memcpy(buf + 6, data, size);
    fuzz_content_range(buf, 6 + size);
    buf[5] = '=';
    fuzz_get_range(buf, 6 + size);
  }
  return 0;
}
