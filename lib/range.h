/* Content-Range (request, RFC 9110 14.4 as restricted by docs/protocol.md) and Range (GET). */
#ifndef RESUMABLE_RANGE_H
#define RESUMABLE_RANGE_H

#include <stddef.h>
#include <stdint.h>

#define RS_RANGE_MAX_VALUE INT64_MAX /* numbers above 2^63-1 are rejected */

typedef struct rs_content_range {
  int is_query;   /* "bytes *\/total": start/end unset */
  uint64_t start; /* first byte, inclusive */
  uint64_t end;   /* last byte, inclusive */
  uint64_t total;
} rs_content_range;

/* Parse a request Content-Range value of exactly `len` bytes (not NUL-terminated; embedded NUL is
 * malformed). Accepts only "bytes <start>-<end>/<total>" and "bytes *\/<total>": single space,
 * ASCII digits only, no sign, no spaces inside, start <= end < total, every number <= 2^63-1.
 * Returns 0 and fills *out, or -1 if malformed (out untouched). Pure. */
int rs_content_range_parse(const char *s, size_t len, rs_content_range *out);

/* Format "bytes <start>-<end>/<total>" (or "bytes *\/<total>" when is_query) into buf.
 * Returns the length written (excluding NUL), or -1 if cap is too small. */
int rs_content_range_format(const rs_content_range *r, char *buf, size_t cap);

/* Parse a GET Range value "bytes=a-b", "bytes=a-" or "bytes=-n" against a file of `size` bytes.
 * Returns 1 and sets [*first, *last] (inclusive) for a satisfiable single range, 0 if the header
 * should be ignored (malformed, or several ranges: serve the whole file), -1 if unsatisfiable
 * (416). Pure. */
int rs_get_range_parse(const char *s, size_t len, uint64_t size, uint64_t *first, uint64_t *last);

/* Parse a strict unsigned decimal (digits only, no sign/space, <= 2^63-1) of exactly len bytes.
 * Returns 0 or -1. Used for Content-Length and X-File-Size too. */
int rs_parse_u63(const char *s, size_t len, uint64_t *out);

#endif
