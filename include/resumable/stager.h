#ifndef RESUMABLE_STAGER_H
#define RESUMABLE_STAGER_H

#include <stdint.h>

#include "error.h"
#include "export.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The client stager: gets one local file onto a server that speaks the libresumable protocol
 * (docs: PROTOCOL.md, "Client (stager) behaviour"), whatever the network does, sending each byte
 * about once. It runs on libcurl.
 *
 *   resumable_stager *s;
 *   if (resumable_stager_new(&s, "https://host/v1/files/model.bin", "model.bin") == RESUMABLE_OK) {
 *     resumable_stager_set_time_budget_ms(s, 10 * 60 * 1000);
 *     int rc = resumable_stager_run(s);               (blocks until done, failed or cancelled)
 *     printf("%d %s\n", rc, resumable_stager_message(s));
 *     resumable_stager_free(s);
 *   }
 *
 * What run does: hash the file (SHA-256, unless given or found in the hash cache); probe with HEAD; resume where the server
 * stands (or start at 0, or stop at once when the server already has the file); PUT the rest as
 * `Content-Range: bytes <off>-<end>/<size>` with `X-Content-SHA256` (in one PUT, or in chunks);
 * on transient failures (connection errors, timeouts, stalls, 408, 423, 429, 5xx) wait with
 * exponential backoff and jitter (honouring Retry-After), re-probe and continue; restart from 0 on
 * 409 or on a failed final hash check (at most twice in a row); stop at once on other refusals.
 * A 416 that says the server holds every byte, in answer to the PUT that asks it to finish a
 * held upload, means it is still committing (an older LocalAI): wait and re-probe likewise.
 * The time budget bounds every wait and every request. A zero-length file is one PUT of an empty
 * body without Content-Range; a server that answers HEAD with 405 or without
 * `Accept-Ranges: bytes` gets one whole-file PUT. A chunk that does not reach the end of the
 * file is taken as progress only when the answer says what the server holds (308, or a 2xx with
 * X-File-Size or Range); a bare 2xx means the server ignores Content-Range (each PUT replaced
 * the file), so the stager sends the whole file without Content-Range instead. Success is
 * reported only for an answer to a PUT that reached the end of the file, and only when its
 * X-File-Size and X-Content-SHA256, when present, match the file; or for an answer to a chunk
 * that carries the file's own X-Content-SHA256 and size (the server vouches for the whole file).
 * An answer to a chunk that claims the whole file (X-File-Size or Range) without that hash is
 * taken as holding what was sent: the stager sends the rest.
 *
 * Relays that cut every connection after about the same number of bytes (a proxy or tunnel
 * with a per-connection byte cap): each cut loses what was in flight and, taken as an ordinary
 * failure, would cost a backoff wait. A PUT whose connection breaks while its body goes out is
 * judged by what the connection carried before it broke (what the next HEAD says reached the
 * server, plus the bodies of earlier requests on that connection). After the first such cut the
 * next PUT goes on a new connection and carries slightly more than that count (an eighth, at
 * most 128 KiB); a relay that caps connections cuts it again near the same count (within a
 * quarter), which confirms the cap: from then on, for the rest of the run, every PUT carries at
 * most 15/16 of it, each on a new connection, and nothing is cut any more. A cut is judged
 * once the server's count has settled: bytes of the cut request still in the server's socket
 * would be lost to a request that takes the key over. So unless the server holds every byte it
 * wrote, the stager probes again every 40 ms until two answers agree (at most 12 probes, within
 * the budget). These retries then come at once, without a backoff wait; a count that keeps
 * moving gets the usual wait first. Cuts at scattered counts, or of connections that carried
 * under 16 KiB, are ordinary failures (a test PUT that carried that little is repeated once);
 * a suspected count refuted by an answer makes the next PUT go on a new connection too. What
 * sat in the relay's and the kernels' buffers when a cut came is lost: megabytes on a fast path
 * for a PUT of the rest of the file, at most a test PUT's overshoot once the PUTs are fitted.
 *
 * The local file must not change during the upload. The stager records it when the run starts
 * (size, mtime, ctime, device and inode of the open descriptor) and checks it before every
 * request and once more after the final answer: a file that grew or shrank, was rewritten (also
 * with its mtime put back: ctime still moves), renamed, relinked, or (for a stager made with
 * resumable_stager_new) whose path now names another file or nothing, fails the run with
 * RESUMABLE_E_FILE and a message that says what changed. Before the last request the upload is
 * not finished; after it the server holds the version that was hashed, and the message says so:
 * run again to send the current version.
 *
 * Threading: a stager handle is used by one thread at a time (like a curl easy handle). In the
 * tus dialect with checksums, a run computes the next request's checksum on one helper thread of
 * its own while the current request is sent (every signal blocked; it only reads the file and
 * hashes); it is joined before the run returns.
 * Independent handles may run in parallel on different threads. The progress and log callbacks
 * run on the thread that called resumable_stager_run, during that call. libcurl needs a global
 * initialisation (curl_global_init) before it is used: resumable_stager_new does it once for the
 * process (pthread_once), which is safe with the libcurl this library is built against when
 * libcurl's init is thread-safe (7.84.0 and later). A program that must control this (older
 * libcurl, its own libcurl use, leak checkers that want everything released) calls
 * resumable_global_init() in main before starting threads and resumable_global_cleanup() at the
 * end.
 *
 * Strings passed to setters are copied; the caller may free them after the call returns.
 * Pointers returned by getters live until the next resumable_stager_run or
 * resumable_stager_free on the same handle.
 */

