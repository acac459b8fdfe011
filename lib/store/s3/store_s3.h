/* The S3 store's internals, shared by its files:
 *   store_s3.c          configuration, creation, the ops table, the pool of curl handles
 *   store_s3_http.c     one signed S3 request (URL, key encoding, SigV4 through libcurl)
 *   store_s3_xml.c      the few XML answers S3 gives (pure)
 *   store_s3_state.c    the state record and sums record codecs (pure)
 *   store_s3_chain.c    a key's chain of state records: newest, read, create next
 *   store_s3_mpu.c      multipart upload calls: create, complete, abort, list
 *   store_s3_pipe.c     the part pipeline: one buffer, a thread streaming it as a part
 *   store_s3_partial.c  partial_* ops but the commit
 *   store_s3_commit.c   partial_commit: the last part, the guard, the publish
 *   store_s3_seal.c     a tus concatenation part, once whole, readable for the final upload
 *   store_s3_complete.c complete_* ops and the sums records
 *   store_s3_reader.c   a complete object read through one paused GET
 *   store_s3_scan.c     partial_scan and the housekeeping it does
 * The layout in the bucket is in include/resumable/store_s3.h and docs/storage.md. */
#ifndef RESUMABLE_STORE_S3_INTERNAL_H
#define RESUMABLE_STORE_S3_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "resumable/store.h"
#include "resumable/store_s3.h"

#define S3_MIN_PART ((uint64_t)5 << 20)
#define S3_MAX_PART ((uint64_t)1 << 30)
#define S3_MAX_PARTS 10000u
#define S3_KEY_MAX 1024
/* An S3 object name of ours, percent-encoded three times over at worst, fits here. */
#define S3_NAME_MAX 1100
#define S3_ETAG_MAX 80
#define S3_ID_MAX 256 /* upload ids */
#define S3_HEX_KEY 64

struct resumable_s3_config {
  char *endpoint, *bucket, *region, *prefix;
  char *access, *secret, *token;
  int have_credentials;
  resumable_s3_addressing addressing;
  uint64_t part_size;
  uint64_t orphan_age;
};

typedef struct s3_store {
  char *base;     /* "<scheme>://<host>[:port]" or, virtual-host, "<scheme>://<bucket>.<host>..." */
  int path_style; /* 1: the bucket is the first path segment */
  char *bucket, *prefix, *sigv4, *access, *secret, *token;
  size_t prefix_len;
  uint64_t part_size, orphan_age;
  pthread_mutex_t pool_mu;
  CURL *pool[16];
  size_t pooled;
} s3_store;

/* ---- store_s3.c ---- */
/* A key as the handler passes them (docs/protocol.md, "Keys")? RESUMABLE_OK;
 * RESUMABLE_E_INVALID_ARG for NULL, empty or over 1024 bytes; RESUMABLE_E_CONFLICT for an empty,
 * ".", "..", over-255-byte or ".resumable..." segment, a control byte or a backslash. A store
 * refuses such keys rather than place objects for them. Pure. */
int s3_key_check(const char *key);
/* For reads: RESUMABLE_E_CONFLICT becomes RESUMABLE_E_NOT_FOUND (no such key can exist). */
int s3_key_check_read(const char *key);
/* Is `key` a tus concatenation part's (RESUMABLE_PART_PREFIX + 1..64 lower-case hex digits)?
 * Only the partial ops accept those (include/resumable/store.h, "Keys"). Pure. */
int s3_part_key(const char *key);
/* The key check of the partial ops: a part key passes, any other as s3_key_check (or
 * s3_key_check_read with `read`). */
int s3_partial_key_check(const char *key, int read);
/* A curl easy handle from the store's pool (connections are kept alive), or NULL. */
CURL *s3_easy_get(s3_store *s);
void s3_easy_put(s3_store *s, CURL *easy);
/* 16 random bytes as 32 lower-case hex digits (writer ids, tokens). 0 or -1. */
int s3_random_hex(char *out, size_t nbytes);
/* Seconds since the Unix epoch (CLOCK_REALTIME). */
int64_t s3_now(void);

/* ---- store_s3_http.c ---- */
/* Percent-encode `len` bytes as SigV4 wants (unreserved bytes kept; '/' kept if keep_slash).
 * Returns the length written (NUL-terminated), or 0 if it does not fit. Pure. */
