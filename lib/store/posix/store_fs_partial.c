/* Partial uploads: .resumable/partial/<hex>.data holds the bytes, <hex>.meta what is durable.
 * The meta is only ever rewritten after the data it describes is synced, so on load the data
 * may be longer than `held` (an unsynced tail: cut off) but is shorter only after damage
 * (then `held` shrinks and the hash state is dropped). The meta also records the data file's
 * identity (store_fs_meta.c) as of that sync: if the file changed since (damage, an edit, or
 * bytes written after the last sync by a process that then died), the saved hash state may not
 * be the hash of the bytes, so it is dropped and the handler hashes the held prefix again. */
#include "store_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resumable/error.h"

typedef struct fs_partial {
  int fd;
  int staging;
  int committed;
  /* An fsync of fd failed: bytes written since the last good sync may be gone from the disk
   * whatever a later fsync says (Linux reports a writeback error once and marks the pages
   * clean), so this handle never promises them again. */
  int sync_failed;
  rs_fs_wb wb;
  rs_fs_flushed *bg; /* background flushing of this upload, or NULL */
  rs_fs *fs;
  int have_synced;               /* `synced` is what the meta on disk records */
  resumable_partial_info synced; /* the partial as of its last sync (or open, or create) */
  rs_fs_ident synced_id;         /* the file's identity that meta records (known: 0 if not) */
  char name[RS_FS_FILE_MAX];     /* hex key name, or the staging file's name in tmp/ */
  char key[];
} fs_partial;

/* Data shorter than the meta claims: keep what is there, the hash state no longer matches. */
static void clamp_to_data(resumable_partial_info *info, uint64_t size)
{
  if (size < info->held) {
    info->held = size;
    info->hash_state_len = 0;
  }
}

static int open_data(rs_fs *fs, const char *name, int flags, int *fd, struct stat *st)
{
  char file[RS_FS_FILE_MAX];
  rs_fs_file_name(file, name, "data");
  int f;
  do {
    f = openat(fs->part_fd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC | flags, 0644);
  } while (f < 0 && errno == EINTR);
  if (f < 0)
    return rs_fs_err(errno);
  int rc = RESUMABLE_OK;
  if (fstat(f, st) != 0)
    rc = rs_fs_err(errno);
  else if (!S_ISREG(st->st_mode))
    rc = RESUMABLE_E_IO; /* something planted in our private directory */
  if (rc != RESUMABLE_OK) {
    rs_fs_close(f);
    return rc;
  }
  *fd = f;
  return RESUMABLE_OK;
}

/* Remove both files; OK if either existed, NOT_FOUND if neither. Data first: a crash in
 * between leaves a meta without data, which loads as absent. */
static int drop(rs_fs *fs, const char *name)
{
  char data[RS_FS_FILE_MAX], meta[RS_FS_FILE_MAX];
  rs_fs_file_name(data, name, "data");
  rs_fs_file_name(meta, name, "meta");
  int a = rs_fs_unlink(fs->part_fd, data);
  if (a != RESUMABLE_OK && a != RESUMABLE_E_NOT_FOUND)
    return a;
  int b = rs_fs_unlink(fs->part_fd, meta);
  if (b != RESUMABLE_OK && b != RESUMABLE_E_NOT_FOUND)
    return b;
  return (a == RESUMABLE_OK || b == RESUMABLE_OK) ? RESUMABLE_OK : RESUMABLE_E_NOT_FOUND;
}

/* The partial's files are gone: so are its claims (a failure only leaves them stale). */
static void forget_claims(rs_fs *fs, const char *key, const char *name)
{
  if (strchr(key, '/') == NULL || rs_fs_is_part(key) || rs_fs_ns_lock(fs) != RESUMABLE_OK)
    return;
  rs_fs_claims_drop(fs, key, name);
  rs_fs_ns_unlock(fs);
}

/* Meta plus a data file: the partial as it stands. A meta without data is absent (and
 * removed: it is what an interrupted commit or remove leaves). */
static int load(rs_fs *fs, const char *name, const char *key, resumable_partial_info *info, int *fd)
{
  rs_fs_ident id;
  int rc = rs_fs_meta_load(fs, name, key, info, &id);
  if (rc != RESUMABLE_OK)
    return rc;
  struct stat st;
  rc = open_data(fs, name, 0, fd, &st);
  if (rc == RESUMABLE_E_NOT_FOUND)
    (void)drop(fs, name);
  if (rc != RESUMABLE_OK)
    return rc;
  clamp_to_data(info, (uint64_t)st.st_size);
  if (!rs_fs_ident_matches(&id, &st))
    info->hash_state_len = 0; /* never certify a hash the bytes may not have */
  return RESUMABLE_OK;
}