typedef struct resumable_stager resumable_stager;

/* Initialise libcurl for the whole process: exactly one curl_global_init(CURL_GLOBAL_DEFAULT)
 * (libcurl and its TLS library), nothing else. The server handler needs no global
 * initialisation (its SHA-256 code is chosen once, lazily and thread-safely, at first use), so
 * a program that only serves never calls this. Optional for the stager too (see the threading
 * note above): resumable_stager_new makes the same call once per process if it was not made,
 * and never undoes it. Call it before other threads use libcurl; libcurl counts the calls, so
 * each successful one is matched by one resumable_global_cleanup. Not thread-safe (libcurl's
 * rule for curl_global_init before 7.84.0).
 * Returns RESUMABLE_OK or RESUMABLE_E_NOMEM (libcurl could not initialise: out of memory, or
 * its TLS library failed to start). */
RESUMABLE_EXPORT int resumable_global_init(void);

/* Undo one resumable_global_init: one curl_global_cleanup (libcurl is released at the last
 * one). No stager may be alive, and no other thread may be using libcurl. */
RESUMABLE_EXPORT void resumable_global_cleanup(void);

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* fork(): the library installs no pthread_atfork handler. A stager, like the curl easy handle
 * inside it, belongs to the process that made it: a child must not run or free a stager made
 * before the fork (freeing would close connections the parent still uses, and a run's tus
 * checksum helper thread does not exist in the child); it makes its own stagers. The file a
 * stager opens and the sockets of its connections are close-on-exec (the sockets from their
 * creation): a program the application execs mid-upload does not hold the connection open
 * after the stager closes it. */

/* A stager that uploads the file at `path` to `url` (the full URL of the key, e.g.
 * "http://host:8080/v1/files/a/b.bin", already percent-encoded where needed). The URL must start
 * with "http://" or "https://" (any case) and contain no whitespace or control bytes; it is
 * copied. The file is opened now (read-only, close-on-exec) and must be a regular file; it is
 * closed by resumable_stager_free. `path` is copied too: each run checks that it still names the
 * file that was opened (see "must not change" above). Every option has its documented default.
 * Returns RESUMABLE_OK; RESUMABLE_E_INVALID_ARG (NULL argument, bad URL); RESUMABLE_E_FILE (the
 * file cannot be opened or is not a regular file); RESUMABLE_E_NOFD (no file descriptor left);
 * RESUMABLE_E_NOMEM. On error *out is NULL. */
RESUMABLE_EXPORT int resumable_stager_new(resumable_stager **out, const char *url,
                                          const char *path);

/* Like resumable_stager_new for an already open file descriptor. `fd` is duplicated (with
 * close-on-exec): the caller keeps ownership of `fd` and may close it as soon as this returns;
 * the stager closes its duplicate in resumable_stager_free. The file is read with pread only, so
 * the shared file offset is never moved. `fd` must be open for reading on a regular file. There
 * is no path to check for replacement; the descriptor's own checks still apply.
 * Returns as resumable_stager_new (RESUMABLE_E_FILE for a bad fd or a non-regular file). */
