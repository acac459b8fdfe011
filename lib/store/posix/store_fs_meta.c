/* Small binary records kept beside the data: a partial upload's metadata and a complete file's
 * hash sidecar. Both end with the SHA-256 of everything before it, so a torn or corrupted record
 * is detected and treated as absent; both carry the key, so a record is never applied to
 * another key. Integers are big-endian.
 *
 * Both are tied to the identity of the data file they describe (`ident` below: st_dev, st_ino,
 * size, mtime and ctime, in ns): a record whose file changed since it was written is not
 * trusted, so a hash the bytes may no longer have is never certified (docs/storage.md says what
 * this does and does not catch).
 *
 * Partial meta, "<hex>.meta":
 *   "RSPART3\0", total u64, held u64, has_target u8, target[32], ident, state_len u16,
 *   state[n], metadata_len u16, metadata[m], key_len u16, key[k], sha256[32]
 *   Older records still load: "RSPART2\0" (before the tus dialect) is the same without the
 *   metadata (it loads with none); "RSPART1\0" (before the identity) has neither, and loads
 *   with an unknown identity: its hash state is rebuilt from the bytes. total may be
 *   RESUMABLE_LENGTH_UNKNOWN (tus creation-defer-length).
 * Sidecar, "sums/<hex>":
 *   "RSSUM2\0\0", ident, sha256[32], key_len u16, key[k], checksum sha256[32]
 *   (an "RSSUM1" sidecar has no ctime: it never matches, and the file is hashed once again.)
 * ident = st_dev u64, st_ino u64, size u64, mtime_sec u64, mtime_nsec u64, ctime_sec u64,
 *   ctime_nsec u64.
 */
#include "store_fs.h"

#include <string.h>

#include "resumable/error.h"
#include "key.h"
#include "sha256.h"

#define MAGIC_LEN 8
static const char partial_magic[MAGIC_LEN] = "RSPART3";
static const char partial_magic_v2[MAGIC_LEN] = "RSPART2";
static const char partial_magic_v1[MAGIC_LEN] = "RSPART1";
static const char sum_magic[MAGIC_LEN] = "RSSUM2";

/* Large enough for either record with a 1024-byte key and the largest metadata, plus one byte
 * to detect oversize. */
#define RECORD_MAX (2048 + RESUMABLE_METADATA_MAX)

typedef struct wbuf {
  uint8_t b[RECORD_MAX];
  size_t n;
} wbuf;

static void put_bytes(wbuf *w, const void *p, size_t n)
{
  memcpy(w->b + w->n, p, n);
  w->n += n;
}