size_t s3_encode(const char *in, size_t len, int keep_slash, char *out, size_t cap);

typedef struct s3_request {
  const char *method;     /* GET HEAD PUT POST DELETE */
  const char *object;     /* object name in the bucket (prefix included), NULL for the bucket */
  const char *query;      /* canonical query (sorted, encoded) or NULL */
  const char *headers[6]; /* extra "Name: value" lines, NULL-terminated */
  const void *body;       /* PUT/POST body from memory (signed with its SHA-256)... */
  size_t body_len;
  curl_read_callback read_fn; /* ...or streamed (UNSIGNED-PAYLOAD), read_len bytes */
  curl_seek_callback seek_fn;
  void *read_arg;
  uint64_t read_len;
  char *out; /* the answer's body (2xx only), NUL-terminated, up to out_cap - 1 */
  size_t out_cap;
  curl_write_callback sink_fn; /* or the 2xx body streamed to sink_fn(sink_arg) */
  void *sink_arg;
  int quiet_timeouts; /* 1: no low-speed limit (a streamed body may wait for its bytes) */
} s3_request;

typedef struct s3_response {
  long status;
  size_t out_len;
  int out_truncated;
  uint64_t length; /* Content-Length */
  int has_length;
  int headers_done;       /* the final answer's headers are all in */
  char etag[S3_ETAG_MAX]; /* without quotes */
  char token[40];         /* x-amz-meta-rs-token */
  char code[64];          /* S3's error <Code> when status >= 300 */
  char err[256];          /* error bodies are kept here (internal) */
  size_t err_len;
} s3_response;

/* A transfer set up on an easy handle, for the callers that drive it with curl_multi. */
typedef struct s3_xfer {
  struct curl_slist *headers;
  const s3_request *rq;
  s3_response *rs;
  size_t mem_off; /* read position in rq->body */
  char url[S3_NAME_MAX * 3 + 512];
} s3_xfer;

/* Set `easy` up for rq (after curl_easy_reset); rs is filled while it runs. RESUMABLE_OK,
 * RESUMABLE_E_NOMEM, RESUMABLE_E_INVALID_ARG (a name too long). */
int s3_xfer_setup(s3_store *s, CURL *easy, const s3_request *rq, s3_response *rs, s3_xfer *x);
/* After the transfer: the error code out of an error body, and the header list freed. */
void s3_xfer_done(s3_xfer *x);
/* One request, once. RESUMABLE_OK when an HTTP answer came (any status: see rs->status),
 * RESUMABLE_E_IO when none did (connection, timeout, aborted body). */
int s3_perform(s3_store *s, CURL *easy, const s3_request *rq, s3_response *rs);
/* s3_perform with a pooled handle, repeated (3 tries in all, short waits) while no answer came
 * or S3 answered 500/503: only for requests that may be sent twice (memory bodies). */
int s3_call(s3_store *s, const s3_request *rq, s3_response *rs);
/* The object name P + rest (rest NUL-terminated) into out; -1 if longer than S3 allows. */
int s3_object(const s3_store *s, const char *rest, char *out, size_t cap);
/* Map a finished answer to a store code: 2xx RESUMABLE_OK, 404 RESUMABLE_E_NOT_FOUND,
 * "quota" codes RESUMABLE_E_NOSPACE, anything else RESUMABLE_E_IO. */
int s3_status_code(const s3_response *rs);

/* ---- store_s3_xml.c (pure) ---- */
/* The text of the first <tag>...</tag> at or after *pos in xml[0..len), entities decoded, into
 * out (NUL-terminated). Returns its length and moves *pos past it, or -1 (not found, or longer
 * than cap - 1). */
long s3_xml_text(const char *xml, size_t len, size_t *pos, const char *tag, char *out, size_t cap);
/* The bounds [*start, *end) of the next <tag>...</tag> element's content at or after *pos; *pos
 * moves past it. 0 or -1. */
int s3_xml_element(const char *xml, size_t len, size_t *pos, const char *tag, size_t *start,
                   size_t *end);
/* Escape text for an XML element (& < > " '). Returns the length written or 0 if it does not
 * fit (NUL-terminated). */
