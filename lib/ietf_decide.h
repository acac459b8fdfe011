/* The pure decision core of the IETF resumable-upload draft dialect (docs/protocol.md,
 * "Dialects: the IETF draft"). The draft's facts are judged here, then the request, mapped onto
 * a tus request (creation, PATCH, HEAD, DELETE work the same on the store), goes to
 * rs_tus_decide; what the draft says differently (problem types, inconsistent lengths, a
 * complete upload) is decided before it. Same contract as tus_decide.h: no I/O. */
#ifndef RESUMABLE_IETF_DECIDE_H
#define RESUMABLE_IETF_DECIDE_H

#include <stdint.h>

#include "decide.h"
#include "tus_decide.h"

/* Interop versions spoken: 6 (drafts -04/-05, tus-js-client's 'ietf-draft-05') and 8 (drafts
 * -09 and later). */
#define RS_IETF_VERSION_05 6
#define RS_IETF_VERSION_LATEST 8

/* The problem types (RFC 9457) the draft registers; rs_decision.size carries one. */
typedef enum rs_ietf_problem {
  RS_IETF_PROBLEM_MISMATCHING_OFFSET = 1,
  RS_IETF_PROBLEM_INCONSISTENT_LENGTH,
  RS_IETF_PROBLEM_COMPLETED_UPLOAD
} rs_ietf_problem;

/* The problem type URI and its title. */
const char *rs_ietf_problem_type(rs_ietf_problem p);
const char *rs_ietf_problem_title(rs_ietf_problem p);

typedef struct rs_ietf_request {
  rs_field version; /* Upload-Draft-Interop-Version: OK is 6 or 8 */
  uint64_t version_value;
  rs_field complete; /* Upload-Complete: a Boolean */
  int complete_value;
  rs_field offset; /* Upload-Offset: a non-negative Integer */
  rs_field length; /* Upload-Length: a non-negative Integer */
  uint64_t length_value;
  rs_field repr;       /* Repr-Digest: MALFORMED when not a Dictionary or sha-256 not 32
                              bytes; OK only with a sha-256 member */
  int repr_conflict;   /* Repr-Digest and X-Content-SHA256 name different hashes */
  int content_type_ok; /* PATCH: application/partial-upload (v8), or none/that (v6) */
  int inconsistent;    /* the request's own length indicators disagree (rs_ietf_map) */
} rs_ietf_request;

/* Judge a draft request. `t` is the request as tus sees it, mapped by rs_ietf_map (whose
 * return is ir->inconsistent); `stored` NULL as in rs_tus_decide. */
void rs_ietf_decide(const rs_ietf_request *ir, const rs_tus_request *t, const rs_stored *stored,
                    rs_decision *d);

/* Fill the tus view of a draft request: Upload-Offset and Upload-Length from the draft's
 * parsed fields, the length implied by Upload-Complete: ?1 with a known body length, a
 * deferred length otherwise; Content-Type judged by the draft's rule. Returns 0, or 1 when
 * the request's own indicators of the length disagree (an inconsistent length). */
int rs_ietf_map(const rs_ietf_request *ir, rs_tus_request *t);

#endif
