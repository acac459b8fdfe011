/* The server and exchange structures shared by server.c, exchange.c and exchange_put.c. */
#ifndef RESUMABLE_SERVER_INTERNAL_H
#define RESUMABLE_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "decide.h"
#include "hash_pipe.h"
#include "ietf_decide.h"
#include "key.h"
#include "keylock.h"
#include "reply.h"
#include "req_digest.h"
#include "resumable/server.h"
#include "sha256.h"
#include "tus_checksum.h"
#include "tus_decide.h"

struct resumable_server {
  resumable_store *store;
  const resumable_store_ops *ops;
  void *self;
  char *prefix;
  size_t prefix_len;
  uint64_t max_size;
  char *token; /* NULL: no authentication */
  size_t token_len;
  resumable_log_fn log_fn;
  void *log_data;
  int expose_paths;
  rs_keylock_table *locks;
  rs_hash_pool *hash_pool;   /* NULL: hash inline (resumable_server_set_hash_threads(srv, 0)) */
  uint64_t checkpoint_bytes; /* resumable_server_set_checkpoint */
  uint64_t checkpoint_ms;
  uint64_t partial_ttl; /* resumable_server_set_partial_ttl; 0: uploads do not expire */
  /* Exchanges begun and not yet freed: while any is alive the setters and resumable_server_free
   * refuse with RESUMABLE_E_STATE (an exchange reads the configuration without a lock and may
   * hold pipes on the hash pool). */
  atomic_size_t live;
};

/* RESUMABLE_E_STATE while exchanges are alive (the setters' and free's guard), else OK. */
int rs_server_idle(const resumable_server *srv);

/* Longest kept value of each header the protocol reads; longer values count as malformed. */
#define RS_HDR_SHORT 96
#define RS_HDR_AUTH_MAX 4096

typedef enum rs_phase {
  RS_PHASE_HEADERS = 0, /* collecting headers */
  RS_PHASE_BODY,        /* judged; body wanted */
  RS_PHASE_DECIDED,     /* reply decided (the body, if any, is not wanted) */
  RS_PHASE_ENDED        /* resumable_exchange_end ran */
} rs_phase;

/* A header the protocol reads: seen, and its bounded copy. */
typedef struct rs_hdr {
  int seen;
  int too_long;
  char value[RS_HDR_SHORT];
} rs_hdr;

/* Which wire dialect a request speaks (docs/protocol.md, "Dialects"); decided from its headers. */
typedef enum rs_dialect { RS_DIALECT_LOCALAI = 0, RS_DIALECT_TUS } rs_dialect;

/* Upload-Concat values may list many part URLs. */
#define RS_TUS_CONCAT_MAX 16384

/* What a tus exchange keeps besides the common fields (tus_exchange.c). */
typedef struct rs_tus_exchange {
  char method[16]; /* the request method as sent ("" if longer) */
  rs_hdr resumable, offset, length, defer, checksum, content_type, override;
  char *metadata; /* Upload-Metadata as sent (owned, NUL-terminated), or NULL */
  size_t metadata_len;
  int metadata_bad;  /* repeated with another value */
  int metadata_long; /* over RESUMABLE_METADATA_MAX */
  char *concat;      /* Upload-Concat as sent (owned), or NULL */
  size_t concat_len;
  int concat_bad; /* repeated, or over RS_TUS_CONCAT_MAX */
  int conflict;   /* a tus header repeated with another value (the LocalAI dialect
                                ignores these headers, so it ignores their repeats too) */
  const char *conflict_reason;
  rs_tus_request req;
  int path_part; /* the path names a concatenation part: path_key */
  char path_key[RS_TUS_PART_KEY_LEN + 1];
  rs_tus_algo ck_algo; /* Upload-Checksum, parsed */
  uint8_t ck_digest[32];
  int part;              /* ex->key is a concatenation part's store key */
  int created;           /* a creation: the reply is 201 with Location */
  rs_tus_checksum ck;    /* Upload-Checksum of this request's body */
  int ck_teed;           /* ck's sha256 is a tee of the entry's hash pipe (hash_pipe.h) */
  char *upload_metadata; /* the upload's metadata for the host and HEAD, or NULL */
  int64_t expires;       /* Upload-Expires to send (Unix seconds), 0 for none */
  /* The IETF draft dialect rides on the tus one (ietf_exchange.c): same store mapping. */
  int ietf; /* the request carries Upload-Draft-Interop-Version */
  rs_hdr interop, complete, want_repr;
  char *repr; /* Repr-Digest as sent (owned), or NULL */
  size_t repr_len;
  int repr_bad;    /* repeated with another value, or overlong */
  int want_digest; /* Want-Repr-Digest asks for sha-256 */
  rs_ietf_request ireq;
} rs_tus_exchange;

typedef enum rs_body_mode {
  RS_BODY_NONE = 0,
  RS_BODY_APPEND, /* chunk appended to the key's partial (entry->handle) */
  RS_BODY_STAGE   /* whole-file upload into ex->staging */
} rs_body_mode;

struct resumable_exchange {
  resumable_server *srv;
  rs_method method;
  const char *method_name; /* for log lines */
  int in_prefix;
  rs_key_status key_status;
  char key[RS_KEY_MAX + 1];

  rs_hdr content_range, sha256, content_length, range;
  char *auth;   /* owned copy, or NULL */
  int auth_bad; /* repeated with another value, or overlong */
  int te_seen;
  int conflict;
  const char *conflict_reason;
  rs_request req;

  rs_phase phase;
  rs_reply reply;