size_t s3_xml_escape(const char *in, char *out, size_t cap);
/* "2026-12-04T16:40:46.609Z" -> seconds since the epoch, or -1. */
int64_t s3_iso8601(const char *s);

/* ---- store_s3_state.c (pure) ---- */
typedef struct s3_part {
  uint32_t number;
  uint64_t size;
  char etag[S3_ETAG_MAX];
} s3_part;

/* One state record: the partial as its writer last made it durable. */
typedef struct s3_state {
  uint64_t seq;    /* its place in the chain (the object is state-<seq>) */
  char writer[33]; /* the handle that created it (random hex) */
  int gone;        /* a tombstone: no partial (removed or committed) */
  char key[S3_KEY_MAX + 1];
  resumable_partial_info info; /* total, held, target, running hash state */
  uint64_t part_size;
  char upload[S3_ID_MAX]; /* "" until the first part needed a multipart upload */
  char token[33];         /* names the sums record; set with the upload */
  char tail[96];          /* tail object's last name segment, "" if none */
  uint64_t tail_len;
  s3_part *parts; /* malloc'ed, nparts of them, numbers 1..nparts */
  uint32_t nparts, parts_cap;
  int sealed; /* a whole concatenation part: its upload is completed as the object
                               P<key>, readable (store_s3_seal.c); held == total, no tail */
} s3_state;

void s3_state_init(s3_state *st);
void s3_state_free(s3_state *st);
/* Deep copy; RESUMABLE_OK or RESUMABLE_E_NOMEM. */
int s3_state_copy(s3_state *dst, const s3_state *src);
/* Append a part (numbered nparts + 1). RESUMABLE_OK or RESUMABLE_E_NOMEM. */
int s3_state_add_part(s3_state *st, uint64_t size, const char *etag);
/* Bytes in parts. */
uint64_t s3_state_part_bytes(const s3_state *st);
/* Text record ending with a checksum line; *out malloc'ed. RESUMABLE_OK, E_NOMEM. */
int s3_state_encode(const s3_state *st, char **out, size_t *len);
/* Parse and check a record of either version (checksum, fields, held == parts + tail).
 * RESUMABLE_OK, RESUMABLE_E_IO (malformed), RESUMABLE_E_NOMEM. st is initialised either way. */
int s3_state_decode(const char *buf, size_t len, s3_state *st);

/* The sums record of a complete object. */
int s3_sums_encode(const char *key, const resumable_complete_info *ci, char *out, size_t cap,
                   size_t *len);
int s3_sums_decode(const char *buf, size_t len, const char *key, resumable_complete_info *ci);

/* ---- store_s3_chain.c ---- */
/* "<hex of SHA-256(key)>". */
void s3_key_hex(const char *key, char out[S3_HEX_KEY + 1]);
/* Object names of a key's records. */
int s3_state_name(const s3_store *s, const char *hex, uint64_t seq, char *out, size_t cap);
int s3_tail_name(const s3_store *s, const char *hex, const char *tail, char *out, size_t cap);
/* The newest state of `key` into st (a tombstone included: check st->gone).
 * RESUMABLE_OK, RESUMABLE_E_NOT_FOUND (no record at all), RESUMABLE_E_IO, E_NOMEM. */
int s3_chain_newest(s3_store *s, const char *key, s3_state *st);
/* The same, with the record's Last-Modified time (seconds since the epoch) into *mtime. */
int s3_chain_newest_at(s3_store *s, const char *key, s3_state *st, int64_t *mtime);
/* Create state-<st->seq> from st, only if no such record exists. RESUMABLE_OK,
 * RESUMABLE_E_SUPERSEDED (someone else created it first), RESUMABLE_E_IO, E_NOMEM. */
int s3_chain_create(s3_store *s, const s3_state *st);
/* Does state-<seq> of the key exist? 1, 0, or a negative code. */
int s3_chain_exists(s3_store *s, const char *hex, uint64_t seq);
/* GET a record (up to 1 MiB) into a malloc'ed buffer. RESUMABLE_OK, E_NOT_FOUND, E_IO, E_NOMEM. */
int s3_get_record(s3_store *s, const char *name, char **buf, size_t *len);
/* Best-effort removal of one object. */
void s3_delete_quiet(s3_store *s, const char *name);

