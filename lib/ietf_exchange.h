/* The IETF resumable-upload draft dialect of an exchange (docs/protocol.md, "Dialects: the
 * IETF draft"). It rides on the tus dialect's exchange (tus_exchange.c): the same creation,
 * upload URL, PATCH and HEAD machinery on the same store; this file keeps the draft's headers,
 * maps them onto the tus request and builds the draft's replies. */
#ifndef RESUMABLE_IETF_EXCHANGE_H
#define RESUMABLE_IETF_EXCHANGE_H

#include "server_internal.h"

/* Keep a header the draft reads (Upload-Draft-Interop-Version, Upload-Complete, Repr-Digest,
 * Want-Repr-Digest); others are ignored. RESUMABLE_OK or E_NOMEM. */
int rs_ietf_add_header(resumable_exchange *ex, const char *name, const char *value);

/* Does this request speak the draft (Upload-Draft-Interop-Version present)? */
int rs_ietf_wanted(const resumable_exchange *ex);

/* resumable_exchange_headers_done for a draft request. Same returns. */
int rs_ietf_headers_done(resumable_exchange *ex);

/* After the tus gather: parse the draft's fields into t->ireq and map them onto t->req. */
void rs_ietf_gather(resumable_exchange *ex);

/* Replies (called by their tus counterparts when ex->tus.ietf). */
void rs_ietf_reply_decision(resumable_exchange *ex, const rs_decision *d);
void rs_ietf_reply_done(resumable_exchange *ex, uint64_t size, const uint8_t sha[32]);
void rs_ietf_probe(resumable_exchange *ex, const rs_stored *st, const rs_decision *d);

/* A PATCH (or creation) whose Content-Digest did not match its body, its bytes dropped: 422
 * with the problem type below, `Upload-Offset: held` (unchanged) and the digest it carried. */
#define RS_IETF_DIGEST_MISMATCH_TYPE \
  "https://iana.org/assignments/http-problem-types#digest-mismatching-value"
void rs_ietf_reply_digest_mismatch(resumable_exchange *ex, uint64_t held, rs_rd_algo algo,
                                   const uint8_t want[64]);

/* Free what the draft part owns. */
void rs_ietf_free(resumable_exchange *ex);

#endif
