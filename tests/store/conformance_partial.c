/* Conformance: partial uploads (create, write, sync, reopen, commit, remove) and partial_scan. */
#include <string.h>

#include "conformance.h"
#include "sha256.h"

static void assert_same_info(const resumable_partial_info *a, const resumable_partial_info *b)
{
  assert_int_equal(a->total, b->total);
  assert_int_equal(a->held, b->held);
  assert_int_equal(a->has_target, b->has_target);
  assert_memory_equal(a->target_sha256, b->target_sha256, 32);
  assert_int_equal(a->hash_state_len, b->hash_state_len);
  assert_memory_equal(a->hash_state, b->hash_state, a->hash_state_len);
}

/* The same, except that the store may have dropped the hash state (hash_state_len 0): allowed
 * once bytes were written after the sync, which a store may take for damage (store.h; the
 * POSIX store ties the state to the data file's identity). */
static void assert_same_info_but_state(const resumable_partial_info *a,
                                       const resumable_partial_info *b)
{
  resumable_partial_info kept = *a;
  if (a->hash_state_len == 0) {
    kept.hash_state_len = b->hash_state_len;
    memcpy(kept.hash_state, b->hash_state, sizeof(kept.hash_state));
  }
  assert_same_info(&kept, b);
}

/* A partial of `total` bytes bound to a target, holding msg[0..held) synced with its running
 * hash state; the handle is left open. */
static void *make_synced(cf *c, const char *key, const uint8_t *msg, uint64_t held, uint64_t total,
                         resumable_partial_info *out)
{
  resumable_partial_info info = cf_info(total);
  void *h = NULL;
  info.has_target = 1;
  memset(info.target_sha256, 0x5a, 32);
  assert_int_equal(c->ops->partial_open(c->self, key, RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, msg, (size_t)held), RESUMABLE_OK);
  rs_sha256 s;
  rs_sha256_init(&s);
  rs_sha256_update(&s, msg, (size_t)held);
  info.held = held;
  info.hash_state_len = rs_sha256_export(&s, info.hash_state, sizeof(info.hash_state));
  assert_int_not_equal(info.hash_state_len, 0);
  assert_int_equal(c->ops->partial_sync(c->self, h, &info), RESUMABLE_OK);
  *out = info;
  return h;
}