static void put_be(wbuf *w, uint64_t v, int n)
{
  for (int i = n - 1; i >= 0; i--)
    w->b[w->n + (size_t)i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  w->n += (size_t)n;
}

static void put_checksum(wbuf *w)
{
  uint8_t d[32];
  rs_sha256_digest(w->b, w->n, d);
  put_bytes(w, d, 32);
}

typedef struct rbuf {
  const uint8_t *b;
  size_t n, pos;
  int bad;
} rbuf;

static const uint8_t *take(rbuf *r, size_t n)
{
  if (r->bad || r->n - r->pos < n) {
    r->bad = 1;
    return NULL;
  }
  const uint8_t *p = r->b + r->pos;
  r->pos += n;
  return p;
}

static uint64_t get_be(rbuf *r, int n)
{
  const uint8_t *p = take(r, (size_t)n);
  uint64_t v = 0;
  for (int i = 0; p != NULL && i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

static void get_bytes(rbuf *r, void *out, size_t n)
{
  const uint8_t *p = take(r, n);
  if (p != NULL)
    memcpy(out, p, n);
}

/* Checks magic, trailing checksum and that the key matches; leaves r after the magic. */
static int open_record(rbuf *r, const uint8_t *b, size_t n, const char *magic)
{
  uint8_t d[32];
  if (n < MAGIC_LEN + 32 || n >= RECORD_MAX || memcmp(b, magic, MAGIC_LEN) != 0)
    return -1;
  rs_sha256_digest(b, n - 32, d);
  if (memcmp(d, b + n - 32, 32) != 0)
    return -1;
  r->b = b;
  r->n = n - 32;
  r->pos = MAGIC_LEN;
  r->bad = 0;
  return 0;
}

static int key_matches(rbuf *r, const char *key)
{
  size_t klen = (size_t)get_be(r, 2);
  const uint8_t *k = take(r, klen);
  return k != NULL && klen == strlen(key) && memcmp(k, key, klen) == 0 && r->pos == r->n;
}

static void put_key(wbuf *w, const char *key)
{
  size_t klen = strlen(key);
  put_be(w, klen, 2);
  put_bytes(w, key, klen);
}

void rs_fs_ident_of(const struct stat *st, rs_fs_ident *id)
{
  id->known = 1;
  id->dev = (uint64_t)st->st_dev;
  id->ino = (uint64_t)st->st_ino;
  id->size = (uint64_t)st->st_size;
  id->mtime_sec = (uint64_t)st->st_mtim.tv_sec;
  id->mtime_nsec = (uint64_t)st->st_mtim.tv_nsec;
  id->ctime_sec = (uint64_t)st->st_ctim.tv_sec;
  id->ctime_nsec = (uint64_t)st->st_ctim.tv_nsec;
}

int rs_fs_ident_matches(const rs_fs_ident *id, const struct stat *st)
{
  rs_fs_ident now;
  rs_fs_ident_of(st, &now);
  return id->known && id->dev == now.dev && id->ino == now.ino && id->size == now.size &&
         id->mtime_sec == now.mtime_sec && id->mtime_nsec == now.mtime_nsec &&
         id->ctime_sec == now.ctime_sec && id->ctime_nsec == now.ctime_nsec;
}

static void put_ident(wbuf *w, const rs_fs_ident *id)
{
  put_be(w, id->dev, 8);
  put_be(w, id->ino, 8);
  put_be(w, id->size, 8);
  put_be(w, id->mtime_sec, 8);
  put_be(w, id->mtime_nsec, 8);
  put_be(w, id->ctime_sec, 8);
  put_be(w, id->ctime_nsec, 8);
}

static void get_ident(rbuf *r, rs_fs_ident *id)
{
  id->dev = get_be(r, 8);
  id->ino = get_be(r, 8);
  id->size = get_be(r, 8);
  id->mtime_sec = get_be(r, 8);
  id->mtime_nsec = get_be(r, 8);
  id->ctime_sec = get_be(r, 8);
  id->ctime_nsec = get_be(r, 8);
  id->known = !r->bad;
}

/* Any partial record version: r is left after the magic; returns the version (3: identity and
 * metadata, 2: identity, 1: neither) or -1. */
static int open_partial(rbuf *r, const uint8_t *b, size_t n)
{
  if (open_record(r, b, n, partial_magic) == 0)
    return 3;
  if (open_record(r, b, n, partial_magic_v2) == 0)
    return 2;
  return open_record(r, b, n, partial_magic_v1) == 0 ? 1 : -1;
}

static int decode_partial(const uint8_t *b, size_t n, const char *key, resumable_partial_info *out,
                          rs_fs_ident *id)
{
  rbuf r;
  int v = open_partial(&r, b, n);
  if (v < 0)
    return -1;
  memset(out, 0, sizeof(*out));
  memset(id, 0, sizeof(*id));
  out->total = get_be(&r, 8);
  out->held = get_be(&r, 8);
  uint64_t has = get_be(&r, 1);
  get_bytes(&r, out->target_sha256, 32);
  if (v >= 2)
    get_ident(&r, id);
  out->hash_state_len = (size_t)get_be(&r, 2);
  if (has > 1 || out->hash_state_len > RESUMABLE_HASH_STATE_MAX || out->held > out->total)
    return -1;
  out->has_target = (int)has;
  get_bytes(&r, out->hash_state, out->hash_state_len);
  if (v >= 3) {
    out->metadata_len = (size_t)get_be(&r, 2);
    if (out->metadata_len > RESUMABLE_METADATA_MAX)
      return -1;
    get_bytes(&r, out->metadata, out->metadata_len);
  }
  return key_matches(&r, key) ? 0 : -1;
}

int rs_fs_meta_load(rs_fs *fs, const char *name, const char *key, resumable_partial_info *out,
                    rs_fs_ident *id)
{
  char file[RS_FS_FILE_MAX];
  uint8_t buf[RECORD_MAX];
  size_t n = 0;
  rs_fs_ident scratch;
  rs_fs_file_name(file, name, "meta");
  int rc = rs_fs_read_small(fs->part_fd, file, buf, sizeof(buf), &n);
  if (rc != RESUMABLE_OK)
    return rc;
  if (decode_partial(buf, n, key, out, id != NULL ? id : &scratch) == 0)
    return RESUMABLE_OK;
  /* Torn or corrupt: the partial cannot be trusted, so it is dropped. */
  char data[RS_FS_FILE_MAX];
  rs_fs_file_name(data, name, "data");
  (void)rs_fs_unlink(fs->part_fd, data);
  (void)rs_fs_unlink(fs->part_fd, file);
  return RESUMABLE_E_NOT_FOUND;
}

int rs_fs_meta_key(rs_fs *fs, const char *name, char key[RS_KEY_MAX + 1])
{
  char file[RS_FS_FILE_MAX];
  uint8_t buf[RECORD_MAX];
  size_t n = 0;
  rbuf r;
  rs_fs_file_name(file, name, "meta");
  int rc = rs_fs_read_small(fs->part_fd, file, buf, sizeof(buf), &n);
  if (rc != RESUMABLE_OK)
    return rc;
  int v = open_partial(&r, buf, n);
  if (v < 0)
    return RESUMABLE_E_NOT_FOUND;
  /* total, held, has_target, target, ident */
  (void)take(&r, 8 + 8 + 1 + 32 + (v >= 2 ? RS_FS_IDENT_LEN : 0));
  size_t slen = (size_t)get_be(&r, 2);
  (void)take(&r, slen);
  if (v >= 3) {
    size_t mlen = (size_t)get_be(&r, 2);
    (void)take(&r, mlen);
  }
  size_t klen = (size_t)get_be(&r, 2);
  const uint8_t *k = take(&r, klen);
  if (k == NULL || klen == 0 || klen > RS_KEY_MAX || r.pos != r.n || memchr(k, 0, klen))
    return RESUMABLE_E_NOT_FOUND;
  memcpy(key, k, klen);
  key[klen] = '\0';
  return RESUMABLE_OK;
}

int rs_fs_meta_save(rs_fs *fs, const char *name, const char *key,
                    const resumable_partial_info *info, const struct stat *data)
{
  rs_fs_ident id;
  rs_fs_ident_of(data, &id);
  wbuf w = {.n = 0};
  char file[RS_FS_FILE_MAX];
  size_t slen = info->hash_state_len <= RESUMABLE_HASH_STATE_MAX ? info->hash_state_len : 0;
  size_t mlen = info->metadata_len <= RESUMABLE_METADATA_MAX ? info->metadata_len : 0;
  put_bytes(&w, partial_magic, MAGIC_LEN);
  put_be(&w, info->total, 8);
  put_be(&w, info->held, 8);
  put_be(&w, info->has_target ? 1 : 0, 1);
  put_bytes(&w, info->target_sha256, 32);
  put_ident(&w, &id);
  put_be(&w, slen, 2);
  put_bytes(&w, info->hash_state, slen);
  put_be(&w, mlen, 2);
  put_bytes(&w, info->metadata, mlen);
  put_key(&w, key);
  put_checksum(&w);
  rs_fs_file_name(file, name, "meta");
  return rs_fs_write_atomic(fs, fs->part_fd, file, w.b, w.n);
}

int rs_fs_sum_load(rs_fs *fs, const char *name, const char *key, const struct stat *st,
                   uint8_t sha[32])
{
  uint8_t buf[RECORD_MAX];
  size_t n = 0;
  int rc = rs_fs_read_small(fs->sums_fd, name, buf, sizeof(buf), &n);
  if (rc != RESUMABLE_OK)
    return RESUMABLE_E_NOT_FOUND; /* unreadable sidecar: recompute */
  rbuf r;
  rs_fs_ident id;
  uint8_t d[32];
  if (open_record(&r, buf, n, sum_magic) != 0)
    return RESUMABLE_E_NOT_FOUND;
  get_ident(&r, &id);
  get_bytes(&r, d, 32);
  if (!rs_fs_ident_matches(&id, st) || !key_matches(&r, key))
    return RESUMABLE_E_NOT_FOUND;
  memcpy(sha, d, 32);
  return RESUMABLE_OK;
}

int rs_fs_sum_save(rs_fs *fs, const char *name, const char *key, const struct stat *st,
                   const uint8_t sha[32])
{
  wbuf w = {.n = 0};
  rs_fs_ident id;
  rs_fs_ident_of(st, &id);
  put_bytes(&w, sum_magic, MAGIC_LEN);
  put_ident(&w, &id);
  put_bytes(&w, sha, 32);
  put_key(&w, key);
  put_checksum(&w);
  return rs_fs_write_atomic(fs, fs->sums_fd, name, w.b, w.n);
}
