/* The pure decision core of the server handler (docs: PROTOCOL.md).
 *
 * No I/O, no allocation, no clock, no globals: request facts and stored state in, a decision
 * out. The handler (lib/exchange.c) gathers the facts, calls rs_decide, carries out the action
 * through the store, and calls rs_decide_end once a body has been received. */
#ifndef RESUMABLE_DECIDE_H
#define RESUMABLE_DECIDE_H

#include <stdint.h>

#include "key.h"
#include "range.h"

typedef enum rs_method {
  RS_METHOD_OTHER = 0,
  RS_METHOD_HEAD,
  RS_METHOD_GET,
  RS_METHOD_PUT,
  RS_METHOD_DELETE
} rs_method;

/* How a request header was received. */
typedef enum rs_field { RS_FIELD_ABSENT = 0, RS_FIELD_OK, RS_FIELD_MALFORMED } rs_field;

/* Everything the decision needs from the request line and headers. */
typedef struct rs_request {
  rs_method method;
  int auth_ok;                 /* 1: no token configured, or the right Bearer token */
  rs_key_status key;           /* result of rs_key_decode */
  int header_conflict;         /* a repeated or contradictory header (always 400) */
  const char *conflict_reason; /* static text for that 400, or NULL for a generic one */
  rs_field range;              /* Content-Range */
  rs_content_range cr;         /* valid when range == RS_FIELD_OK */
  rs_field hash;               /* X-Content-SHA256 */
  uint8_t sha256[32];          /* valid when hash == RS_FIELD_OK */
  rs_field length;             /* Content-Length: ABSENT with chunked, or MALFORMED */
  int chunked;                 /* Transfer-Encoding: chunked (length unknown) */
  uint64_t content_length;     /* valid when length == RS_FIELD_OK */
  uint64_t max_size;           /* 0: no limit */
} rs_request;

/* What the store holds for the key (metadata only). */
typedef struct rs_stored {
  int complete; /* a complete file exists */
  uint64_t size;
  uint8_t sha256[32];
  int partial; /* a partial upload exists */
  uint64_t total;
  uint64_t held;
  int has_target;
  uint8_t target[32];
  int expired; /* tus: the partial is older than the partial TTL (and nobody uses it) */
} rs_stored;

typedef enum rs_action {
  RS_ACT_REPLY = 0,  /* reply now with `status`; read no body */
  RS_ACT_NEED_STATE, /* call again with the stored state */
  RS_ACT_APPEND,     /* append the body at `held` (reply from rs_decide_end) */
  RS_ACT_FINISH,     /* the partial holds every byte: verify and commit, read no body */
  RS_ACT_STAGE,      /* whole-file upload into a staging file */
  RS_ACT_SERVE,      /* GET: stream the complete file */
  RS_ACT_DELETE,     /* drop partial and complete file, then 204 */
  RS_ACT_PROBE,      /* HEAD: reply now with `status` and the headers of `reply` */
  RS_ACT_TERMINATE,  /* tus DELETE: drop the partial only, then 204 */
  RS_ACT_CONCAT      /* tus final concatenation: assemble the parts and commit */
} rs_action;

/* The header set a reply carries (besides Content-Type on text bodies). */
typedef enum rs_reply_kind {
  RS_REPLY_TEXT = 0,      /* error/plain: text/plain body of `reason` */
  RS_REPLY_UNAUTHORIZED,  /* 401 + WWW-Authenticate: Bearer */
  RS_REPLY_NOT_ALLOWED,   /* 405 + Allow */
  RS_REPLY_RANGE_WRONG,   /* 416 + Content-Range: bytes * /total + X-File-Size: held */
  RS_REPLY_INCOMPLETE,    /* 308 + X-File-Size: held (+ Range when held > 0) */
  RS_REPLY_DONE,          /* 200 + X-Content-SHA256, X-File-Size + JSON body (the complete file) */
  RS_REPLY_HEAD_PARTIAL,  /* 200 + X-File-Size: held, X-Upload-Total, X-Target-SHA256 if bound */
  RS_REPLY_HEAD_COMPLETE, /* 200 + X-File-Size: size, X-Content-SHA256 (+ X-Local-Path) */
  RS_REPLY_NO_CONTENT,    /* 204 */
  RS_REPLY_TUS_OPTIONS,   /* tus: 204 + Tus-Version, Tus-Extension, ... (discovery) */
  RS_REPLY_TUS_VERSION,   /* tus: 412 + Tus-Version */
  RS_REPLY_TUS_OFFSET,    /* tus: 204 (or 201 to a creation) + Upload-Offset: held */
  RS_REPLY_IETF_PROBLEM   /* IETF draft: application/problem+json of type d->size
                             (rs_ietf_problem); a mismatching offset adds Upload-Offset: held */
} rs_reply_kind;

/* Flags on a decision. */
#define RS_DROP_PARTIAL 0x1u /* drop the key's partial before anything else */
#define RS_CREATE_PARTIAL \
  0x2u                    /* APPEND: start a new partial of `total` bound to the request hash */
#define RS_SET_TOTAL 0x4u /* tus: the partial's unknown length becomes `total` */

typedef struct rs_decision {
  int status; /* 0 while the reply depends on the body */
  rs_action action;
  rs_reply_kind kind;
  unsigned flags;
  const char *reason; /* short static text (the text/plain body of errors) */
  uint64_t held;      /* X-File-Size of 308/416/HEAD partial; append offset */
  uint64_t total;     /* the upload's total (416's Content-Range, X-Upload-Total) */
  uint64_t size;      /* complete file size (HEAD complete, DONE) */
} rs_decision;

/* Judge a request. `stored` may be NULL: if the answer needs the stored state, the result is
 * RS_ACT_NEED_STATE and the caller calls again with it (so that 401/400/405/413 touch nothing).
 * Checks in PROTOCOL.md's order: auth, key, method, then the method's rules. */
void rs_decide(const rs_request *req, const rs_stored *stored, rs_decision *out);

/* Whether the final digest matched. */
typedef enum rs_digest {
  RS_DIGEST_NONE = 0, /* not computed (upload not finished) or nothing to compare with */
  RS_DIGEST_MATCH,
  RS_DIGEST_MISMATCH
} rs_digest;

/* The end of a body. `received` body bytes arrived of `expected` (expected_known 0 for a chunked
 * legacy upload); after them the upload holds `held` of `total`; `digest` is the final check
 * (computed only when held == total). Out: 400 short/long body, 400 digest mismatch (flag
 * RS_DROP_PARTIAL), 200 commit (action RS_ACT_FINISH), or 308 with `held`. */
void rs_decide_end(uint64_t received, int expected_known, uint64_t expected, uint64_t held,
                   uint64_t total, rs_digest digest, rs_decision *out);

/* The reason text of a status for generic replies. Never NULL. */
const char *rs_status_text(int status);

#endif