RESUMABLE_EXPORT int resumable_stager_new_fd(resumable_stager **out, const char *url, int fd);

/* Free the stager, its libcurl handle and its file descriptor. NULL is a no-op. Must not be
 * called from inside a callback of the same stager. */
RESUMABLE_EXPORT void resumable_stager_free(resumable_stager *s);

/* ---- options ------------------------------------------------------------------------------- */
/* Every setter returns RESUMABLE_OK; RESUMABLE_E_INVALID_ARG for a NULL stager or a value
 * outside its documented range (the option then keeps its previous value); RESUMABLE_E_NOMEM for
 * copied strings; RESUMABLE_E_STATE when called during resumable_stager_run (from a callback).
 * Options take effect at the next resumable_stager_run. */

/* Overall time budget of one resumable_stager_run, from its start (hashing included) to its end,
 * in milliseconds. 1 .. 2^53. Default 3600000 (1 hour). When it ends, run fails with
 * RESUMABLE_E_TIMEOUT and a message saying how many bytes the server holds. Every wait and every
 * request is cut to fit the remaining budget. */
RESUMABLE_EXPORT int resumable_stager_set_time_budget_ms(resumable_stager *s, uint64_t ms);

/* Backoff between attempts after a transient failure: the first wait is about `min_ms`, each
 * further consecutive failure doubles it, up to `max_ms` (then jittered, see
 * resumable_stager_set_jitter). Progress that moved bytes resets it to `min_ms`. Requires
 * 1 <= min_ms <= max_ms <= 86400000. Default 1000 / 30000. A Retry-After from the server
 * (seconds or HTTP-date) is honoured: the wait lasts at least that long, even beyond max_ms.
 * Every wait is bounded by the budget: when a wait would not end before the budget does, run
 * fails at once with RESUMABLE_E_TIMEOUT rather than sleep to no purpose. */
RESUMABLE_EXPORT int resumable_stager_set_backoff_ms(resumable_stager *s, uint64_t min_ms,
                                                     uint64_t max_ms);

typedef enum resumable_jitter {
  RESUMABLE_JITTER_NONE = 0, /* wait exactly the computed step d */
  RESUMABLE_JITTER_FULL = 1, /* uniform in [0, d] */
  RESUMABLE_JITTER_EQUAL = 2 /* d/2 + uniform in [0, d/2] */
} resumable_jitter;

/* How the backoff step is randomised, so that many clients do not retry in lock-step. Default
 * RESUMABLE_JITTER_EQUAL. Any other value is RESUMABLE_E_INVALID_ARG. */
RESUMABLE_EXPORT int resumable_stager_set_jitter(resumable_stager *s, resumable_jitter mode);

/* Bytes per PUT. 0 (the default) sends the whole remainder in one PUT; any other value sends
 * several PUTs of at most `bytes` each (the last may be shorter). After a connection is cut, a
 * relay's cap (see "Relays" above) can make PUTs smaller still. 0 .. 2^63-1. */
RESUMABLE_EXPORT int resumable_stager_set_chunk_size(resumable_stager *s, uint64_t bytes);

/* Per-chunk integrity, so that a link that corrupts bytes costs one resent chunk, not a restart
 * from 0. `mode` 1: always; 0: never; -1 (the default): when the server asks for it and a chunk
 * size is set. LocalAI dialect: each PUT of a chunk carries `Content-Digest: sha-256=:<b64>:`
 * (RFC 9530); the server asks with `Want-Content-Digest` on its HEAD answers; a `422` answer (the
 * digest did not match, the server dropped those bytes) resends that chunk alone, counted by
 * resumable_stager_chunk_resends. The chunk is read once into memory, hashed while it is read,
 * and sent from there (and resent from there), while a helper thread reads and hashes the next
 * one into a second buffer: two chunks are held, so with this on a PUT carries at most 64 MiB
 * (16 MiB when no chunk size is set). A request cut on the way loses its
 * bytes on the server (they cannot be verified), which bounds what a cut costs at one chunk.
 * When the stager hashes the file itself (no resumable_stager_set_sha256), that pass also takes
 * each chunk's SHA-256, so a chunk's digest costs no second hash; with the hash given each chunk
 * is hashed as it is read. tus dialect: `Upload-Checksum` (the `checksum` extension, when the server offers it) is sent
 * for 1 and -1 and not for 0. IETF draft dialect: `Content-Digest` on the creation's content and
 * every PATCH, for 1 (requests are then at most 64 MiB without a chunk size), and for -1 when
 * the OPTIONS or a HEAD answer carries `Want-Content-Digest` and a chunk size is set; a
 * `422` resends that request alone, eight in a row end the run with RESUMABLE_E_HASH_MISMATCH.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (another value),
 * RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_stager_set_chunk_digest(resumable_stager *s, int mode);

/* The file's SHA-256 as 64 hex digits (either case), when the caller already knows it: the
 * hashing pass is skipped and this value is sent as X-Content-SHA256. A wrong value makes the
 * server refuse the final chunk (the upload then fails with RESUMABLE_E_HASH_MISMATCH after the
 * allowed restarts). NULL clears it (the default: hash the file). */
