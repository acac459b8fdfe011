/* The S3 store against a real Ceph RADOS Gateway (run through with_ceph.sh): what it keeps in
 * the bucket, how a second store on the same bucket (another server) resumes, and the guard
 * between two writers of one key. Parts are the 5 MiB minimum, to keep the data small. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resumable/error.h"
#include "resumable/server.h"
#include "s3_env.h"
#include "sha256.h"
#include "store_s3.h"
#include "store_internal.h"

#define MiB ((size_t)1 << 20)
#define PART (5 * MiB)

static s3_env env;

typedef struct fx {
  char prefix[64];
  resumable_store *a, *b; /* two servers on one bucket and prefix */
  const resumable_store_ops *ops;
  void *sa, *sb;
} fx;

static int setup(void **state)
{
  fx *f = calloc(1, sizeof(*f));
  if (!f)
    return -1;
  s3_env_prefix("st", f->prefix, sizeof(f->prefix));
  if (s3_env_store(&env, f->prefix, PART, &f->a) || s3_env_store(&env, f->prefix, PART, &f->b))
    return -1;
  f->ops = resumable_store_ops_of(f->a);
  f->sa = resumable_store_self(f->a);
  f->sb = resumable_store_self(f->b);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  resumable_store_free(f->a);
  resumable_store_free(f->b);
  free(f);
  return 0;
}

static uint8_t *pattern(size_t len, unsigned seed)
{
  uint8_t *p = malloc(len ? len : 1);
  uint32_t x = 2463534242u ^ seed;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (uint8_t)x;
  }
  return p;
}

static resumable_partial_info info_of(uint64_t total)
{
  resumable_partial_info in;
  memset(&in, 0, sizeof(in));
  in.total = total;
  rs_sha256 h;
  rs_sha256_init(&h);
  in.hash_state_len = rs_sha256_export(&h, in.hash_state, sizeof(in.hash_state));
  return in;
}

/* The running hash of data[0..n) as the handler would record it. */
static void hash_state(resumable_partial_info *in, const uint8_t *data, uint64_t n)
{
  rs_sha256 h;
  rs_sha256_init(&h);
  rs_sha256_update(&h, data, (size_t)n);
  in->held = n;
  in->hash_state_len = rs_sha256_export(&h, in->hash_state, sizeof(in->hash_state));
}

/* Write data[from..to) in pieces of `piece` bytes. */
static int write_range(const resumable_store_ops *ops, void *self, void *h, const uint8_t *data,
                       size_t from, size_t to, size_t piece)
{
  for (size_t off = from; off < to;) {
    size_t n = to - off < piece ? to - off : piece;
    int rc = ops->partial_write(self, h, off, data + off, n);
    if (rc != RESUMABLE_OK)
      return rc;
    off += n;
  }
  return RESUMABLE_OK;
}

static void assert_object(fx *f, void *self, const char *key, const uint8_t *data, size_t len)
{
  resumable_complete_info ci;
  uint8_t sha[32];
  rs_sha256_digest(data, len, sha);
  assert_int_equal(f->ops->complete_stat(self, key, &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, len);
  assert_memory_equal(ci.sha256, sha, 32);
  void *r = NULL;
  assert_int_equal(f->ops->complete_open(self, key, &r, &ci), RESUMABLE_OK);
  uint8_t *got = malloc(len + 1);
  size_t off = 0;
  while (off < len) {
    size_t n = 0, want = len - off < 300000 ? len - off : 300000;
    assert_int_equal(f->ops->complete_read(self, r, off, got + off, want, &n), RESUMABLE_OK);
    assert_true(n > 0);
    off += n;
  }
  assert_memory_equal(got, data, len);
  free(got);
  f->ops->complete_close(self, r);
}

static void commit_info(resumable_complete_info *ci, const uint8_t *data, size_t len)
{
  ci->size = len;
  rs_sha256_digest(data, len, ci->sha256);
}

/* ---- cases ---- */

/* A whole-file PUT smaller than a part: one PutObject, readable with its size and hash. */
static void small_staging_roundtrip(void **state)
{
  fx *f = *state;
  uint8_t *d = pattern(100000, 1);
  resumable_partial_info in = info_of(100000);
  void *h = NULL;
  resumable_complete_info ci;
  assert_int_equal(
      f->ops->partial_open(f->sa, "dir/small file+1", RESUMABLE_PARTIAL_STAGING, &in, &h, NULL),
      RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, 100000, 7000), RESUMABLE_OK);
  commit_info(&ci, d, 100000);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  assert_object(f, f->sb, "dir/small file+1", d, 100000);
  /* a staging upload is never a partial */
  assert_int_equal(f->ops->partial_stat(f->sa, "dir/small file+1", NULL), RESUMABLE_E_NOT_FOUND);
  free(d);
}

