#include "stager_headers.h"

#include <string.h>

#include "backoff.h"
#include "hex.h"
#include "range.h"

void rs_resp_reset(rs_resp *r)
{
  memset(r, 0, sizeof *r);
}

static int is_ows(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int name_is(const char *n, size_t len, const char *want)
{
  size_t i = 0;
  for (; i < len && want[i]; i++) {
    char a = n[i], b = want[i];
    if (a >= 'A' && a <= 'Z')
      a = (char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z')
      b = (char)(b - 'A' + 'a');
    if (a != b)
      return 0;
  }
  return i == len && want[i] == '\0';
}

/* "HTTP/1.1 308 Permanent Redirect" or "HTTP/2 200": the three digits after the first space. */
static void status_line(rs_resp *r, const char *s, size_t len)
{
  rs_resp_reset(r);
  const char *sp = memchr(s, ' ', len);
  if (!sp || (size_t)(s + len - sp) < 4)
    return;
  int st = 0;
  for (int i = 1; i <= 3; i++) {
    if (sp[i] < '0' || sp[i] > '9')
      return;
    st = st * 10 + (sp[i] - '0');
  }
  r->status = st;
}

/* "bytes=0-<n>": the only form a resumable server sends back. */
static int parse_range_held(const char *v, size_t len, uint64_t *held)
{
  uint64_t last;
  if (len < 9 || memcmp(v, "bytes=0-", 8) != 0 || rs_parse_u63(v + 8, len - 8, &last) != 0)
    return -1;
  *held = last + 1;
  return 0;
}

static int lists_bytes(const char *v, size_t len)
{
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && v[j] != ',')
      j++;
    size_t a = i, b = j;
    while (a < b && is_ows(v[a]))
      a++;
    while (b > a && is_ows(v[b - 1]))
      b--;
    if (name_is(v + a, b - a, "bytes"))
      return 1;
    i = j + 1;
  }
  return 0;
}

static void header(rs_resp *r, const char *n, size_t nlen, const char *v, size_t vlen, time_t now)
{
  uint64_t u;
  uint8_t d[32];
  if (name_is(n, nlen, "X-File-Size")) {
    if (rs_parse_u63(v, vlen, &u) == 0)
      r->has_file_size = 1, r->file_size = u;
  } else if (name_is(n, nlen, "Range")) {
    if (parse_range_held(v, vlen, &u) == 0)
      r->has_range = 1, r->range_held = u;
  } else if (name_is(n, nlen, "Retry-After")) {
    if (rs_retry_after_parse(v, vlen, now, &u) == 0)
      r->has_retry_after = 1, r->retry_after_ms = u;
  } else if (name_is(n, nlen, "X-Upload-Total")) {
    if (rs_parse_u63(v, vlen, &u) == 0)
      r->has_upload_total = 1, r->upload_total = u;
  } else if (name_is(n, nlen, "X-Target-SHA256")) {
    if (rs_sha256_hex_parse(v, vlen, d) == 0)
      r->has_target_sha = 1, memcpy(r->target_sha, d, 32);
  } else if (name_is(n, nlen, "X-Content-SHA256")) {
    if (rs_sha256_hex_parse(v, vlen, d) == 0)
      r->has_content_sha = 1, memcpy(r->content_sha, d, 32);
  } else if (name_is(n, nlen, "Accept-Ranges")) {
    r->accept_ranges = lists_bytes(v, vlen);
  } else if (name_is(n, nlen, "Want-Content-Digest")) {
    /* "sha-256=<weight>", weight 0 meaning "not wanted" (RFC 9530 section 4) */
    for (size_t i = 0; i + 8 <= vlen; i++)
      if (memcmp(v + i, "sha-256=", 8) == 0 && (i == 0 || v[i - 1] == ' ' || v[i - 1] == ','))
        r->want_digest = i + 8 < vlen && v[i + 8] >= '1' && v[i + 8] <= '9';
  }
}

void rs_resp_feed(rs_resp *r, const char *line, size_t len, time_t now)
{
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (len == 0) {
    if (r->status >= 200)
      r->complete = 1;
    return;
  }
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    status_line(r, line, len);
    return;
  }
  const char *colon = memchr(line, ':', len);
  if (!colon || colon == line)
    return;
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1;
  size_t vlen = len - nlen - 1;
  while (vlen > 0 && is_ows(*v))
    v++, vlen--;
  while (vlen > 0 && is_ows(v[vlen - 1]))
    vlen--;
  header(r, line, nlen, v, vlen, now);
}

int rs_resp_held(const rs_resp *r, uint64_t *held)
{
  if (r->has_file_size) {
    *held = r->file_size;
    return 0;
  }
  if (r->has_range) {
    *held = r->range_held;
    return 0;
  }
  return -1;
}