RESUMABLE_EXPORT int resumable_stager_set_sha256(resumable_stager *s, const char *hex);

/* Add one request header "Name: value" to every request (HEAD and PUT). Name must be an HTTP
 * token; no CR, LF or NUL anywhere. The headers the stager controls are refused:
 * Content-Range, Content-Length, Transfer-Encoding, X-Content-SHA256, Expect. Use
 * resumable_stager_set_bearer_token for Authorization. Headers accumulate (default: none). */
RESUMABLE_EXPORT int resumable_stager_add_header(resumable_stager *s, const char *header);

/* Send "Authorization: Bearer <token>" with every request. The token must be non-empty, with
 * bytes 0x21..0x7e only. NULL clears it (the default: no Authorization header). */
RESUMABLE_EXPORT int resumable_stager_set_bearer_token(resumable_stager *s, const char *token);

/* TLS, passed through to libcurl (CURLOPT_CAINFO, CURLOPT_CAPATH, CURLOPT_SSLCERT/SSLKEY, both in
 * PEM). NULL restores libcurl's default (system CA store, no client certificate). `key` may be
 * NULL when the certificate file also holds the key. Paths are not checked here: a bad path fails
 * the run with RESUMABLE_E_NETWORK. */
RESUMABLE_EXPORT int resumable_stager_set_ca_file(resumable_stager *s, const char *path);
RESUMABLE_EXPORT int resumable_stager_set_ca_path(resumable_stager *s, const char *dir);
RESUMABLE_EXPORT int resumable_stager_set_client_cert(resumable_stager *s, const char *cert,
                                                      const char *key);

/* Non-zero: do not verify the server's certificate or host name (like curl --insecure): for
 * trying a server with a self-signed certificate, never for real uploads. Default 0. */
RESUMABLE_EXPORT int resumable_stager_set_insecure(resumable_stager *s, int insecure);

/* Stall detection: a PUT whose body moves fewer than `min_bytes_per_sec` bytes per second over
 * `seconds` seconds is abandoned and counts as a transient failure. The check covers the request
 * while its body is on its way: waiting for 100 Continue, sending, and until the peer's TCP has
 * acknowledged the last byte (where the system tells; Linux). Once the whole body has been
 * delivered, and for a HEAD once it has been sent, the wait for the answer is bounded only by
 * the time budget: a server may rightly work for minutes before it answers (LocalAI hashes the
 * whole file before answering the final chunk, and sometimes before answering HEAD). The
 * "finish" PUT (sent when the server already holds every byte, with Expect: 100-continue, so
 * that it commits without our body) is never subject to the check, since such a server may
 * leave its body unread while it hashes. A
 * connection that dies while we wait is found by TCP keep-alive or the budget. (Earlier
 * versions used CURLOPT_LOW_SPEED_LIMIT/TIME, which also cut off a slow answer.) The connect
 * timeout bounds connecting. `min_bytes_per_sec` 0 disables it. Otherwise both 1 .. 2^31-1. Default
 * 1 byte/s over 30 s. */
RESUMABLE_EXPORT int resumable_stager_set_stall(resumable_stager *s, uint64_t min_bytes_per_sec,
                                                uint64_t seconds);

/* Time allowed to establish a connection (TCP and TLS), in milliseconds, 1 .. 2^31-1, further cut
 * to the remaining budget. A timeout is a transient failure. Default 30000. */
