/* The pure decision core of the tus 1.0.0 dialect (docs/protocol.md, "Dialects: tus").
 *
 * Same contract as decide.h: request facts and stored state in, an rs_decision out, no I/O. The
 * decision uses the LocalAI core's actions (APPEND, FINISH, PROBE, SERVE...) so that one
 * executor (exchange_put.c, exchange_meta.c) carries out both dialects on one store; what
 * differs is which facts matter, the order of the checks and the reply kinds. */
#ifndef RESUMABLE_TUS_DECIDE_H
#define RESUMABLE_TUS_DECIDE_H

#include <stdint.h>

#include "decide.h"
#include "tus_header.h"

typedef enum rs_tus_op {
  RS_TUS_OP_OTHER = 0, /* PUT and anything unknown: 405 */
  RS_TUS_OP_OPTIONS,
  RS_TUS_OP_HEAD,
  RS_TUS_OP_GET,
  RS_TUS_OP_POST, /* creation */
  RS_TUS_OP_PATCH,
  RS_TUS_OP_DELETE /* termination */
} rs_tus_op;

/* What the request URL names. */
typedef enum rs_tus_at {
  RS_TUS_AT_PREFIX = 0, /* the prefix itself: the creation endpoint */
  RS_TUS_AT_KEY,        /* <prefix><key> */
  RS_TUS_AT_PART        /* <prefix>.resumable-part/<id>, a concatenation part */
} rs_tus_at;

typedef struct rs_tus_request {
  rs_tus_op op;
  int auth_ok;
  rs_field version; /* Tus-Resumable: OK is "1.0.0", MALFORMED any other value */
  rs_tus_at at;
  rs_key_status key;     /* the key's status (AT_KEY, or a creation's derived key) */
  int key_from_metadata; /* the key came from Upload-Metadata (for the 400 text) */
  int header_conflict;
  const char *conflict_reason;
  rs_field offset; /* Upload-Offset */
  uint64_t offset_value;
  rs_field length; /* Upload-Length */
  uint64_t length_value;
  rs_field defer;    /* Upload-Defer-Length: OK only for "1" */
  rs_field metadata; /* Upload-Metadata: MALFORMED when invalid or too long */
  int metadata_too_long;
  rs_tus_concat concat;     /* Upload-Concat */
  int concat_foreign;       /* FINAL: a URL that is not a part of this server, or too many */
  rs_field checksum;        /* Upload-Checksum */
  int checksum_unsupported; /* MALFORMED because the algorithm is not offered */
  rs_field hash;            /* X-Content-SHA256 */
  uint8_t sha256[32];       /* valid when hash == RS_FIELD_OK */
  rs_field content_type;    /* OK: application/offset+octet-stream; MALFORMED: another type */
  rs_field body;            /* Content-Length */
  uint64_t body_length;
  int chunked;       /* Transfer-Encoding: chunked (body length unknown) */
  uint64_t max_size; /* 0: no limit */
} rs_tus_request;

/* Judge a tus request. `stored` NULL: RS_ACT_NEED_STATE when the state matters, so that
 * 401/412/400/413/415 touch nothing. Outcomes besides plain replies:
 *  - APPEND (flags DROP_PARTIAL|CREATE_PARTIAL for a creation, SET_TOTAL when a deferred length
 *    becomes known): `held` is the offset, `total` the length (RESUMABLE_LENGTH_UNKNOWN if
 *    deferred);
 *  - FINISH: the partial already holds every byte (commit; a part just answers its offset);
 *  - PROBE (HEAD_PARTIAL / HEAD_COMPLETE), SERVE (GET), TERMINATE (DELETE), CONCAT (final);
 *  - 410 with DROP_PARTIAL for an expired partial. */
void rs_tus_decide(const rs_tus_request *req, const rs_stored *stored, rs_decision *out);

#endif
