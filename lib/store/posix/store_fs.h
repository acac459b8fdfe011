/* The POSIX store's internals, shared by its files:
 *   store_fs.c          creation, startup cleanup, the ops table
 *   store_fs_io.c       EINTR-safe I/O, errno mapping, temp files, atomic small-file writes
 *   store_fs_path.c     key -> directory fd + leaf name, never leaving the root
 *   store_fs_ns.c       the namespace lock: which keys may begin, directories made and removed
 *   store_fs_claims.c   the directories partial uploads will need (so a file cannot take them)
 *   store_fs_lock.c     OFD locks (never PIDs)
 *   store_fs_owner.c    key_lock/_unlock/_release: a key's owner across processes
 *   store_fs_meta.c     partial metadata and complete-file hash sidecars (encode, load, save)
 *   store_fs_partial.c  partial_* ops
 *   store_fs_complete.c complete_* ops
 *   store_fs_writeback.c starting writeback of long uploads early (write-behind)
 *   store_fs_flush.c    a thread that fdatasyncs long uploads while they arrive
 *   store_fs_fault.[ch] test-only fault hook consulted by store_fs_io.c (absent from shipped
 *                       builds; see tests/faults)
 *
 * On disk, under the root:
 *   <key>                                  complete files
 *   .resumable/partial/<hex>.data, .meta   a partial upload's bytes and metadata
 *   .resumable/sums/<hex>                  a complete file's size + SHA-256, tied to its inode
 *   .resumable/tmp/                        staging files and metadata being written
 *   .resumable/claims/<hex of a dir>/<hex>  a partial below that directory (store_fs_claims.c)
 *   .resumable/ns.lock                     the namespace lock's file (store_fs_ns.c)
 *   .resumable/locks/<hex>                 a key's lock file while it has an owner
 * where <hex> is the lower-case hex SHA-256 of the key.
 *
 * Thread-safety: an rs_fs is read-only after creation apart from the atomic name counter and
 * the namespace mutex; every op works on its own file descriptors. */
#ifndef RESUMABLE_STORE_FS_H
#define RESUMABLE_STORE_FS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "key.h"
#include "resumable/store.h"

typedef struct rs_fs_flusher rs_fs_flusher;
typedef struct rs_fs_owner rs_fs_owner;

typedef struct rs_fs {
  int root_fd;           /* <root> */
  int state_fd;          /* <root>/.resumable */
  int part_fd;           /* .resumable/partial */
  int sums_fd;           /* .resumable/sums */
  int tmp_fd;            /* .resumable/tmp */
  int claims_fd;         /* .resumable/claims */
  int ns_fd;             /* .resumable/ns.lock, open for the namespace lock */
  pthread_mutex_t ns_mu; /* the namespace lock within the process */
  int locks_fd;          /* .resumable/locks */
  /* key owners of this process (store_fs_owner.c) and the thread that watches them */
  pthread_mutex_t owners_mu;
  pthread_cond_t owners_cv;
  rs_fs_owner *owners;
  pthread_t owners_thread;
  int owners_thread_started; /* 0 not yet, 1 running, -1 could not start */
  int owners_stop;
  int owners_ready; /* the fields above are initialised */
  char *root_path;  /* realpath of the root, for complete_path */
  size_t root_len;
  atomic_ulong seq;       /* makes temp names unique within the process */
  rs_fs_flusher *flusher; /* NULL: no background flushing */
} rs_fs;

/* Hex SHA-256 of the key: the flat file name of its partial and sidecar. */
#define RS_FS_NAME_LEN 64
/* "<name>.data" / "<name>.meta" and temp names all fit here. */
#define RS_FS_FILE_MAX 96

/* ---- store_fs_writeback.c ---- */
/* Writeback of an upload's bytes starts once this many have been written since the last
 * start: large enough for big sequential disk writes, small against a GiB upload. */
#define RS_FS_WRITEBACK_WINDOW ((uint64_t)8 << 20)
/* A background fdatasync is asked for once this many bytes were appended since the last. */
#define RS_FS_FLUSH_WINDOW ((uint64_t)32 << 20)
typedef struct rs_fs_wb {
  uint64_t start; /* first byte whose writeback has not been started */
  uint64_t end;   /* end of the last write */
  uint64_t flush; /* bytes appended since the last background flush was asked for */
} rs_fs_wb;
/* `len` bytes were written at `offset` of fd: start their writeback (without waiting) once a
 * window of appended bytes is complete (a no-op where the OS has no such call). Returns 1 when
 * a background flush is due (RS_FS_FLUSH_WINDOW more bytes), else 0. */