RESUMABLE_EXPORT int resumable_stager_set_connect_timeout_ms(resumable_stager *s, uint64_t ms);

/* Upload rate limit in bytes per second (CURLOPT_MAX_SEND_SPEED_LARGE, like curl --limit-rate).
 * 0 (the default) is unlimited. 0 .. 2^63-1. */
RESUMABLE_EXPORT int resumable_stager_set_max_send_speed(resumable_stager *s,
                                                         uint64_t bytes_per_sec);

/* Non-zero: libcurl writes its verbose trace to stderr (CURLOPT_VERBOSE). Default 0. */
RESUMABLE_EXPORT int resumable_stager_set_verbose(resumable_stager *s, int on);

/* A directory for a persistent cache of local files' SHA-256, so that a later run (in this or
 * another process, e.g. after an interruption) skips the hashing pass for a file it has hashed
 * before. NULL (the default) turns it off; "" is RESUMABLE_E_INVALID_ARG. The path is copied and
 * used as given (a relative path is resolved at run time). resumable-upload passes
 * "$XDG_CACHE_HOME/libresumable" (or "$HOME/.cache/libresumable").
 *
 * The cache is one file, <dir>/hashes-v1 (the directory and missing parents are created with
 * mode 0700), of at most 1024 entries, newest first; the oldest are evicted. An entry is keyed
 * by the file's device, inode, size, mtime and ctime (nanoseconds), so a file that was edited,
 * replaced, or edited and given its old mtime back is hashed again. A hash is stored only when
 * the file did not change while it was read and its timestamps are older than the file
 * system's clock granularity allows an unnoticed edit (about 100 ms; 2 s on file systems with
 * whole-second timestamps): a file written a moment ago is hashed, not cached. The file is
 * replaced atomically (temporary file, fsync, rename), so several processes may share the
 * directory: each sees either the old or the new cache, and two writing at once may lose one
 * entry, never corrupt the file. The file carries a version and a checksum; a corrupt or foreign
 * file is ignored and replaced at the next store. Cache problems never fail the upload (a failed
 * write is logged as a warning). Its entries are only a shortcut: the server still checks every
 * byte it receives against the hash. */
RESUMABLE_EXPORT int resumable_stager_set_hash_cache_dir(resumable_stager *s, const char *dir);

/* ---- the tus dialect ------------------------------------------------------------------------ */

typedef enum resumable_protocol {
  RESUMABLE_PROTOCOL_LOCALAI = 0, /* PUT + Content-Range (docs/protocol.md); URL names the key */
  RESUMABLE_PROTOCOL_TUS = 1,     /* tus 1.0.0; URL is the creation endpoint */
  RESUMABLE_PROTOCOL_AUTO = 2,    /* one OPTIONS first: a Tus-Version listing 1.0.0 means tus */
  RESUMABLE_PROTOCOL_IETF = 3     /* the IETF draft "Resumable Uploads for HTTP", interop
                                     version 8; URL is the creation URL */
} resumable_protocol;

