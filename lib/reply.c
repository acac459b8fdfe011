/* Building replies: headers, short bodies, and file bodies streamed from the store. */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resumable/error.h"
#include "utf8.h"

static const char oom_text[] = "out of memory\n";

void rs_reply_clear(rs_reply *r)
{
  for (size_t i = 0; i < r->count; i++)
    free(r->values[i]);
  if (r->text != oom_text)
    free(r->text);
  if (r->reader)
    r->ops->complete_close(r->self, r->reader);
  memset(r, 0, sizeof(*r));
}

void rs_reply_oom(rs_reply *r)
{
  rs_reply_clear(r);
  r->status = 500;
  r->text = (char *)oom_text; /* never written nor freed */
  r->length = sizeof(oom_text) - 1;
}

int rs_reply_header(rs_reply *r, const char *name, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *v = n >= 0 && r->count < RS_REPLY_MAX_HEADERS ? malloc((size_t)n + 1) : NULL;
  if (!v) {
    rs_reply_oom(r);
    return RESUMABLE_E_NOMEM;
  }
  va_start(ap, fmt);
  vsnprintf(v, (size_t)n + 1, fmt, ap);
  va_end(ap);
  r->names[r->count] = name;
  r->values[r->count++] = v;
  return RESUMABLE_OK;
}

int rs_reply_body(rs_reply *r, const char *type, const char *body, size_t len)
{
  char *t = malloc(len + 1);
  if (!t) {
    rs_reply_oom(r);
    return RESUMABLE_E_NOMEM;
  }
  memcpy(t, body, len);
  t[len] = '\0';
  int rc = rs_reply_header(r, "Content-Type", "%s", type);
  if (rc != RESUMABLE_OK) {
    free(t);
    return rc;
  }
  if (r->text != oom_text)
    free(r->text);
  r->text = t;
  r->length = len;
  return RESUMABLE_OK;
}

int rs_reply_text(rs_reply *r, int status, const char *text)
{
  rs_reply_clear(r);
  r->status = status;
  size_t n = strlen(text);
  char *t = malloc(n + 2);
  if (!t) {
    rs_reply_oom(r);
    return RESUMABLE_E_NOMEM;
  }
  memcpy(t, text, n);
  t[n] = '\n';
  t[n + 1] = '\0';
  int rc = rs_reply_body(r, "text/plain", t, n + 1);
  free(t);
  return rc;
}

int rs_reply_read(rs_reply *r, void *buf, size_t cap, size_t *got)
{
  *got = 0;
  if (r->no_body || r->pos >= r->length || cap == 0)
    return RESUMABLE_OK;
  uint64_t left = r->length - r->pos;
  size_t want = left < cap ? (size_t)left : cap;
  if (!r->reader) {
    if (!r->text)
      return RESUMABLE_OK;
    memcpy(buf, r->text + r->pos, want);
    *got = want;
    r->pos += want;
    return RESUMABLE_OK;
  }
  int rc = r->ops->complete_read(r->self, r->reader, r->first + r->pos, buf, want, got);
  if (rc != RESUMABLE_OK || *got == 0) { /* the file cannot end before the advertised length */
    *got = 0;
    return RESUMABLE_E_IO;
  }
  r->pos += *got;
  return RESUMABLE_OK;
}

int rs_json_escape(const char *s, char *buf, size_t cap, size_t *len)
{
  size_t n = *len;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    char tmp[8];
    size_t k, used = 1;
    if (*p == '"' || *p == '\\') {
      tmp[0] = '\\';
      tmp[1] = (char)*p;
      k = 2;
    } else if (*p < 0x20 || *p == 0x7f) {
      k = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)*p);
    } else if (*p < 0x80) {
      tmp[0] = (char)*p;
      k = 1;
    } else if ((used = rs_utf8_len(p, strnlen((const char *)p, 4))) > 0) {
      memcpy(tmp, p, used); /* a UTF-8 key stays as it is */
      k = used;
    } else {
      /* Keys are valid UTF-8 (lib/key.c), but a host's root path need not be: JSON text is
       * Unicode, so a byte that is not part of valid UTF-8 becomes U+FFFD. */
      memcpy(tmp, "\\ufffd", 6);
      k = 6;
      used = 1;
    }
    if (n + k >= cap)
      return -1;
    memcpy(buf + n, tmp, k);
    n += k;
    p += used;
  }
  buf[n] = '\0';
  *len = n;
  return 0;
}
