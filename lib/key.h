/* Keys: the URL path after the prefix, percent-decoded once, then validated. */
#ifndef RESUMABLE_KEY_H
#define RESUMABLE_KEY_H

#include <stddef.h>

#define RS_KEY_MAX 1024
#define RS_KEY_SEGMENT_MAX 255

typedef enum rs_key_status {
  RS_KEY_OK = 0,
  RS_KEY_EMPTY,       /* nothing after the prefix */
  RS_KEY_BAD_ESCAPE,  /* '%' not followed by two hex digits */
  RS_KEY_TOO_LONG,    /* over 1024 bytes after decoding */
  RS_KEY_BAD_SEGMENT, /* empty segment, over 255 bytes, "." or ".." */
  RS_KEY_RESERVED,    /* a segment starts with ".resumable" */
  RS_KEY_BAD_BYTE,    /* NUL, control byte (< 0x20, 0x7f) or backslash */
  RS_KEY_BAD_UTF8     /* not valid UTF-8 (keys are names clients read back in JSON) */
} rs_key_status;

/* Decode the `len` raw bytes (the path after the prefix, query string already removed) into out
 * (NUL-terminated) and validate the result. `cap` must be at least RS_KEY_MAX + 1; the raw
 * input may be longer than RS_KEY_MAX (it is then rejected as RS_KEY_TOO_LONG if it decodes too
 * long). Returns RS_KEY_OK or the first rule broken. Pure. */
rs_key_status rs_key_decode(const char *raw, size_t len, char *out, size_t cap);

/* A short English reason for a status, for 400 bodies. Never NULL. */
const char *rs_key_status_text(rs_key_status st);

#endif