/* The wire protocol (default RESUMABLE_PROTOCOL_LOCALAI, so that a program built before tus
 * sends exactly what it did; resumable-upload defaults to AUTO).
 *
 * TUS speaks tus 1.0.0 (tus.io) to any tus server (tusd, @tus/server, resumable-serve): an
 * OPTIONS learns the server's extensions; the upload is created with POST to the URL (the
 * creation endpoint, e.g. "https://host/files/"; resumable-serve takes its prefix, where the key
 * comes from the "filename" metadata, or "<prefix><key>"), with the first bytes in the same
 * request when the server offers creation-with-upload; then HEAD + PATCH resume it through
 * failures with the same budget, backoff, stall check, rate limit and progress as the LocalAI
 * dialect. X-Content-SHA256 is sent with every request (resumable-serve verifies it; others
 * ignore it). When the server offers the checksum extension, every PATCH carries an
 * Upload-Checksum (sha256 when listed, else sha1): a request the server finds corrupted (460)
 * is sent again once at once. Before creating, the upload URL of an earlier run is looked up in
 * the URL store (resumable_stager_set_url_store_dir), and a URL that names the key on
 * resumable-serve is asked directly: an upload the server holds in part is resumed, one it holds
 * whole (same length and, when it says, same SHA-256) is not sent again.
 *
 * AUTO sends one OPTIONS to the URL: a Tus-Version that lists 1.0.0 selects TUS, anything else
 * (404, 405, no such header) LOCALAI, unless the answer is the IETF draft's (an Accept-Patch
 * listing application/partial-upload, or an Upload-Limit): then IETF. A transient failure of
 * that request is retried like any.
 *
 * IETF speaks draft-ietf-httpbis-resumable-upload (interop version 8, drafts -09 and later;
 * docs/protocol.md "Client (stager) in the IETF draft dialect"): an OPTIONS with
 * Upload-Draft-Interop-Version learns the limits (a file over Upload-Limit max-size fails with
 * RESUMABLE_E_TOO_LARGE); the upload is created with POST to the URL with Upload-Length,
 * Upload-Complete, Repr-Digest (the whole-file SHA-256) and the first bytes, then resumed through
 * failures with HEAD on the upload URL (kept in the URL store, as for tus) and PATCH appends
 * (application/partial-upload), with the same budget, backoff, stall check, rate limit and
 * progress. One connection (the draft has no concatenation).
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_stager_set_protocol(resumable_stager *s, resumable_protocol p);

/* Add one tus Upload-Metadata pair (sent at creation; ignored by the LocalAI dialect). `key`:
 * 1..128 printable ASCII bytes without space or comma, not given before; `value`: any
 * NUL-terminated bytes (base64-encoded on the wire). resumable-upload adds "filename" (the
 * file's base name). All pairs together must stay under 4000 bytes encoded.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_NOMEM, RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_stager_add_metadata(resumable_stager *s, const char *key,
                                                   const char *value);

/* A directory for the tus URL store, so that a later run (this process or another) resumes the
 * upload it created instead of creating a new one, like tus-js-client's fingerprint storage.
 * NULL (the default) turns it off. resumable-upload passes "$XDG_STATE_HOME/libresumable" (or
 * "$HOME/.local/state/libresumable"). One file, <dir>/tus-urls-v1 (directory created 0700):
 * at most 256 entries, newest first, each keyed by the creation URL, the file's identity (device,
 * inode, size, mtime, ctime) and its SHA-256, holding the upload URL (or the part URLs of a
 * parallel upload); it carries a checksum and is replaced atomically (temporary file, fsync,
 * rename). Problems with it never fail an upload. Entries stay after success (a later run then
 * finds the upload complete and sends nothing) and are removed when the server no longer knows
 * the upload. Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (""), RESUMABLE_E_NOMEM,
 * RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_stager_set_url_store_dir(resumable_stager *s, const char *dir);

/* Upload over `connections` parallel connections (1 .. 16; default 1) with tus concatenation,
 * when the server offers it: the file is cut into that many parts, each a tus upload of its
 * own, sent and resumed on its own connection, and then concatenated by the server (which
 * verifies the whole file's SHA-256, when it can). Over a path that limits each connection's
 * rate this multiplies the throughput. Without concatenation (or in the LocalAI dialect) the
 * upload uses one connection. Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_stager_set_parallel(resumable_stager *s, unsigned connections);

/* Non-zero: when a tus upload is cancelled (the progress callback returned non-zero), delete it
 * on the server (tus termination, when offered) and forget its URL. Default 0: a cancelled
 * upload stays on the server, and a later run resumes it. Returns RESUMABLE_OK,
 * RESUMABLE_E_INVALID_ARG, RESUMABLE_E_STATE. */
RESUMABLE_EXPORT int resumable_stager_set_cancel_remote(resumable_stager *s, int on);

/* ---- progress and logging ------------------------------------------------------------------ */

typedef enum resumable_phase {
  RESUMABLE_PHASE_HASHING = 0, /* reading the local file to compute its SHA-256 */
  RESUMABLE_PHASE_PROBING = 1, /* HEAD to learn what the server holds */
  RESUMABLE_PHASE_SENDING = 2, /* a PUT is in flight */
  RESUMABLE_PHASE_WAITING = 3, /* backing off before the next attempt */
  RESUMABLE_PHASE_DONE = 4     /* last call of a run, whatever its result; return value ignored */
} resumable_phase;

/* A snapshot handed to the progress callback; lives only during the call. Fields may be added at
 * the end in later versions (the library allocates it, so this stays ABI compatible). */