int rs_fs_writeback_note(rs_fs_wb *wb, int fd, uint64_t offset, size_t len);

/* ---- store_fs_flush.c ---- */
/* One thread per store, started on first use, fdatasyncs uploads in the background. A handle's
 * record (rs_fs_flushed) is created on its first request and shared with the thread. */
typedef struct rs_fs_flushed rs_fs_flushed;
/* RESUMABLE_OK or RESUMABLE_E_NOMEM. */
int rs_fs_flusher_new(rs_fs_flusher **out);
/* Stop and join the thread; queued flushes are dropped. Handles' records must be released
 * first (or be released never again). NULL ok. */
void rs_fs_flusher_free(rs_fs_flusher *f);
/* Queue an fdatasync of fd's file, unless one for *slot is queued or running; bytes below
 * `upto` have been written. Once synced, their pages are dropped from the page cache. Creates
 * *slot on first use (holding a dup of fd). Best effort: on any shortage nothing is queued. */
void rs_fs_flush_async(rs_fs_flusher *f, rs_fs_flushed **slot, int fd, uint64_t upto);
/* Drop r's flush if it is only queued, and wait if one is running; nonzero if any background
 * flush of r failed (its bytes may be lost: the owner must not promise them). NULL r: 0. */
int rs_fs_flush_settle(rs_fs_flusher *f, rs_fs_flushed *r);
/* Wait until nothing is queued or running (tests: makes "a flush ran" observable). */
void rs_fs_flusher_idle(rs_fs_flusher *f);
/* Drop the handle's reference to r (the thread may still finish a flush). NULL r ok. */
void rs_fs_flush_release(rs_fs_flusher *f, rs_fs_flushed *r);

/* ---- store_fs_io.c ---- */
/* "<name>.<ext>" for a hex key name (RS_FS_NAME_LEN) and a short extension. */
void rs_fs_file_name(char out[RS_FS_FILE_MAX], const char *name, const char *ext);
/* errno -> resumable_error (ENOSPC/EDQUOT -> NOSPACE, ENOENT -> NOT_FOUND,
 * ELOOP/ENOTDIR/EISDIR -> CONFLICT, ENOMEM -> NOMEM, else IO). */
int rs_fs_err(int e);
int rs_fs_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Reads until len or end of file; *got is the count. */
int rs_fs_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got);
int rs_fs_fsync(int fd);
int rs_fs_fdatasync(int fd);
int rs_fs_ftruncate(int fd, uint64_t len);
/* close() without retrying EINTR (Linux closes the fd anyway). Ignores -1. */
void rs_fs_close(int fd);
/* unlinkat; OK, NOT_FOUND or another error. */
int rs_fs_unlink(int dirfd, const char *name);
/* renameat, atomically replacing `to`; a vanished source is IO, not NOT_FOUND. */
int rs_fs_rename(int fromdir, const char *from, int todir, const char *to);
/* A new, empty, uniquely named file in .resumable/tmp, opened read-write, and locked (OFD) for
 * as long as fd stays open: an unlocked temp file is a dead process's. */
int rs_fs_tmp_create(rs_fs *fs, const char *prefix, char name[RS_FS_FILE_MAX], int *fd);
/* Replace dirfd/name atomically with `len` bytes: temp file, fsync, rename, fsync dirfd. */
int rs_fs_write_atomic(rs_fs *fs, int dirfd, const char *name, const void *buf, size_t len);
/* Read at most cap bytes of a small regular file (size it one byte larger than the largest
 * valid content to detect an oversized file). */
int rs_fs_read_small(int dirfd, const char *name, uint8_t *buf, size_t cap, size_t *len);

/* ---- store_fs_path.c ---- */
/* Non-NULL and 1..RS_KEY_MAX bytes (the rest is checked segment by segment in rs_fs_walk). */
int rs_fs_key_ok(const char *key);
/* 1 for a tus concatenation part's key (RESUMABLE_PART_PREFIX): a partial that is never
 * placed in the key space, so it takes no part in the namespace checks and claims. */
