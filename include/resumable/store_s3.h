#ifndef RESUMABLE_STORE_S3_H
#define RESUMABLE_STORE_S3_H

#include <stdint.h>

#include "export.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The S3 store: uploads kept in an S3-compatible bucket (AWS S3, Ceph RADOS Gateway, MinIO...),
 * so that any number of servers sharing the bucket can resume any upload. Built when the library
 * is configured with -Ds3=enabled (the default where libcurl is found); otherwise every function
 * below returns RESUMABLE_E_STATE.
 *
 * Layout in the bucket, under the configured key prefix P (docs/storage.md, "The S3 store"):
 *   P<key>                                  complete objects
 *   P.resumable/up/<hex>/state-<seq>        a partial upload's state records
 *   P.resumable/up/<hex>/tail-<seq>-<id>    its bytes that do not fill a part yet
 *   P.resumable/sums/<hex>/<token>          a complete object's size and SHA-256
 *   P.resumable-part/<id>                   a whole tus concatenation part (sealed)
 * where <hex> is the lower-case hex SHA-256 of the key. A partial is an S3 multipart upload of
 * P<key> plus its state records; bytes below one part size are kept in a tail object and merged
 * into the next part. P + key must fit S3's 1024-byte limit (RESUMABLE_E_CONFLICT otherwise).
 *
 * Durability: partial_sync returns once S3 acknowledged every byte up to `held` (as parts or a
 * tail object) and the state record that names them. A commit completes the multipart upload
 * with the explicit list of parts and ETags recorded by the verified upload, so the object
 * appears only whole.
 *
 * Several servers on one bucket: state records are never overwritten; each writer creates the
 * next one with a conditional PUT (If-None-Match: *), so exactly one writer owns a partial at a
 * time and an older writer (another process that still streams the same key) learns that it was
 * superseded before its next part, at its next sync and before it commits
 * (RESUMABLE_E_SUPERSEDED: the handler answers 423). A part that such a writer still uploads
 * over the owner's makes the owner's commit fail (its recorded ETag no longer matches), and the
 * partial is then dropped: an object is never published torn or with bytes other than those
 * whose SHA-256 the handler verified. Route one key to one server when you can (nginx:
 * `hash $request_uri consistent;`) so that such conflicts stay rare.
 *
 * tus: a partial's metadata and an unknown total (RESUMABLE_LENGTH_UNKNOWN) are kept in its
 * state record; a sync may take back bytes past the last record (a failed Upload-Checksum);
 * concatenation parts (RESUMABLE_PART_PREFIX keys) are accepted by the partial ops, and a part
 * made whole is sealed: its upload completed as P.resumable-part/<id>, readable by partial_read.
 *
 * Not supported: partial_read below the last part boundary of anything but a sealed part (S3
 * cannot read the parts of an unfinished upload; the state record always keeps the running hash,
 * so the handler never needs it) and complete_path (there is no local file). A reader (complete_open) streams one GET; if
 * the object is replaced while it reads and the read must be restarted, the read fails
 * (RESUMABLE_E_IO) instead of mixing versions.
 *
 * Threads: the store is safe for the handler's use (many keys at once). Each partial or staging
 * handle that writes more than one part starts one thread of its own that uploads parts while the
 * next arrives, joined by partial_close; it blocks all signals. Memory per writing handle: one
 * part buffer (the part size); per reader about 256 KiB.
 */

/* Configuration for resumable_store_s3_new. One thread at a time; the store copies what it needs,
 * so the configuration may be freed or reused once the store exists. */
typedef struct resumable_s3_config resumable_s3_config;

/* How bucket and key go into the URL. */
typedef enum resumable_s3_addressing {
  RESUMABLE_S3_PATH_STYLE = 0,  /* <endpoint>/<bucket>/<key> (Ceph, MinIO; the default) */
  RESUMABLE_S3_VIRTUAL_HOST = 1 /* <scheme>://<bucket>.<host>/<key> (AWS) */
} resumable_s3_addressing;