/* Server A takes 2.5 parts, syncs, and leaves; server B resumes from the state record (held,
 * hash state, the tail merged into the next part) and commits a correct object. */
static void resume_on_another_server(void **state)
{
  fx *f = *state;
  size_t total = 2 * PART + PART / 2 + PART / 3, first = 2 * PART + PART / 2;
  uint8_t *d = pattern(total, 2);
  resumable_partial_info in = info_of(total), got;
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, "k", RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, first, 256 * 1024 + 17), RESUMABLE_OK);
  hash_state(&in, d, first);
  assert_int_equal(f->ops->partial_sync(f->sa, h, &in), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);

  /* HEAD through B: from the record alone */
  assert_int_equal(f->ops->partial_stat(f->sb, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, first);
  assert_int_equal(got.total, total);
  assert_int_equal(got.hash_state_len, in.hash_state_len);
  assert_memory_equal(got.hash_state, in.hash_state, in.hash_state_len);
  /* two parts uploaded, one multipart upload open */
  char pfx[128];
  snprintf(pfx, sizeof(pfx), "%sk", f->prefix);
  assert_int_equal(s3_env_count_uploads(&env, pfx), 1);

  assert_int_equal(f->ops->partial_open(f->sb, "k", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_int_equal(got.held, first);
  assert_int_equal(write_range(f->ops, f->sb, h, d, first, total, 100000), RESUMABLE_OK);
  resumable_complete_info ci;
  commit_info(&ci, d, total);
  assert_int_equal(f->ops->partial_commit(f->sb, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sb, h);
  assert_object(f, f->sa, "k", d, total);
  assert_int_equal(f->ops->partial_stat(f->sa, "k", NULL), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(s3_env_count_uploads(&env, pfx), 0);
  free(d);
}

/* Bytes written after the last sync are not promised: a dropped handle resumes at the sync. */
static void unsynced_bytes_are_not_promised(void **state)
{
  fx *f = *state;
  size_t total = 3 * PART;
  uint8_t *d = pattern(total, 3);
  resumable_partial_info in = info_of(total), got;
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, "u", RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, PART / 2, 65536), RESUMABLE_OK);
  hash_state(&in, d, PART / 2);
  assert_int_equal(f->ops->partial_sync(f->sa, h, &in), RESUMABLE_OK);
  /* a whole part and more arrive, but no sync: the process dies */
  assert_int_equal(write_range(f->ops, f->sa, h, d, PART / 2, 2 * PART, 65536), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  assert_int_equal(f->ops->partial_stat(f->sb, "u", &got), RESUMABLE_OK);
  assert_int_equal(got.held, PART / 2);
  /* and the resumed upload completes correctly over the unrecorded part */
  assert_int_equal(f->ops->partial_open(f->sb, "u", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sb, h, d, PART / 2, total, 1 << 20), RESUMABLE_OK);
  resumable_complete_info ci;
  commit_info(&ci, d, total);
  assert_int_equal(f->ops->partial_commit(f->sb, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sb, h);
  assert_object(f, f->sa, "u", d, total);
  free(d);
}

/* B opens the key while A still writes it: A's next sync and its next part are refused as
 * superseded, and B's upload completes. */
static void newer_writer_supersedes_older(void **state)
{
  fx *f = *state;
  size_t total = 3 * PART;
  uint8_t *d = pattern(total, 4);
  resumable_partial_info in = info_of(total);
  void *ha = NULL, *hb = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, "s", RESUMABLE_PARTIAL_CREATE, &in, &ha, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, ha, d, 0, 1000, 1000), RESUMABLE_OK);
  hash_state(&in, d, 1000);
  assert_int_equal(f->ops->partial_sync(f->sa, ha, &in), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_open(f->sb, "s", RESUMABLE_PARTIAL_EXISTING, NULL, &hb, NULL),
                   RESUMABLE_OK);
  /* A streams on: its first part began before B took over and lands; the second is checked
   * before it is sent, and refused */
  int rc = write_range(f->ops, f->sa, ha, d, 1000, 2 * PART, 65536);
  assert_int_equal(rc, RESUMABLE_E_SUPERSEDED);
  hash_state(&in, d, 1000);
  assert_int_equal(f->ops->partial_sync(f->sa, ha, &in), RESUMABLE_E_SUPERSEDED);
  f->ops->partial_close(f->sa, ha);
  assert_int_equal(write_range(f->ops, f->sb, hb, d, 1000, total, 1 << 20), RESUMABLE_OK);
  resumable_complete_info ci;
  commit_info(&ci, d, total);
  assert_int_equal(f->ops->partial_commit(f->sb, hb, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sb, hb);
  assert_object(f, f->sa, "s", d, total);
  free(d);
}

/* Without a part boundary in between, the conditional create of the next record alone keeps an
 * older writer from recording anything after a newer one took over. */
static void older_writer_cannot_record_after_takeover(void **state)
{
  fx *f = *state;
  size_t total = 2 * PART;
  uint8_t *d = pattern(total, 13);
  resumable_partial_info in = info_of(total), got;
  void *ha = NULL, *hb = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, "o", RESUMABLE_PARTIAL_CREATE, &in, &ha, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, ha, d, 0, 1000, 1000), RESUMABLE_OK);
  hash_state(&in, d, 1000);
  assert_int_equal(f->ops->partial_sync(f->sa, ha, &in), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_open(f->sb, "o", RESUMABLE_PARTIAL_EXISTING, NULL, &hb, &got),
                   RESUMABLE_OK);
  assert_int_equal(got.held, 1000);
  assert_int_equal(write_range(f->ops, f->sa, ha, d, 1000, 3000, 1000), RESUMABLE_OK);
  hash_state(&in, d, 3000);
  assert_int_equal(f->ops->partial_sync(f->sa, ha, &in), RESUMABLE_E_SUPERSEDED);
  f->ops->partial_close(f->sa, ha);
  /* B's view is what the bucket says */
  assert_int_equal(f->ops->partial_stat(f->sa, "o", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 1000);
  assert_int_equal(write_range(f->ops, f->sb, hb, d, 1000, total, 1 << 20), RESUMABLE_OK);
  resumable_complete_info ci;
  commit_info(&ci, d, total);
  assert_int_equal(f->ops->partial_commit(f->sb, hb, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sb, hb);
  assert_object(f, f->sa, "o", d, total);
  free(d);
}

/* A writer that holds every byte but was superseded does not publish: its commit re-claims the
 * chain first, and that fails. The newer writer's upload goes on. */
static void superseded_writer_cannot_commit(void **state)
{
  fx *f = *state;
  size_t total = 300000;
  uint8_t *d = pattern(total, 14);
  resumable_partial_info in = info_of(total), got;
  resumable_complete_info ci;
  void *ha = NULL, *hb = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, "c", RESUMABLE_PARTIAL_CREATE, &in, &ha, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, ha, d, 0, 1000, 1000), RESUMABLE_OK);
  hash_state(&in, d, 1000);
  assert_int_equal(f->ops->partial_sync(f->sa, ha, &in), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_open(f->sb, "c", RESUMABLE_PARTIAL_EXISTING, NULL, &hb, &got),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, ha, d, 1000, total, 65536), RESUMABLE_OK);
  commit_info(&ci, d, total);
  assert_int_equal(f->ops->partial_commit(f->sa, ha, &ci), RESUMABLE_E_SUPERSEDED);
  f->ops->partial_close(f->sa, ha);
  assert_int_equal(f->ops->complete_stat(f->sa, "c", NULL), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(write_range(f->ops, f->sb, hb, d, 1000, total, 65536), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_commit(f->sb, hb, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sb, hb);
  assert_object(f, f->sa, "c", d, total);
  free(d);
}

/* A superseded writer's part that lands over the owner's (same number, other bytes) makes the
 * owner's commit fail: nothing is published, the old object stays, the partial is dropped. */
static void overwritten_part_fails_the_commit(void **state)
{
  fx *f = *state;
  size_t total = 2 * PART;
  uint8_t *d = pattern(total, 5), *other = pattern(PART, 6), *old = pattern(5000, 7);
  resumable_complete_info ci;
  void *h = NULL;
  /* an older complete object */
  resumable_partial_info sin = info_of(5000);
  assert_int_equal(f->ops->partial_open(f->sa, "w", RESUMABLE_PARTIAL_STAGING, &sin, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, old, 0, 5000, 5000), RESUMABLE_OK);
  commit_info(&ci, old, 5000);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);

  resumable_partial_info in = info_of(total);
  assert_int_equal(f->ops->partial_open(f->sa, "w", RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, total, 1 << 20), RESUMABLE_OK);
  /* a stale writer (raw S3 calls) uploads other bytes as part 1 of the same upload */
  char name[256], list[65536], upload[S3_ID_MAX], query[900], enc[S3_ID_MAX * 3];
  snprintf(name, sizeof(name), "%sw", f->prefix);
  assert_true(s3_encode(name, strlen(name), 0, enc, sizeof(enc)) > 0);
  snprintf(query, sizeof(query), "prefix=%s&uploads=", enc);
  assert_int_equal(s3_env_request(&env, "GET", NULL, query, NULL, 0, NULL, list, sizeof(list)),
                   200);
  size_t pos = 0;
  assert_true(s3_xml_text(list, strlen(list), &pos, "UploadId", upload, sizeof(upload)) > 0);
  assert_true(s3_encode(upload, strlen(upload), 0, enc, sizeof(enc)) > 0);
  snprintf(query, sizeof(query), "partNumber=1&uploadId=%s", enc);
  assert_int_equal(s3_env_request(&env, "PUT", name, query, other, PART, NULL, NULL, 0), 200);

  commit_info(&ci, d, total);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_E_IO);
  f->ops->partial_close(f->sa, h);
  assert_object(f, f->sb, "w", old, 5000);
  assert_int_equal(f->ops->partial_stat(f->sb, "w", NULL), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(s3_env_count_uploads(&env, name), 0);
  free(d);
  free(other);
  free(old);
}

/* partial_remove aborts the multipart upload and removes the tail; the complete object stays. */
static void remove_aborts_the_upload(void **state)
{
  fx *f = *state;
  size_t total = 2 * PART;
  uint8_t *d = pattern(total, 8);
  resumable_partial_info in = info_of(total);
  void *h = NULL;
  char pfx[128];
  assert_int_equal(f->ops->partial_open(f->sa, "r", RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, PART + 1000, 1 << 20), RESUMABLE_OK);
  hash_state(&in, d, PART + 1000);
  assert_int_equal(f->ops->partial_sync(f->sa, h, &in), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  snprintf(pfx, sizeof(pfx), "%sr", f->prefix);
  assert_int_equal(s3_env_count_uploads(&env, pfx), 1);
  assert_int_equal(f->ops->partial_remove(f->sb, "r"), RESUMABLE_OK);
  assert_int_equal(s3_env_count_uploads(&env, pfx), 0);
  assert_int_equal(f->ops->partial_stat(f->sa, "r", NULL), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->partial_remove(f->sa, "r"), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->partial_open(f->sa, "r", RESUMABLE_PARTIAL_EXISTING, NULL, &h, NULL),
                   RESUMABLE_E_NOT_FOUND);
  /* only the tombstone record is left */
  snprintf(pfx, sizeof(pfx), "%s.resumable/up/", f->prefix);
  assert_int_equal(s3_env_count_objects(&env, pfx), 1);
  free(d);
}

/* A reader that began before the object was replaced reads the old version to its end. */
static void reader_keeps_its_version(void **state)
{
  fx *f = *state;
  size_t len = 3 * MiB;
  uint8_t *v1 = pattern(len, 9), *v2 = pattern(len, 10), *got = malloc(len);
  resumable_complete_info ci;
  void *h = NULL, *r = NULL;
  resumable_partial_info in = info_of(len);
  assert_int_equal(f->ops->partial_open(f->sa, "v", RESUMABLE_PARTIAL_STAGING, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, v1, 0, len, len), RESUMABLE_OK);
  commit_info(&ci, v1, len);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  assert_int_equal(f->ops->complete_open(f->sb, "v", &r, &ci), RESUMABLE_OK);
  size_t n = 0;
  assert_int_equal(f->ops->complete_read(f->sb, r, 0, got, 4096, &n), RESUMABLE_OK);
  assert_int_equal(n, 4096);
  assert_int_equal(f->ops->partial_open(f->sa, "v", RESUMABLE_PARTIAL_STAGING, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, v2, 0, len, len), RESUMABLE_OK);
  commit_info(&ci, v2, len);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  for (size_t off = 4096; off < len; off += n) {
    assert_int_equal(f->ops->complete_read(f->sb, r, off, got + off, len - off, &n), RESUMABLE_OK);
    assert_true(n > 0);
  }
  assert_memory_equal(got, v1, len);
  f->ops->complete_close(f->sb, r);
  assert_object(f, f->sb, "v", v2, len);
  free(v1);
  free(v2);
  free(got);
}

/* A whole-file PUT of unknown length spanning parts; and an empty file. */
static void unknown_length_and_empty(void **state)
{
  fx *f = *state;
  size_t len = PART + PART / 2;
  uint8_t *d = pattern(len, 11);
  resumable_complete_info ci;
  void *h = NULL;
  resumable_partial_info in = info_of(UINT64_MAX);
  assert_int_equal(f->ops->partial_open(f->sa, "chunked", RESUMABLE_PARTIAL_STAGING, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, len, 100000), RESUMABLE_OK);
  commit_info(&ci, d, len);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  assert_object(f, f->sb, "chunked", d, len);

  in = info_of(0);
  assert_int_equal(f->ops->partial_open(f->sa, "empty", RESUMABLE_PARTIAL_STAGING, &in, &h, NULL),
                   RESUMABLE_OK);
  commit_info(&ci, d, 0);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  assert_int_equal(f->ops->complete_stat(f->sb, "empty", &ci), RESUMABLE_OK);
  assert_int_equal(ci.size, 0);
  free(d);
}

/* An object put into the bucket by someone else is hashed once and then described. */
static void foreign_object_is_hashed(void **state)
{
  fx *f = *state;
  uint8_t *d = pattern(70000, 12);
  char name[128];
  snprintf(name, sizeof(name), "%sforeign", f->prefix);
  assert_int_equal(s3_env_request(&env, "PUT", name, NULL, d, 70000, NULL, NULL, 0), 200);
  assert_object(f, f->sa, "foreign", d, 70000);
  assert_int_equal(f->ops->complete_remove(f->sa, "foreign"), RESUMABLE_OK);
  assert_int_equal(f->ops->complete_stat(f->sa, "foreign", NULL), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->complete_remove(f->sa, "foreign"), RESUMABLE_E_NOT_FOUND);
  free(d);
}

/* Keys S3 cannot hold (prefix + key over 1024 bytes) are refused as conflicts. */
static void too_long_key_is_a_conflict(void **state)
{
  fx *f = *state;
  char key[1025];
  memset(key, 'a', 1024);
  key[1024] = '\0';
  for (int i = 200; i < 1024; i += 200)
    key[i] = '/';
  resumable_partial_info in = info_of(10);
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, key, RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_E_CONFLICT);
  assert_int_equal(f->ops->complete_stat(f->sa, key, NULL), RESUMABLE_E_NOT_FOUND);
}

typedef struct seen {
  int n;
  char key[64];
  int64_t mtime;
} seen;

static int note(void *arg, const char *key, int64_t mtime)
{
  seen *s = arg;
  s->n++;
  snprintf(s->key, sizeof(s->key), "%s", key);
  s->mtime = mtime;
  return 0;
}

/* partial_scan names each partial with a recent mtime; with orphan age 0 it aborts an upload
 * that no record names. */
static void scan_lists_partials_and_aborts_orphans(void **state)
{
  fx *f = *state;
  resumable_partial_info in = info_of(100);
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, "p/q", RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  /* an orphan: a multipart upload created and never recorded */
  char name[128], out[4096];
  snprintf(name, sizeof(name), "%sorphan", f->prefix);
  assert_int_equal(s3_env_request(&env, "POST", name, "uploads=", NULL, 0, NULL, out, sizeof(out)),
                   200);
  assert_int_equal(s3_env_count_uploads(&env, name), 1);
  seen s = {0};
  assert_int_equal(f->ops->partial_scan(f->sa, NULL, note, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.key, "p/q");
  assert_true(s.mtime > s3_now() - 600 && s.mtime <= s3_now() + 60);
  /* the default orphan age (a day) keeps it */
  assert_int_equal(s3_env_count_uploads(&env, name), 1);
  resumable_store *z = NULL;
  resumable_s3_config *c = NULL;
  assert_int_equal(resumable_s3_config_new(&c), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_endpoint(c, env.endpoint), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_bucket(c, env.bucket), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_prefix(c, f->prefix), RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_credentials(c, env.access, env.secret, NULL),
                   RESUMABLE_OK);
  assert_int_equal(resumable_s3_config_set_orphan_age(c, 0), RESUMABLE_OK);
  assert_int_equal(resumable_store_s3_new(&z, c), RESUMABLE_OK);
  resumable_s3_config_free(c);
  memset(&s, 0, sizeof(s));
  assert_int_equal(f->ops->partial_scan(resumable_store_self(z), NULL, note, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 1);
  assert_int_equal(s3_env_count_uploads(&env, name), 0);
  /* with a key: that key only */
  memset(&s, 0, sizeof(s));
  assert_int_equal(f->ops->partial_scan(f->sa, "p/q", note, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 1);
  memset(&s, 0, sizeof(s));
  assert_int_equal(f->ops->partial_scan(f->sa, "p", note, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 0);
  resumable_store_free(z);
}

/* resumable_server_sweep on an S3 store: an abandoned partial is removed and its multipart
 * upload aborted; a complete object is untouched. */
static void sweep_aborts_abandoned_uploads(void **state)
{
  fx *f = *state;
  size_t total = 2 * PART;
  uint8_t *d = pattern(total, 15);
  resumable_partial_info in = info_of(total);
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, "old", RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, PART + 5, 1 << 20), RESUMABLE_OK);
  hash_state(&in, d, PART + 5);
  assert_int_equal(f->ops->partial_sync(f->sa, h, &in), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  resumable_partial_info sin = info_of(4000);
  assert_int_equal(f->ops->partial_open(f->sa, "kept", RESUMABLE_PARTIAL_STAGING, &sin, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, 4000, 4000), RESUMABLE_OK);
  resumable_complete_info ci;
  commit_info(&ci, d, 4000);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  char pfx[128];
  snprintf(pfx, sizeof(pfx), "%sold", f->prefix);
  assert_int_equal(s3_env_count_uploads(&env, pfx), 1);

  resumable_store *st = NULL;
  resumable_server *srv = NULL;
  assert_int_equal(s3_env_store(&env, f->prefix, PART, &st), 0);
  assert_int_equal(resumable_server_new_with_store(&srv, st), RESUMABLE_OK);
  size_t removed = 0;
  /* not old enough yet */
  assert_int_equal(resumable_server_sweep(srv, 3600, &removed), RESUMABLE_OK);
  assert_int_equal(removed, 0);
  assert_int_equal(resumable_server_sweep(srv, 0, &removed), RESUMABLE_OK);
  assert_int_equal(removed, 1);
  resumable_server_free(srv);
  assert_int_equal(s3_env_count_uploads(&env, pfx), 0);
  assert_int_equal(f->ops->partial_stat(f->sb, "old", NULL), RESUMABLE_E_NOT_FOUND);
  assert_object(f, f->sb, "kept", d, 4000);
  free(d);
}

/* A tus concatenation part (tus_concat.c): its reserved key is accepted for CREATE, its
 * metadata and unknown total are kept, and once whole (spanning parts of a multipart upload,
 * which S3 cannot read back) it is sealed into an object that another server reads whole. Its
 * removal leaves nothing behind. */
static void tus_part_is_kept_sealed_and_read_back(void **state)
{
  fx *f = *state;
  const char *key = RESUMABLE_PART_PREFIX "00112233445566778899aabbccddeeff";
  static const char meta[] = "filename eC5iaW4=";
  size_t total = 2 * PART + 1000, first = PART + PART / 2;
  uint8_t *d = pattern(total, 21);
  resumable_partial_info in = info_of(RESUMABLE_LENGTH_UNKNOWN), got;
  memcpy(in.metadata, meta, sizeof(meta) - 1);
  in.metadata_len = sizeof(meta) - 1;
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, key, RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, first, 300000), RESUMABLE_OK);
  hash_state(&in, d, first);
  assert_int_equal(f->ops->partial_sync(f->sa, h, &in), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  assert_int_equal(f->ops->partial_stat(f->sb, key, &got), RESUMABLE_OK);
  assert_int_equal(got.total, RESUMABLE_LENGTH_UNKNOWN);
  assert_int_equal(got.held, first);
  assert_int_equal(got.metadata_len, sizeof(meta) - 1);
  assert_memory_equal(got.metadata, meta, sizeof(meta) - 1);
  /* the length becomes known with the last bytes, written through B: the part is whole */
  assert_int_equal(f->ops->partial_open(f->sb, key, RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sb, h, d, first, total, 300000), RESUMABLE_OK);
  in.total = total;
  hash_state(&in, d, total);
  assert_int_equal(f->ops->partial_sync(f->sb, h, &in), RESUMABLE_OK);
  f->ops->partial_close(f->sb, h);
  /* A reads it back whole (in the 1 MiB blocks of a concatenation), from the sealed object */
  assert_int_equal(f->ops->partial_open(f->sa, key, RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_int_equal(got.held, total);
  assert_int_equal(got.metadata_len, sizeof(meta) - 1);
  uint8_t *back = malloc(total);
  for (size_t off = 0; off < total;) {
    size_t n = 0, want = total - off < MiB ? total - off : MiB;
    assert_int_equal(f->ops->partial_read(f->sa, h, off, back + off, want, &n), RESUMABLE_OK);
    assert_true(n > 0);
    off += n;
  }
  assert_memory_equal(back, d, total);
  f->ops->partial_close(f->sa, h);
  char pfx[128];
  snprintf(pfx, sizeof(pfx), "%s%s", f->prefix, RESUMABLE_PART_PREFIX);
  assert_int_equal(s3_env_count_objects(&env, pfx), 1); /* the sealed object */
  assert_int_equal(s3_env_count_uploads(&env, pfx), 0);
  /* a client key can never name it */
  assert_int_equal(f->ops->complete_stat(f->sa, key, NULL), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(f->ops->partial_remove(f->sb, key), RESUMABLE_OK);
  assert_int_equal(s3_env_count_objects(&env, pfx), 0);
  assert_int_equal(f->ops->partial_stat(f->sa, key, NULL), RESUMABLE_E_NOT_FOUND);
  free(back);
  free(d);
}

/* A sync that takes back bytes already acknowledged as a part (a tus request whose checksum
 * failed) goes back to the last record: its tail is reloaded, the part is written again, and
 * the object committed later has the right bytes. */
static void sync_back_past_an_acknowledged_part(void **state)
{
  fx *f = *state;
  size_t total = 2 * PART + 10, first = PART / 2;
  uint8_t *d = pattern(total, 22), *junk = pattern(total, 23);
  resumable_partial_info in = info_of(total), got;
  void *h = NULL;
  assert_int_equal(f->ops->partial_open(f->sa, "rb", RESUMABLE_PARTIAL_CREATE, &in, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(write_range(f->ops, f->sa, h, d, 0, first, 100000), RESUMABLE_OK);
  hash_state(&in, d, first);
  assert_int_equal(f->ops->partial_sync(f->sa, h, &in), RESUMABLE_OK);
  /* a request's bytes that fill part 1 and go past it, then dropped */
  assert_int_equal(write_range(f->ops, f->sa, h, junk, first, PART + PART / 4, 100000),
                   RESUMABLE_OK);
  assert_int_equal(f->ops->partial_sync(f->sa, h, &in), RESUMABLE_OK);
  assert_int_equal(f->ops->partial_stat(f->sb, "rb", &got), RESUMABLE_OK);
  assert_int_equal(got.held, first);
  /* the same handle goes on with the right bytes */
  assert_int_equal(write_range(f->ops, f->sa, h, d, first, total, 100000), RESUMABLE_OK);
  resumable_complete_info ci;
  commit_info(&ci, d, total);
  assert_int_equal(f->ops->partial_commit(f->sa, h, &ci), RESUMABLE_OK);
  f->ops->partial_close(f->sa, h);
  assert_object(f, f->sb, "rb", d, total);
  free(junk);
  free(d);
}

int main(void)
{
  if (s3_env_init(&env, "rs-store") != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(small_staging_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(resume_on_another_server, setup, teardown),
      cmocka_unit_test_setup_teardown(unsynced_bytes_are_not_promised, setup, teardown),
      cmocka_unit_test_setup_teardown(newer_writer_supersedes_older, setup, teardown),
      cmocka_unit_test_setup_teardown(older_writer_cannot_record_after_takeover, setup, teardown),
      cmocka_unit_test_setup_teardown(superseded_writer_cannot_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(overwritten_part_fails_the_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(remove_aborts_the_upload, setup, teardown),
      cmocka_unit_test_setup_teardown(reader_keeps_its_version, setup, teardown),
      cmocka_unit_test_setup_teardown(unknown_length_and_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(foreign_object_is_hashed, setup, teardown),
      cmocka_unit_test_setup_teardown(too_long_key_is_a_conflict, setup, teardown),
      cmocka_unit_test_setup_teardown(scan_lists_partials_and_aborts_orphans, setup, teardown),
      cmocka_unit_test_setup_teardown(sweep_aborts_abandoned_uploads, setup, teardown),
      cmocka_unit_test_setup_teardown(tus_part_is_kept_sealed_and_read_back, setup, teardown),
      cmocka_unit_test_setup_teardown(sync_back_past_an_acknowledged_part, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
