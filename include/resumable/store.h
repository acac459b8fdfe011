#ifndef RESUMABLE_STORE_H
#define RESUMABLE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The storage interface under the server handler.
 *
 * The handler decides; a store only keeps bytes. A store holds, per key, at most one *complete*
 * file (verified, with its size and SHA-256) and at most one *partial* upload (bytes 0..held-1
 * of a declared total, plus the metadata below). The POSIX store (resumable_store_fs_new) and the
 * memory store (resumable_store_mem_new) are two implementations; another (object storage, a
 * database) fills in a resumable_store_ops table and wraps it with resumable_store_new.
 *
 * Keys handed to a store are already decoded and validated by the handler (see
 * docs/protocol.md, "Keys"): 1..1024 bytes, '/'-separated segments, no "." / ".." segment, no
 * segment starting with ".resumable", no control byte, no backslash, valid UTF-8. A store still
 * refuses the keys that could break its layout rather than store them: RESUMABLE_E_INVALID_ARG
 * for a NULL, empty or overlong key, RESUMABLE_E_CONFLICT when opening a partial or staging
 * upload for a key with an empty, ".", "..", over-255-byte or ".resumable..." segment (the
 * POSIX, memory and S3 stores do; tests/store/conformance_tree.c checks it). One exception: the
 * parts of a tus concatenation are partials of the handler's own keys RESUMABLE_PART_PREFIX +
 * 32 hex digits, which no client can name. Only partial ops see them (partial_open CREATE must
 * not refuse them for their name); they are never committed, no complete op is called with
 * them, and they are listed by partial_scan and swept like any partial.
 *
 * Threading: the handler calls a store from many threads at once, but never concurrently for the
 * same key, and never concurrently on one partial handle. Different keys must be safe in
 * parallel. Across processes sharing one store's data, the optional key_* ops below give the
 * same exclusion; a store without them must not be shared between processes. No op is called
 * under a lock shared by all keys (or all exchanges of a server): the handler holds only the
 * key's own lock, so an op may block (a slow disk, a network round trip) and delays only the
 * requests for its key.
 *
 * Every op returns RESUMABLE_OK or a negative resumable_error: RESUMABLE_E_NOT_FOUND (nothing
 * stored), RESUMABLE_E_NOSPACE (out of space or quota: the handler answers 507),
 * RESUMABLE_E_CONFLICT (the key cannot be placed, e.g. a parent segment is a file or a symbolic
 * link), RESUMABLE_E_NOMEM, RESUMABLE_E_NOFD (out of file descriptors, EMFILE or ENFILE: the
 * handler answers 503 with Retry-After), RESUMABLE_E_SUPERSEDED (a store shared by several
 * processes: another process's writer took the partial over; the handler answers 423), or
 * RESUMABLE_E_IO (anything else: the handler answers 500).
 */

/* The start of the keys of tus concatenation parts (see "Keys" above). */
#define RESUMABLE_PART_PREFIX ".resumable-part/"

/* Largest opaque running-hash state a store must be able to keep with a partial. */
#define RESUMABLE_HASH_STATE_MAX 256

/* A complete, verified file. */
typedef struct resumable_complete_info {
  uint64_t size;
  uint8_t sha256[32];
} resumable_complete_info;

/* `total` of a partial whose length is not known yet (tus creation-defer-length): it cannot
 * complete until the handler records the real total with a later partial_sync. */
#define RESUMABLE_LENGTH_UNKNOWN UINT64_MAX

/* Largest client metadata (tus Upload-Metadata) kept with a partial, in bytes. */
#define RESUMABLE_METADATA_MAX 4096

/* A partial upload's metadata. `hash_state` is opaque to the store: the handler's running SHA-256
 * after exactly `held` bytes. A store saves it with `held` and gives it back unchanged; if it
 * cannot (or after a crash lost it), it returns hash_state_len 0 and the handler rebuilds the
 * state by reading the held prefix once.
 * `metadata` (added with the tus dialect) is the client's Upload-Metadata as the handler
 * validated it, `metadata_len` bytes, not NUL-terminated; a store keeps it with the partial and
 * gives it back unchanged, like the other fields (a store that predates it returns 0 bytes:
 * the upload then merely loses its metadata). */
typedef struct resumable_partial_info {
  uint64_t total; /* or RESUMABLE_LENGTH_UNKNOWN */
  uint64_t held;
  int has_target;
  uint8_t target_sha256[32];
  size_t hash_state_len;
  uint8_t hash_state[RESUMABLE_HASH_STATE_MAX];
  size_t metadata_len;
  char metadata[RESUMABLE_METADATA_MAX];
} resumable_partial_info;

/* How resumable_store_ops.partial_open opens a partial. */
typedef enum resumable_partial_mode {
  /* Open the key's existing partial; RESUMABLE_E_NOT_FOUND if there is none. */
  RESUMABLE_PARTIAL_EXISTING = 0,
  /* Drop any partial of the key and create an empty one described by `info` (held 0). */
  RESUMABLE_PARTIAL_CREATE = 1,
  /* An anonymous staging upload for a whole-file PUT: invisible to partial_stat, removed by
   * partial_close unless committed. `info->total` may be UINT64_MAX (length unknown). */
  RESUMABLE_PARTIAL_STAGING = 2
} resumable_partial_mode;

/* How resumable_store_ops.key_lock takes a key (see there). */
typedef enum resumable_key_lock_mode {
  /* Wait for the key and take it: an owner in another process is made to let go (its next
   * KEEP answers RESUMABLE_E_SUPERSEDED). Returns RESUMABLE_OK, or RESUMABLE_E_SUPERSEDED when
   * the key is taken but this owner had lost it since its previous key_lock: another process may
   * have changed the key meanwhile, so whatever the caller kept from earlier calls (an open
   * partial handle, its metadata) is stale and must be dropped unused. */
  RESUMABLE_KEY_TAKE = 0,
  /* Go on as the owner: RESUMABLE_OK if this owner has held the key without a break since its
   * last TAKE, else RESUMABLE_E_SUPERSEDED (another process took it, or waits to take it): the
   * caller stops writing the key until a TAKE. Before the key_unlock that follows, it may call
   * partial_sync once to keep the bytes it wrote (PROTOCOL.md step 8): a store accepts that only
   * while it still holds the key (the other process still waits), and otherwise answers
   * RESUMABLE_E_SUPERSEDED. Cheap: called for every piece of a request body. */
  RESUMABLE_KEY_KEEP = 1,
  /* Take the key only if no other process holds it or waits for it: RESUMABLE_OK, or
   * RESUMABLE_E_STATE (busy). For housekeeping that must not disturb an upload (the sweep). */
  RESUMABLE_KEY_TRY = 2
} resumable_key_lock_mode;

/* Visitor for resumable_store_ops.partial_scan: one partial upload, its `key` (valid during the
 * call only) and `mtime`, when its bytes or metadata last changed (seconds since the Unix
 * epoch). Return 0 to go on, anything else to stop the scan. */
typedef int (*resumable_partial_visit_fn)(void *arg, const char *key, int64_t mtime);

/*
 * Growing the interface. resumable_store_new copies the table, reading only `struct_size`
 * bytes of it: a store sets `struct_size` to sizeof(resumable_store_ops) as its own build sees
 * it (RESUMABLE_STORE_OPS_INIT does), and that is what a binary built against an older header
 * sends. The rules that keep old binaries working:
 *   - ops are only ever appended, after key_release; none is removed, reordered or retyped;
 *   - every op appended after 1.0 is optional: NULL means absent, and the handler works
 *     without it (as it does without partial_scan or the key_* group today);
 *   - an op beyond the caller's `struct_size` is treated as NULL.
 * struct_size must cover at least the required ops (up to and including destroy:
 * RESUMABLE_STORE_OPS_MIN_SIZE); a smaller one, 0 included, is refused. A table that ends at
 * destroy is a store without partial_scan and without the key_* ops.
 */
typedef struct resumable_store_ops {
  /* sizeof(resumable_store_ops) of the store's build (see "Growing the interface" above). */
  size_t struct_size;

  /* Size and SHA-256 of the complete file at `key`, from stored metadata (must not re-read a
   * large file except to recover from a crash). */
  int (*complete_stat)(void *self, const char *key, resumable_complete_info *out);
  /* Open the complete file for reading; `*reader` stays valid (and keeps reading the same
   * version, even if replaced meanwhile) until complete_close. `out` may be NULL. */
  int (*complete_open)(void *self, const char *key, void **reader, resumable_complete_info *out);
  /* Read up to `len` bytes at `offset`; *got < len only at end of file. */
  int (*complete_read)(void *self, void *reader, uint64_t offset, void *buf, size_t len,
                       size_t *got);
  void (*complete_close)(void *self, void *reader);
  /* Optional (may be NULL): write the absolute filesystem path of the complete file into
   * buf (NUL-terminated); RESUMABLE_E_INVALID_ARG if cap is too small. */
  int (*complete_path)(void *self, const char *key, char *buf, size_t cap);

  /* The key's partial metadata, or RESUMABLE_E_NOT_FOUND. */
  int (*partial_stat)(void *self, const char *key, resumable_partial_info *out);
  /* Open (see resumable_partial_mode). `info` is read for CREATE/STAGING, ignored for
   * EXISTING; `out` (may be NULL) receives the partial's metadata as stored. */
  int (*partial_open)(void *self, const char *key, resumable_partial_mode mode,
                      const resumable_partial_info *info, void **handle,
                      resumable_partial_info *out);
  /* Append: `offset` is always the current end (held + bytes written since the last sync). */
  int (*partial_write)(void *self, void *handle, uint64_t offset, const void *buf, size_t len);
  /* Read back held bytes (used only to rebuild a lost hash state). */
  int (*partial_read)(void *self, void *handle, uint64_t offset, void *buf, size_t len,
                      size_t *got);
  /* Make bytes 0..info->held-1 durable, then record `info` durably. Bytes written past
   * info->held are discarded. After it returns OK, a crash at any instant later still finds
   * at least `info->held` bytes and this metadata. Not used for STAGING handles. */
  int (*partial_sync)(void *self, void *handle, const resumable_partial_info *info);
  /* Make all written bytes durable and atomically make them the complete file at `key`
   * (replacing an older one), recording `info`; the partial (or staging file) is gone
   * afterwards. A crash at any instant leaves either the old complete file or the new one.
   * The handle must still be closed with partial_close. */
  int (*partial_commit)(void *self, void *handle, const resumable_complete_info *info);
  /* Release the handle. Unsynced bytes of a partial may be lost; a staging file is removed
   * unless committed. Never fails. */
  void (*partial_close)(void *self, void *handle);
  /* Drop the key's partial (RESUMABLE_E_NOT_FOUND if none). The complete file is untouched. */
  int (*partial_remove)(void *self, const char *key);
  /* Drop the key's complete file (RESUMABLE_E_NOT_FOUND if none). The partial is untouched. */
  int (*complete_remove)(void *self, const char *key);

  /* Free `self`. Called once by resumable_store_free. */
  void (*destroy)(void *self);

  /* Optional (may be NULL; resumable_server_sweep then cannot expire partials). With `key`
   * NULL, call fn once for every partial upload, in any order (staging uploads are not
   * partials); with a key, only for that key's partial, if it has one. A record that cannot be
   * read may be skipped. Returns RESUMABLE_OK (also when fn stopped the scan) or an error. The
   * handler calls no other op from inside fn. */
  int (*partial_scan)(void *self, const char *key, resumable_partial_visit_fn fn, void *arg);

  /* Optional, all three or none (NULL: the store needs no exclusion between processes, e.g. it
   * lives in one process's memory). Ownership of a key across processes that share the storage
   * (several servers on one root, on one host or many), so that they exclude each other as the
   * threads of one server do, and a newer request supersedes an older one in another process.
   *
   * The handler wraps every group of store calls that judges or changes a key's partial or file
   * (a PUT's start, each body piece, its end, a DELETE, the sweep's removal) in key_lock ...
   * key_unlock: TAKE at a PUT's or DELETE's start, KEEP for each body piece and the end, TRY in
   * the sweep. key_unlock follows every key_lock, whatever it returned. `*owner` is the store's
   * object for this key in this process: NULL at the first key_lock (the store creates it), the
   * same pointer afterwards, until key_release frees it (and lets the key go). The handler
   * never calls these concurrently for one owner, and never holds two owners of one key.
   * Between key_unlock and the next key_lock the store may keep the key (a lease), but then it
   * must let it go soon after another process starts waiting for it (TAKE), without a call
   * from the handler: the older request may be idle for minutes.
   * key_lock returns what its mode says, or RESUMABLE_E_NOMEM / RESUMABLE_E_IO (not taken). */
  int (*key_lock)(void *self, const char *key, resumable_key_lock_mode mode, void **owner);
  void (*key_unlock)(void *self, void *owner);
  void (*key_release)(void *self, void *owner);
} resumable_store_ops;

/* Start a table with it: `static const resumable_store_ops ops = {RESUMABLE_STORE_OPS_INIT,
 * .complete_stat = ..., ...};` */
#define RESUMABLE_STORE_OPS_INIT .struct_size = sizeof(resumable_store_ops)

/* The smallest struct_size resumable_store_new accepts: the table up to and including destroy,
 * the last required op. */
#define RESUMABLE_STORE_OPS_MIN_SIZE \
  (offsetof(resumable_store_ops, destroy) + sizeof(void (*)(void *)))

/* A store: an ops table plus its state. Opaque. */
typedef struct resumable_store resumable_store;

/* Wrap a custom implementation. The first `ops->struct_size` bytes of `ops` are copied (the
 * caller may free or change its table afterwards); ops beyond them count as NULL (see "Growing
 * the interface"). Every member except complete_path, partial_scan and the key_* group must be
 * non-NULL, and the key_* ops are given all three or none. `self` is passed to every op and
 * freed by ops->destroy when the store is freed. Thread-safe.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL out/ops, struct_size below
 * RESUMABLE_STORE_OPS_MIN_SIZE, or a missing op), RESUMABLE_E_NOMEM. On error *out is NULL and
 * `self` is not destroyed. */
RESUMABLE_EXPORT int resumable_store_new(resumable_store **out, const resumable_store_ops *ops,
                                         void *self);

/* The default POSIX store rooted at directory `root` (created if missing, mode 0755). Complete
 * files live at <root>/<key>; everything else under <root>/.resumable/ (same filesystem, so a
 * commit is a rename). Keys are resolved with openat/O_NOFOLLOW: no path ever leaves the root,
 * and a key crossing a symbolic link is RESUMABLE_E_CONFLICT.
 * Durability: a partial's bytes are durable up to the `held` of its last partial_sync; a commit
 * is fsync(data), rename, fsync(directory).
 * Processes: any number of processes (on any number of hosts, through NFSv4 or CephFS) may
 * open stores on one root at once; it implements the key_* ops with OFD locks (docs/storage.md
 * says what the filesystem must provide). A key's owner keeps it between requests' pieces and
 * lets it go within about 0.1 s when another process waits for it, from a thread of the
 * store's own (started with the first owner, joined by resumable_store_free, all signals
 * blocked).
 * Speed: long uploads are written behind (Linux: writeback is started every 8 MiB) and
 * fdatasync'ed every 32 MiB by one thread of the store's own, started on the first long upload
 * and joined by resumable_store_free, so that a sync or commit waits only for the tail; synced
 * ranges are then dropped from the page cache, so an upload holds about 32 MiB of it. That
 * thread blocks all signals and touches nothing but a dup of the upload's descriptor; an error
 * it meets fails the upload's next partial_sync or commit (RESUMABLE_E_IO).
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG, RESUMABLE_E_NOMEM, RESUMABLE_E_IO (root
 * cannot be created or opened). */
RESUMABLE_EXPORT int resumable_store_fs_new(resumable_store **out, const char *root);

/* An in-memory store: every byte lives in this process's memory and is gone when the store is
 * freed or the process ends. For embedders that keep uploads in memory or hand them on, for
 * tests, and for fuzzing the handler at memory speed.
 * It keeps the POSIX store's promises within the process: a commit is atomic (a reader that
 * opened the old version reads it to its end), staging uploads are invisible until committed,
 * partial_sync keeps bytes 0..info->held-1 and discards the rest, bytes written since the last
 * sync are cut when the partial is opened again, partial_scan reports each partial's last write
 * or sync (CLOCK_REALTIME seconds), and all ops are safe in parallel on different keys. "Durable"
 * means "recorded in memory": nothing survives the process.
 * Keys form a tree as on a filesystem: a key cannot be placed (RESUMABLE_E_CONFLICT from
 * partial_open CREATE/STAGING and from a staging commit) where a segment above it is a complete
 * file or a partial ("e" blocks "e/f"), or where keys lie below it ("e/f" blocks "e"); as in the
 * POSIX store, a partial takes its place when it is created, so two uploads that cannot both
 * land are told so before any byte is sent, and a place is free again once its last key is
 * gone. A key that is only a directory reads as absent. Malformed keys (an empty, ".", "..",
 * over-255-byte or ".resumable..." segment) are refused with RESUMABLE_E_CONFLICT as the POSIX
 * store refuses them; reads of them answer RESUMABLE_E_NOT_FOUND. There is no complete_path (no
 * file to name: resumable_server_set_expose_paths has no effect) and there are no key_* ops
 * (nothing to share with another process).
 * `max_bytes` bounds the bytes held: partials (with bytes written since their last sync),
 * staging uploads, complete files, and replaced or removed versions that a reader still holds
 * open. A write that would exceed it fails with RESUMABLE_E_NOSPACE (the handler answers 507)
 * and writes nothing. 0 means no bound. Allocator overhead comes on top: at most one partly used
 * 256 KiB block per upload or file, plus about 150 bytes per key.
 * Thread-safety: one mutex guards the key table and metadata; bytes are copied outside it.
 * The store starts no thread. Ownership: the caller frees *out with resumable_store_free, or
 * hands it to resumable_server_new_with_store, which then owns it.
 * Returns RESUMABLE_OK, RESUMABLE_E_INVALID_ARG (NULL out), RESUMABLE_E_NOMEM. */
RESUMABLE_EXPORT int resumable_store_mem_new(resumable_store **out, uint64_t max_bytes);

/* The bytes a memory store holds now, as counted against its max_bytes (see
 * resumable_store_mem_new). Thread-safe. Returns RESUMABLE_OK, or RESUMABLE_E_INVALID_ARG if
 * `store` is NULL or not a memory store, or `bytes` is NULL. */
RESUMABLE_EXPORT int resumable_store_mem_usage(const resumable_store *store, uint64_t *bytes);

/* Free a store (NULL is a no-op). Must not be in use by a server. */
RESUMABLE_EXPORT void resumable_store_free(resumable_store *store);

#ifdef __cplusplus
}
#endif
#endif