typedef struct resumable_progress {
  resumable_phase phase;
  uint64_t total;      /* file size in bytes */
  uint64_t hashed;     /* bytes hashed so far (HASHING; == total afterwards) */
  uint64_t held;       /* bytes the server was last known to hold (probe, 308, 416) */
  uint64_t position;   /* SENDING: the first byte of this PUT + its body bytes libcurl has
                           sent so far; otherwise == held. Use it for a progress bar. */
  uint64_t wire_bytes; /* body bytes sent in this run, all requests (as the getter) */
  unsigned attempt;    /* 1-based attempt number (see resumable_stager_attempts) */
  uint64_t wait_ms;    /* WAITING: milliseconds left before the next attempt; else 0 */
} resumable_progress;

/* Called during resumable_stager_run: while hashing (with 0 at the start, about every 8 MiB,
 * and once with hashed == total at the end; not at all when the hash is given or cached), while
 * probing and sending (from libcurl's transfer callback, at least about once a second even when
 * nothing moves), while waiting (at least every 100 ms), and once with RESUMABLE_PHASE_DONE at the end.
 * Return 0 to continue; any other value cancels the upload: run stops promptly (the current
 * request is aborted, bytes the server already has stay there) and returns
 * RESUMABLE_E_CANCELLED. It must not call functions on the same stager except the getters.
 * `user_data` is never touched by the library. */
typedef int (*resumable_progress_fn)(void *user_data, const resumable_progress *p);

/* Set (or with NULL, clear) the progress callback. Default: none. */
RESUMABLE_EXPORT int resumable_stager_set_progress(resumable_stager *s, resumable_progress_fn fn,
                                                   void *user_data);

/* Set (or with NULL, clear) a log callback: one line per decision (probe result, each response
 * status, waits, restarts, the final outcome). Called only on the thread running
 * resumable_stager_run; `msg` lives only during the call. Default: none. */
RESUMABLE_EXPORT int resumable_stager_set_log(resumable_stager *s, resumable_log_fn fn,
                                              void *user_data);

/* ---- running ------------------------------------------------------------------------------- */

/* Upload the file; blocks until it is on the server, the upload fails, the budget ends or the
 * progress callback cancels. May be called again on the same handle after it returns (e.g. after
 * a timeout or cancel): the new run resumes where the server stands; the hash computed by an
 * earlier run is reused if the file is unchanged (same key and timestamp rule as the hash cache,
 * see resumable_stager_set_hash_cache_dir). Results of the previous run
 * are reset at the start.
 * Returns (also kept for resumable_stager_error):
 *   RESUMABLE_OK                the server has the complete file with our SHA-256 (also when it
 *                               had it before and nothing was sent);
 *   RESUMABLE_E_INVALID_ARG     s is NULL;
 *   RESUMABLE_E_STATE           called from one of this stager's callbacks;
 *   RESUMABLE_E_NOMEM           out of memory;
 *   RESUMABLE_E_FILE            the local file cannot be read, or changed during the upload
 *                               (also when the change is only seen after the final answer);
 *   RESUMABLE_E_REFUSED         the server refused permanently (401, 403, 404 to a PUT, any other
 *                               4xx, 400 other than a final hash mismatch, too many 409);
 *   RESUMABLE_E_TOO_LARGE       the server answered 413;
 *   RESUMABLE_E_HASH_MISMATCH   the final hash check failed three times in a row (the file or
 *                               the given SHA-256 is wrong);
 *   RESUMABLE_E_PROTOCOL        the server's answers make no sense (a 200 with another hash,
 *                               offsets outside the file, 416 three times in a row), or an
 *                               answer's header section is over 64 KiB, or has a line over
 *                               libcurl's 100 KiB limit (which libcurl calls "out of memory");
 *                               not retried;
 *   RESUMABLE_E_NETWORK         a network error that retrying cannot fix (unsupported protocol,
 *                               TLS certificate or CA file problem);
 *   RESUMABLE_E_TIMEOUT         the time budget ended;
 *   RESUMABLE_E_CANCELLED       the progress callback asked to stop.
 * The message (resumable_stager_message) explains the failure and includes the server's text. */
RESUMABLE_EXPORT int resumable_stager_run(resumable_stager *s);

/* ---- results (of the last run; 0 / NULL before any run) ------------------------------------ */

