#ifndef RESUMABLE_SERVER_H
#define RESUMABLE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "log.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The transport-agnostic server handler.
 *
 * It never touches a socket. A host HTTP server drives one *exchange* per request:
 *
 *   resumable_exchange_begin(srv, method, raw_path, &ex);
 *   for each request header: resumable_exchange_add_header(ex, name, value);
 *   if (resumable_exchange_headers_done(ex) == RESUMABLE_REPLY_DECIDED) -> send the reply now,
 *     do not read the body (see "Early answers" below)
 *   else: for each piece of body:
 *     if (resumable_exchange_feed(ex, buf, n) == RESUMABLE_REPLY_DECIDED) stop reading
 *   resumable_exchange_end(ex, RESUMABLE_BODY_COMPLETE or RESUMABLE_BODY_DROPPED);
 *   send resumable_exchange_status / _header_at / _read_body; resumable_exchange_free(ex).
 *
 * Dialects: a request is judged in the tus 1.0.0 dialect when it carries `Tus-Resumable` or is an
 * OPTIONS (creation with POST, PATCH, HEAD, DELETE, with the extensions creation,
 * creation-with-upload, creation-defer-length, termination, expiration, checksum and
 * concatenation); otherwise in the LocalAI dialect (PUT/HEAD/GET/DELETE). Both work on the same
 * store and the same per-key state: an upload begun in one can be probed and finished in the
 * other (docs/protocol.md, "Dialects"). A host needs nothing dialect-specific: it hands over
 * every method, header and body alike (POST, PATCH and OPTIONS included) and sends whatever
 * status comes back (tus uses 201, 204, 410, 412, 415 and 460).
 *
 * Answering from the headers alone (401, 400, 404, 405, 409, 413, 416, an "already there" 200)
 * lets `Expect: 100-continue` clients stop before sending a refused body. Other clients send
 * the body anyway: a host should read and discard it to its end (no feed) and deliver the
 * reply, closing early only for a 401 or a body without a declared length (docs/protocol.md,
 * "Early answers").
 *
 * Threading: a resumable_server is safe to use from many threads at once once configured (the
 * setters are not: call them before the first exchange; while an exchange is alive, from begin
 * to free, they refuse with RESUMABLE_E_STATE and change nothing). One exchange belongs to one
 * thread at a time. Exchanges for the same key may run concurrently: a newer PUT supersedes an
 * older one, whose next feed answers 423; bytes of two requests never interleave. The same
 * holds between servers in different processes (or hosts) on one store, when the store has the
 * key_lock ops (the POSIX store does: several servers may share one root, docs/storage.md).
 *
 * Threads of its own: a server hashes request bodies on a small fixed pool of threads that it
 * starts in resumable_server_new / _new_with_store (2 by default, see
 * resumable_server_set_hash_threads) and joins in resumable_server_free; the handler creates
 * no other thread (the default POSIX store adds two of its own: see resumable_store_fs_new). They run only SHA-256 over copies of body bytes (never a store op, never a
 * callback) with every signal blocked. A feed copies the piece into a bounded queue and
 * returns; the hash catches up off the caller's thread, and every decision that depends on it
 * (the final digest check, the hash state saved with a 308/sync, a superseding request) waits
 * for the queue to drain first. Memory for queued bytes is bounded: at most 4 MiB per upload in
 * progress and 8 MiB per hash thread in all; a feed that finds no free buffer waits for its own
 * queue to move, or hashes on the caller's thread.
 *
 * Durability: when an exchange ends with 308 (or as dropped), every byte counted in its
 * X-File-Size has been made durable by the store (partial_sync) before the reply is readable.
 * A 200 for a PUT is readable only after the complete file is committed (fsync, rename, fsync of
 * the directory).
 */

typedef struct resumable_server resumable_server;
typedef struct resumable_exchange resumable_exchange;

/* The positive return of resumable_exchange_headers_done and resumable_exchange_feed (the only
 * functions that return one, see resumable/error.h): the reply is decided, the host reads no
 * more of the body for the handler. Not an error: the reply may be any status, 200 included. */
#define RESUMABLE_REPLY_DECIDED 1

/* How the request body ended. */
typedef enum resumable_body_end {
  RESUMABLE_BODY_COMPLETE = 0, /* the host received the whole body */
  RESUMABLE_BODY_DROPPED = 1   /* the connection closed or failed before the body ended */
} resumable_body_end;

/* fork(): the library installs no pthread_atfork handler. A child process has only the thread
 * that called fork(), so the threads of a server and its store (the hash threads; the POSIX
 * store's flusher and key-owner threads; the S3 store's part uploaders) do not exist there,
 * and locks they held stay held: a child must not use or free a server, exchange or store
 * created before the fork (freeing would join threads that are gone), only exec or _exit. Make
 * them after the fork, in each process that serves (the nginx module does, per worker). The
 * store's descriptors are close-on-exec; until a child execs or exits it shares their open file
 * descriptions, so the POSIX store's key ownership (OFD locks) stays held by them meanwhile. */