int rs_fs_is_part(const char *key);
void rs_fs_key_name(const char *key, char out[RS_FS_NAME_LEN + 1]);
/* Resolve the directory holding `key`'s last segment: on OK *dirfd (owned by the caller) and
 * *leaf (points into key). With `create`, missing directories are made (0755). A segment that
 * is a symlink or not a directory is CONFLICT; a missing one (without create) NOT_FOUND. */
int rs_fs_walk(const rs_fs *fs, const char *key, int create, int *dirfd, const char **leaf);
/* lstat of the leaf: OK with *st for a regular file, NOT_FOUND, or CONFLICT (with *st) for a
 * directory, a symlink or anything else that is not a regular file. */
int rs_fs_leaf_stat(int dirfd, const char *leaf, struct stat *st);

/* ---- store_fs_lock.c ---- */
/* Lock bytes [off, off+len) of fd (len 0: to the end of any file), exclusive or shared; with
 * `wait`, block until granted. OK, STATE (held elsewhere, only without wait), NOMEM (ENOLCK),
 * IO. */
int rs_fs_lock(int fd, uint64_t off, uint64_t len, int exclusive, int wait);
void rs_fs_unlock(int fd, uint64_t off, uint64_t len);
/* 1 if another open file description holds a lock on any of [off, off+len) of fd's file. */
int rs_fs_lock_held_elsewhere(int fd, uint64_t off, uint64_t len);

/* ---- store_fs_owner.c ---- */
/* How often an owner looks whether another process waits for its key (a busy owner at its
 * next body piece, an idle one from the store's thread): the longest a TAKE waits, plus the
 * owner's current store call. */
#define RS_FS_OWNER_CHECK_MS 50
int rs_fs_owners_init(rs_fs *fs);
/* Stops and joins the thread; every owner must have been released. */
void rs_fs_owners_fini(rs_fs *fs);
int rs_fs_key_lock(void *self, const char *key, resumable_key_lock_mode mode, void **owner);
void rs_fs_key_unlock(void *self, void *owner);
void rs_fs_key_release(void *self, void *owner);
/* partial_open: partial `name` was opened (its data locked) under the key's owner in this
 * process, if there is one: the owner yields it (rs_fs_partial_yield) when it lets go.
 * partial_close detaches it first. */
void rs_fs_owner_attach(rs_fs *fs, const char *name, void *partial);
void rs_fs_owner_detach(rs_fs *fs, const char *name, void *partial);
/* May this partial be synced or committed? 0 once the owner it was opened under let the key go
 * (its bytes may be another process's now); 1 otherwise, also without any owner. */
int rs_fs_owner_allows(rs_fs *fs, const char *name, void *partial);
/* Housekeeping on a key by its hex name: take it only if no process holds or wants it (OK with
 * the lock file's descriptor in *fd; STATE if busy), then rs_fs_key_untry. */
int rs_fs_key_try_name(rs_fs *fs, const char *name, int *fd);
void rs_fs_key_untry(rs_fs *fs, const char *name, int fd);

/* ---- store_fs_ns.c ---- */
/* Take / release the namespace lock (waits). OK, or an error from rs_fs_lock (not taken). */
int rs_fs_ns_lock(rs_fs *fs);
void rs_fs_ns_unlock(rs_fs *fs);
/* May an upload of `key` begin, or commit? Under the namespace lock. OK when no partial exists
 * at a parent path, no partial claims a directory below the key, every existing parent segment
 * is a directory, and the key is absent, a regular file, or an empty directory nothing needs
 * (which is removed); CONFLICT otherwise; an I/O error. */
int rs_fs_ns_check(rs_fs *fs, const char *key);
/* After `key`'s file was removed: remove its parent directories that are now empty, deepest
 * first, up to the root (which stays). Under the namespace lock. */
void rs_fs_ns_prune(rs_fs *fs, const char *key);

/* ---- store_fs_claims.c (all under the namespace lock) ---- */
/* Does partial `name` (hex of its key) have a .data or .meta? */
int rs_fs_partial_exists(rs_fs *fs, const char *name);
/* Record that partial `name` of `key` needs every proper prefix of key as a directory. */
int rs_fs_claims_add(rs_fs *fs, const char *key, const char *name);
/* Forget partial `name`'s claims. */
void rs_fs_claims_drop(rs_fs *fs, const char *key, const char *name);
/* 1 if a live partial claims `key` as one of its directories (a partial below it), 0 if not
 * (stale claims met on the way are removed), or a negative error. */
