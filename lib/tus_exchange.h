/* The tus 1.0.0 dialect of an exchange (docs/protocol.md, "Dialects: tus"): its headers, its
 * decision (tus_decide.c) carried out by the shared executors, and its replies. The LocalAI
 * code paths call in here only where the dialects differ. */
#ifndef RESUMABLE_TUS_EXCHANGE_H
#define RESUMABLE_TUS_EXCHANGE_H

#include "server_internal.h"

/* Called by resumable_exchange_begin: remember the method as sent and whether the path names a
 * concatenation part (`raw` is the path after the prefix, query removed). */
void rs_tus_begin(resumable_exchange *ex, const char *method, const char *raw, size_t len);

/* Keep a header the tus dialect reads (others are ignored). RESUMABLE_OK or E_NOMEM. */
int rs_tus_add_header(resumable_exchange *ex, const char *name, const char *value);

/* A short header into h: a bounded copy; a repeat with another value marks the exchange's
 * conflict (400) with `why`. Shared by the tus and IETF draft dialects. */
void rs_tus_keep_short(resumable_exchange *ex, rs_hdr *h, const char *value, const char *why);

/* Does this request speak tus (Tus-Resumable present, or OPTIONS)? */
int rs_tus_wanted(const resumable_exchange *ex);

/* resumable_exchange_headers_done for a tus request (ex->req is gathered). Same returns. */
int rs_tus_headers_done(resumable_exchange *ex);

/* A creation's partial: target hash (not for a part), metadata. */
void rs_tus_partial_info(const resumable_exchange *ex, resumable_partial_info *info);

/* Plan the body of a PATCH or creation (expected length, checksum); under entry->mu with the
 * partial open. RESUMABLE_OK, or a store error with the reply decided. */
int rs_tus_body_begin(resumable_exchange *ex);

/* The stored partial as load_state found it (`pi`, or NULL for none): keep its metadata for
 * the host and HEAD, and judge its expiry into st->expired. */
void rs_tus_note_state(resumable_exchange *ex, const resumable_partial_info *pi, rs_stored *st);

/* The partial that rs_tus_note_state judged expired is in use in another process (it holds
 * the key): judge the request again with it live, expiring a TTL from now. */
void rs_tus_in_use(resumable_exchange *ex, rs_stored *st, rs_decision *d);

/* Judge the request against `st` (NULL: before the state) in its dialect: tus, or the IETF
 * draft riding on it (ietf_decide.h). */
void rs_tus_judge_state(resumable_exchange *ex, const rs_stored *st, rs_decision *d);

/* Replies. */
void rs_tus_reply_decision(resumable_exchange *ex, const rs_decision *d);
void rs_tus_reply_done(resumable_exchange *ex, uint64_t size, const uint8_t sha[32]);
void rs_tus_probe(resumable_exchange *ex, const rs_stored *st, const rs_decision *d);
/* Headers every tus reply carries (Tus-Resumable); called as the reply is decided. */
void rs_tus_decorate(resumable_exchange *ex);

/* The final upload of a concatenation (tus_concat.c): assemble, verify, commit, remove the
 * parts. ex->entry is held (not locked); the reply is decided on return. */
void rs_tus_concat_final(resumable_exchange *ex);

/* Free what the exchange's tus part owns. */
void rs_tus_free(resumable_exchange *ex);

#endif
