/* tus response headers for the stager (stager_tus_resp.h). */
#include "stager_tus_resp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "range.h"
#include "sfv.h"

static int limit_member(void *arg, const char *key, const rs_sfv_value *v)
{
  rs_tus_resp *t = arg;
  if (strcmp(key, "max-size") == 0 && v->type == RS_SFV_INTEGER && v->i >= 0) {
    t->has_limit_max = 1;
    t->limit_max = (uint64_t)v->i;
  }
  return 0;
}

void rs_tus_resp_reset(rs_tus_resp *t)
{
  memset(t, 0, sizeof(*t));
}

static int blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Comma-separated tokens of v: the bit of each known one. */
static unsigned tokens(const char *v, size_t len, const char *const *names, const unsigned *bits,
                       size_t n)
{
  unsigned out = 0;
  for (size_t i = 0; i < len;) {
    size_t j = i;
    while (j < len && v[j] != ',')
      j++;
    size_t a = i, b = j;
    while (a < b && blank(v[a]))
      a++;
    while (b > a && blank(v[b - 1]))
      b--;
    for (size_t k = 0; k < n; k++)
      if (strlen(names[k]) == b - a && strncasecmp(names[k], v + a, b - a) == 0)
        out |= bits[k];
    i = j + 1;
  }
  return out;
}

static void header(rs_tus_resp *t, const char *n, size_t nlen, const char *v, size_t vlen)
{
  static const char *const ext_names[] = {"creation", "creation-with-upload", "termination",
                                          "checksum", "concatenation"};
  static const unsigned ext_bits[] = {RS_TUSX_CREATION, RS_TUSX_WITH_UPLOAD, RS_TUSX_TERMINATION,
                                      RS_TUSX_CHECKSUM, RS_TUSX_CONCATENATION};
  static const char *const algo_names[] = {"sha1", "sha256"};
  static const unsigned algo_bits[] = {RS_TUSA_SHA1, RS_TUSA_SHA256};
  static const char *const versions[] = {"1.0.0"};
  static const unsigned version_bits[] = {1};
  uint64_t u;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(n, name, nlen) == 0)
  if (IS("Upload-Offset")) {
    if (rs_parse_u63(v, vlen, &u) == 0)
      t->has_offset = 1, t->offset = u;
  } else if (IS("Upload-Length")) {
    if (rs_parse_u63(v, vlen, &u) == 0)
      t->has_length = 1, t->length = u;
  } else if (IS("Tus-Version")) {
    t->version_1 = tokens(v, vlen, versions, version_bits, 1) != 0;
  } else if (IS("Tus-Extension")) {
    t->ext = tokens(v, vlen, ext_names, ext_bits, 5);
  } else if (IS("Tus-Checksum-Algorithm")) {
    t->algos = tokens(v, vlen, algo_names, algo_bits, 2);
  } else if (IS("Tus-Max-Size")) {
    if (rs_parse_u63(v, vlen, &u) == 0)
      t->has_max_size = 1, t->max_size = u;
  } else if (IS("Accept-Patch")) {
    static const char *const types[] = {"application/partial-upload"};
    static const unsigned type_bits[] = {1};
    t->draft_accept |= tokens(v, vlen, types, type_bits, 1) != 0;
  } else if (IS("Upload-Limit")) {
    t->has_limit_max = 0;
    t->has_limit = rs_sfv_dict(v, vlen, limit_member, t) == 0;
    if (!t->has_limit)
      t->has_limit_max = 0; /* a malformed field is ignored whole */
  } else if (IS("Location")) {
    t->has_location = vlen > 0 && vlen <= RS_TUS_URL_MAX;
    if (t->has_location) {
      memcpy(t->location, v, vlen);
      t->location[vlen] = '\0';
    }
  }
#undef IS
}

void rs_tus_resp_feed(rs_tus_resp *t, const char *line, size_t len)
{
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    rs_tus_resp_reset(t);
    return;
  }
  const char *colon = memchr(line, ':', len);
  if (!colon || colon == line)
    return;
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1;
  size_t vlen = len - nlen - 1;
  while (vlen > 0 && blank(*v))
    v++, vlen--;
  while (vlen > 0 && blank(v[vlen - 1]))
    vlen--;
  header(t, line, nlen, v, vlen);
}

static int usable(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p <= 0x20 || *p == 0x7f)
      return 0;
  return 1;
}

/* Length of "scheme://authority" at the start of an http(s) URL, or 0. */
static size_t origin_len(const char *u)
{
  size_t s = strncasecmp(u, "http://", 7) == 0 ? 7 : strncasecmp(u, "https://", 8) == 0 ? 8 : 0;
  if (!s)
    return 0;
  return s + strcspn(u + s, "/?#");
}

int rs_tus_resolve(const char *base, const char *loc, char *out, size_t cap)
{
  int n;
  size_t o = origin_len(base);
  if (!usable(loc) || !usable(base) || o == 0)
    return -1;
  if (origin_len(loc) > 0) {
    n = snprintf(out, cap, "%s", loc);
  } else if (loc[0] == '/' && loc[1] == '/') {
    size_t colon = (size_t)(strchr(base, ':') - base); /* a network-path: keep the scheme */
    n = snprintf(out, cap, "%.*s:%s", (int)colon, base, loc);
  } else if (loc[0] == '/') {
    n = snprintf(out, cap, "%.*s%s", (int)o, base, loc);
  } else {
    size_t path_end = o + strcspn(base + o, "?#");
    size_t dir = path_end;
    while (dir > o && base[dir - 1] != '/')
      dir--;
    if (dir == o) /* "http://host" has the path "/" */
      n = snprintf(out, cap, "%.*s/%s", (int)o, base, loc);
    else
      n = snprintf(out, cap, "%.*s%s", (int)dir, base, loc);
  }
  return n > 0 && (size_t)n < cap ? 0 : -1;
}