/* A server on the POSIX store rooted at `root` (see resumable_store_fs_new). Defaults: prefix
 * "/v1/files/", no maximum size, no token, no log, local paths not exposed, 2 hash threads
 * (started here: see "Threads of its own" above).
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_NOMEM (also when the hash threads
 * cannot be started), RESUMABLE_E_NOFD, RESUMABLE_E_IO. On error *out is NULL. */
RESUMABLE_EXPORT int resumable_server_new(resumable_server **out, const char *root);

/* A server on any store. Takes ownership of `store` on success (freed with the server); on
 * error the caller still owns it. Same defaults and errors as resumable_server_new. */
RESUMABLE_EXPORT int resumable_server_new_with_store(resumable_server **out,
                                                     resumable_store *store);

/* Free the server and its store, and join its hash threads. NULL is a no-op.
 * Returns RESUMABLE_OK, or RESUMABLE_E_STATE while an exchange of this server is alive (begun
 * and not yet freed): then nothing is freed, and the host frees the server after its last
 * exchange. */
RESUMABLE_EXPORT int resumable_server_free(resumable_server *srv);

/* URL prefix the keys live under; must start and end with '/'. Copied.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_NOMEM, RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_server_set_prefix(resumable_server *srv, const char *prefix);

/* Largest file accepted, in bytes; 0 means no limit (default). Larger uploads get 413.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL srv), RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_server_set_max_size(resumable_server *srv, uint64_t max_size);

/* Require `Authorization: Bearer <token>` on every request (compared in constant time); NULL
 * or "" turns it off (default). Copied.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_NOMEM, RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_server_set_token(resumable_server *srv, const char *token);

/* Number of hash threads (0..64): 0 hashes every body on the thread that feeds it (no thread
 * is started; feeds then cost the hash), n > 0 replaces the pool with one of n threads. The
 * default is 2. Call it only while no exchange is alive (like every setter, before the first
 * one). Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL srv, n > 64), RESUMABLE_E_NOMEM
 * (threads could not be started; the previous setting stays), RESUMABLE_E_STATE (an exchange is
 * alive). */
RESUMABLE_EXPORT int resumable_server_set_hash_threads(resumable_server *srv, unsigned n);

/* How often a long Content-Range body is checkpointed while it arrives: its bytes synced and
 * its running hash saved, so that a crash of the server loses only what came after. A
 * checkpoint is taken once `bytes` have arrived and `interval_ms` milliseconds have passed
 * since the last one (or the body's start): a crash loses at most `bytes` or `interval_ms` of
 * transfer, whichever is more. Defaults: 64 MiB and 1000 ms. Each checkpoint waits for the hash
 * and the disk, so more frequent ones cost throughput on fast links; a dropped connection or a
 * short body is always synced at its end whatever these say. `bytes` 0 means every feed.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL srv), RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_server_set_checkpoint(resumable_server *srv, uint64_t bytes,
                                                     uint32_t interval_ms);

/* The age at which the host expires partial uploads with resumable_server_sweep, in seconds
 * (0, the default: they do not expire). The handler does not sweep by itself: it uses the value
 * to tell tus clients when an upload expires (Upload-Expires: the partial's last change plus
 * `seconds`) and to answer 410 Gone (removing it) for a tus request on a partial older than
 * that which the sweep has not removed yet. Pass the same value as to the sweep.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL srv), RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_server_set_partial_ttl(resumable_server *srv, uint64_t seconds);

/* Log callback (resumable/log.h; NULL turns logging off): one line for every refused request
 * and every storage failure. It may be called from any thread that drives an exchange,
 * concurrently: it must be thread-safe.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL srv), RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_server_set_log(resumable_server *srv, resumable_log_fn fn,
                                              void *user_data);

/* Expose local paths (X-Local-Path on HEAD of a complete file, "local_path" in the final JSON)
 * for LocalAI's client; off by default. Needs a store with complete_path.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_server_set_expose_paths(resumable_server *srv, int on);

/* Remove abandoned partial uploads: every partial whose store mtime (see
 * resumable_store_ops.partial_scan; for the POSIX store, the last write or sync of its files) is
 * at least `max_age_seconds` old. A partial that an exchange is using is skipped: the sweep takes
 * the same per-key lock as exchanges and checks the age again under it, so an upload in
 * progress is never cut. The complete files are never touched.
 * The library starts no thread: a host calls this periodically (resumable-serve does, see its
 * --partial-ttl). Thread-safe: it may run while exchanges run, from any thread.
 * *removed (may be NULL) gets the number of partials removed.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL srv), RESUMABLE_E_STATE (the store has no
 * partial_scan), RESUMABLE_E_NOMEM, or a store error (partials removed before it still count;
 * a key whose removal fails is skipped and the sweep goes on, returning the first error). */
RESUMABLE_EXPORT int resumable_server_sweep(resumable_server *srv, uint64_t max_age_seconds,
                                            size_t *removed);

/* Begin an exchange. `method` is the request method ("PUT"...), `raw_path` the request target's
 * path as received (still percent-encoded; a query string is ignored). Both are copied.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (a NULL argument), RESUMABLE_E_NOMEM.
 * A path outside the prefix or a bad key is not an error here: the reply will say 404/400. */