  rs_keylock_entry *entry; /* held reference, or NULL */
  uint64_t generation;     /* the entry generation this exchange owns */
  rs_body_mode mode;
  uint64_t received;
  int expected_known;
  uint64_t expected;
  uint64_t since_sync; /* bytes appended since the last checkpoint */
  uint64_t synced_at;  /* rs_now_ms() of the last checkpoint (or the body's start) */
  void *staging;       /* RS_BODY_STAGE handle */
  rs_sha256 stage_sha;
  rs_hash_pipe stage_pipe; /* feeds stage_sha */
  int info_changed;        /* the partial's metadata changed without new bytes (a sync is due) */
  rs_dialect dialect;
  rs_tus_exchange tus;
  rs_rd_hdr content_digest; /* RFC 9530 Content-Digest as received */
  rs_req_digest rd;         /* ... being verified over this request's body (req_digest.h) */
};

/* One log line "<method> <key>: <text>" at `level` (no-op without a log callback). */
void rs_server_log(const resumable_server *srv, resumable_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Seconds of the Retry-After sent with a 503 for a store out of file descriptors. */
#define RS_RETRY_AFTER_NOFD_S 5

/* Map a store error to a reply (507 for NOSPACE, 409 for CONFLICT, 503 with Retry-After for
 * NOFD, 500 otherwise), with a log line naming `what` failed. */
void rs_exchange_store_error(resumable_exchange *ex, const char *what, int rc);

/* Make `ex`'s reply final: an error status logs one line; the phase becomes DECIDED. */
void rs_exchange_decided(resumable_exchange *ex);

/* Text reply + decided. */
void rs_exchange_fail(resumable_exchange *ex, int status, const char *text);

/* PUT handling (exchange_put.c). Called with the request judged by rs_decide without state
 * (action NEED_STATE for a chunk, STAGE for a whole-file upload). */
void rs_put_begin(resumable_exchange *ex, const rs_decision *d);
int rs_put_feed(resumable_exchange *ex, const uint8_t *data, size_t len);
void rs_put_end(resumable_exchange *ex, resumable_body_end how);
void rs_put_release(resumable_exchange *ex);

/* Cross-process ownership of the entry's key (the store's optional key_lock; always OK for a
 * store without it), around each group of store calls that judges or changes the key. Returns
 * RESUMABLE_OK, RESUMABLE_E_SUPERSEDED (KEEP: another process has the key; TAKE: taken, but
 * what the entry holds from earlier is stale), RESUMABLE_E_STATE (TRY: busy) or a store error.
 * rs_key_unlock follows every rs_key_lock. Under entry->mu. */
int rs_key_lock(resumable_exchange *ex, resumable_key_lock_mode mode);
void rs_key_unlock(resumable_exchange *ex);
/* Close the entry's open partial, if any, without syncing (its unsynced bytes are dropped),
 * and drop the bytes still queued for its hash. Under entry->mu. */
void rs_close_partial(resumable_exchange *ex);

/* Gather the stored state for the entry's key (under entry->mu) and judge the request against
 * it. On a store error the reply is decided (500/507/409) and the error returned. */
int rs_judge(resumable_exchange *ex, rs_stored *st, rs_decision *d);
/* Build the reply of a decision that needs no stored data (text, 401, 405, 416, 308, 204). */
void rs_exchange_reply_decision(resumable_exchange *ex, const rs_decision *d);
/* Close the entry's open partial (unsynced bytes are dropped with it) and remove the key's
 * partial from the store. Under entry->mu. Returns RESUMABLE_OK or a store error. */
int rs_drop_partial(resumable_exchange *ex);
/* HEAD, GET, DELETE once the state is needed (exchange_meta.c). Releases the entry. */
void rs_meta_begin(resumable_exchange *ex);

/* Build the 200 of step 10 for a complete file of `size` bytes with digest `sha`. */
void rs_exchange_reply_done(resumable_exchange *ex, uint64_t size, const uint8_t sha[32]);

/* Shared by the dialects' executors (exchange_put.c), under entry->mu. */
/* Make bytes 0..held-1 and the running hash durable; on failure the handle is closed. */
int rs_put_sync(resumable_exchange *ex);
/* A new, empty partial for the entry's key described by `info` (its hash state is set here). */
int rs_put_create(resumable_exchange *ex, resumable_partial_info *info);
/* Verify-free commit of the full partial as the complete file with `digest`, then the 200. */
void rs_put_commit(resumable_exchange *ex, const uint8_t digest[32]);
/* Content-Digest of a LocalAI PUT (exchange_put.c): parse it once the request is judged
 * without state; 0 to go on, 1 when the reply is decided (400 for a malformed field). */
int rs_put_content_digest(resumable_exchange *ex);
/* Before the body of a request whose Content-Digest is being verified (ex->rd active): sync the
 * partial if needed and mark the bytes to come provisional, so that a mismatch, a short or a cut
 * body rolls back to here (verify_request in exchange_put.c answers). Under e->mu, with the
 * entry's partial open. RESUMABLE_OK, or a store error with the reply decided. Another dialect's
 * executor (the IETF PATCH) calls rs_put_content_digest and this the same way. */
int rs_put_digest_begin(resumable_exchange *ex);
/* The status of a per-request digest mismatch in the LocalAI dialect (docs/protocol.md). */
#define RS_CONTENT_DIGEST_MISMATCH 422
/* The Want-Content-Digest value (RFC 9530 section 4) of the LocalAI HEAD and the draft's
 * OPTIONS, HEAD and 422: both algorithms the request digests accept, sha-256 preferred. */
#define RS_WANT_CONTENT_DIGEST "sha-256=10, sha-512=3"
/* The running digest of the entry's partial (its hash pipe drained first). */
void rs_put_digest(resumable_exchange *ex, uint8_t digest[32]);

#endif