int rs_fs_claims_below(rs_fs *fs, const char *key);
/* Add the claims of every partial on disk (at store start: repairs claims lost in a crash and
 * makes them for partials of older versions). */
void rs_fs_claims_rebuild(rs_fs *fs);

/* ---- store_fs_meta.c ---- */
/* One version of a file's bytes, as stat shows it. Any write changes size or mtime, and ctime
 * too; setting mtime back (touch -d, utimensat) changes ctime; a new file is a new inode. */
typedef struct rs_fs_ident {
  int known; /* 0: not recorded (a record from before identities): matches nothing */
  uint64_t dev, ino, size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
} rs_fs_ident;
#define RS_FS_IDENT_LEN 56 /* bytes of an identity in a record */
void rs_fs_ident_of(const struct stat *st, rs_fs_ident *id);
/* 1 if st is the very version `id` recorded (every field, to the ns), else 0. */
int rs_fs_ident_matches(const rs_fs_ident *id, const struct stat *st);
/* Load the partial metadata of `key` (file name `name`) and the identity its data file had when
 * it was written (id may be NULL). NOT_FOUND if missing; a torn, corrupt or foreign meta file
 * is removed (with its data) and is NOT_FOUND too. */
int rs_fs_meta_load(rs_fs *fs, const char *name, const char *key, resumable_partial_info *out,
                    rs_fs_ident *id);
/* Record `info`, tied to `data`, the stat of the data file as it stands (after its sync). */
int rs_fs_meta_save(rs_fs *fs, const char *name, const char *key,
                    const resumable_partial_info *info, const struct stat *data);
/* The key recorded in the partial meta `name` (read only, nothing removed); NOT_FOUND if
 * missing, torn or corrupt. */
int rs_fs_meta_key(rs_fs *fs, const char *name, char key[RS_KEY_MAX + 1]);
/* The recorded SHA-256 if the sidecar describes exactly this version of the file (dev, ino,
 * size, mtime, ctime); NOT_FOUND if missing, stale or corrupt. */
int rs_fs_sum_load(rs_fs *fs, const char *name, const char *key, const struct stat *st,
                   uint8_t sha[32]);
int rs_fs_sum_save(rs_fs *fs, const char *name, const char *key, const struct stat *st,
                   const uint8_t sha[32]);

/* ---- store_fs_partial.c / store_fs_complete.c: the ops ---- */
int rs_fs_partial_stat(void *self, const char *key, resumable_partial_info *out);
int rs_fs_partial_open(void *self, const char *key, resumable_partial_mode mode,
                       const resumable_partial_info *info, void **handle,
                       resumable_partial_info *out);
int rs_fs_partial_write(void *self, void *handle, uint64_t offset, const void *buf, size_t len);
int rs_fs_partial_read(void *self, void *handle, uint64_t offset, void *buf, size_t len,
                       size_t *got);
int rs_fs_partial_sync(void *self, void *handle, const resumable_partial_info *info);
int rs_fs_partial_commit(void *self, void *handle, const resumable_complete_info *info);
void rs_fs_partial_close(void *self, void *handle);
int rs_fs_partial_remove(void *self, const char *key);
/* The key's owner lets go of this open partial (another process takes the key): bytes past its
 * last sync are cut and the meta re-tied to the file, the data is flushed and its lock released.
 * The handle is not used again but to be closed. Under the owner's mutex. */
void rs_fs_partial_yield(void *handle);
/* store_fs_scan.c */
int rs_fs_partial_scan(void *self, const char *key, resumable_partial_visit_fn fn, void *arg);

int rs_fs_complete_stat(void *self, const char *key, resumable_complete_info *out);
int rs_fs_complete_open(void *self, const char *key, void **reader, resumable_complete_info *out);
int rs_fs_complete_read(void *self, void *reader, uint64_t offset, void *buf, size_t len,
                        size_t *got);
void rs_fs_complete_close(void *self, void *reader);
int rs_fs_complete_path(void *self, const char *key, char *buf, size_t cap);
int rs_fs_complete_remove(void *self, const char *key);

#endif