/* ---- store_s3_mpu.c ---- */
/* CreateMultipartUpload of object `name`, tagged x-amz-meta-rs-token: token. */
int s3_mpu_create(s3_store *s, const char *name, const char *token, char *upload, size_t cap);
/* CompleteMultipartUpload with exactly st's parts. RESUMABLE_OK, RESUMABLE_E_CONFLICT (S3 says a
 * part is missing or its ETag differs: the upload was written by someone else), RESUMABLE_E_NOT_FOUND
 * (no such upload), RESUMABLE_E_IO. */
int s3_mpu_complete(s3_store *s, const char *name, const char *upload, const s3_part *parts,
                    uint32_t nparts);
/* AbortMultipartUpload; RESUMABLE_OK also when it was gone already. */
int s3_mpu_abort(s3_store *s, const char *name, const char *upload);
/* A PUT of a whole object from memory with the token header (small uploads need no multipart). */
int s3_put_object(s3_store *s, const char *name, const void *data, size_t len, const char *token,
                  const char *if_none_match);
/* Visit every unfinished multipart upload whose object name starts with `prefix`. */
typedef int (*s3_upload_visit_fn)(void *arg, const char *name, const char *upload,
                                  int64_t initiated);
int s3_mpu_list(s3_store *s, const char *prefix, s3_upload_visit_fn fn, void *arg);
/* Visit every object whose name starts with `prefix` (ListObjectsV2, all pages). */
typedef int (*s3_object_visit_fn)(void *arg, const char *name, uint64_t size, int64_t mtime);
int s3_list(s3_store *s, const char *prefix, s3_object_visit_fn fn, void *arg);

/* ---- store_s3_pipe.c ---- */
/* The bytes of the part being filled, and the thread that streams them to S3 as they come. */
typedef struct s3_pipe s3_pipe;
/* A pipe with a buffer of `cap` bytes. RESUMABLE_OK or RESUMABLE_E_NOMEM. */
int s3_pipe_new(s3_pipe **out, s3_store *s, size_t cap);
/* Stop any part in flight, join the thread, free. NULL ok. */
void s3_pipe_free(s3_pipe *p);
/* The buffer and how many bytes it holds (those of the current part so far). */
uint8_t *s3_pipe_buf(s3_pipe *p);
size_t s3_pipe_fill(const s3_pipe *p);
/* Set the fill (loading a tail, or cutting unsynced bytes); stops a part in flight. */
void s3_pipe_reset(s3_pipe *p, size_t fill);
/* What each part upload must check first: the owner's next state name (it exists once
 * another writer took over). NULL name: no check. */
void s3_pipe_guard(s3_pipe *p, const char *next_state_name);
/* The writer id of the owner: its own records never count as a takeover. */
void s3_pipe_writer(s3_pipe *p, const char *writer);
/* Append bytes to the current part, streaming it as part `number` of `upload` at `object`
 * (declared length `len`) once it begins. Never more than len - fill bytes. */
int s3_pipe_write(s3_pipe *p, const char *object, const char *upload, uint32_t number, size_t len,
                  const void *buf, size_t n);
/* Wait until the part in flight (all `len` bytes in) is acknowledged: its ETag into etag.
 * RESUMABLE_OK, RESUMABLE_E_SUPERSEDED, RESUMABLE_E_IO. */
int s3_pipe_finish(s3_pipe *p, char etag[S3_ETAG_MAX]);
/* Upload the buffer's current fill as a whole part now (no streaming): for a last part shorter
 * than its declared length. */
int s3_pipe_flush_part(s3_pipe *p, const char *object, const char *upload, uint32_t number,
                       char etag[S3_ETAG_MAX]);

/* ---- store_s3_partial.c: a writing handle (partial or staging) ---- */
/* A writing handle owns the key's chain from the record it created on opening (its claim)
 * until another writer creates the next one. */
typedef struct s3_reader s3_reader;

