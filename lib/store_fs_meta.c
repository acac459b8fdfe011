/* Small binary records kept beside the data: a partial upload's metadata and a complete file's
 * hash sidecar. Both end with the SHA-256 of everything before it, so a torn or corrupted record
 * is detected and treated as absent; both carry the key, so a record is never applied to
 * another key. Integers are big-endian.
 *
 * Partial meta, "<hex>.meta":
 *   "RSPART2\0", total u64, held u64, has_target u8, target[32], state_len u16, state[n],
 *   metadata_len u16, metadata[m], key_len u16, key[k], sha256[32]
 *   ("RSPART1\0", written before the tus dialect, is the same without the metadata: still read.)
 * Sidecar, "sums/<hex>":
 *   "RSSUM1\0\0", st_dev u64, st_ino u64, size u64, mtime_sec u64, mtime_nsec u64, sha256[32],
 *   key_len u16, key[k], checksum sha256[32]
 */
#include "store_fs.h"

#include <string.h>

#include "resumable/error.h"
#include "key.h"
#include "sha256.h"

#define MAGIC_LEN 8
static const char partial_magic[MAGIC_LEN] = "RSPART2";
static const char partial_magic_v1[MAGIC_LEN] = "RSPART1";
static const char sum_magic[MAGIC_LEN] = "RSSUM1";

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



/* Either partial record version: r is left after the magic; *v2 says which one it is. */
static int open_partial(rbuf *r, const uint8_t *b, size_t n, int *v2)
{
  *v2 = 1;
  if (open_record(r, b, n, partial_magic) == 0)
    return 0;
  *v2 = 0;
  return open_record(r, b, n, partial_magic_v1);
}

static int decode_partial(const uint8_t *b, size_t n, const char *key, resumable_partial_info *out)
{
  rbuf r;
  int v2;
  if (open_partial(&r, b, n, &v2) != 0)
    return -1;
  memset(out, 0, sizeof(*out));
  out->total = get_be(&r, 8);
  out->held = get_be(&r, 8);
  uint64_t has = get_be(&r, 1);
  get_bytes(&r, out->target_sha256, 32);
  out->hash_state_len = (size_t)get_be(&r, 2);
  if (has > 1 || out->hash_state_len > RESUMABLE_HASH_STATE_MAX || out->held > out->total)
    return -1;
  out->has_target = (int)has;
  get_bytes(&r, out->hash_state, out->hash_state_len);
  if (v2) {
    out->metadata_len = (size_t)get_be(&r, 2);
    if (out->metadata_len > RESUMABLE_METADATA_MAX)
      return -1;
    get_bytes(&r, out->metadata, out->metadata_len);
  }
  return key_matches(&r, key) ? 0 : -1;
}

int rs_fs_meta_load(rs_fs *fs, const char *name, const char *key, resumable_partial_info *out)
{
  char file[RS_FS_FILE_MAX];
  uint8_t buf[RECORD_MAX];
  size_t n = 0;
  rs_fs_file_name(file, name, "meta");
  int rc = rs_fs_read_small(fs->part_fd, file, buf, sizeof(buf), &n);
  if (rc != RESUMABLE_OK)
    return rc;
  if (decode_partial(buf, n, key, out) == 0)
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
  int v2;
  if (open_partial(&r, buf, n, &v2) != 0)
    return RESUMABLE_E_NOT_FOUND;
  (void)take(&r, 8 + 8 + 1 + 32); /* total, held, has_target, target */
  size_t slen = (size_t)get_be(&r, 2);
  (void)take(&r, slen);
  if (v2) {
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
                    const resumable_partial_info *info)
{
  wbuf w = {.n = 0};
  char file[RS_FS_FILE_MAX];
  size_t slen = info->hash_state_len <= RESUMABLE_HASH_STATE_MAX ? info->hash_state_len : 0;
  size_t mlen = info->metadata_len <= RESUMABLE_METADATA_MAX ? info->metadata_len : 0;
  put_bytes(&w, partial_magic, MAGIC_LEN);
  put_be(&w, info->total, 8);
  put_be(&w, info->held, 8);
  put_be(&w, info->has_target ? 1 : 0, 1);
  put_bytes(&w, info->target_sha256, 32);
  put_be(&w, slen, 2);
  put_bytes(&w, info->hash_state, slen);
  put_be(&w, mlen, 2);
  put_bytes(&w, info->metadata, mlen);
  put_key(&w, key);
  put_checksum(&w);
  rs_fs_file_name(file, name, "meta");
  return rs_fs_write_atomic(fs, fs->part_fd, file, w.b, w.n);
}

static void put_identity(wbuf *w, const struct stat *st)
{
  put_be(w, (uint64_t)st->st_dev, 8);
  put_be(w, (uint64_t)st->st_ino, 8);
  put_be(w, (uint64_t)st->st_size, 8);
  put_be(w, (uint64_t)st->st_mtim.tv_sec, 8);
  put_be(w, (uint64_t)st->st_mtim.tv_nsec, 8);
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
  wbuf want = {.n = 0};
  put_identity(&want, st);
  if (open_record(&r, buf, n, sum_magic) != 0)
    return RESUMABLE_E_NOT_FOUND;
  const uint8_t *id = take(&r, want.n);
  uint8_t d[32];
  get_bytes(&r, d, 32);
  if (id == NULL || memcmp(id, want.b, want.n) != 0 || !key_matches(&r, key))
    return RESUMABLE_E_NOT_FOUND;
  memcpy(sha, d, 32);
  return RESUMABLE_OK;
}

int rs_fs_sum_save(rs_fs *fs, const char *name, const char *key, const struct stat *st,
                   const uint8_t sha[32])
{
  wbuf w = {.n = 0};
  put_bytes(&w, sum_magic, MAGIC_LEN);
  put_identity(&w, st);
  put_bytes(&w, sha, 32);
  put_key(&w, key);
  put_checksum(&w);
  return rs_fs_write_atomic(fs, fs->sums_fd, name, w.b, w.n);
}
