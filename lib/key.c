/* Keys: percent-decode once, then validate (PROTOCOL.md "Keys").
 *
 * Order of checks: each rule is applied to the whole key, in the order of rs_key_status and of
 * PROTOCOL.md, and the first rule broken anywhere wins; so the answer never depends on where in
 * the key the problems sit:
 *   EMPTY, BAD_ESCAPE, TOO_LONG, BAD_SEGMENT (empty, > 255 bytes, "." or ".."), RESERVED, BAD_BYTE,
 *   BAD_UTF8 (after decoding: a key is a name that clients read back in JSON, so it must be text;
 *   stored under its raw bytes, a non-UTF-8 key would come back in JSON as U+FFFD and name a
 *   file that does not exist).
 * A first pass over the raw bytes only checks escapes and counts the decoded length, so a huge
 * raw input is rejected without writing a byte; the second pass decodes into out, which then
 * cannot overflow. On any error out holds the empty string (when cap > 0), so a half-checked key
 * is never left behind for a careless caller.
 *
 * ".resumable" is matched case-insensitively: on a case-insensitive filesystem ".Resumable" would
 * reach the server's own state directory, and no sensible key needs that prefix. */
#include "key.h"

#include "hex.h"
#include "utf8.h"

/* Pass 1: are all escapes "%XX", and how many bytes does raw decode to? */
static rs_key_status scan_raw(const char *raw, size_t len, size_t *decoded)
{
  size_t n = 0;

  for (size_t i = 0; i < len; n++) {
    if (raw[i] != '%') {
      i++;
      continue;
    }
    if (len - i < 3 || rs_hex_digit((unsigned char)raw[i + 1]) < 0 ||
        rs_hex_digit((unsigned char)raw[i + 2]) < 0)
      return RS_KEY_BAD_ESCAPE;
    i += 3;
  }
  *decoded = n;
  return RS_KEY_OK;
}

/* Pass 2: decode raw (already checked by scan_raw) into out and NUL-terminate it. */
static void decode(const char *raw, size_t len, char *out)
{
  size_t n = 0;

  for (size_t i = 0; i < len; n++) {
    if (raw[i] == '%') {
      int v =
          rs_hex_digit((unsigned char)raw[i + 1]) << 4 | rs_hex_digit((unsigned char)raw[i + 2]);
      out[n] = (char)(unsigned char)v;
      i += 3;
    } else {
      out[n] = raw[i++];
    }
  }
  out[n] = '\0';
}

static char ascii_lower(char c)
{
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_reserved(const char *seg, size_t len)
{
  static const char prefix[] = ".resumable";
  const size_t plen = sizeof prefix - 1;

  if (len < plen)
    return 0;
  for (size_t i = 0; i < plen; i++)
    if (ascii_lower(seg[i]) != prefix[i])
      return 0;
  return 1;
}

static int is_bad_segment(const char *seg, size_t len)
{
  if (len == 0 || len > RS_KEY_SEGMENT_MAX)
    return 1;
  return seg[0] == '.' && (len == 1 || (len == 2 && seg[1] == '.'));
}

static int is_bad_byte(unsigned char c)
{
  return c < 0x20 || c == 0x7f || c == '\\';
}

/* Segment rules over the decoded key k[0..len), in priority order. */
static rs_key_status check_decoded(const char *k, size_t len)
{
  int reserved = 0;
  size_t start = 0;

  for (size_t i = 0; i <= len; i++) {
    if (i < len && k[i] != '/')
      continue;
    if (is_bad_segment(k + start, i - start))
      return RS_KEY_BAD_SEGMENT;
    reserved |= is_reserved(k + start, i - start);
    start = i + 1;
  }
  if (reserved)
    return RS_KEY_RESERVED;
  for (size_t i = 0; i < len; i++)
    if (is_bad_byte((unsigned char)k[i]))
      return RS_KEY_BAD_BYTE;
  if (!rs_utf8_valid(k, len))
    return RS_KEY_BAD_UTF8;
  return RS_KEY_OK;
}

rs_key_status rs_key_decode(const char *raw, size_t len, char *out, size_t cap)
{
  rs_key_status st;
  size_t n = 0;

  if (out != NULL && cap > 0)
    out[0] = '\0';
  if (len == 0)
    return RS_KEY_EMPTY;
  if (raw == NULL)
    return RS_KEY_EMPTY; /* a NULL with a length is a caller bug; treat it as no key */
  st = scan_raw(raw, len, &n);
  if (st != RS_KEY_OK)
    return st;
  /* A cap below RS_KEY_MAX + 1 breaks the contract; refuse what does not fit rather than write. */
  if (n > RS_KEY_MAX || out == NULL || n >= cap)
    return RS_KEY_TOO_LONG;
  decode(raw, len, out);
  st = check_decoded(out, n);
  if (st != RS_KEY_OK)
    out[0] = '\0';
  return st;
}

const char *rs_key_status_text(rs_key_status st)
{
  switch (st) {
  case RS_KEY_OK:
    return "key is valid";
  case RS_KEY_EMPTY:
    return "key is empty";
  case RS_KEY_BAD_ESCAPE:
    return "key has a '%' not followed by two hex digits";
  case RS_KEY_TOO_LONG:
    return "key is longer than 1024 bytes after decoding";
  case RS_KEY_BAD_SEGMENT:
    return "key segment is empty, over 255 bytes, '.' or '..'";
  case RS_KEY_RESERVED:
    return "key segment starts with the reserved name '.resumable'";
  case RS_KEY_BAD_BYTE:
    return "key contains NUL, a control byte or a backslash";
  case RS_KEY_BAD_UTF8:
    return "key is not valid UTF-8";
  }
  return "key is invalid";
}