typedef struct s3_handle {
  s3_store *s;
  int staging;
  char key[S3_KEY_MAX + 1];
  char hex[S3_HEX_KEY + 1];
  char object[S3_NAME_MAX];
  char writer[33];
  s3_state rec;   /* the last record it created (what another server would resume from) */
  s3_state st;    /* the same plus the parts S3 acknowledged since (not yet recorded) */
  uint64_t base;  /* bytes in st.parts */
  uint64_t total; /* UINT64_MAX: unknown (a chunked whole-file PUT) */
  s3_pipe *pipe;
  int upload_mine, upload_recorded;
  int failed; /* sticky: RESUMABLE_E_SUPERSEDED once another writer took the key */
  int committed;
  s3_reader *reader; /* reads of a sealed part's object (store_s3_seal.c), or NULL */
} s3_handle;

/* Bytes of the part in progress in the handle's buffer. */
size_t s3_handle_fill(const s3_handle *h);
/* Returns rc, remembering RESUMABLE_E_SUPERSEDED for good. */
int s3_handle_fail(s3_handle *h, int rc);
/* Make `next` (created already) the handle's record; the older record and a tail that `next`
 * no longer names are deleted. Takes next's parts (next is left empty). RESUMABLE_OK or
 * RESUMABLE_E_NOMEM. */
int s3_handle_adopt(s3_handle *h, s3_state *next);
/* Best-effort removal of a record or tail of the key <hex>. */
void s3_delete_record(s3_store *s, const char *hex, uint64_t seq);
void s3_delete_tail(s3_store *s, const char *hex, const char *tail);

int s3_partial_stat(void *self, const char *key, resumable_partial_info *out);
int s3_partial_open(void *self, const char *key, resumable_partial_mode mode,
                    const resumable_partial_info *info, void **handle, resumable_partial_info *out);
int s3_partial_write(void *self, void *handle, uint64_t offset, const void *buf, size_t len);
int s3_partial_read(void *self, void *handle, uint64_t offset, void *buf, size_t len, size_t *got);
int s3_partial_sync(void *self, void *handle, const resumable_partial_info *info);
int s3_partial_commit(void *self, void *handle, const resumable_complete_info *info);
void s3_partial_close(void *self, void *handle);
int s3_partial_remove(void *self, const char *key);
/* Remove a key's partial given its newest state: tombstone, abort, delete objects. */
int s3_partial_drop(s3_store *s, const s3_state *newest);

/* ---- store_s3_complete.c ---- */
int s3_complete_stat(void *self, const char *key, resumable_complete_info *out);
int s3_complete_open(void *self, const char *key, void **reader, resumable_complete_info *out);
int s3_complete_read(void *self, void *reader, uint64_t offset, void *buf, size_t len, size_t *got);
void s3_complete_close(void *self, void *reader);
int s3_complete_remove(void *self, const char *key);
/* Write the sums record of `key` for an object tagged `token` (before it is published). */
int s3_sums_put(s3_store *s, const char *key, const char *token, const resumable_complete_info *ci);
/* Remove the key's sums records except `keep` (NULL: all). Best effort. */
void s3_sums_prune(s3_store *s, const char *key, const char *keep);

/* ---- store_s3_seal.c ---- */
/* Is this sync the one that makes a concatenation part whole while its bytes are in parts of a
 * multipart upload (which S3 cannot read back)? Then s3_seal does it instead. */
int s3_seal_due(const s3_handle *h, const resumable_partial_info *info);
/* partial_sync of a part made whole: its last part up, a record saying it is sealed, then the
 * upload completed as the object P<key>. Same returns as partial_sync. */
int s3_seal(s3_handle *h, const resumable_partial_info *info);
/* partial_read of a sealed part's bytes, from its object. */
int s3_sealed_read(s3_handle *h, uint64_t offset, void *buf, size_t len, size_t *got);

/* ---- store_s3_reader.c ---- */
/* Start one GET of object `name` (If-Match etag when given) and wait for its headers.
 * RESUMABLE_OK (rs filled: length, etag, token), RESUMABLE_E_NOT_FOUND, RESUMABLE_E_IO. */
int s3_reader_open(s3_store *s, const char *name, const char *etag, s3_reader **out,
                   s3_response *rs);
/* Bytes at `offset`; sequential reads continue the one GET, others start a ranged one. */
int s3_reader_read(s3_reader *r, uint64_t offset, void *buf, size_t len, size_t *got);
void s3_reader_close(s3_reader *r);

/* ---- store_s3_scan.c ---- */
int s3_partial_scan(void *self, const char *key, resumable_partial_visit_fn fn, void *arg);

#endif
