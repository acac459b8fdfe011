/* The tus response headers the stager acts on, parsed line by line beside rs_resp (which keeps
 * the LocalAI ones and the status). Pure. */
#ifndef RESUMABLE_STAGER_TUS_RESP_H
#define RESUMABLE_STAGER_TUS_RESP_H

#include <stddef.h>
#include <stdint.h>

#define RS_TUS_URL_MAX 2048

/* Tus-Extension values the stager uses. */
#define RS_TUSX_CREATION 0x01u
#define RS_TUSX_WITH_UPLOAD 0x02u
#define RS_TUSX_TERMINATION 0x04u
#define RS_TUSX_CHECKSUM 0x08u
#define RS_TUSX_CONCATENATION 0x10u
/* Tus-Checksum-Algorithm values. */
#define RS_TUSA_SHA1 0x01u
#define RS_TUSA_SHA256 0x02u

typedef struct rs_tus_resp {
  int has_offset; /* Upload-Offset */
  uint64_t offset;
  int has_length; /* Upload-Length */
  uint64_t length;
  int version_1;    /* Tus-Version lists 1.0.0 */
  unsigned ext;     /* RS_TUSX_* from Tus-Extension */
  unsigned algos;   /* RS_TUSA_* from Tus-Checksum-Algorithm */
  int has_max_size; /* Tus-Max-Size */
  uint64_t max_size;
  int draft_accept;  /* IETF draft: Accept-Patch lists application/partial-upload */
  int has_limit;     /* IETF draft: Upload-Limit (a Dictionary) */
  int has_limit_max; /* and its max-size */
  uint64_t limit_max;
  int has_location; /* Location (too long counts as absent) */
  char location[RS_TUS_URL_MAX + 1];
} rs_tus_resp;

void rs_tus_resp_reset(rs_tus_resp *t);
/* One header line as libcurl delivers it; a status line resets. Never fails. */
void rs_tus_resp_feed(rs_tus_resp *t, const char *line, size_t len);

/* Resolve a Location against the URL the request went to (RFC 3986 for the forms servers
 * send: absolute "http(s)://...", absolute-path "/...", or a relative path). Writes an absolute
 * URL into out; -1 if it does not fit or is not usable (no http(s) base, control bytes). */
int rs_tus_resolve(const char *base, const char *loc, char *out, size_t cap);

#endif