/* A configuration with the defaults: region "us-east-1", no prefix, path-style addressing,
 * credentials from the environment (see set_credentials), part size 8 MiB, orphan age one day.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL out), RESUMABLE_E_NOMEM,
 * RESUMABLE_E_STATE (built without S3). */
RESUMABLE_EXPORT int resumable_s3_config_new(resumable_s3_config **out);
/* Free a configuration (secrets are zeroed first). NULL is a no-op. */
RESUMABLE_EXPORT void resumable_s3_config_free(resumable_s3_config *cfg);

/* The setters below copy their strings and are checked at once. Each returns RESUMABLE_OK,
 * RESUMABLE_E_INVALID_ARG (NULL cfg or a value out of its rules, the configuration unchanged),
 * RESUMABLE_E_NOMEM, or RESUMABLE_E_STATE (built without S3). */

/* Required: "http://host[:port]" or "https://host[:port]", an optional trailing '/', no path. */
RESUMABLE_EXPORT int resumable_s3_config_set_endpoint(resumable_s3_config *cfg, const char *url);
/* Required: 3..63 characters of lower-case letters, digits, '.' and '-'. The bucket must exist. */
RESUMABLE_EXPORT int resumable_s3_config_set_bucket(resumable_s3_config *cfg, const char *bucket);
/* The SigV4 signing region, 1..63 characters of letters, digits and '-'. */
RESUMABLE_EXPORT int resumable_s3_config_set_region(resumable_s3_config *cfg, const char *region);
/* Key prefix P of every object (e.g. "uploads/"), 0..512 bytes of printable ASCII or UTF-8, no
 * backslash, no empty, "." or ".." segment before its last '/'. "" or NULL for none. */
RESUMABLE_EXPORT int resumable_s3_config_set_prefix(resumable_s3_config *cfg, const char *prefix);
RESUMABLE_EXPORT int resumable_s3_config_set_addressing(resumable_s3_config *cfg,
                                                        resumable_s3_addressing addressing);
/* Explicit credentials (`session_token` may be NULL). Without this call the store reads
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN when it is created. Access
 * key and secret must be non-empty printable ASCII, the access key without ':'. */
RESUMABLE_EXPORT int resumable_s3_config_set_credentials(resumable_s3_config *cfg,
                                                         const char *access_key,
                                                         const char *secret_key,
                                                         const char *session_token);
/* Size of each multipart part and of the one buffer a writing handle holds, 5 MiB to 1 GiB. An
 * upload whose total would need more than 10000 parts uses larger parts (total / 10000,
 * rounded up to a MiB); an upload of unknown length (a chunked whole-file PUT) is limited to
 * 10000 parts (RESUMABLE_E_NOSPACE beyond). */
RESUMABLE_EXPORT int resumable_s3_config_set_part_size(resumable_s3_config *cfg, uint64_t bytes);
/* Multipart uploads that no state record names (left by a process that died between creating
 * one and recording it, or by an unfinished whole-file PUT) are aborted by partial_scan (so by
 * resumable_server_sweep) once they are older than this many seconds (default 86400). */
RESUMABLE_EXPORT int resumable_s3_config_set_orphan_age(resumable_s3_config *cfg, uint64_t seconds);

/* An S3 store on `cfg` (not kept: it may be freed afterwards). Nothing is sent to S3 yet: a wrong
 * endpoint, bucket or credential shows as RESUMABLE_E_IO from the first op (the handler answers
 * 500 and logs it). Free the store with resumable_store_free, or hand it to
 * resumable_server_new_with_store.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL argument, no endpoint or bucket, no
 * credentials set and none in the environment), RESUMABLE_E_NOMEM, RESUMABLE_E_STATE (built
 * without S3). */
RESUMABLE_EXPORT int resumable_store_s3_new(resumable_store **out, const resumable_s3_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