int rs_fs_partial_stat(void *self, const char *key, resumable_partial_info *out)
{
  char name[RS_FS_NAME_LEN + 1];
  resumable_partial_info info;
  int fd = -1;
  if (!rs_fs_key_ok(key) || out == NULL)
    return RESUMABLE_E_INVALID_ARG;
  rs_fs_key_name(key, name);
  int rc = load(self, name, key, &info, &fd);
  rs_fs_close(fd);
  if (rc == RESUMABLE_OK)
    *out = info;
  return rc;
}

static int make_handle(rs_fs *fs, const char *key, const char *name, int fd, int staging,
                       void **handle)
{
  size_t klen = strlen(key);
  fs_partial *p = malloc(sizeof(*p) + klen + 1);
  if (p == NULL)
    return RESUMABLE_E_NOMEM;
  p->fs = fs;
  p->have_synced = 0;
  memset(&p->synced_id, 0, sizeof(p->synced_id));
  p->fd = fd;
  p->staging = staging;
  p->committed = 0;
  p->sync_failed = 0;
  p->wb.start = p->wb.end = p->wb.flush = 0;
  p->bg = NULL;
  snprintf(p->name, sizeof(p->name), "%s", name);
  memcpy(p->key, key, klen + 1);
  *handle = p;
  return RESUMABLE_OK;
}

/* Every partial handle locks its data file (byte 0, OFD) while open. Its previous owner (another
 * process, maybe on another host) let go of it only after flushing its writes, or is dead and
 * its close flushed them before the lock went (store_fs_owner.c): only then may this handle cut
 * or append. Waits. */
static int lock_data(int fd)
{
  return rs_fs_lock(fd, 0, 1, 1, 1);
}

/* Is the file at dirfd/name still the one open as fd? A handle renames and unlinks only its own
 * file: under its key's owner it always is, unless someone outside the store replaced it. */