/* The result code of the last run (RESUMABLE_OK before any run). */
RESUMABLE_EXPORT int resumable_stager_error(const resumable_stager *s);

/* A one-line human-readable description of the last run's outcome, e.g. "uploaded 1048576 bytes"
 * or "server refused (403): forbidden". Never NULL ("" before any run). */
RESUMABLE_EXPORT const char *resumable_stager_message(const resumable_stager *s);

/* HTTP status of the last response received (0 if none). */
RESUMABLE_EXPORT int resumable_stager_http_status(const resumable_stager *s);

/* The file's SHA-256 as 64 lower-case hex digits, or NULL if not known yet. */
RESUMABLE_EXPORT const char *resumable_stager_sha256(const resumable_stager *s);

/* The file's size in bytes (as of the last run). */
RESUMABLE_EXPORT uint64_t resumable_stager_size(const resumable_stager *s);

/* The offset of the first body byte the run sent (where the upload resumed from); the file size
 * when nothing had to be sent because the server already held every byte. With parallel
 * connections: the bytes the server held, over all parts, when each part first sent. */
RESUMABLE_EXPORT uint64_t resumable_stager_resumed_from(const resumable_stager *s);

/* Bytes the server was last known to hold (on RESUMABLE_E_TIMEOUT: what a later run resumes
 * from). Equals the size after success. */
RESUMABLE_EXPORT uint64_t resumable_stager_held(const resumable_stager *s);

/* Body bytes libcurl sent over all requests of the last run (CURLINFO_SIZE_UPLOAD_T summed):
 * what went on the wire, including what sat in the kernel's socket buffer when a connection
 * broke and so never reached the server. HEAD requests and a body refused after
 * `Expect: 100-continue` count nothing. */
RESUMABLE_EXPORT uint64_t resumable_stager_wire_bytes(const resumable_stager *s);

/* Attempts of the last run. An attempt starts with the first request of the run and again after
 * each wait, restart or cut connection; it covers a probe and the PUTs that follow it (several in
 * chunked mode, and 308/416 re-syncs) until success, a transient failure or a restart. */
RESUMABLE_EXPORT unsigned resumable_stager_attempts(const resumable_stager *s);

/* Restarts from byte 0 forced by the server (409, or 400 to the final chunk) in the last run. */
RESUMABLE_EXPORT unsigned resumable_stager_restarts(const resumable_stager *s);

/* Chunks the last run sent again because the server found their per-request digest wrong
 * (LocalAI `422` to a Content-Digest, tus `460` to an Upload-Checksum that the server answered
 * with the same offset): each is one chunk resent, not a restart. */
RESUMABLE_EXPORT unsigned resumable_stager_chunk_resends(const resumable_stager *s);

/* HTTP requests made by the last run (HEAD and PUT). */
RESUMABLE_EXPORT unsigned resumable_stager_requests(const resumable_stager *s);

/* 1 if the last run found the complete file already on the server and sent nothing; else 0. */
RESUMABLE_EXPORT int resumable_stager_already_there(const resumable_stager *s);

/* 1 if the last run took the file's SHA-256 from a cache (the hash cache directory, see
 * resumable_stager_set_hash_cache_dir, or an earlier run on this handle) and did not read the
 * file to hash it (no RESUMABLE_PHASE_HASHING was reported); 0 if it hashed the file, or the
 * hash was given with resumable_stager_set_sha256. */
RESUMABLE_EXPORT int resumable_stager_hash_cached(const resumable_stager *s);

/* The protocol the last run spoke (after AUTO: the one it chose; LOCALAI before any run). */
RESUMABLE_EXPORT resumable_protocol resumable_stager_protocol_used(const resumable_stager *s);

/* The tus upload URL of the last run (absolute), or "" (LocalAI, or nothing created yet). With
 * parallel connections: the final upload's URL once it exists. Never NULL. */
RESUMABLE_EXPORT const char *resumable_stager_upload_url(const resumable_stager *s);

/* The body of the last response (e.g. the final JSON `{"key":..,"size":..,"sha256":..}`),
 * truncated to 4096 bytes, NUL-terminated. Never NULL ("" if none). */
RESUMABLE_EXPORT const char *resumable_stager_response_body(const resumable_stager *s);

#ifdef __cplusplus
}
#endif
#endif