static void create_records_info_with_nothing_held(cf *c)
{
  resumable_partial_info info = cf_info(100), got;
  void *h = NULL;
  info.held = 55; /* ignored: a new partial holds nothing */
  info.has_target = 1;
  memset(info.target_sha256, 0xab, 32);
  info.hash_state_len = 3;
  memcpy(info.hash_state, "abc", 3);
  assert_int_equal(c->ops->partial_open(c->self, "p", RESUMABLE_PARTIAL_CREATE, &info, &h, &got),
                   RESUMABLE_OK);
  info.held = 0;
  assert_same_info(&got, &info);
  assert_int_equal(c->ops->partial_stat(c->self, "p", &got), RESUMABLE_OK);
  assert_same_info(&got, &info);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_open(c->self, "p", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_same_info(&got, &info);
  c->ops->partial_close(c->self, h);
}

static void sync_records_info_and_bytes(cf *c)
{
  const uint8_t msg[] = "0123456789abcdef";
  resumable_partial_info want, got;
  uint8_t buf[32];
  size_t n = 0;
  void *h = make_synced(c, "dir/up.bin", msg, 6, 16, &want);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_stat(c->self, "dir/up.bin", &got), RESUMABLE_OK);
  assert_same_info(&got, &want);
  assert_int_equal(
      c->ops->partial_open(c->self, "dir/up.bin", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
      RESUMABLE_OK);
  assert_same_info(&got, &want);
  assert_int_equal(c->ops->partial_read(c->self, h, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 6);
  assert_memory_equal(buf, msg, 6);
  assert_int_equal(c->ops->partial_read(c->self, h, 2, buf, 3, &n), RESUMABLE_OK);
  assert_int_equal(n, 3);
  assert_memory_equal(buf, msg + 2, 3);
  /* The saved state continues the hash. */
  rs_sha256 s;
  uint8_t d1[32], d2[32];
  assert_int_equal(rs_sha256_import(&s, got.hash_state, got.hash_state_len), 0);
  rs_sha256_update(&s, msg + 6, 10);
  rs_sha256_finish(&s, d1);
  rs_sha256_digest(msg, 16, d2);
  assert_memory_equal(d1, d2, 32);
  c->ops->partial_close(c->self, h);
}

static void sync_discards_bytes_past_held(cf *c)
{
  resumable_partial_info info = cf_info(10), got;
  uint8_t buf[16];
  size_t n = 0;
  void *h = NULL;
  assert_int_equal(c->ops->partial_open(c->self, "k", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "abcdefghij", 10), RESUMABLE_OK);
  info.held = 7;
  assert_int_equal(c->ops->partial_sync(c->self, h, &info), RESUMABLE_OK);
  assert_int_equal(c->ops->partial_read(c->self, h, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 7);
  /* The upload goes on from held. */
  assert_int_equal(c->ops->partial_write(c->self, h, 7, "XYZ", 3), RESUMABLE_OK);
  info.held = 10;
  assert_int_equal(c->ops->partial_sync(c->self, h, &info), RESUMABLE_OK);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_open(c->self, "k", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_int_equal(got.held, 10);
  assert_int_equal(c->ops->partial_read(c->self, h, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 10);
  assert_memory_equal(buf, "abcdefgXYZ", 10);
  c->ops->partial_close(c->self, h);
}

/* Bytes written after the last sync are not promised: reopening starts again from held. */
static void unsynced_tail_is_cut_on_reopen(cf *c)
{
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  uint8_t buf[16];
  size_t n = 0;
  void *h = make_synced(c, "k", msg, 4, 10, &want);
  assert_int_equal(c->ops->partial_write(c->self, h, 4, msg + 4, 5), RESUMABLE_OK);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_stat(c->self, "k", &got), RESUMABLE_OK);
  assert_same_info_but_state(&got, &want);
  assert_int_equal(c->ops->partial_open(c->self, "k", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
                   RESUMABLE_OK);
  assert_same_info_but_state(&got, &want);
  assert_int_equal(c->ops->partial_read(c->self, h, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 4);
  assert_int_equal(c->ops->partial_write(c->self, h, 4, "ABCDEF", 6), RESUMABLE_OK);
  assert_int_equal(c->ops->partial_read(c->self, h, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 10);
  assert_memory_equal(buf, "0123ABCDEF", 10);
  c->ops->partial_close(c->self, h);
}

static void sync_of_unwritten_bytes_fails(cf *c)
{
  resumable_partial_info info = cf_info(10), got;
  void *h = NULL;
  assert_int_equal(c->ops->partial_open(c->self, "k", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, h, 0, "abc", 3), RESUMABLE_OK);
  info.held = 5;
  assert_int_equal(c->ops->partial_sync(c->self, h, &info), RESUMABLE_E_IO);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_stat(c->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.held, 0);
}

static void commit_publishes_bytes_and_ends_partial(cf *c)
{
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  resumable_complete_info ci = {.size = 10};
  void *h = make_synced(c, "a/b", msg, 6, 10, &want);
  assert_int_equal(c->ops->partial_write(c->self, h, 6, msg + 6, 4), RESUMABLE_OK);
  rs_sha256_digest(msg, 10, ci.sha256);
  assert_int_equal(c->ops->partial_commit(c->self, h, &ci), RESUMABLE_OK);
  c->ops->partial_close(c->self, h);
  cf_assert_complete(c, "a/b", msg, 10, 3);
  assert_int_equal(c->ops->partial_stat(c->self, "a/b", &got), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->partial_remove(c->self, "a/b"), RESUMABLE_E_NOT_FOUND);
  if (c->ops->partial_scan != NULL)
    assert_int_equal(cf_scan_count(c, NULL, NULL, 0), 0);
}

static void create_replaces_existing_partial(cf *c)
{
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got, info = cf_info(50);
  void *h = make_synced(c, "k", msg, 6, 10, &want);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_open(c->self, "k", RESUMABLE_PARTIAL_CREATE, &info, &h, NULL),
                   RESUMABLE_OK);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_stat(c->self, "k", &got), RESUMABLE_OK);
  assert_int_equal(got.total, 50);
  assert_int_equal(got.held, 0);
  assert_int_equal(got.has_target, 0);
}

static void partial_and_complete_are_removed_apart(cf *c)
{
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, got;
  resumable_complete_info ci;
  assert_int_equal(cf_put(c, "both", "old", 3), RESUMABLE_OK);
  void *h = make_synced(c, "both", msg, 4, 10, &want);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->partial_remove(c->self, "both"), RESUMABLE_OK);
  assert_int_equal(c->ops->partial_stat(c->self, "both", &got), RESUMABLE_E_NOT_FOUND);
  cf_assert_complete(c, "both", "old", 3, 8);

  h = make_synced(c, "both", msg, 4, 10, &want);
  c->ops->partial_close(c->self, h);
  assert_int_equal(c->ops->complete_remove(c->self, "both"), RESUMABLE_OK);
  assert_int_equal(c->ops->complete_stat(c->self, "both", &ci), RESUMABLE_E_NOT_FOUND);
  assert_int_equal(c->ops->partial_stat(c->self, "both", &got), RESUMABLE_OK);
  assert_same_info(&got, &want);
}

static void synced_partial_survives_reopen(cf *c)
{
  const uint8_t msg[] = "0123456789abcdef";
  resumable_partial_info want, got;
  uint8_t buf[16];
  size_t n = 0;
  void *h = make_synced(c, "dir/up.bin", msg, 6, 16, &want);
  assert_int_equal(c->ops->partial_write(c->self, h, 6, msg + 6, 3), RESUMABLE_OK); /* unsynced */
  c->ops->partial_close(c->self, h);
  cf_reopen(c);
  assert_int_equal(c->ops->partial_stat(c->self, "dir/up.bin", &got), RESUMABLE_OK);
  assert_same_info_but_state(&got, &want);
  assert_int_equal(
      c->ops->partial_open(c->self, "dir/up.bin", RESUMABLE_PARTIAL_EXISTING, NULL, &h, &got),
      RESUMABLE_OK);
  assert_int_equal(c->ops->partial_read(c->self, h, 0, buf, sizeof(buf), &n), RESUMABLE_OK);
  assert_int_equal(n, 6);
  assert_memory_equal(buf, msg, 6);
  c->ops->partial_close(c->self, h);
}

typedef struct seen {
  size_t n;
  char keys[4][32];
  int64_t mtimes[4];
  int stop_after; /* 0: never */
} seen;

static int record(void *arg, const char *key, int64_t mtime)
{
  seen *s = arg;
  assert_true(s->n < 4 && strlen(key) < sizeof(s->keys[0]));
  strcpy(s->keys[s->n], key);
  s->mtimes[s->n++] = mtime;
  return s->stop_after != 0 && (int)s->n >= s->stop_after;
}

static int has_key(const seen *s, const char *key)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->keys[i], key) == 0)
      return 1;
  return 0;
}

/* Partials are listed with the time of their last write or sync; staging uploads and complete
 * files are not partials. */
static void scan_lists_partials_with_their_mtime(cf *c)
{
  const uint8_t msg[] = "0123456789";
  resumable_partial_info want, info = cf_info(4);
  seen s = {0};
  void *stage = NULL;
  int64_t t0 = cf_now() - 1; /* file times may lag the clock by a tick */
  void *h1 = make_synced(c, "one", msg, 3, 10, &want);
  void *h2 = make_synced(c, "dir/two", msg, 0, 10, &want);
  c->ops->partial_close(c->self, h1);
  c->ops->partial_close(c->self, h2);
  assert_int_equal(cf_put(c, "done", "x", 1), RESUMABLE_OK);
  assert_int_equal(
      c->ops->partial_open(c->self, "staged", RESUMABLE_PARTIAL_STAGING, &info, &stage, NULL),
      RESUMABLE_OK);
  assert_int_equal(c->ops->partial_write(c->self, stage, 0, "abcd", 4), RESUMABLE_OK);
  int64_t t1 = cf_now();

  assert_int_equal(c->ops->partial_scan(c->self, NULL, record, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 2);
  assert_true(has_key(&s, "one") && has_key(&s, "dir/two"));
  for (size_t i = 0; i < s.n; i++)
    assert_true(s.mtimes[i] >= t0 && s.mtimes[i] <= t1);

  memset(&s, 0, sizeof(s));
  assert_int_equal(c->ops->partial_scan(c->self, "dir/two", record, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.keys[0], "dir/two");
  memset(&s, 0, sizeof(s));
  assert_int_equal(c->ops->partial_scan(c->self, "done", record, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 0);
  assert_int_equal(c->ops->partial_scan(c->self, "staged", record, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 0);

  memset(&s, 0, sizeof(s));
  s.stop_after = 1; /* the visitor stops the scan: still OK */
  assert_int_equal(c->ops->partial_scan(c->self, NULL, record, &s), RESUMABLE_OK);
  assert_int_equal(s.n, 1);
  c->ops->partial_close(c->self, stage);
}

#define CASE(name, needs) \
  {                       \
#name, name, needs    \
  }
const cf_case cf_partial_cases[] = {
    CASE(create_records_info_with_nothing_held, 0),
    CASE(sync_records_info_and_bytes, 0),
    CASE(sync_discards_bytes_past_held, 0),
    CASE(unsynced_tail_is_cut_on_reopen, 0),
    CASE(sync_of_unwritten_bytes_fails, 0),
    CASE(commit_publishes_bytes_and_ends_partial, 0),
    CASE(create_replaces_existing_partial, 0),
    CASE(partial_and_complete_are_removed_apart, 0),
    CASE(synced_partial_survives_reopen, CF_REOPEN),
    CASE(scan_lists_partials_with_their_mtime, CF_SCAN),
};
const size_t cf_partial_count = sizeof(cf_partial_cases) / sizeof(cf_partial_cases[0]);