static int still_ours(int dirfd, const char *name, int fd)
{
  struct stat a, b;
  return fstat(fd, &a) == 0 && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int open_existing(rs_fs *fs, const char *key, const char *name, int *fd,
                         resumable_partial_info *info)
{
  int rc = load(fs, name, key, info, fd);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = lock_data(*fd);
  /* Bytes past `held` were never synced: not trusted, cut off so appends start at held. */
  if (rc == RESUMABLE_OK)
    rc = rs_fs_ftruncate(*fd, info->held);
  if (rc != RESUMABLE_OK) {
    rs_fs_close(*fd);
    *fd = -1;
  }
  return rc;
}

/* Under the namespace lock: the key may begin, its claims are made and its data file exists
 * before the lock is let go, so no conflicting upload can start in between and a claim is
 * never met without its partial's files. The meta (fsynced) is written after. A tus
 * concatenation part is never placed in the key space (its reserved name is its only way in):
 * it needs neither the check nor claims, nor the namespace lock. */
static int open_create(rs_fs *fs, const char *key, const char *name, int *fd,
                       resumable_partial_info *info)
{
  struct stat st;
  int part = rs_fs_is_part(key);
  int rc = part ? RESUMABLE_OK : rs_fs_ns_lock(fs);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = part ? RESUMABLE_OK : rs_fs_ns_check(fs, key);
  if (rc == RESUMABLE_OK) {
    rc = drop(fs, name);
    if (rc == RESUMABLE_E_NOT_FOUND)
      rc = RESUMABLE_OK;
  }
  if (rc == RESUMABLE_OK && !part)
    rc = rs_fs_claims_add(fs, key, name);
  if (rc == RESUMABLE_OK) {
    rc = open_data(fs, name, O_CREAT | O_TRUNC, fd, &st);
    if (rc == RESUMABLE_E_NOT_FOUND)
      rc = RESUMABLE_E_IO;
    if (rc == RESUMABLE_OK && (rc = lock_data(*fd)) != RESUMABLE_OK) {
      rs_fs_close(*fd);
      *fd = -1;
    }
  }
  if (!part)
    rs_fs_ns_unlock(fs);
  if (rc != RESUMABLE_OK)
    return rc;
  info->held = 0;
  rc = rs_fs_meta_save(fs, name, key, info, &st);
  if (rc != RESUMABLE_OK) {
    rs_fs_close(*fd);
    *fd = -1;
    (void)drop(fs, name); /* its claims are stale now, and removed when met */
  }
  return rc;
}

/* Whole-file uploads make no claim (their staging file is anonymous): a conflicting partial
 * begun meanwhile makes their commit fail instead (rs_fs_ns_check again there). */
static int open_staging(rs_fs *fs, const char *key, char name[RS_FS_FILE_MAX], int *fd)
{
  int rc = rs_fs_ns_lock(fs);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = rs_fs_ns_check(fs, key);
  rs_fs_ns_unlock(fs);
  return rc == RESUMABLE_OK ? rs_fs_tmp_create(fs, "stage", name, fd) : rc;
}

int rs_fs_partial_open(void *self, const char *key, resumable_partial_mode mode,
                       const resumable_partial_info *info, void **handle,
                       resumable_partial_info *out)
{
  rs_fs *fs = self;
  char name[RS_FS_FILE_MAX];
  resumable_partial_info got;
  int fd = -1, rc;
  if (!rs_fs_key_ok(key) || handle == NULL || (mode != RESUMABLE_PARTIAL_EXISTING && !info))
    return RESUMABLE_E_INVALID_ARG;
  *handle = NULL;
  if (mode == RESUMABLE_PARTIAL_EXISTING) {
    rs_fs_key_name(key, name);
    rc = open_existing(fs, key, name, &fd, &got);
  } else if (mode == RESUMABLE_PARTIAL_CREATE || mode == RESUMABLE_PARTIAL_STAGING) {
    /* A key that cannot be placed is refused before any byte is accepted for it. */
    got = *info;
    if (got.hash_state_len > RESUMABLE_HASH_STATE_MAX)
      got.hash_state_len = 0;
    got.held = 0;
    if (mode == RESUMABLE_PARTIAL_CREATE) {
      rs_fs_key_name(key, name);
      rc = open_create(fs, key, name, &fd, &got);
    } else {
      rc = open_staging(fs, key, name, &fd);
    }
  } else {
    return RESUMABLE_E_INVALID_ARG;
  }
  if (rc != RESUMABLE_OK)
    return rc;
  rc = make_handle(fs, key, name, fd, mode == RESUMABLE_PARTIAL_STAGING, handle);
  if (rc != RESUMABLE_OK) {
    if (mode == RESUMABLE_PARTIAL_STAGING)
      (void)rs_fs_unlink(fs->tmp_fd, name);
    rs_fs_unlock(fd, 0, 1);
    rs_fs_close(fd);
    return rc;
  }
  if (mode != RESUMABLE_PARTIAL_STAGING) {
    fs_partial *p = *handle;
    p->synced = got;
    p->have_synced = 1;
    rs_fs_owner_attach(fs, name, p);
  }
  if (out != NULL)
    *out = got;
  return RESUMABLE_OK;
}

int rs_fs_partial_write(void *self, void *handle, uint64_t offset, const void *buf, size_t len)
{
  rs_fs *fs = self;
  fs_partial *p = handle;
  if (p == NULL || (buf == NULL && len > 0))
    return RESUMABLE_E_INVALID_ARG;
  if (p->committed)
    return RESUMABLE_E_STATE;
  int rc = rs_fs_pwrite_all(p->fd, buf, len, offset);
  if (rc == RESUMABLE_OK && rs_fs_writeback_note(&p->wb, p->fd, offset, len))
    rs_fs_flush_async(fs->flusher, &p->bg, p->fd, offset + len);
  return rc;
}

int rs_fs_partial_read(void *self, void *handle, uint64_t offset, void *buf, size_t len,
                       size_t *got)
{
  (void)self;
  fs_partial *p = handle;
  if (p == NULL || got == NULL || (buf == NULL && len > 0))
    return RESUMABLE_E_INVALID_ARG;
  return rs_fs_pread_full(p->fd, buf, len, offset, got);
}

/* Wait out a background flush of the handle; one that failed poisons it like a failed fsync
 * (store_fs_flush.c says why the owner must learn it this way). */
static void settle_background(rs_fs *fs, fs_partial *p)
{
  if (rs_fs_flush_settle(fs->flusher, p->bg))
    p->sync_failed = 1;
}

int rs_fs_partial_sync(void *self, void *handle, const resumable_partial_info *info)
{
  fs_partial *p = handle;
  struct stat st;
  if (p == NULL || info == NULL)
    return RESUMABLE_E_INVALID_ARG;
  if (p->staging || p->committed)
    return RESUMABLE_E_STATE;
  if (!rs_fs_owner_allows(self, p->name, p))
    return RESUMABLE_E_SUPERSEDED; /* its owner let the key go: the partial is another's */
  settle_background(self, p);
  if (p->sync_failed)
    return RESUMABLE_E_IO;
  int rc = rs_fs_fdatasync(p->fd);
  if (rc != RESUMABLE_OK) {
    p->sync_failed = 1;
    return rc;
  }
  if (fstat(p->fd, &st) != 0)
    return rs_fs_err(errno);
  if ((uint64_t)st.st_size < info->held)
    return RESUMABLE_E_IO; /* cannot promise bytes that were never written */
  if ((uint64_t)st.st_size > info->held) {
    /* Need not be durable: a longer file is cut back to `held` on the next open. */
    rc = rs_fs_ftruncate(p->fd, info->held);
    if (rc != RESUMABLE_OK)
      return rc;
    if (fstat(p->fd, &st) != 0) /* the identity the meta records is the file as it is now */
      return rs_fs_err(errno);
  }
  char data[RS_FS_FILE_MAX];
  rs_fs_file_name(data, p->name, "data");
  if (!still_ours(((rs_fs *)self)->part_fd, data, p->fd))
    return RESUMABLE_E_SUPERSEDED; /* never record a meta for another file */
  rc = rs_fs_meta_save(self, p->name, p->key, info, &st);
  if (rc == RESUMABLE_OK) {
    p->synced = *info;
    p->have_synced = 1;
    rs_fs_ident_of(&st, &p->synced_id);
  }
  return rc;
}

/* The committed bytes are exactly info->size long and on disk. */
static int settle_data(rs_fs *fs, fs_partial *p, uint64_t size, struct stat *st)
{
  settle_background(fs, p);
  if (p->sync_failed)
    return RESUMABLE_E_IO;
  if (fstat(p->fd, st) != 0)
    return rs_fs_err(errno);
  if ((uint64_t)st->st_size < size)
    return RESUMABLE_E_IO;
  if ((uint64_t)st->st_size > size) {
    int rc = rs_fs_ftruncate(p->fd, size);
    if (rc != RESUMABLE_OK)
      return rc;
  }
  int rc = rs_fs_fsync(p->fd);
  if (rc != RESUMABLE_OK)
    p->sync_failed = 1;
  else if (fstat(p->fd, st) != 0)
    rc = rs_fs_err(errno);
  return rc;
}

/* Rename into place, then record the sidecar: a rename changes the inode's ctime, so the
 * identity the sidecar is tied to is only known afterwards. A crash in between leaves the new
 * file with a stale sidecar (another inode's), which makes the next stat hash it once. A
 * sidecar that cannot be written fails the commit (the disk is failing or full), although the
 * file is in place: the next stat hashes it. */
static int place(rs_fs *fs, fs_partial *p, const resumable_complete_info *info)
{
  char keyname[RS_FS_NAME_LEN + 1], src[RS_FS_FILE_MAX];
  int dirfd = -1;
  const char *leaf = NULL;
  struct stat st;
  if (p->staging)
    snprintf(src, sizeof(src), "%s", p->name);
  else
    rs_fs_file_name(src, p->name, "data");
  int srcdir = p->staging ? fs->tmp_fd : fs->part_fd;
  if (!still_ours(srcdir, src, p->fd))
    return p->staging ? RESUMABLE_E_IO : RESUMABLE_E_SUPERSEDED; /* rename only our own file */
  int rc = rs_fs_ns_lock(fs);
  if (rc != RESUMABLE_OK)
    return rc;
  rc = rs_fs_ns_check(fs, p->key); /* a staging upload may have met a conflict meanwhile */
  if (rc == RESUMABLE_OK) {
    rc = rs_fs_walk(fs, p->key, 1, &dirfd, &leaf);
    if (rc == RESUMABLE_E_NOT_FOUND)
      rc = RESUMABLE_E_IO;
  }
  if (rc == RESUMABLE_OK)
    rc = rs_fs_rename(srcdir, src, dirfd, leaf);
  rs_fs_ns_unlock(fs);
  if (rc == RESUMABLE_OK) {
    rs_fs_key_name(p->key, keyname);
    int side = fstat(p->fd, &st) != 0 ? rs_fs_err(errno)
                                      : rs_fs_sum_save(fs, keyname, p->key, &st, info->sha256);
    rc = rs_fs_fsync(dirfd);
    if (rc == RESUMABLE_OK)
      rc = side;
  }
  rs_fs_close(dirfd);
  return rc;
}

int rs_fs_partial_commit(void *self, void *handle, const resumable_complete_info *info)
{
  rs_fs *fs = self;
  fs_partial *p = handle;
  struct stat st;
  if (p == NULL || info == NULL)
    return RESUMABLE_E_INVALID_ARG;
  if (p->committed)
    return RESUMABLE_E_STATE;
  if (!p->staging && !rs_fs_owner_allows(fs, p->name, p))
    return RESUMABLE_E_SUPERSEDED;
  int rc = settle_data(fs, p, info->size, &st);
  if (rc == RESUMABLE_OK)
    rc = place(fs, p, info);
  if (rc != RESUMABLE_OK)
    return rc;
  p->committed = 1;
  if (!p->staging) {
    /* The bytes are the complete file now; a crash before this leaves a meta without data,
     * which loads as absent. */
    char meta[RS_FS_FILE_MAX];
    rs_fs_file_name(meta, p->name, "meta");
    (void)rs_fs_unlink(fs->part_fd, meta);
    (void)rs_fs_fsync(fs->part_fd);
    forget_claims(fs, p->key, p->name);
  }
  return RESUMABLE_OK;
}

void rs_fs_partial_yield(void *handle)
{
  fs_partial *p = handle;
  rs_fs *fs = p->fs;
  struct stat st;
  char data[RS_FS_FILE_MAX];
  if (!p->staging && !p->committed && p->have_synced && !p->sync_failed) {
    /* Bytes past the last sync are not promised: cut them (as the next owner's open would)
     * and tie the recorded state to the file as it is then, so that the next owner keeps the
     * hash state instead of hashing the held prefix again. A failure only costs that. */
    settle_background(fs, p);
    rs_fs_file_name(data, p->name, "data");
    if (!p->sync_failed && fstat(p->fd, &st) == 0 && (uint64_t)st.st_size >= p->synced.held &&
        !rs_fs_ident_matches(&p->synced_id, &st) && /* else the meta says just that already */
        still_ours(fs->part_fd, data, p->fd) &&
        ((uint64_t)st.st_size == p->synced.held ||
         (rs_fs_ftruncate(p->fd, p->synced.held) == RESUMABLE_OK && fstat(p->fd, &st) == 0)))
      (void)rs_fs_meta_save(fs, p->name, p->key, &p->synced, &st);
  }
  /* Not a promise, only ordering (NFS: no dirty page of ours after the next owner writes):
   * so no fault hook, and an error is left for the data's next sync to meet. */
  while (fdatasync(p->fd) != 0 && errno == EINTR)
    ;
  rs_fs_unlock(p->fd, 0, 1);
}

void rs_fs_partial_close(void *self, void *handle)
{
  rs_fs *fs = self;
  fs_partial *p = handle;
  if (p == NULL)
    return;
  if (!p->staging)
    rs_fs_owner_detach(fs, p->name, p);
  rs_fs_flush_release(fs->flusher, p->bg);
  if (p->staging && !p->committed)
    (void)rs_fs_unlink(fs->tmp_fd, p->name); /* while still locked: see rs_fs_tmp_create */
  /* Unlocked explicitly: the flusher may hold a dup of the descriptor a little longer. On NFS
   * the unlock also flushes first (any writes not synced are not promised, but must not be
   * written back over the next owner's). */
  rs_fs_unlock(p->fd, 0, 1);
  rs_fs_close(p->fd);
  free(p);
}

int rs_fs_partial_remove(void *self, const char *key)
{
  char name[RS_FS_NAME_LEN + 1];
  if (!rs_fs_key_ok(key))
    return RESUMABLE_E_INVALID_ARG;
  rs_fs_key_name(key, name);
  int rc = drop(self, name);
  if (rc == RESUMABLE_OK) {
    (void)rs_fs_fsync(((rs_fs *)self)->part_fd);
    forget_claims(self, key, name);
  }
  return rc;
}