RESUMABLE_EXPORT int resumable_exchange_begin(resumable_server *srv, const char *method,
                                              const char *raw_path, resumable_exchange **out);

/* Hand over one request header (names are case-insensitive; call once per header line, in
 * order; repeated headers are detected). Only headers the protocol uses are kept, so memory does
 * not grow with unrelated headers. Call only before resumable_exchange_headers_done.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_NOMEM, RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_exchange_add_header(resumable_exchange *ex, const char *name,
                                                   const char *value);

/* All headers are in: judge the request. Returns
 *   0: the body is wanted: feed it (or call resumable_exchange_end at once for a request
 *      without a body);
 *   RESUMABLE_REPLY_DECIDED (1): the reply is already decided; the host sends it without
 *      feeding the body (resumable_exchange_feed would return 1 again, and
 *      resumable_exchange_end may still be called and does nothing);
 *   RESUMABLE_E_STATE (called twice) or RESUMABLE_E_INVALID_ARG (NULL ex).
 * Storage failures are not returned: they become a 500/507 reply (503 with Retry-After when
 * the store is out of file descriptors), with RESUMABLE_REPLY_DECIDED. */
RESUMABLE_EXPORT int resumable_exchange_headers_done(resumable_exchange *ex);

/* Feed the next `len` body bytes (any split; `len` 0 does nothing). Returns
 *   0: go on;
 *   RESUMABLE_REPLY_DECIDED (1): the reply is now decided (superseded: 423; body longer than
 *      announced: 400; over the maximum size: 413; storage failure: 500/503/507), or was
 *      decided earlier (by headers_done, a previous feed or resumable_exchange_end). The host
 *      stops reading and sends the reply, which says what the server keeps (X-File-Size);
 *   RESUMABLE_E_STATE (headers not judged yet) or RESUMABLE_E_INVALID_ARG (NULL ex, or NULL
 *      data with `len` > 0). */
RESUMABLE_EXPORT int resumable_exchange_feed(resumable_exchange *ex, const void *data, size_t len);

/* The body ended (or the connection dropped). Keeps the bytes that arrived, verifies and commits
 * a finished upload, and decides the reply. Calling it after a decided reply is allowed and does
 * nothing. Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG. */
RESUMABLE_EXPORT int resumable_exchange_end(resumable_exchange *ex, resumable_body_end how);

/* The reply's HTTP status (0 while undecided). */
RESUMABLE_EXPORT int resumable_exchange_status(const resumable_exchange *ex);

/* Number of reply headers, and the i-th one (0-based). Content-Length is not among them: the
 * host sets it from resumable_exchange_body_length. Pointers stay valid until the exchange is
 * freed. resumable_exchange_header_at returns RESUMABLE_OK or RESUMABLE_E_INVALID_ARG. */
RESUMABLE_EXPORT size_t resumable_exchange_header_count(const resumable_exchange *ex);
RESUMABLE_EXPORT int resumable_exchange_header_at(const resumable_exchange *ex, size_t i,
                                                  const char **name, const char **value);

/* Length of the reply body in bytes. For HEAD this is the length to advertise in
 * Content-Length; no body is read or sent. */
RESUMABLE_EXPORT uint64_t resumable_exchange_body_length(const resumable_exchange *ex);

/* Read the next bytes of the reply body (a short text, a JSON object, or a file for GET) into
 * buf; *got is 0 at the end. Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_IO. */
RESUMABLE_EXPORT int resumable_exchange_read_body(resumable_exchange *ex, void *buf, size_t cap,
                                                  size_t *got);

/* The decoded key ("" if the path had none or it was invalid) and the body bytes received, for
 * the host's access log. The string lives as long as the exchange. */
RESUMABLE_EXPORT const char *resumable_exchange_key(const resumable_exchange *ex);
RESUMABLE_EXPORT uint64_t resumable_exchange_bytes_received(const resumable_exchange *ex);

/* The client metadata of the upload this exchange worked on (tus `Upload-Metadata`, exactly as
 * the client sent it at creation and validated: comma-separated "key base64value" pairs), or ""
 * when it has none or the exchange is not judged yet. For a creation it is the request's; for a
 * PATCH or HEAD the one kept with the upload (at most RESUMABLE_METADATA_MAX bytes). It stays
 * readable on the exchange that completes the upload, after the commit: a host that wants to
 * keep it beside the file reads it there (the store drops it with the partial). Lives as long
 * as the exchange; "" for a NULL exchange. */
RESUMABLE_EXPORT const char *resumable_exchange_upload_metadata(const resumable_exchange *ex);

/* Free the exchange. An exchange that was never ended is ended as RESUMABLE_BODY_DROPPED first
 * (its bytes are kept). NULL is a no-op. The exchange counts as alive for its server (whose
 * setters and free refuse with RESUMABLE_E_STATE) until this call. */
RESUMABLE_EXPORT void resumable_exchange_free(resumable_exchange *ex);

#ifdef __cplusplus
}
#endif
#endif
